//! The MySQL-family layer against a real throwaway MariaDB whose admin has
//! RDS's master-user privileges (no SUPER), shared by these tests; each test
//! makes its own databases and users.

use rotui::db::DbErrorKind;
use rotui::db::model::{FlavorKind, GrantKind};
use rotui::db::mysql::{Account, MysqlDb, test_login};
use rotui::sandbox::mariadb::{AppAccount, MariaDbServer, unique_suffix};
use rotui::secret::{self, ExposeSecret};

fn server() -> &'static MariaDbServer {
    MariaDbServer::shared()
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

fn account(app: &AppAccount) -> Account {
    Account::new(&app.user, &app.host)
}

#[tokio::test]
async fn connect_detects_mariadb_on_rds_and_the_admin() {
    let db = admin().await;
    let f = db.flavor();
    assert_eq!(f.kind, FlavorKind::Mariadb);
    assert!(f.version.contains("MariaDB"), "{}", f.version);
    assert!(f.rds, "mysql.rds_kill exists, so this looks like RDS");
    assert_eq!(db.admin(), &Account::new("aws_db_admin", "%"));
}

#[tokio::test]
async fn wrong_password_and_unreachable_server_are_clear_and_secret_free() {
    let s = server();
    let bad = s.url("aws_db_admin", "NotThePassword123", None);
    let err = MysqlDb::connect(&bad).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::BadPassword, "{err}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("NotThePassword123"), "{shown}");

    let closed = rotui::sandbox::guard::free_port();
    let url = format!("mysql://aws_db_admin:Sekr1tSekr1t@127.0.0.1:{closed}/x");
    let err = MysqlDb::connect(&url).await.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Unreachable, "{err}");
    assert!(!format!("{err} {err:?}").contains("Sekr1tSekr1t"));

    let err = MysqlDb::connect("postgres://nope").await.unwrap_err();
    assert!(err.to_string().contains("URL"), "{err}");
}

#[tokio::test]
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
    assert_eq!(admin_row.auth_plugin.as_deref(), Some("mysql_native_password"));

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

#[tokio::test]
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

#[tokio::test]
async fn objects_list_views_routines_triggers_and_events_with_definers() {
    let db = admin().await;
    let app = app("signon").await;
    let url = server().url(&app.user, app.password.expose_secret(), Some(&app.database));
    let app_db = MysqlDb::connect(&url).await.unwrap();
    app_db
        .execute(&[
            rotui::db::model::Statement::new("CREATE TABLE users (id INT PRIMARY KEY, name TEXT)"),
            rotui::db::model::Statement::new(
                "CREATE VIEW active_users_summary AS SELECT COUNT(*) AS n FROM users",
            ),
            rotui::db::model::Statement::new("CREATE PROCEDURE p() SELECT 1"),
            rotui::db::model::Statement::new("CREATE FUNCTION f() RETURNS INT DETERMINISTIC RETURN 1"),
            rotui::db::model::Statement::new(
                "CREATE TRIGGER trg BEFORE INSERT ON users FOR EACH ROW SET NEW.name = LOWER(NEW.name)",
            ),
            rotui::db::model::Statement::new(
                "CREATE EVENT ev ON SCHEDULE EVERY 1 DAY DO DELETE FROM users WHERE id < 0",
            ),
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

#[tokio::test]
async fn connections_are_counted_per_user_in_one_query() {
    let db = admin().await;
    let app = app("signon").await;
    let url = server().url(&app.user, app.password.expose_secret(), Some(&app.database));
    let app_conn = MysqlDb::connect(&url).await.unwrap();
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
    assert_eq!(
        snap.counts
            .iter()
            .find(|c| c.user.as_deref() == Some(app.user.as_str()))
            .unwrap()
            .count,
        3
    );
    drop(held);
    app_conn.close().await;
}

#[tokio::test]
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
    let _ = unique_suffix();
}
