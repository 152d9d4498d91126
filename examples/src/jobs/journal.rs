//! The journal: a handle to one writer thread that owns the files and
//! commits in groups.
//!
//! fsync blocks its thread for as long as the disk takes, so it runs on a
//! thread of its own rather than on an executor's; a channel of requests
//! makes that thread runtime-neutral. Group commit: the thread takes every
//! request that is waiting, writes them, fsyncs each file once for all of
//! them, then answers each. While it waits on the disk new requests queue
//! up, so the more clients write at once, the more jobs share one fsync.
//!
//! Between commits the thread compacts the files when completed jobs
//! dominate (see [`Journal::open`]). A failed write (a full disk, an I/O
//! error) fails its requests only: the next write first repairs the log,
//! so the journal recovers by itself once the disk takes writes again;
//! meanwhile [`Journal::failing_since`] tells how long it has been failing.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender};
use steward_core::health::{CheckOutcome, HealthCheck};

use super::files::Files;
use super::Job;

/// At most this many requests share one commit.
const MAX_BATCH: usize = 4096;

/// After a compaction failed, the next try waits this long.
const COMPACTION_RETRY: Duration = Duration::from_secs(5);

/// A cloneable handle to the journal's writer thread.
///
/// # Examples
///
/// ```
/// use futures_lite::future::block_on;
/// use steward_examples::jobs::Journal;
///
/// let dir = std::env::temp_dir().join(format!("journal-doc-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// block_on(async {
///     let (journal, pending) = Journal::open(dir.clone(), 1000).await?;
///     assert!(pending.is_empty());
///     let jobs = journal.accept(vec!["resize photo".into()]).await?; // durable now
///     journal.close().await?;
///
///     let (journal, pending) = Journal::open(dir.clone(), 1000).await?;
///     assert_eq!(pending, jobs); // accepted, not done: resumed
///     journal.complete(pending[0].clone()).await?;
///     assert_eq!(journal.failing_since(), None);
///     journal.close().await?;
///
///     let (journal, pending) = Journal::open(dir.clone(), 1000).await?;
///     assert!(pending.is_empty());
///     journal.close().await?;
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Journal {
    requests: Sender<Request>,
    /// Receives the final fsync's result when the thread ends.
    closed: Receiver<Result<(), JournalError>>,
    status: Arc<Status>,
}

/// What the writer thread tells the handles.
#[derive(Default)]
struct Status {
    /// How many fsyncs of `journal.log` recorded accepted jobs.
    syncs: AtomicU64,
    /// Since when every write has failed, and the last error; `None` while
    /// writes succeed.
    failing: Mutex<Option<(Instant, String)>>,
}

impl Status {
    fn failing(&self) -> Option<(Instant, String)> {
        self.failing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records the outcome of the writes of one commit. Once failing, only
    /// a probe clears it: a short write may still fit in the last block of
    /// a log on a full disk, a probe takes a new block.
    fn record(&self, error: Option<&JournalError>, probed: bool) {
        let mut failing = self.failing.lock().unwrap_or_else(PoisonError::into_inner);
        match (error, failing.as_mut()) {
            (None, Some(_)) if probed => {
                tracing::info!("journal writes succeed again");
                *failing = None;
            }
            (None, _) => {}
            (Some(e), Some((_, last))) => *last = e.to_string(),
            (Some(e), None) => *failing = Some((Instant::now(), e.to_string())),
        }
    }
}

enum Request {
    Accept(Vec<String>, Sender<Result<Vec<Job>, JournalError>>),
    Complete(Job, Sender<Result<(), JournalError>>),
    Probe(Sender<Result<(), JournalError>>),
}

/// Why the journal could not record something.
///
/// # Examples
///
/// ```
/// use steward_examples::jobs::JournalError;
///
/// assert_eq!(JournalError::Closed.to_string(), "the journal is closed");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum JournalError {
    /// A write or fsync failed (the disk is full, say). Nothing of the
    /// request counts; the next write repairs the log first, so a later
    /// request may succeed.
    Io(Arc<io::Error>),
    /// The journal is closed (the service is stopping).
    Closed,
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalError::Io(e) => write!(f, "journal write failed: {e}"),
            JournalError::Closed => f.write_str("the journal is closed"),
        }
    }
}

impl std::error::Error for JournalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JournalError::Io(e) => Some(&**e),
            JournalError::Closed => None,
        }
    }
}

