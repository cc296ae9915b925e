//! Realistic IT support text: tickets, resolutions, internal notes and knowledge
//! articles about the things a service desk hears about every day. Used by the demo,
//! the tests and the benchmarks; deterministic for a given random generator.

use rand::Rng;
use rand::seq::IndexedRandom;

/// One subject a service desk hears about, with the words people use for it.
pub struct Topic {
    pub key: &'static str,
    pub category: &'static str,
    titles: &'static [&'static str],
    details: &'static [&'static str],
    notes: &'static [&'static str],
    fixes: &'static [&'static str],
    pub article_title: &'static str,
    article_steps: &'static [&'static str],
    pub tags: &'static [&'static str],
}

pub const TOPICS: &[Topic] = &[
    Topic {
        key: "printer",
        category: "Hardware / Printer",
        titles: &[
            "Printer on {floor} shows paper jam but there is no paper stuck",
            "Cannot print to {printer} from {app}",
            "{printer} prints blank pages",
            "Print jobs stuck in the queue on {printer}",
            "Toner low warning on {printer} although the cartridge is new",
        ],
        details: &[
            "Every job I send to {printer} stays in the queue with status error.",
            "The display says paper jam in tray 2, I opened every door and found nothing.",
            "Colleagues on {floor} have the same problem since {when}.",
            "Printing a test page from the printer itself works.",
        ],
        notes: &[
            "Print spooler on the print server restarted; queue cleared.",
            "Driver on the client was the old PCL5 one; the universal driver is needed.",
        ],
        fixes: &[
            "Cleared the print queue, restarted the spooler service and reinstalled the universal print driver.",
            "Replaced the pickup roller of tray 2; the jam sensor was dirty and has been cleaned.",
        ],
        article_title: "Printer shows an error or print jobs stay in the queue",
        article_steps: &[
            "Check the printer's display for a paper jam or an open door and clear it.",
            "Open **Settings > Printers** on your computer and cancel every stuck job.",
            "Switch the printer off and on again and wait until it is ready.",
            "Print a test page. If it still fails, report an incident with the printer's asset tag.",
        ],
        tags: &["printer", "print queue", "paper jam"],
    },
    Topic {
        key: "vpn",
        category: "Network / VPN",
        titles: &[
            "VPN disconnects every few minutes when working from home",
            "Cannot connect to VPN: authentication failed",
            "VPN connected but no access to file shares",
            "GlobalProtect VPN stuck on connecting",
        ],
        details: &[
            "The VPN client shows connected, then drops after about {minutes} minutes.",
            "I get the error code {code} when the VPN client tries to connect.",
            "At home on my own Wi-Fi, the office network drives are unreachable over VPN.",
            "It worked yesterday; since the update the client does not get past connecting.",
        ],
        notes: &[
            "Gateway logs show the client certificate expired; renewed via the MDM.",
            "Split tunnel routes missing for 10.20.0.0/16; pushed updated client config.",
        ],
        fixes: &[
            "Renewed the machine certificate and reinstalled the VPN client profile.",
            "Home router MTU lowered to 1400; VPN now stable.",
        ],
        article_title: "VPN keeps disconnecting or will not connect",
        article_steps: &[
            "Make sure your internet connection works without the VPN (open any public website).",
            "Quit the VPN client completely and start it again.",
            "Check that the date and time of your laptop are correct: certificates fail otherwise.",
            "If the client says the certificate expired, connect to the office network once or contact the service desk.",
        ],
        tags: &["vpn", "remote work", "certificate"],
    },
    Topic {
        key: "outlook",
        category: "Software / Email",
        titles: &[
            "Outlook keeps asking for my password",
            "Outlook crashes when opening attachments",
            "Emails stuck in the Outbox in Outlook",
            "Shared mailbox not showing in Outlook",
            "Outlook search returns no results",
        ],
        details: &[
            "Outlook prompts for credentials every {minutes} minutes even after I enter them.",
            "Outlook closes without an error as soon as I open a PDF attachment.",
            "Messages stay in the Outbox and are never sent, the status bar says disconnected.",
            "I was given access to the {team} shared mailbox but it does not appear.",
        ],
        notes: &[
            "Credential manager had a stale entry for the mailbox; removed.",
            "Outlook profile corrupt; new profile created, OST rebuilt overnight.",
        ],
        fixes: &[
            "Removed the cached credentials in Windows Credential Manager and created a new Outlook profile.",
            "Repaired the Office installation and disabled the faulty PDF preview add-in.",
        ],
        article_title: "Outlook asks for your password again and again",
        article_steps: &[
            "Close Outlook.",
            "Open **Credential Manager** from the Start menu and remove every entry that mentions Outlook or Office.",
            "Start Outlook and sign in once with your work account.",
            "If it keeps asking, create a new Outlook profile (Control Panel > Mail > Show Profiles).",
        ],
        tags: &["outlook", "email", "password prompt"],
    },
    Topic {
        key: "wifi",
        category: "Network / Wi-Fi",
        titles: &[
            "No Wi-Fi in meeting room {room}",
            "Laptop connects to Wi-Fi but has no internet",
            "Wi-Fi very slow on {floor}",
            "Cannot join the guest Wi-Fi",
        ],
        details: &[
            "In room {room} the laptop sees the corporate network but cannot connect.",
            "Connected to Wi-Fi with limited connectivity, no internet access.",
            "Speed tests on {floor} show under 2 Mbit/s since {when}.",
        ],
        notes: &[
            "Access point AP-{room} was offline; PoE port reset on the switch.",
            "DHCP scope for the floor VLAN exhausted; lease time shortened.",
        ],
        fixes: &[
            "Restarted the access point and extended the DHCP scope of the floor VLAN.",
            "Forgot the network on the laptop and re-enrolled the Wi-Fi certificate.",
        ],
        article_title: "Wi-Fi connected but no internet",
        article_steps: &[
            "Turn Wi-Fi off and on again on your device.",
            "Forget the corporate network and connect again with your work account.",
            "Try another room: if Wi-Fi works there, report the room number.",
        ],
        tags: &["wifi", "wireless", "network"],
    },
    Topic {
        key: "disk",
        category: "Hardware / Laptop",
        titles: &[
            "Disk full warning on my laptop",
            "C: drive has no space left, cannot save files",
            "Server {server} disk usage above 95 percent",
        ],
        details: &[
            "Windows says the C: drive is full and applications refuse to save.",
            "Only {gb} GB free of 256 GB, I do not know what uses the space.",
            "Monitoring alerts for {server}: /var at 97 percent.",
        ],
        notes: &[
            "WinSxS and the temp folders used 40 GB; cleaned with DISM.",
            "Log rotation on {server} was broken; compressed old logs.",
        ],
        fixes: &[
            "Ran disk cleanup including system files and moved the Downloads folder to OneDrive.",
            "Fixed logrotate on the server and extended the volume by 50 GB.",
        ],
        article_title: "Free up disk space on your laptop",
        article_steps: &[
            "Empty the Recycle Bin and the Downloads folder.",
            "Run **Disk Cleanup** and tick *Temporary files* and *Windows Update Cleanup*.",
            "Set OneDrive files to *online-only* for folders you rarely open.",
        ],
        tags: &["disk", "storage", "cleanup"],
    },
    Topic {
        key: "password",
        category: "Access / Password",
        titles: &[
            "Password expired and cannot log in",
            "Account locked after password change",
            "Need a password reset for {app}",
            "Forgot my Windows password",
        ],
        details: &[
            "My password expired over the weekend and the login screen does not let me change it.",
            "After changing my password my account got locked, probably my phone still uses the old one.",
            "I cannot remember my {app} password and the reset link does not arrive.",
        ],
        notes: &[
            "Lockout source: ActiveSync on the user's phone with the old password.",
            "Identity verified by callback to the number on file.",
        ],
        fixes: &[
            "Identity verified, password reset and account unlocked; user updated the password on the phone.",
            "Unlocked the account and removed the old password from the mobile mail app.",
        ],
        article_title: "Reset your password or unlock your account",
        article_steps: &[
            "Go to the self-service password portal and choose *Forgot password*.",
            "Confirm with the code sent to your registered phone.",
            "After the change, update the password on your phone's mail app too, or the account locks again.",
        ],
        tags: &["password", "account locked", "login"],
    },
    Topic {
        key: "sap",
        category: "Software / SAP",
        titles: &[
            "SAP GUI error when posting invoice",
            "SAP transaction {tcode} gives authorisation error",
            "SAP logon pad missing the production system",
            "SAP very slow during month-end closing",
        ],
        details: &[
            "When I post in {tcode} I get: You are not authorised to use this transaction.",
            "SAP GUI shows a short dump when saving the invoice.",
            "The production system entry disappeared from SAP Logon after the update.",
        ],
        notes: &[
            "Role Z_FI_AP_CLERK missing for the user; requested from the SAP security team.",
            "SAPUILandscape.xml not deployed by the software package.",
        ],
        fixes: &[
            "Authorisation role added by SAP security after the manager's approval.",
            "Redeployed the SAP GUI landscape file; the production system is back in SAP Logon.",
        ],
        article_title: "SAP says you are not authorised for a transaction",
        article_steps: &[
            "Note the transaction code and the exact message.",
            "Run transaction **SU53** right after the error and take a screenshot.",
            "Request the missing role with the screenshot; your manager approves it.",
        ],
        tags: &["sap", "authorisation", "erp"],
    },
    Topic {
        key: "teams",
        category: "Software / Collaboration",
        titles: &[
            "Teams microphone not working in meetings",
            "Teams keeps crashing on start",
            "Cannot share screen in Teams",
            "Teams camera black in video calls",
        ],
        details: &[
            "Others cannot hear me in Teams meetings although the headset works elsewhere.",
            "Teams shows a white window and closes itself.",
            "Screen sharing button is greyed out in every meeting.",
        ],
        notes: &[
            "Teams cache cleared; the new Teams client reinstalled.",
            "Headset firmware outdated; updated via the vendor tool.",
        ],
        fixes: &[
            "Cleared the Teams cache and selected the headset as the default device in Teams settings.",
            "Reinstalled the new Teams client and granted screen-recording permission.",
        ],
        article_title: "Teams: microphone, camera or screen sharing not working",
        article_steps: &[
            "In Teams open **Settings > Devices** and choose your headset and camera.",
            "Make a test call to check sound.",
            "Quit Teams completely, clear its cache folder, and start it again.",
        ],
        tags: &["teams", "microphone", "meetings"],
    },
    Topic {
        key: "docking",
        category: "Hardware / Laptop",
        titles: &[
            "Docking station does not detect external monitors",
            "Laptop not charging on the docking station",
            "USB keyboard and mouse not working on dock",
        ],
        details: &[
            "When I connect my laptop to the dock at desk {desk}, both monitors stay black.",
            "The dock powers the laptop only sometimes, battery keeps draining.",
            "Keyboard and mouse on the dock do nothing until I replug the cable.",
        ],
        notes: &[
            "Dock firmware 1.0.9 known issue; updated to 1.1.4.",
            "USB-C cable was a charging-only cable; replaced.",
        ],
        fixes: &[
            "Updated the docking station firmware and the laptop's Thunderbolt driver.",
            "Replaced the USB-C cable and the dock's power supply.",
        ],
        article_title: "Docking station: monitors, charging or USB not working",
        article_steps: &[
            "Unplug the dock's power for 30 seconds, then plug it back in.",
            "Connect the laptop with the dock's own USB-C cable.",
            "Press **Windows + P** and choose *Extend*.",
        ],
        tags: &["docking station", "monitor", "usb-c"],
    },
    Topic {
        key: "certificate",
        category: "Access / Certificates",
        titles: &[
            "Certificate error when opening the intranet",
            "SSL certificate expired on {server}",
            "Browser says your connection is not private for {app}",
        ],
        details: &[
            "Chrome and Edge show NET::ERR_CERT_DATE_INVALID on the intranet.",
            "The certificate of {server} expired today and the API clients fail.",
            "Users get a certificate warning when opening {app}.",
        ],
        notes: &[
            "Intermediate CA missing from the server chain.",
            "Renewal job failed because DNS validation record was removed.",
        ],
        fixes: &[
            "Renewed the TLS certificate and installed the full chain including the intermediate CA.",
            "Fixed the DNS validation record; automatic renewal works again.",
        ],
        article_title: "Certificate warnings in the browser",
        article_steps: &[
            "Check that your computer's date and time are correct.",
            "Note the exact address and the error code shown by the browser.",
            "Never click through a certificate warning for a company system: report it.",
        ],
        tags: &["certificate", "ssl", "browser"],
    },
    Topic {
        key: "mfa",
        category: "Access / MFA",
        titles: &[
            "New phone, cannot approve MFA sign-in",
            "MFA prompts not arriving on Authenticator",
            "Lost phone with the authenticator app",
        ],
        details: &[
            "I replaced my phone and the Authenticator app has no account any more.",
            "Sign-in waits for approval but nothing appears on my phone.",
        ],
        notes: &["MFA methods reset after identity verification by video call."],
        fixes: &["Reset the MFA registration after verifying identity; the user enrolled the new phone."],
        article_title: "Move multi-factor authentication to a new phone",
        article_steps: &[
            "Before you wipe the old phone, open the security info page and add the new phone.",
            "Scan the QR code with the Authenticator app on the new phone.",
            "If the old phone is gone, call the service desk: we verify who you are and reset MFA.",
        ],
        tags: &["mfa", "authenticator", "phone"],
    },
    Topic {
        key: "onedrive",
        category: "Software / Collaboration",
        titles: &[
            "OneDrive not syncing files",
            "OneDrive sync conflict duplicates my files",
            "Cannot open SharePoint files from OneDrive",
        ],
        details: &[
            "The OneDrive icon shows a red cross and files changed today are not in the cloud.",
            "Every file gets a copy with my computer's name appended.",
        ],
        notes: &["Path longer than 400 characters blocked the sync; folder renamed."],
        fixes: &["Reset the OneDrive client and shortened the folder paths over the limit."],
        article_title: "OneDrive does not sync",
        article_steps: &[
            "Click the OneDrive icon and read the message shown.",
            "Pause syncing and resume it.",
            "Rename files with characters like `:` or `*` and shorten very long folder paths.",
        ],
        tags: &["onedrive", "sync", "sharepoint"],
    },
    Topic {
        key: "slow",
        category: "Hardware / Laptop",
        titles: &[
            "Laptop extremely slow after update",
            "Computer freezes several times a day",
            "Fan loud and laptop hot",
        ],
        details: &[
            "Since the Windows update on {when} everything takes minutes to open.",
            "The laptop freezes for a minute, then continues; it happens about {minutes} times a day.",
        ],
        notes: &[
            "Antivirus full scan scheduled during working hours; moved to night.",
            "SSD health 62 percent; replacement ordered.",
        ],
        fixes: &[
            "Moved the antivirus full scan to the night and removed unneeded start-up programs.",
            "Replaced the failing SSD and restored the user's profile.",
        ],
        article_title: "Your computer is slow",
        article_steps: &[
            "Restart the computer (not only sleep) at least once a week.",
            "Close browser tabs and programs you do not use.",
            "Let pending updates install, then restart.",
        ],
        tags: &["performance", "slow", "laptop"],
    },
    Topic {
        key: "access",
        category: "Access / Permissions",
        titles: &[
            "Need access to the {team} shared drive",
            "Access denied to folder on file server",
            "Request access to {app}",
        ],
        details: &[
            "I moved to the {team} team and need write access to their shared drive.",
            "Opening \\\\fs01\\{team} gives access denied.",
        ],
        notes: &["Manager approval received by e-mail; added to group FS-{team}-RW."],
        fixes: &[
            "Added the user to the file share group after the manager's approval; access works after signing out and in.",
        ],
        article_title: "Request access to a shared drive or application",
        article_steps: &[
            "Ask for the access in the portal and name the folder or application.",
            "Your manager approves the request by e-mail.",
            "After the change sign out and in again so the new group membership applies.",
        ],
        tags: &["access", "permissions", "shared drive"],
    },
    Topic {
        key: "monitor",
        category: "Hardware / Peripherals",
        titles: &["External monitor flickering", "Second screen not detected", "Monitor resolution wrong after update"],
        details: &[
            "The monitor at desk {desk} flickers every few seconds.",
            "Windows detects only one display over HDMI.",
        ],
        notes: &["HDMI cable damaged; replaced with DisplayPort."],
        fixes: &["Replaced the HDMI cable and updated the graphics driver."],
        article_title: "External monitor not detected or flickering",
        article_steps: &[
            "Check that the cable is firmly connected at both ends.",
            "Press **Windows + P** and choose *Extend*.",
            "Try another cable or port before reporting it.",
        ],
        tags: &["monitor", "display", "hdmi"],
    },
];

