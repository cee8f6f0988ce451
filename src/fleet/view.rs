//! The fleet screen's state and what keys do to it: pure, so tests drive it
//! without a terminal. The keys are the dashboard's (its keymap, with the
//! config's overrides): moves, `/` filter, `r` refresh, `q` quit, Enter
//! (the dashboard's "run") opens the dashboard on the selected app, `?`
//! shows them all; `s` cycles the sort column and `S` reverses it (keymap
//! actions `sort` and `sort_reverse`, so the config can move them too).

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui_textarea::TextArea;

use super::model::{FleetReport, FleetRow};
use crate::app::KeyAction;
use crate::app::keymap::Keymap;
use crate::app::state::ThemeName;

/// The columns rows sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    /// Half-rotated first, then due, then the oldest.
    Attention,
    App,
    Engine,
    User,
    Age,
    Env,
}

impl SortBy {
    const ALL: [SortBy; 6] = [
        SortBy::Attention,
        SortBy::App,
        SortBy::Engine,
        SortBy::User,
        SortBy::Age,
        SortBy::Env,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SortBy::Attention => "attention",
            SortBy::App => "app",
            SortBy::Engine => "engine",
            SortBy::User => "user",
            SortBy::Age => "age",
            SortBy::Env => "env",
        }
    }

    fn next(self) -> SortBy {
        let i = SortBy::ALL.iter().position(|s| *s == self).unwrap_or(0);
        SortBy::ALL[(i + 1) % SortBy::ALL.len()]
    }
}

/// What the screen asks its loop to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetEffect {
    /// Load again, in the background.
    Refresh,
    Quit,
    /// Leave the fleet and open the dashboard on this row.
    Open(Box<FleetRow>),
}

/// The fleet screen.
#[derive(Debug, Clone)]
pub struct FleetView {
    pub env: String,
    pub now: DateTime<Utc>,
    /// Rows as loaded (in load order); [`FleetView::visible`] sorts and filters.
    pub rows: Vec<FleetRow>,
    /// The last load (errors and calls); `None` until the first arrives.
    pub report: Option<FleetReport>,
    pub loading: bool,
    pub sort: SortBy,
    pub descending: bool,
    pub filter: String,
    /// The `/` input while it is open.
    pub input: Option<TextArea<'static>>,
    /// Index into the visible rows.
    pub selected: usize,
    pub keymap: Keymap,
    pub theme: ThemeName,
    /// The `?` help is open.
    pub help: bool,
    /// Redraw needed.
    pub dirty: bool,
}

/// The fleet's keys, in the order its help lists them, with what each does
/// here where that differs from the dashboard's words.
pub const FLEET_KEYS: [(KeyAction, Option<&str>); 13] = [
    (KeyAction::Down, None),
    (KeyAction::Up, None),
    (KeyAction::PageDown, None),
    (KeyAction::PageUp, None),
    (KeyAction::Top, None),
    (KeyAction::Bottom, None),
    (KeyAction::RunStep, Some("open the dashboard on the selected app")),
    (KeyAction::Filter, Some("filter the rows (every column)")),
    (KeyAction::Cancel, Some("close the help / clear the filter")),
    (KeyAction::Sort, Some("sort by the next column")),
    (KeyAction::SortReverse, Some("reverse the order")),
    (KeyAction::Refresh, Some("load again, in the background")),
    (KeyAction::Quit, Some("quit")),
];

impl FleetView {
    pub fn new(env: &str, keymap: Keymap, theme: ThemeName, now: DateTime<Utc>) -> Self {
        FleetView {
            env: env.to_owned(),
            now,
            rows: Vec::new(),
            report: None,
            loading: true,
            sort: SortBy::Attention,
            descending: false,
            filter: String::new(),
            input: None,
            selected: 0,
            keymap,
            theme,
            help: false,
            dirty: true,
        }
    }

