//! What a run tells the team as it goes ([`Notice`]): the rotation started,
//! waits for the operator, is blocked at a step, finished, or was rolled
//! back. The engine only enqueues a notice ([`Notifier::send`], never
//! waiting); delivering it (a webhook per environment, retried) is
//! [`crate::webhook`]'s, in a task of its own, so a slow or dead receiver
//! never slows a rotation.
//!
//! A notice carries names, never a secret: the app, environments, step,
//! rotation id, users (usernames are not secrets), who runs it from where,
//! and a detail that is redacted as it is made.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::mpsc;

use super::spec::Rotation;
use super::step::{Step, StepId};
use crate::target::EnvName;

/// The kinds of notice, as a receiver sees them (`event` in the message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    Started,
    /// Needs the operator: a confirmation, or a wait (the overnight restore,
    /// a sync, rollout or drain that outlasted its timeout) before running again.
    Waiting,
    /// A step stopped the plan: blocked, failed, or a health gate that did not pass.
    Blocked,
    Finished,
    RolledBack,
}

impl NoticeKind {
    /// The event's name in messages (`gate_failed`-style receivers match on it).
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Started => "started",
            NoticeKind::Waiting => "waiting",
            NoticeKind::Blocked => "blocked",
            NoticeKind::Finished => "finished",
            NoticeKind::RolledBack => "rolled_back",
        }
    }
}

impl fmt::Display for NoticeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing that happened to a rotation, for the team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub kind: NoticeKind,
    pub rotation: String,
    pub app: String,
    pub engine: String,
    /// Whose webhooks hear it: the step's environment, or every
    /// environment of the rotation for what concerns it whole.
    pub envs: Vec<EnvName>,
    pub step: Option<StepId>,
    /// What happened, redacted (a wait's or an error's words).
    pub detail: String,
    pub old_users: BTreeMap<EnvName, String>,
    pub new_user: String,
    /// Who runs rotui, and from where (`os-user@host`).
    pub by: String,
    pub at: DateTime<Utc>,
}

impl Notice {
    pub fn new(kind: NoticeKind, rotation: &Rotation, step: Option<&Step>, detail: &str, by: &str) -> Notice {
        Notice {
            kind,
            rotation: rotation.id.clone(),
            app: rotation.spec.app.clone(),
            engine: rotation.spec.engine.to_string(),
            envs: match step {
                Some(s) => vec![s.env.clone()],
                None => rotation.spec.envs.clone(),
            },
            step: step.map(|s| s.id.clone()),
            detail: crate::secret::redact(detail),
            old_users: rotation.old_users.clone(),
            new_user: rotation.new_username.clone(),
            by: crate::secret::redact(by),
            at: Utc::now(),
        }
    }
}

/// The engine's end of the notice queue: bounded, and never waited on. A
/// full queue (a receiver far behind) drops the notice and counts it, as
/// a rotation must not wait for its announcements.
#[derive(Clone)]
pub struct Notifier {
    tx: mpsc::Sender<Notice>,
    dropped: Arc<AtomicU64>,
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// A queue holding up to `capacity` notices, and its receiving end.
    pub fn channel(capacity: usize) -> (Notifier, mpsc::Receiver<Notice>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (
            Notifier {
                tx,
                dropped: Arc::default(),
            },
            rx,
        )
    }

    /// Enqueue `notice`; never waits.
    pub fn send(&self, notice: Notice) {
        if self.tx.try_send(notice).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Notices not queued because the queue was full (or delivery had ended).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let (n, mut rx) = Notifier::channel(1);
        let rotation = Rotation {
            id: "r1".into(),
            spec: crate::rotation::PlanSpec::for_target(
                &crate::target::Target::new("production", "signon", crate::target::Engine::Mysql),
                &[],
                crate::rotation::Mode::Normal,
            ),
            old_users: BTreeMap::from([("production".into(), "signon".into())]),
            new_username: "signon_user_20261206".into(),
        };
        n.send(Notice::new(NoticeKind::Started, &rotation, None, "", "me@here"));
        n.send(Notice::new(NoticeKind::Finished, &rotation, None, "", "me@here"));
        assert_eq!(n.dropped(), 1);
        let first = rx.recv().await.unwrap();
        assert_eq!(first.kind, NoticeKind::Started);
        assert_eq!(first.envs, vec![EnvName::from("production")]);
    }
}
