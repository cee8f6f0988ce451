//! Rendering: pure functions of [`State`]. Nothing here mutates state,
//! does I/O or reads the clock (ages come from `state.now`).
//!
//! - [`panes`]: each pane's view, one file each, found by the pane's id.
//! - `chrome`: what every pane and dialog wears (frame, title, placeholder, popup).
//! - `status_bar`, `dialog`, `names`, [`help`], `filter`: the rest of the screen.

mod chrome;
pub(crate) use chrome::clip;
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
    draw(frame, state);
}

/// What a frame measured that the state must learn (only the renderer
/// knows how text wraps): the loop hands it to `update` as `Action::Measured`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drawn {
    /// The open dialog's scrolling text: (rows, rows shown at once).
    pub dialog_text: Option<(u16, u16)>,
}

impl Drawn {
    /// The action that tells the state, when it does not know it yet.
    pub fn news(&self, state: &State) -> Option<crate::app::Action> {
        let (rows, view) = self.dialog_text?;
        let known = state.dialog.as_ref()?.scroll()?;
        ((known.rows, known.view) != (rows, view)).then_some(crate::app::Action::Measured { rows, view })
    }
}

/// Draw the whole screen, saying what it measured.
pub fn draw(frame: &mut Frame, state: &State) -> Drawn {
    let mut drawn = Drawn::default();
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
        drawn.dialog_text = dialog::render(frame, frame.area(), state, d);
    }
    drawn
}

/// Draw one pane into `area`.
pub fn render_pane(frame: &mut Frame, pane: Pane, area: Rect, state: &State) {
    (panes::view(pane).render)(frame, area, state)
}
