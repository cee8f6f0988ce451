//! The PostgreSQL layer against a real throwaway PostgreSQL whose admin is
//! shaped like RDS's master user (CREATEROLE CREATEDB, not superuser).
//! Every test makes its own roles and databases, with names that are hostile
//! on purpose (quotes, hyphens, spaces, `%`, non-ASCII).

use std::time::Duration;

use rotui::db::Statement;
use rotui::db::postgres::{APPLICATION_NAME, PgConfig, PgDb};
use rotui::db::{DbError, DbErrorKind};
use rotui::model::DbObject;
use rotui::secret::{ExposeSecret, MASK, SecretString, generate_password};
use rotui_sandbox::postgres::{PgFlavor, PostgresServer, skipping_pg17};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, Connection, Executor};

tokio::task_local! {
    /// The flavor the running test is on (set by [`pg_test!`]).
    static FLAVOR: PgFlavor;
}

/// The flavor of the running test.
fn flavor() -> PgFlavor {
    FLAVOR
        .try_with(|f| *f)
        .expect("a PostgreSQL test runs inside pg_test!")
}

/// The shared server of the running test's flavor.
fn pg() -> &'static PostgresServer {
    PostgresServer::shared_of(flavor())
}

/// Run a test body on one flavor. PostgreSQL 17 is only skipped when the
/// machine says so (`ROTUI_SKIP_PG17=1`), and then loudly.
pub(crate) async fn on_flavor(flavor: PgFlavor, body: impl std::future::Future<Output = ()>) {
    let test = std::thread::current()
        .name()
        .unwrap_or("a PostgreSQL test")
        .to_owned();
    if flavor == PgFlavor::Pg17 && skipping_pg17(&test) {
        return;
    }
    FLAVOR.scope(flavor, body).await
}

/// `pg_test! { async fn name() { … } }`: the test `name::postgresql_17` and
/// `name::postgresql_15`, one per flavor, so a failure names its server.
macro_rules! pg_test {
    (async fn $name:ident() $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body() $body

            #[tokio::test]
            async fn postgresql_17() {
                on_flavor(PgFlavor::Pg17, body()).await
            }

            #[tokio::test]
            async fn postgresql_15() {
                on_flavor(PgFlavor::Pg15, body()).await
            }
        }
    };
}

/// A short unique tag for names.
fn tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

/// A name that breaks naive quoting in every way PostgreSQL allows.
fn hostile(base: &str) -> String {
    format!("{base}-{} it's \"q\" %ü", tag())
}

async fn admin(database: &str) -> PgDb {
    PgDb::connect(pg().admin_url(database).expose_secret())
        .await
        .expect("the admin connects")
}

/// A seeded app: a login user owning a database full of objects.
struct App {
    user: String,
    password: SecretString,
    database: String,
}

impl App {
    async fn seed(base: &str) -> App {
        let app = App {
            user: hostile(base),
            password: generate_password(),
            database: format!("{}_production", hostile(base)),
        };
        pg().seed_app(&app.user, &app.password, &app.database)
            .await
            .expect("seeding the app database");
        app
    }

    /// The same user owning objects in one more database.
    async fn seed_more(&self, database: &str) {
        pg().seed_app(&self.user, &self.password, database)
            .await
            .expect("seeding a second database");
    }

    fn owner_role(&self) -> String {
        format!("{}-owner-role", self.user)
    }

    async fn conn(&self, database: &str) -> PgConnection {
        login(&self.user, &self.password, database).await
    }
}

fn options(user: &str, password: &SecretString, database: &str) -> PgConnectOptions {
    PgConnectOptions::new_without_pgpass()
        .host("127.0.0.1")
        .port(pg().port())
        .username(user)
        .password(password.expose_secret())
        .database(database)
}

async fn login(user: &str, password: &SecretString, database: &str) -> PgConnection {
    PgConnection::connect_with(&options(user, password, database).application_name("the-app"))
        .await
        .unwrap_or_else(|e| panic!("{user} logs in to {database}: {e}"))
}

/// Run SQL as the superuser (fixtures only).
async fn superuser(database: &str, sql: &str) {
    let mut c = PgConnection::connect_with(&pg().superuser_options(database))
        .await
        .expect("superuser connects");
    c.execute(AssertSqlSafe(sql.to_owned())).await.expect(sql);
    c.close().await.unwrap();
}

/// Create NOLOGIN roles as the RDS-shaped admin, as on RDS (where the master
/// user creates every role: on 16+ that gives it ADMIN OPTION on them).
async fn admin_roles(roles: &[&str]) {
    let mut c = PgConnection::connect_with(&pg().admin_options("postgres"))
        .await
        .expect("admin connects");
    for r in roles {
        c.execute(AssertSqlSafe(format!("CREATE ROLE {} NOLOGIN", ident(r))))
            .await
            .expect("the admin creates a role");
    }
    c.close().await.unwrap();
}

/// PostgreSQL 16+: inheritance is per grant, and the plans say so.
fn per_grant() -> bool {
    flavor().major() >= 16
}

/// `GRANT role TO member` as the plans write it on this flavor.
fn grant_inheriting(role: &str, member: &str) -> String {
    format!(
        "GRANT {role} TO {member}{}",
        if per_grant() { " WITH INHERIT TRUE" } else { "" }
    )
}

fn ident(s: &str) -> String {
    rotui::db::ident::pg_ident(s)
}

fn previews(plan: &[Statement]) -> Vec<String> {
    plan.iter().map(Statement::preview).collect()
}

fn owners<'a>(objects: &'a [DbObject], kind: &str) -> Vec<&'a str> {
    objects
        .iter()
        .filter(|o| o.kind == kind)
        .map(|o| o.owner.as_str())
        .collect()
}

// ---------------------------------------------------------------- server

pg_test! {
async fn the_test_server_has_an_rds_shaped_admin() {
    let db = admin("postgres").await;
    let flavor = db.flavor();
    assert_eq!(flavor.kind, rotui::model::FlavorKind::Postgres);
    assert!(flavor.rds, "rds_superuser exists, as on RDS");
    assert!(flavor.version.starts_with(char::is_numeric), "{flavor:?}");
    assert!(flavor.to_string().starts_with("PostgreSQL 1"), "{flavor}");
    assert_eq!(db.user(), "aws_db_admin");

    let users = db.users().await.unwrap();
    let a = users.iter().find(|u| u.name == "aws_db_admin").unwrap();
    assert!(a.can_login && !a.superuser && a.can_grant);
    assert!(
        a.attributes.contains(&"Create role".to_owned()),
        "{:?}",
        a.attributes
    );
    assert!(a.attributes.contains(&"Create DB".to_owned()));
    assert!(
        a.member_of.contains(&"rds_superuser".to_owned()),
        "{:?}",
        a.member_of
    );
    assert_eq!(a.valid_until.as_deref(), Some("infinity"));
    let rds = users.iter().find(|u| u.name == "rds_superuser").unwrap();
    assert!(rds.attributes.contains(&"Cannot login".to_owned()));
    assert!(
        users.iter().all(|u| !u.name.starts_with("pg_")),
        "predefined roles are hidden like \\du"
    );

    // Not a superuser: it cannot make one, and the refusal names the privilege.
    let err = db
        .execute(&[Statement::new(format!(
            "CREATE ROLE {} SUPERUSER",
            ident(&hostile("su"))
        ))])
        .await
        .unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Privilege, "{err}");
    assert!(
        err.to_string().to_lowercase().contains("superuser"),
        "{err}"
    );
}
}

pg_test! {
async fn a_server_of_its_own_starts_cleanly_and_is_removed_when_stopped() {
    let f = flavor();
    let server = tokio::task::spawn_blocking(move || PostgresServer::start_flavor(f))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(server.flavor(), flavor());
    assert!(
        server.version().starts_with(&format!("{}.", flavor().major())),
        "{flavor}: {}",
        server.version(),
        flavor = flavor()
    );
    let log = std::fs::read_to_string(server.dir.join("postgres.log")).unwrap();
    assert!(log.contains("ready to accept connections"), "{log}");
    assert!(
        !log.contains("FATAL"),
        "start-up polls are not turned away: {log}"
    );
    assert_ne!(server.port(), pg().port());
    server.stop();
    assert!(!server.dir.exists(), "the guard removes the directory");
}
}

pg_test! {
async fn rotui_holds_at_most_two_connections() {
    // A dedicated admin-like login, so other tests' pools don't count.
    let user = hostile("watcher");
    let password = generate_password();
    superuser(
        "postgres",
        &format!(
            "CREATE ROLE {} LOGIN PASSWORD {} IN ROLE pg_monitor",
            ident(&user),
            rotui::db::ident::pg_str(password.expose_secret())
        ),
    )
    .await;
    let db = PgDb::connect(pg().url(&user, &password, "postgres").expose_secret())
        .await
        .unwrap();
    let busy: Vec<_> = (0..20)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move { db.connections(i % 2 == 0).await.unwrap() })
        })
        .collect();
    for t in busy {
        t.await.unwrap();
    }
    let snap = db.connections(true).await.unwrap();
    let mine: Vec<_> = snap
        .rows
        .iter()
        .filter(|r| r.user.as_deref() == Some(user.as_str()))
        .collect();
    assert!(!mine.is_empty() && mine.len() <= 2, "{mine:?}");
    assert!(
        mine.iter()
            .all(|r| r.application.as_deref() == Some(APPLICATION_NAME))
    );
}
}

