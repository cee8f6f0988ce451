//! Evidence of no failed logins (issue 24): whole rotations of the
//! sandbox's apps by the real binary, and the failed logins their reports
//! hold, counted since the switch (a count taken before the promote, in
//! the journal, is what later counts start from).
//!
//! MySQL 9.7 (signon) counts per user: a clean rotation shows 0 for the
//! old and the new user; then, in a second rotation, a client given a
//! wrong password for the new user during the drain and a client left on
//! the old password after the drop show as counted failures of each.
//! PostgreSQL 17 (account-api) cannot tell: its report says "not
//! observable" and why. No report holds any password involved.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use rotui::secret::SecretString;

use super::faults::{App, Ran, Sb, ran, rotate_all, signal, strs, until_stopped};

/// `rotate` of `old` in state directory `state` (the same laptop each time),
/// with `fault` armed, run again while it waits, until it finishes.
async fn rotate_in(sb: &Sb, app: App, state: &Path, old: &str, fault: Option<&str>) -> Ran {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (mut cmd, _) = sb.command_in(app, &strs(&rotate_all(old)), &[]);
        cmd.env("ROTUI_STATE_DIR", state);
        if let Some(f) = fault {
            cmd.env("ROTUI_FAULT", f);
        }
        let r = ran(cmd.output().await.expect("rotui runs"), Instant::now());
        match r.code {
            Some(10) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(500)).await,
            _ => return r,
        }
    }
}

/// The report of `state`'s latest rotation, written by `rotui report`'s
/// code: (Markdown, JSON).
fn report(state: &Path, out: &Path) -> (String, serde_json::Value) {
    let all = rotui::rotation::journal::list(state).unwrap();
    let id = &all.last().expect("a rotation in the journal").id;
    let (md, json): (PathBuf, PathBuf) = rotui::rotation::report::write(state, id, out).unwrap();
    let md = std::fs::read_to_string(md).unwrap();
    let json = std::fs::read_to_string(json).unwrap();
    (md, serde_json::from_str(&json).unwrap())
}

/// Log in to `app`'s database as `user` with `password`, which must fail.
async fn refused_login(sb: &Sb, app: App, user: &str, password: &str) {
    let url = url::Url::parse(&sb.url(app, user, password)).unwrap();
    let err = rotui::db::mysql::test_login(
        url.host_str().unwrap(),
        url.port().unwrap(),
        user,
        &SecretString::from(password.to_owned()),
        None,
    )
    .await
    .expect_err("the login is refused");
    assert_eq!(err.kind, rotui::db::DbErrorKind::BadPassword, "{err}");
}

fn assert_no_password(texts: &[&str], passwords: &[String]) {
    for t in texts {
        for p in passwords {
            assert!(!t.contains(p.as_str()), "a password is in a report");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_count_failed_logins_on_mysql_and_say_postgres_cannot() {
    let sb = Sb::start().await;
    let out = tempfile::tempdir().unwrap();
    let mut passwords = vec![];

    // MySQL, a clean rotation: zero failed logins for both users.
    let state = sb.dir.path().join("laptop-logins-mysql");
    let (first, first_pw) = sb.current(App::Signon).await;
    passwords.push(first_pw.clone());
    let r = rotate_in(&sb, App::Signon, &state, &first, None).await;
    assert_eq!(r.code, Some(0), "{r:?}");
    let (second, second_pw) = sb.current(App::Signon).await;
    passwords.push(second_pw.clone());
    let (md, json) = report(&state, out.path());
    eprintln!(
        "failed logins of a clean MySQL rotation: {}",
        json["environments"][0]["failed_logins"]
    );
    assert_eq!(
        json["environments"][0]["failed_logins"],
        serde_json::json!({"counted": {first.as_str(): 0, second.as_str(): 0}}),
        "{json:#}"
    );
    assert!(md.contains("### Failed logins since the switch"), "{md}");
    // Beside the drain, in the drain step's own words too.
    let drain = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "sandbox/drain")
        .unwrap();
    assert!(
        drain["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("failed logins since the switch: {first} 0, {second} 0")),
        "{drain}"
    );
    assert!(md.contains(&format!("| {first} | 0 |")), "{md}");

    // MySQL again: killed before the drop (the drain done), a client
    // given a wrong password for the new user; resumed, stopped right
    // after the DROP USER, a client left on the old password.
    let state = sb.dir.path().join("laptop-logins-mysql-2");
    let r = rotate_in(
        &sb,
        App::Signon,
        &state,
        &second,
        Some("step/sandbox/drop-old-user:1"),
    )
    .await;
    assert_eq!(r.signal, Some(9), "{r:?}");
    let (third, _) = sb.current(App::Signon).await;
    assert_ne!(third, second, "the switch happened before the drop");
    let wrong = "WrongForTheNewUser42".to_owned();
    passwords.push(wrong.clone());
    for _ in 0..2 {
        refused_login(&sb, App::Signon, &third, &wrong).await;
    }
    let (mut cmd, _) = sb.command_in(App::Signon, &strs(&rotate_all(&second)), &[]);
    cmd.env("ROTUI_STATE_DIR", &state)
        .env("ROTUI_FAULT", "write/db:1:stop");
    let child = cmd.spawn().unwrap();
    let pid = child.id().unwrap();
    until_stopped(pid).await;
    for _ in 0..3 {
        refused_login(&sb, App::Signon, &second, &second_pw).await;
    }
    signal(pid, Signal::SIGCONT);
    let r = ran(child.wait_with_output().await.unwrap(), Instant::now());
    assert_eq!(r.code, Some(0), "{r:?}");
    passwords.push(sb.current(App::Signon).await.1);
    let (md2, json2) = report(&state, out.path());
    assert_eq!(
        json2["environments"][0]["failed_logins"],
        serde_json::json!({"counted": {second.as_str(): 3, third.as_str(): 2}}),
        "{json2:#}"
    );
    assert!(md2.contains(&format!("| {second} | 3 |")), "{md2}");
    let section = md2.split("### Failed logins").nth(1).unwrap_or_default();
    eprintln!("the second MySQL report's failed logins:\n### Failed logins{section}");

    // PostgreSQL: not observable, with the reason; never a zero.
    let state = sb.dir.path().join("laptop-logins-postgres");
    let (old, old_pw) = sb.current(App::AccountApi).await;
    passwords.push(old_pw);
    let r = rotate_in(&sb, App::AccountApi, &state, &old, None).await;
    assert_eq!(r.code, Some(0), "{r:?}");
    passwords.push(sb.current(App::AccountApi).await.1);
    let (md3, json3) = report(&state, out.path());
    let why = json3["environments"][0]["failed_logins"]["not_observable"]
        .as_str()
        .unwrap_or_else(|| panic!("{json3:#}"));
    assert!(why.contains("pg_stat_database"), "{why}");
    assert!(md3.contains("Not observable: PostgreSQL"), "{md3}");
    eprintln!("PostgreSQL report: {why}");

    let texts = [
        md.as_str(),
        md2.as_str(),
        md3.as_str(),
        &json.to_string(),
        &json2.to_string(),
        &json3.to_string(),
    ];
    assert_no_password(&texts, &passwords);
}
