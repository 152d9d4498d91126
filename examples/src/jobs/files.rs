//! The journal's files, read and written with blocking calls (the writer
//! thread in `journal.rs` is their only user).
//!
//! - `journal.log`: one line `<id> <payload>` a job accepted, fsynced before
//!   the client reads `ok <id>`; after a compaction its first line is
//!   `# next <id>`, the next id to hand out;
//! - `done.log`: one line `<id> <payload>` a job completed since the last
//!   compaction, fsynced before the job counts as done;
//! - `done-NNNNNN.log`: the earlier `done.log`s, never read again by the
//!   service (the record of what was done);
//! - `lock`: holds the pid of the process that owns the directory, locked
//!   (`flock`, exclusive) for as long as the journal is open.
//!
//! # Invariants
//!
//! - A job is pending when its id is in `journal.log` and not in
//!   `done.log`. A job is taken off the queue once per process, and its
//!   done line is written once, so across restarts each job accepted gets
//!   exactly one done line: the ones pending at a stop are resumed, the ones
//!   done are not.
//! - Only whole lines count. A line cut short (the process died mid-write)
//!   has no newline; it is cut off on open, before anything is appended. A
//!   job whose journal line was cut was never acknowledged; a job whose done
//!   line was cut runs again.
//! - A failed write or fsync is repaired before the next write: the log is
//!   cut back to its length after the last fsync that succeeded (what the
//!   failed write left is unknown; none of it was acknowledged).
//! - Compaction, when completed jobs dominate: the pending lines are copied
//!   to `journal.log.tmp` under a `# next <id>` line, fsynced, renamed over
//!   `journal.log` (then the directory fsynced); only then is `done.log`
//!   renamed to the next `done-NNNNNN.log` and a new one created. A crash
//!   before the rename leaves the old journal (the `.tmp` is removed on
//!   open); a crash between the renames leaves done lines whose ids are no
//!   longer in the journal, which change nothing. So no moment loses or
//!   repeats a job.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::Job;

/// The file of accepted jobs, in the data directory.
pub const JOURNAL_FILE: &str = "journal.log";
/// The file of jobs completed since the last compaction, in the data directory.
pub const DONE_FILE: &str = "done.log";
/// The file locked by the process that owns the data directory.
pub const LOCK_FILE: &str = "lock";
/// The file the disk check writes and fsyncs.
const PROBE_FILE: &str = ".probe";
/// A compaction's new journal before its rename.
const COMPACT_FILE: &str = "journal.log.tmp";
/// The first line of a compacted journal: `# next <id>`.
const NEXT_HEADER: &str = "# next ";

/// The name of the `n`th archived `done.log` (the first is 1).
///
/// # Examples
///
/// ```
/// assert_eq!(steward_examples::jobs::done_archive(3), "done-000003.log");
/// ```
#[must_use]
pub fn done_archive(n: u64) -> String {
    format!("done-{n:06}.log")
}

/// An error about `path`, naming it.
fn at(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// One append-only log and what is known of it.
struct Log {
    path: PathBuf,
    /// `None` after a reopen failed: opened again before the next write.
    file: Option<File>,
    /// The length after the last fsync that succeeded.
    synced: u64,
    /// A write or fsync failed since: cut back to `synced` before writing.
    dirty: bool,
    /// Its lines of jobs.
    lines: u64,
}

impl Log {
    /// Appends `text` (`lines` lines) with one write and one fsync, after
    /// repairing an earlier failure.
    fn append(&mut self, text: &[u8], lines: u64) -> io::Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        let result = self.try_append(text);
        match &result {
            Ok(()) => {
                self.synced += text.len() as u64;
                self.lines += lines;
            }
            Err(_) => self.dirty = true,
        }
        result.map_err(|e| at(&self.path, e))
    }

    fn try_append(&mut self, text: &[u8]) -> io::Result<()> {
        let file = self.repaired()?;
        file.write_all(text)?;
        // fdatasync: the data and the new length, which is all a reader needs.
        file.sync_data()
    }

    /// The file, opened again if needed and cut back after a failure.
    fn repaired(&mut self) -> io::Result<&mut File> {
        if self.file.is_none() {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            if !self.dirty {
                // A file new to this handle (renamed in by a compaction).
                self.synced = file.metadata()?.len();
            }
            self.file = Some(file);
        }
        let Some(file) = self.file.as_mut() else {
            unreachable!("opened just above");
        };
        if self.dirty {
            file.set_len(self.synced)?;
            file.sync_all()?;
            self.dirty = false;
            tracing::info!(file = %self.path.display(), "log repaired after a failed write");
        }
        Ok(file)
    }
}

