//! Standard-change templates: pre-approved by a lead, used without an approval round.

use super::*;

impl App {
    pub async fn change_templates(&self, actor: &Actor) -> AppResult<Vec<Template>> {
        require_staff(actor, "see change templates")?;
        let mut r = self.db.read().await?;
        Ok(store::templates(&mut r.conn()).await?.into_iter().map(template_view).collect())
    }

    /// Adds a standard-change template (leads and admins: it pre-approves every change made from it).
    pub async fn create_change_template(&self, actor: &Actor, input: TemplateInput) -> AppResult<Template> {
        require_lead(actor, "pre-approve standard changes")?;
        let mut errs = FieldErrors::new();
        let name = errs.check(orion_domain::error::required_text("name", &input.name, 100));
        let title =
            errs.check(orion_domain::error::required_text("title", &input.title, crate::kernel::limits::TITLE_MAX));
        let plan = errs.check(orion_domain::error::required_text(
            "implementation_plan",
            &input.implementation_plan,
            crate::kernel::limits::TEXT_MAX,
        ));
        let backout = errs.check(orion_domain::error::required_text(
            "backout_plan",
            &input.backout_plan,
            crate::kernel::limits::TEXT_MAX,
        ));
        let risk = errs.check(parse_risk("risk", input.risk.as_deref().unwrap_or("low")));
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let group = match input.implementer_group.as_deref().map(str::trim).filter(|g| !g.is_empty()) {
            Some(g) => collect(&mut errs, tickets::group_by_name(&mut c, "implementer_group", g).await)?,
            None => None,
        };
        errs.into_result()?;
        let (Some(name), Some(title), Some(plan), Some(backout), Some(risk)) = (name, title, plan, backout, risk)
        else {
            return Err(AppError::Internal("validated input incomplete".into()));
        };
        let row = store::TemplateRow {
            id: 0,
            name: name.clone(),
            title,
            description: input.description.unwrap_or_default(),
            implementation_plan: plan,
            backout_plan: backout,
            test_plan: input.test_plan.unwrap_or_default(),
            risk: risk.to_string(),
            implementer_group_id: group.as_ref().map(|g| g.id),
            implementer_group_name: group.map(|g| g.name),
            active: true,
            created_at: now,
        };
        match store::insert_template(&mut c, &row, actor.id.0, now).await {
            Err(orion_store::StoreError::Duplicate) => {
                return Err(invalid("name", format!("a template named {name:?} exists")));
            }
            other => other?,
        };
        self.commit(tx).await?;
        Ok(template_view(row))
    }

    /// Retires or reinstates a template (leads and admins).
    pub async fn set_change_template_active(&self, actor: &Actor, name: &str, active: bool) -> AppResult<Template> {
        require_lead(actor, "retire standard-change templates")?;
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let mut t = store::find_template(&mut c, name).await?.ok_or(AppError::NotFound("template"))?;
        store::set_template_active(&mut c, t.id, active).await?;
        self.commit(tx).await?;
        t.active = active;
        Ok(template_view(t))
    }
}

fn template_view(t: store::TemplateRow) -> Template {
    Template {
        name: t.name,
        title: t.title,
        description: t.description,
        implementation_plan: t.implementation_plan,
        backout_plan: t.backout_plan,
        test_plan: t.test_plan,
        risk: t.risk,
        implementer_group: t.implementer_group_name,
        active: t.active,
    }
}
