//! Verified TLS to the database (issue 22): servers that require TLS, with
//! certificates from a throwaway CA (`rotui_sandbox::tls`), reached as
//! rotui reaches RDS. With the CA bundle every login — the admin's and the
//! test login as a new user — is verify-full; a wrong bundle or a server
//! presenting another name is refused at the admin's login, so before any
//! write, in words naming the file or the name; with no bundle, a server
//! that requires TLS still gets TLS (never plaintext), and only a server
//! that refuses TLS gets plaintext, said as such.

use std::path::PathBuf;

use rotui::db::tls::TlsMode;
use rotui::db::{Db, DbErrorKind};
use rotui::rotation::ports::DbPort;
use rotui::secret::{ExposeSecret, SecretString};
use rotui::target::Engine;
use rotui_sandbox::mariadb::MysqlServer;
use rotui_sandbox::postgres::{PgFlavor, PostgresServer};
use rotui_sandbox::tls::{LOCAL_NAMES, SandboxCa, ServerCert};

/// A CA, its bundle file, and a second CA's bundle (the wrong one).
struct Cas {
    dir: tempfile::TempDir,
    ca: SandboxCa,
    bundle: PathBuf,
    wrong_bundle: PathBuf,
}

fn cas() -> Cas {
    let dir = tempfile::tempdir().unwrap();
    let ca = SandboxCa::new("rotui test CA").unwrap();
    let bundle = dir.path().join("rds-global-bundle.pem");
    ca.write(&bundle).unwrap();
    let wrong_bundle = dir.path().join("another-ca.pem");
    SandboxCa::new("another CA")
        .unwrap()
        .write(&wrong_bundle)
        .unwrap();
    Cas {
        dir,
        ca,
        bundle,
        wrong_bundle,
    }
}

fn pg_tls(cert: &ServerCert) -> Option<PostgresServer> {
    if rotui_sandbox::postgres::skipping_pg17("tls::pg") {
        return None;
    }
    Some(PostgresServer::start_tls(PgFlavor::Pg17, cert).expect("PostgreSQL 17 starts with TLS"))
}

fn mysql_tls(cas: &Cas, cert: &ServerCert, name: &str) -> MysqlServer {
    let dir = cas.dir.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let files = cert.write(&dir, None).unwrap();
    let args = rotui_sandbox::tls::mysql_args(&cas.bundle, &files);
    rotui_sandbox::mysql::start(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .expect("MySQL 9.7 starts with TLS required")
}

fn pg_url(s: &PostgresServer) -> String {
    format!("postgresql://aws_db_admin@127.0.0.1:{}/postgres", s.port())
}

fn mysql_url(s: &MysqlServer) -> String {
    format!("mysql://aws_db_admin@127.0.0.1:{}", s.port())
}

/// Whether the admin's own session is encrypted, as the server sees it.
async fn server_says_tls(db: &Db) -> bool {
    db.session_encrypted().await.unwrap()
}

/// verify-full for the admin and for the test login as a new user; a wrong
/// bundle and another name refused at the admin's login, in words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_17_verify_full_and_its_refusals() {
    let cas = cas();
    let Some(server) = pg_tls(&cas.ca.server_cert(&LOCAL_NAMES).unwrap()) else {
        return;
    };
    let pw = server.admin_password().clone();
    let url = pg_url(&server);
    let verify = TlsMode::VerifyFull(cas.bundle.clone());

    let db = Db::connect_secured(Engine::Postgres, &url, Some(&pw), verify.clone())
        .await
        .expect("verify-full against the CA and the name 127.0.0.1");
    assert_eq!(db.tls(), &verify);
    assert_eq!(db.tls().label(), "TLS verified (CA rds-global-bundle.pem)");
    assert!(server_says_tls(&db).await, "the server sees an encrypted session");
    // The rotation's test login as a new user goes the same way.
    let Db::Postgres(pg) = &db else { unreachable!() };
    let password = rotui::secret::generate_password();
    pg.execute(&[rotui::db::Statement::new(format!(
        "CREATE ROLE tls_new LOGIN PASSWORD '{}'",
        password.expose_secret()
    ))])
    .await
    .unwrap();
    let port = rotui::rotation::adapters::PgPort::new((**pg).clone(), "127.0.0.1", server.port(), "postgres");
    port.test_login("tls_new", &password)
        .await
        .expect("the new user logs in, verify-full");

    // The wrong CA bundle: refused, naming the file and what to do.
    let wrong = TlsMode::VerifyFull(cas.wrong_bundle.clone());
    let e = Db::connect_secured(Engine::Postgres, &url, Some(&pw), wrong)
        .await
        .unwrap_err();
    assert_eq!(e.kind, DbErrorKind::Refused, "{e}");
    let text = e.to_string();
    assert!(text.contains("not signed by a CA in the bundle"), "{text}");
    assert!(text.contains("another-ca.pem"), "names the file: {text}");
    assert!(text.contains("ca_bundle"), "says what to do: {text}");
    // The same for the new user's login, had the admin's passed.
    let e = rotui::db::postgres::PgDb::test_login_secured(
        "127.0.0.1",
        server.port(),
        "tls_new",
        &password,
        "postgres",
        &TlsMode::VerifyFull(cas.wrong_bundle.clone()),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("another-ca.pem"), "{e}");
    assert!(!e.to_string().contains(password.expose_secret()));

    // A server presenting another name: refused, naming the name.
    let other = pg_tls(&cas.ca.server_cert(&["db.other.example"]).unwrap()).unwrap();
    let e = Db::connect_secured(
        Engine::Postgres,
        &pg_url(&other),
        Some(other.admin_password()),
        verify,
    )
    .await
    .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("not valid for the name 127.0.0.1"), "{text}");
    assert!(text.contains("RDS endpoint"), "says what to do: {text}");

    // No bundle: TLS all the same (the server requires it), said unverified.
    let db = Db::connect_secured(Engine::Postgres, &url, Some(&pw), TlsMode::Require)
        .await
        .unwrap();
    assert_eq!(db.tls(), &TlsMode::Require);
    assert!(server_says_tls(&db).await);
}

