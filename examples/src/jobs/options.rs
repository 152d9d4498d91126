//! The command line both job services share.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use steward_core::Lifecycle;

/// The settings of a job service, from its command line.
///
/// ```text
/// --listen ADDR       the job listener        (127.0.0.1:7070)
/// --probe-addr ADDR   the probe endpoints     (127.0.0.1:8080)
/// --data DIR          journal and done.log    (./data)
/// --work-ms N         simulated work per job  (20)
/// --workers N         jobs worked at once     (4)
/// --pre-stop-ms N     delay between readiness failing and the drain
///                     (the App's default: 0, or 5 s in Kubernetes)
/// --grace-ms N        the budget from signal to exit (the App's: 25 s)
/// --queue N           jobs acknowledged and not done, at most (1024):
///                     past it clients are not read and readiness fails
/// --max-connections N job clients at once (1024, at most half the
///                     process's file descriptor limit)
/// --idle-ms N         a client that sends no whole line for this long
///                     is closed (30000)
/// --compact-after N   completed jobs that make a compaction due (10000)
/// --stuck-ms N        journal writes failing this long fail liveness
///                     (60000)
/// ```
///
/// # Examples
///
/// ```
/// use steward_examples::jobs::Options;
///
/// let args = ["--work-ms", "5", "--redis-url", "redis://127.0.0.1"].map(String::from);
/// let (options, rest) = Options::parse(args).unwrap();
/// assert_eq!(options.work, std::time::Duration::from_millis(5));
/// assert_eq!(options.listen.to_string(), "127.0.0.1:7070");
/// assert_eq!(rest, [("--redis-url".to_string(), "redis://127.0.0.1".to_string())]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Where clients send jobs.
    pub listen: SocketAddr,
    /// Where the probe endpoints are served.
    pub probe_addr: SocketAddr,
    /// The data directory: `journal.log` and `done.log`.
    pub data: PathBuf,
    /// The simulated work of one job, slept on the runtime's clock.
    pub work: Duration,
    /// How many workers take jobs from the queue.
    pub workers: usize,
    /// The pre-stop delay, when set.
    pub pre_stop: Option<Duration>,
    /// The shutdown budget, when set.
    pub grace: Option<Duration>,
    /// The most jobs acknowledged and not yet done.
    pub queue: usize,
    /// The most job clients served at once.
    pub max_connections: usize,
    /// How long a client may go without sending a whole line.
    pub idle: Duration,
    /// How many completed jobs make a compaction due.
    pub compact_after: u64,
    /// How long journal writes may fail before liveness fails.
    pub stuck: Duration,
}

