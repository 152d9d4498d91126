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
                format!(
                    "\"{}\"",
                    clean(n).replace('\\', "\\\\").replace('"', "\\\"")
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
/// or an error text cannot forge a line of the listing.
pub(super) fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
