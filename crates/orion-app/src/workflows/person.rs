//! A person's page for the desk: who they are, their access (the support groups they are in),
//! the assets they hold and every joiner, mover or leaver of theirs — what an agent checks before
//! a leaver's last day or when a new starter calls.

use super::{TaskAsset, WorkflowQuery, WorkflowSummary};
use crate::kernel::access::require_staff;
use crate::{App, AppError, AppResult};
use orion_domain::{Actor, Timestamp};
use orion_store::workflows as store;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `GET /api/v1/people`
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PersonQuery {
    /// The person's e-mail address
    pub email: String,
}

/// A person as the desk sees them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonOverview {
    pub name: String,
    pub email: String,
    /// `requester`, `agent`, `lead`, `admin`
    pub role: String,
    pub active: bool,
    /// Why and when the account was disabled
    pub deactivated: Option<String>,
    pub department: String,
    pub job_title: String,
    pub location: String,
    pub phone: String,
    pub manager: Option<super::PersonRef>,
    /// The directory source that keeps the account (none: local)
    pub directory: Option<String>,
    /// Their access: the support groups they are in
    pub groups: Vec<String>,
    /// The assets checked out to them
    pub assets: Vec<TaskAsset>,
    /// The products whose licence seats are assigned to them
    pub licences: Vec<String>,
    /// Their joiners, movers and leavers, every state, by day
    pub workflows: Vec<WorkflowSummary>,
}

impl App {
    /// A person's page (staff): profile, access, assets held and workflows.
    pub async fn person_overview(&self, actor: &Actor, email: &str) -> AppResult<PersonOverview> {
        require_staff(actor, "see a person's access and assets")?;
        let email = email.trim().to_lowercase();
        let (u, manager, directory, groups, assets, licences) = {
            let mut r = self.db.read().await?;
            let mut c = r.conn();
            let Some(u) = orion_store::users::find_by_email(&mut c, &email).await? else {
                return Err(AppError::NotFound("person"));
            };
            let manager = match u.manager_id {
                Some(m) => {
                    let m = orion_store::users::get(&mut c, m).await?;
                    Some(super::PersonRef { name: m.name, email: m.email, active: m.active })
                }
                None => None,
            };
            let directory = match u.directory_source_id {
                Some(id) => Some(orion_store::identity::get_source(&mut c, id).await?.name),
                None => None,
            };
            let groups = store::groups_of(&mut c, u.id).await?;
            let assets = store::assets_held(&mut c, u.id)
                .await?
                .into_iter()
                .map(|a| TaskAsset { id: a.id, name: a.name, asset_tag: a.asset_tag })
                .collect();
            let licences = store::seats_held(&mut c, u.id).await?;
            (u, manager, directory, groups, assets, licences)
        };
        let q =
            WorkflowQuery { state: Some("all".into()), person: Some(u.email.clone()), cursor: None, limit: Some(50) };
        let workflows = self.workflows(actor, &q).await?.items;
        let deactivated = u.deactivated_at.map(|at| {
            let day = Timestamp(at).to_rfc3339();
            match &u.deactivated_reason {
                Some(r) => format!("{} ({r})", &day[..10.min(day.len())]),
                None => day[..10.min(day.len())].to_string(),
            }
        });
        Ok(PersonOverview {
            name: u.name,
            email: u.email,
            role: u.role,
            active: u.active,
            deactivated: if u.active { None } else { deactivated },
            department: u.department.unwrap_or_default(),
            job_title: u.title.unwrap_or_default(),
            location: u.location.unwrap_or_default(),
            phone: u.phone.unwrap_or_default(),
            manager,
            directory,
            groups,
            assets,
            licences,
            workflows,
        })
    }
}
