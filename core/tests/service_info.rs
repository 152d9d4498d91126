//! The health document's top-level `version`, `releaseId`, `serviceId` and
//! `description`: written when set, in the draft's order, escaped, absent
//! when unset; `service_info!` reads the expanding crate's package.
#![cfg(feature = "test-util")]

use serde_json::Value;
use steward_core::health::Health;
use steward_core::http::{Endpoints, Request, ServiceInfo};
use steward_core::probes::Probes;
use steward_core::testing::TestRuntime;
use steward_core::Shutdown;

fn document(info: Option<ServiceInfo>) -> (String, Value) {
    let rt = TestRuntime::new();
    let probes = Probes::new(Health::new(rt.handle()), Shutdown::new());
    probes.set_running();
    let mut endpoints = Endpoints::new(probes);
    if let Some(info) = info {
        endpoints = endpoints.service_info(info);
    }
    let answer = rt.block_on(endpoints.respond(&Request::get("/health")));
    assert_eq!(answer.status(), 200, "{}", answer.body());
    let body = answer.body().to_owned();
    let value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (body, value)
}

#[test]
fn unset_fields_are_absent() {
    let (body, doc) = document(None);
    for key in ["version", "releaseId", "serviceId", "description"] {
        assert!(doc.get(key).is_none(), "{key} in {body}");
    }
    assert_eq!(doc["status"], "pass");
}

#[test]
fn set_fields_are_written_after_status_in_the_drafts_order() {
    let info = ServiceInfo::new()
        .description("bills \"and\" pays\n")
        .service_id("billing")
        .release_id("2.4.1")
        .version("2");
    let (body, doc) = document(Some(info));
    assert_eq!(doc["version"], "2");
    assert_eq!(doc["releaseId"], "2.4.1");
    assert_eq!(doc["serviceId"], "billing");
    assert_eq!(doc["description"], "bills \"and\" pays\n");
    let at = |key: &str| body.find(&format!("\"{key}\"")).unwrap();
    let order = [
        "status",
        "version",
        "releaseId",
        "serviceId",
        "description",
        "checks",
    ];
    assert!(order.windows(2).all(|w| at(w[0]) < at(w[1])), "{body}");
}

#[test]
fn an_empty_text_sets_nothing() {
    let info = ServiceInfo::new().service_id("billing").description("");
    let (body, doc) = document(Some(info));
    assert_eq!(doc["serviceId"], "billing");
    assert!(doc.get("description").is_none(), "{body}");
}

#[test]
fn the_macro_reads_the_expanding_crates_package() {
    let info = steward_core::service_info!();
    let (_, doc) = document(Some(info));
    // This test is compiled as part of steward-core's package.
    assert_eq!(doc["serviceId"], "steward-core");
    assert_eq!(doc["releaseId"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["version"], env!("CARGO_PKG_VERSION_MAJOR"));
    assert_eq!(doc["description"], env!("CARGO_PKG_DESCRIPTION"));
}
