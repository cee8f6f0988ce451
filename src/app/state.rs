//! The Model: everything the screen shows, owned by the app loop alone.
//! Workers' results land here through `update`; render only reads it.
//!
//! Each pane's data and selection are its model's (`app::panes`), held here
//! in [`State::panes`]; the rest of the state is the dashboard's own: the
//! target, focus, dialogs, input, notices. The data types the panes show
//! (`app::source`) are re-exported here, the model's public face.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use ratatui::layout::Rect;
use ratatui_textarea::TextArea;

use crate::app::action::KillTarget;
use crate::app::keymap::Keymap;
use crate::app::layout;
use crate::app::loadable::Loadable;
use crate::app::panes::pane::Around;
use crate::app::panes::{Pane, Panes};
use crate::app::selection::Selection;
use crate::rotation::StepId;
use crate::target::Target;

pub use crate::app::source::{
    ClusterView, ConsumerView, EsStatusView, PlanView, PodView, Revealable, RolloutView, SecretCheckView,
    SessionView, StepStatus, StepView,
};

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
        scroll: Scroll,
    },
    /// The statements a step will run; Enter goes on, once all of them
    /// have been on screen.
    Preview {
        step: String,
        scroll: Scroll,
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
        scroll: Scroll,
    },
}

impl Dialog {
    /// The preview of a step, scrolled to its top.
    pub fn preview(step: String) -> Dialog {
        Dialog::Preview {
            step,
            scroll: Scroll::default(),
        }
    }

    /// The dialog's scrolling text, when it has one.
    pub fn scroll(&self) -> Option<&Scroll> {
        match self {
            Dialog::Help { scroll } | Dialog::Preview { scroll, .. } | Dialog::Rollback { scroll, .. } => {
                Some(scroll)
            }
            _ => None,
        }
    }

    pub fn scroll_mut(&mut self) -> Option<&mut Scroll> {
        match self {
            Dialog::Help { scroll } | Dialog::Preview { scroll, .. } | Dialog::Rollback { scroll, .. } => {
                Some(scroll)
            }
            _ => None,
        }
    }
}

/// Where a dialog's text is scrolled to, and what the last frame measured
/// of it (`Action::Measured`: only the renderer knows how many rows the
/// text wraps into). A write it previews is confirmed only once every row
/// has been on screen (`seen_all`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scroll {
    /// The first row shown.
    pub offset: u16,
    /// Rows of text, wrapped to the dialog's width (0 until measured).
    pub rows: u16,
    /// Rows the dialog shows at once.
    pub view: u16,
    pub seen_all: bool,
}

impl Scroll {
    /// Rows below the last one shown.
    pub fn below(&self) -> u16 {
        self.rows.saturating_sub(self.offset.saturating_add(self.view))
    }

    /// Take the frame's measure, keeping the offset within the text.
    pub fn measured(&mut self, rows: u16, view: u16) {
        // Text that changed under the reader (a refreshed preview, a new
        // width) has to be read again.
        if self.rows != 0 && rows != self.rows {
            self.seen_all = false;
        }
        self.rows = rows;
        self.view = view;
        self.by(0);
    }

    /// Move by `delta` rows (clamped to the text), noting when the last row shows.
    pub fn by(&mut self, delta: isize) {
        let max = self.rows.saturating_sub(self.view) as isize;
        self.offset = (self.offset as isize + delta).clamp(0, max.max(0)) as u16;
        if self.view > 0 && self.below() == 0 {
            self.seen_all = true;
        }
    }

    /// A page: the rows shown, less one kept for context.
    pub fn page(&self) -> isize {
        self.view.saturating_sub(1).max(1) as isize
    }
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
    /// While Tab cycles through completions: the line as typed before the
    /// first Tab, and how many Tabs since.
    pub completing: Option<(String, usize)>,
}

impl Input {
    pub fn value(&self) -> String {
        self.text.lines().join("")
    }
}

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
/// How long a notice stays in the footer.
pub const NOTICE_FOR: TimeDelta = TimeDelta::seconds(8);

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
    /// Every pane's data, selection and what it derives from them.
    pub panes: Panes,
    /// Who we are and where: the status bar's, read once and on `r`.
    pub session: Loadable<SessionView>,
    /// The terminal's area, as the last `Resize` gave it: what update knows
    /// of the screen (`None` until told).
    pub screen: Option<Rect>,
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
    pub quitting: bool,
}

