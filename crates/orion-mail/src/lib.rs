//! Email for Orion, without a database: reading a message (headers, bodies, attachments, bounces),
//! telling automatic mail from people's mail (RFC 3834), finding the ticket a reply belongs to from
//! its subject tag, separating new text from quoted history, cleaning HTML, and speaking SMTP/LMTP
//! to a mail server that hands messages over. What happens to a message is decided in `orion-app`.

pub mod html;
pub mod imap;
pub mod inbound;
pub mod mbox;
pub mod noise;
pub mod outbound;
pub mod quote;
pub mod smtp;
pub mod subject;
pub mod tls;

pub use inbound::{Attachment, Bounce, Inbound, Mailbox, ParseError, content_hash, parse, sha256_hex};
pub use noise::Noise;
