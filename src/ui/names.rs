//! The names dialog (`n`): every name the rotation touches, its value and
//! where it came from — a flag, the live systems (from what), or the
//! convention (and why discovery could not tell) — and, when the admin
//! password's key could not be discovered, a picker of the keys there are.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::app::state::State;
use crate::target::{Field, NameSource};
use crate::ui::chrome::{keys_line, popup};
use crate::ui::theme::Theme;

pub fn render(frame: &mut Frame, area: Rect, state: &State, selected: usize) {
    let theme = Theme::of(state.theme);
    let connected = state.connected_target();
    let Some(target) = connected.or(state.target.as_ref()) else {
        let inner = popup(frame, area, 60, 5, "Names", false, state);
        frame.render_widget(Paragraph::new("No target: `:` to choose one."), inner);
        return;
    };
    let width = Field::ALL.iter().map(|f| f.flag().len()).max().unwrap_or(0);
    let value_width = Field::ALL
        .iter()
        .map(|f| f.get(target).chars().count())
        .max()
        .unwrap_or(0);
    let mut lines = vec![Line::styled(
        format!(
            "{}{}",
            target.label(),
            if connected.is_some() {
                ""
            } else {
                "  (discovering…)"
            }
        ),
        theme.header(),
    )];
    for (field, value, source) in target.provenance() {
        let style = match source {
            NameSource::Flag | NameSource::Discovered(_) => theme.ok(),
            NameSource::Convention => theme.muted(),
            NameSource::Fallback(_) => theme.warn(),
            NameSource::Choose(_) | NameSource::NotFound(_) => theme.danger(),
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{:width$}  ", field.flag()), theme.accent()),
            Span::raw(format!("{value:value_width$}  ")),
            Span::styled(source.to_string(), style),
        ]));
    }
    let keys = state.admin_key_choice();
    lines.push(Line::raw(""));
    if keys.is_empty() {
        lines.push(keys_line(state, &[("n/Esc", "close")]));
    } else {
        lines.push(Line::styled(
            "No key of the admin secret is the app's name: choose the admin password's key",
            theme.danger(),
        ));
        for (i, k) in keys.iter().enumerate() {
            let style = if i == selected {
                theme.selected()
            } else {
                theme.base()
            };
            lines.push(Line::styled(
                format!("{} {k}", if i == selected { "›" } else { " " }),
                style,
            ));
        }
        lines.push(keys_line(
            state,
            &[
                ("j/k", "move"),
                ("Enter", "use it (--admin-secret-key)"),
                ("Esc", "close"),
            ],
        ));
    }
    let widest = lines.iter().map(Line::width).max().unwrap_or(0) as u16;
    let w = (widest + 2).min(area.width.saturating_sub(2));
    let h = (lines.len() as u16 + 2).min(area.height);
    let inner = popup(frame, area, w, h, "Names", false, state);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}
