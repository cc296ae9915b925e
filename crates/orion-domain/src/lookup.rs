//! Finding a person as a service-desk agent types: any word of the name (a surname as well as a
//! first name), the e-mail address or a part of it, the phone number (whole, or its last digits),
//! the department or the sign-in name — case- and accent-insensitive ("muller" finds "Müller").
//!
//! A person is indexed as a set of folded terms; a query is a list of folded words, and a person
//! matches when every word is the start of one of their terms. The engines only compare text
//! ranges on an index, so the rules here are the same for SQLite and PostgreSQL.

use crate::search::{fold, words};
use std::collections::BTreeSet;

/// Longer terms are cut: nobody types past this.
const MAX_TERM: usize = 64;
/// The shortest trailing part of a phone number that is a term of its own ("…1234").
const MIN_PHONE_TAIL: usize = 4;
/// Words of a query beyond this are ignored.
pub const MAX_QUERY_WORDS: usize = 6;

/// What a person is found by.
#[derive(Debug, Clone, Copy, Default)]
pub struct Person<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub phone: Option<&'a str>,
    pub department: Option<&'a str>,
    pub login: Option<&'a str>,
}

fn cut(term: String) -> String {
    match term.char_indices().nth(MAX_TERM) {
        Some((i, _)) => term[..i].to_string(),
        None => term,
    }
}

/// Adds `text` as terms: each whitespace-separated word whole ("o'brien", "müller-lüdenscheidt"),
/// without its punctuation ("obrien"), and each run of letters and digits in it ("brien",
/// "ludenscheidt").
fn add_words(out: &mut BTreeSet<String>, text: &str) {
    for chunk in text.split_whitespace() {
        let whole = fold(chunk.trim_matches(|c: char| !c.is_alphanumeric()));
        if !whole.is_empty() {
            out.insert(cut(whole));
        }
        let mut joined = String::new();
        for (s, e) in words(chunk) {
            let w = fold(&chunk[s..e]);
            joined.push_str(&w);
            out.insert(cut(w));
        }
        out.insert(cut(joined));
    }
}

/// The digits of a phone number, whole and each trailing part of at least four digits, so that
/// "+49 30 1234-5678", "030 12345678" and "5678" all find it.
fn add_phone(out: &mut BTreeSet<String>, phone: &str) {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < MIN_PHONE_TAIL {
        return;
    }
    for start in 0..=digits.len() - MIN_PHONE_TAIL {
        out.insert(digits[start..].to_string());
    }
    // A national number written with a leading 0 is found by the digits after it, too.
    if let Some(rest) = digits.strip_prefix('0') {
        out.insert(rest.to_string());
    }
}

/// Every term `p` is found by.
pub fn terms(p: &Person<'_>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    add_words(&mut out, p.name);
    let email = fold(p.email.trim());
    if !email.is_empty() {
        out.insert(cut(email.clone()));
        if let Some((local, domain)) = email.split_once('@') {
            out.insert(cut(local.to_string()));
            add_words(&mut out, &local.replace(['.', '_', '-', '+'], " "));
            out.insert(cut(domain.to_string()));
        }
    }
    if let Some(phone) = p.phone {
        add_phone(&mut out, phone);
    }
    if let Some(d) = p.department {
        add_words(&mut out, d);
    }
    if let Some(l) = p.login {
        let l = fold(l.trim());
        if !l.is_empty() {
            out.insert(cut(l));
        }
    }
    out.remove("");
    out
}

/// The words of a query, folded, each to be matched as the start of a term. A word of digits
/// (with the spaces, dashes and `+` of a phone number taken out) is one word.
pub fn query_words(q: &str) -> Vec<String> {
    let q = q.trim();
    let phone_like = !q.is_empty()
        && q.chars().all(|c| c.is_ascii_digit() || " +-/().".contains(c))
        && q.chars().filter(char::is_ascii_digit).count() >= 3;
    if phone_like {
        let digits: String = q.chars().filter(char::is_ascii_digit).collect();
        return vec![digits];
    }
    let mut out: Vec<String> = Vec::new();
    for chunk in q.split_whitespace() {
        let w = cut(fold(chunk.trim_matches(|c: char| !c.is_alphanumeric())));
        if !w.is_empty() && !out.contains(&w) {
            out.push(w);
        }
        if out.len() == MAX_QUERY_WORDS {
            break;
        }
    }
    // A shorter word that starts a longer one adds nothing ("sam sample").
    let all = out.clone();
    out.retain(|w| !all.iter().any(|o| o != w && o.starts_with(w.as_str())));
    out
}

/// The end of the range of terms that start with `prefix`: every such term is `>= prefix` and
/// `< prefix_end(prefix)` in byte order.
pub fn prefix_end(prefix: &str) -> String {
    let mut s = prefix.to_string();
    s.push(char::MAX);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p<'a>(name: &'a str, email: &'a str) -> Person<'a> {
        Person { name, email, ..Person::default() }
    }

    fn finds(person: &Person<'_>, q: &str) -> bool {
        let t = terms(person);
        let words = query_words(q);
        !words.is_empty() && words.iter().all(|w| t.iter().any(|term| term.starts_with(w.as_str())))
    }

    #[test]
    fn a_surname_an_accentless_spelling_and_a_part_of_the_address_find_the_person() {
        let anna = Person {
            phone: Some("+49 30 1234-5678"),
            department: Some("Finance & Controlling"),
            login: Some("amueller"),
            ..p("Anna Müller-Lüdenscheidt", "anna.mueller@example.com")
        };
        for q in [
            "muller",
            "Müller",
            "ludensch",
            "anna",
            "ANNA MUL",
            "mueller",
            "anna.mue",
            "example.com",
            "5678",
            "1234-5678",
            "+49 30 1234",
            "finance",
            "controll",
            "amuel",
        ] {
            assert!(finds(&anna, q), "{q:?} does not find Anna");
        }
        for q in ["bob", "anna bob", "9999", "ller"] {
            assert!(!finds(&anna, q), "{q:?} finds Anna");
        }
        let sean = p("Seán O'Brien", "sob@example.com");
        for q in ["obrien", "o'brien", "brien", "sean o'b"] {
            assert!(finds(&sean, q), "{q:?} does not find Seán");
        }
    }

    #[test]
    fn national_numbers_are_found_without_their_leading_zero() {
        let t = terms(&Person { phone: Some("030 12345678"), ..p("X", "x@example.com") });
        assert!(t.contains("03012345678") && t.contains("3012345678") && t.contains("5678"));
        assert!(!t.contains("678"), "tails shorter than four digits find too many");
    }

    #[test]
    fn queries_fold_and_drop_redundant_words() {
        assert_eq!(query_words("  Sam  sample "), ["sample"]);
        assert_eq!(query_words("Zoë, Łukasz"), ["zoe", "lukasz"]);
        assert_eq!(query_words("+49 (30) 1234"), ["49301234"]);
        assert_eq!(query_words("..."), Vec::<String>::new());
        assert!(prefix_end("ab").as_str() > "abzzzz" && prefix_end("ab").as_str() < "ac");
    }
}
