//! Recurring-incident detection: groups a window of incidents into clusters that look like one
//! underlying problem. Two rules, each explainable to a lead:
//!
//! - **On one CI or service**: at least `ci_count` incidents naming the same CI (or a service
//!   their CIs belong to) within `ci_days` days of each other.
//! - **Similar text**: at least `similar_count` incidents whose title and description are alike,
//!   by word-level TF-IDF and cosine similarity (words folded and stemmed like the search index;
//!   the titles' similarity weighs 65 %, the descriptions' 35 %; a small bonus for the same
//!   category and a penalty for different ones). Clustering is density-based: an incident with `similar_count - 1` alike neighbours is a
//!   core, cores that are alike join, and an incident alike to a core joins its cluster. No model,
//!   no network: deterministic for a given input.

use crate::search::{term, words};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// An incident as the detector sees it.
#[derive(Debug, Clone)]
pub struct Incident {
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// The CIs it names and the services they belong to: (key, display name), e.g. (42, "db1").
    pub cis: Vec<(i64, String)>,
    pub category: Option<String>,
    pub title: String,
    pub description: String,
}

/// Thresholds; the defaults are the issue's: 3 on one CI in 7 days, 5 similar anywhere.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Params {
    pub ci_count: usize,
    pub ci_days: i64,
    pub similar_count: usize,
    /// Similarity (the weighted cosine with the category adjustment) from which two incidents are alike.
    pub similarity: f64,
}

impl Default for Params {
    fn default() -> Self {
        Self { ci_count: 3, ci_days: 7, similar_count: 5, similarity: 0.4 }
    }
}

/// Why a cluster was formed.
#[derive(Debug, Clone, PartialEq)]
pub enum Basis {
    /// Incidents on one CI or service.
    Ci { id: i64, name: String, days: i64 },
    /// Alike incidents; the words they share most.
    Similar { terms: Vec<String>, mean_similarity: f64 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub basis: Basis,
    /// Incident ids, ascending.
    pub incidents: Vec<i64>,
}

impl Cluster {
    /// A stable key for "the same set": the sorted ids.
    pub fn key(&self) -> String {
        self.incidents.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
    }

    /// One sentence a lead can check.
    pub fn reason(&self) -> String {
        match &self.basis {
            Basis::Ci { name, days, .. } => {
                format!("{} incidents on {name} within {days} days of each other", self.incidents.len())
            }
            Basis::Similar { terms, mean_similarity } => format!(
                "{} incidents with similar text (mean similarity {:.2}), sharing: {}",
                self.incidents.len(),
                mean_similarity,
                terms.join(", ")
            ),
        }
    }
}

const STOP: &[&str] = &[
    "a",
    "about",
    "after",
    "again",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "been",
    "but",
    "by",
    "can",
    "cannot",
    "could",
    "did",
    "do",
    "doe",
    "for",
    "from",
    "get",
    "go",
    "ha",
    "had",
    "have",
    "he",
    "her",
    "hi",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "it's",
    "its",
    "just",
    "me",
    "my",
    "no",
    "not",
    "of",
    "on",
    "or",
    "our",
    "out",
    "please",
    "she",
    "since",
    "so",
    "some",
    "still",
    "than",
    "thank",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "thi",
    "this",
    "to",
    "today",
    "up",
    "u",
    "wa",
    "was",
    "we",
    "were",
    "what",
    "when",
    "which",
    "while",
    "who",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yesterday",
    "morning",
    "now",
    "work",
    "working",
    "doesn",
    "don",
    "t",
    "s",
    "when",
    "every",
    "time",
    "same",
    "problem",
    "issue",
    "help",
    "need",
    "hello",
];

/// The terms of a text, as the search index would store them, without stop words.
pub fn terms(text: &str) -> impl Iterator<Item = String> + '_ {
    words(text).filter_map(|(s, e)| term(&text[s..e])).filter(|t| t.chars().count() > 1 && !STOP.contains(&t.as_str()))
}

/// Finds the clusters of `incidents`. An incident is in at most one text cluster, and in one CI
/// cluster per CI or service it names; a cluster whose incidents all belong to a larger one is
/// dropped.
pub fn detect(incidents: &[Incident], p: &Params) -> Vec<Cluster> {
    let mut out = by_ci(incidents, p);
    out.extend(by_text(incidents, p));
    // Largest first; a cluster adding nothing to one already kept is dropped.
    out.sort_by(|a, b| b.incidents.len().cmp(&a.incidents.len()).then(a.incidents.cmp(&b.incidents)));
    let mut kept: Vec<Cluster> = Vec::new();
    for c in out {
        let set: BTreeSet<i64> = c.incidents.iter().copied().collect();
        if kept.iter().any(|k| set.iter().all(|i| k.incidents.binary_search(i).is_ok())) {
            continue;
        }
        kept.push(c);
    }
    kept
}

