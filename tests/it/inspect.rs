//! `rotui inspect --json` against the real servers: the read side as one
//! document, with no secret in it.

use std::process::Command;

use rotui::secret::{ExposeSecret, generate_password};
use rotui_sandbox::mariadb::{MysqlFlavor, MysqlServer};
use rotui_sandbox::postgres::PostgresServer;

fn inspect(args: &[&str]) -> (bool, String, String) {
    // A URL with a password goes in ROTUI_DB_URL: rotui refuses it as an
    // argument (anyone can read a command line).
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rotui"));
    let mut rest = args.iter();
    let mut kept = Vec::new();
    while let Some(a) = rest.next() {
        if *a == "--db-url" {
            cmd.env("ROTUI_DB_URL", rest.next().expect("--db-url's value"));
        } else {
            kept.push(*a);
        }
    }
    let out = cmd
        .arg("inspect")
        .args(kept)
        .env_remove("ROTUI_ENV")
        .env_remove("ROTUI_APP")
        .env_remove("ROTUI_ENGINE")
        .output()
        .expect("rotui runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// On each MySQL-family flavor (`…::mysql`, `…::mariadb`).
mod inspect_json_on_mysql_family_shows_users_grants_definers_and_connections {
    use super::*;

    #[tokio::test]
    async fn mysql() {
        inspect_json_on_mysql_family(MysqlFlavor::Mysql).await
    }

    #[tokio::test]
    async fn mariadb() {
        inspect_json_on_mysql_family(MysqlFlavor::Mariadb).await
    }
}

async fn inspect_json_on_mysql_family(flavor: MysqlFlavor) {
    let server = MysqlServer::shared_flavor(flavor);
    let app = server.create_app("insp").await.unwrap();
    let db = app.database.clone();
    server
        .root_exec(&[format!(
            "CREATE DEFINER = '{}'@'%' VIEW `{db}`.`v_users` AS SELECT 1 AS one",
            app.user
        )])
        .await
        .unwrap();
    let url = server.admin_url(Some(&db));
    let (ok, stdout, stderr) = inspect(&["--db-url", &url, "--user", &app.user, "--json"]);
    assert!(ok, "inspect failed: {stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON document");
    assert_eq!(doc["flavor"]["kind"], flavor.name());
    assert_eq!(doc["database"], db.as_str());
    let users = doc["users"].as_array().unwrap();
    assert!(users.iter().any(|u| u["name"] == app.user.as_str()));
    let grants = doc["grants"][0]["grants"].as_array().unwrap();
    assert!(
        grants
            .iter()
            .any(|g| g["raw"].as_str().unwrap().contains("ALL PRIVILEGES"))
    );
    let objects = doc["objects"].as_array().unwrap();
    assert!(
        objects
            .iter()
            .any(|o| o["name"] == "v_users" && o["owner"].as_str().unwrap().starts_with(&app.user))
    );
    assert!(doc["connections"]["counts"].as_array().is_some());
    for secret in [
        server.admin_password().expose_secret(),
        app.password.expose_secret(),
    ] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "a password leaked"
        );
    }
}

#[tokio::test]
async fn inspect_json_on_postgres_shows_owners_and_where_a_role_owns_objects() {
    let server = PostgresServer::shared();
    let user = format!("insp-app-{}", rotui_sandbox::mariadb::unique_suffix());
    let database = format!("{user}_production");
    let password = generate_password();
    server.seed_app(&user, &password, &database).await.unwrap();
    let url = server.admin_url(&database);
    let (ok, stdout, stderr) = inspect(&["--db-url", url.expose_secret(), "--user", &user, "--json"]);
    assert!(ok, "inspect failed: {stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["flavor"]["kind"], "postgres");
    let objects = doc["objects"].as_array().unwrap();
    assert!(
        objects
            .iter()
            .any(|o| o["kind"] == "table" && o["owner"] == user.as_str())
    );
    assert!(
        objects
            .iter()
            .any(|o| o["kind"] == "database" && o["owner"] == user.as_str())
    );
    let owned_in = doc["owned_in"].as_array().unwrap();
    assert!(owned_in.iter().any(|o| o["database"] == database.as_str()));
    for secret in [server.admin_password().expose_secret(), password.expose_secret()] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "a password leaked"
        );
    }
}

#[test]
fn inspect_with_a_wrong_password_says_so_without_echoing_it() {
    let server = PostgresServer::shared();
    let url = format!(
        "postgresql://aws_db_admin:WrongPassw0rdXYZ@127.0.0.1:{}/postgres",
        server.port()
    );
    let (ok, stdout, stderr) = inspect(&["--db-url", &url]);
    assert!(!ok);
    assert!(stderr.contains("password"), "{stderr}");
    assert!(!stderr.contains("WrongPassw0rdXYZ") && !stdout.contains("WrongPassw0rdXYZ"));
}
