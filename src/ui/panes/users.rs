//! Users (MySQL accounts; PostgreSQL roles and memberships), with the
//! selected user's grants beside them.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, Wrap};

use crate::app::panes::Pane;
use crate::app::selection::{row_at, window};
use crate::app::state::State;
use crate::model::User;
use crate::ui::chrome::{clip, pane_block, with_error_line};
use crate::ui::theme::Theme;

pub(super) const VIEW: super::View = super::View {
    render,
    badge: super::no_badge,
};

fn render(frame: &mut Frame, area: Rect, state: &State) {
    let list = &state.panes.users.list;
    let count = list.data.as_ref().map(|u| format!("{} users", u.len()));
    let block = pane_block(
        state,
        Pane::Users,
        count.map(|c| Span::styled(c, Theme::of(state.theme).muted())),
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(inner) = with_error_line(frame, inner, state, list) else {
        return;
    };
    let (list, grants) = if inner.width >= 70 {
        // The list as wide as its names and flags need, up to three fifths;
        // the grants (which wrap) in the rest.
        let users = state.panes.users.list.data.as_deref().unwrap_or(&[]);
        let need = users
            .iter()
            .map(|u| u.key().chars().count() + 3 + flags(u).len() + 2)
            .max()
            .unwrap_or(0) as u16;
        let list_w = need.clamp(inner.width / 2, inner.width * 3 / 5);
        let [l, g] = Layout::horizontal([Constraint::Length(list_w), Constraint::Min(0)]).areas(inner);
        (l, g)
    } else {
        let [l, g] = Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(inner);
        (l, g)
    };
    render_list(frame, list, state);
    render_grants(frame, grants, state);
}

fn flags(u: &User) -> String {
    let mut f = Vec::new();
    if u.is_role || !u.can_login {
        f.push("role");
    }
    if u.superuser {
        f.push("super");
    }
    if u.can_grant {
        f.push("grant");
    }
    if u.account_locked {
        f.push("locked");
    }
    if u.password_expired {
        f.push("expired");
    }
    f.join(",")
}

fn render_list(frame: &mut Frame, area: Rect, state: &State) {
    let theme = Theme::of(state.theme);
    let users = state.panes.users.list.data.as_deref().unwrap_or(&[]);
    let sel = state.selection(Pane::Users);
    let len = sel.visible.as_ref().map_or(users.len(), Vec::len);
    let body_h = area.height.saturating_sub(1) as usize;
    // Flags whole (they are short), names in the rest; each column only as
    // wide as what it shows, so nothing is cut beside free space.
    let flags_w = users.iter().map(|u| flags(u).len()).max().unwrap_or(0).max(5);
    let room = (area.width as usize).saturating_sub(3 + 2);
    let flags_w = flags_w.min(room.saturating_sub(8));
    let names_w = users
        .iter()
        .map(|u| u.key().chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let name_w = names_w.min(room.saturating_sub(flags_w)).max(8);
    let rows = window(len, sel.index, body_h).filter_map(|i| {
        let u = &users[row_at(sel, i)?];
        let tag = if Some(u.name.as_str()) == state.old_user() {
            Span::styled("old", theme.old_user())
        } else if Some(u.name.as_str()) == state.new_user() {
            Span::styled("new", theme.new_user())
        } else {
            Span::raw("")
        };
        let mut row = Row::new(vec![
            Cell::from(clip(&u.key(), name_w)),
            Cell::from(tag),
            Cell::from(clip(&flags(u), flags_w)),
        ]);
        if i == sel.index {
            row = row.style(theme.selected());
        }
        Some(row)
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(name_w as u16),
            Constraint::Length(3),
            Constraint::Length(flags_w as u16),
        ],
    )
    .header(Row::new(["user", "", "flags"]).style(theme.header()))
    .column_spacing(1);
    frame.render_widget(table, area);
}

fn render_grants(frame: &mut Frame, area: Rect, state: &State) {
    let theme = Theme::of(state.theme);
    let pane = &state.panes.users;
    let title = match &pane.grants_of {
        Some(k) => format!(" grants of {k} "),
        None => " grants ".to_string(),
    };
    let block = Block::new()
        .borders(Borders::LEFT | Borders::TOP)
        .border_style(theme.muted())
        .title(Span::styled(title, theme.header()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if pane.grants_of.is_none() {
        return;
    }
    let mut lines: Vec<Line> = Vec::new();
    if let Some(user) = pane.selected().filter(|u| Some(u.key()) == pane.grants_of) {
        if !user.member_of.is_empty() {
            lines.push(Line::from(vec![
                Span::styled("member of ", theme.muted()),
                Span::raw(user.member_of.join(", ")),
            ]));
        }
        for s in &user.settings {
            lines.push(Line::from(vec![
                Span::styled("set ", theme.muted()),
                Span::raw(s.clone()),
            ]));
        }
    }
    match (&pane.grants.data, &pane.grants.error) {
        (_, Some(e)) => lines.push(Line::styled(format!("✗ {e}"), theme.danger())),
        (None, None) => lines.push(Line::styled("loading…", theme.muted())),
        (Some(g), None) if g.is_empty() => lines.push(Line::styled("no grants", theme.muted())),
        _ => {}
    }
    for g in pane.grants.data.iter().flatten().take(inner.height as usize) {
        lines.push(Line::raw(g.raw.clone()));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}
