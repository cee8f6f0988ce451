//! The dashboard without a terminal: every key flow through `update`, and
//! every pane and dialog rendered into ratatui's TestBackend (insta
//! snapshots at 80×24 and 160×48, on a fixed clock).

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use rotui::app::state::{
    ClusterView, ConsumerView, Dialog, EsStatusView, PlanView, PodView, Revealable, RolloutView,
    SecretCheckView, SessionView, StepStatus, StepView,
};
use rotui::app::{Action, Answer, Effect, KillTarget, Pane, Request, State, update};
use rotui::k8s::consumers::{Kind, PodAddress, Workload};
use rotui::model::{
    Connection, ConnectionCount, ConnectionSnapshot, DbObject, Flavor, FlavorKind, Grant, GrantKind, User,
    Verdict,
};
use rotui::rotation::step::Confirm;
use rotui::secret::{self, MASK, Redacted};
use rotui::target::{Engine, Target};

/// What writes, decided here apart from `Effect::is_write` (the product's
/// own answer, which the read-only gate uses): a test asking the product
/// whether the product wrote could not fail. Every variant is named, so a
/// new effect does not compile until it is decided here too.
fn writes(effect: &Effect) -> bool {
    match effect {
        // SQL, Secrets Manager or Kubernetes changes.
        Effect::RunStep(_) | Effect::Rollback { .. } | Effect::Kill(_) | Effect::ForceSync => true,
        // Reads, watches, the rollback's preview, the screen's own business;
        // the report is a local file from the local journal.
        Effect::Fetch { .. }
        | Effect::Watch { .. }
        | Effect::PreviewRollback
        | Effect::WriteReport
        | Effect::SwitchTarget(_)
        | Effect::Quit => false,
    }
}

/// A password only these tests know; it must never reach a screen unrevealed.
const PASSWORD: &str = "Snap5hotPassw0rdNeverShownXyZ123";
const OLD: &str = "signon";
const NEW: &str = "signon_user_20260121";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 21, 10, 0, 0).unwrap()
}

fn secs(s: i64) -> TimeDelta {
    TimeDelta::seconds(s)
}

fn user(name: &str, host: &str) -> User {
    User {
        name: name.into(),
        host: Some(host.into()),
        can_login: true,
        superuser: name == "rdsadmin",
        auth_plugin: Some("mysql_native_password".into()),
        password_expired: false,
        account_locked: name.starts_with("mysql."),
        can_grant: name == "aws_db_admin",
        attributes: vec![],
        member_of: vec![],
        valid_until: None,
        settings: vec![],
        is_role: false,
    }
}

fn grant(raw: &str) -> Grant {
    Grant {
        privileges: vec!["ALL PRIVILEGES".into()],
        on: "`signon_production`.*".into(),
        kind: GrantKind::Database,
        with_grant_option: false,
        raw: raw.into(),
    }
}

fn object(kind: &str, name: &str, owner: &str) -> DbObject {
    DbObject {
        kind: kind.into(),
        schema: Some("signon_production".into()),
        name: name.into(),
        owner: owner.into(),
    }
}

fn counts(old: i64, new: i64) -> Vec<ConnectionCount> {
    vec![
        ConnectionCount {
            user: Some("aws_db_admin".into()),
            count: 1,
        },
        ConnectionCount {
            user: Some(OLD.into()),
            count: old,
        },
        ConnectionCount {
            user: Some(NEW.into()),
            count: new,
        },
    ]
}

fn conn(id: i64, user: &str, port: u16) -> Connection {
    Connection {
        id,
        user: Some(user.into()),
        client: Some(format!("10.1.4.7:{port}")),
        database: Some("signon_production".into()),
        application: None,
        state: Some("Sleep".into()),
        since: Some(t0() - chrono::Duration::seconds(id % 60)),
        query: None,
    }
}

fn snapshot(at: DateTime<Utc>, old: i64, new: i64) -> ConnectionSnapshot {
    let mut rows = Vec::new();
    for i in 0..old {
        rows.push(conn(4200 + i, OLD, 50_000 + i as u16));
    }
    for i in 0..new {
        rows.push(conn(5200 + i, NEW, 51_000 + i as u16));
    }
    rows.push(conn(99, "aws_db_admin", 40_000));
    ConnectionSnapshot {
        at,
        counts: counts(old, new),
        rows: rows.into(),
        own: None,
    }
}

fn step(id: &str, title: &str, status: StepStatus, preview: &[&str]) -> StepView {
    StepView {
        id: id.into(),
        title: title.into(),
        why: format!("The runbook's step: {title}."),
        status,
        preview: preview.iter().map(|s| s.to_string()).collect(),
        result: (status == StepStatus::Done).then(|| "ok".to_string()),
        // As the rotation's own: a step with nothing to run only checks.
        confirm: if preview.is_empty() {
            Confirm::None
        } else {
            Confirm::Yes
        },
    }
}

fn plan() -> PlanView {
    let create = format!("CREATE USER '{NEW}'@'%' IDENTIFIED BY '{MASK}'");
    let grant = format!("GRANT ALL PRIVILEGES ON `signon_production`.* TO '{NEW}'@'%'");
    let mut drop = step(
        "drop-old-user",
        "Drop the old user signon",
        StepStatus::Pending,
        &["DROP USER 'signon'@'%'"],
    );
    drop.confirm = Confirm::Typed(OLD.into());
    let mut kill = step(
        "kill-old",
        "Kill the old user's remaining connections",
        StepStatus::Pending,
        &["KILL 4200"],
    );
    kill.confirm = Confirm::Destructive;
    PlanView {
        rollback: None,
        can_roll_back: false,
        old_user: Some(OLD.into()),
        new_user: Some(NEW.into()),
        holder: None,
        ended: None,
        steps: vec![
            step(
                "inspect",
                "Read the current user and its grants",
                StepStatus::Done,
                &[],
            ),
            step(
                "create-user",
                "Create signon_user_20260121 with the same grants",
                StepStatus::Done,
                &[&create, &grant],
            ),
            step(
                "store-pending",
                "Store the new password as AWSPENDING",
                StepStatus::Done,
                &["PutSecretValue govuk/signon/mysql AWSPENDING"],
            ),
            step(
                "promote",
                "Promote the new password to AWSCURRENT",
                StepStatus::Pending,
                &["UpdateSecretVersionStage govuk/signon/mysql AWSCURRENT"],
            ),
            step(
                "force-sync",
                "Force-sync the ExternalSecret",
                StepStatus::Pending,
                &["PATCH externalsecret apps/signon-mysql force-sync"],
            ),
            step(
                "rollout",
                "Wait for the app to roll out",
                StepStatus::Waiting,
                &[],
            ),
            kill,
            drop,
        ],
    }
}

fn cluster() -> ClusterView {
    ClusterView {
        external_secret: Some(EsStatusView {
            name: "signon-mysql".into(),
            ready: Verdict::Yes,
            reason: Some("SecretSynced".into()),
            message: None,
            refresh_time: Some(t0() - secs(95)),
            refresh_interval: Some("1h".into()),
            force_sync_requested: None,
        }),
        secret_check: Some(SecretCheckView {
            secret: "signon-mysql".into(),
            user: Some(NEW.into()),
            host: Some("signon-mysql.abc123.eu-west-1.rds.amazonaws.com".into()),
            database: Some("signon_production".into()),
            password: Some(Revealable(secret::secret(PASSWORD))),
            matches_app_secret: Verdict::Yes,
            problem: None,
        }),
        rollout: Some(RolloutView {
            deployment: "signon".into(),
            desired: 3,
            updated: 2,
            ready: 3,
            available: 3,
            complete: false,
            restarted_at: Some(t0() - secs(40)),
            paused: false,
        }),
        pods: vec![
            PodView {
                name: "signon-7d9f-abcde".into(),
                phase: "Running".into(),
                ready: true,
                restarts: 0,
                started: Some(t0() - secs(30)),
                db_user: Some(NEW.into()),
            },
            PodView {
                name: "signon-7d9f-fghij".into(),
                phase: "Running".into(),
                ready: true,
                restarts: 0,
                started: Some(t0() - secs(25)),
                db_user: Some(NEW.into()),
            },
            PodView {
                name: "signon-5c4b-klmno".into(),
                phase: "Running".into(),
                ready: true,
                restarts: 1,
                started: Some(t0() - secs(86_400)),
                db_user: Some(OLD.into()),
            },
        ],
        consumers: vec![
            ConsumerView {
                workload: "deployment/signon".into(),
                reads: "app: DATABASE_URL".into(),
            },
            ConsumerView {
                workload: "deployment/signon-worker".into(),
                reads: "worker: DATABASE_URL".into(),
            },
            ConsumerView {
                workload: "cronjob/signon-cleanup".into(),
                reads: "task: DATABASE_URL".into(),
            },
        ],
        consumers_note: None,
        // The old user's leftovers come from the old pod's address.
        pod_addresses: vec![PodAddress {
            ip: "10.1.4.7".into(),
            pod: "signon-5c4b-klmno".into(),
            workload: Some(Workload::new(Kind::Deployment, "signon")),
        }],
    }
}

fn session() -> SessionView {
    SessionView {
        aws_identity: Some("govuk-production-fulladmin/jane.doe".into()),
        aws_account: None,
        session_expires: Some(t0() + secs(42 * 60 + 10)),
        kube_context: Some("govuk-production".into()),
        flavor: Some(Flavor {
            kind: FlavorKind::Mariadb,
            version: "10.11.6-MariaDB-0+deb12u1".into(),
            rds: false,
        }),
        db_tls: None,
        target: None,
    }
}

/// The plan with nothing waiting on the world.
fn settled_plan() -> PlanView {
    let mut p = plan();
    for step in &mut p.steps {
        if step.status == StepStatus::Waiting {
            step.status = StepStatus::Pending;
        }
    }
    p
}

