//! Users, groups and categories. Staff read them; only admins change them.

use crate::kernel::access::require_admin;
use crate::kernel::error::collect;
use crate::kernel::error::invalid;
use crate::kernel::paging::{parse_cursor, parse_limit};
use crate::{
    App, AppError, AppResult, Category, CategoryInput, Group, GroupInput, NewUserInput, Page, User, UserPatch,
};
use orion_domain::error::required_text;
use orion_domain::{Actor, Email, FieldErrors, Role, Tier};
use orion_store::{Conn, StoreError, categories, groups, users};

fn require_staff(actor: &Actor) -> AppResult<()> {
    if actor.can_read_directory() {
        Ok(())
    } else {
        Err(AppError::Forbidden("requesters cannot browse the directory".into()))
    }
}

async fn group_names(conn: &mut Conn<'_>, user_id: i64) -> AppResult<Vec<String>> {
    let mut names = Vec::new();
    for id in users::group_ids(conn, user_id).await? {
        names.push(groups::get(conn, id).await?.name);
    }
    Ok(names)
}

async fn user_view(conn: &mut Conn<'_>, row: users::UserRow) -> AppResult<User> {
    let groups = group_names(conn, row.id).await?;
    // Local accounts (most of them) carry neither link: no query for them.
    let manager = match row.manager_id {
        Some(m) => Some(users::get(conn, m).await?.email),
        None => None,
    };
    let source = match row.directory_source_id {
        Some(s) => Some(orion_store::identity::get_source(conn, s).await?.name),
        None => None,
    };
    Ok(User::with_links(row, groups, manager, source))
}

/// The manager an admin names for `user_id`: an existing user, not the user, and not someone
/// who (through their own managers) reports to the user.
async fn manager_for(conn: &mut Conn<'_>, user_id: i64, email: &str) -> AppResult<Option<i64>> {
    let email = email.trim();
    if email.is_empty() {
        return Ok(None);
    }
    let email = Email::parse("manager", email)?;
    let Some(m) = users::find_by_email(conn, email.as_str()).await? else {
        return Err(invalid("manager", format!("no user with e-mail {email}")));
    };
    let mut at = m.clone();
    for _ in 0..50 {
        if at.id == user_id {
            return Err(invalid("manager", format!("{email} reports to this user; a manager chain cannot loop")));
        }
        match at.manager_id {
            Some(next) => at = users::get(conn, next).await?,
            None => break,
        }
    }
    Ok(Some(m.id))
}

async fn group_view(conn: &mut Conn<'_>, g: groups::GroupRow) -> AppResult<Group> {
    let escalates_to = match g.escalation_target_id {
        Some(id) => Some(groups::get(conn, id).await?.name),
        None => None,
    };
    let lead = match g.lead_id {
        Some(id) => Some(users::get(conn, id).await?.email),
        None => None,
    };
    let mut members = Vec::new();
    for id in groups::member_ids(conn, g.id).await? {
        members.push(users::get(conn, id).await?.email);
    }
    Ok(Group::from_row(g, escalates_to, lead, members))
}

/// Resolves group names to rows, reporting unknown ones on `field`.
async fn groups_named(conn: &mut Conn<'_>, field: &str, names: &[String]) -> AppResult<Vec<groups::GroupRow>> {
    let mut out = Vec::new();
    for n in names {
        match groups::find_by_name(conn, n.trim()).await? {
            Some(g) => out.push(g),
            None => return Err(invalid(field, format!("no group named {n:?}"))),
        }
    }
    Ok(out)
}

async fn staff_by_email(conn: &mut Conn<'_>, field: &str, email: &str) -> AppResult<users::UserRow> {
    let email = Email::parse(field, email)?;
    match users::find_by_email(conn, email.as_str()).await? {
        Some(u) if Role::parse("role", &u.role).is_ok_and(Role::is_staff) => Ok(u),
        Some(_) => Err(invalid(field, format!("{email} is a requester, not staff"))),
        None => Err(invalid(field, format!("no user with e-mail {email}"))),
    }
}

