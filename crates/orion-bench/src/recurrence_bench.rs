//! The recurring-incident detector's precision and recall on generated months (scripts/bench-recurrence):
//! each month holds realistic one-off incidents and planted recurring issues (alike reports spread
//! over the month, bursts on one CI); the detector runs with its default thresholds, and every
//! cluster is scored against what was planted. Also times one detection over a large window.

use anyhow::Result;
use orion_app::demo::textgen;
use orion_domain::recurrence::{self, Incident, Params};
use rand::SeedableRng;
use std::collections::HashMap;
use std::time::Instant;

#[derive(clap::Args)]
pub struct RecurrenceArgs {
    /// First seed of the months scored
    #[arg(long, default_value_t = 101)]
    seed: u64,
    /// How many months (seeds) are scored
    #[arg(long, default_value_t = 20)]
    months: u64,
    /// One-off incidents per month (distinct faults; at most 75)
    #[arg(long, default_value_t = 70)]
    noise: usize,
    /// Print every proposal with the planted label of each incident
    #[arg(long)]
    verbose: bool,
    /// Incidents in the window timed for speed
    #[arg(long, default_value_t = 20_000)]
    timed: usize,
}

/// Scores of one month.
#[derive(Default)]
struct Score {
    planted: usize,
    found: usize,
    clusters: usize,
    true_clusters: usize,
    clustered: usize,
    clustered_right: usize,
    planted_incidents: usize,
    planted_found: usize,
    noise_clustered: usize,
}

fn to_incidents(m: &textgen::Month) -> Vec<Incident> {
    let names: HashMap<&str, i64> = m.cis.iter().enumerate().map(|(i, n)| (n.as_str(), i as i64 + 1)).collect();
    m.incidents
        .iter()
        .enumerate()
        .map(|(i, g)| Incident {
            id: i as i64,
            at: 1_790_000_000 + g.minute * 60,
            cis: g.ci.iter().map(|c| (names[c.as_str()], c.clone())).collect(),
            category: Some(g.category.to_string()),
            title: g.title.clone(),
            description: g.description.clone(),
        })
        .collect()
}

fn score(m: &textgen::Month, clusters: &[recurrence::Cluster]) -> Score {
    let mut s = Score { planted: m.planted, clusters: clusters.len(), ..Default::default() };
    let label = |id: i64| m.incidents[id as usize].planted;
    let sizes: HashMap<usize, usize> = m.incidents.iter().filter_map(|i| i.planted).fold(HashMap::new(), |mut h, p| {
        *h.entry(p).or_default() += 1;
        h
    });
    s.planted_incidents = sizes.values().sum();
    let mut found: HashMap<usize, usize> = HashMap::new();
    for c in clusters {
        let mut votes: HashMap<Option<usize>, usize> = HashMap::new();
        for id in &c.incidents {
            *votes.entry(label(*id)).or_default() += 1;
        }
        let (best, n) =
            votes.iter().max_by_key(|(l, n)| (**n, l.is_some())).map(|(l, n)| (*l, *n)).unwrap_or((None, 0));
        s.clustered += c.incidents.len();
        s.noise_clustered += votes.get(&None).copied().unwrap_or(0);
        if let Some(p) = best {
            s.true_clusters += 1;
            s.clustered_right += n;
            let e = found.entry(p).or_default();
            *e = (*e).max(n);
        }
    }
    for (p, n) in &found {
        s.planted_found += n;
        if *n * 10 >= sizes[p] * 6 {
            s.found += 1;
        }
    }
    s
}

pub async fn run(a: RecurrenceArgs) -> Result<()> {
    let params = Params::default();
    let mut total = Score::default();
    println!(
        "| month (seed) | incidents | planted issues | found | proposals | of which right | incident precision | incident recall | one-offs grouped |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for seed in a.seed..a.seed + a.months {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let m = textgen::incident_month(&mut rng, a.noise);
        let clusters = recurrence::detect(&to_incidents(&m), &params);
        let s = score(&m, &clusters);
        if a.verbose {
            for c in &clusters {
                let labels: Vec<String> = c
                    .incidents
                    .iter()
                    .map(|id| m.incidents[*id as usize].planted.map_or("-".to_string(), |p| p.to_string()))
                    .collect();
                println!("  {} [{}]", c.reason(), labels.join(" "));
                for id in c.incidents.iter().take(3) {
                    println!("      {}", m.incidents[*id as usize].title);
                }
            }
        }
        println!(
            "| {seed} | {} | {} | {} | {} | {} | {:.2} | {:.2} | {} |",
            m.incidents.len(),
            s.planted,
            s.found,
            s.clusters,
            s.true_clusters,
            ratio(s.clustered_right, s.clustered),
            ratio(s.planted_found, s.planted_incidents),
            s.noise_clustered
        );
        total.planted += s.planted;
        total.found += s.found;
        total.clusters += s.clusters;
        total.true_clusters += s.true_clusters;
        total.clustered += s.clustered;
        total.clustered_right += s.clustered_right;
        total.planted_incidents += s.planted_incidents;
        total.planted_found += s.planted_found;
        total.noise_clustered += s.noise_clustered;
    }
    println!(
        "| **all {}** | | {} | {} | {} | {} | **{:.3}** | **{:.3}** | {} |",
        a.months,
        total.planted,
        total.found,
        total.clusters,
        total.true_clusters,
        ratio(total.clustered_right, total.clustered),
        ratio(total.planted_found, total.planted_incidents),
        total.noise_clustered
    );
    println!();
    println!(
        "Issue level: {}/{} planted issues found (recall {:.3}); {}/{} proposals are a planted issue (precision {:.3}).",
        total.found,
        total.planted,
        ratio(total.found, total.planted),
        total.true_clusters,
        total.clusters,
        ratio(total.true_clusters, total.clusters)
    );

    // Speed: a window of `timed` incidents of everyday text, a third naming one of 2,000 CIs.
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    use rand::Rng;
    let big: Vec<Incident> = (0..a.timed)
        .map(|i| {
            let g = textgen::ticket(&mut rng);
            let ci = rng.random_range(0..6000i64);
            Incident {
                id: i as i64,
                at: 1_790_000_000 + rng.random_range(0..30 * 86_400),
                cis: if ci < 2000 { vec![(ci, format!("ci-{ci}"))] } else { Vec::new() },
                category: Some(g.category.to_string()),
                title: g.title,
                description: g.description,
            }
        })
        .collect();
    let started = Instant::now();
    let clusters = recurrence::detect(&big, &params);
    println!();
    println!(
        "Detection over {} incidents: {:.2} s, {} clusters (everyday text recurs at this volume, as it does in life).",
        a.timed,
        started.elapsed().as_secs_f64(),
        clusters.len()
    );
    Ok(())
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}