/// Run actions through `update`, collecting commands; then a frame, as the
/// loop draws one.
fn feed(state: &mut State, actions: impl IntoIterator<Item = Action>) -> Vec<Effect> {
    let mut out: Vec<Effect> = actions.into_iter().flat_map(|a| update(state, a)).collect();
    out.extend(measure(state, 160, 48));
    out
}

/// A key, then a frame at 160×48 as the loop draws one, telling the state
/// what only the frame measures (a dialog's wrapped rows).
fn key(state: &mut State, code: KeyCode) -> Vec<Effect> {
    key_at(state, code, (160, 48))
}

fn key_at(state: &mut State, code: KeyCode, (w, h): (u16, u16)) -> Vec<Effect> {
    let mods = match code {
        KeyCode::Char(c) if c.is_ascii_uppercase() => KeyModifiers::SHIFT,
        _ => KeyModifiers::NONE,
    };
    let mut out = update(state, Action::Key(KeyEvent::new(code, mods)));
    out.extend(measure(state, w, h));
    out
}

/// Draw a frame and hand `update` what it measured, as the loop does.
fn measure(state: &mut State, w: u16, h: u16) -> Vec<Effect> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    let mut drawn = rotui::ui::Drawn::default();
    t.draw(|f| drawn = rotui::ui::draw(f, state)).unwrap();
    match drawn.news(state) {
        Some(news) => update(state, news),
        None => vec![],
    }
}

fn keys(state: &mut State, text: &str) -> Vec<Effect> {
    text.chars().flat_map(|c| key(state, KeyCode::Char(c))).collect()
}

/// A dashboard mid-rotation, built the way workers build it: through actions.
fn fixture() -> State {
    let mut s = State::new(
        Some(Target::new("production", "signon", Engine::Mysql)),
        t0() - secs(10),
    );
    s.theme = rotui::app::state::ThemeName::Default;
    feed(&mut s, [Action::Tick(t0() - secs(10))]);
    let gen1 = |at| (1, at);
    let (g, at) = gen1(t0() - secs(2));
    feed(
        &mut s,
        [
            Action::Loaded {
                generation: g,
                at,
                answer: Answer::Session(Ok(session())),
            },
            Action::Loaded {
                generation: g,
                at,
                answer: Answer::Plan(Ok(plan())),
            },
            Action::Loaded {
                generation: g,
                at,
                answer: Answer::Users(Ok(vec![
                    user("aws_db_admin", "%"),
                    user("mysql.sys", "localhost"),
                    user("rdsadmin", "localhost"),
                    user(OLD, "%"),
                    user(NEW, "%"),
                ])),
            },
            Action::Loaded {
                generation: g,
                at,
                answer: Answer::Objects(Ok(vec![
                    object("view", "active_users", "signon@%"),
                    object("procedure", "purge_old_sessions", "signon@%"),
                    object("trigger", "users_audit", "aws_db_admin@%"),
                    object("event", "nightly_cleanup", "signon_user_20260121@%"),
                ])),
            },
            Action::Loaded {
                generation: g,
                at,
                answer: Answer::Cluster(Ok(cluster())),
            },
        ],
    );
    // Drain history: the old user falling, the new one rising.
    for (i, (old, new)) in [
        (12, 0),
        (12, 2),
        (10, 4),
        (9, 6),
        (7, 8),
        (6, 10),
        (4, 11),
        (3, 12),
    ]
    .into_iter()
    .enumerate()
    {
        // One per drain column (5 s), the newest a second ago.
        let at = t0() - secs(1 + 5 * (7 - i as i64));
        feed(
            &mut s,
            [Action::Loaded {
                generation: 1 + i as u64,
                at,
                answer: Answer::Connections(Ok(snapshot(at, old, new))),
            }],
        );
    }
    // The users pane follows the selected user's grants.
    let user_key = s
        .panes
        .users
        .grants_of
        .clone()
        .expect("a user is selected once users load");
    feed(
        &mut s,
        [Action::Loaded {
            generation: 1,
            at: t0() - secs(2),
            answer: Answer::Grants {
                user: user_key,
                result: Ok(vec![
                    grant("GRANT USAGE ON *.* TO `aws_db_admin`@`%`"),
                    grant("GRANT ALL PRIVILEGES ON *.* TO `aws_db_admin`@`%` WITH GRANT OPTION"),
                ]),
            },
        }],
    );
    feed(&mut s, [Action::Tick(t0())]);
    s
}

fn draw(state: &State, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| rotui::ui::render(f, state)).unwrap();
    t
}

fn screen(state: &State, w: u16, h: u16) -> String {
    draw(state, w, h).backend().to_string()
}

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

fn snap_both(name: &str, state: &State) {
    for (w, h) in SIZES {
        let text = screen(state, w, h);
        assert!(!text.contains(PASSWORD), "{name} at {w}x{h} shows the password");
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), text);
    }
}

// ---- render snapshots --------------------------------------------------

/// A whole MySQL rotation's steps, with the rotation's own titles, the
/// first `done` of them done and their writes planned no more.
fn whole_plan(done: usize) -> PlanView {
    use rotui::rotation::{Mode, Plan, PlanSpec};
    let plan = Plan::build(&PlanSpec {
        app: "signon".into(),
        engine: Engine::Mysql,
        envs: vec!["production".into()],
        mode: Mode::Normal,
        restores: rotui::rotation::plan::default_restores(),
    })
    .unwrap();
    let rotation = rotui::rotation::Rotation {
        id: "20260121-101500-abc123".into(),
        spec: plan.spec.clone(),
        old_users: [("production".into(), OLD.to_owned())].into(),
        new_username: NEW.into(),
    };
    let mut p = plan_with(vec![]);
    p.steps = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let status = if i < done {
                StepStatus::Done
            } else {
                StepStatus::Pending
            };
            let preview: &[&str] = if i < done { &[] } else { &["SELECT 1"] };
            let mut v = step(&s.id.0, &s.title(), status, preview);
            v.confirm = s.confirm(&rotation);
            v
        })
        .collect();
    p
}

fn plan_with(steps: Vec<StepView>) -> PlanView {
    PlanView { steps, ..plan() }
}

fn with_plan(p: PlanView) -> State {
    let mut s = fixture();
    feed(
        &mut s,
        [Action::Loaded {
            generation: 100,
            at: t0(),
            answer: Answer::Plan(Ok(p)),
        }],
    );
    s
}

/// Wide screens show whole step titles; tall ones every step above the
/// detail (the first selected); a finished write step says its writes are in
/// place, not that it only checks.
#[test]
fn the_steps_pane_shows_every_step_whole_and_says_what_a_done_write_left() {
    let p = whole_plan(4);
    let titles: Vec<String> = p.steps.iter().map(|s| s.title.clone()).collect();
    let mut s = with_plan(p);
    key(&mut s, KeyCode::Char('g'));
    let wide = screen(&s, 260, 60);
    for t in &titles {
        assert!(wide.contains(t.as_str()), "{t} whole at 260 columns:\n{wide}");
    }
    for (w, h) in [(200, 50), (160, 48)] {
        let text = screen(&s, w, h);
        let last = format!("{:>2} · pending", titles.len());
        assert!(text.contains(&last), "the last step shows at {w}x{h}:\n{text}");
    }
    // The third step is a done write: it stored the pending password already.
    keys(&mut s, "jj");
    let text = screen(&s, 160, 48);
    assert!(
        text.contains("Nothing left to run: what this step writes is in place."),
        "{text}"
    );
    assert!(!text.contains("this step only checks"), "{text}");
}

#[test]
fn snapshot_dashboard() {
    snap_both("dashboard", &fixture());
}

#[test]
fn snapshot_every_pane_zoomed() {
    for pane in Pane::ALL {
        let mut s = fixture();
        s.focus = pane;
        s.zoom = true;
        snap_both(&format!("pane_{pane:?}").to_lowercase(), &s);
    }
}

/// A rotation under way says whose it is and since when, in the Steps
/// pane's title (from its rotation mark; `rotui plan` prints the same).
#[test]
fn snapshot_steps_of_a_held_rotation() {
    let mut s = fixture();
    s.focus = Pane::Steps;
    s.zoom = true;
    if let Some(p) = s.panes.steps.plan.data.as_mut() {
        p.holder = Some("alice@laptop since 09:12 UTC".into());
    }
    snap_both("pane_steps_held", &s);
    assert!(screen(&s, 160, 48).contains("held by alice@laptop since 09:12 UTC"));
}

#[test]
fn snapshot_connection_rows() {
    let mut s = fixture();
    key(&mut s, KeyCode::Char('2'));
    key(&mut s, KeyCode::Char('c'));
    let at = t0();
    feed(
        &mut s,
        [Action::Loaded {
            generation: 50,
            at,
            answer: Answer::Connections(Ok(snapshot(at, 3, 12))),
        }],
    );
    snap_both("connections_rows", &s);
    // Zoomed, each connection names the pod (and workload) it comes from.
    s.zoom = true;
    snap_both("connections_rows_zoomed", &s);
    let text = screen(&s, 160, 48);
    let row = text.lines().find(|l| l.contains("10.1.4.7:50000")).unwrap();
    assert!(row.contains("signon-5c4b-klmno (deployment/signon)"), "{row}");
}

#[test]
fn snapshot_loading_and_errors() {
    let mut s = State::new(
        Some(Target::new("staging", "account-api", Engine::Postgres)),
        t0(),
    );
    s.focus = Pane::Connections;
    snap_both("loading", &s);
    let mut s = fixture();
    // The connections source dies: the last good data stays, with its age.
    feed(
        &mut s,
        [
            Action::Loaded {
                generation: 60,
                at: t0() + secs(30),
                answer: Answer::Connections(Err(Redacted::new(format!(
                    "connect to mysql://aws_db_admin:{PASSWORD}@10.0.0.9:3306 timed out after 5s"
                )))),
            },
            Action::Tick(t0() + secs(40)),
        ],
    );
    s.focus = Pane::Connections;
    snap_both("connections_error_stale", &s);
}

