//! `/metrics` on the probe endpoints: served only when a render function is
//! set, as Prometheus' text, with the probe endpoints' method rules.
#![cfg(feature = "test-util")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use steward_core::health::Health;
use steward_core::http::{Endpoints, Request};
use steward_core::probes::Probes;
use steward_core::testing::TestRuntime;
use steward_core::Shutdown;

fn endpoints(rt: &TestRuntime) -> Endpoints {
    Endpoints::new(Probes::new(Health::new(rt.handle()), Shutdown::new()))
}

#[test]
fn metrics_is_404_unless_set() {
    let rt = TestRuntime::new();
    let answer = rt.block_on(endpoints(&rt).respond(&Request::get("/metrics")));
    assert_eq!(answer.status(), 404);
}

#[test]
fn metrics_renders_on_each_get_and_follows_the_method_rules() {
    let rt = TestRuntime::new();
    let renders = Arc::new(AtomicUsize::new(0));
    let counted = renders.clone();
    let endpoints = endpoints(&rt).metrics(move || {
        let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
        format!("renders_total {n}\n")
    });
    let first = rt.block_on(endpoints.respond(&Request::get("/metrics")));
    assert_eq!((first.status(), first.body()), (200, "renders_total 1\n"));
    assert_eq!(
        first.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(first.header("cache-control"), Some("no-store"));
    let second = rt.block_on(endpoints.respond(&Request::get("/metrics")));
    assert_eq!(second.body(), "renders_total 2\n");

    let head = rt.block_on(endpoints.respond(&Request::new("HEAD", "/metrics")));
    assert_eq!((head.status(), head.body()), (200, ""));
    let post = rt.block_on(endpoints.respond(&Request::new("POST", "/metrics")));
    assert_eq!(post.status(), 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    let body = rt.block_on(endpoints.respond(&Request::get("/metrics").with_body(true)));
    assert_eq!(body.status(), 400);
    // Only that path: the probes answer as before.
    let other = rt.block_on(endpoints.respond(&Request::get("/metricsz")));
    assert_eq!(other.status(), 404);
    let live = rt.block_on(endpoints.respond(&Request::get("/livez")));
    assert_eq!(live.status(), 200);
}
