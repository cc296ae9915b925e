//! An item's requests as a table: one row per request, one column per question — "every laptop
//! request with its memory, role and delivery date" for a spreadsheet or a report. Answers read as
//! a person reads them (a choice by its label in the version the request was made with); a
//! question an older version asked and the latest no longer does keeps its column. A cell a
//! spreadsheet would run as a formula (`=`, `+`, `-`, `@`) is written as text.

use super::{Package, read_package};
use crate::kernel::access::require_staff;
use crate::{App, AppError, AppResult};
use orion_domain::asset::spreadsheet_safe;
use orion_domain::catalog::QuestionKind;
use orion_domain::{Actor, Timestamp};
use orion_store::catalog as store;
use std::collections::BTreeMap;

/// Requests read per page of the export.
const PAGE: i64 = 500;

impl App {
    /// Writes the requests of item `id` as CSV to `out` (staff), oldest first: the request's
    /// number, when it was made, its state, the version of the form, who it is for, then one column
    /// per question. The number of requests written.
    pub async fn export_catalog_requests(
        &self,
        actor: &Actor,
        id: i64,
        out: &mut (dyn std::io::Write + Send),
    ) -> AppResult<usize> {
        require_staff(actor, "export an item's requests")?;
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        crate::kernel::error::found(store::get_item(&mut c, id).await, "catalog item")?;
        // Every version's form, newest first: the columns are the newest's questions, then those
        // only older versions asked.
        let mut packages: BTreeMap<i64, Package> = BTreeMap::new();
        for (v, package) in store::packages(&mut c, id).await? {
            packages.insert(v, read_package(&package)?);
        }
        drop(r);
        let mut columns: Vec<(String, String)> = Vec::new();
        for p in packages.values().rev() {
            for q in p.form.questions().filter(|q| q.kind.asks()) {
                if !columns.iter().any(|(k, _)| *k == q.key) {
                    columns.push((q.key.clone(), q.label.clone()));
                }
            }
        }
        let io = |e: csv::Error| AppError::Internal(format!("writing CSV: {e}"));
        let mut w = csv::Writer::from_writer(out);
        let mut header = vec!["number", "requested_at", "state", "version", "requested_for"];
        header.extend(columns.iter().map(|(_, label)| label.as_str()));
        w.write_record(&header).map_err(io)?;
        let mut after = 0;
        let mut written = 0;
        loop {
            let mut r = self.db.read().await?;
            let mut c = r.conn();
            let rows = store::requests_page(&mut c, id, after, PAGE).await?;
            let ids: Vec<i64> = rows.iter().map(|r| r.ticket_id).collect();
            let answers = store::answers_of_many(&mut c, &ids).await?;
            drop(r);
            let mut by_ticket: BTreeMap<i64, Vec<store::AnswerRow>> = BTreeMap::new();
            for (t, a) in answers {
                by_ticket.entry(t).or_default().push(a);
            }
            for row in &rows {
                let package = packages.get(&row.version);
                let mine = by_ticket.remove(&row.ticket_id).unwrap_or_default();
                let mut record = vec![
                    row.number.clone(),
                    Timestamp(row.created_at).to_rfc3339(),
                    row.state.clone(),
                    row.version.to_string(),
                    spreadsheet_safe(&row.requested_for).into_owned(),
                ];
                for (key, _) in &columns {
                    let q = package.and_then(|p| p.form.question(key));
                    let text: Vec<String> = mine
                        .iter()
                        .filter(|a| a.question_key == *key)
                        .map(|a| match q {
                            Some(q) if matches!(q.kind, QuestionKind::Choice | QuestionKind::MultiChoice) => q
                                .choices
                                .iter()
                                .find(|c| c.value == a.text_value)
                                .map_or_else(|| a.text_value.clone(), |c| c.label.clone()),
                            _ => a.text_value.clone(),
                        })
                        .collect();
                    record.push(spreadsheet_safe(&text.join(", ")).into_owned());
                }
                w.write_record(&record).map_err(io)?;
                written += 1;
            }
            w.flush().map_err(|e| AppError::Internal(format!("writing CSV: {e}")))?;
            match rows.last() {
                Some(last) if rows.len() as i64 == PAGE => after = last.ticket_id,
                _ => break,
            }
        }
        Ok(written)
    }
}

