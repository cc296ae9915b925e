//! The change calendar and its conflicts: the same or dependent CIs at the same time, outside a
//! CI's maintenance windows, inside a freeze period; and the freeze periods leads declare.

use super::*;

impl App {
    /// The change calendar of a period: planned changes with their conflicts, and freeze periods.
    pub async fn change_calendar(&self, actor: &Actor, q: CalendarQuery) -> AppResult<Calendar> {
        require_staff(actor, "see the change calendar")?;
        let now = self.now();
        let from = match q.from.as_deref() {
            Some(s) => Timestamp::parse_day_or_instant("from", s)?.0,
            None => now - now.rem_euclid(86_400_000),
        };
        let to = match q.to.as_deref() {
            Some(s) => Timestamp::parse_day_or_instant("to", s)?.0,
            None => from + 7 * 86_400_000,
        };
        if to <= from {
            return Err(invalid("to", "must be after from"));
        }
        if to - from > 92 * 86_400_000 {
            return Err(invalid("to", "a calendar spans at most 92 days"));
        }
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let ids = store::calendar(&mut c, from, to, 1000).await?;
        let mut rows = Vec::new();
        for row in store::get_changes(&mut c, &ids).await? {
            let t = orion_store::tickets::get(&mut c, row.ticket_id).await?;
            rows.push((row, t));
        }
        rows.sort_by_key(|(r, t)| (r.planned_start, t.id));
        let fps = footprints(&mut c, &rows).await?;
        let freezes = store::freezes_ending_after(&mut c, from).await?;
        let live: Vec<Footprint> =
            fps.iter().zip(&rows).filter(|(_, (r, _))| !change_is_final(&r.phase)).map(|(f, _)| f.clone()).collect();
        let mut changes = Vec::new();
        for (fp, (row, t)) in fps.iter().zip(rows) {
            let conflicts = if change_is_final(&row.phase) {
                Vec::new()
            } else {
                conflicts_of(&mut c, fp, &live, &freezes).await?
            };
            let (Some(s), Some(e)) = (row.planned_start, row.planned_end) else { continue };
            changes.push(CalendarItem {
                number: t.number,
                title: t.title,
                change_type: row.change_type,
                phase: row.phase,
                risk: row.risk,
                planned_start: ts(s),
                planned_end: ts(e),
                assignee_name: t.assignee_name,
                assets: fp.cis.iter().map(|c| c.1.clone()).collect(),
                conflicts,
            });
        }
        Ok(Calendar {
            from: ts(from),
            to: ts(to),
            changes,
            freezes: freezes.into_iter().filter(|f| f.starts_at < to).map(freeze_view).collect(),
        })
    }

    pub async fn freeze_periods(&self, actor: &Actor) -> AppResult<Vec<Freeze>> {
        require_staff(actor, "see freeze periods")?;
        let now = self.now();
        let mut r = self.db.read().await?;
        Ok(store::freezes_ending_after(&mut r.conn(), now).await?.into_iter().map(freeze_view).collect())
    }

    /// Declares a freeze period (leads and admins).
    pub async fn create_freeze(&self, actor: &Actor, input: FreezeInput) -> AppResult<Freeze> {
        require_lead(actor, "declare change freezes")?;
        let mut errs = FieldErrors::new();
        let name = errs.check(orion_domain::error::required_text("name", &input.name, 200));
        let start = errs.check(Timestamp::parse_day_or_instant("starts_at", &input.starts_at));
        let end = errs.check(Timestamp::parse_day_or_instant("ends_at", &input.ends_at));
        if let (Some(s), Some(e)) = (start, end)
            && e <= s
        {
            errs.push("ends_at", "must be after the start");
        }
        errs.into_result()?;
        let (Some(name), Some(s), Some(e)) = (name, start, end) else {
            return Err(AppError::Internal("validated input incomplete".into()));
        };
        let reason = input.reason.unwrap_or_default();
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let id = store::insert_freeze(&mut tx.conn(), &name, &reason, (s.0, e.0), actor.id.0, now).await?;
        self.commit(tx).await?;
        Ok(Freeze { id, name, reason, starts_at: ts(s.0), ends_at: ts(e.0) })
    }

    pub async fn delete_freeze(&self, actor: &Actor, id: i64) -> AppResult<()> {
        require_lead(actor, "lift change freezes")?;
        let mut tx = self.db.begin().await?;
        found(store::delete_freeze(&mut tx.conn(), id).await, "freeze period")?;
        self.commit(tx).await?;
        Ok(())
    }
}

/// A change's period and CIs, with everything that depends on its CIs (what an outage of them
/// would touch), for conflict checks.
#[derive(Clone)]
struct Footprint {
    id: i64,
    number: String,
    period: Option<(i64, i64)>,
    cis: Vec<(i64, String)>,
    reach: HashSet<i64>,
}

