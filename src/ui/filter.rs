//! The bottom input line: `/` filters the focused pane as you type, `:`
//! takes a command (switch environment, app or engine).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::Paragraph;

use crate::app::state::{Input, InputKind, State};
use crate::ui::theme::Theme;

pub fn render(frame: &mut Frame, area: Rect, state: &State, input: &Input) {
    let prompt = match input.kind {
        InputKind::Filter => format!("/ filter {}: ", state.focus.title()),
        InputKind::Command => ": ".to_string(),
    };
    let [p, field] = Layout::horizontal([
        Constraint::Length(prompt.chars().count() as u16),
        Constraint::Min(0),
    ])
    .areas(area);
    frame.render_widget(
        Paragraph::new(Span::styled(prompt, Theme::of(state.theme).accent())),
        p,
    );
    frame.render_widget(&input.text, field);
}
