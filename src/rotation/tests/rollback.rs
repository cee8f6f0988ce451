//! Rolling back on the fake world: the plan, its refusals, idempotence and
//! the journal. (The sandbox tests show it against real systems.)

use super::*;
use crate::rotation::journal::RotationState;
use crate::rotation::rollback::{self, Rollbackable};
use crate::rotation::survey;

impl Setup {
    /// Rotate until `step` is done (the rotation stays unfinished).
    async fn rotate_until(&self, step: &str, o: &RunOptions) -> Rotation {
        let rot = self.rotation(o).await;
        let mut o = o.clone();
        o.stop_after = Some(StepId(step.into()));
        let out = self.run(&rot, &o).await;
        assert!(matches!(out, RunOutcome::Waiting(Wait::Paused { .. })), "{out:?}");
        rot
    }
    async fn rollback(&self, o: RunOptions) -> (RunOutcome, String) {
        let mut out = Vec::new();
        let outcome = rollback::rollback_cmd(&self.plan.spec, &self.ctx, &self.journal(), o, &mut out).await;
        (outcome, String::from_utf8(out).unwrap())
    }
}

#[test]
fn the_rollback_plan_restores_every_environment_then_drops_the_new_user_where_it_was_created() {
    let p = rollback::plan(&spec(Engine::Postgres, &["production", "staging"], Mode::Normal)).unwrap();
    let ids: Vec<&str> = p.steps.iter().map(|s| s.id.0.as_str()).collect();
    assert_eq!(
        ids,
        [
            "production/rollback-secret",
            "production/rollback-sync",
            "production/rollback-verify-secret",
            "production/rollback-rollout",
            "staging/rollback-secret",
            "staging/rollback-sync",
            "staging/rollback-verify-secret",
            "staging/rollback-rollout",
            // Staging's login too: rotui made it there (pg_dump copies no roles).
            "production/drop-new-user",
            "staging/drop-new-user",
        ]
    );
    for drop in &p.steps[8..] {
        assert!(drop.requires.contains(&StepId("staging/rollback-rollout".into())));
    }
    assert!(p.steps.iter().all(|s| s.kind.is_rollback()));
}

#[tokio::test]
async fn a_rollback_after_promotion_brings_the_old_user_back_and_the_next_rotation_starts_afresh() {
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    let o = opts(true, &["signon"]);
    let rot = s.rotate_until("production/rollout", &o).await;
    let new = rot.new_username.clone();
    assert_eq!(s.fake("production").current.0, new);

    let (outcome, text) = s.rollback(opts(true, &[&new])).await;
    assert_eq!(outcome, RunOutcome::Done, "{text}");
    assert!(text.contains("done: rotation"), "{text}");
    {
        let st = s.fake("production");
        assert_eq!(st.current, ("signon".to_string(), OLD_PW.to_string()));
        assert_eq!(st.k8s_url.as_ref().unwrap().0, "signon");
        assert_eq!(st.pods_url.as_ref().unwrap().0, "signon");
        assert!(st.conns.get("signon").copied().unwrap_or(0) > 0);
        assert!(
            !st.users.contains_key(&new),
            "the new user is dropped when confirmed"
        );
        assert!(st.users.contains_key("signon"));
    }
    let j = s.journal();
    assert_eq!(j.unfinished().unwrap(), None, "the rotation is over");
    let listed = crate::rotation::journal::list(s.dir.path()).unwrap();
    assert_eq!(listed.last().unwrap().state, RotationState::RolledBack);

    // Twice: the second run writes nothing.
    let before = s.fake("production").writes.len();
    let (again, text) = s.rollback(opts(true, &[&new])).await;
    assert_eq!(again, RunOutcome::Done, "{text}");
    assert!(text.contains("rolled back already"), "{text}");
    assert_eq!(s.fake("production").writes.len(), before);

    // The next rotation is a fresh one, with a name never used.
    let o = opts(true, &["signon"]);
    let fresh = s.rotation(&o).await;
    assert_ne!(fresh.id, rot.id);
    assert_ne!(fresh.new_username, new);
    assert_eq!(fresh.old_user("production"), "signon");
    assert_eq!(s.run(&fresh, &o).await, RunOutcome::Done);
    assert_eq!(s.fake("production").current.0, fresh.new_username);
}

#[tokio::test]
async fn a_rollback_before_promotion_removes_awspending_and_keeps_the_new_user_unless_confirmed() {
    let s = Setup::new(Engine::Postgres, &["production"], Mode::Normal);
    let o = opts(true, &["account-api"]);
    let rot = s.rotate_until("production/test-login", &o).await;
    let new = rot.new_username.clone();
    assert!(s.fake("production").pending.is_some());

    let (outcome, text) = s.rollback(opts(true, &[])).await;
    assert_eq!(outcome, RunOutcome::Done, "{text}");
    let st = s.fake("production");
    assert_eq!(st.pending, None);
    assert_eq!(st.current.0, "account-api");
    assert!(st.writes.contains(&"remove_pending".to_string()));
    assert!(!st.writes.iter().any(|w| w.starts_with("restore_previous")));
    // Nothing to sync: the Secret never left the old user.
    assert_eq!(st.writes.iter().filter(|w| *w == "force_sync").count(), 0);
    assert!(st.users.contains_key(&new), "kept: its drop was not confirmed");
    drop(st);
    // What happened, in words: kept because its name was not typed.
    assert!(
        text.contains(&format!(
            "production/drop-new-user not run: {new} kept, not dropped: its name was not typed"
        )),
        "{text}"
    );
    assert!(!text.contains("override"), "{text}");
    assert!(s.journal_text().contains("\"event\":\"skipped\""));
}

