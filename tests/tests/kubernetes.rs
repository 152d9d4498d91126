//! The Kubernetes manifest in `deploy/kubernetes/service.yaml`, played by a
//! kubelet of the test's own against the `service` example.
//!
//! - `manifest_follows_the_rules`: the rules written at the top of the
//!   manifest hold: the App's budget fits in `terminationGracePeriodSeconds`
//!   with 5 s to spare, and the pre-stop delay outlasts the readiness
//!   probe's detection time; the three probes are on the App's paths.
//! - `a_rollout_under_load`: the example starts with the container's args
//!   and env (addresses and data directory the test's own); the kubelet
//!   runs the startup probe, then the readiness and liveness probes with the
//!   manifest's periods, timeouts and thresholds; an "endpoints" flag routes
//!   clients to the pod while readiness passes and stops routing after
//!   `failureThreshold` failures; clients send jobs through the endpoints;
//!   SIGTERM; SIGKILL at `terminationGracePeriodSeconds`. Asserts: no
//!   request sent while the endpoints still routed to the pod is refused or
//!   dropped unanswered, the process exits 0 before the SIGKILL, the
//!   liveness probe never fails, and every acknowledged job is done once the
//!   pod's data is served again (a restart on the same data directory, as a
//!   new pod on the same volume). `a_rollout_under_load_on_tokio`: the
//!   same with `service-tokio` in the container.
//!
//! Time is scaled: every duration of the manifest and of the App's flags
//! (`--grace-ms`, `--pre-stop-ms`) is divided by [`SCALE`], so the test
//! takes seconds; the ratios the rules rely on are kept.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown as Half, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize as _;
use serde_yaml::Value;
use steward_tests::process::{cargo_bin, free_port, Process};

/// The manifest's durations are divided by this.
const SCALE: u32 = 2;

/// What the manifest's rule 1 leaves for the report and the exit.
const EXIT_SLACK: Duration = Duration::from_secs(5);

/// How long the clients send jobs before the SIGTERM.
const LOAD: Duration = Duration::from_secs(1);

/// A deadline for what is not a rule of the manifest (a restart's
/// catch-up), generous for a loaded machine.
const DEADLINE: Duration = Duration::from_secs(60);

fn manifest() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kubernetes/service.yaml");
    let text = std::fs::read_to_string(path).expect("the manifest");
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).expect("YAML"))
        .collect()
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"].as_str() == Some(kind))
        .unwrap_or_else(|| panic!("a {kind} in the manifest"))
}

fn secs(v: &Value, what: &str) -> Duration {
    Duration::from_secs(v.as_u64().unwrap_or_else(|| panic!("{what}: seconds")))
}

/// A probe of the container, as the kubelet reads it (Kubernetes' defaults
/// for what is left out).
#[derive(Debug, Clone)]
struct ProbeSpec {
    path: String,
    period: Duration,
    timeout: Duration,
    success: u32,
    failure: u32,
}

impl ProbeSpec {
    fn read(container: &Value, name: &str) -> ProbeSpec {
        let p = &container[name];
        assert_eq!(
            p["httpGet"]["port"].as_str(),
            Some("probes"),
            "{name} on the probe port"
        );
        let or = |key: &str, default: u64| p[key].as_u64().unwrap_or(default);
        ProbeSpec {
            path: p["httpGet"]["path"].as_str().expect("a path").to_owned(),
            period: Duration::from_secs(or("periodSeconds", 10)),
            timeout: Duration::from_secs(or("timeoutSeconds", 1)),
            success: u32::try_from(or("successThreshold", 1)).unwrap(),
            failure: u32::try_from(or("failureThreshold", 3)).unwrap(),
        }
    }

    fn scaled(mut self) -> ProbeSpec {
        self.period /= SCALE;
        self.timeout /= SCALE;
        self
    }
}

/// The pod as the manifest describes it.
struct Pod {
    args: Vec<String>,
    env: Vec<(String, String)>,
    grace_period: Duration,
    startup: ProbeSpec,
    liveness: ProbeSpec,
    readiness: ProbeSpec,
}

