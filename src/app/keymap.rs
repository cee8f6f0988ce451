//! Keys as data: one table of default bindings, overridden action by action
//! from the config file. The help screen and the footer hints are generated
//! from the same table, so they can never disagree with what keys do.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::app::panes::Pane;

/// What a key asks for, independent of which key it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyAction {
    Help,
    Quit,
    NextPane,
    PrevPane,
    /// Focus a pane: its number picks it (1 for the first).
    Focus(Pane),
    Down,
    Up,
    PageDown,
    PageUp,
    Top,
    Bottom,
    Zoom,
    RunStep,
    Rollback,
    Report,
    Kill,
    ToggleRows,
    ForceSync,
    Refresh,
    Faster,
    Slower,
    Pause,
    Filter,
    Reveal,
    CommandLine,
    Names,
    Cancel,
    /// The fleet view's: sort by the next column, reverse the order.
    Sort,
    SortReverse,
}

/// Actions only the fleet view has: the dashboard's help leaves them out.
pub const FLEET_ONLY: [KeyAction; 2] = [KeyAction::Sort, KeyAction::SortReverse];

#[derive(Debug, Clone, Copy)]
struct Entry {
    action: KeyAction,
    name: &'static str,
    keys: &'static [&'static str],
    help: &'static str,
    /// Footer label; `None` keeps it out of the footer.
    hint: Option<&'static str>,
    /// Panes whose footer offers it.
    offered: Offered,
}

/// Where the footer offers a key.
#[derive(Debug, Clone, Copy)]
enum Offered {
    Everywhere,
    In(&'static [Pane]),
    /// In panes whose rows `/` filters (as each pane's `About` says).
    Filterable,
}

impl Offered {
    fn in_pane(self, pane: Pane) -> bool {
        match self {
            Offered::Everywhere => true,
            Offered::In(panes) => panes.contains(&pane),
            Offered::Filterable => pane.about().filterable,
        }
    }
}

const fn e(
    action: KeyAction,
    name: &'static str,
    keys: &'static [&'static str],
    help: &'static str,
    hint: Option<&'static str>,
    offered: Offered,
) -> Entry {
    Entry {
        action,
        name,
        keys,
        help,
        hint,
        offered,
    }
}