const FLOORS: &[&str] = &["the 2nd floor", "the 3rd floor", "the ground floor", "building B", "the warehouse office"];
const PRINTERS: &[&str] = &["PRN-2F-East", "PRN-3F-Copy", "HP LaserJet M607 in finance", "the Canon in reception"];
const APPS: &[&str] = &["Word", "Excel", "SAP", "Salesforce", "the HR portal", "Adobe Acrobat", "Workday"];
const WHEN: &[&str] =
    &["this morning", "yesterday afternoon", "Monday", "the last update", "the move to the new office"];
const CODES: &[&str] = &["809", "0x80070005", "12029", "691", "AADSTS50076", "E_ACCESSDENIED"];
const TEAMS: &[&str] = &["Finance", "HR", "Marketing", "Sales Ops", "Legal", "Procurement"];
const SERVERS: &[&str] = &["srv-web-01", "srv-db-02", "srv-file-01", "app-prod-03", "vm-build-07"];
const TCODES: &[&str] = &["MIRO", "FB60", "ME21N", "VA01", "F110"];
const ROOMS: &[&str] = &["Everest", "K2", "Matterhorn", "Mont Blanc", "Denali"];

/// One of `list`, its placeholders filled in.
fn one<R: Rng + ?Sized>(rng: &mut R, list: &[&str]) -> String {
    let t = list.choose(rng).copied().unwrap_or_default();
    fill(rng, t)
}

