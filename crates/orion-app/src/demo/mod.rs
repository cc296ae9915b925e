//! `orion serve --demo`: a realistic small organisation, seeded once.

pub mod textgen;

use crate::{
    App, AppError, AppResult, CategoryInput, EscalateInput, GroupInput, NewTicketInput, NewUserInput, ReasonInput,
    ResolveInput, TicketPatch, UserPatch,
};
use orion_domain::{Actor, Role, UserId};
use orion_store::{settings, users};

const SEEDED: &str = "demo_seeded";
/// Days of worked tickets before today, so that the reports have a history on first start.
const HISTORY_DAYS: i64 = 90;
const DAY_MS: i64 = 86_400_000;
/// Every demo account's password (for the web UI once it exists).
pub const DEMO_PASSWORD: &str = "demo-desk-lantern";

/// The accounts a demo visitor signs in with.
pub const DEMO_ADMIN: &str = "admin@demo.orion";
pub const DEMO_AGENT: &str = "sam.l1@demo.orion";
pub const DEMO_REQUESTER: &str = "alex.requester@demo.orion";
/// The demo requesters' line manager (approves their catalog requests).
pub const DEMO_MANAGER: &str = "morgan.manager@demo.orion";

const GROUPS: &[(&str, i64, Option<&str>, &str)] = &[
    ("Systems & Network", 3, None, "L3 experts: servers, network, identity"),
    ("Desktop Support", 2, Some("Systems & Network"), "L2: laptops, printers, software"),
    ("Infrastructure", 2, Some("Systems & Network"), "L2: servers, backups, monitoring"),
    ("Service Desk", 1, Some("Desktop Support"), "L1: phone, e-mail and portal"),
];

const STAFF: &[(&str, &str, &str, &[&str])] = &[
    (DEMO_ADMIN, "Orion Admin", "admin", &["Service Desk"]),
    ("lena.lead@demo.orion", "Lena Lead", "lead", &["Service Desk", "Desktop Support"]),
    (DEMO_AGENT, "Sam Okafor", "agent", &["Service Desk"]),
    ("maria.l1@demo.orion", "Maria Lopez", "agent", &["Service Desk"]),
    ("dev.l2@demo.orion", "Dev Patel", "agent", &["Desktop Support"]),
    ("ines.l2@demo.orion", "Ines Berger", "agent", &["Infrastructure"]),
    ("kai.l3@demo.orion", "Kai Nakamura", "agent", &["Systems & Network"]),
    ("omar.lead@demo.orion", "Omar Haddad", "lead", &["Infrastructure", "Systems & Network"]),
];

const CATEGORIES: &[(&str, Option<&str>)] = &[
    ("Hardware", None),
    ("Laptop", Some("Hardware")),
    ("Printer", Some("Hardware")),
    ("Software", None),
    ("Email & Calendar", Some("Software")),
    ("Business Apps", Some("Software")),
    ("Network", None),
    ("VPN", Some("Network")),
    ("Wi-Fi", Some("Network")),
    ("Access", None),
    ("Password Reset", Some("Access")),
];

/// (title, description, category, kind)
const PROBLEMS: &[(&str, &str, &str, &str)] = &[
    (
        "Printer on 3rd floor jams on every job",
        "The HP LaserJet near the kitchen jams after one page.",
        "Hardware / Printer",
        "incident",
    ),
    (
        "VPN drops every 10 minutes",
        "Working from home, the VPN disconnects and Teams calls freeze.",
        "Network / VPN",
        "incident",
    ),
    (
        "Outlook keeps asking for my password",
        "Since this morning Outlook prompts for credentials in a loop.",
        "Software / Email & Calendar",
        "incident",
    ),
    ("Laptop will not dock", "The USB-C dock shows no displays; charging works.", "Hardware / Laptop", "incident"),
    (
        "Wi-Fi slow in meeting room B",
        "Video calls stutter in meeting room B; other rooms fine.",
        "Network / Wi-Fi",
        "incident",
    ),
    (
        "Locked out after password change",
        "I changed my password and now my account is locked.",
        "Access / Password Reset",
        "incident",
    ),
    (
        "SAP shows error on invoice posting",
        "Posting invoices fails with a runtime error since the update.",
        "Software / Business Apps",
        "incident",
    ),
    ("Disk full on file server", "Users report they cannot save to the S: drive.", "Hardware", "incident"),
    (
        "New laptop for new starter",
        "Please prepare a laptop for a new colleague starting Monday.",
        "Hardware / Laptop",
        "service_request",
    ),
    (
        "Access to the finance share",
        "I need read access to the finance share for the audit.",
        "Access",
        "service_request",
    ),
    ("Install Visio", "Please install Microsoft Visio on my laptop.", "Software", "service_request"),
    (
        "Certificate warning on intranet",
        "Browsers warn that the intranet certificate expires soon.",
        "Network",
        "incident",
    ),
];

