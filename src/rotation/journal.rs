//! The journal: per target, an append-only file of JSON lines holding each
//! rotation's decisions, every step's start, finish and result, every
//! statement and call made (masked previews) and who ran it. It is the audit
//! trail; a rotation resumes from it on the laptop that ran it, and from the
//! rotation mark in Secrets Manager anywhere else (`super::mark`). It never holds a password: every
//! string goes through [`crate::secret::redact`] before it is written.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ports::{FailedLogins, System};
use super::spec::{PlanSpec, Rotation};
use super::step::StepId;
use crate::secret;
use crate::target::EnvName;

// Who ran a rotation has its own file, below the journal and the mark.
pub use super::operator::Operator;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    /// Observed done; nothing applied.
    AlreadyDone,
    /// Applied and verified.
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum Event {
    Started {
        decisions: Rotation,
        operator: Operator,
    },
    Resumed {
        operator: Operator,
    },
    /// This journal picks up a rotation begun elsewhere (another laptop or
    /// state directory): its decisions as the rotation mark holds them.
    Adopted {
        decisions: Rotation,
        operator: Operator,
        /// The mark's holder and start.
        started_by: String,
        started: DateTime<Utc>,
    },
    /// The operator took the rotation over from another holder, idle since `last_active`.
    TakenOver {
        from: String,
        last_active: DateTime<Utc>,
        operator: Operator,
    },
    StepStarted {
        step: StepId,
        title: String,
        preview: Vec<String>,
    },
    /// A write, recorded before it is made.
    Call {
        step: StepId,
        system: System,
        text: String,
    },
    StepFinished {
        step: StepId,
        result: StepOutcome,
        detail: String,
    },
    /// An operator override.
    Skipped {
        step: StepId,
        reason: String,
        by: String,
    },
    Waiting {
        step: Option<StepId>,
        reason: String,
    },
    Failed {
        step: Option<StepId>,
        error: String,
    },
    Finished,
    /// The operator gave the rotation up; a new one may start. Live state is
    /// left as it is (the app keeps whatever AWSCURRENT names).
    Abandoned {
        reason: String,
        by: String,
    },
    /// The operator chose to roll the rotation back (`rotation::rollback`):
    /// its steps follow; it can no longer be resumed forward.
    RollbackStarted {
        operator: Operator,
    },
    /// The rollback finished: the app is back on the old user, and the
    /// rotation is over (a new one starts afresh, with a new username).
    RolledBack,
    /// A rollout step saw one consumer ready on the credentials it waits
    /// for: rolled out, every serving pod on them (`rotui report`'s restarts).
    WorkloadReady {
        step: StepId,
        workload: String,
        pods: usize,
        summary: String,
    },
    /// The drain step's count of the old user's connections, journalled when
    /// it changes: in all, and per pod where the cluster names the client
    /// (`rotui report`'s drain curve).
    DrainSample {
        step: StepId,
        user: String,
        total: i64,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        by_pod: BTreeMap<String, i64>,
    },
    /// A notice to the team's webhook could not be delivered (the URL
    /// masked): journalled once per run, as the rotation went on regardless.
    NotificationFailed {
        error: String,
    },
    /// The failed logins of the old and new users as the server counts
    /// them (its cumulative counters), journalled when they change; the
    /// `baseline` is taken before the promote, so that `rotui report`
    /// blames the rotation only for what came after it. Or why the server
    /// cannot tell.
    FailedLogins {
        step: StepId,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        baseline: bool,
        logins: FailedLogins,
    },
    /// rotui restarts a consumer Reloader leaves (`kubectl rollout
    /// restart`: its template's restartedAt set to `restarted_at`), one at
    /// a time, each behind the health gate. Recorded before the write, as
    /// its `Call` is; a failed write is followed by the step's failure.
    WorkloadRestarted {
        step: StepId,
        workload: String,
        /// The template's `restartedAt` (not `at`: the entry's own time is).
        restarted_at: String,
    },
    /// rotui resumes a Deployment the sync step paused for `--stagger`
    /// (Reloader's restart of it then rolls), one at a time, each gated.
    WorkloadResumed {
        step: StepId,
        workload: String,
    },
    /// A restarting consumer failed its health gate (not ready in time,
    /// crash-looping, too few available): the rollout step stopped there.
    GateFailed {
        step: StepId,
        workload: String,
        reason: String,
    },
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub at: DateTime<Utc>,
    pub rotation: String,
    #[serde(flatten)]
    pub event: Event,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    #[error("journal {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("journal {path}, line {line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("no rotation {0} in the journal")]
    NotFound(String),
    #[error("{0} matches several rotations: give more of the id")]
    Ambiguous(String),
    #[error("no state directory: set ROTUI_STATE_DIR")]
    NoStateDir,
}

