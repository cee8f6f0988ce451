//! The MySQL-family layer against real throwaway servers whose admin has
//! RDS's master-user privileges (no SUPER): every test runs once on MySQL 9.7
//! LTS (`db_mysql::NAME::mysql`) and once on MariaDB 10.11
//! (`db_mysql::NAME::mariadb`), each flavor's server shared by these tests;
//! each test makes its own databases and users.

use rotui::db::DbErrorKind;
use rotui::db::Statement;
use rotui::db::ident::{mysql_ident, mysql_str};
use rotui::db::mysql::{Account, DefinerPlan, MysqlDb, WritePlan, test_login};
use std::collections::BTreeMap;

use rotui::model::{DbObject, FailedLogins, FlavorKind, GrantKind};
use rotui::secret::{self, ExposeSecret, SecretString};
use rotui_sandbox::mariadb::{AppAccount, MysqlFlavor, MysqlServer, unique_suffix};

thread_local! {
    /// The flavor the running test is on (each `#[tokio::test]` runs on its
    /// own current-thread runtime, so the whole test sees its own value).
    static FLAVOR: std::cell::Cell<MysqlFlavor> = const { std::cell::Cell::new(MysqlFlavor::Mysql) };
    /// Whether it runs on the MySQL server with log_bin_trust_function_creators ON.
    static TRUSTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// One test per flavor: `flavored!(name)` makes `name::mysql` and
/// `name::mariadb`, each running `async fn name()` on that flavor's server.
/// `flavored!(name, trusting)`: on MySQL, the server whose DB parameters
/// allow non-SUPER admins to re-create functions and triggers
/// (`log_bin_trust_function_creators=ON`, as an RDS parameter group sets it).
macro_rules! flavored {
    ($name:ident) => {
        flavored!($name, false);
    };
    ($name:ident, trusting) => {
        flavored!($name, true);
    };
    ($name:ident, $trusting:expr) => {
        mod $name {
            #[tokio::test]
            async fn mysql() {
                super::FLAVOR.with(|f| f.set(super::MysqlFlavor::Mysql));
                super::TRUSTING.with(|t| t.set($trusting));
                super::$name().await
            }
            #[tokio::test]
            async fn mariadb() {
                super::FLAVOR.with(|f| f.set(super::MysqlFlavor::Mariadb));
                super::$name().await
            }
        }
    };
}

/// `name` + `-suffix`, cut to MySQL's 32 characters on MySQL (the suffix kept).
fn fit(name: &str, suffix: &str) -> String {
    let max = match flavor() {
        MysqlFlavor::Mysql => 32 - suffix.chars().count() - 1,
        MysqlFlavor::Mariadb => 80,
    };
    let head: String = name.chars().take(max).collect();
    format!("{head}-{suffix}")
}

fn flavor() -> MysqlFlavor {
    FLAVOR.with(|f| f.get())
}

fn server() -> &'static MysqlServer {
    if flavor() == MysqlFlavor::Mysql && TRUSTING.with(|t| t.get()) {
        rotui_sandbox::mysql::shared_trusting()
    } else {
        MysqlServer::shared_flavor(flavor())
    }
}

async fn admin() -> MysqlDb {
    MysqlDb::connect(&server().admin_url(None))
        .await
        .expect("admin connects")
}

async fn app(hint: &str) -> AppAccount {
    server()
        .create_app(hint)
        .await
        .expect("create app database and user")
}

/// An app whose database the test does not use (just a user to grant to).
async fn app_named(hint: &str) -> AppAccount {
    app(hint).await
}

fn account(app: &AppAccount) -> Account {
    Account::new(&app.user, &app.host)
}

flavored!(connect_detects_mariadb_on_rds_and_the_admin);
async fn connect_detects_mariadb_on_rds_and_the_admin() {
    let db = admin().await;
    let f = db.flavor();
    match flavor() {
        MysqlFlavor::Mariadb => {
            assert_eq!(f.kind, FlavorKind::Mariadb);
            assert!(f.version.contains("MariaDB"), "{}", f.version);
        }
        MysqlFlavor::Mysql => {
            assert_eq!(f.kind, FlavorKind::Mysql);
            assert!(f.version.starts_with("9.7"), "{}", f.version);
        }
    }
    assert!(f.rds, "mysql.rds_kill exists, so this looks like RDS");
    assert_eq!(db.admin(), &Account::new("aws_db_admin", "%"));
}

flavored!(wrong_password_and_unreachable_server_are_clear_and_secret_free);
async fn wrong_password_and_unreachable_server_are_clear_and_secret_free() {
    let s = server();
    let bad = s.url("aws_db_admin", "NotThePassword123", None);
    let err = MysqlDb::connect(&bad).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::BadPassword, "{err}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("NotThePassword123"), "{shown}");

    let closed = rotui_sandbox::guard::free_port();
    let url = format!("mysql://aws_db_admin:Sekr1tSekr1t@127.0.0.1:{closed}/x");
    let err = MysqlDb::connect(&url).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Unreachable, "{err}");
    assert!(!format!("{err} {err:?}").contains("Sekr1tSekr1t"));

    let err = MysqlDb::connect("postgres://nope").await.unwrap_err();
    assert!(err.to_string().contains("URL"), "{err}");
}

flavored!(connect_with_a_separate_password);
async fn connect_with_a_separate_password() {
    let s = server();
    let url = format!("mysql://aws_db_admin@{}:{}", s.host(), s.port());
    let db = MysqlDb::connect_with(&url, &s.admin_password())
        .await
        .expect("connects");
    assert_eq!(db.admin(), &Account::new("aws_db_admin", "%"));
    let err = MysqlDb::connect_with(&url, &secret::secret("not-the-password-9"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, DbErrorKind::BadPassword, "{err}");
    assert!(!format!("{err:?}").contains("not-the-password-9"));
}

flavored!(users_show_the_runbook_columns_on_mariadb);
async fn users_show_the_runbook_columns_on_mariadb() {
    let db = admin().await;
    let app = app("signon").await;
    server()
        .admin_exec(&[format!(
            "CREATE USER 'locked{0}'@'10.%' IDENTIFIED BY 'x' ACCOUNT LOCK PASSWORD EXPIRE",
            app.user
        )])
        .await
        .unwrap();
    let users = db.users().await.unwrap();
    let admin_row = users.iter().find(|u| u.name == "aws_db_admin").unwrap();
    assert_eq!(admin_row.host.as_deref(), Some("%"));
    assert!(!admin_row.superuser && admin_row.can_grant && admin_row.can_login);
    let plugin = match flavor() {
        MysqlFlavor::Mariadb => "mysql_native_password",
        MysqlFlavor::Mysql => "caching_sha2_password",
    };
    assert_eq!(admin_row.auth_plugin.as_deref(), Some(plugin));

    let app_row = users.iter().find(|u| u.name == app.user).unwrap();
    assert!(!app_row.can_grant && !app_row.account_locked && !app_row.password_expired);

    let locked = users
        .iter()
        .find(|u| u.name == format!("locked{}", app.user))
        .unwrap();
    assert_eq!(locked.host.as_deref(), Some("10.%"));
    assert!(locked.account_locked && locked.password_expired && !locked.can_login);

    assert!(db.user_exists(&account(&app)).await.unwrap());
    assert!(
        !db.user_exists(&Account::new(&app.user, "localhost"))
            .await
            .unwrap()
    );
}

flavored!(grants_are_parsed_and_never_carry_the_password_hash);
async fn grants_are_parsed_and_never_carry_the_password_hash() {
    let db = admin().await;
    let app = app("signon").await;
    let grants = db.grants(&account(&app)).await.unwrap();
    assert_eq!(grants.len(), 2, "{grants:?}");
    assert_eq!(grants[0].kind, GrantKind::Global);
    assert_eq!(grants[0].raw, format!("GRANT USAGE ON *.* TO `{}`@`%`", app.user));
    assert_eq!(grants[1].kind, GrantKind::Database);
    assert_eq!(grants[1].privileges, ["ALL PRIVILEGES"]);
    assert_eq!(grants[1].on, format!("`{}`.*", app.database));
    assert!(!format!("{grants:?}").contains("PASSWORD"));

    let err = db.grants(&Account::new("nobody-here", "%")).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::NotFound, "{err}");
}

