//! Reading a mailbox over IMAP (RFC 3501): connect with TLS, STARTTLS or neither, log in with a
//! password or an OAuth2 bearer token (XOAUTH2), list the messages after a UID, fetch them without
//! marking them read, and then flag, move or delete the ones Orion has committed. Every step has a
//! time limit, so a server that stops answering ends the poll with an error instead of hanging it.

use async_imap::{Client, Session};
use futures_util::StreamExt;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (port 993)
    Tls,
    /// Plain connection upgraded by STARTTLS (port 143); refused if the server cannot
    StartTls,
    /// No encryption: only for a server on the same host
    None,
}

#[derive(Clone)]
pub enum Auth {
    Password(String),
    /// An OAuth2 access token (Microsoft 365, Google Workspace)
    XOAuth2(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::Password(_) => "Password(…)",
            Auth::XOAuth2(_) => "XOAuth2(…)",
        })
    }
}

#[derive(Debug, Clone)]
pub struct Account {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    pub auth: Auth,
    /// Extra trusted certificates (PEM)
    pub ca_file: Option<PathBuf>,
    /// The longest any one step may take
    pub timeout: Duration,
}

/// What to do with a message once its ticket or reply is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    /// Set `\Seen` (the message stays; the UID position keeps it from being taken again)
    Flag,
    /// Move it to this folder (RFC 6851 MOVE, or COPY + delete where the server lacks MOVE)
    Move(String),
    /// Delete and expunge it
    Delete,
}

#[derive(Debug)]
pub struct ImapError(pub String);

impl std::fmt::Display for ImapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ImapError {}

fn err(what: &str, e: impl std::fmt::Display) -> ImapError {
    ImapError(format!("{what}: {e}"))
}

/// A plain or TLS connection.
#[derive(Debug)]
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

struct XOAuth2<'a> {
    user: &'a str,
    token: &'a str,
}

impl async_imap::Authenticator for XOAuth2<'_> {
    type Response = String;
    fn process(&mut self, _challenge: &[u8]) -> String {
        format!("user={}\x01auth=Bearer {}\x01\x01", self.user, self.token)
    }
}

async fn limit<T>(
    d: Duration,
    what: &str,
    f: impl std::future::Future<Output = Result<T, ImapError>>,
) -> Result<T, ImapError> {
    tokio::time::timeout(d, f).await.map_err(|_| ImapError(format!("{what}: no answer within {d:?}")))?
}

async fn tls(account: &Account, tcp: TcpStream) -> Result<Stream, ImapError> {
    let config = crate::tls::client_config(account.ca_file.as_deref()).map_err(ImapError)?;
    let name = ServerName::try_from(account.host.clone()).map_err(|e| err("server name", e))?;
    let s = TlsConnector::from(config).connect(name, tcp).await.map_err(|e| err("TLS handshake", e))?;
    Ok(Stream::Tls(Box::new(s)))
}

/// A logged-in IMAP session.
pub struct ImapSession {
    session: Session<Stream>,
    timeout: Duration,
}

/// Connects and logs in.
pub async fn connect(account: &Account) -> Result<ImapSession, ImapError> {
    let t = account.timeout;
    let client = limit(t, "connect", async {
        let tcp = TcpStream::connect((account.host.as_str(), account.port))
            .await
            .map_err(|e| err(&format!("connect to {}:{}", account.host, account.port), e))?;
        let stream = match account.security {
            Security::Tls => tls(account, tcp).await?,
            Security::StartTls | Security::None => Stream::Plain(tcp),
        };
        let mut client = Client::new(stream);
        client
            .read_response()
            .await
            .map_err(|e| err("greeting", e))?
            .ok_or_else(|| ImapError("the server closed the connection before its greeting".into()))?;
        if account.security == Security::StartTls {
            client.run_command_and_check_ok("STARTTLS", None).await.map_err(|e| err("STARTTLS", e))?;
            let Stream::Plain(tcp) = client.into_inner() else { unreachable!("STARTTLS on a plain stream") };
            client = Client::new(tls(account, tcp).await?);
        }
        Ok(client)
    })
    .await?;
    let session = limit(t, "login", async {
        match &account.auth {
            Auth::Password(p) => client.login(&account.username, p).await,
            Auth::XOAuth2(token) => client.authenticate("XOAUTH2", XOAuth2 { user: &account.username, token }).await,
        }
        .map_err(|(e, _)| err(&format!("login as {}", account.username), e))
    })
    .await?;
    Ok(ImapSession { session, timeout: t })
}

