//! Fault points on purpose (issue 21, item 4): the real binary killed
//! (SIGKILL, by `ROTUI_FAULT`) right after each write of a rotation and of
//! a rollback, on MySQL 9.7 (signon: views, a procedure and a trigger whose
//! definer moves) and PostgreSQL 17 (account-api: the owner role, REASSIGN
//! then DROP), each time resumed from another, empty state directory. Every
//! case ends with the same checks ([`Sb::settled`]): the objects, the
//! grants (AWSCURRENT reads and writes through them), the users, AWSCURRENT
//! logs in, no AWSPENDING, no rotation mark, the app's pods connected.
//!
//! The fixture here ([`Sb`]) is shared with `frozen.rs` and `races.rs`.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rotui::target::{Engine, Target};
use rotui_sandbox::world::World;
use sqlx::Connection;

/// One of the sandbox's two apps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum App {
    /// MySQL 9.7.
    Signon,
    /// PostgreSQL 17.
    AccountApi,
}

impl App {
    pub fn args(self) -> [&'static str; 4] {
        match self {
            App::Signon => ["--app", "signon", "--engine", "mysql"],
            App::AccountApi => ["--app", "account-api", "--engine", "postgres"],
        }
    }
    pub fn name(self) -> &'static str {
        self.args()[1]
    }
    fn target(self) -> Target {
        match self {
            App::Signon => Target::new("sandbox", "signon", Engine::Mysql),
            App::AccountApi => Target::new("sandbox", "account-api", Engine::Postgres),
        }
    }
}

/// How a rotui process ended, and everything it printed.
#[derive(Debug)]
pub struct Ran {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub text: String,
    pub took: Duration,
}

/// The sandbox, and rotui run against it as an operator would.
pub struct Sb {
    pub dir: tempfile::TempDir,
    pub world: World,
    env: HashMap<String, String>,
    laptops: AtomicUsize,
}

impl Sb {
    pub async fn start() -> Sb {
        let dir = tempfile::tempdir().unwrap();
        let world = World::start(dir.path()).await.expect("the sandbox starts");
        let mut env = rotui_sandbox::world::parse_env_file(
            &std::fs::read_to_string(dir.path().join("sandbox.env")).unwrap(),
        );
        env.insert("PATH".into(), std::env::var("PATH").unwrap());
        env.insert("HOME".into(), dir.path().to_string_lossy().into_owned());
        Sb {
            dir,
            world,
            env,
            laptops: AtomicUsize::new(0),
        }
    }

    /// The environment rotui runs with, and a new state directory.
    pub fn env_for_laptop(&self) -> HashMap<String, String> {
        let n = self.laptops.fetch_add(1, Ordering::SeqCst);
        let mut env = self.env.clone();
        let state = self.dir.path().join(format!("laptop-{n}"));
        env.insert("ROTUI_STATE_DIR".into(), state.to_string_lossy().into_owned());
        env
    }

    /// `rotui ARGS` for `app`, from a new empty state directory (another
    /// laptop), with `extra` in its environment.
    pub fn command(&self, app: App, args: &[&str], extra: &[(&str, &str)]) -> tokio::process::Command {
        self.command_in(app, args, extra).0
    }

    /// [`Sb::command`], and its state directory.
    pub fn command_in(
        &self,
        app: App,
        args: &[&str],
        extra: &[(&str, &str)],
    ) -> (tokio::process::Command, PathBuf) {
        let n = self.laptops.fetch_add(1, Ordering::SeqCst);
        let state = self.dir.path().join(format!("laptop-{n}"));
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_rotui"));
        cmd.args(args)
            .args(app.args())
            .env_clear()
            .envs(&self.env)
            .env("ROTUI_STATE_DIR", &state)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        (cmd, state)
    }

    pub async fn run(&self, app: App, args: &[&str], extra: &[(&str, &str)]) -> Ran {
        let started = Instant::now();
        let out = self.command(app, args, extra).output().await.expect("rotui runs");
        ran(out, started)
    }