fn fill<R: Rng + ?Sized>(rng: &mut R, template: &str) -> String {
    let mut out = template.to_string();
    let pick = |rng: &mut R, list: &[&str]| list.choose(rng).copied().unwrap_or_default().to_string();
    for (key, list) in [
        ("{floor}", FLOORS),
        ("{printer}", PRINTERS),
        ("{app}", APPS),
        ("{when}", WHEN),
        ("{code}", CODES),
        ("{team}", TEAMS),
        ("{server}", SERVERS),
        ("{tcode}", TCODES),
        ("{room}", ROOMS),
    ] {
        while out.contains(key) {
            let v = pick(rng, list);
            out = out.replacen(key, &v, 1);
        }
    }
    while out.contains("{minutes}") {
        let v = rng.random_range(2..45).to_string();
        out = out.replacen("{minutes}", &v, 1);
    }
    while out.contains("{gb}") {
        let v = rng.random_range(1..9).to_string();
        out = out.replacen("{gb}", &v, 1);
    }
    while out.contains("{desk}") {
        let v = format!("{}-{:02}", ["A", "B", "C"][rng.random_range(0..3)], rng.random_range(1..40));
        out = out.replacen("{desk}", &v, 1);
    }
    out
}

/// A generated ticket's text.
#[derive(Debug, Clone)]
pub struct GenTicket {
    pub topic: &'static str,
    pub category: &'static str,
    pub title: String,
    pub description: String,
    pub internal_note: String,
    pub resolution: String,
}