impl App {
    pub async fn create_user(&self, actor: &Actor, input: NewUserInput) -> AppResult<User> {
        require_admin(actor, "create users")?;
        let mut errs = FieldErrors::new();
        let email = errs.check(Email::parse("email", input.email.as_deref().unwrap_or("")));
        let name = match input.name.as_deref() {
            Some(n) => errs.check(required_text("name", n, 200)),
            None => email.as_ref().map(|e| e.local_part().to_string()),
        };
        let role = errs.check(Role::parse("role", input.role.as_deref().unwrap_or("requester")));
        let password_hash = match input.password {
            Some(p) => {
                let who = (email.as_ref().map(|e| e.as_str().to_string()), name.clone());
                let policy =
                    self.check_password_policy(&p, who.0.as_deref().unwrap_or(""), who.1.as_deref().unwrap_or(""));
                match collect(&mut errs, policy.await)? {
                    Some(()) => collect(&mut errs, crate::auth::hash_password(p).await)?,
                    None => None,
                }
            }
            None => None,
        };
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let member_of = collect(&mut errs, groups_named(&mut c, "groups", &input.groups).await)?;
        if let (Some(Role::Requester), false) = (role, input.groups.is_empty()) {
            errs.push("groups", "requesters do not belong to support groups");
        }
        if let Some(e) = &email
            && users::find_by_email(&mut c, e.as_str()).await?.is_some()
        {
            errs.push("email", format!("{e} is already a user"));
        }
        errs.into_result()?;
        let (Some(email), Some(name), Some(role), Some(member_of)) = (email, name, role, member_of) else {
            return Err(AppError::Internal("validated input incomplete".into()));
        };
        let phone = input.phone.as_deref().map(str::trim).filter(|p| !p.is_empty());
        let id = users::insert(
            &mut c,
            &users::NewUser {
                email: email.as_str(),
                name: &name,
                role: role.as_str(),
                phone,
                department: input.department.as_deref().map(str::trim).filter(|d| !d.is_empty()),
                password_hash: password_hash.as_deref(),
                now,
            },
        )
        .await?;
        for g in &member_of {
            groups::add_member(&mut c, g.id, id).await?;
        }
        if input.vip == Some(true) {
            users::update(&mut c, id, users::UserChange { vip: Some(true), ..Default::default() }, now).await?;
        }
        let row = users::get(&mut c, id).await?;
        let view = user_view(&mut c, row).await?;
        self.commit(tx).await?;
        Ok(view)
    }

    pub async fn get_user(&self, actor: &Actor, id: i64) -> AppResult<User> {
        if actor.id.0 != id {
            require_staff(actor)?;
        }
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let row = match users::get(&mut c, id).await {
            Err(StoreError::NotFound) => return Err(AppError::NotFound("user")),
            other => other?,
        };
        user_view(&mut c, row).await
    }

    /// The user with this e-mail address (staff).
    pub async fn user_by_email(&self, actor: &Actor, email: &str) -> AppResult<User> {
        require_staff(actor)?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let row =
            users::find_by_email(&mut c, &email.trim().to_lowercase()).await?.ok_or(AppError::NotFound("user"))?;
        user_view(&mut c, row).await
    }

    /// Writes the caller-lookup terms of every user when an upgrade asked for it; how many.
    pub async fn index_people_if_needed(&self) -> AppResult<u64> {
        const KEY: &str = "people.lookup_index_needed";
        {
            let mut r = self.db.read().await?;
            if orion_store::settings::get(&mut r.conn(), KEY).await?.as_deref() != Some("true") {
                return Ok(0);
            }
        }
        let (mut after, mut n) = (0, 0);
        loop {
            let mut tx = self.db.begin().await?;
            let last = users::index_terms_after(&mut tx.conn(), after, 500).await?;
            self.commit(tx).await?;
            match last {
                Some((id, count)) => {
                    n += count;
                    after = id;
                }
                None => break,
            }
        }
        let mut tx = self.db.begin().await?;
        orion_store::settings::put(&mut tx.conn(), KEY, "false", self.now()).await?;
        self.commit(tx).await?;
        Ok(n)
    }

    /// Users ordered by id; `q` finds people by the start of any word of their name, e-mail
    /// address, phone number, department or sign-in name, accents and case aside (type-ahead).
    pub async fn list_users(
        &self,
        actor: &Actor,
        role: Option<&str>,
        q: Option<&str>,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> AppResult<Page<User>> {
        require_staff(actor)?;
        let role = role.map(|r| Role::parse("role", r)).transpose()?;
        let limit = parse_limit(limit)?;
        let after = parse_cursor(cursor)?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let q = q.map(str::trim).filter(|q| !q.is_empty());
        let mut rows = users::list(&mut c, role.map(Role::as_str), q, after, limit + 1).await?;
        let next_cursor = crate::kernel::paging::keyset_cursor(&mut rows, limit, |u| u.id);
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            items.push(user_view(&mut c, row).await?);
        }
        Ok(Page { items, next_cursor })
    }

