//! A small SMTP (RFC 5321) and LMTP (RFC 2033) receiver for mail handed over by an MTA or sent
//! straight to Orion: EHLO/HELO/LHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT, with SIZE and PIPELINING.
//! It accepts mail only for the addresses the handler knows and answers only after the handler
//! has kept the message, so a sender that sees `250` can forget it and one that sees `451`
//! tries again. It has no STARTTLS: listen on loopback and put the MTA in front for the world.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A message as the client handed it over.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// The reverse path (`MAIL FROM`), empty for bounces.
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub data: Vec<u8>,
    pub peer: SocketAddr,
}

/// Why a message was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    /// Try again later (`451`): the database is away, for instance.
    Temporary(String),
    /// Do not try again (`554`).
    Permanent(String),
}

/// What the listener asks of Orion.
pub trait Handler: Send + Sync + 'static {
    /// Is mail for this address accepted (a helpdesk address)?
    fn accepts(&self, rcpt: &str) -> impl Future<Output = bool> + Send;
    /// Keeps the message; returns only when it is safely stored (or refused).
    fn deliver(&self, envelope: Envelope) -> impl Future<Output = Result<(), Reject>> + Send;
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The name in the greeting and EHLO answer.
    pub hostname: String,
    /// Largest message accepted, in bytes (announced as SIZE).
    pub max_size: usize,
    /// How long the client may stay silent.
    pub idle_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self { hostname: "orion".into(), max_size: 25 * 1024 * 1024, idle_timeout: Duration::from_secs(300) }
    }
}

const MAX_LINE: usize = 4096;
const MAX_RECIPIENTS: usize = 100;