async fn footprints(c: &mut Conn<'_>, rows: &[(ChangeRow, TicketView)]) -> AppResult<Vec<Footprint>> {
    let ids: Vec<i64> = rows.iter().map(|(r, _)| r.ticket_id).collect();
    let links = store::cis_of_tickets(c, &ids).await?;
    let mut out = Vec::new();
    for (r, t) in rows {
        let cis: Vec<(i64, String)> = links.iter().filter(|l| l.0 == r.ticket_id).map(|l| (l.1, l.2.clone())).collect();
        let roots: Vec<i64> = cis.iter().map(|c| c.0).collect();
        let (walk, _) = crate::cmdb::walk_impact(c, &roots).await?;
        let mut reach: HashSet<i64> = roots.into_iter().collect();
        reach.extend(walk.iter().map(|w| w.0));
        let period = r.planned_start.zip(r.planned_end);
        out.push(Footprint { id: r.ticket_id, number: t.number.clone(), period, cis, reach });
    }
    Ok(out)
}

/// What `me` clashes with among `others`, the freeze periods, and its CIs' maintenance windows.
async fn conflicts_of(
    c: &mut Conn<'_>,
    me: &Footprint,
    others: &[Footprint],
    freezes: &[store::FreezeRow],
) -> AppResult<Vec<Conflict>> {
    let Some(period) = me.period else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for o in others {
        let Some(op) = o.period else { continue };
        if o.id == me.id || !overlaps(period, op) {
            continue;
        }
        // The same CI; else one of theirs that depends on ours; else one of ours that depends on theirs.
        let direct = me.cis.iter().find(|(id, _)| o.cis.iter().any(|(oid, _)| oid == id));
        let theirs = o.cis.iter().find(|(id, _)| me.reach.contains(id));
        let ours = me.cis.iter().find(|(id, _)| o.reach.contains(id));
        let found = match (direct, theirs, ours) {
            (Some((_, name)), _, _) => Some((name, format!("{} also changes {name} at the same time", o.number))),
            (None, Some((_, name)), _) => Some((
                name,
                format!("{} changes {name}, which depends on this change's CIs, at the same time", o.number),
            )),
            (None, None, Some((_, name))) => {
                Some((name, format!("{} changes a CI that {name} depends on, at the same time", o.number)))
            }
            _ => None,
        };
        if let Some((name, message)) = found {
            out.push(Conflict {
                kind: "overlap".into(),
                message,
                other: Some(o.number.clone()),
                ci: Some(name.clone()),
            });
        }
    }
    for f in freezes {
        if overlaps(period, (f.starts_at, f.ends_at)) {
            out.push(Conflict {
                kind: "freeze".into(),
                message: format!(
                    "during the freeze period {:?} ({} to {})",
                    f.name,
                    Timestamp(f.starts_at).to_rfc3339(),
                    Timestamp(f.ends_at).to_rfc3339()
                ),
                other: None,
                ci: None,
            });
        }
    }
    for (_, name) in &me.cis {
        // The CI's windows around the change (a week either side): a CI with none there has no
        // window to keep to; one with some should be changed inside one of them.
        let week = 7 * 86_400_000;
        let windows = crate::monitoring::windows_for_ci(c, name, period.0 - week).await?;
        let spans: Vec<(i64, i64)> =
            windows.iter().filter(|w| w.starts_at < period.1 + week).map(|w| (w.starts_at, w.ends_at)).collect();
        if spans.is_empty() {
            continue;
        }
        if !inside_any(period, &spans) {
            out.push(Conflict {
                kind: "maintenance_window".into(),
                message: format!("outside {name}'s maintenance windows"),
                other: None,
                ci: Some(name.clone()),
            });
        }
    }
    Ok(out)
}

/// The conflicts of one change against every other planned change meeting its period.
pub(super) async fn conflicts_for(c: &mut Conn<'_>, r: &ChangeRow, t: &TicketView) -> AppResult<Vec<Conflict>> {
    let Some((start, end)) = r.planned_start.zip(r.planned_end) else { return Ok(Vec::new()) };
    if change_is_final(&r.phase) {
        return Ok(Vec::new());
    }
    let ids = store::calendar(c, start, end, 500).await?;
    let mut rows = vec![(r.clone(), t.clone())];
    for row in store::get_changes(c, &ids).await? {
        if row.ticket_id != r.ticket_id && !change_is_final(&row.phase) {
            let ot = orion_store::tickets::get(c, row.ticket_id).await?;
            rows.push((row, ot));
        }
    }
    let fps = footprints(c, &rows).await?;
    let freezes = store::freezes_ending_after(c, start).await?;
    conflicts_of(c, &fps[0], &fps[1..], &freezes).await
}

fn freeze_view(f: store::FreezeRow) -> Freeze {
    Freeze { id: f.id, name: f.name, reason: f.reason, starts_at: ts(f.starts_at), ends_at: ts(f.ends_at) }
}
