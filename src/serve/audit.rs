//! The audit trail: every decision the server returns, appended as one JSON line to a rotating
//! log (`<dir>/decisions-<start time>-<sequence>.jsonl`).
//!
//! A record holds the decision id (as in the response), the request id (the caller's
//! `x-request-id`, or one the server made; it is echoed in the response metadata), the call, the
//! time, the account id with its balance and days past due at the decision, the experiment, the
//! model, policy and arm that decided, the probability, score, band, treatment, action, channel,
//! stage, priority, reason codes, the guard and any shadow decision. See [`Record`].
//!
//! Records are formatted by the call (on the blocking pool for batches) and written by a
//! thread of its own, which writes every waiting call's records together. Two guarantees
//! ([`AuditMode`]):
//! - `durable`: a call's response is sent only after its records are written and `fdatasync`ed;
//!   when that fails the call fails with `UNAVAILABLE` and no decision is returned.
//! - `async`: a call waits only for room in the writer's queue (bounded: a slow disk slows
//!   callers instead of growing memory); records reach the file within milliseconds, and the
//!   operating system's cache keeps them if the process dies (not if the machine does).
//!
//! A file is never appended to after a restart: each start opens a new one. Files rotate at
//! `max_file_bytes` and are never deleted by the server. A record is one line; a crash in the
//! middle of a write can leave a last line without its newline, which readers skip.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize, Serializer};
use tokio::sync::{mpsc, oneshot};

use crate::serve::decisions::ScoredAccount;

/// Entries (calls' records) the writer's queue holds before callers wait.
const QUEUE: usize = 1024;

/// What a response waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AuditMode {
    /// Until the records are written to the file and synced to disk.
    Durable,
    /// Until the records are queued for the writer.
    #[default]
    Async,
}

/// Where and how decisions are recorded.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// The log directory (created if absent).
    pub dir: PathBuf,
    /// The guarantee a response waits for.
    #[serde(default)]
    pub mode: AuditMode,
    /// A file is closed and a new one started once it reaches this size.
    #[serde(default = "default_max_file_bytes")]
    pub max_file_bytes: u64,
}

fn default_max_file_bytes() -> u64 {
    64 << 20
}

impl AuditConfig {
    /// A log in `dir`, async, rotating at 64 MiB.
    pub fn new(dir: PathBuf) -> AuditConfig {
        AuditConfig {
            dir,
            mode: AuditMode::default(),
            max_file_bytes: default_max_file_bytes(),
        }
    }
}

/// Why a call's records could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The log could not be opened.
    #[error("cannot open the audit log in {dir}: {source}")]
    Open {
        /// The directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Writing or syncing failed.
    #[error("cannot write the audit log: {0}")]
    Write(String),
    /// The writer has stopped.
    #[error("the audit log is closed")]
    Closed,
}

struct Entry {
    bytes: Vec<u8>,
    done: Option<oneshot::Sender<Result<(), String>>>,
}

/// The decision log of a running server.
#[derive(Debug)]
pub struct AuditLog {
    tx: mpsc::Sender<Entry>,
    mode: AuditMode,
    writer: std::thread::JoinHandle<()>,
    next_id: AtomicU64,
    start: u64,
    counts: Arc<Counts>,
}

