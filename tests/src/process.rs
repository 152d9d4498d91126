//! Driving real processes from tests: build an example binary, start it,
//! wait for what it prints, send it signals, wait for its exit, and talk
//! HTTP to it.
//!
//! Every wait has a deadline ([`DEADLINE`] unless set with
//! [`Process::with_deadline`]), so that a bug fails a test rather than
//! hanging it, and no wait sleeps: lines arrive on channels fed by reader
//! threads. A [`Process`] is killed when dropped, so a failing test leaves
//! nothing running.
//!
//! ```no_run
//! use std::process::Command;
//! use steward_tests::process::{cargo_bin, Process};
//!
//! let mut hello = Process::start(&mut Command::new(cargo_bin("steward-examples", "hello")));
//! hello.expect_line("ready");
//! hello.signal("TERM");
//! hello.expect_line("stopping: ");
//! let exit = hello.wait_exit();
//! assert_eq!(exit.status.code(), Some(0), "{exit:?}");
//! ```

use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The longest any one step (a line, an exit, an HTTP answer) may take by
/// default before the test fails: far above what a step takes on a loaded
/// machine, far below a hang worth waiting for.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Builds binary `bin` of workspace package `package` once per test run and
/// returns its path.
///
/// The build goes into the test's own target directory, with the test's
/// profile (and `--target`, when the test was cross-built), through the cargo
/// that runs the test (`$CARGO`), so it reuses what is already built and
/// never races another target directory. Concurrent callers wait for one
/// build.
///
/// # Panics
///
/// When the test binary is not in a cargo target directory, or the build
/// fails.
///
/// # Examples
///
/// ```no_run
/// let hello = steward_tests::process::cargo_bin("steward-examples", "hello");
/// assert!(hello.exists());
/// ```
#[must_use]
pub fn cargo_bin(package: &str, bin: &str) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<(String, String), PathBuf>>> = Mutex::new(None);
    // A panic in another test's build leaves the map as it was: still usable.
    let mut built = BUILT.lock().unwrap_or_else(PoisonError::into_inner);
    let built = built.get_or_insert_with(HashMap::new);
    let key = (package.to_owned(), bin.to_owned());
    if let Some(path) = built.get(&key) {
        return path.clone();
    }
    let path = build(package, bin);
    built.insert(key, path.clone());
    path
}

fn build(package: &str, bin: &str) -> PathBuf {
    // A test is `<target>[/<triple>]/<profile dir>/deps/<name>-<hash>`.
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("<target>/<profile>");
    let mut target_dir = profile_dir.parent().expect("<target>");
    // Cargo marks the root of a target directory with CACHEDIR.TAG; below
    // it, a directory named after the target triple when cross-building.
    let mut triple = None;
    if !target_dir.join("CACHEDIR.TAG").exists() {
        if let Some(parent) = target_dir.parent() {
            if parent.join("CACHEDIR.TAG").exists() {
                triple = target_dir.file_name().map(|name| name.to_owned());
                target_dir = parent;
            }
        }
    }
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev",
        Some(other) => other,
        None => panic!("no profile directory in {}", exe.display()),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--quiet", "-p", package, "--bin", bin])
        .args(["--profile", profile, "--target-dir"])
        .arg(target_dir);
    if let Some(triple) = &triple {
        command.arg("--target").arg(triple);
    }
    let status = command.status().expect("running cargo");
    assert!(status.success(), "cargo build of `{bin}` failed: {status}");
    let binary = profile_dir.join(format!("{bin}{}", std::env::consts::EXE_SUFFIX));
    assert!(binary.exists(), "no {} after the build", binary.display());
    binary
}

/// A port on 127.0.0.1 that nothing listened on a moment ago.
///
/// The system picks it (port 0), so it is not one a server of the machine
/// uses; another program could take it before the caller binds it, which on
/// a test machine does not happen in practice.
///
/// # Panics
///
/// When no port can be bound.
///
/// # Examples
///
/// ```
/// let port = steward_tests::process::free_port();
/// assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
/// ```
#[must_use]
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("binding 127.0.0.1:0")
        .port()
}

