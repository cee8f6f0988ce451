//! Issue 20's screens: previews that scroll and are read before they are
//! confirmed, rotui's own connections, the masked URL, and the polish.

use super::*;

/// A step whose preview is far longer than any screen: the definers' move,
/// one statement per object.
fn long_plan() -> PlanView {
    let mut p = plan();
    let statements: Vec<String> = (1..=150)
        .map(|i| {
            format!(
                "ALTER DEFINER = 'signon_user_20260121'@'%' SQL SECURITY DEFINER VIEW `signon_production`.`view_{i}` AS SELECT {i}"
            )
        })
        .collect();
    let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
    let mut migrate = step(
        "migrate-definers",
        "Migrate definers to signon_user_20260121",
        StepStatus::Pending,
        &refs,
    );
    migrate.confirm = Confirm::Destructive;
    p.steps.insert(4, migrate);
    p
}

fn with_long_plan() -> State {
    let mut s = fixture();
    feed(
        &mut s,
        [Action::Loaded {
            generation: 2,
            at: t0(),
            answer: Answer::Plan(Ok(long_plan())),
        }],
    );
    s
}

fn notice(s: &State) -> String {
    s.notice.as_ref().map(|(_, n)| n.clone()).unwrap_or_default()
}

/// At 200×50 the definers' preview says how much more there is, scrolls with
/// every key a pager's user reaches for, and is confirmed only once its last
/// statement has been on screen.
#[test]
fn a_long_preview_scrolls_and_is_confirmed_only_once_read_to_the_end() {
    const SIZE: (u16, u16) = (200, 50);
    let mut s = with_long_plan();
    let k = |s: &mut State, code| key_at(s, code, SIZE);
    k(&mut s, KeyCode::Char('1'));
    k(&mut s, KeyCode::Char('g'));
    for _ in 0..4 {
        k(&mut s, KeyCode::Char('j'));
    }
    k(&mut s, KeyCode::Enter);
    assert!(
        matches!(&s.dialog, Some(Dialog::Preview { step, .. }) if step == "migrate-definers"),
        "{:?}",
        s.dialog
    );
    let text = screen(&s, SIZE.0, SIZE.1);
    let more = regex::Regex::new(r"↓ (\d+) more lines ").unwrap();
    let below: u16 = more.captures(&text).expect(&text)[1].parse().unwrap();
    assert!(below > 10, "{text}");
    assert!(!text.contains("view_150`"), "the last statement is below: {text}");
    assert!(
        !text.contains("Enter continue"),
        "going on is not offered yet: {text}"
    );
    insta::assert_snapshot!("preview_long_top_200x50", text);

    // Enter before the end: nothing runs, and the notice says why and how.
    assert!(k(&mut s, KeyCode::Enter).is_empty());
    assert!(matches!(s.dialog, Some(Dialog::Preview { .. })));
    assert!(
        notice(&s).contains("read the whole preview first"),
        "{}",
        notice(&s)
    );
    assert!(
        notice(&s).contains(&format!("{below} more lines")),
        "{}",
        notice(&s)
    );

    // Each key moves it as a pager's would.
    let offset = |s: &State| s.dialog.as_ref().and_then(|d| d.scroll()).unwrap().offset;
    k(&mut s, KeyCode::Char('j'));
    assert_eq!(offset(&s), 1);
    k(&mut s, KeyCode::Down);
    assert_eq!(offset(&s), 2);
    k(&mut s, KeyCode::Char('k'));
    k(&mut s, KeyCode::Up);
    assert_eq!(offset(&s), 0);
    k(&mut s, KeyCode::PageDown);
    let page = offset(&s);
    assert!(page > 20, "a page is most of the dialog: {page}");
    k(&mut s, KeyCode::PageUp);
    assert_eq!(offset(&s), 0);
    k(&mut s, KeyCode::Char(' '));
    assert_eq!(offset(&s), page, "Space pages down");
    assert!(screen(&s, SIZE.0, SIZE.1).contains(&format!("↑ {page} above")));
    k(&mut s, KeyCode::Char('g'));
    assert_eq!(offset(&s), 0);
    k(&mut s, KeyCode::Char('G'));
    let text = screen(&s, SIZE.0, SIZE.1);
    assert!(text.contains("view_150`"), "{text}");
    assert!(!more.is_match(&text), "{text}");
    assert!(text.contains("Enter continue (asks to confirm)"), "{text}");
    insta::assert_snapshot!("preview_long_end_200x50", text);

    // Read to the end: scrolling back up does not take that back.
    k(&mut s, KeyCode::Char('g'));
    assert!(k(&mut s, KeyCode::Enter).is_empty());
    assert!(matches!(s.dialog, Some(Dialog::Confirm(_))), "{:?}", s.dialog);
    assert_eq!(
        k(&mut s, KeyCode::Char('y')),
        vec![Effect::RunStep("migrate-definers".into())]
    );
}