impl App {
    /// Seeds the demo organisation unless it is there already; returns whether it seeded.
    pub async fn seed_demo(&self, tickets: usize) -> AppResult<bool> {
        {
            let mut r = self.db.read().await?;
            if settings::get(&mut r.conn(), SEEDED).await?.is_some() {
                return Ok(false);
            }
        }
        let root = Actor { id: UserId(0), role: Role::Admin };
        for (name, tier, target, desc) in GROUPS {
            self.create_group(
                &root,
                GroupInput {
                    name: Some((*name).into()),
                    tier: Some(*tier),
                    escalates_to: target.map(Into::into),
                    description: Some((*desc).into()),
                    ..Default::default()
                },
            )
            .await?;
        }
        for (email, name, role, groups) in STAFF {
            self.create_user(
                &root,
                NewUserInput {
                    email: Some((*email).into()),
                    name: Some((*name).into()),
                    role: Some((*role).into()),
                    groups: groups.iter().map(|g| (*g).to_string()).collect(),
                    password: Some(DEMO_PASSWORD.into()),
                    ..Default::default()
                },
            )
            .await?;
        }
        let leads = [
            ("Service Desk", "lena.lead@demo.orion"),
            ("Desktop Support", "lena.lead@demo.orion"),
            ("Infrastructure", "omar.lead@demo.orion"),
            ("Systems & Network", "omar.lead@demo.orion"),
        ];
        for g in self.list_groups(&root).await? {
            if let Some((_, lead)) = leads.iter().find(|(n, _)| *n == g.name) {
                self.update_group(&root, g.id, GroupInput { lead: Some((*lead).into()), ..Default::default() }).await?;
            }
        }
        for (name, parent) in CATEGORIES {
            self.create_category(&root, CategoryInput { name: Some((*name).into()), parent: parent.map(Into::into) })
                .await?;
        }
        // The shipped catalog items, published.
        let admin = self.actor_for(DEMO_ADMIN).await?;
        for (file, text) in crate::catalog::EXAMPLES {
            let item: crate::catalog::CatalogImport =
                serde_json::from_str(text).map_err(|e| AppError::Internal(format!("examples/catalog/{file}: {e}")))?;
            self.import_catalog_item(&admin, item, false).await?;
        }
        // The requesters' line manager, who approves what the catalog's chains ask a manager for.
        self.create_user(
            &root,
            NewUserInput {
                email: Some(DEMO_MANAGER.into()),
                name: Some("Morgan Manager".into()),
                password: Some(DEMO_PASSWORD.into()),
                ..Default::default()
            },
        )
        .await?;
        let requesters = ["alex.requester", "bea.finance", "chris.sales", "dana.hr", "eli.ops", "fay.legal"];
        for (i, r) in requesters.iter().enumerate() {
            let u = self
                .create_user(
                    &root,
                    NewUserInput {
                        email: Some(format!("{r}@demo.orion")),
                        name: Some(format!("{} {}", ["Alex", "Bea", "Chris", "Dana", "Eli", "Fay"][i], "Demo")),
                        password: Some(DEMO_PASSWORD.into()),
                        ..Default::default()
                    },
                )
                .await?;
            let manager = UserPatch { manager: Some(DEMO_MANAGER.into()), ..Default::default() };
            self.update_user(&root, u.id, manager).await?;
        }
        let l1 = self.actor_for(DEMO_AGENT).await?;
        let l2 = self.actor_for("dev.l2@demo.orion").await?;
        self.seed_history(&requesters, HISTORY_DAYS).await?;
        let channels = ["phone", "email", "portal", "walk_in", "phone", "email"];
        for i in 0..tickets {
            let (title, desc, cat, kind) = PROBLEMS[i % PROBLEMS.len()];
            let requester = format!("{}@demo.orion", requesters[i % requesters.len()]);
            let t = self
                .create_ticket(
                    &l1,
                    NewTicketInput {
                        kind: Some(kind.into()),
                        title: Some(title.into()),
                        description: Some(desc.into()),
                        impact: Some((i % 3 + 1) as i64),
                        urgency: Some(((i / 3) % 3 + 1) as i64),
                        requester: Some(requester),
                        channel: Some(channels[i % channels.len()].into()),
                        category: Some(cat.into()),
                        ..Default::default()
                    },
                )
                .await?;
            let n = &t.number;
            // Spread the tickets over every state of the life cycle.
            match i % 7 {
                0 => {}
                1 => {
                    self.update_ticket(&l1, n, TicketPatch { assignee: Some(DEMO_AGENT.into()), ..Default::default() })
                        .await?;
                }
                2 => {
                    self.update_ticket(&l1, n, TicketPatch { state: Some("in_progress".into()), ..Default::default() })
                        .await?;
                }
                3 => {
                    self.update_ticket(
                        &l1,
                        n,
                        TicketPatch {
                            state: Some("pending".into()),
                            pending_reason: Some("user".into()),
                            assignee: Some(DEMO_AGENT.into()),
                            ..Default::default()
                        },
                    )
                    .await?;
                }
                4 => {
                    self.escalate(
                        &l1,
                        n,
                        EscalateInput {
                            reason: Some("Needs desktop engineering".into()),
                            troubleshooting: Some(
                                "Restarted the device, checked cables and drivers, reproduced with the caller.".into(),
                            ),
                            ..Default::default()
                        },
                    )
                    .await?;
                    self.update_ticket(&l2, n, TicketPatch { state: Some("in_progress".into()), ..Default::default() })
                        .await?;
                }
                5 => {
                    self.resolve(
                        &l1,
                        n,
                        ResolveInput {
                            resolution_code: Some("fixed".into()),
                            resolution_notes: Some("Fixed on the phone with the caller.".into()),
                            time_spent_minutes: Some(15),
                        },
                    )
                    .await?;
                }
                _ => {
                    self.resolve(
                        &l1,
                        n,
                        ResolveInput {
                            resolution_code: Some("workaround".into()),
                            resolution_notes: Some("Workaround applied; see the knowledge base.".into()),
                            time_spent_minutes: Some(25),
                        },
                    )
                    .await?;
                    self.close(&l1, n, ReasonInput { reason: Some("Confirmed by the requester".into()) }).await?;
                }
            }
        }
        // A knowledge base to search and be suggested: a published how-to per common subject.
        let lead = self.actor_for("lena.lead@demo.orion").await?;
        for (i, topic) in textgen::TOPICS.iter().enumerate() {
            let a = textgen::article(topic);
            let input = crate::kb::ArticleInput {
                title: a.title,
                body: a.body,
                kind: Some(a.kind.into()),
                audience: Some(if i % 5 == 4 { "internal" } else { "public" }.into()),
                tags: a.tags,
                ..Default::default()
            };
            let art = self.create_article(&lead, input).await?;
            let publish =
                crate::kb::ArticleTransition { action: "publish".into(), note: String::new(), review_by: None };
            self.transition_article(&lead, &art.number, publish).await?;
        }
        let mut tx = self.db.begin().await?;
        settings::put(&mut tx.conn(), SEEDED, "true", self.now()).await?;
        self.commit(tx).await?;
        Ok(true)
    }
}

