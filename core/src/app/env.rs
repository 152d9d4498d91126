//! The settings an operator changes per deployment, from the environment
//! (the twelve-factor way): code sets the defaults, the environment
//! overrides them.
//!
//! | Variable | Setting | Syntax |
//! |---|---|---|
//! | `STEWARD_GRACE` | [`Lifecycle::grace`] | a duration |
//! | `STEWARD_PRE_STOP` | [`Lifecycle::pre_stop`] | a duration |
//! | `STEWARD_PROBE_ADDR` | [`Lifecycle::probe_addr`] | `IP:PORT` (`0.0.0.0:8080`, `[::1]:8080`) |
//! | `STEWARD_SHOW_ERRORS` | [`Lifecycle::show_errors`] | `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` |
//!
//! `STEWARD_PROBE_ADDR` sets the address of the App's own probe server
//! (and starts it when the code set none); probes a service serves from a
//! router of its own stay where the code put them.
//!
//! A duration is one or more whole numbers each with a unit, largest first:
//! `ms`, `s`, `m`, `h` (`25s`, `500ms`, `1m30s`, `0s`). A bare number is
//! refused: seconds or milliseconds would be a guess.
//!
//! An unset variable changes nothing; a set one that does not parse (empty,
//! not Unicode, or not in its syntax) is an [`EnvError`] naming it, never a
//! silent default. [`Lifecycle::run`] and [`Lifecycle::try_run`] apply the
//! environment before anything else (a bad value: exit code 1 with the
//! message, and no part of the body runs); [`Lifecycle::serve`], which is
//! for tests, does not, unless the test calls [`Lifecycle::from_env`].

use std::error::Error;
use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use super::Lifecycle;

/// The grace variable: see [the table](self).
///
/// # Examples
///
/// See [`Lifecycle::from_vars`].
pub const GRACE_VAR: &str = "STEWARD_GRACE";
/// The pre-stop delay variable: see [the table](self).
///
/// # Examples
///
/// See [`Lifecycle::from_vars`].
pub const PRE_STOP_VAR: &str = "STEWARD_PRE_STOP";
/// The probe address variable: see [the table](self).
///
/// # Examples
///
/// See [`Lifecycle::from_vars`].
pub const PROBE_ADDR_VAR: &str = "STEWARD_PROBE_ADDR";
/// The variable that shows checks' error texts: see [the table](self).
///
/// # Examples
///
/// See [`Lifecycle::from_vars`].
pub const SHOW_ERRORS_VAR: &str = "STEWARD_SHOW_ERRORS";

/// A variable of [the table](self) set to a value that does not parse.
///
/// # Examples
///
/// ```
/// use steward_core::app::EnvError;
///
/// let lookup = |name: &str| (name == "STEWARD_GRACE").then(|| "25".into());
/// let err = steward_core::App::new().from_vars(lookup).unwrap_err();
/// assert_eq!(err.variable(), "STEWARD_GRACE");
/// assert_eq!(
///     err.to_string(),
///     "STEWARD_GRACE=\"25\": a number needs a unit (ms, s, m, h), as in 25s or 500ms"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvError {
    variable: &'static str,
    value: String,
    reason: String,
}

impl EnvError {
    /// The variable's name.
    ///
    /// # Examples
    ///
    /// See [`EnvError`].
    #[must_use]
    pub fn variable(&self) -> &'static str {
        self.variable
    }

    /// The value found (lossily converted when not Unicode).
    ///
    /// # Examples
    ///
    /// ```
    /// let lookup = |name: &str| (name == "STEWARD_SHOW_ERRORS").then(|| "maybe".into());
    /// let err = steward_core::App::new().from_vars(lookup).unwrap_err();
    /// assert_eq!(err.value(), "maybe");
    /// ```
    #[must_use]
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}: {}", self.variable, self.value, self.reason)
    }
}

impl Error for EnvError {}

