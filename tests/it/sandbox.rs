//! `rotui sandbox` as a whole: the world comes up, says how to reach it, and
//! `rotui inspect` works from nothing but the exports it wrote.

use std::process::Command;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use rotui_sandbox::world::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_serves_the_runbook_world_and_inspect_runs_on_its_exports() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::start(dir.path()).await.expect("the sandbox starts");

    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("sandbox.json")).unwrap()).unwrap();
    for key in ["kubeconfig", "aws_endpoint_url", "aws_region", "env"] {
        assert!(info[key].is_string(), "sandbox.json lacks {key}");
    }
    for engine in ["mysql", "postgres"] {
        for key in ["admin_url", "app", "database"] {
            assert!(info[engine][key].is_string(), "sandbox.json lacks {engine}.{key}");
        }
    }
    // Each server's flavor and version; PostgreSQL is the estate's 17 by default.
    assert_eq!(info["postgres"]["flavor"], "postgresql-17", "{info}");
    assert!(
        info["postgres"]["version"].as_str().unwrap().starts_with("17."),
        "{info}"
    );
    assert!(dir.path().join("kubeconfig").exists());

    // ESO rendered both apps' DATABASE_URLs into their Secrets.
    let secrets: Api<Secret> = Api::namespaced(world.client().clone(), "apps");
    for name in ["signon-mysql", "account-api-postgres"] {
        let s = secrets.get(name).await.unwrap();
        assert!(s.data.unwrap().contains_key("DATABASE_URL"));
    }

    let env = rotui_sandbox::world::parse_env_file(
        &std::fs::read_to_string(dir.path().join("sandbox.env")).unwrap(),
    );
    for (app, engine, owner) in [
        ("signon", "mysql", "signon@%"),
        ("account-api", "postgres", "account-api"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_rotui"))
            .args([
                "inspect", "--app", app, "--engine", engine, "--user", app, "--json",
            ])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", dir.path())
            .envs(&env)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "inspect {app}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let objects = doc["objects"].as_array().unwrap();
        assert!(
            objects.iter().any(|o| o["owner"] == owner),
            "{app}: the app user owns or defines objects, as in the runbook"
        );
        let counts = doc["connections"]["counts"].as_array().unwrap();
        assert!(
            counts
                .iter()
                .any(|c| c["user"] == app && c["count"].as_i64().unwrap() >= 2),
            "{app}: the app pods hold connections: {counts:?}"
        );
        assert!(
            !stdout.contains("password\":"),
            "no password field in the document"
        );
    }

    // The same through a relay pod in the cluster (--tunnel), which is gone afterwards.
    let out = Command::new(env!("CARGO_BIN_EXE_rotui"))
        .args([
            "inspect", "--tunnel", "--app", "signon", "--engine", "mysql", "--json",
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("HOME", dir.path())
        .envs(&env)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "inspect --tunnel: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["flavor"]["kind"], world.info().mysql.flavor.as_str());
    assert!(
        world.info().mysql.version.contains("9.7"),
        "{:?}",
        world.info().mysql
    );
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(world.client().clone(), "apps");
    let relays = pods
        .list(&kube::api::ListParams::default().labels("app.kubernetes.io/managed-by=rotui"))
        .await
        .unwrap();
    assert!(relays.items.is_empty(), "the relay pod is deleted on exit");
    world.shutdown().await;
}