/// Records written and records whose write failed, since start.
#[derive(Debug, Default)]
struct Counts {
    written: AtomicU64,
    failed: AtomicU64,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl AuditLog {
    /// Opens a new log file in `config.dir` and starts the writer thread.
    pub fn open(config: &AuditConfig) -> Result<AuditLog, AuditError> {
        let open_err = |source| AuditError::Open {
            dir: config.dir.clone(),
            source,
        };
        std::fs::create_dir_all(&config.dir).map_err(open_err)?;
        let started = chrono::Utc::now();
        let stem = format!("decisions-{}", started.format("%Y%m%dT%H%M%S%.6fZ"));
        let mut writer = Writer {
            dir: config.dir.clone(),
            stem,
            sequence: 0,
            file: None,
            written: 0,
            max_file_bytes: config.max_file_bytes.max(1),
            durable: config.mode == AuditMode::Durable,
        };
        writer.rotate().map_err(open_err)?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let counts = Arc::new(Counts::default());
        let thread_counts = counts.clone();
        let thread = std::thread::Builder::new()
            .name("payrisk-audit".into())
            .spawn(move || writer.run(rx, &thread_counts))
            .map_err(open_err)?;
        tracing::info!(dir = %config.dir.display(), mode = ?config.mode, "audit log open");
        Ok(AuditLog {
            tx,
            mode: config.mode,
            writer: thread,
            next_id: AtomicU64::new(0),
            start: started.timestamp_micros().unsigned_abs(),
            counts,
        })
    }

    /// Records written to the log, and records whose write failed, since start.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.counts.written.load(Ordering::Relaxed),
            self.counts.failed.load(Ordering::Relaxed),
        )
    }

    /// A request id unique to this server's run: the start time and a counter, in hex.
    pub fn new_request_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{:x}-{n:x}", self.start)
    }

    /// Appends formatted records; returns once the mode's guarantee holds.
    pub async fn append(&self, bytes: Vec<u8>) -> Result<(), AuditError> {
        if bytes.is_empty() {
            return Ok(());
        }
        match self.mode {
            AuditMode::Async => self
                .tx
                .send(Entry { bytes, done: None })
                .await
                .map_err(|_| AuditError::Closed),
            AuditMode::Durable => {
                let (done, written) = oneshot::channel();
                self.tx
                    .send(Entry {
                        bytes,
                        done: Some(done),
                    })
                    .await
                    .map_err(|_| AuditError::Closed)?;
                match written.await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(AuditError::Write(e)),
                    Err(_) => Err(AuditError::Closed),
                }
            }
        }
    }

    /// Writes what is queued, syncs and closes the file (after the server stopped taking
    /// calls).
    pub fn close(self) {
        drop(self.tx);
        if self.writer.join().is_err() {
            tracing::error!("the audit writer panicked");
        }
    }
}

struct Writer {
    dir: PathBuf,
    stem: String,
    sequence: u32,
    file: Option<File>,
    written: u64,
    max_file_bytes: u64,
    durable: bool,
}

impl Writer {
    fn path(&self) -> PathBuf {
        self.dir
            .join(format!("{}-{:06}.jsonl", self.stem, self.sequence))
    }

    /// Closes the current file (synced) and opens the next.
    fn rotate(&mut self) -> std::io::Result<()> {
        if let Some(file) = self.file.take() {
            file.sync_data()?;
            self.sequence += 1;
        }
        let file = File::options()
            .create_new(true)
            .append(true)
            .open(self.path())?;
        // The new file's name must survive a crash too.
        sync_dir(&self.dir)?;
        self.file = Some(file);
        self.written = 0;
        Ok(())
    }

    fn run(mut self, mut rx: mpsc::Receiver<Entry>, counts: &Counts) {
        let mut buffer = Vec::new();
        let mut group: Vec<Entry> = Vec::new();
        while let Some(first) = rx.blocking_recv() {
            group.push(first);
            while group.len() < QUEUE {
                match rx.try_recv() {
                    Ok(e) => group.push(e),
                    Err(_) => break,
                }
            }
            let wants_sync = self.durable || group.iter().any(|e| e.done.is_some());
            let records: u64 = group
                .iter()
                .map(|e| e.bytes.iter().filter(|&&b| b == b'\n').count() as u64)
                .sum();
            let result = self
                .write(&group, &mut buffer, wants_sync)
                .map_err(|e| e.to_string());
            match &result {
                Ok(()) => counts.written.fetch_add(records, Ordering::Relaxed),
                Err(_) => counts.failed.fetch_add(records, Ordering::Relaxed),
            };
            if let Err(e) = &result {
                tracing::error!(error = %e, records = group.len(), "audit log write failed");
            }
            for e in group.drain(..) {
                if let Some(done) = e.done {
                    let _ = done.send(result.clone());
                }
            }
        }
        if let Some(file) = self.file.take() {
            if let Err(e) = file.sync_data() {
                tracing::error!(error = %e, "audit log sync at close failed");
            }
        }
    }

