//! One unit of the guided rotation, as data: what it is (id, kind, title,
//! why from the runbook) and what the operator must give before it writes
//! (its confirmation). The plan builds steps, the journal and the mark name
//! them, screens show them.
//!
//! What a step does lives elsewhere, above this file: its behaviour
//! (`observe`, `preview`, `apply`, `verify`) in `steps/`, what it sees while
//! it runs in `context.rs`, and what comes of it in `outcome.rs`. Kept apart
//! so that everything which only names a step need not depend on running one.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::spec::Rotation;
use crate::target::{Engine, EnvName};

/// `<env>/<slug>`, e.g. `production/create-user`: stable across runs, so the
/// journal and skip overrides can name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StepId(pub String);

impl From<&str> for StepId {
    fn from(id: &str) -> Self {
        StepId(id.to_owned())
    }
}

impl StepId {
    /// Its environment: `production/drain` → `production`.
    pub fn env(&self) -> &str {
        self.0.split_once('/').map_or("", |(env, _)| env)
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a step does. Engine-specific kinds appear only in that engine's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum StepKind {
    /// Read the old user, its grants/roles and what it owns.
    Inspect,
    /// MySQL: list objects the old user is the definer of.
    CheckDefiners,
    /// PostgreSQL: the database and its objects belong to the owner role.
    EnsureOwnerRole,
    /// Store the new credentials as AWSPENDING: a new password, or the one
    /// `source` (another environment) already holds for the new user.
    StorePending { source: Option<EnvName> },
    /// Create the new user with the pending password; MySQL: clone the old
    /// user's grants; PostgreSQL: grant the owner role.
    CreateUser,
    /// MySQL: the new user's grants cover the old user's.
    VerifyGrants,
    /// PostgreSQL: the new user is a member of the owner role.
    VerifyInheritance,
    /// MySQL: re-define the old user's views/routines/triggers/events as the admin.
    MigrateDefiners,
    /// Log in as the new user with the password Secrets Manager holds.
    TestLogin,
    /// AWSPENDING becomes AWSCURRENT.
    Promote,
    /// Annotate the ExternalSecret and wait for it to sync.
    ForceSync,
    /// The Kubernetes Secret's DATABASE_URL names the current credentials.
    VerifySecret,
    /// The app rolled out and its pods' DATABASE_URL names the current credentials.
    Rollout,
    /// The old user's connections are gone (killed on request).
    Drain,
    /// PostgreSQL: this (staging) environment's database was re-created by
    /// the nightly restore from `from` after `from` switched (its identity
    /// differs from the one recorded then, on the rotation mark).
    AwaitOvernightSync { from: EnvName },
    /// PostgreSQL: the restore brought `from`'s ownership (the owner role owns the objects).
    ValidateRestore { from: EnvName },
    /// PostgreSQL: pg_dump copies no roles, so the new login is created here
    /// (when the restore did not bring it) with the username and password
    /// `from` holds, and granted the owner role.
    CreateRestoredLogin { from: EnvName },
    /// Drop the old user; `also_check` are environments whose secrets and
    /// connections must not use it either (PostgreSQL staging follows production).
    DropOldUser { also_check: Vec<EnvName> },
    // A rollback's steps (`rotation::rollback`): back to the old user.
    /// AWSCURRENT back on the old user's version, no AWSPENDING of the new user.
    RestoreSecret,
    /// Force-sync the ExternalSecret to the old credentials.
    SyncBack,
    /// The Kubernetes Secret's DATABASE_URL names the old credentials.
    VerifySecretBack,
    /// The app rolled out and its pods' DATABASE_URL names the old credentials.
    RolloutBack,
    /// Drop the new user, which the app no longer uses (only without connections).
    DropNewUser,
}

impl StepKind {
    /// A step of a rollback: it establishes the *old* credentials.
    pub fn is_rollback(&self) -> bool {
        use StepKind::*;
        matches!(
            self,
            RestoreSecret | SyncBack | VerifySecretBack | RolloutBack | DropNewUser
        )
    }
}

/// What the operator must give before a step writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confirm {
    /// Writes nothing.
    None,
    /// An ordinary write: `--yes` or a key press.
    Yes,
    /// Destructive (reassign, re-create routines): a second, explicit confirmation.
    Destructive,
    /// Irreversible: the operator types this word (the username to drop).
    Typed(String),
}

/// A step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub id: StepId,
    pub env: EnvName,
    pub engine: Engine,
    #[serde(flatten)]
    pub kind: StepKind,
    /// Steps that must be done (or skipped by override) before this one runs.
    pub requires: Vec<StepId>,
}

