//! Where each pane goes on the screen, and where a pane lists its rows
//! within its area. Wide terminals get every pane at once; small ones
//! (down to 80×24) a tab strip and the focused pane; `z` zooms any pane.
//!
//! Geometry lives in `app`, not `ui`: update must know what the screen
//! shows (which connection rows are listed, to leave the screen still when
//! only rows off it change), and render draws into the same areas. Both
//! call these functions; neither tells the other.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Block;

use crate::app::state::{Loadable, Pane};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Areas {
    pub status: Rect,
    /// Tab strip naming every pane (when not all fit).
    pub tabs: Option<Rect>,
    pub panes: Vec<(Pane, Rect)>,
    pub footer: Rect,
}

impl Areas {
    /// Where `pane` is drawn; `None` when it is not on screen.
    pub fn area_of(&self, pane: Pane) -> Option<Rect> {
        self.panes.iter().find(|(p, _)| *p == pane).map(|(_, area)| *area)
    }
}

/// Everything fits side by side from this size up.
pub const GRID_MIN: (u16, u16) = (110, 32);

pub fn areas(area: Rect, focus: Pane, zoom: bool) -> Areas {
    let [status, body, footer] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0), Constraint::Length(1)]).areas(area);
    if zoom || area.width < GRID_MIN.0 || area.height < GRID_MIN.1 {
        let (tabs, pane) = if zoom {
            (None, body)
        } else {
            let [tabs, pane] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(body);
            (Some(tabs), pane)
        };
        return Areas {
            status,
            tabs,
            panes: vec![(focus, pane)],
            footer,
        };
    }
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body);
    let [steps, users] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(left);
    let [conns, cluster, objects] = Layout::vertical([
        Constraint::Percentage(40),
        Constraint::Percentage(32),
        Constraint::Percentage(28),
    ])
    .areas(right);
    Areas {
        status,
        tabs: None,
        panes: vec![
            (Pane::Steps, steps),
            (Pane::Users, users),
            (Pane::Connections, conns),
            (Pane::Cluster, cluster),
            (Pane::Objects, objects),
        ],
        footer,
    }
}

/// The rows to lay out for a list of `len` rows with `selected` in view in
/// `height` lines: only these are ever built, whatever `len` is.
pub fn window(len: usize, selected: usize, height: usize) -> std::ops::Range<usize> {
    if height == 0 || len == 0 {
        return 0..0;
    }
    let start = if selected < height {
        0
    } else {
        selected + 1 - height
    };
    start..(start + height).min(len)
}

/// The Connections pane's parts, within its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionParts {
    /// The old user against the new (empty before a rotation).
    pub drain: Rect,
    /// The counts per user.
    pub counts: Rect,
    /// The single connections, when listed (`c`).
    pub rows: Option<Rect>,
}

/// Where the Connections pane puts its parts in `body`: the counts above
/// the drain; or, listing single connections, the drain, a few counts and
/// the rows below them.
pub fn connection_parts(body: Rect, has_drain: bool, rows_listed: bool, counts: usize) -> ConnectionParts {
    let drain_h = if has_drain {
        if body.height >= 16 { 4 } else { 2 }
    } else {
        0
    };
    if rows_listed {
        let counts_h = (counts as u16 + 1).min(body.height / 4).max(2);
        let [drain, counts, rows] = Layout::vertical([
            Constraint::Length(drain_h),
            Constraint::Length(counts_h),
            Constraint::Min(0),
        ])
        .areas(body);
        ConnectionParts {
            drain,
            counts,
            rows: Some(rows),
        }
    } else {
        let [counts, drain] = Layout::vertical([Constraint::Min(0), Constraint::Length(drain_h)]).areas(body);
        ConnectionParts {
            drain,
            counts,
            rows: None,
        }
    }
}

/// Inside a pane's frame, below the error line of a failed refresh: where
/// the pane lists its data. `None` while it has no data (a placeholder
/// fills the frame).
pub fn pane_body<T>(area: Rect, data: &Loadable<T>) -> Option<Rect> {
    below_error_line(Block::bordered().inner(area), data)
}

/// `inner` (a pane's frame's inside) less the line that says the last
/// refresh failed, while older data is still shown; `None` with no data.
pub fn below_error_line<T>(inner: Rect, data: &Loadable<T>) -> Option<Rect> {
    data.data.as_ref()?;
    if data.error.is_none() {
        return Some(inner);
    }
    let [_, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    Some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_terminals_show_one_pane_with_tabs() {
        let a = areas(Rect::new(0, 0, 80, 24), Pane::Connections, false);
        assert_eq!(a.panes.len(), 1);
        assert!(a.tabs.is_some());
        let a = areas(Rect::new(0, 0, 160, 48), Pane::Connections, false);
        assert_eq!(a.panes.len(), 5);
        let a = areas(Rect::new(0, 0, 160, 48), Pane::Objects, true);
        assert_eq!(a.panes, vec![(Pane::Objects, Rect::new(0, 1, 160, 46))]);
    }

    #[test]
    fn windows_keep_the_selection_visible() {
        assert_eq!(window(10_000, 0, 20), 0..20);
        assert_eq!(window(10_000, 5_000, 20), 4981..5001);
        assert_eq!(window(5, 4, 20), 0..5);
        assert_eq!(window(0, 0, 20), 0..0);
    }
}
