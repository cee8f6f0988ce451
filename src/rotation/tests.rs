//! Gating, ordering and interlock tests of the runner, on an in-memory world.
//! (Long because it is a test suite with its own fake world, not product code.)
//!
//! The fake here only lets the engine's own logic be exercised (which step
//! runs when, what is refused, what is journalled); it is not evidence that
//! a rotation works against real systems — the end-to-end tests against the
//! sandbox are.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::context::{Ctx, StepCtx};
use super::interlock::InterlockKind;
use super::journal::{Event, Journal};
use super::mark::RotationMark;
use super::outcome::StepError;
use super::plan::{Mode, Plan, PlanSpec, Rotation};
use super::ports::*;
use super::runner::{self, RunOptions, RunOutcome, StepEventKind, Wait};
use super::step::{Confirm, Step, StepId, StepKind};
use crate::db::Statement;
use crate::model::{DbObject, Grant, GrantKind, User};
use crate::secret::{ExposeSecret, MASK, SecretString};
use crate::target::{Engine, Target};

#[derive(Default)]
struct FakeUser {
    password: String,
    member_of: BTreeSet<String>,
    grants: BTreeSet<String>,
}

/// One environment: database, secret and cluster in one state.
#[derive(Default)]
struct State {
    users: BTreeMap<String, FakeUser>,
    objects: BTreeMap<String, usize>,
    conns: BTreeMap<String, i64>,
    /// The old user's connections do not go away by themselves.
    sticky: bool,
    current: (String, String),
    /// Usernames AWSCURRENT held before the current one (the version history).
    past: Vec<String>,
    pending: Option<(String, String)>,
    /// AWSPREVIOUS: the version AWSCURRENT left at the last promotion.
    previous: Option<(String, String)>,
    k8s_url: Option<(String, String)>,
    pods_url: Option<(String, String)>,
    /// Consumers besides the app Deployment's `app` container.
    consumers: Vec<FakeConsumer>,
    sync_error: bool,
    /// clone_grants adds MariaDB's credential-bearing USAGE line.
    leak_credentials: bool,
    /// Logins fail whatever the password.
    fail_login: bool,
    /// Database calls never answer.
    db_hangs: bool,
    /// Every write, as executed (real text, passwords included).
    writes: Vec<String>,
    /// The rotation mark (the secret's tags), as tags.
    mark_tags: Vec<(String, String)>,
    /// Advisory locks held (their keys).
    locks: BTreeSet<String>,
    /// The app database's identity (PostgreSQL's oid): a restore changes it.
    incarnation: u32,
    /// Every read so far, by method and arguments (credentials by username).
    reads: BTreeMap<String, usize>,
    /// Users work through an owner role (PostgreSQL), rather than copied
    /// grants and definers (MySQL).
    owner_roles: bool,
    /// The server's failed-login counters, per user (`None`: it cannot tell).
    failed_logins: Option<BTreeMap<String, i64>>,
    /// Where the cluster's data sync names each login.
    sync_naming: BTreeMap<String, Vec<SyncNaming>>,
    /// The cluster's restore jobs of the app's database.
    restore_runs: Vec<RestoreRun>,
}

/// Another consumer of the app's Secret: a worker, another app, a CronJob
/// (no pod), a running Job.
#[derive(Clone, Default)]
struct FakeConsumer {
    workload: String,
    /// `None`: a CronJob between runs.
    pod: Option<String>,
    container: String,
    variable: String,
    url: Option<(String, String)>,
    /// Restarted by the Reloader when the Secret changes (a Job is not).
    restarts: bool,
}

#[derive(Clone)]
struct Fake(Arc<Mutex<State>>);

impl Fake {
    fn s(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap()
    }
    fn count(&self, read: String) {
        *self.s().reads.entry(read).or_default() += 1;
    }
}

fn ready<'a, T: Send + 'a>(r: Result<T, PortError>) -> PortFuture<'a, T> {
    Box::pin(async move { r })
}

fn db_err(kind: PortErrorKind, m: &str) -> PortError {
    PortError::new(System::Database, kind, m)
}

impl Fake {
    fn db<'a, T: Send + 'a>(&self, f: impl FnOnce(&mut State) -> Result<T, PortError>) -> PortFuture<'a, T> {
        let mut s = self.s();
        if s.db_hangs {
            return Box::pin(std::future::pending());
        }
        ready(f(&mut s))
    }
}

impl DbPort for Fake {
    fn user<'a>(&'a self, name: &'a str) -> PortFuture<'a, Option<User>> {
        self.count(format!("user {name}"));
        self.db(|s| {
            Ok(s.users.get(name).map(|u| User {
                name: name.into(),
                host: None,
                can_login: true,
                superuser: false,
                auth_plugin: None,
                password_expired: false,
                account_locked: false,
                can_grant: false,
                attributes: vec![],
                member_of: u.member_of.iter().cloned().collect(),
                valid_until: None,
                settings: vec![],
                is_role: false,
            }))
        })
    }
    fn grants<'a>(&'a self, name: &'a str) -> PortFuture<'a, Vec<Grant>> {
        self.count(format!("grants {name}"));
        self.db(|s| {
            Ok(s.users
                .get(name)
                .map(|u| {
                    u.grants
                        .iter()
                        .map(|g| Grant {
                            privileges: vec![g.clone()],
                            on: String::new(),
                            kind: GrantKind::Database,
                            with_grant_option: false,
                            raw: g.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default())
        })
    }
    fn clone_grants<'a>(&'a self, from: &'a str, to: &'a str) -> PortFuture<'a, Vec<Statement>> {
        self.count(format!("clone_grants {from} {to}"));
        self.db(|s| {
            // What `to` has, its own or through the roles it is in (PostgreSQL's owner role).
            let mut have = s.users.get(to).map(|u| u.grants.clone()).unwrap_or_default();
            for role in s.users.get(to).map(|u| u.member_of.clone()).unwrap_or_default() {
                have.extend(s.users.get(&role).map(|r| r.grants.clone()).unwrap_or_default());
            }
            let mut out: Vec<Statement> = s.users[from]
                .grants
                .difference(&have)
                .map(|g| Statement::new(format!("GRANT {g} TO {to}")))
                .collect();
            if s.leak_credentials && !out.is_empty() {
                out.push(Statement::new(format!(
                    "GRANT USAGE TO {to} IDENTIFIED BY PASSWORD '*0123456789ABCDEF'"
                )));
            }
            Ok(out)
        })
    }
    fn create_user<'a>(
        &'a self,
        name: &'a str,
        password: &'a SecretString,
        _like: &'a str,
        owner_role: &'a str,
    ) -> PortFuture<'a, Vec<Statement>> {
        self.count(format!("create_user {name}"));
        let password = password.clone();
        self.db(move |s| {
            let mut out = vec![];
            let existing = s.users.get(name);
            if existing.is_none() {
                out.push(Statement::with_password(
                    format!("CREATE USER {name} IDENTIFIED BY {}", Statement::PASSWORD),
                    password,
                    |p| p.to_owned(),
                ));
            }
            let o = owner_role;
            if s.owner_roles && !existing.is_some_and(|u| u.member_of.contains(o)) {
                out.push(Statement::new(format!("GRANT \"{o}\" TO \"{name}\"")));
            }
            Ok(out)
        })
    }
    fn copies_grants(&self) -> bool {
        !self.s().owner_roles
    }
    fn objects_verb(&self) -> &'static str {
        if self.s().owner_roles { "owns" } else { "defines" }
    }
    fn objects_lost_on_drop<'a>(&'a self, user: &'a str) -> PortFuture<'a, Vec<DbObject>> {
        if self.s().owner_roles {
            return ready(Ok(vec![]));
        }
        self.objects_of(user)
    }
    fn rollback_note(&self, old: &str, owner_role: &str) -> String {
        format!("-- no database undo needed: {old} works as before ({owner_role})")
    }
    fn objects_of<'a>(&'a self, user: &'a str) -> PortFuture<'a, Vec<DbObject>> {
        self.count(format!("objects_of {user}"));
        self.db(|s| {
            let n = s.objects.get(user).copied().unwrap_or(0);
            Ok((0..n)
                .map(|i| DbObject {
                    kind: "view".into(),
                    schema: None,
                    name: format!("v{i}"),
                    owner: user.into(),
                })
                .collect())
        })
    }
    fn move_objects<'a>(&'a self, from: &'a str, to: &'a str) -> PortFuture<'a, Vec<Statement>> {
        self.count(format!("move_objects {from} {to}"));
        self.db(|s| {
            Ok(match s.objects.get(from) {
                Some(n) if *n > 0 => vec![Statement::new(format!("MOVE {from} {to}"))],
                _ => vec![],
            })
        })
    }
    fn test_login<'a>(&'a self, user: &'a str, password: &'a SecretString) -> PortFuture<'a, ()> {
        self.count(format!("test_login {user}"));
        self.db(|s| match s.users.get(user) {
            Some(u) if !s.fail_login && u.password == password.expose_secret() => Ok(()),
            _ => Err(db_err(
                PortErrorKind::BadPassword,
                &format!("Access denied for user '{user}'"),
            )),
        })
    }
    fn connections<'a>(&'a self, user: &'a str) -> PortFuture<'a, i64> {
        self.count(format!("connections {user}"));
        self.db(|s| Ok(s.conns.get(user).copied().unwrap_or(0)))
    }
    fn failed_logins<'a>(&'a self, users: &'a [String]) -> PortFuture<'a, FailedLogins> {
        self.db(|s| {
            Ok(match &s.failed_logins {
                Some(counted) => FailedLogins::Counted(
                    users
                        .iter()
                        .map(|u| (u.clone(), counted.get(u).copied().unwrap_or(0)))
                        .collect(),
                ),
                None => FailedLogins::NotObservable("the fake cannot tell".into()),
            })
        })
    }
    fn kill_connections<'a>(&'a self, user: &'a str) -> PortFuture<'a, Vec<Statement>> {
        self.count(format!("kill_connections {user}"));
        self.db(|_| Ok(vec![Statement::new(format!("KILL {user}"))]))
    }
    fn drop_user<'a>(&'a self, user: &'a str, owner_role: &'a str) -> PortFuture<'a, Vec<Statement>> {
        self.count(format!("drop_user {user}"));
        let mut out = vec![];
        if self.s().owner_roles {
            out.push(Statement::new(format!("MOVE {user} {owner_role}")));
        }
        out.push(Statement::new(format!("DROP USER {user}")));
        self.db(|_| Ok(out))
    }
    fn lock<'a>(&'a self, key: &'a str) -> PortFuture<'a, Option<DbLock>> {
        let fake = self.clone();
        let mut s = self.s();
        if !s.locks.insert(key.to_owned()) {
            return ready(Ok(None));
        }
        let key = key.to_owned();
        ready(Ok(Some(DbLock::new(key.clone(), move || {
            fake.s().locks.remove(&key);
            Box::pin(async {})
        }))))
    }
    fn database_incarnation(&self) -> PortFuture<'_, Option<String>> {
        self.count("database_incarnation".into());
        self.db(|s| Ok(Some(format!("oid {}", 16384 + s.incarnation))))
    }
    fn execute<'a>(&'a self, statement: &'a Statement) -> PortFuture<'a, ()> {
        let sql = statement.sql();
        self.db(|s| {
            s.writes.push(sql.clone());
            let w: Vec<&str> = sql.split_whitespace().collect();
            let unq = |x: &str| x.trim_matches('"').to_owned();
            match w.as_slice() {
                ["CREATE", "USER", name, "IDENTIFIED", "BY", pw] => {
                    if s.users.contains_key(*name) {
                        return Err(db_err(PortErrorKind::Other, "user exists"));
                    }
                    s.users.insert(
                        name.to_string(),
                        FakeUser {
                            password: pw.to_string(),
                            ..Default::default()
                        },
                    );
                }
                ["GRANT", what, "TO", who, ..] if what.starts_with('"') => {
                    s.users.get_mut(&unq(who)).unwrap().member_of.insert(unq(what));
                }
                ["GRANT", what, "TO", who, rest @ ..] => {
                    if rest.contains(&"IDENTIFIED") {
                        // MariaDB would reset the password to the old hash.
                        s.users.get_mut(*who).unwrap().password = "old-hash".into();
                    } else {
                        s.users.get_mut(*who).unwrap().grants.insert(what.to_string());
                    }
                }
                ["MOVE", from, to] => {
                    let n = s.objects.remove(*from).unwrap_or(0);
                    *s.objects.entry(to.to_string()).or_default() += n;
                    // PostgreSQL: the owner role gets the old user's privileges too.
                    let grants = s.users.get(*from).map(|u| u.grants.clone()).unwrap_or_default();
                    s.users.entry(to.to_string()).or_default().grants.extend(grants);
                }
                ["KILL", who] => {
                    s.conns.remove(*who);
                }
                ["DROP", "USER", who] => {
                    s.users.remove(*who);
                }
                _ => return Err(db_err(PortErrorKind::Other, "fake cannot run this")),
            }
            Ok(())
        })
    }
}

