//! The web UI's layering, checked: an audience's pages (`agent/`, `portal/`, `admin/`) never
//! import another audience's, and the common modules directly under `ui/` never import an
//! audience's — what two audiences need lives in a common module. The check reads the sources
//! and follows every `crate::ui::…`, `super::…` and `self::…` path, in `use` items and in code
//! (`super::kb::article_hit(…)`) alike, with `{…}` groups and inline `mod` blocks resolved.
//! `ui/mod.rs` may name an audience only for its `routes()`.

use std::path::Path;

const AUDIENCES: &[&str] = &["agent", "portal", "admin"];

/// Which side of the rule a module is on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Part {
    Common,
    Audience(&'static str),
}

impl Part {
    /// The part of a module, from its path (`crate::ui::agent::queue` → the agent pages).
    fn of(module: &[String]) -> Part {
        match module.get(2).and_then(|m| AUDIENCES.iter().find(|a| *a == m)) {
            Some(a) => Part::Audience(a),
            None => Part::Common,
        }
    }

    fn describe(self) -> String {
        match self {
            Part::Common => "a common ui module".into(),
            Part::Audience(a) => format!("the {a} pages"),
        }
    }
}

/// A path from one place in the UI to another.
#[derive(Debug)]
struct Edge {
    line: usize,
    /// As written, e.g. `super::agent::Row`
    written: String,
    /// Resolved from the crate root, e.g. `["crate", "ui", "agent", "Row"]`
    to: Vec<String>,
    from: Vec<String>,
}