impl Pod {
    fn read() -> Pod {
        let docs = manifest();
        let deployment = kind(&docs, "Deployment");
        let spec = &deployment["spec"]["template"]["spec"];
        let container = &spec["containers"][0];
        let args = container["args"]
            .as_sequence()
            .expect("args")
            .iter()
            .map(|a| a.as_str().expect("a string arg").to_owned())
            .collect();
        let env = container["env"]
            .as_sequence()
            .map(|env| {
                env.iter()
                    .map(|e| {
                        let name = e["name"].as_str().unwrap().to_owned();
                        (name, e["value"].as_str().unwrap().to_owned())
                    })
                    .collect()
            })
            .unwrap_or_default();
        let service = kind(&docs, "Service");
        assert_eq!(
            service["spec"]["ports"][0]["targetPort"].as_str(),
            Some("jobs")
        );
        Pod {
            args,
            env,
            grace_period: secs(&spec["terminationGracePeriodSeconds"], "grace period"),
            startup: ProbeSpec::read(container, "startupProbe"),
            liveness: ProbeSpec::read(container, "livenessProbe"),
            readiness: ProbeSpec::read(container, "readinessProbe"),
        }
    }

    /// The value of `--flag` in the container's args.
    fn arg(&self, flag: &str) -> &str {
        let at = self.args.iter().position(|a| a == flag).expect(flag);
        &self.args[at + 1]
    }

    fn millis(&self, flag: &str) -> Duration {
        Duration::from_millis(self.arg(flag).parse().expect(flag))
    }
}

#[test]
fn manifest_follows_the_rules() {
    let pod = Pod::read();
    let (budget, pre_stop) = (pod.millis("--grace-ms"), pod.millis("--pre-stop-ms"));
    // Rule 1 (no preStop hook: the App's own delay is used).
    let docs = manifest();
    let container = &kind(&docs, "Deployment")["spec"]["template"]["spec"]["containers"][0];
    assert!(
        container["lifecycle"]["preStop"].is_null(),
        "the App's pre-stop, no hook"
    );
    assert!(
        budget + EXIT_SLACK <= pod.grace_period,
        "{budget:?} + {EXIT_SLACK:?} > {:?}",
        pod.grace_period
    );
    assert!(
        pre_stop < budget,
        "the pre-stop delay is part of the budget"
    );
    // Rule 2: readiness fails for good at the trigger; the kubelet sees it
    // within failureThreshold periods plus one probe's timeout.
    let r = &pod.readiness;
    let detect = r.period * r.failure + r.timeout;
    assert!(
        pre_stop >= detect,
        "pre-stop {pre_stop:?} < detection {detect:?}"
    );
    // Rule 3 and the paths.
    assert!(pod.startup.period * pod.startup.failure >= Duration::from_secs(30));
    assert_eq!(
        [
            &*pod.startup.path,
            &*pod.liveness.path,
            &*pod.readiness.path
        ],
        ["/startupz", "/livez", "/readyz"]
    );
}

/// One probe, as the kubelet's HTTP prober does it: success is a status in
/// 200..400 within the timeout.
fn probe(addr: SocketAddr, spec: &ProbeSpec) -> bool {
    let attempt = || -> std::io::Result<bool> {
        let mut stream = TcpStream::connect_timeout(&addr, spec.timeout)?;
        stream.set_read_timeout(Some(spec.timeout))?;
        stream.set_write_timeout(Some(spec.timeout))?;
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n",
            spec.path
        );
        stream.write_all(request.as_bytes())?;
        let mut head = [0; 12];
        stream.read_exact(&mut head)?;
        let status: u16 = std::str::from_utf8(&head[9..12])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Ok((200..400).contains(&status))
    };
    attempt().unwrap_or(false)
}

/// How one client request through the endpoints ended.
#[derive(Debug)]
enum Outcome {
    Acked(u64),
    /// Refused, reset, or closed without an answer.
    Failed(String),
}

fn send_job(addr: SocketAddr, payload: &str) -> Outcome {
    let attempt = || -> std::io::Result<Outcome> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(format!("{payload}\n").as_bytes())?;
        stream.shutdown(Half::Write)?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line)?;
        Ok(
            match line
                .trim()
                .strip_prefix("ok ")
                .and_then(|id| id.parse().ok())
            {
                Some(id) => Outcome::Acked(id),
                None => Outcome::Failed(format!("answered {line:?}")),
            },
        )
    };
    attempt().unwrap_or_else(|e| Outcome::Failed(e.to_string()))
}