/// The same on MySQL 9.7 with `require_secure_transport=ON`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_97_verify_identity_and_its_refusals() {
    let cas = cas();
    let server = mysql_tls(&cas, &cas.ca.server_cert(&LOCAL_NAMES).unwrap(), "right");
    let pw = server.admin_password();
    let url = mysql_url(&server);
    let verify = TlsMode::VerifyFull(cas.bundle.clone());

    let db = Db::connect_secured(Engine::Mysql, &url, Some(&pw), verify.clone())
        .await
        .expect("VERIFY_IDENTITY against the CA and the name 127.0.0.1");
    assert_eq!(db.tls(), &verify);
    assert!(server_says_tls(&db).await, "the server sees an encrypted session");
    let Db::Mysql(my) = &db else { unreachable!() };
    let password = rotui::secret::generate_password();
    my.execute(&[
        rotui::db::Statement::new("CREATE DATABASE tls_app"),
        rotui::db::Statement::new(format!(
            "CREATE USER 'tls_new'@'%' IDENTIFIED BY '{}'",
            password.expose_secret()
        )),
        rotui::db::Statement::new("GRANT ALL ON tls_app.* TO 'tls_new'@'%'"),
    ])
    .await
    .unwrap();
    let port = rotui::rotation::adapters::MysqlPort::new(my.clone(), "127.0.0.1", server.port(), "tls_app");
    port.test_login("tls_new", &password)
        .await
        .expect("the new user logs in, verified");

    let e = Db::connect_secured(
        Engine::Mysql,
        &url,
        Some(&pw),
        TlsMode::VerifyFull(cas.wrong_bundle.clone()),
    )
    .await
    .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("not signed by a CA in the bundle"), "{text}");
    assert!(text.contains("another-ca.pem"), "{text}");

    let other = mysql_tls(&cas, &cas.ca.server_cert(&["db.other.example"]).unwrap(), "other");
    let e = Db::connect_secured(
        Engine::Mysql,
        &mysql_url(&other),
        Some(&other.admin_password()),
        verify,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("not valid for the name 127.0.0.1"), "{e}");

    let db = Db::connect_secured(Engine::Mysql, &url, Some(&pw), TlsMode::Require)
        .await
        .unwrap();
    assert_eq!(db.tls(), &TlsMode::Require);
    assert!(server_says_tls(&db).await);
}

