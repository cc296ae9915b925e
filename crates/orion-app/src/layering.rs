//! The direction inside orion-app, checked: every `crate::` import of a module's source points
//! down a layer (or, among features, along an allowed edge), and no modules import each other in
//! a circle. The layers are in `docs/decisions.md` ("Layers inside orion-app").

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each top-level module and its layer; a module may import only modules of its own layer or
/// below. `root` is `lib.rs` (the `App` handle and the re-exports every layer uses).
const LAYERS: &[(&str, u8)] = &[
    // The kernel: errors, paging, access, uploads, limits, the clock, job results, how work
    // commits; and the API's shared schema helpers and view types.
    ("kernel", 0),
    ("api_schema", 0),
    ("views", 0),
    // People and settings: tokens and sign-in, the directory, directory sync (LDAP, whose
    // passwords sign-in checks), in-app notifications, and the typed settings with their per-node
    // cache (priority matrix, SLA policies, mail, webhooks).
    ("auth", 1),
    ("directory", 1),
    ("identity", 1),
    ("mfa", 1),
    ("security_keys", 1),
    ("signin", 1),
    ("settings", 1),
    ("notifications", 1),
    ("sending", 1),
    // Tickets: the only writer of ticket rows; one creation path and its group-commit writer.
    ("tickets", 2),
    ("intake", 2),
    ("routing", 2),
    // Features, and the reactions to ticket events they own (SLA clocks, OLA spans, requester
    // mail, webhooks, CMDB history).
    ("sla", 3),
    ("ola", 3),
    ("outbox", 3),
    ("webhooks", 3),
    ("mail", 3),
    ("mail_templates", 3),
    ("mailbox", 3),
    ("monitoring", 3),
    ("cmdb", 3),
    ("kb", 3),
    ("search", 3),
    ("itsm", 3),
    ("retention", 3),
    ("macros", 3),
    ("desk", 3),
    ("reports", 3),
    ("surveys", 3),
    ("catalog", 3),
    ("workflows", 3),
    // Composition: the subscriber list, the job registry, the demo, the crate root.
    ("reactions", 4),
    ("jobs", 4),
    ("demo", 4),
    ("admin_notices", 4),
    ("root", 4),
];

/// Imports between sibling features that are part of the design (each one-way).
const FEATURE_EDGES: &[(&str, &str)] = &[
    ("itsm", "cmdb"),         // problems and changes name the assets they affect
    ("itsm", "kb"),           // a problem's known error becomes an article
    ("itsm", "search"),       // similar-incident detection uses the search index
    ("itsm", "monitoring"),   // a change's window suppresses alerts (maintenance)
    ("search", "kb"),         // one search box over tickets and articles
    ("mail", "catalog"),      // a reply to an approval mail decides it
    ("workflows", "cmdb"),    // a joiner's laptop is checked out, a leaver's assets checked in
    ("workflows", "catalog"), // an approved catalog request starts a joiner, mover or leaver
];

/// Imports that still point the wrong way, listed so that they cannot grow: a new one fails
/// the test, and so does one that is gone but still listed here.
const KNOWN_DEBT: &[(&str, &str)] = &[];

fn layer(module: &str) -> u8 {
    LAYERS
        .iter()
        .find(|(m, _)| *m == module)
        .map(|(_, l)| *l)
        .unwrap_or_else(|| panic!("module `{module}` has no layer: add it to LAYERS in src/layering.rs"))
}

/// The module a source file belongs to: `lib.rs` is `root`, `x.rs` and `x/…` are `x`.
fn module_of(rel: &Path) -> String {
    let first = rel.components().next().map(|c| c.as_os_str().to_string_lossy().to_string()).unwrap_or_default();
    if first == "lib.rs" { "root".to_string() } else { first.trim_end_matches(".rs").to_string() }
}

