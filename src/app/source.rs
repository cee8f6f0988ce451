//! What the dashboard reads: what workers are asked to fetch ([`Request`]),
//! or to watch ([`Source::Cluster`]), what they answer ([`Answer`]), and the
//! data they bring, as the panes show it. The contract between `app` and
//! `workers`: below the panes, so that each pane names the sources it reads
//! and takes the answers that are its own.

use chrono::{DateTime, Utc};

use crate::app::loadable::Fetched;
use crate::model::{ConnectionSnapshot, DbObject, Flavor, Grant, User, Verdict};
use crate::rotation::step::Confirm;
use crate::secret::SecretString;
use crate::target::Target;

/// What a source answered: the data of a [`Request`] (or of the cluster
/// watch), or why there is none. The pane that reads the source takes it.
// One answer at a time, gone once applied: boxing the big ones buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Answer {
    Users(Fetched<Vec<User>>),
    /// `user`: the key the grants were asked for (dropped if another user
    /// is selected by the time they come).
    Grants {
        user: String,
        result: Fetched<Vec<Grant>>,
    },
    Objects(Fetched<Vec<DbObject>>),
    Connections(Fetched<ConnectionSnapshot>),
    Cluster(Fetched<ClusterView>),
    Plan(Fetched<PlanView>),
    Session(Fetched<SessionView>),
}

/// What a refresh fetches. The parameters the worker needs travel with it;
/// each request has one answer, the [`Answer`] of the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Users,
    /// `user` is the selected row's key: `name@host` (MySQL) or the role name.
    Grants {
        user: String,
    },
    Objects,
    /// `rows`: the single connections too, not only the counts per user.
    Connections {
        rows: bool,
    },
    /// The rotation plan: every step with its state (the Steps pane).
    Plan,
    Session,
}

/// Where a pane's data comes from: fetched on request, or (the cluster)
/// watched, answering whenever it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Fetch(Request),
    Cluster,
}

// ---- the Steps pane's ---------------------------------------------------

/// Where a step stands, as the Steps pane marks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepStatus {
    Pending,
    Running,
    Done,
    Failed,
    /// Waiting on something outside rotui (an overnight sync, a rollout).
    Waiting,
    Skipped,
    /// Cannot run until an earlier step is done.
    Blocked,
}

/// One step of the guided rotation, as the rotation engine describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct StepView {
    /// The rotation's step id (`production/create-user`), as text.
    pub id: String,
    pub title: String,
    pub why: String,
    pub status: StepStatus,
    /// Statements / API calls, secrets already masked.
    pub preview: Vec<String>,
    pub result: Option<String>,
    /// What the operator must give before it writes, as the rotation says
    /// it: nothing, a key, a second confirmation, or a word typed.
    pub confirm: Confirm,
}

impl StepView {
    /// Whether it asks a second time (or for a word) before writing: the
    /// pane marks it `!` and its preview says so.
    pub fn destructive(&self) -> bool {
        matches!(self.confirm, Confirm::Destructive | Confirm::Typed(_))
    }
}

/// The rotation plan: who is being replaced by whom, and the steps.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanView {
    pub old_user: Option<String>,
    pub new_user: Option<String>,
    /// Whose rotation it is and since when, from its rotation mark
    /// (`alice@laptop since 09:12 UTC`); `None` before it starts.
    pub holder: Option<String>,
    /// With no rotation under way, how the last one ended, in words
    /// (`rotation … finished at …`); `None` otherwise.
    pub ended: Option<String>,
    pub steps: Vec<StepView>,
    /// Whether the rotation can be rolled back (`rollback possible (until …)`,
    /// `no rollback: …`), as `rotui plan` says it; `None` before a rotation.
    pub rollback: Option<String>,
    pub can_roll_back: bool,
}

// ---- the Cluster pane's -------------------------------------------------

/// The ExternalSecret: synced, when, how often; a force-sync asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EsStatusView {
    pub name: String,
    /// Ready=True, not ready, or not reported yet.
    pub ready: Verdict,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub refresh_time: Option<DateTime<Utc>>,
    pub refresh_interval: Option<String>,
    pub force_sync_requested: Option<DateTime<Utc>>,
}