/// A child process whose standard output and error are read line by line on
/// two threads.
///
/// Lines of stdout are consumed in order by [`next_line`](Self::next_line),
/// [`expect_line`](Self::expect_line) and [`wait_for_line`](Self::wait_for_line);
/// lines of stderr by [`wait_for_stderr_line`](Self::wait_for_stderr_line).
/// Whatever a wait skipped or read is kept, and shown when a wait fails.
///
/// Dropping it kills the process (after a clean exit, a no-op).
///
/// # Examples
///
/// ```
/// use std::process::Command;
/// use steward_tests::process::Process;
///
/// let mut sh = Process::start(Command::new("sh").args(["-c", "echo one; echo two >&2; exit 3"]));
/// assert_eq!(sh.next_line().as_deref(), Some("one"));
/// let exit = sh.wait_exit();
/// assert_eq!(exit.status.code(), Some(3));
/// assert_eq!(exit.stderr, ["two"]);
/// ```
pub struct Process {
    child: Child,
    program: String,
    deadline: Duration,
    stdout: Lines,
    stderr: Lines,
}

/// One output stream: its unread lines, and what was read or skipped so far.
struct Lines {
    unread: Receiver<String>,
    read: Vec<String>,
    closed: bool,
}

impl Lines {
    fn new(stream: impl Read + Send + 'static) -> Lines {
        let (send, unread) = mpsc::channel();
        std::thread::spawn(move || {
            // Ends, dropping `send`, when the child closes the stream (by
            // exiting) or the `Process` is gone.
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Lines {
            unread,
            read: Vec::new(),
            closed: false,
        }
    }

    /// The next line, `Ok(None)` at the end of the stream, `Err(())` when
    /// `until` passes first.
    fn next(&mut self, until: Instant) -> Result<Option<String>, ()> {
        if self.closed {
            return Ok(None);
        }
        match self
            .unread
            .recv_timeout(until.saturating_duration_since(Instant::now()))
        {
            Ok(line) => {
                self.read.push(line.clone());
                Ok(Some(line))
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.closed = true;
                Ok(None)
            }
            Err(RecvTimeoutError::Timeout) => Err(()),
        }
    }

    /// Moves the lines that arrived already to `read`, without waiting.
    fn catch_up(&mut self) {
        while let Ok(line) = self.unread.try_recv() {
            self.read.push(line);
        }
    }

    /// All the lines until the end of the stream, or `Err` with those read
    /// when `until` passes first.
    fn rest(&mut self, until: Instant) -> Result<Vec<String>, Vec<String>> {
        let mut rest = Vec::new();
        loop {
            match self.next(until) {
                Ok(Some(line)) => rest.push(line),
                Ok(None) => return Ok(rest),
                Err(()) => return Err(rest),
            }
        }
    }
}

/// How a [`Process`] ended: its status and the lines it printed that no
/// wait had read.
#[derive(Debug)]
pub struct Exit {
    /// The exit status.
    pub status: ExitStatus,
    /// Lines of stdout not read by an earlier wait.
    pub stdout: Vec<String>,
    /// Lines of stderr not read by an earlier wait.
    pub stderr: Vec<String>,
}

impl Process {
    /// Starts `command` with stdin from `/dev/null` and stdout and stderr
    /// read into lines.
    ///
    /// # Panics
    ///
    /// When the program cannot be started.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Command;
    /// use steward_tests::process::Process;
    ///
    /// let mut echo = Process::start(Command::new("echo").arg("hi"));
    /// assert_eq!(echo.next_line().as_deref(), Some("hi"));
    /// ```
    #[must_use]
    pub fn start(command: &mut Command) -> Process {
        let program = command.get_program().to_string_lossy().into_owned();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("starting {program}: {err}"));
        let stdout = Lines::new(child.stdout.take().expect("piped stdout"));
        let stderr = Lines::new(child.stderr.take().expect("piped stderr"));
        Process {
            child,
            program,
            deadline: DEADLINE,
            stdout,
            stderr,
        }
    }

    /// Sets how long each later wait may take (default [`DEADLINE`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Command;
    /// use std::time::Duration;
    /// use steward_tests::process::Process;
    ///
    /// let mut t = Process::start(&mut Command::new("true")).with_deadline(Duration::from_secs(5));
    /// assert_eq!(t.next_line(), None);
    /// ```
    #[must_use]
    pub fn with_deadline(mut self, deadline: Duration) -> Process {
        self.deadline = deadline;
        self
    }

    /// The process id.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Command;
    /// use steward_tests::process::Process;
    ///
    /// let sleeper = Process::start(Command::new("sleep").arg("60"));
    /// assert!(sleeper.id() > 0);
    /// // Dropping it kills it.
    /// ```
    #[must_use]
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The next line of stdout, or `None` once the process closed its stdout
    /// (usually by exiting).
    ///
    /// # Panics
    ///
    /// When no line comes within the deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Command;
    /// use steward_tests::process::Process;
    ///
    /// let mut sh = Process::start(Command::new("sh").args(["-c", "echo a; echo b"]));
    /// assert_eq!(sh.next_line().as_deref(), Some("a"));
    /// assert_eq!(sh.next_line().as_deref(), Some("b"));
    /// assert_eq!(sh.next_line(), None);
    /// ```
    pub fn next_line(&mut self) -> Option<String> {
        let until = Instant::now() + self.deadline;
        match self.stdout.next(until) {
            Ok(line) => line,
            Err(()) => self.fail(&format!("no line within {:?}", self.deadline)),
        }
    }

    /// The next line of stdout, which must start with `prefix`.
    ///
    /// # Panics
    ///
    /// When the next line starts otherwise, the process closes its stdout,
    /// or no line comes within the deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Command;
    /// use steward_tests::process::Process;
    ///
    /// let mut echo = Process::start(Command::new("echo").arg("ready on 127.0.0.1:8080"));
    /// let line = echo.expect_line("ready on ");
    /// assert!(line.ends_with(":8080"));
    /// ```
    pub fn expect_line(&mut self, prefix: &str) -> String {
        match self.next_line() {
            Some(line) if line.starts_with(prefix) => line,
            Some(line) => self.fail(&format!(
                "expected a line starting with `{prefix}`, got `{line}`"
            )),
            None => self.fail(&format!("stdout closed before a `{prefix}` line")),
        }
    }

    /// Skips lines of stdout until one contains `needle`, and returns it.
    ///
    /// # Panics
    ///
    /// When no such line comes within the deadline (for the whole wait), or
    /// the process closes its stdout first.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Command;
    /// use steward_tests::process::Process;
    ///
    /// let mut sh = Process::start(Command::new("sh").args(["-c", "echo starting; echo listening on 7070"]));
    /// assert_eq!(sh.wait_for_line("listening"), "listening on 7070");
    /// ```
    pub fn wait_for_line(&mut self, needle: &str) -> String {
        let until = Instant::now() + self.deadline;
        loop {
            match self.stdout.next(until) {
                Ok(Some(line)) if line.contains(needle) => return line,
                Ok(Some(_)) => {}
                Ok(None) => self.fail(&format!("stdout closed before a line with `{needle}`")),
                Err(()) => self.fail(&format!(
                    "no line with `{needle}` within {:?}",
                    self.deadline
                )),
            }
        }
    }

    /// Skips lines of stdout until one contains `needle` and returns it, or
    /// returns `None` when the process closes its stdout first (usually by
    /// exiting: [`wait_exit`](Self::wait_exit) then tells how).
    ///
    /// For a program that may fail to start for a reason the caller can
    /// handle, such as a port taken in the meantime.
    ///
    /// # Panics
    ///
    /// When neither comes within the deadline (for the whole wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Command;
    /// use steward_tests::process::Process;
    ///
    /// let mut sh = Process::start(Command::new("sh").args(["-c", "echo starting; exit 1"]));
    /// assert_eq!(sh.wait_for_line_or_end("listening"), None);
    /// assert_eq!(sh.wait_exit().status.code(), Some(1));
    /// ```
    pub fn wait_for_line_or_end(&mut self, needle: &str) -> Option<String> {
        let until = Instant::now() + self.deadline;
        loop {
            match self.stdout.next(until) {
                Ok(Some(line)) if line.contains(needle) => return Some(line),
                Ok(Some(_)) => {}
                Ok(None) => return None,
                Err(()) => self.fail(&format!(
                    "no line with `{needle}` within {:?}",
                    self.deadline
                )),
            }
        }
    }

    /// Skips lines of stderr until one contains `needle`, and returns it
    /// (for programs that log there, as `tracing` does).
    ///
    /// # Panics
    ///
    /// As [`wait_for_line`](Self::wait_for_line).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Command;
    /// use steward_tests::process::Process;
    ///
    /// let mut sh = Process::start(Command::new("sh").args(["-c", "echo 'INFO started' >&2"]));
    /// assert_eq!(sh.wait_for_stderr_line("started"), "INFO started");
    /// ```
    pub fn wait_for_stderr_line(&mut self, needle: &str) -> String {
        let until = Instant::now() + self.deadline;
        loop {
            match self.stderr.next(until) {
                Ok(Some(line)) if line.contains(needle) => return line,
                Ok(Some(_)) => {}
                Ok(None) => self.fail(&format!("stderr closed before a line with `{needle}`")),
                Err(()) => self.fail(&format!(
                    "no stderr line with `{needle}` within {:?}",
                    self.deadline
                )),
            }
        }
    }

    /// Sends `signal` (a name as `kill -s` takes it: `TERM`, `INT`, `KILL`,
    /// `STOP`, `CONT`, ...) to the process.
    ///
    /// # Panics
    ///
    /// When `kill` fails (for instance, the process was already reaped).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Command;
    /// use steward_tests::process::Process;
    ///
    /// let mut sleeper = Process::start(Command::new("sleep").arg("60"));
    /// sleeper.signal("TERM");
    /// let exit = sleeper.wait_exit();
    /// # use std::os::unix::process::ExitStatusExt;
    /// assert_eq!(exit.status.signal(), Some(15));
    /// ```
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -s {signal} failed: {status}");
    }

