//! The `text/plain` bodies, in Kubernetes' apiserver format.

use std::fmt::Write;

use crate::health::{CheckResult, Report, Status};
use crate::probes::SHUTDOWN;

/// The body of a probe answer: `ok`, or one line a check and a verdict.
///
/// A passing probe without `?verbose` answers `ok`; otherwise (and always
/// when failing) every check is listed:
///
/// ```text
/// [+]db ok
/// [-]shutdown draining
/// [-]cache failed: reason withheld
/// [+]queue excluded: ok
/// warn: some health checks cannot be excluded: no matches for "nope"
/// readyz check failed
/// ```
pub(super) fn body(
    report: &Report,
    endpoint: &str,
    passed: bool,
    verbose: bool,
    show_errors: bool,
) -> String {
    if passed && !verbose {
        return "ok".to_owned();
    }
    let mut out = String::new();
    for check in report.checks() {
        line(&mut out, check, show_errors);
    }
    for name in report.excluded() {
        let _ = writeln!(out, "[+]{} excluded: ok", clean(name));
    }
    if !report.unmatched_excludes().is_empty() {
        let names: Vec<String> = report
            .unmatched_excludes()
            .iter()
            .map(|n| {
                // Escaped first, so that `clean`'s own `\u{..}` stays one backslash.
                format!(
                    "\"{}\"",
                    clean(&n.replace('\\', "\\\\").replace('"', "\\\""))
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "warn: some health checks cannot be excluded: no matches for {}",
            names.join(",")
        );
    }
    let verdict = if passed { "passed" } else { "failed" };
    let _ = writeln!(out, "{endpoint} check {verdict}");
    out
}

fn line(out: &mut String, check: &CheckResult, show_errors: bool) {
    let name = clean(check.name());
    if check.name() == SHUTDOWN && check.status() == Status::Unhealthy {
        // The probes' own check (no registered check may take its name): a
        // drain is not a failure, so it is not worded as one, and its reason
        // (the signal) is the service's own, not a dependency's error.
        let _ = match check
            .error()
            .and_then(|e| e.strip_prefix("shutting down: "))
        {
            Some(reason) if show_errors => writeln!(out, "[-]{name} draining: {}", clean(reason)),
            _ => writeln!(out, "[-]{name} draining"),
        };
        return;
    }
    let word = match check.status() {
        Status::Healthy => {
            let _ = writeln!(out, "[+]{name} ok");
            return;
        }
        Status::Degraded => "degraded",
        Status::Unhealthy => "failed",
    };
    if !show_errors {
        let _ = writeln!(out, "[-]{name} {word}: reason withheld");
        return;
    }
    match check.error() {
        Some(error) => {
            let _ = writeln!(out, "[-]{name} {word}: {}", clean(error));
        }
        None => {
            let _ = writeln!(out, "[-]{name} {word}");
        }
    }
}

/// Replaces control characters (CR and LF above all) with spaces, so a name
/// or an error text cannot forge a line of the listing, and writes the
/// invisible characters that reorder or hide text (a right-to-left override,
/// a zero-width space) as `\u{202e}`, so that an echoed name (an unknown
/// `?exclude=`) shows what was sent rather than something else.
pub(super) fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.push(' ');
        } else if is_invisible(c) {
            let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// The format characters that reorder (bidirectional controls) or hide
/// (zero-width) text, the byte-order mark, and the two Unicode line breaks.
pub(super) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{061c}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}'
            | '\u{feff}'
    )
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn clean_blanks_controls_and_shows_invisible_characters() {
        assert_eq!(clean("db\r\n[+]forged ok"), "db  [+]forged ok");
        assert_eq!(clean("evil\u{202e}kcah"), "evil\\u{202e}kcah");
        assert_eq!(
            clean("a\u{200b}b\u{2066}c\u{feff}"),
            "a\\u{200b}b\\u{2066}c\\u{feff}"
        );
        assert_eq!(clean("café ✓"), "café ✓");
    }

    #[test]
    fn json_strings_escape_invisible_characters() {
        assert_eq!(super::super::json::string("a\u{202e}b"), "\"a\\u202eb\"");
    }
}
