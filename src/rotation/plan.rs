//! The runbook as ordered steps, per engine and mode.
//!
//! MySQL keeps users per environment, so the plan repeats per environment
//! and drops the old users last, once none is in use anywhere. PostgreSQL's
//! staging is restored from production every night: production is rotated,
//! staging waits for the restore, is validated and switched to the same
//! credentials, and only then does production drop the old user (the drop
//! reaches staging the next night). In "compromised credentials" mode nobody
//! waits for the night: every environment gets the same new username and
//! password at once.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::step::{Step, StepId, StepKind};
use crate::target::{Engine, Target};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Normal,
    /// The runbook's "retire compromised credentials": no overnight wait; the
    /// same new username and password in each environment.
    Compromised,
}

/// What to rotate: an app's database in one or more environments, in order
/// (production first when it is there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSpec {
    pub app: String,
    pub engine: Engine,
    pub envs: Vec<String>,
    pub mode: Mode,
}

impl PlanSpec {
    /// The plan for `target`'s app in `envs` (the target's own when empty).
    pub fn for_target(target: &Target, envs: &[String], mode: Mode) -> PlanSpec {
        PlanSpec {
            app: target.app.clone(),
            engine: target.engine,
            envs: if envs.is_empty() {
                vec![target.env.clone()]
            } else {
                envs.to_vec()
            },
            mode,
        }
    }

    /// `target` moved to `env`: the same names (they are the same app), but
    /// the admin secret follows the environment unless it was overridden.
    pub fn target_in(target: &Target, env: &str) -> Target {
        let mut t = target.clone();
        if t.admin_secret == Target::new(&target.env, &target.app, target.engine).admin_secret {
            t.admin_secret = Target::new(env, &target.app, target.engine).admin_secret;
        }
        t.env = env.to_owned();
        t
    }

    /// `production/signon/mysql`, `production+staging/account-api/postgres`.
    pub fn label(&self) -> String {
        format!("{}/{}/{}", self.envs.join("+"), self.app, self.engine)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("name at least one environment")]
    NoEnvironment,
    #[error("environment {0} is named twice")]
    Duplicate(String),
    #[error(
        "PostgreSQL staging is restored from production every night, so a user created there is \
         undone: rotate production (staging follows), or use --compromised"
    )]
    StagingWithoutProduction,
}

/// The decisions of one rotation, recorded in the journal when it starts and
/// read back to resume it. Everything else is read from the live systems.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotation {
    pub id: String,
    pub spec: PlanSpec,
    /// The user each environment's app used when the rotation started.
    pub old_users: BTreeMap<String, String>,
    pub new_username: String,
}

impl Rotation {
    pub fn old_user(&self, env: &str) -> &str {
        self.old_users.get(env).map(String::as_str).unwrap_or_default()
    }
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
                return Err(PlanError::Duplicate(e.clone()));
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
        requires.extend(extra.iter().cloned());
        self.steps.push(Step {
            id: id.clone(),
            env: env.to_owned(),
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
    let has_prod = spec.envs.iter().any(|e| e == "production");
    let first = spec.envs[0].clone();
    if spec.mode == Mode::Normal && spec.envs.iter().any(|e| e == "staging") && !has_prod {
        return Err(PlanError::StagingWithoutProduction);
    }

    // Environments rotated directly: all of them when compromised; otherwise
    // all but staging when production is there (staging follows by restore).
    let restored = |e: &str| spec.mode == Mode::Normal && has_prod && e == "staging";
    let prod_first = if has_prod {
        "production".to_owned()
    } else {
        first.clone()
    };
    let mut order: Vec<String> = vec![prod_first.clone()];
    order.extend(spec.envs.iter().filter(|e| **e != prod_first).cloned());

    for env in order.iter().filter(|e| !restored(e)) {
        let source = (spec.mode == Mode::Compromised && *env != prod_first).then(|| prod_first.clone());
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

    let mut also_check = vec![];
    for env in order.iter().filter(|e| restored(e)) {
        let drained = b.last(&prod_first);
        b.push(
            env,
            StepKind::AwaitOvernightSync {
                from: prod_first.clone(),
            },
            &drained,
        );
        b.push(
            env,
            StepKind::ValidateRestore {
                from: prod_first.clone(),
            },
            &[],
        );
        b.push(
            env,
            StepKind::StorePending {
                source: Some(prod_first.clone()),
            },
            &[],
        );
        switch_over(b, env, &[]);
        also_check.push(env.clone());
    }

    let drained: Vec<StepId> = order.iter().flat_map(|e| b.last(e)).collect();
    for env in order.iter().filter(|e| !restored(e)) {
        // Production's drop reaches restored environments overnight, so their
        // secrets and connections must be off the old user too.
        let check = if *env == prod_first {
            also_check.clone()
        } else {
            vec![]
        };
        b.push(env, StepKind::DropOldUser { also_check: check }, &drained);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(engine: Engine, envs: &[&str], mode: Mode) -> PlanSpec {
        PlanSpec {
            app: "signon".into(),
            engine,
            envs: envs.iter().map(|e| e.to_string()).collect(),
            mode,
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
                "staging/await-overnight-sync",
                "staging/validate-restore",
                "staging/store-pending",
                "staging/test-login",
                "staging/promote",
                "staging/force-sync",
                "staging/verify-secret",
                "staging/rollout",
                "staging/drain",
                "production/drop-old-user",
            ]
        );
        let drop = p.steps.last().unwrap();
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
        let p = Plan::build(&spec(Engine::Postgres, &["integration"], Mode::Normal)).unwrap();
        assert!(
            !p.steps
                .iter()
                .any(|s| matches!(s.kind, StepKind::AwaitOvernightSync { .. }))
        );
        assert_eq!(p.steps.last().unwrap().id.0, "integration/drop-old-user");
        assert_eq!(
            Plan::build(&spec(Engine::Postgres, &["staging"], Mode::Normal)),
            Err(PlanError::StagingWithoutProduction)
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
        for engine in [Engine::Mysql, Engine::Postgres] {
            let p = Plan::build(&spec(engine, &["production", "staging"], Mode::Normal)).unwrap();
            for (i, s) in p.steps.iter().enumerate() {
                // Prerequisites come earlier in the plan, so walking it in order respects them.
                for r in &s.requires {
                    let j = p.steps.iter().position(|t| &t.id == r).unwrap();
                    assert!(j < i, "{} requires later {}", s.id, r);
                }
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