use KeyAction as A;
use Offered::{Everywhere, Filterable, In};
/// The embedded defaults (k9s / pg_activity habits): action, config name,
/// keys, help text, footer hint, panes whose footer offers it. The panes'
/// focus keys come after `prev_pane`, from the panes themselves.
#[rustfmt::skip]
const DEFAULTS: &[Entry] = &[
    e(A::Help,             "help",              &["?"],                  "show this help",                                       Some("help"),    Everywhere),
    e(A::Quit,             "quit",              &["q", "ctrl-c"],        "quit (asks first while a step runs)",                  Some("quit"),    Everywhere),
    e(A::NextPane,         "next_pane",         &["tab"],                "next pane",                                            None,            Everywhere),
    e(A::PrevPane,         "prev_pane",         &["backtab"],            "previous pane",                                        None,            Everywhere),
    e(A::Down,             "down",              &["j", "down"],          "move down",                                            None,            Everywhere),
    e(A::Up,               "up",                &["k", "up"],            "move up",                                              None,            Everywhere),
    e(A::PageDown,         "page_down",         &["pagedown", "ctrl-d"], "page down",                                            None,            Everywhere),
    e(A::PageUp,           "page_up",           &["pageup", "ctrl-u"],   "page up",                                              None,            Everywhere),
    e(A::Top,              "top",               &["g", "home"],          "first row",                                            None,            Everywhere),
    e(A::Bottom,           "bottom",            &["G", "end"],           "last row",                                             None,            Everywhere),
    e(A::Zoom,             "zoom",              &["z"],                  "zoom the focused pane",                                Some("zoom"),    Everywhere),
    e(A::RunStep,          "run_step",          &["enter"],              "run the selected step (preview first)",                Some("run"),     In(&[Pane::Steps])),
    e(A::Rollback,         "rollback",          &["B"],                  "roll the rotation back (preview first)",               Some("rollback"), In(&[Pane::Steps])),
    e(A::Report,           "report",            &["W"],                  "write the rotation's report (Markdown, JSON)",         None,            In(&[Pane::Steps])),
    e(A::Kill,             "kill",              &["K"],                  "force-kill the selected connection / all of a user's", Some("kill"),    In(&[Pane::Connections])),
    e(A::ToggleRows,       "toggle_rows",       &["c"],                  "single connections on/off",                            Some("rows"),    In(&[Pane::Connections])),
    e(A::ForceSync,        "force_sync",        &["f"],                  "force-sync the ExternalSecret",                        Some("sync"),    In(&[Pane::Cluster])),
    e(A::Refresh,          "refresh",           &["r"],                  "refresh now",                                          Some("refresh"), Everywhere),
    e(A::Faster,           "faster",            &["+", "="],             "refresh more often",                                   None,            Everywhere),
    e(A::Slower,           "slower",            &["-"],                  "refresh less often",                                   None,            Everywhere),
    e(A::Pause,            "pause",             &["space"],              "pause / resume refreshing",                            Some("pause"),   Everywhere),
    e(A::Filter,           "filter",            &["/"],                  "filter the focused pane",                              Some("filter"),  Filterable),
    e(A::Reveal,           "reveal",            &["v"],                  "reveal masked values for a few seconds (v again hides)", Some("reveal"),  In(&[Pane::Cluster])),
    e(A::CommandLine,      "command",           &[":"],                  "command line: env/app/engine",                         Some("cmd"),     Everywhere),
    e(A::Names,            "names",             &["n"],                  "names, where each came from; choose the admin key",    None,            Everywhere),
    e(A::Cancel,           "cancel",            &["esc"],                "close dialog / clear filter",                          None,            Everywhere),
    e(A::Sort,             "sort",              &["s"],                  "fleet: sort by the next column",                       None,            Everywhere),
    e(A::SortReverse,      "sort_reverse",      &["S"],                  "fleet: reverse the order",                             None,            Everywhere),
];

/// A pane's focus key is its number.
static DIGITS: [&str; 9] = ["1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// Every binding, in the order help lists them: the defaults, with a focus
/// key for each pane (its name and help as the pane says them).
static TABLE: LazyLock<Vec<Entry>> = LazyLock::new(|| {
    let at = DEFAULTS
        .iter()
        .position(|d| d.action == A::PrevPane)
        .map_or(0, |i| i + 1);
    let (before, after) = DEFAULTS.split_at(at);
    let focus = Pane::ALL.into_iter().map(|pane| {
        let about = pane.about();
        Entry {
            action: A::Focus(pane),
            name: about.focus_key,
            keys: DIGITS.get(pane.index()).map_or(&[], std::slice::from_ref),
            help: about.focus_help,
            hint: None,
            offered: Offered::Everywhere,
        }
    });
    before
        .iter()
        .copied()
        .chain(focus)
        .chain(after.iter().copied())
        .collect()
});

/// A key as written in the config: `q`, `K`, `?`, `enter`, `ctrl-c`, `f5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub code: KeyCodeOrd,
    pub ctrl: bool,
    pub alt: bool,
}

/// `KeyCode` restricted to what bindings use, ordered for maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyCodeOrd {
    Char(char),
    F(u8),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
}