    /// Waits for the process to exit: its status and the lines nobody read.
    ///
    /// The exit is seen as the end of both streams, then the status is
    /// collected; a program that hands its stdout or stderr to a child that
    /// outlives it is seen exiting only when that child does.
    ///
    /// # Panics
    ///
    /// When the process is still running after the deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Command;
    /// use steward_tests::process::Process;
    ///
    /// let mut sh = Process::start(Command::new("sh").args(["-c", "echo bye; exit 0"]));
    /// let exit = sh.wait_exit();
    /// assert!(exit.status.success());
    /// assert_eq!(exit.stdout, ["bye"]);
    /// ```
    pub fn wait_exit(&mut self) -> Exit {
        let until = Instant::now() + self.deadline;
        let stdout = match self.stdout.rest(until) {
            Ok(lines) => lines,
            Err(lines) => self.fail(&format!(
                "still running after {:?}; then printed {lines:?}",
                self.deadline
            )),
        };
        let stderr = match self.stderr.rest(until) {
            Ok(lines) => lines,
            Err(lines) => self.fail(&format!(
                "stderr still open after {:?}; then printed {lines:?}",
                self.deadline
            )),
        };
        // Both streams closed: the process has exited, or is exiting now.
        let status = self
            .child
            .wait()
            .unwrap_or_else(|err| panic!("waiting for {}: {err}", self.program));
        Exit {
            status,
            stdout,
            stderr,
        }
    }