/// A preview that fits says nothing of scrolling, and Enter goes on at once.
#[test]
fn a_preview_that_fits_goes_on_at_once() {
    let mut s = fixture();
    keys(&mut s, "1jjj");
    key(&mut s, KeyCode::Enter);
    let text = screen(&s, 160, 48);
    assert!(!text.contains("more lines") && !text.contains("above"), "{text}");
    assert_eq!(
        key(&mut s, KeyCode::Enter),
        vec![Effect::RunStep("promote".into())]
    );
}

/// The rollback's preview too: arrows and pages scroll it (letters are typed
/// into its field), and Enter rolls back only once all of it was shown.
#[test]
fn the_rollback_preview_scrolls_and_rolls_back_only_once_read() {
    let mut s = rollbackable();
    key_at(&mut s, KeyCode::Char('1'), (120, 30));
    key_at(&mut s, KeyCode::Char('B'), (120, 30));
    let mut steps = rollback_preview();
    for i in 0..30 {
        let mut extra = steps[0].clone();
        extra.id = format!("extra-{i}");
        extra.title = format!("Check {i}");
        steps.push(extra);
    }
    update(&mut s, Action::RollbackPreview(Ok(steps)));
    measure(&mut s, 120, 30);
    let more = regex::Regex::new(r"↓ \d+ more lines").unwrap();
    let text = screen(&s, 120, 30);
    assert!(more.is_match(&text), "{text}");
    let fx = key_at(&mut s, KeyCode::Enter, (120, 30));
    assert!(!fx.iter().any(writes), "{fx:?}");
    assert!(
        notice(&s).contains("read the whole preview first"),
        "{}",
        notice(&s)
    );
    // `j` is typed, not scrolled.
    key_at(&mut s, KeyCode::Char('j'), (120, 30));
    assert_eq!(s.dialog.as_ref().and_then(|d| d.scroll()).unwrap().offset, 0);
    key_at(&mut s, KeyCode::Backspace, (120, 30));
    key_at(&mut s, KeyCode::End, (120, 30));
    let text = screen(&s, 120, 30);
    assert!(!more.is_match(&text), "{text}");
    let fx = key_at(&mut s, KeyCode::Enter, (120, 30));
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Rollback { drop_new: None })),
        "{fx:?}"
    );
}

/// Promoted, not yet synced: the Secret's URL carries a password that is not
/// AWSCURRENT's. It shows masked, not as `signon:@host` (an empty password),
/// and `v` reveals it and hides it again.
#[test]
fn the_secrets_url_masks_a_password_that_differs_and_v_toggles_it() {
    let mut s = fixture();
    let mut view = cluster();
    let check = view.secret_check.as_mut().unwrap();
    check.user = Some(OLD.into());
    check.matches_app_secret = Verdict::No;
    feed(
        &mut s,
        [Action::Loaded {
            generation: 2,
            at: t0(),
            answer: Answer::Cluster(Ok(view)),
        }],
    );
    key(&mut s, KeyCode::Char('3'));
    let text = screen(&s, 160, 48);
    assert!(text.contains(&format!("{OLD}:{MASK}@signon-mysql")), "{text}");
    assert!(!text.contains(PASSWORD));
    key(&mut s, KeyCode::Char('v'));
    assert!(screen(&s, 160, 48).contains(&format!("{OLD}:{PASSWORD}@")));
    key(&mut s, KeyCode::Char('v'));
    let text = screen(&s, 160, 48);
    assert!(!text.contains(PASSWORD), "v again hides it: {text}");
    assert!(text.contains(&format!("{OLD}:{MASK}@")), "{text}");
}

