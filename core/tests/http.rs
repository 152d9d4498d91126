//! HEALTH.md's HTTP conventions, row by row, against the pure function.
#![cfg(feature = "test-util")]

mod health_support;

use std::time::Duration;

use health_support::Counting;
use serde_json::Value;
use steward_core::health::{Check, CheckOutcome, Health};
use steward_core::http::{Endpoints, Request, Response};
use steward_core::probes::Probes;
use steward_core::testing::TestRuntime;
use steward_core::{Reason, Shutdown};

const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/health+json";

/// A running service: `db` (ready, critical), `cache` (ready, not critical),
/// `runtime` (live); each runs on every request, so `set` takes effect at once.
struct Service {
    rt: TestRuntime,
    endpoints: Endpoints,
    probes: Probes,
    shutdown: Shutdown,
    db: Counting,
    cache: Counting,
    runtime: Counting,
}

fn service() -> Service {
    let s = starting_service();
    s.probes.set_running();
    s
}

fn starting_service() -> Service {
    let rt = TestRuntime::new();
    let handle = rt.handle();
    let health = Health::new(handle.clone());
    let db = Counting::new(&handle, Duration::from_millis(250));
    let cache = Counting::new(&handle, Duration::ZERO);
    let runtime = Counting::new(&handle, Duration::ZERO);
    let inline = |c: Check| c.inline(Duration::ZERO);
    health
        .register(inline(Check::new("db", db.clone()).ready()))
        .unwrap();
    health
        .register(inline(
            Check::new("cache", cache.clone()).ready().critical(false),
        ))
        .unwrap();
    health
        .register(inline(Check::new("runtime", runtime.clone()).live()))
        .unwrap();
    let shutdown = Shutdown::new();
    let probes = Probes::new(health, shutdown.clone());
    Service {
        rt,
        endpoints: Endpoints::new(probes.clone()),
        probes,
        shutdown,
        db,
        cache,
        runtime,
    }
}

impl Service {
    fn send(&self, request: Request<'_>) -> Response {
        self.rt.block_on(self.endpoints.respond(&request))
    }

    fn get(&self, target: &str) -> Response {
        self.send(Request::get(target))
    }

    fn json(&self, target: &str) -> (Response, Value) {
        let response = self.send(Request::get(target).accept(Some(JSON)));
        let doc = serde_json::from_str(response.body())
            .unwrap_or_else(|e| panic!("{e}: {}", response.body()));
        (response, doc)
    }
}

fn assert_answer(response: &Response, status: u16, body: &str) {
    assert_eq!((response.status(), response.body()), (status, body));
}

// --- Success: 200, text/plain; charset=utf-8, body `ok`.

#[test]
fn passing_probes_answer_200_ok() {
    let s = service();
    for path in ["/livez", "/readyz", "/startupz", "/healthz"] {
        let r = s.get(path);
        assert_answer(&r, 200, "ok");
        assert_eq!(r.header("content-type"), Some(TEXT), "{path}");
        assert_eq!(r.header("content-length"), Some("2"), "{path}");
    }
}

// --- Failure: 503, body lists every check (always verbose on failure).

#[test]
fn a_failing_probe_answers_503_listing_every_check() {
    let s = service();
    s.db.set(CheckOutcome::unhealthy("connection refused"));
    let r = s.get("/readyz");
    assert_answer(
        &r,
        503,
        "[+]startup ok\n[+]shutdown ok\n[-]db failed: reason withheld\n[+]cache ok\nreadyz check failed\n",
    );
    assert_eq!(r.header("content-type"), Some(TEXT));
    assert_answer(
        &s.get("/healthz"),
        503,
        "[-]db failed: reason withheld\n[+]cache ok\n[+]runtime ok\nhealthz check failed\n",
    );
    assert_answer(&s.get("/livez"), 200, "ok");

    s.runtime.set(CheckOutcome::unhealthy("stalled"));
    assert_answer(
        &s.get("/livez"),
        503,
        "[-]runtime failed: reason withheld\nlivez check failed\n",
    );
}

// --- ?verbose: one line a check, then `<probe> check passed`.