    /// Appends the group's records, rotating between records so that no file grows past
    /// `max_file_bytes` (unless one record alone is larger), and syncs when asked.
    fn write(&mut self, group: &[Entry], buffer: &mut Vec<u8>, sync: bool) -> std::io::Result<()> {
        if self.file.is_none() {
            self.rotate()?;
        }
        buffer.clear();
        for line in group
            .iter()
            .flat_map(|e| e.bytes.split_inclusive(|&b| b == b'\n'))
        {
            let size = self.written + buffer.len() as u64;
            if size > 0 && size + line.len() as u64 > self.max_file_bytes {
                self.append(buffer)?;
                buffer.clear();
                self.rotate()?;
            }
            buffer.extend_from_slice(line);
        }
        self.append(buffer)?;
        if sync {
            if let Some(file) = &self.file {
                file.sync_data()?;
            }
        }
        Ok(())
    }

    /// Writes `bytes` to the current file (no sync).
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("no audit file"))?;
        file.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// What every record of one call shares.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// The request id.
    pub request_id: String,
    /// `Score`, `ScoreBatch` or `ScoreStream`.
    pub rpc: &'static str,
    /// When the server decided (RFC 3339).
    pub time: String,
    /// The time the policy decided at (RFC 3339): the request's `decision_time`, else `time`.
    pub decision_time: String,
}

/// One audit record, as written (one JSON object per line).
#[derive(Debug, Serialize)]
pub struct Record<'a> {
    /// The decision's id, as in its response.
    pub decision_id: String,
    /// The call's request id.
    pub request_id: &'a str,
    /// The RPC.
    pub rpc: &'a str,
    /// The stream message's `batch_id` (`ScoreStream` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<u64>,
    /// The account's position in the request.
    pub index: u32,
    /// When the server decided.
    pub time: &'a str,
    /// The time the policy decided at.
    pub decision_time: &'a str,
    /// The account.
    pub account_id: &'a str,
    /// Its balance at the decision, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<f64>,
    /// Days past due on its latest statement at the decision.
    pub days_past_due: u32,
    /// The experiment running, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experiment: Option<&'a str>,
    /// The deciding model.
    pub model: &'a str,
    /// Its version.
    pub model_version: &'a str,
    /// The deciding policy's version.
    pub policy_version: &'a str,
    /// `champion` or `challenger`.
    pub arm: &'a str,
    /// Repayment probability.
    pub probability: f64,
    /// Score points.
    pub score: f64,
    /// Risk band.
    pub band: &'a str,
    /// `soft` or `firm`.
    pub treatment: &'a str,
    /// Next action.
    pub action: &'a str,
    /// Its channel.
    pub channel: &'a str,
    /// Ladder stage.
    pub stage: &'a str,
    /// Worklist priority.
    pub priority: f64,
    /// Reason codes, strongest first.
    pub reasons: ReasonCodes<'a>,
    /// The contact cap or compliance hold that changed the action, if one did (its rule:
    /// `max_attempts`, `bankruptcy`, `contact_hours`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard: Option<&'a str>,
    /// The challenger's decision in a shadow experiment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadow: Option<ShadowRecord<'a>>,
}

/// The challenger's shadow decision in a record.
#[derive(Debug, Serialize)]
pub struct ShadowRecord<'a> {
    /// Its model version.
    pub model_version: &'a str,
    /// Its probability.
    pub probability: f64,
    /// Its treatment.
    pub treatment: &'a str,
    /// Its action.
    pub action: &'a str,
}

/// A decision's reason codes, serialized as their codes, strongest first.
#[derive(Debug, Clone, Copy)]
pub struct ReasonCodes<'a>(&'a ScoredAccount<'a>);

