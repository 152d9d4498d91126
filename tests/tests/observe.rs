//! The `service` example as an operator sees it: its settings from the
//! environment (`STEWARD_*`: a good value overrides the code's, a bad one
//! stops the start with a message naming it, exit 1, nothing of the body
//! run), its identity in the `/health` document, and its metrics at
//! `/metrics` in Prometheus' text format.
#![cfg(unix)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use steward_tests::process::{cargo_bin, free_port, http_request, Process};

/// A fresh data directory for one test.
fn data_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("steward-observe-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The `bin` example (`service` or `service-tokio`) on `data`, probes on
/// `probe` by flag, with `env`.
fn service(bin: &str, data: &PathBuf, probe: SocketAddr, env: &[(&str, &str)]) -> Process {
    let mut command = Command::new(cargo_bin("steward-examples", bin));
    command
        .args([
            "--listen",
            "127.0.0.1:0",
            "--probe-addr",
            &probe.to_string(),
        ])
        .arg("--data")
        .arg(data)
        .args(["--pre-stop-ms", "0"])
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("NOTIFY_SOCKET")
        .env("NO_COLOR", "1");
    for var in [
        "STEWARD_GRACE",
        "STEWARD_PRE_STOP",
        "STEWARD_PROBE_ADDR",
        "STEWARD_SHOW_ERRORS",
    ] {
        command.env_remove(var);
    }
    command.envs(env.iter().copied());
    Process::start(&mut command)
}

fn health(addr: SocketAddr) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let accept = [("Accept", "application/health+json")];
        match http_request(addr, "GET", "/health", &accept) {
            Ok(answer) if answer.status == 200 => {
                return serde_json::from_str(&answer.text()).unwrap();
            }
            other => assert!(Instant::now() < deadline, "/health: {other:?}"),
        }
        std::thread::sleep(Duration::from_millis(50)); // a probe's period
    }
}

#[test]
fn a_bad_variable_stops_the_start_naming_it_smol() {
    a_bad_variable_stops_the_start_naming_it("service");
}

#[test]
fn a_bad_variable_stops_the_start_naming_it_tokio() {
    a_bad_variable_stops_the_start_naming_it("service-tokio");
}

#[test]
fn the_probe_addr_variable_starts_the_apps_probe_server_tokio() {
    let data = data_dir("good-tokio");
    let flag_probe = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let env_probe = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let env_probe_text = env_probe.to_string();
    let env = [("STEWARD_PROBE_ADDR", env_probe_text.as_str())];
    let mut process = service("service-tokio", &data, flag_probe, &env);
    process.wait_for_line("listening on");
    // The App's own probe server is on the environment's address. This
    // example also serves the probes from its axum router on the flag's
    // address (it sets no `probe_addr`): the variable does not move that one.
    assert_eq!(health(env_probe)["status"], "pass");
    assert_eq!(health(flag_probe)["status"], "pass");
    process.signal("TERM");
    let exit = process.wait_exit();
    assert_eq!(exit.status.code(), Some(0), "{exit:#?}");
    let _ = std::fs::remove_dir_all(&data);
}

fn a_bad_variable_stops_the_start_naming_it(bin: &str) {
    let cases = [
        ("STEWARD_GRACE", "25", "a number needs a unit"),
        ("STEWARD_PRE_STOP", "1.5s", "whole numbers only"),
        ("STEWARD_PRE_STOP", "", "empty; expected a duration"),
        ("STEWARD_PROBE_ADDR", "localhost:8080", "expected IP:PORT"),
        ("STEWARD_SHOW_ERRORS", "maybe", "expected true or false"),
    ];
    for (var, value, why) in cases {
        let data = data_dir(&format!("bad-{bin}"));
        let probe = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut process = service(bin, &data, probe, &[(var, value)]);
        let exit = process.wait_exit();
        assert_eq!(exit.status.code(), Some(1), "{var}={value}: {exit:#?}");
        let named = format!("{var}={value:?}: {why}");
        assert!(
            exit.stderr.iter().any(|line| line.contains(&named)),
            "no `{named}` in {exit:#?}"
        );
        // Nothing of the body ran: no listener, no journal opened.
        assert!(
            !exit.stdout.iter().any(|line| line.contains("listening on")),
            "{exit:#?}"
        );
        let files: Vec<_> = std::fs::read_dir(&data).unwrap().collect();
        assert!(files.is_empty(), "{var}: the body ran: {files:?}");
        let _ = std::fs::remove_dir_all(&data);
    }
}

#[test]
fn good_variables_override_the_flags_and_health_names_the_service() {
    let data = data_dir("good");
    let flag_probe = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let env_probe = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let env = [
        ("STEWARD_PROBE_ADDR", env_probe.to_string()),
        ("STEWARD_GRACE", "7s".to_owned()),
        ("STEWARD_SHOW_ERRORS", "true".to_owned()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut process = service("service", &data, flag_probe, &env);
    process.wait_for_line("listening on");

    // The probes are on the environment's address, not the flag's.
    let doc = health(env_probe);
    assert!(
        http_request(flag_probe, "GET", "/livez", &[]).is_err(),
        "the flag's address still serves"
    );
    // The identity of the example's own package, through `service_info!()`.
    assert_eq!(doc["serviceId"], "steward-examples", "{doc:#}");
    assert_eq!(doc["description"], "Runnable services built on steward.");
    let release = doc["releaseId"].as_str().unwrap();
    let major = release.split('.').next().unwrap();
    assert_eq!(doc["version"], major, "{doc:#}");

    // Prometheus' text at `/metrics`: task, health and lifecycle figures.
    let page = http_request(env_probe, "GET", "/metrics", &[]).unwrap();
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = page.text();
    let wanted = [
        "steward_tasks_started_total{task=\"listener\"} 1",
        "steward_tasks_running{task=\"listener\"} 1",
        "steward_lifecycle_phase 1",
        "steward_startup_duration_seconds ",
        "steward_health_check_status{check=\"journal\"} 1",
        "steward_health_check_duration_seconds_count{check=\"journal\"}",
        "steward_lifespan_step_duration_seconds_count{step=\"listener\",phase=\"start\"} 1",
        "steward_probe_responses_total{probe=\"healthz\",code=\"200\"}",
    ];
    for line in wanted {
        assert!(
            text.lines().any(|l| l.starts_with(line)),
            "no `{line}` in\n{text}"
        );
    }

    process.signal("TERM");
    let exit = process.wait_exit();
    assert_eq!(exit.status.code(), Some(0), "{exit:#?}");
    let _ = std::fs::remove_dir_all(&data);
}
