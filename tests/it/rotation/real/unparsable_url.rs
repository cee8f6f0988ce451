//! An app whose DATABASE_URL does not parse before rotui starts: its
//! password holds `@ : / % # ?` and a space, which the ExternalSecret's
//! template writes without percent-encoding (as the estate's do). The
//! preflight says so before any write; while a rotation or a rollback runs,
//! such a URL is "not synced yet", never a failure that blocks both ways.

use super::*;
use k8s_openapi::api::core::v1::Secret;
use rotui::connect::Connected;
use rotui::db::Db;
use rotui::db::ident::mysql_str;
use rotui::k8s::{K8s, KubeOptions};
use rotui::preflight;

/// The characters a URL's password must have percent-encoded.
const NASTY: &str = "@:/%#? ";

/// The old user's password becomes one with [`NASTY`] in it, in the
/// database and in AWSCURRENT, and the ExternalSecret syncs it: the
/// Secret's DATABASE_URL no longer parses. The pods started before keep
/// serving on their sessions; the one Reloader starts cannot connect.
async fn break_the_url(w: &World, sandbox: &Sandbox) -> SecretString {
    let password = secret::secret(format!(
        "{}{NASTY}{}",
        &secret::generate_password().expose_secret()[..10],
        &secret::generate_password().expose_secret()[..4]
    ));
    MysqlServer::shared_flavor(w.flavor)
        .admin_exec(&[format!(
            "ALTER USER {} IDENTIFIED BY {}",
            Account::new(&w.old, "%").sql(),
            mysql_str(password.expose_secret())
        )])
        .await
        .unwrap();
    let host = w.current().await.host;
    Client::new(w.session.sdk_config())
        .put_secret_value()
        .secret_id(&w.secret_id)
        .secret_string(
            json!({"username": w.old, "password": password.expose_secret(),
                   "host": host, "hostReplica": "replica.internal"})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let cluster = &w.ctx.env("production").unwrap().cluster;
    assert_eq!(
        cluster.force_sync(Duration::from_secs(30)).await.unwrap(),
        SyncVerdict::Synced
    );
    // Read by the test itself: the Secret's URL does not parse.
    let name = &w.ctx.env("production").unwrap().target.k8s_secret;
    let secrets: kube::Api<Secret> = kube::Api::namespaced(sandbox.client.clone(), "apps");
    eventually("the Secret's DATABASE_URL no longer parses", || {
        let secrets = secrets.clone();
        async move {
            let s = secrets.get(name).await.unwrap();
            let url = String::from_utf8(s.data.unwrap()["DATABASE_URL"].0.clone()).unwrap();
            url::Url::parse(&url).is_err()
        }
    })
    .await;
    password
}

/// What `connect::open` would build for this world, made in-process.
async fn connected(w: &World, sandbox: &Sandbox) -> Connected {
    let target = w.ctx.env("production").unwrap().target.clone();
    let admin = MysqlServer::shared_flavor(w.flavor).admin_url(None);
    let db = Db::connect(Engine::Mysql, &admin, None).await.unwrap();
    let k8s = K8s::connect(&KubeOptions {
        kubeconfig: Some(sandbox.kubeconfig.clone()),
        context: None,
        namespace: Some("apps".into()),
        exec_env: None,
    })
    .await
    .map_err(rotui::secret::Redacted::error);
    Connected {
        target,
        session: Ok(w.session.clone()),
        db: Ok(db),
        k8s,
        kube_context: None,
        kube_cluster: None,
        environments: Default::default(),
        tunnel: None,
        db_addr: None,
        tls_relay: None,
    }
}

#[tokio::test]
async fn a_rotation_mends_an_app_whose_database_url_does_not_parse() {
    let (sandbox, w) = deployed(mysql_parts(MysqlFlavor::Mysql).await).await;
    let broken = break_the_url(&w, &sandbox).await;

    // The preflight says so before any write, and what to do; it does not
    // refuse the rotation, which mends it.
    let c = connected(&w, &sandbox).await;
    let finding = preflight::secret_url(&c).await.expect("a finding");
    let said = format!("{}: {}", finding.what, finding.problem.as_ref().unwrap().as_str());
    assert!(finding.advisory, "{said}");
    for words in [
        "not a valid URL",
        "cannot connect",
        "percent-encode",
        "Rotating mends it",
    ] {
        assert!(said.contains(words), "{words}: {said}");
    }
    let report = preflight::check(&c, false).await;
    assert!(report.findings().any(|f| f.what == finding.what), "{report}");
    assert!(!report.failures().any(|f| f.what == finding.what), "{report}");
    assert!(
        report.to_string().contains("do not stop the rotation"),
        "{report}"
    );
    crate::support::assert_no_secret(&format!("{said} {report} {report:?}"), &[&broken]);

    // The rotation runs to the end: after the promotion the Secret's old,
    // unparsable URL is "not synced yet", and the sync mends it.
    let o = sandbox_opts(&w, None);
    let r = runner::start_or_resume(&w.plan.spec, &w.ctx, &w.journal(), &o)
        .await
        .unwrap();
    let out = runner::run(&w.plan, &w.ctx, &r, &w.journal(), &o).await;
    assert_eq!(out, RunOutcome::Done, "{out:?}");
    let cur = w.current().await;
    assert_eq!(cur.username, r.new_username);
    assert!(
        cur.password
            .expose_secret()
            .chars()
            .all(|c| c.is_ascii_alphanumeric()),
        "rotui's password needs no escaping in a URL"
    );
    let creds = AppCredentials {
        username: cur.username.clone(),
        password: cur.password.clone(),
    };
    let ports = w.ctx.env("production").unwrap();
    assert!(ports.cluster.check_secret(&creds).await.unwrap().unwrap().matches);
    assert!(preflight::secret_url(&c).await.is_none(), "the URL parses now");
    assert!(w.db.connections(&r.new_username).await.unwrap() >= 2);
    assert!(w.db.user(&w.old).await.unwrap().is_none());
    let raw = std::fs::read_to_string(w.journal().path()).unwrap();
    crate::support::assert_no_secret(&raw, &[&broken, &cur.password]);
}

#[tokio::test]
async fn a_rollback_to_a_database_url_that_does_not_parse_goes_back_without_failing() {
    let (sandbox, w) = deployed(mysql_parts(MysqlFlavor::Mysql).await).await;
    let broken = break_the_url(&w, &sandbox).await;
    let o = sandbox_opts(&w, Some("production/promote"));
    let r = runner::start_or_resume(&w.plan.spec, &w.ctx, &w.journal(), &o)
        .await
        .unwrap();
    let out = runner::run(&w.plan, &w.ctx, &r, &w.journal(), &o).await;
    assert!(matches!(out, RunOutcome::Waiting(Wait::Paused { .. })), "{out:?}");

    // Rolled back: the secret moves back, and the Secret, which holds the
    // old credentials though its URL does not parse, counts as synced. The
    // app cannot roll out onto a URL it cannot read, so the rollback waits
    // there, saying why — twice over, never failing.
    for _ in 0..2 {
        let mut o = sandbox_opts(&w, None);
        o.typed = vec![r.new_username.clone()];
        o.rollout_timeout = Duration::from_secs(5);
        let mut text = Vec::new();
        let outcome =
            rotui::rotation::rollback::rollback_cmd(&w.plan.spec, &w.ctx, &w.journal(), o, &mut text).await;
        let text = String::from_utf8(text).unwrap();
        // The pods cannot start: the wait times out, or their crash loop
        // stops the rollback at its health gate first. Either way it says
        // why waiting will not help, and what to do.
        let detail = match &outcome {
            RunOutcome::Waiting(Wait::Rollout { detail, .. }) => detail.clone(),
            RunOutcome::Failed(e) if e.error.to_string().contains("health gate") => e.error.to_string(),
            other => panic!("{other:?}\n{text}"),
        };
        for words in ["not a valid URL", "cannot start", "percent-encode"] {
            assert!(detail.contains(words), "{words}: {detail}\n{text}");
        }
        crate::support::assert_no_secret(&format!("{outcome:?} {text}"), &[&broken]);
    }
    let cur = w.current().await;
    assert_eq!(cur.username, w.old);
    assert_eq!(cur.password.expose_secret(), broken.expose_secret());
    let creds = AppCredentials {
        username: cur.username.clone(),
        password: cur.password.clone(),
    };
    let check = w
        .ctx
        .env("production")
        .unwrap()
        .cluster
        .check_secret(&creds)
        .await
        .unwrap()
        .unwrap();
    assert!(
        check.matches && check.summary.contains("cannot connect"),
        "{}",
        check.summary
    );
}
