//! The Model: everything the screen shows, owned by the app loop alone.
//! Workers' results land here through `update`; render only reads it.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use ratatui_textarea::TextArea;

use crate::app::action::{KillTarget, Request, Source};
use crate::app::keymap::Keymap;
use crate::app::layout;
use crate::model::{ConnectionSnapshot, DbObject, Flavor, Grant, User};
use crate::rotation::StepId;
use crate::rotation::step::Confirm;
use crate::secret::SecretString;
use crate::target::Target;

/// The panes, in Tab order; number keys 1–5 pick them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pane {
    Users,
    Objects,
    Connections,
    Cluster,
    Steps,
}

impl Pane {
    pub const ALL: [Pane; 5] = [
        Pane::Users,
        Pane::Objects,
        Pane::Connections,
        Pane::Cluster,
        Pane::Steps,
    ];

    pub fn index(self) -> usize {
        Pane::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }

    /// How often the pane's data is refreshed, in refresh intervals (see
    /// [`cadence`]); `None` for a pane fed by watches as things change.
    pub fn cadence(self) -> Option<i32> {
        match self {
            Pane::Connections => Some(1),
            Pane::Cluster => None,
            Pane::Users | Pane::Objects => Some(30),
            Pane::Steps => Some(120),
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Pane::Users => "Users & grants",
            Pane::Objects => "Objects",
            Pane::Connections => "Connections",
            Pane::Cluster => "Cluster",
            Pane::Steps => "Steps",
        }
    }

    fn next(self, by: isize) -> Pane {
        let n = Pane::ALL.len() as isize;
        Pane::ALL[(self.index() as isize + by).rem_euclid(n) as usize]
    }
    pub fn following(self) -> Pane {
        self.next(1)
    }
    pub fn preceding(self) -> Pane {
        self.next(-1)
    }
}

/// Data from one source, with what the pane must say about it: loading, its
/// age, the last error (the last good data is kept when a refresh fails).
#[derive(Debug, Clone)]
pub struct Loadable<T> {
    pub data: Option<T>,
    pub loaded_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub error_at: Option<DateTime<Utc>>,
    /// Newest generation asked for, and newest applied: anything older than
    /// what is shown is dropped.
    pub requested: u64,
    pub applied: u64,
    pub requested_at: Option<DateTime<Utc>>,
}

impl<T> Default for Loadable<T> {
    fn default() -> Self {
        Loadable {
            data: None,
            loaded_at: None,
            error: None,
            error_at: None,
            requested: 0,
            applied: 0,
            requested_at: None,
        }
    }
}

/// How a pane labels its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    Loading,
    Fresh,
    Stale { age: TimeDelta },
    Failed { error: String, age: Option<TimeDelta> },
}

impl<T> Loadable<T> {
    pub fn in_flight(&self) -> bool {
        self.requested > self.applied
    }

    /// Data older than three refresh intervals is stale: the source is slow
    /// or gone. Watched data (`interval` None) is fresh until its watch fails.
    pub fn freshness(&self, now: DateTime<Utc>, interval: Option<Duration>) -> Freshness {
        let age = self.loaded_at.map(|at| now - at);
        if let Some(error) = &self.error {
            return Freshness::Failed {
                error: error.clone(),
                age,
            };
        }
        match (age, interval) {
            (None, _) => Freshness::Loading,
            (Some(age), Some(interval))
                if age > TimeDelta::from_std(interval * 3).unwrap_or(TimeDelta::MAX) =>
            {
                Freshness::Stale { age }
            }
            (Some(_), _) => Freshness::Fresh,
        }
    }

    /// Forget everything (a new target): in-flight answers will be dropped
    /// (a watched source answers under the generation it was asked with, so
    /// the old ones must be strictly older than anything shown).
    pub fn reset(&mut self) {
        let requested = self.requested + 1;
        *self = Loadable {
            requested,
            applied: requested,
            ..Default::default()
        };
    }
}