flavored!(
    objects_list_views_routines_triggers_and_events_with_definers,
    trusting
);
async fn objects_list_views_routines_triggers_and_events_with_definers() {
    let db = admin().await;
    let app = app("signon").await;
    let url = server().url(&app.user, app.password.expose_secret(), Some(&app.database));
    let app_db = MysqlDb::connect(&url).await.unwrap();
    app_db
        .execute(&[
            Statement::new("CREATE TABLE users (id INT PRIMARY KEY, name TEXT)"),
            Statement::new("CREATE VIEW active_users_summary AS SELECT COUNT(*) AS n FROM users"),
            Statement::new("CREATE PROCEDURE p() SELECT 1"),
            Statement::new("CREATE FUNCTION f() RETURNS INT DETERMINISTIC RETURN 1"),
            Statement::new(
                "CREATE TRIGGER trg BEFORE INSERT ON users FOR EACH ROW SET NEW.name = LOWER(NEW.name)",
            ),
            Statement::new("CREATE EVENT ev ON SCHEDULE EVERY 1 DAY DO DELETE FROM users WHERE id < 0"),
        ])
        .await
        .unwrap();
    app_db.close().await;
    let objects = db.objects(Some(&app.database)).await.unwrap();
    let kinds: Vec<(&str, &str)> = objects
        .iter()
        .map(|o| (o.kind.as_str(), o.name.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("event", "ev"),
            ("function", "f"),
            ("procedure", "p"),
            ("trigger", "trg"),
            ("view", "active_users_summary")
        ]
    );
    let definer = format!("{}@%", app.user);
    assert!(
        objects
            .iter()
            .all(|o| o.owner == definer && o.schema.as_deref() == Some(app.database.as_str()))
    );
    assert_eq!(
        db.objects_defined_by(&account(&app), None).await.unwrap().len(),
        5
    );
}

flavored!(a_running_statement_shows_with_its_password_literal_masked);
/// A running statement shows in the connection list with its start; a
/// password literal in it (one rotui knows) is masked before it is kept.
async fn a_running_statement_shows_with_its_password_literal_masked() {
    let db = admin().await;
    let app = app("signon").await;
    let password = secret::generate_password();
    secret::register(password.expose_secret());
    let url = server().url(&app.user, app.password.expose_secret(), Some(&app.database));
    let mut c = {
        use sqlx::Connection;
        sqlx::MySqlConnection::connect(&url).await.unwrap()
    };
    let id: i64 = sqlx::query_scalar("SELECT CAST(CONNECTION_ID() AS SIGNED)")
        .fetch_one(&mut c)
        .await
        .unwrap();
    let sql = format!("SELECT SLEEP(30), '{}'\n  AS pw", password.expose_secret());
    let running = tokio::spawn(async move {
        use sqlx::Executor;
        let _ = c.execute(sqlx::AssertSqlSafe(sql)).await;
    });
    let mut query = None;
    for _ in 0..100 {
        let snap = db.connections(true).await.unwrap();
        query = snap
            .rows
            .iter()
            .find(|r| r.id == id)
            .and_then(|r| r.query.clone());
        if query.as_deref().is_some_and(|q| q.contains("SLEEP")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let query = query.expect("the running statement is listed");
    assert!(query.starts_with("SELECT SLEEP(30), '"), "{query}");
    assert!(query.contains(secret::MASK), "{query}");
    assert!(!query.contains(password.expose_secret()), "{query}");
    let snap = db.connections(true).await.unwrap();
    assert!(
        snap.rows
            .iter()
            .all(|r| !r.query.as_deref().unwrap_or("").contains("PROCESSLIST")),
        "this listing's own statement is not shown"
    );
    db.execute(&[db.kill_statement(id)]).await.unwrap();
    running.await.unwrap();
}

flavored!(connections_are_counted_per_user_in_one_query);
async fn connections_are_counted_per_user_in_one_query() {
    let db = admin().await;
    let app = app("signon").await;
    let url = server().url(&app.user, app.password.expose_secret(), Some(&app.database));
    // Hold three real sessions as the app user.
    let mut held = Vec::new();
    for _ in 0..3 {
        use sqlx::Connection;
        held.push(sqlx::MySqlConnection::connect(&url).await.unwrap());
    }
    let snap = db.connections(false).await.unwrap();
    let count = snap
        .counts
        .iter()
        .find(|c| c.user.as_deref() == Some(app.user.as_str()))
        .unwrap();
    assert_eq!(count.count, 3);
    assert!(snap.rows.is_empty());

    let snap = db.connections(true).await.unwrap();
    let mine: Vec<_> = snap
        .rows
        .iter()
        .filter(|r| r.user.as_deref() == Some(app.user.as_str()))
        .collect();
    assert_eq!(mine.len(), 3);
    assert!(
        mine.iter()
            .all(|r| r.database.as_deref() == Some(app.database.as_str()))
    );
    assert!(
        mine.iter()
            .all(|r| r.client.as_deref().unwrap_or("").starts_with("127.0.0.1:"))
    );
    // Each thread's command began at a time (not an age), within the last
    // minute here.
    let now = chrono::Utc::now();
    assert!(
        mine.iter().all(|r| r.since.is_some_and(
            |t| t <= now + chrono::Duration::seconds(1) && now - t < chrono::Duration::minutes(1)
        )),
        "{mine:?}"
    );
    assert_eq!(
        snap.counts
            .iter()
            .find(|c| c.user.as_deref() == Some(app.user.as_str()))
            .unwrap()
            .count,
        3
    );
    drop(held);
}

flavored!(test_login_accepts_the_right_password_only);
async fn test_login_accepts_the_right_password_only() {
    let app = app("signon").await;
    let s = server();
    test_login(s.host(), s.port(), &app.user, &app.password, Some(&app.database))
        .await
        .expect("right password logs in");
    let wrong = secret::secret("WrongWrongWrong42");
    let err = test_login(s.host(), s.port(), &app.user, &wrong, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind, DbErrorKind::BadPassword);
    assert!(!format!("{err} {err:?}").contains("WrongWrongWrong42"));
}

flavored!(failed_logins_count_per_user_or_say_why_not);
/// A refused login counts against the user it tried, a user that does not
/// exist (an old one, after its drop) too, and a good login counts
/// nothing: MySQL 9.7's performance_schema, read by the RDS-shaped admin.
/// MariaDB keeps no such count per user: it says why, never 0.
async fn failed_logins_count_per_user_or_say_why_not() {
    let db = admin().await;
    let app = app("logins").await;
    let s = server();
    let gone = fit("dropped", &unique_suffix());
    let users = vec![app.user.clone(), gone.clone()];
    let before = db.failed_logins(&users).await.unwrap();
    let wrong = secret::secret("NotTheLoginsPassword42");
    for user in [&app.user, &app.user, &gone] {
        let err = test_login(s.host(), s.port(), user, &wrong, None)
            .await
            .unwrap_err();
        assert_eq!(err.kind, DbErrorKind::BadPassword, "{err}");
    }
    test_login(s.host(), s.port(), &app.user, &app.password, Some(&app.database))
        .await
        .unwrap();
    let after = db.failed_logins(&users).await.unwrap();
    match flavor() {
        MysqlFlavor::Mysql => {
            assert_eq!(
                after.since(Some(&before)),
                FailedLogins::Counted(BTreeMap::from([(app.user.clone(), 2), (gone.clone(), 1)])),
                "{before:?} → {after:?}"
            );
            // Without a count before, nothing is blamed on anything.
            assert!(matches!(after.since(None), FailedLogins::NotObservable(_)));
        }
        MysqlFlavor::Mariadb => {
            let FailedLogins::NotObservable(why) = &after else {
                panic!("MariaDB cannot count per user: {after:?}");
            };
            assert!(why.contains("MariaDB") && why.contains("per-user"), "{why}");
            assert_eq!(after.since(Some(&before)), after);
        }
    }
}

/// A MySQL whose performance_schema has room for fewer users than log in
/// cannot say whose a failed login was: "not observable", never 0.
#[tokio::test]
async fn failed_logins_are_not_observable_when_performance_schema_lost_users() {
    let s =
        tokio::task::spawn_blocking(|| rotui_sandbox::mysql::start(&["--performance-schema-users-size=1"]))
            .await
            .unwrap()
            .expect("a MySQL 9.7 with room for one user");
    let db = MysqlDb::connect(&s.admin_url(None)).await.unwrap();
    let app = s.create_app("lost").await.unwrap();
    test_login(s.host(), s.port(), &app.user, &app.password, Some(&app.database))
        .await
        .unwrap();
    let wrong = secret::secret("NotTheLostPassword42");
    test_login(s.host(), s.port(), &app.user, &wrong, None)
        .await
        .unwrap_err();
    let logins = db.failed_logins(std::slice::from_ref(&app.user)).await.unwrap();
    let FailedLogins::NotObservable(why) = &logins else {
        panic!("a server that lost users cannot count per user: {logins:?}");
    };
    assert!(why.contains("Performance_schema_users_lost"), "{why}");
}

// ------------------------------------------------------------ write side

/// Names that break naive quoting: hyphen, both quotes, backtick, %, space,
/// backslash, non-ASCII, and an injection attempt.
const HOSTILE: &str = "sïgn-on 'x\" `y` %\\z";

fn app_url(app: &AppAccount) -> String {
    server().url(&app.user, app.password.expose_secret(), Some(&app.database))
}

async fn run(db: &MysqlDb, plan: &WritePlan) {
    db.execute(&plan.statements)
        .await
        .unwrap_or_else(|e| panic!("{e}\nplan: {:#?}", plan.previews()));
}

async fn login(user: &str, password: &SecretString) -> Result<(), rotui::db::DbError> {
    test_login(server().host(), server().port(), user, password, None).await
}

flavored!(create_user_previews_a_masked_password_and_is_idempotent);
async fn create_user_previews_a_masked_password_and_is_idempotent() {
    let db = admin().await;
    let new = Account::new(format!("signon_user_{}", unique_suffix()), "%");
    let password = secret::generate_password();
    let plan = db.create_user_plan(&new, &password).await.unwrap();
    assert_eq!(
        plan.previews(),
        [format!(
            "CREATE USER '{}'@'%' IDENTIFIED BY '{}'",
            new.user,
            secret::MASK
        )]
    );
    assert!(!format!("{plan:?}").contains(password.expose_secret()));
    run(&db, &plan).await;
    login(&new.user, &password)
        .await
        .expect("the new user logs in with its password");

    let again = db
        .create_user_plan(&new, &secret::generate_password())
        .await
        .unwrap();
    assert!(again.is_empty(), "{:?}", again.previews());
    assert!(again.notes[0].contains("exists already"), "{:?}", again.notes);

    // A plan that went stale (someone created the user meanwhile) fails
    // clearly, and the error shows the masked statement, not the password.
    let err = db.execute(&plan.statements).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::AlreadyExists, "{err}");
    let shown = format!("{err} {err:?}");
    assert!(
        shown.contains(secret::MASK) && !shown.contains(password.expose_secret()),
        "{shown}"
    );
}

flavored!(cloning_never_carries_the_mariadb_password_hash);
async fn cloning_never_carries_the_mariadb_password_hash() {
    let db = admin().await;
    let old_app = app("signon").await;
    let old = account(&old_app);
    let new = Account::new(format!("{}_user_20260121", old_app.user), "%");
    let new_password = secret::generate_password();
    // The whole rotation can be previewed before the new user exists.
    let before = db.clone_grants_plan(&old, &new).await.unwrap().previews();
    run(&db, &db.create_user_plan(&new, &new_password).await.unwrap()).await;

    let plan = db.clone_grants_plan(&old, &new).await.unwrap();
    assert_eq!(plan.previews(), before);
    assert_eq!(
        plan.previews(),
        [format!(
            "GRANT ALL PRIVILEGES ON `{}`.* TO '{}'@'%'",
            old_app.database, new.user
        )]
    );
    assert!(plan.previews().iter().all(|s| !s.contains("IDENTIFIED")));
    run(&db, &plan).await;

    login(&new.user, &new_password)
        .await
        .expect("new user keeps ITS password");
    login(&old.user, &old_app.password)
        .await
        .expect("old user keeps its own");
    let err = login(&new.user, &old_app.password).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::BadPassword);

    assert!(db.verify_grants_equivalent(&old, &new).await.unwrap().is_empty());
    assert!(db.clone_grants_plan(&old, &new).await.unwrap().is_empty());
}