/// The fixture's connections, with rotui's own sessions as the server saw
/// them: the admin's, from the address the old pod has too (as the sandbox's
/// pods and rotui share 127.0.0.1); and someone mid-handshake.
fn with_own(at: DateTime<Utc>, old: i64, new: i64) -> ConnectionSnapshot {
    let mut snap = snapshot(at, old, new);
    let mut rows = snap.rows.to_vec();
    rows.push(conn(100, "aws_db_admin", 40_001));
    rows.push(conn(101, "unauthenticated user", 40_002));
    snap.rows = rows.into();
    snap.counts[0].count = 2;
    snap.counts.push(ConnectionCount {
        user: Some("unauthenticated user".into()),
        count: 1,
    });
    snap.own = Some(rotui::model::OwnSession {
        user: Some("aws_db_admin".into()),
        client: Some("10.1.4.7:40000".into()),
    });
    snap
}

fn connections(s: &mut State, generation: u64, snap: ConnectionSnapshot) {
    feed(
        s,
        [Action::Loaded {
            generation,
            at: snap.at,
            answer: Answer::Connections(Ok(snap)),
        }],
    );
}

/// rotui's own connections are named as such, not as a pod sharing their
/// address, and `K` refuses them with the reason, single or all at once;
/// a kill aimed at someone else still goes ahead.
#[test]
fn rotuis_own_connections_are_marked_and_k_refuses_them() {
    let mut s = fixture();
    key(&mut s, KeyCode::Char('2'));
    key(&mut s, KeyCode::Char('c'));
    connections(&mut s, 50, with_own(t0(), 3, 2));
    s.zoom = true;
    let text = screen(&s, 160, 48);
    insta::assert_snapshot!("connections_own_zoomed_160x48", text);
    for id in ["99 ", "100 "] {
        let row = text.lines().find(|l| l.contains(&format!("│{id}"))).expect(&text);
        assert!(row.contains("rotui (this session)"), "{row}");
    }
    let app = text.lines().find(|l| l.contains("10.1.4.7:50000")).unwrap();
    assert!(app.contains("signon-5c4b-klmno (deployment/signon)"), "{app}");
    let handshake = text.lines().find(|l| l.contains("│101 ")).unwrap();
    assert!(handshake.contains("(logging in)"), "{handshake}");

    // K on rotui's own session: refused, saying why and what to do instead.
    key(&mut s, KeyCode::Char('G'));
    key(&mut s, KeyCode::Char('k'));
    assert_eq!(s.selection(Pane::Connections).key.as_deref(), Some("100"));
    assert!(key(&mut s, KeyCode::Char('K')).is_empty());
    assert!(s.dialog.is_none());
    let why = notice(&s);
    assert!(why.contains("rotui's own") && why.contains("quit rotui"), "{why}");

    // All of the admin's connections at once: refused too.
    key(&mut s, KeyCode::Char('c'));
    connections(&mut s, 51, with_own(t0(), 3, 2));
    key(&mut s, KeyCode::Char('g'));
    while s.selection(Pane::Connections).key.as_deref() != Some("aws_db_admin") {
        key(&mut s, KeyCode::Char('j'));
    }
    assert!(key(&mut s, KeyCode::Char('K')).is_empty());
    assert!(s.dialog.is_none());
    assert!(
        notice(&s).contains("the admin rotui logs in as"),
        "{}",
        notice(&s)
    );
    let text = screen(&s, 160, 48);
    let admin = text.lines().find(|l| l.contains("aws_db_admin")).unwrap();
    assert!(
        admin.contains("rotui"),
        "the admin's count is marked as rotui's: {admin}"
    );

    // Someone else's: aimed as before, and one connection is said as one.
    key(&mut s, KeyCode::Char('g'));
    while s.selection(Pane::Connections).key.as_deref() != Some(NEW) {
        key(&mut s, KeyCode::Char('j'));
    }
    connections(&mut s, 52, with_own(t0(), 3, 1));
    key(&mut s, KeyCode::Char('K'));
    assert!(matches!(s.dialog, Some(Dialog::Confirm(_))));
    let text = screen(&s, 160, 48);
    assert!(
        text.contains(&format!("Kill the one connection of user {NEW}")),
        "{text}"
    );
    assert!(text.contains("held still while K is aimed"), "{text}");
}

