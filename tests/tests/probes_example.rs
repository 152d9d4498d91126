//! The `probes` example, as a script would drive it: readiness follows the
//! `--fail-file`, the health document is served, SIGTERM exits 0.

#![cfg(unix)]

use std::process::Command;
use std::time::{Duration, Instant};

use steward_tests::process::{cargo_bin, free_port, http_get, http_request, Process};

/// Polls `/readyz?verbose` until it answers `status`, or fails at the deadline.
fn wait_for_readyz(addr: &str, status: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(answer) = http_get(addr, "/readyz?verbose") {
            if answer.status == status {
                return answer.text();
            }
        }
        assert!(Instant::now() < deadline, "/readyz never answered {status}");
        std::thread::sleep(Duration::from_millis(50)); // a probe's period
    }
}

#[test]
fn readiness_follows_the_fail_file() {
    let dir = std::env::temp_dir().join(format!("steward-probes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fail = dir.join("fail");
    let addr = format!("127.0.0.1:{}", free_port());
    let mut probes = Process::start(
        Command::new(cargo_bin("steward-examples", "probes"))
            .args(["--probe-addr", &addr, "--fail-file"])
            .arg(&fail),
    );
    probes.wait_for_line("probes on http://");

    let ok = wait_for_readyz(&addr, 200);
    assert!(ok.contains("[+]flag-file ok"), "{ok}");
    assert!(ok.ends_with("readyz check passed\n"), "{ok}");

    std::fs::write(&fail, b"").unwrap();
    let failed = wait_for_readyz(&addr, 503);
    assert!(
        failed.contains("[-]flag-file failed: reason withheld"),
        "{failed}"
    );
    let live = http_get(&addr, "/livez").unwrap();
    assert_eq!(live.status, 200, "a ready check does not touch liveness");

    std::fs::remove_file(&fail).unwrap();
    wait_for_readyz(&addr, 200);

    let health = http_request(
        &addr,
        "GET",
        "/health",
        &[("Accept", "application/health+json")],
    )
    .unwrap();
    assert_eq!(health.status, 200);
    assert_eq!(
        health.header("content-type"),
        Some("application/health+json")
    );
    assert!(health.text().contains("\"flag-file:responseTime\""));

    probes.signal("TERM");
    let exit = probes.wait_exit();
    assert_eq!(exit.status.code(), Some(0), "{:?}", exit.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
}
