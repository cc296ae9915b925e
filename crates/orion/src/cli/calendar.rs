//! `orion calendar`: business calendars for SLAs.

use super::operator;
use super::output::print_list;
use anyhow::Context;
use anyhow::Result;
use clap::Subcommand;
use orion_app::App;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum CalendarCmd {
    /// List calendars
    List {
        #[arg(long)]
        json: bool,
    },
    /// Create or replace a calendar's zone and weekly hours (holidays are kept)
    Set {
        #[arg(long)]
        name: String,
        /// IANA time zone, e.g. Europe/Berlin
        #[arg(long)]
        time_zone: String,
        /// Working hours, repeatable: 09:00-12:00 --hours 13:00-17:00
        #[arg(long = "hours", required = true)]
        hours: Vec<String>,
        /// Working days: mon-fri, mon-sat, all, or a list like mon,tue,thu
        #[arg(long, default_value = "mon-fri")]
        days: String,
    },
    /// Add the holidays of an iCalendar (.ics) file to a calendar
    ImportHolidays {
        #[arg(long)]
        name: String,
        #[arg(long)]
        file: PathBuf,
    },
}

/// `09:00-17:00` → minutes since midnight.
fn parse_hours(s: &str) -> Result<(u16, u16)> {
    let minute = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h <= 24 && m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
    };
    let (a, b) = s.split_once('-').ok_or_else(|| anyhow::anyhow!("--hours {s:?}: write it as 09:00-17:00"))?;
    match (minute(a), minute(b)) {
        (Some(a), Some(b)) if a < b => Ok((a, b)),
        _ => anyhow::bail!("--hours {s:?}: write it as 09:00-17:00, start before end"),
    }
}

/// `mon-fri`, `all`, `mon,wed` → which of the seven days (Monday first) work.
fn parse_days(s: &str) -> Result<[bool; 7]> {
    const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let index = |d: &str| NAMES.iter().position(|n| *n == d.trim().to_ascii_lowercase());
    let mut days = [false; 7];
    if s.trim() == "all" {
        return Ok([true; 7]);
    }
    for part in s.split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        match (index(a), index(b)) {
            (Some(a), Some(b)) if a <= b => days[a..=b].iter_mut().for_each(|d| *d = true),
            _ => anyhow::bail!("--days {s:?}: use mon-fri, all, or names like mon,tue,thu"),
        }
    }
    Ok(days)
}

pub async fn run(app: &App, cmd: CalendarCmd) -> Result<()> {
    match cmd {
        CalendarCmd::List { json } => {
            let cals = app.list_calendars(&operator()).await?;
            print_list(&cals, json, |c| {
                format!(
                    "{:<20} {:<20} {} holidays, {} yearly",
                    c.name,
                    c.time_zone,
                    c.holidays.len(),
                    c.yearly_holidays.len()
                )
            })
        }
        CalendarCmd::Set { name, time_zone, hours, days } => {
            let intervals = hours.iter().map(|h| parse_hours(h)).collect::<Result<Vec<_>>>()?;
            let days = parse_days(&days)?;
            let existing =
                app.list_calendars(&operator()).await?.into_iter().find(|c| c.name.eq_ignore_ascii_case(&name));
            let (holidays, yearly_holidays) = existing.map(|c| (c.holidays, c.yearly_holidays)).unwrap_or_default();
            let week = days.iter().map(|on| if *on { intervals.clone() } else { Vec::new() }).collect();
            let c = app
                .put_calendar(
                    &operator(),
                    orion_app::sla::Calendar { name, time_zone, week, holidays, yearly_holidays },
                )
                .await?;
            println!("calendar {} saved ({})", c.name, c.time_zone);
            Ok(())
        }
        CalendarCmd::ImportHolidays { name, file } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let (c, added) = app.import_holidays(&operator(), &name, &text).await?;
            println!(
                "{added} holidays added to {} ({} dated, {} yearly)",
                c.name,
                c.holidays.len(),
                c.yearly_holidays.len()
            );
            Ok(())
        }
    }
}
