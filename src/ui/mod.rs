//! Rendering: pure functions of [`State`]. Nothing here mutates state,
//! does I/O or reads the clock (ages come from `state.now`).
//!
//! - [`panes`]: each pane's view, one file each, found by the pane's id.
//! - `chrome`: what every pane and dialog wears (frame, title, placeholder, popup).
//! - `status_bar`, `dialog`, `names`, [`help`], `filter`: the rest of the screen.

mod chrome;
mod dialog;
mod filter;
pub mod help;
pub mod layout;
mod names;
mod panes;
mod status_bar;
pub mod theme;

use ratatui::Frame;
use ratatui::layout::Rect;

use crate::app::panes::Pane;
use crate::app::state::State;

/// Draw the whole screen.
pub fn render(frame: &mut Frame, state: &State) {
    let areas = crate::app::layout::areas(frame.area(), state.focus, state.zoom);
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
    (panes::view(pane).render)(frame, area, state)
}
