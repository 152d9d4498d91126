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
//! not Unicode, or not in its syntax) is an [`EnvError`] naming it, its
//! value and what is wrong, never a silent default. [`Lifecycle::run`] and [`Lifecycle::try_run`] apply the
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

/// A variable of [the table](self) set to a value that does not parse: each
/// variant names the variable, the value found and what is wrong with it.
///
/// Its `Display` is one line, `VARIABLE="value": what is wrong`, the message
/// [`Lifecycle::run`] prints before it exits 1.
///
/// # Examples
///
/// ```
/// use steward_core::app::env::{DurationError, EnvError};
///
/// let lookup = |name: &str| (name == "STEWARD_GRACE").then(|| "25".into());
/// let err = steward_core::App::new().from_vars(lookup).unwrap_err();
/// assert_eq!(
///     err,
///     EnvError::Duration {
///         variable: "STEWARD_GRACE",
///         value: "25".into(),
///         error: DurationError::NoUnit,
///     }
/// );
/// assert_eq!(err.variable(), "STEWARD_GRACE");
/// assert_eq!(
///     err.to_string(),
///     "STEWARD_GRACE=\"25\": a number needs a unit (ms, s, m, h), as in 25s or 500ms"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvError {
    /// The value is not Unicode.
    NotUnicode {
        /// The variable's name.
        variable: &'static str,
        /// The value found, lossily converted (`U+FFFD` for what is not
        /// Unicode).
        value: String,
    },
    /// The value is empty, or only white space.
    Empty {
        /// The variable's name.
        variable: &'static str,
        /// The value found.
        value: String,
    },
    /// A duration variable (`STEWARD_GRACE`, `STEWARD_PRE_STOP`) holds no
    /// duration in [the syntax](self).
    Duration {
        /// The variable's name.
        variable: &'static str,
        /// The value found.
        value: String,
        /// What is wrong with it.
        error: DurationError,
    },
    /// An address variable (`STEWARD_PROBE_ADDR`) holds no `IP:PORT`: a host
    /// name is refused too, as resolving it would be a guess.
    Addr {
        /// The variable's name.
        variable: &'static str,
        /// The value found.
        value: String,
    },
    /// A yes/no variable (`STEWARD_SHOW_ERRORS`) holds none of `true`/`false`,
    /// `1`/`0`, `yes`/`no`, `on`/`off`.
    Bool {
        /// The variable's name.
        variable: &'static str,
        /// The value found.
        value: String,
    },
}

impl EnvError {
    /// The variable's name.
    ///
    /// # Examples
    ///
    /// See [`EnvError`].
    #[must_use]
    pub fn variable(&self) -> &'static str {
        match self {
            Self::NotUnicode { variable, .. }
            | Self::Empty { variable, .. }
            | Self::Duration { variable, .. }
            | Self::Addr { variable, .. }
            | Self::Bool { variable, .. } => variable,
        }
    }

    /// The value found (lossily converted when not Unicode).
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::app::EnvError;
    ///
    /// let lookup = |name: &str| (name == "STEWARD_SHOW_ERRORS").then(|| "maybe".into());
    /// let err = steward_core::App::new().from_vars(lookup).unwrap_err();
    /// assert!(matches!(err, EnvError::Bool { .. }));
    /// assert_eq!(err.value(), "maybe");
    /// ```
    #[must_use]
    pub fn value(&self) -> &str {
        match self {
            Self::NotUnicode { value, .. }
            | Self::Empty { value, .. }
            | Self::Duration { value, .. }
            | Self::Addr { value, .. }
            | Self::Bool { value, .. } => value,
        }
    }
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}: ", self.variable(), self.value())?;
        match self {
            Self::NotUnicode { .. } => f.write_str("not Unicode"),
            Self::Empty { variable, .. } => write!(f, "empty; expected {}", syntax(variable)),
            Self::Duration { error, .. } => write!(f, "{error}"),
            Self::Addr { .. } => write!(f, "expected {}", syntax(PROBE_ADDR_VAR)),
            Self::Bool { .. } => write!(f, "expected {}", syntax(SHOW_ERRORS_VAR)),
        }
    }
}

impl Error for EnvError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Duration { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// What a variable of the table holds, as the error messages say it.
fn syntax(variable: &str) -> &'static str {
    match variable {
        GRACE_VAR | PRE_STOP_VAR => "a duration such as 25s or 500ms",
        PROBE_ADDR_VAR => "IP:PORT, as in 0.0.0.0:8080 or [::1]:8080",
        SHOW_ERRORS_VAR => "true or false (also 1/0, yes/no, on/off)",
        _ => "a value",
    }
}

