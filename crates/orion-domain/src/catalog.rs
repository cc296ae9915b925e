//! Service-catalog forms with no I/O: the questions an item asks, the rules that show or require
//! them, and the checking of a requester's answers into typed values.
//!
//! One engine decides everything on the server: which sections and questions are shown for the
//! answers given so far (the form re-renders as they change), which are required, and on submit
//! what each visible answer is as data. Answers to hidden questions are dropped. A rule may only
//! look at questions asked before it, so one pass in form order settles the whole form.
//!
//! Questions that name things Orion keeps (a user, a device, an asset) are checked for their shape
//! here; the service layer looks the value up and refuses what does not exist.

use crate::error::{FieldError, FieldErrors};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// The most sections, questions in all, choices per question and conditions per rule.
pub const MAX_SECTIONS: usize = 30;
pub const MAX_QUESTIONS: usize = 150;
pub const MAX_CHOICES: usize = 100;
pub const MAX_CONDITIONS: usize = 20;
/// The longest text answer, in characters (a long-text question; short text: 200).
pub const MAX_TEXT: usize = 10_000;
pub const MAX_SHORT_TEXT: usize = 200;

/// What a question asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    ShortText,
    LongText,
    Number,
    Email,
    Date,
    DateTime,
    /// One of the choices
    Choice,
    /// Any number of the choices
    MultiChoice,
    YesNo,
    /// A person from the directory (their e-mail address)
    User,
    /// One of the requester's own devices (a CMDB asset tag)
    MyDevice,
    /// An asset of the question's model (a CMDB asset tag)
    Asset,
    /// A file the requester attaches
    Attachment,
    /// Read-only text shown on the form; asks nothing
    Explanation,
}

impl QuestionKind {
    pub const ALL: [(QuestionKind, &'static str, &'static str); 14] = [
        (QuestionKind::ShortText, "short_text", "Short text"),
        (QuestionKind::LongText, "long_text", "Long text"),
        (QuestionKind::Number, "number", "Number"),
        (QuestionKind::Email, "email", "E-mail address"),
        (QuestionKind::Date, "date", "Date"),
        (QuestionKind::DateTime, "date_time", "Date and time"),
        (QuestionKind::Choice, "choice", "One choice"),
        (QuestionKind::MultiChoice, "multi_choice", "Several choices"),
        (QuestionKind::YesNo, "yes_no", "Yes or no"),
        (QuestionKind::User, "user", "A person"),
        (QuestionKind::MyDevice, "my_device", "One of my devices"),
        (QuestionKind::Asset, "asset", "An asset of a model"),
        (QuestionKind::Attachment, "attachment", "A file"),
        (QuestionKind::Explanation, "explanation", "Explanation (asks nothing)"),
    ];

    pub fn as_str(self) -> &'static str {
        Self::ALL.iter().find(|(k, _, _)| *k == self).map(|(_, s, _)| *s).unwrap_or("short_text")
    }

    /// How an administrator reads it.
    pub fn label(self) -> &'static str {
        Self::ALL.iter().find(|(k, _, _)| *k == self).map(|(_, _, l)| *l).unwrap_or("Short text")
    }

    pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
        Self::ALL.iter().find(|(_, k, _)| *k == s).map(|(k, _, _)| *k).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|(_, k, _)| *k).collect();
            FieldError::new(field, format!("must be one of {}", names.join(", ")))
        })
    }

    /// Whether answers are picked from the question's choices.
    pub fn has_choices(self) -> bool {
        matches!(self, QuestionKind::Choice | QuestionKind::MultiChoice)
    }

    /// Whether it takes an answer at all.
    pub fn asks(self) -> bool {
        self != QuestionKind::Explanation
    }
}

/// One choice of a choice question: the value stored and the text shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

/// How a condition compares an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Equals,
    NotEquals,
    /// Text containing the value (any case), or a multiple choice including it
    Contains,
    Greater,
    Less,
    IsEmpty,
    IsNotEmpty,
}

impl Op {
    pub const ALL: [(Op, &'static str, &'static str); 7] = [
        (Op::Equals, "equals", "is"),
        (Op::NotEquals, "not_equals", "is not"),
        (Op::Contains, "contains", "contains"),
        (Op::Greater, "greater", "is more than"),
        (Op::Less, "less", "is less than"),
        (Op::IsEmpty, "is_empty", "is not answered"),
        (Op::IsNotEmpty, "is_not_empty", "is answered"),
    ];