impl SecretsPort for Fake {
    fn caller_identity(&self) -> PortFuture<'_, String> {
        self.count("caller_identity".into());
        ready(Ok(
            "arn:aws:sts::123456789012:assumed-role/fulladmin/tester".into()
        ))
    }
    fn current(&self) -> PortFuture<'_, AppCredentials> {
        self.count("current".into());
        let (u, p) = self.s().current.clone();
        ready(Ok(AppCredentials {
            username: u,
            password: SecretString::from(p),
        }))
    }
    fn pending(&self) -> PortFuture<'_, Option<AppCredentials>> {
        self.count("pending".into());
        let p = self.s().pending.clone();
        ready(Ok(p.map(|(u, p)| AppCredentials {
            username: u,
            password: SecretString::from(p),
        })))
    }
    fn put_pending<'a>(
        &'a self,
        _rotation_id: &'a str,
        username: &'a str,
        password: &'a SecretString,
    ) -> PortFuture<'a, ()> {
        let mut s = self.s();
        s.writes.push(format!("put_pending {username}"));
        s.pending = Some((username.into(), password.expose_secret().into()));
        ready(Ok(()))
    }
    fn promote_pending(&self) -> PortFuture<'_, ()> {
        let mut s = self.s();
        s.writes.push("promote".into());
        let p = s.pending.take().expect("promote without pending");
        let old = std::mem::replace(&mut s.current, p);
        s.past.push(old.0.clone());
        s.previous = Some(old);
        ready(Ok(()))
    }
    fn past_usernames(&self) -> PortFuture<'_, Vec<String>> {
        self.count("past_usernames".into());
        let s = self.s();
        let mut names = s.past.clone();
        names.push(s.current.0.clone());
        ready(Ok(names))
    }
    // The mark goes through its tags, as on AWS.
    fn rotation_mark(&self) -> PortFuture<'_, Option<RotationMark>> {
        self.count("rotation_mark".into());
        ready(match RotationMark::from_tags(&self.s().mark_tags) {
            None => Ok(None),
            Some(Ok(m)) => Ok(Some(m)),
            Some(Err(e)) => Err(PortError::new(System::SecretsManager, PortErrorKind::Invalid, e)),
        })
    }
    fn set_rotation_mark<'a>(&'a self, mark: &'a RotationMark) -> PortFuture<'a, ()> {
        self.s().mark_tags = mark.to_tags();
        ready(Ok(()))
    }
    fn clear_rotation_mark<'a>(&'a self, rotation_id: &'a str) -> PortFuture<'a, ()> {
        let mut s = self.s();
        if RotationMark::from_tags(&s.mark_tags)
            .is_some_and(|m| m.is_ok_and(|m| m.rotation_id == rotation_id))
        {
            s.mark_tags.clear();
        }
        ready(Ok(()))
    }
    fn restore_previous<'a>(&'a self, old_username: &'a str) -> PortFuture<'a, ()> {
        let mut s = self.s();
        if s.current.0 != old_username {
            match s.previous.take() {
                Some(p) if p.0 == old_username => {
                    s.writes.push(format!("restore_previous {old_username}"));
                    let rotated = std::mem::replace(&mut s.current, p);
                    s.past.push(rotated.0.clone());
                    s.previous = Some(rotated);
                }
                other => {
                    s.previous = other;
                    return ready(Err(PortError::new(
                        System::SecretsManager,
                        PortErrorKind::Invalid,
                        "AWSPREVIOUS is not the old user's version",
                    )));
                }
            }
        }
        if s.pending.as_ref().is_some_and(|p| p.0 != old_username) {
            s.writes.push("remove_pending".into());
            s.pending = None;
        }
        ready(Ok(()))
    }
}

fn cred_check(url: &Option<(String, String)>, expected: &AppCredentials) -> Option<CredCheck> {
    url.as_ref().map(|(u, p)| {
        let matches = u == &expected.username && p == expected.password.expose_secret();
        CredCheck {
            user: u.clone(),
            matches,
            summary: format!("user {u}: {}", if matches { "matches" } else { "DIFFERS" }),
        }
    })
}

impl ClusterPort for Fake {
    fn restore_runs(&self) -> PortFuture<'_, Vec<RestoreRun>> {
        ready(Ok(self.s().restore_runs.clone()))
    }
    fn sync_naming<'a>(&'a self, login: &'a str) -> PortFuture<'a, Vec<SyncNaming>> {
        ready(Ok(self.s().sync_naming.get(login).cloned().unwrap_or_default()))
    }

    fn force_sync(&self, _timeout: Duration) -> PortFuture<'_, SyncVerdict> {
        let mut s = self.s();
        s.writes.push("force_sync".into());
        if s.sync_error {
            return ready(Ok(SyncVerdict::Failed(
                "could not get secret data from provider".into(),
            )));
        }
        s.k8s_url = Some(s.current.clone());
        // The Reloader restarts the app: its connections move to the new user.
        let current = s.current.clone();
        for c in s.consumers.iter_mut().filter(|c| c.restarts) {
            c.url = Some(current.clone());
        }
        let before = s.pods_url.replace(current);
        if let Some((old, _)) = before
            && old != s.current.0
            && !s.sticky
        {
            let n = s.conns.remove(&old).unwrap_or(0);
            let new = s.current.0.clone();
            *s.conns.entry(new).or_default() += n;
        }
        ready(Ok(SyncVerdict::Synced))
    }
    fn check_secret<'a>(&'a self, expected: &'a AppCredentials) -> PortFuture<'a, Option<CredCheck>> {
        self.count(format!("check_secret {}", expected.username));
        ready(Ok(cred_check(&self.s().k8s_url, expected)))
    }
    fn check_rollout<'a>(&'a self, expected: &'a AppCredentials) -> PortFuture<'a, RolloutCheck> {
        self.count(format!("check_rollout {}", expected.username));
        let s = self.s();
        let mut pods: Vec<PodCheck> = cred_check(&s.pods_url, expected)
            .map(|check| PodCheck {
                workload: "deployment/signon".into(),
                pod: "app-1".into(),
                container: "app".into(),
                variable: "DATABASE_URL".into(),
                check,
            })
            .into_iter()
            .collect();
        let mut workloads = vec![WorkloadCheck {
            workload: "deployment/signon".into(),
            complete: true,
            summary: "1/1 updated, 1 available".into(),
            health: None,
        }];
        for c in &s.consumers {
            let check = c.pod.as_ref().and_then(|pod| {
                cred_check(&c.url, expected).map(|check| PodCheck {
                    workload: c.workload.clone(),
                    pod: pod.clone(),
                    container: c.container.clone(),
                    variable: c.variable.clone(),
                    check,
                })
            });
            let stale = check.as_ref().is_some_and(|p| !p.check.matches);
            let job = c.workload.starts_with("job/");
            workloads.push(WorkloadCheck {
                workload: c.workload.clone(),
                complete: !(job && stale),
                summary: match (&c.pod, job) {
                    (None, _) => "next run uses the new credentials".into(),
                    (Some(_), true) => "running, 1 pods".into(),
                    (Some(_), false) => "1/1 updated, 1 available".into(),
                },
                health: None,
            });
            pods.extend(check);
        }
        ready(Ok(RolloutCheck {
            complete: workloads.iter().all(|w| w.complete),
            summary: "1/1 updated, 1 available".into(),
            pods,
            workloads,
            unlisted: vec![],
        }))
    }
}

