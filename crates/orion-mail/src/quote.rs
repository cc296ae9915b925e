//! Where the new text of a reply ends and the quoted history begins. The history is kept (shown
//! collapsed), never deleted; a wrong guess only moves the fold.

/// Splits a plain-text body into the new text and the quoted history (empty when there is none).
/// Recognises "On … wrote:" (English, also wrapped over two lines as Gmail does), "Am … schrieb …:"
/// (German), "Le … a écrit :" (French), "El … escribió:" (Spanish), Outlook's "-----Original
/// Message-----" and "From:/Sent:" header blocks in those languages, and a trailing block of `>` lines.
pub fn split(text: &str) -> (&str, &str) {
    let lines: Vec<(usize, &str)> = line_offsets(text);
    for (i, (offset, line)) in lines.iter().enumerate() {
        let l = line.trim();
        let next = lines.get(i + 1).map_or("", |(_, n)| n.trim());
        if is_attribution(l)
            || (l.len() < 200 && is_attribution(&format!("{l} {next}")) && !next.is_empty())
            || is_separator(l)
            || is_header_block(&lines[i..])
        {
            // An attribution must be followed by something quoted or be the last thing said.
            if *offset == 0 {
                return ("", text);
            }
            return (text[..*offset].trim_end(), &text[*offset..]);
        }
        if l.starts_with('>') && lines[i..].iter().all(|(_, r)| r.trim().is_empty() || r.trim_start().starts_with('>'))
        {
            return (text[..*offset].trim_end(), &text[*offset..]);
        }
    }
    (text.trim_end(), "")
}

fn line_offsets(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        out.push((at, line.trim_end_matches(['\r', '\n'])));
        at += line.len();
    }
    out
}

fn is_attribution(l: &str) -> bool {
    let lower = l.to_lowercase();
    (lower.starts_with("on ") && lower.ends_with("wrote:"))
        || (lower.starts_with("am ") && lower.contains(" schrieb") && lower.ends_with(':'))
        || (lower.starts_with("le ") && (lower.ends_with("a écrit :") || lower.ends_with("a écrit:")))
        || (lower.starts_with("el ") && lower.ends_with("escribió:"))
}

fn is_separator(l: &str) -> bool {
    let lower = l.to_lowercase();
    let inner = lower.trim_matches(|c: char| c == '-' || c.is_whitespace());
    (lower.starts_with("-----")
        && matches!(
            inner,
            "original message"
                | "ursprüngliche nachricht"
                | "message d'origine"
                | "mensaje original"
                | "forwarded message"
                | "weitergeleitete nachricht"
        ))
        || (l.len() >= 20 && l.chars().all(|c| c == '_'))
}

/// Outlook's quoted header block: `From:` (`Von:`, `De :`, `De:`) followed within three lines by
/// `Sent:` (`Gesendet:`, `Envoyé :`, `Enviado:`) or `Date:`.
fn is_header_block(lines: &[(usize, &str)]) -> bool {
    let starts = |l: &str, keys: &[&str]| {
        let lower = l.trim().to_lowercase();
        keys.iter().any(|k| lower.starts_with(k))
    };
    let Some((_, first)) = lines.first() else { return false };
    starts(first, &["from:", "von:", "de :", "de:"])
        && lines
            .iter()
            .skip(1)
            .take(3)
            .any(|(_, l)| starts(l, &["sent:", "gesendet:", "envoyé :", "envoyé:", "enviado:", "date:", "datum:"]))
}

/// Splits an HTML body before the first quoted-history container the big mail clients write:
/// Gmail's `gmail_quote`, Outlook's `divRplyFwdMsg`/`appendonsend`, Thunderbird's `moz-cite-prefix`,
/// Apple Mail's and Thunderbird's `<blockquote type="cite">`.
pub fn split_html(html: &str) -> (&str, &str) {
    const MARKERS: [&str; 6] = [
        "<div class=\"gmail_quote",
        "<div id=\"divrplyfwdmsg\"",
        "<div id=\"appendonsend\"",
        "<div class=\"moz-cite-prefix\"",
        "<blockquote type=\"cite\"",
        "<div class=\"gmail_extra\"",
    ];
    let lower = html.to_ascii_lowercase();
    let at = MARKERS.iter().filter_map(|m| lower.find(m)).min();
    match at {
        Some(i) => (&html[..i], &html[i..]),
        None => (html, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_gmail_wrapped_attribution() {
        let t = "Thanks, that worked.\n\nOn Mon, 23 Nov 2026 at 10:02, Service Desk <help@example.com>\nwrote:\n> Please try again.\n";
        assert_eq!(
            split(t),
            (
                "Thanks, that worked.",
                "On Mon, 23 Nov 2026 at 10:02, Service Desk <help@example.com>\nwrote:\n> Please try again.\n"
            )
        );
    }

    #[test]
    fn other_languages_and_outlook() {
        for (t, new) in [
            ("Danke!\n\nAm 23.11.2026 um 10:02 schrieb Service Desk <help@example.com>:\n> Bitte\n", "Danke!"),
            ("Merci\n\nLe lun. 23 nov. 2026 à 10:02, Service Desk a écrit :\n> Essayez\n", "Merci"),
            ("Gracias\n\nEl lun, 23 nov 2026 a las 10:02, Service Desk escribió:\n> Pruebe\n", "Gracias"),
            ("Done.\n\n-----Original Message-----\nFrom: Service Desk\nSent: Monday\n", "Done."),
            (
                "Done.\n\n________________________________\nFrom: Service Desk <help@example.com>\nSent: Monday, November 23, 2026 10:02\nTo: Alice\n",
                "Done.",
            ),
            (
                "Erledigt.\n\nVon: Service Desk <help@example.com>\nGesendet: Montag, 23. November 2026 10:02\n",
                "Erledigt.",
            ),
            ("Yes\n> old\n>\n> older\n", "Yes"),
        ] {
            assert_eq!(split(t).0, new, "{t}");
            assert!(!split(t).1.is_empty(), "{t}");
        }
    }

    #[test]
    fn nothing_quoted_keeps_everything() {
        let t = "The printer on floor 3 says:\n> PC LOAD LETTER\nand then stops.\nFrom: me\n";
        assert_eq!(split(t), (t.trim_end(), ""), "an inline quote followed by new text is not history");
    }

    #[test]
    fn html_markers_split_before_the_history() {
        let h = r#"<div>Thanks</div><div class="gmail_quote"><div>On Mon wrote:</div><blockquote>x</blockquote></div>"#;
        assert_eq!(split_html(h).0, "<div>Thanks</div>");
        let o = r#"<p>Fixed</p><div id="divRplyFwdMsg"><b>From:</b> Desk</div>"#;
        assert_eq!(split_html(o).0, "<p>Fixed</p>");
        assert_eq!(split_html("<p>plain</p>"), ("<p>plain</p>", ""));
    }
}
