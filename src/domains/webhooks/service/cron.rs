//! Cron expressions of schedules: 5 fields (minute hour day-of-month month day-of-week, POSIX /
//! Vixie semantics, parsed by `croner`) read as wall-clock time in an IANA time zone
//! (`chrono-tz`), and the next occurrence after an instant.
//!
//! The expression is matched against the **wall clock** (croner runs on naive local time, here
//! through `Utc` so it never sees a DST transition itself); each wall-clock match then becomes
//! zero, one or two instants in the zone. The DST rule:
//! - **Spring forward** (a wall-clock time that does not exist that day, 02:30 in New York on
//!   the second Sunday of March): a *fixed-time* schedule (one minute and one hour, like
//!   `30 2 * * *`) runs at the first instant after the gap (03:00 local), once; an *interval*
//!   schedule (a wildcard, range, list or step in the minute or hour field) skips the minutes
//!   that do not exist.
//! - **Fall back** (a wall-clock time that happens twice, 01:30 in New York on the first
//!   Sunday of November): a fixed-time schedule runs once, at the first of the two; an interval
//!   schedule runs at both (`*/1 * * * *` fires 120 times between 01:00 and 02:00 local), so
//!   it keeps its spacing in real time.
//!
//! This is the rule of croner's own DST handling (the Open Cron Pattern Specification) and of
//! Vixie/ISC cron; it is implemented here rather than taken from croner's zoned search, which
//! walks naive local time and, iterating from an instant inside a repeated hour, can answer an
//! earlier instant or skip the repeated hour.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::{
    parser::{CronParser, Seconds, Year},
    Cron, JobType,
};

/// The field names, in order, for error messages.
const FIELDS: [&str; 5] = ["minute", "hour", "day-of-month", "month", "day-of-week"];
/// The widest offset change considered around an instant (no zone moves by more than this).
const MAX_SHIFT: Duration = Duration::hours(3);
/// Wall-clock matches looked at for one answer (bounds the work of any expression).
const MAX_STEPS: usize = 4_000;

/// A parsed expression in its zone.
pub struct CronSpec {
    cron: Cron,
    tz: Tz,
    fixed: bool,
}

/// The 5-field parser: no seconds, no year.
fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
}

/// Parses `expr`; the error names the first field at fault and why.
pub fn parse_cron(expr: &str) -> Result<Cron, String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "must have 5 fields (minute hour day-of-month month day-of-week), found {}",
            fields.len()
        ));
    }
    match parser().parse(&fields.join(" ")) {
        Ok(c) => Ok(c),
        Err(whole) => {
            // Which field: each one alone, the others wildcards.
            for (i, f) in fields.iter().enumerate() {
                let mut probe = ["*"; 5];
                probe[i] = f;
                if let Err(e) = parser().parse(&probe.join(" ")) {
                    return Err(format!(
                        "field {} ({}) `{f}` is invalid: {e}",
                        i + 1,
                        FIELDS[i]
                    ));
                }
            }
            Err(format!("is invalid: {whole}"))
        }
    }
}

/// An IANA zone name, or why not.
pub fn parse_timezone(name: &str) -> Result<Tz, String> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| format!("`{name}` is not an IANA time zone (e.g. America/New_York)"))
}

impl CronSpec {
    /// An expression and a zone, each checked (field name, message) on failure.
    pub fn parse(expr: &str, timezone: &str) -> Result<CronSpec, Vec<(&'static str, String)>> {
        let cron = parse_cron(expr).map_err(|e| ("cron", e));
        let tz = parse_timezone(timezone).map_err(|e| ("timezone", e));
        match (cron, tz) {
            (Ok(cron), Ok(tz)) => {
                let fixed = cron.determine_job_type() == JobType::FixedTime;
                Ok(CronSpec { cron, tz, fixed })
            }
            (c, t) => Err([c.err(), t.err()].into_iter().flatten().collect()),
        }
    }

    /// The UTC offset (seconds) at `t`.
    fn offset_at(&self, t: DateTime<Utc>) -> i64 {
        i64::from(
            self.tz
                .offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc(),
        )
    }

    /// The wall-clock time at `t`.
    fn wall(&self, t: DateTime<Utc>) -> NaiveDateTime {
        t.with_timezone(&self.tz).naive_local()
    }

