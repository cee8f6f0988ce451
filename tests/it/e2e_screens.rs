//! Issue 20's screens with the real binary in tmux against the sandbox: the
//! definers' preview at 200×50 read to its end before it is confirmed.

use std::collections::HashMap;
use std::time::Duration;

use regex::Regex;
use rotui_sandbox::world::World;

use crate::tmux::Tmux;

/// The sandbox and the environment a dashboard on it runs with.
pub async fn sandbox(dir: &std::path::Path) -> (World, HashMap<String, String>) {
    let world = World::start(dir).await.expect("the sandbox starts");
    let mut env =
        rotui_sandbox::world::parse_env_file(&std::fs::read_to_string(dir.join("sandbox.env")).unwrap());
    env.insert(
        "ROTUI_STATE_DIR".into(),
        dir.join("state").to_string_lossy().into_owned(),
    );
    env.insert("HOME".into(), dir.to_string_lossy().into_owned());
    env.insert("PATH".into(), std::env::var("PATH").unwrap());
    (world, env)
}

/// The sandbox's server of `engine` as its admin, the password read from
/// the admin secret.
async fn admin_of(world: &World, engine: rotui::target::Engine) -> rotui::db::Db {
    let info = match engine {
        rotui::target::Engine::Mysql => &world.info().mysql,
        rotui::target::Engine::Postgres => &world.info().postgres,
    };
    let sm = aws_sdk_secretsmanager::Client::new(
        rotui::aws::AwsSession::with_credentials(
            &rotui::aws::AwsOptions {
                endpoint_url: Some(world.info().aws_endpoint_url.clone()),
                region: Some("eu-west-1".into()),
                ..Default::default()
            },
            &rotui::aws::StaticCredentials::new("testing", "testing"),
        )
        .await
        .unwrap()
        .sdk_config(),
    );
    let admin = sm
        .get_secret_value()
        .secret_id(&info.admin_secret)
        .send()
        .await
        .unwrap();
    let admin: serde_json::Value = serde_json::from_str(admin.secret_string().unwrap()).unwrap();
    for password in admin.as_object().unwrap().values() {
        let password = rotui::secret::secret(password.as_str().unwrap());
        if let Ok(db) = rotui::db::Db::connect(engine, &info.admin_url, Some(&password)).await {
            return db;
        }
    }
    panic!("no admin password in the admin secret logs in");
}

/// (number, status word, title) of each row of the Steps pane.
fn steps(screen: &str) -> Vec<(usize, String, String)> {
    let re = Regex::new(r"│\s*(\d+) \S+ (done|pending|blocked|running|failed|waiting|skipped)\s+!?(.+?)\s*│")
        .unwrap();
    screen
        .lines()
        .filter_map(|l| re.captures(l))
        .map(|c| (c[1].parse().unwrap(), c[2].to_owned(), c[3].to_owned()))
        .collect()
}

fn status_of(screen: &str, n: usize) -> Option<String> {
    steps(screen)
        .into_iter()
        .find(|(m, _, _)| *m == n)
        .map(|(_, s, _)| s)
}

/// Aim at step `n` and open its preview.
fn open_preview(t: &Tmux, n: usize) -> String {
    t.keys(&["g"]);
    for _ in 1..n {
        t.keys(&["j"]);
    }
    t.keys(&["Enter"]);
    t.wait_for("the preview", Duration::from_secs(5), |s| s.contains("Preview:"))
}

/// Run step `n` by keys: its preview read to the end, any confirmation answered.
fn run_step(t: &Tmux, n: usize, app: &str) {
    open_preview(t, n);
    t.read_preview();
    t.run_previewed(app);
    t.wait_for(&format!("step {n} to finish"), Duration::from_secs(120), |s| {
        status_of(s, n).as_deref() == Some("done")
    });
}