#[test]
fn snapshot_dialogs() {
    let mut s = fixture();
    key(&mut s, KeyCode::Char('?'));
    snap_both("dialog_help", &s);

    let mut s = fixture();
    key(&mut s, KeyCode::Char('1'));
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Enter);
    snap_both("dialog_preview", &s);

    let mut s = fixture();
    key(&mut s, KeyCode::Char('2'));
    key(&mut s, KeyCode::Char('K'));
    snap_both("dialog_confirm_kill", &s);

    let mut s = fixture();
    key(&mut s, KeyCode::Char('1'));
    key(&mut s, KeyCode::Char('G'));
    key(&mut s, KeyCode::Enter);
    key(&mut s, KeyCode::Enter);
    keys(&mut s, "sig");
    snap_both("dialog_typed_drop", &s);

    let mut s = fixture();
    feed(
        &mut s,
        [Action::StepChanged {
            id: "promote".into(),
            status: StepStatus::Running,
            result: None,
        }],
    );
    key(&mut s, KeyCode::Char('q'));
    snap_both("dialog_quit_running", &s);

    let mut s = fixture();
    key(&mut s, KeyCode::Char('4'));
    keys(&mut s, "/sig");
    snap_both("input_filter", &s);

    let mut s = fixture();
    keys(&mut s, ":env staging");
    snap_both("input_command", &s);
}

#[test]
fn kill_confirm_names_the_target_in_the_danger_colour() {
    let mut s = fixture();
    key(&mut s, KeyCode::Char('2'));
    key(&mut s, KeyCode::Char('K'));
    let t = draw(&s, 160, 48);
    let buf = t.backend().buffer();
    let text = t.backend().to_string();
    let needle = "Kill all 3 connections of user signon?";
    let (row, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(needle))
        .expect("the dialog names the target");
    let col = line.trim_start_matches('"').find(needle).unwrap();
    let col = line.trim_start_matches('"')[..col].chars().count() as u16;
    assert_eq!(buf[(col, row as u16)].fg, Color::Red);
    // NO_COLOR: the same words, marked without colour.
    s.theme = rotui::app::state::ThemeName::Mono;
    let t = draw(&s, 160, 48);
    assert!(
        t.backend()
            .buffer()
            .content
            .iter()
            .all(|c| c.fg == Color::Reset && c.bg == Color::Reset)
    );
}

#[test]
fn no_secret_on_screen_unless_revealed_and_only_for_a_while() {
    let mut s = fixture();
    s.focus = Pane::Cluster;
    for (w, h) in SIZES {
        let text = screen(&s, w, h);
        assert!(!text.contains(PASSWORD));
        assert!(
            text.contains(MASK),
            "the masked password is shown as the mask at {w}x{h}"
        );
    }
    // Errors carrying the password (driver text, URLs) are redacted on arrival.
    feed(
        &mut s,
        [Action::Failed {
            what: "kill".into(),
            error: Redacted::new(format!("Access denied for 'x' using password {PASSWORD}")),
        }],
    );
    assert!(!screen(&s, 160, 48).contains(PASSWORD));
    key(&mut s, KeyCode::Char('v'));
    assert!(screen(&s, 160, 48).contains(PASSWORD), "v reveals");
    feed(&mut s, [Action::Tick(t0() + secs(4))]);
    assert!(screen(&s, 160, 48).contains(PASSWORD), "still revealed after 4s");
    feed(&mut s, [Action::Tick(t0() + secs(5))]);
    assert!(!screen(&s, 160, 48).contains(PASSWORD), "hidden again after 5s");
    assert!(s.reveal_until.is_none());
    assert!(
        !format!("{s:?}").contains(PASSWORD),
        "nor in the state's Debug output"
    );
}

// ---- key flows through update -------------------------------------------

#[test]
fn help_opens_and_closes() {
    let mut s = fixture();
    key(&mut s, KeyCode::Char('?'));
    assert!(matches!(s.dialog, Some(Dialog::Help { .. })));
    key(&mut s, KeyCode::Esc);
    assert!(s.dialog.is_none());
}

/// Help longer than the screen scrolls as the previews do (j/k, PgDn/PgUp,
/// g/G) and says what is above and below; it stops at its last line.
#[test]
fn help_scrolls_and_shows_there_is_more() {
    const AT: (u16, u16) = (80, 24);
    let mut s = fixture();
    key_at(&mut s, KeyCode::Char('?'), AT);
    let top = screen(&s, AT.0, AT.1);
    assert!(top.contains("more lines"), "{top}");
    insta::assert_snapshot!("help_top_80x24", top);
    key_at(&mut s, KeyCode::Char('j'), AT);
    let Some(Dialog::Help { scroll }) = &s.dialog else {
        panic!("help closed")
    };
    assert_eq!(scroll.offset, 1);
    key_at(&mut s, KeyCode::PageDown, AT);
    let Some(Dialog::Help { scroll }) = &s.dialog else {
        panic!("help closed")
    };
    assert!(scroll.offset > 1);
    key_at(&mut s, KeyCode::Char('G'), AT);
    let Some(Dialog::Help { scroll }) = s.dialog else {
        panic!("help closed")
    };
    assert_eq!(scroll.below(), 0);
    key_at(&mut s, KeyCode::Char('j'), AT);
    assert!(matches!(s.dialog, Some(Dialog::Help { scroll: now }) if now.offset == scroll.offset));
    let bottom = screen(&s, AT.0, AT.1);
    assert!(
        bottom.contains("above") && !bottom.contains("more lines"),
        "{bottom}"
    );
    insta::assert_snapshot!("help_bottom_80x24", bottom);
    key_at(&mut s, KeyCode::Char('g'), AT);
    assert!(matches!(&s.dialog, Some(Dialog::Help { scroll }) if scroll.offset == 0));
    key(&mut s, KeyCode::Char('?'));
    assert!(s.dialog.is_none());
}

/// Tab after `:` completes the command word, then the name it takes from
/// what the prompt knows; Tab again cycles, any other key starts afresh.
#[test]
fn tab_completes_the_command_line_and_cycles() {
    let mut s = fixture();
    let value = |s: &State| s.input.as_ref().map(|i| i.value()).unwrap_or_default();
    key(&mut s, KeyCode::Char(':'));
    snap_both("input_command_empty", &s);
    let mut seen = vec![];
    for _ in 0..5 {
        key(&mut s, KeyCode::Tab);
        seen.push(value(&s));
    }
    assert_eq!(seen, ["env ", "app ", "engine ", "target ", "env "]);
    key(&mut s, KeyCode::Esc);
    keys(&mut s, ":e");
    key(&mut s, KeyCode::Tab);
    assert_eq!(value(&s), "env ");
    key(&mut s, KeyCode::Tab);
    assert_eq!(value(&s), "engine ");
    keys(&mut s, "p");
    key(&mut s, KeyCode::Tab);
    assert_eq!(value(&s), "engine postgres ");
    keys(&mut s, "app ");
    key(&mut s, KeyCode::Tab);
    assert_eq!(value(&s), "engine postgres app signon ");
    key(&mut s, KeyCode::Esc);
    keys(&mut s, ":target ");
    key(&mut s, KeyCode::Tab);
    assert_eq!(value(&s), "target production/signon/mysql ");
    snap_both("input_command_completed", &s);
    // Nothing to complete: the line stays and the footer says why.
    key(&mut s, KeyCode::Esc);
    keys(&mut s, ":x");
    key(&mut s, KeyCode::Tab);
    assert_eq!(value(&s), "x");
    assert!(
        s.notice
            .as_ref()
            .unwrap()
            .1
            .contains("env, app, engine and target")
    );
}

#[test]
fn quit_asks_first_only_while_a_step_runs() {
    let mut s = fixture();
    assert_eq!(key(&mut s, KeyCode::Char('q')), vec![Effect::Quit]);

    let mut s = fixture();
    feed(
        &mut s,
        [Action::StepChanged {
            id: "promote".into(),
            status: StepStatus::Running,
            result: None,
        }],
    );
    assert!(key(&mut s, KeyCode::Char('q')).is_empty());
    assert!(matches!(s.dialog, Some(Dialog::QuitWhileRunning)));
    assert!(key(&mut s, KeyCode::Char('n')).is_empty());
    assert!(s.dialog.is_none());
    let ctrl_c = Action::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(update(&mut s, ctrl_c.clone()).is_empty());
    assert_eq!(key(&mut s, KeyCode::Char('y')), vec![Effect::Quit]);

    // Ctrl-C twice always gets out, even from a text input.
    let mut s = fixture();
    feed(
        &mut s,
        [Action::StepChanged {
            id: "promote".into(),
            status: StepStatus::Running,
            result: None,
        }],
    );
    keys(&mut s, "/abc");
    assert!(update(&mut s, ctrl_c.clone()).is_empty());
    assert_eq!(update(&mut s, ctrl_c), vec![Effect::Quit]);
}

#[test]
fn panes_by_tab_backtab_and_numbers() {
    let mut s = fixture();
    assert_eq!(s.focus, Pane::Steps);
    key(&mut s, KeyCode::Tab);
    assert_eq!(s.focus, Pane::Connections);
    update(
        &mut s,
        Action::Key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT)),
    );
    update(
        &mut s,
        Action::Key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT)),
    );
    assert_eq!(s.focus, Pane::Objects);
    // The numbers read as the panes are laid out: left column's top, right
    // column's top, then down by top edge.
    for (c, p) in [
        ('1', Pane::Steps),
        ('2', Pane::Connections),
        ('3', Pane::Cluster),
        ('4', Pane::Users),
        ('5', Pane::Objects),
    ] {
        key(&mut s, KeyCode::Char(c));
        assert_eq!(s.focus, p);
    }
    key(&mut s, KeyCode::Char('z'));
    assert!(s.zoom);
    key(&mut s, KeyCode::Esc);
    assert!(!s.zoom);
}