const OLD_PW: &str = "OldPasswordOfTheApp0123456789xyz";
const OWNER: &str = "account-api-owner-role";

/// The night: `to`'s database re-created from a `pg_dump -Fc` of `from`'s,
/// then `ALTER DATABASE … OWNER`. Objects keep their owners where `to` has
/// those roles (the restoring admin gets the rest); no role is copied.
fn nightly_restore(from: &State, to: &mut State) {
    to.incarnation += 1;
    let mut objects: BTreeMap<String, usize> = BTreeMap::new();
    for (owner, n) in &from.objects {
        let owner = if to.users.contains_key(owner) {
            owner.clone()
        } else {
            "aws_db_admin".into()
        };
        *objects.entry(owner).or_default() += n;
    }
    to.objects = objects;
}

fn world(env: &str, engine: Engine) -> (Fake, EnvPorts) {
    crate::secret::register(OLD_PW);
    let (app, old) = match engine {
        Engine::Mysql => ("signon", "signon"),
        Engine::Postgres => ("account-api", "account-api"),
    };
    let mut s = State {
        owner_roles: engine == Engine::Postgres,
        ..State::default()
    };
    s.users.insert(
        old.into(),
        FakeUser {
            password: OLD_PW.into(),
            member_of: BTreeSet::new(),
            grants: ["ALL@signon_production".to_string(), "SELECT@reports".to_string()].into(),
        },
    );
    s.users.insert("aws_db_admin".into(), FakeUser::default());
    s.objects.insert(old.into(), 2);
    s.conns.insert(old.into(), 3);
    if engine == Engine::Postgres && env == "staging" {
        // Roles outlive restores: a conversion before left staging the owner
        // role (that the app inherits), so a restore can give it the objects.
        s.users.insert(OWNER.into(), FakeUser::default());
        s.users.get_mut(old).unwrap().member_of.insert(OWNER.into());
    }
    s.current = (old.into(), OLD_PW.into());
    s.k8s_url = Some(s.current.clone());
    s.pods_url = Some(s.current.clone());
    let fake = Fake(Arc::new(Mutex::new(s)));
    let ports = EnvPorts {
        target: Target::new(env, app, engine),
        db: Arc::new(fake.clone()),
        secrets: Arc::new(fake.clone()),
        cluster: Arc::new(fake.clone()),
    };
    (fake, ports)
}

fn spec(engine: Engine, envs: &[&str], mode: Mode) -> PlanSpec {
    PlanSpec {
        app: match engine {
            Engine::Mysql => "signon".into(),
            Engine::Postgres => "account-api".into(),
        },
        engine,
        envs: envs.iter().map(|e| crate::target::EnvName::from(*e)).collect(),
        mode,
        restores: super::plan::default_restores(),
    }
}

fn opts(yes: bool, typed: &[&str]) -> RunOptions {
    RunOptions {
        yes,
        typed: typed.iter().map(|t| t.to_string()).collect(),
        call_timeout: Duration::from_millis(500),
        sync_timeout: Duration::from_secs(2),
        rollout_timeout: Duration::from_millis(200),
        drain_timeout: Duration::from_millis(50),
        poll: Duration::from_millis(5),
        ..Default::default()
    }
}

struct Setup {
    dir: tempfile::TempDir,
    plan: Plan,
    ctx: Ctx,
    fakes: BTreeMap<String, Fake>,
}

impl Setup {
    fn new(engine: Engine, envs: &[&str], mode: Mode) -> Setup {
        let spec = spec(engine, envs, mode);
        let mut fakes = BTreeMap::new();
        let mut ports = vec![];
        for e in envs {
            let (f, p) = world(e, engine);
            fakes.insert(e.to_string(), f);
            ports.push(p);
        }
        Setup {
            dir: tempfile::tempdir().unwrap(),
            plan: Plan::build(&spec).unwrap(),
            ctx: Ctx::new(ports),
            fakes,
        }
    }
    fn journal(&self) -> Journal {
        Journal::for_spec(self.dir.path(), &self.plan.spec)
    }
    fn fake(&self, env: &str) -> std::sync::MutexGuard<'_, State> {
        self.fakes[env].s()
    }
    async fn rotation(&self, o: &RunOptions) -> Rotation {
        runner::start_or_resume(&self.plan.spec, &self.ctx, &self.journal(), o)
            .await
            .unwrap()
    }
    async fn run(&self, rot: &Rotation, o: &RunOptions) -> RunOutcome {
        runner::run(&self.plan, &self.ctx, rot, &self.journal(), o).await
    }
    fn journal_text(&self) -> String {
        std::fs::read_to_string(self.journal().path()).unwrap()
    }
}

