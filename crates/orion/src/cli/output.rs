//! What the commands share: printing for people or scripts (`--json`), reading input from files
//! or standard input, progress on long runs, and how a failure ends the process.

use anyhow::{Context, Result};
use orion_app::AppError;
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

pub fn print_json<T: serde::Serialize>(v: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// A list for scripts (`--json`) or people (one line each).
pub fn print_list<T: serde::Serialize>(items: &[T], json: bool, line: impl Fn(&T) -> String) -> Result<()> {
    if json {
        return print_json(&items);
    }
    for item in items {
        println!("{}", line(item));
    }
    Ok(())
}

/// A password or secret from standard input, without its line ending.
pub fn read_password() -> Result<String> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).context("reading the password from standard input")?;
    Ok(s.trim_end_matches(['\r', '\n']).to_string())
}

/// An article's Markdown from a file or standard input (`-`).
pub fn read_body(file: &Path) -> Result<String> {
    if file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("reading the article from standard input")?;
        return Ok(s);
    }
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}

/// A JSON request body from a file or standard input, named in errors.
pub fn read_json<T: serde::de::DeserializeOwned>(file: &Path) -> Result<T> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading standard input")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
    };
    serde_json::from_str(&text).with_context(|| format!("{}: not a valid request body", file.display()))
}

/// Draws `done/total` as a bar on a terminal, or a line every tenth elsewhere (logs, CI).
pub struct Progress {
    started: std::time::Instant,
    tty: bool,
    last_tenth: i64,
    what: &'static str,
}

impl Progress {
    pub fn new(what: &'static str) -> Self {
        use std::io::IsTerminal;
        Progress { started: std::time::Instant::now(), tty: std::io::stderr().is_terminal(), last_tenth: -1, what }
    }

    pub fn show(&mut self, done: i64, total: i64) {
        let total = total.max(1);
        let pct = done * 100 / total;
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = done as f64 / secs;
        let eta = if rate > 0.0 { (total - done) as f64 / rate } else { 0.0 };
        let line = format!("{done}/{total} {} ({pct}%)  {rate:.0}/s  ETA {eta:.0} s", self.what);
        if self.tty {
            let filled = (pct as usize * 30 / 100).min(30);
            eprint!("\r[{}{}] {line}   ", "#".repeat(filled), ".".repeat(30 - filled));
            if done >= total {
                eprintln!();
            }
        } else if pct / 10 > self.last_tenth || done >= total {
            self.last_tenth = pct / 10;
            eprintln!("{line}");
        }
    }
}

/// A failure that must end the process with this exit code.
#[derive(Debug)]
pub struct ExitWith(pub u8, pub String);

impl std::fmt::Display for ExitWith {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1)
    }
}

impl std::error::Error for ExitWith {}

/// Prints a command's failure and gives its exit code: the one it asked for, else 1. Invalid
/// fields are listed one a line.
pub fn report_failure(e: &anyhow::Error) -> ExitCode {
    if let Some(ExitWith(code, msg)) = e.downcast_ref::<ExitWith>() {
        eprintln!("error: {msg}");
        return ExitCode::from(*code);
    }
    match e.downcast_ref::<AppError>() {
        Some(AppError::Validation(errs)) => {
            for f in errs.iter() {
                eprintln!("error: {}: {}", f.field, f.message);
            }
        }
        _ => eprintln!("error: {e:#}"),
    }
    ExitCode::FAILURE
}
