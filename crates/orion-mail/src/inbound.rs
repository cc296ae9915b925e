//! One received message, read once into what Orion needs from it.

use crate::noise::{self, Noise};
use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};
use std::fmt;

/// A sender or recipient: the address in lower case and the display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub address: String,
    pub name: Option<String>,
}

/// A file that came with the message (inline images too).
#[derive(Debug, Clone)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    /// Without angle brackets; set for inline parts referenced as `cid:`.
    pub content_id: Option<String>,
    pub inline: bool,
    pub bytes: Vec<u8>,
}

/// A delivery status notification (RFC 3464): which message did not arrive, and for whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    /// The Message-ID of the message that bounced, when the report carries it.
    pub original_message_id: Option<String>,
    /// Recipients the report says failed (`Action: failed`).
    pub failed_recipients: Vec<String>,
    /// The first `Status:` (e.g. `5.1.1`).
    pub status: Option<String>,
    /// A permanent failure (5.x.x) as opposed to a delay.
    pub permanent: bool,
}

/// A message as Orion uses it.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// Without angle brackets; `None` if the message has none.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub subject: String,
    pub from: Option<Mailbox>,
    pub reply_to: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    /// The `Date:` header as epoch milliseconds.
    pub date_ms: Option<i64>,
    /// The plain-text body (derived from the HTML when there is no text part).
    pub text: String,
    /// The HTML body as sent (not yet sanitised: inline images are rewritten when they are stored).
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    pub noise: Vec<Noise>,
    pub bounce: Option<Bounce>,
    /// SHA-256 without trace headers, hex: the same message delivered twice has the same hash.
    pub content_hash: String,
}

impl Inbound {
    /// Every Message-ID this message refers to, most specific first (In-Reply-To, then References newest first).
    pub fn referenced_ids(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.in_reply_to.iter().map(String::as_str).collect();
        for r in self.references.iter().rev() {
            if !out.contains(&r.as_str()) {
                out.push(r);
            }
        }
        out
    }

    pub fn is_auto_reply(&self) -> bool {
        self.noise.iter().any(Noise::is_auto_reply)
    }
}

/// Why a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    Empty,
    NotAMessage,
    NoSender,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseError::Empty => "the message is empty",
            ParseError::NotAMessage => "not an RFC 5322 message (no header section could be read)",
            ParseError::NoSender => "the message has no From address",
        })
    }
}

impl std::error::Error for ParseError {}

/// SHA-256 of `bytes` as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of the message without its trace headers (`Received`, `Return-Path`, `Delivered-To`,
/// `X-Original-To`, …), which differ between two deliveries of the same message.
pub fn content_hash(raw: &[u8]) -> String {
    const TRACE: [&str; 8] = [
        "received",
        "return-path",
        "delivered-to",
        "x-original-to",
        "x-received",
        "x-envelope-from",
        "x-envelope-to",
        "x-orion-source",
    ];
    let body_at = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|p| p + 2));
    let (head, body) = match body_at {
        Some(at) => raw.split_at(at),
        None => (raw, &[][..]),
    };
    let mut hasher = Sha256::new();
    let mut skipping = false;
    for line in head.split_inclusive(|b| *b == b'\n') {
        let continuation = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if !continuation {
            let name = line.split(|b| *b == b':').next().unwrap_or_default();
            let name = String::from_utf8_lossy(name).trim().to_ascii_lowercase();
            skipping = TRACE.contains(&name.as_str());
        }
        if !skipping {
            hasher.update(line);
        }
    }
    hasher.update(body);
    hex(&hasher.finalize())
}

fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    let clean = |s: &str| s.trim().trim_matches(['<', '>']).to_string();
    match v {
        HeaderValue::Text(t) => t.split_whitespace().map(clean).filter(|s| !s.is_empty()).collect(),
        HeaderValue::TextList(l) => l.iter().map(|s| clean(s)).filter(|s| !s.is_empty()).collect(),
        _ => Vec::new(),
    }
}

