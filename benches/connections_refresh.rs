//! How long one refresh of the drain view (connections per user) takes on a
//! server holding 500 connections, and proof that rotui itself holds at most
//! two connections per server while refreshing hard — on each PostgreSQL
//! (17 and 15) and each MySQL-family server (MySQL 9.7 LTS and MariaDB).
//!
//! `cargo bench --bench connections_refresh` runs it in full (so does
//! `cargo bench --profile dev --bench connections_refresh -- --bench`,
//! without an optimised build); under `cargo test --all-targets` (no
//! `--bench` argument) it runs a small smoke version so the test suite stays
//! quick.

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use rotui::db::Db;
use rotui::db::mysql::MysqlDb;
use rotui::db::postgres::{APPLICATION_NAME, PgDb};
use rotui::model::Connection;
use rotui::secret::{ExposeSecret, generate_password};
use rotui_sandbox::mariadb::{ADMIN_USER, MysqlServer};
use rotui_sandbox::mysql::MysqlFlavor;
use rotui_sandbox::postgres::{PgFlavor, PostgresServer};
use sqlx::Connection as _;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::postgres::{PgConnectOptions, PgConnection};

struct Plan {
    idle_connections: usize,
    runs: usize,
}

/// What one server's measurement found.
struct Report {
    flavor: String,
    /// Client connections the server listed in the last refresh.
    listed: usize,
    idle: usize,
    opened_in: Duration,
    counts: Vec<Duration>,
    rows: Vec<Duration>,
    /// rotui's own sessions after the hammering, and how they were counted.
    rotui_sessions: usize,
    counted_by: &'static str,
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let plan = if full {
        Plan {
            idle_connections: 500,
            runs: 50,
        }
    } else {
        Plan {
            idle_connections: 20,
            runs: 5,
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");

    for flavor in [PgFlavor::Pg17, PgFlavor::Pg15] {
        let server = PostgresServer::start_flavor(flavor).expect("starting a throwaway PostgreSQL");
        let report = rt.block_on(postgres(&server, &plan));
        print_report(&report, &plan);
        server.stop();
    }

    for flavor in MysqlFlavor::ALL {
        let server = MysqlServer::start_flavor(flavor).expect("starting a throwaway MySQL-family server");
        let report = rt.block_on(mysql_family(&server, &plan));
        print_report(&report, &plan);
        drop(server);
    }
}

async fn postgres(server: &PostgresServer, plan: &Plan) -> Report {
    // The app: a login user with its own database, holding N idle sessions.
    let app_user = "bench-app";
    let password = generate_password();
    server
        .seed_app(app_user, &password, "bench-app_production")
        .await
        .expect("seeding the app");
    let options = PgConnectOptions::new_without_pgpass()
        .host("127.0.0.1")
        .port(server.port())
        .username(app_user)
        .password(password.expose_secret())
        .database("bench-app_production")
        .application_name("bench-app");
    let started = Instant::now();
    let idle: Vec<PgConnection> = open_many(plan.idle_connections, || {
        let o = options.clone();
        async move { PgConnection::connect_with(&o).await }
    })
    .await;
    let opened_in = started.elapsed();

    let db = PgDb::connect(server.admin_url("postgres").expose_secret())
        .await
        .expect("admin connects");
    let report = measure(
        Db::Postgres(Box::new(db)),
        app_user,
        idle.len(),
        opened_in,
        plan,
        |c| c.application.as_deref() == Some(APPLICATION_NAME),
        "pg_stat_activity, application_name = rotui",
    )
    .await;
    for c in idle {
        let _ = c.close().await;
    }
    report
}

async fn mysql_family(server: &MysqlServer, plan: &Plan) -> Report {
    // The app: a user with ALL on its own database, holding N idle sessions.
    let app = server.create_app("bench_app").await.expect("creating the app");
    let options = MySqlConnectOptions::new()
        .host(server.host())
        .port(server.port())
        .username(&app.user)
        .password(app.password.expose_secret())
        .database(&app.database);
    let started = Instant::now();
    let idle: Vec<MySqlConnection> = open_many(plan.idle_connections, || {
        let o = options.clone();
        async move { MySqlConnection::connect_with(&o).await }
    })
    .await;
    let opened_in = started.elapsed();

    let db = MysqlDb::connect(&server.admin_url(None))
        .await
        .expect("admin connects");
    // rotui's sessions are the admin's threads (nothing else logs in as the
    // admin meanwhile).
    let report = measure(
        Db::Mysql(db),
        &app.user,
        idle.len(),
        opened_in,
        plan,
        |c| c.user.as_deref() == Some(ADMIN_USER),
        "information_schema.PROCESSLIST, USER = aws_db_admin",
    )
    .await;
    for c in idle {
        let _ = c.close().await;
    }
    report
}

/// The measurement itself, the same on both engines: check the view sees
/// every idle app connection, time both kinds of refresh, refresh hard from
/// many tasks at once, then count rotui's own sessions with `is_rotui`.
async fn measure(
    db: Db,
    app_user: &str,
    idle: usize,
    opened_in: Duration,
    plan: &Plan,
    is_rotui: fn(&Connection) -> bool,
    counted_by: &'static str,
) -> Report {
    let total = db.connections(false).await.expect("refresh").counts;
    let app_count = total
        .iter()
        .find(|c| c.user.as_deref() == Some(app_user))
        .map_or(0, |c| c.count);
    assert_eq!(app_count as usize, idle, "the view sees every app connection");

    let counts = time(plan.runs, || async {
        db.connections(false).await.expect("refresh");
    })
    .await;
    let rows = time(plan.runs, || async {
        let snap = db.connections(true).await.expect("refresh");
        assert!(snap.rows.len() >= idle);
    })
    .await;

    let hammer: Vec<_> = (0..32)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move { db.connections(i % 2 == 0).await.expect("refresh") })
        })
        .collect();
    for t in hammer {
        t.await.expect("refresh task");
    }
    let snap = db.connections(true).await.expect("refresh");
    let rotui_sessions = snap.rows.iter().filter(|r| is_rotui(r)).count();
    let report = Report {
        flavor: db.flavor().to_string(),
        listed: snap.rows.len(),
        idle,
        opened_in,
        counts,
        rows,
        rotui_sessions,
        counted_by,
    };
    db.close().await;
    report
}