impl Serialize for ReasonCodes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let decided = self.0;
        s.collect_seq(
            decided
                .reasons
                .iter()
                .map(|r| decided.engine.reason_code(r)),
        )
    }
}

/// Appends one JSON line per decision to `out`: `(index, account id, decision)`.
pub fn format<'a, 'd: 'a>(
    call: &CallContext,
    batch_id: Option<u64>,
    decisions: impl IntoIterator<Item = (u32, &'a str, &'a ScoredAccount<'d>)>,
    out: &mut Vec<u8>,
) {
    for (index, account_id, s) in decisions {
        let d = &s.decision;
        let model = s.engine.model().artifact();
        let record = Record {
            decision_id: s.decision_id(account_id),
            request_id: &call.request_id,
            rpc: call.rpc,
            batch_id,
            index,
            time: &call.time,
            decision_time: &call.decision_time,
            account_id,
            balance: s.balance,
            days_past_due: s.days_past_due,
            experiment: s.experiment,
            model: &model.name,
            model_version: &model.version,
            policy_version: &s.engine.policy().version,
            arm: s.arm.as_str(),
            probability: s.probability,
            score: d.score,
            band: d.band,
            treatment: d.treatment.as_str(),
            action: &d.action.action,
            channel: &d.action.channel,
            stage: d.stage,
            priority: d.priority,
            reasons: ReasonCodes(s),
            guard: d.guard.map(|g| g.rule.code()),
            shadow: s.shadow.as_ref().map(|x| ShadowRecord {
                model_version: &x.engine.model().artifact().version,
                probability: x.probability,
                treatment: x.decision.treatment.as_str(),
                action: &x.decision.action.action,
            }),
        };
        // Serializing plain strings and finite numbers into a Vec cannot fail.
        if serde_json::to_writer(&mut *out, &record).is_ok() {
            out.push(b'\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(dir: &Path, max_file_bytes: u64) -> Writer {
        Writer {
            dir: dir.to_path_buf(),
            stem: "decisions-test".into(),
            sequence: 0,
            file: None,
            written: 0,
            max_file_bytes,
            durable: false,
        }
    }

    fn entry(lines: &[String]) -> Entry {
        Entry {
            bytes: lines
                .iter()
                .flat_map(|l| format!("{l}\n").into_bytes())
                .collect(),
            done: None,
        }
    }

    #[test]
    fn a_large_group_rotates_between_records_and_no_file_overflows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut w = writer(dir.path(), 100);
        let lines: Vec<String> = (0..40).map(|i| format!("{{\"record\":{i:04}}}")).collect();
        // One group of several calls, as the writer sees under load: far more than one file.
        let group = vec![entry(&lines[..25]), entry(&lines[25..])];
        let mut buffer = Vec::new();
        w.write(&group, &mut buffer, true).expect("write");
        drop(w);
        let mut files: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        let mut read = Vec::new();
        for f in &files {
            let text = std::fs::read_to_string(f).expect("read");
            assert!(
                text.len() <= 100,
                "{} has {} bytes",
                f.display(),
                text.len()
            );
            assert!(text.ends_with('\n'), "a record split across files");
            read.extend(text.lines().map(str::to_owned));
        }
        // 16 bytes a line, 6 to a file.
        assert_eq!(files.len(), 7);
        assert_eq!(read, lines);
    }

    #[test]
    fn a_record_larger_than_the_limit_gets_a_file_of_its_own() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut w = writer(dir.path(), 10);
        let lines = vec!["a".repeat(30), "b".into(), "c".repeat(30)];
        let mut buffer = Vec::new();
        w.write(&[entry(&lines)], &mut buffer, false)
            .expect("write");
        drop(w);
        let sizes: Vec<u64> = {
            let mut files: Vec<_> = std::fs::read_dir(dir.path())
                .expect("dir")
                .map(|e| e.expect("entry").path())
                .collect();
            files.sort();
            files
                .iter()
                .map(|f| std::fs::metadata(f).expect("meta").len())
                .collect()
        };
        assert_eq!(sizes, vec![31, 2, 31]);
    }
}