/// A ticket about a random topic.
pub fn ticket<R: Rng + ?Sized>(rng: &mut R) -> GenTicket {
    let topic = &TOPICS[rng.random_range(0..TOPICS.len())];
    ticket_about(rng, topic)
}

/// A ticket about `topic`.
pub fn ticket_about<R: Rng + ?Sized>(rng: &mut R, topic: &'static Topic) -> GenTicket {
    let title = one(rng, topic.titles);
    let n = rng.random_range(1..=3);
    let mut description = String::new();
    for _ in 0..n {
        let d = one(rng, topic.details);
        if !description.contains(&d) {
            if !description.is_empty() {
                description.push(' ');
            }
            description.push_str(&d);
        }
    }
    GenTicket {
        topic: topic.key,
        category: topic.category,
        title,
        description,
        internal_note: one(rng, topic.notes),
        resolution: one(rng, topic.fixes),
    }
}

/// A generated knowledge article.
#[derive(Debug, Clone)]
pub struct GenArticle {
    pub topic: &'static str,
    pub category: &'static str,
    pub title: String,
    pub body: String,
    pub kind: &'static str,
    pub tags: Vec<String>,
}

/// The how-to article for `topic`.
pub fn article(topic: &'static Topic) -> GenArticle {
    let mut body =
        format!("## Symptoms\n\n{}.\n\n## What to do\n\n", topic.titles[0].replace("{", "").replace("}", ""));
    for (i, s) in topic.article_steps.iter().enumerate() {
        body.push_str(&format!("{}. {s}\n", i + 1));
    }
    body.push_str("\n## Still not working?\n\nReport an incident in the portal and say which steps you tried.\n");
    GenArticle {
        topic: topic.key,
        category: topic.category,
        title: topic.article_title.to_string(),
        body,
        kind: "howto",
        tags: topic.tags.iter().map(|t| t.to_string()).collect(),
    }
}