flavored!(
    cloning_copies_every_kind_of_grant_for_a_non_percent_host,
    trusting
);
async fn cloning_copies_every_kind_of_grant_for_a_non_percent_host() {
    let s = server();
    let db = admin().await;
    let sfx = unique_suffix();
    let dbname = format!("{HOSTILE}_{sfx}");
    let d = mysql_ident(&dbname);
    let role = format!("app role-{sfx}");
    let proxied = Account::new(format!("proxied-{sfx}"), "%");
    let old = Account::new(fit(&format!("old-{HOSTILE}"), &sfx), "10.0.%");
    let new = Account::new(fit(&format!("new-{HOSTILE}"), &sfx), "10.0.%");
    let o = old.sql();
    // What RDS's master user can make itself…
    s.admin_exec(&[
        format!("CREATE DATABASE {d}"),
        format!("CREATE TABLE {d}.`t-1` (id INT, `sec'ret` INT, `col``x` INT)"),
        format!("CREATE PROCEDURE {d}.`p-1`() SELECT 1"),
        format!("CREATE FUNCTION {d}.`f-1`() RETURNS INT DETERMINISTIC RETURN 1"),
        format!("CREATE ROLE {}", mysql_str(&role)),
        format!("GRANT SELECT ON {d}.* TO {}", mysql_str(&role)),
        format!("CREATE USER {o} IDENTIFIED BY 'old-password-1'"),
        format!("CREATE USER {}", proxied.sql()),
        format!("GRANT {} TO {o} WITH ADMIN OPTION", mysql_str(&role)),
        match flavor() {
            MysqlFlavor::Mariadb => format!("SET DEFAULT ROLE {} FOR {o}", mysql_str(&role)),
            MysqlFlavor::Mysql => format!("SET DEFAULT ROLE {} TO {o}", mysql_str(&role)),
        },
        match flavor() {
            MysqlFlavor::Mariadb => format!("GRANT PROCESS ON *.* TO {o} WITH MAX_USER_CONNECTIONS 7"),
            MysqlFlavor::Mysql => format!("GRANT PROCESS ON *.* TO {o}"),
        },
        match flavor() {
            MysqlFlavor::Mariadb => "DO 0".to_owned(),
            MysqlFlavor::Mysql => format!("ALTER USER {o} WITH MAX_USER_CONNECTIONS 7"),
        },
        format!("GRANT SELECT, INSERT ON {d}.* TO {o} WITH GRANT OPTION"),
        format!("GRANT UPDATE ON {d}.`t-1` TO {o}"),
        format!("GRANT SELECT (id, `col``x`), UPDATE (`sec'ret`) ON {d}.`t-1` TO {o}"),
        format!("GRANT EXECUTE ON PROCEDURE {d}.`p-1` TO {o}"),
        format!("GRANT EXECUTE, ALTER ROUTINE ON FUNCTION {d}.`f-1` TO {o}"),
        // A wildcard database grant: `\_` is a literal underscore, `%` any suffix.
        format!("GRANT SHOW VIEW ON `wild\\_{sfx}%`.* TO {o}"),
    ])
    .await
    .unwrap();
    // …and a PROXY grant, which only a superuser can hand out (and hand on).
    s.root_exec(&[
        format!("GRANT PROXY ON {} TO {o}", proxied.sql()),
        format!(
            "GRANT PROXY ON {} TO 'aws_db_admin'@'%' WITH GRANT OPTION",
            proxied.sql()
        ),
    ])
    .await
    .unwrap();

    let kinds: Vec<GrantKind> = db.grants(&old).await.unwrap().iter().map(|g| g.kind).collect();
    for k in [
        GrantKind::Role,
        GrantKind::Global,
        GrantKind::Database,
        GrantKind::Column,
        GrantKind::Routine,
        GrantKind::Proxy,
        GrantKind::DefaultRole,
    ] {
        assert!(kinds.contains(&k), "{k:?} missing from {kinds:?}");
    }

    let users = db.users().await.unwrap();
    let old_row = users.iter().find(|u| u.name == old.user).unwrap();
    let role_row = users.iter().find(|u| u.name == role).unwrap();
    match flavor() {
        MysqlFlavor::Mariadb => {
            assert_eq!(old_row.member_of, std::slice::from_ref(&role));
            assert!(role_row.is_role && role_row.host.is_none() && !role_row.can_login);
        }
        // MySQL roles are accounts with a host (`role`@`%`).
        MysqlFlavor::Mysql => {
            assert_eq!(old_row.member_of, vec![format!("{role}@%")]);
            assert!(role_row.is_role && !role_row.can_login);
        }
    }

    let password = secret::generate_password();
    run(&db, &db.create_user_plan(&new, &password).await.unwrap()).await;
    let plan = db.clone_grants_plan(&old, &new).await.unwrap();
    assert!(
        plan.previews()
            .iter()
            .all(|s| !s.contains("IDENTIFIED") && !s.contains(&old.user))
    );
    let wild = format!("GRANT SHOW VIEW ON `wild\\_{sfx}%`.* TO {}", new.sql());
    assert!(plan.previews().contains(&wild), "{:#?}", plan.previews());
    run(&db, &plan).await;

    let diff = db.verify_grants_equivalent(&old, &new).await.unwrap();
    assert!(diff.is_empty(), "{diff:#?}");
    assert!(db.clone_grants_plan(&old, &new).await.unwrap().is_empty());
    assert_eq!(
        db.grants(&new).await.unwrap().len(),
        db.grants(&old).await.unwrap().len()
    );
    // The new user's password is its own: read back from the server's hash.
    let row = db.users().await.unwrap();
    assert!(
        row.iter()
            .any(|u| u.name == new.user && u.host.as_deref() == Some("10.0.%"))
    );

    // The check is not vacuous: take one column grant away and it shows.
    s.admin_exec(&[format!(
        "REVOKE UPDATE (`sec'ret`) ON {d}.`t-1` FROM {}",
        new.sql()
    )])
    .await
    .unwrap();
    let diff = db.verify_grants_equivalent(&old, &new).await.unwrap();
    assert_eq!(diff.missing, [format!("UPDATE (`sec'ret`) ON {d}.`t-1`")]);
    assert!(diff.extra.is_empty());
    let plan = db.clone_grants_plan(&old, &new).await.unwrap();
    assert_eq!(plan.statements.len(), 1, "{:?}", plan.previews());
    run(&db, &plan).await;
    assert!(db.verify_grants_equivalent(&old, &new).await.unwrap().is_empty());
}

