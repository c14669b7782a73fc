//! Date bucketing in SQL, in a time zone: the one helper behind every time series
//! (`leadStats`' days, insight's DAY / WEEK / MONTH series).
//!
//! [`bucket_sql`] is an SQL expression giving the local date (`YYYY-MM-DD`) that starts the
//! bucket of a timestamp column: PostgreSQL uses `date_trunc` on `col AT TIME ZONE '<zone>'`;
//! SQLite has no time-zone database, so the zone's UTC offsets over the range (with their
//! daylight-saving transitions, found here with `chrono-tz`) become a `CASE` on the
//! timestamp's epoch seconds, and `strftime` formats the shifted instant. Weeks start on Monday
//! (ISO), months on the 1st. [`bucket_keys`] lists every bucket of a range, so callers
//! zero-fill the buckets the query returned no row for.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use sea_orm::DatabaseBackend;

/// The length of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A calendar day.
    Day,
    /// Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
}

/// `tz`'s offset from UTC at `at`, in seconds.
fn offset_at(tz: Tz, at: DateTime<Utc>) -> i64 {
    i64::from(
        tz.offset_from_utc_datetime(&at.naive_utc())
            .fix()
            .local_minus_utc(),
    )
}

/// The instants in `[from, to]` where `tz`'s offset changes, each with the offset from then
/// on; the first entry is the offset at `from`.
fn offsets(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(DateTime<Utc>, i64)> {
    let mut out = vec![(from, offset_at(tz, from))];
    let mut t = from;
    while t < to {
        let next = (t + Duration::days(1)).min(to);
        let (before, after) = (offset_at(tz, t), offset_at(tz, next));
        if before != after {
            // Narrow the change down to the second (changes fall on whole seconds).
            let (mut lo, mut hi) = (t.timestamp(), next.timestamp());
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                match DateTime::from_timestamp(mid, 0) {
                    Some(m) if offset_at(tz, m) == before => lo = mid,
                    _ => hi = mid,
                }
            }
            out.push((DateTime::from_timestamp(hi, 0).unwrap_or(next), after));
        }
        t = next;
    }
    out
}

/// SQLite: the column's epoch seconds shifted into `tz` (exact integer arithmetic).
fn sqlite_local_seconds(col: &str, tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let secs = format!("CAST(strftime('%s', {col}) AS INTEGER)");
    let changes = offsets(tz, from - Duration::days(1), to + Duration::days(1));
    let offset = match changes.as_slice() {
        [(_, only)] => only.to_string(),
        [(_, first), rest @ ..] => {
            let mut case = String::from("CASE");
            let mut current = *first;
            for (at, next) in rest {
                case.push_str(&format!(" WHEN {secs} < {} THEN {current}", at.timestamp()));
                current = *next;
            }
            case.push_str(&format!(" ELSE {current} END"));
            case
        }
        [] => "0".to_string(),
    };
    format!("({secs} + {offset})")
}

