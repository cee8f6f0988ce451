//! One observation's ports: every read answered once. A survey observes and
//! previews every step, and each step reads the secret, the database and the
//! cluster again (about ten `current()` calls per environment); behind
//! [`memoize`] each read goes out once per (method, arguments) for the life
//! of the wrapper, and every step sees the same snapshot.
//!
//! Only for read-only work (the survey): a write is passed through and
//! forgets everything read so far, so a misuse costs calls, never a stale
//! answer. Errors are remembered like answers (one timeout, not one per step).

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OnceCell;

use super::ports::*;
use crate::db::Statement;
use crate::model::{DbObject, Grant, User};
use crate::secret::{ExposeSecret, SecretString};
use crate::stable_hash::fnv1a_64;

type Answer = Arc<OnceCell<Box<dyn Any + Send + Sync>>>;

/// Answers so far, keyed by method and arguments (a password only as its hash).
#[derive(Default)]
struct Answers(Mutex<HashMap<String, Answer>>);

impl Answers {
    fn read<'a, T: Clone + Send + Sync + 'static>(
        &'a self,
        key: String,
        call: impl FnOnce() -> PortFuture<'a, T> + Send + 'a,
    ) -> PortFuture<'a, T> {
        let cell = self.0.lock().expect("memo lock").entry(key).or_default().clone();
        Box::pin(async move {
            let answer = cell
                .get_or_init(|| async { Box::new(call().await) as Box<dyn Any + Send + Sync> })
                .await;
            answer
                .downcast_ref::<Result<T, PortError>>()
                .expect("one answer type per method")
                .clone()
        })
    }

    fn write<'a, T: Send + 'a>(&'a self, call: PortFuture<'a, T>) -> PortFuture<'a, T> {
        self.0.lock().expect("memo lock").clear();
        Box::pin(async move {
            let r = call.await;
            self.0.lock().expect("memo lock").clear();
            r
        })
    }
}

/// A password in a key: its hash, never the text.
fn pw(p: &SecretString) -> u64 {
    fnv1a_64(p.expose_secret().as_bytes())
}

fn creds(c: &AppCredentials) -> String {
    format!("{}\0{:016x}", c.username, pw(&c.password))
}

/// `ports` with every read answered once for the life of the result.
pub fn memoize(ports: &EnvPorts) -> EnvPorts {
    EnvPorts {
        target: ports.target.clone(),
        db: Arc::new(MemoDb {
            inner: ports.db.clone(),
            answers: Answers::default(),
        }),
        secrets: Arc::new(MemoSecrets {
            inner: ports.secrets.clone(),
            answers: Answers::default(),
        }),
        cluster: Arc::new(MemoCluster {
            inner: ports.cluster.clone(),
            answers: Answers::default(),
        }),
    }
}

struct MemoDb {
    inner: Arc<dyn DbPort>,
    answers: Answers,
}

impl DbPort for MemoDb {
    fn user<'a>(&'a self, name: &'a str) -> PortFuture<'a, Option<User>> {
        self.answers
            .read(format!("user\0{name}"), || self.inner.user(name))
    }
    fn grants<'a>(&'a self, name: &'a str) -> PortFuture<'a, Vec<Grant>> {
        self.answers
            .read(format!("grants\0{name}"), || self.inner.grants(name))
    }
    fn clone_grants<'a>(&'a self, from: &'a str, to: &'a str) -> PortFuture<'a, Vec<Statement>> {
        self.answers.read(format!("clone_grants\0{from}\0{to}"), || {
            self.inner.clone_grants(from, to)
        })
    }
    fn create_user<'a>(
        &'a self,
        name: &'a str,
        password: &'a SecretString,
        like: &'a str,
        owner_role: &'a str,
    ) -> PortFuture<'a, Vec<Statement>> {
        let key = format!("create_user\0{name}\0{:016x}\0{like}\0{owner_role}", pw(password));
        self.answers.read(key, move || {
            self.inner.create_user(name, password, like, owner_role)
        })
    }
    fn copies_grants(&self) -> bool {
        self.inner.copies_grants()
    }
    fn objects_of<'a>(&'a self, user: &'a str) -> PortFuture<'a, Vec<DbObject>> {
        self.answers
            .read(format!("objects_of\0{user}"), || self.inner.objects_of(user))
    }
    fn objects_verb(&self) -> &'static str {
        self.inner.objects_verb()
    }
    fn objects_lost_on_drop<'a>(&'a self, user: &'a str) -> PortFuture<'a, Vec<DbObject>> {
        self.answers.read(format!("objects_lost_on_drop\0{user}"), || {
            self.inner.objects_lost_on_drop(user)
        })
    }
    fn rollback_note(&self, old: &str, owner_role: &str) -> String {
        self.inner.rollback_note(old, owner_role)
    }
    fn move_objects<'a>(&'a self, from: &'a str, to: &'a str) -> PortFuture<'a, Vec<Statement>> {
        self.answers.read(format!("move_objects\0{from}\0{to}"), || {
            self.inner.move_objects(from, to)
        })
    }
    fn test_login<'a>(&'a self, user: &'a str, password: &'a SecretString) -> PortFuture<'a, ()> {
        let key = format!("test_login\0{user}\0{:016x}", pw(password));
        self.answers.read(key, || self.inner.test_login(user, password))
    }
    fn connections<'a>(&'a self, user: &'a str) -> PortFuture<'a, i64> {
        self.answers
            .read(format!("connections\0{user}"), || self.inner.connections(user))
    }
    /// Live counters, never remembered: a plan does not read them.
    fn failed_logins<'a>(&'a self, users: &'a [String]) -> PortFuture<'a, FailedLogins> {
        self.inner.failed_logins(users)
    }
    fn kill_connections<'a>(&'a self, user: &'a str) -> PortFuture<'a, Vec<Statement>> {
        self.answers.read(format!("kill_connections\0{user}"), || {
            self.inner.kill_connections(user)
        })
    }
    fn drop_user<'a>(&'a self, user: &'a str, owner_role: &'a str) -> PortFuture<'a, Vec<Statement>> {
        self.answers
            .read(format!("drop_user\0{user}\0{owner_role}"), move || {
                self.inner.drop_user(user, owner_role)
            })
    }
    fn drop_note(&self, old: &str, owner_role: &str, planned: &[Statement]) -> Option<String> {
        self.inner.drop_note(old, owner_role, planned)
    }
    fn database_incarnation(&self) -> PortFuture<'_, Option<String>> {
        self.answers.read("database_incarnation".into(), || {
            self.inner.database_incarnation()
        })
    }
    fn execute<'a>(&'a self, statement: &'a Statement) -> PortFuture<'a, ()> {
        self.answers.write(self.inner.execute(statement))
    }
    fn lock<'a>(&'a self, key: &'a str) -> PortFuture<'a, Option<DbLock>> {
        self.inner.lock(key)
    }
}

