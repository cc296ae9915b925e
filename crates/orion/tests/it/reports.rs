//! Issue 27: the leads' reports. A generated month of tickets (logged, answered, escalated,
//! resolved, reopened) whose expected KPIs this file works out on its own from what it did —
//! with its own working-time arithmetic — compared with the API, the ticket lists behind each
//! number, the CSV and the console's dashboard, on SQLite and PostgreSQL.

use crate::web::{PW, Web};
use orion_domain::Timestamp;
use orion_testkit::{Engine, TestApp, engine_tests};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

engine_tests!(
    a_month_of_tickets_gives_the_same_numbers_on_the_api_the_lists_the_csv_and_the_dashboard,
    filters_breakdowns_and_restricted_tickets_count_what_the_reader_may_see,
    tickets_resolved_before_reports_existed_are_counted_after_the_catch_up,
    report_queries_with_mistakes_name_the_field,
    a_lead_reads_the_dashboard_in_a_browser_and_opens_a_number,
    time_logged_adds_up_per_ticket_tier_agent_and_category_and_a_group_can_require_it,
    a_survey_goes_out_by_mail_works_once_expires_and_a_low_score_reaches_the_lead,
    a_weekly_report_reaches_the_mailbox_with_its_tables_as_csv_and_its_runs_are_listed,
    the_backlog_of_each_day_is_kept_as_it_was_then,
    changes_alerts_and_problems_of_the_period_are_counted_and_listed,
);

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

/// Working milliseconds between two instants on the default Business hours calendar (Monday to
/// Friday, 09:00–17:00 UTC), worked out day by day.
fn working_ms(from: i64, to: i64) -> i64 {
    let mut total = 0;
    let mut day = from.div_euclid(DAY) * DAY;
    while day < to {
        // 1970-01-01 was a Thursday: Monday is 0.
        let weekday = (day / DAY + 3).rem_euclid(7);
        if weekday < 5 {
            let (open, close) = (day + 9 * 60 * MIN, day + 17 * 60 * MIN);
            total += (close.min(to) - open.max(from)).max(0);
        }
        day += DAY;
    }
    total
}

/// The value at rank ⌈p/100 × n⌉ of the sorted values, in whole minutes.
fn rank(mut ms: Vec<i64>, p: usize) -> Option<i64> {
    ms.sort();
    let r = (p * ms.len()).div_ceil(100).max(1);
    ms.get(r - 1).map(|v| v / MIN)
}

fn at(s: &str) -> i64 {
    Timestamp::parse_day_or_instant("t", s).unwrap().as_millis()
}

/// A small deterministic generator (the same month every run).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> i64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n) as i64
    }
}

/// What the test did to one ticket, and so what the reports must say of it.
#[derive(Debug, Default, Clone)]
struct Life {
    number: String,
    created_at: i64,
    kind: &'static str,
    /// `P1` … `P5`
    priority: String,
    first_response_at: Option<i64>,
    max_tier: i64,
    /// The group that has it at the end
    group: &'static str,
    /// Open stretches: (from, resolved at)
    stretches: Vec<(i64, Option<i64>)>,
    reopened: bool,
}

impl Life {
    fn resolved_at(&self) -> Option<i64> {
        self.stretches.last().and_then(|s| s.1)
    }
}

