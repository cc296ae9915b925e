//! Many messages in one stream: the mbox format (mboxo and mboxrd), as `formail`, mail archives and
//! mailbox exports write it.

/// Splits an mbox into its messages: each starts at a `From ` line at the start of the stream or
/// after an empty line; the `From ` separator line itself is dropped and `>From ` quoting is undone
/// (mboxrd). Line endings become CRLF as in RFC 5322.
pub fn split(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    let mut previous_blank = true;
    for line in data.split_inclusive(|b| *b == b'\n') {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if previous_blank && is_separator(content) {
            if let Some(m) = current.take() {
                out.push(m);
            }
            current = Some(Vec::new());
            previous_blank = false;
            continue;
        }
        previous_blank = content.is_empty();
        let Some(m) = current.as_mut() else { continue };
        let unquoted = match content.iter().position(|b| *b != b'>') {
            Some(n) if n > 0 && content[n..].starts_with(b"From ") => &content[1..],
            _ => content,
        };
        m.extend_from_slice(unquoted);
        m.extend_from_slice(b"\r\n");
    }
    if let Some(m) = current {
        out.push(m);
    }
    // The blank line after each message belongs to the format, not the message.
    for m in &mut out {
        if m.ends_with(b"\r\n\r\n") {
            m.truncate(m.len() - 2);
        }
    }
    out.retain(|m| !m.iter().all(u8::is_ascii_whitespace));
    out
}

/// `From sender Mon Nov 23 09:00:00 2026`: a `From ` line with a sender and a time of day, so that a
/// body line that merely starts with "From " after an empty line is not taken for one.
fn is_separator(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"From ") else { return false };
    let has_sender = rest.split(|b| *b == b' ').next().is_some_and(|s| !s.is_empty());
    let has_time = rest.windows(5).any(|w| {
        w[0].is_ascii_digit() && w[1].is_ascii_digit() && w[2] == b':' && w[3].is_ascii_digit() && w[4].is_ascii_digit()
    });
    has_sender && has_time
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_split_at_from_lines_and_lose_their_quoting() {
        let mbox = b"From alice@example.com Mon Nov 23 09:00:00 2026\nSubject: one\n\nhello\n>From the start\n\nFrom bob@example.com Mon Nov 23 09:01:00 2026\nSubject: two\n\nFrom here on a body line is not a separator\nbye\n\n";
        let m = split(mbox);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0], b"Subject: one\r\n\r\nhello\r\nFrom the start\r\n");
        assert_eq!(m[1], b"Subject: two\r\n\r\nFrom here on a body line is not a separator\r\nbye\r\n");
        assert!(split(b"").is_empty());
        assert!(split(b"no separator at all\n").is_empty(), "text before the first From line is not a message");
    }
}