/// Open `n` connections, 16 at a time.
async fn open_many<C, F, Fut>(n: usize, open: F) -> Vec<C>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<C, sqlx::Error>>,
{
    stream::iter(0..n)
        .map(|_| open())
        .buffer_unordered(16)
        .map(|c| c.expect("opening an idle app connection"))
        .collect()
        .await
}

fn print_report(r: &Report, plan: &Plan) {
    println!();
    println!(
        "connections refresh, {}{} ({} connections listed; {} idle app connections opened in {:.1}s)",
        r.flavor,
        if plan.idle_connections < 500 {
            " [smoke run]"
        } else {
            ""
        },
        r.listed,
        r.idle,
        r.opened_in.as_secs_f64()
    );
    println!("{:<38} {:>10} {:>10} {:>6}", "refresh", "median", "p95", "runs");
    for (name, t) in [
        ("counts per user (connections(false))", &r.counts),
        ("with rows (connections(true))", &r.rows),
    ] {
        println!(
            "{:<38} {:>10} {:>10} {:>6}",
            name,
            ms(percentile(t, 50)),
            ms(percentile(t, 95)),
            t.len()
        );
    }
    println!(
        "rotui's own connections to the server after 32 concurrent refreshes: {} (limit 2; {})",
        r.rotui_sessions, r.counted_by
    );
    assert!(
        (1..=2).contains(&r.rotui_sessions),
        "rotui must hold at most 2 connections per server, held {}",
        r.rotui_sessions
    );
}

async fn time<F, Fut>(runs: usize, mut f: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    f().await; // warm up: statement cache, pool connection
    let mut out = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f().await;
        out.push(t.elapsed());
    }
    out.sort();
    out
}

/// The p-th percentile of sorted durations (nearest rank).
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}
