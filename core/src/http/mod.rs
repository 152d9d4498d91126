//! The probe endpoints over HTTP, without an HTTP library: from a request's
//! method, target and `Accept` header to a status, headers and a body.
//!
//! Both adapters' servers, `steward-hyper` and any framework of the
//! service's own call [`Endpoints::respond`], so all of them answer alike.
//!
//! | request | answer |
//! |---|---|
//! | `GET /livez`, `/readyz`, `/startupz`, `/healthz` | 200 `ok`, or 503 and every check listed |
//! | `GET /livez/<name>`, `/readyz/<name>`, `/healthz/<name>` | the same for one check; 404 if the probe has no such check |
//! | `?verbose` | one line a check (`[+]db ok`, `[-]cache failed: reason withheld`), then `readyz check passed` or `failed` |
//! | `?exclude=<name>` (repeatable) | the check is left out and listed as `[+]<name> excluded: ok`; an unknown name adds a `warn:` line |
//! | `GET /health`, or any probe path with `Accept: application/health+json` | the IETF `application/health+json` document |
//! | `HEAD` on any of these | the same status and headers, no body |
//! | `GET /metrics`, only when [`Endpoints::metrics`] is set | 200 and the text it renders (Prometheus' text format) |
//! | another method on these paths | 405, `Allow: GET, HEAD` |
//! | another path | 404 |
//! | a request body | 400 |
//! | a target longer than the limit (default 2048 bytes), or badly percent-encoded | 414, or 400 |
//!
//! A degraded report (only non-critical checks failing) answers 200 unless
//! [`Endpoints::fail_when_degraded`] is set. Every answer carries
//! `Cache-Control: no-store` and `X-Content-Type-Options: nosniff`. Error
//! texts are withheld ("reason withheld") unless [`Endpoints::show_errors`]
//! is set (they are logged in any case), and names and errors are stripped of
//! control characters so that they cannot forge lines; the invisible
//! characters that reorder or hide text (a right-to-left override in an
//! unknown `?exclude=` name, echoed back) are written as `\u{202e}`.
//!
//! The listener's own limits (header-read timeout, header size, number of
//! connections) belong to the server; see `steward-hyper`.

mod json;
mod parse;
mod service;
mod text;

pub use service::ServiceInfo;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::health::{Select, Status};
use crate::probes::{Probe, Probes};
use crate::runtime::BoxFuture;

use parse::Route;

/// The default limit of a request target's length, in bytes.
///
/// # Examples
///
/// See [`Endpoints::max_target_len`].
pub const DEFAULT_MAX_TARGET_LEN: usize = 2048;

const TEXT: &str = "text/plain; charset=utf-8";

/// The probe endpoints of a service: [`Probes`] and how to present them.
///
/// A cheap, cloneable handle (the options are shared).
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use steward_core::health::{Check, Health, Status};
/// use steward_core::http::{Endpoints, Request};
/// use steward_core::probes::Probes;
///
/// let rt = steward_core::testing::TestRuntime::new();
/// let health = Health::new(rt.handle());
/// health.register(Check::new("db", || async { Status::Healthy }).ready()).unwrap();
/// let probes = Probes::new(health.clone(), steward_core::Shutdown::new());
/// let endpoints = Endpoints::new(probes.clone());
///
/// let answer = rt.block_on(endpoints.respond(&Request::get("/readyz")));
/// assert_eq!(answer.status(), 503); // starting
///
/// probes.set_running();
/// rt.block_on(health.refresh());
/// let answer = rt.block_on(endpoints.respond(&Request::get("/readyz?verbose")));
/// assert_eq!(answer.status(), 200);
/// assert_eq!(answer.body(), "[+]startup ok\n[+]shutdown ok\n[+]db ok\nreadyz check passed\n");
/// assert_eq!(answer.header("cache-control"), Some("no-store"));
/// # }
/// ```
#[derive(Clone)]
pub struct Endpoints {
    probes: Probes,
    options: Arc<Options>,
}

