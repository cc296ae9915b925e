//! Macros: saved replies with placeholders plus field changes, applied to a ticket in one step
//! (one transaction: the reply, the field and state changes, the tags, each on the timeline as the
//! agent's own). Personal, shared with a group, or shared with every agent; suggested on tickets
//! of their category. Personal macros are their owner's; a group's are kept by its lead and the
//! admins; everyone's by the admins.

use crate::directory::{category_by_path, group_by_name};
use crate::kernel::access::require_staff;
use crate::kernel::error::{collect, invalid};
use crate::kernel::limits::TEXT_MAX;
use crate::{App, AppError, AppResult, Ticket, TicketPatch};
use orion_domain::macros::{self, Changes};
use orion_domain::{Actor, CommentKind, FieldErrors, ResolutionCode, State, Timestamp, Visibility};
use orion_store::desk::{self as store, MacroFields, MacroRow};
use orion_store::tickets::TicketView;
use orion_store::{Conn, groups, users};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

const NAME_MAX: usize = 100;

/// `POST /api/v1/macros`, `PUT /api/v1/macros/{id}`
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MacroInput {
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: Option<String>,
    /// `personal` (default: only you), `group` (the members of `group`) or `everyone` (every
    /// agent; admins only)
    pub scope: Option<String>,
    /// For `scope: group`: the group's name
    pub group: Option<String>,
    /// Suggest the macro on tickets of this category (and below); empty clears it
    pub category: Option<String>,
    /// The reply, with placeholders: `{{requester.name}}`, `{{requester.first_name}}`,
    /// `{{ticket.number}}`, `{{ticket.title}}`, `{{agent.name}}`, `{{agent.first_name}}`,
    /// `{{kb:KB0000042}}` (a link to that article). May be empty when the macro only changes fields.
    #[schema(max_length = 100000)]
    pub reply: Option<String>,
    /// `public` (default: a reply the requester gets) or `internal` (a work note)
    pub reply_visibility: Option<String>,
    /// Field changes. Keys: `state` (`in_progress`, `pending`, `resolved`), `pending_reason`,
    /// `resolution_code`, `assignment_group`, `assign_to_me`, `category`, `tags`.
    #[schema(value_type = Object)]
    pub changes: Option<Changes>,
}

/// A macro as agents see it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Macro {
    pub id: i64,
    pub name: String,
    /// `personal`, `group` or `everyone`
    pub scope: String,
    /// Whose personal macro it is
    pub owner: Option<String>,
    pub group: Option<String>,
    pub category: Option<String>,
    pub reply: String,
    pub reply_visibility: String,
    #[schema(value_type = Object)]
    pub changes: Changes,
    /// What it does, in words ("reply to the requester", "set pending (waiting for user)", …)
    pub does: Vec<String>,
    /// How often it was applied
    pub use_count: i64,
    /// May the reader change or remove it?
    pub may_edit: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A macro offered on one ticket, its reply filled in for it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TicketMacro {
    pub id: i64,
    pub name: String,
    /// Its category is the ticket's (or above it)
    pub suggested: bool,
    /// The reply as it would be sent on this ticket
    pub reply: String,
    pub reply_visibility: String,
    pub does: Vec<String>,
}

/// `POST /api/v1/tickets/{number}/apply-macro`
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyMacroInput {
    pub macro_id: i64,
    /// The reply as the agent edited it before applying; left out: the macro's, filled in
    #[schema(max_length = 100000)]
    pub reply: Option<String>,
}

/// Scope of a macro from its row.
fn scope_of(m: &MacroRow) -> &'static str {
    match (m.owner_id, m.group_id) {
        (Some(_), _) => "personal",
        (None, Some(_)) => "group",
        (None, None) => "everyone",
    }
}

fn does(m: &MacroRow, changes: &Changes) -> Vec<String> {
    let mut v = Vec::new();
    if !m.reply.trim().is_empty() {
        v.push(if m.reply_visibility == "internal" { "add a work note" } else { "reply to the requester" }.to_string());
    }
    v.extend(changes.describe());
    v
}

fn changes_of(m: &MacroRow) -> AppResult<Changes> {
    serde_json::from_str(&m.changes).map_err(|e| AppError::Internal(format!("macro {} changes: {e}", m.id)))
}