fn mailboxes(a: Option<&Address<'_>>) -> Vec<Mailbox> {
    a.map(|a| {
        a.iter()
            .filter_map(|m| {
                let address = m.address()?.trim().to_ascii_lowercase();
                address.contains('@').then(|| Mailbox {
                    address,
                    name: m.name().map(str::trim).filter(|n| !n.is_empty()).map(str::to_string),
                })
            })
            .collect()
    })
    .unwrap_or_default()
}

/// Reads a raw RFC 5322 message. Character sets (ISO-8859-x, windows-125x, Shift_JIS, …), encoded
/// words and RFC 2231 file names are decoded by mail-parser.
pub fn parse(raw: &[u8]) -> Result<Inbound, ParseError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::Empty);
    }
    let msg = MessageParser::default().parse(raw).ok_or(ParseError::NotAMessage)?;
    if msg.headers().is_empty() {
        return Err(ParseError::NotAMessage);
    }
    let from = mailboxes(msg.from()).into_iter().next();
    let sender = from.clone().or_else(|| mailboxes(msg.sender()).into_iter().next());
    let noise = noise::classify(msg.headers_raw(), sender.as_ref().map(|m| m.address.as_str()));
    let bounce = bounce_of(&msg);
    if sender.is_none() && bounce.is_none() {
        return Err(ParseError::NoSender);
    }
    let html = msg.body_html(0).map(|h| h.into_owned()).filter(|_| msg.html_body_count() > 0);
    // mail-parser derives an HTML body from text and a text body from HTML; prefer a real text part.
    let has_text_part = msg.text_bodies().any(|p| matches!(p.body, PartType::Text(_)));
    let text = match (&html, has_text_part) {
        (Some(h), false) => crate::html::to_text(h),
        _ => msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
    };
    let html = html.filter(|_| msg.html_bodies().any(|p| matches!(p.body, PartType::Html(_))));
    let attachments = msg
        .attachments()
        .map(|p| {
            let content_type = p
                .content_type()
                .map(|c| match c.subtype() {
                    Some(sub) => format!("{}/{}", c.ctype(), sub),
                    None => c.ctype().to_string(),
                })
                .unwrap_or_else(|| "application/octet-stream".into())
                .to_ascii_lowercase();
            let content_id = p.content_id().map(|c| c.trim().trim_matches(['<', '>']).to_string());
            let inline = p.content_disposition().is_some_and(|d| d.is_inline())
                || (content_id.is_some() && !p.content_disposition().is_some_and(|d| d.is_attachment()));
            let filename = p
                .attachment_name()
                .map(str::to_string)
                .or_else(|| p.message().and_then(|m| m.subject()).map(|s| format!("{s}.eml")))
                .unwrap_or_else(|| {
                    if content_type == "message/rfc822" { "message.eml".into() } else { "attachment".into() }
                });
            Attachment {
                filename: safe_filename(&filename),
                content_type,
                content_id,
                inline,
                bytes: p.contents().to_vec(),
            }
        })
        .collect();
    Ok(Inbound {
        message_id: msg.message_id().map(|m| m.trim_matches(['<', '>']).to_string()),
        in_reply_to: ids(msg.in_reply_to()),
        references: ids(msg.references()),
        subject: msg.subject().unwrap_or("").trim().to_string(),
        reply_to: mailboxes(msg.reply_to()).into_iter().next(),
        to: mailboxes(msg.to()),
        cc: mailboxes(msg.cc()),
        date_ms: msg.date().map(|d| d.to_timestamp() * 1000),
        from: sender,
        text,
        html,
        attachments,
        noise,
        bounce,
        content_hash: content_hash(raw),
    })
}

/// A file name safe to store and offer for download: no directories, no control characters.
fn safe_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String =
        base.chars().filter(|c| !c.is_control()).collect::<String>().trim().trim_matches('.').to_string();
    if cleaned.is_empty() { "attachment".into() } else { cleaned.chars().take(200).collect() }
}