/// A server that refuses TLS: plaintext without a bundle (said, and warned
/// about), refused with one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_only_where_the_server_refuses_tls_and_never_with_a_bundle() {
    let cas = cas();
    // The shared plaintext test server.
    let server = PostgresServer::shared_of(PgFlavor::Pg15);
    let url = pg_url(server);
    let pw: SecretString = server.admin_password().clone();
    let db = Db::connect_secured(Engine::Postgres, &url, Some(&pw), TlsMode::Require)
        .await
        .unwrap();
    assert_eq!(db.tls(), &TlsMode::Plaintext);
    assert!(db.tls().warning().unwrap().starts_with("plaintext"));
    assert!(!server_says_tls(&db).await);
    let e = Db::connect_secured(
        Engine::Postgres,
        &url,
        Some(&pw),
        TlsMode::VerifyFull(cas.bundle.clone()),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("does not offer TLS"), "{e}");
}

/// rotui's own TLS end of `--tunnel` (PostgreSQL), with the server itself
/// as its upstream: the certificate is checked against the name given (the
/// RDS name from the secret), not the address connected to; a wrong bundle
/// or name is refused when the relay starts, before anything logs in; and
/// what goes through it is encrypted as the server sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tunnel_end_verifies_the_rds_name_not_the_local_address() {
    use rotui::db::tls_relay::TlsRelay;
    let cas = cas();
    // A certificate for the RDS-like name only: 127.0.0.1 would not pass.
    let rds = "content-store.abc.eu-west-1.rds.amazonaws.com";
    let Some(server) = pg_tls(&cas.ca.server_cert(&[rds]).unwrap()) else {
        return;
    };
    let upstream: std::net::SocketAddr = format!("127.0.0.1:{}", server.port()).parse().unwrap();
    let pw = server.admin_password().clone();

    let relay = TlsRelay::start(Engine::Postgres, upstream, &cas.bundle, rds)
        .await
        .expect("verified against the RDS name");
    let tls = TlsMode::VerifiedByTunnel {
        ca: cas.bundle.clone(),
        name: rds.to_owned(),
    };
    let local = relay.local_addr();
    let url = format!("postgresql://aws_db_admin@127.0.0.1:{}/postgres", local.port());
    let db = Db::connect_secured(Engine::Postgres, &url, Some(&pw), tls.clone())
        .await
        .expect("the admin logs in through rotui's TLS end");
    assert_eq!(
        db.tls().label(),
        "TLS verified (CA rds-global-bundle.pem, tunnel)"
    );
    assert!(
        server_says_tls(&db).await,
        "the server sees TLS, though sqlx spoke plaintext to the relay"
    );
    // The same server by its address is refused: the name is what is checked.
    let e = Db::connect_secured(
        Engine::Postgres,
        &pg_url(&server),
        Some(&pw),
        TlsMode::VerifyFull(cas.bundle.clone()),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("not valid for the name 127.0.0.1"), "{e}");

    // Another name, another CA: refused as the relay starts, in words.
    let e = TlsRelay::start(
        Engine::Postgres,
        upstream,
        &cas.bundle,
        "signon.abc.eu-west-1.rds.amazonaws.com",
    )
    .await
    .err()
    .expect("another name is refused");
    assert!(
        e.to_string()
            .contains("not valid for the name signon.abc.eu-west-1.rds.amazonaws.com"),
        "{e}"
    );
    let e = TlsRelay::start(Engine::Postgres, upstream, &cas.wrong_bundle, rds)
        .await
        .err()
        .expect("another CA is refused");
    assert!(
        e.to_string().contains("not signed by a CA in the bundle")
            && e.to_string().contains("another-ca.pem"),
        "{e}"
    );
    // A server that refuses TLS: said so, never relayed in plaintext.
    let plain = PostgresServer::shared_of(PgFlavor::Pg15);
    let plain_addr: std::net::SocketAddr = format!("127.0.0.1:{}", plain.port()).parse().unwrap();
    let e = TlsRelay::start(Engine::Postgres, plain_addr, &cas.bundle, rds)
        .await
        .err()
        .expect("refused");
    assert!(e.to_string().contains("does not offer TLS"), "{e}");
    drop(relay);
}