impl Key {
    pub fn parse(s: &str) -> Result<Key, String> {
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = s.trim();
        loop {
            let lower = rest.to_ascii_lowercase();
            if lower.starts_with("ctrl-") && rest.len() > 5 {
                ctrl = true;
                rest = &rest[5..];
            } else if lower.starts_with("alt-") && rest.len() > 4 {
                alt = true;
                rest = &rest[4..];
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => KeyCodeOrd::Char(if ctrl { c.to_ascii_lowercase() } else { c }),
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCodeOrd::Enter,
                "esc" | "escape" => KeyCodeOrd::Esc,
                "tab" => KeyCodeOrd::Tab,
                "backtab" | "shift-tab" => KeyCodeOrd::BackTab,
                "backspace" => KeyCodeOrd::Backspace,
                "space" => KeyCodeOrd::Char(' '),
                "up" => KeyCodeOrd::Up,
                "down" => KeyCodeOrd::Down,
                "left" => KeyCodeOrd::Left,
                "right" => KeyCodeOrd::Right,
                "pageup" | "pgup" => KeyCodeOrd::PageUp,
                "pagedown" | "pgdn" => KeyCodeOrd::PageDown,
                "home" => KeyCodeOrd::Home,
                "end" => KeyCodeOrd::End,
                f if f.starts_with('f') && f[1..].parse::<u8>().is_ok_and(|n| (1..=24).contains(&n)) => {
                    KeyCodeOrd::F(f[1..].parse().unwrap_or(1))
                }
                _ => return Err(format!("unknown key {s:?}")),
            },
        };
        Ok(Key { code, ctrl, alt })
    }

    /// The binding a terminal key event matches. Shift is folded into the
    /// character (crossterm reports `K` as Shift+'K').
    pub fn from_event(ev: &KeyEvent) -> Option<Key> {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        let alt = ev.modifiers.contains(KeyModifiers::ALT);
        let code = match ev.code {
            KeyCode::Char(c) => KeyCodeOrd::Char(if ctrl { c.to_ascii_lowercase() } else { c }),
            KeyCode::F(n) => KeyCodeOrd::F(n),
            KeyCode::Enter => KeyCodeOrd::Enter,
            KeyCode::Esc => KeyCodeOrd::Esc,
            KeyCode::Tab if ev.modifiers.contains(KeyModifiers::SHIFT) => KeyCodeOrd::BackTab,
            KeyCode::Tab => KeyCodeOrd::Tab,
            KeyCode::BackTab => KeyCodeOrd::BackTab,
            KeyCode::Backspace => KeyCodeOrd::Backspace,
            KeyCode::Up => KeyCodeOrd::Up,
            KeyCode::Down => KeyCodeOrd::Down,
            KeyCode::Left => KeyCodeOrd::Left,
            KeyCode::Right => KeyCodeOrd::Right,
            KeyCode::PageUp => KeyCodeOrd::PageUp,
            KeyCode::PageDown => KeyCodeOrd::PageDown,
            KeyCode::Home => KeyCodeOrd::Home,
            KeyCode::End => KeyCodeOrd::End,
            _ => return None,
        };
        Some(Key { code, ctrl, alt })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("Ctrl-")?;
        }
        if self.alt {
            f.write_str("Alt-")?;
        }
        match self.code {
            KeyCodeOrd::Char(' ') => f.write_str("Space"),
            KeyCodeOrd::Char(c) => write!(f, "{c}"),
            KeyCodeOrd::F(n) => write!(f, "F{n}"),
            KeyCodeOrd::Enter => f.write_str("Enter"),
            KeyCodeOrd::Esc => f.write_str("Esc"),
            KeyCodeOrd::Tab => f.write_str("Tab"),
            KeyCodeOrd::BackTab => f.write_str("Shift-Tab"),
            KeyCodeOrd::Backspace => f.write_str("Backspace"),
            KeyCodeOrd::Up => f.write_str("↑"),
            KeyCodeOrd::Down => f.write_str("↓"),
            KeyCodeOrd::Left => f.write_str("←"),
            KeyCodeOrd::Right => f.write_str("→"),
            KeyCodeOrd::PageUp => f.write_str("PgUp"),
            KeyCodeOrd::PageDown => f.write_str("PgDn"),
            KeyCodeOrd::Home => f.write_str("Home"),
            KeyCodeOrd::End => f.write_str("End"),
        }
    }
}

/// One row of the help screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpLine {
    pub keys: String,
    pub help: &'static str,
}

/// The effective keymap.
#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: BTreeMap<KeyAction, Vec<Key>>,
    lookup: BTreeMap<Key, KeyAction>,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::with_overrides(&BTreeMap::new()).0
    }
}

