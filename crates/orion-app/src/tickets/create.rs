//! Logging an incident or service request from the API or the portal: validation on a read
//! connection, then the ticket writer's group commit through [`super::open`].

use super::*;

/// A new incident or service request checked and routed, ready for [`super::open`]; and the
/// ticket as it will read once written (its id, number and requester id filled in then).
pub(crate) struct Prepared {
    pub planned: Planned,
    pub view: TicketView,
}

/// What a feature decides for a ticket it logs for someone, past what the caller may set
/// themselves: a catalog item sends its requests to its group with its impact, whoever asks.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Preset<'a> {
    pub group: Option<&'a str>,
    pub impact: Option<i64>,
    /// The SLA policy to time it by, by name, in place of the one whose conditions match
    pub sla_policy: Option<&'a str>,
    /// A fulfilment task (kind `task`), which only a catalog request's plan opens
    pub task: bool,
}

/// A prepared ticket's view once written.
pub(crate) fn with_written(mut view: TicketView, w: Written) -> TicketView {
    view.id = w.id;
    view.number = w.number;
    view.requester_id = w.requester_id;
    view
}

impl App {
    /// Logs an incident or service request.
    pub async fn create_ticket(&self, actor: &Actor, input: NewTicketInput) -> AppResult<Ticket> {
        let Prepared { planned, view } = self.prepare_ticket(actor, input).await?;
        let written = self.intake().submit(planned).await?;
        Ok(with_written(view, written).into())
    }

    /// Checks, routes and plans a new incident or service request on a read connection (every
    /// reference resolved, every error reported), so the write transaction that follows holds
    /// only the writes.
    pub(crate) async fn prepare_ticket(&self, actor: &Actor, input: NewTicketInput) -> AppResult<Prepared> {
        self.prepare_ticket_with(actor, input, Preset::default()).await
    }