#[derive(Debug, Clone)]
enum Step {
    Create,
    RequesterComment,
    Reply,
    Escalate(&'static str),
    Resolve,
    Reopen,
}

struct Desk {
    t: TestApp,
    admin: String,
    agent: BTreeMap<&'static str, String>,
    requester: String,
    lead: String,
}

async fn desk(engine: Engine) -> Option<Desk> {
    let t = TestApp::spawn(engine).await?;
    let admin = t.bootstrap_admin("admin@example.com").await;
    for (name, tier, up) in [("Core", 3, None), ("Network", 2, Some("Core")), ("Service Desk", 1, Some("Network"))] {
        let (s, b) = t.post(&admin, "/api/v1/groups", json!({"name": name, "tier": tier, "escalates_to": up})).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let mut agent = BTreeMap::new();
    agent.insert("Service Desk", t.user(&admin, "sam@example.com", "agent", &["Service Desk"]).await);
    agent.insert("Network", t.user(&admin, "nina@example.com", "agent", &["Network"]).await);
    agent.insert("Core", t.user(&admin, "carl@example.com", "agent", &["Core"]).await);
    let lead = t.user(&admin, "lena@example.com", "lead", &["Service Desk", "Network"]).await;
    let requester = t.user(&admin, "alice@example.com", "requester", &[]).await;
    t.app.set_password("lena@example.com", PW.into()).await.unwrap();
    Some(Desk { t, admin, agent, requester, lead })
}

/// Plans a month of work (from 26 October to the start of December 2026) and carries it out in
/// time order; returns each ticket's life.
async fn month(d: &Desk) -> Vec<Life> {
    let mut rng = Lcg(27);
    let start = at("2026-10-26T00:00:00Z");
    let mut plan: Vec<(i64, usize, Step)> = Vec::new();
    let mut lives = Vec::new();
    for i in 0..44 {
        let day = i as i64 * 36 / 44;
        let created = start + day * DAY + (7 + rng.next(10)) * 60 * MIN + rng.next(60) * MIN;
        let kind = if i % 3 == 0 { "service_request" } else { "incident" };
        lives.push(Life { created_at: created, kind, max_tier: 1, group: "Service Desk", ..Life::default() });
        plan.push((created, i, Step::Create));
        let mut now = created;
        if rng.next(5) == 0 {
            now += 3 * MIN;
            plan.push((now, i, Step::RequesterComment));
        }
        if rng.next(4) != 0 {
            now += (5 + rng.next(600)) * MIN;
            plan.push((now, i, Step::Reply));
        }
        if rng.next(3) == 0 {
            now += (30 + rng.next(900)) * MIN;
            plan.push((now, i, Step::Escalate("Network")));
            if rng.next(3) == 0 {
                now += (30 + rng.next(900)) * MIN;
                plan.push((now, i, Step::Escalate("Core")));
            }
        }
        if rng.next(6) != 0 {
            now += (20 + rng.next(4000)) * MIN;
            plan.push((now, i, Step::Resolve));
            if rng.next(5) == 0 {
                now += 120 * MIN;
                plan.push((now, i, Step::Reopen));
                now += (30 + rng.next(600)) * MIN;
                plan.push((now, i, Step::Resolve));
            }
        }
    }
    plan.sort_by_key(|(when, i, _)| (*when, *i));
    let t = &d.t;
    for (when, i, step) in plan {
        t.clock.set(Timestamp(when));
        let life = &mut lives[i];
        let path = format!("/api/v1/tickets/{}", life.number);
        let worker = &d.agent[life.group];
        let (s, b) = match &step {
            Step::Create => {
                let (impact, urgency) = [(2, 2), (3, 2), (3, 3), (2, 3)][i % 4];
                let channel = ["phone", "email", "portal"][i % 3];
                let (s, b) = t
                    .post(
                        &d.agent["Service Desk"],
                        "/api/v1/tickets",
                        json!({"kind": life.kind, "title": format!("Generated ticket {i}"), "description": "As generated",
                               "impact": impact, "urgency": urgency, "requester": "alice@example.com", "channel": channel,
                               "assignment_group": "Service Desk"}),
                    )
                    .await;
                life.number = b["number"].as_str().unwrap_or_default().to_string();
                life.priority = b["priority"].as_str().unwrap_or_default().to_string();
                life.stretches.push((when, None));
                (s, b)
            }
            Step::RequesterComment => {
                t.post(&d.requester, &format!("{path}/comments"), json!({"body": "Any news?", "visibility": "public"}))
                    .await
            }
            Step::Reply => {
                life.first_response_at.get_or_insert(when);
                t.post(worker, &format!("{path}/comments"), json!({"body": "Looking at it", "visibility": "public"}))
                    .await
            }
            Step::Escalate(to) => {
                life.max_tier += 1;
                life.group = to;
                t.post(
                    worker,
                    &format!("{path}/escalate"),
                    json!({"reason": "Beyond us", "troubleshooting": "Restarted it"}),
                )
                .await
            }
            Step::Resolve => {
                life.stretches.last_mut().unwrap().1 = Some(when);
                t.post(
                    worker,
                    &format!("{path}/resolve"),
                    json!({"resolution_code": "fixed", "resolution_notes": "Done"}),
                )
                .await
            }
            Step::Reopen => {
                life.reopened = true;
                life.stretches.push((when, None));
                t.post(&d.requester, &format!("{path}/reopen"), json!({"reason": "Broken again"})).await
            }
        };
        assert!(s.is_success(), "{step:?} on ticket {i}: {s} {b}");
    }
    t.clock.set(Timestamp(at("2026-12-04T10:00:00Z")));
    lives
}

/// The numbers of the tickets that `pick` chooses.
fn numbers<'a>(lives: impl Iterator<Item = &'a Life>) -> BTreeSet<String> {
    lives.map(|l| l.number.clone()).collect()
}

/// Every ticket number a report list holds, page by page (`limit` per page), checking the order:
/// the latest resolution first in lists of resolved tickets, else the last logged first.
async fn listed(t: &TestApp, token: &str, lives: &[Life], query: &str, limit: usize) -> (i64, Vec<String>) {
    let (mut all, mut after) = (Vec::new(), String::new());
    let total = loop {
        let (s, page) = t.get(token, &format!("/api/v1/reports/tickets?{query}&limit={limit}{after}")).await;
        assert_eq!(s, StatusCode::OK, "{query}: {page}");
        let total = page["total"].as_i64().unwrap();
        let items = page["tickets"].as_array().unwrap();
        assert!(items.len() <= limit);
        all.extend(items.iter().map(|x| x["number"].as_str().unwrap().to_string()));
        match page["next"].as_str() {
            Some(n) => after = format!("&after={n}"),
            None => break total,
        }
    };
    let resolved_list = !query.contains("metric=created") && !query.contains("metric=backlog");
    // A ticket logged after the month comes before all of it.
    let logged = |n: &String| match lives.iter().position(|l| &l.number == n) {
        Some(i) => (if resolved_list { lives[i].resolved_at() } else { None }, lives[i].created_at, i),
        None => (Some(i64::MAX), i64::MAX, usize::MAX),
    };
    let mut sorted = all.clone();
    sorted.sort_by_key(|n| std::cmp::Reverse(logged(n)));
    assert_eq!(all, sorted, "{query}: newest first");
    (total, all)
}

async fn csv(t: &TestApp, token: &str, path: &str) -> String {
    let (s, body) = t.get(token, path).await;
    assert_eq!(s, StatusCode::OK, "{path}: {body}");
    body.as_str().unwrap_or_else(|| panic!("{path} is not CSV: {body}")).to_string()
}

fn unescape(s: &str) -> String {
    s.replace("&amp;", "&").replace("&#38;", "&").replace("&#x2f;", "/").replace("&#x3d;", "=")
}

/// The link and the number in the summary row labelled `label` (the "this period" cell).
fn summary_cell(page: &str, label: &str) -> (String, String) {
    let row =
        &page[page.find(&format!("<th scope=\"row\">{label}</th>")).unwrap_or_else(|| panic!("no row {label}"))..];
    let href_at = row.find("href=\"").unwrap() + 6;
    let href = &row[href_at..href_at + row[href_at..].find('"').unwrap()];
    let text_at = href_at + row[href_at..].find('>').unwrap() + 1;
    let text = &row[text_at..text_at + row[text_at..].find('<').unwrap()];
    (unescape(href), text.to_string())
}

async fn a_month_of_tickets_gives_the_same_numbers_on_the_api_the_lists_the_csv_and_the_dashboard(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let lives = month(&d).await;
    let (from, to) = (at("2026-11-02"), at("2026-12-01"));
    let period = "from=2026-11-02&to=2026-12-01";

    // What the reports must say, worked out here from what was done.
    let created: Vec<&Life> = lives.iter().filter(|l| (from..to).contains(&l.created_at)).collect();
    let resolved: Vec<&Life> =
        lives.iter().filter(|l| l.resolved_at().is_some_and(|r| (from..to).contains(&r))).collect();
    let open: Vec<&Life> = lives.iter().filter(|l| l.resolved_at().is_none()).collect();
    assert!(created.len() > 25 && resolved.len() > 20 && !open.is_empty(), "the month has work of every sort");
    assert!(resolved.iter().any(|l| l.reopened) && resolved.iter().any(|l| l.max_tier == 3), "reopens and tier 3");
    let response: Vec<i64> = resolved
        .iter()
        .filter_map(|l| {
            l.first_response_at.filter(|r| *r <= l.resolved_at().unwrap()).map(|r| working_ms(l.created_at, r))
        })
        .collect();
    let resolution: Vec<i64> =
        resolved.iter().map(|l| l.stretches.iter().map(|(a, b)| working_ms(*a, b.unwrap())).sum()).collect();
    let first_contact: Vec<&&Life> = resolved.iter().filter(|l| l.max_tier == 1 && !l.reopened).collect();
    let reached2: Vec<&&Life> = resolved.iter().filter(|l| l.max_tier >= 2).collect();
    let reached3: Vec<&&Life> = resolved.iter().filter(|l| l.max_tier >= 3).collect();
    let reopened: Vec<&&Life> = resolved.iter().filter(|l| l.reopened).collect();
    // SLA outcomes as the ticket's own SLA page reports its clocks.
    let (mut measured, mut breached) =
        (BTreeMap::<&str, BTreeSet<String>>::new(), BTreeMap::<&str, BTreeSet<String>>::new());
    for l in &resolved {
        let (s, clocks) = t.get(&d.admin, &format!("/api/v1/tickets/{}/sla", l.number)).await;
        assert_eq!(s, StatusCode::OK, "{clocks}");
        for c in clocks.as_array().unwrap() {
            let target = match c["target"].as_str().unwrap() {
                "first_response" => "response",
                "resolution" => "resolution",
                _ => "update",
            };
            match c["state"].as_str().unwrap() {
                "met" => {
                    measured.entry(target).or_default().insert(l.number.clone());
                }
                "breached" => {
                    measured.entry(target).or_default().insert(l.number.clone());
                    breached.entry(target).or_default().insert(l.number.clone());
                }
                _ => {}
            }
        }
    }
    assert!(!breached.get("resolution").cloned().unwrap_or_default().is_empty(), "some resolutions were late");

    let (s, k) = t.get(&d.lead, &format!("/api/v1/reports/kpis?{period}")).await;
    assert_eq!(s, StatusCode::OK, "{k}");
    let sm = &k["summary"];
    assert_eq!(sm["created"], created.len() as i64);
    assert_eq!(sm["resolved"], resolved.len() as i64);
    assert_eq!(sm["mtta"]["tickets"], response.len() as i64);
    assert_eq!(sm["mtta"]["median_minutes"], json!(rank(response.clone(), 50)));
    assert_eq!(sm["mtta"]["p90_minutes"], json!(rank(response.clone(), 90)));
    assert_eq!(sm["mttr"]["median_minutes"], json!(rank(resolution.clone(), 50)));
    assert_eq!(sm["mttr"]["p90_minutes"], json!(rank(resolution.clone(), 90)));
    let rate = |v: &Value, count: usize, of: usize| {
        assert_eq!((v["count"].as_i64(), v["of"].as_i64()), (Some(count as i64), Some(of as i64)), "{v}");
        let want = (count as f64 * 1000.0 / of as f64).round() / 10.0;
        assert_eq!(v["percent"].as_f64(), Some(want), "{v}");
    };
    rate(&sm["first_contact_resolution"], first_contact.len(), resolved.len());
    rate(&sm["escalation_l1_to_l2"], reached2.len(), resolved.len());
    rate(&sm["escalation_l2_to_l3"], reached3.len(), reached2.len());
    rate(&sm["reopen_rate"], reopened.len(), resolved.len());
    for (target, key) in [("response", "sla_response"), ("resolution", "sla_resolution")] {
        let m = measured.get(target).map(|s| s.len()).unwrap_or(0);
        let b = breached.get(target).map(|s| s.len()).unwrap_or(0);
        rate(&sm[key], m - b, m);
    }
    // The period before holds the October tickets.
    let before: Vec<&Life> = lives.iter().filter(|l| l.created_at < from).collect();
    assert!(!before.is_empty());
    assert_eq!(k["previous"]["created"], before.len() as i64);
    // Every day of the period; the days add up.
    let days = k["days"].as_array().unwrap();
    assert_eq!(days.len(), 29);
    assert_eq!(days.iter().map(|d| d["created"].as_i64().unwrap()).sum::<i64>(), created.len() as i64);
    assert_eq!(days.iter().map(|d| d["resolved"].as_i64().unwrap()).sum::<i64>(), resolved.len() as i64);
    let first_day = created.iter().filter(|l| l.created_at < from + DAY).count() as i64;
    assert_eq!(days[0], json!({"date": "2026-11-02", "created": first_day, "resolved": days[0]["resolved"]}));
    // The backlog now, by age.
    assert_eq!(k["backlog"]["open"], open.len() as i64);
    let now = at("2026-12-04T10:00:00Z");
    let over_30 = open.iter().filter(|l| now - l.created_at >= 30 * DAY).count() as i64;
    let band = k["backlog"]["bands"].as_array().unwrap().iter().find(|b| b["band"] == "over_30d").unwrap().clone();
    assert_eq!(band["tickets"], over_30);
    assert_eq!(
        k["backlog"]["bands"].as_array().unwrap().iter().map(|b| b["tickets"].as_i64().unwrap()).sum::<i64>(),
        open.len() as i64
    );

    // Behind every number, exactly its tickets — page after page.
    let lists: Vec<(&str, BTreeSet<String>)> = vec![
        ("created", numbers(created.iter().copied())),
        ("resolved", numbers(resolved.iter().copied())),
        ("first_contact", numbers(first_contact.iter().map(|l| **l))),
        ("reached_l2", numbers(reached2.iter().map(|l| **l))),
        ("reached_l3", numbers(reached3.iter().map(|l| **l))),
        ("reopened", numbers(reopened.iter().map(|l| **l))),
        ("resolution_breached", breached.get("resolution").cloned().unwrap_or_default()),
        ("response_breached", breached.get("response").cloned().unwrap_or_default()),
        ("backlog", numbers(open.iter().copied())),
    ];
    for (metric, want) in &lists {
        let (total, got) = listed(t, &d.lead, &lives, &format!("{period}&metric={metric}"), 7).await;
        assert_eq!(total, want.len() as i64, "{metric}");
        assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), *want, "{metric}");
        assert_eq!(got.len(), want.len(), "{metric}: no ticket twice");
    }
    let (s, page) = t.get(&d.lead, &format!("/api/v1/reports/tickets?{period}&metric=resolved&limit=500")).await;
    assert_eq!(s, StatusCode::OK);
    for x in page["tickets"].as_array().unwrap() {
        let l = lives.iter().find(|l| l.number == x["number"].as_str().unwrap()).unwrap();
        let ms: i64 = l.stretches.iter().map(|(a, b)| working_ms(*a, b.unwrap())).sum();
        assert_eq!(x["resolution_minutes"], ms / MIN, "{}", l.number);
    }

    // The CSV says the same.
    let summary = csv(t, &d.lead, &format!("/api/v1/reports/csv/summary?{period}")).await;
    assert!(summary.starts_with("measure,this_period,previous_period\n"), "{summary}");
    assert!(summary.contains(&format!("Tickets resolved,{},", resolved.len())), "{summary}");
    assert!(summary.contains(&format!("Tickets created,{},{}\n", created.len(), before.len())), "{summary}");
    let rows = csv(t, &d.lead, &format!("/api/v1/reports/csv/tickets?{period}&metric=reopened")).await;
    assert_eq!(rows.lines().count(), reopened.len() + 1, "{rows}");
    for l in &reopened {
        assert!(rows.contains(&format!("{},Generated ticket", l.number)), "{rows}");
    }
    let per_day = csv(t, &d.lead, &format!("/api/v1/reports/csv/days?{period}")).await;
    assert!(per_day.contains(&format!("2026-11-02,{first_day},")), "{per_day}");

    // The dashboard shows the numbers, and each opens its list.
    let mut w = Web::new(t);
    assert!(w.login("lena@example.com", PW).await.status.is_redirection());
    let r = w.get(&format!("/agent/reports?{period}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("<svg class=\"chart\""), "charts are drawn on the page");
    // The OLA per tier on the dashboard is the OLA report's for the same period.
    let (s, ola) = t.get(&d.lead, "/api/v1/reports/ola?from=2026-11-02&to=2026-12-01").await;
    assert_eq!(s, StatusCode::OK, "{ola}");
    let table = &r.body[r.body.find("id=\"report-ola\"").expect("the OLA table")..];
    let table = &table[..table.find("</table>").unwrap()];
    assert!(!ola["tiers"].as_array().unwrap().is_empty(), "{ola}");
    for tier in ola["tiers"].as_array().unwrap() {
        let row = format!(
            "<tr><td>Tier {}</td><td>{}</td><td>{}</td>",
            tier["tier"], tier["tickets"], tier["average_minutes"]
        );
        assert!(table.contains(&row), "{row} in {table}");
    }
    for (label, want) in [("Tickets created", created.len()), ("Tickets resolved", resolved.len())] {
        let (href, shown) = summary_cell(&r.body, label);
        assert_eq!(shown, want.to_string(), "{label}");
        let list = w.get(&href).await;
        assert_eq!(list.status, StatusCode::OK, "{href}: {}", list.body);
        assert!(list.body.contains(&format!("<strong>{want}</strong> ticket")), "{href}: {}", list.body);
    }
    let (_, reopen_shown) = summary_cell(&r.body, "Reopened");
    let want = (reopened.len() as f64 * 1000.0 / resolved.len() as f64).round() / 10.0;
    assert_eq!(reopen_shown, format!("{want:.1} %"));
    let down = w.get(&format!("/agent/reports/csv/days?{period}")).await;
    assert_eq!(down.status, StatusCode::OK);
    assert_eq!(down.body, per_day, "the console's CSV is the API's");

    // At risk: open tickets with an SLA target due within the hour — a P1 logged now is, its first
    // response due in 15 minutes; the others as their own SLA pages say.
    let (s, p1) = t
        .post(
            &d.agent["Service Desk"],
            "/api/v1/tickets",
            json!({"title": "Core switch down", "description": "Everything is offline", "impact": 1, "urgency": 1,
                   "requester": "alice@example.com", "channel": "phone", "assignment_group": "Service Desk"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{p1}");
    t.clock.set(Timestamp(at("2026-12-04T10:05:00Z")));
    let now = at("2026-12-04T10:05:00Z");
    let mut at_risk = BTreeSet::new();
    for n in open.iter().map(|l| l.number.clone()).chain([p1["number"].as_str().unwrap().to_string()]) {
        let (_, clocks) = t.get(&d.admin, &format!("/api/v1/tickets/{n}/sla")).await;
        let soon = clocks.as_array().unwrap().iter().any(|c| {
            c["state"] == "running" && c["due_at"].as_str().is_some_and(|due| (now..now + 60 * MIN).contains(&at(due)))
        });
        if soon {
            at_risk.insert(n);
        }
    }
    assert!(at_risk.contains(p1["number"].as_str().unwrap()), "{at_risk:?}");
    let (_, k) = t.get(&d.lead, &format!("/api/v1/reports/kpis?{period}")).await;
    assert_eq!(k["backlog"]["at_risk"], at_risk.len() as i64, "{k}");
    let (total, got) = listed(t, &d.lead, &lives, &format!("{period}&metric=backlog&band=at_risk"), 7).await;
    assert_eq!(total, at_risk.len() as i64);
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), at_risk);

    // Overdue (a clock breached, or running past its due time) and every age band, worked out
    // here from each open ticket's clocks and creation time: first while no SLA timer has run (the
    // clocks past due are still "running"), then after it marked them breached.
    let mut open_now: Vec<(String, i64)> = open.iter().map(|l| (l.number.clone(), l.created_at)).collect();
    open_now.push((p1["number"].as_str().unwrap().to_string(), at("2026-12-04T10:00:00Z")));
    let bands = [
        ("under_1d", 0, 24),
        ("1d_3d", 24, 72),
        ("3d_7d", 72, 168),
        ("7d_30d", 168, 720),
        ("over_30d", 720, i64::MAX / HOUR),
    ];
    // Tickets counted overdue by their stored breached flag alone (no clock read as past due).
    let flagged = || async {
        let mut r = t.app.db.read().await.unwrap();
        let open = orion_store::reports::open_counts(&mut r.conn(), &Default::default(), &[], i64::MIN).await.unwrap();
        open.iter().filter(|o| o.overdue == 1).map(|o| o.n).sum::<i64>()
    };
    for round in ["before the SLA timer ran", "after it marked the breaches"] {
        let mut overdue = BTreeSet::new();
        for (n, _) in &open_now {
            let (_, clocks) = t.get(&d.admin, &format!("/api/v1/tickets/{n}/sla")).await;
            let clocks = clocks.as_array().unwrap();
            if clocks.iter().any(|c| {
                c["state"] == "breached"
                    || (c["state"] == "running" && c["due_at"].as_str().is_some_and(|due| at(due) < now))
            }) {
                overdue.insert(n.clone());
            }
        }
        assert!(!overdue.is_empty(), "{round}: the month leaves overdue tickets");
        let (_, k) = t.get(&d.lead, &format!("/api/v1/reports/kpis?{period}")).await;
        assert_eq!(k["backlog"]["overdue"], overdue.len() as i64, "{round}: {k}");
        let per_agent: i64 = k["workload"].as_array().unwrap().iter().map(|w| w["overdue"].as_i64().unwrap()).sum();
        assert_eq!(per_agent, overdue.len() as i64, "{round}");
        let (total, got) = listed(t, &d.lead, &lives, &format!("{period}&metric=backlog&band=overdue"), 7).await;
        assert_eq!(total, overdue.len() as i64, "{round}");
        assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), overdue, "{round}");
        for (band, younger_h, older_h) in bands {
            let want: BTreeSet<String> = open_now
                .iter()
                .filter(|(_, created)| (younger_h * HOUR..older_h * HOUR).contains(&(now - created)))
                .map(|(n, _)| n.clone())
                .collect();
            let counted = k["backlog"]["bands"].as_array().unwrap().iter().find(|b| b["band"] == band).unwrap();
            assert_eq!(counted["tickets"], want.len() as i64, "{round}: {band}");
            let (total, got) = listed(t, &d.lead, &lives, &format!("{period}&metric=backlog&band={band}"), 7).await;
            assert_eq!(total, want.len() as i64, "{round}: {band}");
            assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want, "{round}: {band}");
        }
        // The night's snapshot, taken now, counts them the same way.
        let kept = orion_store::reports::snapshot_rows(&mut t.app.db.read().await.unwrap().conn(), now).await.unwrap();
        assert_eq!(kept.iter().map(|r| r.overdue).sum::<i64>(), overdue.len() as i64, "{round}: snapshot");
        assert_eq!(kept.iter().map(|r| r.open).sum::<i64>(), open_now.len() as i64, "{round}: snapshot");
        let drift = orion_store::reports::tally_differences(&mut t.app.db.read().await.unwrap().conn()).await.unwrap();
        assert_eq!(drift, 0, "{round}: the dashboard's tally matches the tickets");
        if round.starts_with("before") {
            assert_eq!(flagged().await, 0, "no timer has marked a clock yet");
            orion_app::jobs::standard_worker(t.app.clone(), "sla-timer").run_due().await.unwrap();
        } else {
            assert_eq!(flagged().await, overdue.len() as i64, "the timer marked every clock past due");
        }
    }
}