impl Step {
    pub fn slug(kind: &StepKind) -> &'static str {
        use StepKind::*;
        match kind {
            Inspect => "inspect",
            CheckDefiners => "check-definers",
            EnsureOwnerRole => "ensure-owner-role",
            StorePending { .. } => "store-pending",
            CreateUser => "create-user",
            VerifyGrants => "verify-grants",
            VerifyInheritance => "verify-inheritance",
            MigrateDefiners => "migrate-definers",
            TestLogin => "test-login",
            Promote => "promote",
            ForceSync => "force-sync",
            VerifySecret => "verify-secret",
            Rollout => "rollout",
            Drain => "drain",
            AwaitOvernightSync { .. } => "await-overnight-sync",
            ValidateRestore { .. } => "validate-restore",
            CreateRestoredLogin { .. } => "create-restored-login",
            DropOldUser { .. } => "drop-old-user",
            RestoreSecret => "rollback-secret",
            SyncBack => "rollback-sync",
            VerifySecretBack => "rollback-verify-secret",
            RolloutBack => "rollback-rollout",
            DropNewUser => "drop-new-user",
        }
    }

    pub fn title(&self) -> String {
        use StepKind::*;
        let pg = self.engine == Engine::Postgres;
        match &self.kind {
            Inspect if pg => "Inspect roles and owners".into(),
            Inspect => "Inspect users and grants".into(),
            CheckDefiners => "Check definers".into(),
            EnsureOwnerRole => "Ensure the owner role owns everything".into(),
            StorePending { source: None } => "Generate a password and store it as pending".into(),
            StorePending { source: Some(s) } => format!("Store {s}'s new credentials as pending"),
            CreateUser if pg => "Create the new user and grant the owner role".into(),
            CreateUser => "Create the new user and clone grants".into(),
            VerifyGrants => "Verify the grants are equivalent".into(),
            VerifyInheritance => "Verify role inheritance".into(),
            MigrateDefiners => "Migrate definers".into(),
            TestLogin => "Test the new login".into(),
            Promote => "Promote the secret".into(),
            ForceSync => "Force-sync the ExternalSecret".into(),
            VerifySecret => "Verify the Kubernetes Secret".into(),
            Rollout => "Wait for the rollout and check a pod's environment".into(),
            Drain => "Watch the old user's connections drain".into(),
            AwaitOvernightSync { from } => format!("Wait for the overnight {from}-to-{} sync", self.env),
            ValidateRestore { from } => format!("Validate {from}'s changes arrived in {}", self.env),
            CreateRestoredLogin { from } => format!(
                "Create {from}'s new login in {} (no roles are restored)",
                self.env
            ),
            DropOldUser { .. } if pg => "Drop the old user, handing what it owns to the owner role".into(),
            DropOldUser { .. } => "Drop the old user".into(),
            RestoreSecret => "Roll the secret back to the old user".into(),
            SyncBack => "Force-sync the ExternalSecret back".into(),
            VerifySecretBack => "Verify the Kubernetes Secret names the old user".into(),
            RolloutBack => "Wait for the rollout back to the old user".into(),
            DropNewUser => "Drop the new user once nothing uses it".into(),
        }
    }

    /// Why, in the runbook's words.
    pub fn why(&self) -> &'static str {
        use StepKind::*;
        match &self.kind {
            Inspect => "Know the current user and exactly what it may do before changing anything.",
            CheckDefiners => {
                "Views, routines, triggers and events defined by the old user break when it is dropped."
            }
            EnsureOwnerRole => {
                "PostgreSQL objects must belong to a NOLOGIN owner role that login users inherit, \
                 so login users can be replaced."
            }
            StorePending { .. } => {
                "The password lives in Secrets Manager before any user has it: nothing exists only in rotui."
            }
            CreateUser => "The app needs a new, dated user with the same rights as the old one.",
            VerifyGrants => "The new user must be able to do everything the old one does.",
            VerifyInheritance => "The new user works through the owner role it inherits.",
            MigrateDefiners => "Re-define the old user's objects as the admin so they survive the drop.",
            TestLogin => "Never promote credentials that cannot log in.",
            Promote => "The app's secret now names the new user; the old version stays as AWSPREVIOUS.",
            ForceSync => "The ExternalSecret refreshes hourly; force it so the Secret updates now.",
            VerifySecret => "Check the DATABASE_URL the cluster holds has the new username and password.",
            Rollout => "The pods must restart with the new DATABASE_URL.",
            Drain => "The old credentials must no longer be in use before the user is removed.",
            AwaitOvernightSync { .. } => {
                "Staging's database is re-created from production's dump overnight; only a restore \
                 after production's switch carries production's changes."
            }
            ValidateRestore { .. } => {
                "Check the restore gave the objects to the owner role before staging uses them."
            }
            CreateRestoredLogin { .. } => {
                "pg_dump copies no roles: the restore brings production's ownership but not its new \
                 login, so staging gets the same username and password, as production's secret holds them."
            }
            DropOldUser { .. } => "Retire the old credentials.",
            RestoreSecret => {
                "Undo: AWSCURRENT goes back to the old user's version, which still logs in; \
                 the new user's version keeps no label."
            }
            SyncBack => "The Secret must carry the old credentials again, now.",
            VerifySecretBack => "Check the DATABASE_URL the cluster holds names the old user again.",
            RolloutBack => "The pods must restart with the old DATABASE_URL.",
            DropNewUser => {
                "The app is back on the old user, so nothing needs the new one; its name is never reused."
            }
        }
    }

    /// What the operator must give before apply runs.
    pub fn confirm(&self, rotation: &Rotation) -> Confirm {
        use StepKind::*;
        match &self.kind {
            Inspect
            | CheckDefiners
            | VerifyGrants
            | VerifyInheritance
            | TestLogin
            | VerifySecret
            | AwaitOvernightSync { .. }
            | ValidateRestore { .. } => Confirm::None,
            // Waiting is harmless; killing leftovers is asked for separately (RunOptions::kill_leftovers).
            Rollout | Drain => Confirm::None,
            StorePending { .. } | CreateUser | CreateRestoredLogin { .. } | Promote | ForceSync => {
                Confirm::Yes
            }
            EnsureOwnerRole | MigrateDefiners => Confirm::Destructive,
            DropOldUser { .. } => Confirm::Typed(rotation.old_user(&self.env).to_owned()),
            VerifySecretBack | RolloutBack => Confirm::None,
            RestoreSecret | SyncBack => Confirm::Yes,
            DropNewUser => Confirm::Typed(rotation.new_username.clone()),
        }
    }
}