    /// A load arrived: rows that failed this time keep what the last load
    /// showed of them, marked stale.
    pub fn loaded(&mut self, report: FleetReport) {
        let mut rows = report.rows.clone();
        for row in &mut rows {
            let failed = row.secrets_error.is_some() || row.cluster_error.is_some();
            let before = self
                .rows
                .iter()
                .find(|r| r.env == row.env && r.secret == row.secret);
            // Logins come after the rows: until this load's arrive, the
            // last ones stand.
            if row.login.is_none() {
                row.login = before.and_then(|b| b.login.clone());
            }
            if let (true, Some(before)) = (failed, before) {
                let (secrets_error, cluster_error) = (row.secrets_error.take(), row.cluster_error.take());
                if secrets_error.is_some() && before.secrets_error.is_none() {
                    *row = FleetRow {
                        external_secrets: row.external_secrets.clone(),
                        ..before.clone()
                    };
                }
                if cluster_error.is_some() && before.cluster_error.is_none() {
                    row.external_secrets = before.external_secrets.clone();
                    row.restores = before.restores.clone();
                }
                row.secrets_error = secrets_error;
                row.cluster_error = cluster_error;
                row.stale = true;
            }
        }
        // An environment whose listing failed as a whole (or was refused:
        // another account) keeps its rows, stale.
        for env in &report.envs {
            let failed = report.errors.iter().any(|e| &e.env == env && e.scope.is_none());
            if failed && !rows.iter().any(|r| &r.env == env) {
                rows.extend(self.rows.iter().filter(|r| &r.env == env).map(|r| FleetRow {
                    stale: true,
                    ..r.clone()
                }));
            }
        }
        let key = self.selected_key();
        self.rows = rows;
        if let Some(i) = key.and_then(|(env, secret)| {
            self.visible()
                .iter()
                .position(|r| r.env == env && r.secret == secret)
        }) {
            self.selected = i;
        }
        self.report = Some(report);
        self.loading = false;
        self.clamp();
        self.dirty = true;
    }

    /// The logins of the last load, tried after its rows arrived.
    pub fn logins(&mut self, tried: &[crate::fleet::Tried]) {
        crate::fleet::apply_logins(&mut self.rows, tried);
        if let Some(report) = &mut self.report {
            report.apply_logins(tried);
        }
        self.dirty = true;
    }

    fn selected_key(&self) -> Option<(String, String)> {
        self.visible()
            .get(self.selected)
            .map(|r| (r.env.clone(), r.secret.clone()))
    }

    /// The rows shown: filtered (case-insensitive, on every text column)
    /// and sorted.
    pub fn visible(&self) -> Vec<&FleetRow> {
        let filter = self.filter.to_lowercase();
        let mut rows: Vec<&FleetRow> = self
            .rows
            .iter()
            .filter(|r| filter.is_empty() || row_text(r).to_lowercase().contains(&filter))
            .collect();
        let key = |r: &FleetRow| -> (u8, i64, String) {
            match self.sort {
                SortBy::Attention => (
                    if r.rotation.is_some() {
                        0
                    } else if r.due {
                        1
                    } else {
                        2
                    },
                    -r.age_days.unwrap_or(-1),
                    r.app.clone(),
                ),
                SortBy::App => (0, 0, format!("{} {}", r.app, r.env)),
                SortBy::Engine => (0, 0, format!("{:?} {}", r.engine, r.app)),
                SortBy::User => (0, 0, r.username.clone().unwrap_or_default()),
                SortBy::Age => (0, -r.age_days.unwrap_or(-1), r.app.clone()),
                SortBy::Env => (0, 0, format!("{} {}", r.env, r.app)),
            }
        };
        rows.sort_by_key(|r| key(r));
        if self.descending {
            rows.reverse();
        }
        rows
    }

    fn clamp(&mut self) {
        let len = self.visible().len();
        self.selected = self.selected.min(len.saturating_sub(1));
    }