/// Why a value is not a duration in [the syntax](self) (whole numbers each
/// with a unit, largest first: `25s`, `500ms`, `1m30s`).
///
/// # Examples
///
/// ```
/// use std::error::Error;
/// use steward_core::app::env::{DurationError, EnvError};
///
/// let lookup = |name: &str| (name == "STEWARD_PRE_STOP").then(|| "1.5s".into());
/// let err = steward_core::App::new().from_vars(lookup).unwrap_err();
/// assert!(matches!(err, EnvError::Duration { error: DurationError::Fraction, .. }));
/// let why = err.source().unwrap();
/// assert_eq!(why.to_string(), "whole numbers only: 1500ms, not 1.5s");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DurationError {
    /// A number was expected where this text starts (`s`, `-1s`, `1m-5s`).
    NoNumber {
        /// The rest of the value, from where the number is missing.
        at: String,
    },
    /// A number has no unit (`25`, `1m30`): seconds or milliseconds would
    /// be a guess.
    NoUnit,
    /// A unit that is none of `ms`, `s`, `m`, `h` (`5sec`, `5S`, `25 s`).
    UnknownUnit {
        /// The unit found.
        unit: String,
    },
    /// A fraction (`1.5s`): whole numbers only.
    Fraction,
    /// Units out of order or repeated (`30s1m`, `1s1s`).
    UnitOrder,
    /// More than `u64::MAX` milliseconds.
    TooLarge,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoNumber { at } => write!(f, "expected a number at {at:?}, as in 25s or 500ms"),
            Self::NoUnit => f.write_str("a number needs a unit (ms, s, m, h), as in 25s or 500ms"),
            Self::UnknownUnit { unit } => write!(f, "unknown unit {unit:?}; use ms, s, m or h"),
            Self::Fraction => f.write_str("whole numbers only: 1500ms, not 1.5s"),
            Self::UnitOrder => f.write_str("units must come once each, largest first, as in 1m30s"),
            Self::TooLarge => f.write_str("too large"),
        }
    }
}

impl Error for DurationError {}

/// Parses a duration in the syntax of [the table](self).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let mut total = Duration::ZERO;
    let mut rest = text;
    let mut last_unit = u64::MAX; // units must come largest first, once each
                                  // At least one number and unit: "" is no duration.
    loop {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            let at = rest.to_owned();
            return Err(DurationError::NoNumber { at });
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| DurationError::TooLarge)?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let millis_per = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "" => return Err(DurationError::NoUnit),
            other if other.starts_with('.') => return Err(DurationError::Fraction),
            other => {
                let unit = other.to_owned();
                return Err(DurationError::UnknownUnit { unit });
            }
        };
        if millis_per >= last_unit {
            return Err(DurationError::UnitOrder);
        }
        last_unit = millis_per;
        rest = &rest[unit_len..];
        let millis = number
            .checked_mul(millis_per)
            .ok_or(DurationError::TooLarge)?;
        total = total
            .checked_add(Duration::from_millis(millis))
            .ok_or(DurationError::TooLarge)?;
        if rest.is_empty() {
            return Ok(total);
        }
    }
}

/// Parses a yes/no in the syntax of [the table](self), any case; `None`
/// when it is none.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// What a value of the table is wrong with, before the variable and value
/// are added to make it an [`EnvError`].
enum Invalid {
    Duration(DurationError),
    Addr,
    Bool,
}

/// Parses a socket address, `IP:PORT`.
fn parse_addr(text: &str) -> Result<SocketAddr, Invalid> {
    text.parse().map_err(|_| Invalid::Addr)
}

/// Parses a duration variable's value.
fn duration(text: &str) -> Result<Duration, Invalid> {
    parse_duration(text).map_err(Invalid::Duration)
}

/// Parses a yes/no variable's value.
fn yes_no(text: &str) -> Result<bool, Invalid> {
    parse_bool(text).ok_or(Invalid::Bool)
}

