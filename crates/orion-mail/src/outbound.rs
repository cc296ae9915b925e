//! Mail Orion sends: composing a message with threading and loop-protection headers, and handing it
//! to an SMTP relay (implicit TLS, STARTTLS or plain to a local MTA; optional authentication).

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox as Addr, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// How to reach the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayTls {
    /// `smtps://` — TLS from the first byte (port 465)
    Implicit,
    /// `smtp://` (default) — STARTTLS, refused if the server does not offer it (port 587)
    StartTls,
    /// `?tls=opportunistic` — STARTTLS when offered
    Opportunistic,
    /// `?tls=none` — plain, for an MTA on the same host
    None,
}

/// An SMTP relay, from a URL such as `smtp://user:password@mail.example.com:587`.
#[derive(Clone)]
pub struct Relay {
    pub host: String,
    pub port: u16,
    pub tls: RelayTls,
    pub credentials: Option<(String, String)>,
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.credentials.as_ref().map(|c| &c.0))
            .finish_non_exhaustive()
    }
}

fn decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

impl Relay {
    /// Reads `smtp[s]://[user[:password]@]host[:port][?tls=starttls|opportunistic|none]`.
    /// User and password are percent-encoded (`@` as `%40`).
    pub fn parse(s: &str) -> Result<Relay, String> {
        let u = url::Url::parse(s).map_err(|e| format!("SMTP relay URL: {e}"))?;
        let implicit = match u.scheme() {
            "smtps" => true,
            "smtp" => false,
            other => return Err(format!("SMTP relay URL: scheme {other:?}, expected smtp or smtps")),
        };
        let host = u.host_str().ok_or("SMTP relay URL: no host")?.trim_matches(['[', ']']).to_string();
        let mut tls = if implicit { RelayTls::Implicit } else { RelayTls::StartTls };
        for (k, v) in u.query_pairs() {
            match (k.as_ref(), v.as_ref()) {
                ("tls", "starttls" | "required") if !implicit => tls = RelayTls::StartTls,
                ("tls", "opportunistic") if !implicit => tls = RelayTls::Opportunistic,
                ("tls", "none") if !implicit => tls = RelayTls::None,
                (k, v) => {
                    return Err(format!(
                        "SMTP relay URL: unexpected {k}={v} (expected tls=starttls|opportunistic|none with smtp://)"
                    ));
                }
            }
        }
        let port = u.port().unwrap_or(match tls {
            RelayTls::Implicit => 465,
            RelayTls::None => 25,
            _ => 587,
        });
        let credentials =
            (!u.username().is_empty()).then(|| (decode(u.username()), decode(u.password().unwrap_or(""))));
        Ok(Relay { host, port, tls, credentials, ca_file: None, timeout: Duration::from_secs(60) })
    }
}