#[test]
fn moving_the_user_selection_fetches_that_users_grants() {
    let mut s = fixture();
    key(&mut s, KeyCode::Char('4'));
    let cmds = keys(&mut s, "jjj");
    assert_eq!(s.panes.users.grants_of.as_deref(), Some("signon@%"));
    assert!(
        cmds.iter().any(
            |c| matches!(c, Effect::Fetch { request: Request::Grants { user }, .. } if user == "signon@%")
        )
    );
    // Grants for a user no longer selected are dropped.
    feed(
        &mut s,
        [Action::Loaded {
            generation: 99,
            at: t0(),
            answer: Answer::Grants {
                user: "rdsadmin@localhost".into(),
                result: Ok(vec![grant("GRANT x")]),
            },
        }],
    );
    assert!(s.panes.users.grants.data.is_none());
    key(&mut s, KeyCode::Up);
    key(&mut s, KeyCode::Down);
    assert_eq!(s.selection(Pane::Users).index, 3);
}

/// The single connections (`c`): a session below the rows on screen that
/// changes every second (a monitor's own) redraws nothing; one on screen does.
#[test]
fn connection_rows_changing_off_screen_leave_the_screen_still() {
    let mut s = fixture();
    key(&mut s, KeyCode::Char('2'));
    key(&mut s, KeyCode::Char('c'));
    let load = |s: &mut State, generation: u64, snap: ConnectionSnapshot| {
        feed(
            s,
            [Action::Loaded {
                generation,
                at: t0(),
                answer: Answer::Connections(Ok(snap)),
            }],
        );
    };
    let mut snap = snapshot(t0(), 30, 40);
    load(&mut s, 20, snap.clone());
    feed(&mut s, [Action::Resize(160, 48)]);
    let _ = screen(&s, 160, 48);
    let (start, end) = s.connection_rows_shown().expect("the frame listed rows");
    assert!(
        end < snap.rows.len(),
        "some rows are below the pane: {start}..{end}"
    );
    s.dirty = false;
    // The last session ran a query: only its time changed.
    let last = snap.rows.len() - 1;
    std::sync::Arc::make_mut(&mut snap.rows)[last].since = Some(t0());
    load(&mut s, 21, snap.clone());
    assert!(!s.dirty, "a change off screen redraws nothing");
    assert_eq!(
        s.panes.connections.snapshot.data.as_ref().unwrap().rows[last].since,
        Some(t0()),
        "but is kept"
    );
    // The first went idle again after a query, within the same minute: an
    // idle row shows the minute, so nothing on screen changed.
    let first = &mut std::sync::Arc::make_mut(&mut snap.rows)[0];
    first.since = Some(first.since.unwrap() + chrono::Duration::seconds(1));
    assert_eq!(
        snap.rows[0].since.unwrap().timestamp() % 60,
        1,
        "the fixture's row 0"
    );
    load(&mut s, 22, snap.clone());
    assert!(!s.dirty, "an idle row's time shows to the minute");
    // Now it runs a query: on screen, so redrawn (and busy rows show seconds).
    std::sync::Arc::make_mut(&mut snap.rows)[0].state = Some("Query".into());
    load(&mut s, 23, snap);
    assert!(s.dirty, "a change on screen redraws");
}

#[test]
fn selection_stays_on_its_row_across_refreshes() {
    let mut s = fixture();
    key(&mut s, KeyCode::Char('2'));
    key(&mut s, KeyCode::Char('c'));
    feed(
        &mut s,
        [Action::Loaded {
            generation: 20,
            at: t0(),
            answer: Answer::Connections(Ok(snapshot(t0(), 3, 12))),
        }],
    );
    keys(&mut s, "jjjj");
    let picked = s.selection(Pane::Connections).key.clone().unwrap();
    // New connections appear above it: the cursor follows the row, not the index.
    let mut snap = snapshot(t0(), 3, 12);
    let rows = snap.rows.to_vec();
    snap.rows = [conn(2, "aws_db_admin", 2), conn(1, "aws_db_admin", 1)]
        .into_iter()
        .chain(rows)
        .collect();
    feed(
        &mut s,
        [Action::Loaded {
            generation: 21,
            at: t0(),
            answer: Answer::Connections(Ok(snap)),
        }],
    );
    assert_eq!(s.selection(Pane::Connections).key.as_ref(), Some(&picked));
    assert_eq!(s.selection(Pane::Connections).index, 6);
    // Its row goes away: the cursor stays put and lands on a real row.
    let mut snap = snapshot(t0(), 3, 12);
    snap.rows = snap
        .rows
        .iter()
        .filter(|c| c.id.to_string() != picked)
        .cloned()
        .collect();
    feed(
        &mut s,
        [Action::Loaded {
            generation: 22,
            at: t0(),
            answer: Answer::Connections(Ok(snap)),
        }],
    );
    assert_eq!(s.selection(Pane::Connections).index, 6);
    assert_ne!(s.selection(Pane::Connections).key.as_ref(), Some(&picked));
}

#[test]
fn kill_flow_sends_the_exact_target_and_holds_refresh_while_aiming() {
    let mut s = fixture();
    key(&mut s, KeyCode::Char('2'));
    key(&mut s, KeyCode::Char('c'));
    feed(
        &mut s,
        [Action::Loaded {
            generation: 30,
            at: t0(),
            answer: Answer::Connections(Ok(snapshot(t0(), 3, 12))),
        }],
    );
    key(&mut s, KeyCode::Char('j'));
    assert_eq!(s.selection(Pane::Connections).key.as_deref(), Some("4201"));
    assert!(
        key(&mut s, KeyCode::Char('K')).is_empty(),
        "nothing happens before confirming"
    );
    // While aimed: no refresh is asked for, and answers are held back.
    let ticks = feed(&mut s, [Action::Tick(t0() + secs(5))]);
    assert!(!ticks.iter().any(|c| matches!(
        c,
        Effect::Fetch {
            request: Request::Connections { .. },
            ..
        }
    )));
    let mut moved = snapshot(t0() + secs(5), 3, 12);
    std::sync::Arc::make_mut(&mut moved.rows).reverse();
    feed(
        &mut s,
        [Action::Loaded {
            generation: 31,
            at: t0() + secs(5),
            answer: Answer::Connections(Ok(moved)),
        }],
    );
    assert_eq!(s.panes.connections.snapshot.applied, 30);
    assert_eq!(
        key(&mut s, KeyCode::Char('y')),
        vec![Effect::Kill(KillTarget::Connection {
            id: 4201,
            user: Some(OLD.into())
        })]
    );
    assert_eq!(
        s.panes.connections.snapshot.applied, 31,
        "held data lands once the dialog closes"
    );

    // All of a user's connections, from the counts view (the cursor stayed
    // on `signon` while the new user overtook it); `n` cancels.
    let mut s = fixture();
    key(&mut s, KeyCode::Char('2'));
    assert_eq!(s.selection(Pane::Connections).index, 1);
    key(&mut s, KeyCode::Char('K'));
    assert!(key(&mut s, KeyCode::Char('n')).is_empty());
    key(&mut s, KeyCode::Char('K'));
    assert_eq!(
        key(&mut s, KeyCode::Enter),
        vec![Effect::Kill(KillTarget::AllOf {
            user: OLD.into(),
            count: 3
        })]
    );

    // K elsewhere aims at nothing.
    let mut s = fixture();
    key(&mut s, KeyCode::Char('4'));
    assert!(key(&mut s, KeyCode::Char('K')).is_empty());
    assert!(s.dialog.is_none());
}

#[test]
fn steps_preview_then_confirm_and_typed_confirm_for_drops() {
    // A plain step: preview, Enter runs it.
    let mut s = fixture();
    keys(&mut s, "1jjj");
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    assert!(matches!(&s.dialog, Some(Dialog::Preview { step, .. }) if step == "promote"));
    assert_eq!(
        key(&mut s, KeyCode::Enter),
        vec![Effect::RunStep("promote".into())]
    );

    // Destructive: preview, then y/n.
    let mut s = fixture();
    keys(&mut s, "1G");
    key(&mut s, KeyCode::Up);
    key(&mut s, KeyCode::Enter);
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    assert!(matches!(s.dialog, Some(Dialog::Confirm(_))));
    assert_eq!(
        key(&mut s, KeyCode::Char('y')),
        vec![Effect::RunStep("kill-old".into())]
    );

    // Dropping a user: its name must be typed exactly.
    let mut s = fixture();
    keys(&mut s, "1G");
    key(&mut s, KeyCode::Enter);
    key(&mut s, KeyCode::Enter);
    assert!(matches!(s.dialog, Some(Dialog::TypedConfirm { .. })));
    assert!(keys(&mut s, "signo").is_empty());
    assert!(
        key(&mut s, KeyCode::Enter).is_empty(),
        "a partial name does not confirm"
    );
    assert!(matches!(s.dialog, Some(Dialog::TypedConfirm { .. })));
    keys(&mut s, "n");
    assert_eq!(
        key(&mut s, KeyCode::Enter),
        vec![Effect::RunStep("drop-old-user".into())]
    );
    assert!(s.dialog.is_none());
    // Esc abandons it.
    keys(&mut s, "1G");
    key(&mut s, KeyCode::Enter);
    key(&mut s, KeyCode::Enter);
    keys(&mut s, "signon");
    assert!(key(&mut s, KeyCode::Esc).is_empty());
    assert!(s.dialog.is_none());
}

