//! The top status bar (target, AWS account and whose environment it is,
//! identity and session countdown, kube context, DB flavor, refresh rate, last error), the tab strip of small
//! layouts and the footer of key hints generated from the keymap.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::clock::{clock_time, expiry_text};
use crate::app::panes::Pane;
use crate::app::state::State;
use crate::ui::chrome::interval_label;
use crate::ui::panes;
use crate::ui::theme::Theme;

pub fn render(frame: &mut Frame, area: Rect, state: &State) {
    let full = bar(state, false);
    let line = if full.width() <= area.width as usize {
        full
    } else {
        bar(state, true)
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// The bar's segments; `compact` drops labels and shortens the identity so
/// that what matters (target, errors, session expiry) survives 80 columns.
fn bar(state: &State, compact: bool) -> Line<'static> {
    let theme = Theme::of(state.theme);
    let sep = || Span::styled(if compact { "│" } else { " │ " }, theme.muted());
    let mut spans = vec![Span::styled(
        if compact { "rotui " } else { " rotui " },
        theme.bar(),
    )];
    spans.push(Span::raw(" "));
    match &state.target {
        Some(t) => spans.push(Span::styled(t.label(), theme.accent())),
        None => spans.push(Span::styled("no target", theme.warn())),
    }
    if state.read_only {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(
            if compact { "RO" } else { "READ-ONLY" },
            theme.warn(),
        ));
    }
    let error = match (&state.last_error, &state.session.error) {
        (Some((at, err)), _) => Some(format!("✗ {err} (at {})", clock_time(state, *at))),
        (None, Some(err)) => Some(format!("✗ {err}")),
        (None, None) => None,
    };
    let refresh = if state.paused {
        Span::styled("⏸ paused", theme.warn())
    } else {
        Span::raw(format!("⟳ {}", interval_label(state.interval_ms)))
    };
    if compact {
        spans.push(sep());
        spans.push(refresh.clone());
    }
    let session = state.session.data.clone().unwrap_or_default();
    spans.push(sep());
    if !compact {
        spans.push(Span::styled("aws ", theme.muted()));
    }
    // The account first: on the estate it is what tells environments apart.
    if let Some((account, alias)) = &session.aws_account {
        spans.push(Span::raw(account.clone()));
        if let Some(alias) = alias {
            spans.push(Span::styled(format!(" ({alias})"), theme.accent()));
        }
        spans.push(Span::raw(" "));
    }
    let identity = session.aws_identity.clone().unwrap_or_else(|| "?".into());
    let identity = if compact {
        identity.rsplit('/').next().unwrap_or("?").to_owned()
    } else {
        identity
    };
    spans.push(Span::raw(identity));
    if let Some(exp) = session.session_expires {
        let left = exp - state.now;
        let style = if left.num_seconds() <= 0 {
            theme.danger()
        } else if left.num_minutes() < 10 {
            theme.warn()
        } else {
            theme.muted()
        };
        spans.push(Span::styled(format!(" {}", expiry_text(left, compact)), style));
    }
    if compact && let Some(e) = &error {
        spans.push(sep());
        spans.push(Span::styled(e.clone(), theme.danger()));
    }
    spans.push(sep());
    if !compact {
        spans.push(Span::styled("kube ", theme.muted()));
    }
    spans.push(Span::raw(
        session.kube_context.clone().unwrap_or_else(|| "?".into()),
    ));
    spans.push(sep());
    spans.push(Span::raw(
        session
            .flavor
            .as_ref()
            .map(|f| f.to_string())
            .unwrap_or_else(|| "db ?".into()),
    ));
    // Whether the admin password crosses the network verified, only
    // encrypted, or in the clear.
    if let Some(tls) = &session.db_tls {
        use crate::model::TlsMode;
        let (short, style) = match tls {
            TlsMode::VerifyFull(_) | TlsMode::VerifiedByTunnel { .. } => ("TLS ✓", theme.muted()),
            TlsMode::Require => ("TLS unverified", theme.warn()),
            TlsMode::Plaintext => ("plaintext", theme.danger()),
        };
        spans.push(sep());
        let text = if compact { short.to_owned() } else { tls.label() };
        spans.push(Span::styled(text, style));
    }
    if !compact {
        spans.push(sep());
        spans.push(refresh);
        if let Some(e) = error {
            spans.push(sep());
            spans.push(Span::styled(e, theme.danger()));
        }
    }
    Line::from(spans)
}

pub fn render_tabs(frame: &mut Frame, area: Rect, state: &State) {
    let theme = Theme::of(state.theme);
    let mut spans = Vec::new();
    for p in Pane::ALL {
        let style = if p == state.focus {
            theme.selected()
        } else {
            theme.muted()
        };
        spans.push(Span::styled(
            format!(" {} {} ", p.index() + 1, p.about().tab),
            style,
        ));
        if let Some(badge) = badge(state, p) {
            spans.push(Span::styled(badge, theme.warn()));
        }
        spans.push(Span::raw(" "));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// What an unseen pane wants the operator to know, in a word.
fn badge(state: &State, p: Pane) -> Option<String> {
    if state.panes.get(p).shown().error().is_some() {
        return Some("✗".into());
    }
    (panes::view(p).badge)(state)
}

pub fn render_footer(frame: &mut Frame, area: Rect, state: &State) {
    let theme = Theme::of(state.theme);
    let mut spans = Vec::new();
    if let Some(w) = state.warnings.first() {
        spans.push(Span::styled(format!("⚠ {w} "), theme.warn()));
        if state.warnings.len() > 1 {
            spans.push(Span::styled(
                format!("(+{} more, see ?) ", state.warnings.len() - 1),
                theme.warn(),
            ));
        }
    } else if let Some((_, n)) = &state.notice {
        spans.push(Span::styled(format!("{n} "), theme.accent()));
        spans.push(Span::styled("│ ", theme.muted()));
    }
    for (key, label) in state.keymap.hints(state.focus) {
        spans.push(Span::styled(key, theme.accent()));
        spans.push(Span::styled(format!(" {label}  "), theme.muted()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
