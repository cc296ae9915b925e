//! Full-text search rules, the same on both engines.
//!
//! Orion does not let SQLite's tokenizer and PostgreSQL's text-search
//! configuration disagree about what a word is: text is folded here (lower case,
//! diacritics removed, light English plural stripping) and the engines index the
//! folded words (`unicode61` in FTS5, `simple` in PostgreSQL). Queries are parsed
//! here too, in the web-search syntax people know (`words`, `"a phrase"`,
//! `-exclude`, `OR`, `prefix*`), and turned into an FTS5 expression or a
//! `tsquery`; user input never reaches either engine's query syntax raw. The
//! snippets that show why a result matched are built here from the source text.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Longer "words" (hashes, base64, URLs run together) are not indexed.
pub const MAX_TOKEN_CHARS: usize = 40;
/// A query of more terms is refused: nobody types that, and every term costs a posting-list read.
pub const MAX_TERMS: usize = 16;

/// The words of `text` with their byte ranges: maximal runs of letters and digits.
pub fn words(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut it = text.char_indices().peekable();
    std::iter::from_fn(move || {
        loop {
            let (start, c) = it.next()?;
            if !c.is_alphanumeric() {
                continue;
            }
            let mut end = start + c.len_utf8();
            while let Some(&(i, c)) = it.peek() {
                if !c.is_alphanumeric() {
                    break;
                }
                end = i + c.len_utf8();
                it.next();
            }
            return Some((start, end));
        }
    })
}

/// Lower case without diacritics: "Café" -> "cafe", "Straße" -> "strasse".
pub fn fold(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        match c {
            'ß' => out.push_str("ss"),
            'æ' | 'Æ' => out.push_str("ae"),
            'œ' | 'Œ' => out.push_str("oe"),
            'ø' | 'Ø' => out.push('o'),
            'đ' | 'Đ' | 'ð' => out.push('d'),
            'ł' | 'Ł' => out.push('l'),
            'þ' => out.push_str("th"),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// Light English plural stripping (Porter's step 1a and a few endings IT text is full of):
/// "printers" -> "printer", "policies" -> "policy", "switches" -> "switch", "addresses" -> "address".
pub fn stem(word: &str) -> String {
    let n = word.len();
    if n < 4 || !word.is_ascii() || word.bytes().last().is_some_and(|b| b.is_ascii_digit()) {
        return word.to_string();
    }
    if let Some(base) = word.strip_suffix("sses") {
        return format!("{base}ss");
    }
    if n > 4
        && let Some(base) = word.strip_suffix("ies")
    {
        return format!("{base}y");
    }
    for (suffix, keep) in [("ches", "ch"), ("shes", "sh"), ("xes", "x")] {
        if let Some(base) = word.strip_suffix(suffix) {
            return format!("{base}{keep}");
        }
    }
    if word.ends_with("ss") || word.ends_with("us") || word.ends_with("is") {
        return word.to_string();
    }
    match word.strip_suffix('s') {
        Some(base) => base.to_string(),
        None => word.to_string(),
    }
}

/// One word as the index stores it, or `None` for a word too long to index.
pub fn term(word: &str) -> Option<String> {
    if word.chars().count() > MAX_TOKEN_CHARS {
        return None;
    }
    let f = fold(word);
    if f.is_empty() { None } else { Some(stem(&f)) }
}

/// The text an index stores for `text`: every indexable word as a term, space-separated,
/// in order (so phrases still match).
pub fn index_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (s, e) in words(text) {
        if let Some(t) = term(&text[s..e]) {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&t);
        }
    }
    out
}

/// A word or phrase of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// One term; `prefix` matches every term starting with it.
    Word { term: String, prefix: bool },
    /// Terms next to each other, in order.
    Phrase(Vec<String>),
}

/// A parsed query: every clause must match (a clause is one term or several joined by OR),
/// and none of the excluded terms may.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub all: Vec<Vec<Term>>,
    pub none: Vec<Term>,
}

/// Why a query cannot run; the text is for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