#[test]
fn read_only_blocks_every_write() {
    let mut s = fixture();
    s.read_only = true;
    let mut cmds = Vec::new();
    cmds.extend(keys(&mut s, "f"));
    cmds.extend(keys(&mut s, "2jK"));
    assert!(s.dialog.is_none());
    cmds.extend(keys(&mut s, "1jjj"));
    cmds.extend(key(&mut s, KeyCode::Enter));
    assert!(
        matches!(s.dialog, Some(Dialog::Preview { .. })),
        "previews still show"
    );
    assert!(screen(&s, 160, 48).contains("read-only: this step will not run"));
    cmds.extend(key(&mut s, KeyCode::Enter));
    keys(&mut s, "G");
    cmds.extend(key(&mut s, KeyCode::Enter));
    cmds.extend(key(&mut s, KeyCode::Enter));
    cmds.extend(keys(&mut s, "signon"));
    cmds.extend(key(&mut s, KeyCode::Enter));
    assert!(cmds.iter().all(|c| !writes(c)), "{cmds:?}");
    assert!(s.notice.as_ref().unwrap().1.contains("read-only"));
}

#[test]
fn force_sync_and_refresh_now() {
    let mut s = fixture();
    assert_eq!(key(&mut s, KeyCode::Char('f')), vec![Effect::ForceSync]);
    let cmds = key(&mut s, KeyCode::Char('r'));
    let sources: Vec<_> = cmds
        .iter()
        .filter_map(|c| {
            if let Effect::Fetch { request, .. } = c {
                Some(request.clone())
            } else {
                None
            }
        })
        .collect();
    for r in [
        Request::Users,
        Request::Objects,
        Request::Connections { rows: false },
        Request::Plan,
        Request::Session,
    ] {
        assert!(sources.contains(&r), "{r:?} refreshed");
    }
    assert!(
        cmds.iter().any(|c| matches!(c, Effect::Watch { .. })),
        "the cluster watch restarted: {cmds:?}"
    );
}

#[test]
fn refresh_interval_pause_and_the_tick_schedule() {
    let mut s = fixture();
    assert_eq!(s.interval_ms, 1000);
    key(&mut s, KeyCode::Char('+'));
    assert_eq!(s.interval_ms, 500);
    keys(&mut s, "---");
    assert_eq!(s.interval_ms, 5000);
    keys(&mut s, "++++++++");
    assert_eq!(s.interval_ms, 250, "clamped at the fastest");
    key(&mut s, KeyCode::Char('-'));
    key(&mut s, KeyCode::Char('-'));
    assert_eq!(s.interval_ms, 1000);

    // Every source due and idle gets one fetch per interval; one in flight at a time.
    let mut s = State::new(Some(Target::new("production", "signon", Engine::Mysql)), t0());
    let first = feed(&mut s, [Action::Tick(t0())]);
    assert_eq!(first.len(), 6, "{first:?}");
    assert!(
        feed(&mut s, [Action::Tick(t0() + secs(2))]).is_empty(),
        "all still in flight"
    );
    feed(
        &mut s,
        [Action::Loaded {
            generation: 1,
            at: t0() + secs(2),
            answer: Answer::Connections(Ok(snapshot(t0(), 1, 1))),
        }],
    );
    let again = feed(&mut s, [Action::Tick(t0() + secs(2))]);
    assert_eq!(
        again,
        vec![Effect::Fetch {
            request: Request::Connections { rows: false },
            generation: 2
        }]
    );
    feed(
        &mut s,
        [Action::Loaded {
            generation: 2,
            at: t0() + secs(2),
            answer: Answer::Connections(Ok(snapshot(t0(), 1, 1))),
        }],
    );
    key(&mut s, KeyCode::Char(' '));
    assert!(s.paused);
    assert!(
        feed(&mut s, [Action::Tick(t0() + secs(10))]).is_empty(),
        "paused: no polling"
    );
    key(&mut s, KeyCode::Char(' '));
    // A source that never answers stops blocking after a while (here 15s):
    // the watched cluster and the one-off session are asked again too.
    let cmds = feed(&mut s, [Action::Tick(t0() + secs(30))]);
    assert_eq!(cmds.len(), 6, "{cmds:?}");
}

/// Answer every fetch and watch in `cmds` at once, the plan with `plan`.
fn answer_all_with(s: &mut State, cmds: &[Effect], at: DateTime<Utc>, plan: &PlanView) {
    for c in cmds {
        let (request, generation) = match c {
            Effect::Fetch { request, generation } => (Some(request), *generation),
            Effect::Watch { generation } => (None, *generation),
            _ => continue,
        };
        let a = match request {
            None => Action::Loaded {
                generation,
                at,
                answer: Answer::Cluster(Ok(cluster())),
            },
            Some(Request::Users) => Action::Loaded {
                generation,
                at,
                answer: Answer::Users(Ok(vec![])),
            },
            Some(Request::Objects) => Action::Loaded {
                generation,
                at,
                answer: Answer::Objects(Ok(vec![])),
            },
            Some(Request::Connections { .. }) => Action::Loaded {
                generation,
                at,
                answer: Answer::Connections(Ok(snapshot(at, 1, 1))),
            },
            Some(Request::Plan) => Action::Loaded {
                generation,
                at,
                answer: Answer::Plan(Ok(plan.clone())),
            },
            Some(Request::Session) => Action::Loaded {
                generation,
                at,
                answer: Answer::Session(Ok(session())),
            },
            Some(Request::Grants { user }) => Action::Loaded {
                generation,
                at,
                answer: Answer::Grants {
                    user: user.clone(),
                    result: Ok(vec![]),
                },
            },
        };
        feed(s, [a]);
    }
}

/// Once the secret is promoted, what the next steps wait for (the sync, the
/// Secret, the rollout, the drain) changes in the cluster and the database:
/// the step list looks again every few seconds, not once in two minutes,
/// so it never lags the Cluster and Connections panes for long.
#[test]
fn the_step_list_follows_the_world_while_the_next_step_waits_on_it() {
    let mut after_sync = settled_plan();
    for step in &mut after_sync.steps {
        if ["promote", "force-sync"].contains(&step.id.as_str()) {
            step.status = StepStatus::Done;
        }
    }
    for (plan, next) in [(settled_plan(), "promote"), (after_sync, "rollout")] {
        let mut s = State::new(Some(Target::new("production", "signon", Engine::Mysql)), t0());
        let first = feed(&mut s, [Action::Tick(t0())]);
        answer_all_with(&mut s, &first, t0(), &plan);
        let mut plan_asked = vec![];
        for second in 1..=30 {
            let at = t0() + secs(second);
            let cmds = feed(&mut s, [Action::Tick(at)]);
            if cmds.iter().any(|c| {
                matches!(
                    c,
                    Effect::Fetch {
                        request: Request::Plan,
                        ..
                    }
                )
            }) {
                plan_asked.push(second);
            }
            answer_all_with(&mut s, &cmds, at, &plan);
        }
        if next == "rollout" {
            assert_eq!(plan_asked.first(), Some(&3), "{next}: {plan_asked:?}");
            assert!(plan_asked.len() >= 9, "{next}: every 3 s: {plan_asked:?}");
        } else {
            assert!(
                plan_asked.is_empty(),
                "{next}: not for a step of rotui's own: {plan_asked:?}"
            );
        }
    }
}

#[test]
fn connections_poll_every_interval_the_heavier_sources_less_often_and_a_finished_run_refreshes_all() {
    let mut s = State::new(Some(Target::new("production", "signon", Engine::Mysql)), t0());
    let first = feed(&mut s, [Action::Tick(t0())]);
    // Answer everything the first tick asked for, at once.
    let answer_all =
        |s: &mut State, cmds: &[Effect], at: DateTime<Utc>| answer_all_with(s, cmds, at, &settled_plan());
    answer_all(&mut s, &first, t0());
    let kinds = |cmds: &[Effect]| -> Vec<String> {
        let mut k: Vec<String> = cmds
            .iter()
            .filter_map(|c| match c {
                Effect::Fetch { request, .. } => Some(
                    format!("{request:?}")
                        .split([' ', '{'])
                        .next()
                        .unwrap()
                        .to_owned(),
                ),
                Effect::Watch { .. } => Some("Cluster".to_owned()),
                _ => None,
            })
            .collect();
        k.sort();
        k
    };
    let mut asked = Vec::new();
    for second in 1..=120 {
        let at = t0() + secs(second);
        let cmds = feed(&mut s, [Action::Tick(at)]);
        asked.push(kinds(&cmds));
        answer_all(&mut s, &cmds, at);
    }
    assert_eq!(asked[0], vec!["Connections"], "1 s: the drain view only");
    assert_eq!(asked[1], vec!["Connections"], "2 s: the drain view only");
    assert_eq!(
        asked[2],
        vec!["Connections"],
        "3 s: still: the cluster is watched, not polled"
    );
    assert_eq!(asked[9], vec!["Connections"], "10 s: still");
    assert_eq!(
        asked[29],
        vec!["Connections", "Objects", "Users"],
        "30 s: and the catalogues"
    );
    assert_eq!(
        asked[119],
        vec!["Connections", "Objects", "Plan", "Users"],
        "2 min: and the step list"
    );
    assert_eq!(
        asked.iter().filter(|a| a.contains(&"Plan".to_owned())).count(),
        1,
        "the step list once in two minutes: {asked:?}"
    );
    assert!(
        asked.iter().flatten().all(|k| k != "Cluster" && k != "Session"),
        "the cluster and the session are never polled: {asked:?}"
    );

    // The watched cluster changing (a sync, a rollout) makes the step list look again.
    let mut changed = cluster();
    changed.pods.pop();
    let cmds = feed(
        &mut s,
        [Action::Loaded {
            generation: 1,
            at: t0() + secs(121),
            answer: Answer::Cluster(Ok(changed)),
        }],
    );
    assert_eq!(kinds(&cmds), vec!["Plan"], "{cmds:?}");

    // While a step waits on the world (a rollout, the drain), the step list
    // is looked at every few seconds instead.
    let mut waiting = settled_plan();
    waiting.steps[0].status = StepStatus::Waiting;
    feed(
        &mut s,
        [Action::Loaded {
            generation: 1000,
            at: t0() + secs(120),
            answer: Answer::Plan(Ok(waiting)),
        }],
    );
    let cmds = feed(&mut s, [Action::Tick(t0() + secs(126))]);
    assert!(kinds(&cmds).contains(&"Plan".to_owned()), "{cmds:?}");

    // A step that ends mid-run only changes its row; the end of the run
    // (the runner has recorded everything) refreshes everything at once.
    let cmds = feed(
        &mut s,
        [Action::StepChanged {
            id: "production/promote".into(),
            status: StepStatus::Done,
            result: None,
        }],
    );
    assert!(cmds.is_empty(), "{cmds:?}");
    let cmds = feed(&mut s, [Action::RunEnded]);
    assert!(
        kinds(&cmds).contains(&"Plan".to_owned()) && kinds(&cmds).contains(&"Cluster".to_owned()),
        "{cmds:?}"
    );
}