/// Why a message was not delivered.
#[derive(Debug)]
pub struct SendError {
    /// The relay refused it for good (5xx): retrying the same message will not help
    pub permanent: bool,
    pub message: String,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A connection pool to one relay.
#[derive(Clone)]
pub struct Sender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl Sender {
    pub fn new(relay: &Relay, hello_name: &str) -> Result<Sender, String> {
        let tls_params = || -> Result<TlsParameters, String> {
            let mut b = TlsParameters::builder(relay.host.clone());
            if let Some(path) = &relay.ca_file {
                let pem = std::fs::read(path).map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
                b = b.add_root_certificate(Certificate::from_pem(&pem).map_err(|e| format!("CA file: {e}"))?);
            }
            b.build_rustls().map_err(|e| format!("TLS: {e}"))
        };
        let tls = match relay.tls {
            RelayTls::Implicit => Tls::Wrapper(tls_params()?),
            RelayTls::StartTls => Tls::Required(tls_params()?),
            RelayTls::Opportunistic => Tls::Opportunistic(tls_params()?),
            RelayTls::None => Tls::None,
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(relay.host.clone())
            .port(relay.port)
            .tls(tls)
            .timeout(Some(relay.timeout))
            .hello_name(ClientId::Domain(hello_name.to_string()));
        if let Some((user, password)) = &relay.credentials {
            b = b.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Sender { transport: b.build() })
    }

    /// Hands one message to the relay.
    pub async fn send(&self, from: &str, to: &[String], raw: &[u8]) -> Result<(), SendError> {
        let bad = |e: String| SendError { permanent: true, message: e };
        let from = from.parse().map_err(|e| bad(format!("sender {from}: {e}")))?;
        let to = to
            .iter()
            .map(|a| a.parse().map_err(|e| bad(format!("recipient {a}: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let envelope = lettre::address::Envelope::new(Some(from), to).map_err(|e| bad(e.to_string()))?;
        self.transport
            .send_raw(&envelope, raw)
            .await
            .map(|_| ())
            .map_err(|e| SendError { permanent: e.is_permanent(), message: e.to_string() })
    }
}

/// One message to compose.
pub struct Outgoing<'a> {
    pub from_name: &'a str,
    pub from_address: &'a str,
    pub to: &'a [String],
    pub cc: &'a [String],
    pub subject: &'a str,
    pub text: &'a str,
    /// Without angle brackets
    pub message_id: &'a str,
    pub in_reply_to: Option<&'a str>,
    pub references: &'a [String],
    /// `auto-generated` or `auto-replied` for automatic mail (RFC 3834); None for a person's reply
    pub auto_submitted: Option<&'a str>,
    pub date_ms: i64,
}

macro_rules! text_header {
    ($ty:ident, $name:literal) => {
        #[derive(Clone)]
        struct $ty(String);
        impl Header for $ty {
            fn name() -> HeaderName {
                HeaderName::new_from_ascii_str($name)
            }
            fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                Ok($ty(s.to_string()))
            }
            fn display(&self) -> HeaderValue {
                HeaderValue::new(Self::name(), self.0.clone())
            }
        }
    };
}

text_header!(AutoSubmitted, "Auto-Submitted");
text_header!(OrionLoop, "X-Orion-Loop");
text_header!(AutoResponseSuppress, "X-Auto-Response-Suppress");

fn angle(id: &str) -> String {
    format!("<{}>", id.trim_matches(['<', '>']))
}

/// The headers every message of Orion carries: addresses, subject, threading, loop protection.
fn headers(o: &Outgoing<'_>) -> Result<lettre::message::MessageBuilder, String> {
    let from = Addr::new(
        (!o.from_name.is_empty()).then(|| o.from_name.to_string()),
        o.from_address.parse().map_err(|e| format!("from address {}: {e}", o.from_address))?,
    );
    let mut b = Message::builder()
        .from(from)
        .subject(o.subject)
        .message_id(Some(angle(o.message_id)))
        .date(SystemTime::UNIX_EPOCH + Duration::from_millis(o.date_ms.max(0) as u64))
        .header(OrionLoop(o.from_address.to_string()));
    for a in o.to {
        b = b.to(a.parse().map_err(|e| format!("recipient {a}: {e}"))?);
    }
    for a in o.cc {
        b = b.cc(a.parse().map_err(|e| format!("cc {a}: {e}"))?);
    }
    if let Some(r) = o.in_reply_to {
        b = b.in_reply_to(angle(r));
    }
    if !o.references.is_empty() {
        b = b.references(o.references.iter().map(|r| angle(r)).collect::<Vec<_>>().join(" "));
    }
    if let Some(kind) = o.auto_submitted {
        // Automatic mail asks Exchange not to answer it with an out-of-office reply.
        b = b.header(AutoSubmitted(kind.to_string())).header(AutoResponseSuppress("All".into()));
    }
    Ok(b)
}

/// The message as bytes (RFC 5322, UTF-8 text body, encoded headers).
pub fn compose(o: &Outgoing<'_>) -> Result<Vec<u8>, String> {
    let m = headers(o)?.header(ContentType::TEXT_PLAIN).body(o.text.to_string()).map_err(|e| e.to_string())?;
    Ok(m.formatted())
}

/// A file sent with a message.
pub struct Part<'a> {
    pub filename: &'a str,
    pub content_type: &'a str,
    pub bytes: &'a [u8],
}

/// Composes `o` with an HTML version of its text beside it (`multipart/alternative`) and files
/// after them (`multipart/mixed`), with the same headers as [`compose`].
pub fn compose_with_parts(o: &Outgoing<'_>, html: &str, files: &[Part<'_>]) -> Result<Vec<u8>, String> {
    use lettre::message::{Attachment, MultiPart, SinglePart};
    let alternative = MultiPart::alternative()
        .singlepart(SinglePart::plain(o.text.to_string()))
        .singlepart(SinglePart::html(html.to_string()));
    let mut mixed = MultiPart::mixed().multipart(alternative);
    for f in files {
        let ct = ContentType::parse(f.content_type).map_err(|e| format!("{}: {e}", f.filename))?;
        mixed = mixed.singlepart(Attachment::new(f.filename.to_string()).body(f.bytes.to_vec(), ct));
    }
    let m = headers(o)?.multipart(mixed).map_err(|e| e.to_string())?;
    Ok(m.formatted())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_urls() {
        let r = Relay::parse("smtp://helpdesk%40example.com:p%40ss@mail.example.com").unwrap();
        assert_eq!((r.host.as_str(), r.port, r.tls), ("mail.example.com", 587, RelayTls::StartTls));
        assert_eq!(r.credentials, Some(("helpdesk@example.com".into(), "p@ss".into())));
        assert!(!format!("{r:?}").contains("p@ss"), "the password is never printed");
        let r = Relay::parse("smtps://mail.example.com").unwrap();
        assert_eq!((r.port, r.tls, r.credentials), (465, RelayTls::Implicit, None));
        let r = Relay::parse("smtp://127.0.0.1:25?tls=none").unwrap();
        assert_eq!((r.port, r.tls), (25, RelayTls::None));
        assert!(Relay::parse("http://x").unwrap_err().contains("scheme"));
        assert!(Relay::parse("smtp://x?tls=maybe").unwrap_err().contains("tls=maybe"));
    }

    #[test]
    fn composed_mail_threads_and_says_it_is_automatic() {
        let to = vec!["anna@example.com".to_string()];
        let refs = vec!["root.INC0000001@help.example.com".to_string(), "abc@client".to_string()];
        let raw = compose(&Outgoing {
            from_name: "IT Service Desk",
            from_address: "help@example.com",
            to: &to,
            cc: &[],
            subject: "[INC0000001] Drucker druckt nicht — erhalten",
            text: "Grüße\n",
            message_id: "m1@help.example.com",
            in_reply_to: Some("abc@client"),
            references: &refs,
            auto_submitted: Some("auto-replied"),
            date_ms: 1_700_000_000_000,
        })
        .unwrap();
        let m = crate::parse(&raw).unwrap();
        assert_eq!(m.subject, "[INC0000001] Drucker druckt nicht — erhalten");
        assert_eq!(m.message_id.as_deref(), Some("m1@help.example.com"));
        assert_eq!(m.referenced_ids(), vec!["abc@client", "root.INC0000001@help.example.com"]);
        assert!(m.text.contains("Grüße"));
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("Auto-Submitted: auto-replied"));
        assert!(text.contains("X-Orion-Loop: help@example.com"));
        // Orion's own mail coming back is recognised as a loop and as automatic.
        assert!(m.noise.contains(&crate::Noise::OrionLoop));
        assert!(m.is_auto_reply());
    }