pg_test! {
async fn work_in_other_databases_uses_short_lived_connections() {
    let app = App::seed("short").await;
    let second = format!("{}_more", hostile("short"));
    app.seed_more(&second).await;
    // A second RDS-shaped admin of its own, so other tests' sessions don't count.
    let admin_user = hostile("admin");
    let password = generate_password();
    superuser(
        "postgres",
        &format!(
            "CREATE ROLE {} LOGIN CREATEROLE CREATEDB PASSWORD {} IN ROLE rds_superuser",
            ident(&admin_user),
            rotui::db::ident::pg_str(password.expose_secret())
        ),
    )
    .await;
    if per_grant() {
        // On 16+ only a role with ADMIN OPTION on the app user may act for it.
        superuser(
            "postgres",
            &format!(
                "GRANT {} TO {} WITH ADMIN OPTION",
                ident(&app.user),
                ident(&admin_user)
            ),
        )
        .await;
    }
    let db = PgDb::connect(pg().url(&admin_user, &password, "postgres").expose_secret())
        .await
        .unwrap();
    let plan = db
        .plan_convert_to_owner_roles(&app.database, &app.user, &app.owner_role())
        .await
        .unwrap();
    assert!(
        plan.iter()
            .any(|s| s.database.as_deref() == Some(second.as_str()))
    );
    db.execute(&plan).await.unwrap();
    db.objects(&second).await.unwrap();

    // Only the pool's own sessions remain, in the pool's database.
    let mut mine = Vec::new();
    for _ in 0..40 {
        mine = db
            .connections(true)
            .await
            .unwrap()
            .rows
            .iter()
            .filter(|r| r.user.as_deref() == Some(admin_user.as_str()))
            .cloned()
            .collect();
        if mine.iter().all(|r| r.database.as_deref() == Some("postgres")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!mine.is_empty() && mine.len() <= 2, "{mine:?}");
    assert!(
        mine.iter().all(|r| r.database.as_deref() == Some("postgres")),
        "{mine:?}"
    );
}
}

// ---------------------------------------------------------------- errors

pg_test! {
async fn a_wrong_password_is_bad_password_and_never_shown() {
    let wrong = rotui::secret::secret("Wr0ngPassw0rdWr0ngPassw0rd");
    let url = pg().url("aws_db_admin", &wrong, "postgres");
    let err = PgDb::connect(url.expose_secret()).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::BadPassword, "{err}");
    assert_eq!(err.code.as_deref(), Some("28P01"));
    assert_no_secret(&err, wrong.expose_secret());
    assert!(err.to_string().contains("password"), "{err}");

    // The same with the password passed apart from the URL.
    let bare = format!("postgresql://aws_db_admin@127.0.0.1:{}/postgres", pg().port());
    let err = PgDb::connect_with(&bare, &wrong).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::BadPassword);
    assert_no_secret(&err, wrong.expose_secret());

    // A test login reports the same.
    let err = PgDb::test_login("127.0.0.1", pg().port(), "aws_db_admin", &wrong, "postgres")
        .await
        .unwrap_err();
    assert_eq!(err.kind, DbErrorKind::BadPassword);
}
}

// PostgreSQL counts refused logins in no view the RDS-shaped admin can
// query (it logs them, and the admin may list the log files but not read
// them): the count is "not observable", with why, never 0.
pg_test! {
async fn failed_logins_are_not_observable_and_say_why() {
    let wrong = rotui::secret::secret("Wr0ngLoginsPassw0rd");
    let err = PgDb::test_login("127.0.0.1", pg().port(), "aws_db_admin", &wrong, "postgres")
        .await
        .unwrap_err();
    assert_eq!(err.kind, DbErrorKind::BadPassword);
    let logins = admin("postgres")
        .await
        .failed_logins(&["aws_db_admin".to_owned()])
        .await
        .unwrap();
    let rotui::model::FailedLogins::NotObservable(why) = &logins else {
        panic!("PostgreSQL cannot count failed logins for its admin: {logins:?}");
    };
    assert!(
        why.contains("pg_stat_database") && why.contains("pg_ls_logdir") && why.contains("aws_db_admin"),
        "{why}"
    );
    assert!(logins.summary().starts_with("not observable: "), "{}", logins.summary());
}
}

pg_test! {
async fn a_nologin_role_is_told_apart_from_a_wrong_password() {
    let user = hostile("nologin");
    let password = generate_password();
    superuser(
        "postgres",
        &format!(
            "CREATE ROLE {} NOLOGIN PASSWORD {}",
            ident(&user),
            rotui::db::ident::pg_str(password.expose_secret())
        ),
    )
    .await;
    let err = PgDb::test_login("127.0.0.1", pg().port(), &user, &password, "postgres")
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("28000"), "{err}");
    assert!(err.to_string().contains("not permitted to log in"), "{err}");
    assert!(err.hint.as_deref().unwrap().contains("NOLOGIN"), "{err:?}");
    assert_no_secret(&err, password.expose_secret());
}
}

pg_test! {
async fn an_unreachable_server_is_unreachable() {
    // Port 1 (tcpmux): nothing listens there, and no parallel test can take it.
    let url = "postgresql://aws_db_admin:S3cretS3cretS3cret@127.0.0.1:1/postgres";
    let err = PgDb::connect(url).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Unreachable, "{err}");
    assert!(err.hint.is_some());
    assert_no_secret(&err, "S3cretS3cretS3cret");

    // A server that accepts TCP but never answers: the connect timeout, not a hang.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let config = PgConfig {
        connect_timeout: Duration::from_millis(500),
        ..PgConfig::default()
    };
    let started = std::time::Instant::now();
    let err = PgDb::open(
        &format!("postgresql://u:S3cretS3cretS3cret@127.0.0.1:{port}/x"),
        None,
        config,
    )
    .await
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(err.kind, DbErrorKind::Unreachable, "{err:?}");
    assert_no_secret(&err, "S3cretS3cretS3cret");
}
}

pg_test! {
async fn a_slow_statement_is_cancelled_as_a_timeout() {
    let config = PgConfig {
        statement_timeout: Duration::from_millis(300),
        ..PgConfig::default()
    };
    let db = PgDb::open(pg().admin_url("postgres").expose_secret(), None, config)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let err = db
        .execute(&[Statement::new("SELECT pg_sleep(5)")])
        .await
        .unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Timeout, "{err}");
    assert_eq!(err.code.as_deref(), Some("57014"));
    assert!(started.elapsed() < Duration::from_secs(3));
    // The pool is still usable afterwards.
    assert!(db.role_exists("aws_db_admin").await.unwrap());
}
}

pg_test! {
async fn a_missing_database_is_named() {
    let err = PgDb::connect(pg().admin_url(&hostile("nodb")).expose_secret())
        .await
        .unwrap_err();
    assert_eq!(err.kind, DbErrorKind::NotFound, "{err}");
    assert_eq!(err.code.as_deref(), Some("3D000"));
}
}

pg_test! {
async fn a_bad_url_is_a_clear_error_without_the_url() {
    let err = PgDb::connect("postgresql://u:Sup3rS3cretValue@[bad/x")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("URL"), "{err}");
    assert_no_secret(&err, "Sup3rS3cretValue");
}
}

fn assert_no_secret(err: &DbError, secret: &str) {
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(secret), "secret leaked: {text}");
    }
}

// ---------------------------------------------------------------- read side