    pub async fn update_user(&self, actor: &Actor, id: i64, p: UserPatch) -> AppResult<User> {
        require_admin(actor, "change users")?;
        let mut errs = FieldErrors::new();
        let name = p.name.as_deref().and_then(|n| errs.check(required_text("name", n, 200)));
        let role = p.role.as_deref().and_then(|r| errs.check(Role::parse("role", r)));
        if actor.id.0 == id && (p.active == Some(false) || role.is_some_and(|r| r != Role::Admin)) {
            errs.push("role", "you cannot demote or deactivate yourself");
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let existing = match users::get(&mut c, id).await {
            Err(StoreError::NotFound) => return Err(AppError::NotFound("user")),
            other => other?,
        };
        let new_groups = match &p.groups {
            Some(names) => collect(&mut errs, groups_named(&mut c, "groups", names).await)?,
            None => None,
        };
        let final_role = role.or_else(|| Role::parse("role", &existing.role).ok());
        if final_role == Some(Role::Requester) && p.groups.as_ref().is_some_and(|g| !g.is_empty()) {
            errs.push("groups", "requesters do not belong to support groups");
        }
        let manager = match &p.manager {
            Some(m) => collect(&mut errs, manager_for(&mut c, id, m).await)?,
            None => None,
        };
        if actor.id.0 == id && p.break_glass == Some(false) && existing.break_glass {
            errs.push("break_glass", "ask another admin to remove your own break-glass mark");
        }
        errs.into_result()?;
        let phone = p.phone.as_deref().map(str::trim);
        let change = users::UserChange {
            name: name.as_deref(),
            role: role.map(Role::as_str),
            active: p.active,
            phone,
            department: p.department.as_deref().map(str::trim),
            title: p.title.as_deref().map(str::trim),
            location: p.location.as_deref().map(str::trim),
            break_glass: p.break_glass,
            vip: p.vip,
        };
        users::update(&mut c, id, change, now).await?;
        if let Some(m) = manager {
            users::set_manager(&mut c, id, m, now).await?;
        }
        if p.active == Some(false) && existing.active {
            // Deactivated: every browser session ends now, not at its next request.
            orion_store::web::delete_sessions_of(&mut c, id).await?;
        }
        if let Some(gs) = new_groups {
            for old in users::group_ids(&mut c, id).await? {
                groups::remove_member(&mut c, old, id).await?;
            }
            for g in gs {
                groups::add_member(&mut c, g.id, id).await?;
            }
        } else if final_role == Some(Role::Requester) {
            for old in users::group_ids(&mut c, id).await? {
                groups::remove_member(&mut c, old, id).await?;
            }
        }
        let row = users::get(&mut c, id).await?;
        let view = user_view(&mut c, row).await?;
        self.commit(tx).await?;
        // A deactivated user or a changed role must not ride on cached tokens.
        self.tokens_changed().await;
        Ok(view)
    }

    pub async fn create_group(&self, actor: &Actor, input: GroupInput) -> AppResult<Group> {
        require_admin(actor, "create groups")?;
        let mut errs = FieldErrors::new();
        let name = errs.check(required_text("name", input.name.as_deref().unwrap_or(""), 100));
        let tier = match input.tier {
            Some(t) => errs.check(Tier::parse("tier", t)),
            None => {
                errs.push("tier", "is required (1, 2 or 3)");
                None
            }
        };
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        if let Some(n) = &name
            && groups::find_by_name(&mut c, n).await?.is_some()
        {
            errs.push("name", format!("a group named {n:?} exists already"));
        }
        let target = match input.escalates_to.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(t) => collect(&mut errs, groups_named(&mut c, "escalates_to", &[t.to_string()]).await)?
                .and_then(|mut v| v.pop()),
            None => None,
        };
        if let (Some(t), Some(tier)) = (&target, tier)
            && t.tier < i64::from(tier.get())
        {
            errs.push("escalates_to", format!("{} is tier {}, below this group's tier {}", t.name, t.tier, tier.get()));
        }
        let lead = match input.lead.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(l) => collect(&mut errs, staff_by_email(&mut c, "lead", l).await)?,
            None => None,
        };
        errs.into_result()?;
        let (Some(name), Some(tier)) = (name, tier) else {
            return Err(AppError::Internal("validated input incomplete".into()));
        };
        let id = groups::insert(
            &mut c,
            &groups::NewGroup {
                name: &name,
                tier: i64::from(tier.get()),
                escalation_target_id: target.map(|t| t.id),
                lead_id: lead.as_ref().map(|l| l.id),
                description: input.description.as_deref().unwrap_or("").trim(),
                now,
            },
        )
        .await?;
        if let Some(l) = &lead {
            groups::add_member(&mut c, id, l.id).await?;
        }
        let mut g = groups::get(&mut c, id).await?;
        if input.time_required == Some(true) {
            g.time_required = true;
            groups::update(&mut c, &g).await?;
        }
        let view = group_view(&mut c, g).await?;
        self.commit(tx).await?;
        self.invalidate_config();
        Ok(view)
    }

    pub async fn update_group(&self, actor: &Actor, id: i64, input: GroupInput) -> AppResult<Group> {
        require_admin(actor, "change groups")?;
        let mut errs = FieldErrors::new();
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut g = match groups::get(&mut c, id).await {
            Err(StoreError::NotFound) => return Err(AppError::NotFound("group")),
            other => other?,
        };
        if let Some(n) = &input.name
            && let Some(n) = errs.check(required_text("name", n, 100))
        {
            if groups::find_by_name(&mut c, &n).await?.is_some_and(|o| o.id != id) {
                errs.push("name", format!("a group named {n:?} exists already"));
            }
            g.name = n;
        }
        if let Some(t) = input.tier
            && let Some(t) = errs.check(Tier::parse("tier", t))
        {
            g.tier = i64::from(t.get());
        }
        match input.escalates_to.as_deref().map(str::trim) {
            None => {}
            Some("") => g.escalation_target_id = None,
            Some(t) => {
                if let Some(target) = collect(&mut errs, groups_named(&mut c, "escalates_to", &[t.to_string()]).await)?
                    .and_then(|mut v| v.pop())
                {
                    if target.id == id {
                        errs.push("escalates_to", "a group cannot escalate to itself");
                    }
                    g.escalation_target_id = Some(target.id);
                }
            }
        }
        if let Some(tid) = g.escalation_target_id {
            let target = groups::get(&mut c, tid).await?;
            if target.tier < g.tier {
                errs.push(
                    "escalates_to",
                    format!("{} is tier {}, below this group's tier {}", target.name, target.tier, g.tier),
                );
            }
        }
        let mut new_lead = None;
        match input.lead.as_deref().map(str::trim) {
            None => {}
            Some("") => g.lead_id = None,
            Some(l) => {
                if let Some(u) = collect(&mut errs, staff_by_email(&mut c, "lead", l).await)? {
                    g.lead_id = Some(u.id);
                    new_lead = Some(u.id);
                }
            }
        }
        if let Some(d) = &input.description {
            g.description = d.trim().to_string();
        }
        if let Some(a) = input.active {
            g.active = a;
        }
        if let Some(r) = input.time_required {
            g.time_required = r;
        }
        errs.into_result()?;
        g.updated_at = now;
        groups::update(&mut c, &g).await?;
        if let Some(l) = new_lead {
            groups::add_member(&mut c, id, l).await?;
        }
        let view = group_view(&mut c, g).await?;
        self.commit(tx).await?;
        self.invalidate_config();
        Ok(view)
    }

    pub async fn list_groups(&self, actor: &Actor) -> AppResult<Vec<Group>> {
        require_staff(actor)?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let mut out = Vec::new();
        for g in groups::list(&mut c).await? {
            out.push(group_view(&mut c, g).await?);
        }
        Ok(out)
    }

    pub async fn get_group(&self, actor: &Actor, id: i64) -> AppResult<Group> {
        require_staff(actor)?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let g = match groups::get(&mut c, id).await {
            Err(StoreError::NotFound) => return Err(AppError::NotFound("group")),
            other => other?,
        };
        group_view(&mut c, g).await
    }

    /// Adds (`member = true`) or removes a user from a group.
    pub async fn set_membership(&self, actor: &Actor, group_id: i64, user_id: i64, member: bool) -> AppResult<Group> {
        require_admin(actor, "change group membership")?;
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let g = match groups::get(&mut c, group_id).await {
            Err(StoreError::NotFound) => return Err(AppError::NotFound("group")),
            other => other?,
        };
        let u = match users::get(&mut c, user_id).await {
            Err(StoreError::NotFound) => return Err(AppError::NotFound("user")),
            other => other?,
        };
        if member {
            if !Role::parse("role", &u.role).is_ok_and(Role::is_staff) {
                return Err(invalid("user", "requesters do not belong to support groups"));
            }
            groups::add_member(&mut c, g.id, u.id).await?;
        } else {
            groups::remove_member(&mut c, g.id, u.id).await?;
        }
        let view = group_view(&mut c, g).await?;
        self.commit(tx).await?;
        Ok(view)
    }

    pub async fn create_category(&self, actor: &Actor, input: CategoryInput) -> AppResult<Category> {
        require_admin(actor, "create categories")?;
        let name = required_text("name", input.name.as_deref().unwrap_or(""), 100)?;
        if name.contains(" / ") {
            return Err(invalid("name", "must not contain \" / \" (it separates levels)"));
        }
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let parent = match input.parent.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => Some(
                categories::find_by_path(&mut c, p)
                    .await?
                    .ok_or_else(|| invalid("parent", format!("no category {p:?}")))?,
            ),
            None => None,
        };
        let path = match &parent {
            Some(p) => format!("{} / {name}", p.path),
            None => name.clone(),
        };
        if categories::find_by_path(&mut c, &path).await?.is_some() {
            return Err(invalid("name", format!("{path:?} exists already")));
        }
        let id = categories::insert(&mut c, parent.map(|p| p.id), &name, &path, self.now()).await?;
        let row = categories::get(&mut c, id).await?;
        self.commit(tx).await?;
        Ok(Category { id: row.id, name: row.name, path: row.path, parent_id: row.parent_id, active: row.active })
    }

    /// Every category; requesters need them to report problems too.
    pub async fn list_categories(&self, _actor: &Actor) -> AppResult<Vec<Category>> {
        let mut r = self.db.read().await?;
        Ok(categories::list(&mut r.conn())
            .await?
            .into_iter()
            .map(|c| Category { id: c.id, name: c.name, path: c.path, parent_id: c.parent_id, active: c.active })
            .collect())
    }

    /// Retires or revives a category (tickets keep theirs; new ones cannot use a retired one).
    pub async fn set_category_active(&self, actor: &Actor, id: i64, active: bool) -> AppResult<Category> {
        require_admin(actor, "change categories")?;
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        if let Err(StoreError::NotFound) = categories::get(&mut c, id).await {
            return Err(AppError::NotFound("category"));
        }
        categories::set_active(&mut c, id, active).await?;
        let row = categories::get(&mut c, id).await?;
        self.commit(tx).await?;
        Ok(Category { id: row.id, name: row.name, path: row.path, parent_id: row.parent_id, active: row.active })
    }
}

/// An active group by name; `field` names the input in the error.
pub(crate) async fn group_by_name(conn: &mut Conn<'_>, field: &str, name: &str) -> AppResult<groups::GroupRow> {
    match groups::find_by_name(conn, name.trim()).await? {
        Some(g) if g.active => Ok(g),
        Some(_) => Err(invalid(field, format!("group {name:?} is deactivated"))),
        None => Err(invalid(field, format!("no group named {name:?}"))),
    }
}

/// The default group read from the database (a group created on another node a moment ago).
pub(crate) async fn default_group(conn: &mut Conn<'_>) -> AppResult<groups::GroupRow> {
    let all = groups::list(conn).await?;
    crate::settings::service_desk(&all)
        .cloned()
        .ok_or_else(|| invalid("assignment_group", "no group exists to route the ticket to; create one first"))
}

/// An active category by path.
pub(crate) async fn category_by_path(conn: &mut Conn<'_>, path: &str) -> AppResult<categories::CategoryRow> {
    match categories::find_by_path(conn, path.trim()).await? {
        Some(c) if c.active => Ok(c),
        Some(_) => Err(invalid("category", format!("category {path:?} is retired"))),
        None => Err(invalid("category", format!("no category {path:?}"))),
    }
}
