//! `rotui rollback` as the binary runs it, on the whole sandbox: its exit
//! codes (as `rotate`'s), and `rotui plan` saying whether one is possible.

use rotui_sandbox::world::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotui_rollback_exit_codes_and_plan_lines() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::start(dir.path()).await.expect("the sandbox starts");
    let env = rotui_sandbox::world::parse_env_file(
        &std::fs::read_to_string(dir.path().join("sandbox.env")).unwrap(),
    );
    let rotui = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rotui"))
            .args(args)
            .args(["--app", "signon", "--engine", "mysql"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", dir.path())
            .env("ROTUI_STATE_DIR", dir.path().join("state"))
            .envs(&env)
            .env("KUBECONFIG", &world.info().kubeconfig)
            .output()
            .expect("rotui runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };

    // Nothing to roll back yet: refused.
    let (code, text) = rotui(&["rollback", "--yes"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("no rollback: no rotation under way"), "{text}");

    // A rotation that waits for the drop's confirmation: exit 10.
    let (code, text) = rotui(&["rotate", "--yes"]);
    assert_eq!(code, Some(10), "{text}");
    let (code, text) = rotui(&["plan"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("rollback possible (until ") && text.contains("/drop-old-user)"),
        "{text}"
    );

    // Without --yes it stops before its first write: exit 10.
    let (code, text) = rotui(&["rollback"]);
    assert_eq!(code, Some(10), "{text}");
    let (code, text) = rotui(&["rollback", "--yes"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("rolled back"), "{text}");
    let (code, text) = rotui(&["rollback", "--yes"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("rolled back already"), "{text}");
    let (code, text) = rotui(&["journal"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("rolled back"), "{text}");
    world.shutdown().await;
}
