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