/// A `multipart/report; report-type=delivery-status` message, read (RFC 3464).
fn bounce_of(msg: &mail_parser::Message<'_>) -> Option<Bounce> {
    let root = msg.root_part().content_type()?;
    let is_report = root.ctype().eq_ignore_ascii_case("multipart")
        && root.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report"))
        && root.attribute("report-type").is_some_and(|r| r.eq_ignore_ascii_case("delivery-status"));
    if !is_report {
        return None;
    }
    let mut b = Bounce { original_message_id: None, failed_recipients: Vec::new(), status: None, permanent: false };
    for part in &msg.parts {
        let Some(ct) = part.content_type() else { continue };
        let sub = ct.subtype().unwrap_or("").to_ascii_lowercase();
        match (ct.ctype().to_ascii_lowercase().as_str(), sub.as_str()) {
            ("message", "delivery-status") | ("message", "global-delivery-status") => {
                let text = String::from_utf8_lossy(part.contents());
                let mut recipient: Option<String> = None;
                for line in text.lines() {
                    let Some((k, v)) = line.split_once(':') else { continue };
                    let v = v.trim();
                    match k.trim().to_ascii_lowercase().as_str() {
                        "final-recipient" | "original-recipient"
                            if recipient.is_none() || k.trim().eq_ignore_ascii_case("final-recipient") =>
                        {
                            recipient = Some(
                                v.rsplit(';').next().unwrap_or(v).trim().trim_matches(['<', '>']).to_ascii_lowercase(),
                            );
                        }
                        "action" if v.eq_ignore_ascii_case("failed") => {
                            if let Some(r) = recipient.clone()
                                && !b.failed_recipients.contains(&r)
                            {
                                b.failed_recipients.push(r);
                            }
                        }
                        "status" => {
                            b.permanent |= v.starts_with('5');
                            b.status.get_or_insert_with(|| v.to_string());
                        }
                        _ => {}
                    }
                }
            }
            ("message", "rfc822") | ("message", "global") => {
                if let Some(m) = part.message() {
                    b.original_message_id = b.original_message_id.take().or_else(|| m.message_id().map(str::to_string));
                }
            }
            ("text", "rfc822-headers") | ("message", "rfc822-headers") => {
                let text = String::from_utf8_lossy(part.contents());
                for line in text.lines() {
                    if let Some((k, v)) = line.split_once(':')
                        && k.trim().eq_ignore_ascii_case("message-id")
                    {
                        b.original_message_id.get_or_insert_with(|| v.trim().trim_matches(['<', '>']).to_string());
                    }
                }
            }
            _ => {}
        }
    }
    if b.original_message_id.is_none() {
        b.original_message_id = ids(msg.in_reply_to()).into_iter().next();
    }
    Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(name: &str) -> Inbound {
        let path = format!("{}/corpus/{name}", env!("CARGO_MANIFEST_DIR"));
        parse(&std::fs::read(&path).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    #[test]
    fn alternative_prefers_the_text_part_and_keeps_the_html() {
        let m = corpus("alternative.eml");
        assert_eq!(m.message_id.as_deref(), Some("alt-1@mail.example.com"));
        assert_eq!(m.from, Some(Mailbox { address: "alice@example.com".into(), name: Some("Alice Example".into()) }));
        assert_eq!(m.to[0].address, "help@example.com");
        assert_eq!(m.text.trim(), "Since this morning Outlook asks for my password every five minutes.");
        assert!(m.html.as_deref().unwrap().contains("<b>Outlook</b>"));
        assert!(m.noise.is_empty() && m.bounce.is_none() && m.attachments.is_empty());
        assert_eq!(m.content_hash.len(), 64);
        assert!(m.date_ms.is_some());
    }

    #[test]
    fn inline_images_and_html_only_bodies() {
        let m = corpus("related-inline.eml");
        assert_eq!(m.attachments.len(), 1);
        let a = &m.attachments[0];
        assert_eq!((a.filename.as_str(), a.content_type.as_str(), a.inline), ("screen.png", "image/png", true));
        assert_eq!(a.content_id.as_deref(), Some("shot1@example.com"));
        assert!(a.bytes.starts_with(b"\x89PNG"));
        assert!(m.text.contains("This is what I see"), "text derived from HTML: {:?}", m.text);
    }

    #[test]
    fn rfc2231_and_rfc2047_names_are_decoded() {
        let m = corpus("attachment-names.eml");
        assert_eq!(m.subject, "Rechnung für Drucker");
        let names: Vec<&str> = m.attachments.iter().map(|a| a.filename.as_str()).collect();
        assert_eq!(names, ["Rechnung für Drucker.pdf", "Prüfbericht.txt"]);
        assert!(m.attachments.iter().all(|a| !a.inline));
        assert!(m.attachments[0].bytes.starts_with(b"%PDF"));
    }

    #[test]
    fn legacy_charsets_become_utf8() {
        let m = corpus("iso-8859-1.eml");
        assert_eq!(m.subject, "Drucker kaputt äöü");
        assert!(m.text.contains("Grüße aus München"), "{:?}", m.text);
        assert!(corpus("windows-1252.eml").text.contains("20 € – “quoted”"));
        let j = corpus("shift-jis.eml");
        assert_eq!(j.subject, "プリンター故障");
        assert!(j.text.contains("プリンターが動きません"), "{:?}", j.text);
    }

    #[test]
    fn a_forwarded_message_is_an_attachment() {
        let m = corpus("forwarded.eml");
        assert!(m.text.contains("phishing"));
        let a = &m.attachments[0];
        assert_eq!(a.content_type, "message/rfc822");
        assert_eq!(a.filename, "Your mailbox is full.eml");
        assert!(String::from_utf8_lossy(&a.bytes).contains("Click here"));
    }

    #[test]
    fn replies_carry_their_references() {
        let g = corpus("gmail-reply.eml");
        assert_eq!(g.referenced_ids(), ["orion-notify-7@help.example.com", "orion-ticket-5@help.example.com"]);
        let (new, quoted) = crate::quote::split(&g.text);
        assert_eq!(new, "Still broken after the reboot.");
        assert!(quoted.contains("Please reboot"));
        let o = corpus("outlook-reply.eml");
        assert_eq!(crate::subject::ticket_tag(&o.subject).as_deref(), Some("INC0000042"));
        assert_eq!(crate::quote::split(&o.text).0, "It works again, thank you!");
        assert_eq!(crate::quote::split_html(o.html.as_deref().unwrap()).0, "<div>It works again, thank you!</div>");
    }

    #[test]
    fn automatic_mail_is_recognised() {
        let ooo = corpus("out-of-office.eml");
        assert!(ooo.is_auto_reply(), "{:?}", ooo.noise);
        let list = corpus("mailing-list.eml");
        assert_eq!(list.noise, [Noise::ListId, Noise::Precedence("list".into())]);
        assert!(!list.is_auto_reply());
    }

    #[test]
    fn bounces_name_the_message_and_the_recipient() {
        let b = corpus("bounce-dsn.eml");
        let bounce = b.bounce.expect("a DSN");
        assert_eq!(bounce.original_message_id.as_deref(), Some("orion-notify-11@help.example.com"));
        assert_eq!(bounce.failed_recipients, ["gone@example.com"]);
        assert_eq!((bounce.status.as_deref(), bounce.permanent), (Some("5.1.1"), true));
        assert!(b.noise.contains(&Noise::MailerDaemon) && b.noise.contains(&Noise::EmptyReturnPath));
    }

    #[test]
    fn redeliveries_hash_alike_other_content_does_not() {
        let a = b"Received: from a by b\r\n\tid 1\r\nFrom: x@y\r\nMessage-ID: <1@y>\r\n\r\nhello\r\n";
        let b = b"Return-Path: <x@y>\r\nReceived: from c by d\r\nFrom: x@y\r\nMessage-ID: <1@y>\r\n\r\nhello\r\n";
        let c = b"From: x@y\r\nMessage-ID: <1@y>\r\n\r\nhello again\r\n";
        assert_eq!(content_hash(a), content_hash(b));
        assert_ne!(content_hash(a), content_hash(c));
        assert_ne!(sha256_hex(a), sha256_hex(b));
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        assert_eq!(parse(b"").unwrap_err(), ParseError::Empty);
        assert_eq!(parse(b"Subject: no sender\r\n\r\nhello").unwrap_err(), ParseError::NoSender);
        assert_eq!(safe_filename("../../etc/passwd"), "passwd");
        assert_eq!(safe_filename("C:\\x\\..\\a\u{0}b.txt"), "ab.txt");
    }
}
