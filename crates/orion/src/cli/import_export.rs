//! `orion import` and `orion export`: assets, licences and users as CSV.

use super::output::{Progress, print_json};
use anyhow::{Context, Result};
use clap::Args;
use orion_app::App;
use orion_app::cmdb::csv_io::{CsvKind, parse_mapping};
use std::io::{Read, Write};
use std::path::PathBuf;

#[derive(Args)]
pub struct ImportArgs {
    /// assets, licences or users
    kind: String,
    /// The CSV file (`-` for standard input); the first line names the columns
    file: PathBuf,
    /// Map the file's columns to fields: `"Asset Tag=asset_tag,Serial No=serial"`
    #[arg(long, default_value = "")]
    map: String,
    /// Check every line and report, writing nothing
    #[arg(long)]
    dry_run: bool,
    #[arg(long = "as", env = "ORION_CLI_USER")]
    as_user: String,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ExportArgs {
    /// assets, licences or users
    kind: String,
    /// Write here instead of standard output
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long = "as", env = "ORION_CLI_USER")]
    as_user: String,
}

pub async fn import(app: &App, args: ImportArgs) -> Result<()> {
    let ImportArgs { kind, file, map, dry_run, as_user, json } = args;
    let actor = app.actor_for(&as_user).await?;
    let kind = CsvKind::parse(&kind)?;
    let mapping = parse_mapping(&map)?;
    let data = if file.as_os_str() == "-" {
        let mut v = Vec::new();
        std::io::stdin().read_to_end(&mut v).context("reading standard input")?;
        v
    } else {
        std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?
    };
    let mut p = Progress::new("lines");
    let r = app.import_csv(&actor, kind, &data, &mapping, dry_run, |d, t| p.show(d as i64, t as i64)).await?;
    if json {
        print_json(&r)?;
    } else {
        for e in &r.errors {
            let field = if e.field.is_empty() { String::new() } else { format!(" {}:", e.field) };
            eprintln!("{}:{}:{field} {}", file.display(), e.line, e.reason);
        }
        if !r.ignored_columns.is_empty() {
            eprintln!("ignored columns: {}", r.ignored_columns.join(", "));
        }
        let verdict = match (r.written, r.dry_run, r.errors.is_empty()) {
            (true, _, _) => "written",
            (false, true, true) => "dry run: nothing written, every line is valid",
            _ => "nothing written",
        };
        println!(
            "{} lines: {} new, {} changed, {} unchanged, {} errors — {verdict}",
            r.rows,
            r.created,
            r.updated,
            r.unchanged,
            r.errors.len()
        );
    }
    if r.errors.is_empty() { Ok(()) } else { Err(anyhow::anyhow!("{} bad lines", r.errors.len())) }
}

pub async fn export(app: &App, args: ExportArgs) -> Result<()> {
    let ExportArgs { kind, out, as_user } = args;
    let actor = app.actor_for(&as_user).await?;
    let kind = CsvKind::parse(&kind)?;
    let mut sink: Box<dyn Write + Send> = match &out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create_new(p).with_context(|| format!("creating {} (it must not exist)", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let n = app.export_csv(&actor, kind, &mut *sink, |_| {}).await?;
    sink.flush()?;
    if out.is_some() {
        eprintln!("exported {n} rows");
    }
    Ok(())
}