    /// A key; the loop carries out what it asks for.
    pub fn key(&mut self, key: KeyEvent) -> Option<FleetEffect> {
        self.dirty = true;
        if self.help {
            // As the dashboard's: `?` or Esc closes it, `q` still quits,
            // other keys leave it open.
            match self.keymap.resolve(&key) {
                Some(KeyAction::Quit) => return Some(FleetEffect::Quit),
                Some(KeyAction::Help | KeyAction::Cancel) => self.help = false,
                _ => self.dirty = false,
            }
            return None;
        }
        if let Some(mut input) = self.input.take() {
            match key.code {
                KeyCode::Esc => self.set_filter(String::new()),
                KeyCode::Enter => {}
                _ => {
                    input.input(key);
                    self.set_filter(input.lines().join(""));
                    self.input = Some(input);
                }
            }
            return None;
        }
        let len = self.visible().len();
        match self.keymap.resolve(&key) {
            Some(KeyAction::Quit) => return Some(FleetEffect::Quit),
            Some(KeyAction::Refresh) => {
                if !self.loading {
                    self.loading = true;
                    return Some(FleetEffect::Refresh);
                }
            }
            Some(KeyAction::RunStep) => {
                return self
                    .visible()
                    .get(self.selected)
                    .map(|r| FleetEffect::Open(Box::new((*r).clone())));
            }
            Some(KeyAction::Down) => self.selected = (self.selected + 1).min(len.saturating_sub(1)),
            Some(KeyAction::Up) => self.selected = self.selected.saturating_sub(1),
            Some(KeyAction::PageDown) => self.selected = (self.selected + 10).min(len.saturating_sub(1)),
            Some(KeyAction::PageUp) => self.selected = self.selected.saturating_sub(10),
            Some(KeyAction::Top) => self.selected = 0,
            Some(KeyAction::Bottom) => self.selected = len.saturating_sub(1),
            Some(KeyAction::Filter) => {
                let mut t = TextArea::new(vec![self.filter.clone()]);
                t.move_cursor(ratatui_textarea::CursorMove::End);
                self.input = Some(t);
            }
            Some(KeyAction::Cancel) => self.set_filter(String::new()),
            Some(KeyAction::Sort) => {
                self.sort = self.sort.next();
                self.descending = false;
            }
            Some(KeyAction::SortReverse) => self.descending = !self.descending,
            Some(KeyAction::Help) => self.help = true,
            _ => self.dirty = false,
        }
        None
    }

    fn set_filter(&mut self, filter: String) {
        self.filter = filter;
        self.clamp();
    }
}