/// Where journals live: [`crate::paths::state_dir`].
pub fn state_dir() -> Result<PathBuf, JournalError> {
    crate::paths::state_dir().ok_or(JournalError::NoStateDir)
}

/// One target's journal file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journal {
    path: PathBuf,
}

impl Journal {
    /// The journal of `spec`'s target (keyed by its first environment, app
    /// and engine) under `dir`.
    pub fn for_spec(dir: &Path, spec: &PlanSpec) -> Journal {
        let key = format!(
            "{}_{}_{}",
            spec.envs.first().map(EnvName::as_str).unwrap_or("none"),
            spec.app,
            spec.engine
        );
        let safe: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '%'
                }
            })
            .collect();
        Journal {
            path: dir.join("journal").join(format!("{safe}.jsonl")),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one event, scrubbed of secrets, and flush it to disk.
    pub fn append(&self, rotation: &str, event: Event) -> Result<(), JournalError> {
        let entry = Entry {
            at: Utc::now(),
            rotation: rotation.to_owned(),
            event,
        };
        let mut value = serde_json::to_value(&entry).map_err(|e| self.io(e))?;
        scrub(&mut value);
        let mut line = serde_json::to_string(&value).map_err(|e| self.io(e))?;
        line.push('\n');
        // The journal holds backups of what a step removes: private
        // directories (0700, looser ones tightened) and a 0600 file.
        if let Some(parent) = self.path.parent() {
            crate::paths::private_dir(parent).map_err(|e| self.io(e))?;
        }
        let mut f = crate::paths::private_append(&self.path).map_err(|e| self.io(e))?;
        // One write per line: O_APPEND keeps concurrent writers' lines whole.
        f.write_all(line.as_bytes()).map_err(|e| self.io(e))?;
        f.sync_data().map_err(|e| self.io(e))
    }

    /// Every entry, oldest first (none when the file does not exist yet).
    pub fn entries(&self) -> Result<Vec<Entry>, JournalError> {
        read_entries(&self.path)
    }

    /// The latest rotation that started here and has not finished.
    pub fn unfinished(&self) -> Result<Option<Rotation>, JournalError> {
        let mut open: Option<Rotation> = None;
        for e in self.entries()? {
            match e.event {
                Event::Started { decisions, .. } | Event::Adopted { decisions, .. } => open = Some(decisions),
                Event::Finished | Event::Abandoned { .. } | Event::RolledBack
                    if open.as_ref().is_some_and(|r| r.id == e.rotation) =>
                {
                    open = None
                }
                _ => {}
            }
        }
        Ok(open)
    }

    /// The latest rotation begun here, when it has ended (finished, rolled
    /// back or abandoned): what `rotui plan` and the Steps pane say once
    /// no rotation is under way.
    pub fn last_ended(&self) -> Result<Option<Ended>, JournalError> {
        let entries = self.entries()?;
        let Some(last) = entries.iter().rev().find_map(|e| match e.event {
            Event::Started { .. } | Event::Adopted { .. } => Some(e.rotation.as_str()),
            _ => None,
        }) else {
            return Ok(None);
        };
        Ok(entries.iter().rev().filter(|e| e.rotation == last).find_map(|e| {
            let how = match e.event {
                Event::Finished => "finished",
                Event::RolledBack => "rolled back",
                Event::Abandoned { .. } => "abandoned",
                _ => return None,
            };
            Some(Ended {
                id: last.to_owned(),
                how,
                at: e.at,
            })
        }))
    }

    /// Whether a rollback of rotation `id` was started (finished or not).
    pub fn rolling_back(&self, id: &str) -> Result<bool, JournalError> {
        Ok(self
            .entries()?
            .iter()
            .any(|e| e.rotation == id && matches!(e.event, Event::RollbackStarted { .. })))
    }

    fn io(&self, e: impl std::fmt::Display) -> JournalError {
        JournalError::Io {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }
}

fn read_entries(path: &Path) -> Result<Vec<Entry>, JournalError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => {
            return Err(JournalError::Io {
                path: path.to_owned(),
                message: e.to_string(),
            });
        }
    };
    let mut out = vec![];
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Entry>(line) {
            Ok(e) => out.push(e),
            // A crash mid-write leaves a partial last line; everything before it stands.
            Err(_) if i + 1 == text.lines().count() && !text.ends_with('\n') => break,
            Err(e) => {
                return Err(JournalError::Parse {
                    path: path.to_owned(),
                    line: i + 1,
                    message: e.to_string(),
                });
            }
        }
    }
    Ok(out)
}