/// Beside the single connections only a few counts fit: the old and the new
/// user's stay among them, however many others are busier.
#[test]
fn the_old_users_count_stays_on_screen_beside_the_single_connections() {
    let mut s = fixture();
    key(&mut s, KeyCode::Char('2'));
    key(&mut s, KeyCode::Char('c'));
    let mut snap = with_own(t0(), 3, 2);
    for i in 0..12 {
        snap.counts.push(ConnectionCount {
            user: Some(format!("busy_app_{i}")),
            count: 40 + i,
        });
    }
    connections(&mut s, 60, snap);
    let text = screen(&s, 160, 48);
    insta::assert_snapshot!("connections_rows_busy_160x48", text);
    let old = regex::Regex::new(&format!(r"│{OLD} +old +3")).unwrap();
    let new = regex::Regex::new(&format!(r"│{NEW} +new +2")).unwrap();
    assert!(old.is_match(&text) && new.is_match(&text), "{text}");
}

/// Names and flags whole where there is room: the users' flags
/// (`role,super,locked`, not `role,super,l`), long account names, pod names
/// longer than 30 characters.
#[test]
fn names_flags_and_pods_are_whole_where_there_is_room() {
    let mut s = fixture();
    let mut session = user("mysql.session", "localhost");
    session.superuser = true;
    session.can_login = false;
    let mut users = vec![user("aws_db_admin", "%"), session, user(OLD, "%"), user(NEW, "%")];
    users[0].can_grant = true;
    let mut view = cluster();
    view.pods[0].name = "signon-worker-7d9f8b6c5d-abcde12345".into();
    feed(
        &mut s,
        [
            Action::Loaded {
                generation: 2,
                at: t0(),
                answer: Answer::Users(Ok(users)),
            },
            Action::Loaded {
                generation: 2,
                at: t0(),
                answer: Answer::Cluster(Ok(view)),
            },
        ],
    );
    let text = screen(&s, 160, 48);
    insta::assert_snapshot!("names_whole_160x48", text);
    let session = text
        .lines()
        .find(|l| l.contains("mysql.session@localhost"))
        .expect(&text);
    assert!(session.contains("role,super,locked"), "{session}");
    // Where the pane is wide enough for it and the db user both.
    let wide = screen(&s, 200, 50);
    let pod = wide
        .lines()
        .find(|l| l.contains("signon-worker-7d9f8b6c5d"))
        .expect(&wide);
    assert!(pod.contains("signon-worker-7d9f8b6c5d-abcde12345"), "{pod}");
    assert!(pod.contains(NEW), "{pod}");
}

/// The help: every line whole at 160×48, and what the Steps pane's marks mean.
#[test]
fn the_help_is_whole_and_explains_the_step_marks() {
    let mut s = fixture();
    key(&mut s, KeyCode::Char('?'));
    let text = screen(&s, 160, 48);
    insta::assert_snapshot!("help_160x48", text);
    assert!(
        text.contains("force-kill the selected connection / all of a user's"),
        "{text}"
    );
    assert!(
        text.contains("reveal masked values for a few seconds (v again hides)"),
        "{text}"
    );
    // The legend closes the help: scrolled to, where the screen is short.
    key(&mut s, KeyCode::Char('G'));
    let end = screen(&s, 160, 48);
    for mark in [
        "✓  done",
        "⊘  blocked",
        "◷  waiting",
        "▶  running",
        "!  destructive",
        "·  pending",
    ] {
        assert!(text.contains(mark) || end.contains(mark), "{mark}: {text}{end}");
    }
}

/// `/` with the single connections listed narrows the counts beside them too.
#[test]
fn the_filter_narrows_the_counts_beside_the_single_connections() {
    let mut s = fixture();
    key(&mut s, KeyCode::Char('2'));
    key(&mut s, KeyCode::Char('c'));
    connections(&mut s, 70, with_own(t0(), 3, 2));
    keys(&mut s, "/user_2026");
    key(&mut s, KeyCode::Enter);
    let text = screen(&s, 160, 48);
    insta::assert_snapshot!("connections_rows_filtered_160x48", text);
    let counts = regex::Regex::new(r"│([^│\s]+) +(old|new|rotui)? +\d+ █").unwrap();
    let users: Vec<String> = counts.captures_iter(&text).map(|c| c[1].to_owned()).collect();
    assert_eq!(users, [NEW], "{text}");
}

