//! "Was this helpful?": readers' answers and comments on an article.

use super::*;

impl App {
    /// "Was this helpful?" from a reader who may read the article; answering again replaces the answer.
    pub async fn article_feedback(&self, actor: &Actor, number: &str, f: FeedbackInput) -> AppResult<FeedbackTotals> {
        if f.comment.chars().count() > 2000 {
            return Err(invalid("comment", "must be at most 2000 characters"));
        }
        let now = self.clock.now().as_millis();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let a = load_readable(&mut c, actor, number).await?;
        if a.state != "published" {
            return Err(AppError::Conflict("only published articles take feedback".into()));
        }
        let (yes, no) = kb::feedback(&mut c, a.id, actor.id.0, f.helpful, f.comment.trim(), now).await?;
        self.commit(tx).await?;
        Ok(FeedbackTotals { helpful_yes: yes, helpful_no: no })
    }

    /// The latest feedback comments (staff).
    pub async fn article_feedback_comments(&self, actor: &Actor, number: &str) -> AppResult<Vec<FeedbackComment>> {
        staff(actor)?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let a = load_readable(&mut c, actor, number).await?;
        Ok(kb::feedback_comments(&mut c, a.id, 50)
            .await?
            .into_iter()
            .map(|f| FeedbackComment {
                user: f.user_name,
                helpful: f.helpful,
                comment: f.comment,
                at: Timestamp(f.at).to_rfc3339(),
            })
            .collect())
    }
}