#[tokio::test]
async fn no_rollback_once_the_old_user_is_dropped() {
    // Two environments: after production's drop the rotation is unfinished
    // (a run stopping after the last step would end it).
    let s = Setup::new(Engine::Mysql, &["production", "staging"], Mode::Normal);
    let o = opts(true, &["signon"]);
    let rot = s.rotate_until("production/drop-old-user", &o).await;

    let sv = survey::survey(&s.plan.spec, &s.ctx, &s.journal(), &o)
        .await
        .unwrap();
    assert_eq!(
        sv.rollback,
        Ok(Rollbackable::Dropped {
            env: "production".into(),
            user: "signon".into()
        })
    );
    let journal_before = s.journal_text();
    let writes_before = s.fake("production").writes.len();
    let (outcome, text) = s.rollback(opts(true, &[&rot.new_username])).await;
    let (_, err) = failed_at(&outcome);
    assert!(
        err.to_string().contains("no rollback: signon was dropped"),
        "{err}"
    );
    assert!(text.contains("no rollback: signon was dropped"), "{text}");
    assert_eq!(outcome.exit_code(), 1);
    assert_eq!(s.fake("production").writes.len(), writes_before);
    assert_eq!(s.journal_text(), journal_before, "nothing written");
}

#[tokio::test]
async fn the_survey_says_until_when_a_rollback_is_possible() {
    let s = Setup::new(Engine::Mysql, &["production", "staging"], Mode::Normal);
    let o = opts(true, &["signon"]);
    let sv = survey::survey(&s.plan.spec, &s.ctx, &s.journal(), &o)
        .await
        .unwrap();
    assert_eq!(sv.rollback, Ok(Rollbackable::NoRotation));
    s.rotate_until("production/promote", &o).await;
    let mut out = Vec::new();
    super::super::cli::plan_cmd(&s.plan.spec, &s.ctx, &s.journal(), &o, &mut out)
        .await
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("rollback possible (until production/drop-old-user, staging/drop-old-user)"),
        "{text}"
    );
}

#[tokio::test]
async fn a_rotation_being_rolled_back_cannot_be_resumed_forward() {
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    let o = opts(true, &["signon"]);
    let rot = s.rotate_until("production/promote", &o).await;
    // Without --yes the rollback stops before its first write, but has begun.
    let (outcome, text) = s.rollback(opts(false, &[])).await;
    assert!(
        matches!(&outcome, RunOutcome::Waiting(Wait::Confirmation { step, .. }) if step.0 == "production/rollback-secret"),
        "{outcome:?} {text}"
    );
    assert_eq!(outcome.exit_code(), 10);
    assert_eq!(s.fake("production").current.0, rot.new_username);
    let err = runner::start_or_resume(&s.plan.spec, &s.ctx, &s.journal(), &o)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("being rolled back"), "{err}");
    // Resumed, it finishes.
    let (outcome, text) = s.rollback(opts(true, &[])).await;
    assert_eq!(outcome, RunOutcome::Done, "{text}");
    assert!(s.journal_text().contains("\"event\":\"rolled_back\""));
}

#[tokio::test]
async fn the_new_user_is_not_dropped_while_it_has_connections() {
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    let o = opts(true, &["signon"]);
    let rot = s.rotate_until("production/rollout", &o).await;
    let new = rot.new_username.clone();
    // Something outside the app still holds a connection as the new user.
    s.fake("production").sticky = true;
    s.fake("production").conns.insert(new.clone(), 1);
    let (outcome, text) = s.rollback(opts(true, &[&new])).await;
    assert!(
        matches!(&outcome, RunOutcome::Waiting(Wait::Drain { user, .. }) if user == &new),
        "{outcome:?} {text}"
    );
    assert!(s.fake("production").users.contains_key(&new));
    assert_eq!(s.fake("production").current.0, "signon");
}