fn failed_at(o: &RunOutcome) -> (String, StepError) {
    match o {
        RunOutcome::Failed(e) => (
            e.step.as_ref().map(|s| s.0.clone()).unwrap_or_default(),
            e.error.clone(),
        ),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn mysql_runs_in_runbook_order_and_a_second_run_changes_nothing() {
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    let o = opts(true, &["signon"]);
    let rot = s.rotation(&o).await;
    assert_eq!(rot.old_user("production"), "signon");
    assert!(rot.new_username.starts_with("signon_user_"));
    assert_eq!(s.run(&rot, &o).await, RunOutcome::Done);

    let new = rot.new_username.clone();
    let writes = s.fake("production").writes.clone();
    let pos = |needle: &str| {
        writes
            .iter()
            .position(|w| w.starts_with(needle))
            .unwrap_or_else(|| panic!("no write {needle} in {writes:?}"))
    };
    // Password stored first, then the user, its grants, definers, promotion, sync, drop.
    assert!(pos("put_pending") < pos("CREATE USER"));
    assert!(pos("CREATE USER") < pos("GRANT ALL@signon_production"));
    assert!(pos("GRANT SELECT@reports") < pos("MOVE signon aws_db_admin"));
    assert!(pos("MOVE signon") < pos("promote"));
    assert!(pos("promote") < pos("force_sync"));
    assert!(pos("force_sync") < pos("DROP USER signon"));
    {
        let st = s.fake("production");
        assert_eq!(st.current.0, new);
        assert!(!st.users.contains_key("signon"));
        // The user was created with exactly the password stored in Secrets Manager.
        assert_eq!(st.users[&new].password, st.current.1);
    }

    // Idempotence: running the finished rotation again writes nothing.
    let before = s.fake("production").writes.len();
    assert_eq!(s.run(&rot, &o).await, RunOutcome::Done);
    assert_eq!(s.fake("production").writes.len(), before);
}

#[tokio::test]
async fn without_yes_the_run_stops_before_the_first_write() {
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    let o = opts(false, &[]);
    let rot = s.rotation(&o).await;
    let out = s.run(&rot, &o).await;
    assert_eq!(
        out,
        RunOutcome::Waiting(Wait::Confirmation {
            step: StepId("production/store-pending".into()),
            confirm: Confirm::Yes
        })
    );
    assert_eq!(out.exit_code(), 10);
    assert!(s.fake("production").writes.is_empty());
}

#[tokio::test]
async fn dropping_needs_the_typed_username() {
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    let o = opts(true, &["not-the-user"]);
    let rot = s.rotation(&o).await;
    match s.run(&rot, &o).await {
        RunOutcome::Waiting(Wait::Confirmation { step, confirm }) => {
            assert_eq!(step.0, "production/drop-old-user");
            assert_eq!(confirm, Confirm::Typed("signon".into()));
        }
        other => panic!("{other:?}"),
    }
    assert!(s.fake("production").users.contains_key("signon"));
    assert_eq!(s.run(&rot, &opts(true, &["signon"])).await, RunOutcome::Done);
}

#[tokio::test]
async fn a_failed_login_test_blocks_promotion_even_when_skipped() {
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    s.fake("production").fail_login = true;
    let mut o = opts(true, &["signon"]);
    let rot = s.rotation(&o).await;
    let out = s.run(&rot, &o).await;
    let (step, err) = failed_at(&out);
    assert_eq!(step, "production/test-login");
    assert!(matches!(err, StepError::Blocked(_)), "{err}");
    assert_eq!(out.exit_code(), 1);

    // The operator overrides the check: the override is journalled, and
    // promotion still refuses because it re-tests the login itself.
    o.skip.insert(
        StepId("production/test-login".into()),
        "DBA says it is fine".into(),
    );
    let out = s.run(&rot, &o).await;
    let (step, err) = failed_at(&out);
    assert_eq!(step, "production/promote");
    assert!(
        matches!(
            err,
            StepError::Interlock {
                kind: InterlockKind::LoginFails {
                    system: System::Database
                },
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(s.fake("production").current.0, "signon");
    let skipped: Vec<Event> = s
        .journal()
        .entries()
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .filter(|e| matches!(e, Event::Skipped { .. }))
        .collect();
    assert_eq!(skipped.len(), 1);
    let Event::Skipped { step, reason, by } = &skipped[0] else {
        unreachable!()
    };
    assert_eq!(step.0, "production/test-login");
    assert_eq!(reason, "DBA says it is fine");
    assert!(!by.is_empty());
}

#[tokio::test]
async fn cloned_grants_never_carry_credentials() {
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    s.fake("production").leak_credentials = true;
    let o = opts(true, &["signon"]);
    let rot = s.rotation(&o).await;
    let out = s.run(&rot, &o).await;
    let (step, err) = failed_at(&out);
    assert_eq!(step, "production/create-user");
    assert!(
        matches!(
            err,
            StepError::Interlock {
                kind: InterlockKind::CredentialsInClonedGrant,
                ..
            }
        ),
        "{err}"
    );
    // The hash is neither run nor shown, nor journalled.
    assert!(!err.to_string().contains("0123456789ABCDEF"));
    assert!(!s.journal_text().contains("0123456789ABCDEF"));
    let st = s.fake("production");
    assert!(st.writes.iter().all(|w| !w.contains("IDENTIFIED BY PASSWORD")));
    assert!(st.writes.iter().all(|w| !w.starts_with("GRANT")));
    // Refused at preview, before anything ran: not even the user was created.
    assert!(!st.users.contains_key(&rot.new_username));
}

#[tokio::test]
async fn lingering_connections_wait_then_block_the_drop_unless_forced() {
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    s.fake("production").sticky = true;
    let mut o = opts(true, &["signon"]);
    let rot = s.rotation(&o).await;
    match s.run(&rot, &o).await {
        RunOutcome::Waiting(Wait::Drain { user, .. }) => assert_eq!(user, "signon"),
        other => panic!("{other:?}"),
    }
    // Skipping the drain does not get the user dropped while it is connected.
    o.skip
        .insert(StepId("production/drain".into()), "in a hurry".into());
    let (step, err) = failed_at(&s.run(&rot, &o).await);
    assert_eq!(step, "production/drop-old-user");
    assert!(matches!(
        err,
        StepError::Interlock { kind: InterlockKind::ConnectionsRemain, message: m } if m.contains("3 connections")
    ));
    assert!(s.fake("production").users.contains_key("signon"));

    // Forced with the typed username: connections are ended first, then the drop.
    o.force_drop = Some("signon".into());
    assert_eq!(s.run(&rot, &o).await, RunOutcome::Done);
    let writes = s.fake("production").writes.clone();
    let kill = writes.iter().position(|w| w == "KILL signon").unwrap();
    let drop = writes.iter().position(|w| w == "DROP USER signon").unwrap();
    assert!(kill < drop);
}

#[tokio::test]
async fn kill_leftovers_ends_the_old_users_connections() {
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    s.fake("production").sticky = true;
    let mut o = opts(true, &["signon"]);
    o.kill_leftovers = true;
    let rot = s.rotation(&o).await;
    assert_eq!(s.run(&rot, &o).await, RunOutcome::Done);
    assert!(s.fake("production").writes.iter().any(|w| w == "KILL signon"));
}

#[tokio::test]
async fn never_drop_the_user_the_current_secret_names() {
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    let o = opts(true, &["signon"]);
    let rot = s.rotation(&o).await;
    let step = s.plan.step(&StepId("production/drop-old-user".into())).unwrap();
    s.fake("production").conns.clear();
    s.fake("production").objects.clear();
    let cx = StepCtx {
        ctx: &s.ctx,
        rotation: &rot,
        step,
        opts: &o,
        recorder: None,
    };
    let err = step.apply(&cx).await.unwrap_err();
    assert!(
        matches!(
            &err,
            StepError::Interlock { kind: InterlockKind::SecretStillNamesUser, message: m }
                if m.contains("names signon")
        ),
        "{err}"
    );
    assert!(s.fake("production").writes.is_empty());
}

#[tokio::test]
async fn the_journal_records_every_write_masked_and_never_a_password() {
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    let o = opts(true, &["signon"]);
    let rot = s.rotation(&o).await;
    assert_eq!(s.run(&rot, &o).await, RunOutcome::Done);
    let text = s.journal_text();
    let new_pw = s.fake("production").current.1.clone();
    assert!(!text.contains(&new_pw), "new password in the journal");
    assert!(!text.contains(OLD_PW), "old password in the journal");
    assert!(text.contains(&format!("CREATE USER {} IDENTIFIED BY {MASK}", rot.new_username)));
    let entries = s.journal().entries().unwrap();
    let calls = entries
        .iter()
        .filter(|e| matches!(e.event, Event::Call { .. }))
        .count();
    // Every database write and every Secrets Manager / Kubernetes write.
    let writes = s.fake("production").writes.len();
    assert_eq!(calls, writes);
    let Event::Started { operator, decisions } = &entries[0].event else {
        panic!("first entry is not the start")
    };
    assert_eq!(decisions, &rot);
    assert!(operator.aws["production"].starts_with("arn:aws:sts::"));
    assert!(matches!(entries.last().unwrap().event, Event::Finished));
}

#[tokio::test]
async fn resume_reuses_the_journalled_decisions() {
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    let mut o = opts(true, &["signon"]);
    o.stop_after = Some(StepId("production/create-user".into()));
    let rot = s.rotation(&o).await;
    assert!(matches!(
        s.run(&rot, &o).await,
        RunOutcome::Waiting(Wait::Paused { .. })
    ));
    // The app secret still names the old user, so only the journal knows the new name.
    let again = s.rotation(&o).await;
    assert_eq!(again, rot);
    o.stop_after = None;
    assert_eq!(s.run(&again, &o).await, RunOutcome::Done);
    let creates = s
        .fake("production")
        .writes
        .iter()
        .filter(|w| w.starts_with("CREATE USER"))
        .count();
    assert_eq!(creates, 1);
    // A finished rotation is not resumed: the next one starts afresh.
    let next = s.rotation(&o).await;
    assert_ne!(next.id, rot.id);
    assert_eq!(next.old_user("production"), rot.new_username);
    assert!(
        s.journal()
            .entries()
            .unwrap()
            .iter()
            .any(|e| matches!(e.event, Event::Resumed { .. }))
    );
}

#[tokio::test]
async fn a_different_plan_cannot_hijack_an_unfinished_rotation() {
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    let o = opts(false, &[]);
    s.rotation(&o).await;
    let mut other = s.plan.spec.clone();
    other.mode = Mode::Compromised;
    let err = runner::start_or_resume(&other, &s.ctx, &s.journal(), &o)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unfinished"), "{err}");
}

/// The restores are read from the clusters at each run; a rotation keeps
/// the ones it started with (a CronJob suspended during a wait of days
/// must not turn it into another plan, nor be refused as one).
#[tokio::test]
async fn a_resumed_rotation_keeps_the_restores_it_started_with() {
    let s = Setup::new(Engine::Postgres, &["production", "staging"], Mode::Normal);
    let o = opts(true, &["account-api"]);
    let mut out = Vec::new();
    let first = super::cli::rotate_cmd(&s.plan.spec, &s.ctx, &s.journal(), o.clone(), &mut out).await;
    assert!(
        matches!(&first, RunOutcome::Waiting(Wait::Overnight { env, .. }) if env.as_str() == "staging"),
        "{first:?}"
    );
    // The next run reads no restore any more: it still waits for staging's.
    let mut now_read = s.plan.spec.clone();
    now_read.restores.clear();
    let mut out = Vec::new();
    let again = super::cli::rotate_cmd(&now_read, &s.ctx, &s.journal(), o.clone(), &mut out).await;
    let text = String::from_utf8(out).unwrap();
    assert_eq!(again, first, "{text}");
    assert!(
        text.contains("note: following the restores rotation")
            && text.contains("(staging ← production, integration ← staging), not what the clusters say now"),
        "{text}"
    );
    let survey = super::survey::survey(&now_read, &s.ctx, &s.journal(), &o)
        .await
        .unwrap();
    assert!(survey.resumed);
    assert_eq!(survey.plan.spec.restores, s.plan.spec.restores);
}

#[tokio::test]
async fn postgres_waits_overnight_then_switches_staging_and_drops_in_production() {
    let s = Setup::new(Engine::Postgres, &["production", "staging"], Mode::Normal);
    let o = opts(true, &["account-api"]);
    let rot = s.rotation(&o).await;
    let overnight = RunOutcome::Waiting(Wait::Overnight {
        env: "staging".into(),
        from: "production".into(),
    });
    assert_eq!(s.run(&rot, &o).await, overnight);
    let new = rot.new_username.clone();
    {
        let p = s.fake("production");
        assert_eq!(p.current.0, new);
        assert!(p.users[&new].member_of.contains(OWNER));
        assert!(
            p.users.contains_key("account-api"),
            "dropped before staging moved"
        );
        // Before the night staging only gets the owner role (pg_dump makes
        // no roles, and the restore hands the objects to it).
        let staging_writes = s.fake("staging").writes.clone();
        assert!(
            staging_writes
                .iter()
                .all(|w| w.starts_with(&format!("MOVE account-api {OWNER}"))),
            "staging touched before the restore: {staging_writes:?}"
        );
    }
    // The wait recorded staging's database as it was once production had
    // switched: on the mark (every environment's) and in the journal.
    let baseline = |env: &str| {
        RotationMark::from_tags(&s.fake(env).mark_tags)
            .unwrap()
            .unwrap()
            .restore_baselines
    };
    for env in ["production", "staging"] {
        assert_eq!(baseline(env)["staging"], "oid 16384", "{env}");
    }
    assert!(
        s.journal_text()
            .contains("rotui:restore-baseline:staging=oid 16384"),
        "{}",
        s.journal_text()
    );
    // Running again before the night changes nothing and still waits,
    // saying what for.
    let mut seen = vec![];
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let with_events = RunOptions {
        events: Some(tx),
        ..o.clone()
    };
    assert_eq!(s.run(&rot, &with_events).await, overnight);
    while let Ok(ev) = rx.try_recv() {
        if let StepEventKind::Observed(obs) = ev.kind
            && ev.step.0 == "staging/await-overnight-sync"
        {
            seen.push(format!("{obs:?}"));
        }
    }
    assert!(
        seen.iter().any(|t| t.contains(
            "staging's account-api_production was last re-created before production's switch (oid 16384); \
             waiting for the nightly restore"
        )),
        "{seen:?}"
    );
    assert_eq!(baseline("staging")["staging"], "oid 16384", "re-recorded");

    // The night: staging re-created from production's dump, which brings
    // ownership but no role.
    {
        let p = s.fake("production");
        let mut st = s.fake("staging");
        nightly_restore(&p, &mut st);
        assert!(!st.users.contains_key(&new));
    }
    let resumed = s.rotation(&o).await;
    assert_eq!(resumed, rot);
    assert_eq!(s.run(&resumed, &o).await, RunOutcome::Done);
    let p = s.fake("production");
    let st = s.fake("staging");
    assert_eq!(st.current, p.current, "staging uses production's new credentials");
    assert!(!p.users.contains_key("account-api"));
    assert!(
        !st.users.contains_key("account-api"),
        "staging's old login is dropped too"
    );
    // The login the restore did not bring, with production's password, once.
    assert_eq!(st.users[&new].password, p.users[&new].password);
    assert!(st.users[&new].member_of.contains(OWNER));
    assert_eq!(
        st.writes.iter().filter(|w| w.starts_with("CREATE USER")).count(),
        1,
        "{:?}",
        st.writes
    );
    assert!(
        p.writes
            .contains(&"MOVE account-api account-api-owner-role".to_string())
    );
    let journal = s.journal_text();
    assert!(
        journal.contains("pg_dump copies no roles: the restore brought production's ownership"),
        "{journal}"
    );
    assert!(!journal.contains(&p.users[&new].password));
}

/// A restore whose `DB_OWNER` names the login a rotation drops would fail
/// every night after the drop: the plan's first step refuses, naming the
/// CronJob and the change to make, before anything is written; once the
/// cluster no longer names it, the rotation goes on.
#[tokio::test]
async fn a_restore_naming_the_login_to_drop_refuses_the_first_step_until_changed() {
    let s = Setup::new(Engine::Postgres, &["production", "staging"], Mode::Normal);
    s.fake("staging").sync_naming.insert(
        "account-api".into(),
        vec![SyncNaming {
            cronjob: "db-backup-account-api-postgres".into(),
            values_key: "account-api-postgres".into(),
            what: "sets DB_OWNER=account-api".into(),
        }],
    );
    let o = opts(true, &["account-api"]);
    // Refused before the rotation is even marked: nothing to clean up.
    let refused = runner::start_or_resume(&s.plan.spec, &s.ctx, &s.journal(), &o)
        .await
        .unwrap_err();
    assert_eq!(
        refused.step.as_ref().map(|s| s.0.as_str()),
        Some("production/inspect")
    );
    let e = refused.to_string();
    assert!(e.contains("staging's data sync names account-api"), "{e}");
    for env in ["production", "staging"] {
        assert!(
            s.fake(env).mark_tags.is_empty(),
            "{env} marked before the refusal"
        );
    }
    // A rotation already under way (marked) is refused at the step itself.
    s.fake("staging").sync_naming.clear();
    let rot = s.rotation(&o).await;
    s.fake("staging").sync_naming.insert(
        "account-api".into(),
        vec![SyncNaming {
            cronjob: "db-backup-account-api-postgres".into(),
            values_key: "account-api-postgres".into(),
            what: "sets DB_OWNER=account-api".into(),
        }],
    );
    let (step, err) = failed_at(&s.run(&rot, &o).await);
    assert_eq!(step, "production/inspect");
    let e = err.to_string();
    for said in [
        "staging's data sync names account-api, which this rotation drops",
        "db-backup-account-api-postgres sets DB_OWNER=account-api",
        "charts/db-backup/values.yaml at cronjobs.staging.account-api-postgres",
        "set DB_OWNER to \"account-api-owner-role\"",
        "run this step again",
    ] {
        assert!(e.contains(said), "{said:?} not in: {e}");
    }
    for env in ["production", "staging"] {
        let writes = s.fake(env).writes.clone();
        assert!(writes.is_empty(), "{env} written before the refusal: {writes:?}");
    }
    // The estate changed as said: the rotation goes on.
    s.fake("staging").sync_naming.clear();
    assert!(matches!(
        s.run(&rot, &o).await,
        RunOutcome::Waiting(Wait::Overnight { .. })
    ));
}

/// MySQL's data sync copies views and triggers with their source's
/// DEFINERs: an environment restored from one this run cannot read keeps
/// its old user, saying why; with the source in the run, its definers have
/// moved by the time the copy's old user is dropped.
#[tokio::test]
async fn a_mysql_copy_keeps_its_old_user_while_its_source_may_define_objects_as_it() {
    let from_production = || RestoreRun {
        cronjob: "db-backup-signon-mysql".into(),
        from: Some("production".into()),
        suspended: false,
        next: Ok(None),
        last: None,
    };
    let alone = Setup::new(Engine::Mysql, &["staging"], Mode::Normal);
    alone.fake("staging").restore_runs = vec![from_production()];
    let o = opts(true, &["signon"]);
    let rot = alone.rotation(&o).await;
    let (step, err) = failed_at(&alone.run(&rot, &o).await);
    assert_eq!(step, "staging/drop-old-user");
    let e = err.to_string();
    assert!(
        e.contains("staging is restored from production by db-backup-signon-mysql")
            && e.contains("keeping signon in staging")
            && e.contains("--also-env production"),
        "{e}"
    );
    assert!(alone.fake("staging").users.contains_key("signon"));

    // Suspended, it restores nothing: the drop goes ahead.
    alone.fake("staging").restore_runs[0].suspended = true;
    assert_eq!(alone.run(&rot, &o).await, RunOutcome::Done);

    let both = Setup::new(Engine::Mysql, &["production", "staging"], Mode::Normal);
    both.fake("staging").restore_runs = vec![from_production()];
    let rot = both.rotation(&o).await;
    assert_eq!(both.run(&rot, &o).await, RunOutcome::Done);
    assert!(!both.fake("staging").users.contains_key("signon"));
}

/// The wait ends when the restore's swap is observed and its job
/// succeeded: a job still running, or one that failed after the swap (a
/// `DB_OWNER` naming a missing role, a transform), keeps it open, saying why.
#[tokio::test]
async fn the_overnight_wait_ends_on_the_swap_and_the_jobs_success() {
    let s = Setup::new(Engine::Postgres, &["production", "staging"], Mode::Normal);
    let o = opts(true, &["account-api"]);
    let rot = s.rotation(&o).await;
    let overnight = RunOutcome::Waiting(Wait::Overnight {
        env: "staging".into(),
        from: "production".into(),
    });
    let run = |last: RestoreOutcome| RestoreRun {
        cronjob: "db-backup-account-api-postgres".into(),
        from: Some("production".into()),
        suspended: false,
        next: Ok(None),
        last: Some(("db-backup-account-api-postgres-7".into(), last)),
    };
    s.fake("staging").restore_runs = vec![run(RestoreOutcome::Succeeded)];
    assert_eq!(s.run(&rot, &o).await, overnight);
    {
        let p = s.fake("production");
        nightly_restore(&p, &mut s.fake("staging"));
    }
    let (s, rot) = (&s, &rot);
    let waiting_says = |o: RunOptions| async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let with_events = RunOptions {
            events: Some(tx),
            ..o
        };
        let outcome = s.run(rot, &with_events).await;
        let mut seen = vec![];
        while let Ok(ev) = rx.try_recv() {
            if let StepEventKind::Observed(obs) = ev.kind
                && ev.step.0 == "staging/await-overnight-sync"
            {
                seen.push(format!("{obs:?}"));
            }
        }
        (outcome, seen.join("\n"))
    };
    s.fake("staging").restore_runs = vec![run(RestoreOutcome::Running)];
    let (outcome, seen) = waiting_says(o.clone()).await;
    assert_eq!(outcome, overnight, "{seen}");
    assert!(
        seen.contains("waiting for its job db-backup-account-api-postgres-7 to finish"),
        "{seen}"
    );
    s.fake("staging").restore_runs = vec![run(RestoreOutcome::Failed(
        "Job has reached the specified backoff limit".into(),
    ))];
    let (outcome, seen) = waiting_says(o.clone()).await;
    assert_eq!(outcome, overnight, "{seen}");
    for said in [
        "but its job db-backup-account-api-postgres-7 failed: Job has reached the specified backoff limit",
        "kubectl logs job/db-backup-account-api-postgres-7",
        "kubectl create job --from=cronjob/db-backup-account-api-postgres",
    ] {
        assert!(seen.contains(said), "{said:?}: {seen}");
    }
    assert!(
        !s.fake("staging")
            .writes
            .iter()
            .any(|w| w.starts_with("CREATE USER")),
        "staging not switched while its restore failed"
    );
    s.fake("staging").restore_runs = vec![run(RestoreOutcome::Succeeded)];
    assert_eq!(s.run(rot, &o).await, RunOutcome::Done);
}

/// pg_dump creates no roles: staging gets the owner role (given to its old
/// login) before the night, so the restore can hand it the objects; if it
/// is gone by the morning, the validation stops and says why.
#[tokio::test]
async fn staging_gets_the_owner_role_before_the_night_and_blocks_without_it() {
    let s = Setup::new(Engine::Postgres, &["production", "staging"], Mode::Normal);
    s.fake("staging").users.remove(OWNER);
    let o = opts(true, &["account-api"]);
    let rot = s.rotation(&o).await;
    assert!(matches!(
        s.run(&rot, &o).await,
        RunOutcome::Waiting(Wait::Overnight { .. })
    ));
    assert!(
        s.fake("staging").users.contains_key(OWNER),
        "staging/ensure-owner-role made the owner role before the night"
    );
    s.fake("staging").users.remove(OWNER);
    {
        let p = s.fake("production");
        nightly_restore(&p, &mut s.fake("staging"));
    }
    let (step, err) = failed_at(&s.run(&rot, &o).await);
    assert_eq!(step, "staging/validate-restore");
    assert!(
        err.to_string()
            .contains("account-api-owner-role does not exist in staging")
            && err.to_string().contains("pg_dump copies no roles"),
        "{err}"
    );
}

/// The wait's baseline lives on the mark: another laptop, with nothing in
/// its journal, resumes the same wait (it does not take a new baseline after
/// the night, which would wait a night more), and a second run once done
/// plans nothing.
#[tokio::test]
async fn the_restore_baseline_is_resumed_from_the_mark_and_a_second_run_plans_nothing() {
    let s = Setup::new(Engine::Postgres, &["production", "staging"], Mode::Normal);
    let o = opts(true, &["account-api"]);
    let rot = s.rotation(&o).await;
    assert!(matches!(
        s.run(&rot, &o).await,
        RunOutcome::Waiting(Wait::Overnight { .. })
    ));
    {
        let p = s.fake("production");
        nightly_restore(&p, &mut s.fake("staging"));
    }
    let (_dir, journal) = laptop();
    let journal = journal(&s.plan.spec);
    let bob = as_holder(o.clone(), &o.holder()); // the same operator, on another laptop
    let r = runner::start_or_resume(&s.plan.spec, &s.ctx, &journal, &bob)
        .await
        .unwrap();
    assert_eq!(r, rot);
    let mut until = bob.clone();
    until.stop_after = Some(StepId("staging/await-overnight-sync".into()));
    assert_eq!(
        runner::run(&s.plan, &s.ctx, &r, &journal, &until).await,
        RunOutcome::Waiting(Wait::Paused {
            after: StepId("staging/await-overnight-sync".into())
        })
    );
    let text = std::fs::read_to_string(journal.path()).unwrap();
    assert!(
        text.contains(
            "was re-created by a restore after production's switch (oid 16384 then, oid 16385 now)"
        ),
        "{text}"
    );
    assert_eq!(
        runner::run(&s.plan, &s.ctx, &r, &journal, &bob).await,
        RunOutcome::Done
    );
    // Done: running it again (this laptop's journal still has it
    // unfinished) observes every step done and writes nothing.
    let before: Vec<usize> = ["production", "staging"]
        .iter()
        .map(|e| s.fake(e).writes.len())
        .collect();
    assert_eq!(s.run(&rot, &o).await, RunOutcome::Done);
    let after: Vec<usize> = ["production", "staging"]
        .iter()
        .map(|e| s.fake(e).writes.len())
        .collect();
    assert_eq!(before, after);
    for step in &s.plan.steps {
        let cx = StepCtx {
            ctx: &s.ctx,
            rotation: &rot,
            step,
            opts: &o,
            recorder: None,
        };
        assert!(step.observe(&cx).await.unwrap().is_done(), "{}", step.id);
    }
}

#[tokio::test]
async fn postgres_drop_waits_for_staging_to_leave_the_old_user() {
    let s = Setup::new(Engine::Postgres, &["production", "staging"], Mode::Normal);
    let mut o = opts(true, &["account-api"]);
    let rot = s.rotation(&o).await;
    s.run(&rot, &o).await;
    // The operator skips staging's whole switch-over; the drop must still refuse.
    for step in &s.plan.steps {
        if step.env == "staging" {
            o.skip.insert(step.id.clone(), "later".into());
        }
    }
    let (step, err) = failed_at(&s.run(&rot, &o).await);
    assert_eq!(step, "production/drop-old-user");
    assert!(matches!(
        err,
        StepError::Interlock { kind: InterlockKind::SecretStillNamesUser, message: m } if m.starts_with("staging's")
    ));
}

#[tokio::test]
async fn compromised_mode_shares_one_password_and_skips_the_night() {
    for engine in [Engine::Mysql, Engine::Postgres] {
        let s = Setup::new(engine, &["production", "staging"], Mode::Compromised);
        let old = match engine {
            Engine::Mysql => "signon",
            Engine::Postgres => "account-api",
        };
        let o = opts(true, &[old]);
        let rot = s.rotation(&o).await;
        assert_eq!(s.run(&rot, &o).await, RunOutcome::Done, "{engine}");
        let p = s.fake("production");
        let st = s.fake("staging");
        assert_eq!(p.current.0, rot.new_username);
        assert_eq!(st.current, p.current, "{engine}: same username and password");
        assert!(!st.users.contains_key(old) && !p.users.contains_key(old));
    }
}

#[tokio::test]
async fn outside_failures_are_clear_and_resumable() {
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    let o = opts(true, &["signon"]);
    let rot = s.rotation(&o).await;

    s.fake("production").sync_error = true;
    let (step, err) = failed_at(&s.run(&rot, &o).await);
    assert_eq!(step, "production/force-sync");
    assert!(err.to_string().contains("failed to sync"), "{err}");
    assert_eq!(
        s.fake("production").current.0,
        rot.new_username,
        "promotion stands"
    );
    s.fake("production").sync_error = false;

    s.fake("production").db_hangs = true;
    let (step, err) = failed_at(&s.run(&rot, &o).await);
    assert_eq!(step, "production/inspect");
    assert!(
        matches!(&err, StepError::Port(p) if p.kind == PortErrorKind::Timeout),
        "{err}"
    );
    s.fake("production").db_hangs = false;

    assert_eq!(s.run(&rot, &o).await, RunOutcome::Done);
    let text = s.journal_text();
    assert!(text.contains("failed to sync") && text.contains("no answer within"));
}

#[tokio::test]
async fn progress_events_reach_the_dashboard() {
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut o = opts(true, &["signon"]);
    o.events = Some(tx);
    let rot = s.rotation(&o).await;
    assert_eq!(s.run(&rot, &o).await, RunOutcome::Done);
    drop(o);
    let mut started = vec![];
    let mut calls = 0;
    while let Some(ev) = rx.recv().await {
        match ev.kind {
            StepEventKind::Started { .. } => started.push(ev.step.0),
            StepEventKind::Call { text, .. } => {
                calls += 1;
                assert!(!text.contains(&s.fake("production").current.1));
            }
            _ => {}
        }
    }
    assert_eq!(
        started.first().map(String::as_str),
        Some("production/store-pending")
    );
    assert_eq!(
        started.last().map(String::as_str),
        Some("production/drop-old-user")
    );
    assert!(calls > 5);
}

#[tokio::test]
async fn plan_cmd_writes_nothing_and_masks_the_password() {
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    let o = opts(false, &[]);
    let mut out = Vec::new();
    super::cli::plan_cmd(&s.plan.spec, &s.ctx, &s.journal(), &o, &mut out)
        .await
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(s.fake("production").writes.is_empty());
    assert!(!s.journal().path().exists());
    assert!(text.contains(&format!("IDENTIFIED BY {MASK}")), "{text}");
    assert!(text.contains("GRANT ALL@signon_production TO signon_user_"));
    assert!(text.contains("[destructive: type signon]"));
    assert!(!text.contains(OLD_PW));
}

#[tokio::test]
async fn interrupted_at_every_step_boundary_the_rotation_resumes_without_repeating_writes() {
    for engine in [Engine::Mysql, Engine::Postgres] {
        let old = match engine {
            Engine::Mysql => "signon",
            Engine::Postgres => "account-api",
        };
        let straight = Setup::new(engine, &["production"], Mode::Normal);
        let o = opts(true, &[old]);
        let rot = straight.rotation(&o).await;
        assert_eq!(straight.run(&rot, &o).await, RunOutcome::Done);
        let want = straight.fake("production").writes.len();

        let s = Setup::new(engine, &["production"], Mode::Normal);
        let mut o = opts(true, &[old]);
        let rot = s.rotation(&o).await;
        for step in &s.plan.steps {
            o.stop_after = Some(step.id.clone());
            // Each resume starts over from the journal's decisions.
            let resumed = s.rotation(&o).await;
            assert_eq!(resumed, rot);
            let out = s.run(&resumed, &o).await;
            let last = s.plan.steps.last().unwrap();
            if step.id == last.id {
                assert!(
                    matches!(out, RunOutcome::Waiting(Wait::Paused { .. }) | RunOutcome::Done),
                    "{out:?}"
                );
            } else {
                assert_eq!(
                    out,
                    RunOutcome::Waiting(Wait::Paused {
                        after: step.id.clone()
                    }),
                    "{engine}"
                );
            }
            // AWSCURRENT always names a user that exists with that password.
            let st = s.fake("production");
            let (u, p) = &st.current;
            assert_eq!(&st.users[u].password, p, "{engine}: after {}", step.id);
        }
        o.stop_after = None;
        assert_eq!(s.run(&rot, &o).await, RunOutcome::Done);
        assert_eq!(s.fake("production").writes.len(), want, "{engine}");
    }
}

/// The dashboard runs one step at a time (`stop_after`): the run of the
/// last step ends the rotation as a whole run does, journalled finished and
/// its mark cleared, so nothing resumes it afterwards.
#[tokio::test]
async fn a_step_by_step_rotation_ends_with_its_last_step() {
    for engine in [Engine::Mysql, Engine::Postgres] {
        let old = match engine {
            Engine::Mysql => "signon",
            Engine::Postgres => "account-api",
        };
        let s = Setup::new(engine, &["production"], Mode::Normal);
        let mut o = opts(true, &[old]);
        let rot = s.rotation(&o).await;
        let last = s.plan.steps.last().unwrap().id.clone();
        for step in &s.plan.steps {
            o.stop_after = Some(step.id.clone());
            let resumed = s.rotation(&o).await;
            assert_eq!(resumed, rot, "{engine}: {}", step.id);
            let out = s.run(&resumed, &o).await;
            if step.id == last {
                assert_eq!(out, RunOutcome::Done, "{engine}");
            } else {
                assert_eq!(
                    out,
                    RunOutcome::Waiting(Wait::Paused {
                        after: step.id.clone()
                    }),
                    "{engine}"
                );
            }
        }
        let summary = super::journal::list(s.dir.path()).unwrap().pop().unwrap();
        assert_eq!(summary.id, rot.id);
        assert_eq!(summary.state, super::journal::RotationState::Finished, "{engine}");
        assert!(
            s.fake("production").mark_tags.is_empty(),
            "{engine}: the mark is cleared"
        );
        assert_eq!(s.journal().unfinished().unwrap(), None, "{engine}");
    }
}

#[tokio::test]
async fn rotate_cmd_prints_progress_and_ends_with_the_outcome() {
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    let mut out = Vec::new();
    let outcome = super::cli::rotate_cmd(&s.plan.spec, &s.ctx, &s.journal(), opts(true, &[]), &mut out).await;
    let text = String::from_utf8(out).unwrap();
    // Everything up to the drop, which waits for the typed username.
    assert!(
        matches!(&outcome, RunOutcome::Waiting(Wait::Confirmation { step, .. }) if step.0 == "production/drop-old-user"),
        "{outcome:?}"
    );
    assert_eq!(outcome.exit_code(), 10);
    assert!(text.contains("→ production/create-user"), "{text}");
    assert!(text.contains(&format!("IDENTIFIED BY {MASK}")), "{text}");
    assert!(
        text.contains(
            "waiting: production/drop-old-user drops signon for good: run again with --confirm-drop signon to confirm"
        ),
        "{text}"
    );
    assert!(!text.contains(&s.fake("production").current.1));

    // Run again with the username typed: it resumes and finishes.
    let mut out = Vec::new();
    let outcome = super::cli::rotate_cmd(
        &s.plan.spec,
        &s.ctx,
        &s.journal(),
        opts(true, &["signon"]),
        &mut out,
    )
    .await;
    assert_eq!(outcome, RunOutcome::Done);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("✓ production/create-user:"), "{text}");
    assert!(text.contains("done: rotation"), "{text}");
    let rotations: BTreeSet<String> = s
        .journal()
        .entries()
        .unwrap()
        .into_iter()
        .map(|e| e.rotation)
        .collect();
    assert_eq!(rotations.len(), 1, "the second run resumed the first rotation");
}

/// Interrupted after every step, the survey (what `rotui plan` and the
/// Steps pane show) counts exactly the steps the runner has brought about
/// as done, and nothing after the first step still to do; surveying writes
/// nothing.
#[tokio::test]
async fn the_survey_follows_the_runner_step_by_step_and_writes_nothing() {
    use super::survey::{StepState, survey};
    for engine in [Engine::Mysql, Engine::Postgres] {
        let old = match engine {
            Engine::Mysql => "signon",
            Engine::Postgres => "account-api",
        };
        let s = Setup::new(engine, &["production"], Mode::Normal);
        let mut o = opts(true, &[old]);
        for (k, step) in s.plan.steps.iter().enumerate() {
            o.stop_after = Some(step.id.clone());
            let rot = s.rotation(&o).await;
            s.run(&rot, &o).await;
            let writes = s.fake("production").writes.len();
            let seen = survey(&s.plan.spec, &s.ctx, &s.journal(), &RunOptions::default())
                .await
                .unwrap();
            assert_eq!(s.fake("production").writes.len(), writes, "the survey wrote");
            if k + 1 == s.plan.steps.len() {
                // The last step ended the rotation: the survey plans the next.
                assert!(!seen.resumed, "{engine}: a finished rotation is not resumed");
                assert_ne!(seen.rotation.id, rot.id, "{engine}");
                continue;
            }
            assert_eq!(
                seen.rotation, rot,
                "{engine}: the survey resumes the same rotation"
            );
            assert!(seen.resumed);
            let states: Vec<&StepState> = seen.steps.iter().map(|x| &x.state).collect();
            for (i, st) in states.iter().enumerate().take(k + 1) {
                assert!(
                    st.is_done(),
                    "{engine} after {}: {} is {st:?}",
                    step.id,
                    s.plan.steps[i].id
                );
            }
            if let Some(first) = states.iter().position(|st| !st.is_done()) {
                assert!(
                    matches!(states[first], StepState::Ready(_) | StepState::Blocked(_)),
                    "{engine} after {}: the next step is {:?}",
                    step.id,
                    states[first]
                );
                for (i, st) in states.iter().enumerate().skip(first + 1) {
                    assert!(
                        matches!(st, StepState::Waiting { .. }),
                        "{engine} after {}: {} is {st:?}",
                        step.id,
                        s.plan.steps[i].id
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn a_new_username_is_never_one_an_earlier_rotation_used() {
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    let mut seen = vec!["signon".to_owned()];
    for _ in 0..3 {
        let old = seen.last().unwrap().clone();
        let o = opts(true, &[&old]);
        let rot = s.rotation(&o).await;
        assert_eq!(rot.old_user("production"), old);
        assert!(
            !seen.contains(&rot.new_username),
            "{} was used before: {seen:?}",
            rot.new_username
        );
        assert_eq!(s.run(&rot, &o).await, RunOutcome::Done);
        // The old user is gone, so only the secret's history remembers it.
        assert!(!s.fake("production").users.contains_key(&old));
        seen.push(rot.new_username.clone());
    }
}

// ---- sharing a rotation: the mark and the lock ----------------------------

/// A journal in a state directory of its own: another laptop.
fn laptop() -> (tempfile::TempDir, impl Fn(&PlanSpec) -> Journal) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    (dir, move |spec: &PlanSpec| Journal::for_spec(&path, spec))
}

fn as_holder(mut o: RunOptions, holder: &str) -> RunOptions {
    o.holder = Some(holder.into());
    o
}

#[tokio::test]
async fn every_step_resumed_from_an_empty_state_dir_finishes_the_same_rotation() {
    for (engine, envs) in [
        (Engine::Mysql, &["production", "staging"][..]),
        (Engine::Postgres, &["production", "staging"][..]),
    ] {
        let old = match engine {
            Engine::Mysql => "signon",
            Engine::Postgres => "account-api",
        };
        let s = Setup::new(engine, envs, Mode::Normal);
        let mut o = opts(true, &[old]);
        let mut rotation: Option<Rotation> = None;
        // Every boundary but the last, which a run stopping there ends.
        let inner = &s.plan.steps[..s.plan.steps.len() - 1];
        for (i, step) in inner.iter().enumerate() {
            o.stop_after = Some(step.id.clone());
            // Each boundary: a new laptop, with nothing in its journal.
            let (_dir, journal) = laptop();
            let journal = journal(&s.plan.spec);
            let r = runner::start_or_resume(&s.plan.spec, &s.ctx, &journal, &o)
                .await
                .unwrap();
            assert_eq!(rotation.get_or_insert_with(|| r.clone()), &r, "at {}", step.id);
            let out = runner::run(&s.plan, &s.ctx, &r, &journal, &o).await;
            match out {
                RunOutcome::Waiting(Wait::Paused { after }) => assert_eq!(after, step.id),
                // PostgreSQL staging waits for the night's restore: the fake restores it.
                RunOutcome::Waiting(Wait::Overnight { env, .. }) => {
                    let p = s.fake("production");
                    nightly_restore(&p, &mut s.fake(&env));
                }
                other => panic!("at {}: {other:?}", step.id),
            }
            // The old users are the mark's, also after the promotion (AWSPREVIOUS).
            assert_eq!(r.old_user("production"), old, "at {}", step.id);
            let journal_text = std::fs::read_to_string(journal.path()).unwrap();
            if i > 0 {
                assert!(journal_text.contains("\"event\":\"adopted\""), "at {}", step.id);
            }
        }
        let r = rotation.unwrap();
        let (_dir, journal) = laptop();
        let journal = journal(&s.plan.spec);
        o.stop_after = None;
        let again = runner::start_or_resume(&s.plan.spec, &s.ctx, &journal, &o)
            .await
            .unwrap();
        assert_eq!(again, r);
        assert_eq!(
            runner::run(&s.plan, &s.ctx, &r, &journal, &o).await,
            RunOutcome::Done
        );
        for env in envs {
            let st = s.fake(env);
            assert_eq!(st.current.0, r.new_username, "{env}");
            // One new user, created once; the mark is gone.
            let creates = st.writes.iter().filter(|w| w.starts_with("CREATE USER")).count();
            assert!(creates <= 1, "{env}: {:?}", st.writes);
            assert!(st.mark_tags.is_empty(), "{env}: {:?}", st.mark_tags);
        }
        assert!(!s.fake("production").users.contains_key(old));
    }
}

#[tokio::test]
async fn another_operator_is_refused_naming_the_holder_and_may_take_over_once_stale() {
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    let mut o = as_holder(opts(true, &["signon"]), "alice@laptop");
    o.stop_after = Some(StepId("production/create-user".into()));
    let rot = s.rotation(&o).await;
    assert!(matches!(s.run(&rot, &o).await, RunOutcome::Waiting(_)));

    // Bob, on his laptop, an hour later in his mind but not by the clock.
    let (_dir, bob_journal) = laptop();
    let bob_journal = bob_journal(&s.plan.spec);
    let mut bob = as_holder(opts(true, &["signon"]), "bob@desk");
    for take_over in [false, true] {
        bob.take_over = take_over;
        let err = runner::start_or_resume(&s.plan.spec, &s.ctx, &bob_journal, &bob)
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err.error, StepError::Held(_)), "{text}");
        assert!(
            text.contains(&format!("rotation {} of production/signon/mysql", rot.id)),
            "{text}"
        );
        assert!(text.contains("held by alice@laptop since"), "{text}");
        assert!(text.contains("last active"), "{text}");
    }
    // Nor may Bob run Alice's rotation directly.
    let out = runner::run(&s.plan, &s.ctx, &rot, &bob_journal, &bob).await;
    assert!(
        matches!(&out, RunOutcome::Failed(e) if matches!(e.error, StepError::Held(_))),
        "{out:?}"
    );
    assert!(!bob_journal.path().exists(), "a refusal writes nothing");
    let before = s.fake("production").writes.len();

    // Alice's last heartbeat, 16 minutes ago.
    {
        let mut st = s.fake("production");
        let mut m = RotationMark::from_tags(&st.mark_tags).unwrap().unwrap();
        m.heartbeat -= chrono::Duration::minutes(16);
        st.mark_tags = m.to_tags();
    }
    bob.take_over = false;
    assert!(
        runner::start_or_resume(&s.plan.spec, &s.ctx, &bob_journal, &bob)
            .await
            .is_err()
    );
    bob.take_over = true;
    let taken = runner::start_or_resume(&s.plan.spec, &s.ctx, &bob_journal, &bob)
        .await
        .unwrap();
    assert_eq!(taken, rot);
    let m = RotationMark::from_tags(&s.fake("production").mark_tags)
        .unwrap()
        .unwrap();
    assert_eq!(m.holder, "bob@desk");
    assert_eq!(m.taken_over_from.as_deref(), Some("alice@laptop"));
    let entries = bob_journal.entries().unwrap();
    assert!(matches!(&entries[0].event, Event::Adopted { started_by, .. } if started_by == "alice@laptop"));
    assert!(matches!(&entries[1].event, Event::TakenOver { from, .. } if from == "alice@laptop"));
    assert_eq!(s.fake("production").writes.len(), before);

    // Now Alice is the other one.
    let err = runner::start_or_resume(&s.plan.spec, &s.ctx, &s.journal(), &o)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("held by bob@desk"), "{err}");
    bob.stop_after = None;
    assert_eq!(s.run(&taken, &bob).await, RunOutcome::Done);
    assert!(s.fake("production").mark_tags.is_empty());
}

#[tokio::test]
async fn a_held_database_lock_refuses_the_run_naming_the_holder() {
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    let mut o = opts(true, &["signon"]);
    o.lock_wait = Duration::from_millis(30);
    let rot = s.rotation(&o).await;
    // Another rotui is running it: it holds the lock.
    let held = s.fakes["production"]
        .lock("rotui:production/signon")
        .await
        .unwrap()
        .unwrap();
    let out = s.run(&rot, &o).await;
    let RunOutcome::Failed(e) = &out else {
        panic!("{out:?}")
    };
    assert!(matches!(e.error, StepError::Held(_)), "{e}");
    assert!(e.to_string().contains("its rotui is running now"), "{e}");
    assert!(e.to_string().contains(&format!("rotation {}", rot.id)), "{e}");
    assert!(s.fake("production").writes.is_empty());
    held.release().await;
    assert_eq!(s.run(&rot, &o).await, RunOutcome::Done);
}

#[tokio::test]
async fn the_mark_names_the_rotation_and_never_a_password() {
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    let mut o = opts(true, &["signon"]);
    o.stop_after = Some(StepId("production/promote".into()));
    let rot = s.rotation(&o).await;
    assert!(matches!(s.run(&rot, &o).await, RunOutcome::Waiting(_)));
    let st = s.fake("production");
    let text = format!("{:?}", st.mark_tags);
    assert!(!text.contains(&st.current.1) && !text.contains(OLD_PW), "{text}");
    let m = RotationMark::from_tags(&st.mark_tags).unwrap().unwrap();
    assert_eq!(m.rotation(), rot);
}

mod memo;
mod rollback;

fn consumer(
    workload: &str,
    pod: Option<&str>,
    container: &str,
    variable: &str,
    restarts: bool,
) -> FakeConsumer {
    FakeConsumer {
        workload: workload.into(),
        pod: pod.map(Into::into),
        container: container.into(),
        variable: variable.into(),
        url: Some(("signon".into(), OLD_PW.into())),
        restarts,
    }
}

#[tokio::test]
async fn every_consumer_is_waited_for_and_a_running_job_on_the_old_credentials_is_named() {
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    s.fake("production").consumers = vec![
        consumer(
            "deployment/signon-worker",
            Some("signon-worker-5d-x"),
            "worker",
            "DATABASE_URL",
            true,
        ),
        consumer(
            "deployment/router",
            Some("router-7f-y"),
            "app",
            "CONTENT_STORE_DATABASE_URL",
            true,
        ),
        consumer("cronjob/signon-cleanup", None, "task", "DATABASE_URL", false),
        consumer(
            "job/signon-cleanup-29000000",
            Some("signon-cleanup-29000000-z"),
            "task",
            "DATABASE_URL",
            false,
        ),
    ];
    let o = opts(true, &["signon"]);
    let rot = s.rotation(&o).await;
    let detail = match s.run(&rot, &o).await {
        RunOutcome::Waiting(Wait::Rollout { detail, .. }) => detail,
        other => panic!("{other:?}"),
    };
    assert!(
        detail.contains("job/signon-cleanup-29000000")
            && detail.contains("signon-cleanup-29000000-z (task DATABASE_URL: signon)"),
        "{detail}"
    );
    assert!(!detail.contains("signon-worker"), "the worker moved on: {detail}");

    // The Job finishes: the step completes, the CronJob's next run is reported.
    s.fake("production").consumers.pop();
    let ports = s.ctx.env("production").unwrap();
    let cur = ports.secrets.current().await.unwrap();
    let r = ports.cluster.check_rollout(&cur).await.unwrap();
    match crate::rotation::steps::rollout_observation(&r, &cur.username, "signon") {
        crate::rotation::outcome::Observation::Done(m) => {
            assert!(
                m.contains("deployment/router") && m.contains("deployment/signon-worker"),
                "{m}"
            );
            assert!(
                m.contains("cronjob/signon-cleanup: next run uses the new credentials"),
                "{m}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.run(&rot, &o).await, RunOutcome::Done);
}

#[tokio::test]
async fn the_drain_names_the_consumers_still_on_the_old_user() {
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    s.fake("production").sticky = true;
    // Failures from before the rotation: not blamed on it.
    s.fake("production").failed_logins = Some(BTreeMap::from([("signon".to_owned(), 4)]));
    s.fake("production").consumers = vec![consumer(
        "job/signon-cleanup-1",
        Some("signon-cleanup-1-abc"),
        "task",
        "DATABASE_URL",
        false,
    )];
    let mut o = opts(true, &["signon"]);
    o.skip.insert(StepId("production/rollout".into()), "test".into());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    o.events = Some(tx);
    let rot = s.rotation(&o).await;
    match s.run(&rot, &o).await {
        RunOutcome::Waiting(Wait::Drain { detail, .. }) => assert!(
            detail.contains("still on signon: job/signon-cleanup-1 (signon-cleanup-1-abc)"),
            "{detail}"
        ),
        other => panic!("{other:?}"),
    }
    // While it waits, the dashboard sees how long and who holds on.
    let mut progress = vec![];
    while let Ok(ev) = rx.try_recv() {
        if let (true, StepEventKind::Observed(super::outcome::Observation::NotDone(text))) =
            (ev.step.0 == "production/drain", ev.kind)
        {
            progress.push(text);
        }
    }
    assert!(
        progress.iter().any(|t| t.contains(", waited 0 s of 0 s")
            && t.contains("; still on signon: job/signon-cleanup-1 (signon-cleanup-1-abc)")
            && t.contains(&format!(
                "; failed logins since the switch: signon 0, {} 0",
                rot.new_username
            ))),
        "{progress:?}"
    );
    // Beside the drain in the journal: the count before the switch.
    assert!(
        s.journal_text().lines().any(|l| l.contains(r#""baseline":true"#)
            && l.contains(r#""event":"failed_logins""#)
            && l.contains(r#""step":"production/promote""#)),
        "{}",
        s.journal_text()
    );
}

/// `--stagger` (or the app's `stagger = true`) shows in the sync step's
/// preview, as the dashboard and `rotui plan` show it: the sync pauses
/// Reloader's Deployments first. A rollback's sync never staggers.
#[tokio::test]
async fn stagger_shows_in_the_sync_preview_and_not_in_a_rollbacks() {
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    let mut o = opts(true, &[]);
    let rot = s.rotation(&o).await;
    let sync = |kind: StepKind| {
        s.plan
            .steps
            .iter()
            .find(|st| st.kind == kind)
            .cloned()
            .unwrap_or_else(|| Step {
                id: StepId("production/rollback-sync".into()),
                env: "production".into(),
                engine: Engine::Mysql,
                kind,
                requires: vec![],
            })
    };
    let preview = |step: Step, o: RunOptions| {
        let (s, rot) = (&s, &rot);
        async move {
            let cx = StepCtx {
                ctx: &s.ctx,
                rotation: rot,
                step: &step,
                opts: &o,
                recorder: None,
            };
            step.preview(&cx).await.unwrap().join("\n")
        }
    };
    let plain = preview(sync(StepKind::ForceSync), o.clone()).await;
    assert!(!plain.contains("rollout pause"), "{plain}");
    o.stagger = true;
    let staggered = preview(sync(StepKind::ForceSync), o.clone()).await;
    assert!(
        staggered.starts_with("kubectl rollout pause -n ")
            && staggered.contains(" deployment/…   # --stagger: each Deployment Reloader restarts"),
        "{staggered}"
    );
    let back = preview(sync(StepKind::SyncBack), o.clone()).await;
    assert!(!back.contains("rollout pause"), "{back}");
}
