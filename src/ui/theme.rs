//! Colours, or none: with `NO_COLOR` set (or `theme = "mono"`) meaning is
//! carried by modifiers alone (bold, reversed, underlined).

use ratatui::style::{Color, Modifier, Style};

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

    /// The config's choice, overruled by `NO_COLOR` (https://no-color.org).
    pub fn choose(name: Option<&str>, no_color: Option<&str>) -> Theme {
        let no_color = no_color.is_some_and(|v| !v.is_empty());
        Theme {
            color: !no_color && name != Some("mono"),
        }
    }

    pub fn from_env(name: Option<&str>) -> Theme {
        Theme::choose(name, std::env::var("NO_COLOR").ok().as_deref())
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
        assert!(Theme::choose(None, None).color);
        assert!(!Theme::choose(None, Some("1")).color);
        assert!(Theme::choose(None, Some("")).color);
        assert!(!Theme::choose(Some("mono"), None).color);
        assert_eq!(Theme::MONO.danger().fg, None);
    }
}
