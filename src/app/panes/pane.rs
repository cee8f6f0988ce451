//! What every pane is to the code that joins them (update, the schedule,
//! the titles, the layout): [`PaneModel`]; its fixed facts ([`About`]);
//! what it may know of the rest of the dashboard ([`Around`]) and what the
//! landing of an answer asks of the rest ([`Landed`]). Also the list
//! geometry render and update both reckon with.

use chrono::{DateTime, FixedOffset, Utc};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Block;

use crate::app::loadable::{Stamp, Tracked};
use crate::app::selection::{Selection, row_at};
use crate::app::source::{Answer, Source};

/// A pane's fixed facts: its names, its key, its place, how often it looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct About {
    /// Its frame's title (`Users & grants`).
    pub title: &'static str,
    /// Its name in the tab strip of small screens (`Users`).
    pub tab: &'static str,
    /// The config's name for its focus key (`[keys] focus_users = "u"`),
    /// and the help's line for it. The key itself is its number.
    pub focus_key: &'static str,
    pub focus_help: &'static str,
    /// Where it sits when every pane fits on the screen.
    pub place: Place,
    /// Refresh intervals between looks at its data: its title calls the
    /// data stale after three missed. `None`: watched, fresh until its
    /// watch fails.
    pub every: Option<i32>,
    /// Whether `/` filters its rows.
    pub filterable: bool,
}

/// Where a pane sits in the grid of a wide screen: a column, its row from
/// the top, and its share of the column's height.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub column: Column,
    pub row: u8,
    pub percent: u16,
}

/// The grid's two columns, each half the screen's width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Left,
    Right,
}

/// What a pane may know of the rest of the dashboard. Owned and read-only:
/// a pane changes only itself, and says what it needs of the others
/// ([`Landed`], sources to ask).
#[derive(Debug, Clone)]
pub struct Around {
    pub now: DateTime<Utc>,
    /// The operator's time zone, for event times.
    pub utc_offset: FixedOffset,
    /// A target is chosen: nothing is asked without one.
    pub has_target: bool,
    /// The rotation's old and new users, as the Steps pane read them.
    pub old_user: Option<String>,
    pub new_user: Option<String>,
    /// A kill is being aimed: the connections stand still.
    pub aiming_kill: bool,
    /// Where this pane is on screen; `None` when it is not drawn (or the
    /// screen's size is not known).
    pub area: Option<Rect>,
}

/// What an answer's landing asks of the rest of the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct Landed {
    /// What the pane shows changed: redraw.
    pub changed: bool,
    /// Its rows changed: put the selection back on its row (and follow it).
    pub reindex: bool,
    /// A source worth another look now, unless paused or already asked.
    pub look_again: Option<Source>,
}

impl Landed {
    /// New data (or an error) shown, or not.
    pub fn shown(changed: bool) -> Landed {
        Landed {
            changed,
            ..Landed::default()
        }
    }

    /// New rows shown, or not: a redraw and the selection put back.
    pub fn rows(changed: bool) -> Landed {
        Landed {
            changed,
            reindex: changed,
            look_again: None,
        }
    }
}