flavored!(a_missing_privilege_is_named);
async fn a_missing_privilege_is_named() {
    let s = server();
    let db = admin().await;
    let sfx = unique_suffix();
    let old = Account::new(format!("proxyuser{sfx}"), "%");
    let new = Account::new(format!("proxyuser{sfx}_new"), "%");
    s.root_exec(&[
        format!("CREATE USER {}", old.sql()),
        format!("CREATE USER {}", new.sql()),
        format!("GRANT PROXY ON 'root'@'localhost' TO {}", old.sql()),
    ])
    .await
    .unwrap();
    let plan = db.clone_grants_plan(&old, &new).await.unwrap();
    let err = db.execute(&plan.statements).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Privilege, "{err} {:?}", err.code);
    let shown = err.to_string();
    assert!(
        shown.contains("GRANT PROXY ON 'root'@'localhost'"),
        "names the statement: {shown}"
    );
    assert!(
        shown.contains("PROXY on that account WITH GRANT OPTION"),
        "names the privilege: {shown}"
    );
}

flavored!(definers_move_to_the_admin_and_objects_keep_working, trusting);
async fn definers_move_to_the_admin_and_objects_keep_working() {
    let db = admin().await;
    let old_app = app(HOSTILE).await;
    let old = account(&old_app);
    let other = app("reader").await;
    let as_app = MysqlDb::connect(&app_url(&old_app)).await.unwrap();
    as_app
        .execute(&[
            Statement::new("CREATE TABLE `us-ers` (id INT PRIMARY KEY, name TEXT)"),
            Statement::new("INSERT INTO `us-ers` VALUES (1, 'Ada'), (2, 'Bob')"),
            Statement::new("CREATE VIEW `active users` AS SELECT COUNT(*) AS n FROM `us-ers`"),
            Statement::new("CREATE PROCEDURE `p``1`() SELECT COUNT(*) FROM `us-ers`"),
            Statement::new("CREATE TRIGGER `lower-name` BEFORE INSERT ON `us-ers` FOR EACH ROW SET NEW.name = LOWER(NEW.name)"),
            // Made under PIPES_AS_CONCAT, `1 || 0` is '10'; re-created under
            // any other sql_mode it would silently become OR, i.e. 1.
            Statement::new("SET SESSION sql_mode = 'PIPES_AS_CONCAT,ANSI_QUOTES'"),
            Statement::new(r#"CREATE FUNCTION "f'1"() RETURNS TEXT DETERMINISTIC RETURN 1 || 0"#),
            // An event made under an odd session: its time zone, sql_mode and
            // a comment with a backslash (literal under NO_BACKSLASH_ESCAPES)
            // must all survive the move.
            Statement::new("SET SESSION time_zone = '+05:00', SESSION sql_mode = 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES'"),
            Statement::new(r#"CREATE EVENT "purge" ON SCHEDULE EVERY 1 DAY COMMENT 'nightly\run' DO DELETE FROM "us-ers" WHERE id < 0"#),
        ])
        .await
        .unwrap();
    as_app.close().await;
    let d = mysql_ident(&old_app.database);
    // A grant on a routine must survive its re-creation.
    server()
        .admin_exec(&[format!(
            "GRANT EXECUTE ON PROCEDURE {d}.`p``1` TO {}",
            account(&other).sql()
        )])
        .await
        .unwrap();
    let f_before = scalar(&db, &format!("SELECT {d}.`f'1`()")).await;
    let modes = |db: &MysqlDb| {
        let db = db.clone();
        let schema = mysql_str(&old_app.database);
        async move {
            scalar(
                &db,
                &format!(
                    "SELECT GROUP_CONCAT(x ORDER BY x SEPARATOR ' | ') FROM (\
                     SELECT CONCAT(ROUTINE_NAME, ':', SQL_MODE) x FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = {schema} \
                     UNION ALL SELECT CONCAT(TRIGGER_NAME, ':', SQL_MODE) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {schema} \
                     UNION ALL SELECT CONCAT_WS(':', EVENT_NAME, SQL_MODE, TIME_ZONE, EVENT_COMMENT, STATUS, INTERVAL_VALUE, INTERVAL_FIELD) \
                       FROM information_schema.EVENTS WHERE EVENT_SCHEMA = {schema}) modes"
                ),
            )
            .await
        }
    };
    let modes_before = modes(&db).await;
    assert!(
        modes_before.contains(r"purge:ANSI_QUOTES,NO_BACKSLASH_ESCAPES:+05:00:nightly\run:ENABLED:1:DAY"),
        "{modes_before}"
    );

    let DefinerPlan { plan, backups } = db.definer_plan(&old, Some(&old_app.database)).await.unwrap();
    assert_eq!(backups.len(), 5);
    // The backups name the old definer (quoted as the object's sql_mode
    // wants: ANSI_QUOTES makes it "…").
    let backtick = format!("DEFINER=`{}`@`%`", old.user.replace('`', "``"));
    let ansi = format!("DEFINER=\"{}\"@\"%\"", old.user.replace('"', "\"\""));
    for b in &backups {
        assert!(
            b.create_sql.contains(&backtick) || b.create_sql.contains(&ansi),
            "{}",
            b.create_sql
        );
    }
    let plan_previews = plan.previews();
    let plan_notes = plan.notes.clone();
    let recreate = match flavor() {
        MysqlFlavor::Mariadb => "CREATE OR REPLACE DEFINER='aws_db_admin'@'%' FUNCTION",
        MysqlFlavor::Mysql => "CREATE DEFINER='aws_db_admin'@'%' FUNCTION",
    };
    assert!(
        plan.previews().iter().any(|s| s.contains(recreate)),
        "{:#?}",
        plan.previews()
    );
    run(&db, &plan).await;

    let objects: Vec<DbObject> = backups.iter().map(|b| b.object.clone()).collect();
    let checks = db.verify_definers(&objects).await.unwrap();
    assert!(checks.iter().all(|c| c.problem.is_none()), "{checks:#?}");
    let now = db.objects(Some(&old_app.database)).await.unwrap();
    assert!(now.iter().all(|o| o.owner == "aws_db_admin@%"), "{now:?}");
    assert_eq!(
        modes(&db).await,
        modes_before,
        "sql_mode, time zone, comment and schedule kept"
    );
    // Each re-created definition is kept as sent alone: one sent inside a
    // multi-statement query keeps its `;`, which mysqldump writes inside its
    // `/*!50003 … */` and the mysql client loading the dump fails on (1064).
    {
        use sqlx::{ConnectOptions, Row};
        let mut root = sqlx::mysql::MySqlConnectOptions::from_url(&server().root_url().parse().unwrap())
            .unwrap()
            .connect()
            .await
            .unwrap();
        for (what, column) in [
            (format!("TRIGGER {d}.`lower-name`"), 2),
            (format!("PROCEDURE {d}.`p``1`"), 2),
            (format!("FUNCTION {d}.`f'1`"), 2),
        ] {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!("SHOW CREATE {what}")))
                .fetch_one(&mut root)
                .await
                .unwrap();
            let text: String = row
                .try_get::<String, _>(column)
                .or_else(|_| {
                    row.try_get::<Vec<u8>, _>(column)
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                })
                .unwrap();
            assert!(!text.trim_end().ends_with(';'), "{what}: {text}");
        }
    }
    assert!(
        db.definer_plan(&old, None).await.unwrap().plan.is_empty(),
        "second run: nothing to do"
    );
    assert!(
        db.verify_grants_equivalent(&account(&other), &account(&other))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        db.grants(&account(&other))
            .await
            .unwrap()
            .iter()
            .any(|g| g.kind == GrantKind::Routine),
        "the routine grant survived: {:?} {:#?} {:?}",
        db.grants(&account(&other)).await.unwrap(),
        plan_previews,
        plan_notes
    );

    // With the old user gone, everything still works.
    assert_eq!(settled_count(&db, &old.user, 0).await, 0);
    run(&db, &db.drop_user_plan(&old, false).await.unwrap()).await;
    assert_eq!(
        scalar(&db, &format!("SELECT n FROM {d}.`active users`")).await,
        "2"
    );
    assert_eq!(scalar(&db, &format!("SELECT {d}.`f'1`()")).await, f_before);
    assert_eq!(f_before, "10");
    db.execute(&[Statement::new(format!(
        "INSERT INTO {d}.`us-ers` VALUES (3, 'CAROL')"
    ))])
    .await
    .expect("the trigger runs");
    assert_eq!(
        scalar(&db, &format!("SELECT name FROM {d}.`us-ers` WHERE id = 3")).await,
        "carol"
    );
}