impl State {
    pub fn new(target: Option<Target>, now: DateTime<Utc>) -> Self {
        State {
            now,
            target,
            read_only: false,
            focus: Pane::Steps,
            zoom: false,
            paused: false,
            interval_ms: 1000,
            panes: Panes::default(),
            session: Loadable::default(),
            screen: None,
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
            quitting: false,
        }
    }

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

    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms)
    }

    pub fn selection(&self, pane: Pane) -> &Selection {
        self.panes.get(pane).selection()
    }

    pub fn revealed(&self) -> bool {
        self.reveal_until.is_some_and(|until| self.now < until)
    }

    pub fn steps(&self) -> &[StepView] {
        self.panes.steps.steps()
    }

    pub fn old_user(&self) -> Option<&str> {
        self.panes.steps.old_user()
    }

    pub fn new_user(&self) -> Option<&str> {
        self.panes.steps.new_user()
    }

    pub fn step_running(&self) -> bool {
        self.panes.steps.step_running()
    }

    pub fn step(&self, id: &str) -> Option<&StepView> {
        self.panes.steps.step(id)
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

    /// What `K` would aim at from the current selection, or why nothing.
    pub fn kill_target(&self) -> Result<KillTarget, String> {
        self.panes.connections.kill_target()
    }

    /// What the panes may know of the rest of the dashboard (no pane's
    /// area: [`State::pane_area`] says it for the one that needs it).
    pub fn around(&self) -> Around {
        Around {
            now: self.now,
            utc_offset: self.utc_offset,
            has_target: self.target.is_some(),
            old_user: self.old_user().map(str::to_owned),
            new_user: self.new_user().map(str::to_owned),
            aiming_kill: self.aiming_kill(),
            area: None,
        }
    }

    /// Where `pane` is on screen: `None` when it is not drawn, or the
    /// screen's size is not known.
    pub fn pane_area(&self, pane: Pane) -> Option<Rect> {
        layout::areas(self.screen?, self.focus, self.zoom).area_of(pane)
    }

    /// The single connections on screen (`start..end` of the rows,
    /// unfiltered), as render lists them for the screen's size: a refresh
    /// that changes only rows off screen leaves the screen still. `None`
    /// when no rows are listed, or they are filtered, or the screen's size
    /// is not known.
    pub fn connection_rows_shown(&self) -> Option<(usize, usize)> {
        let area = self.pane_area(Pane::Connections)?;
        self.panes.connections.rows_shown(area, self.old_user().is_some())
    }

    /// The users pod `pod`'s database connections log in as, from the single
    /// connections when they are listed (`c`): those from its address, rotui's
    /// own left out; where pods share the address (host networking, the
    /// sandbox), only the app's users (old and new), since another app's pods
    /// may be there too.
    pub fn pod_db_users(&self, pod: &str) -> Option<String> {
        let view = self.panes.cluster.view.data.as_ref()?;
        let conns = &self.panes.connections;
        if !conns.rows_listed {
            return None;
        }
        let rows = &conns.snapshot.data.as_ref()?.rows;
        let ips: Vec<&str> = view
            .pod_addresses
            .iter()
            .filter(|a| a.pod == pod)
            .map(|a| a.ip.as_str())
            .collect();
        let shared = |ip: &str| view.pod_addresses.iter().any(|a| a.ip == ip && a.pod != pod);
        let app_user = |u: Option<&str>| u.is_some() && (u == self.old_user() || u == self.new_user());
        let mut users: Vec<&str> = rows
            .iter()
            .filter(|c| !conns.is_own(c))
            .filter(|c| {
                c.client.as_deref().is_some_and(|client| {
                    let ip = crate::k8s::consumers::client_ip(client);
                    ips.contains(&ip) && (!shared(ip) || app_user(c.user.as_deref()))
                })
            })
            .filter_map(|c| c.user.as_deref())
            // MySQL's name for a connection still in its handshake.
            .filter(|u| *u != "unauthenticated user")
            .collect();
        users.sort_unstable();
        users.dedup();
        (!users.is_empty()).then(|| users.join(","))
    }

    /// Everything shown belonged to the old target: drop it, and ignore
    /// answers still in flight for it.
    pub fn switch_target(&mut self, target: Target) {
        self.target = Some(target);
        for pane in Pane::ALL {
            self.panes.get_mut(pane).reset();
        }
        self.session.reset();
        self.last_error = None;
        self.notice = Some((
            self.now,
            format!(
                "switched to {}",
                self.target.as_ref().map(|t| t.label()).unwrap_or_default()
            ),
        ));
    }

    /// Refuse a write in read-only mode, saying so; whether it was refused.
    pub fn refuse_write(&mut self, what: &str) -> bool {
        if self.read_only {
            self.notice = Some((
                self.now,
                format!("read-only: {what} is disabled (started with --read-only)"),
            ));
        }
        self.read_only
    }
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