/// rotui's own TLS end of `--tunnel` for MySQL 9.7 (TLS required): it takes
/// part in MySQL's handshake, so the certificate is checked against the RDS
/// name, and caching_sha2_password logs in on both of its paths — the full
/// one (the server's cache empty: the relay answers sqlx's key request and
/// gives the server the password over TLS) and the fast one (cached).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tunnel_end_takes_part_in_mysqls_handshake_and_verifies_the_rds_name() {
    use rotui::db::tls_relay::TlsRelay;
    let cas = cas();
    let rds = "signon.abc.eu-west-1.rds.amazonaws.com";
    let server = mysql_tls(&cas, &cas.ca.server_cert(&[rds]).unwrap(), "rds");
    let upstream: std::net::SocketAddr = format!("127.0.0.1:{}", server.port()).parse().unwrap();
    let pw = server.admin_password();

    let started = std::time::Instant::now();
    let relay = TlsRelay::start(Engine::Mysql, upstream, &cas.bundle, rds)
        .await
        .expect("verified against the RDS name");
    eprintln!(
        "MySQL relay started (first handshake, RSA key) in {:?}",
        started.elapsed()
    );
    let local = relay.local_addr();
    let tls = TlsMode::VerifiedByTunnel {
        ca: cas.bundle.clone(),
        name: rds.to_owned(),
    };
    // The admin: its first login since the server started, so the full path.
    let url = format!("mysql://aws_db_admin@127.0.0.1:{}", local.port());
    let db = Db::connect_secured(Engine::Mysql, &url, Some(&pw), tls.clone())
        .await
        .expect("the admin logs in through rotui's TLS end");
    assert_eq!(
        db.tls().label(),
        "TLS verified (CA rds-global-bundle.pem, tunnel)"
    );
    assert!(
        server_says_tls(&db).await,
        "the server sees TLS, though sqlx spoke plaintext to the relay"
    );

    let Db::Mysql(my) = &db else { unreachable!() };
    let password = rotui::secret::generate_password();
    my.execute(&[
        rotui::db::Statement::new("CREATE DATABASE tunnel_app"),
        rotui::db::Statement::new(format!(
            "CREATE USER 'tunnel_new'@'%' IDENTIFIED WITH caching_sha2_password BY '{}'",
            password.expose_secret()
        )),
        rotui::db::Statement::new("GRANT ALL ON tunnel_app.* TO 'tunnel_new'@'%'"),
        // Empties caching_sha2_password's cache: the next login is the full path.
        rotui::db::Statement::new("FLUSH PRIVILEGES"),
    ])
    .await
    .unwrap();
    let full = cipher_as(local.port(), "tunnel_new", &password)
        .await
        .expect("the full path: the password reaches the server over TLS");
    assert!(!full.is_empty(), "the server sees TLS on the full path");
    let fast = cipher_as(local.port(), "tunnel_new", &password)
        .await
        .expect("the fast path (cached)");
    assert!(!fast.is_empty(), "the server sees TLS on the fast path");
    // The rotation's own test login goes the same way.
    let port = rotui::rotation::adapters::MysqlPort::new(my.clone(), "127.0.0.1", local.port(), "tunnel_app");
    port.test_login("tunnel_new", &password)
        .await
        .expect("the new user's test login through the relay");
    // A wrong password: the server's refusal reaches sqlx in its words, on
    // the full path too (the cache emptied again), never the password.
    my.execute(&[rotui::db::Statement::new("FLUSH PRIVILEGES")])
        .await
        .unwrap();
    let wrong = SecretString::from("not-the-password");
    for path in ["full", "fast"] {
        let e = cipher_as(local.port(), "tunnel_new", &wrong)
            .await
            .expect_err("a wrong password is refused");
        assert!(e.to_string().contains("Access denied"), "{path}: {e}");
        assert!(!e.to_string().contains(wrong.expose_secret()));
    }
    assert!(
        !cipher_as(local.port(), "tunnel_new", &password)
            .await
            .unwrap()
            .is_empty()
    );

    // The same server by its address is refused: the name is what is checked.
    let e = Db::connect_secured(
        Engine::Mysql,
        &mysql_url(&server),
        Some(&pw),
        TlsMode::VerifyFull(cas.bundle.clone()),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("not valid for the name 127.0.0.1"), "{e}");
    // Another name, another CA: refused as the relay starts, in words.
    let e = TlsRelay::start(
        Engine::Mysql,
        upstream,
        &cas.bundle,
        "whitehall.abc.eu-west-1.rds.amazonaws.com",
    )
    .await
    .err()
    .expect("another name is refused");
    assert!(
        e.to_string()
            .contains("not valid for the name whitehall.abc.eu-west-1.rds.amazonaws.com"),
        "{e}"
    );
    let e = TlsRelay::start(Engine::Mysql, upstream, &cas.wrong_bundle, rds)
        .await
        .err()
        .expect("another CA is refused");
    assert!(
        e.to_string().contains("not signed by a CA in the bundle")
            && e.to_string().contains("another-ca.pem"),
        "{e}"
    );
    drop(relay);
}