/// What `/` matches against.
fn row_text(r: &FleetRow) -> String {
    format!(
        "{} {} {} {} {} {}",
        r.env,
        r.app,
        r.secret,
        r.engine.map(|e| e.as_str()).unwrap_or(""),
        r.username.as_deref().unwrap_or(""),
        r.rotation
            .as_ref()
            .and_then(|p| p.holder.as_deref())
            .unwrap_or("")
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fleet::model::{Calls, InProgress};
    use crate::target::Engine;
    use crossterm::event::KeyModifiers;

    pub(crate) fn row(app: &str, age: i64, due: bool) -> FleetRow {
        FleetRow {
            env: "production".into(),
            app: app.into(),
            secret: format!("govuk/{app}/mysql"),
            engine: Some(Engine::Mysql),
            username: Some(format!("{app}_user_20260101")),
            current_since: None,
            username_date: None,
            age_days: Some(age),
            max_age_days: 90,
            due,
            rotation: None,
            external_secrets: vec![],
            secrets_error: None,
            cluster_error: None,
            stale: false,
            login: None,
            restores: vec![],
        }
    }

    pub(crate) fn report(rows: Vec<FleetRow>) -> FleetReport {
        FleetReport {
            env: "production".into(),
            envs: vec!["production".into()],
            loaded_at: Utc::now(),
            rows,
            errors: vec![],
            calls: Calls::default(),
            credentials_expire: Vec::new(),
        }
    }

    fn key(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    /// A rotation's text longer than its column ends in "…" before the
    /// next column, rather than seeming to run on into it.
    /// Each environment's credentials count down in the header, from the
    /// expiry its last load saw (a credential command's refresh restarts it).
    #[test]
    fn the_header_counts_down_each_environments_credentials() {
        let now = Utc::now();
        let mut v = FleetView::new("production,staging", Keymap::default(), ThemeName::Default, now);
        let mut r = report(vec![row("signon", 10, false)]);
        r.credentials_expire = vec![
            ("production".into(), now + chrono::Duration::seconds(52 * 60 + 30)),
            ("staging".into(), now + chrono::Duration::seconds(41 * 60 + 30)),
        ];
        v.loaded(r);
        let text = crate::fleet::render::render_to_text(&v, 200, 8);
        assert!(
            text.contains("credentials production 52m · staging 41m"),
            "{text}"
        );
        v.now = now + chrono::Duration::hours(1);
        let text = crate::fleet::render::render_to_text(&v, 200, 8);
        assert!(
            text.contains("credentials production expired · staging expired"),
            "{text}"
        );
    }

    #[test]
    fn a_long_rotation_text_is_cut_with_an_ellipsis_before_the_next_column() {
        let mut v = FleetView::new("production", Keymap::default(), ThemeName::Default, Utc::now());
        let mut half = row("whitehall", 10, false);
        half.rotation = Some(InProgress {
            pending: false,
            rotation_id: None,
            holder: Some("root@vm".into()),
            since: None,
            heartbeat: None,
            new_username: None,
            step: Some("production/drop-old-user".into()),
            phase: "promoted; old user whitehall not yet dropped, and a great deal more to say".into(),
            mark_error: None,
        });
        v.loaded(report(vec![half]));
        let text = crate::fleet::render::render_to_text(&v, 160, 10);
        let line = text.lines().find(|l| l.contains("whitehall")).unwrap();
        assert!(line.contains("root@vm: at production/drop-old-user;"), "{line}");
        assert!(line.contains("… "), "cut with an ellipsis: {line}");
        assert!(text.contains("production · 1 app · 0 due"), "{text}");
    }

    #[test]
    fn attention_first_then_sort_filter_and_open() {
        let mut v = FleetView::new("production", Keymap::default(), ThemeName::Default, Utc::now());
        let mut half = row("whitehall", 10, false);
        half.rotation = Some(InProgress {
            pending: true,
            rotation_id: None,
            holder: Some("alice@laptop".into()),
            since: None,
            heartbeat: None,
            new_username: None,
            step: None,
            phase: "pending".into(),
            mark_error: None,
        });
        v.loaded(report(vec![
            row("account-api", 5, false),
            row("signon", 120, true),
            half,
        ]));
        let apps = |v: &FleetView| v.visible().iter().map(|r| r.app.clone()).collect::<Vec<_>>();
        assert_eq!(apps(&v), ["whitehall", "signon", "account-api"]);
        v.key(key('s'));
        assert_eq!(v.sort, SortBy::App);
        assert_eq!(apps(&v), ["account-api", "signon", "whitehall"]);
        v.key(key('S'));
        assert_eq!(apps(&v), ["whitehall", "signon", "account-api"]);
        // `/` filters as you type (the holder's name too); Esc clears.
        v.key(key('/'));
        for c in "alice".chars() {
            v.key(key(c));
        }
        assert_eq!(apps(&v), ["whitehall"]);
        v.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        assert!(v.input.is_none());
        match v.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)) {
            Some(FleetEffect::Open(r)) => assert_eq!(r.app, "whitehall"),
            other => panic!("{other:?}"),
        }
        v.key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
        assert_eq!(v.visible().len(), 3);
        assert_eq!(v.key(key('r')), Some(FleetEffect::Refresh));
        assert_eq!(v.key(key('r')), None, "one refresh at a time");
        assert_eq!(v.key(key('q')), Some(FleetEffect::Quit));
    }

    /// Logins arrive after their rows; a refresh keeps the last ones until
    /// its own arrive.
    #[test]
    fn logins_fill_in_after_the_rows_and_survive_a_refresh() {
        use crate::fleet::{Login, Tried};
        let mut v = FleetView::new("production", Keymap::default(), ThemeName::Default, Utc::now());
        v.loaded(report(vec![row("signon", 1, false)]));
        assert_eq!(v.rows[0].login, None);
        let ok = Login::Ok {
            version: "8.4.3".into(),
        };
        v.dirty = false;
        v.logins(&[Tried {
            env: "production".into(),
            secret: "govuk/signon/mysql".into(),
            login: ok.clone(),
        }]);
        assert!(v.dirty);
        assert_eq!(v.rows[0].login.as_ref(), Some(&ok));
        v.loaded(report(vec![row("signon", 1, false)]));
        assert_eq!(
            v.rows[0].login.as_ref(),
            Some(&ok),
            "kept until the new ones come"
        );
    }

    /// Sort and help are keymap actions: the config moves them, and `?`
    /// opens the help, which `?` or Esc closes (as the dashboard's).
    #[test]
    fn sort_and_help_follow_the_keymap() {
        let overrides = [("sort".to_string(), vec!["o".to_string()])].into();
        let (keymap, warnings) = Keymap::with_overrides(&overrides);
        assert!(warnings.is_empty(), "{warnings:?}");
        let mut v = FleetView::new("production", keymap, ThemeName::Default, Utc::now());
        v.loaded(report(vec![
            row("signon", 1, false),
            row("account-api", 2, false),
        ]));
        v.key(key('s'));
        assert_eq!(v.sort, SortBy::Attention, "s is no longer sort");
        v.key(key('o'));
        assert_eq!(v.sort, SortBy::App);
        assert_eq!(v.key(key('?')), None);
        assert!(v.help);
        let text = crate::fleet::render::render_to_text(&v, 120, 30);
        assert!(text.contains("o  sort by the next column"), "{text}");
        assert!(text.contains("readers  workloads reading"), "{text}");
        assert_eq!(v.key(key('j')), None);
        assert!(v.help, "only ? or Esc closes the help, as the dashboard's");
        assert_eq!(v.selected, 0, "and other keys do nothing");
        assert_eq!(v.key(key('?')), None);
        assert!(!v.help, "? closes it");
        v.key(key('?'));
        v.key(KeyEvent::new(KeyCode::Esc, crossterm::event::KeyModifiers::NONE));
        assert!(!v.help, "Esc closes it");
        v.key(key('?'));
        assert_eq!(v.key(key('q')), Some(FleetEffect::Quit));
    }

    #[test]
    fn a_failed_refresh_keeps_the_last_values_marked_stale() {
        let mut v = FleetView::new("production", Keymap::default(), ThemeName::Default, Utc::now());
        v.loaded(report(vec![row("signon", 12, false)]));
        let mut failed = row("signon", 0, false);
        failed.username = None;
        failed.age_days = None;
        failed.secrets_error = Some("throttled".into());
        v.loaded(report(vec![failed]));
        let r = v.visible()[0];
        assert!(r.stale);
        assert_eq!(r.age_days, Some(12));
        assert_eq!(r.secrets_error.as_deref(), Some("throttled"));
        // The whole listing failing keeps every row, stale.
        let mut whole = report(vec![]);
        whole.errors.push(crate::fleet::FleetError {
            env: "production".into(),
            system: crate::model::System::SecretsManager,
            scope: None,
            message: "expired".into(),
        });
        v.loaded(whole.clone());
        assert_eq!(v.visible().len(), 1);
        assert!(v.visible()[0].stale);
        // Several environments: staging's rows come, production's stay stale.
        let mut staging = row("signon", 3, false);
        staging.env = "staging".into();
        let mut both = FleetReport::merge(vec![whole, report(vec![staging])]);
        both.envs = vec!["production".into(), "staging".into()];
        v.loaded(both);
        let shown: Vec<(String, bool)> = v.visible().iter().map(|r| (r.env.clone(), r.stale)).collect();
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert!(shown.contains(&("production".into(), true)), "{shown:?}");
        assert!(shown.contains(&("staging".into(), false)), "{shown:?}");
    }
}