/// The modules a source text names as `crate::module` or inside `crate::{module, …}`; test
/// modules (after `#[cfg(test)]`) and comments do not count.
fn imports(text: &str) -> BTreeSet<String> {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    let code: String = text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> Option<String> {
        let s = s.trim_start();
        let id: String = s.chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_').collect();
        (!id.is_empty()).then_some(id)
    };
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = group.split('}').next().unwrap_or("");
            // Nested groups (`a::{b, c}`) only name sub-items; the first segment of each item counts.
            let mut depth = 0;
            let mut item = String::new();
            for ch in inner.chars() {
                match ch {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.extend(ident(&item));
                        item.clear();
                    }
                    _ if depth == 0 => item.push(ch),
                    _ => {}
                }
            }
            out.extend(ident(&item));
        } else {
            out.extend(ident(rest));
        }
    }
    out
}

fn edges() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let module = module_of(path.strip_prefix(&src).unwrap());
                if module == "layering" {
                    continue; // this test, which names modules in its examples
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let targets = out.entry(module.clone()).or_default();
                // Only modules count: root items (`App`, `AppResult`, view types) start upper-case.
                targets
                    .extend(imports(&text).into_iter().filter(|t| *t != module && LAYERS.iter().any(|(m, _)| m == t)));
            }
        }
    }
    out
}

/// Is there a path from `from` back to itself through `edges`? Returns one such circle.
fn circle_through(from: &str, edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    let mut path = vec![from.to_string()];
    let mut seen = BTreeSet::new();
    fn walk(
        at: &str,
        goal: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in edges.get(at).into_iter().flatten() {
            if next == goal {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(next, goal, edges, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    walk(from, from, edges, &mut path, &mut seen).then_some(path)
}

#[test]
fn imports_point_down_the_layers_and_never_in_a_circle() {
    let all = edges();
    assert!(all.contains_key("tickets") && all.contains_key("sla"), "the source was not found: {all:?}");
    let mut wrong = Vec::new();
    let mut debt_seen = BTreeSet::new();
    for (from, targets) in &all {
        for to in targets {
            let (lf, lt) = (layer(from), layer(to));
            let edge = (from.as_str(), to.as_str());
            if KNOWN_DEBT.contains(&edge) {
                debt_seen.insert(edge);
                continue;
            }
            let allowed = lt < lf || (lt == lf && (lf != 3 || FEATURE_EDGES.contains(&edge)));
            if !allowed {
                wrong.push(format!("{from} (layer {lf}) imports {to} (layer {lt})"));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layers:\n{}", wrong.join("\n"));
    let gone: Vec<_> = KNOWN_DEBT.iter().filter(|e| !debt_seen.contains(*e)).collect();
    assert!(gone.is_empty(), "these imports are gone; remove them from KNOWN_DEBT: {gone:?}");
    // No circles, debt left out (it is what the list exists to remove).
    let sound: BTreeMap<String, BTreeSet<String>> = all
        .iter()
        .map(|(f, ts)| {
            (f.clone(), ts.iter().filter(|t| !KNOWN_DEBT.contains(&(f.as_str(), t.as_str()))).cloned().collect())
        })
        .collect();
    for m in sound.keys() {
        if let Some(c) = circle_through(m, &sound) {
            panic!("modules import each other in a circle: {}", c.join(" -> "));
        }
    }
}

#[test]
fn the_import_reader_finds_plain_and_grouped_imports() {
    let text = "use crate::kernel::error::invalid;\nuse crate::{App, sla, tickets::{open, Planned}};\n\
                fn f() { crate::outbox::queue(); } // crate::webhooks::emit\n#[cfg(test)]\nmod tests { use crate::demo; }";
    let found: Vec<String> = imports(text).into_iter().collect();
    assert_eq!(found, ["kernel", "outbox", "sla", "tickets"]);
}

#[test]
fn a_circle_is_found() {
    let mut e: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    e.entry("a".into()).or_default().insert("b".into());
    e.entry("b".into()).or_default().insert("c".into());
    assert!(circle_through("a", &e).is_none());
    e.entry("c".into()).or_default().insert("a".into());
    assert_eq!(circle_through("a", &e).unwrap(), ["a", "b", "c", "a"]);
}