pg_test! {
async fn the_read_side_shows_an_app_database_owned_by_its_login_user() {
    let app = App::seed("account-api").await;
    let db = admin("postgres").await;

    superuser(
        "postgres",
        &format!(
            "ALTER ROLE {u} SET statement_timeout = '30s'; ALTER ROLE {u} IN DATABASE {d} SET work_mem = '8MB';
             ALTER ROLE {u} CONNECTION LIMIT 40",
            u = ident(&app.user),
            d = ident(&app.database)
        ),
    )
    .await;
    let users = db.users().await.unwrap();
    let u = users
        .iter()
        .find(|u| u.name == app.user)
        .expect("the app user is listed");
    assert!(u.can_login && !u.superuser && !u.is_role, "{u:?}");
    assert_eq!(u.attributes, ["40 connections"]);
    assert_eq!(
        u.settings,
        [
            "statement_timeout=30s".to_owned(),
            format!("work_mem=8MB (in {})", app.database)
        ]
    );

    let objects = db.objects(&app.database).await.unwrap();
    let kinds: Vec<&str> = objects.iter().map(|o| o.kind.as_str()).collect();
    for kind in [
        "database",
        "schema",
        "table",
        "sequence",
        "view",
        "materialized view",
        "function",
        "type",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    assert_eq!(objects[0].kind, "database");
    assert_eq!(objects[0].name, app.database);
    let mine: Vec<_> = objects.iter().filter(|o| o.kind != "schema").collect();
    assert!(mine.iter().all(|o| o.owner == app.user), "{mine:?}");
    assert!(
        objects
            .iter()
            .any(|o| o.kind == "schema" && o.name == "audit-log" && o.owner == app.user)
    );
    assert!(
        objects
            .iter()
            .any(|o| o.kind == "function" && o.name == "user_count()")
    );
    assert!(
        objects
            .iter()
            .any(|o| o.kind == "table" && o.schema.as_deref() == Some("audit-log"))
    );

    let owned = db.owned_in(&app.user).await.unwrap();
    assert_eq!(owned.len(), 1, "{owned:?}");
    assert_eq!(owned[0].database, app.database);
    assert!(owned[0].objects >= 10, "{owned:?}");

    assert!(db.role_exists(&app.user).await.unwrap());
    assert!(!db.role_exists(&hostile("ghost")).await.unwrap());
}
}

pg_test! {
async fn grants_show_memberships_and_object_privileges() {
    let app = App::seed("grants").await;
    let reader = hostile("reader");
    let group = hostile("group");
    superuser(
        &app.database,
        &format!(
            "CREATE ROLE {r} NOLOGIN; CREATE ROLE {g} NOLOGIN; GRANT {g} TO {r} WITH ADMIN OPTION;
             CREATE TABLE ref_data (id int); GRANT SELECT, INSERT ON ref_data TO {r};
             GRANT USAGE ON SCHEMA public TO {r}; GRANT SELECT ON ref_data TO {r} WITH GRANT OPTION;
             CREATE FUNCTION \"we\"\"ird'-fn\"(a int, b text) RETURNS int LANGUAGE sql AS 'SELECT a';
             GRANT EXECUTE ON FUNCTION \"we\"\"ird'-fn\"(int, text) TO {r};
             CREATE SEQUENCE \"seq %ü\"; GRANT USAGE ON SEQUENCE \"seq %ü\" TO {r};
             GRANT CONNECT, TEMPORARY ON DATABASE {d} TO {r};",
            r = ident(&reader),
            g = ident(&group),
            d = ident(&app.database)
        ),
    )
    .await;
    let db = admin(&app.database).await;
    let grants = db.grants(&reader).await.unwrap();
    let membership = grants
        .iter()
        .find(|g| g.kind == rotui::model::GrantKind::Membership)
        .unwrap();
    assert_eq!(membership.privileges, vec![group.clone()]);
    assert!(membership.with_grant_option);
    assert_eq!(
        membership.raw,
        format!("GRANT {} TO {} WITH ADMIN OPTION", ident(&group), ident(&reader))
    );
    let on_table: Vec<_> = grants
        .iter()
        .filter(|g| g.on == r#"TABLE "public"."ref_data""#)
        .collect();
    assert_eq!(on_table.len(), 2, "{grants:#?}");
    assert!(
        on_table
            .iter()
            .any(|g| g.privileges == ["INSERT"] && !g.with_grant_option)
    );
    assert!(
        on_table
            .iter()
            .any(|g| g.privileges == ["SELECT"] && g.with_grant_option)
    );
    assert!(
        grants
            .iter()
            .any(|g| g.on == r#"SCHEMA "public""# && g.privileges == ["USAGE"])
    );
    let has = |on: &str, privileges: &[&str]| grants.iter().any(|g| g.on == on && g.privileges == privileges);
    assert!(
        has(
            r#"FUNCTION "public"."we""ird'-fn"(a integer, b text)"#,
            &["EXECUTE"]
        ),
        "{grants:#?}"
    );
    assert!(has(r#"SEQUENCE "public"."seq %ü""#, &["USAGE"]), "{grants:#?}");
    assert!(
        has(
            &format!("DATABASE {}", ident(&app.database)),
            &["CONNECT", "TEMPORARY"]
        ),
        "{grants:#?}"
    );

    // The raw text is valid SQL: replaying it onto a fresh role works.
    let twin = hostile("twin");
    superuser(&app.database, &format!("CREATE ROLE {} NOLOGIN", ident(&twin))).await;
    let replay: Vec<Statement> = grants
        .iter()
        .map(|g| Statement::new(g.raw.replace(&ident(&reader), &ident(&twin))))
        .collect();
    let su = PgDb::connect(pg().superuser_url(&app.database).expose_secret())
        .await
        .unwrap();
    su.execute(&replay).await.unwrap();
    let twin_grants: Vec<_> = db
        .grants(&twin)
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.on, g.privileges))
        .collect();
    let reader_grants: Vec<_> = grants.into_iter().map(|g| (g.on, g.privileges)).collect();
    assert_eq!(twin_grants, reader_grants);
}
}

pg_test! {
async fn connections_are_one_query_and_show_the_apps_sessions() {
    let app = App::seed("conns").await;
    let db = admin("postgres").await;
    // An idle session's time is to the minute.
    let opened = chrono::Utc::now() - chrono::Duration::seconds(61);
    let mut sessions = Vec::new();
    for _ in 0..3 {
        sessions.push(app.conn(&app.database).await);
    }
    let snap = db.connections(true).await.unwrap();
    let rows: Vec<_> = snap
        .rows
        .iter()
        .filter(|r| r.user.as_deref() == Some(app.user.as_str()))
        .collect();
    assert_eq!(rows.len(), 3, "{:?}", snap.rows);
    for r in &rows {
        assert_eq!(r.database.as_deref(), Some(app.database.as_str()));
        assert_eq!(r.application.as_deref(), Some("the-app"));
        assert!(r.client.as_deref().unwrap().starts_with("127.0.0.1:"), "{r:?}");
        assert_eq!(r.state.as_deref(), Some("idle"));
        // When each went idle, a time rather than an age: it does not
        // change from one refresh to the next while the session is quiet.
        let since = r.since.unwrap();
        assert!(since >= opened && since <= chrono::Utc::now(), "{r:?}");
    }
    let again = db.connections(true).await.unwrap();
    let apps = |s: &rotui::model::ConnectionSnapshot| -> Vec<rotui::model::Connection> {
        s.rows
            .iter()
            .filter(|r| r.user.as_deref() == Some(app.user.as_str()))
            .cloned()
            .collect()
    };
    assert_eq!(apps(&again), apps(&snap), "a quiet session's row is the same a second time");
    let count = |s: &rotui::model::ConnectionSnapshot| {
        s.counts
            .iter()
            .find(|c| c.user.as_deref() == Some(app.user.as_str()))
            .map(|c| c.count)
    };
    assert_eq!(count(&snap), Some(3));
    let counts_only = db.connections(false).await.unwrap();
    assert!(counts_only.rows.is_empty());
    assert_eq!(count(&counts_only), Some(3));

    // Kill one; then all the rest.
    assert!(db.kill(rows[0].id).await.unwrap());
    assert!(!db.kill(rows[0].id).await.unwrap(), "already gone");
    let mut killed = db.kill_user(&app.user).await.unwrap();
    killed.sort();
    let mut expected: Vec<i64> = rows[1..].iter().map(|r| r.id).collect();
    expected.sort();
    assert_eq!(killed, expected);
    assert_eq!(count(&db.connections(false).await.unwrap()), None);
    for mut s in sessions {
        assert!(s.execute("SELECT 1").await.is_err(), "the session was ended");
    }
    let plan = db.plan_kill_user(&app.user);
    assert!(plan.preview().contains("pg_terminate_backend"));
    assert!(plan.preview().contains(&rotui::db::ident::pg_str(&app.user)));
    assert_eq!(
        db.plan_kill(42).preview(),
        "SELECT COALESCE(pg_terminate_backend(42, 5000), false)"
    );
}
}

pg_test! {
async fn a_dropped_roles_sessions_show_without_a_user() {
    let user = hostile("dropped");
    let password = generate_password();
    admin_roles(&[&user]).await;
    superuser(
        "postgres",
        &format!(
            "ALTER ROLE {} LOGIN PASSWORD {}",
            ident(&user),
            rotui::db::ident::pg_str(password.expose_secret())
        ),
    )
    .await;
    let mut session = login(&user, &password, "postgres").await;
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut session)
        .await
        .unwrap();
    let db = admin("postgres").await;
    db.execute(&[Statement::new(format!("DROP ROLE {}", ident(&user)))])
        .await
        .unwrap();
    let snap = db.connections(true).await.unwrap();
    let row = snap
        .rows
        .iter()
        .find(|r| r.id == i64::from(pid))
        .expect("still connected");
    assert_eq!(row.user, None);
    assert!(snap.counts.iter().any(|c| c.user.is_none() && c.count >= 1));
    // rds_superuser holds pg_signal_backend, so the admin can still end it.
    assert!(db.kill(i64::from(pid)).await.unwrap());
}
}

pg_test! {
async fn an_ordinary_user_lacks_privileges_and_is_told_so() {
    let app = App::seed("noprivs").await;
    let url = pg().url(&app.user, &app.password, &app.database);
    let db = PgDb::connect(url.expose_secret()).await.unwrap();
    assert!(!db.flavor().version.is_empty());
    let err = db
        .execute(&[Statement::new(format!("CREATE ROLE {}", ident(&hostile("x"))))])
        .await
        .unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Privilege, "{err}");
    assert!(err.to_string().contains("permission denied"), "{err}");
    assert!(
        err.to_string().contains("CREATE ROLE"),
        "names the statement: {err}"
    );

    // Ending the admin's session needs pg_signal_backend or membership.
    let admin_db = admin("postgres").await;
    let admin_pid = admin_db
        .connections(true)
        .await
        .unwrap()
        .rows
        .iter()
        .find(|r| r.user.as_deref() == Some("aws_db_admin"))
        .unwrap()
        .id;
    let err = db.kill(admin_pid).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Privilege, "{err}");
}
}