/// An SQL expression: the local date (`YYYY-MM-DD`, text) starting the `unit` bucket in `tz` of
/// the timestamp column `col`. `from`/`to` bound the rows the query reads (SQLite needs the
/// zone's offsets over that range; rows outside it are bucketed with the nearest offset).
pub fn bucket_sql(
    backend: DatabaseBackend,
    col: &str,
    unit: Unit,
    tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> String {
    match backend {
        DatabaseBackend::Postgres => {
            let field = match unit {
                Unit::Day => "day",
                Unit::Week => "week",
                Unit::Month => "month",
            };
            // Zone names come from chrono-tz's list ([A-Za-z0-9/_+-]): safe as a literal.
            let zone = tz.name().replace('\'', "");
            format!("to_char(date_trunc('{field}', {col} AT TIME ZONE '{zone}'), 'YYYY-MM-DD')")
        }
        _ => {
            let local = sqlite_local_seconds(col, tz, from, to);
            match unit {
                Unit::Day => format!("strftime('%Y-%m-%d', {local}, 'unixepoch')"),
                Unit::Week => format!("date({local}, 'unixepoch', 'weekday 0', '-6 days')"),
                Unit::Month => format!("strftime('%Y-%m-01', {local}, 'unixepoch')"),
            }
        }
    }
}

/// The local date starting the `unit` bucket that contains `date`.
pub fn bucket_start(unit: Unit, date: NaiveDate) -> NaiveDate {
    match unit {
        Unit::Day => date,
        Unit::Week => date - Duration::days(i64::from(date.weekday().num_days_from_monday())),
        Unit::Month => date.with_day(1).unwrap_or(date),
    }
}

fn next_bucket(unit: Unit, start: NaiveDate) -> Option<NaiveDate> {
    match unit {
        Unit::Day => start.succ_opt(),
        Unit::Week => start.checked_add_signed(Duration::days(7)),
        Unit::Month => start.checked_add_months(chrono::Months::new(1)),
    }
}

/// Every bucket (its local start date, `YYYY-MM-DD`) that `[from, to)` touches in `tz`, oldest
/// first: the keys of a zero-filled series.
pub fn bucket_keys(unit: Unit, tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<String> {
    let first = bucket_start(unit, from.with_timezone(&tz).date_naive());
    let last_instant = if to > from {
        to - Duration::nanoseconds(1)
    } else {
        from
    };
    let last = bucket_start(unit, last_instant.with_timezone(&tz).date_naive());
    let mut keys = Vec::new();
    let mut d = Some(first);
    while let Some(day) = d.filter(|d| *d <= last) {
        keys.push(day.format("%Y-%m-%d").to_string());
        d = next_bucket(unit, day);
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn finds_daylight_saving_changes_to_the_second() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let o = offsets(tz, at("2026-03-01T00:00:00Z"), at("2026-11-01T00:00:00Z"));
        assert_eq!(
            o,
            vec![
                (at("2026-03-01T00:00:00Z"), 3600),
                (at("2026-03-29T01:00:00Z"), 7200),
                (at("2026-10-25T01:00:00Z"), 3600),
            ]
        );
    }

    #[test]
    fn keys_cover_the_range_in_the_zone() {
        let tz: Tz = "America/New_York".parse().unwrap();
        // 2026-03-02 04:30 UTC is 2026-03-01 23:30 in New York.
        let keys = bucket_keys(
            Unit::Day,
            tz,
            at("2026-03-02T04:30:00Z"),
            at("2026-03-04T05:00:00Z"),
        );
        assert_eq!(keys, ["2026-03-01", "2026-03-02", "2026-03-03"]);
        let weeks = bucket_keys(
            Unit::Week,
            Tz::UTC,
            at("2026-03-01T00:00:00Z"),
            at("2026-03-10T00:00:00Z"),
        );
        assert_eq!(weeks, ["2026-02-23", "2026-03-02", "2026-03-09"]);
        let months = bucket_keys(
            Unit::Month,
            Tz::UTC,
            at("2026-01-31T00:00:00Z"),
            at("2026-03-01T00:00:00Z"),
        );
        assert_eq!(months, ["2026-01-01", "2026-02-01"]);
    }

    #[test]
    fn sqlite_expression_names_each_offset() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let sql = bucket_sql(
            DatabaseBackend::Sqlite,
            "created_at",
            Unit::Day,
            tz,
            at("2026-03-20T00:00:00Z"),
            at("2026-04-10T00:00:00Z"),
        );
        assert!(sql.contains("WHEN CAST(strftime('%s', created_at) AS INTEGER) < 1774746000 THEN 3600 ELSE 7200 END"), "{sql}");
        let pg = bucket_sql(
            DatabaseBackend::Postgres,
            "at",
            Unit::Week,
            tz,
            at("2026-03-20T00:00:00Z"),
            at("2026-04-10T00:00:00Z"),
        );
        assert_eq!(
            pg,
            "to_char(date_trunc('week', at AT TIME ZONE 'Europe/Berlin'), 'YYYY-MM-DD')"
        );
    }
}