impl Keymap {
    /// Defaults, then `overrides` (action name → keys) replacing an action's
    /// keys. Unknown actions, unparsable keys and clashes become warnings;
    /// the rest still applies.
    pub fn with_overrides(overrides: &BTreeMap<String, Vec<String>>) -> (Keymap, Vec<String>) {
        let mut warnings = Vec::new();
        let mut bindings: BTreeMap<KeyAction, Vec<Key>> = TABLE
            .iter()
            .map(|d| {
                (
                    d.action,
                    d.keys.iter().filter_map(|k| Key::parse(k).ok()).collect(),
                )
            })
            .collect();
        for (name, keys) in overrides {
            let Some(d) = TABLE.iter().find(|d| d.name == name) else {
                warnings.push(format!("keymap: unknown action {name:?} (ignored)"));
                continue;
            };
            let mut parsed = Vec::new();
            for k in keys {
                match Key::parse(k) {
                    Ok(key) => parsed.push(key),
                    Err(err) => warnings.push(format!("keymap: {name}: {err} (ignored)")),
                }
            }
            if !parsed.is_empty() {
                bindings.insert(d.action, parsed);
            }
        }
        // An overridden key wins over a default that used it; two overrides
        // claiming one key is a clash, first one (by action order) wins.
        let overridden = |a: KeyAction| {
            TABLE
                .iter()
                .any(|d| d.action == a && overrides.contains_key(d.name) && bindings.contains_key(&a))
        };
        let mut lookup = BTreeMap::new();
        for pass_overrides in [true, false] {
            for (action, keys) in &bindings {
                if overridden(*action) != pass_overrides {
                    continue;
                }
                for key in keys {
                    match lookup.get(key) {
                        None => {
                            lookup.insert(*key, *action);
                        }
                        Some(other) if pass_overrides => {
                            warnings.push(format!(
                                "keymap: {key} is bound to both {} and {}",
                                name_of(*other),
                                name_of(*action)
                            ));
                        }
                        Some(_) => {}
                    }
                }
            }
        }
        // Drop keys from actions that lost them, so help shows the truth.
        for (action, keys) in bindings.iter_mut() {
            keys.retain(|k| lookup.get(k) == Some(action));
        }
        (Keymap { bindings, lookup }, warnings)
    }

    pub fn resolve(&self, ev: &KeyEvent) -> Option<KeyAction> {
        self.lookup.get(&Key::from_event(ev)?).copied()
    }

    pub fn keys(&self, action: KeyAction) -> &[Key] {
        self.bindings.get(&action).map(Vec::as_slice).unwrap_or(&[])
    }

    /// First key of an action, as shown in hints ("?" when unbound).
    pub fn key_label(&self, action: KeyAction) -> String {
        self.keys(action)
            .first()
            .map(|k| k.to_string())
            .unwrap_or_else(|| "—".into())
    }

    /// Every dashboard action with its keys, in table order.
    pub fn help_lines(&self) -> Vec<HelpLine> {
        TABLE
            .iter()
            .filter(|d| !FLEET_ONLY.contains(&d.action))
            .map(|d| self.help_line(d))
            .collect()
    }