    /// Kills the process (`SIGKILL`) and waits for it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Command;
    /// use steward_tests::process::Process;
    ///
    /// let mut sleeper = Process::start(Command::new("sleep").arg("60"));
    /// sleeper.kill();
    /// ```
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Everything read from stdout and stderr so far, for a failure message.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Command;
    /// use steward_tests::process::Process;
    ///
    /// let mut echo = Process::start(Command::new("echo").arg("hi"));
    /// echo.wait_exit();
    /// assert!(echo.transcript().contains("hi"));
    /// ```
    #[must_use]
    pub fn transcript(&mut self) -> String {
        self.stdout.catch_up();
        self.stderr.catch_up();
        format!(
            "{} (pid {})\n--- stdout\n{}\n--- stderr\n{}",
            self.program,
            self.child.id(),
            self.stdout.read.join("\n"),
            self.stderr.read.join("\n")
        )
    }

    /// Panics with `message` and the transcript, after killing the process.
    fn fail(&mut self, message: &str) -> ! {
        self.kill();
        // The kill closed both streams: read what is left, briefly.
        let until = Instant::now() + Duration::from_secs(2);
        let _ = self.stdout.rest(until);
        let _ = self.stderr.rest(until);
        panic!("{message}\n{}", self.transcript())
    }
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("program", &self.program)
            .field("id", &self.child.id())
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // A failed test leaves no process behind; after an exit, a no-op.
        self.kill();
    }
}

/// An HTTP response: status code, headers in order, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code, such as 200.
    pub status: u16,
    /// The header fields as sent (names as the server spelled them).
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked when it came chunked; empty for `HEAD`.
    pub body: Vec<u8>,
}