fn by_ci(incidents: &[Incident], p: &Params) -> Vec<Cluster> {
    let mut per_ci: BTreeMap<i64, (String, Vec<(i64, i64)>)> = BTreeMap::new();
    for inc in incidents {
        for (id, name) in &inc.cis {
            per_ci.entry(*id).or_insert_with(|| (name.clone(), Vec::new())).1.push((inc.at, inc.id));
        }
    }
    let span = p.ci_days * 86_400;
    let need = p.ci_count.max(2);
    let mut out = Vec::new();
    for (ci, (name, mut list)) in per_ci {
        list.sort();
        list.dedup();
        let mut marked = vec![false; list.len()];
        let mut start = 0;
        for end in 0..list.len() {
            while list[end].0 - list[start].0 > span {
                start += 1;
            }
            if end + 1 - start >= need {
                marked[start..=end].iter_mut().for_each(|m| *m = true);
            }
        }
        let mut ids: Vec<i64> = list.iter().zip(&marked).filter(|(_, m)| **m).map(|(x, _)| x.1).collect();
        if ids.len() >= need {
            ids.sort_unstable();
            out.push(Cluster { basis: Basis::Ci { id: ci, name, days: p.ci_days }, incidents: ids });
        }
    }
    out
}

/// How much the title counts against the description: the title names the fault, while
/// descriptions of one subject share generic sentences ("colleagues have the same problem").
const TITLE_WEIGHT: f64 = 0.65;

/// Sparse TF-IDF vectors, one per incident: the title's and the description's terms as separate
/// features, each part L2-normalised and scaled so that the dot product of two vectors is
/// `TITLE_WEIGHT` x the titles' cosine + the rest x the descriptions' cosine.
fn vectors(incidents: &[Incident]) -> Vec<Vec<(usize, f64)>> {
    let mut vocab: HashMap<(bool, String), usize> = HashMap::new();
    let mut counts: Vec<[HashMap<usize, f64>; 2]> = Vec::with_capacity(incidents.len());
    for inc in incidents {
        let mut parts: [HashMap<usize, f64>; 2] = Default::default();
        for (part, text) in [(0usize, &inc.title), (1, &inc.description)] {
            for t in terms(text) {
                let n = vocab.len();
                let id = *vocab.entry((part == 0, t)).or_insert(n);
                *parts[part].entry(id).or_default() += 1.0;
            }
        }
        counts.push(parts);
    }
    let mut df = vec![0usize; vocab.len()];
    for parts in &counts {
        for id in parts.iter().flat_map(|p| p.keys()) {
            df[*id] += 1;
        }
    }
    let n = incidents.len() as f64;
    counts
        .into_iter()
        .map(|parts| {
            let mut v: Vec<(usize, f64)> = Vec::new();
            for (i, tf) in parts.into_iter().enumerate() {
                let scale = if i == 0 { TITLE_WEIGHT } else { 1.0 - TITLE_WEIGHT }.sqrt();
                let mut part: Vec<(usize, f64)> = tf
                    .into_iter()
                    .map(|(id, f)| (id, (1.0 + f.ln()) * (((n + 1.0) / (df[id] as f64 + 1.0)).ln() + 1.0)))
                    .collect();
                let norm = part.iter().map(|(_, w)| w * w).sum::<f64>().sqrt();
                if norm > 0.0 {
                    part.iter_mut().for_each(|(_, w)| *w *= scale / norm);
                }
                v.extend(part);
            }
            v.sort_by_key(|(id, _)| *id);
            v
        })
        .collect()
}

/// Same category: a little more alike; different ones: less.
fn category_adjust(a: &Option<String>, b: &Option<String>) -> f64 {
    match (a, b) {
        (Some(x), Some(y)) if x == y => 0.05,
        (Some(_), Some(_)) => -0.1,
        _ => 0.0,
    }
}

/// Terms in more incidents than this share of the window do not propose candidate pairs (they
/// still count in the similarity of a pair found through a rarer term).
const COMMON_SHARE: f64 = 0.05;

fn dot(a: &[(usize, f64)], b: &[(usize, f64)]) -> f64 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    sum
}

