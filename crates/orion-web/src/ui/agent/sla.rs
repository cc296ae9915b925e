//! SLA clocks as the console's lists and ticket page show them.

/// One SLA clock as a badge: `sla-ok`, `sla-warn` (under an hour left), `sla-breach`, `sla-paused`.
pub(super) struct Badge {
    pub class: &'static str,
    pub text: String,
}

fn duration(mins: i64) -> String {
    let m = mins.abs();
    if m >= 24 * 60 {
        format!("{}d {}h", m / (24 * 60), m % (24 * 60) / 60)
    } else if m >= 60 {
        format!("{}h {}m", m / 60, m % 60)
    } else {
        format!("{m}m")
    }
}

pub(super) fn badges(clocks: Option<&Vec<orion_app::sla::SlaBadge>>) -> Vec<Badge> {
    let mut out = Vec::new();
    for b in clocks.into_iter().flatten() {
        let what = if b.target == "first_response" { "Response" } else { "Resolve" };
        let (class, text) = match (b.state.as_str(), b.remaining_minutes) {
            ("breached", Some(m)) => ("sla-breach", format!("{what} overdue {}", duration(m))),
            ("breached", None) => ("sla-breach", format!("{what} breached")),
            ("paused", _) => ("sla-paused", format!("{what} paused")),
            ("running", Some(m)) if m < 60 => ("sla-warn", format!("{what} {} left", duration(m))),
            ("running", Some(m)) => ("sla-ok", format!("{what} {} left", duration(m))),
            _ => continue,
        };
        out.push(Badge { class, text });
    }
    out
}
