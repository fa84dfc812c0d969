//! Timestamps: RFC 3339 in UTC with microseconds, as log lines carry them.
//!
//! Contract: [`rfc3339`] renders any time from 1970 to 9999 as
//! `YYYY-MM-DDTHH:MM:SS.ffffffZ`, without a time-zone database or a crate.

use std::cell::RefCell;
use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Formats `time` as RFC 3339 UTC, e.g. `2026-11-28T06:08:34.123456Z`.
/// Times before 1970 print as the epoch.
pub fn rfc3339(time: SystemTime) -> String {
    let mut out = String::with_capacity(27);
    push_rfc3339(&mut out, time);
    out
}

/// Appends `time` as [`rfc3339`] does. Date and time of day are formatted
/// once per second per thread: every log line needs them.
pub fn push_rfc3339(out: &mut String, time: SystemTime) {
    thread_local! {
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since_epoch.as_secs();
    SECOND.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != secs {
            let (year, month, day) = civil_from_days(secs / 86_400);
            let of_day = secs % 86_400;
            cached.1.clear();
            // Infallible: writing to a String cannot fail.
            let _ = write!(
                cached.1,
                "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.",
                of_day / 3600,
                of_day % 3600 / 60,
                of_day % 60,
            );
            cached.0 = secs;
        }
        out.push_str(&cached.1);
    });
    let mut micros = since_epoch.subsec_micros();
    let mut digits = [b'0'; 6];
    for digit in digits.iter_mut().rev() {
        *digit += (micros % 10) as u8;
        micros /= 10;
    }
    // Infallible: the bytes are ASCII digits.
    out.push_str(std::str::from_utf8(&digits).unwrap_or("000000"));
    out.push('Z');
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month,
/// day), after Howard Hinnant's `civil_from_days`: eras of 400 years, each
/// 146 097 days long, with years starting on 1 March so the leap day is last.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::rfc3339;
    use proptest::prelude::*;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    fn at(secs: u64, micros: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, micros * 1000)
    }

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(at(951_782_400, 1)), "2000-02-29T00:00:00.000001Z");
        assert_eq!(
            rfc3339(at(1_795_846_114, 123_456)),
            "2026-11-28T06:08:34.123456Z"
        );
        assert_eq!(
            rfc3339(at(253_402_300_799, 999_999)),
            "9999-12-31T23:59:59.999999Z"
        );
    }

    #[test]
    fn the_per_second_cache_keeps_the_fraction_apart() {
        assert_eq!(rfc3339(at(1_795_846_114, 1)), "2026-11-28T06:08:34.000001Z");
        assert_eq!(
            rfc3339(at(1_795_846_114, 999_999)),
            "2026-11-28T06:08:34.999999Z"
        );
        assert_eq!(rfc3339(at(1_795_846_115, 0)), "2026-11-28T06:08:35.000000Z");
        assert_eq!(rfc3339(at(1_795_846_114, 5)), "2026-11-28T06:08:34.000005Z");
    }

    #[test]
    fn before_the_epoch_is_the_epoch() {
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_secs(1)),
            "1970-01-01T00:00:00.000000Z"
        );
    }

    proptest! {
        /// Agrees with an independent RFC 3339 formatter on every instant
        /// from 1970 to 9999.
        #[test]
        fn agrees_with_humantime(secs in 0u64..253_402_300_800, micros in 0u32..1_000_000) {
            let time = at(secs, micros);
            prop_assert_eq!(rfc3339(time), humantime::format_rfc3339_micros(time).to_string());
        }
    }
}