/// A list's selection, held by key so that refreshes which reorder or
/// insert rows keep the same row selected. `index` is the position within
/// the visible (filtered) rows, kept in step by `update`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub key: Option<String>,
    pub index: usize,
    /// Indices of rows matching the filter; `None` = all rows.
    pub visible: Option<Vec<usize>>,
    pub filter: String,
}

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
    pub steps: Vec<StepView>,
    /// Whether the rotation can be rolled back (`rollback possible (until …)`,
    /// `no rollback: …`), as `rotui plan` says it; `None` before a rotation.
    pub rollback: Option<String>,
    pub can_roll_back: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct EsStatusView {
    pub name: String,
    pub ready: Option<bool>,
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
    pub matches_app_secret: Option<bool>,
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RolloutView {
    pub deployment: String,
    pub desired: i32,
    pub updated: i32,
    pub ready: i32,
    pub available: i32,
    pub complete: bool,
    pub restarted_at: Option<DateTime<Utc>>,
}

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
    /// The pod (and its workload) a database connection from `client` comes from.
    pub fn consumer_of(&self, client: &str) -> Option<String> {
        crate::k8s::consumers::attribute(client, &self.pod_addresses)
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
    /// The target as connected: every name with where it came from (flag,
    /// discovered on the live systems, or convention).
    pub target: Option<Target>,
}

/// One column of the drain history: connections of the old and new user
/// at the end of a [`DRAIN_BUCKET`] (or now, for the newest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrainPoint {
    pub at: DateTime<Utc>,
    pub old: i64,
    pub new: i64,
}

/// A write that cannot be undone, named exactly; it only runs after the
/// operator confirms this very value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destructive {
    Kill(KillTarget),
    RunStep {
        id: StepId,
        title: String,
    },
    /// Roll the unfinished rotation back; `drop_new` when the operator typed
    /// the new user's name to drop it too.
    Rollback {
        new_user: String,
        drop_new: bool,
    },
}

// One dialog at a time, held in place: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Dialog {
    Help {
        scroll: u16,
    },
    /// The statements a step will run; Enter goes on.
    Preview {
        step: String,
    },
    Confirm(Destructive),
    /// Confirm by typing `expected` (dropping a user).
    TypedConfirm {
        action: Destructive,
        expected: String,
        input: TextArea<'static>,
    },
    QuitWhileRunning,
    /// The target's names and where each came from; when the admin key
    /// could not be discovered, a picker of the admin secret's keys
    /// (`selected` indexes them).
    Names {
        selected: usize,
    },
    /// The rollback's full preview (`None` while it loads); Enter rolls
    /// back, with the new user dropped only if its name is typed.
    Rollback {
        preview: Option<Result<Vec<StepView>, String>>,
        new_user: String,
        input: TextArea<'static>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Filter,
    Command,
}

/// The one-line input at the bottom (`/` filter, `:` command line).
#[derive(Debug, Clone)]
pub struct Input {
    pub kind: InputKind,
    pub text: TextArea<'static>,
}

impl Input {
    pub fn value(&self) -> String {
        self.text.lines().join("")
    }
}

/// Refresh intervals between looks at the step list while a step waits.
pub const WAITING_STEP_CADENCE: i32 = 3;

/// Refresh intervals `+`/`-` step through.
pub const INTERVALS_MS: [u64; 8] = [250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000];

/// The interval of [`INTERVALS_MS`] nearest to `ms` (what `+`/`-` can reach).
pub fn nearest_interval(ms: u64) -> u64 {
    *INTERVALS_MS
        .iter()
        .min_by_key(|a| a.abs_diff(ms))
        .unwrap_or(&1000)
}
/// How long `v` shows masked values.
pub const REVEAL_FOR: TimeDelta = TimeDelta::seconds(5);
/// Time one column of the drain history covers. Coarser than the refresh,
/// so a steady count leaves the chart (and the screen) still for seconds at
/// a time; a rollout's drain takes minutes, which this still shows well.
pub const DRAIN_BUCKET: TimeDelta = TimeDelta::seconds(5);
/// Columns of drain history kept (20 minutes).
pub const DRAIN_POINTS: usize = 240;

/// The Model.
#[derive(Debug, Clone)]
pub struct State {
    pub now: DateTime<Utc>,
    pub target: Option<Target>,
    pub read_only: bool,
    pub focus: Pane,
    pub zoom: bool,
    pub paused: bool,
    pub interval_ms: u64,
    pub users: Loadable<Vec<User>>,
    /// Grants of `grants_of` (the selected user's key).
    pub grants: Loadable<Vec<Grant>>,
    pub grants_of: Option<String>,
    pub objects: Loadable<Vec<DbObject>>,
    /// How many objects the old user owns or defines (when both are known).
    pub old_user_objects: Option<usize>,
    pub connections: Loadable<ConnectionSnapshot>,
    /// Show single connections, not only the counts per user.
    pub connection_rows: bool,
    pub drain: Vec<DrainPoint>,
    pub cluster: Loadable<ClusterView>,
    pub plan: Loadable<PlanView>,
    pub session: Loadable<SessionView>,
    /// One per pane, in [`Pane::ALL`] order.
    pub selections: [Selection; 5],
    pub dialog: Option<Dialog>,
    pub input: Option<Input>,
    pub reveal_until: Option<DateTime<Utc>>,
    pub last_error: Option<(DateTime<Utc>, String)>,
    pub notice: Option<(DateTime<Utc>, String)>,
    /// Config problems (bad keymap entries…), shown until dismissed.
    pub warnings: Vec<String>,
    pub keymap: Keymap,
    pub theme: ThemeName,
    /// The operator's time zone, for event times.
    pub utc_offset: chrono::FixedOffset,
    /// Set by `update` when the screen must be redrawn.
    pub dirty: bool,
    /// The terminal's area, as the last `Resize` gave it: what update knows
    /// of the screen (`None` until told).
    pub screen: Option<ratatui::layout::Rect>,
    /// Connection results that arrived while a kill was being aimed.
    pub held_connections: Option<(
        u64,
        DateTime<Utc>,
        crate::app::action::Fetched<ConnectionSnapshot>,
    )>,
    pub quitting: bool,
}