#[derive(Debug, PartialEq)]
enum Token {
    Ident(String),
    Punct(&'static str),
}

/// The identifiers and the punctuation that paths are made of, with their line numbers;
/// comments, string and character literals and lifetimes are skipped.
fn tokens(src: &str) -> Vec<(Token, usize)> {
    let s: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    let at = |i: usize| s.get(i).copied().unwrap_or('\0');
    while i < s.len() {
        let c = s[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < s.len() && s[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < s.len() {
                if s[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if s[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += usize::from(s[i] == '\n');
                    i += 1;
                }
            }
        } else if c == 'r' && (at(i + 1) == '"' || (at(i + 1) == '#' && matches!(at(i + 2), '"' | '#'))) {
            // A raw string: r"…", r#"…"#
            let mut hashes = 0;
            i += 1;
            while at(i) == '#' {
                hashes += 1;
                i += 1;
            }
            i += 1;
            while i < s.len() {
                if s[i] == '"' && (1..=hashes).all(|k| at(i + k) == '#') {
                    i += 1 + hashes;
                    break;
                }
                line += usize::from(s[i] == '\n');
                i += 1;
            }
        } else if c == '"' {
            i += 1;
            while i < s.len() && s[i] != '"' {
                if s[i] == '\\' {
                    i += 1;
                }
                line += usize::from(at(i) == '\n');
                i += 1;
            }
            i += 1;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{1F600}') or a lifetime ('a).
            if at(i + 1) == '\\' {
                i += 2;
                while i < s.len() && s[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                i += 1;
                while at(i).is_alphanumeric() || at(i) == '_' {
                    i += 1;
                }
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while at(i).is_alphanumeric() || at(i) == '_' {
                i += 1;
            }
            out.push((Token::Ident(s[start..i].iter().collect()), line));
        } else if c == ':' && at(i + 1) == ':' {
            out.push((Token::Punct("::"), line));
            i += 2;
        } else {
            let p = match c {
                '{' => "{",
                '}' => "}",
                ',' => ",",
                '*' => "*",
                ';' => ";",
                _ => "other",
            };
            out.push((Token::Punct(p), line));
            i += 1;
        }
    }
    out
}

/// Reads one path (a `use` tree: `a::b::{c, d::*}`) from `i`; every leaf becomes an edge.
fn read_path(
    t: &[(Token, usize)],
    mut i: usize,
    mut prefix: Vec<(String, usize)>,
    leaves: &mut Vec<Vec<(String, usize)>>,
) -> usize {
    loop {
        match t.get(i) {
            Some((Token::Ident(name), line)) => {
                prefix.push((name.clone(), *line));
                i += 1;
                if t.get(i).map(|x| &x.0) == Some(&Token::Punct("::")) {
                    i += 1;
                    continue;
                }
                leaves.push(prefix);
                return i;
            }
            Some((Token::Punct("{"), _)) => {
                i += 1;
                while let Some((tok, _)) = t.get(i) {
                    match tok {
                        Token::Punct("}") => return i + 1,
                        Token::Punct(",") => i += 1,
                        _ => {
                            let next = read_path(t, i, prefix.clone(), leaves);
                            // Never stall on something that is not a path.
                            i = next.max(i + 1);
                        }
                    }
                }
                return i;
            }
            // `*`, or a turbofish and the like: the path so far is what is named.
            _ => {
                leaves.push(prefix);
                return i;
            }
        }
    }
}

/// The module a file is (`agent/queue.rs` → `crate::ui::agent::queue`).
fn module_of(relative: &str) -> Vec<String> {
    let mut m = vec!["crate".to_string(), "ui".to_string()];
    let trimmed = relative.trim_end_matches(".rs");
    for part in trimmed.split('/') {
        if part != "mod" {
            m.push(part.to_string());
        }
    }
    m
}

/// Every path in one file that leads somewhere in the UI, resolved from the crate root.
fn edges(relative: &str, src: &str) -> Vec<Edge> {
    let t = tokens(src);
    let file_module = module_of(relative);
    let is_ui_root = file_module.len() == 2;
    let mut out = Vec::new();
    // Inline `mod name { … }` blocks: (name, the brace depth inside them).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut pending_mod: Option<String> = None;
    let mut depth = 0;
    let mut i = 0;
    while i < t.len() {
        let here = |inline: &Vec<(String, usize)>| {
            let mut m = file_module.clone();
            m.extend(inline.iter().map(|(n, _)| n.clone()));
            m
        };
        match &t[i].0 {
            Token::Punct("{") => {
                depth += 1;
                if let Some(name) = pending_mod.take() {
                    inline.push((name, depth));
                }
                i += 1;
            }
            Token::Punct("}") => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth -= 1;
                i += 1;
            }
            Token::Ident(kw) if kw == "mod" => {
                if let (Some((Token::Ident(name), _)), Some((Token::Punct("{"), _))) = (t.get(i + 1), t.get(i + 2)) {
                    pending_mod = Some(name.clone());
                }
                i += 1;
            }
            Token::Ident(first)
                if t.get(i + 1).map(|x| &x.0) == Some(&Token::Punct("::"))
                    && (i == 0 || t[i - 1].0 != Token::Punct("::"))
                    && (matches!(first.as_str(), "crate" | "super" | "self")
                        || (is_ui_root && inline.is_empty() && AUDIENCES.contains(&first.as_str()))) =>
            {
                let module = here(&inline);
                let mut leaves = Vec::new();
                let next = read_path(&t, i, Vec::new(), &mut leaves);
                for leaf in leaves {
                    let written = leaf.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>().join("::");
                    let line = leaf.last().map_or(t[i].1, |(_, l)| *l);
                    let segments: Vec<&str> = leaf.iter().map(|(s, _)| s.as_str()).collect();
                    let mut to: Vec<String> = match segments[0] {
                        "crate" => vec!["crate".into()],
                        _ => module.clone(),
                    };
                    for seg in &segments[usize::from(matches!(segments[0], "crate" | "self"))..] {
                        match *seg {
                            "super" => {
                                to.pop();
                            }
                            "self" => {}
                            other => to.push(other.to_string()),
                        }
                    }
                    if to.len() >= 2 && to[0] == "crate" && to[1] == "ui" {
                        out.push(Edge { line, written, to, from: module.clone() });
                    }
                }
                i = next.max(i + 1);
            }
            _ => i += 1,
        }
    }
    out
}

/// What is wrong with one file's paths, one message per forbidden edge.
fn violations(relative: &str, src: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in edges(relative, src) {
        let (from, to) = (Part::of(&e.from), Part::of(&e.to));
        let allowed = match (from, to) {
            (_, Part::Common) => true,
            (Part::Audience(a), Part::Audience(b)) => a == b,
            // The composition root merges each audience's routes, and nothing else.
            (Part::Common, Part::Audience(_)) => e.from.len() == 2 && e.to.len() == 4 && e.to[3] == "routes",
        };
        if !allowed {
            out.push(format!(
                "src/ui/{relative}:{}: `{}` — {} import {}; move what both need into a common module under \
                 src/ui/ (views, form, layout, session, …)",
                e.line,
                e.written,
                from.describe(),
                to.describe(),
            ));
        }
    }
    out
}

/// Every `.rs` file under `dir`, as (path relative to `src/ui/`, text).
fn sources(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> =
        std::fs::read_dir(dir).expect("read src/ui").map(|e| e.expect("dir entry").path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            sources(root, &p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p.strip_prefix(root).expect("under src/ui").to_string_lossy().replace('\\', "/");
            out.push((rel, std::fs::read_to_string(&p).expect("read a source file")));
        }
    }
}

#[test]
fn audiences_pages_never_import_each_other() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ui");
    let mut files = Vec::new();
    sources(&root, &root, &mut files);
    for audience in AUDIENCES {
        assert!(files.iter().any(|(f, _)| f.starts_with(&format!("{audience}/"))), "no src/ui/{audience}/ found");
    }
    let found: usize = files.iter().map(|(f, s)| edges(f, s).len()).sum();
    assert!(found > 50, "only {found} paths into the UI found: the reader is broken");
    let wrong: Vec<String> = files.iter().flat_map(|(f, s)| violations(f, s)).collect();
    assert!(wrong.is_empty(), "imports across the web UI's layers:\n{}", wrong.join("\n"));
}

#[test]
fn a_forbidden_import_is_named_with_its_file_and_line() {
    let portal = "use crate::ui::form::Fields;\n\
                  use crate::ui::agent::queue::Row;\n\
                  // use crate::ui::admin::X; in a comment\n\
                  const S: &str = \"crate::ui::admin::Y\";\n\
                  fn f() -> char { let _ = 'a'; '{' }\n";
    assert_eq!(
        violations("portal/mod.rs", portal),
        ["src/ui/portal/mod.rs:2: `crate::ui::agent::queue::Row` — the portal pages import the agent pages; move \
          what both need into a common module under src/ui/ (views, form, layout, session, …)"]
    );
    // A group, a parent's parent, a path in code, and a glob.
    let agent = "use super::{sla::Badge,\n super::portal::MyRow};\n\
                 use super::super::admin::*;\n\
                 fn g() { super::super::views::ticket_view(); super::super::kb::article_hit(); }\n\
                 fn h() { crate::ui::portal::x(); }\n";
    let lines: Vec<String> =
        violations("agent/queue.rs", agent).iter().map(|v| v.split(": ").next().unwrap_or("").to_string()).collect();
    assert_eq!(lines, ["src/ui/agent/queue.rs:2", "src/ui/agent/queue.rs:3", "src/ui/agent/queue.rs:5"]);
    // Common modules: never an audience's, though `ui/mod.rs` merges their routes.
    assert_eq!(violations("kb.rs", "use super::agent::Row;").len(), 1);
    assert_eq!(violations("mod.rs", "mod agent; fn r() { agent::routes(); }").len(), 0);
    assert_eq!(violations("mod.rs", "pub(crate) use agent::Row;").len(), 1);
    // `super` inside an inline module is the file's module, not its parent.
    assert_eq!(violations("portal/mod.rs", "mod tests { use super::*; use super::super::agent::X; }").len(), 1);
    assert_eq!(violations("agent/itsm.rs", "mod tests { use super::*; }").len(), 0);
}