fn term_of(raw: &str, explicit_prefix: bool, implicit_prefix: bool) -> Option<Term> {
    let mut terms: Vec<String> = Vec::new();
    let mut last_raw = String::new();
    for (s, e) in words(raw) {
        if let Some(t) = term(&raw[s..e]) {
            terms.push(t);
            last_raw = fold(&raw[s..e]);
        }
    }
    match terms.len() {
        0 => None,
        1 if explicit_prefix => Some(Term::Word { term: last_raw, prefix: true }),
        1 => Some(Term::Word { term: terms.remove(0), prefix: implicit_prefix }),
        _ => Some(Term::Phrase(terms)),
    }
}

impl Query {
    /// Parses what someone typed. `type_ahead` makes the last word a prefix (the
    /// person is still typing it), as suggestions want.
    pub fn parse(input: &str, type_ahead: bool) -> Result<Query, QueryError> {
        let mut all: Vec<Vec<Term>> = Vec::new();
        let mut none = Vec::new();
        let mut or_next = false;
        let mut rest = input.trim();
        let trailing_space = input.ends_with(char::is_whitespace);
        while !rest.is_empty() {
            let negate = rest.starts_with('-');
            if negate {
                rest = &rest[1..];
            }
            let (raw, quoted, after) = if let Some(r) = rest.strip_prefix('"') {
                match r.find('"') {
                    Some(i) => (&r[..i], true, &r[i + 1..]),
                    None => (r, true, ""),
                }
            } else {
                match rest.find(char::is_whitespace) {
                    Some(i) => (&rest[..i], false, &rest[i..]),
                    None => (rest, false, ""),
                }
            };
            rest = after.trim_start();
            if !quoted && !negate && raw.eq_ignore_ascii_case("or") {
                or_next = !all.is_empty();
                continue;
            }
            let is_last = rest.is_empty();
            let explicit_prefix = !quoted && raw.ends_with('*');
            let implicit = !quoted && type_ahead && is_last && !trailing_space;
            let Some(t) = term_of(raw, explicit_prefix, implicit) else { continue };
            if negate {
                none.push(t);
            } else if or_next {
                if let Some(last) = all.last_mut() {
                    last.push(t);
                }
                or_next = false;
            } else {
                all.push(vec![t]);
            }
        }
        if all.is_empty() {
            return Err(QueryError(if none.is_empty() {
                "type a word to search for".to_string()
            } else {
                "a search needs at least one word that is not excluded".to_string()
            }));
        }
        let count = all.iter().map(Vec::len).sum::<usize>() + none.len();
        if count > MAX_TERMS {
            return Err(QueryError(format!("a search may have at most {MAX_TERMS} words; this one has {count}")));
        }
        Ok(Query { all, none })
    }

    /// The FTS5 expression, optionally limited to some columns (`{title body}`).
    pub fn to_fts5(&self, columns: Option<&str>) -> String {
        fn fts(t: &Term) -> String {
            match t {
                Term::Word { term, prefix: true } => format!("\"{term}\"*"),
                Term::Word { term, prefix: false } => format!("\"{term}\""),
                Term::Phrase(ts) => format!("\"{}\"", ts.join(" ")),
            }
        }
        let clauses: Vec<String> = self
            .all
            .iter()
            .map(|c| {
                let alts: Vec<String> = c.iter().map(fts).collect();
                if alts.len() == 1 { alts[0].clone() } else { format!("({})", alts.join(" OR ")) }
            })
            .collect();
        let mut expr = format!("({})", clauses.join(" AND "));
        if !self.none.is_empty() {
            let not: Vec<String> = self.none.iter().map(fts).collect();
            expr = format!("{expr} NOT ({})", not.join(" OR "));
        }
        match columns {
            Some(cols) => format!("{{{cols}}} : ({expr})"),
            None => expr,
        }
    }

