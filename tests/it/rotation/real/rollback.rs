//! Rolling a rotation back in the sandbox: real databases, moto, and the
//! sandbox's API server with External Secrets, Reloader and app pods holding
//! real connections.

use super::*;
use rotui::rotation::rollback;

/// `rotui rollback`, as the command runs it; its outcome and printout.
async fn roll_back(w: &World, typed: &[&str]) -> (RunOutcome, String) {
    let mut o = sandbox_opts(w, None);
    o.typed = typed.iter().map(|t| t.to_string()).collect();
    let mut out = Vec::new();
    let outcome = rollback::rollback_cmd(&w.plan.spec, &w.ctx, &w.journal(), o, &mut out).await;
    (outcome, String::from_utf8(out).unwrap())
}

/// Rotate until `slug` is done, in one run.
async fn rotate_until(w: &World, slug: &str) -> Rotation {
    let o = sandbox_opts(w, Some(&format!("production/{slug}")));
    let r = runner::start_or_resume(&w.plan.spec, &w.ctx, &w.journal(), &o)
        .await
        .unwrap();
    let out = runner::run(&w.plan, &w.ctx, &r, &w.journal(), &o).await;
    // Stopping after the plan's last step ends the rotation.
    let last = w
        .plan
        .steps
        .last()
        .is_some_and(|s| rotui::rotation::Step::slug(&s.kind) == slug);
    if last {
        assert!(matches!(out, RunOutcome::Done), "{out:?}");
    } else {
        assert!(matches!(out, RunOutcome::Waiting(Wait::Paused { .. })), "{out:?}");
    }
    r
}

async fn plan_text(w: &World) -> String {
    let mut out = Vec::new();
    cli::plan_cmd(
        &w.plan.spec,
        &w.ctx,
        &w.journal(),
        &sandbox_opts(w, None),
        &mut out,
    )
    .await
    .unwrap();
    String::from_utf8(out).unwrap()
}

/// The app is on `user`: AWSCURRENT names it and logs in, the Secret and
/// every serving pod carry it, and the app's connections are its.
async fn app_runs_as(w: &World, user: &str) {
    let cur = w.current().await;
    assert_eq!(cur.username, user);
    assert_eq!(
        w.app_reads(user, &cur.password).await,
        Ok(2),
        "AWSCURRENT logs in"
    );
    let creds = AppCredentials {
        username: cur.username.clone(),
        password: cur.password.clone(),
    };
    let ports = w.ctx.env("production").unwrap();
    assert!(ports.cluster.check_secret(&creds).await.unwrap().unwrap().matches);
    let rollout = ports.cluster.check_rollout(&creds).await.unwrap();
    assert!(rollout.complete && rollout.pods.len() == 2, "{rollout:?}");
    assert!(rollout.pods.iter().all(|p| p.check.matches), "{rollout:?}");
    let db = w.db.clone();
    let user = user.to_owned();
    eventually("the app's connections are the expected user's", || {
        let (db, user) = (db.clone(), user.clone());
        async move { db.connections(&user).await.unwrap_or(0) >= 2 }
    })
    .await;
}

