//! The notification protocol on virtual time: what is sent, in what order,
//! at what time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{spawn, steps, watchdog_interval, NotifyError, Sink};
use crate::health::{Check, CheckOutcome, Health, Status};
use crate::lifespan::Lifespan;
use crate::probes::Probes;
use crate::testing::TestRuntime;
use crate::{Reason, Shutdown};

type Log = Arc<Mutex<Vec<(u64, String)>>>;

fn recorder(rt: &TestRuntime) -> (Sink, Log) {
    let log: Log = Arc::default();
    let (into, clock) = (Arc::clone(&log), rt.handle());
    let start = clock.now();
    let sink: Sink = Arc::new(move |m: &str| {
        let at = (clock.now() - start).as_millis() as u64;
        into.lock().unwrap().push((at, m.to_owned()));
    });
    (sink, log)
}

fn taken(log: &Log) -> Vec<(u64, String)> {
    std::mem::take(&mut *log.lock().unwrap())
}

fn s(at: u64, m: &str) -> (u64, String) {
    (at, m.to_owned())
}

#[test]
fn ready_stopping_and_the_drain_in_order() {
    let rt = TestRuntime::new();
    let shutdown = Shutdown::new();
    let probes = Probes::new(Health::new(rt.handle()), shutdown.clone());
    let stop = Shutdown::new();
    let (sink, log) = recorder(&rt);
    let grace = Duration::from_secs(12);
    spawn(&rt.handle(), (&probes, &shutdown), grace, None, &stop, sink);

    rt.advance(Duration::from_secs(1));
    assert_eq!(taken(&log), [s(0, "STATUS=starting")]);
    probes.set_running();
    rt.run_until_idle();
    assert_eq!(taken(&log), [s(1000, "READY=1\nSTATUS=running")]);

    rt.advance(Duration::from_secs(1));
    shutdown.trigger(Reason::Signal(15));
    rt.advance(Duration::from_secs(20));
    let status = |left: u64| {
        format!(
            "STATUS=draining (signal 15 (SIGTERM)), {left} s of 12 s left\nEXTEND_TIMEOUT_USEC={}",
            (left + 5) * 1_000_000
        )
    };
    assert_eq!(
        taken(&log),
        [
            s(2000, "STOPPING=1"),
            s(2000, &status(12)),
            s(7000, &status(7)),
            s(12000, &status(2)),
            s(14000, &status(0)), // the budget is spent: nothing more
        ]
    );
    stop.trigger(Reason::Requested);
}

#[test]
fn each_step_begun_while_starting_is_the_status() {
    let rt = TestRuntime::new();
    let shutdown = Shutdown::new();
    let probes = Probes::new(Health::new(rt.handle()), shutdown.clone());
    let lifespan = Lifespan::new(rt.handle(), shutdown.clone());
    let stop = Shutdown::new();
    let (sink, log) = recorder(&rt);
    steps(&lifespan, &probes, Arc::clone(&sink));
    spawn(
        &rt.handle(),
        (&probes, &shutdown),
        Duration::from_secs(1),
        None,
        &stop,
        sink,
    );
    let handle = rt.handle();
    let slow = |name: &'static str, ms: u64| {
        let handle = handle.clone();
        lifespan.start(
            name,
            async move {
                handle.sleep(Duration::from_millis(ms)).await;
                Ok::<_, String>(())
            },
            |()| async {},
        )
    };
    rt.block_on(slow("db", 300)).unwrap();
    rt.block_on(slow("cache", 200)).unwrap();
    probes.set_running();
    rt.run_until_idle();
    rt.block_on(slow("late", 100)).unwrap(); // once running: no status
    assert_eq!(
        taken(&log),
        [
            s(0, "STATUS=starting"),
            s(0, "STATUS=starting (db)"),
            s(300, "STATUS=starting (cache)"),
            s(500, "READY=1\nSTATUS=running"),
        ]
    );
    stop.trigger(Reason::Requested);
}

#[test]
fn a_failed_startup_goes_from_starting_to_stopping() {
    let rt = TestRuntime::new();
    let shutdown = Shutdown::new();
    let probes = Probes::new(Health::new(rt.handle()), shutdown.clone());
    let stop = Shutdown::new();
    let (sink, log) = recorder(&rt);
    spawn(
        &rt.handle(),
        (&probes, &shutdown),
        Duration::ZERO,
        None,
        &stop,
        sink,
    );
    shutdown.trigger(Reason::Fatal("startup failed: db".into()));
    rt.run_until_idle();
    let log = taken(&log);
    let messages: Vec<_> = log.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(
        messages,
        [
            "STATUS=starting",
            "STOPPING=1",
            "STATUS=draining (fatal: startup failed: db), 0 s of 0 s left\nEXTEND_TIMEOUT_USEC=5000000"
        ]
    );
}

