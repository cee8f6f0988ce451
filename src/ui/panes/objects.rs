//! Objects with their owners (PostgreSQL) or definers (MySQL), flagging
//! those the old user owns or defines: they must move before it is dropped.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row, Table};

use crate::app::panes::Pane;
use crate::app::panes::objects::names_user;
use crate::app::selection::{row_at, window};
use crate::app::state::State;
use crate::ui::chrome::{clip, pane_block, with_error_line};
use crate::ui::theme::Theme;

pub(super) const VIEW: super::View = super::View { render, badge };

/// How many objects must move before the old user can go.
fn badge(state: &State) -> Option<String> {
    state
        .panes
        .objects
        .owned_by_old_user
        .filter(|n| *n > 0)
        .map(|n| format!("⚑{n}"))
}

fn render(frame: &mut Frame, area: Rect, state: &State) {
    let theme = Theme::of(state.theme);
    let pane = &state.panes.objects;
    let objects = pane.list.data.as_deref().unwrap_or(&[]);
    let old = state.old_user();
    // Only shown when known, so the title never claims "0" falsely.
    let extra = match pane.owned_by_old_user {
        Some(0) => Span::styled("none owned by the old user".to_string(), theme.ok()),
        Some(n) => Span::styled(format!("⚑ {n} owned by the old user"), theme.warn()),
        None => Span::styled(format!("{} objects", objects.len()), theme.muted()),
    };
    let block = pane_block(state, Pane::Objects, pane.list.data.as_ref().map(|_| extra));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(inner) = with_error_line(frame, inner, state, &pane.list) else {
        return;
    };
    let sel = state.selection(Pane::Objects);
    let len = sel.visible.as_ref().map_or(objects.len(), Vec::len);
    let w = inner.width as usize;
    let rows = window(len, sel.index, inner.height.saturating_sub(1) as usize).filter_map(|i| {
        let o = &objects[row_at(sel, i)?];
        let owned = old.is_some_and(|u| names_user(&o.owner, u));
        let name = match &o.schema {
            Some(s) => format!("{s}.{}", o.name),
            None => o.name.clone(),
        };
        let mut row = Row::new(vec![
            Cell::from(if owned {
                Span::styled("⚑", theme.warn())
            } else {
                Span::raw(" ")
            }),
            Cell::from(o.kind.clone()),
            Cell::from(clip(&name, w / 2)),
            Cell::from(Span::styled(
                o.owner.clone(),
                if owned { theme.old_user() } else { theme.base() },
            )),
        ]);
        if i == sel.index {
            row = row.style(theme.selected());
        }
        Some(row)
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(1),
            Constraint::Length(10),
            Constraint::Percentage(55),
            Constraint::Min(8),
        ],
    )
    .header(Row::new(["", "kind", "name", "owner / definer"]).style(theme.header()));
    frame.render_widget(table, inner);
}
