//! Inbound HTML made safe to show: no scripts, styles, event handlers, forms or remote images;
//! inline images (`cid:`) pointed at Orion's copy.

use std::collections::HashMap;

/// Cleans `html` with ammonia. `cid:` image sources found in `inline` (content id → URL) are
/// rewritten; other images lose their source (remote images track the reader), links keep theirs
/// with `rel="noopener noreferrer"`.
pub fn sanitize(html: &str, inline: &HashMap<String, String>) -> String {
    let inline = inline.clone();
    ammonia::Builder::default()
        .add_url_schemes(["cid"])
        .attribute_filter(move |element, attribute, value| {
            if element == "img" && attribute == "src" {
                let cid = value.strip_prefix("cid:")?;
                return inline.get(cid.trim_matches(['<', '>'])).map(|url| url.clone().into());
            }
            Some(value.into())
        })
        .link_rel(Some("noopener noreferrer"))
        .clean(html)
        .to_string()
}

/// Plain text for an HTML-only message (lines up to 100 columns).
pub fn to_text(html: &str) -> String {
    html2text::config::plain_no_decorate()
        .string_from_read(html.as_bytes(), 100)
        .unwrap_or_else(|_| ammonia::Builder::empty().clean(html).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_handlers_and_remote_images_go_inline_images_stay() {
        let mut inline = HashMap::new();
        inline.insert("logo@x".to_string(), "/api/v1/attachments/7".to_string());
        let out = sanitize(
            r#"<p onclick="steal()">Hi<script>alert(1)</script></p><img src="cid:logo@x"><img src="https://tracker.example/p.gif"><a href="https://example.com">x</a><style>p{}</style>"#,
            &inline,
        );
        assert!(!out.contains("script") && !out.contains("onclick") && !out.contains("style"), "{out}");
        assert!(out.contains(r#"src="/api/v1/attachments/7""#), "{out}");
        assert!(!out.contains("tracker"), "{out}");
        assert!(out.contains(r#"rel="noopener noreferrer""#), "{out}");
    }

    #[test]
    fn html_becomes_readable_text() {
        let t = to_text("<p>Hello <b>Alice</b></p><ul><li>one</li><li>two</li></ul>");
        assert!(t.contains("Hello Alice") && t.contains("one") && t.contains("two"), "{t}");
    }
}
