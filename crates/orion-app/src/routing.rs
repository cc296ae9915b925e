//! Routing rules: admins keep an ordered list of rules; every new ticket (from the API, the
//! portal, the console and mail) is checked against them in order before it is written, and each
//! rule that fires sets what it says — group, assignee, category, impact and urgency, tags, a
//! restriction to a group, a work note, people to tell — and is written on the timeline. A rule
//! never overrides what a member of staff chose when logging the ticket. With no rule, creating a
//! ticket reads nothing more (the rules live in the settings cache).

use crate::kernel::access::require_admin;
use crate::kernel::error::{collect, invalid};
use crate::kernel::limits::{TEXT_MAX, TITLE_MAX};
use crate::settings::Config;
use crate::settings::cache::ActiveRule;
use crate::{App, AppError, AppResult};
use orion_domain::routing::{Actions, Conditions, Facts, fold_tags};
use orion_domain::{Actor, Channel, Email, FieldErrors, Level, Role, Timestamp};
use orion_store::routing::{self as store, RuleFields, RuleRow};
use orion_store::{Conn, categories, groups, users};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/v1/routing-rules`, `PUT /api/v1/routing-rules/{id}`
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: Option<String>,
    /// Default true
    pub active: Option<bool>,
    /// Check no further rule after this one fired (default false)
    pub stop: Option<bool>,
    /// Also check the rule when a person changes an open ticket or replies on it, not only when it
    /// is new (default false)
    pub on_update: Option<bool>,
    /// Every condition set must hold; a list holds when any of its values does. Keys:
    /// `channels`, `senders` (address or domain), `mailboxes`, `words`, `categories`,
    /// `priorities` (1–5), `departments`, `vip`, `business_hours`, `assets`. Empty: every ticket.
    #[schema(value_type = Object)]
    pub conditions: Option<Conditions>,
    /// What the rule does. Keys: `group`, `assignee` (e-mail), `category`, `impact` (1–3),
    /// `urgency` (1–3), `tags`, `restrict_to` (group), `work_note`, `notify` (agents' e-mails),
    /// `auto_reply` (a reply to the requester in place of the "received" mail).
    #[schema(value_type = Object)]
    pub actions: Option<Actions>,
}

/// A routing rule as admins see it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Rule {
    pub id: i64,
    pub name: String,
    /// 1 is checked first
    pub position: i64,
    pub active: bool,
    pub stop: bool,
    /// Also checked when a person changes an open ticket or replies on it
    pub on_update: bool,
    #[schema(value_type = Object)]
    pub conditions: Conditions,
    #[schema(value_type = Object)]
    pub actions: Actions,
    /// The rule in one sentence: "When … : …"
    pub summary: String,
    pub created_at: String,
    pub updated_at: String,
}

/// `PUT /api/v1/routing-rules/order`: every rule's id, first to last.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleOrder {
    pub ids: Vec<i64>,
}

/// `POST /api/v1/routing-rules/test`: a sample ticket (or a mail's sender, subject and body) to
/// run the rules on without writing anything.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleTestInput {
    /// Default `email`
    pub channel: Option<String>,
    /// The requester's (sender's) e-mail; a known person brings their department and VIP flag
    pub requester: Option<String>,
    /// The mailbox the mail came through, by name
    pub mailbox: Option<String>,
    /// Subject (title)
    #[schema(max_length = 300)]
    pub subject: Option<String>,
    /// Body (description)
    #[schema(max_length = 100000)]
    pub body: Option<String>,
    /// Category path
    pub category: Option<String>,
    /// 1–3, default 3
    #[schema(minimum = 1, maximum = 3)]
    pub impact: Option<u8>,
    /// 1–3, default 3
    #[schema(minimum = 1, maximum = 3)]
    pub urgency: Option<u8>,
    /// When it arrives (RFC 3339; default now): for business-hours conditions
    pub at: Option<String>,
}

/// What the rules would do to the sample.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RuleTestResult {
    /// Each rule that fired, in order, with what it did
    pub fired: Vec<Firing>,
    pub assignment_group: String,
    pub assignee: Option<String>,
    pub category: Option<String>,
    /// `P1`..`P5`
    pub priority: String,
    pub tags: Vec<String>,
    /// The group the ticket would be restricted to
    pub restricted_to: Option<String>,
}

/// One rule that fired and what it did ("set group Security").
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Firing {
    pub rule: String,
    pub did: Vec<String>,
}

/// A new ticket as the rules see and change it, before it is written.
pub(crate) struct Draft {
    pub group: groups::GroupRow,
    pub assignee: Option<users::UserRow>,
    pub category: Option<categories::CategoryRow>,
    pub impact: Level,
    pub urgency: Level,
    pub tags: Vec<String>,
    pub restrict: Option<groups::GroupRow>,
    /// Work notes to add, each with the rule that asked
    pub notes: Vec<(String, String)>,
    /// Agents to tell
    pub notify: Vec<i64>,
    /// The reply to send the requester instead of the "received" mail, with the rule that asked
    pub auto_reply: Option<(String, String)>,
    pub fired: Vec<Firing>,
    /// Fields a member of staff set when logging the ticket: no rule changes them.
    pub chosen: Chosen,
}

impl Draft {
    /// A new ticket for `group` with nothing decided by rules yet.
    pub(crate) fn new(group: groups::GroupRow, impact: Level, urgency: Level) -> Self {
        Draft {
            group,
            assignee: None,
            category: None,
            impact,
            urgency,
            tags: Vec::new(),
            restrict: None,
            notes: Vec::new(),
            notify: Vec::new(),
            auto_reply: None,
            fired: Vec::new(),
            chosen: Chosen::default(),
        }
    }
}

/// Which fields were chosen by the person logging the ticket.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Chosen {
    pub group: bool,
    pub assignee: bool,
    pub category: bool,
    pub impact: bool,
    pub urgency: bool,
}

/// What the rules look at besides the draft's own fields.
pub(crate) struct Arrival<'a> {
    pub channel: &'a str,
    pub sender: &'a str,
    pub mailbox: Option<&'a str>,
    pub subject: &'a str,
    pub body: &'a str,
    pub department: Option<&'a str>,
    pub vip: bool,
    pub assets: Vec<String>,
    pub at: i64,
    /// A change of an existing ticket: only the rules marked "also when a ticket changes" apply
    pub changed: bool,
}

/// Runs the active rules over `d` in order. What a rule's actions name was found when the rules
/// were loaded (a group, category or person removed since is skipped and said so): checking a
/// ticket reads nothing.
pub(crate) fn route(config: &Config, a: &Arrival<'_>, d: &mut Draft) {
    if config.rules.is_empty() {
        return;
    }
    let in_hours = config
        .policies
        .last()
        .is_none_or(|p| p.calendar.next_working_instant(Timestamp(a.at)) == Some(Timestamp(a.at)));
    let text = orion_domain::routing::searchable(a.subject, a.body);
    let sender = a.sender.to_lowercase();
    let department = a.department.map(orion_domain::search::fold);
    for rule in config.rules.iter().filter(|r| r.on_update || !a.changed) {
        let priority = config.matrix.priority(d.impact, d.urgency).get();
        let facts = Facts {
            channel: a.channel,
            sender: &sender,
            mailbox: a.mailbox,
            text: &text,
            category: d.category.as_ref().map(|c| c.path.as_str()),
            priority,
            department: department.as_deref(),
            vip: a.vip,
            in_business_hours: in_hours,
            assets: &a.assets,
        };
        if !rule.conditions.hold(&facts) {
            continue;
        }
        let did = apply(config, rule, d);
        d.fired.push(Firing { rule: rule.name.clone(), did });
        if rule.stop {
            break;
        }
    }
}

/// Applies one rule's actions to the draft; returns what it did, as sentences' ends.
fn apply(config: &Config, rule: &ActiveRule, d: &mut Draft) -> Vec<String> {
    let x = &rule.actions;
    let mut did = Vec::new();
    if let Some(name) = &x.group {
        match config.active_group(name) {
            _ if d.chosen.group => did.push(format!("left the group as chosen ({})", d.group.name)),
            Some(g) => {
                if d.group.id != g.id {
                    d.group = g.clone();
                    // The assignee goes with the old group, unless chosen.
                    if !d.chosen.assignee {
                        d.assignee = None;
                    }
                }
                did.push(format!("set group {}", g.name));
            }
            None => did.push(format!("could not set group {name}: no such active group")),
        }
    }
    if let Some(email) = &x.assignee {
        match &rule.assignee {
            _ if d.chosen.assignee => did.push("left the assignee as chosen".into()),
            Some((u, groups)) if groups.contains(&d.group.id) => {
                did.push(format!("assigned it to {}", u.name));
                d.assignee = Some(u.clone());
            }
            _ => did.push(format!("could not assign it to {email}: not an active member of {}", d.group.name)),
        }
    }
    if let Some(path) = &x.category {
        match &rule.category {
            _ if d.chosen.category => did.push("left the category as chosen".into()),
            Some(cat) => {
                did.push(format!("set category {}", cat.path));
                d.category = Some(cat.clone());
            }
            None => did.push(format!("could not set category {path}: no such active category")),
        }
    }
    let before = config.matrix.priority(d.impact, d.urgency);
    if let Some(i) = x.impact.and_then(|i| Level::parse("impact", i64::from(i)).ok())
        && !d.chosen.impact
    {
        d.impact = i;
    }
    if let Some(u) = x.urgency.and_then(|u| Level::parse("urgency", i64::from(u)).ok())
        && !d.chosen.urgency
    {
        d.urgency = u;
    }
    let after = config.matrix.priority(d.impact, d.urgency);
    if (x.impact.is_some() || x.urgency.is_some()) && after != before {
        did.push(format!("set priority {after} (impact {}, urgency {})", d.impact.get(), d.urgency.get()));
    }
    let new_tags: Vec<String> = x.tags.iter().filter(|t| !d.tags.contains(t)).cloned().collect();
    if !new_tags.is_empty() {
        did.push(format!("tagged it {}", new_tags.join(", ")));
        d.tags.extend(new_tags);
    }
    if let Some(name) = &x.restrict_to {
        match config.active_group(name) {
            Some(g) => {
                did.push(format!("restricted it to {}", g.name));
                d.restrict = Some(g.clone());
            }
            None => did.push(format!("could not restrict it to {name}: no such active group")),
        }
    }
    if let Some(note) = x.work_note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        d.notes.push((rule.name.clone(), note.to_string()));
        did.push("added a work note".into());
    }
    if let Some(reply) = x.auto_reply.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        if d.auto_reply.is_none() {
            d.auto_reply = Some((rule.name.clone(), reply.to_string()));
            did.push("answered the requester".into());
        } else {
            did.push("left the answer to the requester to an earlier rule".into());
        }
    }
    for (id, name) in &rule.notify {
        if !d.notify.contains(id) {
            d.notify.push(*id);
            did.push(format!("told {name}"));
        }
    }
    did
}

/// The rule in one sentence.
fn summary(c: &Conditions, x: &Actions) -> String {
    let mut when = Vec::new();
    let list = |v: &[String]| v.join(" or ");
    if !c.channels.is_empty() {
        when.push(format!("it came by {}", list(&c.channels)));
    }
    if !c.senders.is_empty() {
        when.push(format!("the sender is {}", list(&c.senders)));
    }
    if !c.mailboxes.is_empty() {
        when.push(format!("it came through mailbox {}", list(&c.mailboxes)));
    }
    if !c.words.is_empty() {
        let quoted: Vec<String> = c.words.iter().map(|w| format!("\u{201c}{w}\u{201d}")).collect();
        when.push(format!("the subject or body says {}", quoted.join(" or ")));
    }
    if !c.categories.is_empty() {
        when.push(format!("the category is {}", list(&c.categories)));
    }
    if !c.priorities.is_empty() {
        let p: Vec<String> = c.priorities.iter().map(|p| format!("P{p}")).collect();
        when.push(format!("the priority is {}", p.join(" or ")));
    }
    if !c.departments.is_empty() {
        when.push(format!("the requester is in {}", list(&c.departments)));
    }
    match c.vip {
        Some(true) => when.push("the requester is a VIP".into()),
        Some(false) => when.push("the requester is not a VIP".into()),
        None => {}
    }
    match c.business_hours {
        Some(true) => when.push("it arrives in business hours".into()),
        Some(false) => when.push("it arrives outside business hours".into()),
        None => {}
    }
    if !c.assets.is_empty() {
        when.push(format!("it is about {}", list(&c.assets)));
    }
    let mut then = Vec::new();
    if let Some(g) = &x.group {
        then.push(format!("set group {g}"));
    }
    if let Some(a) = &x.assignee {
        then.push(format!("assign to {a}"));
    }
    if let Some(cat) = &x.category {
        then.push(format!("set category {cat}"));
    }
    if let Some(i) = x.impact {
        then.push(format!("set impact {i}"));
    }
    if let Some(u) = x.urgency {
        then.push(format!("set urgency {u}"));
    }
    if !x.tags.is_empty() {
        then.push(format!("tag {}", x.tags.join(", ")));
    }
    if let Some(g) = &x.restrict_to {
        then.push(format!("restrict to {g}"));
    }
    if x.work_note.is_some() {
        then.push("add a work note".into());
    }
    if x.auto_reply.is_some() {
        then.push("answer the requester".into());
    }
    if !x.notify.is_empty() {
        then.push(format!("tell {}", x.notify.join(", ")));
    }
    let when = if when.is_empty() { "Every new ticket".to_string() } else { format!("When {}", when.join(" and ")) };
    format!("{when}: {}.", then.join(", "))
}

fn view(row: RuleRow) -> AppResult<Rule> {
    let conditions: Conditions = serde_json::from_str(&row.conditions).unwrap_or_default();
    let actions: Actions = serde_json::from_str(&row.actions).unwrap_or_default();
    Ok(Rule {
        id: row.id,
        name: row.name,
        position: row.position,
        active: row.active,
        stop: row.stop,
        on_update: row.on_update,
        summary: if row.on_update {
            format!("{} Also when a ticket changes.", summary(&conditions, &actions))
        } else {
            summary(&conditions, &actions)
        },
        conditions,
        actions,
        created_at: Timestamp(row.created_at).to_rfc3339(),
        updated_at: Timestamp(row.updated_at).to_rfc3339(),
    })
}

/// Checks a rule's fields and the names it uses; returns them ready to store.
async fn validate(c: &mut Conn<'_>, input: &RuleInput, current: Option<&RuleRow>) -> AppResult<Valid> {
    let mut errs = FieldErrors::new();
    let name = input.name.as_deref().map(str::trim).or(current.map(|r| r.name.as_str())).unwrap_or("").to_string();
    if name.is_empty() {
        errs.push("name", "is required");
    } else if name.chars().count() > 100 {
        errs.push("name", "must be at most 100 characters");
    }
    let mut cond = match (&input.conditions, current) {
        (Some(x), _) => x.clone(),
        (None, Some(r)) => serde_json::from_str(&r.conditions).unwrap_or_default(),
        (None, None) => Conditions::default(),
    };
    let mut act = match (&input.actions, current) {
        (Some(x), _) => x.clone(),
        (None, Some(r)) => serde_json::from_str(&r.actions).unwrap_or_default(),
        (None, None) => Actions::default(),
    };
    for (i, ch) in cond.channels.iter_mut().enumerate() {
        match Channel::parse(&format!("conditions.channels[{i}]"), ch.trim()) {
            Ok(c) => *ch = c.as_str().to_string(),
            Err(e) => errs.push(e.field, e.message),
        }
    }
    let texts = [
        ("senders", &mut cond.senders),
        ("mailboxes", &mut cond.mailboxes),
        ("words", &mut cond.words),
        ("categories", &mut cond.categories),
        ("departments", &mut cond.departments),
        ("assets", &mut cond.assets),
    ];
    for (key, list) in texts {
        for (i, v) in list.iter_mut().enumerate() {
            *v = v.trim().to_string();
            if v.is_empty() || v.chars().count() > 200 {
                errs.push(format!("conditions.{key}[{i}]"), "must be 1 to 200 characters");
            }
        }
    }
    for (i, s) in cond.senders.iter().enumerate() {
        if s.contains(char::is_whitespace) || (s.contains('@') && !s.starts_with('@') && Email::parse("s", s).is_err())
        {
            errs.push(format!("conditions.senders[{i}]"), "expected an e-mail address or a domain (example.com)");
        }
    }
    for (i, w) in cond.words.iter().enumerate() {
        if !w.is_empty() && orion_domain::routing::searchable(w, "").trim().is_empty() {
            errs.push(format!("conditions.words[{i}]"), "must hold a letter or a digit");
        }
    }
    for (i, p) in cond.priorities.iter().enumerate() {
        if !(1..=5).contains(p) {
            errs.push(format!("conditions.priorities[{i}]"), "expected 1 (P1) to 5 (P5)");
        }
    }
    for (i, path) in cond.categories.iter().enumerate() {
        if categories::find_by_path(c, path).await?.is_none() {
            errs.push(format!("conditions.categories[{i}]"), format!("no category {path:?}"));
        }
    }
    if act.is_empty() {
        errs.push("actions", "a rule must do something: set a group, a category, tags, …");
    }
    let group = match act.group.as_deref().map(str::trim) {
        Some(g) => match collect(&mut errs, crate::directory::group_by_name(c, "actions.group", g).await)? {
            Some(row) => {
                act.group = Some(row.name.clone());
                Some(row)
            }
            None => None,
        },
        None => None,
    };
    if let Some(a) = act.assignee.as_deref() {
        match (users::find_by_email(c, &a.trim().to_lowercase()).await?, &group) {
            (Some(u), _) if !u.active || !Role::parse("role", &u.role).is_ok_and(|r| r.is_staff()) => {
                errs.push("actions.assignee", "must be an active agent, lead or admin")
            }
            (Some(u), Some(g)) if !groups::is_member(c, g.id, u.id).await? => {
                errs.push("actions.assignee", format!("{} is not a member of {}", u.email, g.name))
            }
            (Some(u), _) => act.assignee = Some(u.email),
            (None, _) => errs.push("actions.assignee", format!("no user with e-mail {a}")),
        }
    }
    if let Some(p) = act.category.as_deref() {
        match categories::find_by_path(c, p.trim()).await? {
            Some(cat) if cat.active => act.category = Some(cat.path),
            _ => errs.push("actions.category", format!("no active category {p:?}")),
        }
    }
    if act.impact.is_some_and(|i| !(1..=3).contains(&i)) {
        errs.push("actions.impact", "expected 1 (high) to 3 (low)");
    }
    if act.urgency.is_some_and(|u| !(1..=3).contains(&u)) {
        errs.push("actions.urgency", "expected 1 (high) to 3 (low)");
    }
    act.tags = fold_tags("actions.tags", &act.tags, &mut errs);
    if let Some(g) = act.restrict_to.as_deref()
        && let Some(row) = collect(&mut errs, crate::directory::group_by_name(c, "actions.restrict_to", g).await)?
    {
        act.restrict_to = Some(row.name);
    }
    if let Some(n) = &act.work_note
        && (n.trim().is_empty() || n.chars().count() > TEXT_MAX)
    {
        errs.push("actions.work_note", format!("must be 1 to {TEXT_MAX} characters"));
    }
    if let Some(n) = &act.auto_reply {
        if n.trim().is_empty() || n.chars().count() > TEXT_MAX {
            errs.push("actions.auto_reply", format!("must be 1 to {TEXT_MAX} characters"));
        } else if let Err(e) = check_auto_reply(n) {
            errs.push(e.field, e.message);
        }
    }
    for (i, e) in act.notify.clone().iter().enumerate() {
        match users::find_by_email(c, &e.trim().to_lowercase()).await? {
            Some(u) if u.active && Role::parse("role", &u.role).is_ok_and(|r| r.is_staff()) => act.notify[i] = u.email,
            _ => errs.push(format!("actions.notify[{i}]"), format!("{e} is not an active member of staff")),
        }
    }
    if let Some(other) = store::list(c).await?.into_iter().find(|r| r.name.eq_ignore_ascii_case(&name))
        && current.is_none_or(|cur| cur.id != other.id)
    {
        errs.push("name", format!("a rule named {:?} exists already", other.name));
    }
    errs.into_result()?;
    Ok(Valid {
        name,
        active: input.active.or(current.map(|r| r.active)).unwrap_or(true),
        stop: input.stop.or(current.map(|r| r.stop)).unwrap_or(false),
        on_update: input.on_update.or(current.map(|r| r.on_update)).unwrap_or(false),
        conditions: serde_json::to_string(&cond).map_err(|e| AppError::Internal(e.to_string()))?,
        actions: serde_json::to_string(&act).map_err(|e| AppError::Internal(e.to_string()))?,
    })
}

struct Valid {
    name: String,
    active: bool,
    stop: bool,
    on_update: bool,
    conditions: String,
    actions: String,
}

impl Valid {
    fn fields(&self) -> RuleFields<'_> {
        RuleFields {
            name: &self.name,
            active: self.active,
            stop: self.stop,
            on_update: self.on_update,
            conditions: &self.conditions,
            actions: &self.actions,
        }
    }
}

fn found<T>(r: orion_store::Result<T>) -> AppResult<T> {
    match r {
        Err(orion_store::StoreError::NotFound) => Err(AppError::NotFound("routing rule")),
        other => Ok(other?),
    }
}

impl App {
    /// Every routing rule in evaluation order (admins).
    pub async fn list_rules(&self, actor: &Actor) -> AppResult<Vec<Rule>> {
        require_admin(actor, "see routing rules")?;
        let mut r = self.db.read().await?;
        store::list(&mut r.conn()).await?.into_iter().map(view).collect()
    }

    pub async fn get_rule(&self, actor: &Actor, id: i64) -> AppResult<Rule> {
        require_admin(actor, "see routing rules")?;
        let mut r = self.db.read().await?;
        view(found(store::get(&mut r.conn(), id).await)?)
    }

    /// Adds a rule at the end of the order (admins).
    pub async fn create_rule(&self, actor: &Actor, input: RuleInput) -> AppResult<Rule> {
        require_admin(actor, "add routing rules")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let v = validate(&mut c, &input, None).await?;
        let id = store::insert(&mut c, &v.fields(), actor.id.0, now).await?;
        let rule = view(store::get(&mut c, id).await?)?;
        self.commit(tx).await?;
        self.invalidate_config();
        Ok(rule)
    }

    /// Changes a rule; fields left out keep their value (admins).
    pub async fn update_rule(&self, actor: &Actor, id: i64, input: RuleInput) -> AppResult<Rule> {
        require_admin(actor, "change routing rules")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let current = found(store::get(&mut c, id).await)?;
        let v = validate(&mut c, &input, Some(&current)).await?;
        store::update(&mut c, id, &v.fields(), now).await?;
        let rule = view(store::get(&mut c, id).await?)?;
        self.commit(tx).await?;
        self.invalidate_config();
        Ok(rule)
    }

    pub async fn delete_rule(&self, actor: &Actor, id: i64) -> AppResult<()> {
        require_admin(actor, "remove routing rules")?;
        let mut tx = self.db.begin().await?;
        found(store::delete(&mut tx.conn(), id).await)?;
        self.commit(tx).await?;
        self.invalidate_config();
        Ok(())
    }

    /// Puts the rules in the order given (every rule's id, first to last).
    pub async fn order_rules(&self, actor: &Actor, order: RuleOrder) -> AppResult<Vec<Rule>> {
        require_admin(actor, "reorder routing rules")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut have: Vec<i64> = store::list(&mut c).await?.iter().map(|r| r.id).collect();
        let mut want = order.ids.clone();
        have.sort_unstable();
        want.sort_unstable();
        if have != want {
            return Err(invalid("ids", "must name every routing rule exactly once"));
        }
        store::reorder(&mut c, &order.ids, now).await?;
        let rules = store::list(&mut c).await?.into_iter().map(view).collect::<AppResult<Vec<_>>>()?;
        self.commit(tx).await?;
        self.invalidate_config();
        Ok(rules)
    }

    /// Moves one rule a place up (`up`) or down in the order.
    pub async fn move_rule(&self, actor: &Actor, id: i64, up: bool) -> AppResult<Vec<Rule>> {
        let mut ids: Vec<i64> = self.list_rules(actor).await?.iter().map(|r| r.id).collect();
        let Some(i) = ids.iter().position(|x| *x == id) else { return Err(AppError::NotFound("routing rule")) };
        match (up, i) {
            (true, 0) => {}
            (true, i) => ids.swap(i, i - 1),
            (false, i) if i + 1 < ids.len() => ids.swap(i, i + 1),
            _ => {}
        }
        self.order_rules(actor, RuleOrder { ids }).await
    }

    /// Runs the active rules on a sample ticket and says what they would do; writes nothing.
    pub async fn test_rules(&self, actor: &Actor, input: RuleTestInput) -> AppResult<RuleTestResult> {
        require_admin(actor, "test routing rules")?;
        let mut errs = FieldErrors::new();
        let channel = errs.check(Channel::parse("channel", input.channel.as_deref().unwrap_or("email").trim()));
        let impact = errs.check(Level::parse("impact", i64::from(input.impact.unwrap_or(3))));
        let urgency = errs.check(Level::parse("urgency", i64::from(input.urgency.unwrap_or(3))));
        let at = match input.at.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => errs.check(Timestamp::parse_day_or_instant("at", s)).map(|t| t.as_millis()),
            None => Some(self.now()),
        };
        if input.subject.as_deref().is_some_and(|t| t.chars().count() > TITLE_MAX) {
            errs.push("subject", format!("must be at most {TITLE_MAX} characters"));
        }
        if input.body.as_deref().is_some_and(|t| t.chars().count() > TEXT_MAX) {
            errs.push("body", format!("must be at most {TEXT_MAX} characters"));
        }
        let sender = input.requester.as_deref().map(str::trim).unwrap_or("").to_lowercase();
        if !sender.is_empty() && Email::parse("requester", &sender).is_err() {
            errs.push("requester", "expected an e-mail address");
        }
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let config = self.config(&mut c).await?;
        let category = match input.category.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => collect(&mut errs, crate::directory::category_by_path(&mut c, p).await)?,
            None => None,
        };
        errs.into_result()?;
        let (Some(channel), Some(impact), Some(urgency), Some(at)) = (channel, impact, urgency, at) else {
            return Err(AppError::Internal("validated input incomplete".into()));
        };
        let group = match config.default_group() {
            Some(g) => g.clone(),
            None => crate::directory::default_group(&mut c).await?,
        };
        let person = if sender.is_empty() { None } else { users::find_by_email(&mut c, &sender).await? };
        let mut d = Draft { category, ..Draft::new(group, impact, urgency) };
        let arrival = Arrival {
            channel: channel.as_str(),
            sender: &sender,
            mailbox: input.mailbox.as_deref(),
            subject: input.subject.as_deref().unwrap_or(""),
            body: input.body.as_deref().unwrap_or(""),
            department: person.as_ref().and_then(|p| p.department.as_deref()),
            vip: person.as_ref().is_some_and(|p| p.vip),
            assets: Vec::new(),
            at,
            changed: false,
        };
        route(&config, &arrival, &mut d);
        Ok(RuleTestResult {
            fired: d.fired,
            priority: config.matrix.priority(d.impact, d.urgency).to_string(),
            assignment_group: d.group.name,
            assignee: d.assignee.map(|u| u.email),
            category: d.category.map(|c| c.path),
            tags: d.tags,
            restricted_to: d.restrict.map(|g| g.name),
        })
    }
}

/// The placeholders an automatic reply may hold (no agent wrote it, and it links no article).
fn check_auto_reply(text: &str) -> Result<(), orion_domain::FieldError> {
    use orion_domain::macros::{Piece, parse};
    for p in parse("actions.auto_reply", text)? {
        match p {
            Piece::Field(f) if f.starts_with("agent.") => {
                return Err(orion_domain::FieldError::new(
                    "actions.auto_reply",
                    format!("{{{{{f}}}}} has no value in an automatic reply: no agent wrote it"),
                ));
            }
            Piece::Article(n) => {
                return Err(orion_domain::FieldError::new(
                    "actions.auto_reply",
                    format!("{{{{kb:{n}}}}}: write the article's link in the text of an automatic reply"),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Fills an automatic reply's placeholders for a new ticket.
pub(crate) fn fill_auto_reply(text: &str, number: &str, title: &str, requester: &str) -> String {
    use orion_domain::macros::{Values, fill, parse};
    let values = Values { requester, number, title, agent: "" };
    match parse("actions.auto_reply", text) {
        Ok(pieces) => fill(&pieces, |f| values.field(f).to_string(), |n| n.to_string()),
        Err(_) => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_reads_as_one_sentence() {
        let c = Conditions { channels: vec!["email".into()], words: vec!["phishing".into()], ..Default::default() };
        let x = Actions {
            group: Some("Security".into()),
            restrict_to: Some("Security".into()),
            tags: vec!["phishing".into()],
            ..Default::default()
        };
        assert_eq!(
            summary(&c, &x),
            "When it came by email and the subject or body says \u{201c}phishing\u{201d}: set group Security, \
             tag phishing, restrict to Security."
        );
        assert!(summary(&Conditions::default(), &x).starts_with("Every new ticket: "));
    }
}