// ---------------------------------------------------------------- hostile names

pg_test! {
async fn hostile_identifiers_work_and_never_inject() {
    // Names that would end the statement or the literal if pasted raw.
    let evil_user = format!("x{}\"; DROP ROLE aws_db_admin; --", tag());
    let evil_db = format!("d{}'); DROP DATABASE postgres; --", tag());
    let password = generate_password();
    pg().seed_app(&evil_user, &password, &evil_db).await.unwrap();
    let db = admin(&evil_db).await;
    assert_eq!(db.database(), evil_db);
    let owner_role = format!("{evil_user}-owner");
    let plan = db
        .plan_convert_to_owner_roles(&evil_db, &evil_user, &owner_role)
        .await
        .unwrap();
    db.execute(&plan).await.unwrap();
    let new_user = format!("n{}' OR '1'='1 `%`", tag());
    let plan = db
        .plan_create_login(&new_user, &password, &owner_role)
        .await
        .unwrap();
    db.execute(&plan).await.unwrap();
    assert!(db.role_exists(&new_user).await.unwrap());
    assert!(
        db.role_exists("aws_db_admin").await.unwrap(),
        "nothing was injected"
    );
    let check = PgDb::test_login("127.0.0.1", pg().port(), &new_user, &password, &evil_db)
        .await
        .unwrap();
    assert_eq!(check.current_user, owner_role);
    // A name built to widen the kill's WHERE clause ends nobody's session.
    let mut bystander = login(&new_user, &password, &evil_db).await;
    assert!(db.kill_user("x' OR '1'='1").await.unwrap().is_empty());
    assert!(db.kill_user(&evil_user).await.unwrap().is_empty());
    bystander
        .execute("SELECT 1")
        .await
        .expect("the bystander lives on");
    db.retire(&evil_user, &owner_role, false).await.unwrap();
    assert!(!db.role_exists(&evil_user).await.unwrap());
    assert!(
        admin("postgres").await.objects("postgres").await.is_ok(),
        "postgres survived"
    );
}
}

// ---------------------------------------------------------------- owner roles

pg_test! {
async fn converting_to_owner_roles_end_to_end() {
    let app = App::seed("account-api").await;
    let second = format!("{}_reports", hostile("account-api"));
    app.seed_more(&second).await;
    let owner_role = app.owner_role();
    let reader = hostile("reader");
    let etl = hostile("etl");
    // What a real estate has around the app: default privileges the app
    // set (including a revoke from PUBLIC), and a table another role owns
    // that the app may only read.
    admin_roles(&[&reader, &etl]).await;
    superuser(
        &app.database,
        &format!(
            "CREATE TABLE shared_ref (code text); INSERT INTO shared_ref VALUES ('gb');
             ALTER TABLE shared_ref OWNER TO {e}; GRANT SELECT ON shared_ref TO {a};",
            e = ident(&etl),
            a = ident(&app.user)
        ),
    )
    .await;
    let mut c = app.conn(&app.database).await;
    c.execute(AssertSqlSafe(format!(
        "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO {r};
         ALTER DEFAULT PRIVILEGES IN SCHEMA \"audit-log\" GRANT USAGE ON SEQUENCES TO {r};
         ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;",
        r = ident(&reader)
    )))
    .await
    .unwrap();
    // The second database has its own privileges and defaults to carry over.
    superuser(
        &second,
        &format!(
            "CREATE TABLE ext_ref (code text); INSERT INTO ext_ref VALUES ('fr');
             ALTER TABLE ext_ref OWNER TO {e}; GRANT SELECT ON ext_ref TO {a};",
            e = ident(&etl),
            a = ident(&app.user)
        ),
    )
    .await;
    app.conn(&second)
        .await
        .execute(AssertSqlSafe(format!(
            "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO {}",
            ident(&reader)
        )))
        .await
        .unwrap();

    let db = admin(&app.database).await;
    let status = db
        .owner_role_status(&app.database, &app.user, &owner_role)
        .await
        .unwrap();
    assert!(!status.on_owner_roles());
    assert!(!status.owner_role_exists);
    assert_eq!(status.database_owner, app.user);
    assert!(status.owned_by_app_user.len() >= 10);
    assert_eq!(status.app_user_owns_in.len(), 2);

    let plan = db
        .plan_convert_to_owner_roles(&app.database, &app.user, &owner_role)
        .await
        .unwrap();
    let text = previews(&plan);
    let (o, a, me) = (ident(&owner_role), ident(&app.user), ident("aws_db_admin"));
    for expected in [
        format!("CREATE ROLE {o} NOLOGIN"),
        grant_inheriting(&o, &a),
        format!("GRANT {o} TO {me}"),
        format!("GRANT {a} TO {me}"),
        format!("GRANT {} TO {me}", ident(&etl)),
        format!("ALTER DATABASE {} OWNER TO {o}", ident(&app.database)),
        format!(
            "-- in database {}\nGRANT SELECT ON TABLE \"public\".\"shared_ref\" TO {o}",
            app.database
        ),
        format!(
            "-- in database {}\nALTER SCHEMA \"audit-log\" OWNER TO {o}",
            app.database
        ),
        format!("-- in database {}\nREASSIGN OWNED BY {a} TO {o}", app.database),
        format!("-- in database {second}\nREASSIGN OWNED BY {a} TO {o}"),
        format!("-- in database {second}\nGRANT SELECT ON TABLE \"public\".\"ext_ref\" TO {o}"),
        format!(
            "-- in database {second}\nALTER DEFAULT PRIVILEGES FOR ROLE {o} GRANT SELECT ON TABLES TO {}",
            ident(&reader)
        ),
        format!(
            "-- in database {}\nALTER DEFAULT PRIVILEGES FOR ROLE {o} GRANT SELECT ON TABLES TO {}",
            app.database,
            ident(&reader)
        ),
        format!(
            "-- in database {}\nALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA \"audit-log\" GRANT USAGE ON SEQUENCES TO {}",
            app.database,
            ident(&reader)
        ),
        format!(
            "-- in database {}\nALTER DEFAULT PRIVILEGES FOR ROLE {o} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC",
            app.database
        ),
    ] {
        assert!(text.contains(&expected), "missing {expected}\nin {text:#?}");
    }
    // The app's own database is reassigned before the other one.
    let first_reassign = text.iter().position(|t| t.contains("REASSIGN")).unwrap();
    assert!(text[first_reassign].contains(&app.database));

    db.execute(&plan).await.unwrap();

    let status = db
        .owner_role_status(&app.database, &app.user, &owner_role)
        .await
        .unwrap();
    assert!(status.on_owner_roles(), "{status:#?}");
    for database in [&app.database, &second] {
        let objects = db.objects(database).await.unwrap();
        let not_converted: Vec<_> = objects.iter().filter(|o| o.owner == app.user).collect();
        assert!(not_converted.is_empty(), "{database}: {not_converted:#?}");
        assert_eq!(owners(&objects, "database"), [owner_role.as_str()]);
    }
    let defaults = db.default_privileges(&app.database).await.unwrap();
    assert!(
        defaults
            .iter()
            .any(|d| d.owner == owner_role && d.object_type == "function")
    );
    let again = db
        .plan_convert_to_owner_roles(&app.database, &app.user, &owner_role)
        .await
        .unwrap();
    assert!(again.is_empty(), "a second run plans nothing: {again:#?}");
    assert!(db.owned_in(&app.user).await.unwrap().is_empty());

    // The old app user keeps working, through the owner role.
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 2);

    // Now the new login user.
    let new_user = format!("{}-user-20260121", app.user);
    let password = generate_password();
    let plan = db
        .plan_create_login(&new_user, &password, &owner_role)
        .await
        .unwrap();
    assert_eq!(
        previews(&plan),
        [
            format!("CREATE USER {} WITH PASSWORD '{MASK}'", ident(&new_user)),
            grant_inheriting(&o, &ident(&new_user)),
            format!(
                "ALTER ROLE {} SET role = {}",
                ident(&new_user),
                rotui::db::ident::pg_str(&owner_role)
            ),
        ]
    );
    assert!(!format!("{plan:?}").contains(password.expose_secret()));
    let before = db.verify_inheritance(&new_user, &owner_role).await.unwrap();
    assert!(!before.is_complete() && !before.inherits && before.member_of.is_empty());
    db.execute(&plan).await.unwrap();
    assert!(
        db.plan_create_login(&new_user, &password, &owner_role)
            .await
            .unwrap()
            .is_empty(),
        "an existing, complete user is detected and left alone"
    );
    let users = db.users().await.unwrap();
    let listed = users.iter().find(|u| u.name == new_user).unwrap();
    assert_eq!(listed.settings, [format!("role={owner_role}")]);
    assert_eq!(listed.member_of, vec![owner_role.clone()]);
    let owner_listed = users.iter().find(|u| u.name == owner_role).unwrap();
    assert!(!owner_listed.can_login && owner_listed.attributes == ["Cannot login"]);
    let inh = db.verify_inheritance(&new_user, &owner_role).await.unwrap();
    assert!(inh.is_complete(), "{inh:?}");
    assert_eq!(inh.member_of, vec![owner_role.clone()]);

    let check = PgDb::test_login("127.0.0.1", pg().port(), &new_user, &password, &app.database)
        .await
        .unwrap();
    assert_eq!(check.session_user, new_user);
    assert_eq!(check.current_user, owner_role);

    // The new user reads and writes the app's tables, reads what the old
    // one could read, and what it creates belongs to the owner role.
    let mut n = login(&new_user, &password, &app.database).await;
    n.execute("INSERT INTO users (email) VALUES ('c@example.org')")
        .await
        .unwrap();
    n.execute("UPDATE users SET state = 'suspended' WHERE email = 'a@example.org'")
        .await
        .unwrap();
    n.execute("INSERT INTO \"audit-log\".events (note) VALUES ('rotated')")
        .await
        .unwrap();
    n.execute("REFRESH MATERIALIZED VIEW user_counts").await.unwrap();
    let code: String = sqlx::query_scalar("SELECT code FROM shared_ref")
        .fetch_one(&mut n)
        .await
        .unwrap();
    assert_eq!(code, "gb");
    let count: i64 = sqlx::query_scalar("SELECT user_count()")
        .fetch_one(&mut n)
        .await
        .unwrap();
    assert_eq!(count, 3);
    n.execute("CREATE TABLE made_after (id int)").await.unwrap();
    n.execute("ALTER TABLE users ADD COLUMN note text").await.unwrap();
    let objects = db.objects(&app.database).await.unwrap();
    let made = objects.iter().find(|o| o.name == "made_after").unwrap();
    assert_eq!(made.owner, owner_role);
    // … with the default privileges carried over from the app user.
    let readable: bool = sqlx::query_scalar("SELECT has_table_privilege($1, 'made_after', 'SELECT')")
        .bind(&reader)
        .fetch_one(&mut n)
        .await
        .unwrap();
    assert!(readable);
    let mut second_conn = login(&new_user, &password, &second).await;
    second_conn
        .execute("INSERT INTO users (email) VALUES ('d@example.org')")
        .await
        .unwrap();
    let code: String = sqlx::query_scalar("SELECT code FROM ext_ref")
        .fetch_one(&mut second_conn)
        .await
        .unwrap();
    assert_eq!(code, "fr");
    second_conn
        .execute("CREATE TABLE made_there (id int)")
        .await
        .unwrap();
    let readable: bool = sqlx::query_scalar("SELECT has_table_privilege($1, 'made_there', 'SELECT')")
        .bind(&reader)
        .fetch_one(&mut second_conn)
        .await
        .unwrap();
    assert!(
        readable,
        "default privileges were carried over in the second database too"
    );
}
}