    /// [`App::prepare_ticket`] with what a feature decides (`preset`) taking the place of the
    /// caller's group and impact, routed as if staff had chosen them.
    pub(crate) async fn prepare_ticket_with(
        &self,
        actor: &Actor,
        input: NewTicketInput,
        preset: Preset<'_>,
    ) -> AppResult<Prepared> {
        let mut errs = FieldErrors::new();
        let kind = match &input.kind {
            None => Some(TicketKind::Incident),
            Some(k) => match errs.check(TicketKind::parse("kind", k)) {
                Some(k) if k.has_own_phases() => {
                    errs.push("kind", format!("log a {k} with POST /api/v1/{k}s"));
                    None
                }
                Some(TicketKind::Task) if !preset.task => {
                    errs.push("kind", "tasks are opened by a catalog item's fulfilment plan");
                    None
                }
                k => k,
            },
        };
        let title = errs.check(required_text("title", input.title.as_deref().unwrap_or(""), TITLE_MAX));
        let description = match input.description.as_deref() {
            Some(d) if d.chars().count() > TEXT_MAX => {
                errs.push("description", format!("must be at most {TEXT_MAX} characters"));
                None
            }
            d => Some(d.unwrap_or("").trim().to_string()),
        };
        // What a requester may set: kind, title, description, category, urgency (how soon they
        // need it) and their own devices. Impact (how many it hurts) is the desk's assessment, and
        // the channel is the one they used: the portal or the API.
        let requester_only = actor.role == Role::Requester;
        let impact = match input.impact.or(preset.impact) {
            _ if preset.impact.is_some() => errs.check(Level::parse("impact", preset.impact.unwrap_or(3))),
            Some(_) if requester_only => {
                errs.push(
                    "impact",
                    "is assessed by the service desk; leave it out (urgency says how soon you need it)",
                );
                None
            }
            i => errs.check(Level::parse("impact", i.unwrap_or(3))),
        };
        let urgency = errs.check(Level::parse("urgency", input.urgency.unwrap_or(3)));
        let default_channel = if requester_only { Channel::Portal } else { Channel::Api };
        let channel = match &input.channel {
            None => Some(default_channel),
            Some(c) => match errs.check(Channel::parse("channel", c)) {
                Some(c) if requester_only && !matches!(c, Channel::Portal | Channel::Api) => {
                    errs.push("channel", "requesters log tickets through the portal or the API (portal or api)");
                    None
                }
                c => c,
            },
        };
        let requester_email = match (&input.requester, actor.can_create_for_others()) {
            (Some(r), true) => errs.check(Email::parse("requester", r)),
            (Some(_), false) => {
                errs.push("requester", "requesters can only log tickets for themselves; leave it out");
                None
            }
            (None, _) => None,
        };
        if input.assignee.is_some() && !actor.can_work_tickets() {
            errs.push("assignee", "only support staff can assign tickets");
        }
        if input.assignment_group.is_some() && !actor.can_work_tickets() {
            errs.push("assignment_group", "only support staff can route tickets");
        }
        let now = self.now();

        // Resolve every reference on a read connection first and report every unknown one,
        // so the write transaction (SQLite's single writer) holds only the writes.
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let config = self.config(&mut c).await?;
        let group = match preset.group.map(str::to_string).or(input.assignment_group.clone()) {
            Some(name) => match config.active_group(&name) {
                Some(g) => Some(g.clone()),
                // Not in the cache: maybe created on another node a moment ago.
                None => collect(&mut errs, group_by_name(&mut c, "assignment_group", &name).await)?,
            },
            None => match config.default_group() {
                Some(g) => Some(g.clone()),
                None => collect(&mut errs, default_group(&mut c).await)?,
            },
        };
        let category = match input.category.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(p) => collect(&mut errs, category_by_path(&mut c, p).await)?,
        };
        let assignee = match (&input.assignee, &group) {
            (Some(a), Some(g)) if !a.trim().is_empty() => collect(&mut errs, assignee_in_group(&mut c, a, g).await)?,
            _ => None,
        };
        // The requester: the caller, a known person, or (None) someone to create.
        let known_requester = match &requester_email {
            None => Some(users::get(&mut c, actor.id.0).await?),
            Some(email) => match users::find_by_email(&mut c, email.as_str()).await? {
                Some(u) if !u.active => {
                    errs.push("requester", format!("{email} is deactivated"));
                    None
                }
                found => found,
            },
        };
        let mut assets: Vec<(i64, String)> = Vec::new();
        for (i, a) in input.assets.iter().flatten().enumerate() {
            let field = format!("assets[{i}]");
            match resolve_ref(&mut c, &field, a).await {
                Ok(ci) if actor.role == Role::Requester && ci.owner_id != Some(actor.id.0) => {
                    errs.push(field, "you can name only a device checked out to you");
                }
                Ok(ci) => {
                    if !assets.iter().any(|(id, _)| *id == ci.id) {
                        assets.push((ci.id, ci.name));
                    }
                }
                Err(AppError::Validation(e)) => e.iter().for_each(|f| errs.push(f.field.clone(), f.message.clone())),
                Err(e) => return Err(e),
            }
        }
        let matrix = config.matrix.clone();
        drop(r);
        errs.into_result()?;
        let (Some(kind), Some(title), Some(description), Some(impact), Some(urgency), Some(channel), Some(group)) =
            (kind, title, description, impact, urgency, channel, group)
        else {
            return Err(AppError::Internal("validated input incomplete".into()));
        };
        // The routing rules, in order (nothing is read when there are none). What staff chose
        // stays; what a requester chose (category, urgency) a rule may change.
        let staff = !requester_only;
        let chosen = crate::routing::Chosen {
            group: preset.group.is_some() || (staff && input.assignment_group.is_some()),
            assignee: assignee.is_some(),
            category: staff && category.is_some(),
            impact: preset.impact.is_some() || input.impact.is_some(),
            urgency: staff && input.urgency.is_some(),
        };
        let mut d =
            crate::routing::Draft { assignee, category, chosen, ..crate::routing::Draft::new(group, impact, urgency) };
        if !config.rules.is_empty() {
            let sender = known_requester
                .as_ref()
                .map(|u| u.email.clone())
                .or(requester_email.as_ref().map(|e| e.as_str().to_string()));
            let arrival = crate::routing::Arrival {
                channel: channel.as_str(),
                sender: sender.as_deref().unwrap_or(""),
                mailbox: None,
                subject: &title,
                body: &description,
                department: known_requester.as_ref().and_then(|u| u.department.as_deref()),
                vip: known_requester.as_ref().is_some_and(|u| u.vip),
                assets: assets.iter().map(|(_, name)| name.clone()).collect(),
                at: now,
                changed: false,
            };
            crate::routing::route(&config, &arrival, &mut d);
        }
        let routed = super::Routed::from_draft(&mut d);
        let (restricted, tags) = (routed.restrict.clone(), routed.tags.clone());
        let (group, assignee, category, impact, urgency) = (d.group, d.assignee, d.category, d.impact, d.urgency);
        let priority = matrix.priority(impact, urgency);
        let state = if assignee.is_some() { State::Assigned } else { State::New };
        let named = preset.sla_policy.and_then(|n| config.policy(n));
        let clocks = match named {
            Some(p) => orion_domain::sla_policy::TargetKind::ALL
                .into_iter()
                .filter_map(|kind| crate::settings::sla::planned(p, kind, now))
                .collect(),
            None => crate::settings::sla::plan_clocks(
                &config,
                &orion_domain::sla_policy::TicketFacts {
                    kind,
                    priority,
                    category: category.as_ref().map(|c| c.path.as_str()),
                    department: known_requester.as_ref().and_then(|u| u.department.as_deref()),
                },
                now,
            ),
        };

