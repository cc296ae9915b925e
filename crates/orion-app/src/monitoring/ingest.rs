//! Taking alerts in: deduplication, correlation, maintenance windows, and the incidents they
//! open, join, resolve or reopen.

use super::*;

impl App {
    /// Takes one payload from a monitoring system (the endpoints call this; the token decides
    /// which integration it is).
    pub async fn ingest_alerts(&self, format: Format, token: &str, body: &[u8]) -> AppResult<IngestReport> {
        let refused = || AppError::TokenRefused(TOKEN_HELP.into());
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 200 {
            return Err(refused());
        }
        let integration = {
            let mut r = self.db.read().await?;
            store::find_integration_by_token(&mut r.conn(), &hash_token(token)).await?
        }
        .ok_or_else(refused)?;
        if !integration.enabled {
            return Err(AppError::Forbidden(format!("the integration {:?} is disabled", integration.name)));
        }
        let own = Format::parse("kind", &integration.kind).map_err(|e| AppError::Internal(e.to_string()))?;
        let compatible = own == format
            || matches!(
                (own, format),
                (Format::Alertmanager | Format::Grafana, Format::Alertmanager | Format::Grafana)
            );
        if !compatible {
            return Err(invalid(
                "token",
                format!(
                    "this token belongs to a {} integration; send to /api/v1/integrations/{}",
                    own.as_str(),
                    own.as_str()
                ),
            ));
        }
        let events = payload::parse(format, body).map_err(AppError::Validation)?;
        metrics::counter!("orion_alerts_received_total", "source" => own.as_str()).increment(events.len() as u64);
        let settings: AlertSettings = serde_json::from_str(&integration.config).unwrap_or_default();
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        store::lock_ingestion(&mut c).await?;
        let windows: Vec<ActiveWindow> = store::windows_ending_after(&mut c, now, 1000)
            .await?
            .into_iter()
            .filter(|w| w.starts_at <= now)
            .map(|w| ActiveWindow { id: w.id, matchers: serde_json::from_str(&w.matchers).unwrap_or_default() })
            .collect();
        let mut fx = Effects::default();
        let mut outcomes = Vec::with_capacity(events.len());
        // Ticket numbers already looked up (a storm names one incident a thousand times).
        let mut numbers: BTreeMap<i64, String> = BTreeMap::new();
        for e in &events {
            let window = windows.iter().find(|w| window_holds(w, e, &integration.name)).map(|w| w.id);
            let (action, ticket) = self.take_alert(&mut c, &integration, &settings, e, window, &mut fx, now).await?;
            metrics::counter!("orion_alerts_total", "action" => action).increment(1);
            outcomes.push(AlertOutcome {
                fingerprint: e.fingerprint.clone(),
                status: if e.firing { "firing" } else { "resolved" }.into(),
                action: action.into(),
                incident: match ticket {
                    Some(id) => Some(match numbers.get(&id) {
                        Some(n) => n.clone(),
                        None => {
                            let n = orion_store::tickets::get(&mut c, id).await?.number;
                            numbers.insert(id, n.clone());
                            n
                        }
                    }),
                    None => None,
                },
            });
        }
        let bot = Actor { id: UserId(integration.requester_id), role: Role::Requester };
        for (ticket, lines) in &fx.notes {
            let body = lines.join("\n");
            let data = json!({"integration": integration.name, "alerts": lines.len()}).to_string();
            crate::tickets::internal_note(&mut c, *ticket, now, "alert", &body, &data).await?;
        }
        for ticket in &fx.cleared {
            let (firing, total) = store::ticket_alert_counts(&mut c, *ticket).await?;
            if firing > 0 {
                continue;
            }
            let mut t = orion_store::tickets::get(&mut c, *ticket).await?;
            let open = State::parse("state", &t.state).is_ok_and(State::is_open);
            if open && settings.on_all_resolved == "resolve" {
                let notes = format!("All {total} monitoring alert(s) of this incident have resolved.");
                crate::tickets::lifecycle::resolve_in(&mut c, &bot, &mut t, (ResolutionCode::Fixed, &notes), now)
                    .await?;
                metrics::counter!("orion_monitoring_incidents_resolved_total").increment(1);
            } else if open {
                let body = format!("All {total} monitoring alert(s) of this incident have resolved; it stays open.");
                crate::tickets::internal_note(&mut c, *ticket, now, "alert", &body, "{}").await?;
            }
        }
        store::count_received(&mut c, integration.id, events.len() as i64, now).await?;
        self.commit(tx).await?;
        Ok(IngestReport { integration: integration.name, alerts: outcomes })
    }