#[derive(Debug, Clone)]
struct Options {
    show_errors: bool,
    fail_when_degraded: bool,
    max_target_len: usize,
    service: ServiceInfo,
    metrics: Option<Render>,
}

/// Renders the `/metrics` page.
#[derive(Clone)]
struct Render(Arc<dyn Fn() -> String + Send + Sync>);

impl fmt::Debug for Render {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Render(..)")
    }
}

/// The content type of `/metrics`: Prometheus' text exposition format.
const METRICS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

impl Endpoints {
    /// The endpoints of `probes`, with error texts withheld, degraded
    /// answering 200, and targets up to [`DEFAULT_MAX_TARGET_LEN`] bytes.
    ///
    /// # Examples
    ///
    /// See [`Endpoints`].
    #[must_use]
    pub fn new(probes: Probes) -> Self {
        Self {
            probes,
            options: Arc::new(Options {
                show_errors: false,
                fail_when_degraded: false,
                max_target_len: DEFAULT_MAX_TARGET_LEN,
                service: ServiceInfo::new(),
                metrics: None,
            }),
        }
    }

    /// Whether failing checks show their error texts (and the JSON document
    /// its `output`s) rather than "reason withheld". Off by default: errors
    /// can tell an attacker about the service's insides; they are logged
    /// instead.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use steward_core::health::{Check, CheckOutcome, Health};
    /// use steward_core::http::{Endpoints, Request};
    /// use steward_core::probes::Probes;
    ///
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let health = Health::new(rt.handle());
    /// let down = || async { CheckOutcome::unhealthy("refused\r\n[+]forged ok") };
    /// health.register(Check::new("db", down)).unwrap();
    /// rt.block_on(health.refresh());
    /// let endpoints = Endpoints::new(Probes::new(health, steward_core::Shutdown::new()));
    ///
    /// let withheld = rt.block_on(endpoints.respond(&Request::get("/healthz")));
    /// assert_eq!(withheld.body(), "[-]db failed: reason withheld\nhealthz check failed\n");
    /// let shown = rt.block_on(endpoints.show_errors(true).respond(&Request::get("/healthz")));
    /// assert_eq!(shown.body(), "[-]db failed: refused  [+]forged ok\nhealthz check failed\n");
    /// # }
    /// ```
    #[must_use]
    pub fn show_errors(mut self, show: bool) -> Self {
        Arc::make_mut(&mut self.options).show_errors = show;
        self
    }

    /// Whether a degraded report (non-critical checks failing) answers 503
    /// rather than 200 (the default).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use steward_core::health::{Check, CheckOutcome, Health};
    /// use steward_core::http::{Endpoints, Request};
    /// use steward_core::probes::Probes;
    ///
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let health = Health::new(rt.handle());
    /// let slow = || async { CheckOutcome::degraded("lagging") };
    /// health.register(Check::new("replica", slow)).unwrap();
    /// rt.block_on(health.refresh());
    /// let endpoints = Endpoints::new(Probes::new(health, steward_core::Shutdown::new()));
    ///
    /// assert_eq!(rt.block_on(endpoints.respond(&Request::get("/healthz"))).status(), 200);
    /// let strict = endpoints.fail_when_degraded(true);
    /// assert_eq!(rt.block_on(strict.respond(&Request::get("/healthz"))).status(), 503);
    /// # }
    /// ```
    #[must_use]
    pub fn fail_when_degraded(mut self, fail: bool) -> Self {
        Arc::make_mut(&mut self.options).fail_when_degraded = fail;
        self
    }

    /// The longest request target (path and query) accepted; longer ones get 414.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use steward_core::http::{Endpoints, Request};
    ///
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let health = steward_core::health::Health::new(rt.handle());
    /// let endpoints = Endpoints::new(steward_core::probes::Probes::new(health, steward_core::Shutdown::new()))
    ///     .max_target_len(16);
    /// let long = "/livez?exclude=abcdefgh";
    /// assert_eq!(rt.block_on(endpoints.respond(&Request::get(long))).status(), 414);
    /// # }
    /// ```
    #[must_use]
    pub fn max_target_len(mut self, len: usize) -> Self {
        Arc::make_mut(&mut self.options).max_target_len = len;
        self
    }