/// One step of a historical ticket's life.
#[derive(Debug, Clone, Copy)]
enum Step {
    Log,
    Reply,
    Escalate,
    Resolve,
    Reopen,
}

impl App {
    /// Tickets logged, answered, escalated, resolved and sometimes reopened over the `days` before
    /// now — three each weekday, one each weekend day — each at its own time, so that the reports
    /// show a history. The steps run in time order on a copy of the app with a clock of its own.
    async fn seed_history(&self, requesters: &[&str], days: i64) -> AppResult<()> {
        let now = self.now();
        let clock = std::sync::Arc::new(crate::ManualClock::new(orion_domain::Timestamp(now)));
        let past = App { clock: clock.clone(), ..self.clone() };
        let l1 = [self.actor_for(DEMO_AGENT).await?, self.actor_for("maria.l1@demo.orion").await?];
        let l2 = self.actor_for("dev.l2@demo.orion").await?;
        let mut plan: Vec<(i64, usize, Step)> = Vec::new();
        let first_day = (now - days * DAY_MS).div_euclid(DAY_MS);
        let mut n = 0usize;
        for day in first_day..now.div_euclid(DAY_MS) {
            // 1970-01-01 was a Thursday: Monday is 0.
            let weekday = (day + 3).rem_euclid(7);
            for _ in 0..if weekday < 5 { 3 } else { 1 } {
                let i = n as i64;
                let logged = day * DAY_MS + (8 * 60 + (i * 37) % 540) * 60_000;
                let mut at = logged;
                plan.push((at, n, Step::Log));
                if i % 5 != 0 {
                    at += (5 + (i * 13) % 120) * 60_000;
                    plan.push((at, n, Step::Reply));
                }
                if i % 4 == 0 {
                    at += (60 + (i * 29) % 600) * 60_000;
                    plan.push((at, n, Step::Escalate));
                }
                at += (30 + (i * 53) % 2880) * 60_000;
                plan.push((at, n, Step::Resolve));
                if i % 11 == 0 {
                    plan.push((at + 240 * 60_000, n, Step::Reopen));
                    plan.push((at + 840 * 60_000, n, Step::Resolve));
                }
                n += 1;
            }
        }
        plan.retain(|(at, _, _)| *at < now - 3_600_000);
        plan.sort_by_key(|(at, i, _)| (*at, *i));
        let mut numbers: Vec<String> = vec![String::new(); n];
        let mut escalated = vec![false; n];
        // The nightly snapshot of each day's backlog, as the job would have taken it.
        let mut kept_until = first_day;
        for (at, i, step) in plan {
            while (kept_until + 1) * DAY_MS + 5 * 60_000 <= at {
                kept_until += 1;
                clock.set(orion_domain::Timestamp(kept_until * DAY_MS + 5 * 60_000));
                past.take_backlog_snapshot().await?;
            }
            clock.set(orion_domain::Timestamp(at));
            let agent = &l1[i % 2];
            let number = numbers[i].clone();
            let requester = format!("{}@demo.orion", requesters[i % requesters.len()]);
            match step {
                Step::Log => {
                    let (title, desc, cat, kind) = PROBLEMS[(i * 7) % PROBLEMS.len()];
                    let t = past
                        .create_ticket(
                            agent,
                            NewTicketInput {
                                kind: Some(kind.into()),
                                title: Some(title.into()),
                                description: Some(desc.into()),
                                impact: Some((i % 3 + 1) as i64),
                                urgency: Some(((i / 2) % 3 + 1) as i64),
                                requester: Some(requester),
                                channel: Some(["phone", "email", "portal", "email"][i % 4].into()),
                                category: Some(cat.into()),
                                ..Default::default()
                            },
                        )
                        .await?;
                    numbers[i] = t.number;
                }
                Step::Reply => {
                    let reply = crate::CommentInput {
                        body: Some("Thanks for reporting this; we are looking into it now.".into()),
                        visibility: Some("public".into()),
                        time_spent_minutes: Some(5 + (i as i64 * 7) % 20),
                        ..Default::default()
                    };
                    past.add_comment(agent, &number, reply).await?;
                }
                Step::Escalate => {
                    let input = EscalateInput {
                        reason: Some("Needs desktop engineering".into()),
                        troubleshooting: Some("Restarted, checked the logs and reproduced it with the caller.".into()),
                        ..Default::default()
                    };
                    past.escalate(agent, &number, input).await?;
                    escalated[i] = true;
                }
                Step::Resolve => {
                    let by = if escalated[i] { &l2 } else { agent };
                    let input = ResolveInput {
                        resolution_code: Some(if i % 3 == 0 { "workaround" } else { "fixed" }.into()),
                        resolution_notes: Some("Resolved with the caller; they confirmed it works.".into()),
                        time_spent_minutes: Some(if escalated[i] {
                            45 + (i as i64 * 13) % 120
                        } else {
                            10 + (i as i64 * 11) % 40
                        }),
                    };
                    past.resolve(by, &number, input).await?;
                }
                Step::Reopen => {
                    let who = self.actor_for(&format!("{}@demo.orion", requesters[i % requesters.len()])).await?;
                    past.reopen(&who, &number, ReasonInput { reason: Some("It happened again this morning.".into()) })
                        .await?;
                }
            }
        }
        while (kept_until + 1) * DAY_MS + 5 * 60_000 <= now {
            kept_until += 1;
            clock.set(orion_domain::Timestamp(kept_until * DAY_MS + 5 * 60_000));
            past.take_backlog_snapshot().await?;
        }
        Ok(())
    }

    /// The actor for a user's e-mail (CLI `--as`, demo seeding).
    pub async fn actor_for(&self, email: &str) -> AppResult<Actor> {
        let email = orion_domain::Email::parse("as", email)?;
        let mut r = self.db.read().await?;
        let u = users::find_by_email(&mut r.conn(), email.as_str())
            .await?
            .ok_or_else(|| crate::kernel::error::invalid("as", format!("no user with e-mail {email}")))?;
        if !u.active {
            return Err(crate::kernel::error::invalid("as", format!("{email} is deactivated")));
        }
        let role = Role::parse("role", &u.role)?;
        Ok(Actor { id: UserId(u.id), role })
    }
}
