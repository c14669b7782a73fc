//! Ranges of the analytics: `range: {from, to}` or a `preset`, validated (BAD_USER_INPUT with
//! the field: from before to, at most 2 years).

use chrono::{DateTime, Duration, Utc};

use crate::{
    domains::insight::types::{DateRangeInput, RangePreset},
    error::{AppError, AppResult},
};

/// The longest range (2 years, one of them leap).
pub const MAX_RANGE_DAYS: i64 = 731;

/// A validated range `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// Start (inclusive).
    pub from: DateTime<Utc>,
    /// End (exclusive).
    pub to: DateTime<Utc>,
}

impl Range {
    /// The period of the same length that ends where this one starts.
    pub fn previous_from(&self) -> DateTime<Utc> {
        self.from - (self.to - self.from)
    }
}

fn days(preset: RangePreset) -> i64 {
    match preset {
        RangePreset::Last7Days => 7,
        RangePreset::Last30Days => 30,
        RangePreset::Last90Days => 90,
        RangePreset::Last365Days => 365,
    }
}

/// Checks `[from, to)`: from before to, at most [`MAX_RANGE_DAYS`].
pub fn check(r: DateRangeInput, field: &str) -> AppResult<Range> {
    if r.from >= r.to {
        return Err(AppError::invalid(
            format!("{field}.to"),
            "must be after from",
        ));
    }
    if r.to - r.from > Duration::days(MAX_RANGE_DAYS) {
        return Err(AppError::invalid(
            format!("{field}.from"),
            "the range may span at most 2 years",
        ));
    }
    Ok(Range {
        from: r.from,
        to: r.to,
    })
}

/// Exactly one of `range` and `preset` (a preset ends `now`); `default` when both are absent
/// and there is one.
pub fn resolve(
    range: Option<DateRangeInput>,
    preset: Option<RangePreset>,
    default: Option<RangePreset>,
    now: DateTime<Utc>,
) -> AppResult<Range> {
    match (
        range,
        preset.or(if range.is_none() { default } else { None }),
    ) {
        (Some(r), None) => check(r, "range"),
        (None, Some(p)) => Ok(Range {
            from: now - Duration::days(days(p)),
            to: now,
        }),
        (Some(_), Some(_)) => Err(AppError::invalid(
            "preset",
            "give either range or preset, not both",
        )),
        (None, None) => Err(AppError::invalid("range", "give a range or a preset")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_checked() {
        let now = Utc::now();
        let ok = DateRangeInput {
            from: now - Duration::days(10),
            to: now,
        };
        assert_eq!(resolve(Some(ok), None, None, now).unwrap().from, ok.from);
        let backwards = DateRangeInput { from: now, to: now };
        assert!(resolve(Some(backwards), None, None, now).is_err());
        let long = DateRangeInput {
            from: now - Duration::days(800),
            to: now,
        };
        assert!(resolve(Some(long), None, None, now).is_err());
        assert!(resolve(None, None, None, now).is_err());
        assert!(resolve(Some(ok), Some(RangePreset::Last7Days), None, now).is_err());
        let r = resolve(None, None, Some(RangePreset::Last30Days), now).unwrap();
        assert_eq!(r.previous_from(), now - Duration::days(60));
    }
}
