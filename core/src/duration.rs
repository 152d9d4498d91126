//! Durations as a report shows them to a person: `38µs`, `3.4ms`, `1.89s`,
//! rather than `Debug`'s `1.892005788s`.

use std::fmt;
use std::time::Duration;

/// Displays a duration rounded to what a report reader needs.
pub(crate) struct Human(pub(crate) Duration);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        let nanos = d.as_nanos();
        if nanos < 1_000 {
            write!(f, "{nanos}ns")
        } else if nanos < 1_000_000 {
            write!(f, "{}µs", nanos / 1_000)
        } else if nanos < 10_000_000 {
            let ms = format!("{:.1}", d.as_secs_f64() * 1e3);
            write!(f, "{}ms", ms.trim_end_matches('0').trim_end_matches('.'))
        } else if nanos < 1_000_000_000 {
            write!(f, "{}ms", d.as_millis())
        } else if d.as_secs() < 60 {
            let s = format!("{:.2}", d.as_secs_f64());
            write!(f, "{}s", s.trim_end_matches('0').trim_end_matches('.'))
        } else {
            write!(f, "{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_for_people() {
        let cases = [
            (Duration::from_nanos(420), "420ns"),
            (Duration::from_nanos(38_457), "38µs"),
            (Duration::from_micros(3_437), "3.4ms"),
            (Duration::from_millis(3), "3ms"),
            (Duration::from_millis(120), "120ms"),
            (Duration::from_nanos(1_892_005_788), "1.89s"),
            (Duration::from_secs(25), "25s"),
            (Duration::from_nanos(24_999_978_618), "25s"),
            (Duration::from_millis(2_500), "2.5s"),
            (Duration::from_secs(125), "2m05s"),
        ];
        for (d, text) in cases {
            assert_eq!(Human(d).to_string(), text, "{d:?}");
        }
    }
}
