//! HEALTH.md's probe table, row by row, on the probe state itself.
#![cfg(feature = "test-util")]

mod health_support;

use std::time::Duration;

use health_support::fixed;
use steward_core::health::{Check, CheckOutcome, Health, Select, Status};
use steward_core::probes::{Phase, Probe, Probes};
use steward_core::testing::TestRuntime;
use steward_core::{Reason, Shutdown};

struct Service {
    rt: TestRuntime,
    probes: Probes,
    shutdown: Shutdown,
}

/// A service with a live check and a ready check answering as given.
fn service(live: Status, ready: Status) -> Service {
    let rt = TestRuntime::new();
    let health = Health::new(rt.handle());
    let outcome = |s: Status| match s {
        Status::Healthy => CheckOutcome::healthy(),
        Status::Degraded => CheckOutcome::degraded("slow"),
        Status::Unhealthy => CheckOutcome::unhealthy("down"),
    };
    health
        .register(Check::new("runtime", fixed(outcome(live))).live())
        .unwrap();
    health
        .register(Check::new("db", fixed(outcome(ready))).ready())
        .unwrap();
    rt.block_on(health.refresh());
    let shutdown = Shutdown::new();
    let probes = Probes::new(health, shutdown.clone());
    Service {
        rt,
        probes,
        shutdown,
    }
}

impl Service {
    fn status(&self, probe: Probe) -> Status {
        self.rt
            .block_on(self.probes.report(probe, &Select::all()))
            .status()
    }

    fn row(&self) -> [Status; 3] {
        [
            self.status(Probe::Live),
            self.status(Probe::Ready),
            self.status(Probe::Startup),
        ]
    }
}

use Status::{Healthy as OK, Unhealthy as FAIL};

#[test]
fn starting_live_ok_ready_fails_startup_fails() {
    for checks in [OK, FAIL] {
        let s = service(checks, checks);
        assert_eq!(s.probes.phase(), Phase::Starting);
        assert_eq!(s.row(), [OK, FAIL, FAIL], "checks {checks:?}");
    }
}

#[test]
fn running_follows_live_and_ready_checks_and_startup_passes() {
    let cases = [
        (OK, OK, [OK, OK, OK]),
        (FAIL, OK, [FAIL, OK, OK]),
        (OK, FAIL, [OK, FAIL, OK]),
        (FAIL, FAIL, [FAIL, FAIL, OK]),
    ];
    for (live, ready, row) in cases {
        let s = service(live, ready);
        s.probes.set_running();
        assert_eq!(s.probes.phase(), Phase::Running);
        assert_eq!(s.row(), row, "live {live:?}, ready {ready:?}");
    }
}

#[test]
fn draining_live_ok_ready_fails_at_once_and_for_good_startup_ok() {
    for checks in [OK, FAIL] {
        let s = service(checks, checks);
        s.probes.set_running();
        s.shutdown.trigger(Reason::Signal(15));
        // No refresh, no await in between: the next probe sees it.
        assert_eq!(s.probes.phase(), Phase::Draining);
        assert_eq!(s.row(), [OK, FAIL, OK], "checks {checks:?}");
        s.probes.set_running();
        s.rt.advance(Duration::from_secs(60));
        assert_eq!(s.row(), [OK, FAIL, OK], "latched");
    }
}

#[test]
fn shutdown_during_startup_drains() {
    let s = service(OK, OK);
    s.shutdown.trigger(Reason::Signal(2));
    assert_eq!(s.probes.phase(), Phase::Draining);
    assert_eq!(s.row(), [OK, FAIL, OK]);
}

#[test]
fn set_draining_fails_readiness_without_the_scope() {
    let s = service(OK, OK);
    s.probes.set_running();
    s.probes.set_draining();
    assert!(!s.shutdown.is_triggered());
    assert_eq!(s.row(), [OK, FAIL, OK]);
}

#[test]
fn readiness_lists_its_own_state_first_with_reasons() {
    let s = service(OK, OK);
    let report = s.rt.block_on(s.probes.report(Probe::Ready, &Select::all()));
    let listed: Vec<_> = report
        .checks()
        .iter()
        .map(|c| (c.name(), c.status(), c.error()))
        .collect();
    assert_eq!(
        listed,
        [
            ("startup", FAIL, Some("startup has not finished")),
            ("shutdown", OK, None),
            ("db", OK, None),
        ]
    );
    s.probes.set_running();
    s.shutdown.trigger(Reason::Signal(15));
    let report = s.rt.block_on(s.probes.report(Probe::Ready, &Select::all()));
    assert_eq!(
        report.get("shutdown").unwrap().error(),
        Some("shutting down: signal 15 (SIGTERM)")
    );
}

#[test]
fn a_degraded_ready_check_degrades_readiness() {
    let s = service(OK, Status::Degraded);
    s.probes.set_running();
    assert_eq!(s.status(Probe::Ready), Status::Degraded);
}

#[test]
fn all_covers_every_check_whatever_the_phase() {
    let s = service(OK, FAIL);
    let report = s.rt.block_on(s.probes.report(Probe::All, &Select::all()));
    let names: Vec<_> = report.checks().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["runtime", "db"]);
    assert_eq!(report.status(), FAIL);
}

#[test]
fn one_check_alone() {
    let s = service(OK, FAIL);
    s.probes.set_running();
    let one = |probe, name: &str| {
        s.rt.block_on(s.probes.report(probe, &Select::all().only(name)))
    };
    let db = one(Probe::Ready, "db");
    assert_eq!((db.checks().len(), db.status()), (1, FAIL));
    let own = one(Probe::Ready, "shutdown");
    assert_eq!((own.checks()[0].name(), own.status()), ("shutdown", OK));
    assert_eq!(one(Probe::Live, "runtime").status(), OK);
    assert!(s.probes.has_check(Probe::Startup, "startup"));
    assert!(!s.probes.has_check(Probe::Startup, "db"));
    assert!(!s.probes.has_check(Probe::Ready, "runtime"));
}

#[test]
fn probes_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Probes>();
    send_sync::<Phase>();
}