/// Every pair above the threshold. Candidates come from an inverted index of the rarer terms
/// (two reports of one fault share its specific words); each candidate pair is then scored
/// exactly.
fn neighbours(incidents: &[Incident], vecs: &[Vec<(usize, f64)>], threshold: f64) -> Vec<Vec<(usize, f64)>> {
    let mut postings: HashMap<usize, Vec<usize>> = HashMap::new();
    for (doc, v) in vecs.iter().enumerate() {
        for (t, _) in v {
            postings.entry(*t).or_default().push(doc);
        }
    }
    let cap = ((incidents.len() as f64 * COMMON_SHARE) as usize).max(50);
    let mut out = vec![Vec::new(); vecs.len()];
    let mut seen: Vec<usize> = vec![usize::MAX; vecs.len()];
    for (doc, v) in vecs.iter().enumerate() {
        for (t, _) in v {
            let list = &postings[t];
            if list.len() > cap {
                continue;
            }
            for &other in list {
                if other <= doc || seen[other] == doc {
                    continue;
                }
                seen[other] = doc;
                let sim = dot(v, &vecs[other]) + category_adjust(&incidents[doc].category, &incidents[other].category);
                if sim >= threshold {
                    out[doc].push((other, sim));
                    out[other].push((doc, sim));
                }
            }
        }
    }
    out
}

fn by_text(incidents: &[Incident], p: &Params) -> Vec<Cluster> {
    if incidents.len() < p.similar_count.max(2) {
        return Vec::new();
    }
    let vecs = vectors(incidents);
    let near = neighbours(incidents, &vecs, p.similarity);
    let min_neighbours = p.similar_count.max(2) - 1;
    let core: Vec<bool> = near.iter().map(|n| n.len() >= min_neighbours).collect();
    let mut label: Vec<Option<usize>> = vec![None; incidents.len()];
    let mut clusters: Vec<Vec<usize>> = Vec::new();
    for start in 0..incidents.len() {
        if !core[start] || label[start].is_some() {
            continue;
        }
        let c = clusters.len();
        let mut members = vec![start];
        label[start] = Some(c);
        let mut stack = vec![start];
        while let Some(i) = stack.pop() {
            for (j, _) in &near[i] {
                if label[*j].is_some() {
                    continue;
                }
                label[*j] = Some(c);
                members.push(*j);
                if core[*j] {
                    stack.push(*j);
                }
            }
        }
        clusters.push(members);
    }
    clusters
        .into_iter()
        .map(|m| tighten(m, &near))
        .filter(|m| m.len() >= p.similar_count)
        .map(|members| {
            let set: BTreeSet<usize> = members.iter().copied().collect();
            let (mut sum, mut pairs) = (0.0, 0usize);
            for &i in &members {
                for (j, s) in &near[i] {
                    if i < *j && set.contains(j) {
                        sum += s;
                        pairs += 1;
                    }
                }
            }
            let terms = top_terms(&members.iter().map(|&i| &incidents[i]).collect::<Vec<_>>(), members.len());
            let mut ids: Vec<i64> = members.iter().map(|&i| incidents[i].id).collect();
            ids.sort_unstable();
            Cluster {
                basis: Basis::Similar { terms, mean_similarity: if pairs > 0 { sum / pairs as f64 } else { 0.0 } },
                incidents: ids,
            }
        })
        .collect()
}

/// Density clustering chains: A is like B, B like C, and soon every printer ticket of the month
/// is one cluster. A member stays only while it is alike to at least half of the others, the
/// weakest dropped first, so a cluster is a group of mutually alike reports.
fn tighten(members: Vec<usize>, near: &[Vec<(usize, f64)>]) -> Vec<usize> {
    let mut alive: HashMap<usize, usize> = HashMap::new();
    let set: BTreeSet<usize> = members.iter().copied().collect();
    for &i in &members {
        alive.insert(i, near[i].iter().filter(|(j, _)| set.contains(j)).count());
    }
    let mut queue: BTreeSet<(usize, usize)> = alive.iter().map(|(&i, &s)| (s, i)).collect();
    while let Some(&(support, i)) = queue.iter().next() {
        if support * 2 >= alive.len() - 1 {
            break;
        }
        queue.remove(&(support, i));
        alive.remove(&i);
        for (j, _) in &near[i] {
            if let Some(s) = alive.get_mut(j) {
                queue.remove(&(*s, *j));
                *s -= 1;
                queue.insert((*s, *j));
            }
        }
    }
    let mut kept: Vec<usize> = alive.into_keys().collect();
    kept.sort_unstable();
    kept
}