    /// How a person reads it: "is more than".
    pub fn label(self) -> &'static str {
        Self::ALL.iter().find(|(o, _, _)| *o == self).map(|(_, _, l)| *l).unwrap_or("is")
    }

    fn takes_value(self) -> bool {
        !matches!(self, Op::IsEmpty | Op::IsNotEmpty)
    }
}

/// One comparison of an earlier question's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The key of the question it looks at
    pub question: String,
    pub op: Op,
    /// What the answer is compared with (unused by `is_empty` and `is_not_empty`)
    #[serde(default)]
    pub value: String,
}

/// Whether every condition must hold, or one is enough.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Match {
    #[default]
    All,
    Any,
}

/// A rule: conditions joined by AND (`all`) or OR (`any`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default)]
    pub r#match: Match,
    pub conditions: Vec<Condition>,
}

/// A question of a form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// Names the answer in the API, in filters and reports: lower-case letters, digits and `_`
    pub key: String,
    pub label: String,
    pub kind: QuestionKind,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub help: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    /// The answer filled in at first (a choice's value; `yes`/`no`; for several choices, the
    /// values separated by commas)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<Choice>,
    /// Numbers: the smallest and largest allowed
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Texts: the fewest and most characters
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// Texts: a regular expression the whole answer must match, and what to tell someone whose
    /// answer does not ("an employee number like E12345")
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pattern_hint: String,
    /// Asset questions: the CMDB model the asset must be of
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Shown only when this holds (always, without one)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_when: Option<Rule>,
    /// Required when this holds (as well as when `required`)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_when: Option<Rule>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A section of a form: a heading over some questions, shown as a whole or not at all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_when: Option<Rule>,
    pub questions: Vec<Question>,
}

/// A request form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Form {
    #[serde(default)]
    pub sections: Vec<Section>,
}

/// An answer as data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Number(f64),
    Text(String),
    List(Vec<String>),
}

impl Value {
    /// The answer as text for lists, mail and search (several choices joined by `, `).
    pub fn as_text(&self) -> String {
        match self {
            Value::Bool(true) => "yes".into(),
            Value::Bool(false) => "no".into(),
            Value::Number(n) => format_number(*n),
            Value::Text(s) => s.clone(),
            Value::List(v) => v.join(", "),
        }
    }
}

/// `32` rather than `32.0`; up to six decimals otherwise.
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        let s = format!("{n:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A question's place in a checked form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown {
    pub visible: bool,
    pub required: bool,
}

/// A form checked against answers: what is shown and required, the typed answers of the visible
/// questions, and every answer refused (named `answers.<key>`).
#[derive(Debug, Clone, Default)]
pub struct Checked {
    pub sections: Vec<bool>,
    pub questions: BTreeMap<String, Shown>,
    pub answers: BTreeMap<String, Value>,
    pub errors: FieldErrors,
}

impl Checked {
    pub fn shown(&self, key: &str) -> Shown {
        self.questions.get(key).copied().unwrap_or(Shown { visible: false, required: false })
    }
}

/// The keys a form's answers are named by in errors.
pub fn answer_field(key: &str) -> String {
    format!("answers.{key}")
}

impl Form {
    pub fn questions(&self) -> impl Iterator<Item = &Question> {
        self.sections.iter().flat_map(|s| s.questions.iter())
    }

    pub fn question(&self, key: &str) -> Option<&Question> {
        self.questions().find(|q| q.key == key)
    }

    /// Checks a form definition (an administrator's input); errors are named under `field`
    /// (`form.sections[0].questions[2].key`).
    pub fn validate(&self, field: &str, errs: &mut FieldErrors) {
        if self.sections.len() > MAX_SECTIONS {
            errs.push(format!("{field}.sections"), format!("a form has at most {MAX_SECTIONS} sections"));
        }
        if self.questions().count() > MAX_QUESTIONS {
            errs.push(format!("{field}.sections"), format!("a form asks at most {MAX_QUESTIONS} questions"));
        }
        let mut earlier: BTreeMap<&str, &Question> = BTreeMap::new();
        for (si, s) in self.sections.iter().enumerate() {
            let sf = format!("{field}.sections[{si}]");
            if s.title.trim().is_empty() {
                errs.push(format!("{sf}.title"), "a section needs a title");
            }
            if let Some(r) = &s.show_when {
                validate_rule(&format!("{sf}.show_when"), r, &earlier, errs);
            }
            for (qi, q) in s.questions.iter().enumerate() {
                let qf = format!("{sf}.questions[{qi}]");
                validate_question(&qf, q, &earlier, errs);
                if earlier.contains_key(q.key.as_str()) {
                    errs.push(format!("{qf}.key"), format!("another question is already called {:?}", q.key));
                } else {
                    earlier.insert(&q.key, q);
                }
            }
        }
    }

