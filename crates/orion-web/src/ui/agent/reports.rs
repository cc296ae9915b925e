//! Reports → the leads' dashboard: the KPIs of a period under filters against the period before,
//! created and resolved per day, the backlog by age, the workload per agent and a breakdown, each
//! number opening the tickets it counts; charts as SVG drawn here, each with its table and CSV.

use crate::AppState;
use crate::ui::layout::{Layout, error_page, explain, render};
use crate::ui::session::StaffUser;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use orion_app::reports::{Kpis, ReportQuery, ReportTickets, SummaryRow, summary_rows};
use std::collections::HashMap;
use std::fmt::Write;

pub(super) fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/agent/reports", get(dashboard))
        .route("/agent/reports/tickets", get(tickets))
        .route("/agent/reports/csv/{table}", get(csv))
        .route("/agent/reports/schedules", get(schedules).post(create_schedule))
        .route("/agent/reports/schedules/{id}", get(schedule).post(save_schedule))
        .route("/agent/reports/schedules/{id}/send", axum::routing::post(send_schedule))
        .route("/agent/reports/schedules/{id}/delete", axum::routing::post(delete_schedule))
}

/// The filter fields, in the order links carry them.
const FIELDS: [&str; 14] = [
    "from", "to", "scope", "group", "tier", "kind", "priority", "category", "channel", "agent", "by", "metric", "band",
    "after",
];

/// The query fields of a page address as the reports read them (other fields are ignored).
fn query_of(q: &HashMap<String, String>) -> ReportQuery {
    serde_json::to_value(q).and_then(serde_json::from_value).unwrap_or_default()
}

/// `?from=…&group=…` of the query with `set` replacing (or, with `None`, removing) fields.
fn link(base: &str, q: &HashMap<String, String>, set: &[(&str, Option<&str>)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for f in FIELDS {
        let v = match set.iter().find(|(k, _)| *k == f) {
            Some((_, v)) => v.map(str::to_string),
            None if f == "metric" || f == "band" || f == "after" => None,
            None => q.get(f).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()),
        };
        if let Some(v) = v {
            s.append_pair(f, &v);
        }
    }
    format!("{base}?{}", s.finish())
}

/// One line of the summary with both periods' values and where each leads.
struct Line {
    label: &'static str,
    now: String,
    before: String,
    now_href: Option<String>,
    before_href: Option<String>,
}

/// A bar chart of created and resolved per day, as inline SVG (readable without JavaScript and in print).
fn days_chart(k: &Kpis) -> String {
    let n = k.days.len().max(1);
    let max = k.days.iter().map(|d| d.created.max(d.resolved)).max().unwrap_or(0).max(1);
    let (w, h, pad) = (720.0_f64, 180.0_f64, 24.0_f64);
    let slot = (w - pad) / n as f64;
    let bar = (slot / 2.0 - 1.0).max(1.0);
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {}\" role=\"img\" aria-labelledby=\"days-title\"><title id=\"days-title\">Tickets created and resolved per day, {} days; the busiest day {} tickets</title>",
        h + 20.0,
        k.days.len(),
        max
    );
    let _ = write!(svg, "<line x1=\"{pad}\" y1=\"{h}\" x2=\"{w}\" y2=\"{h}\" class=\"axis\"/>");
    let _ = write!(
        svg,
        "<text x=\"0\" y=\"12\" class=\"tick\">{max}</text><text x=\"0\" y=\"{h}\" class=\"tick\">0</text>"
    );
    for (i, d) in k.days.iter().enumerate() {
        let x = pad + i as f64 * slot;
        for (j, (v, class)) in [(d.created, "created"), (d.resolved, "resolved")].into_iter().enumerate() {
            let bh = v as f64 / max as f64 * (h - 16.0);
            let _ = write!(
                svg,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{bh:.1}\" class=\"{class}\"><title>{}: {v} {class}</title></rect>",
                x + j as f64 * bar,
                h - bh,
                d.date
            );
        }
        if n <= 31 || i % (n / 15).max(1) == 0 {
            let _ = write!(svg, "<text x=\"{:.1}\" y=\"{}\" class=\"tick\">{}</text>", x, h + 14.0, &d.date[5..]);
        }
    }
    svg.push_str("</svg>");
    svg
}