struct MemoSecrets {
    inner: Arc<dyn SecretsPort>,
    answers: Answers,
}

impl SecretsPort for MemoSecrets {
    fn caller_identity(&self) -> PortFuture<'_, String> {
        self.answers
            .read("caller_identity".into(), || self.inner.caller_identity())
    }
    fn current(&self) -> PortFuture<'_, AppCredentials> {
        self.answers.read("current".into(), || self.inner.current())
    }
    fn pending(&self) -> PortFuture<'_, Option<AppCredentials>> {
        self.answers.read("pending".into(), || self.inner.pending())
    }
    fn pending_on_current(&self) -> PortFuture<'_, bool> {
        self.answers
            .read("pending_on_current".into(), || self.inner.pending_on_current())
    }
    fn put_pending<'a>(
        &'a self,
        rotation_id: &'a str,
        username: &'a str,
        password: &'a SecretString,
    ) -> PortFuture<'a, ()> {
        self.answers
            .write(self.inner.put_pending(rotation_id, username, password))
    }
    fn promote_pending(&self) -> PortFuture<'_, ()> {
        self.answers.write(self.inner.promote_pending())
    }
    fn past_usernames(&self) -> PortFuture<'_, Vec<String>> {
        self.answers
            .read("past_usernames".into(), || self.inner.past_usernames())
    }
    fn rotation_mark(&self) -> PortFuture<'_, Option<RotationMark>> {
        self.answers
            .read("rotation_mark".into(), || self.inner.rotation_mark())
    }
    fn set_rotation_mark<'a>(&'a self, mark: &'a RotationMark) -> PortFuture<'a, ()> {
        self.answers.write(self.inner.set_rotation_mark(mark))
    }
    fn clear_rotation_mark<'a>(&'a self, rotation_id: &'a str) -> PortFuture<'a, ()> {
        self.answers.write(self.inner.clear_rotation_mark(rotation_id))
    }
    fn restore_previous<'a>(&'a self, old_username: &'a str) -> PortFuture<'a, ()> {
        self.answers.write(self.inner.restore_previous(old_username))
    }
}

struct MemoCluster {
    inner: Arc<dyn ClusterPort>,
    answers: Answers,
}

impl ClusterPort for MemoCluster {
    fn force_sync(&self, timeout: Duration) -> PortFuture<'_, SyncVerdict> {
        self.answers.write(self.inner.force_sync(timeout))
    }
    fn check_secret<'a>(&'a self, expected: &'a AppCredentials) -> PortFuture<'a, Option<CredCheck>> {
        self.answers
            .read(format!("check_secret\0{}", creds(expected)), || {
                self.inner.check_secret(expected)
            })
    }
    fn check_rollout<'a>(&'a self, expected: &'a AppCredentials) -> PortFuture<'a, RolloutCheck> {
        self.answers
            .read(format!("check_rollout\0{}", creds(expected)), || {
                self.inner.check_rollout(expected)
            })
    }
    fn blast_radius(&self) -> PortFuture<'_, BlastRadius> {
        self.answers
            .read("blast_radius".into(), || self.inner.blast_radius())
    }
    fn restart<'a>(&'a self, workload: &'a str, at: &'a str) -> PortFuture<'a, ()> {
        self.answers.write(self.inner.restart(workload, at))
    }
    fn set_paused<'a>(&'a self, workload: &'a str, paused: bool) -> PortFuture<'a, ()> {
        self.answers.write(self.inner.set_paused(workload, paused))
    }
    fn restore_runs(&self) -> PortFuture<'_, Vec<RestoreRun>> {
        self.answers
            .read("restore_runs".into(), || self.inner.restore_runs())
    }
    fn sync_naming<'a>(&'a self, login: &'a str) -> PortFuture<'a, Vec<SyncNaming>> {
        self.answers
            .read(format!("sync_naming\0{login}"), || self.inner.sync_naming(login))
    }
}