/// A secret the screen can reveal (`v`); equal when the secrets are, so an
/// unchanged refresh does not redraw.
#[derive(Debug, Clone)]
pub struct Revealable(pub SecretString);

impl PartialEq for Revealable {
    fn eq(&self, other: &Self) -> bool {
        use crate::secret::ExposeSecret;
        self.0.expose_secret() == other.0.expose_secret()
    }
}

/// What the Kubernetes Secret's DATABASE_URL says, checked against the app secret.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SecretCheckView {
    pub secret: String,
    pub user: Option<String>,
    pub host: Option<String>,
    pub database: Option<String>,
    /// Kept only so `v` can reveal it; rendered as the mask otherwise.
    pub password: Option<Revealable>,
    /// Does it carry the same user and password as the app's AWS secret?
    pub matches_app_secret: Verdict,
    pub problem: Option<String>,
}

/// The Deployment's rollout.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RolloutView {
    pub deployment: String,
    pub desired: i32,
    pub updated: i32,
    pub ready: i32,
    pub available: i32,
    pub complete: bool,
    pub restarted_at: Option<DateTime<Utc>>,
    /// Paused (`kubectl rollout pause`, or `--stagger` left so by a run that
    /// stopped): it rolls out nothing, a deploy included, until resumed.
    pub paused: bool,
}

/// One of the Deployment's pods.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PodView {
    pub name: String,
    pub phase: String,
    pub ready: bool,
    pub restarts: i32,
    pub started: Option<DateTime<Utc>>,
    /// The database user in the DATABASE_URL the pod started with.
    pub db_user: Option<String>,
}

/// The cluster side of the rotation, as the Cluster pane shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterView {
    pub external_secret: Option<EsStatusView>,
    pub secret_check: Option<SecretCheckView>,
    pub rollout: Option<RolloutView>,
    pub pods: Vec<PodView>,
    /// Every workload reading the Secret (`k8s::consumers`).
    pub consumers: Vec<ConsumerView>,
    /// Why some consumers may be missing: kinds not served or denied, or
    /// the listing's error.
    pub consumers_note: Option<String>,
    /// Every pod's address, to name the consumer behind a connection.
    pub pod_addresses: Vec<crate::k8s::consumers::PodAddress>,
}

impl ClusterView {
    /// The pod (and its workload) a database connection from `client` comes
    /// from; `app_user`: it logs in as the app's user (old or new), so it
    /// comes from a workload reading the app's Secret, where that tells
    /// pods sharing the address apart.
    pub fn consumer_of(&self, client: &str, app_user: bool) -> Option<String> {
        let readers: Vec<String> = self.consumers.iter().map(|c| c.workload.clone()).collect();
        crate::k8s::consumers::attribute_among(client, &self.pod_addresses, Some((&readers, app_user)))
    }
}

/// A workload that reads the app's Secret.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConsumerView {
    /// `deployment/signon-worker`.
    pub workload: String,
    /// `worker: DATABASE_URL`, `app: CONTENT_STORE_DATABASE_URL ← DATABASE_URL`.
    pub reads: String,
}

// ---- the status bar's --------------------------------------------------

/// Who we are and where: for the status bar.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionView {
    pub aws_identity: Option<String>,
    /// The caller identity's account, and the configured environment that
    /// account is (its alias), e.g. `111111111111`, `production`.
    pub aws_account: Option<(String, Option<String>)>,
    pub session_expires: Option<DateTime<Utc>>,
    pub kube_context: Option<String>,
    pub flavor: Option<Flavor>,
    /// How the database connection is secured ("TLS verified (CA …)",
    /// "TLS unverified", "plaintext").
    pub db_tls: Option<crate::model::TlsMode>,
    /// The target as connected: every name with where it came from (flag,
    /// discovered on the live systems, or convention).
    pub target: Option<Target>,
}