/// How an item's requests answered one question: the report behind "how many laptop requests asked
/// for 32 GB this month".
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AnswerBreakdown {
    pub question: String,
    /// The question's label in the newest version that asks it
    pub label: String,
    /// The period: from (inclusive) and to (exclusive), RFC 3339
    pub from: String,
    pub to: String,
    /// The item's requests made in the period
    pub requests: i64,
    /// Of those, the ones that answered the question
    pub answered: i64,
    /// Each answer given, most given first (at most 100)
    pub values: Vec<AnswerCount>,
    /// Every question the item's published versions ask, newest version's first: the others
    /// a breakdown can be asked for
    pub questions: Vec<QuestionRef>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct QuestionRef {
    pub key: String,
    pub label: String,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AnswerCount {
    /// The answer as stored (a choice's value, `yes`/`no`, a number, a text)
    pub value: String,
    /// As a person reads it (a choice by its label)
    pub text: String,
    /// Requests that gave it (a multiple choice counts once per value picked)
    pub count: i64,
}

/// The most values a breakdown lists.
const BREAKDOWN_VALUES: i64 = 100;

impl App {
    /// How the requests of item `id` made between `from` and `to` (`YYYY-MM-DD` or RFC 3339; the
    /// last 30 days by default) answered question `question` of any of its versions (staff;
    /// without one, the newest version's first choice or yes/no question, else its first).
    pub async fn catalog_answer_breakdown(
        &self,
        actor: &Actor,
        id: i64,
        question: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
    ) -> AppResult<AnswerBreakdown> {
        require_staff(actor, "report on an item's answers")?;
        let mut errs = orion_domain::FieldErrors::default();
        let period = crate::kernel::period::parse(from, to, self.now(), &mut errs);
        let mut r = self.db.read().await?;
        let mut c = r.conn();
        crate::kernel::error::found(store::get_item(&mut c, id).await, "catalog item")?;
        let mut packages: Vec<Package> = Vec::new();
        for (_, package) in store::packages(&mut c, id).await?.into_iter().rev() {
            packages.push(read_package(&package)?);
        }
        let mut questions: Vec<QuestionRef> = Vec::new();
        for p in &packages {
            for q in p.form.questions().filter(|q| q.kind.asks()) {
                if !questions.iter().any(|r| r.key == q.key) {
                    questions.push(QuestionRef { key: q.key.clone(), label: q.label.clone() });
                }
            }
        }
        let counted = |q: &&orion_domain::catalog::Question| {
            matches!(q.kind, QuestionKind::Choice | QuestionKind::MultiChoice | QuestionKind::YesNo)
        };
        let q = match question {
            Some(key) => packages.iter().find_map(|p| p.form.question(key).filter(|q| q.kind.asks())),
            None => packages.first().and_then(|p| {
                p.form
                    .questions()
                    .filter(|q| q.kind.asks())
                    .find(counted)
                    .or_else(|| p.form.questions().find(|q| q.kind.asks()))
            }),
        };
        match (q, question) {
            (None, Some(_)) => errs.push("question", "no published version of this item asks a question with this key"),
            (None, None) => errs.push("question", "the item's published form asks nothing to count"),
            _ => {}
        }
        errs.into_result()?;
        let (Some(q), Some(period)) = (q, period) else { unreachable!("checked above") };
        let question = q.key.as_str();
        let counts = store::answer_counts(&mut c, id, question, period, BREAKDOWN_VALUES).await?;
        drop(r);
        let values = counts
            .values
            .into_iter()
            .map(|(value, count)| {
                let text = packages
                    .iter()
                    .filter_map(|p| p.form.question(question))
                    .find_map(|q| q.choices.iter().find(|c| c.value == value).map(|c| c.label.clone()))
                    .unwrap_or_else(|| value.clone());
                AnswerCount { value, text, count }
            })
            .collect();
        Ok(AnswerBreakdown {
            question: q.key.clone(),
            label: q.label.clone(),
            from: Timestamp(period.0).to_rfc3339(),
            to: Timestamp(period.1).to_rfc3339(),
            requests: counts.requests,
            answered: counts.answered,
            values,
            questions,
        })
    }
}