impl State {
    /// The target as connected (names as discovered), once the session is loaded.
    pub fn connected_target(&self) -> Option<&Target> {
        self.session.data.as_ref().and_then(|s| s.target.as_ref())
    }

    /// The admin secret's keys to choose from, when discovery could not choose.
    pub fn admin_key_choice(&self) -> &[String] {
        use crate::target::{Field, NameSource};
        match self
            .connected_target()
            .map(|t| t.sources.get(Field::AdminSecretKey))
        {
            Some(NameSource::Choose(keys)) => keys,
            _ => &[],
        }
    }

    pub fn new(target: Option<Target>, now: DateTime<Utc>) -> Self {
        State {
            now,
            target,
            read_only: false,
            focus: Pane::Steps,
            zoom: false,
            paused: false,
            interval_ms: 1000,
            users: Loadable::default(),
            grants: Loadable::default(),
            grants_of: None,
            objects: Loadable::default(),
            old_user_objects: None,
            connections: Loadable::default(),
            connection_rows: false,
            drain: Vec::new(),
            cluster: Loadable::default(),
            plan: Loadable::default(),
            session: Loadable::default(),
            selections: Default::default(),
            dialog: None,
            input: None,
            reveal_until: None,
            last_error: None,
            notice: None,
            warnings: Vec::new(),
            keymap: Keymap::default(),
            theme: ThemeName::Default,
            utc_offset: chrono::FixedOffset::east_opt(0).expect("UTC"),
            dirty: true,
            screen: None,
            held_connections: None,
            quitting: false,
        }
    }

    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms)
    }

    pub fn selection(&self, pane: Pane) -> &Selection {
        &self.selections[pane.index()]
    }

    pub fn revealed(&self) -> bool {
        self.reveal_until.is_some_and(|until| self.now < until)
    }

    pub fn steps(&self) -> &[StepView] {
        self.plan.data.as_ref().map(|p| p.steps.as_slice()).unwrap_or(&[])
    }

    pub fn old_user(&self) -> Option<&str> {
        self.plan.data.as_ref().and_then(|p| p.old_user.as_deref())
    }

    pub fn new_user(&self) -> Option<&str> {
        self.plan.data.as_ref().and_then(|p| p.new_user.as_deref())
    }

    pub fn step_running(&self) -> bool {
        self.steps().iter().any(|s| s.status == StepStatus::Running)
    }

    pub fn step(&self, id: &str) -> Option<&StepView> {
        self.steps().iter().find(|s| s.id == id)
    }

    /// A kill is being aimed: hold the connections pane still.
    pub fn aiming_kill(&self) -> bool {
        matches!(
            &self.dialog,
            Some(Dialog::Confirm(Destructive::Kill(_)))
                | Some(Dialog::TypedConfirm {
                    action: Destructive::Kill(_),
                    ..
                })
        )
    }

    /// While the drain history holds one value throughout, the time it has
    /// held it since: the pane says "steady since" instead of drawing a flat
    /// chart that would only scroll.
    pub fn drain_steady_since(&self) -> Option<DateTime<Utc>> {
        let first = self.drain.first()?;
        self.drain
            .iter()
            .all(|p| (p.old, p.new) == (first.old, first.new))
            .then_some(first.at)
    }

    /// The connection counts, busiest first (the order the pane lists them).
    pub fn connection_counts(&self) -> &[crate::model::ConnectionCount] {
        self.connections
            .data
            .as_ref()
            .map(|s| s.counts.as_slice())
            .unwrap_or(&[])
    }

    /// What `K` would aim at from the current selection.
    pub fn kill_target(&self) -> Option<KillTarget> {
        let snap = self.connections.data.as_ref()?;
        let sel = self.selection(Pane::Connections);
        let row = row_at(sel, sel.index)?;
        if self.connection_rows {
            let c = snap.rows.get(row)?;
            Some(KillTarget::Connection {
                id: c.id,
                user: c.user.clone(),
            })
        } else {
            let c = snap.counts.get(row)?;
            Some(KillTarget::AllOf {
                user: c.user.clone()?,
                count: c.count,
            })
        }
    }

    /// The single connections on screen (`start..end` of the rows,
    /// unfiltered), as render lists them for the screen's size: a refresh
    /// that changes only rows off screen (a monitor's own session, each
    /// second) leaves the screen still. `None` when no rows are listed, or
    /// they are filtered, or the screen's size is not known.
    pub fn connection_rows_shown(&self) -> Option<(usize, usize)> {
        let area = layout::areas(self.screen?, self.focus, self.zoom).area_of(Pane::Connections)?;
        if !self.connection_rows || self.selection(Pane::Connections).visible.is_some() {
            return None;
        }
        let body = layout::pane_body(area, &self.connections)?;
        let parts = layout::connection_parts(
            body,
            self.old_user().is_some(),
            true,
            self.connection_counts().len(),
        );
        let shown = self.connection_rows_window(parts.rows?);
        Some((shown.start, shown.end))
    }

    /// Which single connections a list in `rows` (its header included) shows.
    pub fn connection_rows_window(&self, rows: ratatui::layout::Rect) -> std::ops::Range<usize> {
        let sel = self.selection(Pane::Connections);
        let all = self.connections.data.as_ref().map_or(0, |s| s.rows.len());
        let len = sel.visible.as_ref().map_or(all, Vec::len);
        layout::window(len, sel.index, rows.height.saturating_sub(1) as usize)
    }

    /// Whether a DB owner/definer string names `user` (`user` or `user@host`).
    pub fn names_user(owner: &str, user: &str) -> bool {
        owner == user || owner.strip_prefix(user).is_some_and(|rest| rest.starts_with('@'))
    }
}