/// The words most of a cluster's incidents use (in at least half of them), most common first.
fn top_terms(members: &[&Incident], n: usize) -> Vec<String> {
    let mut df: BTreeMap<String, usize> = BTreeMap::new();
    for inc in members {
        let set: BTreeSet<String> = terms(&inc.title).chain(terms(&inc.description)).collect();
        for t in set {
            *df.entry(t).or_default() += 1;
        }
    }
    let mut list: Vec<(String, usize)> = df.into_iter().filter(|(_, c)| c * 2 >= n).collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    list.into_iter().take(6).map(|(t, _)| t).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inc(id: i64, day: i64, ci: Option<(i64, &str)>, title: &str, description: &str) -> Incident {
        Incident {
            id,
            at: 1_700_000_000 + day * 86_400,
            cis: ci.map(|(i, n)| vec![(i, n.to_string())]).unwrap_or_default(),
            category: None,
            title: title.into(),
            description: description.into(),
        }
    }

    #[test]
    fn three_on_one_ci_within_seven_days() {
        let list = vec![
            inc(1, 0, Some((7, "db1")), "Payroll slow", "reports time out"),
            inc(2, 3, Some((7, "db1")), "Cannot save invoice", "error 500"),
            inc(3, 6, Some((7, "db1")), "Login hangs", "spinning wheel"),
            inc(4, 20, Some((7, "db1")), "Unrelated later", "far away in time"),
            inc(5, 1, Some((8, "web1")), "One-off", "only one"),
            inc(6, 2, Some((8, "web1")), "Two-off", "only two"),
        ];
        let c = detect(&list, &Params::default());
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].incidents, vec![1, 2, 3]);
        assert!(c[0].reason().contains("3 incidents on db1 within 7 days"), "{}", c[0].reason());
        let spread = vec![
            inc(1, 0, Some((7, "db1")), "a", ""),
            inc(2, 5, Some((7, "db1")), "b", ""),
            inc(3, 12, Some((7, "db1")), "c", ""),
        ];
        assert!(detect(&spread, &Params::default()).is_empty(), "8 days apart end to end is not 3 in 7");
    }

    #[test]
    fn similar_text_groups_five_and_leaves_the_rest() {
        let mut list = vec![
            inc(1, 0, None, "Outlook crashes when opening the shared calendar", "Since the update Outlook closes"),
            inc(2, 2, None, "Outlook crash on shared calendar", "It crashes every time I open the team calendar"),
            inc(3, 4, None, "Shared calendar makes Outlook crash", "Outlook closes itself when the calendar opens"),
            inc(4, 9, None, "Outlook closes opening shared calendar", "calendar of the sales team crashes Outlook"),
            inc(5, 15, None, "Crash in Outlook with shared calendars", "Opening a shared calendar crashes Outlook"),
        ];
        let noise = [
            ("VPN disconnects every hour", "The GlobalProtect client drops the tunnel"),
            ("Printer on 2nd floor prints blank pages", "HP LaserJet output is empty"),
            ("Need access to the finance share", "Please grant rights to \\\\srv-file-01\\finance"),
            ("Laptop docking station no display", "External monitors stay black on the dock"),
            ("SAP transaction MIRO short dump", "Runtime error when posting an invoice"),
            ("Teams camera not detected", "Video calls show no camera"),
            ("Disk full on my laptop", "C: drive has 100 MB free"),
        ];
        for (i, (t, d)) in noise.iter().enumerate() {
            list.push(inc(100 + i as i64, i as i64, None, t, d));
        }
        let c = detect(&list, &Params::default());
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].incidents, vec![1, 2, 3, 4, 5]);
        let Basis::Similar { terms, .. } = &c[0].basis else { panic!("not a text cluster") };
        assert!(terms.contains(&"outlook".to_string()) && terms.contains(&"calendar".to_string()), "{terms:?}");
        list.remove(0);
        assert!(detect(&list, &Params::default()).is_empty(), "four alike is below the threshold of five");
    }

    #[test]
    fn a_cluster_inside_a_larger_one_is_dropped() {
        let list: Vec<Incident> = (0..5)
            .map(|i| inc(i, i, Some((7, "mail1")), "Outlook cannot connect to Exchange", "Disconnected status bar"))
            .collect();
        let c = detect(&list, &Params::default());
        assert_eq!(c.len(), 1, "the same five by CI and by text are one proposal: {c:?}");
        assert_eq!(c[0].key(), "0,1,2,3,4");
    }
}