/// Log in as `user` through the relay (sqlx told no TLS, as rotui tells it
/// there) and read the session's cipher as the server reports it.
async fn cipher_as(port: u16, user: &str, password: &SecretString) -> Result<String, sqlx::Error> {
    use sqlx::{ConnectOptions, Connection, Row};
    let mut conn = sqlx::mysql::MySqlConnectOptions::new()
        .host("127.0.0.1")
        .port(port)
        .username(user)
        .password(password.expose_secret())
        .ssl_mode(sqlx::mysql::MySqlSslMode::Disabled)
        .connect()
        .await?;
    let row = sqlx::query("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        .fetch_one(&mut conn)
        .await?;
    let cipher: String = row.try_get(1)?;
    conn.close().await?;
    Ok(cipher)
}

/// The same end before MariaDB 10.11 (TLS required): its greeting (the
/// `5.5.5-` version, its own capability bits) and mysql_native_password,
/// whose scramble is all the client sends, go through unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tunnel_end_relays_mariadb_and_mysql_native_password() {
    use rotui::db::tls_relay::TlsRelay;
    let cas = cas();
    let rds = "publishing-api.abc.eu-west-1.rds.amazonaws.com";
    let dir = cas.dir.path().join("mariadb");
    std::fs::create_dir_all(&dir).unwrap();
    let files = cas.ca.server_cert(&[rds]).unwrap().write(&dir, None).unwrap();
    let server = MysqlServer::start_with(&rotui_sandbox::tls::mysql_args(&cas.bundle, &files))
        .expect("MariaDB starts with TLS required");
    let upstream: std::net::SocketAddr = format!("127.0.0.1:{}", server.port()).parse().unwrap();
    let pw = server.admin_password();
    let relay = TlsRelay::start(Engine::Mysql, upstream, &cas.bundle, rds)
        .await
        .expect("verified against the RDS name");
    let url = format!("mysql://aws_db_admin@127.0.0.1:{}", relay.local_addr().port());
    let tls = TlsMode::VerifiedByTunnel {
        ca: cas.bundle.clone(),
        name: rds.to_owned(),
    };
    let db = Db::connect_secured(Engine::Mysql, &url, Some(&pw), tls)
        .await
        .expect("the admin logs in through rotui's TLS end");
    assert!(server_says_tls(&db).await, "MariaDB sees TLS");
    let Db::Mysql(my) = &db else { unreachable!() };
    let password = rotui::secret::generate_password();
    my.execute(&[rotui::db::Statement::new(format!(
        "CREATE USER 'native_new'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('{}')",
        password.expose_secret()
    ))])
    .await
    .unwrap();
    let cipher = cipher_as(relay.local_addr().port(), "native_new", &password)
        .await
        .expect("mysql_native_password through the relay");
    assert!(!cipher.is_empty());
    let e = cipher_as(
        relay.local_addr().port(),
        "native_new",
        &SecretString::from("not-the-password"),
    )
    .await
    .expect_err("a wrong password is refused");
    assert!(e.to_string().contains("Access denied"), "{e}");
    // By its address the name does not match: refused.
    let e = Db::connect_secured(
        Engine::Mysql,
        &mysql_url(&server),
        Some(&pw),
        TlsMode::VerifyFull(cas.bundle.clone()),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("not valid for the name 127.0.0.1"), "{e}");
}