/// The underlying row index of the `index`-th visible row.
pub fn row_at(sel: &Selection, index: usize) -> Option<usize> {
    match &sel.visible {
        Some(v) => v.get(index).copied(),
        None => Some(index),
    }
}

/// How many refresh intervals apart a source is polled. Connections every
/// interval: the drain is what the operator watches. The cluster is not
/// polled but watched: its pane changes as the cluster does. Users, grants
/// and objects change when steps run (which refresh them), so every 30th
/// interval catches anyone else's change. The step list is observed when
/// the cluster changes and every 120th interval: observing the plan reads
/// the database, Secrets Manager (about ten calls) and the pods'
/// environment (through exec), too much to ask every second of a
/// production estate, unless a step is waiting. `r`, and every step that
/// finishes, refresh everything at once.
pub fn cadence(state: &State, source: &Source) -> Option<i32> {
    match source {
        Source::Fetch(Request::Connections { .. }) => Pane::Connections.cadence(),
        Source::Cluster => Pane::Cluster.cadence(),
        Source::Fetch(Request::Users | Request::Grants { .. }) => Pane::Users.cadence(),
        Source::Fetch(Request::Objects) => Pane::Objects.cadence(),
        // A step waiting on the world (a rollout, the drain) is what the
        // operator is watching: look every few seconds until it moves on.
        Source::Fetch(Request::Plan) if state.steps().iter().any(|s| s.status == StepStatus::Waiting) => {
            Some(WAITING_STEP_CADENCE)
        }
        Source::Fetch(Request::Plan) => Pane::Steps.cadence(),
        // Who we are does not change within a session; `r` asks again.
        Source::Fetch(Request::Session) => None,
    }
}

/// Every pane's source (not the session's: `r` and the clock add it).
pub fn refresh_requests(state: &State) -> Vec<Source> {
    let mut r = vec![
        Source::Fetch(Request::Users),
        Source::Fetch(Request::Objects),
        Source::Fetch(Request::Connections {
            rows: state.connection_rows,
        }),
        Source::Cluster,
        Source::Fetch(Request::Plan),
    ];
    if let Some(user) = &state.grants_of {
        r.push(Source::Fetch(Request::Grants { user: user.clone() }));
    }
    r
}

/// Which look the screen has; `ui::theme` turns it into styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThemeName {
    #[default]
    Default,
    /// No colour: meaning is carried by modifiers alone.
    Mono,
}

impl ThemeName {
    /// The config's choice, overruled by `NO_COLOR` (https://no-color.org).
    pub fn choose(name: Option<&str>, no_color: Option<&str>) -> ThemeName {
        let no_color = no_color.is_some_and(|v| !v.is_empty());
        if no_color || name == Some("mono") {
            ThemeName::Mono
        } else {
            ThemeName::Default
        }
    }

    pub fn from_env(name: Option<&str>) -> ThemeName {
        ThemeName::choose(name, std::env::var("NO_COLOR").ok().as_deref())
    }
}