    /// The service's `version`, `releaseId`, `serviceId` and `description`
    /// in the `application/health+json` document (none by default; see
    /// [`service_info!`](crate::service_info)).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use steward_core::http::{Endpoints, Request, ServiceInfo};
    ///
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let health = steward_core::health::Health::new(rt.handle());
    /// let probes = steward_core::probes::Probes::new(health, steward_core::Shutdown::new());
    /// let info = ServiceInfo::new().service_id("billing").release_id("2.4.1");
    /// let endpoints = Endpoints::new(probes).service_info(info);
    /// let doc = rt.block_on(endpoints.respond(&Request::get("/health")));
    /// assert!(doc.body().contains("\"releaseId\": \"2.4.1\""), "{}", doc.body());
    /// assert!(doc.body().contains("\"serviceId\": \"billing\""), "{}", doc.body());
    /// # }
    /// ```
    #[must_use]
    pub fn service_info(mut self, info: ServiceInfo) -> Self {
        Arc::make_mut(&mut self.options).service = info;
        self
    }

    /// Serves `GET /metrics` (and `HEAD`) with the text `render` returns,
    /// as Prometheus' text format: the hook for any metrics exporter's
    /// handle (such as `metrics-exporter-prometheus`'s
    /// `PrometheusHandle::render`), so the probe port also serves metrics
    /// without steward depending on an exporter. Without it `/metrics` is
    /// 404. `render` runs on the server's task: it should be quick.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use steward_core::http::{Endpoints, Request};
    ///
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let health = steward_core::health::Health::new(rt.handle());
    /// let probes = steward_core::probes::Probes::new(health, steward_core::Shutdown::new());
    /// let endpoints = Endpoints::new(probes);
    /// assert_eq!(rt.block_on(endpoints.respond(&Request::get("/metrics"))).status(), 404);
    /// let endpoints = endpoints.metrics(|| "up 1\n".to_owned());
    /// let page = rt.block_on(endpoints.respond(&Request::get("/metrics")));
    /// assert_eq!((page.status(), page.body()), (200, "up 1\n"));
    /// # }
    /// ```
    #[must_use]
    pub fn metrics(mut self, render: impl Fn() -> String + Send + Sync + 'static) -> Self {
        Arc::make_mut(&mut self.options).metrics = Some(Render(Arc::new(render)));
        self
    }

    /// The probes served.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let health = steward_core::health::Health::new(rt.handle());
    /// let probes = steward_core::probes::Probes::new(health, steward_core::Shutdown::new());
    /// let endpoints = steward_core::http::Endpoints::new(probes.clone());
    /// assert!(endpoints.probes().health().ptr_eq(probes.health()));
    /// # }
    /// ```
    #[must_use]
    pub fn probes(&self) -> &Probes {
        &self.probes
    }