/// The logs, open for appending, and the lock on their directory.
pub(super) struct Files {
    dir: PathBuf,
    journal: Log,
    done: Log,
    /// The ids in `done.log`.
    done_ids: HashSet<u64>,
    next_id: u64,
    /// The number of the next `done-NNNNNN.log`.
    next_archive: u64,
    /// Probes written: which probe file is next.
    probes: u64,
    /// Held (locked) until the files are dropped.
    _lock: File,
}

impl Files {
    /// Locks `dir` (creating it) and opens the logs in it: returns them with
    /// the pending jobs in id order. Every error names the path it is about.
    pub(super) fn open(dir: &Path) -> io::Result<(Files, Vec<Job>)> {
        std::fs::create_dir_all(dir).map_err(|e| at(dir, e))?;
        let lock = lock_dir(dir)?;
        // A compaction that died before its rename: the journal is intact.
        let tmp = dir.join(COMPACT_FILE);
        match std::fs::remove_file(&tmp) {
            Ok(()) => tracing::info!(file = %tmp.display(), "removed an unfinished compaction"),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(at(&tmp, e)),
        }
        let (journal, accepted, header) = open_log(&dir.join(JOURNAL_FILE))?;
        let (done, completed, _) = open_log(&dir.join(DONE_FILE))?;
        // The directory entries of files just created must be durable too.
        sync_dir(dir)?;
        let next_id = accepted
            .iter()
            .chain(&completed)
            .map(|job| job.id + 1)
            .chain(header)
            .max()
            .unwrap_or(1);
        let done_ids: HashSet<u64> = completed.iter().map(|job| job.id).collect();
        let mut pending: Vec<Job> = accepted
            .into_iter()
            .filter(|job| !done_ids.contains(&job.id))
            .collect();
        pending.sort_by_key(|job| job.id);
        pending.dedup_by_key(|job| job.id);
        let files = Files {
            dir: dir.to_owned(),
            journal,
            done,
            done_ids,
            next_id,
            next_archive: next_archive(dir)?,
            // The next probe writes the file that is not there: rewriting
            // the one left by the last run would reuse its blocks.
            probes: u64::from(dir.join(format!("{PROBE_FILE}-0")).exists()),
            _lock: lock,
        };
        Ok((files, pending))
    }

    /// Gives each payload the next id, as jobs; not written yet.
    pub(super) fn number(&mut self, payloads: Vec<String>) -> Vec<Job> {
        payloads
            .into_iter()
            .map(|payload| {
                let id = self.next_id;
                self.next_id += 1;
                Job { id, payload }
            })
            .collect()
    }

    /// Appends `jobs` to the journal with one write and one fsync.
    pub(super) fn append_accepted(&mut self, jobs: &[&Job]) -> io::Result<()> {
        self.journal.append(&lines(jobs), jobs.len() as u64)
    }

    /// Appends `jobs` to `done.log` with one write and one fsync.
    pub(super) fn append_done(&mut self, jobs: &[&Job]) -> io::Result<()> {
        self.done.append(&lines(jobs), jobs.len() as u64)?;
        self.done_ids.extend(jobs.iter().map(|job| job.id));
        Ok(())
    }