    /// Checks a rule kept beside the form (an approval step's condition): it may look at any of
    /// the form's questions.
    pub fn validate_rule(&self, field: &str, rule: &Rule, errs: &mut FieldErrors) {
        let all: BTreeMap<&str, &Question> = self.questions().map(|q| (q.key.as_str(), q)).collect();
        validate_rule(field, rule, &all, errs);
    }

    /// Checks `raw` answers (per question key, the values given; several for a multiple choice)
    /// against the form, in form order. With `submit` false, a missing required answer is not an
    /// error (the form is being filled in); bad values always are.
    pub fn check(&self, raw: &BTreeMap<String, Vec<String>>, zone: &jiff::tz::TimeZone, submit: bool) -> Checked {
        let mut out = Checked::default();
        for s in &self.sections {
            let visible = s.show_when.as_ref().is_none_or(|r| r.holds(&out.answers));
            out.sections.push(visible);
            for q in &s.questions {
                let shown_q = visible && q.show_when.as_ref().is_none_or(|r| r.holds(&out.answers));
                let required = shown_q
                    && q.kind.asks()
                    && (q.required || q.require_when.as_ref().is_some_and(|r| r.holds(&out.answers)));
                out.questions.insert(q.key.clone(), Shown { visible: shown_q, required });
                if !shown_q || !q.kind.asks() {
                    continue;
                }
                let given: Vec<&str> = raw
                    .get(&q.key)
                    .map(|v| v.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect())
                    .unwrap_or_default();
                match q.parse(&given, zone) {
                    Ok(Some(v)) => {
                        out.answers.insert(q.key.clone(), v);
                    }
                    Ok(None) if required && submit => {
                        out.errors.push(answer_field(&q.key), format!("{} needs an answer", q.label));
                    }
                    Ok(None) => {}
                    Err(message) => out.errors.push(answer_field(&q.key), format!("{}: {message}", q.label)),
                }
            }
        }
        if submit {
            let known: HashSet<&str> = self.questions().map(|q| q.key.as_str()).collect();
            for key in raw.keys().filter(|k| !known.contains(k.as_str())) {
                out.errors.push(answer_field(key), "the form has no such question");
            }
        }
        out
    }

    /// The answers a new form starts with: every question's default.
    pub fn defaults(&self) -> BTreeMap<String, Vec<String>> {
        self.questions()
            .filter_map(|q| {
                let d = q.default.as_deref()?;
                let values = if q.kind == QuestionKind::MultiChoice {
                    d.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect()
                } else {
                    vec![d.to_string()]
                };
                Some((q.key.clone(), values))
            })
            .collect()
    }
}