/// One value from a query run by the admin, as text.
async fn scalar(db: &MysqlDb, sql: &str) -> String {
    db.query_scalar(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or_default()
}

flavored!(kill_goes_through_rds_kill_and_drop_waits_for_it);
async fn kill_goes_through_rds_kill_and_drop_waits_for_it() {
    let db = admin().await;
    let app = app("signon").await;
    let old = account(&app);
    let mut held = Vec::new();
    for _ in 0..2 {
        use sqlx::Connection;
        held.push(sqlx::MySqlConnection::connect(&app_url(&app)).await.unwrap());
    }
    let err = db.drop_user_plan(&old, false).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Refused);
    assert!(err.to_string().contains("2 connection(s)"), "{err}");

    let plan = db.kill_user_plan(&app.user).await.unwrap();
    assert_eq!(plan.statements.len(), 2);
    assert!(
        plan.previews()
            .iter()
            .all(|s| s.starts_with("CALL mysql.rds_kill(")),
        "{:?}",
        plan.previews()
    );
    // RDS's master user cannot KILL another user's thread itself.
    let ids = db.connections(true).await.unwrap();
    let id = ids
        .rows
        .iter()
        .find(|r| r.user.as_deref() == Some(app.user.as_str()))
        .unwrap()
        .id;
    let err = db
        .execute(&[Statement::new(format!("KILL {id}"))])
        .await
        .unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Privilege, "{err}");

    run(&db, &plan).await;
    assert_eq!(settled_count(&db, &app.user, 0).await, 0);
    assert!(db.kill_user_plan(&app.user).await.unwrap().is_empty());

    let plan = db.drop_user_plan(&old, false).await.unwrap();
    assert_eq!(plan.previews(), [format!("DROP USER '{}'@'%'", app.user)]);
    run(&db, &plan).await;
    assert!(!db.user_exists(&old).await.unwrap());
    assert!(
        db.drop_user_plan(&old, false).await.unwrap().is_empty(),
        "second run: nothing to do"
    );
    drop(held);
}

flavored!(drop_is_refused_while_the_user_defines_objects_unless_forced);
async fn drop_is_refused_while_the_user_defines_objects_unless_forced() {
    let db = admin().await;
    let app = app("definer").await;
    let as_app = MysqlDb::connect(&app_url(&app)).await.unwrap();
    as_app
        .execute(&[Statement::new("CREATE VIEW v AS SELECT 1 AS one")])
        .await
        .unwrap();
    as_app.close().await;
    assert_eq!(settled_count(&db, &app.user, 0).await, 0);
    let err = db.drop_user_plan(&account(&app), false).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Refused);
    assert!(err.to_string().contains("view"), "{err}");
    let plan = db.drop_user_plan(&account(&app), true).await.unwrap();
    assert_eq!(plan.statements.len(), 1);
    assert!(plan.notes.iter().any(|n| n.contains("1449")), "{:?}", plan.notes);

    // What the interlock prevents: MariaDB drops the definer silently and
    // the view breaks; the checks say so.
    let objects = db
        .objects_defined_by(&account(&app), Some(&app.database))
        .await
        .unwrap();
    run(&db, &plan).await;
    let view = format!("SELECT one FROM {}.v", mysql_ident(&app.database));
    let err = db.query_scalar(&view).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Privilege, "{err}");
    assert!(err.hint.as_deref().unwrap_or("").contains("definer"), "{err:?}");
    let checks = db.verify_definers(&objects).await.unwrap();
    assert!(
        checks[0]
            .problem
            .as_deref()
            .unwrap_or("")
            .contains("not aws_db_admin@%"),
        "{checks:?}"
    );

    let err = db.drop_user_plan(db.admin(), true).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Refused);
}

flavored!(hostile_names_work_end_to_end_and_never_inject);
async fn hostile_names_work_end_to_end_and_never_inject() {
    let db = admin().await;
    for hint in [
        HOSTILE,
        "x'; DROP DATABASE mysql; --",
        "a`; DROP USER `aws_db_admin",
        "üñí-cødé%_",
    ] {
        let old_app = app(hint).await;
        let old = account(&old_app);
        assert!(db.user_exists(&old).await.unwrap(), "{hint}");
        // The product's own naming: long (hostile) names are shortened to
        // MySQL's 32 characters.
        let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 21).unwrap();
        let new = Account::new(
            rotui::target::new_username(&old_app.user, rotui::target::Engine::Mysql, day, |_| false),
            "%",
        );
        let password = secret::generate_password();
        run(&db, &db.create_user_plan(&new, &password).await.unwrap()).await;
        run(&db, &db.clone_grants_plan(&old, &new).await.unwrap()).await;
        assert!(
            db.verify_grants_equivalent(&old, &new).await.unwrap().is_empty(),
            "{hint}"
        );
        test_login(
            server().host(),
            server().port(),
            &new.user,
            &password,
            Some(&old_app.database),
        )
        .await
        .unwrap_or_else(|e| panic!("{hint}: {e}"));
        let as_new =
            MysqlDb::connect(&server().url(&new.user, password.expose_secret(), Some(&old_app.database)))
                .await
                .unwrap();
        as_new
            .execute(&[Statement::new("CREATE TABLE t (id INT)")])
            .await
            .expect("the new user has the app's rights");
        as_new.close().await;
        run(&db, &db.drop_user_plan(&old, false).await.unwrap()).await;
        assert!(!db.user_exists(&old).await.unwrap());
    }
    assert!(db.user_exists(&Account::new("aws_db_admin", "%")).await.unwrap());
    assert!(db.users().await.unwrap().iter().any(|u| u.name == "root"));
}

flavored!(the_pool_never_holds_more_than_two_connections);
async fn the_pool_never_holds_more_than_two_connections() {
    let s = server();
    let sfx = unique_suffix();
    let user = format!("watcher{sfx}");
    let password = secret::generate_password();
    s.admin_exec(&[
        format!(
            "CREATE USER '{user}'@'%' IDENTIFIED BY {}",
            mysql_str(password.expose_secret())
        ),
        format!("GRANT PROCESS, SELECT ON *.* TO '{user}'@'%'"),
    ])
    .await
    .unwrap();
    let db = MysqlDb::connect(&s.url(&user, password.expose_secret(), None))
        .await
        .unwrap();
    let observer = admin().await;
    let busy = futures::future::join_all((0..20).map(|_| db.query_scalar("SELECT SLEEP(0.05)"))).await;
    assert!(busy.iter().all(|r| r.is_ok()));
    let peak = futures::future::join_all((0..10).map(|_| db.query_scalar("SELECT SLEEP(0.1)")));
    let watch = async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        observer.connection_count(&user).await.unwrap()
    };
    let (_, seen) = tokio::join!(peak, watch);
    assert!((1..=2).contains(&seen), "saw {seen} connections");
}