#[test]
fn verbose_lists_every_check_then_the_verdict() {
    let s = service();
    assert_answer(
        &s.get("/readyz?verbose"),
        200,
        "[+]startup ok\n[+]shutdown ok\n[+]db ok\n[+]cache ok\nreadyz check passed\n",
    );
    assert_answer(
        &s.get("/livez?verbose"),
        200,
        "[+]runtime ok\nlivez check passed\n",
    );
    assert_answer(
        &s.get("/startupz?verbose"),
        200,
        "[+]startup ok\nstartupz check passed\n",
    );
    assert_answer(
        &s.get("/livez?verbose=0"),
        200,
        "[+]runtime ok\nlivez check passed\n",
    );
}

// --- ?exclude=<name>, repeatable; unknown names add a warning line.

#[test]
fn excluded_checks_are_listed_as_excluded_and_do_not_count() {
    let s = service();
    s.db.set(CheckOutcome::unhealthy("down"));
    assert_answer(&s.get("/readyz?exclude=db"), 200, "ok");
    assert_answer(
        &s.get("/readyz?verbose&exclude=db&exclude=cache"),
        200,
        "[+]startup ok\n[+]shutdown ok\n[+]db excluded: ok\n[+]cache excluded: ok\nreadyz check passed\n",
    );
    assert_eq!(s.db.runs(), 0, "an excluded check is not run");
}

#[test]
fn unknown_excludes_add_a_warning_line() {
    let s = service();
    assert_answer(
        &s.get("/readyz?verbose&exclude=nope&exclude=runtime&exclude=nope&exclude=shutdown"),
        200,
        "[+]startup ok\n[+]shutdown ok\n[+]db ok\n[+]cache ok\n\
         warn: some health checks cannot be excluded: no matches for \"nope\",\"runtime\",\"shutdown\"\n\
         readyz check passed\n",
    );
    // A name from the query cannot forge a line either.
    let r = s.get("/livez?verbose&exclude=x%0D%0A%5B%2B%5Dforged%20ok%22");
    assert_answer(
        &r,
        200,
        "[+]runtime ok\nwarn: some health checks cannot be excluded: no matches for \"x  [+]forged ok\\\"\"\nlivez check passed\n",
    );
}

// --- One check: /livez/<name>, /readyz/<name> (404 if unknown).

#[test]
fn one_check_by_name() {
    let s = service();
    assert_answer(&s.get("/readyz/db"), 200, "ok");
    assert_answer(
        &s.get("/readyz/db?verbose"),
        200,
        "[+]db ok\nreadyz check passed\n",
    );
    assert_answer(&s.get("/livez/runtime"), 200, "ok");
    assert_answer(&s.get("/healthz/cache"), 200, "ok");
    assert_answer(
        &s.get("/readyz/shutdown?verbose"),
        200,
        "[+]shutdown ok\nreadyz check passed\n",
    );
    assert_answer(&s.get("/startupz/startup"), 200, "ok");

    let runtime_runs = s.runtime.runs();
    s.db.set(CheckOutcome::unhealthy("down"));
    assert_answer(
        &s.get("/readyz/db"),
        503,
        "[-]db failed: reason withheld\nreadyz check failed\n",
    );
    assert_answer(&s.get("/readyz/cache"), 200, "ok");
    assert_eq!(s.runtime.runs(), runtime_runs, "one check runs alone");

    for unknown in [
        "/readyz/nope",
        "/livez/db",
        "/readyz/runtime",
        "/startupz/db",
        "/livez/shutdown",
    ] {
        assert_answer(&s.get(unknown), 404, "no such check\n");
    }
}

// --- Degraded (a non-critical check failing): 200 by default, 503 if asked.

#[test]
fn degraded_answers_200_unless_mapped_to_503() {
    let s = service();
    s.cache.set(CheckOutcome::unhealthy("refused"));
    assert_answer(&s.get("/readyz"), 200, "ok");
    assert_answer(
        &s.get("/readyz?verbose"),
        200,
        "[+]startup ok\n[+]shutdown ok\n[+]db ok\n[-]cache failed: reason withheld\nreadyz check passed\n",
    );
    let strict = s.endpoints.clone().fail_when_degraded(true);
    let r = s.rt.block_on(strict.respond(&Request::get("/readyz")));
    assert_answer(
        &r,
        503,
        "[+]startup ok\n[+]shutdown ok\n[+]db ok\n[-]cache failed: reason withheld\nreadyz check failed\n",
    );
    s.db.set(CheckOutcome::degraded("slow"));
    s.cache.set(CheckOutcome::healthy());
    assert_answer(
        &s.get("/readyz/db?verbose"),
        200,
        "[-]db degraded: reason withheld\nreadyz check passed\n",
    );
}

