//! Rendering cost against the number of rows held: only visible rows are
//! laid out, so a dashboard holding 10,000 users, objects and connections
//! should draw about as fast as one holding 100 (target: ≤ 1.5×).
//!
//! `cargo bench -p rotui-bench --bench render` prints criterion's numbers, then the ratio.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use criterion::{BenchmarkId, Criterion};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rotui::app::state::{PlanView, StepStatus, StepView};
use rotui::app::{Action, Answer, Pane, State, update};
use rotui::model::{Connection, ConnectionCount, ConnectionSnapshot, DbObject, User};
use rotui::rotation::step::Confirm;
use rotui::target::{Engine, Target};

const SIZES: [usize; 2] = [100, 10_000];

fn user(i: usize) -> User {
    User {
        name: format!("user_{i:05}"),
        host: Some("%".into()),
        can_login: true,
        superuser: false,
        auth_plugin: None,
        password_expired: false,
        account_locked: false,
        can_grant: false,
        attributes: vec![],
        member_of: vec![],
        valid_until: None,
        settings: vec![],
        is_role: false,
    }
}

/// A dashboard whose users, objects and connection rows each number `n`,
/// loaded the way workers load it, with the cursor mid-list.
fn state(n: usize) -> State {
    let now = Utc.with_ymd_and_hms(2026, 1, 21, 10, 0, 0).unwrap();
    let mut s = State::new(Some(Target::new("production", "signon", Engine::Mysql)), now);
    let owner = |i: usize| {
        if i.is_multiple_of(3) {
            "signon@%".to_string()
        } else {
            "aws_db_admin@%".to_string()
        }
    };
    let rows: Vec<Connection> = (0..n)
        .map(|i| Connection {
            id: i as i64,
            user: Some(
                if i % 2 == 0 {
                    "signon"
                } else {
                    "signon_user_20260121"
                }
                .into(),
            ),
            client: Some(format!("10.0.{}.{}:{}", i / 250, i % 250, 40_000 + i % 20_000)),
            database: Some("signon_production".into()),
            application: None,
            state: Some("Sleep".into()),
            since: chrono::DateTime::from_timestamp(1_796_000_000 - (i % 600) as i64, 0),
            query: None,
        })
        .collect();
    let counts = vec![
        ConnectionCount {
            user: Some("signon".into()),
            count: n.div_ceil(2) as i64,
        },
        ConnectionCount {
            user: Some("signon_user_20260121".into()),
            count: (n / 2) as i64,
        },
    ];
    let steps = (0..8)
        .map(|i| StepView {
            id: format!("step-{i}"),
            title: format!("Step {i}"),
            why: "Because the runbook says so.".into(),
            status: StepStatus::Pending,
            preview: vec!["SELECT 1".into()],
            result: None,
            confirm: Confirm::Yes,
        })
        .collect();
    let actions = [
        Action::Loaded {
            generation: 1,
            at: now,
            answer: Answer::Plan(Ok(PlanView {
                rollback: None,
                can_roll_back: false,
                old_user: Some("signon".into()),
                new_user: Some("signon_user_20260121".into()),
                holder: None,
                ended: None,
                steps,
            })),
        },
        Action::Loaded {
            generation: 1,
            at: now,
            answer: Answer::Users(Ok((0..n).map(user).collect())),
        },
        Action::Loaded {
            generation: 1,
            at: now,
            answer: Answer::Objects(Ok((0..n)
                .map(|i| DbObject {
                    kind: "view".into(),
                    schema: Some("signon_production".into()),
                    name: format!("v_{i:05}"),
                    owner: owner(i),
                })
                .collect())),
        },
        Action::Loaded {
            generation: 1,
            at: now,
            answer: Answer::Connections(Ok(ConnectionSnapshot {
                at: now,
                counts,
                rows: rows.into(),
                own: None,
            })),
        },
    ];
    for a in actions {
        update(&mut s, a);
    }
    update(
        &mut s,
        Action::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::NONE)),
    );
    for pane in [Pane::Users, Pane::Objects, Pane::Connections] {
        s.focus = pane;
        for _ in 0..n / 2 / 10 {
            update(
                &mut s,
                Action::Key(KeyEvent::new(KeyCode::PageDown, KeyModifiers::NONE)),
            );
        }
    }
    s
}

fn draw(term: &mut Terminal<TestBackend>, s: &State) {
    term.draw(|f| rotui::ui::render(f, black_box(s))).unwrap();
}

/// Time per frame of each state, best of interleaved batches: steadier than
/// a mean on a busy machine, and both sizes see the same background load.
fn per_frame(states: &[&State], frames: u32) -> Vec<Duration> {
    let mut terms: Vec<_> = states
        .iter()
        .map(|_| Terminal::new(TestBackend::new(160, 48)).unwrap())
        .collect();
    let mut best = vec![Duration::MAX; states.len()];
    for _ in 0..9 {
        for (i, s) in states.iter().enumerate() {
            let start = Instant::now();
            for _ in 0..frames {
                draw(&mut terms[i], s);
            }
            best[i] = best[i].min(start.elapsed() / frames);
        }
    }
    best
}

fn main() {
    // `ONLY_PANES=1`: each pane zoomed, 100 vs 10,000 rows, to find a culprit.
    if std::env::var("ONLY_PANES").is_ok() {
        let (mut a, mut b) = (state(100), state(10_000));
        for pane in Pane::ALL {
            (a.focus, a.zoom, b.focus, b.zoom) = (pane, true, pane, true);
            let t = per_frame(&[&a, &b], 200);
            println!("{pane:?}: {:?} vs {:?}", t[0], t[1]);
        }
        return;
    }
    let states: Vec<(usize, State)> = SIZES.iter().map(|&n| (n, state(n))).collect();
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    {
        let mut group = c.benchmark_group("render_dashboard_160x48");
        for (n, s) in &states {
            let mut term = Terminal::new(TestBackend::new(160, 48)).unwrap();
            group.bench_with_input(BenchmarkId::from_parameter(n), s, |b, s| {
                b.iter(|| draw(&mut term, s))
            });
        }
        group.finish();
    }
    c.final_summary();

    let t = per_frame(&[&states[0].1, &states[1].1], 300);
    let (small, large) = (t[0], t[1]);
    let ratio = large.as_secs_f64() / small.as_secs_f64();
    println!(
        "render 160x48, all panes: 100 rows {small:?}/frame, 10,000 rows {large:?}/frame, ratio {ratio:.2} (target ≤ 1.50: {})",
        if ratio <= 1.5 { "met" } else { "MISSED" }
    );
}