/// A paused Deployment (left so by a `--stagger` run that stopped, or by
/// hand) rolls out nothing, a deploy included: the Cluster pane says so in
/// place of its rollout state, and how to end it.
#[test]
fn a_paused_deployment_is_called_that_in_the_cluster_pane() {
    let mut s = fixture();
    let mut paused = cluster();
    paused.rollout.as_mut().unwrap().paused = true;
    feed(
        &mut s,
        [Action::Loaded {
            generation: 1,
            at: t0(),
            answer: Answer::Cluster(Ok(paused)),
        }],
    );
    key(&mut s, KeyCode::Char('3'));
    key(&mut s, KeyCode::Char('z'));
    let text = screen(&s, 160, 48);
    assert!(
        text.contains("Deployment signon 2/3 updated")
            && text.contains("⏸ paused: rolls nothing until kubectl rollout resume"),
        "{text}"
    );
    assert!(
        !text.contains("rolling out") && !text.contains("rolled out"),
        "{text}"
    );
}

#[test]
fn filter_narrows_the_focused_pane_live_and_esc_clears_it() {
    let mut s = fixture();
    key(&mut s, KeyCode::Char('4'));
    keys(&mut s, "/signon");
    assert_eq!(
        s.selection(Pane::Users).visible.as_deref(),
        Some(&[3usize, 4][..])
    );
    assert_eq!(s.selection(Pane::Users).key.as_deref(), Some("signon@%"));
    key(&mut s, KeyCode::Enter);
    assert!(s.input.is_none());
    assert_eq!(s.selection(Pane::Users).filter, "signon");
    key(&mut s, KeyCode::Char('j'));
    assert_eq!(
        s.selection(Pane::Users).key.as_deref(),
        Some("signon_user_20260121@%")
    );
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.selection(Pane::Users).visible, None);
    assert_eq!(
        s.selection(Pane::Users).key.as_deref(),
        Some("signon_user_20260121@%")
    );
    // Objects filter on owners too.
    keys(&mut s, "5/aws_db");
    assert_eq!(s.selection(Pane::Objects).visible.as_deref(), Some(&[2usize][..]));
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.selection(Pane::Objects).visible, None);
}

#[test]
fn command_line_switches_target_and_drops_old_answers() {
    let mut s = fixture();
    let asked_before_the_switch = s.panes.users.list.requested;
    keys(&mut s, ":env staging app account-api engine postgres");
    let cmds = key(&mut s, KeyCode::Enter);
    let target = Target::new("staging", "account-api", Engine::Postgres);
    assert_eq!(cmds[0], Effect::SwitchTarget(Box::new(target.clone())));
    assert!(
        cmds[1..]
            .iter()
            .all(|c| matches!(c, Effect::Fetch { .. } | Effect::Watch { .. }))
    );
    assert_eq!(s.target.as_ref(), Some(&target));
    assert!(s.panes.users.list.data.is_none() && s.panes.connections.drain.is_empty());
    // An answer for the old target, still in flight, is dropped…
    let users_gen = s.panes.users.list.requested;
    feed(
        &mut s,
        [Action::Loaded {
            generation: asked_before_the_switch,
            at: t0(),
            answer: Answer::Users(Ok(vec![user("signon", "%")])),
        }],
    );
    assert!(s.panes.users.list.data.is_none());
    // …the one asked for after the switch lands.
    feed(
        &mut s,
        [Action::Loaded {
            generation: users_gen,
            at: t0(),
            answer: Answer::Users(Ok(vec![user("account-api", "%")])),
        }],
    );
    assert_eq!(s.panes.users.list.data.as_ref().unwrap()[0].name, "account-api");

    keys(&mut s, ":target production/signon/mysql");
    assert!(
        matches!(&key(&mut s, KeyCode::Enter)[0], Effect::SwitchTarget(t) if t.label() == "production/signon/mysql")
    );
    keys(&mut s, ":flavor x");
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    assert!(s.notice.as_ref().unwrap().1.contains("unknown command"));
    keys(&mut s, ":app sig'non");
    assert!(
        key(&mut s, KeyCode::Enter).is_empty(),
        "odd names are refused, not sent"
    );
    assert!(s.notice.as_ref().unwrap().1.contains("not a valid"));
}

#[test]
fn stale_generations_are_dropped_and_failures_keep_data_with_its_age() {
    let mut s = fixture();
    let before = s.panes.objects.list.data.clone();
    feed(
        &mut s,
        [Action::Loaded {
            generation: 5,
            at: t0(),
            answer: Answer::Objects(Ok(vec![])),
        }],
    );
    assert_eq!(s.panes.objects.list.data.as_ref().unwrap().len(), 0);
    feed(
        &mut s,
        [Action::Loaded {
            generation: 4,
            at: t0(),
            answer: Answer::Objects(Ok(before.clone().unwrap())),
        }],
    );
    assert_eq!(
        s.panes.objects.list.data.as_ref().unwrap().len(),
        0,
        "an older answer arriving late is dropped"
    );
    feed(
        &mut s,
        [Action::Loaded {
            generation: 6,
            at: t0() + secs(1),
            answer: Answer::Objects(Err("Lost connection to server".into())),
        }],
    );
    assert_eq!(
        s.panes.objects.list.data.as_ref().unwrap().len(),
        0,
        "the last good data stays"
    );
    assert_eq!(
        s.panes.objects.list.error.as_deref(),
        Some("Lost connection to server")
    );
    feed(&mut s, [Action::Tick(t0() + secs(75))]);
    s.focus = Pane::Objects;
    let text = screen(&s, 160, 48);
    assert!(text.contains("error, data 1m15s old"), "{text}");
    assert!(text.contains("Lost connection to server"));
}

#[test]
fn a_burst_of_keys_costs_one_frame_in_the_loop() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let burst: Vec<std::io::Result<crossterm::event::Event>> = "jjjjjjjjjjkkkk"
            .chars()
            .map(|c| {
                Ok(crossterm::event::Event::Key(KeyEvent::new(
                    KeyCode::Char(c),
                    KeyModifiers::NONE,
                )))
            })
            .chain([Ok(crossterm::event::Event::Key(KeyEvent::new(
                KeyCode::Char('q'),
                KeyModifiers::NONE,
            )))])
            .collect();
        let (_tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let (ctx, mut crx) = tokio::sync::mpsc::unbounded_channel();
        let out =
            rotui::event_loop::run_loop(&mut term, futures::stream::iter(burst), rx, &ctx, fixture(), 30)
                .await
                .unwrap();
        assert!(out.state.quitting);
        assert!(out.frames <= 1, "{} frames for one burst", out.frames);
        let mut sent = Vec::new();
        while let Ok(c) = crx.try_recv() {
            sent.push(c);
        }
        assert_eq!(sent.last(), Some(&Effect::Quit));
    });
}

#[test]
fn blocked_or_concurrent_steps_are_not_offered_to_run() {
    let mut s = fixture();
    feed(
        &mut s,
        [Action::StepChanged {
            id: "promote".into(),
            status: StepStatus::Blocked,
            result: None,
        }],
    );
    keys(&mut s, "1jjj");
    key(&mut s, KeyCode::Enter);
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    // Not yet: said, and the read preview stays for the Enter that can go on.
    assert!(matches!(s.dialog, Some(Dialog::Preview { .. })), "{:?}", s.dialog);
    let said = &s.notice.as_ref().unwrap().1;
    assert!(said.contains("blocked") && said.contains("Enter again"), "{said}");
    key(&mut s, KeyCode::Esc);
    assert!(s.dialog.is_none());
    feed(
        &mut s,
        [Action::StepChanged {
            id: "promote".into(),
            status: StepStatus::Running,
            result: None,
        }],
    );
    key(&mut s, KeyCode::Char('j'));
    key(&mut s, KeyCode::Enter);
    assert!(key(&mut s, KeyCode::Enter).is_empty());
    assert!(
        s.notice
            .as_ref()
            .unwrap()
            .1
            .contains("another step is still running")
    );
    key(&mut s, KeyCode::Esc);
    // Its result arrives, redacted.
    feed(
        &mut s,
        [Action::StepChanged {
            id: "promote".into(),
            status: StepStatus::Done,
            result: Some(Redacted::new(format!("login ok with {PASSWORD}"))),
        }],
    );
    assert_eq!(
        s.step("promote").unwrap().result.as_deref(),
        Some(format!("login ok with {MASK}").as_str())
    );
}