pg_test! {
async fn a_noinherit_app_user_keeps_working_after_conversion() {
    let app = App::seed("noinherit").await;
    superuser("postgres", &format!("ALTER ROLE {} NOINHERIT", ident(&app.user))).await;
    let db = admin(&app.database).await;
    let plan = db
        .plan_convert_to_owner_roles(&app.database, &app.user, &app.owner_role())
        .await
        .unwrap();
    if per_grant() {
        // 16+: the grant itself inherits, whatever the role's default.
        assert!(
            previews(&plan).contains(&grant_inheriting(&ident(&app.owner_role()), &ident(&app.user))),
            "{:#?}",
            previews(&plan)
        );
    } else {
        assert!(previews(&plan).contains(&format!("ALTER ROLE {} INHERIT", ident(&app.user))));
    }
    db.execute(&plan).await.unwrap();
    // A fresh session of the old app still reads and writes its tables.
    let mut c = app.conn(&app.database).await;
    c.execute("INSERT INTO users (email) VALUES ('e@example.org')")
        .await
        .unwrap();
    assert!(
        db.plan_convert_to_owner_roles(&app.database, &app.user, &app.owner_role())
            .await
            .unwrap()
            .is_empty()
    );
}
}

pg_test! {
async fn plans_refuse_what_they_cannot_do_safely() {
    let app = App::seed("refuse").await;
    let db = admin(&app.database).await;
    // An owner role that can log in is not an owner role.
    let login_role = hostile("login");
    superuser("postgres", &format!("CREATE ROLE {} LOGIN", ident(&login_role))).await;
    let err = db
        .plan_convert_to_owner_roles(&app.database, &app.user, &login_role)
        .await
        .unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Refused, "{err}");
    assert!(err.to_string().contains("NOLOGIN"));
    // Missing app user, missing database, missing owner role.
    let err = db
        .plan_convert_to_owner_roles(&app.database, &hostile("ghost"), &app.owner_role())
        .await
        .unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Refused);
    let err = db
        .plan_convert_to_owner_roles(&hostile("nodb"), &app.user, &app.owner_role())
        .await
        .unwrap_err();
    assert_eq!(err.kind, DbErrorKind::NotFound, "{err}");
    let err = db
        .plan_create_login(&hostile("new"), &generate_password(), &app.owner_role())
        .await
        .unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Refused);
    assert!(err.to_string().contains("convert"), "{err}");
    let err = db
        .plan_retire("aws_db_admin", &app.owner_role())
        .await
        .unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Refused);
    let err = db
        .plan_convert_to_owner_roles(&app.database, "aws_db_admin", &app.owner_role())
        .await
        .unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Refused);
    assert!(err.to_string().contains("admin"), "{err}");

    // A privilege on a superuser's object can be neither copied to the
    // owner role nor revoked by the admin: said up front, not lost quietly.
    superuser(
        &app.database,
        &format!(
            "CREATE TABLE su_owned (id int); GRANT SELECT ON su_owned TO {}; CREATE ROLE {} NOLOGIN",
            ident(&app.user),
            ident(&app.owner_role())
        ),
    )
    .await;
    let err = db
        .plan_convert_to_owner_roles(&app.database, &app.user, &app.owner_role())
        .await
        .unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Refused, "{err}");
    assert!(err.to_string().contains("superuser \"postgres\""), "{err}");
    let err = db.plan_retire(&app.user, &app.owner_role()).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Refused, "{err}");
    assert!(err.to_string().contains("cannot revoke"), "{err}");
}
}

pg_test! {
async fn creating_an_existing_user_is_detected_not_an_error() {
    let app = App::seed("exists").await;
    let db = admin(&app.database).await;
    let owner_role = app.owner_role();
    db.execute(
        &db.plan_convert_to_owner_roles(&app.database, &app.user, &owner_role)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let new_user = hostile("new");
    let password = generate_password();
    // Someone created the user by hand, half way.
    admin_roles(&[&new_user]).await;
    superuser(
        "postgres",
        &format!("ALTER ROLE {} NOINHERIT", ident(&new_user)),
    )
    .await;
    let plan = db
        .plan_create_login(&new_user, &password, &owner_role)
        .await
        .unwrap();
    let text = previews(&plan);
    assert!(!text.iter().any(|t| t.starts_with("CREATE")), "{text:?}");
    assert_eq!(text[0], format!("ALTER ROLE {} LOGIN", ident(&new_user)));
    let expected = if per_grant() {
        grant_inheriting(&ident(&owner_role), &ident(&new_user))
    } else {
        format!("ALTER ROLE {} INHERIT", ident(&new_user))
    };
    assert_eq!(text[1], expected, "{text:?}");
    db.execute(&plan).await.unwrap();
    assert!(
        db.verify_inheritance(&new_user, &owner_role)
            .await
            .unwrap()
            .is_complete()
    );
    assert!(
        db.plan_create_login(&new_user, &password, &owner_role)
            .await
            .unwrap()
            .is_empty()
    );
    // Its password is unknown to rotui: logging in fails until it is set.
    let err = PgDb::test_login("127.0.0.1", pg().port(), &new_user, &password, &app.database)
        .await
        .unwrap_err();
    assert_eq!(err.kind, DbErrorKind::BadPassword);
    db.execute(&[db.plan_set_password(&new_user, &password)])
        .await
        .unwrap();
    PgDb::test_login("127.0.0.1", pg().port(), &new_user, &password, &app.database)
        .await
        .unwrap();

    // Running the raw CREATE again fails as AlreadyExists, without the password.
    let again = rotui::db::Statement::with_password(
        format!(
            "CREATE USER {} WITH PASSWORD {}",
            ident(&new_user),
            Statement::PASSWORD
        ),
        password.clone(),
        rotui::db::ident::pg_str,
    );
    let err = db.execute(&[again]).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::AlreadyExists, "{err}");
    assert_no_secret(&err, password.expose_secret());
    assert!(
        err.to_string().contains(MASK),
        "the failing statement is shown masked: {err}"
    );
}
}

// ---------------------------------------------------------------- retire