/// Parses a duration in the syntax of [the table](self).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    if text.is_empty() {
        return Err("empty; expected a duration such as 25s or 500ms".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    let mut last_unit = u64::MAX; // units must come largest first, once each
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("expected a number at {rest:?}, as in 25s or 500ms"));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{} is too large", &rest[..digits]))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let millis_per = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "" => return Err("a number needs a unit (ms, s, m, h), as in 25s or 500ms".into()),
            other if other.starts_with('.') => {
                return Err("whole numbers only: 1500ms, not 1.5s".into())
            }
            other => return Err(format!("unknown unit {other:?}; use ms, s, m or h")),
        };
        if millis_per >= last_unit {
            return Err("units must come once each, largest first, as in 1m30s".into());
        }
        last_unit = millis_per;
        rest = &rest[unit_len..];
        let millis = number
            .checked_mul(millis_per)
            .ok_or_else(|| "too large".to_owned())?;
        total = total
            .checked_add(Duration::from_millis(millis))
            .ok_or_else(|| "too large".to_owned())?;
    }
    Ok(total)
}

/// Parses a yes/no in the syntax of [the table](self), any case.
pub(crate) fn parse_bool(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err("expected true or false (also 1/0, yes/no, on/off)".into()),
    }
}

/// Parses a socket address, `IP:PORT`.
fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    text.parse()
        .map_err(|_| "expected IP:PORT, as in 0.0.0.0:8080 or [::1]:8080".into())
}

/// Reads `variable` with `lookup` and parses it; `None` when unset.
fn read<T>(
    lookup: &mut impl FnMut(&str) -> Option<OsString>,
    variable: &'static str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Option<T>, EnvError> {
    let Some(raw) = lookup(variable) else {
        return Ok(None);
    };
    let error = |value: String, reason: String| EnvError {
        variable,
        value,
        reason,
    };
    let text = raw
        .into_string()
        .map_err(|raw| error(raw.to_string_lossy().into_owned(), "not Unicode".into()))?;
    parse(text.trim())
        .map(Some)
        .map_err(|reason| error(text, reason))
}

impl<P> Lifecycle<P> {
    /// Overrides the settings with those of the environment that are set
    /// (see [the table](crate::app::env)); the others keep what code set.
    /// [`Lifecycle::run`] and [`Lifecycle::try_run`] call it themselves.
    ///
    /// # Errors
    ///
    /// An [`EnvError`] naming the first variable that is set but does not
    /// parse.
    ///
    /// # Examples
    ///
    /// ```
    /// // Nothing set in this doctest's environment: the code's settings stay.
    /// let app = steward_core::App::new().grace(std::time::Duration::from_secs(10));
    /// assert_eq!(app.from_env().unwrap().budget().as_secs(), 10);
    /// ```
    pub fn from_env(self) -> Result<Self, EnvError> {
        self.from_vars(|name| std::env::var_os(name))
    }

