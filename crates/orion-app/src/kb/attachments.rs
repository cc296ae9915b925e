//! Files attached to an article: added by staff, read by whoever may read the article.

use super::*;

impl App {
    /// Attaches files to an article (staff), checked before anything is written.
    pub async fn attach_to_article(&self, actor: &Actor, number: &str, files: Vec<Upload>) -> AppResult<Article> {
        staff(actor)?;
        check_uploads(&files)?;
        if files.is_empty() {
            return Err(invalid("file", "choose a file"));
        }
        let now = self.clock.now().as_millis();
        let mut tx = self.db.begin().await?;
        let mut c = tx.conn();
        let a = load_readable(&mut c, actor, number).await?;
        for f in &files {
            let sha = orion_mail::sha256_hex(&f.bytes);
            orion_store::mail::put_blob(&mut c, &sha, &f.bytes, now).await?;
            let new = kb::NewAttachment {
                article_id: a.id,
                filename: &f.filename,
                content_type: &f.content_type,
                size: f.bytes.len() as i64,
                sha256: &sha,
                by: actor.id.0,
                now,
            };
            kb::add_attachment(&mut c, &new).await?;
        }
        kb::add_event(
            &mut c,
            a.id,
            now,
            Some(actor.id.0),
            "attachment added",
            &files.iter().map(|f| f.filename.as_str()).collect::<Vec<_>>().join(", "),
        )
        .await?;
        let row = kb::get(&mut c, a.id).await?;
        let att = kb::attachments(&mut c, a.id).await?;
        self.commit(tx).await?;
        Ok(article_of(row, att, now))
    }

    /// An article attachment's bytes, for whoever may read the article.
    pub async fn article_attachment(
        &self,
        actor: &Actor,
        id: i64,
    ) -> AppResult<crate::kernel::uploads::AttachmentFile> {
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        let a = match kb::attachment(&mut c, id).await {
            Err(StoreError::NotFound) => return Err(AppError::NotFound("attachment")),
            other => other?,
        };
        let art = kb::get(&mut c, a.article_id).await?;
        if !may_read(actor, &art) {
            return Err(AppError::NotFound("attachment"));
        }
        let bytes = orion_store::mail::get_blob(&mut c, &a.sha256).await?;
        Ok(crate::kernel::uploads::AttachmentFile { filename: a.filename, content_type: a.content_type, bytes })
    }
}
