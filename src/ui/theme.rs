//! Colours, or none: with `NO_COLOR` set (or `theme = "mono"`) meaning is
//! carried by modifiers alone (bold, reversed, underlined).

use ratatui::style::{Color, Modifier, Style};

use crate::app::state::ThemeName;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Default for Theme {
    fn default() -> Self {
        Theme { color: true }
    }
}

impl Theme {
    pub const MONO: Theme = Theme { color: false };

    /// The styles for the state's theme.
    pub fn of(name: ThemeName) -> Theme {
        Theme {
            color: name == ThemeName::Default,
        }
    }

    fn pick(&self, color: Style, mono: Style) -> Style {
        if self.color { color } else { mono }
    }

    pub fn base(&self) -> Style {
        Style::default()
    }
    pub fn border(&self, focused: bool) -> Style {
        match (focused, self.color) {
            (true, true) => Style::default().fg(Color::Cyan),
            (true, false) => Style::default().add_modifier(Modifier::BOLD),
            (false, _) => Style::default(),
        }
    }
    pub fn title(&self, focused: bool) -> Style {
        let s = Style::default().add_modifier(Modifier::BOLD);
        if focused && self.color {
            s.fg(Color::Cyan)
        } else {
            s
        }
    }
    pub fn header(&self) -> Style {
        self.pick(
            Style::default().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            Style::default().add_modifier(Modifier::BOLD),
        )
    }
    pub fn selected(&self) -> Style {
        self.pick(
            Style::default().bg(Color::DarkGray).add_modifier(Modifier::BOLD),
            Style::default().add_modifier(Modifier::REVERSED),
        )
    }
    pub fn danger(&self) -> Style {
        self.pick(
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
            Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
        )
    }
    pub fn warn(&self) -> Style {
        self.pick(
            Style::default().fg(Color::Yellow),
            Style::default().add_modifier(Modifier::BOLD),
        )
    }
    pub fn ok(&self) -> Style {
        self.pick(Style::default().fg(Color::Green), Style::default())
    }
    pub fn muted(&self) -> Style {
        self.pick(
            Style::default().fg(Color::DarkGray),
            Style::default().add_modifier(Modifier::DIM),
        )
    }
    pub fn accent(&self) -> Style {
        self.pick(
            Style::default().fg(Color::Cyan),
            Style::default().add_modifier(Modifier::BOLD),
        )
    }
    /// The user being replaced.
    pub fn old_user(&self) -> Style {
        self.pick(
            Style::default().fg(Color::Magenta),
            Style::default().add_modifier(Modifier::ITALIC),
        )
    }
    /// Its successor.
    pub fn new_user(&self) -> Style {
        self.pick(
            Style::default().fg(Color::Green).add_modifier(Modifier::BOLD),
            Style::default().add_modifier(Modifier::BOLD),
        )
    }
    pub fn bar(&self) -> Style {
        self.pick(
            Style::default().bg(Color::Blue).fg(Color::White),
            Style::default().add_modifier(Modifier::REVERSED),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_wins_over_config_unless_empty() {
        let color = |name, no_color| Theme::of(ThemeName::choose(name, no_color)).color;
        assert!(color(None, None));
        assert!(!color(None, Some("1")));
        assert!(color(None, Some("")));
        assert!(!color(Some("mono"), None));
        assert_eq!(Theme::MONO.danger().fg, None);
    }
}