    /// Repairs the logs after a failed write, then writes and fsyncs the
    /// probe file: can the disk take a write now?
    pub(super) fn probe(&mut self) -> io::Result<()> {
        let mut repaired_now = false;
        for log in [&mut self.journal, &mut self.done] {
            repaired_now |= log.dirty;
            let repaired = log.repaired().map(|_| ());
            repaired.map_err(|e| at(&log.path, e))?;
        }
        if repaired_now {
            // Cutting a failed write frees the blocks it took: a probe now
            // would succeed on them however full the disk is. The next
            // probe tells.
            let e = "a log was just repaired after a failed write; the next probe tells";
            return Err(io::Error::other(e));
        }
        // Two files in turn, the older removed once the newer is written: a
        // rewrite of one file would reuse the blocks its truncation freed,
        // and succeed on a full disk.
        // After a failure the same one is tried again: the other one holds
        // its blocks.
        let path = self.dir.join(format!("{PROBE_FILE}-{}", self.probes % 2));
        let old = self
            .dir
            .join(format!("{PROBE_FILE}-{}", (self.probes + 1) % 2));
        let write = || {
            let mut file = File::create(&path)?;
            file.write_all(b"steward journal disk check\n")?;
            file.sync_data()
        };
        match write() {
            Ok(()) => {
                self.probes += 1;
                let _ = std::fs::remove_file(&old);
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                Err(at(&path, e))
            }
        }
    }

    /// Whether a compaction is due: at least `after` jobs completed since
    /// the last one, and they are at least half of the journal's lines.
    pub(super) fn compaction_due(&self, after: u64) -> bool {
        let done = self.done.lines;
        done >= after.max(1) && done * 2 >= self.journal.lines
    }

    /// Drops the completed jobs from the journal and archives `done.log`
    /// (see the module's invariants for why a crash at any point is safe).
    /// Returns the jobs kept (pending) and dropped.
    pub(super) fn compact(&mut self) -> io::Result<(u64, u64)> {
        if self.journal.dirty || self.done.dirty {
            return Err(io::Error::other("a log awaits its repair"));
        }
        let tmp = self.dir.join(COMPACT_FILE);
        let journal_path = self.dir.join(JOURNAL_FILE);
        let (kept, dropped, len) = self.rewrite(&journal_path, &tmp).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            at(&tmp, e)
        })?;
        std::fs::rename(&tmp, &journal_path).map_err(|e| at(&journal_path, e))?;
        // From here the old journal is gone: write to the new one only.
        self.journal.file = None;
        self.journal.lines = kept;
        self.journal.synced = len;
        sync_dir(&self.dir)?;
        self.journal.repaired().map_err(|e| at(&journal_path, e))?;
        // Archive done.log; its ids are no longer in the journal.
        let done_path = self.dir.join(DONE_FILE);
        let archive = self.dir.join(done_archive(self.next_archive));
        std::fs::rename(&done_path, &archive).map_err(|e| at(&archive, e))?;
        self.next_archive += 1;
        self.done.file = None;
        self.done.lines = 0;
        self.done_ids.clear();
        File::create(&done_path).map_err(|e| at(&done_path, e))?;
        sync_dir(&self.dir)?;
        self.done.repaired().map_err(|e| at(&done_path, e))?;
        Ok((kept, dropped))
    }

    /// Copies the journal's pending lines to `tmp` under the `# next` line,
    /// fsynced. Returns the lines kept and dropped, and the new length.
    fn rewrite(&self, journal: &Path, tmp: &Path) -> io::Result<(u64, u64, u64)> {
        let mut reader = BufReader::new(File::open(journal)?).take(self.journal.synced);
        let mut out = io::BufWriter::new(File::create(tmp)?);
        let header = format!("{NEXT_HEADER}{}\n", self.next_id);
        out.write_all(header.as_bytes())?;
        let (mut kept, mut dropped, mut len) = (0, 0, header.len() as u64);
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            if line.starts_with(NEXT_HEADER.as_bytes()) {
                continue;
            }
            let id = parse_line(line.strip_suffix(b"\n").unwrap_or(&line)).map(|job| job.id);
            if id.is_some_and(|id| self.done_ids.contains(&id)) {
                dropped += 1;
            } else {
                out.write_all(&line)?;
                kept += 1;
                len += line.len() as u64;
            }
        }
        let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        Ok((kept, dropped, len))
    }

    /// Makes every later write to the journal fail, as a full or broken disk would.
    #[cfg(test)]
    pub(super) fn break_journal(&mut self) -> io::Result<()> {
        self.journal.file = Some(File::open(self.dir.join(JOURNAL_FILE))?); // read-only
        Ok(())
    }

    /// Undoes [`Files::break_journal`]: the next write opens the journal again.
    #[cfg(test)]
    pub(super) fn mend_journal(&mut self) {
        self.journal.file = None;
    }

    /// Flushes both logs to the disk, data and metadata, before they close.
    pub(super) fn sync(&self) -> io::Result<()> {
        for log in [&self.journal, &self.done] {
            if let Some(file) = &log.file {
                file.sync_all().map_err(|e| at(&log.path, e))?;
            }
        }
        Ok(())
    }
}