/// A numbered variation of a topic's article (for knowledge bases of thousands of articles).
pub fn article_variant<R: Rng + ?Sized>(rng: &mut R, n: usize) -> GenArticle {
    let topic = &TOPICS[n % TOPICS.len()];
    let mut a = article(topic);
    let t = ticket_about(rng, topic);
    a.title = format!("{} ({})", t.title, n);
    a.body = format!("{}\n\n## Background\n\n{} {}\n", a.body, t.description, t.resolution);
    a.kind = ["howto", "faq", "known_error", "runbook", "training"][n % 5];
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn text_is_filled_in_and_deterministic() {
        let mut a = rand::rngs::StdRng::seed_from_u64(7);
        let mut b = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..200 {
            let (x, y) = (ticket(&mut a), ticket(&mut b));
            assert_eq!(x.title, y.title);
            for s in [&x.title, &x.description, &x.internal_note, &x.resolution] {
                assert!(!s.contains('{') && !s.is_empty(), "{s:?}");
            }
        }
        for t in TOPICS {
            let art = article(t);
            assert!(art.body.contains("1. ") && !art.tags.is_empty());
        }
    }
}

/// One incident of a generated month.
#[derive(Debug, Clone)]
pub struct MonthIncident {
    /// Minutes after the month's start.
    pub minute: i64,
    pub title: String,
    pub description: String,
    pub category: &'static str,
    /// The CI it names, if any.
    pub ci: Option<String>,
    /// The planted recurring issue it belongs to; `None` for a one-off.
    pub planted: Option<usize>,
}

