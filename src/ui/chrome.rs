//! What every pane and dialog wears, apart from what it shows: the pane's
//! frame (number, title, the honest state of its data), its placeholder
//! and error line, popups and their key lines, and text cut to fit.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::app::clock;
use crate::app::loadable::{Freshness, Tracked};
use crate::app::panes::Pane;
use crate::app::panes::pane::below_error_line;
use crate::app::state::{Scroll, State};
use crate::ui::layout::centered;
use crate::ui::theme::Theme;

/// The bordered frame every pane wears: number, title, and the honest state
/// of its data on the right (loading / age when stale / error).
pub(crate) fn pane_block<'a>(state: &State, pane: Pane, extra: Option<Span<'a>>) -> Block<'a> {
    let theme = Theme::of(state.theme);
    let focused = state.focus == pane;
    let mut title = vec![Span::styled(
        format!(" {} {} ", pane.index() + 1, pane.title()),
        theme.title(focused),
    )];
    if let Some(extra) = extra {
        title.push(extra);
        title.push(Span::raw(" "));
    }
    let filter = &state.selection(pane).filter;
    if !filter.is_empty() {
        title.push(Span::styled(format!("/{filter} "), theme.accent()));
    }
    Block::bordered()
        .border_style(theme.border(focused))
        .title(Line::from(title))
        .title_top(
            freshness_line(state, state.panes.get(pane).shown(), clock::every(state, pane)).right_aligned(),
        )
}

/// `every`: how often this data is refreshed (stale after three misses),
/// `None` for watched data. Fresh data says nothing: a quiet screen.
pub(crate) fn freshness_line<'a>(
    state: &State,
    data: &dyn Tracked,
    every: Option<std::time::Duration>,
) -> Line<'a> {
    let theme = Theme::of(state.theme);
    let style = match data.freshness(state.now, every) {
        Freshness::Stale { .. } => theme.warn(),
        Freshness::Failed { .. } => theme.danger(),
        _ => theme.muted(),
    };
    match clock::freshness_text(state, data, every) {
        Some(text) => Line::from(Span::styled(format!(" {text} "), style)),
        None => Line::default(),
    }
}

/// What a pane shows inside instead of rows it does not have yet, or the
/// error line above the rows it kept.
pub(crate) fn placeholder(state: &State, data: &dyn Tracked) -> Option<Paragraph<'static>> {
    let theme = Theme::of(state.theme);
    if let Some(err) = data.error() {
        let line = Line::from(vec![
            Span::styled("✗ ", theme.danger()),
            Span::styled(err.to_owned(), theme.danger()),
        ]);
        return Some(Paragraph::new(line).wrap(ratatui::widgets::Wrap { trim: true }));
    }
    if !data.has_data() {
        let msg = if state.target.is_none() {
            "no target: use :target env/app/engine"
        } else {
            "loading…"
        };
        return Some(Paragraph::new(Span::styled(msg, theme.muted())));
    }
    None
}

/// Inner area minus an error line at the top (when the last refresh failed
/// but older data is still shown); `None` when a placeholder fills it.
pub(crate) fn with_error_line(
    frame: &mut Frame,
    inner: Rect,
    state: &State,
    data: &dyn Tracked,
) -> Option<Rect> {
    let body = below_error_line(inner, data);
    if let Some(p) = placeholder(state, data) {
        let at = match body {
            Some(_) => Rect {
                height: inner.height.min(1),
                ..inner
            },
            None => inner,
        };
        frame.render_widget(p, at);
    }
    body
}

