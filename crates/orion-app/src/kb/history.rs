//! An article's versions and workflow events, and the difference between two versions.

use super::*;

impl App {
    /// Every version, newest first, and the workflow events.
    pub async fn article_history(
        &self,
        actor: &Actor,
        number: &str,
    ) -> AppResult<(Vec<ArticleVersion>, Vec<ArticleEvent>)> {
        staff(actor)?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let a = load_readable(&mut c, actor, number).await?;
        let versions = kb::versions(&mut c, a.id)
            .await?
            .into_iter()
            .map(|v| ArticleVersion {
                version: v.version,
                title: v.title,
                kind: v.kind,
                audience: v.audience,
                tags: split_tags(&v.tags),
                changed_by: v.changed_by_name,
                changed_at: Timestamp(v.changed_at).to_rfc3339(),
                note: v.note,
            })
            .collect();
        let events = kb::events(&mut c, a.id)
            .await?
            .into_iter()
            .map(|e| ArticleEvent {
                at: Timestamp(e.at).to_rfc3339(),
                actor: e.actor_name,
                action: e.action,
                note: e.note,
            })
            .collect();
        Ok((versions, events))
    }

    /// The line diff of the Markdown between two versions (`to` defaults to the newest,
    /// `from` to the one before it).
    pub async fn article_diff(
        &self,
        actor: &Actor,
        number: &str,
        from: Option<i64>,
        to: Option<i64>,
    ) -> AppResult<ArticleDiff> {
        staff(actor)?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let a = load_readable(&mut c, actor, number).await?;
        let versions = kb::versions(&mut c, a.id).await?;
        let to = to.unwrap_or(a.version);
        let from = from.unwrap_or(to.saturating_sub(1).max(1));
        let find = |v: i64, field: &str| {
            versions.iter().find(|x| x.version == v).ok_or_else(|| invalid(field, format!("no version {v}")))
        };
        let (old, new) = (find(from, "from")?, find(to, "to")?);
        let diff = similar::TextDiff::from_lines(&old.body, &new.body);
        let unified = diff
            .unified_diff()
            .context_radius(3)
            .header(&format!("version {from}"), &format!("version {to}"))
            .to_string();
        let lines = diff
            .iter_all_changes()
            .map(|ch| DiffLine {
                op: match ch.tag() {
                    similar::ChangeTag::Equal => "equal",
                    similar::ChangeTag::Insert => "insert",
                    similar::ChangeTag::Delete => "delete",
                }
                .to_string(),
                text: ch.value().trim_end_matches('\n').to_string(),
            })
            .collect();
        Ok(ArticleDiff { from, to, title_from: old.title.clone(), title_to: new.title.clone(), unified, lines })
    }
}