/// Starts the example with the pod's args, scaled, on the test's own
/// addresses; returns it with its job and probe addresses.
fn start_pod(bin: &str, pod: &Pod, data: &Path) -> (Process, SocketAddr, SocketAddr) {
    for _ in 0..5 {
        let probe = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut args = pod.args.clone();
        for (flag, value) in [
            ("--listen", "127.0.0.1:0".to_owned()),
            ("--probe-addr", probe.to_string()),
            ("--data", data.display().to_string()),
            (
                "--grace-ms",
                (pod.millis("--grace-ms") / SCALE).as_millis().to_string(),
            ),
            (
                "--pre-stop-ms",
                (pod.millis("--pre-stop-ms") / SCALE)
                    .as_millis()
                    .to_string(),
            ),
        ] {
            let at = args.iter().position(|a| a == flag).expect(flag);
            args[at + 1] = value;
        }
        let mut command = Command::new(cargo_bin("steward-examples", bin));
        command
            .args(&args)
            .envs(pod.env.iter().cloned())
            // What the kubelet sets in every pod.
            .env("KUBERNETES_SERVICE_HOST", "10.96.0.1")
            .env("KUBERNETES_SERVICE_PORT", "443")
            .env("NO_COLOR", "1");
        let mut process = Process::start(&mut command);
        if let Some(line) = process.wait_for_line_or_end("listening on") {
            let listen = line.rsplit(' ').next().unwrap().parse().unwrap();
            return (process, listen, probe);
        }
        // The probe port was taken by another test's process: again.
    }
    panic!("the pod did not start in five attempts");
}

struct DataDir(PathBuf);

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The kubelet's view of one probe: consecutive results against thresholds.
struct Prober {
    spec: ProbeSpec,
    passing: AtomicBool,
    /// Times the failure threshold was reached.
    tripped: AtomicU64,
}

impl Prober {
    fn new(spec: ProbeSpec, passing: bool) -> Prober {
        Prober {
            spec,
            passing: AtomicBool::new(passing),
            tripped: AtomicU64::new(0),
        }
    }