#[tokio::test]
async fn a_rollback_follows_the_holder_rule_and_clears_the_mark_from_any_laptop() {
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    let alice = as_holder(opts(true, &["signon"]), "alice@laptop-a");
    let rot = s.rotate_until("production/promote", &alice).await;
    assert!(
        !s.fake("production").mark_tags.is_empty(),
        "the rotation is marked"
    );

    // Bob, on another laptop, may not roll back Alice's fresh rotation.
    let (_bob_dir, bob_journal) = laptop();
    let bob_journal = bob_journal(&s.plan.spec);
    let bob = as_holder(opts(true, &[&rot.new_username]), "bob@laptop-b");
    let mut out = Vec::new();
    let refused = rollback::rollback_cmd(&s.plan.spec, &s.ctx, &bob_journal, bob, &mut out).await;
    let text = String::from_utf8(out).unwrap();
    assert!(matches!(refused, RunOutcome::Failed(_)), "{text}");
    assert!(text.contains("alice@laptop-a"), "the holder is named: {text}");
    assert_eq!(
        s.fake("production").current.0,
        rot.new_username,
        "nothing written"
    );

    // Alice, from a second laptop with an empty journal, rolls it back.
    let (_a2_dir, a2_journal) = laptop();
    let a2_journal = a2_journal(&s.plan.spec);
    let alice = as_holder(opts(true, &[&rot.new_username]), "alice@laptop-a");
    let mut out = Vec::new();
    let done = rollback::rollback_cmd(&s.plan.spec, &s.ctx, &a2_journal, alice, &mut out).await;
    let text = String::from_utf8(out).unwrap();
    assert_eq!(done, RunOutcome::Done, "{text}");
    let st = s.fake("production");
    assert_eq!(st.current.0, "signon");
    assert!(
        st.mark_tags.is_empty(),
        "a rolled-back rotation is no longer marked"
    );
}

/// Staging's login is rotui's own (the restore brought none): rolling back
/// after it was made drops it there too, and staging is back on its old user.
#[tokio::test]
async fn a_rollback_drops_the_login_rotui_made_in_restored_staging() {
    let s = Setup::new(Engine::Postgres, &["production", "staging"], Mode::Normal);
    let o = opts(true, &["account-api"]);
    let rot = s.rotation(&o).await;
    assert!(matches!(
        s.run(&rot, &o).await,
        RunOutcome::Waiting(Wait::Overnight { .. })
    ));
    {
        let p = s.fake("production");
        nightly_restore(&p, &mut s.fake("staging"));
    }
    s.rotate_until("staging/promote", &o).await;
    let new = rot.new_username.clone();
    assert!(s.fake("staging").users.contains_key(&new));

    let (outcome, text) = s.rollback(opts(true, &[&new])).await;
    assert_eq!(outcome, RunOutcome::Done, "{text}");
    for env in ["production", "staging"] {
        let f = s.fake(env);
        assert_eq!(f.current.0, "account-api", "{env}");
        assert!(!f.users.contains_key(&new), "{env}: {:?}", f.writes);
    }
}

/// The team's notices (issue 24), as the engine enqueues them: started,
/// blocked at the step that stopped the plan, waiting for the drop's
/// confirmation, finished; a pause of a step-by-step run (the dashboard's)
/// announces nothing, a resume no new start; a rollback ends rolled_back.
#[tokio::test]
async fn a_run_tells_the_team_each_kind_of_event_but_never_a_pause() {
    use crate::rotation::notice::{Notice, NoticeKind::*, Notifier};
    let (notifier, mut rx) = Notifier::channel(64);
    let mut told = move || {
        let mut v = vec![];
        while let Ok(Notice { kind, step, .. }) = rx.try_recv() {
            v.push((kind, step.map(|s| s.0).unwrap_or_default()));
        }
        v
    };
    let s = Setup::new(Engine::Mysql, &["production"], Mode::Normal);
    s.fake("production").fail_login = true;
    let mut o = opts(true, &[]);
    o.notify = Some(notifier.clone());
    let rot = s.rotation(&o).await;
    failed_at(&s.run(&rot, &o).await);
    assert_eq!(
        told(),
        [
            (Started, String::new()),
            (Blocked, "production/test-login".into())
        ]
    );
    s.fake("production").fail_login = false;
    o.stop_after = Some(StepId("production/test-login".into()));
    let resumed = s.rotation(&o).await;
    assert!(matches!(
        s.run(&resumed, &o).await,
        RunOutcome::Waiting(Wait::Paused { .. })
    ));
    assert_eq!(told(), [], "a resume and a pause say nothing");
    o.stop_after = None;
    assert!(matches!(
        s.run(&rot, &o).await,
        RunOutcome::Waiting(Wait::Confirmation { .. })
    ));
    assert_eq!(told(), [(Waiting, "production/drop-old-user".into())]);
    o.typed = vec!["signon".into()];
    assert_eq!(s.run(&rot, &o).await, RunOutcome::Done);
    assert_eq!(told(), [(Finished, String::new())]);

    // The next rotation, rolled back after its promotion.
    let next = s.rotate_until("production/promote", &o).await;
    assert_ne!(next.id, rot.id);
    let mut back = opts(true, &[]);
    back.notify = Some(notifier);
    let (outcome, text) = s.rollback(back).await;
    assert_eq!(outcome, RunOutcome::Done, "{text}");
    assert_eq!(told(), [(Started, String::new()), (RolledBack, String::new())]);
}
