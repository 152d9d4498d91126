//! The small parsers of the request target and the `Accept` header.

use crate::probes::Probe;

/// What a request path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Route {
    /// A probe endpoint, maybe narrowed to one check (raw, still percent-encoded).
    Probe(Probe, Option<String>),
    /// `/health`: the `application/health+json` document of every check.
    Document,
}

/// Maps a path (without its query) to a route; `None` for any other path.
pub(super) fn route(path: &str) -> Option<Route> {
    if path == "/health" {
        return Some(Route::Document);
    }
    let rest = path.strip_prefix('/')?;
    let (endpoint, name) = match rest.split_once('/') {
        Some((endpoint, name)) => (endpoint, Some(name)),
        None => (rest, None),
    };
    let probe = match endpoint {
        "livez" => Probe::Live,
        "readyz" => Probe::Ready,
        "startupz" => Probe::Startup,
        "healthz" => Probe::All,
        _ => return None,
    };
    match name {
        None => Some(Route::Probe(probe, None)),
        Some(name) if name.is_empty() || name.contains('/') => None,
        Some(name) => Some(Route::Probe(probe, Some(decode(name, false)?))),
    }
}

/// The query parameters the endpoints know.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Query {
    pub(super) verbose: bool,
    pub(super) exclude: Vec<String>,
}

/// Parses `verbose` (present in any form) and `exclude=<name>` (repeatable);
/// ignores other parameters. `None` when the encoding is invalid.
pub(super) fn query(query: &str) -> Option<Query> {
    let mut out = Query::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match decode(key, true)?.as_str() {
            "verbose" => out.verbose = true,
            "exclude" => out.exclude.push(decode(value, true)?),
            _ => {}
        }
    }
    Some(out)
}

/// Percent-decodes `s` (and `+` as a space in a query); `None` when a `%` is
/// not followed by two hex digits or the result is not UTF-8.
fn decode(s: &str, plus_is_space: bool) -> Option<String> {
    let mut bytes = Vec::with_capacity(s.len());
    let mut rest = s.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        match b {
            b'%' => {
                let hex = rest.get(..2)?;
                let hex = std::str::from_utf8(hex).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                rest = &rest[2..];
            }
            b'+' if plus_is_space => bytes.push(b' '),
            _ => bytes.push(b),
        }
    }
    String::from_utf8(bytes).ok()
}

/// Whether an `Accept` header asks for `application/health+json` (with a
/// non-zero quality).
pub(super) fn wants_health_json(accept: &str) -> bool {
    accept.split(',').any(|item| {
        let mut params = item.split(';');
        let media = params.next().unwrap_or("").trim();
        media.eq_ignore_ascii_case("application/health+json")
            && !params.any(|p| {
                let p = p.trim();
                let q = p.strip_prefix("q=").or_else(|| p.strip_prefix("Q="));
                q.and_then(|q| q.trim().parse::<f32>().ok()) == Some(0.0)
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route("/livez"), Some(Route::Probe(Probe::Live, None)));
        assert_eq!(route("/readyz"), Some(Route::Probe(Probe::Ready, None)));
        assert_eq!(route("/startupz"), Some(Route::Probe(Probe::Startup, None)));
        assert_eq!(route("/healthz"), Some(Route::Probe(Probe::All, None)));
        assert_eq!(route("/health"), Some(Route::Document));
        assert_eq!(
            route("/readyz/db"),
            Some(Route::Probe(Probe::Ready, Some("db".into())))
        );
        assert_eq!(
            route("/livez/my%20check"),
            Some(Route::Probe(Probe::Live, Some("my check".into())))
        );
        for other in [
            "",
            "/",
            "/readyz/",
            "/readyz/a/b",
            "/readyzz",
            "/health/db",
            "livez",
            "/metrics",
            "/readyz/%zz",
        ] {
            assert_eq!(route(other), None, "{other:?}");
        }
    }

    #[test]
    fn queries() {
        assert_eq!(query(""), Some(Query::default()));
        let q = query("verbose&exclude=db&exclude=a+b&exclude=c%2Fd&other=1").unwrap();
        assert!(q.verbose);
        assert_eq!(q.exclude, ["db", "a b", "c/d"]);
        assert!(query("verbose=false").unwrap().verbose);
        assert_eq!(query("exclude=%"), None);
        assert_eq!(query("exclude=%4"), None);
        assert_eq!(query("exclude=%ff"), None);
        assert_eq!(query("exclude=%C3%A9").unwrap().exclude, ["é"]);
    }

    #[test]
    fn accept_header() {
        assert!(wants_health_json("application/health+json"));
        assert!(wants_health_json(
            "text/plain, Application/Health+JSON;q=0.9"
        ));
        assert!(!wants_health_json("application/json"));
        assert!(!wants_health_json("application/health+json;q=0"));
        assert!(!wants_health_json("*/*"));
    }
}