/// The Cluster pane's `db user`: from the single connections, once listed
/// (rotui's own left out); until then its header says where they are listed.
#[test]
fn each_pods_db_user_comes_from_its_connections() {
    let mut s = fixture();
    let mut view = cluster();
    for p in &mut view.pods {
        p.db_user = None;
    }
    feed(
        &mut s,
        [Action::Loaded {
            generation: 2,
            at: t0(),
            answer: Answer::Cluster(Ok(view)),
        }],
    );
    assert!(screen(&s, 160, 48).contains("db user (c in 2)"));
    key(&mut s, KeyCode::Char('2'));
    key(&mut s, KeyCode::Char('c'));
    connections(&mut s, 80, with_own(t0(), 3, 2));
    key(&mut s, KeyCode::Char('3'));
    key(&mut s, KeyCode::Char('z'));
    let text = screen(&s, 160, 48);
    insta::assert_snapshot!("pods_db_user_160x48", text);
    let old_pod = text
        .lines()
        .find(|l| l.contains("signon-5c4b-klmno"))
        .expect(&text);
    assert!(old_pod.contains(&format!("{OLD},{NEW}")), "{old_pod}");
    let other = text
        .lines()
        .find(|l| l.contains("signon-7d9f-abcde"))
        .expect(&text);
    let last = other.trim_end_matches(['│', ' ', '"']).split_whitespace().last();
    assert_eq!(last, Some("09:59:30"), "no connection from its address: {other}");
}

/// The single connections show the start of each running statement (as
/// pg_activity does), in what the pane leaves free; a password literal in
/// one is masked and control characters are escaped.
#[test]
fn running_statements_show_masked_in_the_connection_list() {
    rotui::secret::register(PASSWORD);
    let mut s = fixture();
    key(&mut s, KeyCode::Char('2'));
    key(&mut s, KeyCode::Char('c'));
    let mut snap = snapshot(t0(), 2, 2);
    let mut rows = snap.rows.to_vec();
    rows[0].state = Some("Query: User sleep".into());
    rows[0].query = rotui::db::statement_text(Some(format!("SELECT SLEEP(30),\n   '{PASSWORD}' AS pw")));
    rows[2].state = Some("Query: executing".into());
    rows[2].query = rotui::db::statement_text(Some(
        "UPDATE /* \u{1b}[31m */ users SET last_sign_in_at = NOW() WHERE id = 42".into(),
    ));
    snap.rows = rows.into();
    connections(&mut s, 60, snap);
    s.zoom = true;
    let text = screen(&s, 160, 48);
    assert!(!text.contains(PASSWORD), "{text}");
    let row = text
        .lines()
        .find(|l| l.contains("SELECT SLEEP(30), '"))
        .expect(&text);
    assert!(row.contains(rotui::secret::MASK), "{row}");
    assert!(text.contains("\\x1b[31m"), "{text}");
    insta::assert_snapshot!("connections_running_statements_160x48", text);
}

/// A step's detail longer than its box says how much is cut and that Enter
/// shows it whole, in the preview that scrolls.
#[test]
fn a_cut_step_detail_says_how_much_more_and_where_to_read_it() {
    const SIZE: (u16, u16) = (200, 50);
    let mut s = with_long_plan();
    let k = |s: &mut State, code| key_at(s, code, SIZE);
    k(&mut s, KeyCode::Char('1'));
    k(&mut s, KeyCode::Char('g'));
    for _ in 0..4 {
        k(&mut s, KeyCode::Char('j'));
    }
    let text = screen(&s, SIZE.0, SIZE.1);
    let more = regex::Regex::new(r"↓ (\d+) more lines: Enter shows it whole").unwrap();
    let cut: usize = more.captures(&text).expect(&text)[1].parse().unwrap();
    assert!(cut > 10, "{text}");
    insta::assert_snapshot!("step_detail_cut_200x50", text);
    k(&mut s, KeyCode::Enter);
    assert!(matches!(&s.dialog, Some(Dialog::Preview { step, .. }) if step == "migrate-definers"));
}