// --- The phase table over HTTP.

#[test]
fn the_phase_table_over_http() {
    let codes = |s: &Service| ["/livez", "/readyz", "/startupz"].map(|p| s.get(p).status());
    let s = starting_service();
    assert_eq!(codes(&s), [200, 503, 503], "starting");
    assert_answer(
        &s.get("/readyz"),
        503,
        "[-]startup failed: reason withheld\n[+]shutdown ok\n[+]db ok\n[+]cache ok\nreadyz check failed\n",
    );
    assert_answer(
        &s.get("/startupz"),
        503,
        "[-]startup failed: reason withheld\nstartupz check failed\n",
    );
    s.runtime.set(CheckOutcome::unhealthy("stalled"));
    assert_eq!(
        codes(&s),
        [200, 503, 503],
        "starting: liveness is not judged"
    );
    s.runtime.set(CheckOutcome::healthy());

    s.probes.set_running();
    assert_eq!(codes(&s), [200, 200, 200], "running");
    s.runtime.set(CheckOutcome::unhealthy("stalled"));
    s.db.set(CheckOutcome::unhealthy("down"));
    assert_eq!(codes(&s), [503, 503, 200], "running, checks failing");
    s.runtime.set(CheckOutcome::healthy());
    s.db.set(CheckOutcome::healthy());

    s.shutdown.trigger(Reason::Signal(15));
    assert_eq!(codes(&s), [200, 503, 200], "draining");
    assert_answer(
        &s.get("/readyz"),
        503,
        "[+]startup ok\n[-]shutdown draining\n[+]db ok\n[+]cache ok\nreadyz check failed\n",
    );
    s.runtime.set(CheckOutcome::unhealthy("stalled"));
    assert_eq!(
        codes(&s),
        [200, 503, 200],
        "draining: liveness is not judged"
    );
}

// --- /health, or Accept: application/health+json: the IETF document.

fn check<'a>(doc: &'a Value, key: &str) -> &'a serde_json::Map<String, Value> {
    let list = doc["checks"][key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} in {doc}"));
    assert_eq!(list.len(), 1);
    list[0].as_object().unwrap()
}

fn assert_rfc3339(time: &str) {
    let b = time.as_bytes();
    assert_eq!(b.len(), 24, "{time}");
    for (i, &c) in b.iter().enumerate() {
        let expected = match i {
            4 | 7 => b'-',
            10 => b'T',
            13 | 16 => b':',
            19 => b'.',
            23 => b'Z',
            _ => {
                assert!(c.is_ascii_digit(), "{time}");
                continue;
            }
        };
        assert_eq!(c, expected, "{time}");
    }
}

#[test]
fn the_health_document_has_the_ietf_shape() {
    let s = service();
    let r = s.get("/health");
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("content-type"), Some(JSON));
    let doc: Value = serde_json::from_str(r.body()).unwrap();
    assert_eq!(doc["status"], "pass");
    let keys: Vec<_> = doc["checks"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys.len(), 3);
    for name in ["db", "cache", "runtime"] {
        let c = check(&doc, &format!("{name}:responseTime"));
        assert_eq!(c["componentId"], name);
        assert_eq!(c["status"], "pass");
        assert!(c["observedValue"].is_number());
        assert_eq!(c["observedUnit"], "ms");
        assert_rfc3339(c["time"].as_str().unwrap());
        assert!(!c.contains_key("output"), "details are withheld by default");
        let mut fields: Vec<_> = c.keys().map(String::as_str).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "componentId",
                "observedUnit",
                "observedValue",
                "status",
                "time"
            ]
        );
    }
    assert_eq!(check(&doc, "db:responseTime")["observedValue"], 250.0);
}