#[tokio::test]
async fn mysql_rollback_after_promotion_brings_the_app_back_then_a_fresh_rotation_succeeds() {
    let (_sandbox, w) = deployed(mysql_parts(MysqlFlavor::Mysql).await).await;
    let r = rotate_until(&w, "rollout").await;
    app_runs_as(&w, &r.new_username).await;
    assert!(
        plan_text(&w)
            .await
            .contains("rollback possible (until production/drop-old-user)")
    );

    let (outcome, text) = roll_back(&w, &[&r.new_username]).await;
    assert_eq!(outcome, RunOutcome::Done, "{text}");
    assert_eq!(outcome.exit_code(), 0);
    app_runs_as(&w, &w.old).await;
    assert_eq!(
        w.current().await.password.expose_secret(),
        w.old_password.expose_secret()
    );
    assert!(
        w.db.user(&r.new_username).await.unwrap().is_none(),
        "dropped, as confirmed"
    );
    assert_eq!(
        w.session
            .secrets()
            .pending(&w.secret_id)
            .await
            .unwrap()
            .map(|p| p.username),
        None
    );
    let entries = w.journal().entries().unwrap();
    assert!(matches!(entries.last().unwrap().event, Event::RolledBack));
    assert!(
        entries
            .iter()
            .any(|e| matches!(e.event, Event::RollbackStarted { .. }))
    );

    // Again: nothing to do, nothing written.
    let calls = w.calls().await;
    let (again, text) = roll_back(&w, &[&r.new_username]).await;
    assert_eq!(again, RunOutcome::Done, "{text}");
    assert!(text.contains("rolled back already"), "{text}");
    assert_eq!(w.calls().await, calls);

    // The next rotation starts afresh, with a new name, and finishes.
    let o = sandbox_opts(&w, None);
    let fresh = runner::start_or_resume(&w.plan.spec, &w.ctx, &w.journal(), &o)
        .await
        .unwrap();
    assert_ne!(fresh.id, r.id);
    assert_ne!(fresh.new_username, r.new_username);
    assert_eq!(fresh.old_user("production"), w.old);
    assert_eq!(
        runner::run(&w.plan, &w.ctx, &fresh, &w.journal(), &o).await,
        RunOutcome::Done
    );
    app_runs_as(&w, &fresh.new_username).await;
}

#[tokio::test]
async fn postgres_rollback_before_promotion_removes_awspending_and_drops_the_new_user() {
    let (_sandbox, w) = deployed(postgres_parts(PgFlavor::Pg17, false).await).await;
    let r = rotate_until(&w, "test-login").await;
    let pending = w.session.secrets().pending(&w.secret_id).await.unwrap();
    assert_eq!(pending.map(|p| p.username), Some(r.new_username.clone()));

    // The preview says what it will do, and why the database needs no undo.
    let owner = format!("{}-owner-role", w.old);
    let (_, steps) = rollback::preview(&w.plan.spec, &w.ctx, &w.journal(), &sandbox_opts(&w, None))
        .await
        .unwrap();
    let lines = steps[0].preview.clone().unwrap().join("\n");
    assert!(lines.contains("AWSPENDING removed from"), "{lines}");
    assert!(!lines.contains("AWSCURRENT moves back"), "{lines}");
    assert!(
        lines.contains(&format!(
            "no database undo needed: {} is a member of {owner}",
            w.old
        )),
        "{lines}"
    );

    let (outcome, text) = roll_back(&w, &[&r.new_username]).await;
    assert_eq!(outcome, RunOutcome::Done, "{text}");
    assert_eq!(
        w.session
            .secrets()
            .pending(&w.secret_id)
            .await
            .unwrap()
            .map(|p| p.username),
        None
    );
    assert!(w.db.user(&r.new_username).await.unwrap().is_none());
    app_runs_as(&w, &w.old).await;
    // The owner role stays: the old user works through it.
    assert!(w.db.objects_of(&owner).await.unwrap().len() >= 8);
}

#[tokio::test]
async fn mysql_no_rollback_once_the_old_user_is_dropped() {
    let (_sandbox, w) = deployed(mysql_parts(MysqlFlavor::Mysql).await).await;
    let r = rotate_until(&w, "drop-old-user").await;
    // The drop was the last step: the rotation is finished, nothing to undo.
    let plan = plan_text(&w).await;
    assert!(
        plan.contains(&format!("rotation {} finished", r.id)) && plan.contains("no rollback"),
        "{plan}"
    );

    let before = w.journal().entries().unwrap().len();
    let (outcome, text) = roll_back(&w, &[&r.new_username]).await;
    assert_eq!(outcome.exit_code(), 1, "{text}");
    assert!(
        text.contains("no rollback: no rotation under way") && text.contains("rotui rotate"),
        "says why and what to do: {text}"
    );
    assert_eq!(w.journal().entries().unwrap().len(), before, "nothing written");
    app_runs_as(&w, &r.new_username).await;
}
