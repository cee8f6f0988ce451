//! The panes' lists: rows, their keys and texts for the filter, and the
//! selection that stays on its row across refreshes.

use crate::app::action::{Effect, Request, Source};
use crate::app::state::{Pane, Selection, State, row_at};

use super::schedule::ask;

/// How many rows a pane has (unfiltered).
pub(super) fn row_count(state: &State, pane: Pane) -> usize {
    match pane {
        Pane::Users => state.users.data.as_ref().map_or(0, Vec::len),
        Pane::Objects => state.objects.data.as_ref().map_or(0, Vec::len),
        Pane::Connections => match (&state.connections.data, state.connection_rows) {
            (Some(s), true) => s.rows.len(),
            (Some(s), false) => s.counts.len(),
            (None, _) => 0,
        },
        Pane::Cluster => state.cluster.data.as_ref().map_or(0, |c| c.pods.len()),
        Pane::Steps => state.steps().len(),
    }
}

/// The stable key of row `row` (pid, `user@host`, step id…): what the
/// selection holds on to across refreshes.
pub(super) fn row_key(state: &State, pane: Pane, row: usize) -> Option<String> {
    match pane {
        Pane::Users => state.users.data.as_ref()?.get(row).map(|u| u.key()),
        Pane::Objects => {
            let o = state.objects.data.as_ref()?.get(row)?;
            Some(format!(
                "{} {}.{}",
                o.kind,
                o.schema.as_deref().unwrap_or(""),
                o.name
            ))
        }
        Pane::Connections => {
            let s = state.connections.data.as_ref()?;
            if state.connection_rows {
                s.rows.get(row).map(|c| c.id.to_string())
            } else {
                s.counts
                    .get(row)
                    .map(|c| c.user.clone().unwrap_or_else(|| "(dropped role)".into()))
            }
        }
        Pane::Cluster => state.cluster.data.as_ref()?.pods.get(row).map(|p| p.name.clone()),
        Pane::Steps => state.steps().get(row).map(|s| s.id.clone()),
    }
}

/// The text a filter matches against, per row.
pub(super) fn row_texts(state: &State, pane: Pane) -> Vec<String> {
    match pane {
        Pane::Objects => state
            .objects
            .data
            .iter()
            .flatten()
            .map(|o| {
                format!(
                    "{} {}.{} {}",
                    o.kind,
                    o.schema.as_deref().unwrap_or(""),
                    o.name,
                    o.owner
                )
            })
            .collect(),
        Pane::Connections if state.connection_rows => state
            .connections
            .data
            .iter()
            .flat_map(|s| s.rows.iter())
            .map(|c| {
                format!(
                    "{} {} {} {} {}",
                    c.id,
                    c.user.as_deref().unwrap_or(""),
                    c.client.as_deref().unwrap_or(""),
                    c.database.as_deref().unwrap_or(""),
                    c.state.as_deref().unwrap_or("")
                )
            })
            .collect(),
        _ => (0..row_count(state, pane))
            .filter_map(|r| row_key(state, pane, r))
            .collect(),
    }
}

pub(super) fn set_filter(state: &mut State, pane: Pane, filter: String, out: &mut Vec<Effect>) {
    state.selections[pane.index()].filter = filter;
    reindex(state, pane);
    if pane == Pane::Users {
        follow_selected_user(state, out);
    }
}

/// After new data or a new filter: recompute the visible rows and put the
/// cursor back on the selected key (or the nearest row if it went away).
pub(super) fn reindex(state: &mut State, pane: Pane) {
    state.dirty = true;
    let filter = state.selections[pane.index()].filter.to_lowercase();
    let visible = if filter.is_empty() {
        None
    } else {
        let texts = row_texts(state, pane);
        Some(
            texts
                .iter()
                .enumerate()
                .filter(|(_, t)| t.to_lowercase().contains(&filter))
                .map(|(i, _)| i)
                .collect::<Vec<_>>(),
        )
    };
    let len = visible.as_ref().map_or(row_count(state, pane), Vec::len);
    let sel = &state.selections[pane.index()];
    let sel_with = Selection {
        visible,
        ..sel.clone()
    };
    let found = sel.key.as_ref().and_then(|k| {
        (0..len).find(|&i| {
            row_at(&sel_with, i)
                .and_then(|r| row_key(state, pane, r))
                .as_ref()
                == Some(k)
        })
    });
    let index = match found {
        Some(i) => i,
        None => sel.index.min(len.saturating_sub(1)),
    };
    let key = row_at(&sel_with, index).and_then(|r| row_key(state, pane, r));
    state.selections[pane.index()] = Selection {
        index,
        key,
        ..sel_with
    };
}

pub(super) fn move_by(state: &mut State, pane: Pane, by: isize, out: &mut Vec<Effect>) {
    let sel = state.selection(pane);
    let len = sel.visible.as_ref().map_or(row_count(state, pane), Vec::len);
    if len == 0 {
        return;
    }
    let index = (sel.index as isize).saturating_add(by).clamp(0, len as isize - 1) as usize;
    let key = row_at(sel, index).and_then(|r| row_key(state, pane, r));
    let sel = &mut state.selections[pane.index()];
    sel.index = index;
    sel.key = key;
    if pane == Pane::Users {
        follow_selected_user(state, out);
    }
}

pub(super) fn selected_key(state: &State, pane: Pane) -> Option<String> {
    state.selection(pane).key.clone()
}

/// The grants pane shows the selected user's grants: fetch them when it changes.
pub(super) fn follow_selected_user(state: &mut State, out: &mut Vec<Effect>) {
    let key = selected_key(state, Pane::Users);
    if key != state.grants_of {
        state.grants_of = key.clone();
        state.grants.reset();
        if let Some(user) = key
            && state.target.is_some()
        {
            ask(state, Source::Fetch(Request::Grants { user }), out);
        }
    }
}