/// A month of incidents with recurring issues planted among realistic one-offs, for measuring
/// the recurring-incident detector: what it should find (`planted`) and what it should leave.
#[derive(Debug, Clone)]
pub struct Month {
    pub incidents: Vec<MonthIncident>,
    /// Every CI named, to register before logging the incidents.
    pub cis: Vec<String>,
    /// How many recurring issues were planted.
    pub planted: usize,
}

/// Issues that recur by their text: several ways users describe the same fault.
const RECURRING_TEXT: &[(&str, &[&str], &[&str])] = &[
    (
        "Software / Outlook",
        &[
            "Outlook crashes when I open the {team} shared calendar",
            "Outlook closes itself when opening a shared calendar",
            "Shared calendar makes Outlook crash",
            "Outlook crash on the shared {team} calendar",
        ],
        &[
            "As soon as I click the shared calendar Outlook freezes and closes.",
            "Outlook crashes every time the shared calendar of {team} opens; my own calendar works.",
            "Since the last update Outlook closes when I open a shared calendar.",
        ],
    ),
    (
        "Network / VPN",
        &[
            "GlobalProtect VPN drops every few minutes since the 6.2 update",
            "VPN disconnects since GlobalProtect 6.2",
            "GlobalProtect 6.2 keeps dropping the VPN tunnel",
            "VPN tunnel drops after GlobalProtect update",
        ],
        &[
            "After the GlobalProtect 6.2 update the tunnel drops and reconnects every {minutes} minutes.",
            "The GlobalProtect client shows disconnected, then connects again, since the update.",
            "Working from home is impossible, GlobalProtect drops the VPN constantly since 6.2.",
        ],
    ),
    (
        "Facilities / Access",
        &[
            "Badge reader at the building B entrance rejects my badge",
            "Building B door does not accept badges",
            "Cannot get into building B, badge reader shows red",
            "Badge rejected at the building B entrance again",
        ],
        &[
            "The reader beeps twice and shows a red light; my badge works on every other door.",
            "Several of us waited outside building B this morning, the badge reader rejects everyone.",
            "Badge reader at the B entrance is red again; reception had to let me in.",
        ],
    ),
    (
        "Software / SAP",
        &[
            "SAP GUI freezes when printing invoices with {tcode}",
            "Printing from {tcode} hangs SAP GUI",
            "SAP hangs on invoice print",
            "SAP GUI not responding while printing an invoice",
        ],
        &[
            "When I print an invoice from {tcode} SAP GUI stops responding and I have to kill it.",
            "Invoice printing freezes SAP GUI, other transactions are fine.",
            "SAP GUI hangs for good as soon as the invoice print dialog should appear.",
        ],
    ),
];