#[test]
fn the_document_status_is_pass_warn_or_fail() {
    let s = service();
    s.cache.set(CheckOutcome::unhealthy("refused"));
    let (r, doc) = s.json("/health");
    assert_eq!((r.status(), &doc["status"]), (200, &Value::from("warn")));
    assert_eq!(check(&doc, "cache:responseTime")["status"], "fail");
    s.db.set(CheckOutcome::degraded("slow"));
    let (_, doc) = s.json("/health");
    assert_eq!(check(&doc, "db:responseTime")["status"], "warn");
    s.db.set(CheckOutcome::unhealthy("down"));
    let (r, doc) = s.json("/health");
    assert_eq!((r.status(), &doc["status"]), (503, &Value::from("fail")));
}

#[test]
fn any_probe_path_serves_the_document_on_accept() {
    let s = service();
    let (r, doc) = s.json("/readyz");
    assert_eq!(r.header("content-type"), Some(JSON));
    let mut keys: Vec<_> = doc["checks"].as_object().unwrap().keys().cloned().collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "cache:responseTime",
            "db:responseTime",
            "shutdown:responseTime",
            "startup:responseTime"
        ]
    );
    let (_, doc) = s.json("/readyz/db");
    assert_eq!(doc["checks"].as_object().unwrap().len(), 1);
    let (_, doc) = s.json("/livez?exclude=nope");
    assert_eq!(
        doc["notes"][0],
        "some health checks cannot be excluded: no matches for \"nope\""
    );
    let r = s.send(Request::get("/readyz").accept(Some("application/health+json;q=0, text/plain")));
    assert_eq!(r.header("content-type"), Some(TEXT));
}

#[test]
fn the_document_shows_output_only_when_allowed() {
    let s = service();
    s.db.set(CheckOutcome::unhealthy("password \"hunter2\" rejected\n"));
    s.cache.set(CheckOutcome::healthy().with_details("3 idle"));
    let (_, doc) = s.json("/health");
    assert!(!check(&doc, "db:responseTime").contains_key("output"));
    let open = s.endpoints.clone().show_errors(true);
    let r = s.rt.block_on(open.respond(&Request::get("/health")));
    let doc: Value = serde_json::from_str(r.body()).unwrap();
    assert_eq!(
        check(&doc, "db:responseTime")["output"],
        "password \"hunter2\" rejected\n"
    );
    assert_eq!(check(&doc, "cache:responseTime")["output"], "3 idle");
    assert!(!check(&doc, "runtime:responseTime").contains_key("output"));
}

#[test]
fn an_empty_registry_is_a_passing_document() {
    let rt = TestRuntime::new();
    let probes = Probes::new(Health::new(rt.handle()), Shutdown::new());
    let r = rt.block_on(Endpoints::new(probes).respond(&Request::get("/health")));
    let doc: Value = serde_json::from_str(r.body()).unwrap();
    assert_eq!(doc, serde_json::json!({"status": "pass", "checks": {}}));
}

// --- Errors withheld by default; names and errors stripped of CR/LF.

#[test]
fn errors_are_withheld_unless_allowed_and_cannot_forge_lines() {
    let s = service();
    s.db.set(CheckOutcome::unhealthy(
        "refused\r\n[+]forged ok\nreadyz check passed",
    ));
    assert!(!s.get("/readyz").body().contains("refused"));
    let open = s.endpoints.clone().show_errors(true);
    let r = s.rt.block_on(open.respond(&Request::get("/readyz")));
    assert_answer(
        &r,
        503,
        "[+]startup ok\n[+]shutdown ok\n[-]db failed: refused  [+]forged ok readyz check passed\n[+]cache ok\nreadyz check failed\n",
    );
    assert_eq!(r.body().lines().count(), 5);
}

#[test]
fn a_drain_reads_as_draining_not_as_a_failure() {
    let s = service();
    s.probes.set_running();
    s.shutdown.trigger(Reason::Signal(15));
    let r = s.get("/readyz?verbose");
    assert_answer(
        &r,
        503,
        "[+]startup ok\n[-]shutdown draining\n[+]db ok\n[+]cache ok\nreadyz check failed\n",
    );
    assert!(!r.body().contains("shutdown failed"), "{}", r.body());
    // With errors shown, the reason is the signal, worded once.
    let open = s.endpoints.clone().show_errors(true);
    let r =
        s.rt.block_on(open.respond(&Request::get("/readyz/shutdown")));
    assert_answer(
        &r,
        503,
        "[-]shutdown draining: signal 15 (SIGTERM)\nreadyz check failed\n",
    );
}