/// The backlog at the end of each day as stacked areas, one per age band (youngest at the
/// bottom), from the nightly snapshots.
fn trend_chart(k: &Kpis) -> String {
    let Some(days) = k.trend.as_ref().filter(|d| !d.is_empty()) else { return String::new() };
    let (w, h, pad) = (720.0_f64, 180.0_f64, 24.0_f64);
    let max = days.iter().map(|d| d.open).max().unwrap_or(0).max(1) as f64;
    let step = if days.len() > 1 { (w - pad) / (days.len() - 1) as f64 } else { 0.0 };
    let x = |i: usize| pad + i as f64 * step;
    let y = |v: i64| h - v as f64 / max * (h - 16.0);
    let mut svg = format!(
        "<svg class=\"chart trend\" viewBox=\"0 0 {w} {}\" role=\"img\" aria-labelledby=\"trend-title\"><title id=\"trend-title\">Open tickets at the end of each day by age, {} days; the most {}</title>",
        h + 20.0,
        days.len(),
        max
    );
    let _ = write!(svg, "<line x1=\"{pad}\" y1=\"{h}\" x2=\"{w}\" y2=\"{h}\" class=\"axis\"/>");
    let _ = write!(
        svg,
        "<text x=\"0\" y=\"12\" class=\"tick\">{max}</text><text x=\"0\" y=\"{h}\" class=\"tick\">0</text>"
    );
    let bands = days.first().map(|d| d.bands.len()).unwrap_or(0);
    for b in 0..bands {
        let below = |d: &orion_app::reports::TrendDay| d.bands.iter().take(b).sum::<i64>();
        let mut points: Vec<String> = Vec::new();
        for (i, d) in days.iter().enumerate() {
            points.push(format!("{:.1},{:.1}", x(i), y(below(d) + d.bands[b])));
        }
        for (i, d) in days.iter().enumerate().rev() {
            points.push(format!("{:.1},{:.1}", x(i), y(below(d))));
        }
        let _ = write!(svg, "<polygon points=\"{}\" class=\"band{b}\"/>", points.join(" "));
    }
    let n = days.len();
    for (i, d) in days.iter().enumerate() {
        if n <= 31 || i % (n / 15).max(1) == 0 {
            let _ =
                write!(svg, "<text x=\"{:.1}\" y=\"{}\" class=\"tick\">{}</text>", x(i) - 10.0, h + 14.0, &d.date[5..]);
        }
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars of the backlog's age bands.
fn backlog_chart(k: &Kpis) -> String {
    let max = k.backlog.bands.iter().map(|b| b.tickets).max().unwrap_or(0).max(1);
    let row = 26.0_f64;
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 720 {}\" role=\"img\" aria-labelledby=\"backlog-title\"><title id=\"backlog-title\">Open tickets by age, {} in all</title>",
        row * k.backlog.bands.len() as f64,
        k.backlog.open
    );
    for (i, b) in k.backlog.bands.iter().enumerate() {
        let y = i as f64 * row;
        let bw = b.tickets as f64 / max as f64 * 520.0;
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{:.1}\" class=\"tick\">{}</text><rect x=\"140\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"18\" class=\"created\"/><text x=\"{:.1}\" y=\"{:.1}\" class=\"tick\">{}</text>",
            y + 14.0,
            b.label,
            y + 2.0,
            146.0 + bw,
            y + 14.0,
            b.tickets
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A ring of shares (a donut) with its legend: each slice a circle's stroke dashed to its
/// share, so it draws the same in print and without JavaScript.
fn donut(id: &str, title: &str, slices: &[(String, i64)]) -> String {
    let total: i64 = slices.iter().map(|s| s.1).sum();
    let (r, c) = (50.0_f64, 70.0_f64);
    let round = 2.0 * std::f64::consts::PI * r;
    let mut svg = format!(
        "<svg class=\"chart donut\" viewBox=\"0 0 420 {}\" role=\"img\" aria-labelledby=\"{id}\"><title id=\"{id}\">{}</title>",
        (c * 2.0).max(24.0 * slices.len() as f64 + 16.0),
        askama::filters::escape(title, askama::filters::Html).map(|e| e.to_string()).unwrap_or_default()
    );
    let _ = write!(svg, "<circle cx=\"{c}\" cy=\"{c}\" r=\"{r}\" class=\"ring\"/>");
    let mut offset = 0.0;
    for (i, (label, v)) in slices.iter().enumerate() {
        let share = if total > 0 { *v as f64 / total as f64 } else { 0.0 };
        let len = share * round;
        if len > 0.0 {
            let _ = write!(
                svg,
                "<circle cx=\"{c}\" cy=\"{c}\" r=\"{r}\" class=\"slice s{}\" stroke-dasharray=\"{len:.2} {round:.2}\" stroke-dashoffset=\"{:.2}\" transform=\"rotate(-90 {c} {c})\"/>",
                i % 6,
                -offset
            );
        }
        offset += len;
        let label = askama::filters::escape(label, askama::filters::Html).map(|e| e.to_string()).unwrap_or_default();
        let y = 16.0 + i as f64 * 24.0;
        let _ = write!(
            svg,
            "<rect x=\"160\" y=\"{:.1}\" width=\"12\" height=\"12\" class=\"swatch s{}\"/><text x=\"180\" y=\"{:.1}\" class=\"tick\">{label}: {:.0} %</text>",
            y - 10.0,
            i % 6,
            y,
            share * 100.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Minutes as hours with one decimal.
fn hours(minutes: i64) -> String {
    format!("{:.1}", minutes as f64 / 60.0)
}

/// One line of the time tables: where the time went, how much, and the tickets behind it.
struct TimeLine {
    label: String,
    hours: String,
    entries: i64,
    tickets: Cell,
}

/// A number and the list behind it.
struct Cell {
    text: String,
    href: String,
}

/// One agent's line of the workload.
struct WorkRow {
    name: String,
    open: Cell,
    pending: Cell,
    overdue: Cell,
}

/// One line of the breakdown.
struct BreakRow {
    label: String,
    cells: Vec<Cell>,
}

/// Where each table downloads as CSV.
struct CsvLinks {
    summary: String,
    days: String,
    backlog: String,
    workload: String,
    breakdown: String,
    time: String,
    time_totals: String,
    trend: String,
    /// The schedule form with this report's filters
    schedule: String,
}

#[derive(Template)]
#[template(path = "agent/reports.html")]
struct Dashboard {
    l: Layout,
    k: Option<Kpis>,
    lines: Vec<Line>,
    days_svg: String,
    backlog_svg: String,
    trend_svg: String,
    /// Working time with each tier against its OLA target, of the tickets resolved in the period
    ola: Vec<orion_app::ola::OlaFigures>,
    /// The service management lines: (label, value, link to the tickets)
    service: Vec<(String, String, Option<String>)>,
    /// (label, count, link) per backlog band, overdue last
    bands: Vec<(String, i64, String)>,
    /// Every open ticket under the filters
    open_href: String,
    workload: Vec<WorkRow>,
    breakdown: Vec<BreakRow>,
    breakdown_heads: Vec<&'static str>,
    /// Time logged per tier and per category, and the tiers' shares as a donut
    time_tiers: Vec<TimeLine>,
    time_categories: Vec<TimeLine>,
    time_svg: String,
    csv: CsvLinks,
    /// "2026-11-02 to 2026-11-30 (29 days), compared with …"
    period: String,
    f: HashMap<String, String>,
    groups: Vec<String>,
    categories: Vec<String>,
    error: Option<String>,
}

impl Dashboard {
    /// A filter's value as given (empty when not).
    fn v(&self, k: &str) -> &str {
        self.f.get(k).map(|s| s.trim()).unwrap_or("")
    }

    fn is(&self, k: &str, value: &str) -> bool {
        self.v(k) == value
    }

    fn band_names(&self) -> &'static [(&'static str, &'static str)] {
        &orion_app::reports::figures::AGE_BANDS
    }

    fn hours_text(&self, minutes: &i64) -> String {
        match *minutes {
            60 => "1 hour".into(),
            m => format!("{} hours", hours(m)),
        }
    }
}

/// The period and the one before, as dates a person reads (the last day included).
fn period_text(k: &Kpis) -> String {
    let ms = |s: &str| orion_domain::Timestamp::parse_day_or_instant("t", s).map(|t| t.as_millis()).unwrap_or(0);
    let (from, to, before) = (ms(&k.from), ms(&k.to), ms(&k.previous_from));
    let day = |at: i64| orion_domain::Timestamp(at).to_rfc3339()[..10].to_string();
    let days = (to - from + 86_399_999) / 86_400_000;
    format!(
        "{} to {} ({days} day{}), compared with {} to {}.",
        day(from),
        day(to - 1),
        if days == 1 { "" } else { "s" },
        day(before),
        day(from - 1)
    )
}

fn summary_links(q: &HashMap<String, String>, rows: &[SummaryRow], previous: &[SummaryRow], k: &Kpis) -> Vec<Line> {
    rows.iter()
        .zip(previous)
        .map(|(now, before)| Line {
            label: now.label,
            now: now.value.clone(),
            before: before.value.clone(),
            now_href: now.metric.map(|m| {
                link("/agent/reports/tickets", q, &[("metric", Some(m)), ("from", Some(&k.from)), ("to", Some(&k.to))])
            }),
            before_href: before.metric.map(|m| {
                link(
                    "/agent/reports/tickets",
                    q,
                    &[("metric", Some(m)), ("from", Some(&k.previous_from)), ("to", Some(&k.from))],
                )
            }),
        })
        .collect()
}

async fn dashboard(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let l = Layout::new(Some(&user), "Reports", "reports", None);
    let groups =
        s.app.list_groups(&user.actor).await.map(|g| g.into_iter().map(|g| g.name).collect()).unwrap_or_default();
    let categories =
        s.app.list_categories(&user.actor).await.map(|c| c.into_iter().map(|c| c.path).collect()).unwrap_or_default();
    let to_csv = |table: &str| link(&format!("/agent/reports/csv/{table}"), &q, &[]);
    let csv = CsvLinks {
        summary: to_csv("summary"),
        days: to_csv("days"),
        backlog: to_csv("backlog"),
        workload: to_csv("workload"),
        breakdown: to_csv("breakdown"),
        time: to_csv("time"),
        time_totals: to_csv("time_totals"),
        trend: to_csv("trend"),
        schedule: link("/agent/reports/schedules", &q, &[("from", None), ("to", None)]),
    };
    let mut page = Dashboard {
        l,
        k: None,
        lines: Vec::new(),
        days_svg: String::new(),
        backlog_svg: String::new(),
        trend_svg: String::new(),
        service: Vec::new(),
        ola: Vec::new(),
        bands: Vec::new(),
        open_href: String::new(),
        workload: Vec::new(),
        breakdown: Vec::new(),
        breakdown_heads: Vec::new(),
        time_tiers: Vec::new(),
        time_categories: Vec::new(),
        time_svg: String::new(),
        csv,
        period: String::new(),
        f: q.clone(),
        groups,
        categories,
        error: None,
    };
    match s.app.report_kpis(&user.actor, &query_of(&q)).await {
        Ok(k) => {
            let ola = orion_app::ola::OlaQuery {
                from: Some(k.from.clone()),
                to: Some(k.to.clone()),
                group: q.get("group").map(|g| g.trim().to_string()).filter(|g| !g.is_empty()),
            };
            page.ola = s.app.ola_report(&user.actor, &ola).await.map(|o| o.tiers).unwrap_or_default();
            let drill = |set: &[(&str, Option<&str>)]| {
                let mut all: Vec<(&str, Option<&str>)> = vec![("from", Some(&k.from)), ("to", Some(&k.to))];
                all.extend_from_slice(set);
                link("/agent/reports/tickets", &q, &all)
            };
            page.period = period_text(&k);
            page.lines = summary_links(&q, &summary_rows(&k.summary), &summary_rows(&k.previous), &k);
            page.days_svg = days_chart(&k);
            page.backlog_svg = backlog_chart(&k);
            page.trend_svg = trend_chart(&k);
            let sv = &k.service;
            let pct = |r: &orion_app::reports::figures::Rate| {
                r.percent.map(|p| format!("{p:.1} % of {}", r.of)).unwrap_or_else(|| "–".into())
            };
            page.service = vec![
                (
                    "Changes successful".into(),
                    pct(&sv.change_success),
                    Some(drill(&[("metric", Some("changes_reviewed"))])),
                ),
                (
                    "Changes failed or backed out".into(),
                    (sv.change_success.of - sv.change_success.count).to_string(),
                    Some(drill(&[("metric", Some("changes_failed"))])),
                ),
                ("Monitoring alerts first seen".into(), sv.alerts.to_string(), None),
                (
                    "Incidents from those alerts".into(),
                    sv.incidents_from_alerts.to_string(),
                    Some(drill(&[("metric", Some("alert_incidents"))])),
                ),
                (
                    "Alerts per incident".into(),
                    sv.alerts_per_incident.map(|a| format!("{a:.1}")).unwrap_or_else(|| "–".into()),
                    None,
                ),
                (
                    "Problems logged".into(),
                    sv.problems_opened.to_string(),
                    Some(drill(&[("metric", Some("problems_opened"))])),
                ),
                (
                    "Problems opened from recurring incidents".into(),
                    sv.problems_from_recurring_incidents.to_string(),
                    None,
                ),
            ];
            page.bands = k
                .backlog
                .bands
                .iter()
                .map(|b| (b.label.clone(), b.tickets, drill(&[("metric", Some("backlog")), ("band", Some(&b.band))])))
                .collect();
            page.open_href = drill(&[("metric", Some("backlog"))]);
            page.bands.push((
                "SLA target breached or past due".into(),
                k.backlog.overdue,
                drill(&[("metric", Some("backlog")), ("band", Some("overdue"))]),
            ));
            page.bands.push((
                "SLA target due within the hour".into(),
                k.backlog.at_risk,
                drill(&[("metric", Some("backlog")), ("band", Some("at_risk"))]),
            ));
            page.workload = k
                .workload
                .iter()
                .map(|w| {
                    let agent = w.agent.clone().unwrap_or_else(|| "none".into());
                    let base = [("metric", Some("backlog")), ("agent", Some(agent.as_str()))];
                    WorkRow {
                        name: w.name.clone(),
                        open: Cell { text: w.open.to_string(), href: drill(&base) },
                        pending: Cell {
                            text: w.pending.to_string(),
                            href: drill(&[base[0], base[1], ("band", Some("pending"))]),
                        },
                        overdue: Cell {
                            text: w.overdue.to_string(),
                            href: drill(&[base[0], base[1], ("band", Some("overdue"))]),
                        },
                    }
                })
                .collect();
            if let Some(by) = k.by.as_deref() {
                page.breakdown_heads = vec![
                    "Created",
                    "Resolved",
                    "First response, median (min)",
                    "Resolution, median (min)",
                    "Resolution, 90th percentile (min)",
                    "First-contact resolution",
                    "Resolution target met",
                    "Reopened",
                    "Time logged (hours)",
                    "Satisfaction (average stars)",
                ];
                page.breakdown = k
                    .breakdown
                    .iter()
                    .map(|b| {
                        let at = |m: &'static str| drill(&[(by, Some(b.key.as_str())), ("metric", Some(m))]);
                        let mins = |v: Option<i64>| v.map(|m| m.to_string()).unwrap_or_else(|| "–".into());
                        let pct = |r: &orion_app::reports::figures::Rate| {
                            r.percent.map(|p| format!("{p:.1} %")).unwrap_or_else(|| "–".into())
                        };
                        let s = &b.summary;
                        let cell = |text: String, m: &'static str| Cell { text, href: at(m) };
                        BreakRow {
                            label: b.label.clone(),
                            cells: vec![
                                cell(s.created.to_string(), "created"),
                                cell(s.resolved.to_string(), "resolved"),
                                cell(mins(s.mtta.median_minutes), "responded"),
                                cell(mins(s.mttr.median_minutes), "resolved"),
                                cell(mins(s.mttr.p90_minutes), "resolved"),
                                cell(pct(&s.first_contact_resolution), "first_contact"),
                                cell(pct(&s.sla_resolution), "resolution_breached"),
                                cell(pct(&s.reopen_rate), "reopened"),
                                cell(hours(s.time_minutes), "time_logged"),
                                cell(
                                    s.csat.average_stars.map(|a| format!("{a:.1}")).unwrap_or_else(|| "–".into()),
                                    "survey_answered",
                                ),
                            ],
                        }
                    })
                    .collect();
            }
            let time_line = |field: &'static str| {
                move |t: &orion_app::reports::TimeSpent| TimeLine {
                    label: t.label.clone(),
                    hours: hours(t.minutes),
                    entries: t.entries,
                    tickets: Cell {
                        text: t.tickets.to_string(),
                        href: drill(&[(field, Some(t.key.as_str())), ("metric", Some("time_logged"))]),
                    },
                }
            };
            page.time_tiers = k.time_by_tier.iter().map(time_line("tier")).collect();
            page.time_categories = k.time_by_category.iter().map(time_line("category")).collect();
            let shares: Vec<(String, i64)> = k.time_by_tier.iter().map(|t| (t.label.clone(), t.minutes)).collect();
            page.time_svg = donut(
                "time-title",
                &format!("Share of the {} hours logged, per tier", hours(k.summary.time_minutes)),
                &shares,
            );
            page.k = Some(k);
            render(&page)
        }
        Err(e @ orion_app::AppError::Validation(_)) => {
            page.error = Some(explain(&e));
            let mut resp = render(&page);
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            resp
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

#[derive(Template)]
#[template(path = "agent/report_tickets.html")]
struct TicketsPage {
    l: Layout,
    r: Option<ReportTickets>,
    back: String,
    next: Option<String>,
    csv: String,
    period: String,
    error: Option<String>,
}

async fn tickets(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let l = Layout::new(Some(&user), "Report tickets", "reports", None);
    let mut keep: Vec<(&str, Option<&str>)> = Vec::new();
    for f in ["metric", "band"] {
        keep.push((f, q.get(f).map(String::as_str)));
    }
    let back = link("/agent/reports", &q, &[]);
    let csv = link("/agent/reports/csv/tickets", &q, &keep);
    let period = format!(
        "{} to {}",
        q.get("from").map(|s| s.as_str()).unwrap_or("30 days ago"),
        q.get("to").map(|s| s.as_str()).unwrap_or("now")
    );
    match s.app.report_tickets(&user.actor, &query_of(&q)).await {
        Ok(mut r) => {
            for t in &mut r.tickets {
                t.state = orion_app::reports::figures::label(&t.state);
            }
            let next = r.next.as_deref().map(|n| {
                let mut set = keep.clone();
                set.push(("after", Some(n)));
                link("/agent/reports/tickets", &q, &set)
            });
            render(&TicketsPage { l, r: Some(r), back, next, csv, period, error: None })
        }
        Err(e @ orion_app::AppError::Validation(_)) => {
            let mut resp = render(&TicketsPage { l, r: None, back, next: None, csv, period, error: Some(explain(&e)) });
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            resp
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn csv(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Path(table): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(table) = orion_app::reports::ReportTable::parse(&table) else {
        return error_page(Some(&user), &orion_app::AppError::NotFound("report table"));
    };
    match s.app.report_csv(&user.actor, table, &query_of(&q)).await {
        Ok(body) => crate::routes::reports::csv_response(table, body),
        Err(e) => error_page(Some(&user), &e),
    }
}

/// The schedule form's fields as shown (after a refusal, as typed).
struct ScheduleFields {
    name: String,
    frequency: String,
    weekday: String,
    hour: String,
    time_zone: String,
    recipients: String,
    active: bool,
    /// The report filters it keeps, as hidden fields
    filters: Vec<(String, String)>,
    filters_text: String,
}

const FILTER_FIELDS: [&str; 9] = ["scope", "group", "tier", "kind", "priority", "category", "channel", "agent", "by"];

fn filters_of(q: &HashMap<String, String>) -> (Vec<(String, String)>, orion_app::reports::schedules::ReportFilters) {
    let kept: Vec<(String, String)> = FILTER_FIELDS
        .iter()
        .filter_map(|k| q.get(*k).map(|v| v.trim()).filter(|v| !v.is_empty()).map(|v| (k.to_string(), v.to_string())))
        .collect();
    let map: HashMap<String, String> = kept.iter().cloned().collect();
    let parsed = serde_json::to_value(&map).and_then(serde_json::from_value).unwrap_or_default();
    (kept, parsed)
}

fn filters_text(kept: &[(String, String)]) -> String {
    if kept.is_empty() {
        "none (every group, every kind)".into()
    } else {
        kept.iter()
            .map(|(k, v)| format!("{} {v}", orion_app::reports::figures::label(k).to_lowercase()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Template)]
#[template(path = "agent/report_schedules.html")]
struct SchedulesPage {
    l: Layout,
    schedules: Vec<orion_app::reports::schedules::Schedule>,
    editing: Option<i64>,
    runs: Vec<orion_app::reports::schedules::ReportRun>,
    f: ScheduleFields,
    error: Option<String>,
}

async fn schedules_page(
    s: &AppState,
    user: &crate::ui::session::WebUser,
    editing: Option<i64>,
    f: Option<ScheduleFields>,
    q: &HashMap<String, String>,
    error: Option<String>,
) -> Response {
    let schedules = match s.app.report_schedules(&user.actor).await {
        Ok(v) => v,
        Err(e) => return error_page(Some(user), &e),
    };
    let (mut runs, mut current) = (Vec::new(), None);
    if let Some(id) = editing {
        match s.app.report_schedule(&user.actor, id).await {
            Ok(sc) => current = Some(sc),
            Err(e) => return error_page(Some(user), &e),
        }
        runs = s.app.report_runs(&user.actor, id, None).await.unwrap_or_default();
    }
    let f = f.unwrap_or_else(|| match &current {
        Some(sc) => {
            let map: HashMap<String, String> = serde_json::to_value(&sc.filters)
                .ok()
                .and_then(|v| serde_json::from_value::<HashMap<String, Option<String>>>(v).ok())
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect();
            let (kept, _) = filters_of(&map);
            ScheduleFields {
                name: sc.name.clone(),
                frequency: sc.frequency.clone(),
                weekday: sc.weekday.unwrap_or(1).to_string(),
                hour: sc.hour.to_string(),
                time_zone: sc.time_zone.clone(),
                recipients: sc.recipients.join(", "),
                active: sc.active,
                filters_text: filters_text(&kept),
                filters: kept,
            }
        }
        None => {
            let (kept, _) = filters_of(q);
            ScheduleFields {
                name: String::new(),
                frequency: "weekly".into(),
                weekday: "1".into(),
                hour: "7".into(),
                time_zone: "UTC".into(),
                recipients: user.me.email.clone(),
                active: true,
                filters_text: filters_text(&kept),
                filters: kept,
            }
        }
    });
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let title =
        current.as_ref().map(|c| format!("Scheduled report {}", c.name)).unwrap_or_else(|| "Scheduled reports".into());
    let mut resp = render(&SchedulesPage {
        l: Layout::new(Some(user), title, "reports", flash_of(q)),
        schedules,
        editing,
        runs,
        f,
        error,
    });
    *resp.status_mut() = status;
    resp
}

fn flash_of(q: &HashMap<String, String>) -> Option<&str> {
    q.get("m").map(String::as_str)
}

async fn schedules(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    schedules_page(&s, &user, None, None, &q, None).await
}

async fn schedule(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    schedules_page(&s, &user, Some(id), None, &q, None).await
}

/// The form as the app takes it, and as the page shows it again after a refusal.
fn schedule_input(
    f: &crate::ui::form::Fields,
    editing: bool,
) -> (orion_app::reports::schedules::ScheduleInput, ScheduleFields) {
    let get = |k: &str| f.get(k).unwrap_or_default().trim().to_string();
    let map: HashMap<String, String> = FILTER_FIELDS.iter().map(|k| (k.to_string(), get(k))).collect();
    let (kept, filters) = filters_of(&map);
    let recipients: Vec<String> =
        get("recipients").split([',', ';', ' ']).filter(|x| !x.is_empty()).map(str::to_string).collect();
    // A number typed wrong reaches the app out of range, so the page names the field.
    let num = |k: &str| Some(get(k).parse::<i64>().unwrap_or(-1));
    let input = orion_app::reports::schedules::ScheduleInput {
        name: Some(get("name")),
        filters: Some(filters),
        frequency: Some(get("frequency")),
        time_zone: Some(get("time_zone")),
        hour: num("hour"),
        weekday: if get("frequency") == "weekly" { num("weekday") } else { None },
        recipients: Some(recipients),
        active: editing.then(|| f.checked("active")),
    };
    let shown = ScheduleFields {
        name: get("name"),
        frequency: get("frequency"),
        weekday: get("weekday"),
        hour: get("hour"),
        time_zone: get("time_zone"),
        recipients: get("recipients"),
        active: f.checked("active"),
        filters_text: filters_text(&kept),
        filters: kept,
    };
    (input, shown)
}

async fn create_schedule(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    f: crate::ui::form::Fields,
) -> Response {
    let (input, shown) = schedule_input(&f, false);
    match s.app.save_report_schedule(&user.actor, None, input).await {
        Ok(sc) => crate::ui::form::done(&format!("/agent/reports/schedules/{}", sc.id), "schedule_saved"),
        Err(e @ orion_app::AppError::Validation(_)) => {
            schedules_page(&s, &user, None, Some(shown), &HashMap::new(), Some(explain(&e))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn save_schedule(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Path(id): Path<i64>,
    f: crate::ui::form::Fields,
) -> Response {
    let (input, shown) = schedule_input(&f, true);
    match s.app.save_report_schedule(&user.actor, Some(id), input).await {
        Ok(_) => crate::ui::form::done(&format!("/agent/reports/schedules/{id}"), "schedule_saved"),
        Err(e @ orion_app::AppError::Validation(_)) => {
            schedules_page(&s, &user, Some(id), Some(shown), &HashMap::new(), Some(explain(&e))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn send_schedule(State(s): State<AppState>, StaffUser { user, .. }: StaffUser, Path(id): Path<i64>) -> Response {
    match s.app.send_report_now(&user.actor, id).await {
        Ok(_) => crate::ui::form::done(&format!("/agent/reports/schedules/{id}"), "report_sent"),
        Err(e @ orion_app::AppError::Conflict(_)) => {
            schedules_page(&s, &user, Some(id), None, &HashMap::new(), Some(explain(&e))).await
        }
        Err(e) => error_page(Some(&user), &e),
    }
}

async fn delete_schedule(
    State(s): State<AppState>,
    StaffUser { user, .. }: StaffUser,
    Path(id): Path<i64>,
) -> Response {
    match s.app.delete_report_schedule(&user.actor, id).await {
        Ok(()) => crate::ui::form::done("/agent/reports/schedules", "schedule_deleted"),
        Err(e) => error_page(Some(&user), &e),
    }
}