pg_test! {
async fn retiring_the_old_user_waits_for_its_connections() {
    let app = App::seed("retire").await;
    let second = format!("{}_more", hostile("retire"));
    app.seed_more(&second).await;
    let owner_role = app.owner_role();
    let db = admin("postgres").await;
    db.execute(
        &db.plan_convert_to_owner_roles(&app.database, &app.user, &owner_role)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    // Between conversion and retirement the old app made a table, and was
    // granted a privilege on something it does not own.
    let mut old = app.conn(&second).await;
    old.execute("SET ROLE NONE; CREATE TABLE late (id int)")
        .await
        .unwrap();
    let etl = hostile("etl");
    admin_roles(&[&etl]).await;
    superuser(
        &app.database,
        &format!(
            "CREATE TABLE other (id int); ALTER TABLE other OWNER TO {e};
             GRANT SELECT ON other TO {a}",
            e = ident(&etl),
            a = ident(&app.user)
        ),
    )
    .await;
    assert_eq!(db.owned_in(&app.user).await.unwrap().len(), 1);

    // The privilege is not the owner role's: DROP OWNED would lose it.
    let err = db.plan_retire(&app.user, &owner_role).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Refused, "{err}");
    assert!(err.to_string().contains("DROP OWNED would remove"), "{err}");
    assert!(err.to_string().contains("\"public\".\"other\""), "{err}");
    // (What the conversion, run again, would copy.)
    superuser(
        &app.database,
        &format!("GRANT SELECT ON other TO {}", ident(&owner_role)),
    )
    .await;

    let err = db.retire(&app.user, &owner_role, false).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Refused, "{err}");
    assert!(err.to_string().contains("1 connection"), "{err}");
    assert!(db.role_exists(&app.user).await.unwrap(), "nothing was done");

    let plan = db.plan_retire(&app.user, &owner_role).await.unwrap();
    let text = previews(&plan);
    let (a, o) = (ident(&app.user), ident(&owner_role));
    assert_eq!(text[0], format!("ALTER ROLE {a} NOLOGIN"));
    assert!(
        text.contains(&format!("GRANT {} TO \"aws_db_admin\"", ident(&etl))),
        "{text:#?}"
    );
    for database in [&app.database, &second] {
        assert!(
            text.contains(&format!(
                "-- in database {database}\nREASSIGN OWNED BY {a} TO {o}"
            )),
            "{text:#?}"
        );
        assert!(
            text.contains(&format!("-- in database {database}\nDROP OWNED BY {a}")),
            "{text:#?}"
        );
    }
    assert_eq!(text.last().unwrap(), &format!("DROP USER {a}"));

    // Kill, then retire.
    assert_eq!(db.kill_user(&app.user).await.unwrap().len(), 1);
    let done = db.retire(&app.user, &owner_role, false).await.unwrap();
    assert!(done.killed.is_empty());
    assert_eq!(previews(&done.statements), text);
    assert!(!db.role_exists(&app.user).await.unwrap());
    let late = db.objects(&second).await.unwrap();
    assert_eq!(late.iter().find(|o| o.name == "late").unwrap().owner, owner_role);
    assert!(
        db.plan_retire(&app.user, &owner_role).await.unwrap().is_empty(),
        "idempotent"
    );
    let again = db.retire(&app.user, &owner_role, false).await.unwrap();
    assert!(again.statements.is_empty());
}
}

pg_test! {
async fn a_forced_retire_ends_the_sessions_first() {
    let app = App::seed("force").await;
    let owner_role = app.owner_role();
    let db = admin(&app.database).await;
    db.execute(
        &db.plan_convert_to_owner_roles(&app.database, &app.user, &owner_role)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let _s1 = app.conn(&app.database).await;
    let _s2 = app.conn(&app.database).await;
    // Nothing is left to hand over, so the plan is short.
    let plan = previews(&db.plan_retire(&app.user, &owner_role).await.unwrap());
    assert_eq!(
        plan,
        [
            format!("ALTER ROLE {} NOLOGIN", ident(&app.user)),
            format!("DROP USER {}", ident(&app.user))
        ]
    );
    let done = db.retire(&app.user, &owner_role, true).await.unwrap();
    assert_eq!(done.killed.len(), 2);
    assert!(!db.role_exists(&app.user).await.unwrap());
    let snap = db.connections(true).await.unwrap();
    assert!(
        snap.rows.iter().all(|r| !done.killed.contains(&r.id)),
        "no orphaned sessions"
    );
}
}

pg_test! {
async fn a_held_lock_is_a_clear_lock_timeout() {
    let app = App::seed("locked").await;
    let owner_role = app.owner_role();
    let config = PgConfig {
        lock_timeout: Duration::from_millis(300),
        ..PgConfig::default()
    };
    let db = PgDb::open(pg().admin_url(&app.database).expose_secret(), None, config)
        .await
        .unwrap();
    let plan = db
        .plan_convert_to_owner_roles(&app.database, &app.user, &owner_role)
        .await
        .unwrap();
    // The app sits in a transaction that has read a table.
    let mut busy = app.conn(&app.database).await;
    busy.execute("BEGIN; SELECT count(*) FROM users;").await.unwrap();
    let started = std::time::Instant::now();
    let err = db.execute(&plan).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::LockTimeout, "{err}");
    assert_eq!(err.code.as_deref(), Some("55P03"));
    assert!(err.to_string().contains("REASSIGN OWNED"), "{err}");
    assert!(err.hint.as_deref().unwrap().contains("retry"));
    assert!(started.elapsed() < Duration::from_secs(5));
    // Once the app is quiet, re-planning resumes where it stopped.
    busy.execute("COMMIT").await.unwrap();
    let rest = db
        .plan_convert_to_owner_roles(&app.database, &app.user, &owner_role)
        .await
        .unwrap();
    assert!(rest.len() < plan.len(), "{:#?}", previews(&rest));
    assert!(!previews(&rest).iter().any(|t| t.starts_with("CREATE ROLE")));
    db.execute(&rest).await.unwrap();
    assert!(
        db.owner_role_status(&app.database, &app.user, &owner_role)
            .await
            .unwrap()
            .on_owner_roles()
    );
}
}

pg_test! {
async fn debug_output_never_holds_a_password() {
    let url = pg().admin_url("postgres");
    let db = PgDb::connect(url.expose_secret()).await.unwrap();
    let debug = format!("{db:?}");
    assert!(!debug.contains(pg().admin_password().expose_secret()), "{debug}");
    assert!(debug.contains("aws_db_admin"));
    let p = generate_password();
    let st = db.plan_set_password("someone", &p);
    assert!(!format!("{st:?} {st}").contains(p.expose_secret()));
    assert!(
        st.sql().contains(p.expose_secret()),
        "only the executed SQL holds it"
    );
}
}