/// Redact every string (and key) in a JSON value.
fn scrub(v: &mut Value) {
    match v {
        Value::String(s) => *s = secret::redact(s),
        Value::Array(a) => a.iter_mut().for_each(scrub),
        Value::Object(m) => {
            let old = std::mem::take(m);
            for (k, mut val) in old {
                scrub(&mut val);
                m.insert(secret::redact(&k), val);
            }
        }
        _ => {}
    }
}

/// A rotation that has ended: `rotation <id> finished at <when>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub id: String,
    /// `finished`, `rolled back` or `abandoned`.
    pub how: &'static str,
    pub at: DateTime<Utc>,
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rotation {} {} at {}",
            self.id,
            self.how,
            self.at.format("%Y-%m-%d %H:%M UTC")
        )
    }
}

/// Where a rotation stands, as its journal tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "detail")]
pub enum RotationState {
    InProgress,
    Waiting(String),
    Failed(String),
    Finished,
    Abandoned(String),
    /// A rollback is under way (or waiting).
    RollingBack,
    RolledBack,
}

/// One rotation in `rotui journal`'s list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub id: String,
    pub label: String,
    pub started: DateTime<Utc>,
    pub last: DateTime<Utc>,
    pub old_users: BTreeMap<EnvName, String>,
    pub new_username: String,
    pub started_by: String,
    pub state: RotationState,
    pub path: PathBuf,
}

fn journal_files(dir: &Path) -> Result<Vec<PathBuf>, JournalError> {
    let jdir = dir.join("journal");
    let rd = match fs::read_dir(&jdir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => {
            return Err(JournalError::Io {
                path: jdir,
                message: e.to_string(),
            });
        }
    };
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    Ok(files)
}

/// Every rotation recorded under `dir`, oldest first.
pub fn list(dir: &Path) -> Result<Vec<Summary>, JournalError> {
    let mut out: Vec<Summary> = vec![];
    for path in journal_files(dir)? {
        let mut by_id: BTreeMap<String, Summary> = BTreeMap::new();
        for e in read_entries(&path)? {
            let begun = match &e.event {
                Event::Started { decisions, operator } => Some((decisions, operator.os_user.clone(), e.at)),
                Event::Adopted {
                    decisions,
                    started_by,
                    started,
                    ..
                } => Some((decisions, started_by.clone(), *started)),
                _ => None,
            };
            if let Some((decisions, started_by, started)) = begun {
                by_id.insert(
                    e.rotation.clone(),
                    Summary {
                        id: e.rotation.clone(),
                        label: decisions.spec.label(),
                        started,
                        last: e.at,
                        old_users: decisions.old_users.clone(),
                        new_username: decisions.new_username.clone(),
                        started_by,
                        state: RotationState::InProgress,
                        path: path.clone(),
                    },
                );
                continue;
            }
            let Some(s) = by_id.get_mut(&e.rotation) else {
                continue;
            };
            s.last = e.at;
            match e.event {
                Event::Waiting { reason, .. } => s.state = RotationState::Waiting(reason),
                Event::Failed { error, .. } => s.state = RotationState::Failed(error),
                Event::Finished => s.state = RotationState::Finished,
                Event::Abandoned { reason, .. } => s.state = RotationState::Abandoned(reason),
                Event::RollbackStarted { .. } => s.state = RotationState::RollingBack,
                Event::RolledBack => s.state = RotationState::RolledBack,
                Event::Resumed { .. } | Event::TakenOver { .. } | Event::StepStarted { .. } => {
                    s.state = RotationState::InProgress
                }
                _ => {}
            }
        }
        out.extend(by_id.into_values());
    }
    out.sort_by_key(|s| s.started);
    Ok(out)
}

/// One rotation (by id or unique prefix) and its entries.
pub fn show(dir: &Path, id: &str) -> Result<(Summary, Vec<Entry>), JournalError> {
    let all = list(dir)?;
    let matches: Vec<&Summary> = all.iter().filter(|s| s.id.starts_with(id)).collect();
    let summary = match matches.as_slice() {
        [] => return Err(JournalError::NotFound(id.to_owned())),
        [one] => (*one).clone(),
        many => match many.iter().find(|s| s.id == id) {
            Some(exact) => (*exact).clone(),
            None => return Err(JournalError::Ambiguous(id.to_owned())),
        },
    };
    let entries = read_entries(&summary.path)?
        .into_iter()
        .filter(|e| e.rotation == summary.id)
        .collect();
    Ok((summary, entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_reaches_nested_strings_and_keys() {
        secret::register("nestedSecretValue42");
        let mut v = serde_json::json!({"a": ["x nestedSecretValue42 y", {"nestedSecretValue42": 1}]});
        scrub(&mut v);
        assert!(!v.to_string().contains("nestedSecretValue42"));
    }
}
