//! Where each pane goes on the screen. Wide terminals get every pane at
//! once, each where its [`Place`](crate::app::panes::pane::Place) says; small
//! ones (down to 80×24) a tab strip and the focused pane; `z` zooms any pane.
//!
//! Geometry lives in `app`, not `ui`: update must know what the screen
//! shows (which connection rows are listed, to leave the screen still when
//! only rows off it change), and render draws into the same areas. Both
//! call these functions; neither tells the other.

use ratatui::layout::{Constraint, Layout, Rect};

use crate::app::panes::Pane;
use crate::app::panes::pane::Column;

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
    let mut panes = Vec::with_capacity(Pane::ALL.len());
    for (column, area) in [(Column::Left, left), (Column::Right, right)] {
        // Each pane says where it sits: its column, its row, its share.
        let mut stacked: Vec<Pane> = Pane::ALL
            .into_iter()
            .filter(|p| p.about().place.column == column)
            .collect();
        stacked.sort_by_key(|p| p.about().place.row);
        let heights = stacked
            .iter()
            .map(|p| Constraint::Percentage(p.about().place.percent));
        let rects = Layout::vertical(heights).split(area);
        panes.extend(stacked.into_iter().zip(rects.iter().copied()));
    }
    Areas {
        status,
        tabs: None,
        panes,
        footer,
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

    /// The panes' numbers (their order) read as they are laid out: by top
    /// edge, then left to right, at every grid size.
    #[test]
    fn pane_numbers_follow_the_screen() {
        for (w, h) in [GRID_MIN, (160, 48), (200, 50), (300, 80)] {
            let mut shown = areas(Rect::new(0, 0, w, h), Pane::Steps, false).panes;
            shown.sort_by_key(|(_, r)| (r.y, r.x));
            let order: Vec<Pane> = shown.into_iter().map(|(p, _)| p).collect();
            assert_eq!(order, Pane::ALL.to_vec(), "{w}x{h}");
        }
    }
}