/// Messages fetched from one batch, and the error that cut it short, if any.
pub struct Fetched {
    pub messages: Vec<(u32, Vec<u8>)>,
    pub error: Option<ImapError>,
}

fn uid_set(uids: &[u32]) -> String {
    uids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

impl ImapSession {
    /// Opens `folder` for reading and writing; returns its UIDVALIDITY.
    pub async fn select(&mut self, folder: &str) -> Result<u32, ImapError> {
        let mailbox =
            limit(self.timeout, "select", async { self.session.select(folder).await.map_err(|e| err("select", e)) })
                .await?;
        mailbox.uid_validity.ok_or_else(|| ImapError(format!("the server gave no UIDVALIDITY for {folder}")))
    }

    /// The UIDs above `last_uid`, ascending.
    pub async fn uids_after(&mut self, last_uid: u32) -> Result<Vec<u32>, ImapError> {
        let query = format!("UID {}:*", last_uid.saturating_add(1));
        let found = limit(self.timeout, "search", async {
            self.session.uid_search(&query).await.map_err(|e| err("UID SEARCH", e))
        })
        .await?;
        // "n:*" always matches the last message, even below n.
        let mut uids: Vec<u32> = found.into_iter().filter(|u| *u > last_uid).collect();
        uids.sort_unstable();
        Ok(uids)
    }

    /// Fetches whole messages without setting `\Seen`. A connection lost part-way returns the
    /// messages that arrived complete together with the error.
    pub async fn fetch(&mut self, uids: &[u32]) -> Fetched {
        let mut messages = Vec::new();
        if uids.is_empty() {
            return Fetched { messages, error: None };
        }
        let t = self.timeout;
        let set = uid_set(uids);
        let mut stream = match limit(t, "fetch", async {
            self.session.uid_fetch(&set, "(UID BODY.PEEK[])").await.map_err(|e| err("UID FETCH", e))
        })
        .await
        {
            Ok(s) => s,
            Err(e) => return Fetched { messages, error: Some(e) },
        };
        loop {
            match tokio::time::timeout(t, stream.next()).await {
                Err(_) => {
                    return Fetched { messages, error: Some(ImapError(format!("fetch: no answer within {t:?}"))) };
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => return Fetched { messages, error: Some(err("fetch", e)) },
                Ok(Some(Ok(f))) => {
                    if let (Some(uid), Some(body)) = (f.uid, f.body()) {
                        messages.push((uid, body.to_vec()));
                    }
                }
            }
        }
        Fetched { messages, error: None }
    }

    /// Flags, moves or deletes messages Orion has committed.
    pub async fn done(&mut self, uids: &[u32], after: &After) -> Result<(), ImapError> {
        if uids.is_empty() {
            return Ok(());
        }
        let set = uid_set(uids);
        let t = self.timeout;
        match after {
            After::Flag => self.store(&set, "+FLAGS.SILENT (\\Seen)").await,
            After::Move(folder) => {
                let moved = limit(t, "move", async {
                    self.session.uid_mv(&set, folder).await.map_err(|e| err(&format!("UID MOVE to {folder}"), e))
                })
                .await;
                if moved.is_ok() {
                    return Ok(());
                }
                // Servers without MOVE: copy, then delete the original.
                limit(t, "copy", async {
                    self.session.uid_copy(&set, folder).await.map_err(|e| err(&format!("UID COPY to {folder}"), e))
                })
                .await?;
                self.delete(&set).await
            }
            After::Delete => self.delete(&set).await,
        }
    }

    async fn store(&mut self, set: &str, flags: &str) -> Result<(), ImapError> {
        limit(self.timeout, "store", async {
            let mut s = self.session.uid_store(set, flags).await.map_err(|e| err("UID STORE", e))?;
            while let Some(r) = s.next().await {
                r.map_err(|e| err("UID STORE", e))?;
            }
            Ok(())
        })
        .await
    }

    async fn delete(&mut self, set: &str) -> Result<(), ImapError> {
        self.store(set, "+FLAGS.SILENT (\\Seen \\Deleted)").await?;
        limit(self.timeout, "expunge", async {
            let s = self.session.uid_expunge(set).await.map_err(|e| err("UID EXPUNGE", e))?;
            futures_util::pin_mut!(s);
            while let Some(r) = s.next().await {
                r.map_err(|e| err("UID EXPUNGE", e))?;
            }
            Ok(())
        })
        .await
    }

    /// Says goodbye; a failure here changes nothing.
    pub async fn logout(mut self) {
        let _ = tokio::time::timeout(self.timeout, self.session.logout()).await;
    }
}