    /// The next wall-clock match strictly after `w`.
    fn next_wall(&self, w: NaiveDateTime) -> Option<NaiveDateTime> {
        self.cron
            .find_next_occurrence(&Utc.from_utc_datetime(&w), false)
            .ok()
            .map(|d| d.naive_utc())
    }

    /// The first instant whose wall clock is at or after `w` (the end of the gap `w` is in).
    fn first_instant_from(&self, w: NaiveDateTime) -> Option<DateTime<Utc>> {
        let mut lo = Utc.from_utc_datetime(&w) - Duration::hours(15);
        let mut hi = Utc.from_utc_datetime(&w) + Duration::hours(15);
        if self.wall(hi) < w {
            return None;
        }
        while hi - lo > Duration::minutes(1) {
            let mid = lo + (hi - lo) / 2;
            if self.wall(mid) >= w {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        // Transitions fall on whole minutes.
        let hi = hi.with_second(0)?.with_nanosecond(0)?;
        Some(if self.wall(hi) >= w {
            hi
        } else {
            hi + Duration::minutes(1)
        })
    }

    /// The instants of the wall-clock match `w`, per the DST rule above.
    fn instants(&self, w: NaiveDateTime) -> Vec<DateTime<Utc>> {
        match self.tz.from_local_datetime(&w) {
            LocalResult::Single(t) => vec![t.with_timezone(&Utc)],
            LocalResult::Ambiguous(a, b) if self.fixed => {
                vec![a.min(b).with_timezone(&Utc)]
            }
            LocalResult::Ambiguous(a, b) => vec![a.with_timezone(&Utc), b.with_timezone(&Utc)],
            LocalResult::None if self.fixed => self.first_instant_from(w).into_iter().collect(),
            LocalResult::None => Vec::new(),
        }
    }

    /// The first occurrence strictly after `after`; `None` when the expression never matches
    /// again (`0 0 30 2 *`).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let near = [after - MAX_SHIFT, after, after + MAX_SHIFT];
        let offsets: Vec<i64> = near.iter().map(|t| self.offset_at(*t)).collect();
        let min_off = offsets.iter().copied().min().unwrap_or(0);
        // Walls before this cannot map to an instant after `after`.
        let start = after.naive_utc().with_nanosecond(0)? + Duration::seconds(min_off)
            - Duration::seconds(1);
        let mut w = start;
        let mut best: Option<DateTime<Utc>> = None;
        let mut horizon: Option<NaiveDateTime> = None;
        for _ in 0..MAX_STEPS {
            let next = self.next_wall(w)?;
            if horizon.is_some_and(|h| next > h) {
                break;
            }
            for t in self.instants(next) {
                if t > after && best.is_none_or(|b| t < b) {
                    best = Some(t);
                }
            }
            if let Some(b) = best {
                // Past a transition a later wall time can still be an earlier instant (the
                // repeated hour); elsewhere wall order is instant order.
                let moves = self.offset_at(b + MAX_SHIFT) != self.offset_at(after - MAX_SHIFT)
                    || self.offset_at(b) != self.offset_at(b - MAX_SHIFT);
                let wall_b = self.wall(b);
                horizon = Some(if moves { wall_b + MAX_SHIFT } else { wall_b });
            }
            w = next;
        }
        best
    }

    /// The next `count` occurrences after `after`.
    pub fn upcoming(&self, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(count);
        let mut at = after;
        while out.len() < count {
            let Some(next) = self.next_after(at) else {
                break;
            };
            out.push(next);
            at = next;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn spec(expr: &str, tz: &str) -> CronSpec {
        CronSpec::parse(expr, tz)
            .map_err(|e| format!("{e:?}"))
            .unwrap()
    }

    #[test]
    fn every_minute_in_utc() {
        let s = spec("*/1 * * * *", "UTC");
        let got = s.upcoming(utc("2026-12-06T07:00:30Z"), 3);
        assert_eq!(
            got,
            vec![
                utc("2026-12-06T07:01:00Z"),
                utc("2026-12-06T07:02:00Z"),
                utc("2026-12-06T07:03:00Z")
            ]
        );
        // Strictly after: an instant on a match gives the next one.
        assert_eq!(
            s.next_after(utc("2026-12-06T07:01:00Z")),
            Some(utc("2026-12-06T07:02:00Z"))
        );
    }

    #[test]
    fn spring_forward_a_fixed_time_in_the_gap_runs_at_the_end_of_the_gap_once() {
        // 2027-03-14: New York goes from 02:00 EST to 03:00 EDT (07:00 UTC).
        let s = spec("30 2 * * *", "America/New_York");
        let got = s.upcoming(utc("2027-03-13T12:00:00Z"), 3);
        assert_eq!(
            got,
            vec![
                utc("2027-03-14T07:00:00Z"), // 03:00 EDT, the first instant after the gap
                utc("2027-03-15T06:30:00Z"), // 02:30 EDT
                utc("2027-03-16T06:30:00Z"),
            ]
        );
    }

    #[test]
    fn spring_forward_an_interval_schedule_skips_the_missing_hour() {
        let s = spec("0 * * * *", "America/New_York");
        let got = s.upcoming(utc("2027-03-14T05:30:00Z"), 3); // 00:30 EST
        assert_eq!(
            got,
            vec![
                utc("2027-03-14T06:00:00Z"), // 01:00 EST
                utc("2027-03-14T07:00:00Z"), // 03:00 EDT (02:00 does not exist)
                utc("2027-03-14T08:00:00Z"), // 04:00 EDT
            ]
        );
    }

    #[test]
    fn fall_back_a_fixed_time_in_the_repeated_hour_runs_once_at_the_first() {
        // 2027-11-07: New York goes from 02:00 EDT back to 01:00 EST (06:00 UTC).
        let s = spec("30 1 * * *", "America/New_York");
        let got = s.upcoming(utc("2027-11-06T12:00:00Z"), 2);
        assert_eq!(
            got,
            vec![utc("2027-11-07T05:30:00Z"), utc("2027-11-08T06:30:00Z")]
        );
        // From inside the second 01:xx hour: not again that day.
        assert_eq!(
            s.next_after(utc("2027-11-07T06:10:00Z")),
            Some(utc("2027-11-08T06:30:00Z"))
        );
    }

    #[test]
    fn fall_back_an_interval_schedule_runs_in_both_passes_and_never_goes_back() {
        let s = spec("*/1 * * * *", "America/New_York");
        // 00:00 EDT to 03:00 EST is four real hours: 240 minutes.
        let from = utc("2027-11-07T04:00:00Z");
        let got = s.upcoming(from, 240);
        let expected: Vec<_> = (1..=240).map(|m| from + Duration::minutes(m)).collect();
        assert_eq!(got, expected);
        let hourly = spec("0 * * * *", "America/New_York");
        assert_eq!(
            hourly.upcoming(utc("2027-11-07T04:30:00Z"), 3),
            vec![
                utc("2027-11-07T05:00:00Z"), // 01:00 EDT
                utc("2027-11-07T06:00:00Z"), // 01:00 EST
                utc("2027-11-07T07:00:00Z"), // 02:00 EST
            ]
        );
    }

    #[test]
    fn bad_expressions_and_zones_name_the_field() {
        let err = |e: &str, tz: &str| CronSpec::parse(e, tz).err().unwrap();
        let e = err("61 * * * *", "UTC");
        assert_eq!(e[0].0, "cron");
        assert!(e[0].1.contains("field 1 (minute)"), "{e:?}");
        let e = err("* 24 * * *", "UTC");
        assert!(e[0].1.contains("field 2 (hour)"), "{e:?}");
        let e = err("* * * *", "UTC");
        assert!(e[0].1.contains("found 4"), "{e:?}");
        let e = err("0 0 * * * *", "UTC");
        assert!(e[0].1.contains("found 6"), "{e:?}");
        let e = err("* * * * *", "Mars/Olympus");
        assert_eq!(e, vec![("timezone", e[0].1.clone())]);
        assert_eq!(err("x * * * *", "Nowhere").len(), 2);
        // Never matches again.
        assert_eq!(
            spec("0 0 30 2 *", "UTC").next_after(utc("2026-12-06T00:00:00Z")),
            None
        );
    }
}