// --- HEAD: the same status and headers, no body.

#[test]
fn head_answers_like_get_without_a_body() {
    let s = service();
    s.db.set(CheckOutcome::unhealthy("down"));
    for target in [
        "/livez",
        "/readyz",
        "/readyz?verbose",
        "/health",
        "/nope",
        "/readyz/nope",
    ] {
        let get = s.get(target);
        let head = s.send(Request::new("HEAD", target));
        assert_eq!(head.status(), get.status(), "{target}");
        assert_eq!(head.headers(), get.headers(), "{target}");
        assert_eq!(head.body(), "", "{target}");
        assert_eq!(
            head.header("content-length").unwrap(),
            get.body().len().to_string()
        );
    }
}

// --- Other paths 404, other methods 405 with Allow: GET, HEAD.

#[test]
fn other_paths_are_404() {
    let s = service();
    for target in [
        "/",
        "/metrics",
        "/livez/",
        "/readyz/a/b",
        "/health/db",
        "/healthz/",
        "*",
        "",
        "livez",
        "/LIVEZ",
        "/livez.json",
        "//livez",
        "http://host/livez",
    ] {
        assert_answer(&s.get(target), 404, "404 page not found\n");
    }
    assert_eq!(s.send(Request::new("POST", "/metrics")).status(), 404);
}

#[test]
fn other_methods_are_405_with_allow() {
    let s = service();
    for method in [
        "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "get",
    ] {
        for target in ["/livez", "/readyz/db", "/health"] {
            let r = s.send(Request::new(method, target));
            assert_answer(&r, 405, "method not allowed\n");
            assert_eq!(r.header("allow"), Some("GET, HEAD"), "{method} {target}");
        }
    }
}

// --- A request body, an oversized target, a malformed query are refused.

#[test]
fn bad_input_is_refused() {
    let s = service();
    assert_answer(
        &s.send(Request::get("/readyz").with_body(true)),
        400,
        "probes take no request body\n",
    );
    let limit = steward_core::http::DEFAULT_MAX_TARGET_LEN;
    let pad = |len: usize| format!("/livez?{}", "x".repeat(len - "/livez?".len()));
    assert_eq!(s.get(&pad(limit)).status(), 200);
    assert_answer(&s.get(&pad(limit + 1)), 414, "request target too long\n");
    assert_answer(&s.get("/livez?exclude=%zz"), 400, "malformed query\n");
    assert_answer(&s.get("/livez?exclude=%ff"), 400, "malformed query\n");
    assert_eq!(
        s.db.runs() + s.runtime.runs(),
        1,
        "only the padded probe ran a check"
    );
}

// --- Every response: Cache-Control: no-store, X-Content-Type-Options: nosniff.

#[test]
fn every_response_is_uncacheable_and_nosniff() {
    let s = service();
    s.db.set(CheckOutcome::unhealthy("down"));
    let requests = [
        Request::get("/livez"),
        Request::get("/readyz"),
        Request::get("/readyz?verbose&exclude=x"),
        Request::get("/readyz/db"),
        Request::get("/readyz/nope"),
        Request::get("/startupz"),
        Request::get("/healthz"),
        Request::get("/health"),
        Request::get("/livez").accept(Some(JSON)),
        Request::get("/nope"),
        Request::new("POST", "/livez"),
        Request::new("HEAD", "/readyz"),
        Request::get("/livez").with_body(true),
        Request::get("/livez?exclude=%"),
    ];
    for request in requests {
        let r = s.send(request);
        assert_eq!(r.header("cache-control"), Some("no-store"), "{request:?}");
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{request:?}"
        );
        assert!(r.header("content-type").is_some(), "{request:?}");
        if request.method() != "HEAD" {
            assert_eq!(
                r.header("content-length").unwrap(),
                r.body().len().to_string()
            );
        }
    }
}

#[test]
fn respond_is_send_and_static() {
    fn send_static<T: Send + 'static>(_: &T) {}
    let s = service();
    let target = String::from("/livez");
    let respond = s.endpoints.respond(&Request::get(&target));
    drop(target);
    send_static(&respond);
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Endpoints>();
}