impl Journal {
    /// Locks `dir` (creating it) and opens the journal there on a new writer
    /// thread; returns it with the jobs accepted and not done, in id order.
    ///
    /// Once at least `compact_after` jobs were completed since the last
    /// compaction and they make at least half of the journal, the thread
    /// drops them from the journal and archives `done.log` as
    /// `done-NNNNNN.log` (crash-safe at every step), so that an open reads
    /// only the pending jobs and the few completed since.
    ///
    /// # Errors
    ///
    /// Naming the path: when the directory is locked by another process
    /// (the message names its pid), or it or a file cannot be created or
    /// read, or a log holds a line that is not `<id> <payload>` (a torn last
    /// line is not an error: it is cut off).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future lets the thread finish opening, then end.
    ///
    /// # Examples
    ///
    /// See [`Journal`].
    pub async fn open(dir: PathBuf, compact_after: u64) -> io::Result<(Journal, Vec<Job>)> {
        let (opened_tx, opened) = async_channel::bounded(1);
        let (requests, requests_rx) = async_channel::unbounded();
        let (closed_tx, closed) = async_channel::bounded(1);
        let status = Arc::new(Status::default());
        let shared = Arc::clone(&status);
        std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || match Files::open(&dir) {
                Ok((files, pending)) => {
                    let _ = opened_tx.send_blocking(Ok(pending));
                    let synced = writer(files, &requests_rx, &shared, compact_after);
                    let _ = closed_tx.send_blocking(synced);
                }
                Err(e) => drop(opened_tx.send_blocking(Err(e))),
            })?;
        let pending = opened
            .recv()
            .await
            .map_err(|_| io::Error::other("the journal thread ended while opening"))??;
        let journal = Journal {
            requests,
            closed,
            status,
        };
        Ok((journal, pending))
    }

    /// Records new jobs durably, numbered in order, and returns them.
    ///
    /// # Errors
    ///
    /// [`JournalError`]: then none of them may be acknowledged.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future does not withdraw the jobs: they may be recorded
    /// (and so done, later) without anyone told their ids.
    ///
    /// # Examples
    ///
    /// See [`Journal`].
    pub async fn accept(&self, payloads: Vec<String>) -> Result<Vec<Job>, JournalError> {
        let (reply, answer) = async_channel::bounded(1);
        self.ask(Request::Accept(payloads, reply), answer).await
    }

    /// Records a job as done, durably.
    ///
    /// # Errors
    ///
    /// [`JournalError`]: then the job is still pending in the files.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future does not withdraw the record.
    ///
    /// # Examples
    ///
    /// See [`Journal`].
    pub async fn complete(&self, job: Job) -> Result<(), JournalError> {
        let (reply, answer) = async_channel::bounded(1);
        self.ask(Request::Complete(job, reply), answer).await
    }

    /// Writes and fsyncs a probe file through the writer thread: the disk
    /// takes writes (a new block), and the thread is not stuck. After a
    /// failed write it first repairs the logs, and fails: cutting the
    /// failed write freed blocks, so only the next probe tells. A probe
    /// that succeeds ends [`Journal::failing_since`].
    ///
    /// # Errors
    ///
    /// [`JournalError`].
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let dir = std::env::temp_dir().join(format!("probe-doc-{}", std::process::id()));
    /// let (journal, _) = steward_examples::jobs::Journal::open(dir.clone(), 1000).await?;
    /// journal.probe().await?;
    /// journal.close().await?;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub async fn probe(&self) -> Result<(), JournalError> {
        let (reply, answer) = async_channel::bounded(1);
        self.ask(Request::Probe(reply), answer).await
    }

    /// How many fsyncs of `journal.log` the accepted jobs have taken so
    /// far: with many clients at once, far fewer than the jobs (group commit).
    ///
    /// # Examples
    ///
    /// See [the module](super).
    #[must_use]
    pub fn syncs(&self) -> u64 {
        // Relaxed: a statistic; nothing is published through it.
        self.status.syncs.load(Ordering::Relaxed)
    }

    /// Since when writes have been failing, with the last error; `None`
    /// while they succeed. From the first failed write until a probe (a
    /// write of a new file: [`Journal::probe`]) succeeds.
    ///
    /// # Examples
    ///
    /// See [`Journal`].
    #[must_use]
    pub fn failing_since(&self) -> Option<(Instant, String)> {
        self.status.failing()
    }

    async fn ask<T>(
        &self,
        request: Request,
        answer: Receiver<Result<T, JournalError>>,
    ) -> Result<T, JournalError> {
        self.requests
            .send(request)
            .await
            .map_err(|_| JournalError::Closed)?;
        answer.recv().await.map_err(|_| JournalError::Closed)?
    }

    /// Closes the journal for every handle: the requests already sent are
    /// committed, then both files are fsynced and the thread ends.
    ///
    /// # Errors
    ///
    /// When the final fsync fails, or an earlier write had failed.
    ///
    /// # Cancel safety
    ///
    /// The close happens on the first poll; dropping the future only stops
    /// waiting for the thread.
    ///
    /// # Examples
    ///
    /// See [`Journal`].
    pub async fn close(self) -> Result<(), JournalError> {
        self.requests.close();
        self.closed
            .recv()
            .await
            .unwrap_or(Err(JournalError::Closed))
    }
}