async fn filters_breakdowns_and_restricted_tickets_count_what_the_reader_may_see(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let lives = month(&d).await;
    let period = "from=2026-11-02&to=2026-12-01";
    let (from, to) = (at("2026-11-02"), at("2026-12-01"));
    let resolved: Vec<&Life> =
        lives.iter().filter(|l| l.resolved_at().is_some_and(|r| (from..to).contains(&r))).collect();

    // One group: the tickets it resolved.
    let by_network: Vec<&&Life> = resolved.iter().filter(|l| l.group == "Network").collect();
    let (_, k) = t.get(&d.lead, &format!("/api/v1/reports/kpis?{period}&group=Network")).await;
    assert_eq!(k["summary"]["resolved"], by_network.len() as i64, "{k}");
    // A breakdown by tier adds up to the whole, each row to its own tickets.
    let (_, k) = t.get(&d.lead, &format!("/api/v1/reports/kpis?{period}&by=tier")).await;
    let rows = k["breakdown"].as_array().unwrap();
    assert_eq!(rows.iter().map(|r| r["summary"]["resolved"].as_i64().unwrap()).sum::<i64>(), resolved.len() as i64);
    for r in rows {
        let tier: i64 = r["key"].as_str().unwrap().parse().unwrap();
        let want = resolved.iter().filter(|l| l.max_tier == tier).count() as i64;
        assert_eq!(r["summary"]["resolved"], want, "tier {tier}");
        assert_eq!(r["label"], format!("Tier {tier}"));
        let (total, _) = listed(t, &d.lead, &lives, &format!("{period}&tier={tier}&metric=resolved"), 50).await;
        assert_eq!(total, want, "the row's list");
    }
    // Kind and priority filters.
    let requests = resolved.iter().filter(|l| l.kind == "service_request").count() as i64;
    let (_, k) = t.get(&d.lead, &format!("/api/v1/reports/kpis?{period}&kind=service_request")).await;
    assert_eq!(k["summary"]["resolved"], requests);
    let p = resolved[0].priority.clone();
    let (_, k) = t.get(&d.lead, &format!("/api/v1/reports/kpis?{period}&priority={p}")).await;
    assert_eq!(k["summary"]["resolved"], resolved.iter().filter(|l| l.priority == p).count() as i64);
    // "My groups": Lena is in Service Desk and Network, not Core.
    let (_, k) = t.get(&d.lead, &format!("/api/v1/reports/kpis?{period}&scope=mine")).await;
    assert_eq!(k["summary"]["resolved"], resolved.iter().filter(|l| l.group != "Core").count() as i64);

    // A resolved ticket restricted to Core afterwards is left out for Lena, counted for an admin.
    let secret = resolved.iter().find(|l| l.group == "Core").unwrap_or(&resolved[0]).number.clone();
    let (_, all_before) = t.get(&d.admin, &format!("/api/v1/reports/kpis?{period}")).await;
    let (s, b) = t.put(&d.admin, &format!("/api/v1/tickets/{secret}/restriction"), json!({"group": "Core"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, mine) = t.get(&d.lead, &format!("/api/v1/reports/kpis?{period}")).await;
    let (_, all) = t.get(&d.admin, &format!("/api/v1/reports/kpis?{period}")).await;
    assert_eq!(all["summary"], all_before["summary"], "an admin still counts it");
    assert_eq!(mine["summary"]["resolved"].as_i64().unwrap() + 1, all["summary"]["resolved"].as_i64().unwrap());
    let (_, list) = listed(t, &d.lead, &lives, &format!("{period}&metric=resolved"), 500).await;
    assert!(!list.contains(&secret), "nor does it appear in Lena's list");
    let (_, list) = listed(t, &d.admin, &lives, &format!("{period}&metric=resolved"), 500).await;
    assert!(list.contains(&secret));
    let (s, b) = t.put(&d.admin, &format!("/api/v1/tickets/{secret}/restriction"), json!({"group": null})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, mine) = t.get(&d.lead, &format!("/api/v1/reports/kpis?{period}")).await;
    assert_eq!(mine["summary"]["resolved"], all["summary"]["resolved"], "lifted: counted again");

    // Requesters have no reports.
    let (s, _) = t.get(&d.requester, &format!("/api/v1/reports/kpis?{period}")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = t.get(&d.requester, &format!("/api/v1/reports/tickets?{period}&metric=created")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

async fn tickets_resolved_before_reports_existed_are_counted_after_the_catch_up(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let lives = month(&d).await;
    let period = "from=2026-10-01&to=2026-12-04";
    let resolved = lives.iter().filter(|l| l.resolved_at().is_some()).count() as i64;
    let (_, k) = t.get(&d.admin, &format!("/api/v1/reports/kpis?{period}")).await;
    let before = k["summary"].clone();
    assert_eq!(before["resolved"], resolved);
    {
        use orion_store::sql::Sql;
        let mut tx = t.app.db.begin().await.unwrap();
        orion_store::execute_sql!(&mut tx.conn(), &Sql::new("DELETE FROM ticket_outcome")).unwrap();
        tx.commit().await.unwrap();
    }
    let (_, k) = t.get(&d.admin, &format!("/api/v1/reports/kpis?{period}")).await;
    assert_eq!(k["summary"]["resolved"], 0, "as after an upgrade");
    t.app.schedule_reports_backfill().await.unwrap();
    // Batches of 200 until none is left; then it is not queued again.
    t.app.run_reports_backfill().await.unwrap();
    t.app.run_reports_backfill().await.unwrap();
    let (_, k) = t.get(&d.admin, &format!("/api/v1/reports/kpis?{period}")).await;
    assert_eq!(k["summary"], before, "the same numbers as when written at resolution");
}

async fn report_queries_with_mistakes_name_the_field(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    for (query, field) in [
        ("from=2026-13-01", "from"),
        ("from=2026-11-02&to=2026-11-01", "from"),
        ("from=2020-01-01&to=2026-01-01", "from"),
        ("group=Nobody", "group"),
        ("tier=4", "tier"),
        ("priority=high", "priority"),
        ("kind=problem", "kind"),
        ("channel=pigeon", "channel"),
        ("category=Nowhere", "category"),
        ("agent=ghost@example.com", "agent"),
        ("by=weather", "by"),
        ("scope=everyone", "scope"),
    ] {
        let (s, b) = t.get(&d.lead, &format!("/api/v1/reports/kpis?{query}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {b}");
        assert!(b["error"]["fields"][field].is_string(), "{query}: {b}");
    }
    for (query, field) in [
        ("", "metric"),
        ("metric=happiness", "metric"),
        ("metric=backlog&band=ancient", "band"),
        ("metric=created&limit=0", "limit"),
        ("metric=created&after=x", "after"),
    ] {
        let (s, b) = t.get(&d.lead, &format!("/api/v1/reports/tickets?{query}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {b}");
        assert!(b["error"]["fields"][field].is_string(), "{query}: {b}");
    }
    let (s, b) = t.get(&d.lead, "/api/v1/reports/csv/everything").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "no such table: {b}");
    // Fields left empty (as a form sends them) are left out.
    let (s, b) = t.get(&d.lead, "/api/v1/reports/tickets?metric=created&limit=&after=&band=&group=").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // The dashboard says what is wrong, in a sentence, and keeps the form.
    let mut w = Web::new(t);
    w.login("lena@example.com", PW).await;
    let r = w.get("/agent/reports?tier=9").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"report-error\"") && r.body.contains("report-filters"), "{}", r.body);
}

async fn a_lead_reads_the_dashboard_in_a_browser_and_opens_a_number(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let lives = month(&d).await;
    let Some(b) = crate::browser::Browser::start(t).await else { return };
    let (from, to) = (at("2026-11-02"), at("2026-12-01"));
    let resolved: Vec<&Life> =
        lives.iter().filter(|l| l.resolved_at().is_some_and(|r| (from..to).contains(&r))).collect();
    let in_network = resolved.iter().filter(|l| l.group == "Network").count();
    b.sign_in("lena@example.com", PW).await;
    b.click("nav a[href='/agent/reports']").await;
    b.find("#report-filters").await;
    // The period, one group and a breakdown by tier, as a lead would pick them.
    b.script(
        "document.getElementById('r-from').value = '2026-11-02'; document.getElementById('r-to').value = '2026-12-01';",
    )
    .await;
    b.click("#r-group option[value='Network']").await;
    b.click("#r-by option[value='tier']").await;
    b.click("#report-filters button[type=submit]").await;
    b.wait_text("#report-period", "2026-11-02").await;
    assert!(b.exists("svg.chart").await, "the charts are drawn");
    b.shot("reports-dashboard").await;
    let row = b.text("#report-summary tbody tr:nth-child(2)").await;
    assert!(row.starts_with(&format!("Tickets resolved {in_network}")), "{row}");
    assert!(b.text("#report-breakdown").await.contains("Tier 2"));
    b.click("#report-summary tbody tr:nth-child(2) td a").await;
    b.wait_text("#report-count", &format!("{in_network} ticket")).await;
    assert_eq!(
        b.script("return document.querySelectorAll('#report-tickets tbody tr').length").await,
        json!(in_network)
    );
    b.shot("reports-tickets").await;
}

/// One entry of time the test logged: (ticket, tier, category, agent e-mail, minutes, when).
type Logged = (String, i64, &'static str, &'static str, i64, i64);

async fn time_logged_adds_up_per_ticket_tier_agent_and_category_and_a_group_can_require_it(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    for c in ["Hardware", "Software"] {
        let (s, b) = t.post(&d.admin, "/api/v1/categories", json!({"name": c})).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let (sam, nina) = (&d.agent["Service Desk"], &d.agent["Network"]);
    let who = |token: &String| if token == sam { "sam@example.com" } else { "nina@example.com" };
    let mut ledger: Vec<Logged> = Vec::new();
    let mut rng = Lcg(6);
    let start = at("2026-11-09T08:00:00Z");
    let mut tickets = Vec::new();
    for i in 0..8_i64 {
        let when = start + i * DAY;
        t.clock.set(Timestamp(when));
        let category = ["Hardware", "Software"][i as usize % 2];
        let (s, b) = t
            .post(
                sam,
                "/api/v1/tickets",
                json!({"title": format!("Timed ticket {i}"), "description": "d", "impact": 3, "urgency": 3,
                       "requester": "alice@example.com", "assignment_group": "Service Desk", "category": category}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let n = b["number"].as_str().unwrap().to_string();
        let path = format!("/api/v1/tickets/{n}");
        // A reply, a note and a call by the service desk, with the minutes they took.
        for (k, body) in [
            (0, json!({"visibility": "public"})),
            (1, json!({"visibility": "internal"})),
            (2, json!({"visibility": "internal", "phone_call": true})),
        ] {
            let m = 1 + rng.next(45);
            let at = when + (k + 1) * 10 * MIN;
            t.clock.set(Timestamp(at));
            let mut body = body;
            body["body"] = json!("Worked on it");
            body["time_spent_minutes"] = json!(m);
            let (s, b) = t.post(sam, &format!("{path}/comments"), body).await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
            ledger.push((n.clone(), 1, category, "sam@example.com", m, at));
        }
        // Half go to tier 2, where time is logged on its own for a task.
        let mut worker = sam;
        if i % 2 == 0 {
            t.clock.set(Timestamp(when + 60 * MIN));
            let (s, b) = t.post(sam, &format!("{path}/escalate"), json!({"reason": "r", "troubleshooting": "t"})).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            worker = nina;
            let m = 30 + rng.next(200);
            t.clock.set(Timestamp(when + 90 * MIN));
            let (s, e) = t
                .post(nina, &format!("{path}/time"), json!({"minutes": m, "work": "task", "note": "Swapped the board"}))
                .await;
            assert_eq!(s, StatusCode::CREATED, "{e}");
            assert_eq!(
                (e["minutes"].as_i64(), e["tier"].as_i64(), e["by"].as_str()),
                (Some(m), Some(2), Some("nina@example.com"))
            );
            assert_eq!(e["category"], category);
            ledger.push((n.clone(), 2, category, "nina@example.com", m, when + 90 * MIN));
        }
        if i < 6 {
            let m = 5 + rng.next(20);
            let at = when + 120 * MIN;
            t.clock.set(Timestamp(at));
            let (s, b) = t
                .post(
                    worker,
                    &format!("{path}/resolve"),
                    json!({"resolution_code": "fixed", "resolution_notes": "Done", "time_spent_minutes": m}),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{b}");
            ledger.push((n.clone(), if worker == nina { 2 } else { 1 }, category, who(worker), m, at));
        }
        tickets.push(n);
    }
    // Time logged after the period is not in it.
    t.clock.set(Timestamp(at("2026-12-02T09:00:00Z")));
    let (s, b) = t.post(nina, &format!("/api/v1/tickets/{}/time", tickets[0]), json!({"minutes": 15})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    ledger.push((tickets[0].clone(), 2, "Hardware", "nina@example.com", 15, at("2026-12-02T09:00:00Z")));

    // Per ticket: the total and the entries add up.
    for n in &tickets {
        let (s, tt) = t.get(sam, &format!("/api/v1/tickets/{n}/time")).await;
        assert_eq!(s, StatusCode::OK, "{tt}");
        let mine: Vec<&Logged> = ledger.iter().filter(|l| &l.0 == n).collect();
        assert_eq!(tt["total_minutes"], mine.iter().map(|l| l.4).sum::<i64>(), "{n}: {tt}");
        assert_eq!(tt["entries_count"], mine.len() as i64);
        let listed: Vec<i64> =
            tt["entries"].as_array().unwrap().iter().map(|e| e["minutes"].as_i64().unwrap()).collect();
        assert_eq!(listed, mine.iter().map(|l| l.4).collect::<Vec<_>>(), "oldest first");
    }

    // In the reports: the period's total, per tier, per category, per agent, and the tickets behind it.
    let period = "from=2026-11-01&to=2026-12-01";
    let (from, to) = (at("2026-11-01"), at("2026-12-01"));
    let inside: Vec<&Logged> = ledger.iter().filter(|l| (from..to).contains(&l.5)).collect();
    let sum = |pick: &dyn Fn(&&&Logged) -> bool| inside.iter().filter(pick).map(|l| l.4).sum::<i64>();
    let (s, k) = t.get(&d.lead, &format!("/api/v1/reports/kpis?{period}&by=agent")).await;
    assert_eq!(s, StatusCode::OK, "{k}");
    assert_eq!(k["summary"]["time_minutes"], sum(&|_| true));
    assert_eq!(k["summary"]["time_tickets"], tickets.len() as i64);
    assert_eq!(k["previous"]["time_minutes"], 0);
    for tier in [1, 2] {
        let row = k["time_by_tier"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"].as_str() == Some(tier.to_string().as_str()))
            .unwrap()
            .clone();
        assert_eq!(row["minutes"], sum(&|l| l.1 == tier), "tier {tier}: {row}");
        assert_eq!(row["entries"], inside.iter().filter(|l| l.1 == tier).count() as i64);
    }
    for c in ["Hardware", "Software"] {
        let row = k["time_by_category"].as_array().unwrap().iter().find(|r| r["key"] == c).unwrap().clone();
        assert_eq!(row["minutes"], sum(&|l| l.2 == c), "{c}: {row}");
    }
    for agent in ["sam@example.com", "nina@example.com"] {
        let row = k["breakdown"].as_array().unwrap().iter().find(|r| r["key"] == agent).unwrap().clone();
        assert_eq!(row["summary"]["time_minutes"], sum(&|l| l.3 == agent), "{agent}: {row}");
    }
    let (_, only_nina) = t.get(&d.lead, &format!("/api/v1/reports/kpis?{period}&agent=nina@example.com")).await;
    assert_eq!(only_nina["summary"]["time_minutes"], sum(&|l| l.3 == "nina@example.com"));
    let (_, tier2) = t.get(&d.lead, &format!("/api/v1/reports/kpis?{period}&tier=2")).await;
    assert_eq!(tier2["summary"]["time_minutes"], sum(&|l| l.1 == 2), "the tier filter counts the work done at tier 2");
    let (total, got) = listed(t, &d.lead, &[], &format!("{period}&metric=time_logged&category=Software"), 3).await;
    let want: BTreeSet<String> = inside.iter().filter(|l| l.2 == "Software").map(|l| l.0.clone()).collect();
    assert_eq!((total, got.into_iter().collect::<BTreeSet<_>>()), (want.len() as i64, want));

    // The CSV: every entry of the period, and the totals.
    let rows = csv(t, &d.lead, &format!("/api/v1/reports/csv/time?{period}")).await;
    let mut lines = rows.lines();
    assert_eq!(lines.next(), Some("logged_at,ticket,agent,email,group,tier,category,work,minutes,note"));
    let body: Vec<&str> = lines.collect();
    assert_eq!(body.len(), inside.len(), "{rows}");
    let minutes: i64 = body.iter().map(|l| l.split(',').nth(8).unwrap().parse::<i64>().unwrap()).sum();
    assert_eq!(minutes, sum(&|_| true));
    assert!(rows.contains(",Network,2,Hardware,task,"), "{rows}");
    let totals = csv(t, &d.lead, &format!("/api/v1/reports/csv/time_totals?{period}")).await;
    assert!(totals.contains(&format!("tier,Tier 2,{},", sum(&|l| l.1 == 2))), "{totals}");
    assert!(totals.contains(&format!("category,Software,{},", sum(&|l| l.2 == "Software"))), "{totals}");

    // Mistakes are named; requesters log no time and read none.
    for (body, field) in [
        (json!({"minutes": 0}), "minutes"),
        (json!({"minutes": 1441}), "minutes"),
        (json!({}), "minutes"),
        (json!({"minutes": 5, "work": "resolution"}), "work"),
    ] {
        let (s, e) = t.post(sam, &format!("/api/v1/tickets/{}/time", tickets[7]), body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {e}");
        assert!(e["error"]["fields"][field].is_string(), "{body}: {e}");
    }
    let (s, _) = t.post(&d.requester, &format!("/api/v1/tickets/{}/time", tickets[7]), json!({"minutes": 5})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, e) = t
        .post(
            &d.requester,
            &format!("/api/v1/tickets/{}/comments", tickets[7]),
            json!({"body": "Hello", "time_spent_minutes": 5}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"]["fields"]["time_spent_minutes"].is_string(), "{e}");
    let (s, _) = t.get(&d.requester, &format!("/api/v1/tickets/{}/time", tickets[7])).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // A group that asks for time: resolving without any is refused, naming the field, and the
    // ticket stays open; with the minutes it goes through.
    let (_, groups) = t.get(&d.admin, "/api/v1/groups").await;
    let network = groups.as_array().unwrap().iter().find(|g| g["name"] == "Network").unwrap()["id"].as_i64().unwrap();
    let (s, g) = t.patch(&d.admin, &format!("/api/v1/groups/{network}"), json!({"time_required": true})).await;
    assert_eq!((s, g["time_required"].as_bool()), (StatusCode::OK, Some(true)), "{g}");
    let (s, b) = t
        .post(
            sam,
            "/api/v1/tickets",
            json!({"title": "Needs time", "description": "d", "impact": 3, "urgency": 3,
                     "requester": "alice@example.com", "assignment_group": "Network"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let n = b["number"].as_str().unwrap().to_string();
    let resolve = json!({"resolution_code": "fixed", "resolution_notes": "Done"});
    let (s, e) = t.post(nina, &format!("/api/v1/tickets/{n}/resolve"), resolve.clone()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"]["fields"]["time_spent_minutes"].as_str().unwrap().contains("Network"), "{e}");
    let (_, still) = t.get(nina, &format!("/api/v1/tickets/{n}")).await;
    assert_ne!(still["state"], "resolved");
    let (s, tt) = t.get(nina, &format!("/api/v1/tickets/{n}/time")).await;
    assert_eq!(
        (s, tt["required_before_resolving"].as_bool(), tt["entries_count"].as_i64()),
        (StatusCode::OK, Some(true), Some(0))
    );
    let mut with_time = resolve.clone();
    with_time["time_spent_minutes"] = json!(20);
    let (s, b) = t.post(nina, &format!("/api/v1/tickets/{n}/resolve"), with_time).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, tt) = t.get(nina, &format!("/api/v1/tickets/{n}/time")).await;
    assert_eq!((tt["total_minutes"].as_i64(), tt["entries"][0]["work"].as_str()), (Some(20), Some("resolution")));

    // The console: the ticket page shows the total and logs time; the group page sets the rule.
    t.app.set_password("nina@example.com", PW.into()).await.unwrap();
    let mut w = Web::new(t);
    assert!(w.login("nina@example.com", PW).await.status.is_redirection());
    let n7 = &tickets[7];
    let before: i64 = ledger.iter().filter(|l| &l.0 == n7).map(|l| l.4).sum();
    let r = w
        .post(
            &format!("/agent/tickets/{n7}/log_time"),
            &[("minutes", "75"), ("work", "task"), ("note", "Imaged the laptop")],
        )
        .await;
    assert!(r.status.is_redirection(), "{}", r.body);
    let page = w.get(&format!("/agent/tickets/{n7}")).await;
    let total = before + 75;
    let shown = match (total / 60, total % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    };
    assert!(page.body.contains(&format!("<span id=\"time-total\">{shown}</span>")), "{shown}: {}", page.body);
    assert!(page.body.contains("Imaged the laptop"));
    let r = w.post(&format!("/agent/tickets/{n7}/log_time"), &[("minutes", "lots")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "a typed mistake is refused on the page");
    assert!(r.body.contains("minutes"), "{}", r.body);
}

/// The survey links the sink received, in order: (ticket number from the subject, link).
fn survey_links(sink: &crate::mail_servers::Sink) -> Vec<(String, String)> {
    sink.received()
        .into_iter()
        .filter(|(_, m, _)| m.subject.ends_with("How did we do?"))
        .map(|(_, m, _)| {
            let number = m.subject.trim_start_matches('[').split(']').next().unwrap().to_string();
            let at = m.text.find("https://help.example.com/survey/").expect("a survey link");
            let link = m.text[at..].split('?').next().unwrap().to_string();
            (number, link.trim_start_matches("https://help.example.com").to_string())
        })
        .collect()
}

async fn a_survey_goes_out_by_mail_works_once_expires_and_a_low_score_reaches_the_lead(engine: Engine) {
    if !crate::mail_servers::have_smtp_sink() {
        return;
    }
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let sam = &d.agent["Service Desk"];
    let (_, groups) = t.get(&d.admin, "/api/v1/groups").await;
    let desk_id =
        groups.as_array().unwrap().iter().find(|g| g["name"] == "Service Desk").unwrap()["id"].as_i64().unwrap();
    let (s, b) = t.patch(&d.admin, &format!("/api/v1/groups/{desk_id}"), json!({"lead": "lena@example.com"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = t
        .put(&d.admin, "/api/v1/settings/mail",
             json!({"addresses": ["help@example.com"], "from_name": "Example IT", "portal_url": "https://help.example.com/"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let mut settings = json!({"enabled": true, "sample_percent": 100, "delay_minutes": 60, "expiry_days": 7,
                              "cooldown_days": 0, "comment_required_below": 3, "follow_up_at_or_below": 2});
    let mut wrong = settings.clone();
    wrong["sample_percent"] = json!(101);
    let (s, e) = t.put(&d.admin, "/api/v1/settings/surveys", wrong).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["fields"]["sample_percent"].is_string(), "{e}");
    let (s, _) = t.put(sam, "/api/v1/settings/surveys", settings.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "only admins change the settings");
    let (s, b) = t.put(&d.admin, "/api/v1/settings/surveys", settings.clone()).await;
    assert_eq!(s, StatusCode::OK, "{b}");

    // A real relay (STARTTLS, AUTH) and the job worker that sends.
    let (sink, worker, _certs) = crate::mail_servers::relay(t);
    let run = || async {
        for _ in 0..4 {
            worker.run_due().await.unwrap();
        }
    };

    let start = at("2026-11-10T09:00:00Z");
    t.clock.set(Timestamp(start));
    let log = |title: &'static str, requester: &'static str| {
        let body = json!({"title": title, "description": "d", "impact": 3, "urgency": 3, "requester": requester,
                          "assignment_group": "Service Desk", "assignee": "sam@example.com"});
        async move {
            let (s, b) = t.post(sam, "/api/v1/tickets", body).await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
            b["number"].as_str().unwrap().to_string()
        }
    };
    let resolve = |n: String| async move {
        let (s, b) = t
            .post(
                sam,
                &format!("/api/v1/tickets/{n}/resolve"),
                json!({"resolution_code": "fixed", "resolution_notes": "Done"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    };
    let a = log("Printer jams", "alice@example.com").await;
    let b = log("VPN drops", "alice@example.com").await;
    let own = log("My own laptop", "sam@example.com").await;
    let dd = log("Mailbox full", "alice@example.com").await;
    let f = log("Screen flickers", "alice@example.com").await;
    for n in [&a, &b, &own, &dd, &f] {
        resolve(n.clone()).await;
    }
    // B is reopened before its survey is due; the agent who asked for himself is never asked.
    let (s, _) = t.post(&d.requester, &format!("/api/v1/tickets/{b}/reopen"), json!({"reason": "Again"})).await;
    assert_eq!(s, StatusCode::OK);
    t.clock.set(Timestamp(start + 30 * MIN));
    run().await;
    assert!(survey_links(&sink).is_empty(), "nothing before the delay");
    t.clock.set(Timestamp(start + 61 * MIN));
    run().await;
    let links = survey_links(&sink);
    let asked: BTreeSet<&str> = links.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(asked, [a.as_str(), dd.as_str(), f.as_str()].into_iter().collect(), "{links:?}");
    let link_of = |n: &str| links.iter().find(|(x, _)| x == n).unwrap().1.clone();
    let got = sink.received();
    let (env, m, _) = got.iter().find(|(_, m, _)| m.subject == format!("[{a}] How did we do?")).unwrap();
    assert_eq!(env["rcpt_to"], json!(["alice@example.com"]));
    assert!(m.text.contains("?score=5") && m.text.contains("?score=1"), "one link per score: {}", m.text);

    // Opening the link records nothing (mail scanners open links); the button does, once.
    let mut w = Web::new(t);
    let page = w.get(&format!("{}?score=2", link_of(&a))).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("value=\"2\" required checked"), "the chosen score is preselected: {}", page.body);
    let (_, open) = t.get(&d.requester, &format!("/api/v1/tickets/{a}/survey")).await;
    assert_eq!(open["state"], "open", "{open}");
    let r = w.post(&link_of(&a), &[("score", "2"), ("comment", "")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "a low score needs a comment");
    assert!(r.body.contains("comment") || r.body.contains("what went wrong"), "{}", r.body);
    let r = w.post(&link_of(&a), &[("score", "2"), ("comment", "Took three days to hear back")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("id=\"survey-done\""), "{}", r.body);
    let again = w.post(&link_of(&a), &[("score", "5"), ("comment", "")]).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "the link works once");
    let (_, done) = t.get(&d.lead, &format!("/api/v1/tickets/{a}/survey")).await;
    assert_eq!((done["state"].as_str(), done["score"].as_i64()), (Some("answered"), Some(2)), "{done}");
    let unknown = w.get(&format!("/survey/srv_{}", "0".repeat(64))).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // The low score opened a follow-up task for the group's lead; the answer is on the timeline.
    let task = done["follow_up"].as_str().expect("a follow-up task").to_string();
    let (_, task) = t.get(&d.lead, &format!("/api/v1/tickets/{task}")).await;
    assert_eq!(
        (task["assignee"].as_str(), task["assignment_group"].as_str()),
        (Some("lena@example.com"), Some("Service Desk")),
        "{task}"
    );
    assert!(task["description"].as_str().unwrap().contains("Took three days"), "{task}");
    let (_, tl) = t.get(sam, &format!("/api/v1/tickets/{a}/timeline?limit=100")).await;
    let items = tl["items"].as_array().unwrap();
    let entry = items.iter().find(|e| e["kind"] == "survey_answered").expect("the answer on the timeline");
    assert_eq!(entry["visibility"], "internal");
    let (_, public) = t.get(&d.requester, &format!("/api/v1/tickets/{a}/timeline?limit=100")).await;
    assert!(public["items"].as_array().unwrap().iter().all(|e| e["kind"] != "survey_answered"));

    // The requester answers another in the portal's API; a third expires unanswered.
    let (s, e) = t.post(sam, &format!("/api/v1/tickets/{dd}/survey"), json!({"score": 5})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "only the requester answers: {e}");
    let (s, e) = t.post(&d.requester, &format!("/api/v1/tickets/{dd}/survey"), json!({"score": 9})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["error"]["fields"]["score"].is_string(), "{e}");
    let (s, e) = t.post(&d.requester, &format!("/api/v1/tickets/{dd}/survey"), json!({"score": 5})).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    t.clock.set(Timestamp(start + 8 * DAY));
    let expired = w.get(&link_of(&f)).await;
    assert!(expired.body.contains("id=\"survey-expired\""), "{}", expired.body);
    let late = w.post(&link_of(&f), &[("score", "4"), ("comment", "")]).await;
    assert_eq!(late.status, StatusCode::CONFLICT);

    // The cooldown: asked within it, not asked again.
    settings["cooldown_days"] = json!(30);
    let (s, _) = t.put(&d.admin, "/api/v1/settings/surveys", settings).await;
    assert_eq!(s, StatusCode::OK);
    let g = log("Keyboard sticks", "alice@example.com").await;
    resolve(g.clone()).await;
    t.clock.set(Timestamp(start + 8 * DAY + 2 * 60 * MIN));
    run().await;
    assert!(survey_links(&sink).iter().all(|(n, _)| n != &g), "within the cooldown");
    let (s, _) = t.get(&d.requester, &format!("/api/v1/tickets/{g}/survey")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The reports: sent, answered, average, satisfied, low — and the lists behind them.
    let period = "from=2026-11-01&to=2026-12-01";
    let (s, k) = t.get(&d.lead, &format!("/api/v1/reports/kpis?{period}&by=agent")).await;
    assert_eq!(s, StatusCode::OK, "{k}");
    let c = &k["summary"]["csat"];
    assert_eq!((c["sent"].as_i64(), c["answered"].as_i64(), c["low"].as_i64()), (Some(3), Some(2), Some(1)), "{c}");
    assert_eq!(c["average_stars"].as_f64(), Some(3.5));
    assert_eq!((c["satisfied"]["count"].as_i64(), c["satisfied"]["of"].as_i64()), (Some(1), Some(2)));
    assert_eq!(c["response_rate"]["percent"].as_f64(), Some(66.7));
    let sam_row = k["breakdown"].as_array().unwrap().iter().find(|r| r["key"] == "sam@example.com").unwrap().clone();
    assert_eq!(sam_row["summary"]["csat"]["answered"], 2, "{sam_row}");
    let (total, got) = listed(t, &d.lead, &[], &format!("{period}&metric=survey_low"), 5).await;
    assert_eq!((total, got), (1, vec![a.clone()]));
    let (total, _) = listed(t, &d.lead, &[], &format!("{period}&metric=surveyed"), 2).await;
    assert_eq!(total, 3);
    let summary = csv(t, &d.lead, &format!("/api/v1/reports/csv/summary?{period}")).await;
    assert!(
        summary.contains("\"Satisfaction, average stars (of 5)\",3.5,")
            || summary.contains("Satisfaction, average stars (of 5),3.5,"),
        "{summary}"
    );
}

async fn a_weekly_report_reaches_the_mailbox_with_its_tables_as_csv_and_its_runs_are_listed(engine: Engine) {
    if !crate::mail_servers::have_smtp_sink() {
        return;
    }
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    month(&d).await;
    let (s, b) = t
        .put(&d.admin, "/api/v1/settings/mail",
             json!({"addresses": ["help@example.com"], "from_name": "Example IT", "portal_url": "https://help.example.com/"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (sink, worker, _certs) = crate::mail_servers::relay(t);

    // Mistakes are named, field by field.
    let good = json!({"name": "Weekly desk report", "frequency": "weekly", "weekday": 1, "hour": 7,
                      "time_zone": "Europe/Berlin", "recipients": ["lena@example.com", "admin@example.com"],
                      "filters": {"scope": "mine", "by": "tier"}});
    for (change, field) in [
        (json!({"recipients": ["alice@example.com"]}), "recipients[0]"),
        (json!({"time_zone": "Mars/Base"}), "time_zone"),
        (json!({"frequency": "hourly"}), "frequency"),
        (json!({"hour": 24}), "hour"),
        (json!({"filters": {"group": "Nope"}}), "filters.group"),
        (json!({"name": " "}), "name"),
    ] {
        let mut body = good.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (s, e) = t.post(&d.lead, "/api/v1/reports/schedules", body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{change}: {e}");
        assert!(e["error"]["fields"][field].is_string(), "{change}: {e}");
    }
    let (s, sc) = t.post(&d.lead, "/api/v1/reports/schedules", good.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{sc}");
    let id = sc["id"].as_i64().unwrap();
    // Monday 07:00 in Berlin is 06:00 UTC in December.
    assert_eq!(sc["next_run_at"], "2026-12-07T06:00:00.000Z", "{sc}");
    assert_eq!(sc["when"], "Every Monday at 07:00 (Europe/Berlin), the seven days before");
    let (s, _) = t.get(&d.agent["Service Desk"], &format!("/api/v1/reports/schedules/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another agent's schedule is not theirs to see");

    // Not due yet: nothing goes out. Due: the report of the week before goes to both.
    t.clock.set(Timestamp(at("2026-12-07T05:59:00Z")));
    worker.run_due().await.unwrap();
    assert!(sink.received().is_empty());
    t.clock.set(Timestamp(at("2026-12-07T06:00:30Z")));
    for _ in 0..3 {
        worker.run_due().await.unwrap();
    }
    let got = sink.received();
    assert_eq!(got.len(), 2, "one mail per recipient");
    let to: BTreeSet<String> = got.iter().map(|(env, _, _)| env["rcpt_to"][0].as_str().unwrap().to_string()).collect();
    assert_eq!(to, ["admin@example.com".to_string(), "lena@example.com".to_string()].into_iter().collect());
    let (_, m, _) = &got[0];
    assert_eq!(m.subject, "Weekly desk report: 2026-11-30 to 2026-12-06");
    let html = m.html.as_deref().expect("an HTML part");
    assert!(html.contains("Created and resolved per day") && html.contains("Tickets resolved"), "{html}");
    let names: BTreeSet<&str> = m.attachments.iter().map(|a| a.filename.as_str()).collect();
    for want in ["summary.csv", "days.csv", "backlog.csv", "workload.csv", "breakdown.csv", "time_totals.csv"] {
        assert!(names.contains(want), "{want} in {names:?}");
    }
    // The attachments are the API's CSV of the same period (the week in Berlin), as the lead sees it.
    let period = "from=2026-11-29T23:00:00Z&to=2026-12-06T23:00:00Z&scope=mine&by=tier";
    for table in ["days", "breakdown", "summary"] {
        let api = csv(t, &d.lead, &format!("/api/v1/reports/csv/{table}?{period}")).await;
        let sent = m.attachments.iter().find(|a| a.filename == format!("{table}.csv")).unwrap();
        assert_eq!(String::from_utf8_lossy(&sent.bytes), api, "{table}.csv");
    }
    let days = m.attachments.iter().find(|a| a.filename == "days.csv").unwrap();
    assert_eq!(String::from_utf8_lossy(&days.bytes).lines().count(), 1 + 8, "seven days, in UTC dates, and the header");

    // The run is listed with its recipients; the next is a week on.
    let (_, runs) = t.get(&d.lead, &format!("/api/v1/reports/schedules/{id}/runs")).await;
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["outcome"], "sent");
    assert_eq!(runs[0]["period_from"], "2026-11-29T23:00:00.000Z");
    assert_eq!(runs[0]["recipients"], json!(["lena@example.com", "admin@example.com"]));
    let (_, sc) = t.get(&d.lead, &format!("/api/v1/reports/schedules/{id}")).await;
    assert_eq!(sc["next_run_at"], "2026-12-14T06:00:00.000Z");

    // Paused, it sends nothing; the console lists it and its runs.
    let (s, sc) = t.patch(&d.lead, &format!("/api/v1/reports/schedules/{id}"), json!({"active": false})).await;
    assert_eq!((s, sc["next_run_at"].is_null()), (StatusCode::OK, true), "{sc}");
    t.clock.set(Timestamp(at("2026-12-14T06:00:30Z")));
    worker.run_due().await.unwrap();
    assert_eq!(sink.received().len(), 2);
    let mut w = Web::new(t);
    assert!(w.login("lena@example.com", PW).await.status.is_redirection());
    let page = w.get(&format!("/agent/reports/schedules/{id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("Weekly desk report") && page.body.contains("2026-11-30 to 2026-12-06"),
        "{}",
        page.body
    );
    let r = w
        .post(
            "/agent/reports/schedules",
            &[
                ("name", "Monthly"),
                ("frequency", "monthly"),
                ("hour", "8"),
                ("time_zone", "UTC"),
                ("recipients", "lena@example.com"),
                ("group", "Network"),
            ],
        )
        .await;
    assert!(r.status.is_redirection(), "{}", r.body);
    let (_, all) = t.get(&d.lead, "/api/v1/reports/schedules").await;
    let monthly = all.as_array().unwrap().iter().find(|s| s["name"] == "Monthly").unwrap().clone();
    assert_eq!(
        (monthly["filters"]["group"].as_str(), monthly["next_run_at"].as_str()),
        (Some("Network"), Some("2027-01-01T08:00:00.000Z")),
        "{monthly}"
    );
    let (s, _) = t.delete(&d.lead, &format!("/api/v1/reports/schedules/{id}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

async fn the_backlog_of_each_day_is_kept_as_it_was_then(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let sam = &d.agent["Service Desk"];
    let admin = &d.admin;
    let worker = orion_app::jobs::standard_worker(t.app.clone(), "snapshot-worker");
    let log = |group: &'static str, at: i64| async move {
        t.clock.set(Timestamp(at));
        let (s, b) = t
            .post(
                sam,
                "/api/v1/tickets",
                json!({"title": "Backlog", "description": "d", "impact": 3, "urgency": 3,
                         "requester": "alice@example.com", "assignment_group": group}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        b["number"].as_str().unwrap().to_string()
    };
    let resolve = |n: String, at: i64| async move {
        t.clock.set(Timestamp(at));
        let (s, b) = t
            .post(
                admin,
                &format!("/api/v1/tickets/{n}/resolve"),
                json!({"resolution_code": "fixed", "resolution_notes": "Done"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    };
    // Monday: four at the service desk, one with the network team restricted to it.
    let day1 = at("2026-11-02T09:00:00Z");
    let mut desk_tickets = Vec::new();
    for i in 0..4 {
        desk_tickets.push(log("Service Desk", day1 + i * MIN).await);
    }
    let secret = log("Network", day1 + 10 * MIN).await;
    let (s, b) = t.put(&d.admin, &format!("/api/v1/tickets/{secret}/restriction"), json!({"group": "Network"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // The job keeps Monday's backlog at 00:05 on Tuesday, and queues Wednesday's.
    t.app.schedule_backlog_snapshot().await.unwrap();
    t.clock.set(Timestamp(at("2026-11-03T00:04:00Z")));
    worker.run_due().await.unwrap();
    let (_, k) = t.get(&d.lead, "/api/v1/reports/kpis?from=2026-11-02&to=2026-11-06").await;
    assert_eq!(k["trend"], json!([]), "not before 00:05");
    t.clock.set(Timestamp(at("2026-11-03T00:05:00Z")));
    worker.run_due().await.unwrap();
    // Tuesday: two resolved, one more logged; kept on Wednesday.
    resolve(desk_tickets[0].clone(), at("2026-11-03T10:00:00Z")).await;
    resolve(desk_tickets[1].clone(), at("2026-11-03T10:05:00Z")).await;
    let late = log("Service Desk", at("2026-11-03T15:00:00Z")).await;
    t.clock.set(Timestamp(at("2026-11-04T00:05:00Z")));
    worker.run_due().await.unwrap();
    // Wednesday: everything resolved; the empty backlog is kept too.
    for n in [&desk_tickets[2], &desk_tickets[3], &late, &secret] {
        resolve(n.clone(), at("2026-11-04T11:00:00Z")).await;
    }
    t.clock.set(Timestamp(at("2026-11-05T00:05:00Z")));
    worker.run_due().await.unwrap();
    assert!(!t.app.take_backlog_snapshot().await.unwrap(), "a day kept is not taken again");
    // Thursday: a reopen and new work change today, not the days kept.
    let (s, _) = t.post(&d.requester, &format!("/api/v1/tickets/{late}/reopen"), json!({"reason": "Again"})).await;
    assert_eq!(s, StatusCode::OK);
    log("Service Desk", at("2026-11-05T09:00:00Z")).await;

    let period = "from=2026-11-02&to=2026-11-06";
    let trend = |token: String, extra: &'static str| async move {
        let (s, k) = t.get(&token, &format!("/api/v1/reports/kpis?{period}{extra}")).await;
        assert_eq!(s, StatusCode::OK, "{k}");
        k["trend"].clone()
    };
    let all = trend(d.lead.clone(), "").await;
    let days: Vec<(&str, i64)> =
        all.as_array().unwrap().iter().map(|x| (x["date"].as_str().unwrap(), x["open"].as_i64().unwrap())).collect();
    assert_eq!(days, vec![("2026-11-02", 5), ("2026-11-03", 4), ("2026-11-04", 0)], "{all}");
    // By age as it was: on Tuesday night, Monday's two are a day old, Tuesday's one is not.
    assert_eq!(all[1]["bands"], json!([1, 3, 0, 0, 0]), "{all}");
    assert_eq!(all[0]["bands"], json!([5, 0, 0, 0, 0]));
    // Who may see what: the restricted ticket is counted only for its group's members.
    let (_, only_desk) = t.get(sam, &format!("/api/v1/reports/kpis?{period}")).await;
    assert_eq!(only_desk["trend"][0]["open"], 4, "{}", only_desk["trend"]);
    let network = trend(d.lead.clone(), "&group=Network").await;
    assert_eq!((network[0]["open"].as_i64(), network[1]["open"].as_i64()), (Some(1), Some(1)));
    let by_channel = trend(d.lead.clone(), "&channel=phone").await;
    assert!(by_channel.is_null(), "a filter the snapshots do not keep shows no trend");
    // The CSV and the dashboard say the same.
    let rows = csv(t, &d.lead, &format!("/api/v1/reports/csv/trend?{period}")).await;
    assert_eq!(
        rows,
        "date,open,pending,overdue,under_1d,1d_3d,3d_7d,7d_30d,over_30d\n2026-11-02,5,0,0,5,0,0,0,0\n2026-11-03,4,0,0,1,3,0,0,0\n2026-11-04,0,0,0,0,0,0,0,0\n"
    );
    let mut w = Web::new(t);
    assert!(w.login("lena@example.com", PW).await.status.is_redirection());
    let page = w.get(&format!("/agent/reports?{period}")).await;
    assert!(
        page.body.contains("<svg class=\"chart trend\"") && page.body.contains("id=\"report-trend\""),
        "{}",
        page.body
    );
}

async fn changes_alerts_and_problems_of_the_period_are_counted_and_listed(engine: Engine) {
    let Some(d) = desk(engine).await else { return };
    let t = &d.t;
    let nina = &d.agent["Network"];
    let ok = |token: String, path: String, body: Value| async move {
        let (s, b) = t.post(&token, &path, body).await;
        assert!(s.is_success(), "{path}: {s} {b}");
        b
    };
    t.clock.set(Timestamp(at("2026-11-10T09:00:00Z")));
    // Three emergency changes implemented and reviewed: two successful, one backed out.
    let mut changes = BTreeMap::new();
    for (i, outcome) in ["successful", "successful_with_issues", "backed_out"].into_iter().enumerate() {
        let c = ok(
            nina.clone(),
            "/api/v1/changes".into(),
            json!({"title": format!("Patch switch {i}"), "change_type": "emergency", "implementation_plan": "upgrade",
                   "backout_plan": "restore", "test_plan": "ping", "risk_impact": 2, "risk_complexity": 2,
                   "risk_experience": 2, "risk_backout": 1, "planned_start": "2026-11-10T10:00:00Z",
                   "planned_end": "2026-11-10T12:00:00Z", "assignment_group": "Network",
                   "assignee": "nina@example.com", "approvers": ["lena@example.com"]}),
        )
        .await;
        let n = c["ticket"]["number"].as_str().unwrap().to_string();
        for to in ["assessment", "implementing", "review"] {
            let c = ok(nina.clone(), format!("/api/v1/changes/{n}/phase"), json!({"phase": to})).await;
            if to == "review" {
                for task in c["tasks"].as_array().into_iter().flatten() {
                    let id = task["id"].as_i64().unwrap();
                    ok(nina.clone(), format!("/api/v1/changes/{n}/tasks/{id}/done"), json!({})).await;
                }
            }
        }
        ok(d.lead.clone(), format!("/api/v1/changes/{n}/approvals"), json!({"decision": "approved", "comment": "ok"}))
            .await;
        ok(nina.clone(), format!("/api/v1/changes/{n}/review"), json!({"outcome": outcome, "notes": "done"})).await;
        changes.insert(n, outcome);
    }
    // Two problems logged.
    let mut problems = BTreeSet::new();
    for title in ["Switch firmware crashes", "Printers drop off the network"] {
        let p = ok(nina.clone(), "/api/v1/problems".into(), json!({"title": title, "description": "Again and again"}))
            .await;
        problems.insert(p["ticket"]["number"].as_str().or(p["number"].as_str()).unwrap().to_string());
    }
    // Three alerts from Alertmanager.
    let (s, b) = t
        .post(
            &d.admin,
            "/api/v1/integrations",
            json!({"name": "Prometheus", "kind": "alertmanager", "assignment_group": "Network"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let token = b["token"].as_str().unwrap().to_string();
    let alert = |name: &str, instance: &str| {
        json!({
        "status": "firing", "labels": {"alertname": name, "instance": instance, "severity": "critical"},
        "annotations": {"summary": format!("{name} on {instance}")}, "startsAt": "2026-11-10T09:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus.local/graph",
        "fingerprint": format!("{name}-{instance}")})
    };
    for (group, alerts) in [
        ("SwitchDown", vec![alert("SwitchDown", "sw1"), alert("SwitchDown", "sw2")]),
        ("DiskFull", vec![alert("DiskFull", "db1")]),
    ] {
        let payload = json!({"receiver": "orion", "status": "firing", "alerts": alerts, "groupLabels": {},
            "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am", "version": "4",
            "groupKey": format!("{{}}:{{alertname=\"{group}\"}}"), "truncatedAlerts": 0});
        let r = t
            .client
            .post(format!("{}/api/v1/integrations/alertmanager", t.base))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(payload.to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    }

    let period = "from=2026-11-01&to=2026-12-01";
    let (s, k) = t.get(&d.lead, &format!("/api/v1/reports/kpis?{period}")).await;
    assert_eq!(s, StatusCode::OK, "{k}");
    let sv = &k["service"];
    assert_eq!(
        (sv["change_success"]["count"].as_i64(), sv["change_success"]["of"].as_i64()),
        (Some(2), Some(3)),
        "{sv}"
    );
    assert_eq!(sv["change_success"]["percent"].as_f64(), Some(66.7));
    assert_eq!((sv["alerts"].as_i64(), sv["problems_opened"].as_i64()), (Some(3), Some(2)), "{sv}");
    let (total, got) = listed(t, &d.lead, &[], &format!("{period}&metric=changes_reviewed"), 2).await;
    assert_eq!((total, got.into_iter().collect::<BTreeSet<_>>()), (3, changes.keys().cloned().collect()));
    let (total, got) = listed(t, &d.lead, &[], &format!("{period}&metric=changes_failed"), 2).await;
    let failed: BTreeSet<String> =
        changes.iter().filter(|(_, o)| **o == "backed_out").map(|(n, _)| n.clone()).collect();
    assert_eq!((total, got.into_iter().collect::<BTreeSet<_>>()), (1, failed));
    let (total, got) = listed(t, &d.lead, &[], &format!("{period}&metric=problems_opened"), 5).await;
    assert_eq!((total, got.into_iter().collect::<BTreeSet<_>>()), (2, problems));
    // The incidents the alerts opened: each came from monitoring, and the ratio is alerts to them.
    let (total, got) = listed(t, &d.lead, &[], &format!("{period}&metric=alert_incidents"), 5).await;
    assert!((1..=3).contains(&total), "{total}");
    assert_eq!(sv["incidents_from_alerts"].as_i64(), Some(total));
    for n in &got {
        let (_, ticket) = t.get(&d.lead, &format!("/api/v1/tickets/{n}")).await;
        assert_eq!(ticket["channel"], "monitoring", "{ticket}");
    }
    let want = (3.0 * 10.0 / total as f64).round() / 10.0;
    assert_eq!(sv["alerts_per_incident"].as_f64(), Some(want));
    // The month before has none of it.
    let (_, before) = t.get(&d.lead, "/api/v1/reports/kpis?from=2026-10-01&to=2026-11-01").await;
    assert_eq!(
        (before["service"]["alerts"].as_i64(), before["service"]["change_success"]["of"].as_i64()),
        (Some(0), Some(0))
    );
}