/// Servers and devices that misbehave repeatedly in a week.
const RECURRING_CI: &[&str] = &["sql-fin-01", "app-crm-02", "sw-core-3f"];

/// A month of incidents: `noise` one-offs from the everyday topics (distinct faults: no title
/// template used twice in the month, so at most 75 with the bursts; no CI named more than twice), a few issues recurring by their text (five to eight
/// alike reports spread over the month) and a few bursts on one CI (three to five incidents
/// about different symptoms within five days).
pub fn incident_month<R: Rng + ?Sized>(rng: &mut R, noise: usize) -> Month {
    const MONTH: i64 = 30 * 24 * 60;
    let mut incidents = Vec::new();
    let mut planted = 0;
    let text_issues = rng.random_range(2..=RECURRING_TEXT.len());
    let mut order: Vec<usize> = (0..RECURRING_TEXT.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    for &k in order.iter().take(text_issues) {
        let (category, titles, details) = RECURRING_TEXT[k];
        for _ in 0..rng.random_range(5..=8) {
            incidents.push(MonthIncident {
                minute: rng.random_range(0..MONTH),
                title: one(rng, titles),
                description: one(rng, details),
                category,
                ci: None,
                planted: Some(planted),
            });
        }
        planted += 1;
    }
    // Every everyday title template is used once in the month, by a burst or by a one-off, so
    // one-offs are distinct faults and a burst's symptoms differ.
    let mut title_uses: std::collections::HashMap<&'static str, usize> = std::collections::HashMap::new();
    let mut fresh = |rng: &mut R| -> Option<GenTicket> {
        for _ in 0..1000 {
            let topic = &TOPICS[rng.random_range(0..TOPICS.len())];
            let template = topic.titles[rng.random_range(0..topic.titles.len())];
            let uses = title_uses.entry(template).or_default();
            if *uses == 0 {
                *uses += 1;
                let g = ticket_about(rng, topic);
                return Some(GenTicket { title: fill(rng, template), ..g });
            }
        }
        None
    };
    for ci in RECURRING_CI {
        let start = rng.random_range(0..MONTH - 5 * 24 * 60);
        for _ in 0..rng.random_range(3..=5) {
            let Some(g) = fresh(rng) else { break };
            incidents.push(MonthIncident {
                minute: start + rng.random_range(0..5 * 24 * 60),
                title: g.title,
                description: g.description,
                category: g.category,
                ci: Some(ci.to_string()),
                planted: Some(planted),
            });
        }
        planted += 1;
    }
    let noise_cis: Vec<String> = (1..=60).map(|i| format!("ws-{i:04}")).collect();
    let mut ci_uses = vec![0usize; noise_cis.len()];
    for _ in 0..noise {
        let Some(g) = fresh(rng) else { break };
        let ci = if rng.random_bool(0.3) {
            let i = rng.random_range(0..noise_cis.len());
            (ci_uses[i] < 2).then(|| {
                ci_uses[i] += 1;
                noise_cis[i].clone()
            })
        } else {
            None
        };
        incidents.push(MonthIncident {
            minute: rng.random_range(0..MONTH),
            title: g.title,
            description: g.description,
            category: g.category,
            ci,
            planted: None,
        });
    }
    incidents.sort_by_key(|i| i.minute);
    let mut cis: Vec<String> = RECURRING_CI.iter().map(|s| s.to_string()).collect();
    cis.extend(noise_cis);
    Month { incidents, cis, planted }
}