/// The definers' preview at 200×50: every statement can be read, the
/// dialog says when more is below, and Enter goes on to "This cannot be
/// undone" only once the last row has been on screen; on a shorter terminal
/// it scrolls with j, Space, PgDn and G.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_definers_preview_is_read_to_its_end_before_it_is_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let (world, env) = sandbox(dir.path()).await;
    tokio::task::spawn_blocking(move || {
        let t = Tmux::start_sized(
            "rotui-preview",
            &env,
            env!("CARGO_BIN_EXE_rotui"),
            "--app signon --engine mysql",
            (200, 50),
        );
        let s = t.wait_for("the step list", Duration::from_secs(30), |s| steps(s).len() >= 10);
        let migrate = steps(&s)
            .into_iter()
            .find(|(_, _, title)| title.starts_with("Migrate definers"))
            .map(|(n, _, _)| n)
            .expect("a Migrate definers step");
        // The steps before it, by keys.
        for n in 1..migrate {
            let s = t.capture();
            if status_of(&s, n).as_deref() != Some("done") {
                run_step(&t, n, "signon");
            }
        }
        // At 200×50 the whole preview shows, its last statement included.
        open_preview(&t, migrate);
        // The preview's footer, not the Steps pane's cut detail behind it
        // (`↓ N more lines: Enter shows it whole`).
        let more = Regex::new(r"(?m)↓ (\d+) more lines(?:[^:]|$)").unwrap();
        // The footer follows the frame that measured the preview.
        let s = t.wait_for("the preview's footer", Duration::from_secs(5), |s| {
            s.contains("Enter continue") || more.is_match(s)
        });
        assert!(!more.is_match(&s), "{s}");
        assert!(s.contains("Enter continue (asks to confirm)"), "{s}");
        // The trigger, re-created last, is on screen too.
        assert!(
            Regex::new(r"CREATE DEFINER=\S+ TRIGGER").unwrap().is_match(&s),
            "every object's statement shows: {s}"
        );
        t.keys(&["Escape"]);

        // A shorter terminal: it says what is below, and will not go on until read.
        t.resize((200, 24));
        open_preview(&t, migrate);
        // Its footer, from the frame that measured it, says what is below.
        let s = t.wait_for("the preview's footer", Duration::from_secs(10), |s| {
            more.is_match(s)
        });
        let below: u32 = more.captures(&s).expect(&s)[1].parse().unwrap();
        assert!(!s.contains("Enter continue"), "{s}");
        t.keys(&["Enter"]);
        let s = t.wait_for("the refusal", Duration::from_secs(5), |s| {
            s.contains("read the whole preview first")
        });
        assert!(
            s.contains("Preview:") && !s.contains("This cannot be undone"),
            "{s}"
        );
        t.keys(&["j"]);
        t.wait_for("a row down", Duration::from_secs(5), |s| s.contains("↑ 1 above"));
        t.keys(&["Space"]);
        t.wait_for("a page down", Duration::from_secs(5), |s| {
            more.captures(s)
                .is_none_or(|c| c[1].parse::<u32>().unwrap() < below - 1)
        });
        t.keys(&["g"]);
        t.wait_for("back at the top", Duration::from_secs(5), |s| {
            !s.contains("above")
        });
        t.keys(&["G"]);
        t.wait_for("the end", Duration::from_secs(5), |s| {
            !more.is_match(s) && s.contains("Enter continue")
        });
        t.keys(&["Enter"]);
        t.wait_for("the confirmation", Duration::from_secs(5), |s| {
            s.contains("This cannot be undone")
        });
        t.keys(&["y"]);
        t.resize((200, 50));
        t.wait_for("the definers moved", Duration::from_secs(120), |s| {
            status_of(s, migrate).as_deref() == Some("done")
        });
    })
    .await
    .unwrap();
    world.shutdown().await;
}

/// The connections view in the sandbox, where rotui and the apps' pods all
/// connect from 127.0.0.1: rotui's own sessions are marked as such (not
/// "one of 4 pods"), `K` refuses them with the reason, and a kill that
/// fails says so in a notice that fades like the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotuis_own_connections_are_marked_and_not_killed() {
    let dir = tempfile::tempdir().unwrap();
    let (world, env) = sandbox(dir.path()).await;
    let admin_db = admin_of(&world, rotui::target::Engine::Mysql).await;
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let t = Tmux::start(
            "rotui-own",
            &env,
            env!("CARGO_BIN_EXE_rotui"),
            "--app signon --engine mysql",
        );
        t.wait_for("the step list", Duration::from_secs(30), |s| steps(s).len() >= 10);
        t.keys(&["2", "z", "c"]);
        let own_row = Regex::new(r"│(\d+) +(\S+) +127\.0\.0\.1:\d+ .*rotui \(this session\)").unwrap();
        let s = t.wait_for("rotui's own sessions", Duration::from_secs(30), |s| {
            own_row.is_match(s) && s.contains("signon ")
        });
        let admin = Regex::new(r"│\d+ +(aws_db_admin|root) .*").unwrap();
        for row in admin.find_iter(&s) {
            assert!(row.as_str().contains("rotui (this session)"), "{}", row.as_str());
        }
        // The app's sessions name the app's pods, not any pod on the address.
        let app_row = Regex::new(r"│\d+ +signon +127\.0\.0\.1:\d+ .*").unwrap();
        let app = app_row.find(&s).expect(&s).as_str().to_owned();
        assert!(app.contains("signon") && !app.contains("one of"), "{app}");

        // K on one of rotui's own: refused, with the reason. The filter
        // names the id and the user: the id alone also matches a client
        // port ending in it (`:54518 ` for `18 `).
        let own = own_row.captures(&s).unwrap();
        let (id, user) = (own[1].to_owned(), own[2].to_owned());
        t.keys(&["/"]);
        t.keys(&["-l", &format!("{id} {user} ")]);
        t.keys(&["Enter"]);
        t.keys(&["K"]);
        let s = t.wait_for("the refusal", Duration::from_secs(10), |s| {
            s.contains("rotui's own")
        });
        assert!(!s.contains("yes, do it"), "{s}");
        // Esc unzooms, Esc again clears the filter; z zooms again.
        for k in ["Escape", "Escape", "z"] {
            t.keys(&[k]);
            std::thread::sleep(Duration::from_millis(200));
        }

        // A kill that fails (the session ended while the kill was aimed):
        // said in a notice, which fades like the others.
        let s = t.wait_for("the filter cleared", Duration::from_secs(10), |s| {
            app_row.is_match(s)
        });
        let id = app_row.find(&s).unwrap().as_str().trim_start_matches('│');
        let id = id.split_whitespace().next().unwrap().to_owned();
        t.keys(&["/"]);
        t.keys(&["-l", &format!("{id} signon ")]);
        t.keys(&["Enter"]);
        t.keys(&["K"]);
        t.wait_for("the kill aimed", Duration::from_secs(10), |s| {
            s.contains("yes, do it")
        });
        runtime.block_on(admin_db.kill(id.parse().unwrap())).unwrap();
        t.keys(&["y"]);
        let failed = t.wait_for("the failed kill", Duration::from_secs(20), |s| {
            s.contains("✗ kill")
        });
        assert!(failed.contains(&id), "{failed}");
        t.wait_for("the failure to fade", Duration::from_secs(20), |s| {
            !s.contains("✗ kill")
        });
    })
    .await
    .unwrap();
    world.shutdown().await;
}