    /// Probes every period until `stop`; `on_change` sees each flip.
    fn run(&self, addr: SocketAddr, stop: &AtomicBool, on_change: impl Fn(bool)) {
        let (mut successes, mut failures) = (0, 0);
        while !stop.load(Ordering::SeqCst) {
            let next = Instant::now() + self.spec.period;
            if probe(addr, &self.spec) {
                (successes, failures) = (successes + 1, 0);
                if successes >= self.spec.success && !self.passing.swap(true, Ordering::SeqCst) {
                    on_change(true);
                }
            } else {
                (successes, failures) = (0, failures + 1);
                if failures == self.spec.failure {
                    self.tripped.fetch_add(1, Ordering::SeqCst);
                    if self.passing.swap(false, Ordering::SeqCst) {
                        on_change(false);
                    }
                }
            }
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
    }
}

#[test]
fn a_rollout_under_load() {
    rollout("service");
}

/// The same manifest with the tokio build of the example.
#[test]
fn a_rollout_under_load_on_tokio() {
    rollout("service-tokio");
}

fn rollout(bin: &str) {
    let pod = Pod::read();
    let grace_period = pod.grace_period / SCALE;
    let data =
        DataDir(std::env::temp_dir().join(format!("steward-k8s-{bin}-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&data.0);
    let (mut process, listen, probe_addr) = start_pod(bin, &pod, &data.0);
    let t0 = Instant::now();

    // The startup probe, until it passes (liveness and readiness wait for it).
    let startup = pod.startup.clone().scaled();
    let mut failures = 0;
    while !probe(probe_addr, &startup) {
        failures += 1;
        assert!(
            failures < startup.failure,
            "the startup probe failed {failures} times"
        );
        std::thread::sleep(startup.period);
    }
    let started_after = t0.elapsed();

    let readiness = Prober::new(pod.readiness.clone().scaled(), false);
    let liveness = Prober::new(pod.liveness.clone().scaled(), true);
    let stop = AtomicBool::new(false);
    let sigterm_at = Mutex::new(None::<Instant>);
    let removed_at = Mutex::new(None::<Instant>);
    let (acked, failed) = (Mutex::new(Vec::new()), Mutex::new(Vec::new()));
    let unrouted = AtomicU64::new(0);
    let sent = AtomicU64::new(0);
    let exited = AtomicBool::new(false);

    let (exit, exited_after) = std::thread::scope(|s| {
        s.spawn(|| {
            readiness.run(probe_addr, &stop, |ready| {
                if !ready {
                    *removed_at.lock().unwrap() = Some(Instant::now());
                }
            });
        });
        s.spawn(|| liveness.run(probe_addr, &stop, |_| {}));
        for client in 0..3 {
            let (readiness, stop, acked, failed, unrouted, sent) =
                (&readiness, &stop, &acked, &failed, &unrouted, &sent);
            s.spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    // The endpoints: the pod gets the request only while
                    // the kubelet holds it ready.
                    if !readiness.passing.load(Ordering::SeqCst) {
                        unrouted.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                    n += 1;
                    let payload = format!("job {client}-{n}");
                    sent.fetch_add(1, Ordering::SeqCst);
                    match send_job(listen, &payload) {
                        Outcome::Acked(id) => acked.lock().unwrap().push((id, payload)),
                        Outcome::Failed(why) => failed.lock().unwrap().push((payload, why)),
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
            });
        }

        // Load, then the rollout's SIGTERM, and the kubelet's SIGKILL timer.
        let routed = Instant::now() + DEADLINE;
        while !readiness.passing.load(Ordering::SeqCst) {
            assert!(Instant::now() < routed, "never ready");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(LOAD);
        let term = Instant::now();
        *sigterm_at.lock().unwrap() = Some(term);
        process.signal("TERM");
        let pid = process.id();
        let exited = &exited;
        s.spawn(move || {
            while term.elapsed() < grace_period {
                if exited.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            if !exited.load(Ordering::SeqCst) {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        });
        let exit = process.wait_exit();
        let after = term.elapsed();
        exited.store(true, Ordering::SeqCst);
        stop.store(true, Ordering::SeqCst);
        (exit, after)
    });

    let term = sigterm_at.lock().unwrap().unwrap();
    let removed = removed_at
        .lock()
        .unwrap()
        .map(|at| at.saturating_duration_since(term));
    let (acked, failed) = (acked.into_inner().unwrap(), failed.into_inner().unwrap());
    eprintln!(
        "kubelet ({bin}): startup probe passed after {:?}; {} requests routed, {} acked, {} failed; endpoints removed {:?} after SIGTERM; \
         exit after {:?} (SIGKILL at {:?}); {} client turns unrouted",
        started_after,
        sent.load(Ordering::SeqCst),
        acked.len(),
        failed.len(),
        removed,
        exited_after,
        grace_period,
        unrouted.load(Ordering::SeqCst),
    );
    assert_eq!(
        exit.status.code(),
        Some(0),
        "exit 0 before the SIGKILL: {exit:?}"
    );
    assert!(
        exited_after < grace_period,
        "{exited_after:?} ≥ {grace_period:?}"
    );
    assert!(
        failed.is_empty(),
        "requests routed to the pod and refused: {failed:?}"
    );
    assert!(removed.is_some(), "readiness failed during the drain");
    assert_eq!(
        liveness.tripped.load(Ordering::SeqCst),
        0,
        "the liveness probe failed"
    );
    assert!(!acked.is_empty(), "jobs were sent");

    // No acknowledged job lost: the next pod on the same volume does the rest.
    let (mut process, _, _) = start_pod(bin, &pod, &data.0);
    let done_log = data.0.join("done.log");
    let until = Instant::now() + DEADLINE;
    loop {
        let done = std::fs::read_to_string(&done_log).unwrap_or_default();
        let done: std::collections::HashMap<u64, String> = done
            .lines()
            .filter_map(|l| {
                let (id, payload) = l.split_once(' ')?;
                Some((id.parse().ok()?, payload.to_owned()))
            })
            .collect();
        let missing: Vec<_> = acked
            .iter()
            .filter(|(id, p)| done.get(id) != Some(p))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < until,
            "acknowledged and never done: {missing:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    process.signal("TERM");
    assert_eq!(process.wait_exit().status.code(), Some(0));
}