/// A command line that [`Options::parse`] refused, or a request for help.
///
/// # Examples
///
/// ```
/// use steward_examples::jobs::{Options, UsageError};
///
/// assert_eq!(Options::parse(["--help".to_string()]).unwrap_err(), UsageError::Help);
/// let err = Options::parse(["--workers".to_string(), "0".to_string()]).unwrap_err();
/// assert_eq!(err.to_string(), "--workers 0: at least one worker");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageError {
    /// `--help` or `-h`.
    Help,
    /// What is wrong with the command line.
    Invalid(String),
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::Help => f.write_str("help requested"),
            UsageError::Invalid(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for UsageError {}

impl Default for Options {
    fn default() -> Self {
        Options {
            listen: ([127, 0, 0, 1], 7070).into(),
            probe_addr: ([127, 0, 0, 1], 8080).into(),
            data: PathBuf::from("data"),
            work: Duration::from_millis(20),
            workers: 4,
            pre_stop: None,
            grace: None,
            queue: 1024,
            max_connections: default_max_connections(),
            idle: Duration::from_secs(30),
            compact_after: 10_000,
            stuck: Duration::from_secs(60),
        }
    }
}

/// 1024, or half the process's soft limit on file descriptors when that is
/// lower: idle clients never take the descriptors the rest needs.
fn default_max_connections() -> usize {
    #[cfg(unix)]
    {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
        let half = limit.map_or(usize::MAX, |n| usize::try_from(n / 2).unwrap_or(usize::MAX));
        half.clamp(1, 1024)
    }
    #[cfg(not(unix))]
    {
        1024
    }
}

impl Options {
    /// The flags shared by both services, as printed by `--help`.
    pub const USAGE: &'static str = "[--listen ADDR] [--probe-addr ADDR] [--data DIR] \
        [--work-ms N] [--workers N] [--pre-stop-ms N] [--grace-ms N] [--queue N] \
        [--max-connections N] [--idle-ms N] [--compact-after N] [--stuck-ms N]";

    /// Parses `--flag value` (or `--flag=value`) pairs; returns the flags it
    /// does not know, in order, for the program's own.
    ///
    /// # Errors
    ///
    /// [`UsageError::Help`] for `--help`; [`UsageError::Invalid`] for a flag
    /// without a value or a value that does not parse.
    ///
    /// # Examples
    ///
    /// See [`Options`].
    pub fn parse(
        args: impl IntoIterator<Item = String>,
    ) -> Result<(Options, Vec<(String, String)>), UsageError> {
        let mut options = Options::default();
        let mut rest = Vec::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "--help" || arg == "-h" {
                return Err(UsageError::Help);
            }
            let (flag, value) = match arg.split_once('=') {
                Some((flag, value)) => (flag.to_owned(), value.to_owned()),
                None => {
                    let value = args.next();
                    let value = value.ok_or_else(|| invalid(&arg, "", "needs a value"))?;
                    (arg, value)
                }
            };
            let ms = |value: &str| {
                value
                    .parse()
                    .map(Duration::from_millis)
                    .map_err(|e| invalid(&flag, value, e))
            };
            match flag.as_str() {
                "--listen" => {
                    options.listen = value.parse().map_err(|e| invalid(&flag, &value, e))?
                }
                "--probe-addr" => {
                    options.probe_addr = value.parse().map_err(|e| invalid(&flag, &value, e))?;
                }
                "--data" => options.data = PathBuf::from(value),
                "--work-ms" => options.work = ms(&value)?,
                "--pre-stop-ms" => options.pre_stop = Some(ms(&value)?),
                "--grace-ms" => options.grace = Some(ms(&value)?),
                "--workers" => options.workers = positive(&flag, &value, "at least one worker")?,
                "--queue" => options.queue = positive(&flag, &value, "at least one job")?,
                "--max-connections" => {
                    options.max_connections = positive(&flag, &value, "at least one client")?;
                }
                "--compact-after" => {
                    options.compact_after = positive(&flag, &value, "at least one job")? as u64;
                }
                "--idle-ms" => options.idle = ms(&value)?,
                "--stuck-ms" => options.stuck = ms(&value)?,
                _ => rest.push((flag, value)),
            }
        }
        Ok((options, rest))
    }

    /// Applies the pre-stop delay and the budget, when set, to `app`.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_examples::jobs::Options;
    ///
    /// let args = ["--grace-ms", "3000"].map(String::from);
    /// let (options, _) = Options::parse(args).unwrap();
    /// let app = options.configure(steward_core::App::new());
    /// assert_eq!(app.budget().as_secs(), 3);
    /// ```
    #[must_use]
    pub fn configure<P>(&self, mut app: Lifecycle<P>) -> Lifecycle<P> {
        if let Some(delay) = self.pre_stop {
            app = app.pre_stop(delay);
        }
        if let Some(budget) = self.grace {
            app = app.grace(budget);
        }
        app
    }
}

/// A count of at least one.
fn positive(flag: &str, value: &str, why: &str) -> Result<usize, UsageError> {
    match value.parse() {
        Ok(0) => Err(invalid(flag, value, why)),
        Ok(n) => Ok(n),
        Err(e) => Err(invalid(flag, value, e)),
    }
}

fn invalid(flag: &str, value: &str, why: impl fmt::Display) -> UsageError {
    if value.is_empty() {
        UsageError::Invalid(format!("{flag} {why}"))
    } else {
        UsageError::Invalid(format!("{flag} {value}: {why}"))
    }
}