    /// The answer to `request`.
    ///
    /// Answers at once unless the request asks for checks that run inline
    /// and have no fresh result, and never fails: every outcome is a
    /// [`Response`]. The future owns what it needs (`'static`).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping it leaves any check run it started going.
    ///
    /// # Examples
    ///
    /// See [`Endpoints`] and [`Request`].
    pub fn respond(&self, request: &Request<'_>) -> Respond {
        let immediate = |response| Respond {
            inner: Box::pin(std::future::ready(response)),
        };
        let head = request.method == "HEAD";
        let answer = |status, body: &str| Response::text(status, body.to_owned(), head);

        if request.target.len() > self.options.max_target_len {
            return immediate(answer(414, "request target too long\n"));
        }
        let (path, query) = request
            .target
            .split_once('?')
            .unwrap_or((request.target, ""));
        let metrics = self.options.metrics.as_ref().filter(|_| path == "/metrics");
        let route = parse::route(path);
        if route.is_none() && metrics.is_none() {
            return immediate(answer(404, "404 page not found\n"));
        }
        if request.method != "GET" && !head {
            let mut response = answer(405, "method not allowed\n");
            response.headers.push(("allow", "GET, HEAD".to_owned()));
            return immediate(response);
        }
        if request.has_body {
            return immediate(answer(400, "probes take no request body\n"));
        }
        if let (Some(render), None) = (metrics, &route) {
            return immediate(Response::new(200, METRICS_TEXT, (render.0)(), head));
        }
        let Some(query) = parse::query(query) else {
            return immediate(answer(400, "malformed query\n"));
        };
        let Some(route) = route else {
            return immediate(answer(404, "404 page not found\n")); // not reached: see above
        };
        let (probe, name, json) = match route {
            Route::Document => (Probe::All, None, true),
            Route::Probe(probe, name) => {
                let json = request.accept.is_some_and(parse::wants_health_json);
                (probe, name, json)
            }
        };
        let mut select = Select::all();
        if let Some(name) = name {
            if !self.probes.has_check(probe, &name) {
                return immediate(answer(404, "no such check\n"));
            }
            select = select.only(name);
        }
        for name in query.exclude {
            select = select.exclude(name);
        }

        let report = self.probes.report(probe, &select);
        let options = Arc::clone(&self.options);
        Respond {
            inner: Box::pin(async move {
                let report = report.await;
                let passed = match report.status() {
                    Status::Healthy => true,
                    Status::Degraded => !options.fail_when_degraded,
                    Status::Unhealthy => false,
                };
                let status = if passed { 200 } else { 503 };
                crate::observe::probe_answered(probe.endpoint(), status);
                let mut response = if json {
                    let body = json::document(&report, &options.service, options.show_errors);
                    Response::new(status, json::MEDIA_TYPE, body, head)
                } else {
                    let body = text::body(
                        &report,
                        probe.endpoint(),
                        passed,
                        query.verbose,
                        options.show_errors,
                    );
                    Response::text(status, body, head)
                };
                response.headers.push(("vary", "Accept".to_owned()));
                response
            }),
        }
    }
}

impl fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoints")
            .field("show_errors", &self.options.show_errors)
            .field("fail_when_degraded", &self.options.fail_when_degraded)
            .field("max_target_len", &self.options.max_target_len)
            .field("service", &self.options.service)
            .finish_non_exhaustive()
    }
}

/// What the endpoints look at in a request.
///
/// # Examples
///
/// ```
/// use steward_core::http::Request;
///
/// let request = Request::new("HEAD", "/readyz?verbose")
///     .accept(Some("application/health+json"))
///     .with_body(false);
/// assert_eq!(request.method(), "HEAD");
/// assert_eq!(request.target(), "/readyz?verbose");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    method: &'a str,
    target: &'a str,
    accept: Option<&'a str>,
    has_body: bool,
}

impl<'a> Request<'a> {
    /// A request with `method` (case-sensitive, as HTTP methods are) for
    /// `target`: the path and query, as in the request line.
    ///
    /// # Examples
    ///
    /// See [`Request`].
    #[must_use]
    pub const fn new(method: &'a str, target: &'a str) -> Self {
        Self {
            method,
            target,
            accept: None,
            has_body: false,
        }
    }

    /// A `GET` of `target`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(steward_core::http::Request::get("/livez").method(), "GET");
    /// ```
    #[must_use]
    pub const fn get(target: &'a str) -> Self {
        Self::new("GET", target)
    }

    /// The `Accept` header, if the request has one.
    ///
    /// # Examples
    ///
    /// See [`Request`].
    #[must_use]
    pub const fn accept(mut self, accept: Option<&'a str>) -> Self {
        self.accept = accept;
        self
    }

    /// Whether the request carries a body (a non-zero `Content-Length`, or
    /// any `Transfer-Encoding`); probes refuse one.
    ///
    /// # Examples
    ///
    /// See [`Request`].
    #[must_use]
    pub const fn with_body(mut self, has_body: bool) -> Self {
        self.has_body = has_body;
        self
    }

