//! The guided rotation: every step with its status, and the selected one's
//! why, preview (the exact statements, secrets masked) and result.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::app::panes::Pane;
use crate::app::selection::window;
use crate::app::state::{State, StepStatus, StepView};
use crate::rotation::step::Confirm;
use crate::ui::chrome::{clip, pane_block, with_error_line};
use crate::ui::theme::Theme;

pub fn status_mark(theme: &Theme, s: StepStatus) -> Span<'static> {
    match s {
        StepStatus::Done => Span::styled("✓ done   ", theme.ok()),
        StepStatus::Running => Span::styled("▶ running", theme.accent()),
        StepStatus::Failed => Span::styled("✗ failed ", theme.danger()),
        StepStatus::Waiting => Span::styled("◷ waiting", theme.warn()),
        StepStatus::Skipped => Span::styled("↷ skipped", theme.muted()),
        StepStatus::Blocked => Span::styled("⊘ blocked", theme.muted()),
        StepStatus::Pending => Span::styled("· pending", theme.base()),
    }
}

/// A list row's columns besides the title: number, mark, `!`, a margin.
const LIST_CHROME: u16 = 15;
/// Rows the detail below the list keeps on a narrow pane (title, why, a
/// few of the preview's).
const DETAIL_MIN: u16 = 8;

pub(super) const VIEW: super::View = super::View {
    render,
    badge: super::no_badge,
};

fn render(frame: &mut Frame, area: Rect, state: &State) {
    let theme = Theme::of(state.theme);
    let steps = state.steps();
    let plan = &state.panes.steps.plan;
    let extra = plan.data.as_ref().map(|p| {
        let done = steps
            .iter()
            .filter(|s| matches!(s.status, StepStatus::Done | StepStatus::Skipped))
            .count();
        let users = match (&p.old_user, &p.new_user) {
            (Some(o), Some(n)) => format!(" · {o} → {n}"),
            _ => String::new(),
        };
        let holder = p
            .holder
            .as_ref()
            .map(|h| format!(" · held by {h}"))
            .unwrap_or_default();
        Span::styled(
            format!("{done}/{} done{users}{holder}", steps.len()),
            theme.muted(),
        )
    });
    let block = pane_block(state, Pane::Steps, extra);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(inner) = with_error_line(frame, inner, state, plan) else {
        return;
    };
    // The list's last line: whether the rotation can be rolled back, as
    // `rotui plan` says it; or, with none under way, how the last one ended.
    let last_line = plan.data.as_ref().and_then(|p| {
        p.rollback.as_ref().map(|t| format!("↶ {t}")).or_else(|| {
            p.ended
                .as_ref()
                .map(|e| format!("✓ {e}; these steps are the next rotation's"))
        })
    });
    let (list, detail) = if inner.width >= 100 {
        // As wide as the longest title needs (number, mark, title), within
        // 40–60% of the pane: wide screens show whole titles.
        let longest = steps.iter().map(|s| s.title.chars().count()).max().unwrap_or(0) as u16;
        let w = (longest + LIST_CHROME).clamp(inner.width * 2 / 5, inner.width * 3 / 5);
        let [l, d] = Layout::horizontal([Constraint::Length(w), Constraint::Min(0)]).areas(inner);
        (l, d)
    } else {
        // Every step and the last line, where the detail keeps DETAIL_MIN
        // rows; never less than half the pane.
        let want = steps.len() as u16 + u16::from(last_line.is_some());
        let room = inner.height.saturating_sub(DETAIL_MIN).max(inner.height / 2);
        let list_h = want.max(3).min(room);
        let [l, d] = Layout::vertical([Constraint::Length(list_h), Constraint::Min(0)]).areas(inner);
        (l, d)
    };
    let list = match last_line {
        Some(text) if list.height >= 3 => {
            let [l, r] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(list);
            frame.render_widget(
                Paragraph::new(Line::styled(clip(&text, r.width as usize), theme.muted())),
                r,
            );
            l
        }
        _ => list,
    };
    let sel = state.selection(Pane::Steps);
    let title_w = list.width.saturating_sub(LIST_CHROME) as usize;
    let lines: Vec<Line> = window(steps.len(), sel.index, list.height as usize)
        .map(|i| {
            let s = &steps[i];
            let mut line = Line::from(vec![
                Span::raw(format!("{:>2} ", i + 1)),
                status_mark(&theme, s.status),
                Span::raw(" "),
                Span::styled(if s.destructive() { "!" } else { " " }, theme.danger()),
                Span::raw(clip(&s.title, title_w)),
            ]);
            if i == sel.index {
                line = line.style(theme.selected());
            }
            line
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), list);
    if let Some(step) = steps.get(sel.index) {
        render_detail(frame, detail, state, step);
    }
}

fn render_detail(frame: &mut Frame, area: Rect, state: &State, step: &StepView) {
    let theme = Theme::of(state.theme);
    let block = Block::new()
        .borders(Borders::TOP | Borders::LEFT)
        .border_style(theme.muted())
        .title(Span::styled(format!(" {} ", step.title), theme.header()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // Cut short, it says how much is left and where to read it whole: the
    // preview, which scrolls (one scrolling view, not a second one here).
    let mut rows = crate::ui::chrome::wrap_rows(detail_lines(&theme, step), inner.width);
    let room = usize::from(inner.height);
    if rows.len() > room && room > 0 {
        let more = rows.len() - (room - 1);
        rows.truncate(room - 1);
        rows.push(Line::styled(
            format!("↓ {more} more lines: Enter shows it whole (j/k PgDn/PgUp g/G scroll)"),
            theme.warn(),
        ));
    }
    frame.render_widget(Paragraph::new(rows), inner);
}

/// Why, preview and result: shared by the pane and the preview dialog.
pub fn detail_lines(theme: &Theme, step: &StepView) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::from(vec![
            Span::styled("Why ", theme.muted()),
            Span::raw(step.why.clone()),
        ]),
        Line::raw(""),
    ];
    if step.preview.is_empty() {
        // A write step plans nothing once what it writes is in place.
        let text = match (&step.confirm, step.status) {
            (Confirm::None, _) => "Nothing to run: this step only checks.",
            (_, StepStatus::Done | StepStatus::Skipped) => {
                "Nothing left to run: what this step writes is in place."
            }
            _ => "Nothing to run now: the live systems need nothing from this step.",
        };
        lines.push(Line::styled(text, theme.muted()));
    } else {
        lines.push(Line::styled(
            if step.destructive() {
                "Will run (destructive):"
            } else {
                "Will run:"
            },
            if step.destructive() {
                theme.danger()
            } else {
                theme.muted()
            },
        ));
        for stmt in &step.preview {
            for l in stmt.lines() {
                lines.push(Line::styled(
                    format!("  {l}"),
                    Style::default().patch(theme.accent()),
                ));
            }
        }
    }
    if let Some(r) = &step.result {
        lines.push(Line::raw(""));
        let style = if step.status == StepStatus::Failed {
            theme.danger()
        } else {
            theme.ok()
        };
        lines.push(Line::from(vec![
            Span::styled("Result ", theme.muted()),
            Span::styled(r.clone(), style),
        ]));
    }
    lines
}