    /// Applies one alert; returns the action taken and the incident concerned.
    #[allow(clippy::too_many_arguments)]
    async fn take_alert(
        &self,
        c: &mut Conn<'_>,
        integration: &IntegrationRow,
        settings: &AlertSettings,
        e: &AlertEvent,
        window: Option<i64>,
        fx: &mut Effects,
        now: i64,
    ) -> AppResult<(&'static str, Option<i64>)> {
        let labels = serde_json::to_string(&e.labels).map_err(|x| AppError::Internal(x.to_string()))?;
        let write = AlertWrite {
            status: if e.firing { "firing" } else { "resolved" },
            severity: &e.severity,
            summary: &e.summary,
            details: &e.details,
            labels: &labels,
            group_key: &e.group_key,
            ci: &e.ci,
            service: &e.service,
            source_url: e.source_url.as_deref(),
        };
        let existing = store::find_alert(c, integration.id, &e.fingerprint).await?;
        let Some(a) = existing else {
            // First report of this alert.
            let starts = e.starts_at.unwrap_or(now);
            if !e.firing {
                store::insert_alert(c, integration.id, &e.fingerprint, &write, (None, None), starts, now).await?;
                return Ok(("recorded", None));
            }
            if let Some(w) = window {
                store::insert_alert(c, integration.id, &e.fingerprint, &write, (None, Some(w)), starts, now).await?;
                metrics::counter!("orion_alerts_suppressed_total").increment(1);
                return Ok(("suppressed", None));
            }
            let (action, ticket) = self.place(c, integration, settings, e, fx, now).await?;
            store::insert_alert(c, integration.id, &e.fingerprint, &write, (Some(ticket), None), starts, now).await?;
            return Ok((action, Some(ticket)));
        };
        if e.update_only
            || (e.firing == (a.status == "firing") && !(e.firing && a.ticket_id.is_none() && window.is_none()))
        {
            // A repeat, a retry, or an acknowledgement: counted, nothing else.
            store::touch_alert(c, a.id, now).await?;
            metrics::counter!("orion_alerts_deduplicated_total").increment(1);
            return Ok(("deduplicated", a.ticket_id));
        }
        if !e.firing {
            store::update_alert(c, a.id, &write, (a.ticket_id, a.window_id), None, now).await?;
            if let Some(t) = a.ticket_id {
                fx.notes.entry(t).or_default().push(line_for(e, "Resolved"));
                fx.cleared.insert(t);
            }
            return Ok(("resolved", a.ticket_id));
        }
        // Firing: again after a resolution, or still firing with nothing opened for it yet (it
        // arrived in a maintenance window that has ended since).
        let starts = e.starts_at.or(Some(now));
        if let Some(w) = window {
            store::update_alert(c, a.id, &write, (a.ticket_id, Some(w)), starts, now).await?;
            metrics::counter!("orion_alerts_suppressed_total").increment(1);
            return Ok(("suppressed", a.ticket_id));
        }
        if let Some(tid) = a.ticket_id {
            let mut t = orion_store::tickets::get(c, tid).await?;
            let state = State::parse("state", &t.state).map_err(|x| AppError::Internal(x.to_string()))?;
            let reopen_from = now - settings.reopen_hours * 3_600_000;
            if state.is_open() {
                store::update_alert(c, a.id, &write, (Some(tid), None), starts, now).await?;
                fx.notes.entry(tid).or_default().push(line_for(e, "Firing again"));
                return Ok(("joined", Some(tid)));
            }
            if state == State::Resolved && t.resolved_at.is_some_and(|r| r >= reopen_from) {
                store::update_alert(c, a.id, &write, (Some(tid), None), starts, now).await?;
                let bot = Actor { id: UserId(integration.requester_id), role: Role::Requester };
                let reason = format!("{} — firing again", line_for(e, "Alert"));
                crate::tickets::lifecycle::reopen_in(c, &bot, &mut t, &reason, now).await?;
                metrics::counter!("orion_monitoring_incidents_reopened_total").increment(1);
                return Ok(("reopened", Some(tid)));
            }
        }
        let (action, ticket) = self.place(c, integration, settings, e, fx, now).await?;
        store::update_alert(c, a.id, &write, (Some(ticket), None), starts, now).await?;
        Ok((action, Some(ticket)))
    }