/// The writer thread's loop: one commit a batch of waiting requests, and a
/// compaction when due, until the channel is closed and empty. Returns the
/// final fsync's result.
fn writer(
    mut files: Files,
    requests: &Receiver<Request>,
    status: &Status,
    compact_after: u64,
) -> Result<(), JournalError> {
    let mut compact_not_before = Instant::now();
    while let Ok(first) = requests.recv_blocking() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match requests.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        commit(&mut files, batch, status);
        if files.compaction_due(compact_after) && Instant::now() >= compact_not_before {
            match files.compact() {
                Ok((kept, dropped)) => tracing::info!(kept, dropped, "journal compacted"),
                Err(e) => {
                    tracing::warn!(error = %e, "journal compaction failed; retrying in {COMPACTION_RETRY:?}");
                    compact_not_before = Instant::now() + COMPACTION_RETRY;
                }
            }
        }
    }
    files.sync().map_err(|e| JournalError::Io(Arc::new(e)))
}

/// Writes one batch: its accepted jobs with one fsync of the journal, its
/// done jobs with one fsync of `done.log`, its probes; then answers every
/// request. Counts the journal's fsync and records the outcome in `status`.
fn commit(files: &mut Files, batch: Vec<Request>, status: &Status) {
    let mut accepted = Vec::new();
    let mut done = Vec::new();
    let mut probes = Vec::new();
    for request in batch {
        match request {
            Request::Accept(payloads, reply) => accepted.push((files.number(payloads), reply)),
            Request::Complete(job, reply) => done.push((job, reply)),
            Request::Probe(reply) => probes.push(reply),
        }
    }
    let io = |e: io::Error| {
        tracing::error!(error = %e, "journal write failed; the next write repairs the log");
        JournalError::Io(Arc::new(e))
    };
    let accepted_jobs: Vec<&Job> = accepted.iter().flat_map(|(jobs, _)| jobs).collect();
    let accepted_result = files.append_accepted(&accepted_jobs).map_err(io);
    if accepted_result.is_ok() && !accepted_jobs.is_empty() {
        // Relaxed: a statistic. Counted before the replies are sent, so a
        // client that got its reply sees it (the channel orders the two).
        status.syncs.fetch_add(1, Ordering::Relaxed);
    }
    let done_jobs: Vec<&Job> = done.iter().map(|(job, _)| job).collect();
    let done_result = files.append_done(&done_jobs).map_err(io);
    let probe_result = if probes.is_empty() {
        Ok(())
    } else {
        files.probe().map_err(io)
    };
    let failed = [&accepted_result, &done_result, &probe_result]
        .into_iter()
        .find_map(|result| result.as_ref().err());
    status.record(failed, !probes.is_empty());
    // Answers last: a reply never comes before its fsync. A requester that
    // went away is no error.
    for (jobs, reply) in accepted {
        let _ = reply.try_send(accepted_result.clone().map(|()| jobs));
    }
    for (_, reply) in done {
        let _ = reply.try_send(done_result.clone());
    }
    for reply in probes {
        let _ = reply.try_send(probe_result.clone());
    }
}

impl HealthCheck for Journal {
    /// Healthy when a probe file can be written and fsynced in the data
    /// directory, through the writer thread.
    async fn check(&self) -> CheckOutcome {
        self.probe().await.into()
    }
}

