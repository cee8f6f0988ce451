//! The help screen, generated from the keymap (so it shows overrides), and
//! any config warnings.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::app::keymap::HelpLine;
use crate::app::state::{Scroll, State};
use crate::ui::chrome::{scroll_spans, scrolled, wrap_rows};
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

/// What the Steps pane's marks mean.
const STEP_MARKS: [(&str, &str); 8] = [
    ("✓", "done"),
    ("·", "pending: ready to run once the steps before it are done"),
    ("⊘", "blocked: a step before it is not done"),
    ("◷", "waiting: for the world (a rollout, connections to drain)"),
    ("▶", "running"),
    ("✗", "failed: its result says why"),
    ("↷", "skipped"),
    ("!", "destructive: asks to confirm (a drop asks for the name)"),
];

/// The help, scrolled as `scroll` says, with what is above and below;
/// the measure, for `Action::Measured`.
pub fn render(frame: &mut Frame, area: Rect, state: &State, scroll: &Scroll) -> Option<(u16, u16)> {
    let theme = Theme::of(state.theme);
    // Wide enough for every line (keys, then what they do), within the screen.
    let rect = centered(
        area,
        area.width.saturating_sub(4).min(100),
        area.height.saturating_sub(2),
    );
    let block = Block::bordered()
        .border_style(theme.border(true))
        .title(Span::styled(" Help — ? or Esc to close ", theme.title(true)));
    let mut lines: Vec<Line<'static>> = state
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
    lines.push(Line::styled(
        "Tab completes the command, or the name it takes; Tab again for the next",
        theme.muted(),
    ));
    lines.push(Line::raw(""));
    lines.push(Line::styled("Steps", theme.header()));
    for (mark, means) in STEP_MARKS {
        lines.push(Line::from(vec![
            Span::styled(format!("{mark:>18}  "), theme.accent()),
            Span::raw(means),
        ]));
    }
    for w in &state.warnings {
        lines.push(Line::styled(format!("⚠ {w}"), theme.warn()));
    }
    frame.render_widget(Clear, rect);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let [body, foot] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(inner);
    let rows = wrap_rows(lines, body.width);
    let measure = scrolled(frame, body, rows, scroll);
    frame.render_widget(
        Paragraph::new(Line::from(scroll_spans(state, scroll, true))),
        foot,
    );
    Some(measure)
}