/// Accepts connections until `shutdown` resolves; each session runs on its own task.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    config: Arc<Config>,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()> + Send,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let (config, handler) = (config.clone(), handler.clone());
                    tokio::spawn(async move {
                        let (r, w) = stream.into_split();
                        if let Err(e) = session(r, w, peer, &config, handler.as_ref()).await {
                            tracing::debug!(%peer, error = %e, "SMTP session ended");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "SMTP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// Reads one line (without CRLF) of at most `MAX_LINE` bytes; `Ok(None)` at end of stream,
/// `Ok(Some(Err(())))` for an overlong line (consumed to its end).
async fn read_line<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
    buf: &mut Vec<u8>,
    timeout: Duration,
) -> std::io::Result<Option<Result<(), ()>>> {
    buf.clear();
    let mut too_long = false;
    loop {
        let chunk = tokio::time::timeout(timeout, r.fill_buf())
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "idle timeout"))??;
        if chunk.is_empty() {
            return Ok(if buf.is_empty() && !too_long { None } else { Some(Ok(())) });
        }
        let (take, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if buf.len() + take > MAX_LINE {
            too_long = true;
        } else {
            buf.extend_from_slice(&chunk[..take]);
        }
        r.consume(take);
        if done {
            while matches!(buf.last(), Some(b'\n' | b'\r')) {
                buf.pop();
            }
            return Ok(Some(if too_long { Err(()) } else { Ok(()) }));
        }
    }
}

/// The address inside `FROM:<a@b> SIZE=123` / `TO:<a@b>`, and the parameters after it.
fn path_arg<'a>(rest: &'a str, keyword: &str) -> Option<(&'a str, &'a str)> {
    let rest = rest.trim_start();
    // `get`, not indexing: the client's bytes may put a character across the keyword's end.
    if !rest.get(..keyword.len()).is_some_and(|k| k.eq_ignore_ascii_case(keyword)) {
        return None;
    }
    let rest = rest[keyword.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    Some((rest[..end].trim(), rest[end + 1..].trim()))
}

async fn session<R, W, H>(r: R, mut w: W, peer: SocketAddr, cfg: &Config, handler: &H) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
    H: Handler,
{
    let mut r = BufReader::new(r);
    let mut line = Vec::new();
    let reply = |code: &str, text: &str| format!("{code} {text}\r\n");
    w.write_all(reply("220", &format!("{} Orion ESMTP/LMTP ready", cfg.hostname)).as_bytes()).await?;
    let mut greeted = false;
    let mut lmtp = false;
    let mut from: Option<String> = None;
    let mut rcpts: Vec<String> = Vec::new();
    loop {
        w.flush().await?;
        let Some(ok) = read_line(&mut r, &mut line, cfg.idle_timeout).await? else { return Ok(()) };
        if ok.is_err() {
            w.write_all(reply("500", "5.5.2 line too long").as_bytes()).await?;
            continue;
        }
        let text = String::from_utf8_lossy(&line).into_owned();
        let (verb, rest) = text.split_once(' ').unwrap_or((text.as_str(), ""));
        match verb.to_ascii_uppercase().as_str() {
            v @ ("EHLO" | "LHLO") => {
                greeted = true;
                lmtp = v == "LHLO";
                (from, rcpts) = (None, Vec::new());
                let host = &cfg.hostname;
                let max = cfg.max_size;
                w.write_all(
                    format!(
                        "250-{host} hello\r\n250-SIZE {max}\r\n250-8BITMIME\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n"
                    )
                    .as_bytes(),
                )
                .await?;
            }
            "HELO" => {
                greeted = true;
                (from, rcpts) = (None, Vec::new());
                w.write_all(reply("250", &format!("{} hello", cfg.hostname)).as_bytes()).await?;
            }
            "MAIL" => {
                if !greeted {
                    w.write_all(reply("503", "5.5.1 say EHLO first").as_bytes()).await?;
                    continue;
                }
                if from.is_some() {
                    w.write_all(reply("503", "5.5.1 nested MAIL command").as_bytes()).await?;
                    continue;
                }
                let Some((addr, params)) = path_arg(rest, "FROM:") else {
                    w.write_all(reply("501", "5.5.4 syntax: MAIL FROM:<address>").as_bytes()).await?;
                    continue;
                };
                let declared = params
                    .split_whitespace()
                    .find_map(|p| p.split_once('=').filter(|(k, _)| k.eq_ignore_ascii_case("SIZE")))
                    .and_then(|(_, v)| v.parse::<usize>().ok());
                if declared.is_some_and(|s| s > cfg.max_size) {
                    w.write_all(reply("552", "5.3.4 message size exceeds the limit").as_bytes()).await?;
                    continue;
                }
                from = Some(addr.to_string());
                w.write_all(reply("250", "2.1.0 sender ok").as_bytes()).await?;
            }
            "RCPT" => {
                if from.is_none() {
                    w.write_all(reply("503", "5.5.1 need MAIL before RCPT").as_bytes()).await?;
                    continue;
                }
                let Some((addr, _)) = path_arg(rest, "TO:") else {
                    w.write_all(reply("501", "5.5.4 syntax: RCPT TO:<address>").as_bytes()).await?;
                    continue;
                };
                if rcpts.len() >= MAX_RECIPIENTS {
                    w.write_all(reply("452", "4.5.3 too many recipients").as_bytes()).await?;
                } else if handler.accepts(&addr.to_ascii_lowercase()).await {
                    rcpts.push(addr.to_ascii_lowercase());
                    w.write_all(reply("250", "2.1.5 recipient ok").as_bytes()).await?;
                } else {
                    w.write_all(reply("550", "5.1.1 no such helpdesk address here").as_bytes()).await?;
                }
            }
            "DATA" => {
                if rcpts.is_empty() {
                    w.write_all(reply("503", "5.5.1 need RCPT before DATA").as_bytes()).await?;
                    continue;
                }
                w.write_all(reply("354", "end data with <CR><LF>.<CR><LF>").as_bytes()).await?;
                w.flush().await?;
                let mut data = Vec::new();
                let mut too_big = false;
                loop {
                    let Some(ok) = read_line(&mut r, &mut line, cfg.idle_timeout).await? else { return Ok(()) };
                    if ok.is_err() {
                        // RFC 5322 limits lines to 998 characters; keep what we can, never truncate silently.
                        too_big = true;
                        continue;
                    }
                    if line == b"." {
                        break;
                    }
                    let body = line.strip_prefix(b".").unwrap_or(&line);
                    if data.len() + body.len() + 2 > cfg.max_size {
                        too_big = true;
                    }
                    if !too_big {
                        data.extend_from_slice(body);
                        data.extend_from_slice(b"\r\n");
                    }
                }
                let answer = if too_big {
                    reply("552", "5.3.4 message size exceeds the limit (or a line longer than 4096 bytes)")
                } else {
                    let envelope = Envelope {
                        mail_from: from.take().unwrap_or_default(),
                        rcpt_to: rcpts.clone(),
                        data: std::mem::take(&mut data),
                        peer,
                    };
                    match handler.deliver(envelope).await {
                        Ok(()) => reply("250", "2.0.0 message accepted"),
                        Err(Reject::Temporary(why)) => reply("451", &format!("4.3.0 {why}")),
                        Err(Reject::Permanent(why)) => reply("554", &format!("5.6.0 {why}")),
                    }
                };
                // LMTP answers once per recipient (RFC 2033); one delivery covers them all.
                let times = if lmtp { rcpts.len() } else { 1 };
                for _ in 0..times {
                    w.write_all(answer.as_bytes()).await?;
                }
                (from, rcpts) = (None, Vec::new());
            }
            "RSET" => {
                (from, rcpts) = (None, Vec::new());
                w.write_all(reply("250", "2.0.0 reset").as_bytes()).await?;
            }
            "NOOP" => w.write_all(reply("250", "2.0.0 ok").as_bytes()).await?,
            "VRFY" => w.write_all(reply("252", "2.5.0 cannot verify, send some mail").as_bytes()).await?,
            "QUIT" => {
                w.write_all(reply("221", "2.0.0 bye").as_bytes()).await?;
                w.flush().await?;
                return Ok(());
            }
            "STARTTLS" => {
                w.write_all(reply("502", "5.5.1 no TLS here: put an MTA in front for the network").as_bytes()).await?
            }
            _ => w.write_all(reply("500", "5.5.2 command not recognised").as_bytes()).await?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Keep(Mutex<Vec<Envelope>>);

    impl Handler for Keep {
        async fn accepts(&self, rcpt: &str) -> bool {
            rcpt == "help@example.com" || rcpt == "it@example.com"
        }
        async fn deliver(&self, e: Envelope) -> Result<(), Reject> {
            if e.data.windows(4).any(|w| w == b"FAIL") {
                return Err(Reject::Temporary("database unavailable".into()));
            }
            self.0.lock().unwrap().push(e);
            Ok(())
        }
    }

    #[test]
    fn a_command_with_a_character_across_the_keyword_is_refused_not_panicked_on() {
        assert_eq!(path_arg("FROM:<a@b> SIZE=1", "FROM:"), Some(("a@b", "SIZE=1")));
        assert_eq!(path_arg("FRO€:<a@b>", "FROM:"), None);
        assert_eq!(path_arg("Tö", "TO:"), None);
    }

    async fn talk(script: &str) -> (String, Vec<Envelope>) {
        let keep = Keep(Mutex::new(Vec::new()));
        let (client, server) = tokio::io::duplex(1 << 16);
        let (sr, sw) = tokio::io::split(server);
        let cfg = Config { max_size: 200, ..Config::default() };
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let (mut cr, mut cw) = tokio::io::split(client);
        cw.write_all(script.as_bytes()).await.unwrap();
        cw.shutdown().await.unwrap();
        session(sr, sw, peer, &cfg, &keep).await.unwrap();
        let mut out = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut cr, &mut out).await.unwrap();
        (out, keep.0.into_inner().unwrap())
    }

    fn codes(out: &str) -> Vec<&str> {
        out.lines().filter(|l| l.len() >= 4 && &l[3..4] == " ").map(|l| &l[..3]).collect()
    }

    #[tokio::test]
    async fn a_pipelined_smtp_session_delivers_with_dots_unstuffed() {
        let (out, kept) = talk(
            "EHLO client\r\nMAIL FROM:<alice@example.com> SIZE=100\r\nRCPT TO:<Help@Example.com>\r\nRCPT TO:<nobody@example.com>\r\nDATA\r\nSubject: hi\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n",
        )
        .await;
        assert_eq!(codes(&out), ["220", "250", "250", "250", "550", "354", "250", "221"], "{out}");
        assert_eq!(kept.len(), 1);
        assert_eq!(
            (kept[0].mail_from.as_str(), kept[0].rcpt_to.clone()),
            ("alice@example.com", vec!["help@example.com".to_string()])
        );
        assert_eq!(kept[0].data, b"Subject: hi\r\n\r\n.leading dot\r\n");
    }

    #[tokio::test]
    async fn lmtp_answers_per_recipient_and_failures_are_temporary() {
        let (out, kept) = talk(
            "LHLO client\r\nMAIL FROM:<>\r\nRCPT TO:<help@example.com>\r\nRCPT TO:<it@example.com>\r\nDATA\r\nFAIL\r\n.\r\nQUIT\r\n",
        )
        .await;
        assert_eq!(codes(&out), ["220", "250", "250", "250", "250", "354", "451", "451", "221"], "{out}");
        assert!(kept.is_empty());
    }

    #[tokio::test]
    async fn order_size_and_syntax_are_enforced() {
        let big = "x".repeat(300);
        let (out, kept) = talk(&format!(
            "MAIL FROM:<a@b>\r\nEHLO c\r\nRCPT TO:<help@example.com>\r\nDATA\r\nMAIL FROM:<a@b> SIZE=999\r\nMAIL FROM:a@b\r\nMAIL FROM:<a@b>\r\nRCPT TO:<help@example.com>\r\nDATA\r\n{big}\r\n.\r\nBOGUS\r\nQUIT\r\n"
        ))
        .await;
        assert_eq!(
            codes(&out),
            ["220", "503", "250", "503", "503", "552", "501", "250", "250", "354", "552", "500", "221"],
            "{out}"
        );
        assert!(kept.is_empty(), "an oversize message is refused, not cut");
    }
}