        let (requester, requester_email, requester_name) = match (known_requester, requester_email) {
            (Some(u), _) => (Requester::Known(u.id), u.email, u.name),
            (None, Some(email)) => {
                let name = input
                    .requester_name
                    .as_deref()
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .unwrap_or(email.local_part())
                    .to_string();
                let e = email.as_str().to_string();
                (Requester::New { email: e.clone(), name: name.clone() }, e, name)
            }
            (None, None) => return Err(AppError::Internal("the caller has no user row".into())),
        };
        let entry_data = created_entry_data(
            priority,
            (impact.get(), urgency.get()),
            channel.as_str(),
            &group.name,
            assignee.as_ref().map(|u| u.email.as_str()),
            &clocks,
        )
        .to_string();
        let planned = Planned {
            requester,
            prefix: kind.prefix(),
            kind: kind.as_str(),
            title: title.clone(),
            description: description.clone(),
            channel: channel.as_str(),
            category_id: category.as_ref().map(|c| c.id),
            impact: i64::from(impact.get()),
            urgency: i64::from(urgency.get()),
            priority: i64::from(priority.get()),
            state: state.as_str(),
            pending_reason: None,
            assignment_group_id: group.id,
            assignee_id: assignee.as_ref().map(|u| u.id),
            max_tier: group.tier,
            created_by: actor.id.0,
            now,
            entry_data,
            clocks,
            notify: config.mail.sends("received"),
            assets,
            routed,
        };
        let view = TicketView {
            id: 0,
            number: String::new(),
            kind: kind.as_str().into(),
            title,
            description,
            requester_id: 0,
            requester_email,
            requester_name,
            channel: channel.as_str().into(),
            category_id: category.as_ref().map(|c| c.id),
            category_path: category.map(|c| c.path),
            impact: i64::from(impact.get()),
            urgency: i64::from(urgency.get()),
            priority: i64::from(priority.get()),
            state: state.as_str().into(),
            pending_reason: None,
            assignment_group_id: group.id,
            assignment_group_name: group.name,
            assignment_group_tier: group.tier,
            assignee_id: assignee.as_ref().map(|u| u.id),
            assignee_email: assignee.as_ref().map(|u| u.email.clone()),
            assignee_name: assignee.map(|u| u.name),
            escalation_count: 0,
            max_tier: group.tier,
            reopen_count: 0,
            resolution_code: None,
            resolution_notes: None,
            created_by: actor.id.0,
            created_at: now,
            updated_at: now,
            resolved_at: None,
            closed_at: None,
            version: 1,
            visibility_group_id: restricted.as_ref().map(|(id, _)| *id),
            visibility_group_name: restricted.map(|(_, name)| name),
            tags: (!tags.is_empty()).then(|| tags.join(",")),
        };
        Ok(Prepared { planned, view })
    }
}