fn lines(jobs: &[&Job]) -> Vec<u8> {
    let mut lines = String::new();
    for job in jobs {
        lines.push_str(&job.id.to_string());
        lines.push(' ');
        lines.push_str(&job.payload);
        lines.push('\n');
    }
    lines.into_bytes()
}

/// Opens a log for appending, reads its whole lines and cuts a torn last
/// one. Returns it, its jobs, and the id of its `# next` line if any.
fn open_log(path: &Path) -> io::Result<(Log, Vec<Job>, Option<u64>)> {
    let (log, jobs, next) = read_log(path).map_err(|e| at(path, e))?;
    Ok((log, jobs, next))
}

fn read_log(path: &Path) -> io::Result<(Log, Vec<Job>, Option<u64>)> {
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)?;
    let mut jobs = Vec::new();
    let mut next = None;
    let mut whole = 0u64;
    let mut reader = BufReader::new(&file);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 || line.last() != Some(&b'\n') {
            break;
        }
        whole += n as u64;
        let text = &line[..n - 1];
        if whole == n as u64 {
            if let Some(id) = text.strip_prefix(NEXT_HEADER.as_bytes()) {
                next = std::str::from_utf8(id).ok().and_then(|id| id.parse().ok());
                if next.is_some() {
                    continue;
                }
            }
        }
        jobs.push(parse_line(text).ok_or_else(|| {
            let text = String::from_utf8_lossy(&line);
            let msg = format!("not `<id> <payload>`: {text:?}");
            io::Error::new(io::ErrorKind::InvalidData, msg)
        })?);
    }
    drop(reader);
    let len = file.metadata()?.len();
    if len != whole {
        tracing::warn!(
            file = %path.display(),
            bytes = len - whole,
            "cutting a torn last line (the process stopped mid-write)"
        );
        file.set_len(whole)?;
        file.sync_all()?;
    }
    file.seek(SeekFrom::End(0))?;
    let log = Log {
        path: path.to_owned(),
        file: Some(file),
        synced: whole,
        dirty: false,
        lines: jobs.len() as u64,
    };
    Ok((log, jobs, next))
}

fn parse_line(line: &[u8]) -> Option<Job> {
    let line = std::str::from_utf8(line).ok()?;
    let (id, payload) = line.split_once(' ')?;
    Some(Job {
        id: id.parse().ok()?,
        payload: payload.to_owned(),
    })
}

/// The number after the highest `done-NNNNNN.log` in `dir`.
fn next_archive(dir: &Path) -> io::Result<u64> {
    let mut next = 1;
    for entry in std::fs::read_dir(dir).map_err(|e| at(dir, e))? {
        let name = entry.map_err(|e| at(dir, e))?.file_name();
        let n: Option<u64> = name.to_str().and_then(|name| {
            name.strip_prefix("done-")?
                .strip_suffix(".log")?
                .parse()
                .ok()
        });
        if let Some(n) = n {
            next = next.max(n + 1);
        }
    }
    Ok(next)
}