flavored!(slow_queries_time_out_with_a_clear_error);
async fn slow_queries_time_out_with_a_clear_error() {
    // (Long enough for a TLS login to MySQL 9.7 on a busy machine, far
    // shorter than the query.)
    let db = admin().await.with_timeout(std::time::Duration::from_millis(1500));
    let err = db.query_scalar("SELECT SLEEP(5)").await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Timeout, "{err}");
    // The abandoned connection is closed at once, not kept (draining the old
    // answer) in one of the pool's two slots: two queries at once still run.
    let (a, b) = tokio::join!(db.query_scalar("SELECT SLEEP(0.1)"), db.query_scalar("SELECT 42"));
    a.expect("first slot free");
    assert_eq!(b.expect("second slot free").as_deref(), Some("42"));
}

flavored!(
    a_held_table_lock_gives_a_lock_timeout_and_a_retry_succeeds,
    trusting
);
async fn a_held_table_lock_gives_a_lock_timeout_and_a_retry_succeeds() {
    use sqlx::{Connection, Executor};
    let db = admin().await.with_timeout(std::time::Duration::from_secs(2));
    let app = app("locked").await;
    let as_app = MysqlDb::connect(&app_url(&app)).await.unwrap();
    as_app
        .execute(&[
            Statement::new("CREATE TABLE t (id INT)"),
            Statement::new("CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW SET NEW.id = NEW.id + 1"),
        ])
        .await
        .unwrap();
    as_app.close().await;
    // The app is in the middle of a transaction that read the table.
    let mut busy = sqlx::MySqlConnection::connect(&app_url(&app)).await.unwrap();
    busy.execute("START TRANSACTION").await.unwrap();
    busy.execute("SELECT * FROM t").await.unwrap();

    let plan = db
        .definer_plan(&account(&app), Some(&app.database))
        .await
        .unwrap()
        .plan;
    let started = std::time::Instant::now();
    let err = db.execute(&plan.statements).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::LockTimeout, "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "the server gave up first"
    );
    assert!(err.hint.as_deref().unwrap_or("").contains("retry"), "{err:?}");

    busy.execute("COMMIT").await.unwrap();
    let plan = db
        .definer_plan(&account(&app), Some(&app.database))
        .await
        .unwrap()
        .plan;
    run(&db, &plan).await;
    assert!(
        db.definer_plan(&account(&app), None)
            .await
            .unwrap()
            .plan
            .is_empty()
    );
    busy.close().await.unwrap();
}

flavored!(one_connection_can_be_killed_alone);
async fn one_connection_can_be_killed_alone() {
    use sqlx::Connection;
    let db = admin().await;
    let app = app("signon").await;
    let mut a = sqlx::MySqlConnection::connect(&app_url(&app)).await.unwrap();
    let mut b = sqlx::MySqlConnection::connect(&app_url(&app)).await.unwrap();
    let a_id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
        .fetch_one(&mut a)
        .await
        .unwrap();
    let kill = db.kill_statement(a_id as i64);
    assert_eq!(kill.preview(), format!("CALL mysql.rds_kill({a_id})"));
    run(
        &db,
        &WritePlan {
            statements: vec![kill],
            notes: vec![],
        },
    )
    .await;
    assert!(a.ping().await.is_err(), "the killed session is gone");
    b.ping().await.expect("the other session lives");
    assert_eq!(settled_count(&db, &app.user, 1).await, 1);
    b.close().await.unwrap();
}

flavored!(nothing_prints_a_password);
async fn nothing_prints_a_password() {
    let s = server();
    let db = admin().await;
    let app = app("signon").await;
    let admin_pw = s.admin_password();
    let shown = format!("{s:?} {db:?} {app:?} {:?}", db.flavor());
    for pw in [admin_pw.expose_secret(), app.password.expose_secret()] {
        assert!(!shown.contains(pw), "a password leaked into Debug output");
    }
    // A server error that echoes the statement back (1064 quotes the text
    // "near" the mistake) does not echo the password.
    let pw = secret::generate_password();
    let broken = Statement::with_password(
        format!(
            "CREATE USER 'x{}'@'%' IDENTIFIED BYY {}",
            unique_suffix(),
            Statement::PASSWORD
        ),
        pw.clone(),
        mysql_str,
    );
    let err = db.execute(&[broken]).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("1064"), "{err}");
    assert!(
        err.message.contains("near 'BYY"),
        "the server did echo the statement: {err}"
    );
    assert!(!format!("{err} {err:?}").contains(pw.expose_secret()), "{err}");
    // Driver errors that echo a URL are redacted too.
    let err = MysqlDb::connect(&format!(
        "mysql://u:{}@256.0.0.1:1/x",
        app.password.expose_secret()
    ))
    .await
    .unwrap_err();
    assert!(!format!("{err} {err:?}").contains(app.password.expose_secret()));
}

flavored!(quoting_holds_when_the_server_defaults_to_no_backslash_escapes);
async fn quoting_holds_when_the_server_defaults_to_no_backslash_escapes() {
    // A server of its own: the global sql_mode change must not leak into
    // the other tests.
    let f = flavor();
    let s = tokio::task::spawn_blocking(move || MysqlServer::start_flavor(f))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("a second {f} server: {e}"));
    s.root_exec(&["SET GLOBAL sql_mode = CONCAT(@@GLOBAL.sql_mode, ',NO_BACKSLASH_ESCAPES')".into()])
        .await
        .unwrap();
    let db = MysqlDb::connect(&s.admin_url(None)).await.unwrap();
    let user = Account::new(r"q'u\o%te-user", "%");
    let password = secret::secret(r#"p'a\"ss\\w0rd%`x"#);
    run(&db, &db.create_user_plan(&user, &password).await.unwrap()).await;
    test_login(s.host(), s.port(), &user.user, &password, None)
        .await
        .expect("the password arrived byte for byte");
    assert!(db.user_exists(&user).await.unwrap());
    db.close().await;

    // Without mysql.rds_kill the server is not taken for RDS, and sessions
    // end with a plain KILL (here by root, who may).
    s.root_exec(&[
        "DROP PROCEDURE mysql.rds_kill".into(),
        "DROP PROCEDURE mysql.rds_kill_query".into(),
    ])
    .await
    .unwrap();
    let root = MysqlDb::connect(&s.root_url()).await.unwrap();
    assert!(!root.flavor().rds);
    let held = {
        use sqlx::Connection;
        sqlx::MySqlConnection::connect(&s.url(&user.user, password.expose_secret(), None))
            .await
            .unwrap()
    };
    let plan = root.kill_user_plan(&user.user).await.unwrap();
    assert_eq!(plan.previews().len(), 1);
    assert!(
        plan.previews()[0].starts_with("KILL CONNECTION "),
        "{:?}",
        plan.previews()
    );
    run(&root, &plan).await;
    assert_eq!(settled_count(&root, &user.user, 0).await, 0);
    drop(held);
}

flavored!(a_drain_of_many_sessions_is_counted_by_one_cheap_query);
async fn a_drain_of_many_sessions_is_counted_by_one_cheap_query() {
    use sqlx::Connection;
    let db = admin().await;
    let app = app("busy").await;
    let url = app_url(&app);
    let held: Vec<sqlx::MySqlConnection> =
        futures::future::try_join_all((0..150).map(|_| sqlx::MySqlConnection::connect(&url)))
            .await
            .unwrap();
    let started = std::time::Instant::now();
    let snap = db.connections(true).await.unwrap();
    let took = started.elapsed();
    let count = snap
        .counts
        .iter()
        .find(|c| c.user.as_deref() == Some(app.user.as_str()))
        .unwrap()
        .count;
    assert_eq!(count, 150);
    eprintln!(
        "one refresh with {} sessions on the server took {took:?}",
        snap.rows.len()
    );
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
    futures::future::join_all(held.into_iter().map(|c| c.close())).await;
    assert_eq!(settled_count(&db, &app.user, 0).await, 0);
}