impl fmt::Debug for Journal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Journal")
            .field("closed", &self.requests.is_closed())
            .field("waiting", &self.requests.len())
            .field("syncs", &self.syncs())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::tests::temp_dir;

    fn job(id: u64, payload: &str) -> Job {
        Job {
            id,
            payload: payload.into(),
        }
    }

    #[test]
    fn one_commit_answers_a_whole_batch() {
        let dir = temp_dir("batch");
        let (mut files, _) = Files::open(&dir).unwrap();
        let (first, first_answer) = async_channel::bounded(1);
        let (second, second_answer) = async_channel::bounded(1);
        let (done, done_answer) = async_channel::bounded(1);
        let (probe, probe_answer) = async_channel::bounded(1);
        let batch = vec![
            Request::Accept(vec!["a".into(), "b".into()], first),
            Request::Complete(job(1, "a"), done),
            Request::Accept(vec!["c".into()], second),
            Request::Probe(probe),
        ];
        let status = Status::default();
        commit(&mut files, batch, &status);
        assert_eq!(status.syncs.load(Ordering::Relaxed), 1);
        assert!(status.failing().is_none());
        let ids = first_answer.try_recv().unwrap().unwrap();
        assert_eq!(ids, [job(1, "a"), job(2, "b")]);
        assert_eq!(second_answer.try_recv().unwrap().unwrap(), [job(3, "c")]);
        done_answer.try_recv().unwrap().unwrap();
        probe_answer.try_recv().unwrap().unwrap();
        let read = |f| std::fs::read_to_string(dir.join(f)).unwrap();
        assert_eq!(read(super::super::JOURNAL_FILE), "1 a\n2 b\n3 c\n");
        assert_eq!(read(super::super::DONE_FILE), "1 a\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_write_fails_its_requests_then_the_log_is_repaired() {
        let dir = temp_dir("failed");
        let (mut files, _) = Files::open(&dir).unwrap();
        let status = Status::default();
        let (accept, accepted) = async_channel::bounded(1);
        commit(
            &mut files,
            vec![Request::Accept(vec!["a".into()], accept)],
            &status,
        );
        files.break_journal().unwrap();
        let (accept, refused) = async_channel::bounded(1);
        let (probe, probe_answer) = async_channel::bounded(1);
        let batch = vec![
            Request::Accept(vec!["b".into()], accept),
            Request::Probe(probe),
        ];
        commit(&mut files, batch, &status);
        assert_eq!(status.syncs.load(Ordering::Relaxed), 1);
        assert!(matches!(
            refused.try_recv().unwrap(),
            Err(JournalError::Io(_))
        ));
        assert!(probe_answer.try_recv().unwrap().is_err());
        let (since, error) = status.failing().expect("failing");
        assert!(error.contains(super::super::JOURNAL_FILE), "{error}");
        // The disk takes writes again: the next request succeeds.
        files.mend_journal();
        let (accept, later) = async_channel::bounded(1);
        commit(
            &mut files,
            vec![Request::Accept(vec!["c".into()], accept)],
            &status,
        );
        assert_eq!(later.try_recv().unwrap().unwrap(), [job(3, "c")]);
        // Only a probe (a new block) ends the failure.
        assert!(status.failing().is_some());
        let (probe, probed) = async_channel::bounded(1);
        commit(&mut files, vec![Request::Probe(probe)], &status);
        probed.try_recv().unwrap().unwrap();
        assert!(
            status.failing().is_none(),
            "recovered; failing since {since:?}"
        );
        let ids = accepted.try_recv().unwrap().unwrap();
        assert_eq!(ids, [job(1, "a")]);
        assert_eq!(
            std::fs::read_to_string(dir.join(super::super::JOURNAL_FILE)).unwrap(),
            "1 a\n3 c\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn concurrent_accepts_each_get_their_own_id_then_close_refuses_more() {
        let dir = temp_dir("concurrent");
        let (journal, _) =
            futures_lite::future::block_on(Journal::open(dir.clone(), 1000)).unwrap();
        let clients: Vec<_> = (0..32)
            .map(|i| {
                let journal = journal.clone();
                std::thread::spawn(move || {
                    let payloads = vec![format!("job {i}.0"), format!("job {i}.1")];
                    futures_lite::future::block_on(journal.accept(payloads)).unwrap()
                })
            })
            .collect();
        let mut jobs: Vec<Job> = clients
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect();
        jobs.sort_by_key(|job| job.id);
        assert_eq!(
            jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
            (1..=64).collect::<Vec<_>>()
        );
        // One client's jobs are numbered together, in order.
        for pair in jobs.chunks(2) {
            assert_eq!(pair[0].payload.replace(".0", ".1"), pair[1].payload);
        }
        let late = journal.clone();
        futures_lite::future::block_on(async {
            journal.close().await.unwrap();
            assert!(matches!(late.probe().await, Err(JournalError::Closed)));
        });
        let (_, pending) =
            futures_lite::future::block_on(Journal::open(dir.clone(), 1000)).unwrap();
        assert_eq!(pending, jobs);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