/// A pane's model: the data it reads (its sources, how often, what to do
/// when an answer lands), the rows it lists and the selection over them.
/// Its view is `ui::panes`; the registry joining them is `app::panes`.
pub trait PaneModel {
    fn selection(&self) -> &Selection;
    fn selection_mut(&mut self) -> &mut Selection;
    /// How many rows it lists (unfiltered).
    fn row_count(&self) -> usize;
    /// The stable key of row `row` (pid, `user@host`, step id…): what the
    /// selection holds on to across refreshes.
    fn row_key(&self, row: usize) -> Option<String>;
    /// The text a filter matches, per row.
    fn row_texts(&self) -> Vec<String> {
        row_keys(self)
    }
    /// The data its title reports on: loading, stale, failed.
    fn shown(&self) -> &dyn Tracked;
    /// What it reads, each time the clock or `r` asks.
    fn sources(&self, around: &Around) -> Vec<Source>;
    /// How many refresh intervals apart `source` is asked (`None`: not by
    /// the clock: watched, or asked once).
    fn cadence(&self, source: &Source) -> Option<i32>;
    /// The loadable a source of its own fills; `None` for another's source.
    fn tracked(&self, source: &Source) -> Option<&dyn Tracked>;
    fn tracked_mut(&mut self, source: &Source) -> Option<&mut dyn Tracked>;
    /// Take an answer from one of its sources; hand back anyone else's.
    // The answer is handed on to the next pane, once: boxing it buys nothing.
    #[allow(clippy::result_large_err)]
    fn land(&mut self, stamp: Stamp, answer: Answer, around: &Around) -> Result<Landed, Answer>;
    /// After its selection moved: what to ask for the selected row.
    fn selection_moved(&mut self, _around: &Around) -> Vec<Source> {
        Vec::new()
    }
    /// After an answer landed anywhere: bring what it derives from the rest
    /// of the dashboard in step.
    fn sync(&mut self, _around: &Around) {}
    /// Forget everything read (a new target), keeping how it is looked at.
    fn reset(&mut self);
}

/// Every row's key: the text a filter matches unless a pane says otherwise.
pub fn row_keys<P: PaneModel + ?Sized>(pane: &P) -> Vec<String> {
    (0..pane.row_count()).filter_map(|r| pane.row_key(r)).collect()
}

/// After new data or a new filter: recompute the visible rows and put the
/// cursor back on the selected key (or the nearest row if it went away).
pub fn reindex(pane: &mut dyn PaneModel) {
    let sel = pane.selection();
    let filter = sel.filter.to_lowercase();
    let visible = if filter.is_empty() {
        None
    } else {
        Some(
            pane.row_texts()
                .iter()
                .enumerate()
                .filter(|(_, t)| t.to_lowercase().contains(&filter))
                .map(|(i, _)| i)
                .collect::<Vec<_>>(),
        )
    };
    let len = visible.as_ref().map_or(pane.row_count(), Vec::len);
    let sel_with = Selection {
        visible,
        ..sel.clone()
    };
    let found = sel.key.as_ref().and_then(|k| {
        (0..len).find(|&i| row_at(&sel_with, i).and_then(|r| pane.row_key(r)).as_ref() == Some(k))
    });
    let index = match found {
        Some(i) => i,
        None => sel.index.min(len.saturating_sub(1)),
    };
    let key = row_at(&sel_with, index).and_then(|r| pane.row_key(r));
    *pane.selection_mut() = Selection {
        index,
        key,
        ..sel_with
    };
}

/// Move the selection `by` rows, within the visible ones; `false` when
/// there are none.
pub fn move_by(pane: &mut dyn PaneModel, by: isize) -> bool {
    let sel = pane.selection();
    let len = sel.visible.as_ref().map_or(pane.row_count(), Vec::len);
    if len == 0 {
        return false;
    }
    let index = (sel.index as isize).saturating_add(by).clamp(0, len as isize - 1) as usize;
    let key = row_at(sel, index).and_then(|r| pane.row_key(r));
    let sel = pane.selection_mut();
    sel.index = index;
    sel.key = key;
    true
}

/// Inside a pane's frame at `area`, below the error line of a failed
/// refresh: where the pane lists its data. `None` while it has no data (a
/// placeholder fills the frame).
pub fn body(area: Rect, data: &dyn Tracked) -> Option<Rect> {
    below_error_line(Block::bordered().inner(area), data)
}

/// `inner` (a pane's frame's inside) less the line that says the last
/// refresh failed, while older data is still shown; `None` with no data.
pub fn below_error_line(inner: Rect, data: &dyn Tracked) -> Option<Rect> {
    if !data.has_data() {
        return None;
    }
    if data.error().is_none() {
        return Some(inner);
    }
    let [_, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    Some(rest)
}
