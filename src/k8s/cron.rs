//! When a CronJob runs next: the five-field schedule the CronJob
//! controller reads (`*`, lists, ranges, steps, month and weekday names,
//! `@hourly`-style macros), in UTC. Pure, so it is tested without a clock.

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};

/// A parsed schedule: the allowed values of each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    days: Vec<bool>,
    months: Vec<bool>,
    weekdays: Vec<bool>,
    /// Day of month and weekday both restricted: either may match (cron's rule).
    either_day: bool,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Schedule {
    /// Parse `0 3 * * *`, `*/15 9-17 * * MON-FRI`, `@daily`.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let text = text.trim();
        let expanded = match text {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            t => t,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [m, h, dom, mon, dow] = fields.as_slice() else {
            return Err(format!("`{text}` is not five fields"));
        };
        let mut weekdays = field(dow, 0, 7, &DAYS)?;
        // 7 is Sunday too.
        if weekdays[7] {
            weekdays[0] = true;
        }
        weekdays.truncate(7);
        let restricted = |f: &str| !matches!(f, "*" | "?");
        Ok(Schedule {
            minutes: field(m, 0, 59, &[])?,
            hours: field(h, 0, 23, &[])?,
            days: field(dom, 1, 31, &[])?,
            months: field(mon, 1, 12, &MONTHS)?,
            weekdays,
            either_day: restricted(dom) && restricted(dow),
        })
    }

    fn day_matches(&self, t: &DateTime<Utc>) -> bool {
        let dom = self.days[t.day() as usize];
        let dow = self.weekdays[t.weekday().num_days_from_sunday() as usize];
        if self.either_day { dom || dow } else { dom && dow }
    }

    /// The first run strictly after `after` (to the minute), within a year.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = after.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1);
        let mut t = start;
        let end = start + Duration::days(366);
        while t < end {
            if !self.months[t.month() as usize] {
                // The first minute of the next month.
                let (y, m) = if t.month() == 12 {
                    (t.year() + 1, 1)
                } else {
                    (t.year(), t.month() + 1)
                };
                t = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single()?;
                continue;
            }
            if !self.day_matches(&t) {
                t = (t + Duration::days(1)).with_hour(0)?.with_minute(0)?;
                continue;
            }
            if !self.hours[t.hour() as usize] {
                t = (t + Duration::hours(1)).with_minute(0)?;
                continue;
            }
            if self.minutes[t.minute() as usize] {
                return Some(t);
            }
            t += Duration::minutes(1);
        }
        None
    }
}

/// One field as a table indexed by value (`lo..=hi`).
fn field(text: &str, lo: u32, hi: u32, names: &[&str]) -> Result<Vec<bool>, String> {
    let mut allowed = vec![false; hi as usize + 1];
    let value = |v: &str| -> Result<u32, String> {
        let lower = v.to_ascii_lowercase();
        // Month names count from 1, weekday names from 0.
        let base = if names.len() == 12 { 1 } else { 0 };
        if let Some(i) = names.iter().position(|n| *n == lower) {
            return Ok(i as u32 + base);
        }
        v.parse::<u32>()
            .ok()
            .filter(|n| (lo..=hi).contains(n))
            .ok_or_else(|| format!("`{v}` is not a value from {lo} to {hi}"))
    };
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("`{s}` is not a step"))?,
            ),
            None => (part, 1),
        };
        let (from, to) = match range {
            "*" | "?" => (lo, hi),
            r => match r.split_once('-') {
                Some((a, b)) => (value(a)?, value(b)?),
                // `5/10`: from 5 to the end, every 10.
                None if step > 1 => (value(r)?, hi),
                None => (value(r)?, value(r)?),
            },
        };
        if from > to {
            return Err(format!("`{range}` runs backwards"));
        }
        for v in (from..=to).step_by(step as usize) {
            allowed[v as usize] = true;
        }
    }
    Ok(allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn next_runs() {
        let daily = Schedule::parse("0 3 * * *").unwrap();
        assert_eq!(
            daily.next_after(at("2026-12-05T22:40:10Z")),
            Some(at("2026-12-06T03:00:00Z"))
        );
        let every15 = Schedule::parse("*/15 * * * *").unwrap();
        assert_eq!(
            every15.next_after(at("2026-12-05T22:40:10Z")),
            Some(at("2026-12-05T22:45:00Z"))
        );
        let weekdays = Schedule::parse("30 9 * * MON-FRI").unwrap();
        // Saturday the 5th: Monday the 7th.
        assert_eq!(
            weekdays.next_after(at("2026-12-05T10:00:00Z")),
            Some(at("2026-12-07T09:30:00Z"))
        );
        let new_year = Schedule::parse("@yearly").unwrap();
        assert_eq!(
            new_year.next_after(at("2026-12-05T10:00:00Z")),
            Some(at("2027-01-01T00:00:00Z"))
        );
        // Both days restricted: either matches (the 1st, or a Sunday).
        let either = Schedule::parse("0 0 1 * 0").unwrap();
        assert_eq!(
            either.next_after(at("2026-12-05T10:00:00Z")),
            Some(at("2026-12-06T00:00:00Z"))
        );
        assert_eq!(
            Schedule::parse("0 0 31 2 *")
                .unwrap()
                .next_after(at("2026-12-05T10:00:00Z")),
            None
        );
    }

    #[test]
    fn bad_schedules_say_why() {
        assert!(Schedule::parse("0 3 * *").unwrap_err().contains("five fields"));
        assert!(Schedule::parse("61 * * * *").unwrap_err().contains("0 to 59"));
        assert!(Schedule::parse("*/0 * * * *").unwrap_err().contains("step"));
    }
}
