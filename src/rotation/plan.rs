//! The runbook as ordered steps, per engine and mode.
//!
//! MySQL keeps users per environment, so the plan repeats per environment
//! and drops the old users last, once none is in use anywhere. A PostgreSQL
//! environment restored every night from another (staging from production,
//! by `pg_dump -Fc` and `pg_restore`: [`PlanSpec::restores`]) is not rotated
//! directly: the source is rotated, the restored environment waits until its
//! database was re-created after the source's switch, is validated, gets the
//! new login the restore did not bring (pg_dump copies no roles) with the
//! source's username and password, and is switched; then the old users are
//! dropped (roles are per server, so in each). An app the restore does not
//! copy is rotated directly in every environment. In "compromised
//! credentials" mode nobody waits for the night: every environment gets the
//! same new username and password at once.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::step::{Step, StepId, StepKind};
use crate::target::{Engine, EnvName};

// The spec a plan is built from, and a rotation's decisions, live in
// `spec.rs` (below the steps, which name them); callers find them here too.
pub use super::spec::{Mode, PlanSpec, Restore, Rotation, default_restores};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("name at least one environment")]
    NoEnvironment,
    #[error("environment {0} is named twice")]
    Duplicate(String),
    #[error(
        "PostgreSQL {env} is restored from {from} by the data sync (nightly or weekly), so a user created there is \
         undone: rotate {from} too ({env} follows), or use --compromised"
    )]
    RestoredWithoutSource { env: EnvName, from: EnvName },
    #[error(
        "{env} is restored from {from}, and {from} (through others) from {env}: a cycle has no \
         first source; correct `restored_from` in the config"
    )]
    RestoreChain { env: EnvName, from: EnvName },
}

/// The ordered steps of a rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub spec: PlanSpec,
    pub steps: Vec<Step>,
}

impl Plan {
    pub fn build(spec: &PlanSpec) -> Result<Plan, PlanError> {
        if spec.envs.is_empty() {
            return Err(PlanError::NoEnvironment);
        }
        for (i, e) in spec.envs.iter().enumerate() {
            if spec.envs[..i].contains(e) {
                return Err(PlanError::Duplicate(e.to_string()));
            }
        }
        let mut b = Builder::new(spec.engine);
        match spec.engine {
            Engine::Mysql => mysql(spec, &mut b),
            Engine::Postgres => postgres(spec, &mut b)?,
        }
        Ok(Plan {
            spec: spec.clone(),
            steps: b.steps,
        })
    }

    pub fn step(&self, id: &StepId) -> Option<&Step> {
        self.steps.iter().find(|s| &s.id == id)
    }

    /// The prerequisites of `step` that are neither done nor skipped by an
    /// override: it may run only when this is empty.
    pub fn unmet(&self, step: &Step, satisfied: impl Fn(&StepId) -> bool) -> Vec<StepId> {
        step.requires.iter().filter(|r| !satisfied(r)).cloned().collect()
    }
}

struct Builder {
    engine: Engine,
    steps: Vec<Step>,
    /// The last step of each environment: the next one there requires it.
    last: BTreeMap<String, StepId>,
}

impl Builder {
    fn new(engine: Engine) -> Self {
        Builder {
            engine,
            steps: Vec::new(),
            last: BTreeMap::new(),
        }
    }

    /// Add a step in `env` after that environment's previous step, also
    /// requiring `extra`.
    fn push(&mut self, env: &str, kind: StepKind, extra: &[StepId]) -> StepId {
        let id = StepId(format!("{env}/{}", Step::slug(&kind)));
        let mut requires: Vec<StepId> = self.last.get(env).cloned().into_iter().collect();
        // Once each: the previous step may be among `extra` too ("needs
        // production/drain, production/drain first" said it twice).
        for r in extra {
            if !requires.contains(r) {
                requires.push(r.clone());
            }
        }
        self.steps.push(Step {
            id: id.clone(),
            env: EnvName::from(env),
            engine: self.engine,
            kind,
            requires,
        });
        self.last.insert(env.to_owned(), id.clone());
        id
    }

    fn last(&self, env: &str) -> Vec<StepId> {
        self.last.get(env).cloned().into_iter().collect()
    }
}

/// The switch-over every environment goes through once its new user exists.
fn switch_over(b: &mut Builder, env: &str, extra_for_promote: &[StepId]) {
    let login = b.push(env, StepKind::TestLogin, &[]);
    let mut promote_req = vec![login];
    promote_req.extend_from_slice(extra_for_promote);
    b.push(env, StepKind::Promote, &promote_req);
    b.push(env, StepKind::ForceSync, &[]);
    b.push(env, StepKind::VerifySecret, &[]);
    b.push(env, StepKind::Rollout, &[]);
    b.push(env, StepKind::Drain, &[]);
}

