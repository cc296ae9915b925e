//! The list sweep (`scripts/bench-lists`): every list endpoint and console queue, with every
//! filter, both orders, first and deep keyset pages, timed over HTTP against a running server
//! seeded with a million tickets (`orion-bench queues`) or a million assets (`orion-bench assets
//! --seed-only`). Each combination is requested once cold (its first request since the server
//! started) and `--reps` times warm; the summary gives, per list, the number of combinations and
//! the worst first request and warm p95, and names every combination over the bounds.
//!
//! Lists other than tickets and the console are taken from the server's OpenAPI document: every
//! `GET` without path parameters that pages (`cursor`) is requested bare and once per value of each
//! enumerated filter, so a list or filter added later joins the sweep by itself.

use crate::Conn;
use anyhow::{Result, bail};
use std::time::Instant;

#[derive(clap::Args)]
pub struct ListArgs {
    /// Base URL of the server, e.g. http://127.0.0.1:8080
    #[arg(long)]
    url: String,
    /// API token of an agent who is a member of every group (the `queues` seed's bench agent)
    #[arg(long)]
    token: String,
    /// API token of an admin, for the other lists (several are for admins only); without it
    /// they are left out
    #[arg(long)]
    admin_token: Option<String>,
    /// API token of the requester of the seeded tickets (their own list, as on the portal)
    #[arg(long)]
    requester_token: Option<String>,
    /// The agent's console session cookie (`name=value`), for the console queues
    #[arg(long)]
    cookie: Option<String>,
    /// What the database holds: `tickets` (the `queues` seed) or `assets` (the `assets` seed)
    #[arg(long, default_value = "tickets")]
    seed: String,
    /// Tickets seeded (deep pages start in the middle)
    #[arg(long, default_value_t = 1_000_000)]
    tickets: i64,
    /// Warm requests per combination
    #[arg(long, default_value_t = 5)]
    reps: usize,
    #[arg(long, default_value = "sqlite")]
    engine: String,
    /// Bound for each combination's warm p95, in ms
    #[arg(long, default_value_t = 20.0)]
    p95_ms: f64,
    /// Bound for each combination's first request, in ms
    #[arg(long, default_value_t = 100.0)]
    first_ms: f64,
    /// Also write every combination's timings here (Markdown)
    #[arg(long)]
    out: Option<std::path::PathBuf>,
}

/// One request to time: the list it belongs to, and how it authenticates.
struct Combo {
    list: &'static str,
    path: String,
    who: Who,
}

#[derive(Clone, Copy, PartialEq)]
enum Who {
    Agent,
    Admin,
    Requester,
    Console,
}

