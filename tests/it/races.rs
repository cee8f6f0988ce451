//! Two operating-system processes racing (issue 21, item 6): two `rotui
//! rotate` started at the same moment from two state directories, on
//! MySQL 9.7 and PostgreSQL 17 of one sandbox, round after round. Each
//! stops itself before the promotion (`ROTUI_FAULT=step/…:1:stop`), so the
//! winner is still holding the rotation while the other tries: exactly one
//! is refused, naming who holds it; the winner, continued, finishes; one
//! new user and one new secret version per round.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::faults::{App, Sb, ran, rotate_all, signal, strs, until_stopped};

/// One round: both started at once; returns the loser's words.
async fn round(sb: &Sb, app: App) -> String {
    let fault = [("ROTUI_FAULT", "step/sandbox/promote:1:stop")];
    let rotate = rotate_all(&sb.current(app).await.0);
    let mut a = sb.command(app, &strs(&rotate), &fault).spawn().unwrap();
    let mut b = sb.command(app, &strs(&rotate), &fault).spawn().unwrap();
    let (pa, pb) = (a.id().unwrap(), b.id().unwrap());
    // The loser exits while the winner is stopped, holding the rotation.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (winner, loser) = loop {
        if let Some(status) = a.try_wait().unwrap() {
            break ((b, pb), (a, status));
        }
        if let Some(status) = b.try_wait().unwrap() {
            break ((a, pa), (b, status));
        }
        assert!(Instant::now() < deadline, "neither rotui ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (loser, status) = loser;
    let out = loser.wait_with_output().await.unwrap();
    let lost = ran(out, Instant::now());
    assert_eq!(status.code(), Some(1), "the loser is refused: {lost:?}");
    let (winner, pid) = winner;
    until_stopped(pid).await;
    signal(pid, Signal::SIGCONT);
    let won = ran(winner.wait_with_output().await.unwrap(), Instant::now());
    assert_eq!(won.code, Some(0), "the winner finishes: {won:?}");
    lost.text
}

async fn race(sb: &Sb, app: App, rounds: usize) {
    let objects = sb.objects(app).await;
    let mut users = vec![sb.current(app).await.0];
    for n in 1..=rounds {
        let words = round(sb, app).await;
        assert!(
            words.contains("held by") || words.contains("its rotui is running now"),
            "round {n}: the loser says who holds the rotation: {words}"
        );
        let user = sb.settled(app, &objects, &format!("round {n}")).await;
        assert!(!users.contains(&user), "round {n}: a new user");
        users.push(user);
        assert_eq!(sb.versions(app).await, n + 1, "round {n}: one new version");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rotate_processes_race_one_wins_each_round_on_both_engines() {
    let sb = Sb::start().await;
    tokio::join!(race(&sb, App::Signon, 3), race(&sb, App::AccountApi, 3));
}

/// A dashboard and a headless run: `rotate` holds the rotation (stopped
/// before its promotion) while an operator runs that step from the
/// dashboard; the dashboard is refused and says who holds it, then the
/// headless run, continued, finishes: one new user, one new version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_and_a_headless_run_race_one_wins() {
    let app = App::Signon;
    let sb = Sb::start().await;
    let objects = sb.objects(app).await;
    let rotate = rotate_all(&sb.current(app).await.0);
    let fault = [("ROTUI_FAULT", "step/sandbox/promote:1:stop")];
    let headless = sb.command(app, &strs(&rotate), &fault).spawn().unwrap();
    let pid = headless.id().unwrap();
    until_stopped(pid).await;
    let env = sb.env_for_laptop();
    let screen = tokio::task::spawn_blocking(move || {
        let t = crate::tmux::Tmux::start(
            "rotui-race-dash",
            &env,
            env!("CARGO_BIN_EXE_rotui"),
            "--app signon --engine mysql",
        );
        t.wait_for("the step list", Duration::from_secs(60), |s| {
            s.contains("Promote")
        });
        // The promotion is the eighth step: aim, preview, run, confirm.
        t.keys(&["g"]);
        for _ in 1..8 {
            t.keys(&["j"]);
        }
        t.keys(&["Enter"]);
        let s = t.wait_for("the preview", Duration::from_secs(10), |s| s.contains("Preview:"));
        assert!(s.contains("AWSCURRENT"), "the promotion's preview:\n{s}");
        t.read_preview();
        t.run_previewed("");
        let s = t.wait_for("the refusal", Duration::from_secs(30), |s| {
            s.contains("held by") || s.contains("running now")
        });
        t.keys(&["q"]);
        s
    })
    .await
    .unwrap();
    signal(pid, Signal::SIGCONT);
    let won = ran(headless.wait_with_output().await.unwrap(), Instant::now());
    assert_eq!(
        won.code,
        Some(0),
        "the headless run finishes: {won:?}\n(dashboard:\n{screen})"
    );
    sb.settled(app, &objects, "after the dashboard's refusal").await;
    assert_eq!(sb.versions(app).await, 2, "one new version");
}