fn mysql(spec: &PlanSpec, b: &mut Builder) {
    let first = spec.envs[0].clone();
    for env in &spec.envs {
        let source = (spec.mode == Mode::Compromised && env != &first).then(|| first.clone());
        // The same password elsewhere needs the first environment's to exist.
        let needs = match &source {
            Some(s) => vec![StepId(format!("{s}/store-pending"))],
            None => vec![],
        };
        b.push(env, StepKind::Inspect, &[]);
        b.push(env, StepKind::CheckDefiners, &[]);
        b.push(env, StepKind::StorePending { source }, &needs);
        b.push(env, StepKind::CreateUser, &[]);
        b.push(env, StepKind::VerifyGrants, &[]);
        b.push(env, StepKind::MigrateDefiners, &[]);
        switch_over(b, env, &[]);
    }
    // Confirm the old credentials are unused everywhere, then drop them in each environment.
    let drained: Vec<StepId> = spec.envs.iter().flat_map(|e| b.last(e)).collect();
    for env in &spec.envs {
        b.push(env, StepKind::DropOldUser { also_check: vec![] }, &drained);
    }
}

fn postgres(spec: &PlanSpec, b: &mut Builder) -> Result<(), PlanError> {
    if spec.mode == Mode::Normal {
        for r in &spec.restores {
            if spec.envs.contains(&r.env) && r.from != r.env && !spec.envs.contains(&r.from) {
                return Err(PlanError::RestoredWithoutSource {
                    env: r.env.clone(),
                    from: r.from.clone(),
                });
            }
        }
    }
    // Environments rotated directly, production first; the restored ones
    // follow the environment they are copied from.
    let restored = |e: &str| spec.restored_from(e).is_some();
    let direct: Vec<EnvName> = {
        let mut d: Vec<EnvName> = spec.envs.iter().filter(|e| !restored(e)).cloned().collect();
        if let Some(i) = d.iter().position(|e| e == "production") {
            let p = d.remove(i);
            d.insert(0, p);
        }
        d
    };
    // Each restored environment after the one it is copied from, which may
    // itself be a copy (integration from staging, weekly, staging from
    // production): a chain, in order. A cycle has no first source.
    let mut later: Vec<(EnvName, EnvName)> = vec![];
    let mut pending: Vec<(EnvName, EnvName)> = spec
        .envs
        .iter()
        .filter_map(|e| spec.restored_from(e).map(|f| (e.clone(), EnvName::from(f))))
        .collect();
    while !pending.is_empty() {
        let ready = |f: &EnvName| !restored(f) || later.iter().any(|(e, _)| e == f);
        let Some(i) = pending.iter().position(|(_, f)| ready(f)) else {
            let (env, from) = pending.swap_remove(0);
            return Err(PlanError::RestoreChain { env, from });
        };
        later.push(pending.remove(i));
    }
    // Compromised mode: everyone gets the first environment's new password.
    let Some(first) = direct.first().cloned() else {
        return Err(PlanError::NoEnvironment);
    };

    for env in &direct {
        let source = (spec.mode == Mode::Compromised && *env != first).then(|| first.clone());
        let needs = match &source {
            Some(s) => vec![StepId(format!("{s}/store-pending"))],
            None => vec![],
        };
        b.push(env, StepKind::Inspect, &[]);
        b.push(env, StepKind::EnsureOwnerRole, &[]);
        b.push(env, StepKind::StorePending { source }, &needs);
        b.push(env, StepKind::CreateUser, &[]);
        b.push(env, StepKind::VerifyInheritance, &[]);
        switch_over(b, env, &[]);
    }

    let mut also_check: BTreeMap<EnvName, Vec<EnvName>> = BTreeMap::new();
    for (env, from) in &later {
        // Only once the source has switched and drained: a restore after
        // that carries its changes.
        let drained = b.last(from);
        let from = from.clone();
        // The restore re-creates objects owned as in the source: by the owner
        // role, which pg_dump does not create. Made here (and given to the
        // old login) before the night, staging's app keeps working after it.
        b.push(env, StepKind::Inspect, &[]);
        b.push(env, StepKind::EnsureOwnerRole, &[]);
        b.push(env, StepKind::AwaitOvernightSync { from: from.clone() }, &drained);
        b.push(env, StepKind::ValidateRestore { from: from.clone() }, &[]);
        b.push(
            env,
            StepKind::StorePending {
                source: Some(from.clone()),
            },
            &[],
        );
        // pg_dump copies no roles: the new login is made here, with the
        // source's username and password.
        b.push(env, StepKind::CreateRestoredLogin { from: from.clone() }, &[]);
        switch_over(b, env, &[]);
        also_check.entry(from).or_default().push(env.clone());
    }

    let drained: Vec<StepId> = spec.envs.iter().flat_map(|e| b.last(e)).collect();
    for env in direct.iter().chain(later.iter().map(|(e, _)| e)) {
        // A restored environment's secrets and connections must be off the
        // old user before its source drops it: the next restore hands the
        // objects to roles as the source has them.
        let check = also_check.get(env).cloned().unwrap_or_default();
        b.push(env, StepKind::DropOldUser { also_check: check }, &drained);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Target;

    fn spec(engine: Engine, envs: &[&str], mode: Mode) -> PlanSpec {
        PlanSpec {
            app: "signon".into(),
            engine,
            envs: envs.iter().map(|e| EnvName::from(*e)).collect(),
            mode,
            restores: default_restores(),
        }
    }

    fn ids(p: &Plan) -> Vec<&str> {
        p.steps.iter().map(|s| s.id.0.as_str()).collect()
    }

    #[test]
    fn mysql_follows_the_runbook_per_environment() {
        let p = Plan::build(&spec(Engine::Mysql, &["production", "staging"], Mode::Normal)).unwrap();
        let per_env = [
            "inspect",
            "check-definers",
            "store-pending",
            "create-user",
            "verify-grants",
            "migrate-definers",
            "test-login",
            "promote",
            "force-sync",
            "verify-secret",
            "rollout",
            "drain",
        ];
        let mut want: Vec<String> = vec![];
        for env in ["production", "staging"] {
            want.extend(per_env.iter().map(|s| format!("{env}/{s}")));
        }
        want.push("production/drop-old-user".into());
        want.push("staging/drop-old-user".into());
        assert_eq!(ids(&p), want);
        // Each environment generates its own password in normal mode.
        assert!(p.steps.iter().all(|s| s.kind
            != StepKind::StorePending {
                source: Some("production".into())
            }));
        // Drops wait for every environment's drain.
        let drop = p.step(&StepId("production/drop-old-user".into())).unwrap();
        assert!(drop.requires.contains(&StepId("staging/drain".into())));
        assert!(drop.requires.contains(&StepId("production/drain".into())));
    }

    #[test]
    fn postgres_waits_overnight_for_staging_before_dropping() {
        let p = Plan::build(&spec(Engine::Postgres, &["production", "staging"], Mode::Normal)).unwrap();
        assert_eq!(
            ids(&p),
            [
                "production/inspect",
                "production/ensure-owner-role",
                "production/store-pending",
                "production/create-user",
                "production/verify-inheritance",
                "production/test-login",
                "production/promote",
                "production/force-sync",
                "production/verify-secret",
                "production/rollout",
                "production/drain",
                "staging/inspect",
                "staging/ensure-owner-role",
                "staging/await-overnight-sync",
                "staging/validate-restore",
                "staging/store-pending",
                "staging/create-restored-login",
                "staging/test-login",
                "staging/promote",
                "staging/force-sync",
                "staging/verify-secret",
                "staging/rollout",
                "staging/drain",
                "production/drop-old-user",
                "staging/drop-old-user",
            ]
        );
        let drop = p.step(&StepId("production/drop-old-user".into())).unwrap();
        assert_eq!(
            drop.kind,
            StepKind::DropOldUser {
                also_check: vec!["staging".into()]
            }
        );
        let staging_pending = p.step(&StepId("staging/store-pending".into())).unwrap();
        assert_eq!(
            staging_pending.kind,
            StepKind::StorePending {
                source: Some("production".into())
            }
        );
    }

    #[test]
    fn an_app_the_restore_does_not_copy_is_rotated_directly_in_staging() {
        let t = Target::new("production", "account-api", Engine::Postgres);
        let envs = ["production".to_string(), "staging".to_string()];
        let s = PlanSpec::for_target_with_restores(&t, &envs, Mode::Normal, &[]);
        assert!(s.restores.is_empty() && s.restored_from("staging").is_none());
        let p = Plan::build(&s).unwrap();
        assert!(
            !p.steps
                .iter()
                .any(|s| matches!(s.kind, StepKind::AwaitOvernightSync { .. }))
        );
        for id in [
            "staging/create-user",
            "staging/ensure-owner-role",
            "staging/drop-old-user",
        ] {
            assert!(p.step(&StepId(id.into())).is_some(), "{id}");
        }
        // Its own password: nothing to wait for, nothing to share.
        assert_eq!(
            p.step(&StepId("staging/store-pending".into())).unwrap().kind,
            StepKind::StorePending { source: None }
        );
        // Staging alone is fine then.
        let alone = PlanSpec::for_target_with_restores(&t, &["staging".into()], Mode::Normal, &[]);
        assert!(Plan::build(&alone).is_ok());
    }

    #[test]
    fn restores_are_data_and_default_to_staging_from_production() {
        let t = Target::new("production", "content-store", Engine::Postgres);
        let envs = ["production".to_string(), "staging".to_string()];
        assert_eq!(
            PlanSpec::for_target(&t, &envs, Mode::Normal).restores,
            default_restores()
        );
        let qa = PlanSpec::for_target_with_restores(
            &t,
            &["production".into(), "qa".into(), "staging".into()],
            Mode::Normal,
            &[("qa".into(), "production".into())],
        );
        let p = Plan::build(&qa).unwrap();
        assert!(p.step(&StepId("qa/await-overnight-sync".into())).is_some());
        assert!(p.step(&StepId("staging/create-user".into())).is_some());
        // A spec journalled before restores existed reads as the default.
        let old = r#"{"app":"a","engine":"postgres","envs":["production","staging"],"mode":"normal"}"#;
        let read: PlanSpec = serde_json::from_str(old).unwrap();
        assert_eq!(read.restores, default_restores());
        assert_eq!(read.restored_from("staging"), Some("production"));
        // MySQL and compromised mode never wait for a restore.
        let mut m = read.clone();
        m.engine = Engine::Mysql;
        assert_eq!(m.restored_from("staging"), None);
        m.engine = Engine::Postgres;
        m.mode = Mode::Compromised;
        assert_eq!(m.restored_from("staging"), None);
    }

    /// Integration is restored weekly from staging, staging nightly from
    /// production: a chain, each link waiting for the one before to switch.
    #[test]
    fn a_restore_chain_is_planned_link_by_link_and_a_cycle_refused() {
        let t = Target::new("production", "email-alert-api", Engine::Postgres);
        let envs = ["integration".to_string(), "production".into(), "staging".into()];
        let chain = PlanSpec::for_target_with_restores(
            &t,
            &envs,
            Mode::Normal,
            &[
                ("integration".into(), "staging".into()),
                ("staging".into(), "production".into()),
            ],
        );
        let p = Plan::build(&chain).unwrap();
        let at = |id: &str| {
            p.steps
                .iter()
                .position(|s| s.id.0 == id)
                .unwrap_or_else(|| panic!("{id} in {:?}", ids(&p)))
        };
        assert_eq!(p.steps[0].id.0, "production/inspect");
        assert!(at("production/drain") < at("staging/await-overnight-sync"));
        assert!(at("staging/drain") < at("integration/await-overnight-sync"));
        let wait = p
            .step(&StepId("integration/await-overnight-sync".into()))
            .unwrap();
        assert_eq!(
            wait.kind,
            StepKind::AwaitOvernightSync {
                from: "staging".into()
            }
        );
        assert!(
            wait.requires.contains(&StepId("staging/drain".into())),
            "{:?}",
            wait.requires
        );
        assert_eq!(
            p.step(&StepId("integration/store-pending".into())).unwrap().kind,
            StepKind::StorePending {
                source: Some("staging".into())
            }
        );
        // Staging's drop checks integration, production's checks staging.
        let drop = |env: &str| {
            p.step(&StepId(format!("{env}/drop-old-user")))
                .unwrap()
                .kind
                .clone()
        };
        assert_eq!(
            drop("staging"),
            StepKind::DropOldUser {
                also_check: vec!["integration".into()]
            }
        );
        assert_eq!(
            drop("production"),
            StepKind::DropOldUser {
                also_check: vec!["staging".into()]
            }
        );
        // Two environments restored from each other: no first source.
        let cycle = PlanSpec::for_target_with_restores(
            &t,
            &["staging".into(), "integration".into()],
            Mode::Normal,
            &[
                ("integration".into(), "staging".into()),
                ("staging".into(), "integration".into()),
            ],
        );
        let err = Plan::build(&cycle).unwrap_err();
        assert!(matches!(err, PlanError::RestoreChain { .. }), "{err}");
        assert!(err.to_string().contains("a cycle has no first source"), "{err}");
    }

    #[test]
    fn postgres_production_comes_first_whatever_the_order_given() {
        let p = Plan::build(&spec(Engine::Postgres, &["staging", "production"], Mode::Normal)).unwrap();
        assert_eq!(p.steps[0].id.0, "production/inspect");
    }

    #[test]
    fn compromised_mode_has_no_overnight_wait_and_shares_one_password() {
        let p = Plan::build(&spec(
            Engine::Postgres,
            &["production", "staging"],
            Mode::Compromised,
        ))
        .unwrap();
        assert!(
            !p.steps
                .iter()
                .any(|s| matches!(s.kind, StepKind::AwaitOvernightSync { .. }))
        );
        let staging_pending = p.step(&StepId("staging/store-pending".into())).unwrap();
        assert_eq!(
            staging_pending.kind,
            StepKind::StorePending {
                source: Some("production".into())
            }
        );
        assert!(
            staging_pending
                .requires
                .contains(&StepId("production/store-pending".into()))
        );
        // Staging creates the user itself and drops its own old user.
        assert!(p.step(&StepId("staging/create-user".into())).is_some());
        assert!(p.step(&StepId("staging/drop-old-user".into())).is_some());

        let m = Plan::build(&spec(
            Engine::Mysql,
            &["production", "staging"],
            Mode::Compromised,
        ))
        .unwrap();
        let s = m.step(&StepId("staging/store-pending".into())).unwrap();
        assert_eq!(
            s.kind,
            StepKind::StorePending {
                source: Some("production".into())
            }
        );
    }

    #[test]
    fn specs_and_targets_per_environment() {
        let mut t = Target::new("production", "signon", Engine::Mysql);
        let s = PlanSpec::for_target(&t, &[], Mode::Normal);
        assert_eq!(s.envs, ["production"]);
        let staging = PlanSpec::target_in(&t, "staging");
        assert_eq!(staging.env, "staging");
        assert_eq!(staging.admin_secret, "staging-rds-admin-passwords");
        assert_eq!(staging.app_secret, "govuk/signon/mysql");
        assert_eq!(staging.database, "signon_production");
        t.admin_secret = "shared-admin".into();
        assert_eq!(PlanSpec::target_in(&t, "staging").admin_secret, "shared-admin");
    }

    #[test]
    fn single_environments_and_bad_specs() {
        let p = Plan::build(&spec(Engine::Postgres, &["qa"], Mode::Normal)).unwrap();
        assert!(
            !p.steps
                .iter()
                .any(|s| matches!(s.kind, StepKind::AwaitOvernightSync { .. }))
        );
        assert_eq!(p.steps.last().unwrap().id.0, "qa/drop-old-user");
        // Integration is restored weekly from staging: alone, the next
        // restore would undo it.
        assert_eq!(
            Plan::build(&spec(Engine::Postgres, &["integration"], Mode::Normal)),
            Err(PlanError::RestoredWithoutSource {
                env: "integration".into(),
                from: "staging".into()
            })
        );
        assert_eq!(
            Plan::build(&spec(Engine::Postgres, &["staging"], Mode::Normal)),
            Err(PlanError::RestoredWithoutSource {
                env: "staging".into(),
                from: "production".into()
            })
        );
        assert!(Plan::build(&spec(Engine::Postgres, &["staging"], Mode::Compromised)).is_ok());
        assert_eq!(
            Plan::build(&spec(Engine::Mysql, &[], Mode::Normal)),
            Err(PlanError::NoEnvironment)
        );
        assert_eq!(
            Plan::build(&spec(Engine::Mysql, &["a", "a"], Mode::Normal)),
            Err(PlanError::Duplicate("a".into()))
        );
    }

    #[test]
    fn every_step_requires_its_predecessor_and_promote_requires_the_login_test() {
        for (engine, envs) in [
            (Engine::Mysql, &["production", "staging"][..]),
            (Engine::Postgres, &["production", "staging"][..]),
            (Engine::Mysql, &["production"][..]),
            (Engine::Postgres, &["production"][..]),
        ] {
            let p = Plan::build(&spec(engine, envs, Mode::Normal)).unwrap();
            for (i, s) in p.steps.iter().enumerate() {
                // Prerequisites come earlier in the plan, so walking it in order respects them.
                for r in &s.requires {
                    let j = p.steps.iter().position(|t| &t.id == r).unwrap();
                    assert!(j < i, "{} requires later {}", s.id, r);
                }
                // Each once: a step waiting names what it needs once.
                let once: std::collections::BTreeSet<&StepId> = s.requires.iter().collect();
                assert_eq!(once.len(), s.requires.len(), "{}: {:?}", s.id, s.requires);
                if s.kind == StepKind::Promote {
                    assert!(s.requires.contains(&StepId(format!("{}/test-login", s.env))));
                }
            }
            let second = &p.steps[1];
            assert!(p.unmet(second, |_| false) == second.requires);
            assert!(p.unmet(second, |_| true).is_empty());
        }
    }
}
