//! Where each pane goes. Wide terminals get every pane at once; small ones
//! (down to 80×24) a tab strip and the focused pane; `z` zooms any pane.

use ratatui::layout::{Constraint, Layout, Rect};

use crate::app::state::Pane;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Areas {
    pub status: Rect,
    /// Tab strip naming every pane (when not all fit).
    pub tabs: Option<Rect>,
    pub panes: Vec<(Pane, Rect)>,
    pub footer: Rect,
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

/// A rectangle of at most `w`×`h` centred in `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
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