fn validate_rule(field: &str, r: &Rule, earlier: &BTreeMap<&str, &Question>, errs: &mut FieldErrors) {
    if r.conditions.is_empty() {
        errs.push(format!("{field}.conditions"), "a rule needs at least one condition");
    }
    if r.conditions.len() > MAX_CONDITIONS {
        errs.push(format!("{field}.conditions"), format!("a rule has at most {MAX_CONDITIONS} conditions"));
    }
    for (i, c) in r.conditions.iter().enumerate() {
        let cf = format!("{field}.conditions[{i}]");
        let Some(q) = earlier.get(c.question.as_str()) else {
            errs.push(format!("{cf}.question"), format!("{:?} is not a question asked before this one", c.question));
            continue;
        };
        if !q.kind.asks() {
            errs.push(format!("{cf}.question"), format!("{:?} asks nothing", c.question));
            continue;
        }
        if !c.op.takes_value() {
            continue;
        }
        let numeric = q.kind == QuestionKind::Number;
        if matches!(c.op, Op::Greater | Op::Less)
            && !numeric
            && !matches!(q.kind, QuestionKind::Date | QuestionKind::DateTime)
        {
            errs.push(format!("{cf}.op"), "more than and less than compare numbers and dates only");
        }
        if numeric && c.value.trim().parse::<f64>().is_err() {
            errs.push(format!("{cf}.value"), format!("{:?} is not a number", c.value));
        }
        let compares_a_choice = q.kind.has_choices() && c.op != Op::Contains || q.kind == QuestionKind::MultiChoice;
        if compares_a_choice && !q.choices.iter().any(|ch| ch.value == c.value) {
            errs.push(format!("{cf}.value"), format!("{:?} is not one of the question's choices", c.value));
        }
        if q.kind == QuestionKind::YesNo && !matches!(c.value.as_str(), "yes" | "no") {
            errs.push(format!("{cf}.value"), "a yes-or-no answer is compared with yes or no");
        }
    }
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 40
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn validate_question(qf: &str, q: &Question, earlier: &BTreeMap<&str, &Question>, errs: &mut FieldErrors) {
    if !valid_key(&q.key) {
        errs.push(
            format!("{qf}.key"),
            "a key is 1 to 40 lower-case letters, digits and _, starting with a letter (ram_gb)",
        );
    }
    if q.label.trim().is_empty() {
        errs.push(format!("{qf}.label"), "a question needs a label");
    }
    if q.kind.has_choices() {
        if q.choices.is_empty() {
            errs.push(format!("{qf}.choices"), "a choice question needs choices");
        }
        if q.choices.len() > MAX_CHOICES {
            errs.push(format!("{qf}.choices"), format!("at most {MAX_CHOICES} choices"));
        }
        let mut seen = HashSet::new();
        for (i, c) in q.choices.iter().enumerate() {
            if c.value.trim().is_empty() || c.value.contains(',') || c.value != c.value.trim() {
                errs.push(format!("{qf}.choices[{i}].value"), "a choice's value is not empty and has no comma");
            }
            if c.label.trim().is_empty() {
                errs.push(format!("{qf}.choices[{i}].label"), "a choice needs a label");
            }
            if !seen.insert(c.value.as_str()) {
                errs.push(format!("{qf}.choices[{i}].value"), format!("{:?} is there twice", c.value));
            }
        }
    } else if !q.choices.is_empty() {
        errs.push(format!("{qf}.choices"), "only choice questions have choices");
    }
    let texty = matches!(q.kind, QuestionKind::ShortText | QuestionKind::LongText);
    if (q.min.is_some() || q.max.is_some()) && q.kind != QuestionKind::Number {
        errs.push(format!("{qf}.min"), "only number questions have a smallest and largest value");
    }
    if let (Some(a), Some(b)) = (q.min, q.max)
        && a > b
    {
        errs.push(format!("{qf}.max"), "the largest value is below the smallest");
    }
    if q.min.is_some_and(|v| !v.is_finite()) || q.max.is_some_and(|v| !v.is_finite()) {
        errs.push(format!("{qf}.min"), "not a number");
    }
    if (q.min_length.is_some() || q.max_length.is_some() || q.pattern.is_some()) && !texty {
        errs.push(format!("{qf}.pattern"), "only text questions have a length or a pattern");
    }
    if let (Some(a), Some(b)) = (q.min_length, q.max_length)
        && a > b
    {
        errs.push(format!("{qf}.max_length"), "the most characters is below the fewest");
    }
    if let Some(p) = &q.pattern
        && let Err(e) = regex::Regex::new(&format!("^(?:{p})$"))
    {
        errs.push(format!("{qf}.pattern"), format!("not a valid regular expression: {e}"));
    }
    if q.kind == QuestionKind::Asset && q.model.as_deref().is_none_or(|m| m.trim().is_empty()) {
        errs.push(format!("{qf}.model"), "an asset question names the model the asset must be of");
    }
    if q.kind != QuestionKind::Asset && q.model.is_some() {
        errs.push(format!("{qf}.model"), "only asset questions name a model");
    }
    if !q.kind.asks() && (q.required || q.require_when.is_some() || q.default.is_some()) {
        errs.push(format!("{qf}.required"), "an explanation asks nothing, so it cannot be required");
    }
    if let Some(d) = &q.default {
        let values: Vec<&str> = if q.kind == QuestionKind::MultiChoice {
            d.split(',').map(str::trim).filter(|v| !v.is_empty()).collect()
        } else {
            vec![d.trim()]
        };
        if let Err(m) = q.parse(&values, &jiff::tz::TimeZone::UTC) {
            errs.push(format!("{qf}.default"), m);
        }
    }
    if let Some(r) = &q.show_when {
        validate_rule(&format!("{qf}.show_when"), r, earlier, errs);
    }
    if let Some(r) = &q.require_when {
        validate_rule(&format!("{qf}.require_when"), r, earlier, errs);
    }
}

impl Question {
    /// Reads the values given (trimmed, empty ones left out) as this question's answer: `None`
    /// when nothing was given, else the typed value or why it is refused.
    pub fn parse(&self, given: &[&str], zone: &jiff::tz::TimeZone) -> Result<Option<Value>, String> {
        let Some(first) = given.first().copied() else { return Ok(None) };
        if self.kind != QuestionKind::MultiChoice && given.len() > 1 {
            return Err("takes one answer".into());
        }
        let v = match self.kind {
            QuestionKind::ShortText | QuestionKind::LongText => {
                let limit = if self.kind == QuestionKind::ShortText { MAX_SHORT_TEXT } else { MAX_TEXT };
                let n = first.chars().count();
                let most = self.max_length.unwrap_or(limit).min(limit);
                if n > most {
                    return Err(format!("at most {most} characters (this is {n})"));
                }
                if let Some(least) = self.min_length.filter(|l| n < *l) {
                    return Err(format!("at least {least} characters"));
                }
                if let Some(p) = &self.pattern {
                    let re = regex::Regex::new(&format!("^(?:{p})$")).map_err(|e| e.to_string())?;
                    if !re.is_match(first) {
                        return Err(if self.pattern_hint.is_empty() {
                            "is not in the expected form".into()
                        } else {
                            format!("expected {}", self.pattern_hint)
                        });
                    }
                }
                Value::Text(first.to_string())
            }
            QuestionKind::Number => {
                let n: f64 =
                    first.replace(',', ".").parse().ok().filter(|n: &f64| n.is_finite()).ok_or("is not a number")?;
                if let Some(min) = self.min.filter(|m| n < *m) {
                    return Err(format!("at least {}", format_number(min)));
                }
                if let Some(max) = self.max.filter(|m| n > *m) {
                    return Err(format!("at most {}", format_number(max)));
                }
                Value::Number(n)
            }
            QuestionKind::Email | QuestionKind::User => {
                let e =
                    crate::user::Email::parse("answer", first).map_err(|_| "is not an e-mail address".to_string())?;
                Value::Text(e.as_str().to_string())
            }
            QuestionKind::Date => {
                let d: jiff::civil::Date = first.parse().map_err(|_| "expected a date (YYYY-MM-DD)".to_string())?;
                Value::Text(d.to_string())
            }
            QuestionKind::DateTime => Value::Text(parse_date_time(first, zone)?),
            QuestionKind::Choice => {
                let c = self.choices.iter().find(|c| c.value == first).ok_or("is not one of the choices")?;
                Value::Text(c.value.clone())
            }
            QuestionKind::MultiChoice => {
                let mut picked: Vec<String> = Vec::new();
                for g in given {
                    // Several values may come as one text too: "a,b".
                    for v in g.split(',').map(str::trim).filter(|v| !v.is_empty()) {
                        if !self.choices.iter().any(|c| c.value == v) {
                            return Err(format!("{v:?} is not one of the choices"));
                        }
                        if !picked.iter().any(|p| p == v) {
                            picked.push(v.to_string());
                        }
                    }
                }
                // In the form's order, whatever order they came in.
                picked.sort_by_key(|v| self.choices.iter().position(|c| &c.value == v));
                Value::List(picked)
            }
            QuestionKind::YesNo => match first.to_ascii_lowercase().as_str() {
                "yes" | "true" | "on" | "1" => Value::Bool(true),
                "no" | "false" | "off" | "0" => Value::Bool(false),
                _ => return Err("expected yes or no".into()),
            },
            QuestionKind::MyDevice | QuestionKind::Asset | QuestionKind::Attachment => {
                if first.chars().count() > MAX_SHORT_TEXT {
                    return Err("is too long".into());
                }
                Value::Text(first.to_string())
            }
            QuestionKind::Explanation => return Ok(None),
        };
        Ok(Some(v))
    }
}

/// An RFC 3339 time, or a local `YYYY-MM-DDTHH:MM` (a browser's date-time field) in `zone`, as
/// RFC 3339 UTC.
fn parse_date_time(s: &str, zone: &jiff::tz::TimeZone) -> Result<String, String> {
    let bad = || "expected a date and time (YYYY-MM-DDTHH:MM)".to_string();
    let ts = match s.parse::<jiff::Timestamp>() {
        Ok(ts) => ts,
        Err(_) => {
            let dt: jiff::civil::DateTime = s.parse().map_err(|_| bad())?;
            dt.to_zoned(zone.clone()).map_err(|_| bad())?.timestamp()
        }
    };
    Ok(crate::Timestamp(ts.as_millisecond()).to_rfc3339())
}

impl Rule {
    /// Whether the rule holds for the answers of the questions shown so far (a hidden or
    /// unanswered question's answer is empty).
    pub fn holds(&self, answers: &BTreeMap<String, Value>) -> bool {
        let mut results = self.conditions.iter().map(|c| c.holds(answers.get(&c.question)));
        match self.r#match {
            Match::All => results.all(|b| b),
            Match::Any => results.any(|b| b),
        }
    }
}