#[test]
fn the_watchdog_pings_at_half_the_interval_only_while_live_checks_pass() {
    let rt = TestRuntime::new();
    let shutdown = Shutdown::new();
    let health = Health::new(rt.handle());
    let stalled = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stalled);
    let check = move || {
        let down = flag.load(Ordering::SeqCst);
        async move {
            if down {
                CheckOutcome::unhealthy("stalled")
            } else {
                CheckOutcome::from(Status::Healthy)
            }
        }
    };
    health
        .register(Check::new("loop", check).live().inline(Duration::ZERO))
        .unwrap();
    let probes = Probes::new(health, shutdown.clone());
    probes.set_running();
    let stop = Shutdown::new();
    let (sink, log) = recorder(&rt);
    let watchdog = Some(Duration::from_secs(4));
    spawn(
        &rt.handle(),
        (&probes, &shutdown),
        Duration::ZERO,
        watchdog,
        &stop,
        sink,
    );

    let pings = |log: &Log| -> Vec<u64> {
        taken(log)
            .into_iter()
            .filter(|(_, m)| m == "WATCHDOG=1")
            .map(|(at, _)| at)
            .collect()
    };
    rt.advance(Duration::from_millis(5000));
    assert_eq!(pings(&log), [0, 2000, 4000]);
    stalled.store(true, Ordering::SeqCst);
    rt.advance(Duration::from_millis(4000));
    assert_eq!(pings(&log), [] as [u64; 0], "no ping while `loop` fails");
    stalled.store(false, Ordering::SeqCst);
    rt.advance(Duration::from_millis(2000));
    assert_eq!(pings(&log), [10000]);

    stop.trigger(Reason::Requested);
    rt.advance(Duration::from_secs(10));
    assert_eq!(pings(&log), [] as [u64; 0], "stopped with the App");
}

#[test]
fn watchdog_variables() {
    let secs = |n| Some(Duration::from_secs(n));
    assert_eq!(watchdog_interval(None, None, 7).unwrap(), None);
    assert_eq!(
        watchdog_interval(Some("30000000"), None, 7).unwrap(),
        secs(30)
    );
    assert_eq!(
        watchdog_interval(Some("2000000"), Some("7"), 7).unwrap(),
        secs(2)
    );
    // Meant for another process.
    assert_eq!(
        watchdog_interval(Some("2000000"), Some("8"), 7).unwrap(),
        None
    );
    for bad in ["0", "-1", "ten", ""] {
        let err = watchdog_interval(Some(bad), None, 7).unwrap_err();
        assert!(matches!(err, NotifyError::WatchdogUsec(_)), "{bad}");
        assert!(err.to_string().starts_with("WATCHDOG_USEC="), "{err}");
    }
}

#[cfg(unix)]
#[test]
fn bad_socket_addresses_are_typed_errors() {
    for bad in ["vsock:2:1234", "relative/path"] {
        let err = super::connect(bad).err().expect("refused");
        assert!(matches!(err, NotifyError::Address(_)), "{bad}: {err}");
    }
    let missing = "/nonexistent-dir-steward/notify";
    let err = super::connect(missing).err().expect("refused");
    assert!(matches!(err, NotifyError::Connect(_)), "{err}");
}

#[cfg(unix)]
#[test]
fn messages_reach_a_bound_socket_and_an_abstract_one() {
    use std::os::unix::net::UnixDatagram;

    let path = std::env::temp_dir().join(format!("steward-notify-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let systemd = UnixDatagram::bind(&path).unwrap();
    let sink = super::connect(path.to_str().unwrap()).unwrap();
    sink("READY=1");
    let mut buf = [0; 64];
    let n = systemd.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"READY=1");
    std::fs::remove_file(&path).unwrap();

    #[cfg(target_os = "linux")]
    {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("steward-notify-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
        let systemd = UnixDatagram::bind_addr(&addr).unwrap();
        let sink = super::connect(&format!("@{name}")).unwrap();
        sink("STOPPING=1");
        let n = systemd.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1");
    }
}