#[test]
fn the_initial_state_takes_the_config_keymap_interval_and_warnings() {
    let config =
        rotui::config::Config::parse("refresh_ms = 5000\n[keys]\nkill = \"X\"\nbogus = \"b\"\n").unwrap();
    let mut s = rotui::app::initial_state(
        Some(Target::new("production", "signon", Engine::Mysql)),
        true,
        &config,
        t0(),
    );
    assert_eq!(s.interval_ms, 5000);
    assert!(s.read_only);
    assert_eq!(s.warnings.len(), 1);
    let text = screen(&s, 160, 48);
    assert!(
        text.contains("unknown action \"bogus\""),
        "config warnings are shown"
    );
    assert!(text.contains("READ-ONLY"));
    key(&mut s, KeyCode::Char('?'));
    assert!(
        screen(&s, 160, 48).contains("X  force-kill"),
        "help shows the overridden key"
    );
}

/// A panic in a background task must end the process (after restoring the
/// terminal), not leave the dashboard running on a broken screen. Runs
/// itself as a child process, since the hook exits.
#[test]
fn a_panicking_task_ends_the_process() {
    if std::env::var("ROTUI_PANIC_CHILD").is_ok() {
        rotui::tui::install_hooks().unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        rotui::secret::register("Sup3rSecretPanicPassw0rd");
        rt.block_on(async {
            tokio::spawn(async {
                panic!("worker exploded: postgresql://app:Sup3rSecretPanicPassw0rd@db/x and Sup3rSecretPanicPassw0rd")
            });
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        });
        unreachable!("the panic hook exits first");
    }
    let started = std::time::Instant::now();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "ui::a_panicking_task_ends_the_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ROTUI_PANIC_CHILD", "1")
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(101),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "it did not hang on"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("worker exploded"), "{stderr}");
    assert!(
        !stderr.contains("Sup3rSecretPanicPassw0rd"),
        "a panic printed a password: {stderr}"
    );
}

#[test]
fn drain_history_tracks_old_against_new_and_silence_shows_as_stale() {
    let mut s = fixture();
    let points: Vec<(i64, i64)> = s.panes.connections.drain.iter().map(|p| (p.old, p.new)).collect();
    assert_eq!(
        points,
        vec![
            (12, 0),
            (12, 2),
            (10, 4),
            (9, 6),
            (7, 8),
            (6, 10),
            (4, 11),
            (3, 12)
        ]
    );
    let at = t0() + secs(1);
    feed(
        &mut s,
        [Action::Loaded {
            generation: 40,
            at,
            answer: Answer::Connections(Ok(snapshot(at, 0, 15))),
        }],
    );
    assert_eq!(
        s.panes.connections.drain.last().map(|p| (p.old, p.new)),
        Some((0, 15))
    );
    s.focus = Pane::Connections;
    assert!(
        screen(&s, 80, 24).contains("2 Conns old:0"),
        "the drain shows in the tab strip too"
    );
    // No answer for a while: the data is labelled stale with its age.
    feed(&mut s, [Action::Tick(t0() + secs(20))]);
    assert!(screen(&s, 160, 48).contains("stale: 19s old"));
}

#[test]
fn a_quiet_dashboard_redraws_only_what_changed_and_sleeps_until_something_is_due() {
    let mut s = fixture();
    let conns = |s: &mut State, generation: u64, second: i64, old: i64, new: i64| {
        let at = t0() + secs(second);
        feed(
            s,
            [
                Action::Tick(at),
                Action::Loaded {
                    generation,
                    at,
                    answer: Answer::Connections(Ok(snapshot(at, old, new))),
                },
            ],
        );
    };
    conns(&mut s, 20, 1, 3, 12);
    assert!(s.dirty, "a new drain column");
    s.dirty = false;
    for (generation, second) in [(21, 2), (22, 3), (23, 4)] {
        conns(&mut s, generation, second, 3, 12);
        assert!(!s.dirty, "the same counts at {second} s redraw nothing");
    }
    conns(&mut s, 24, 5, 3, 12);
    assert!(s.dirty, "the next drain column (every 5 s)");
    s.dirty = false;
    conns(&mut s, 25, 6, 2, 12);
    assert!(s.dirty, "a count changed");

    // Asleep until the connections are due again, a second after they were asked for.
    assert_eq!(rotui::app::update::next_wake(&s), t0() + secs(7));
    key(&mut s, KeyCode::Char(' '));
    assert_eq!(
        rotui::app::update::next_wake(&s),
        t0() + secs(7),
        "paused: only the heartbeat, to see ages turn over"
    );
    key(&mut s, KeyCode::Char(' '));

    // Silence: the pane turns stale, and only then shows (and redraws) its age.
    s.dirty = false;
    feed(&mut s, [Action::Tick(t0() + secs(9))]);
    assert!(!s.dirty, "3 s without news is not stale yet at a 1 s refresh");
    feed(&mut s, [Action::Tick(t0() + secs(10))]);
    assert!(s.dirty, "stale now");
    assert!(screen(&s, 160, 48).contains("stale: 4s old"));
    // (The session countdown turns to 41m at 10.2 s: start after that.)
    feed(&mut s, [Action::Tick(t0() + secs(11))]);
    s.dirty = false;
    feed(
        &mut s,
        [Action::Tick(t0() + secs(11) + TimeDelta::milliseconds(400))],
    );
    assert!(!s.dirty, "the age shows whole seconds");
    feed(&mut s, [Action::Tick(t0() + secs(12))]);
    assert!(s.dirty, "the next second");
}

#[test]
fn a_flat_drain_history_says_steady_since_instead_of_scrolling() {
    let mut s = State::new(Some(Target::new("production", "signon", Engine::Mysql)), t0());
    feed(
        &mut s,
        [Action::Loaded {
            generation: 1,
            at: t0(),
            answer: Answer::Plan(Ok(settled_plan())),
        }],
    );
    for i in 0..4 {
        let at = t0() + secs(5 * i);
        s.dirty = false;
        feed(
            &mut s,
            [Action::Loaded {
                generation: 1 + i as u64,
                at,
                answer: Answer::Connections(Ok(snapshot(at, 4, 0))),
            }],
        );
        assert_eq!(s.dirty, i == 0, "column {i}: only the first changes the screen");
    }
    assert_eq!(s.panes.connections.drain.len(), 4);
    let text = screen(&s, 160, 48);
    assert!(text.contains("steady since 10:00:00"), "{text}");
    // Something moves: the chart appears, with the history behind it.
    let at = t0() + secs(20);
    feed(
        &mut s,
        [Action::Loaded {
            generation: 9,
            at,
            answer: Answer::Connections(Ok(snapshot(at, 2, 2))),
        }],
    );
    assert!(s.dirty);
    assert_eq!(s.panes.connections.drain_steady_since(), None);
    assert!(!screen(&s, 160, 48).contains("steady since"));
}

#[test]
fn notices_fade_after_a_few_seconds() {
    let mut s = fixture();
    key(&mut s, KeyCode::Char('f'));
    assert!(screen(&s, 80, 24).contains("force-sync requested"));
    feed(&mut s, [Action::Tick(t0() + secs(7))]);
    assert!(s.notice.is_some());
    feed(&mut s, [Action::Tick(t0() + secs(8))]);
    assert!(s.notice.is_none());
    assert!(!screen(&s, 80, 24).contains("force-sync requested"));
}

/// A render bug would take the whole screen down: every pane and dialog
/// must draw at any size, however small, without panicking.
#[test]
fn every_screen_draws_at_any_size() {
    let mut states = Vec::new();
    for pane in Pane::ALL {
        for zoom in [false, true] {
            let mut s = fixture();
            s.focus = pane;
            s.zoom = zoom;
            states.push(s);
        }
    }
    for script in ["?", "5j\r", "3K", "5G\r\rsig", "/si", ":env x", "3c"] {
        let mut s = fixture();
        for c in script.chars() {
            key(
                &mut s,
                if c == '\r' {
                    KeyCode::Enter
                } else {
                    KeyCode::Char(c)
                },
            );
        }
        states.push(s);
    }
    for s in &states {
        for (w, h) in [
            (1, 1),
            (10, 3),
            (40, 10),
            (79, 23),
            (80, 24),
            (109, 31),
            (110, 32),
            (133, 41),
            (250, 70),
        ] {
            let text = screen(s, w, h);
            assert!(!text.contains(PASSWORD));
        }
    }
}

/// Any sequence of keys, interleaved with worker answers and ticks, keeps
/// the state drawable and never emits a write in read-only mode.
#[test]
fn random_key_storms_keep_the_state_sound() {
    let alphabet: Vec<KeyCode> = "?qjkKfcrvz/:+- 12345Gyn"
        .chars()
        .map(KeyCode::Char)
        .chain([
            KeyCode::Enter,
            KeyCode::Esc,
            KeyCode::Tab,
            KeyCode::BackTab,
            KeyCode::Up,
            KeyCode::Down,
            KeyCode::Backspace,
        ])
        .collect();
    for (seed, read_only) in [(7u64, false), (11, true), (2026, false)] {
        let mut s = fixture();
        s.read_only = read_only;
        let mut x = seed;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as usize
        };
        for i in 0..3000u64 {
            let k = alphabet[next() % alphabet.len()];
            let cmds = if k == KeyCode::Char('q') {
                Vec::new()
            } else {
                key(&mut s, k)
            };
            if read_only {
                assert!(cmds.iter().all(|c| !writes(c)), "{cmds:?}");
            }
            if i % 97 == 0 {
                let at = t0() + secs(i as i64 / 10);
                feed(
                    &mut s,
                    [
                        Action::Tick(at),
                        Action::Loaded {
                            generation: 100 + i,
                            at,
                            answer: Answer::Connections(Ok(snapshot(at, (i % 7) as i64, 5))),
                        },
                    ],
                );
            }
            if i % 50 == 0 {
                let (w, h) = SIZES[(i / 50) as usize % 2];
                assert!(!screen(&s, w, h).contains(PASSWORD) || s.revealed());
            }
        }
    }
}