    /// Joins a firing alert to the open incident of its group, CI or service, or opens one.
    async fn place(
        &self,
        c: &mut Conn<'_>,
        integration: &IntegrationRow,
        settings: &AlertSettings,
        e: &AlertEvent,
        fx: &mut Effects,
        now: i64,
    ) -> AppResult<(&'static str, i64)> {
        let since = now - settings.group_window_minutes * 60_000;
        let keys = correlation_keys(e, settings.group_window_minutes > 0);
        let mut joined = keys.iter().find_map(|k| fx.placed.get(k).copied());
        if joined.is_none() && !e.group_key.is_empty() {
            joined = store::open_incident_for(c, Correlate::Group(integration.id, &e.group_key)).await?;
        }
        if joined.is_none() && !e.ci.is_empty() && settings.group_window_minutes > 0 {
            joined = store::open_incident_for(c, Correlate::Ci(&e.ci, since)).await?;
        }
        if joined.is_none() && !e.service.is_empty() && settings.group_window_minutes > 0 {
            joined = store::open_incident_for(c, Correlate::Service(&e.service, since)).await?;
        }
        let (action, id) = match joined {
            Some(t) => {
                fx.notes.entry(t).or_default().push(line_for(e, "Alert joined"));
                ("joined", t)
            }
            None => ("opened", self.open_incident(c, integration, settings, e, now).await?),
        };
        for k in keys {
            fx.placed.entry(k).or_insert(id);
        }
        if !e.ci.is_empty() && fx.linked.insert((id, e.ci.clone())) {
            link_ci(c, id, &e.ci, now).await?;
        }
        Ok((action, id))
    }

    async fn open_incident(
        &self,
        c: &mut Conn<'_>,
        integration: &IntegrationRow,
        settings: &AlertSettings,
        e: &AlertEvent,
        now: i64,
    ) -> AppResult<i64> {
        let category = match settings.category.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => categories::find_by_path(c, p).await?.filter(|k| k.active),
            None => None,
        };
        let incident = MonitoringIncident {
            group_id: integration.group_id,
            requester_id: integration.requester_id,
            title: e.summary.clone(),
            description: incident_text(integration, e),
            levels: settings.levels(&e.severity),
            category,
            data: json!({"integration": integration.name,
                         "alert": {"fingerprint": e.fingerprint, "severity": e.severity, "ci": e.ci}}),
        };
        self.open_monitoring_incident(c, incident, now).await
    }

    /// Opens an incident for monitoring (an alert or a heartbeat): channel `monitoring`, no mail
    /// to its requester, SLA clocks as for any incident. Returns its id.
    pub(crate) async fn open_monitoring_incident(
        &self,
        c: &mut Conn<'_>,
        m: MonitoringIncident,
        now: i64,
    ) -> AppResult<i64> {
        let config = self.config(c).await?;
        let group = groups::get(c, m.group_id).await?;
        let requester = users::get(c, m.requester_id).await?;
        let (impact, urgency) = m.levels;
        let priority = config.matrix.priority(impact, urgency);
        let kind = TicketKind::Incident;
        let clocks = crate::settings::sla::plan_clocks(
            &config,
            &orion_domain::sla_policy::TicketFacts {
                kind,
                priority,
                category: m.category.as_ref().map(|k| k.path.as_str()),
                department: requester.department.as_deref(),
            },
            now,
        );
        let mut data = crate::tickets::created_entry_data(
            priority,
            (impact.get(), urgency.get()),
            "monitoring",
            &group.name,
            None,
            &clocks,
        );
        if let (Some(d), Some(extra)) = (data.as_object_mut(), m.data.as_object()) {
            d.extend(extra.clone());
        }
        let written = crate::tickets::open(
            c,
            &Planned {
                requester: Requester::Known(m.requester_id),
                prefix: kind.prefix(),
                kind: kind.as_str(),
                title: crate::kernel::limits::truncate(&m.title, crate::kernel::limits::TITLE_MAX),
                description: crate::kernel::limits::truncate(&m.description, crate::kernel::limits::TEXT_MAX),
                channel: "monitoring",
                category_id: m.category.as_ref().map(|k| k.id),
                impact: i64::from(impact.get()),
                urgency: i64::from(urgency.get()),
                priority: i64::from(priority.get()),
                state: State::New.as_str(),
                pending_reason: None,
                assignment_group_id: group.id,
                assignee_id: None,
                max_tier: group.tier,
                created_by: m.requester_id,
                now,
                entry_data: data.to_string(),
                clocks,
                notify: false,
                assets: Vec::new(),
                routed: Default::default(),
            },
        )
        .await?;
        metrics::counter!("orion_monitoring_incidents_opened_total").increment(1);
        Ok(written.id)
    }
}