/// May `actor` use the macro? Their own, their groups', everyone's (admins: any).
async fn may_use(c: &mut Conn<'_>, actor: &Actor, m: &MacroRow) -> AppResult<bool> {
    Ok(match (m.owner_id, m.group_id) {
        (Some(o), _) => o == actor.id.0,
        (None, Some(g)) => actor.can_administer() || groups::is_member(c, g, actor.id.0).await?,
        (None, None) => true,
    })
}

/// May `actor` change or remove the macro? The owner of a personal one; a group's lead or an
/// admin for a group's; an admin for everyone's (admins may also remove anyone's personal ones).
async fn may_edit(c: &mut Conn<'_>, actor: &Actor, (owner, group): (Option<i64>, Option<i64>)) -> AppResult<bool> {
    Ok(match (owner, group) {
        (Some(o), _) => o == actor.id.0,
        _ if actor.can_administer() => true,
        (None, Some(g)) => groups::get(c, g).await?.lead_id == Some(actor.id.0),
        (None, None) => false,
    })
}

async fn view(c: &mut Conn<'_>, actor: &Actor, m: MacroRow) -> AppResult<Macro> {
    let changes = changes_of(&m)?;
    let may_edit = may_edit(c, actor, (m.owner_id, m.group_id)).await?;
    Ok(Macro {
        id: m.id,
        name: m.name.clone(),
        scope: scope_of(&m).to_string(),
        owner: m.owner_name.clone(),
        group: m.group_name.clone(),
        category: m.category_path.clone(),
        does: does(&m, &changes),
        changes,
        reply: m.reply,
        reply_visibility: m.reply_visibility,
        use_count: m.use_count,
        may_edit,
        created_at: Timestamp(m.created_at).to_rfc3339(),
        updated_at: Timestamp(m.updated_at).to_rfc3339(),
    })
}

/// A macro the actor may use, or not found.
async fn usable(c: &mut Conn<'_>, actor: &Actor, id: i64) -> AppResult<MacroRow> {
    let m = match store::get_macro(c, id).await {
        Err(orion_store::StoreError::NotFound) => return Err(AppError::NotFound("macro")),
        other => other?,
    };
    if !may_use(c, actor, &m).await? {
        return Err(AppError::NotFound("macro"));
    }
    Ok(m)
}

/// Fills a macro's reply for ticket `t`, applied by `agent` (their name); articles are linked on
/// the portal when its address is set.
async fn fill(
    c: &mut Conn<'_>,
    reply: &str,
    t: &TicketView,
    agent: &str,
    portal_url: Option<&str>,
) -> AppResult<String> {
    let pieces = macros::parse("reply", reply)?;
    let mut articles = Vec::new();
    for n in macros::articles(&pieces) {
        let text = match orion_store::kb::get_by_number(c, &n).await {
            Ok(a) => match portal_url {
                Some(u) => format!("“{}” {}/kb/{}", a.title, u.trim_end_matches('/'), a.number),
                None => format!("“{}” ({})", a.title, a.number),
            },
            Err(orion_store::StoreError::NotFound) => n.clone(),
            Err(e) => return Err(e.into()),
        };
        articles.push((n, text));
    }
    let values = macros::Values { requester: &t.requester_name, number: &t.number, title: &t.title, agent };
    Ok(macros::fill(
        &pieces,
        |f| values.field(f).to_string(),
        |n| articles.iter().find(|(a, _)| a == n).map(|(_, t)| t.clone()).unwrap_or_else(|| n.to_string()),
    ))
}

/// Is `category` (a path) the ticket's category or above it?
fn suggests(category: Option<&str>, ticket_category: Option<&str>) -> bool {
    match (category, ticket_category) {
        (Some(m), Some(t)) => t == m || t.starts_with(&format!("{m} / ")),
        _ => false,
    }
}

impl App {
    /// The macros the actor may use (staff), by name; admins see every macro.
    pub async fn list_macros(&self, actor: &Actor) -> AppResult<Vec<Macro>> {
        require_staff(actor, "use macros")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let rows = store::list_macros(&mut c, actor.id.0, actor.can_administer()).await?;
        let mut out = Vec::with_capacity(rows.len());
        for m in rows {
            out.push(view(&mut c, actor, m).await?);
        }
        Ok(out)
    }