/// Reads `variable` with `lookup` and parses it (trimmed); `None` when unset.
fn read<T>(
    lookup: &mut impl FnMut(&str) -> Option<OsString>,
    variable: &'static str,
    parse: impl FnOnce(&str) -> Result<T, Invalid>,
) -> Result<Option<T>, EnvError> {
    let Some(raw) = lookup(variable) else {
        return Ok(None);
    };
    let value = match raw.into_string() {
        Ok(value) => value,
        Err(raw) => {
            let value = raw.to_string_lossy().into_owned();
            return Err(EnvError::NotUnicode { variable, value });
        }
    };
    let text = value.trim();
    if text.is_empty() {
        return Err(EnvError::Empty { variable, value });
    }
    parse(text).map(Some).map_err(|invalid| match invalid {
        Invalid::Duration(error) => EnvError::Duration {
            variable,
            value,
            error,
        },
        Invalid::Addr => EnvError::Addr { variable, value },
        Invalid::Bool => EnvError::Bool { variable, value },
    })
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
        if let Some(grace) = read(&mut lookup, GRACE_VAR, duration)? {
            self = self.grace(grace);
        }
        if let Some(delay) = read(&mut lookup, PRE_STOP_VAR, duration)? {
            self = self.pre_stop(delay);
        }
        if let Some(addr) = read(&mut lookup, PROBE_ADDR_VAR, parse_addr)? {
            self = self.probe_addr(addr);
        }
        if let Some(show) = read(&mut lookup, SHOW_ERRORS_VAR, yes_no)? {
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
        ];
        for (text, want) in good {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
        let no_number = |at: &str| DurationError::NoNumber { at: at.into() };
        let unit = |unit: &str| DurationError::UnknownUnit { unit: unit.into() };
        let bad = [
            ("", no_number("")),
            ("25", DurationError::NoUnit),
            ("s", no_number("s")),
            ("25 s", unit(" s")),
            ("1.5s", DurationError::Fraction),
            ("-1s", no_number("-1s")),
            ("1m-5s", unit("m-")),
            ("5sec", unit("sec")),
            ("30s1m", DurationError::UnitOrder),
            ("1s1s", DurationError::UnitOrder),
            ("5S", unit("S")),
            ("1m30", DurationError::NoUnit),
            ("99999999999999999999s", DurationError::TooLarge),
            ("18446744073709551615h", DurationError::TooLarge),
        ];
        for (text, want) in bad {
            assert_eq!(parse_duration(text), Err(want), "{text}");
        }
    }

    #[test]
    fn bools() {
        for text in ["1", "true", "TRUE", "yes", "on", "On"] {
            assert_eq!(parse_bool(text), Some(true), "{text}");
        }
        for text in ["0", "false", "False", "no", "off"] {
            assert_eq!(parse_bool(text), Some(false), "{text}");
        }
        for text in ["", "2", "y", "enabled"] {
            assert_eq!(parse_bool(text), None, "{text} parsed");
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
    fn a_value_is_trimmed() {
        let set = [(GRACE_VAR, " 5s \n")];
        let app = App::new().from_vars(vars(&set)).unwrap();
        assert_eq!(app.grace, ms(5_000));
    }

    #[test]
    fn a_bad_value_names_its_variable_its_value_and_what_is_wrong() {
        let value = String::from;
        let cases = [
            (
                GRACE_VAR,
                "25",
                EnvError::Duration {
                    variable: GRACE_VAR,
                    value: value("25"),
                    error: DurationError::NoUnit,
                },
                "STEWARD_GRACE=\"25\": a number needs a unit (ms, s, m, h), as in 25s or 500ms",
            ),
            (
                PRE_STOP_VAR,
                "",
                EnvError::Empty {
                    variable: PRE_STOP_VAR,
                    value: value(""),
                },
                "STEWARD_PRE_STOP=\"\": empty; expected a duration such as 25s or 500ms",
            ),
            (
                SHOW_ERRORS_VAR,
                "  ",
                EnvError::Empty {
                    variable: SHOW_ERRORS_VAR,
                    value: value("  "),
                },
                "STEWARD_SHOW_ERRORS=\"  \": empty; expected true or false (also 1/0, yes/no, on/off)",
            ),
            (
                PROBE_ADDR_VAR,
                "localhost:8080",
                EnvError::Addr {
                    variable: PROBE_ADDR_VAR,
                    value: value("localhost:8080"),
                },
                "STEWARD_PROBE_ADDR=\"localhost:8080\": expected IP:PORT, as in 0.0.0.0:8080 or [::1]:8080",
            ),
            (
                SHOW_ERRORS_VAR,
                "maybe",
                EnvError::Bool {
                    variable: SHOW_ERRORS_VAR,
                    value: value("maybe"),
                },
                "STEWARD_SHOW_ERRORS=\"maybe\": expected true or false (also 1/0, yes/no, on/off)",
            ),
        ];
        for (var, text, want, message) in cases {
            let set = [(var, text)];
            let err = App::new().from_vars(vars(&set)).unwrap_err();
            assert_eq!(err, want);
            assert_eq!(err.variable(), var);
            assert_eq!(err.value(), text);
            assert_eq!(err.to_string(), message);
        }
    }

    #[test]
    fn a_duration_error_is_the_source() {
        let set = [(PRE_STOP_VAR, "1.5s")];
        let err = App::new().from_vars(vars(&set)).unwrap_err();
        let source = err.source().expect("the duration's error");
        assert_eq!(source.to_string(), DurationError::Fraction.to_string());
        assert!(EnvError::Bool {
            variable: SHOW_ERRORS_VAR,
            value: String::new(),
        }
        .source()
        .is_none());
    }

    #[test]
    fn the_first_bad_variable_is_named() {
        let set = [(GRACE_VAR, "25"), (SHOW_ERRORS_VAR, "maybe")];
        let err = App::new().from_vars(vars(&set)).unwrap_err();
        assert_eq!(err.variable(), GRACE_VAR);
    }

    #[test]
    fn errors_are_send_sync_and_static() {
        fn assert_error<T: Error + Send + Sync + 'static>() {}
        assert_error::<EnvError>();
        assert_error::<DurationError>();
    }

    #[cfg(unix)]
    #[test]
    fn a_value_that_is_not_unicode_is_an_error() {
        use std::os::unix::ffi::OsStringExt;
        let lookup = |name: &str| (name == GRACE_VAR).then(|| OsString::from_vec(vec![0xff, b's']));
        let err = App::new().from_vars(lookup).unwrap_err();
        assert_eq!(
            err,
            EnvError::NotUnicode {
                variable: GRACE_VAR,
                value: "\u{fffd}s".into(),
            }
        );
        assert_eq!(err.to_string(), "STEWARD_GRACE=\"\u{fffd}s\": not Unicode");
    }
}