    /// [`Lifecycle::from_env`] with the variables read through `lookup`
    /// rather than from the process's environment.
    ///
    /// # Errors
    ///
    /// As [`Lifecycle::from_env`].
    ///
    /// # Examples
    ///
    /// ```
    /// let lookup = |name: &str| match name {
    ///     "STEWARD_GRACE" => Some("1m30s".into()),
    ///     "STEWARD_PRE_STOP" => Some("500ms".into()),
    ///     _ => None,
    /// };
    /// let app = steward_core::App::new().from_vars(lookup).unwrap();
    /// assert_eq!(app.budget().as_secs(), 90);
    /// ```
    pub fn from_vars(
        mut self,
        mut lookup: impl FnMut(&str) -> Option<OsString>,
    ) -> Result<Self, EnvError> {
        if let Some(grace) = read(&mut lookup, GRACE_VAR, parse_duration)? {
            self = self.grace(grace);
        }
        if let Some(delay) = read(&mut lookup, PRE_STOP_VAR, parse_duration)? {
            self = self.pre_stop(delay);
        }
        if let Some(addr) = read(&mut lookup, PROBE_ADDR_VAR, parse_addr)? {
            self = self.probe_addr(addr);
        }
        if let Some(show) = read(&mut lookup, SHOW_ERRORS_VAR, parse_bool)? {
            self = self.show_errors(show);
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::App;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn durations() {
        let good = [
            ("25s", ms(25_000)),
            ("500ms", ms(500)),
            ("0s", ms(0)),
            ("1m30s", ms(90_000)),
            ("2h", ms(7_200_000)),
            ("1h1m1s1ms", ms(3_661_001)),
            (" 5s ", ms(5_000)), // trimmed by `read`, as here
        ];
        for (text, want) in good {
            assert_eq!(parse_duration(text.trim()), Ok(want), "{text}");
        }
        let bad = [
            "",
            "25",
            "s",
            "25 s",
            "1.5s",
            "-1s",
            "5sec",
            "30s1m",
            "1s1s",
            "5S",
            "1m30",
            "99999999999999999999s",
            "18446744073709551615h",
        ];
        for text in bad {
            assert!(parse_duration(text).is_err(), "{text} parsed");
        }
    }

    #[test]
    fn bools() {
        for text in ["1", "true", "TRUE", "yes", "on", "On"] {
            assert_eq!(parse_bool(text), Ok(true), "{text}");
        }
        for text in ["0", "false", "False", "no", "off"] {
            assert_eq!(parse_bool(text), Ok(false), "{text}");
        }
        for text in ["", "2", "y", "enabled"] {
            assert!(parse_bool(text).is_err(), "{text} parsed");
        }
    }

    fn vars<'a>(set: &'a [(&str, &str)]) -> impl FnMut(&str) -> Option<OsString> + 'a {
        move |name| {
            set.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn the_environment_overrides_the_code_and_unset_keeps_it() {
        let code = App::new()
            .grace(ms(10_000))
            .pre_stop(ms(1_000))
            .probe_addr(([127, 0, 0, 1], 9000).into());
        let kept = code.clone().from_vars(vars(&[])).unwrap();
        assert_eq!(kept.grace, ms(10_000));
        assert_eq!(kept.pre_stop, ms(1_000));
        assert_eq!(kept.probe_addr, Some(([127, 0, 0, 1], 9000).into()));
        assert!(!kept.show_errors);

        let set = [
            (GRACE_VAR, "40s"),
            (PRE_STOP_VAR, "5s"),
            (PROBE_ADDR_VAR, "0.0.0.0:8080"),
            (SHOW_ERRORS_VAR, "true"),
        ];
        let app = code.from_vars(vars(&set)).unwrap();
        assert_eq!(app.grace, ms(40_000));
        assert_eq!(app.pre_stop, ms(5_000));
        assert_eq!(app.probe_addr, Some(([0, 0, 0, 0], 8080).into()));
        assert!(app.show_errors);
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let cases = [
            (
                GRACE_VAR,
                "25",
                "STEWARD_GRACE=\"25\": a number needs a unit",
            ),
            (PRE_STOP_VAR, "", "STEWARD_PRE_STOP=\"\": empty"),
            (
                PROBE_ADDR_VAR,
                "localhost:8080",
                "STEWARD_PROBE_ADDR=\"localhost:8080\": expected IP:PORT",
            ),
            (
                SHOW_ERRORS_VAR,
                "maybe",
                "STEWARD_SHOW_ERRORS=\"maybe\": expected true or false",
            ),
        ];
        for (var, value, message) in cases {
            let set = [(var, value)];
            let err = App::new().from_vars(vars(&set)).unwrap_err();
            assert_eq!(err.variable(), var);
            assert_eq!(err.value(), value);
            assert!(err.to_string().starts_with(message), "{err}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_value_that_is_not_unicode_is_an_error() {
        use std::os::unix::ffi::OsStringExt;
        let lookup = |name: &str| (name == GRACE_VAR).then(|| OsString::from_vec(vec![0xff, b's']));
        let err = App::new().from_vars(lookup).unwrap_err();
        assert_eq!(err.variable(), GRACE_VAR);
        assert!(err.to_string().ends_with("not Unicode"), "{err}");
    }
}
