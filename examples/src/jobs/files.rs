//! The journal's two files, read and written with blocking calls (the
//! writer thread in `journal.rs` is their only user).
//!
//! - `journal.log`: one line `<id> <payload>` a job accepted, fsynced before
//!   the client reads `ok <id>`;
//! - `done.log`: one line `<id> <payload>` a job completed, fsynced before
//!   the job counts as done.
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
//! - After a failed write or fsync nothing more is written: what reached the
//!   disk is unknown, and the next open repairs the tail.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::Job;

/// The file of accepted jobs, in the data directory.
pub const JOURNAL_FILE: &str = "journal.log";
/// The file of completed jobs, in the data directory.
pub const DONE_FILE: &str = "done.log";
/// The file the disk check writes and fsyncs.
const PROBE_FILE: &str = ".probe";

/// The two logs, open for appending.
pub(super) struct Files {
    dir: PathBuf,
    journal: File,
    done: File,
    next_id: u64,
}

impl Files {
    /// Opens (creating) the logs in `dir`: returns them with the pending
    /// jobs in id order.
    pub(super) fn open(dir: &Path) -> io::Result<(Files, Vec<Job>)> {
        std::fs::create_dir_all(dir)?;
        let (journal, accepted) = open_log(&dir.join(JOURNAL_FILE))?;
        let (done, completed) = open_log(&dir.join(DONE_FILE))?;
        // The directory entries of files just created must be durable too.
        sync_dir(dir)?;
        let next_id = accepted
            .iter()
            .chain(&completed)
            .map(|job| job.id + 1)
            .max()
            .unwrap_or(1);
        let completed: HashSet<u64> = completed.into_iter().map(|job| job.id).collect();
        let mut pending: Vec<Job> = accepted
            .into_iter()
            .filter(|job| !completed.contains(&job.id))
            .collect();
        pending.sort_by_key(|job| job.id);
        pending.dedup_by_key(|job| job.id);
        let files = Files {
            dir: dir.to_owned(),
            journal,
            done,
            next_id,
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
        append(&mut self.journal, jobs)
    }

    /// Appends `jobs` to `done.log` with one write and one fsync.
    pub(super) fn append_done(&mut self, jobs: &[&Job]) -> io::Result<()> {
        append(&mut self.done, jobs)
    }

    /// Writes and fsyncs the probe file: can the disk take a write now?
    pub(super) fn probe(&self) -> io::Result<()> {
        let mut file = File::create(self.dir.join(PROBE_FILE))?;
        file.write_all(b"steward journal disk check\n")?;
        file.sync_data()
    }

    /// Makes every later write to the journal fail, as a full or broken disk would.
    #[cfg(test)]
    pub(super) fn break_journal(&mut self) -> io::Result<()> {
        self.journal = File::open(self.dir.join(JOURNAL_FILE))?; // read-only
        Ok(())
    }

    /// Flushes both logs to the disk, data and metadata, before they close.
    pub(super) fn sync(&self) -> io::Result<()> {
        self.journal.sync_all()?;
        self.done.sync_all()
    }
}

fn append(file: &mut File, jobs: &[&Job]) -> io::Result<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let mut lines = String::new();
    for job in jobs {
        lines.push_str(&job.id.to_string());
        lines.push(' ');
        lines.push_str(&job.payload);
        lines.push('\n');
    }
    file.write_all(lines.as_bytes())?;
    // fdatasync: the data and the new length, which is all a reader needs.
    file.sync_data()
}

/// Opens a log for appending, reads its whole lines and cuts a torn last one.
fn open_log(path: &Path) -> io::Result<(File, Vec<Job>)> {
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)?;
    let mut jobs = Vec::new();
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
        jobs.push(parse_line(&line[..n - 1]).ok_or_else(|| {
            let text = String::from_utf8_lossy(&line);
            let msg = format!("{}: not `<id> <payload>`: {text:?}", path.display());
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
    Ok((file, jobs))
}

fn parse_line(line: &[u8]) -> Option<Job> {
    let line = std::str::from_utf8(line).ok()?;
    let (id, payload) = line.split_once(' ')?;
    Some(Job {
        id: id.parse().ok()?,
        payload: payload.to_owned(),
    })
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
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
}