    /// One macro the actor may use.
    pub async fn get_macro(&self, actor: &Actor, id: i64) -> AppResult<Macro> {
        require_staff(actor, "use macros")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let m = usable(&mut c, actor, id).await?;
        view(&mut c, actor, m).await
    }

    /// Saves a new macro.
    pub async fn create_macro(&self, actor: &Actor, input: MacroInput) -> AppResult<Macro> {
        require_staff(actor, "keep macros")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let f = self.checked_macro(&mut c, actor, None, input).await?;
        let fields = f.fields();
        let id = store::insert_macro(&mut c, &fields, actor.id.0, now).await?;
        let m = store::get_macro(&mut c, id).await?;
        let out = view(&mut c, actor, m).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Changes a macro; fields left out keep their value.
    pub async fn update_macro(&self, actor: &Actor, id: i64, input: MacroInput) -> AppResult<Macro> {
        require_staff(actor, "keep macros")?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let old = usable(&mut c, actor, id).await?;
        if !may_edit(&mut c, actor, (old.owner_id, old.group_id)).await? {
            return Err(AppError::Forbidden(format!("you cannot change the macro {:?}", old.name)));
        }
        let f = self.checked_macro(&mut c, actor, Some(&old), input).await?;
        store::update_macro(&mut c, id, &f.fields(), now).await?;
        let m = store::get_macro(&mut c, id).await?;
        let out = view(&mut c, actor, m).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Removes a macro.
    pub async fn delete_macro(&self, actor: &Actor, id: i64) -> AppResult<()> {
        require_staff(actor, "keep macros")?;
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let m = usable(&mut c, actor, id).await?;
        let admin_removing_personal = actor.can_administer() && m.owner_id.is_some();
        if !admin_removing_personal && !may_edit(&mut c, actor, (m.owner_id, m.group_id)).await? {
            return Err(AppError::Forbidden(format!("you cannot remove the macro {:?}", m.name)));
        }
        store::delete_macro(&mut c, id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The macros the actor may use on a ticket, each reply filled in for it; those for the
    /// ticket's category first.
    pub async fn ticket_macros(&self, actor: &Actor, number: &str) -> AppResult<Vec<TicketMacro>> {
        require_staff(actor, "use macros")?;
        let portal = self.mail_settings().await?.portal_url.clone();
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let t = crate::tickets::load_visible(&mut c, actor, number).await?;
        let me = users::get(&mut c, actor.id.0).await?;
        let mut out = Vec::new();
        for m in store::list_macros(&mut c, actor.id.0, false).await? {
            let changes = changes_of(&m)?;
            out.push(TicketMacro {
                id: m.id,
                suggested: suggests(m.category_path.as_deref(), t.category_path.as_deref()),
                reply: fill(&mut c, &m.reply, &t, &me.name, portal.as_deref()).await?,
                does: does(&m, &changes),
                name: m.name,
                reply_visibility: m.reply_visibility,
            });
        }
        out.sort_by_key(|m| !m.suggested);
        Ok(out)
    }

    /// Applies a macro to a ticket in one transaction: its reply (or the agent's edit of it), then
    /// its field and state changes and its tags; each lands on the timeline as the agent's own.
    /// Nothing is written if any part is refused.
    pub async fn apply_macro(&self, actor: &Actor, number: &str, input: ApplyMacroInput) -> AppResult<Ticket> {
        require_staff(actor, "apply macros")?;
        let portal = self.mail_settings().await?.portal_url.clone();
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let m = match usable(&mut c, actor, input.macro_id).await {
            Err(AppError::NotFound(_)) => return Err(invalid("macro_id", "no such macro, or not one you may use")),
            other => other?,
        };
        let changes = changes_of(&m)?;
        let mut t = crate::tickets::load_visible(&mut c, actor, number).await?;
        let state = State::parse("state", &t.state)?;
        if !state.is_open() {
            return Err(AppError::Conflict(format!("{} is {}; a macro applies to open tickets", t.number, t.state)));
        }
        let me = users::get(&mut c, actor.id.0).await?;
        let reply = match input.reply {
            Some(r) if r.chars().count() > TEXT_MAX => {
                return Err(invalid("reply", format!("must be at most {TEXT_MAX} characters")));
            }
            Some(r) => r.trim().to_string(),
            None => fill(&mut c, &m.reply, &t, &me.name, portal.as_deref()).await?.trim().to_string(),
        };
        if !reply.is_empty() {
            let (kind, vis) = if m.reply_visibility == "internal" {
                (CommentKind::WorkNote, Visibility::Internal)
            } else {
                (CommentKind::Comment, Visibility::Public)
            };
            let data = serde_json::json!({"macro": m.name}).to_string();
            crate::tickets::comment_in(&mut c, actor, &mut t, kind, vis, &reply, &data, now).await?;
            // The reply moved the ticket's version on: the changes go on from the row as it is now.
            t = orion_store::tickets::get(&mut c, t.id).await?;
        }
        let patch = TicketPatch {
            category: changes.category.clone(),
            assignment_group: changes.assignment_group.clone(),
            assignee: changes.assign_to_me.then(|| me.email.clone()),
            state: changes.state.clone().filter(|s| s != "resolved"),
            pending_reason: changes.pending_reason.clone(),
            note: changes.assignment_group.as_ref().map(|_| format!("Moved by the macro “{}”.", m.name)),
            ..TicketPatch::default()
        };
        let (mut t, _) =
            crate::tickets::update_in(&mut c, actor, t, &patch, now).await.map_err(|e| about_macro(e, &m))?;
        if !changes.tags.is_empty() {
            crate::tickets::tag_in(&mut c, actor, t.id, &changes.tags, now).await?;
        }
        if changes.state.as_deref() == Some("resolved") {
            let code =
                ResolutionCode::parse("changes.resolution_code", changes.resolution_code.as_deref().unwrap_or(""))
                    .map_err(|e| about_macro(AppError::Validation(e.into()), &m))?;
            let notes =
                if reply.is_empty() { format!("Resolved with the macro “{}”.", m.name) } else { reply.clone() };
            crate::tickets::time::require_time(&mut c, &t, None).await.map_err(|e| about_macro(e, &m))?;
            t = crate::tickets::lifecycle::resolve_in(&mut c, actor, &mut t, (code, &notes), now)
                .await
                .map_err(|e| about_macro(e, &m))?;
        }
        store::count_macro_use(&mut c, m.id).await?;
        let t = orion_store::tickets::get(&mut c, t.id).await?;
        self.commit(tx).await?;
        Ok(t.into())
    }

    /// Validates a macro's input against the old one (for a change) and resolves its names.
    async fn checked_macro(
        &self,
        c: &mut Conn<'_>,
        actor: &Actor,
        old: Option<&MacroRow>,
        input: MacroInput,
    ) -> AppResult<CheckedMacro> {
        let mut errs = FieldErrors::new();
        let name = match input.name.as_deref().map(str::trim) {
            Some("") => {
                errs.push("name", "give the macro a name");
                String::new()
            }
            Some(n) if n.chars().count() > NAME_MAX => {
                errs.push("name", format!("must be at most {NAME_MAX} characters"));
                String::new()
            }
            Some(n) => n.to_string(),
            None => match old {
                Some(o) => o.name.clone(),
                None => {
                    errs.push("name", "give the macro a name");
                    String::new()
                }
            },
        };
        let scope = match input.scope.as_deref() {
            Some(s @ ("personal" | "group" | "everyone")) => s,
            Some(s) => {
                errs.push("scope", format!("{s:?} is not a scope: personal, group or everyone"));
                "personal"
            }
            None => old.map_or("personal", scope_of),
        };
        let (owner_id, group_id) = match scope {
            "personal" => (Some(old.and_then(|o| o.owner_id).unwrap_or(actor.id.0)), None),
            "group" => {
                let g = match input.group.as_deref() {
                    Some(g) => collect(&mut errs, group_by_name(c, "group", g).await)?.map(|g| g.id),
                    None => match old.and_then(|o| o.group_id) {
                        Some(g) => Some(g),
                        None => {
                            errs.push("group", "name the group the macro is shared with");
                            None
                        }
                    },
                };
                (None, g)
            }
            _ => (None, None),
        };
        if input.group.is_some() && scope != "group" {
            errs.push("group", "only a macro shared with a group names one (scope: group)");
        }
        if (scope != "group" || group_id.is_some()) && !may_edit(c, actor, (owner_id, group_id)).await? {
            let why = match scope {
                "group" => "only the group's lead or an admin shares macros with a group",
                _ => "only admins share macros with every agent",
            };
            errs.push("scope", why);
        }
        let category_id = match input.category.as_deref().map(str::trim) {
            Some("") => None,
            Some(p) => collect(&mut errs, category_by_path(c, p).await)?.map(|c| c.id),
            None => old.and_then(|o| o.category_id),
        };
        let reply_visibility = match input.reply_visibility.as_deref() {
            Some(v) => match Visibility::parse("reply_visibility", v) {
                Ok(v) => v.as_str().to_string(),
                Err(e) => {
                    errs.push(e.field, e.message);
                    "public".to_string()
                }
            },
            None => old.map_or("public".to_string(), |o| o.reply_visibility.clone()),
        };
        let reply = input.reply.map(|r| r.trim().to_string()).or(old.map(|o| o.reply.clone())).unwrap_or_default();
        if reply.chars().count() > TEXT_MAX {
            errs.push("reply", format!("must be at most {TEXT_MAX} characters"));
        }
        match macros::parse("reply", &reply) {
            Err(e) => errs.push(e.field, e.message),
            Ok(pieces) => {
                for n in macros::articles(&pieces) {
                    match orion_store::kb::get_by_number(c, &n).await {
                        Ok(a) if reply_visibility == "public" && (a.audience != "public" || a.state != "published") => {
                            errs.push(
                                "reply",
                                format!("{n} is not a published public article: the requester could not open it"),
                            )
                        }
                        Ok(_) => {}
                        Err(orion_store::StoreError::NotFound) => {
                            errs.push("reply", format!("there is no article {n}"))
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        let mut changes = match (input.changes, old) {
            (Some(ch), _) => ch,
            (None, Some(o)) => changes_of(o)?,
            (None, None) => Changes::default(),
        };
        changes.check(&mut errs);
        if let Some(g) = &changes.assignment_group
            && let Some(g) = collect(&mut errs, group_by_name(c, "changes.assignment_group", g).await)?
        {
            changes.assignment_group = Some(g.name);
        }
        if let Some(p) = &changes.category
            && let Some(cat) = collect(&mut errs, category_by_path(c, p).await)?
        {
            changes.category = Some(cat.path);
        }
        if changes.is_empty() && reply.trim().is_empty() {
            errs.push("reply", "a macro needs a reply or a change to make");
        }
        if !name.is_empty() && store::macro_name_taken(c, &name, (owner_id, group_id), old.map(|o| o.id)).await? {
            errs.push("name", format!("there is already a macro called {name:?} here"));
        }
        errs.into_result()?;
        let changes = serde_json::to_string(&changes).map_err(|e| AppError::Internal(e.to_string()))?;
        Ok(CheckedMacro { name, owner_id, group_id, category_id, reply, reply_visibility, changes })
    }
}

/// A refusal while applying a macro's changes names the macro, so the agent knows what to fix.
fn about_macro(e: AppError, m: &MacroRow) -> AppError {
    match e {
        AppError::Validation(errs) => {
            let mut out = FieldErrors::new();
            for f in errs.iter() {
                out.push(f.field.clone(), format!("the macro “{}” cannot be applied here: {}", m.name, f.message));
            }
            AppError::Validation(out)
        }
        AppError::Conflict(msg) => AppError::Conflict(format!("the macro “{}” cannot be applied here: {msg}", m.name)),
        other => other,
    }
}

struct CheckedMacro {
    name: String,
    owner_id: Option<i64>,
    group_id: Option<i64>,
    category_id: Option<i64>,
    reply: String,
    reply_visibility: String,
    changes: String,
}

impl CheckedMacro {
    fn fields(&self) -> MacroFields<'_> {
        MacroFields {
            name: &self.name,
            owner_id: self.owner_id,
            group_id: self.group_id,
            category_id: self.category_id,
            reply: &self.reply,
            reply_visibility: &self.reply_visibility,
            changes: &self.changes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::suggests;

    #[test]
    fn a_macro_is_suggested_on_its_category_and_below() {
        assert!(suggests(Some("Network"), Some("Network")));
        assert!(suggests(Some("Network"), Some("Network / VPN")));
        assert!(!suggests(Some("Network"), Some("Networking")));
        assert!(!suggests(Some("Network"), None));
        assert!(!suggests(None, Some("Network")));
    }
}