/// `lines` wrapped to `width` columns, row by row, so that the rows a
/// dialog scrolls through are counted exactly (`Action::Measured`): at the
/// last space that fits, or mid-word when none does; styles kept.
pub(crate) fn wrap_rows(lines: Vec<Line<'static>>, width: u16) -> Vec<Line<'static>> {
    let width = usize::from(width.max(1));
    let mut out = Vec::new();
    for line in lines {
        let cells: Vec<(char, ratatui::style::Style)> = line
            .spans
            .iter()
            .flat_map(|s| {
                let style = line.style.patch(s.style);
                s.content.chars().map(move |c| (c, style))
            })
            .collect();
        if cells.is_empty() {
            out.push(Line::default());
            continue;
        }
        let mut rest = cells.as_slice();
        while !rest.is_empty() {
            // (row, and 1 when it broke at a space, which starts no row)
            let (cut, skip) = if rest.len() <= width {
                (rest.len(), 0)
            } else {
                rest[..=width]
                    .iter()
                    .rposition(|(c, _)| *c == ' ')
                    .filter(|&i| rest[..i].iter().any(|(c, _)| *c != ' '))
                    .map_or((width, 0), |i| (i, 1))
            };
            out.push(row_line(&rest[..cut]));
            rest = &rest[cut + skip..];
        }
    }
    out
}

/// Cells back into spans, one per run of a style.
fn row_line(cells: &[(char, ratatui::style::Style)]) -> Line<'static> {
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut text = String::new();
    let mut style = cells.first().map(|c| c.1).unwrap_or_default();
    for &(c, s) in cells {
        if s != style {
            spans.push(Span::styled(std::mem::take(&mut text), style));
            style = s;
        }
        text.push(c);
    }
    spans.push(Span::styled(text, style));
    Line::from(spans)
}

/// Cut `s` to `width` columns with an ellipsis.
pub(crate) fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

pub(crate) fn popup(
    frame: &mut Frame,
    area: Rect,
    w: u16,
    h: u16,
    title: &str,
    danger: bool,
    state: &State,
) -> Rect {
    let rect = centered(area, w, h);
    let style = if danger {
        Theme::of(state.theme).danger()
    } else {
        Theme::of(state.theme).border(true)
    };
    let block = Block::bordered()
        .border_style(style)
        .title(Span::styled(format!(" {title} "), style));
    let inner = block.inner(rect);
    frame.render_widget(Clear, rect);
    frame.render_widget(block, rect);
    inner
}

pub(crate) fn keys_line(state: &State, parts: &[(&str, &str)]) -> Line<'static> {
    let mut spans = Vec::new();
    for (k, what) in parts {
        spans.push(Span::styled(k.to_string(), Theme::of(state.theme).accent()));
        spans.push(Span::styled(
            format!(" {what}   "),
            Theme::of(state.theme).muted(),
        ));
    }
    Line::from(spans)
}

/// `500ms`, `2s`: the refresh interval as the status bar and the
/// Connections pane say it.
pub fn interval_label(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{}s", ms / 1000)
    }
}

/// `lines` in `body`, wrapped and scrolled as `scroll` says (clamped to
/// the text as measured now); the measure.
pub(crate) fn scrolled(
    frame: &mut Frame,
    body: Rect,
    rows: Vec<Line<'static>>,
    scroll: &Scroll,
) -> (u16, u16) {
    let total = u16::try_from(rows.len()).unwrap_or(u16::MAX);
    let offset = scroll.offset.min(total.saturating_sub(body.height));
    frame.render_widget(Paragraph::new(rows).scroll((offset, 0)), body);
    (total, body.height)
}

/// Where the reader is in a scrolling text: what is above and below, and
/// the keys that move; empty when it all shows.
pub(crate) fn scroll_spans(state: &State, scroll: &Scroll, letters: bool) -> Vec<Span<'static>> {
    let theme = Theme::of(state.theme);
    let mut spans = vec![];
    if scroll.offset > 0 {
        spans.push(Span::styled(
            format!("↑ {} above  ", scroll.offset),
            theme.muted(),
        ));
    }
    if scroll.below() > 0 {
        spans.push(Span::styled(
            format!("↓ {} more lines  ", scroll.below()),
            theme.warn(),
        ));
    }
    if scroll.offset > 0 || scroll.below() > 0 {
        spans.extend(
            keys_line(
                state,
                &[(
                    if letters {
                        "j/k PgDn/PgUp Space g/G"
                    } else {
                        "↑/↓ PgUp/PgDn"
                    },
                    "scroll",
                )],
            )
            .spans,
        );
    }
    spans
}