fn ticket_combos(n: i64) -> Vec<Combo> {
    let mut out = Vec::new();
    let deep = n / 2;
    for kind in ["", "incident", "service_request"] {
        for state in ["", "new", "open", "new,assigned", "pending", "resolved", "closed"] {
            for priority in ["", "P1", "P3"] {
                for group in ["", "Service%20Desk"] {
                    for assignee in ["", "me", "none"] {
                        for requester in ["", "caller%40example.com"] {
                            for order in ["newest", "oldest"] {
                                for cursor in [None, Some(deep)] {
                                    let mut q = format!("/api/v1/tickets?order={order}&limit=50");
                                    for (k, v) in [
                                        ("kind", kind),
                                        ("state", state),
                                        ("priority", priority),
                                        ("assignment_group", group),
                                        ("assignee", assignee),
                                        ("requester", requester),
                                    ] {
                                        if !v.is_empty() {
                                            q.push_str(&format!("&{k}={v}"));
                                        }
                                    }
                                    if let Some(c) = cursor {
                                        q.push_str(&format!("&cursor={c}"));
                                    }
                                    out.push(Combo { list: "tickets (API)", path: q, who: Who::Agent });
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    // "Title contains": a bounded window per page, whether the word is common, unique or absent.
    for title in ["printer", "zeppelin", "dirigible"] {
        for state in ["", "&state=open"] {
            for order in ["newest", "oldest"] {
                let path = format!("/api/v1/tickets?title={title}{state}&order={order}");
                out.push(Combo { list: "tickets, title contains (API)", path, who: Who::Agent });
            }
        }
    }
    for state in ["", "new", "open", "resolved", "closed"] {
        for order in ["newest", "oldest"] {
            for cursor in [None, Some(deep)] {
                let mut path = format!("/api/v1/tickets?order={order}");
                if !state.is_empty() {
                    path.push_str(&format!("&state={state}"));
                }
                if let Some(c) = cursor {
                    path.push_str(&format!("&cursor={c}"));
                }
                out.push(Combo { list: "a requester's own tickets (API, portal)", path, who: Who::Requester });
            }
        }
    }
    for queue in ["mine", "unassigned", "g1", "g2", "g3", "all"] {
        for state in ["open", "new", "assigned", "in_progress", "pending", "resolved", "closed", "all"] {
            for priority in ["", "P1"] {
                for kind in ["", "service_request"] {
                    for order in ["newest", "oldest"] {
                        for cursor in [None, Some(deep)] {
                            let mut path = format!("/agent?queue={queue}&state={state}&order={order}");
                            if !priority.is_empty() {
                                path.push_str(&format!("&priority={priority}"));
                            }
                            if !kind.is_empty() {
                                path.push_str(&format!("&kind={kind}"));
                            }
                            if let Some(c) = cursor {
                                path.push_str(&format!("&cursor={c}"));
                            }
                            out.push(Combo { list: "console queues", path, who: Who::Console });
                        }
                    }
                }
            }
        }
    }
    out
}

/// A value to try for a free-text filter of a generic list (absent: the filter is left out).
fn sample(param: &str, seed: &str) -> Option<&'static str> {
    match param {
        "q" => Some("printer"),
        "holder" if seed == "assets" => Some("user17%40example.com"),
        "holder" => Some("caller%40example.com"),
        "location" => Some("Site%2007"),
        "owner" => Some("me"),
        _ => None,
    }
}

/// Every paged list of the OpenAPI document, bare and with each enumerated filter value.
async fn generic_combos(c: &mut Conn, seed: &str) -> Result<Vec<Combo>> {
    let (status, body) = c.call("GET", "/api/v1/openapi.json", None).await;
    if status != 200 {
        bail!("GET /api/v1/openapi.json answered {status}");
    }
    let doc: serde_json::Value = serde_json::from_slice(&body)?;
    let mut out = Vec::new();
    let Some(paths) = doc["paths"].as_object() else { bail!("the OpenAPI document has no paths") };
    for (path, ops) in paths {
        let Some(params) = ops["get"]["parameters"].as_array() else { continue };
        let query: Vec<&serde_json::Value> = params.iter().filter(|p| p["in"] == "query").collect();
        if path.contains('{') || !query.iter().any(|p| p["name"] == "cursor") {
            continue;
        }
        if seed == "tickets" && path == "/api/v1/tickets" {
            continue;
        }
        let list: &'static str = Box::leak(path.clone().into_boxed_str());
        out.push(Combo { list, path: format!("{path}?limit=50"), who: Who::Admin });
        for p in &query {
            let name = p["name"].as_str().unwrap_or_default();
            let values: Vec<String> = match p["schema"]["enum"].as_array() {
                Some(vals) => vals.iter().filter_map(|v| v.as_str().map(String::from)).collect(),
                None if p["schema"]["type"] == "boolean" => vec!["true".into()],
                None => sample(name, seed).map(String::from).into_iter().collect(),
            };
            for v in values {
                out.push(Combo { list, path: format!("{path}?{name}={v}&limit=50"), who: Who::Admin });
            }
        }
    }
    Ok(out)
}

struct Timed {
    list: &'static str,
    path: String,
    first_ms: f64,
    p50_ms: f64,
    p95_ms: f64,
}

pub async fn run(a: ListArgs) -> Result<()> {
    let mut agent = Conn::open(&a.url, &format!("Bearer {}", a.token)).await?;
    let (status, _) = agent.call("GET", "/api/v1/me", None).await;
    if status != 200 {
        bail!("the agent token is not accepted (HTTP {status})");
    }
    let mut requester = match &a.requester_token {
        Some(t) => Some(Conn::open(&a.url, &format!("Bearer {t}")).await?),
        None => None,
    };
    let mut console = match &a.cookie {
        Some(cookie) => Some(Conn::open_with(&a.url, "cookie", cookie).await?),
        None => None,
    };
    let mut combos = match a.seed.as_str() {
        "tickets" => ticket_combos(a.tickets),
        "assets" => Vec::new(),
        other => bail!("--seed: expected tickets or assets, not {other}"),
    };
    let mut admin = match &a.admin_token {
        Some(t) => Some(Conn::open(&a.url, &format!("Bearer {t}")).await?),
        None => None,
    };
    if let Some(c) = admin.as_mut() {
        combos.extend(generic_combos(c, &a.seed).await?);
    }
    let started = Instant::now();
    let mut timed = Vec::new();
    for combo in &combos {
        let conn = match combo.who {
            Who::Agent => &mut agent,
            Who::Admin => match admin.as_mut() {
                Some(c) => c,
                None => continue,
            },
            Who::Requester => match requester.as_mut() {
                Some(c) => c,
                None => continue,
            },
            Who::Console => match console.as_mut() {
                Some(c) => c,
                None => continue,
            },
        };
        let mut times = Vec::with_capacity(a.reps + 1);
        for _ in 0..=a.reps {
            let t = Instant::now();
            let (status, _) = conn.call("GET", &combo.path, None).await;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            if status != 200 {
                bail!("GET {} answered {status}", combo.path);
            }
        }
        let first_ms = times[0];
        let mut warm = times[1..].to_vec();
        warm.sort_by(f64::total_cmp);
        let at = |q: f64| warm.get(((warm.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(first_ms);
        timed.push(Timed { list: combo.list, path: combo.path.clone(), first_ms, p50_ms: at(0.5), p95_ms: at(0.95) });
    }
    eprintln!("{} combinations in {:.0} s", timed.len(), started.elapsed().as_secs_f64());

    println!(
        "| engine | list | combinations | worst first request ms | median p50 ms | worst p95 ms | over the bounds |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut lists: Vec<&'static str> = timed.iter().map(|t| t.list).collect();
    lists.dedup();
    let mut seen = std::collections::HashSet::new();
    lists.retain(|l| seen.insert(*l));
    let over = |t: &Timed| t.p95_ms > a.p95_ms || t.first_ms > a.first_ms;
    for list in &lists {
        let rows: Vec<&Timed> = timed.iter().filter(|t| t.list == *list).collect();
        let worst_first = rows.iter().map(|t| t.first_ms).fold(0.0, f64::max);
        let worst_p95 = rows.iter().map(|t| t.p95_ms).fold(0.0, f64::max);
        let mut p50s: Vec<f64> = rows.iter().map(|t| t.p50_ms).collect();
        p50s.sort_by(f64::total_cmp);
        let median = p50s[p50s.len() / 2];
        let n_over = rows.iter().filter(|t| over(t)).count();
        println!(
            "| {} | {list} | {} | {worst_first:.1} | {median:.1} | {worst_p95:.1} | {n_over} |",
            a.engine,
            rows.len()
        );
    }
    let offenders: Vec<&Timed> = timed.iter().filter(|t| over(t)).collect();
    if !offenders.is_empty() {
        println!();
        println!("Over the bounds (first request {} ms, warm p95 {} ms) on {}:", a.first_ms, a.p95_ms, a.engine);
        println!();
        for t in &offenders {
            println!("- `{}`: first {:.1} ms, p50 {:.1} ms, p95 {:.1} ms", t.path, t.first_ms, t.p50_ms, t.p95_ms);
        }
    }
    if let Some(path) = &a.out {
        let mut s = String::from("| list | request | first ms | p50 ms | p95 ms |\n|---|---|---|---|---|\n");
        for t in &timed {
            s.push_str(&format!(
                "| {} | `{}` | {:.1} | {:.1} | {:.1} |\n",
                t.list, t.path, t.first_ms, t.p50_ms, t.p95_ms
            ));
        }
        std::fs::write(path, s)?;
    }
    Ok(())
}