/// Locks `dir/lock` for this process and writes its pid there; fails at
/// once, naming the directory and the holder's pid, when another process
/// holds it.
#[cfg(unix)]
fn lock_dir(dir: &Path) -> io::Result<File> {
    use rustix::fs::{flock, FlockOperation};
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false) // the holder's pid stays until the lock is ours
        .open(&path)
        .map_err(|e| at(&path, e))?;
    if let Err(e) = flock(&file, FlockOperation::NonBlockingLockExclusive) {
        if e != rustix::io::Errno::WOULDBLOCK {
            return Err(at(&path, e.into()));
        }
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        let holder = match holder.trim() {
            "" => "unknown".to_owned(),
            pid => pid.to_owned(),
        };
        let msg = format!(
            "{}: the data directory is in use by another instance (pid {holder}); \
             one directory serves one instance at a time",
            dir.display()
        );
        return Err(io::Error::new(io::ErrorKind::WouldBlock, msg));
    }
    let write = |file: &mut File| {
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        writeln!(file, "{}", std::process::id())
    };
    if let Err(e) = write(&mut file) {
        // A full disk: the lock holds all the same; only the pid is missing.
        tracing::warn!(file = %path.display(), error = %e, "could not record the pid");
    }
    Ok(file)
}

/// No lock off Unix: one instance a directory is the operator's care there.
#[cfg(not(unix))]
fn lock_dir(dir: &Path) -> io::Result<File> {
    let path = dir.join(LOCK_FILE);
    let mut file = File::create(&path).map_err(|e| at(&path, e))?;
    writeln!(file, "{}", std::process::id()).map_err(|e| at(&path, e))?;
    Ok(file)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| at(dir, e))
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    // Windows cannot open a directory as a file; NTFS journals its entries.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::tests::temp_dir;

    fn write(dir: &Path, file: &str, text: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(file), text).unwrap();
    }

    #[test]
    fn pending_is_accepted_minus_done() {
        let dir = temp_dir("pending");
        write(&dir, JOURNAL_FILE, "1 a\n2 b b\n3 \n4 d\n");
        write(&dir, DONE_FILE, "2 b b\n4 d\n");
        let (mut files, pending) = Files::open(&dir).unwrap();
        assert_eq!(
            pending,
            [
                Job {
                    id: 1,
                    payload: "a".into()
                },
                Job {
                    id: 3,
                    payload: String::new()
                }
            ]
        );
        assert_eq!(files.number(vec!["e".into()])[0].id, 5);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_torn_last_line_is_cut_before_appending() {
        let dir = temp_dir("torn");
        write(&dir, JOURNAL_FILE, "1 a\n2 b\n3 half-writ");
        write(&dir, DONE_FILE, "1 a\n2 b");
        let (mut files, pending) = Files::open(&dir).unwrap();
        assert_eq!(
            pending,
            [Job {
                id: 2,
                payload: "b".into()
            }]
        );
        let jobs = files.number(vec!["c".into()]);
        assert_eq!(jobs[0].id, 3, "the torn job was never acknowledged");
        files.append_accepted(&[&jobs[0]]).unwrap();
        files.append_done(&[&pending[0]]).unwrap();
        let read = |f| std::fs::read_to_string(dir.join(f)).unwrap();
        assert_eq!(read(JOURNAL_FILE), "1 a\n2 b\n3 c\n");
        assert_eq!(read(DONE_FILE), "1 a\n2 b\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_bad_line_in_the_middle_fails_the_open() {
        let dir = temp_dir("bad");
        write(&dir, JOURNAL_FILE, "1 a\nnot a job\n3 c\n");
        let err = Files::open(&dir).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("not a job"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn ids(jobs: &[Job]) -> Vec<u64> {
        jobs.iter().map(|job| job.id).collect()
    }

    const JOURNAL: &str = "1 a\n2 b\n3 c\n4 d\n5 e\n6 f\n";
    const DONE: &str = "1 a\n2 b\n5 e\n3 c\n";

    #[test]
    fn a_compaction_keeps_the_pending_jobs_and_the_next_id() {
        let dir = temp_dir("compact");
        write(&dir, JOURNAL_FILE, JOURNAL);
        write(&dir, DONE_FILE, DONE);
        let (mut files, pending) = Files::open(&dir).unwrap();
        assert_eq!(ids(&pending), [4, 6]);
        assert!(!files.compaction_due(5), "4 done, fewer than 5");
        assert!(files.compaction_due(4));
        assert_eq!(files.compact().unwrap(), (2, 4));
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
        assert_eq!(read(JOURNAL_FILE), "# next 7\n4 d\n6 f\n");
        assert_eq!(read(DONE_FILE), "");
        assert_eq!(read(&done_archive(1)), DONE);
        // The files go on from there: new jobs, done jobs, a second round.
        let jobs = files.number(vec!["g".into()]);
        files.append_accepted(&[&jobs[0]]).unwrap();
        let done = [&pending[0], &pending[1], &jobs[0]];
        files.append_done(&done).unwrap();
        assert!(files.compaction_due(3));
        assert_eq!(files.compact().unwrap(), (0, 3));
        assert_eq!(read(JOURNAL_FILE), "# next 8\n");
        assert_eq!(read(&done_archive(2)), "4 d\n6 f\n7 g\n");
        drop(files);
        // Nothing pending; ids go on, never reused.
        let (mut files, pending) = Files::open(&dir).unwrap();
        assert!(pending.is_empty());
        assert_eq!(files.number(vec!["h".into()])[0].id, 8);
        assert_eq!(files.next_archive, 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The states a crash can leave at each step of a compaction: each
    /// opens with the same pending jobs and the same next id.
    #[test]
    fn a_crash_at_any_step_of_a_compaction_loses_and_repeats_nothing() {
        let compacted = "# next 7\n4 d\n6 f\n";
        let states: [(&str, &[(&str, &str)]); 4] = [
            // Writing the new journal (torn), before its rename.
            (
                "tmp",
                &[
                    (JOURNAL_FILE, JOURNAL),
                    (DONE_FILE, DONE),
                    (COMPACT_FILE, "# next 7\n4 d\n6"),
                ],
            ),
            // Renamed, done.log not yet archived.
            ("renamed", &[(JOURNAL_FILE, compacted), (DONE_FILE, DONE)]),
            // done.log archived, the new one not yet created.
            (
                "archived",
                &[(JOURNAL_FILE, compacted), ("done-000001.log", DONE)],
            ),
            // Done.
            (
                "done",
                &[
                    (JOURNAL_FILE, compacted),
                    ("done-000001.log", DONE),
                    (DONE_FILE, ""),
                ],
            ),
        ];
        for (name, state) in states {
            let dir = temp_dir(&format!("crash-{name}"));
            for (file, text) in state {
                write(&dir, file, text);
            }
            let (mut files, pending) = Files::open(&dir).unwrap();
            assert_eq!(ids(&pending), [4, 6], "{name}");
            assert_eq!(files.number(vec!["g".into()])[0].id, 7, "{name}");
            assert!(!dir.join(COMPACT_FILE).exists(), "{name}");
            // And the next compaction goes on from there.
            files.append_done(&[&pending[0], &pending[1]]).unwrap();
            files.compact().unwrap();
            drop(files);
            let (_, pending) = Files::open(&dir).unwrap();
            assert!(pending.is_empty(), "{name}: {pending:?}");
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_second_open_of_a_locked_directory_fails_naming_it_and_the_holder() {
        let dir = temp_dir("locked");
        let (files, _) = Files::open(&dir).unwrap();
        let err = Files::open(&dir).err().expect("the directory is locked");
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        let text = err.to_string();
        assert!(text.contains(&dir.display().to_string()), "{text}");
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        drop(files);
        Files::open(&dir).expect("unlocked once the first is closed");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn errors_name_the_path() {
        let file = temp_dir("not-a-dir");
        std::fs::write(&file, "a file, not a directory").unwrap();
        let err = Files::open(&file.join("data")).err().unwrap();
        assert!(
            err.to_string().contains(&file.display().to_string()),
            "{err}"
        );
        let dir = temp_dir("bad-path");
        write(&dir, JOURNAL_FILE, "x\n");
        let err = Files::open(&dir).err().unwrap();
        let path = dir.join(JOURNAL_FILE).display().to_string();
        assert!(err.to_string().contains(&path), "{err}");
        std::fs::remove_file(&file).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
