//! Ticket numbers in subjects: `Re: AW: [INC0001234] Printer` belongs to INC0001234.

/// The ticket number tagged in a subject (`[INC0001234]`, any prefix letters and 7+ digits), if any.
/// Reply and forward prefixes (`Re:`, `RE:`, `AW:`, `SV:`, `Fwd:`, `Re[2]:` …) do not matter: the tag
/// is found wherever it stands.
pub fn ticket_tag(subject: &str) -> Option<String> {
    let bytes = subject.as_bytes();
    let mut i = 0;
    while let Some(off) = subject[i..].find('[') {
        let start = i + off + 1;
        let end = match subject[start..].find(']') {
            Some(e) => start + e,
            None => return None,
        };
        let inner = subject[start..end].trim();
        let letters = inner.bytes().take_while(u8::is_ascii_alphabetic).count();
        let digits = &inner[letters..];
        if (2..=4).contains(&letters) && digits.len() >= 7 && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Some(inner.to_ascii_uppercase());
        }
        i = end;
        if i >= bytes.len() {
            break;
        }
    }
    None
}

/// The subject without reply/forward prefixes and ticket tags: `Re: AW: [INC0001234] Printer` → `Printer`.
pub fn clean(subject: &str) -> String {
    let mut s = subject.trim();
    loop {
        let before = s;
        if let Some(rest) = strip_prefix(s) {
            s = rest.trim_start();
        }
        if s.starts_with('[')
            && let Some(end) = s.find(']')
            && ticket_tag(&s[..=end]).is_some()
        {
            s = s[end + 1..].trim_start();
        }
        if s == before {
            break;
        }
    }
    s.to_string()
}

/// Strips one `Re:`/`Fwd:`/`AW:`/`Re[2]:`… prefix.
fn strip_prefix(s: &str) -> Option<&str> {
    const PREFIXES: [&str; 12] = ["re", "aw", "sv", "vs", "fw", "fwd", "wg", "tr", "rv", "enc", "antw", "ref"];
    let word_end = s.find(|c: char| !c.is_ascii_alphabetic())?;
    let word = s[..word_end].to_ascii_lowercase();
    if !PREFIXES.contains(&word.as_str()) {
        return None;
    }
    let mut rest = &s[word_end..];
    // `Re[2]:` and `Re(2):`
    if let Some(r) = rest.strip_prefix('[').or_else(|| rest.strip_prefix('(')) {
        let close = r.find([']', ')'])?;
        if !r[..close].bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        rest = &r[close + 1..];
    }
    rest.trim_start().strip_prefix(':').or_else(|| rest.trim_start().strip_prefix('：'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_found_behind_any_prefix() {
        for s in [
            "[INC0001234] Printer",
            "Re: [INC0001234] Printer",
            "RE: AW: [INC0001234] Printer",
            "SV: Re[2]: [inc0001234] Printer",
            "Fwd: Printer [INC0001234]",
            "Re(3): WG: [ INC0001234 ] Printer",
        ] {
            assert_eq!(ticket_tag(s).as_deref(), Some("INC0001234"), "{s}");
        }
        assert_eq!(ticket_tag("[REQ12345678] x").as_deref(), Some("REQ12345678"));
        for s in ["[External] Printer", "Printer [123]", "Re: [INC12] x", "no tag", "[INC0001234", "[]"] {
            assert_eq!(ticket_tag(s), None, "{s}");
        }
    }

    #[test]
    fn subjects_lose_prefixes_and_tags() {
        assert_eq!(clean("Re: AW: [INC0001234] Printer jammed"), "Printer jammed");
        assert_eq!(clean("Re[2]: Fwd: VPN"), "VPN");
        assert_eq!(clean("Review of Q3"), "Review of Q3", "a word starting with re is not a prefix");
        assert_eq!(clean("  "), "");
    }
}
