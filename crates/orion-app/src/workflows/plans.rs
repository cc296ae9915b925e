//! The plans workflows start with (the ones Orion ships until an administrator changes them) and
//! the access each department or role gives, from which a mover's access is computed.

use crate::kernel::access::{require_admin, require_staff};
use crate::kernel::error::invalid;
use crate::{App, AppError, AppResult};
use orion_domain::workflow::{self as wf, Kind, PlanTask};
use orion_domain::{Actor, FieldErrors};
use orion_store::Conn;
use orion_store::workflows as store;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One task of a plan, as the API documents it (the domain's `PlanTask`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlanTaskSchema {
    /// Names the task in `after`: lower-case letters, digits and `_`
    pub key: String,
    pub title: String,
    /// What to do
    #[serde(default)]
    pub description: String,
    /// The support group it goes to, by name (none: the workflow's group)
    pub group: Option<String>,
    /// Working days from the workflow's day: −5 is five working days before it, 0 the day itself
    /// (−65 to 65)
    #[serde(default)]
    pub offset_days: i32,
    /// Tasks earlier in the plan that must be done first
    #[serde(default)]
    pub after: Vec<String>,
    /// A leaver's: one line of this task per asset the person holds (check-in and condition)
    #[serde(default)]
    pub per_asset: bool,
    /// Its completion names an asset and checks it out to the person (a joiner's laptop)
    #[serde(default)]
    pub hands_out: bool,
}

/// The plan a kind of workflow starts with.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkflowPlan {
    /// `joiner`, `mover`, `leaver`
    pub kind: String,
    /// "Joiner", "Move", "Leaver"
    pub kind_label: String,
    /// Orion's own plan (no administrator changed it)
    pub standard: bool,
    #[schema(value_type = Vec<PlanTaskSchema>)]
    pub tasks: Vec<PlanTask>,
}

/// `PUT /api/v1/workflow-plans/{kind}`: the whole plan (an empty list puts Orion's back).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowPlanInput {
    #[schema(value_type = Vec<PlanTaskSchema>)]
    pub tasks: Vec<PlanTask>,
}

/// What a department or role gives access to.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccessProfile {
    /// The department or role, as people write it
    pub name: String,
    /// Groups, shares, applications — one entry each
    pub access: Vec<String>,
}

/// `PUT /api/v1/access-profiles`: what one department or role gives (none: the profile goes).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessProfileInput {
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
    pub access: Vec<String>,
}

/// The plan a kind starts with: the stored one, else Orion's.
pub(super) async fn plan_of(c: &mut Conn<'_>, kind: Kind) -> AppResult<Vec<PlanTask>> {
    match store::plan(c, kind.as_str()).await? {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| AppError::Internal(format!("the stored {} plan: {e}", kind.as_str()))),
        None => Ok(wf::standard_plan(kind)),
    }
}

impl App {
    /// The plan each kind of workflow starts with (staff).
    pub async fn workflow_plans(&self, actor: &Actor) -> AppResult<Vec<WorkflowPlan>> {
        require_staff(actor, "see the workflow plans")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let mut out = Vec::new();
        for kind in Kind::ALL {
            let standard = store::plan(&mut c, kind.as_str()).await?.is_none();
            out.push(WorkflowPlan {
                kind: kind.as_str().into(),
                kind_label: kind.label().into(),
                standard,
                tasks: plan_of(&mut c, kind).await?,
            });
        }
        Ok(out)
    }

    /// Replaces the plan a kind starts with (admins); workflows already started keep theirs. Every
    /// group a task names must exist and be active.
    pub async fn set_workflow_plan(
        &self,
        actor: &Actor,
        kind: &str,
        input: WorkflowPlanInput,
    ) -> AppResult<WorkflowPlan> {
        require_admin(actor, "change the workflow plans")?;
        let kind = Kind::parse("kind", kind.trim())?;
        let mut tasks = input.tasks;
        let standard = tasks.is_empty();
        if standard {
            tasks = wf::standard_plan(kind);
        }
        let mut errs = FieldErrors::new();
        wf::validate(&tasks, "tasks", &mut errs);
        {
            let mut r = self.db.read().await?;
            let mut c = r.conn();
            for (i, t) in tasks.iter_mut().enumerate() {
                t.title = t.title.trim().to_string();
                t.description = t.description.trim().to_string();
                t.group = t.group.as_deref().map(str::trim).filter(|g| !g.is_empty()).map(str::to_string);
                if t.description.chars().count() > 4_000 {
                    errs.push(format!("tasks[{i}].description"), "at most 4000 characters");
                }
                if let Some(g) = &t.group {
                    match orion_store::groups::find_by_name(&mut c, g).await? {
                        Some(row) if row.active => {}
                        _ => errs.push(format!("tasks[{i}].group"), format!("no active group {g:?}")),
                    }
                }
                if t.per_asset && kind != Kind::Leaver {
                    errs.push(format!("tasks[{i}].per_asset"), "only a leaver's plan takes assets back");
                }
            }
        }
        errs.into_result()?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        if standard {
            store::reset_plan(&mut c, kind.as_str()).await?;
        } else {
            let json = serde_json::to_string(&tasks).map_err(|e| AppError::Internal(e.to_string()))?;
            store::set_plan(&mut c, kind.as_str(), &json, actor.id.0, now).await?;
        }
        self.commit(tx).await?;
        Ok(WorkflowPlan { kind: kind.as_str().into(), kind_label: kind.label().into(), standard, tasks })
    }

    /// What each department and role gives access to (staff).
    pub async fn access_profiles(&self, actor: &Actor) -> AppResult<Vec<AccessProfile>> {
        require_staff(actor, "see access profiles")?;
        let mut r = self.db.read().await?;
        let mut out: Vec<AccessProfile> = Vec::new();
        for (name, access) in store::profiles(&mut r.conn()).await? {
            match out.last_mut() {
                Some(p) if p.name.to_lowercase() == name.to_lowercase() => p.access.push(access),
                _ => out.push(AccessProfile { name, access: vec![access] }),
            }
        }
        Ok(out)
    }

    /// Sets what one department or role gives access to (admins); an empty list removes it.
    pub async fn set_access_profile(&self, actor: &Actor, input: AccessProfileInput) -> AppResult<AccessProfile> {
        require_admin(actor, "change access profiles")?;
        let name = input.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(invalid("name", "the department or role: 1–200 characters"));
        }
        let mut access: Vec<String> =
            input.access.iter().map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect();
        access.sort_by_key(|a| a.to_lowercase());
        access.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        if access.len() > 100 {
            return Err(invalid("access", "at most 100 entries"));
        }
        if let Some(i) = access.iter().position(|a| a.chars().count() > 200) {
            return Err(invalid(&format!("access[{i}]"), "at most 200 characters"));
        }
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        store::set_profile(&mut c, &name, &access).await?;
        self.commit(tx).await?;
        Ok(AccessProfile { name, access })
    }
}