    /// The PostgreSQL `tsquery` text (for `to_tsquery('simple', …)`). Terms are folded
    /// letters and digits only, so nothing in them is tsquery syntax.
    pub fn to_tsquery(&self) -> String {
        fn ts(t: &Term) -> String {
            match t {
                Term::Word { term, prefix: true } => format!("{term}:*"),
                Term::Word { term, prefix: false } => term.clone(),
                Term::Phrase(ts) => format!("({})", ts.join(" <-> ")),
            }
        }
        let mut parts: Vec<String> = self
            .all
            .iter()
            .map(|c| {
                let alts: Vec<String> = c.iter().map(ts).collect();
                if alts.len() == 1 { alts[0].clone() } else { format!("({})", alts.join(" | ")) }
            })
            .collect();
        for t in &self.none {
            parts.push(format!("!{}", ts(t)));
        }
        parts.join(" & ")
    }

    /// The wanted clauses alone, exclusions dropped: every text matching the query matches this
    /// too. PostgreSQL narrows a requester's search with it on the index of *all* of a ticket's
    /// text, and then applies the whole query to the public text; applying the exclusions to all
    /// the text would let a requester test for words in internal notes.
    pub fn wanted(&self) -> Query {
        Query { all: self.all.clone(), none: Vec::new() }
    }

    /// The terms to highlight: every wanted word, phrase words one by one.
    pub fn highlights(&self) -> Vec<Hit> {
        let mut out = Vec::new();
        for t in self.all.iter().flatten() {
            match t {
                Term::Word { term, prefix } => out.push(Hit { term: term.clone(), prefix: *prefix }),
                Term::Phrase(ts) => out.extend(ts.iter().map(|t| Hit { term: t.clone(), prefix: false })),
            }
        }
        out
    }

    /// The same query with every wanted word OR-ed together: "any of these words", for
    /// suggestions and related articles, where all words matching is too strict.
    pub fn any_of(&self) -> Query {
        let alts: Vec<Term> = self.all.iter().flatten().cloned().collect();
        Query { all: vec![alts], none: self.none.clone() }
    }
}

/// A term to mark in a snippet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub term: String,
    pub prefix: bool,
}

fn hit_index(word: &str, hits: &[Hit]) -> Option<usize> {
    let folded = fold(word);
    let stemmed = stem(&folded);
    hits.iter().position(|h| if h.prefix { folded.starts_with(&h.term) } else { stemmed == h.term })
}

/// Escapes text for HTML.
pub fn escape_html(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_whitespace() => {
                if !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            c => out.push(c),
        }
    }
}

/// `text` escaped for HTML with the matching words in `<mark>`; whitespace collapsed.
pub fn highlight(text: &str, hits: &[Hit]) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut at = 0;
    for (s, e) in words(text) {
        if hit_index(&text[s..e], hits).is_some() {
            escape_html(&text[at..s], &mut out);
            out.push_str("<mark>");
            escape_html(&text[s..e], &mut out);
            out.push_str("</mark>");
            at = e;
        }
    }
    escape_html(&text[at..], &mut out);
    out.trim().to_string()
}