impl Response {
    /// The value of the first header named `name` (any case).
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_tests::process::Response;
    ///
    /// let response = Response {
    ///     status: 200,
    ///     headers: vec![("Content-Type".into(), "text/plain".into())],
    ///     body: b"ok".to_vec(),
    /// };
    /// assert_eq!(response.header("content-type"), Some("text/plain"));
    /// ```
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_tests::process::Response;
    ///
    /// let response = Response { status: 200, headers: vec![], body: b"ok".to_vec() };
    /// assert_eq!(response.text(), "ok");
    /// ```
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `GET path` over HTTP/1.1 from `addr`; see [`http_request`].
///
/// # Errors
///
/// As [`http_request`].
///
/// # Examples
///
/// ```no_run
/// let response = steward_tests::process::http_get("127.0.0.1:8080", "/readyz").unwrap();
/// assert_eq!((response.status, response.text().as_str()), (200, "ok"));
/// ```
pub fn http_get(addr: impl ToSocketAddrs, path: &str) -> io::Result<Response> {
    http_request(addr, "GET", path, &[])
}

/// A tiny HTTP/1.1 client: sends one request with `Connection: close` and
/// the given extra headers, reads the response to the end of the stream
/// (within [`DEADLINE`]) and parses it.
///
/// For tests of a server of the project's own, not a general client: it
/// reads the whole response into memory, and understands a `chunked` body
/// or one delimited by the end of the stream.
///
/// # Errors
///
/// When connecting, writing or reading fails or times out, or the response
/// is not well-formed HTTP/1.x (`InvalidData`).
///
/// # Examples
///
/// ```no_run
/// use steward_tests::process::http_request;
///
/// let response = http_request(
///     "127.0.0.1:8080",
///     "HEAD",
///     "/health",
///     &[("Accept", "application/health+json")],
/// )
/// .unwrap();
/// assert!(response.body.is_empty());
/// ```
pub fn http_request(
    addr: impl ToSocketAddrs,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> io::Result<Response> {
    let addr: SocketAddr = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, DEADLINE)?;
    stream.set_read_timeout(Some(DEADLINE))?;
    stream.set_write_timeout(Some(DEADLINE))?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

fn parse_response(raw: &[u8]) -> io::Result<Response> {
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| invalid("no end of the header"))?;
    let head = std::str::from_utf8(&raw[..head_end]).map_err(|_| invalid("header not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(invalid("bad status line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(invalid("not HTTP/1.x"));
    }
    let status = code.parse().map_err(|_| invalid("bad status code"))?;
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').ok_or_else(|| invalid("bad header"))?;
            Ok((name.to_owned(), value.trim().to_owned()))
        })
        .collect::<io::Result<Vec<_>>>()?;
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let body = &raw[head_end + 4..];
    response.body = match response.header("transfer-encoding") {
        Some(coding) if coding.eq_ignore_ascii_case("chunked") => dechunk(body)?,
        _ => body.to_vec(),
    };
    Ok(response)
}

fn dechunk(mut body: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| invalid("bad chunk size line"))?;
        let size_line = std::str::from_utf8(&body[..line_end]).map_err(|_| invalid("bad chunk"))?;
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| invalid("bad chunk size"))?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out); // trailers, if any, are ignored
        }
        if body.len() < size + 2 {
            return Err(invalid("truncated chunk"));
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_chunked_response() {
        let raw = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n\
                    Transfer-Encoding: chunked\r\n\r\n4\r\n[-]d\r\n3;x=y\r\nb f\r\n0\r\n\r\n";
        let response = parse_response(raw).unwrap();
        assert_eq!(response.status, 503);
        assert_eq!(response.header("CONTENT-TYPE"), Some("text/plain"));
        assert_eq!(response.text(), "[-]db f");
    }

    #[test]
    fn refuses_what_is_not_http() {
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nno end").is_err());
    }

    #[test]
    fn talks_to_a_server() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream);
            let mut request = Vec::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" {
                    break;
                }
                request.push(line.trim_end().to_owned());
            }
            reader
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .unwrap();
            request
        });
        let response =
            http_request(addr, "GET", "/livez?verbose", &[("Accept", "text/plain")]).unwrap();
        assert_eq!((response.status, response.text().as_str()), (200, "ok"));
        let request = server.join().unwrap();
        assert_eq!(request[0], "GET /livez?verbose HTTP/1.1");
        assert!(
            request.contains(&"Connection: close".to_owned()),
            "{request:?}"
        );
        assert!(
            request.contains(&"Accept: text/plain".to_owned()),
            "{request:?}"
        );
    }
}