/// Each engine says which session took a connection snapshot: rotui's own,
/// by its user (counts) and its client address too (single rows).
#[tokio::test]
async fn a_connection_snapshot_names_its_own_session_on_both_engines() {
    let dir = tempfile::tempdir().unwrap();
    let (world, _) = sandbox(dir.path()).await;
    for engine in [rotui::target::Engine::Mysql, rotui::target::Engine::Postgres] {
        let db = admin_of(&world, engine).await;
        let rows = db.connections(true).await.unwrap();
        let own = rows.own.clone().expect("the own session, in the rows");
        let me = rows
            .rows
            .iter()
            .find(|c| c.user == own.user && c.client == own.client)
            .unwrap_or_else(|| panic!("{engine:?}: {own:?} among {:?}", rows.rows));
        assert!(me.user.is_some() && me.client.is_some(), "{me:?}");
        let counts = db.connections(false).await.unwrap();
        assert_eq!(counts.own.and_then(|o| o.user), own.user, "{engine:?}");
        db.close().await;
    }
    world.shutdown().await;
}

/// `just demo` as the README's quick start runs it: the dashboard on the
/// sandbox, its files in one 0700 directory; quitting prints the demo's
/// journal and removes the directory (kubeconfig, journal, log and definer
/// backups with it), leaving nothing behind in the temp dir.
#[test]
fn the_demo_shows_its_journal_and_leaves_nothing_behind() {
    let root = env!("CARGO_MANIFEST_DIR");
    // The sandbox's binary, beside rotui's: the workspace's test build makes
    // it (for the sandbox crate's own tests); built here only when missing.
    let rotui = std::path::Path::new(env!("CARGO_BIN_EXE_rotui"));
    let sandbox_bin = rotui.with_file_name("rotui-sandbox");
    if !sandbox_bin.exists() {
        let built = std::process::Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "rotui-sandbox", "--bin", "rotui-sandbox"])
            .current_dir(root)
            .status()
            .unwrap();
        assert!(built.success());
    }
    let tmp = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let env: HashMap<String, String> = [
        ("PATH", std::env::var("PATH").unwrap()),
        ("HOME", home.path().to_string_lossy().into_owned()),
        ("TMPDIR", tmp.path().to_string_lossy().into_owned()),
        ("ROTUI_BIN", rotui.to_string_lossy().into_owned()),
        ("ROTUI_SANDBOX_BIN", sandbox_bin.to_string_lossy().into_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .chain(
        ["ROTUI_MOTO_SERVER"]
            .into_iter()
            .filter_map(|k| Some((k.to_owned(), std::env::var(k).ok()?))),
    )
    .collect();
    let demo_dirs = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(tmp.path())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("rotui-demo-")
            })
            .collect()
    };
    let t = Tmux::start("rotui-demo", &env, "bash", &format!("{root}/scripts/demo.sh"));
    t.wait_for("the dashboard on the sandbox", Duration::from_secs(120), |s| {
        s.contains("sandbox/signon/mysql") && steps(s).len() >= 10
    });
    let dirs = demo_dirs();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&dirs[0]).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{}", dirs[0].display());
    t.keys(&["q"]);
    let end = t.wait_for("the demo to end", Duration::from_secs(60), |s| {
        crate::tmux::exit_code(s).is_some()
    });
    assert_eq!(crate::tmux::exit_code(&end), Some(0), "{end}");
    // Its journal, as `rotui journal` reads it, then the directory gone.
    let state = dirs[0].join("state");
    let unwrapped: String = end.lines().map(str::trim_end).collect();
    assert!(
        unwrapped.contains(&format!("no rotations recorded in {}", state.display())),
        "the demo's journal was printed: {end}"
    );
    assert!(end.contains("demo files removed"), "{end}");
    assert!(demo_dirs().is_empty(), "left behind: {:?}", demo_dirs());
}