    /// `actions` with their keys, in the order given, with the help text
    /// `text` gives (the table's when it gives none).
    pub fn help_lines_for(&self, actions: &[(KeyAction, Option<&'static str>)]) -> Vec<HelpLine> {
        actions
            .iter()
            .filter_map(|(a, text)| {
                let d = TABLE.iter().find(|d| d.action == *a)?;
                let mut line = self.help_line(d);
                if let Some(t) = text {
                    line.help = t;
                }
                Some(line)
            })
            .collect()
    }

    fn help_line(&self, d: &Entry) -> HelpLine {
        HelpLine {
            keys: self
                .keys(d.action)
                .iter()
                .map(|k| k.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            help: d.help,
        }
    }

    /// Footer hints for the focused pane: (key, label).
    pub fn hints(&self, pane: Pane) -> Vec<(String, &'static str)> {
        TABLE
            .iter()
            .filter(|d| d.offered.in_pane(pane))
            .filter_map(|d| Some((self.keys(d.action).first()?.to_string(), d.hint?)))
            .collect()
    }
}

fn name_of(action: KeyAction) -> &'static str {
    TABLE
        .iter()
        .find(|d| d.action == action)
        .map(|d| d.name)
        .unwrap_or("?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_overrides_one_action_at_a_time_and_bad_ones_warn() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "refresh_ms = 1900\ntheme = \"mono\"\n[keys]\nkill = \"ctrl-k\"\ndown = [\"j\", \"ctrl-n\"]\nfly = \"x\"\n").unwrap();
        let c = crate::config::Config::load(Some(&path)).unwrap();
        assert_eq!(c.theme.as_deref(), Some("mono"));
        let state = crate::app::initial_state(None, false, &c, chrono::Utc::now());
        assert_eq!(state.interval_ms, 2000, "the nearest interval +/- can reach");
        let km = &state.keymap;
        assert_eq!(
            km.resolve(&KeyEvent::new(KeyCode::Char('k'), KeyModifiers::CONTROL)),
            Some(KeyAction::Kill)
        );
        assert_eq!(
            km.resolve(&KeyEvent::new(KeyCode::Char('n'), KeyModifiers::CONTROL)),
            Some(KeyAction::Down)
        );
        assert_eq!(
            km.resolve(&KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)),
            None
        );
        assert_eq!(
            state.warnings,
            vec!["keymap: unknown action \"fly\" (ignored)".to_string()]
        );
        let defaults =
            crate::app::initial_state(None, false, &crate::config::Config::default(), chrono::Utc::now());
        assert_eq!(defaults.interval_ms, 1000);
    }

    fn ev(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn defaults_resolve_like_k9s() {
        let km = Keymap::default();
        assert_eq!(
            km.resolve(&ev(KeyCode::Char('K'), KeyModifiers::SHIFT)),
            Some(KeyAction::Kill)
        );
        assert_eq!(
            km.resolve(&ev(KeyCode::Char('k'), KeyModifiers::NONE)),
            Some(KeyAction::Up)
        );
        assert_eq!(
            km.resolve(&ev(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(KeyAction::Quit)
        );
        assert_eq!(
            km.resolve(&ev(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(KeyAction::PrevPane)
        );
        assert_eq!(
            km.resolve(&ev(KeyCode::Char(' '), KeyModifiers::NONE)),
            Some(KeyAction::Pause)
        );
        assert_eq!(km.resolve(&ev(KeyCode::Char('x'), KeyModifiers::NONE)), None);
    }

    #[test]
    fn overrides_apply_key_by_key_and_bad_entries_warn() {
        let mut o = BTreeMap::new();
        o.insert("kill".to_string(), vec!["ctrl-k".to_string(), "x".to_string()]);
        o.insert("launch_missiles".to_string(), vec!["m".to_string()]);
        o.insert("refresh".to_string(), vec!["bogus-key".to_string()]);
        // Takes `j` from `down`, which keeps its arrow.
        o.insert("zoom".to_string(), vec!["j".to_string()]);
        let (km, warnings) = Keymap::with_overrides(&o);
        assert_eq!(
            km.resolve(&ev(KeyCode::Char('k'), KeyModifiers::CONTROL)),
            Some(KeyAction::Kill)
        );
        assert_eq!(
            km.resolve(&ev(KeyCode::Char('x'), KeyModifiers::NONE)),
            Some(KeyAction::Kill)
        );
        assert_eq!(km.resolve(&ev(KeyCode::Char('K'), KeyModifiers::SHIFT)), None);
        assert_eq!(
            km.resolve(&ev(KeyCode::Char('r'), KeyModifiers::NONE)),
            Some(KeyAction::Refresh)
        );
        assert_eq!(
            km.resolve(&ev(KeyCode::Char('j'), KeyModifiers::NONE)),
            Some(KeyAction::Zoom)
        );
        assert_eq!(km.key_label(KeyAction::Down), "↓");
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("launch_missiles"));
        assert!(warnings[1].contains("bogus-key"));
        assert!(
            km.help_lines()
                .iter()
                .any(|l| l.keys == "Ctrl-k x" && l.help.contains("force-kill"))
        );
    }
}
