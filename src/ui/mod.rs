//! Rendering: pure functions of [`State`]. Nothing here mutates state,
//! does I/O or reads the clock (ages come from `state.now`).

mod cluster;
mod connections;
mod dialog;
mod filter;
pub mod help;
pub mod layout;
mod names;
mod objects;
mod status_bar;
mod steps;
pub mod theme;
mod users;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::app::clock;
use crate::app::state::{Freshness, Loadable, Pane, State};
use crate::ui::theme::Theme;

/// Draw the whole screen.
pub fn render(frame: &mut Frame, state: &State) {
    // Noted again by the connections pane if it lists rows this frame.
    state.connection_rows_shown.set(None);
    let areas = layout::areas(frame.area(), state.focus, state.zoom);
    status_bar::render(frame, areas.status, state);
    if let Some(tabs) = areas.tabs {
        status_bar::render_tabs(frame, tabs, state);
    }
    for (pane, area) in &areas.panes {
        render_pane(frame, *pane, *area, state);
    }
    match &state.input {
        Some(input) => filter::render(frame, areas.footer, state, input),
        None => status_bar::render_footer(frame, areas.footer, state),
    }
    if let Some(d) = &state.dialog {
        dialog::render(frame, frame.area(), state, d);
    }
}

/// Draw one pane into `area`.
pub fn render_pane(frame: &mut Frame, pane: Pane, area: Rect, state: &State) {
    match pane {
        Pane::Users => users::render(frame, area, state),
        Pane::Objects => objects::render(frame, area, state),
        Pane::Connections => connections::render(frame, area, state),
        Pane::Cluster => cluster::render(frame, area, state),
        Pane::Steps => steps::render(frame, area, state),
    }
}

/// The bordered frame every pane wears: number, title, and the honest state
/// of its data on the right (loading / age when stale / error).
pub(crate) fn pane_block<'a, T>(
    state: &State,
    pane: Pane,
    data: &Loadable<T>,
    extra: Option<Span<'a>>,
) -> Block<'a> {
    let theme = Theme::of(state.theme);
    let focused = state.focus == pane;
    let mut title = vec![Span::styled(
        format!(" {} {} ", pane.index() + 1, pane.title()),
        theme.title(focused),
    )];
    if let Some(extra) = extra {
        title.push(extra);
        title.push(Span::raw(" "));
    }
    let filter = &state.selection(pane).filter;
    if !filter.is_empty() {
        title.push(Span::styled(format!("/{filter} "), theme.accent()));
    }
    Block::bordered()
        .border_style(theme.border(focused))
        .title(Line::from(title))
        .title_top(freshness_line(state, data, clock::every(state, pane)).right_aligned())
}

/// `every`: how often this data is refreshed (stale after three misses),
/// `None` for watched data. Fresh data says nothing: a quiet screen.
pub(crate) fn freshness_line<'a, T>(
    state: &State,
    data: &Loadable<T>,
    every: Option<std::time::Duration>,
) -> Line<'a> {
    let theme = Theme::of(state.theme);
    let style = match data.freshness(state.now, every) {
        Freshness::Stale { .. } => theme.warn(),
        Freshness::Failed { .. } => theme.danger(),
        _ => theme.muted(),
    };
    match clock::freshness_text(state, data, every) {
        Some(text) => Line::from(Span::styled(format!(" {text} "), style)),
        None => Line::default(),
    }
}

/// What a pane shows inside instead of rows it does not have yet, or the
/// error line above the rows it kept.
pub(crate) fn placeholder<T>(state: &State, data: &Loadable<T>) -> Option<Paragraph<'static>> {
    let theme = Theme::of(state.theme);
    if let Some(err) = &data.error {
        let line = Line::from(vec![
            Span::styled("✗ ", theme.danger()),
            Span::styled(err.clone(), theme.danger()),
        ]);
        return Some(Paragraph::new(line).wrap(ratatui::widgets::Wrap { trim: true }));
    }
    if data.data.is_none() {
        let msg = if state.target.is_none() {
            "no target: use :target env/app/engine"
        } else {
            "loading…"
        };
        return Some(Paragraph::new(Span::styled(msg, theme.muted())));
    }
    None
}

/// Inner area minus an error line at the top (when the last refresh failed
/// but older data is still shown).
pub(crate) fn with_error_line<T>(
    frame: &mut Frame,
    inner: Rect,
    state: &State,
    data: &Loadable<T>,
) -> Option<Rect> {
    match (placeholder(state, data), &data.data) {
        (Some(p), None) => {
            frame.render_widget(p, inner);
            None
        }
        (Some(p), Some(_)) => {
            let [top, rest] = ratatui::layout::Layout::vertical([
                ratatui::layout::Constraint::Length(1),
                ratatui::layout::Constraint::Min(0),
            ])
            .areas(inner);
            frame.render_widget(p, top);
            Some(rest)
        }
        (None, _) => Some(inner),
    }
}

/// Cut `s` to `width` columns with an ellipsis.
pub(crate) fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}
