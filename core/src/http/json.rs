//! The `application/health+json` document (the IETF draft "Health Check
//! Response Format for HTTP APIs"), written by hand.

use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use super::ServiceInfo;
use crate::health::{Report, Status};

/// The media type of the document.
pub(super) const MEDIA_TYPE: &str = "application/health+json";

/// The IETF status word: `pass`, `warn` or `fail`.
fn word(status: Status) -> &'static str {
    match status {
        Status::Healthy => "pass",
        Status::Degraded => "warn",
        Status::Unhealthy => "fail",
    }
}

/// The document of `report`. Each check is keyed `"<name>:responseTime"`
/// with one measurement: its latency in milliseconds, the time it was taken,
/// and (only with `show_errors`) its error or details as `output`. The
/// service's own fields that are set come after `status`.
pub(super) fn document(report: &Report, service: &ServiceInfo, show_errors: bool) -> String {
    let mut out = String::from("{\n");
    let _ = writeln!(out, "  \"status\": \"{}\",", word(report.status()));
    for (key, value) in service.fields() {
        let _ = writeln!(out, "  \"{key}\": {},", string(value));
    }
    out.push_str("  \"checks\": {");
    for (i, check) in report.checks().iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        let _ = writeln!(
            out,
            "    {}: [",
            string(&format!("{}:responseTime", check.name()))
        );
        out.push_str("      {\n");
        let _ = writeln!(out, "        \"componentId\": {},", string(check.name()));
        let _ = writeln!(out, "        \"status\": \"{}\",", word(check.status()));
        // Milliseconds with microsecond precision.
        let millis = check.latency().as_micros() as f64 / 1000.0;
        let _ = write!(
            out,
            "        \"observedValue\": {millis},\n        \"observedUnit\": \"ms\""
        );
        if let Some(time) = check.checked_at() {
            let _ = write!(out, ",\n        \"time\": \"{}\"", rfc3339(time));
        }
        let output = match (check.error(), check.details()) {
            (Some(error), _) => Some(error),
            (None, details) => details,
        };
        if let (true, Some(output)) = (show_errors, output) {
            let _ = write!(out, ",\n        \"output\": {}", string(output));
        }
        out.push_str("\n      }\n    ]");
    }
    out.push_str(if report.checks().is_empty() {
        "}"
    } else {
        "\n  }"
    });
    let unmatched = report.unmatched_excludes();
    if !unmatched.is_empty() {
        let names: Vec<String> = unmatched.iter().map(|n| string(n)).collect();
        let note = format!(
            "some health checks cannot be excluded: no matches for {}",
            names.join(",")
        );
        let _ = write!(out, ",\n  \"notes\": [{}]", string(&note));
    }
    out.push_str("\n}\n");
    out
}

/// `s` as a JSON string literal.
pub(super) fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // The rest of C0, DEL, C1, the two JavaScript line breaks, and
            // the characters that reorder or hide text (a right-to-left
            // override in an echoed `?exclude=` name).
            c if c.is_control() || super::text::is_invisible(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `time` in RFC 3339, UTC, with milliseconds: `2024-02-29T13:05:09.042Z`.
/// Times before 1970 read as the epoch.
pub(super) fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`, for non-negative counts).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097; // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // 0..=365, from March 1st
    let mp = (5 * doy + 2) / 153; // month from March, 0..=11
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, millis: u64) -> String {
        rfc3339(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis))
    }

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 0), "2000-02-29T00:00:00.000Z");
        assert_eq!(at(951_868_799, 999), "2000-02-29T23:59:59.999Z");
        assert_eq!(at(1_700_000_000, 42), "2023-11-14T22:13:20.042Z");
        assert_eq!(at(1_709_164_800, 0), "2024-02-29T00:00:00.000Z");
        assert_eq!(at(1_735_689_599, 0), "2024-12-31T23:59:59.000Z");
        assert_eq!(at(4_107_542_400, 0), "2100-03-01T00:00:00.000Z"); // 2100 is no leap year
        assert_eq!(at(253_402_300_799, 0), "9999-12-31T23:59:59.000Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_secs(1)),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn rfc3339_every_day_of_four_centuries_is_consecutive() {
        let mut previous = (1969, 12, 31);
        for day in 0..146_097 * 2 {
            let (y, m, d) = civil_from_days(day);
            let (py, pm, pd) = previous;
            let next_day = (y, m, d) == (py, pm, pd + 1);
            let next_month = (y, m, d) == (py, pm + 1, 1);
            let next_year = (y, m, d) == (py + 1, 1, 1) && (pm, pd) == (12, 31);
            assert!(
                next_day || next_month || next_year,
                "{previous:?} -> {:?}",
                (y, m, d)
            );
            assert!(d <= 31 && (1..=12).contains(&m));
            previous = (y, m, d);
        }
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(string("plain"), "\"plain\"");
        assert_eq!(string("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(string("l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"");
        assert_eq!(
            string("\u{0}\u{1f}\u{7f}\u{2028}"),
            "\"\\u0000\\u001f\\u007f\\u2028\""
        );
        assert_eq!(string("é ✓"), "\"é ✓\"");
    }
}
