//! The help screen, generated from the keymap (so it shows overrides), and
//! any config warnings.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::app::keymap::HelpLine;
use crate::app::state::State;
use crate::ui::layout::centered;
use crate::ui::theme::Theme;

/// One key's line: its keys right-aligned, then what it does (the fleet's
/// help too).
pub fn key_line(l: HelpLine, theme: &Theme) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{:>18}  ", l.keys), theme.accent()),
        Span::raw(l.help),
    ])
}

pub fn render(frame: &mut Frame, area: Rect, state: &State, scroll: u16) {
    let theme = Theme::of(state.theme);
    let rect = centered(area, 72, area.height.saturating_sub(2));
    let block = Block::bordered()
        .border_style(theme.border(true))
        .title(Span::styled(" Help — ? or Esc to close ", theme.title(true)));
    let mut lines: Vec<Line> = state
        .keymap
        .help_lines()
        .into_iter()
        .map(|l| key_line(l, &theme))
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "Command line (:)  env NAME · app NAME · engine mysql|postgres · target env/app/engine",
        theme.muted(),
    ));
    for w in &state.warnings {
        lines.push(Line::styled(format!("⚠ {w}"), theme.warn()));
    }
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(block).scroll((scroll, 0)), rect);
}