    /// Run `rotate` of `old` (then again while it waits) until it
    /// finishes: exit 0.
    pub async fn rotate_to_the_end(&self, app: App, old: &str) {
        let deadline = Instant::now() + Duration::from_secs(90);
        let args = rotate_all(old);
        loop {
            let r = self.run(app, &strs(&args), &[]).await;
            match r.code {
                Some(0) => return,
                Some(10) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(500)).await,
                _ => panic!("rotate did not finish: {r:?}"),
            }
        }
    }

    pub async fn sm(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(
            rotui::aws::AwsSession::with_credentials(
                &rotui::aws::AwsOptions {
                    endpoint_url: Some(self.world.info().aws_endpoint_url.clone()),
                    region: Some("eu-west-1".into()),
                    ..Default::default()
                },
                &rotui::aws::StaticCredentials::new("testing", "testing"),
            )
            .await
            .unwrap()
            .sdk_config(),
        )
    }

    async fn stage(&self, app: App, stage: &str) -> Option<serde_json::Value> {
        let v = self
            .sm()
            .await
            .get_secret_value()
            .secret_id(app.target().app_secret)
            .version_stage(stage)
            .send()
            .await
            .ok()?;
        serde_json::from_str(v.secret_string()?).ok()
    }

    /// AWSCURRENT's username and password.
    pub async fn current(&self, app: App) -> (String, String) {
        let v = self.stage(app, "AWSCURRENT").await.expect("AWSCURRENT");
        (
            v["username"].as_str().unwrap().to_owned(),
            v["password"].as_str().unwrap().to_owned(),
        )
    }

    /// How many versions the app secret has (deprecated ones included).
    pub async fn versions(&self, app: App) -> usize {
        self.sm()
            .await
            .list_secret_version_ids()
            .secret_id(app.target().app_secret)
            .include_deprecated(true)
            .send()
            .await
            .unwrap()
            .versions()
            .len()
    }

    /// A version labelled AWSPENDING, and any rotui tag.
    pub async fn pending_and_mark(&self, app: App) -> (bool, Vec<String>) {
        let d = self
            .sm()
            .await
            .describe_secret()
            .secret_id(app.target().app_secret)
            .send()
            .await
            .unwrap();
        // On any version, the current one included (an interrupted promotion).
        let pending = d
            .version_ids_to_stages()
            .is_some_and(|m| m.values().any(|s| s.iter().any(|s| s == "AWSPENDING")));
        let tags = d
            .tags()
            .iter()
            .filter_map(|t| t.key().filter(|k| k.starts_with("rotui")).map(str::to_owned))
            .collect();
        (pending, tags)
    }

    /// The admin's password for `app`'s server (from the admin secret).
    async fn admin_password(&self, app: App) -> String {
        let admin = self.sm().await;
        let v = admin
            .get_secret_value()
            .secret_id(&self.world.info().mysql.admin_secret)
            .send()
            .await
            .unwrap();
        let doc: serde_json::Value = serde_json::from_str(v.secret_string().unwrap()).unwrap();
        doc[app.target().admin_secret_key.as_str()]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A URL for `app`'s server and database as `user` with `password`.
    pub fn url(&self, app: App, user: &str, password: &str) -> String {
        let info = self.world.info();
        let base = match app {
            App::Signon => &info.mysql.admin_url,
            App::AccountApi => &info.postgres.admin_url,
        };
        let mut url = url::Url::parse(base).unwrap();
        url.set_username(user).unwrap();
        url.set_password(Some(password)).unwrap();
        url.to_string()
    }

    pub async fn admin_url(&self, app: App) -> String {
        self.url(app, "aws_db_admin", &self.admin_password(app).await)
    }

    /// The app's login users on its server (MySQL users, PostgreSQL login roles).
    pub async fn app_users(&self, app: App) -> BTreeSet<String> {
        let admin = self.admin_url(app).await;
        let prefix = app.name();
        let rows: Vec<String> = match app {
            App::Signon => {
                let mut c = sqlx::MySqlConnection::connect(&admin).await.unwrap();
                let r = sqlx::query_scalar("SELECT CAST(user AS CHAR) FROM mysql.user")
                    .fetch_all(&mut c)
                    .await
                    .unwrap();
                let _ = c.close().await;
                r
            }
            App::AccountApi => {
                let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
                let r = sqlx::query_scalar("SELECT rolname::text FROM pg_roles WHERE rolcanlogin")
                    .fetch_all(&mut c)
                    .await
                    .unwrap();
                let _ = c.close().await;
                r
            }
        };
        rows.into_iter().filter(|u| u.starts_with(prefix)).collect()
    }

    /// The app database's objects as the server lists them: MySQL views,
    /// routines and triggers; PostgreSQL tables, views and sequences.
    pub async fn objects(&self, app: App) -> BTreeSet<String> {
        let admin = self.admin_url(app).await;
        match app {
            App::Signon => {
                let mut c = sqlx::MySqlConnection::connect(&admin).await.unwrap();
                let r: Vec<String> = sqlx::query_scalar(
                    "SELECT CAST(CONCAT('view ', table_name) AS CHAR) FROM information_schema.views \
                     WHERE table_schema = 'signon_production' \
                     UNION ALL SELECT CAST(CONCAT(LOWER(routine_type), ' ', routine_name) AS CHAR) \
                     FROM information_schema.routines WHERE routine_schema = 'signon_production' \
                     UNION ALL SELECT CAST(CONCAT('trigger ', trigger_name) AS CHAR) \
                     FROM information_schema.triggers WHERE trigger_schema = 'signon_production'",
                )
                .fetch_all(&mut c)
                .await
                .unwrap();
                let _ = c.close().await;
                r.into_iter().collect()
            }
            App::AccountApi => {
                let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
                let r: Vec<String> = sqlx::query_scalar(
                    "SELECT c.relkind::text || ' ' || c.relname FROM pg_class c \
                     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'",
                )
                .fetch_all(&mut c)
                .await
                .unwrap();
                let _ = c.close().await;
                r.into_iter().collect()
            }
        }
    }

    /// Log in with AWSCURRENT and use the app's objects: read a view, write
    /// through the grants (MySQL: the procedure, which fires the trigger).
    async fn app_works(&self, app: App) -> Result<(), String> {
        let (user, password) = self.current(app).await;
        let url = self.url(app, &user, &password);
        let e = |e: sqlx::Error| rotui::secret::redact(&e.to_string());
        match app {
            App::Signon => {
                let mut c = sqlx::MySqlConnection::connect(&url).await.map_err(e)?;
                let _: (i64,) = sqlx::query_as("SELECT active_users FROM active_users_summary")
                    .fetch_one(&mut c)
                    .await
                    .map_err(e)?;
                let before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM gdpr_audit_log")
                    .fetch_one(&mut c)
                    .await
                    .map_err(e)?;
                sqlx::query("CALL suspend_user(3)")
                    .execute(&mut c)
                    .await
                    .map_err(e)?;
                let after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM gdpr_audit_log")
                    .fetch_one(&mut c)
                    .await
                    .map_err(e)?;
                let _ = c.close().await;
                (after == before + 1)
                    .then_some(())
                    .ok_or_else(|| format!("the trigger did not fire: {before} → {after}"))
            }
            App::AccountApi => {
                let mut c = sqlx::PgConnection::connect(&url).await.map_err(e)?;
                sqlx::query("INSERT INTO tombstones (sub) VALUES ('fault-check')")
                    .execute(&mut c)
                    .await
                    .map_err(e)?;
                let _: Vec<(i64, i64)> = sqlx::query_as("SELECT user_id, topics FROM active_subscriptions")
                    .fetch_all(&mut c)
                    .await
                    .map_err(e)?;
                let _ = c.close().await;
                Ok(())
            }
        }
    }

    /// Sessions on `app`'s server per app user.
    async fn sessions(&self, app: App) -> HashMap<String, i64> {
        let admin = self.admin_url(app).await;
        let prefix = app.name();
        let rows: Vec<(String, i64)> = match app {
            App::Signon => {
                let mut c = sqlx::MySqlConnection::connect(&admin).await.unwrap();
                let r = sqlx::query_as(
                    "SELECT CAST(user AS CHAR), COUNT(*) FROM information_schema.processlist GROUP BY user",
                )
                .fetch_all(&mut c)
                .await
                .unwrap();
                let _ = c.close().await;
                r
            }
            App::AccountApi => {
                let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
                let r = sqlx::query_as(
                    "SELECT usename::text, count(*) FROM pg_stat_activity WHERE usename IS NOT NULL GROUP BY 1",
                )
                .fetch_all(&mut c)
                .await
                .unwrap();
                let _ = c.close().await;
                r
            }
        };
        rows.into_iter().filter(|(u, _)| u.starts_with(prefix)).collect()
    }

    /// The same checks after every case: `objects` still there, exactly
    /// one app user (AWSCURRENT's, other than `before`), which logs in and
    /// works through its grants, no AWSPENDING, no mark, and the app's
    /// pods connected as it (and as nobody else).
    pub async fn settled(&self, app: App, objects: &BTreeSet<String>, what: &str) -> String {
        assert_eq!(&self.objects(app).await, objects, "{what}: the objects");
        let (user, _) = self.current(app).await;
        assert_eq!(
            self.app_users(app).await,
            BTreeSet::from([user.clone()]),
            "{what}: one app user, AWSCURRENT's"
        );
        if let Err(e) = self.app_works(app).await {
            panic!("{what}: AWSCURRENT ({user}) cannot use the app's objects: {e}");
        }
        if app == App::Signon {
            let mut c = sqlx::MySqlConnection::connect(&self.admin_url(app).await)
                .await
                .unwrap();
            let kept: Result<i64, _> = sqlx::query_scalar("SELECT COUNT(*) FROM rotui_backups.definer_moves")
                .fetch_one(&mut c)
                .await;
            let _ = c.close().await;
            assert!(
                kept.as_ref().is_err() || kept.as_ref().is_ok_and(|n| *n == 0),
                "{what}: a definition still kept on the server: {kept:?}"
            );
        }
        let (pending, mark) = self.pending_and_mark(app).await;
        assert!(!pending, "{what}: AWSPENDING left");
        assert!(mark.is_empty(), "{what}: a rotation mark left: {mark:?}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.sessions(app).await;
            if s.get(&user).is_some_and(|n| *n >= 2) && s.len() == 1 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: the app's pods are not connected as {user}: {s:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        user
    }
}

/// Every flag a whole unattended rotation of `old` needs.
pub fn rotate_all(old: &str) -> Vec<String> {
    [
        "rotate",
        "--yes",
        "--kill-leftovers",
        "--wait-timeout",
        "30",
        "--confirm-drop",
        old,
    ]
    .map(str::to_owned)
    .to_vec()
}

pub fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

pub fn ran(out: std::process::Output, started: Instant) -> Ran {
    use std::os::unix::process::ExitStatusExt;
    Ran {
        code: out.status.code(),
        signal: out.status.signal(),
        text: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        took: started.elapsed(),
    }
}

/// The last write a state directory's journal records: step and first line.
fn last_call(state: &std::path::Path) -> String {
    fn find(v: &serde_json::Value, out: &mut Option<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let (Some(step), Some(text)) = (m.get("step"), m.get("text").and_then(|t| t.as_str())) {
                    let first = text.lines().find(|l| !l.starts_with("--")).unwrap_or_default();
                    *out = Some(format!("{} {}", step.as_str().unwrap_or_default(), first));
                }
                m.values().for_each(|v| find(v, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| find(v, out)),
            _ => {}
        }
    }
    let mut last = None;
    for f in std::fs::read_dir(state.join("journal"))
        .into_iter()
        .flatten()
        .flatten()
    {
        for line in std::fs::read_to_string(f.path()).unwrap_or_default().lines() {
            if let Ok(v) = serde_json::from_str(line) {
                find(&v, &mut last);
            }
        }
    }
    last.map(|l| l.chars().take(110).collect())
        .unwrap_or_else(|| "(no write journalled)".into())
}

/// Run `args` killed after its first write of `point` each time, from a
/// new state directory each time, until a run has no such write left and
/// is killed after clearing the mark (its work done, not yet said), or
/// until a kill in the write that names `until`.
/// Returns the points killed, as rotui named them.
async fn kill_at_every(sb: &Sb, app: App, args: &[&str], point: &str, until: Option<&str>) -> Vec<String> {
    let mut killed = vec![];
    // Each write, then the mark's clearing, which ends the run's work.
    let fault = format!("{point}|mark/clear:1");
    for _ in 0..60 {
        let (mut cmd, state) = sb.command_in(app, args, &[("ROTUI_FAULT", &fault)]);
        let started = Instant::now();
        let r = ran(cmd.output().await.unwrap(), started);
        match (r.code, r.signal) {
            (None, Some(9)) => {
                let line = r
                    .text
                    .lines()
                    .find(|l| l.starts_with("rotui: fault point "))
                    .unwrap_or_else(|| panic!("killed, but not by a fault point: {}", r.text));
                let point = line
                    .trim_start_matches("rotui: fault point ")
                    .trim_end_matches(": killed");
                killed.push(format!("{point}: {}", last_call(&state)));
                if line.contains("mark/clear") || until.is_some_and(|u| killed.last().unwrap().contains(u)) {
                    return killed;
                }
            }
            (Some(10), _) => tokio::time::sleep(Duration::from_millis(500)).await,
            _ => panic!("after {} kills: {r:?}", killed.len()),
        }
    }
    panic!("no end after 60 runs: {killed:#?}");
}

/// One engine: a rotation killed after each of its writes (statements,
/// AWSPENDING stored, promoted, force-sync annotated, the mark set and
/// cleared) and each Secrets Manager call within them (the promotion's
/// AWSCURRENT move, before AWSPENDING leaves), resumed each time from
/// another laptop; then a rotation stopped after its promotion and rolled
/// back, killed after its secret's move back and after each of its writes.
async fn every_write_killed(app: App) -> (usize, usize) {
    let sb = Sb::start().await;
    let objects = sb.objects(app).await;
    let (old, _) = sb.current(app).await;
    let users_before = sb.app_users(app).await;
    assert_eq!(users_before, BTreeSet::from([old.clone()]));

    // The rotation: the first mark, then every write, then the mark's clearing.
    let mut killed = vec![];
    let rotate = rotate_all(&old);
    let r = sb
        .run(app, &strs(&rotate), &[("ROTUI_FAULT", "mark/set:1")])
        .await;
    assert_eq!(r.signal, Some(9), "{r:?}");
    killed.push("mark/set #1: before any write".to_owned());
    let mut objects = objects;
    if app == App::AccountApi {
        // A table made on the old credentials after the owner role took
        // everything over (a migration from a pod not yet restarted): the
        // drop then reassigns it before dropping, and is killed between.
        killed.extend(
            kill_at_every(
                &sb,
                app,
                &strs(&rotate),
                "write|secret-call",
                Some("sandbox/promote"),
            )
            .await,
        );
        let v = sb.stage(app, "AWSPREVIOUS").await.unwrap();
        let url = sb.url(app, &old, v["password"].as_str().unwrap());
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query("CREATE TABLE made_late (id int)")
            .execute(&mut c)
            .await
            .unwrap();
        let _ = c.close().await;
        objects.insert("r made_late".into());
    }
    if app == App::AccountApi {
        // Made again just before the drop, which then plans REASSIGN
        // OWNED and DROP OWNED before DROP USER: killed right after the
        // REASSIGN (its second statement, after NOLOGIN), then after each.
        killed.extend(
            kill_at_every(
                &sb,
                app,
                &strs(&rotate),
                "write|secret-call",
                Some("sandbox/force-sync"),
            )
            .await,
        );
        let fault = "step/sandbox/drop-old-user:1:stop,write/db:2";
        let (mut cmd, state) = sb.command_in(app, &strs(&rotate), &[("ROTUI_FAULT", fault)]);
        let child = cmd.spawn().unwrap();
        let pid = child.id().unwrap();
        until_stopped(pid).await;
        let v = sb.stage(app, "AWSPREVIOUS").await.unwrap();
        let url = sb.url(app, &old, v["password"].as_str().unwrap());
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query("CREATE TABLE made_later (id int)")
            .execute(&mut c)
            .await
            .unwrap();
        let _ = c.close().await;
        objects.insert("r made_later".into());
        signal(pid, nix::sys::signal::Signal::SIGCONT);
        let r = ran(child.wait_with_output().await.unwrap(), Instant::now());
        assert_eq!(r.signal, Some(9), "{r:?}");
        killed.push(format!("write/db #2: {}", last_call(&state)));
        assert!(killed.last().unwrap().contains("REASSIGN OWNED"), "{killed:#?}");
    }
    killed.extend(kill_at_every(&sb, app, &strs(&rotate), "write|secret-call", None).await);
    let new = sb.settled(app, &objects, "after the rotation").await;
    assert_ne!(new, old);
    // One new version, one new user: nothing was written twice.
    assert_eq!(sb.versions(app).await, 2, "one AWSPENDING version stored");
    let writes = killed.len() - 1;
    // A rotation has at least: AWSPENDING, CREATE USER, the promotion, a
    // force-sync and the drop (MySQL: also the grants and the definer moves).
    assert!(writes >= 5, "{killed:#?}");
    // The promotion killed between its two moves, and after the second.
    assert_eq!(
        killed.iter().filter(|k| k.contains("sandbox/promote")).count(),
        2,
        "{killed:#?}"
    );
    for name in ["secret-call", "write/db", "write/cluster"] {
        assert!(
            killed.iter().any(|k| k.contains(name)),
            "no {name} killed: {killed:#?}"
        );
    }

    // The rollback: a rotation killed once the app secret is promoted and
    // the sync forced (the old user is still there), then rolled back.
    let r = sb
        .run(
            app,
            &strs(&rotate_all(&new)),
            &[("ROTUI_FAULT", "write/cluster:1")],
        )
        .await;
    assert_eq!(r.signal, Some(9), "{r:?}");
    let promoted = sb.current(app).await.0;
    assert_ne!(promoted, new);
    let mut rollback_kills = 0;
    let confirm = format!("--confirm-drop-new={promoted}");
    let args = ["rollback", "--yes", confirm.as_str()];
    let rolled = kill_at_every(&sb, app, &args, "write|secret-call", None).await;
    eprintln!("{app:?}: the rollback killed at {rolled:#?}");
    rollback_kills += rolled.len();
    let back = sb.settled(app, &objects, "after the rollback").await;
    assert_eq!(back, new, "rolled back to the user before");
    eprintln!("{app:?}: killed at {killed:#?}");
    (killed.len(), rollback_kills)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_killed_and_resumed_elsewhere_mysql() {
    let (rotation, rollback) = every_write_killed(App::Signon).await;
    eprintln!("MySQL 9.7: {rotation} points killed in the rotation, {rollback} in the rollback");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_killed_and_resumed_elsewhere_postgres() {
    let (rotation, rollback) = every_write_killed(App::AccountApi).await;
    eprintln!("PostgreSQL 17: {rotation} points killed in the rotation, {rollback} in the rollback");
}

/// Wait until process `pid` is stopped (SIGSTOP, by a `:stop` fault point).
pub async fn until_stopped(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // `pid (comm) STATE …`: the state follows the last ')'.
        if stat
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('T'))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "rotui never reached its fault point: {stat}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn signal(pid: u32, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal).unwrap();
}

/// The window no client can reach on its own: MySQL re-creates a routine
/// or trigger with DROP then CREATE, sent as one batch, so the server runs
/// both. What a DROP that ran alone leaves (a server failing between the
/// two) is made here: rotui stopped with its backup saved, the object
/// dropped as the batch's first statement would, rotui killed; another
/// laptop, without that backup file, resumes — and stops at the next
/// object's move, which gets the same. Both the procedure and the trigger
/// come back, defined by the admin, with their grants.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_definer_move_killed_between_drop_and_create() {
    let app = App::Signon;
    let sb = Sb::start().await;
    let objects = sb.objects(app).await;
    let rotate = rotate_all("signon");
    let mut dropped = vec![];
    for _ in 0..2 {
        let (mut cmd, state) =
            sb.command_in(app, &strs(&rotate), &[("ROTUI_FAULT", "definer-backup:1:stop")]);
        let child = cmd.spawn().unwrap();
        let pid = child.id().unwrap();
        until_stopped(pid).await;
        let backup = std::fs::read_dir(state.join("mysql-backups"))
            .unwrap()
            .next()
            .expect("a backup saved before the drop")
            .unwrap()
            .file_name()
            .to_string_lossy()
            .into_owned();
        // `<stamp>-<db>.<name>.<kind>.sql`
        let mut parts = backup.trim_end_matches(".sql").rsplitn(3, '.');
        let kind = parts.next().unwrap().to_ascii_uppercase();
        let name = parts.next().unwrap().to_owned();
        let mut admin = sqlx::MySqlConnection::connect(&sb.admin_url(app).await)
            .await
            .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP {kind} signon_production.`{name}`"
        )))
        .execute(&mut admin)
        .await
        .unwrap();
        let _ = admin.close().await;
        signal(pid, nix::sys::signal::Signal::SIGKILL);
        let out = child.wait_with_output().await.unwrap();
        assert!(!out.status.success());
        dropped.push(format!("{kind} {name}"));
    }
    assert!(
        dropped.iter().any(|d| d.starts_with("PROCEDURE"))
            && dropped.iter().any(|d| d.starts_with("TRIGGER")),
        "{dropped:?}"
    );
    sb.rotate_to_the_end(app, "signon").await;
    sb.settled(app, &objects, &format!("{dropped:?} dropped, not re-created"))
        .await;
}