impl Condition {
    fn holds(&self, answer: Option<&Value>) -> bool {
        let want = self.value.trim();
        match (self.op, answer) {
            (Op::IsEmpty, a) => a.is_none_or(|v| matches!(v, Value::List(l) if l.is_empty())),
            (Op::IsNotEmpty, a) => a.is_some_and(|v| !matches!(v, Value::List(l) if l.is_empty())),
            (_, None) => self.op == Op::NotEquals,
            (op, Some(v)) => {
                let equal = match v {
                    Value::Bool(b) => (if *b { "yes" } else { "no" }) == want,
                    Value::Number(n) => want.parse::<f64>().is_ok_and(|w| w == *n),
                    Value::Text(t) => t.eq_ignore_ascii_case(want),
                    Value::List(l) => l.len() == 1 && l[0] == want,
                };
                match op {
                    Op::Equals => equal,
                    Op::NotEquals => !equal,
                    Op::Contains => match v {
                        Value::List(l) => l.iter().any(|x| x == want),
                        other => other.as_text().to_lowercase().contains(&want.to_lowercase()),
                    },
                    Op::Greater | Op::Less => {
                        let ord = match v {
                            Value::Number(n) => want.parse::<f64>().ok().and_then(|w| n.partial_cmp(&w)),
                            // Dates and RFC 3339 times in UTC compare as text.
                            Value::Text(t) => Some(t.as_str().cmp(want)),
                            _ => None,
                        };
                        ord == Some(if op == Op::Greater {
                            std::cmp::Ordering::Greater
                        } else {
                            std::cmp::Ordering::Less
                        })
                    }
                    Op::IsEmpty | Op::IsNotEmpty => unreachable!("handled above"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    fn q(key: &str, kind: QuestionKind) -> Question {
        Question {
            key: key.into(),
            label: key.replace('_', " "),
            kind,
            help: String::new(),
            required: false,
            default: None,
            choices: Vec::new(),
            min: None,
            max: None,
            min_length: None,
            max_length: None,
            pattern: None,
            pattern_hint: String::new(),
            model: None,
            show_when: None,
            require_when: None,
        }
    }

    fn choices(values: &[&str]) -> Vec<Choice> {
        values.iter().map(|v| Choice { value: v.to_string(), label: v.to_uppercase() }).collect()
    }

    fn when(question: &str, op: Op, value: &str) -> Option<Rule> {
        Some(Rule {
            r#match: Match::All,
            conditions: vec![Condition { question: question.into(), op, value: value.into() }],
        })
    }

    /// A laptop form: a role, then a developer section shown for developers, RAM required there.
    fn laptop() -> Form {
        let mut role = q("role", QuestionKind::Choice);
        role.required = true;
        role.choices = choices(&["office", "developer"]);
        let mut ram = q("ram_gb", QuestionKind::Number);
        ram.min = Some(8.0);
        ram.max = Some(64.0);
        ram.required = true;
        let mut why = q("justification", QuestionKind::LongText);
        why.require_when = when("ram_gb", Op::Greater, "16");
        let mut emp = q("employee_number", QuestionKind::ShortText);
        emp.pattern = Some("E[0-9]{5}".into());
        emp.pattern_hint = "an employee number like E12345".into();
        Form {
            sections: vec![
                Section {
                    title: "You".into(),
                    description: String::new(),
                    show_when: None,
                    questions: vec![role, emp],
                },
                Section {
                    title: "Developer kit".into(),
                    description: String::new(),
                    show_when: when("role", Op::Equals, "developer"),
                    questions: vec![ram, why],
                },
            ],
        }
    }

    fn raw(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in pairs {
            m.entry(k.to_string()).or_default().push(v.to_string());
        }
        m
    }

    fn fields(c: &Checked) -> Vec<String> {
        c.errors.iter().map(|e| e.field.clone()).collect()
    }

    #[test]
    fn a_section_shows_and_requires_only_when_its_rule_holds() {
        let f = laptop();
        let mut errs = FieldErrors::new();
        f.validate("form", &mut errs);
        assert!(errs.is_empty(), "{errs:?}");
        let office = f.check(&raw(&[("role", "office"), ("ram_gb", "32")]), &TimeZone::UTC, true);
        assert_eq!(office.sections, vec![true, false]);
        assert!(!office.shown("ram_gb").visible);
        assert!(office.errors.is_empty(), "{:?}", office.errors);
        assert!(!office.answers.contains_key("ram_gb"), "a hidden question's answer is dropped");

        let dev = f.check(&raw(&[("role", "developer")]), &TimeZone::UTC, true);
        assert_eq!(dev.sections, vec![true, true]);
        assert_eq!(fields(&dev), vec!["answers.ram_gb"]);
        assert!(dev.errors.iter().next().unwrap().message.contains("ram gb"));
        // While filling in, a missing answer is not an error yet.
        assert!(f.check(&raw(&[("role", "developer")]), &TimeZone::UTC, false).errors.is_empty());

        let big = f.check(&raw(&[("role", "developer"), ("ram_gb", "32")]), &TimeZone::UTC, true);
        assert_eq!(fields(&big), vec!["answers.justification"], "more than 16 GB needs a reason");
        let small = f.check(&raw(&[("role", "developer"), ("ram_gb", "16")]), &TimeZone::UTC, true);
        assert!(small.errors.is_empty());
        assert_eq!(small.answers["ram_gb"], Value::Number(16.0));
    }

    #[test]
    fn bad_answers_are_refused_with_the_question_named() {
        let f = laptop();
        let c = f.check(
            &raw(&[("role", "manager"), ("employee_number", "12345"), ("colour", "red")]),
            &TimeZone::UTC,
            true,
        );
        let errs: Vec<(String, String)> = c.errors.iter().map(|e| (e.field.clone(), e.message.clone())).collect();
        assert!(errs.contains(&("answers.role".into(), "role: is not one of the choices".into())), "{errs:?}");
        assert!(
            errs.contains(&(
                "answers.employee_number".into(),
                "employee number: expected an employee number like E12345".into()
            )),
            "{errs:?}"
        );
        assert!(errs.iter().any(|(f, _)| f == "answers.colour"), "unknown questions are refused");
        let range = f.check(&raw(&[("role", "developer"), ("ram_gb", "128")]), &TimeZone::UTC, true);
        assert_eq!(range.errors.iter().next().unwrap().message, "ram gb: at most 64");
    }

    #[test]
    fn every_kind_reads_its_answers_as_typed_values() {
        let zone = TimeZone::get("Europe/Berlin").unwrap_or(TimeZone::UTC);
        let mut multi = q("extras", QuestionKind::MultiChoice);
        multi.choices = choices(&["dock", "mouse", "headset"]);
        assert_eq!(
            multi.parse(&["headset", "dock"], &zone),
            Ok(Some(Value::List(vec!["dock".into(), "headset".into()])))
        );
        assert_eq!(multi.parse(&["mouse,dock"], &zone), Ok(Some(Value::List(vec!["dock".into(), "mouse".into()]))));
        assert!(multi.parse(&["tablet"], &zone).is_err());
        assert_eq!(q("ok", QuestionKind::YesNo).parse(&["on"], &zone), Ok(Some(Value::Bool(true))));
        assert!(q("ok", QuestionKind::YesNo).parse(&["maybe"], &zone).is_err());
        assert_eq!(
            q("d", QuestionKind::Date).parse(&["2026-12-24"], &zone),
            Ok(Some(Value::Text("2026-12-24".into())))
        );
        assert!(q("d", QuestionKind::Date).parse(&["24/12/2026"], &zone).is_err());
        let local = q("at", QuestionKind::DateTime).parse(&["2026-12-07T09:30"], &zone).unwrap().unwrap();
        if zone != TimeZone::UTC {
            assert_eq!(local, Value::Text("2026-12-07T08:30:00.000Z".into()), "local time in the desk's zone");
        }
        assert_eq!(
            q("e", QuestionKind::Email).parse(&["Ann@Example.com"], &zone),
            Ok(Some(Value::Text("ann@example.com".into())))
        );
        assert!(q("e", QuestionKind::Email).parse(&["not mail"], &zone).is_err());
        assert_eq!(q("n", QuestionKind::Number).parse(&["2,5"], &zone), Ok(Some(Value::Number(2.5))));
        assert!(q("n", QuestionKind::Number).parse(&["NaN"], &zone).is_err());
        assert_eq!(q("t", QuestionKind::ShortText).parse(&[], &zone), Ok(None));
        assert!(q("t", QuestionKind::ShortText).parse(&["a", "b"], &zone).is_err(), "one answer only");
        let long = "x".repeat(MAX_SHORT_TEXT + 1);
        assert!(q("t", QuestionKind::ShortText).parse(&[&long], &zone).is_err());
    }

    #[test]
    fn conditions_compare_as_an_engineer_expects() {
        let answers: BTreeMap<String, Value> = [
            ("ram".to_string(), Value::Number(32.0)),
            ("extras".to_string(), Value::List(vec!["dock".into(), "mouse".into()])),
            ("vip".to_string(), Value::Bool(true)),
            ("note".to_string(), Value::Text("Urgent for Monday".into())),
            ("from".to_string(), Value::Text("2026-12-24".into())),
        ]
        .into_iter()
        .collect();
        let holds = |question: &str, op: Op, value: &str| when(question, op, value).unwrap().holds(&answers);
        assert!(holds("ram", Op::Equals, "32") && holds("ram", Op::Greater, "16") && !holds("ram", Op::Less, "16"));
        assert!(holds("extras", Op::Contains, "mouse") && !holds("extras", Op::Contains, "headset"));
        assert!(!holds("extras", Op::Equals, "dock"), "two picked is not just one");
        assert!(holds("vip", Op::Equals, "yes") && holds("vip", Op::NotEquals, "no"));
        assert!(holds("note", Op::Contains, "monday") && holds("note", Op::IsNotEmpty, ""));
        assert!(holds("from", Op::Greater, "2026-12-01") && holds("from", Op::Less, "2027-01-01"));
        assert!(holds("missing", Op::IsEmpty, "") && holds("missing", Op::NotEquals, "x"));
        assert!(!holds("missing", Op::Equals, "x") && !holds("missing", Op::Greater, "1"));
        let any = Rule {
            r#match: Match::Any,
            conditions: vec![
                Condition { question: "ram".into(), op: Op::Less, value: "8".into() },
                Condition { question: "vip".into(), op: Op::Equals, value: "yes".into() },
            ],
        };
        assert!(any.holds(&answers));
        assert!(!Rule { r#match: Match::All, ..any }.holds(&answers));
    }

    #[test]
    fn a_form_definition_is_checked_before_it_is_saved() {
        let mut f = laptop();
        f.sections[0].questions[1].key = "Employee Nr".into();
        f.sections[0].questions[1].pattern = Some("E[0-9".into());
        f.sections[1].show_when = when("later", Op::Equals, "x");
        f.sections[1].questions[0].choices = choices(&["a"]);
        let mut dup = q("role", QuestionKind::ShortText);
        dup.default = Some("x".repeat(300));
        f.sections[1].questions.push(dup);
        let mut errs = FieldErrors::new();
        f.validate("form", &mut errs);
        let named: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        for want in [
            "form.sections[0].questions[1].key",
            "form.sections[0].questions[1].pattern",
            "form.sections[1].show_when.conditions[0].question",
            "form.sections[1].questions[0].choices",
            "form.sections[1].questions[2].key",
            "form.sections[1].questions[2].default",
        ] {
            assert!(named.contains(&want), "{want} in {named:?}");
        }
        // A rule may only look back: a question's rule naming a later one is refused.
        let mut f = laptop();
        f.sections[0].questions[0].show_when = when("employee_number", Op::IsEmpty, "");
        let mut errs = FieldErrors::new();
        f.validate("form", &mut errs);
        assert_eq!(
            errs.iter().next().map(|e| e.field.as_str()),
            Some("form.sections[0].questions[0].show_when.conditions[0].question")
        );
    }

    #[test]
    fn defaults_fill_a_new_form() {
        let mut f = laptop();
        f.sections[0].questions[0].default = Some("office".into());
        let d = f.defaults();
        assert_eq!(d.get("role"), Some(&vec!["office".to_string()]));
        let c = f.check(&d, &TimeZone::UTC, false);
        assert_eq!(c.sections, vec![true, false]);
    }

    #[test]
    fn numbers_print_as_people_write_them() {
        assert_eq!(format_number(32.0), "32");
        assert_eq!(format_number(2.5), "2.5");
        assert_eq!(format_number(-0.125), "-0.125");
    }
}