/// `user`'s connection count once it reaches `want` (threads take a moment
/// to leave PROCESSLIST after a kill or quit), or after 5 s, whatever it is.
async fn settled_count(db: &MysqlDb, user: &str, want: i64) -> i64 {
    for _ in 0..100 {
        let n = db.connection_count(user).await.unwrap();
        if n == want {
            return n;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    db.connection_count(user).await.unwrap()
}

flavored!(trigger_order_survives_definer_migration, trusting);
async fn trigger_order_survives_definer_migration() {
    let db = admin().await;
    let app = app("triggers").await;
    let as_app = MysqlDb::connect(&app_url(&app)).await.unwrap();
    as_app
        .execute(&[
            Statement::new("CREATE TABLE t (id INT)"),
            Statement::new("CREATE TRIGGER a BEFORE INSERT ON t FOR EACH ROW SET NEW.id = NEW.id + 1"),
            Statement::new("CREATE TRIGGER b BEFORE INSERT ON t FOR EACH ROW SET NEW.id = NEW.id * 10"),
            Statement::new(
                "CREATE TRIGGER c BEFORE INSERT ON t FOR EACH ROW FOLLOWS a SET NEW.id = NEW.id - 1",
            ),
        ])
        .await
        .unwrap();
    as_app.close().await;
    let d = mysql_ident(&app.database);
    let order = |db: MysqlDb| {
        let schema = mysql_str(&app.database);
        async move {
            scalar(
                &db,
                &format!(
                    "SELECT GROUP_CONCAT(TRIGGER_NAME ORDER BY ACTION_ORDER) FROM information_schema.TRIGGERS \
                     WHERE TRIGGER_SCHEMA = {schema}"
                ),
            )
            .await
        }
    };
    assert_eq!(order(db.clone()).await, "a,c,b");
    let plan = db
        .definer_plan(&account(&app), Some(&app.database))
        .await
        .unwrap()
        .plan;
    run(&db, &plan).await;
    assert_eq!(order(db.clone()).await, "a,c,b", "{:#?}", plan.previews());
    db.execute(&[Statement::new(format!("INSERT INTO {d}.t VALUES (1)"))])
        .await
        .unwrap();
    // ((1 + 1) - 1) * 10
    assert_eq!(scalar(&db, &format!("SELECT id FROM {d}.t")).await, "10");
    assert!(
        db.definer_plan(&account(&app), None)
            .await
            .unwrap()
            .plan
            .is_empty()
    );
}

flavored!(no_password_reaches_the_logs);
async fn no_password_reaches_the_logs() {
    let (captured, _capturing) = crate::support::capture_logs().await;

    let db = admin().await;
    let new = Account::new(format!("logs_{}", unique_suffix()), "%");
    let password = secret::generate_password();
    db.execute(&db.create_user_plan(&new, &password).await.unwrap().statements)
        .await
        .unwrap();
    test_login(server().host(), server().port(), &new.user, &password, None)
        .await
        .unwrap();

    let logs = captured.text();
    assert!(
        logs.contains("CREATE USER"),
        "statements are logged, masked: {logs}"
    );
    assert!(!logs.contains(password.expose_secret()), "{logs}");
    assert!(
        !logs.contains(server().admin_password().expose_secret()),
        "{logs}"
    );
}

/// A function and a trigger defined by `app` (made by root, who may, as
/// the app's own migrations once did), and a table the trigger writes.
async fn function_and_trigger(app: &AppAccount) {
    let db = mysql_ident(&app.database);
    let definer = rotui::db::ident::mysql_account(&app.user, &app.host);
    server()
        .root_exec(&[
            format!("CREATE TABLE {db}.t (id INT, doubled INT)"),
            format!(
                "CREATE DEFINER = {definer} FUNCTION {db}.twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2"
            ),
            format!(
                "CREATE DEFINER = {definer} TRIGGER {db}.fill BEFORE INSERT ON {db}.t \
                 FOR EACH ROW SET NEW.doubled = NEW.id * 2"
            ),
        ])
        .await
        .unwrap();
}

/// (kind, name, definer) of the app database's routines and triggers.
async fn routines_and_triggers(db: &MysqlDb, app: &AppAccount) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = db
        .objects(Some(&app.database))
        .await
        .unwrap()
        .into_iter()
        .filter(|o| matches!(o.kind.as_str(), "function" | "trigger"))
        .map(|o| (o.kind, o.name, o.owner))
        .collect();
    out.sort();
    out
}

// Loss #1: on MySQL, with binary logging on and log_bin_trust_function_creators
// OFF (MySQL's and RDS's default), a non-SUPER admin's DROP + CREATE of a
// function or trigger used to drop it and then fail (1419). Now the plan is
// refused before anything is dropped, and the objects are untouched.
flavored!(a_function_and_a_trigger_survive_a_refused_definer_migration);
async fn a_function_and_a_trigger_survive_a_refused_definer_migration() {
    let db = admin().await;
    let app = app("trustoff").await;
    function_and_trigger(&app).await;
    let before = routines_and_triggers(&db, &app).await;
    assert_eq!(before.len(), 2, "{before:?}");
    match flavor() {
        MysqlFlavor::Mysql => {
            let check = db.recreate_check().await.unwrap();
            assert!(
                check.log_bin && !check.trust_function_creators && !check.admin_has_super,
                "{check:?}"
            );
            let err = db
                .definer_plan(&account(&app), Some(&app.database))
                .await
                .unwrap_err();
            assert_eq!(err.kind, DbErrorKind::Refused, "{err}");
            let shown = format!("{err} {}", err.hint.as_deref().unwrap_or(""));
            assert!(shown.contains("log_bin_trust_function_creators"), "{shown}");
            assert!(shown.contains("parameter group"), "{shown}");
            assert!(shown.contains("function") && shown.contains("trigger"), "{shown}");
            // Even a plan made elsewhere (or before the variable changed)
            // drops nothing: the executor checks again before each DROP.
            let stale = Statement::new(format!(
                "DROP FUNCTION {}.`twice`;\nCREATE DEFINER=CURRENT_USER FUNCTION `twice`(x INT) RETURNS INT DETERMINISTIC RETURN x * 2",
                mysql_ident(&app.database)
            ))
            .in_database(&app.database);
            let err = db.execute(&[stale]).await.unwrap_err();
            assert_eq!(err.kind, DbErrorKind::Refused, "{err}");
        }
        MysqlFlavor::Mariadb => {
            // Binary logging is off on this MariaDB, and MariaDB re-creates with
            // CREATE OR REPLACE (nothing dropped): the move goes ahead.
            let plan = db
                .definer_plan(&account(&app), Some(&app.database))
                .await
                .unwrap();
            run(&db, &plan.plan).await;
        }
    }
    let after = routines_and_triggers(&db, &app).await;
    assert_eq!(after.len(), 2, "both objects still exist: {after:?}");
    assert_eq!(
        scalar(&db, &format!("SELECT {}.twice(21)", mysql_ident(&app.database))).await,
        "42"
    );
    if flavor() == MysqlFlavor::Mysql {
        assert_eq!(after, before, "untouched");
    }
}

// Loss #1, the other half: with the variable ON (the RDS fix), the same
// objects move to the admin and keep working; each was backed up (0600) first.
flavored!(a_function_and_a_trigger_migrate_when_trust_is_on, trusting);
async fn a_function_and_a_trigger_migrate_when_trust_is_on() {
    let db = admin().await;
    let app = app("trustson").await;
    function_and_trigger(&app).await;
    // Loss #2: a third user's EXECUTE on the function must survive its DROP.
    let third = app_named("third").await;
    let q = mysql_ident(&app.database);
    server()
        .admin_exec(&[format!(
            "GRANT EXECUTE ON FUNCTION {q}.`twice` TO {}",
            account(&third).sql()
        )])
        .await
        .unwrap();
    let plan = db
        .definer_plan(&account(&app), Some(&app.database))
        .await
        .unwrap();
    assert_eq!(plan.backups.len(), 2);
    let statements = plan.statements_with_notes();
    let previews: Vec<String> = statements.iter().map(Statement::preview).collect();
    if flavor() == MysqlFlavor::Mysql {
        // The notes reach the previews (and so `rotui plan`, the step list and the journal).
        assert!(
            previews[0].contains("-- note:") && previews[0].contains(&third.user),
            "{previews:#?}"
        );
        assert!(
            previews.iter().any(|p| p.contains("GRANT EXECUTE ON FUNCTION")),
            "{previews:#?}"
        );
    }
    db.execute(&statements).await.unwrap();
    let as_third = MysqlDb::connect(&app_url(&third)).await.unwrap();
    assert_eq!(
        as_third
            .query_scalar(&format!("SELECT {q}.twice(3)"))
            .await
            .unwrap()
            .as_deref(),
        Some("6"),
        "the third user can still call the re-created function"
    );
    as_third.close().await;
    let after = routines_and_triggers(&db, &app).await;
    assert_eq!(after.len(), 2, "{after:?}");
    for (kind, name, owner) in &after {
        assert!(
            owner.starts_with("aws_db_admin@"),
            "{kind} {name} is defined by {owner}"
        );
    }
    assert_eq!(scalar(&db, &format!("SELECT {q}.twice(4)")).await, "8");
    server()
        .admin_exec(&[format!("INSERT INTO {q}.t (id) VALUES (5)")])
        .await
        .unwrap();
    assert_eq!(
        scalar(&db, &format!("SELECT doubled FROM {q}.t WHERE id = 5")).await,
        "10"
    );
}

// If a re-creation fails anyway after its DROP ran, the object is restored
// from its backup at once, and the error says so (not just "statement 1 of 1
// failed").
flavored!(a_failed_re_creation_is_restored_and_said, trusting);
async fn a_failed_re_creation_is_restored_and_said() {
    let db = admin().await;
    let app = app("restore").await;
    function_and_trigger(&app).await;
    let q = mysql_ident(&app.database);
    let broken = Statement::new(format!(
        "DROP FUNCTION {q}.`twice`;\nCREATE FUNCTION `twice`(x INT) RETURNS INT DETERMINISTIC RETURN no_such_column +"
    ))
    .in_database(&app.database);
    let err = db.execute(&[broken]).await.unwrap_err();
    let shown = err.to_string();
    assert!(
        shown.contains("DROP FUNCTION") && shown.contains("ran"),
        "{shown}"
    );
    assert!(shown.contains("restored from the backup"), "{shown}");
    assert_eq!(scalar(&db, &format!("SELECT {q}.twice(21)")).await, "42");
    let still = routines_and_triggers(&db, &app).await;
    // MySQL's master may name any definer (SET_ANY_DEFINER); RDS MariaDB's
    // cannot (no SET USER), so there it comes back defined by the admin.
    let definer = match flavor() {
        MysqlFlavor::Mysql => app.user.as_str(),
        MysqlFlavor::Mariadb => "aws_db_admin",
    };
    assert!(
        still
            .iter()
            .any(|(k, n, o)| k == "function" && n == "twice" && o.starts_with(definer)),
        "restored, defined by {definer}: {still:?}"
    );
    // The backup is a private file in the state directory.
    let path = shown.rsplit("Backup: ").next().unwrap().trim();
    let path = std::path::Path::new(path.split_whitespace().next().unwrap());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", path.display());
    assert!(std::fs::read_to_string(path).unwrap().contains("RETURN x * 2"));
}

// Loss #6: the estate's longest MySQL app name makes a 35-character user
// name; it is shortened to 32, keeps the date, and works.
flavored!(a_35_character_user_name_is_shortened_and_works);
async fn a_35_character_user_name_is_shortened_and_works() {
    let db = admin().await;
    let old_app = app("cp").await;
    let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
    assert_eq!("collections-publisher_user_20261203".len(), 35);
    let mut taken = Vec::new();
    for _ in 0..2 {
        let name =
            rotui::target::new_username("collections-publisher", rotui::target::Engine::Mysql, day, |n| {
                taken.contains(&n.to_owned())
            });
        assert!(name.chars().count() <= 32 && name.contains("20261203"), "{name}");
        let new = Account::new(&name, "%");
        let password = secret::generate_password();
        run(&db, &db.create_user_plan(&new, &password).await.unwrap()).await;
        run(
            &db,
            &db.clone_grants_plan(&account(&old_app), &new).await.unwrap(),
        )
        .await;
        test_login(
            server().host(),
            server().port(),
            &name,
            &password,
            Some(&old_app.database),
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        taken.push(name);
    }
    assert_ne!(taken[0], taken[1]);
}

// Loss #3 / #5: account options are cloned, and verification compares them:
// a difference in any of them makes the users not equivalent.
flavored!(account_options_are_cloned_and_compared);
async fn account_options_are_cloned_and_compared() {
    let db = admin().await;
    let old_app = app("opts").await;
    let old = account(&old_app);
    let o = old.sql();
    let setup: Vec<String> = match flavor() {
        MysqlFlavor::Mysql => vec![
            format!(
                "ALTER USER {o} REQUIRE SUBJECT '/CN=signon' AND ISSUER '/CN=ca' AND CIPHER 'ECDHE-RSA-AES256-GCM-SHA384' \
                 WITH MAX_QUERIES_PER_HOUR 1000 MAX_UPDATES_PER_HOUR 100 MAX_CONNECTIONS_PER_HOUR 50 MAX_USER_CONNECTIONS 7 \
                 PASSWORD EXPIRE INTERVAL 90 DAY PASSWORD HISTORY 5 PASSWORD REUSE INTERVAL 30 DAY \
                 PASSWORD REQUIRE CURRENT OPTIONAL FAILED_LOGIN_ATTEMPTS 3 PASSWORD_LOCK_TIME 2"
            ),
            format!("ALTER USER {o} ATTRIBUTE '{{\"team\": \"govuk\", \"owner\": \"signon\"}}'"),
            format!("ALTER USER {o} COMMENT 'signon app user'"),
        ],
        MysqlFlavor::Mariadb => vec![format!(
            "ALTER USER {o} REQUIRE SSL WITH MAX_USER_CONNECTIONS 7 MAX_QUERIES_PER_HOUR 1000"
        )],
    };
    server().admin_exec(&setup).await.unwrap();
    let new = Account::new(
        format!("{}n", old_app.user.chars().take(30).collect::<String>()),
        "%",
    );
    let password = secret::generate_password();
    run(&db, &db.create_user_plan(&new, &password).await.unwrap()).await;
    // Before cloning, the options differ, and verification says so.
    server()
        .admin_exec(&[format!(
            "GRANT ALL PRIVILEGES ON {}.* TO {}",
            mysql_ident(&old_app.database),
            new.sql()
        )])
        .await
        .unwrap();
    let diff = db.verify_grants_equivalent(&old, &new).await.unwrap();
    assert!(!diff.is_empty(), "options differ before cloning");
    assert!(
        diff.missing.iter().any(|m| m.contains("MAX_USER_CONNECTIONS 7")),
        "{diff:#?}"
    );
    let plan = db.clone_grants_plan(&old, &new).await.unwrap();
    assert!(
        !plan.previews().iter().any(|p| p.contains("IDENTIFIED")),
        "{:?}",
        plan.previews()
    );
    run(&db, &plan).await;
    let diff = db.verify_grants_equivalent(&old, &new).await.unwrap();
    assert!(diff.is_empty(), "{diff:#?}");
    assert!(
        db.clone_grants_plan(&old, &new).await.unwrap().is_empty(),
        "idempotent"
    );
    if flavor() == MysqlFlavor::Mysql {
        let a = db.account_options(&old).await.unwrap().unwrap();
        let b = db.account_options(&new).await.unwrap().unwrap();
        assert_eq!(a.atoms(), b.atoms());
        assert_eq!(b.failed_login_attempts, 3);
        assert_eq!(b.password_lock_time, "2");
        assert_eq!(b.expire, "INTERVAL 90 DAY");
        assert!(b.require.contains("SUBJECT '/CN=signon'"), "{}", b.require);
        assert!(
            b.metadata.contains("signon app user") && b.metadata.contains("govuk"),
            "{}",
            b.metadata
        );
        assert_eq!(b.plugin, "caching_sha2_password");
        // One option changed on the new user alone: verification fails again.
        server()
            .admin_exec(&[format!("ALTER USER {} FAILED_LOGIN_ATTEMPTS 4", new.sql())])
            .await
            .unwrap();
        let diff = db.verify_grants_equivalent(&old, &new).await.unwrap();
        assert!(
            diff.extra.iter().any(|e| e.contains("FAILED_LOGIN_ATTEMPTS 4")),
            "{diff:#?}"
        );
        assert!(!db.clone_grants_plan(&old, &new).await.unwrap().is_empty());
    }
    // "No more": a privilege the old user lacks makes them differ too.
    server()
        .admin_exec(&[format!("GRANT PROCESS ON *.* TO {}", new.sql())])
        .await
        .unwrap();
    let diff = db.verify_grants_equivalent(&old, &new).await.unwrap();
    assert!(diff.extra.iter().any(|e| e.contains("PROCESS")), "{diff:#?}");
    // …and the clone plan (what the rotation's verify step asks for) takes it away.
    let plan = db.clone_grants_plan(&old, &new).await.unwrap();
    assert!(
        plan.previews()
            .iter()
            .any(|p| p.starts_with("REVOKE PROCESS ON *.*")),
        "{:?}",
        plan.previews()
    );
    run(&db, &plan).await;
    let diff = db.verify_grants_equivalent(&old, &new).await.unwrap();
    assert!(diff.is_empty(), "{diff:#?}");
}