    #[test]
    fn a_report_mail_has_text_html_and_files() {
        let to = vec!["lena@example.com".to_string()];
        let o = Outgoing {
            from_name: "IT",
            from_address: "help@example.com",
            to: &to,
            cc: &[],
            subject: "Weekly desk report: 2026-11-30 to 2026-12-06",
            text: "Tickets created 12\n",
            message_id: "r1@example.com",
            in_reply_to: None,
            references: &[],
            auto_submitted: Some("auto-generated"),
            date_ms: 1_700_000_000_000,
        };
        let csv = "date,created,resolved\n2026-11-30,3,2\n";
        let raw = compose_with_parts(
            &o,
            "<p>Tickets created <b>12</b></p>",
            &[Part { filename: "days.csv", content_type: "text/csv; charset=utf-8", bytes: csv.as_bytes() }],
        )
        .unwrap();
        let m = crate::parse(&raw).unwrap();
        assert_eq!(m.subject, o.subject);
        assert!(m.text.contains("Tickets created 12"));
        assert!(m.html.as_deref().is_some_and(|h| h.contains("<b>12</b>")));
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(
            (m.attachments[0].filename.as_str(), m.attachments[0].bytes.as_slice()),
            ("days.csv", csv.as_bytes())
        );
        assert!(String::from_utf8_lossy(&raw).contains("Auto-Submitted: auto-generated"));
    }
}