    /// The method.
    ///
    /// # Examples
    ///
    /// See [`Request`].
    #[must_use]
    pub const fn method(&self) -> &'a str {
        self.method
    }

    /// The path and query.
    ///
    /// # Examples
    ///
    /// See [`Request`].
    #[must_use]
    pub const fn target(&self) -> &'a str {
        self.target
    }
}

/// An answer: status code, headers (lower-case names) and body.
///
/// The headers always include `content-type`, `content-length` (for `HEAD`,
/// the length the `GET` body would have), `cache-control: no-store` and
/// `x-content-type-options: nosniff`.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use steward_core::http::{Endpoints, Request};
///
/// let rt = steward_core::testing::TestRuntime::new();
/// let health = steward_core::health::Health::new(rt.handle());
/// let endpoints = Endpoints::new(steward_core::probes::Probes::new(health, steward_core::Shutdown::new()));
///
/// let answer = rt.block_on(endpoints.respond(&Request::new("POST", "/livez")));
/// assert_eq!(answer.status(), 405);
/// assert_eq!(answer.header("allow"), Some("GET, HEAD"));
///
/// let answer = rt.block_on(endpoints.respond(&Request::new("HEAD", "/livez")));
/// assert_eq!((answer.status(), answer.body()), (200, ""));
/// assert_eq!(answer.header("content-length"), Some("2")); // as for `ok`
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Response {
    fn new(status: u16, content_type: &str, body: String, head: bool) -> Self {
        let headers = vec![
            ("content-type", content_type.to_owned()),
            ("content-length", body.len().to_string()),
            ("cache-control", "no-store".to_owned()),
            ("x-content-type-options", "nosniff".to_owned()),
        ];
        Self {
            status,
            headers,
            body: if head { String::new() } else { body },
        }
    }

    fn text(status: u16, body: String, head: bool) -> Self {
        Self::new(status, TEXT, body, head)
    }

    /// The status code.
    ///
    /// # Examples
    ///
    /// See [`Response`].
    #[must_use]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The headers, names in lower case.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let health = steward_core::health::Health::new(rt.handle());
    /// let endpoints = steward_core::http::Endpoints::new(steward_core::probes::Probes::new(health, steward_core::Shutdown::new()));
    /// let answer = rt.block_on(endpoints.respond(&steward_core::http::Request::get("/nope")));
    /// assert!(answer.headers().iter().any(|(name, value)| *name == "x-content-type-options" && value == "nosniff"));
    /// # }
    /// ```
    #[must_use]
    pub fn headers(&self) -> &[(&'static str, String)] {
        &self.headers
    }

    /// The value of the header named `name` (lower case), if present.
    ///
    /// # Examples
    ///
    /// See [`Response`].
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body (empty for `HEAD`).
    ///
    /// # Examples
    ///
    /// See [`Response`].
    #[must_use]
    pub fn body(&self) -> &str {
        &self.body
    }

    /// Status, headers and body, for a server to send.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let health = steward_core::health::Health::new(rt.handle());
    /// let endpoints = steward_core::http::Endpoints::new(steward_core::probes::Probes::new(health, steward_core::Shutdown::new()));
    /// let answer = rt.block_on(endpoints.respond(&steward_core::http::Request::get("/healthz")));
    /// let (status, _headers, body) = answer.into_parts();
    /// assert_eq!((status, body.as_str()), (200, "ok"));
    /// # }
    /// ```
    #[must_use]
    pub fn into_parts(self) -> (u16, Vec<(&'static str, String)>, String) {
        (self.status, self.headers, self.body)
    }
}

/// Future returned by [`Endpoints::respond`].
///
/// Dropping it stops waiting for the answer.
///
/// # Examples
///
/// See [`Endpoints::respond`].
#[must_use = "futures do nothing unless you .await or poll them"]
pub struct Respond {
    // Boxed: it may wait on a report of erased checks.
    inner: BoxFuture<Response>,
}

impl Future for Respond {
    type Output = Response;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for Respond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Respond").finish_non_exhaustive()
    }
}
