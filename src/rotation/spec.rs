//! What a rotation is of and what it decided: [`PlanSpec`] (an app's
//! database, its engine, the environments in order, the mode and which
//! environments are nightly copies of another) and [`Rotation`] (the
//! rotation's id, each environment's old user and the new user).
//!
//! Plain data, in a file of its own because nearly everything names it: the
//! steps (a confirmation types the old user), the plan built from a spec
//! (`plan.rs`), the rotation mark, the journal, the runner. Below all of
//! them, it depends on none.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::target::{Engine, EnvName, Target};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Normal,
    /// The runbook's "retire compromised credentials": no overnight wait; the
    /// same new username and password in each environment.
    Compromised,
}

/// An environment whose database is restored every night from another's
/// (PostgreSQL staging from production: `pg_dump -Fc`, `pg_restore`, then
/// `ALTER DATABASE … OWNER`). Roles are not copied.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Restore {
    /// The restored environment.
    pub env: EnvName,
    /// The environment its database is copied from.
    pub from: EnvName,
}

impl Restore {
    pub fn new(env: impl Into<EnvName>, from: impl Into<EnvName>) -> Self {
        Restore {
            env: env.into(),
            from: from.into(),
        }
    }
}

/// The estate's restores when nothing says otherwise: PostgreSQL staging is
/// restored from production (also what journals and marks written before
/// restores were configurable mean), integration weekly from staging.
pub fn default_restores() -> Vec<Restore> {
    vec![
        Restore::new("staging", "production"),
        Restore::new("integration", "staging"),
    ]
}

/// What to rotate: an app's database in one or more environments, in order
/// (production first when it is there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSpec {
    pub app: String,
    pub engine: Engine,
    pub envs: Vec<EnvName>,
    pub mode: Mode,
    /// Which environments' databases are nightly copies of another's, for
    /// this app (PostgreSQL, normal mode, when the source is rotated too).
    /// An app the restore does not copy has none: each environment is then
    /// rotated directly.
    #[serde(default = "default_restores")]
    pub restores: Vec<Restore>,
}

impl PlanSpec {
    /// The plan for `target`'s app in `envs` (the target's own when empty),
    /// with the estate's default restores ([`default_restores`]).
    pub fn for_target(target: &Target, envs: &[String], mode: Mode) -> PlanSpec {
        let restores: Vec<(String, String)> = default_restores()
            .into_iter()
            .map(|r| (r.env.into(), r.from.into()))
            .collect();
        PlanSpec::for_target_with_restores(target, envs, mode, &restores)
    }

    /// [`PlanSpec::for_target`] with the restores configured for the app,
    /// as `(restored env, env it is restored from)` pairs; empty for an app
    /// the restore does not copy (like account-api).
    pub fn for_target_with_restores(
        target: &Target,
        envs: &[String],
        mode: Mode,
        restores: &[(String, String)],
    ) -> PlanSpec {
        PlanSpec {
            app: target.app.clone(),
            engine: target.engine,
            envs: if envs.is_empty() {
                vec![target.env.clone()]
            } else {
                envs.iter().map(EnvName::from).collect()
            },
            mode,
            restores: restores
                .iter()
                .map(|(e, f)| Restore::new(e.as_str(), f.as_str()))
                .collect(),
        }
    }

    /// The environment `env` waits for in this rotation, when its database
    /// is a nightly copy of another one that is rotated too (PostgreSQL,
    /// normal mode only: compromised credentials do not wait for the night).
    pub fn restored_from(&self, env: &str) -> Option<&str> {
        if self.engine != Engine::Postgres || self.mode != Mode::Normal {
            return None;
        }
        self.restores
            .iter()
            .find(|r| r.env == env && r.from != env && self.envs.contains(&r.from))
            .map(|r| r.from.as_str())
    }

    /// `target` moved to `env`: the same names (they are the same app), but
    /// the admin secret follows the environment unless it was overridden.
    pub fn target_in(target: &Target, env: &str) -> Target {
        let mut t = target.clone();
        if t.admin_secret == Target::new(&target.env, &target.app, target.engine).admin_secret {
            t.admin_secret = Target::new(env, &target.app, target.engine).admin_secret;
        }
        t.env = env.into();
        t
    }

    /// Whether `other` is the same rotation's spec: the same app, engine,
    /// environments and mode. The restores are not compared: they are read
    /// from the clusters when a run starts, and a rotation keeps the ones it
    /// started with (its journal's or mark's spec) across a wait of days.
    pub fn same_run(&self, other: &PlanSpec) -> bool {
        (&self.app, self.engine, &self.envs, self.mode) == (&other.app, other.engine, &other.envs, other.mode)
    }

    /// `production/signon/mysql`, `production+staging/account-api/postgres`.
    pub fn label(&self) -> String {
        format!("{}/{}/{}", self.envs.join("+"), self.app, self.engine)
    }
}

/// The decisions of one rotation, recorded in the journal when it starts and
/// read back to resume it. Everything else is read from the live systems.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotation {
    pub id: String,
    pub spec: PlanSpec,
    /// The user each environment's app used when the rotation started.
    pub old_users: BTreeMap<EnvName, String>,
    pub new_username: String,
}

impl Rotation {
    pub fn old_user(&self, env: &str) -> &str {
        self.old_users.get(env).map(String::as_str).unwrap_or_default()
    }
}