pg_test! {
async fn no_password_reaches_the_logs() {
    let app = App::seed("logs").await;
    let owner_role = app.owner_role();
    let (captured, _capturing) = crate::support::capture_logs().await;

    let db = admin(&app.database).await;
    db.execute(
        &db.plan_convert_to_owner_roles(&app.database, &app.user, &owner_role)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let new_user = hostile("new");
    let password = generate_password();
    db.execute(
        &db.plan_create_login(&new_user, &password, &owner_role)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    PgDb::test_login("127.0.0.1", pg().port(), &new_user, &password, &app.database)
        .await
        .unwrap();
    let _ = PgDb::connect(pg().url("aws_db_admin", &password, "postgres").expose_secret()).await;

    // A server notice proves the capture works.
    db.execute(&[Statement::new(format!(
        "DROP ROLE IF EXISTS {}",
        ident(&hostile("ghost"))
    ))])
    .await
    .unwrap();

    let logs = captured.text();
    assert!(logs.contains("skipping"), "the capture sees sqlx's logs: {logs}");
    assert!(
        logs.contains("CREATE USER"),
        "statements are logged, masked: {logs}"
    );
    assert!(!logs.contains(password.expose_secret()), "{logs}");
    assert!(!logs.contains(pg().admin_password().expose_secret()), "{logs}");
}
}

// ------------------------------------------------ privileges of every kind

/// Run SQL as the RDS-shaped admin (what it can grant, it grants itself).
async fn as_admin(database: &str, sql: &str) {
    let mut c = PgConnection::connect_with(&pg().admin_options(database))
        .await
        .expect("admin connects");
    c.execute(AssertSqlSafe(sql.to_owned())).await.expect(sql);
    c.close().await.unwrap();
}

/// One `SELECT <bool>` as the superuser (fixtures and checks only).
async fn check(database: &str, sql: &str) -> bool {
    let mut c = PgConnection::connect_with(&pg().superuser_options(database))
        .await
        .expect("superuser connects");
    let b: bool = sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
        .fetch_one(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    c.close().await.unwrap();
    b
}

pg_test! {
async fn every_privilege_kind_the_old_login_holds_carries_over_to_the_new_login() {
    let app = App::seed("kinds").await;
    let owner_role = app.owner_role();
    let etl = hostile("etl");
    let group = hostile("group");
    let nogroup = hostile("noinherit-group");
    admin_roles(&[&etl, &group, &nogroup]).await;
    let (a, e) = (ident(&app.user), ident(&etl));
    // A database of someone else's that the app may connect to and use.
    let other = format!("{}_other", hostile("kinds"));
    superuser("postgres", &format!("CREATE DATABASE {} OWNER {e}", ident(&other))).await;
    superuser(
        "postgres",
        &format!("GRANT CONNECT, CREATE, TEMPORARY ON DATABASE {} TO {a}", ident(&other)),
    )
    .await;
    // Objects another role owns, on which the app holds privileges of every kind.
    let wrapper = format!("w{}", tag());
    superuser(
        &app.database,
        &format!(
            "CREATE SCHEMA etl_s AUTHORIZATION {e};
             CREATE TABLE etl_s.people (id int, email text, secret text);
             INSERT INTO etl_s.people VALUES (1, 'a@example.org', 'x');
             CREATE TABLE etl_s.codes (c text);
             CREATE SEQUENCE etl_s.ids;
             CREATE FUNCTION etl_s.f() RETURNS int LANGUAGE sql AS 'SELECT 1';
             CREATE PROCEDURE etl_s.p() LANGUAGE sql AS 'SELECT 1';
             CREATE TYPE etl_s.mood AS ENUM ('ok');
             ALTER TABLE etl_s.people OWNER TO {e}; ALTER TABLE etl_s.codes OWNER TO {e};
             ALTER SEQUENCE etl_s.ids OWNER TO {e}; ALTER FUNCTION etl_s.f() OWNER TO {e};
             ALTER PROCEDURE etl_s.p() OWNER TO {e}; ALTER TYPE etl_s.mood OWNER TO {e};
             REVOKE EXECUTE ON FUNCTION etl_s.f() FROM PUBLIC;
             REVOKE EXECUTE ON PROCEDURE etl_s.p() FROM PUBLIC;
             REVOKE USAGE ON TYPE etl_s.mood FROM PUBLIC;
             GRANT USAGE ON SCHEMA etl_s TO {a};
             GRANT SELECT (id, email), UPDATE (email) ON etl_s.people TO {a};
             GRANT SELECT, INSERT ON etl_s.codes TO {a};
             GRANT USAGE ON SEQUENCE etl_s.ids TO {a};
             GRANT EXECUTE ON FUNCTION etl_s.f() TO {a};
             GRANT EXECUTE ON PROCEDURE etl_s.p() TO {a};
             GRANT USAGE ON TYPE etl_s.mood TO {a};
             CREATE FOREIGN DATA WRAPPER {w};
             GRANT USAGE ON FOREIGN DATA WRAPPER {w} TO {e}, aws_db_admin WITH GRANT OPTION;
             CREATE SERVER {w}_srv FOREIGN DATA WRAPPER {w};
             ALTER SERVER {w}_srv OWNER TO {e};
             GRANT USAGE ON FOREIGN SERVER {w}_srv TO {a};
             GRANT SET ON PARAMETER log_statement_stats TO aws_db_admin WITH GRANT OPTION;",
            w = wrapper,
        ),
    )
    .await;
    // A large object of etl's the app may read and write.
    let lo: u32 = {
        let mut c = PgConnection::connect_with(&pg().superuser_options(&app.database))
            .await
            .unwrap();
        let oid: sqlx::postgres::types::Oid = sqlx::query_scalar("SELECT lo_from_bytea(0, 'hello')")
            .fetch_one(&mut c)
            .await
            .unwrap();
        c.execute(AssertSqlSafe(format!(
            "ALTER LARGE OBJECT {o} OWNER TO {e}; GRANT SELECT, UPDATE ON LARGE OBJECT {o} TO {a}",
            o = oid.0
        )))
        .await
        .unwrap();
        c.close().await.unwrap();
        oid.0
    };
    // What only a grant option lets the admin pass on (as on RDS: the FDW
    // belongs to a superuser, parameters to nobody), and memberships.
    as_admin(
        &app.database,
        &format!(
            "GRANT USAGE ON FOREIGN DATA WRAPPER {wrapper} TO {a};
             GRANT SET ON PARAMETER log_statement_stats TO {a};
             GRANT {g} TO {a} WITH ADMIN OPTION;",
            g = ident(&group)
        ),
    )
    .await;
    if per_grant() {
        as_admin(
            "postgres",
            &format!(
                "GRANT {} TO {a} WITH INHERIT FALSE, SET TRUE",
                ident(&nogroup)
            ),
        )
        .await;
    }

    // The old login's grants show the column privileges.
    let db = admin(&app.database).await;
    let grants = db.grants(&app.user).await.unwrap();
    let raws: Vec<&str> = grants.iter().map(|g| g.raw.as_str()).collect();
    assert!(
        raws.iter().any(|r| r.starts_with("GRANT SELECT (\"email\"), UPDATE (\"email\") ON TABLE \"etl_s\".\"people\"")),
        "{raws:#?}"
    );
    assert!(
        raws.iter().any(|r| r.contains("ON PARAMETER \"log_statement_stats\"")),
        "{raws:#?}"
    );
    assert!(raws.iter().any(|r| r.contains(&format!("ON LARGE OBJECT {lo}"))), "{raws:#?}");

    // Convert, create the new login, retire the old one: the rotation's database half.
    let plan = db
        .plan_convert_to_owner_roles(&app.database, &app.user, &owner_role)
        .await
        .unwrap();
    db.execute(&plan).await.unwrap();
    let new_user = hostile("kinds-new");
    let password = generate_password();
    let plan = db
        .plan_create_login(&new_user, &password, &owner_role)
        .await
        .unwrap();
    db.execute(&plan).await.unwrap();
    // Before the old login goes: the new one can do what it can, no more, no less.
    let eq = db.equivalence(&app.user, &new_user).await.unwrap();
    assert!(eq.is_equivalent(), "{eq:#?}");
    assert!(eq.databases.contains(&other), "{:?}", eq.databases);
    db.retire(&app.user, &owner_role, false).await.unwrap();
    assert!(!db.role_exists(&app.user).await.unwrap());

    // The new login can do all of it, and no more.
    let n = rotui::db::ident::pg_str(&new_user);
    let expect = [
        (format!("has_column_privilege({n}, 'etl_s.people', 'email', 'SELECT')"), true),
        (format!("has_column_privilege({n}, 'etl_s.people', 'id', 'SELECT')"), true),
        (format!("has_column_privilege({n}, 'etl_s.people', 'email', 'UPDATE')"), true),
        (format!("has_column_privilege({n}, 'etl_s.people', 'secret', 'SELECT')"), false),
        (format!("has_table_privilege({n}, 'etl_s.codes', 'SELECT')"), true),
        (format!("has_table_privilege({n}, 'etl_s.codes', 'INSERT')"), true),
        (format!("has_table_privilege({n}, 'etl_s.codes', 'DELETE')"), false),
        (format!("has_sequence_privilege({n}, 'etl_s.ids', 'USAGE')"), true),
        (format!("has_function_privilege({n}, 'etl_s.f()', 'EXECUTE')"), true),
        (format!("has_function_privilege({n}, 'etl_s.p()', 'EXECUTE')"), true),
        (format!("has_schema_privilege({n}, 'etl_s', 'USAGE')"), true),
        (format!("has_schema_privilege({n}, 'etl_s', 'CREATE')"), false),
        (format!("has_type_privilege({n}, 'etl_s.mood', 'USAGE')"), true),
        (format!("has_foreign_data_wrapper_privilege({n}, {}, 'USAGE')", rotui::db::ident::pg_str(&wrapper)), true),
        (format!("has_server_privilege({n}, '{wrapper}_srv', 'USAGE')"), true),
        (format!("has_database_privilege({n}, {}, 'CONNECT')", rotui::db::ident::pg_str(&other)), true),
        (format!("has_database_privilege({n}, {}, 'CREATE')", rotui::db::ident::pg_str(&other)), true),
        (format!("has_database_privilege({n}, {}, 'TEMPORARY')", rotui::db::ident::pg_str(&other)), true),
        (format!("has_parameter_privilege({n}, 'log_statement_stats', 'SET')"), true),
        (format!("pg_has_role({n}, {}, 'USAGE')", rotui::db::ident::pg_str(&group)), true),
        (format!("pg_has_role({n}, {}, 'MEMBER WITH ADMIN OPTION')", rotui::db::ident::pg_str(&group)), true),
    ];
    for (sql, want) in &expect {
        assert_eq!(check(&app.database, &format!("SELECT {sql}")).await, *want, "{sql} on {}", flavor());
    }
    if per_grant() {
        let g = rotui::db::ident::pg_str(&nogroup);
        assert!(check("postgres", &format!("SELECT pg_has_role({n}, {g}, 'SET')")).await);
        assert!(!check("postgres", &format!("SELECT pg_has_role({n}, {g}, 'USAGE')")).await, "INHERIT FALSE carried over");
    }
    // And for real: the app's session reads its columns and the large object.
    let mut c = login(&new_user, &password, &app.database).await;
    let email: String = sqlx::query_scalar("SELECT email FROM etl_s.people")
        .fetch_one(&mut c)
        .await
        .expect("the new login reads the column it was granted");
    assert_eq!(email, "a@example.org");
    let bytes: Vec<u8> = sqlx::query_scalar("SELECT lo_get($1)")
        .bind(sqlx::postgres::types::Oid(lo))
        .fetch_one(&mut c)
        .await
        .expect("the new login reads the large object");
    assert_eq!(bytes, b"hello");
    c.close().await.unwrap();
}
}

pg_test! {
async fn verification_compares_effective_privileges_object_by_object() {
    use rotui::rotation::ports::DbPort;
    let app = App::seed("equiv").await;
    let owner_role = app.owner_role();
    let etl = hostile("etl");
    let group = hostile("group");
    admin_roles(&[&etl, &group]).await;
    let (a, e) = (ident(&app.user), ident(&etl));
    superuser(
        &app.database,
        &format!(
            "CREATE TABLE people (id int, email text, secret text); ALTER TABLE people OWNER TO {e};
             GRANT SELECT (email) ON people TO {a}; GRANT {g} TO {a};",
            g = ident(&group)
        ),
    )
    .await;
    let db = admin(&app.database).await;
    db.execute(
        &db.plan_convert_to_owner_roles(&app.database, &app.user, &owner_role)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let new_user = hostile("equiv-new");
    db.execute(
        &db.plan_create_login(&new_user, &generate_password(), &owner_role)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let port = rotui::rotation::adapters::PgPort::new(db.clone(), "127.0.0.1", pg().port(), &app.database);
    assert_eq!(
        previews(&port.clone_grants(&app.user, &new_user).await.unwrap()),
        Vec::<String>::new(),
        "equivalent after the conversion"
    );

    // Less: the owner role loses the column grant (as if never copied).
    let o = ident(&owner_role);
    superuser(&app.database, &format!("REVOKE SELECT (email) ON people FROM {o}")).await;
    let eq = db.equivalence(&app.user, &new_user).await.unwrap();
    assert!(!eq.is_equivalent());
    assert_eq!(eq.missing.len(), 1, "{eq:#?}");
    let m = &eq.missing[0];
    assert_eq!((m.kind.as_str(), m.privilege.as_str()), ("COLUMN", "SELECT"), "{m:?}");
    assert_eq!(m.database.as_deref(), Some(app.database.as_str()));
    let remedies = previews(&port.clone_grants(&app.user, &new_user).await.unwrap());
    assert_eq!(
        remedies,
        [format!(
            "-- in database {}\nGRANT SELECT (email) ON TABLE public.people TO {}",
            app.database,
            ident(&new_user)
        )],
        "the verify step names what the new login lacks"
    );
    superuser(&app.database, &format!("GRANT SELECT (email) ON people TO {o}")).await;

    // More: the new login alone may delete, and is in a role the old is not in.
    let n = ident(&new_user);
    let extra_role = hostile("extra");
    admin_roles(&[&extra_role]).await;
    superuser(
        &app.database,
        &format!("GRANT DELETE ON people TO {n}; GRANT {} TO {n}", ident(&extra_role)),
    )
    .await;
    let eq = db.equivalence(&app.user, &new_user).await.unwrap();
    assert!(eq.missing.is_empty(), "{eq:#?}");
    let extra: Vec<(&str, &str)> = eq
        .extra
        .iter()
        .map(|d| (d.kind.as_str(), d.privilege.as_str()))
        .collect();
    assert!(extra.contains(&("TABLE", "DELETE")), "{extra:?}");
    assert!(extra.contains(&("ROLE", "MEMBER")), "{extra:?}");
    // Not just membership: the verify step would block on this.
    assert!(!port.clone_grants(&app.user, &new_user).await.unwrap().is_empty());
}
}

pg_test! {
async fn role_names_longer_than_63_bytes_are_refused_not_truncated() {
    let app = App::seed("names").await;
    let owner_role = app.owner_role();
    let db = admin(&app.database).await;
    db.execute(
        &db.plan_convert_to_owner_roles(&app.database, &app.user, &owner_role)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    // 63 bytes, multi-byte characters included: kept whole, and it logs in.
    let stem = format!("ü-{}-user-20261203", tag());
    let fits = format!("{}{stem}", "x".repeat(rotui::db::postgres::MAX_ROLE_NAME_BYTES - stem.len()));
    assert_eq!(fits.len(), 63);
    let password = generate_password();
    db.execute(&db.plan_create_login(&fits, &password, &owner_role).await.unwrap())
        .await
        .unwrap();
    assert!(db.role_exists(&fits).await.unwrap());
    login(&fits, &password, &app.database).await.close().await.unwrap();
    // One byte more would be truncated by PostgreSQL: refused before anything runs.
    let long = format!("y{fits}");
    let err = db
        .plan_create_login(&long, &password, &owner_role)
        .await
        .unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Refused, "{err}");
    assert!(err.to_string().contains("64 bytes"), "{err}");
    assert!(!db.role_exists(&long[..63]).await.unwrap(), "nothing was created");
}
}

pg_test! {
async fn on_16_and_later_roles_the_admin_did_not_create_are_refused_up_front() {
    let app = App::seed("foreign").await;
    // A role a superuser made (not the RDS master): on 16+ the admin has no
    // ADMIN OPTION on it, so it cannot act for it.
    let legacy = hostile("legacy");
    superuser(
        &app.database,
        &format!(
            "CREATE ROLE {l} NOLOGIN; CREATE TABLE legacy_ref (id int); ALTER TABLE legacy_ref OWNER TO {l};
             GRANT SELECT ON legacy_ref TO {a}",
            l = ident(&legacy),
            a = ident(&app.user)
        ),
    )
    .await;
    let db = admin(&app.database).await;
    let result = db
        .plan_convert_to_owner_roles(&app.database, &app.user, &app.owner_role())
        .await;
    if per_grant() {
        let err = result.unwrap_err();
        assert_eq!(err.kind, DbErrorKind::Refused, "{err}");
        assert!(err.to_string().contains("ADMIN OPTION"), "{err}");
        assert!(err.to_string().contains(&ident(&legacy)), "{err}");
        assert!(
            !db.role_exists(&app.owner_role()).await.unwrap(),
            "refused before anything ran"
        );
        // Once granted, as the hint says, the conversion runs.
        superuser(
            "postgres",
            &format!("GRANT {} TO aws_db_admin WITH ADMIN OPTION, INHERIT FALSE, SET FALSE", ident(&legacy)),
        )
        .await;
        let plan = db
            .plan_convert_to_owner_roles(&app.database, &app.user, &app.owner_role())
            .await
            .unwrap();
        db.execute(&plan).await.unwrap();
    } else {
        // PostgreSQL 15: CREATEROLE may grant any non-superuser role.
        db.execute(&result.unwrap()).await.unwrap();
    }
    let eq_user = hostile("foreign-new");
    db.execute(
        &db.plan_create_login(&eq_user, &generate_password(), &app.owner_role())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let eq = db.equivalence(&app.user, &eq_user).await.unwrap();
    assert!(eq.is_equivalent(), "{eq:#?}");
}
}

pg_test! {
async fn retire_refuses_while_a_privilege_of_the_old_login_is_not_the_owner_roles() {
    let app = App::seed("late").await;
    let owner_role = app.owner_role();
    let etl = hostile("etl");
    admin_roles(&[&etl]).await;
    let db = admin(&app.database).await;
    db.execute(
        &db.plan_convert_to_owner_roles(&app.database, &app.user, &owner_role)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    // Granted after the conversion: DROP OWNED would take it away for good.
    superuser(
        &app.database,
        &format!(
            "CREATE TABLE late_ref (id int, code text); ALTER TABLE late_ref OWNER TO {e};
             GRANT SELECT (code) ON late_ref TO {a}",
            e = ident(&etl),
            a = ident(&app.user)
        ),
    )
    .await;
    let err = db.plan_retire(&app.user, &owner_role).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Refused, "{err}");
    assert!(err.to_string().contains("SELECT (\"code\")"), "{err}");
    assert!(db.role_exists(&app.user).await.unwrap());
    // The conversion, run again, copies it; then retiring keeps it for the new login.
    db.execute(
        &db.plan_convert_to_owner_roles(&app.database, &app.user, &owner_role)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let new_user = hostile("late-new");
    db.execute(
        &db.plan_create_login(&new_user, &generate_password(), &owner_role)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    db.retire(&app.user, &owner_role, false).await.unwrap();
    let n = rotui::db::ident::pg_str(&new_user);
    assert!(check(&app.database, &format!("SELECT has_column_privilege({n}, 'late_ref', 'code', 'SELECT')")).await);
}
}

// A running statement shows in the connection list with its start; a
// password literal in it (one rotui knows) is masked before it is kept.
pg_test! {
async fn a_running_statement_shows_with_its_password_literal_masked() {
    let password = generate_password();
    rotui::secret::register(password.expose_secret());
    let sql = format!(
        "SELECT pg_sleep(30), '{}' AS /* tab\there */ pw",
        password.expose_secret()
    );
    let mut c = PgConnection::connect_with(&pg().superuser_options("postgres"))
        .await
        .unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut c)
        .await
        .unwrap();
    let running = tokio::spawn(async move {
        let _ = c.execute(AssertSqlSafe(sql)).await;
    });
    let db = admin("postgres").await;
    let mut query = None;
    for _ in 0..100 {
        let snap = db.connections(true).await.unwrap();
        query = snap.rows.iter().find(|r| r.id == i64::from(pid)).and_then(|r| r.query.clone());
        if query.as_deref().is_some_and(|q| q.contains("pg_sleep")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let query = query.expect("the running statement is listed");
    assert!(query.starts_with("SELECT pg_sleep(30), '"), "{query}");
    assert!(query.contains(MASK), "{query}");
    assert!(!query.contains(password.expose_secret()), "{query}");
    assert!(!query.contains('\t'), "control characters are escaped or folded: {query}");
    // This listing's own statement is not shown.
    let snap = db.connections(true).await.unwrap();
    assert!(snap.rows.iter().all(|r| !r.query.as_deref().unwrap_or("").contains("pg_stat_activity")));
    superuser("postgres", &format!("SELECT pg_terminate_backend({pid})")).await;
    running.await.unwrap();
}
}