/// The passage of `text` (about `width` words) with the most different matching
/// words, escaped for HTML with them in `<mark>`; `None` when no word matches.
pub fn snippet(text: &str, hits: &[Hit], width: usize) -> Option<String> {
    let spans: Vec<(usize, usize)> = words(text).collect();
    let marks: Vec<Option<usize>> = spans.iter().map(|&(s, e)| hit_index(&text[s..e], hits)).collect();
    let first_hit = marks.iter().position(Option::is_some)?;
    let width = width.max(1);
    let mut best = (0usize, first_hit.saturating_sub(width / 4));
    for (i, m) in marks.iter().enumerate() {
        if m.is_none() {
            continue;
        }
        let start = i.saturating_sub(width / 4);
        let end = (start + width).min(spans.len());
        let mut seen: Vec<usize> = marks[start..end].iter().flatten().copied().collect();
        seen.sort_unstable();
        seen.dedup();
        if seen.len() > best.0 {
            best = (seen.len(), start);
        }
    }
    let start = best.1;
    let end = (start + width).min(spans.len());
    let from = if start == 0 { 0 } else { spans[start].0 };
    let to = if end == spans.len() { text.len() } else { spans[end - 1].1 };
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.push_str(&highlight(&text[from..to], hits));
    if end < spans.len() {
        out.push('…');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_and_stemming() {
        assert_eq!(fold("Café"), "cafe");
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("ÉQUIPE"), "equipe");
        assert_eq!(stem("printers"), "printer");
        assert_eq!(stem("policies"), "policy");
        assert_eq!(stem("switches"), "switch");
        assert_eq!(stem("addresses"), "address");
        assert_eq!(stem("address"), "address");
        assert_eq!(stem("status"), "status");
        assert_eq!(stem("windows"), "window");
        assert_eq!(stem("was"), "was");
        assert_eq!(stem("ipv4"), "ipv4");
        assert_eq!(index_text("The Printers on 3rd-floor: café!"), "the printer on 3rd floor cafe");
    }

    #[test]
    fn long_words_are_not_indexed() {
        let long = "a".repeat(MAX_TOKEN_CHARS + 1);
        assert_eq!(index_text(&format!("vpn {long} down")), "vpn down");
    }

    #[test]
    fn parses_web_search_syntax() {
        let q = Query::parse(r#"printer "paper jam" -toner OR ink vpn*"#, false).unwrap();
        // "-toner OR ink": the OR follows an excluded word, so ink joins the last wanted clause
        assert_eq!(q.to_fts5(None), r#"("printer" AND ("paper jam" OR "ink") AND "vpn"*) NOT ("toner")"#);
        assert_eq!(q.none, vec![Term::Word { term: "toner".into(), prefix: false }]);
        let q = Query::parse("printer OR scanner offline", false).unwrap();
        assert_eq!(q.to_fts5(None), r#"(("printer" OR "scanner") AND "offline")"#);
        assert_eq!(q.to_tsquery(), "(printer | scanner) & offline");
        let q = Query::parse(r#""paper jam" -toner"#, false).unwrap();
        assert_eq!(q.to_tsquery(), "(paper <-> jam) & !toner");
        assert_eq!(q.to_fts5(Some("title body")), r#"{title body} : (("paper jam") NOT ("toner"))"#);
    }

    #[test]
    fn type_ahead_makes_the_last_word_a_prefix() {
        let q = Query::parse("outlook crash", true).unwrap();
        assert_eq!(q.to_tsquery(), "outlook & crash:*");
        let q = Query::parse("outlook crash ", true).unwrap();
        assert_eq!(q.to_tsquery(), "outlook & crash");
        // explicit prefixes are not stemmed: "pass*" must not become "pas*"
        let q = Query::parse("pass*", false).unwrap();
        assert_eq!(q.to_tsquery(), "pass:*");
    }

    #[test]
    fn syntax_characters_never_reach_the_engine() {
        let q = Query::parse(r#"a:b (c) {d} ^e NEAR/3 "f"#, false).unwrap();
        let fts = q.to_fts5(None);
        assert_eq!(fts, r#"("a b" AND "c" AND "d" AND "e" AND "near 3" AND "f")"#);
        assert!(!q.to_tsquery().contains(':'));
    }

    #[test]
    fn refuses_empty_and_negative_only_queries() {
        assert!(Query::parse("  ", false).is_err());
        assert!(Query::parse("!!! ---", false).is_err());
        assert!(Query::parse("-printer", false).unwrap_err().0.contains("not excluded"));
        let many = (0..20).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ");
        assert!(Query::parse(&many, false).is_err());
    }

    #[test]
    fn snippets_mark_matches_and_escape() {
        let q = Query::parse("printer jam", false).unwrap();
        let h = q.highlights();
        assert_eq!(highlight("<b>Printers</b> & paper", &h), "&lt;b&gt;<mark>Printers</mark>&lt;/b&gt; &amp; paper");
        let text = format!("{} the printer shows a paper jam error {}", "word ".repeat(50), "tail ".repeat(50));
        let s = snippet(&text, &h, 12).unwrap();
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("<mark>printer</mark>") && s.contains("<mark>jam</mark>"), "{s}");
        assert_eq!(snippet("nothing here", &h, 12), None);
        let q = Query::parse("caf", true).unwrap();
        assert_eq!(highlight("Café au lait", &q.highlights()), "<mark>Café</mark> au lait");
    }
}