#[test]
fn the_status_bar_counts_the_session_down_and_says_when_it_expired() {
    let mut s = fixture();
    // Minutes (the screen need not change every second), then seconds.
    assert!(screen(&s, 160, 48).contains("expires in 42m "));
    assert!(screen(&s, 80, 24).contains("exp 42m│"), "compact at 80 columns");
    feed(&mut s, [Action::Tick(t0() + secs(40 * 60))]);
    assert!(screen(&s, 160, 48).contains("expires in 2m10s"));
    feed(&mut s, [Action::Tick(t0() + secs(42 * 60 + 10))]);
    assert!(screen(&s, 160, 48).contains("session expired"));
    key(&mut s, KeyCode::Char(' '));
    assert!(screen(&s, 160, 48).contains("⏸ paused"));
}

#[test]
fn the_status_bar_shows_the_aws_account_and_whose_environment_it_is() {
    let mut s = fixture();
    assert!(!screen(&s, 160, 48).contains("111111111111"));
    let mut session = session();
    session.aws_account = Some(("111111111111".into(), Some("production".into())));
    feed(
        &mut s,
        [Action::Loaded {
            generation: 1,
            at: t0(),
            answer: Answer::Session(Ok(session.clone())),
        }],
    );
    let text = screen(&s, 220, 48);
    assert!(
        text.contains("aws 111111111111 (production) govuk-production-fulladmin/jane.doe"),
        "{text}"
    );
    // Compact, the account and its environment stay.
    let text = screen(&s, 100, 30);
    assert!(text.contains("│111111111111 (production) jane.doe"), "{text}");
    // An account the config does not know: the id alone.
    session.aws_account = Some(("333333333333".into(), None));
    feed(
        &mut s,
        [Action::Loaded {
            generation: 1,
            at: t0(),
            answer: Answer::Session(Ok(session)),
        }],
    );
    assert!(screen(&s, 220, 48).contains("aws 333333333333 govuk-production"));
}

// ---- rolling back ------------------------------------------------------

/// The fixture with a rotation that can still be rolled back.
fn rollbackable() -> State {
    let mut s = fixture();
    let mut p = plan();
    p.rollback = Some("rollback possible (until production/drop-old-user)".into());
    p.can_roll_back = true;
    feed(
        &mut s,
        [Action::Loaded {
            generation: 2,
            at: t0() - secs(1),
            answer: Answer::Plan(Ok(p)),
        }],
    );
    s
}

fn rollback_preview() -> Vec<StepView> {
    let mut restore = step(
        "production/rollback-secret",
        "Roll the secret back to the old user",
        StepStatus::Pending,
        &[
            "UpdateSecretVersionStage govuk/signon/mysql: AWSCURRENT moves back to the AWSPREVIOUS version (signon), off signon_user_20260121's version",
            "-- then log in as signon with the AWSCURRENT password (read only)",
            "-- no database undo needed: signon's grants were never changed",
        ],
    );
    restore.result = Some("AWSCURRENT names signon_user_20260121, not signon".into());
    let mut drop = step(
        "production/drop-new-user",
        "Drop the new user once nothing uses it",
        StepStatus::Pending,
        &["DROP USER `signon_user_20260121`@`%`"],
    );
    drop.confirm = Confirm::Typed(NEW.into());
    vec![
        restore,
        step(
            "production/rollback-sync",
            "Force-sync the ExternalSecret back",
            StepStatus::Pending,
            &[
                "kubectl annotate -n apps externalsecrets.external-secrets.io signon-mysql force-sync=\"$(date +%s)\" --overwrite",
            ],
        ),
        drop,
    ]
}

#[test]
fn rollback_key_previews_every_step_then_rolls_back_as_typed() {
    // Its line in the Steps pane, as `rotui plan` says it.
    let s = rollbackable();
    assert!(screen(&s, 160, 48).contains("rollback possible (until production/drop-old-user)"));

    let mut s = rollbackable();
    key(&mut s, KeyCode::Char('1'));
    let fx = key(&mut s, KeyCode::Char('B'));
    assert!(fx.iter().any(|e| matches!(e, Effect::PreviewRollback)), "{fx:?}");
    assert!(matches!(s.dialog, Some(Dialog::Rollback { preview: None, .. })));
    // Not before the preview is there.
    let fx = key(&mut s, KeyCode::Enter);
    assert!(!fx.iter().any(writes), "{fx:?}");
    feed(&mut s, [Action::RollbackPreview(Ok(rollback_preview()))]);
    snap_both("dialog_rollback", &s);
    // The new user may hold the app's connections by now: not "never-used".
    let dialog = screen(&s, 160, 48);
    assert!(!dialog.contains("never-used"), "{dialog}");
    assert!(
        dialog.contains("to drop the new user too, once the app's connections on it end"),
        "{dialog}"
    );

    // Enter with nothing typed: roll back, keeping the new user.
    let fx = key(&mut s, KeyCode::Enter);
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Rollback { drop_new: None })),
        "{fx:?}"
    );
    assert!(s.dialog.is_none());

    // A wrong name does nothing; the new user's name drops it too.
    let mut s = rollbackable();
    key(&mut s, KeyCode::Char('1'));
    key(&mut s, KeyCode::Char('B'));
    feed(&mut s, [Action::RollbackPreview(Ok(rollback_preview()))]);
    keys(&mut s, "signon");
    let fx = key(&mut s, KeyCode::Enter);
    assert!(!fx.iter().any(writes), "{fx:?}");
    assert!(matches!(s.dialog, Some(Dialog::Rollback { .. })));
    keys(&mut s, "_user_20260121");
    let fx = key(&mut s, KeyCode::Enter);
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Rollback { drop_new: Some(n) } if n == NEW)),
        "{fx:?}"
    );

    // Esc cancels; nothing runs.
    let mut s = rollbackable();
    key(&mut s, KeyCode::Char('1'));
    key(&mut s, KeyCode::Char('B'));
    let fx = key(&mut s, KeyCode::Esc);
    assert!(fx.is_empty() && s.dialog.is_none(), "{fx:?}");
}

#[test]
fn no_rollback_dialog_when_the_survey_says_there_is_none() {
    let mut s = fixture();
    let mut p = plan();
    p.rollback = Some("no rollback: signon was dropped in production".into());
    feed(
        &mut s,
        [Action::Loaded {
            generation: 2,
            at: t0() - secs(1),
            answer: Answer::Plan(Ok(p)),
        }],
    );
    key(&mut s, KeyCode::Char('1'));
    let fx = key(&mut s, KeyCode::Char('B'));
    assert!(fx.is_empty(), "{fx:?}");
    assert!(s.dialog.is_none());
    assert_eq!(
        s.notice.as_ref().map(|(_, n)| n.as_str()),
        Some("no rollback: signon was dropped in production")
    );
    // Read-only refuses too.
    let mut s = rollbackable();
    s.read_only = true;
    key(&mut s, KeyCode::Char('1'));
    assert!(key(&mut s, KeyCode::Char('B')).is_empty());
    assert!(s.dialog.is_none());
}

#[test]
fn the_read_only_gate_calls_exactly_the_writes_writes() {
    let every_effect = [
        Effect::Fetch {
            request: Request::Users,
            generation: 1,
        },
        Effect::Watch { generation: 1 },
        Effect::RunStep("production/create-user".into()),
        Effect::PreviewRollback,
        Effect::Rollback { drop_new: None },
        Effect::Kill(KillTarget::Connection { id: 7, user: None }),
        Effect::ForceSync,
        Effect::SwitchTarget(Box::new(Target::new("staging", "signon", Engine::Mysql))),
        Effect::Quit,
    ];
    for effect in &every_effect {
        assert_eq!(effect.is_write(), writes(effect), "{effect:?}");
    }
    assert_eq!(every_effect.iter().filter(|e| writes(e)).count(), 4);
}

/// The operator's hour (issue 20): the screens' own checks.
mod screens;

/// The status bar says how the database connection is secured, in the
/// words the README gives: verified (with the CA file), unverified (a
/// warning colour) or plaintext (the danger colour).
#[test]
fn the_status_bar_says_whether_the_database_tls_is_verified() {
    use rotui::db::tls::TlsMode;
    let cases = [
        (
            TlsMode::VerifyFull("/etc/rds/global-bundle.pem".into()),
            "TLS verified (CA global-bundle.pem)",
            None,
        ),
        (TlsMode::Require, "TLS unverified", Some(Color::Yellow)),
        (TlsMode::Plaintext, "plaintext", Some(Color::Red)),
    ];
    for (mode, words, colour) in cases {
        let mut s = fixture();
        feed(
            &mut s,
            [Action::Loaded {
                generation: 1,
                at: t0(),
                answer: Answer::Session(Ok(SessionView {
                    db_tls: Some(mode.clone()),
                    ..session()
                })),
            }],
        );
        let t = draw(&s, 200, 40);
        let text = t.backend().to_string();
        let top = text.lines().next().unwrap_or_default();
        assert!(top.contains(words), "{mode:?}: {top}");
        if let Some(colour) = colour {
            let buf = t.backend().buffer();
            let row: Vec<&str> = (0..200u16).map(|x| buf[(x, 0)].symbol()).collect();
            let len = words.chars().count();
            let x = (0..200 - len)
                .find(|&x| row[x..x + len].concat() == words)
                .unwrap();
            assert_eq!(buf[(x as u16, 0)].fg, colour, "{mode:?} in its colour");
        }
    }
    // Without a connection, nothing is claimed.
    let s = fixture();
    let top = screen(&s, 200, 40);
    let top = top.lines().next().unwrap_or_default();
    assert!(!top.contains("TLS") && !top.contains("plaintext"), "{top}");
}
