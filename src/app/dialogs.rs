//! Keys while a dialog is open: the step preview, confirmations (typed for
//! a drop) and the quit question; running what was confirmed, and quitting.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui_textarea::TextArea;

use crate::app::action::{Effect, KillTarget};
use crate::app::keymap::KeyAction;
use crate::app::state::{Destructive, Dialog, Scroll, State, StepStatus};
use crate::rotation::StepId;
use crate::rotation::step::Confirm;
use crate::target::{Field, NameSource};

use super::receive::release_held;
use super::schedule::refresh_all;

pub(super) fn dialog_key(state: &mut State, key: KeyEvent, out: &mut Vec<Effect>) {
    let Some(dialog) = state.dialog.take() else { return };
    let resolved = state.keymap.resolve(&key);
    let esc = key.code == KeyCode::Esc;
    let yes = matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter);
    let no = esc || matches!(key.code, KeyCode::Char('n') | KeyCode::Char('N'));
    state.dialog = match dialog {
        Dialog::Help { mut scroll } if let Some(rows) = scroll_key(&key, resolved, &scroll, true) => {
            scroll.by(rows);
            Some(Dialog::Help { scroll })
        }
        Dialog::Help { .. }
            if matches!(
                resolved,
                Some(KeyAction::Help | KeyAction::Quit | KeyAction::Cancel)
            ) =>
        {
            None
        }
        d @ Dialog::Help { .. } => Some(d),
        Dialog::Names { selected } => names_key(state, selected, key, resolved, out),
        Dialog::QuitWhileRunning if yes => return quit(state, out),
        Dialog::QuitWhileRunning if no => None,
        d @ Dialog::QuitWhileRunning => Some(d),
        Dialog::Preview { step, mut scroll }
            if let Some(rows) = scroll_key(&key, resolved, &scroll, true) =>
        {
            scroll.by(rows);
            Some(Dialog::Preview { step, scroll })
        }
        Dialog::Preview { step, scroll } if key.code == KeyCode::Enter => {
            if !scroll.seen_all {
                state.notice = Some((state.now, unread(&scroll)));
                Some(Dialog::Preview { step, scroll })
            } else if let Some(why) = not_yet(state, &step) {
                // Read, but the step cannot start this moment (the plan is
                // being read again after the last step, or that step is
                // still ending): the preview stays, so Enter goes on once it can.
                state.notice = Some((state.now, why));
                Some(Dialog::Preview { step, scroll })
            } else {
                confirm_step(state, &step, out)
            }
        }
        Dialog::Preview { .. } if no || resolved == Some(KeyAction::Quit) => None,
        d @ Dialog::Preview { .. } => Some(d),
        Dialog::Confirm(action) if yes => {
            run_destructive(state, action, out);
            None
        }
        Dialog::Confirm(_) if no => None,
        d @ Dialog::Confirm(_) => Some(d),
        Dialog::Rollback { .. } if esc => None,
        // Letters are typed into the field: only the arrows and pages scroll.
        Dialog::Rollback {
            preview,
            new_user,
            input,
            mut scroll,
        } if let Some(rows) = scroll_key(&key, resolved, &scroll, false) => {
            scroll.by(rows);
            Some(Dialog::Rollback {
                preview,
                new_user,
                input,
                scroll,
            })
        }
        Dialog::Rollback {
            preview,
            new_user,
            input,
            scroll,
        } if key.code == KeyCode::Enter => {
            let typed = input.lines().join("");
            let ready = matches!(preview, Some(Ok(_)));
            if ready && !scroll.seen_all {
                state.notice = Some((state.now, unread(&scroll)));
                Some(Dialog::Rollback {
                    preview,
                    new_user,
                    input,
                    scroll,
                })
            } else if ready && (typed.is_empty() || typed == new_user) {
                let drop_new = typed == new_user;
                run_destructive(state, Destructive::Rollback { new_user, drop_new }, out);
                None
            } else {
                state.notice = Some((
                    state.now,
                    if ready {
                        format!("type {new_user} exactly to drop it too, or nothing to keep it")
                    } else {
                        "the rollback's preview is not ready".to_string()
                    },
                ));
                Some(Dialog::Rollback {
                    preview,
                    new_user,
                    input,
                    scroll,
                })
            }
        }
        Dialog::Rollback {
            preview,
            new_user,
            mut input,
            scroll,
        } => {
            input.input(key);
            Some(Dialog::Rollback {
                preview,
                new_user,
                input,
                scroll,
            })
        }
        Dialog::TypedConfirm { .. } if esc => None,
        Dialog::TypedConfirm {
            action,
            expected,
            input,
        } if key.code == KeyCode::Enter => {
            if input.lines().join("") == expected {
                run_destructive(state, action, out);
                None
            } else {
                state.notice = Some((state.now, format!("type {expected} exactly to confirm")));
                Some(Dialog::TypedConfirm {
                    action,
                    expected,
                    input,
                })
            }
        }
        Dialog::TypedConfirm {
            action,
            expected,
            mut input,
        } => {
            input.input(key);
            Some(Dialog::TypedConfirm {
                action,
                expected,
                input,
            })
        }
    };
    release_held(state, out);
}

/// Rows a key scrolls a dialog's text by: the arrows, pages, Home and End
/// always; with `letters`, also j/k, g/G and Space (a page, as in `less`),
/// as the keymap binds them.
fn scroll_key(key: &KeyEvent, resolved: Option<KeyAction>, scroll: &Scroll, letters: bool) -> Option<isize> {
    let page = scroll.page();
    let far = u16::MAX as isize;
    match key.code {
        KeyCode::Down => return Some(1),
        KeyCode::Up => return Some(-1),
        KeyCode::PageDown => return Some(page),
        KeyCode::PageUp => return Some(-page),
        KeyCode::Home => return Some(-far),
        KeyCode::End => return Some(far),
        KeyCode::Char(' ') if letters => return Some(page),
        _ if !letters => return None,
        _ => {}
    }
    match resolved? {
        KeyAction::Down => Some(1),
        KeyAction::Up => Some(-1),
        KeyAction::PageDown => Some(page),
        KeyAction::PageUp => Some(-page),
        KeyAction::Top => Some(-far),
        KeyAction::Bottom => Some(far),
        _ => None,
    }
}

/// Why Enter did not go on: part of the preview has not been shown.
/// Why the previewed step cannot start this moment, though it may soon.
fn not_yet(state: &State, id: &str) -> Option<String> {
    let Some(step) = state.step(id) else {
        return Some("the plan is being read again: Enter again in a moment".to_string());
    };
    match step.status {
        StepStatus::Blocked => Some(format!(
            "{}: blocked until the steps before it are done: Enter again once they are",
            step.title
        )),
        StepStatus::Running => None,
        _ if state.step_running() => {
            Some("another step is still running: Enter again once it has finished".to_string())
        }
        _ => None,
    }
}

fn unread(scroll: &Scroll) -> String {
    if scroll.rows == 0 {
        "the preview is not on screen yet: wait for it, then Enter".to_string()
    } else {
        format!(
            "read the whole preview first: {} more lines below (j/↓, PgDn, Space, G)",
            scroll.below()
        )
    }
}

/// After the preview: destructive steps ask again, dropping a user asks for its name.
pub(super) fn confirm_step(state: &mut State, id: &str, out: &mut Vec<Effect>) -> Option<Dialog> {
    if state.refuse_write("running steps") {
        return None;
    }
    let step = state.step(id)?.clone();
    // The engine re-checks; this only spares the operator a pointless confirm.
    let refusal = match step.status {
        StepStatus::Blocked => Some(format!(
            "{}: blocked until the steps before it are done",
            step.title
        )),
        StepStatus::Running => Some(format!("{}: already running", step.title)),
        _ if state.step_running() => Some("another step is running: wait for it to finish".to_string()),
        _ => None,
    };
    if let Some(why) = refusal {
        state.notice = Some((state.now, why));
        return None;
    }
    let id = StepId(step.id);
    let action = Destructive::RunStep {
        id: id.clone(),
        title: step.title,
    };
    match step.confirm {
        Confirm::Typed(expected) => {
            let mut input = TextArea::default();
            input.set_placeholder_text(format!("type {expected}"));
            Some(Dialog::TypedConfirm {
                action,
                expected,
                input,
            })
        }
        Confirm::Destructive => Some(Dialog::Confirm(action)),
        Confirm::None | Confirm::Yes => {
            out.push(Effect::RunStep(id));
            None
        }
    }
}

pub(super) fn run_destructive(state: &mut State, action: Destructive, out: &mut Vec<Effect>) {
    if state.refuse_write("this") {
        return;
    }
    match action {
        Destructive::Kill(t) => {
            state.notice = Some((
                state.now,
                match &t {
                    KillTarget::Connection { id, .. } => format!("killing connection {id}"),
                    KillTarget::AllOf { user, .. } => format!("killing every connection of {user}"),
                },
            ));
            out.push(Effect::Kill(t));
        }
        Destructive::RunStep { id, .. } => out.push(Effect::RunStep(id)),
        Destructive::Rollback { new_user, drop_new } => {
            state.notice = Some((state.now, "rolling back".into()));
            out.push(Effect::Rollback {
                drop_new: drop_new.then_some(new_user),
            });
        }
    }
}

/// `B`: the rollback's preview and confirmation, when the survey says one
/// is possible (the engine checks again before writing).
pub(super) fn open_rollback(state: &mut State, out: &mut Vec<Effect>) {
    if state.refuse_write("rolling back") {
        return;
    }
    let plan = state.panes.steps.plan.data.as_ref();
    let refusal = match plan {
        None => Some("the plan has not been read yet".to_string()),
        Some(p) if !p.can_roll_back => Some(
            p.rollback
                .clone()
                .unwrap_or_else(|| "no rollback: no rotation under way".into()),
        ),
        _ if state.step_running() => Some("a step is running: wait for it to finish".to_string()),
        _ => None,
    };
    if let Some(why) = refusal {
        state.notice = Some((state.now, why));
        return;
    }
    let new_user = plan.and_then(|p| p.new_user.clone()).unwrap_or_default();
    let mut input = TextArea::default();
    input.set_placeholder_text(format!("type {new_user} to drop it too; empty keeps it"));
    state.dialog = Some(Dialog::Rollback {
        preview: None,
        new_user,
        input,
        scroll: Scroll::default(),
    });
    out.push(Effect::PreviewRollback);
}

/// Quit, unless a step runs: then ask first.
pub(super) fn ask_quit(state: &mut State, out: &mut Vec<Effect>) {
    if state.step_running() {
        state.dialog = Some(Dialog::QuitWhileRunning);
    } else {
        quit(state, out);
    }
}

pub(super) fn quit(state: &mut State, out: &mut Vec<Effect>) {
    state.quitting = true;
    out.push(Effect::Quit);
}

/// The names dialog: j/k move through the admin keys offered, Enter uses
/// the selected one (as if given with --admin-secret-key), Esc or n closes.
fn names_key(
    state: &mut State,
    selected: usize,
    key: KeyEvent,
    resolved: Option<KeyAction>,
    out: &mut Vec<Effect>,
) -> Option<Dialog> {
    let keys = state.admin_key_choice().to_vec();
    match (key.code, resolved) {
        (KeyCode::Esc, _) | (_, Some(KeyAction::Names | KeyAction::Quit | KeyAction::Cancel)) => None,
        (_, Some(KeyAction::Down)) => Some(Dialog::Names {
            selected: (selected + 1).min(keys.len().saturating_sub(1)),
        }),
        (_, Some(KeyAction::Up)) => Some(Dialog::Names {
            selected: selected.saturating_sub(1),
        }),
        (KeyCode::Enter, _) => {
            if let (Some(admin_key), Some(mut target)) = (keys.get(selected), state.target.clone()) {
                target.set(Field::AdminSecretKey, admin_key.clone(), NameSource::Flag);
                state.switch_target(target.clone());
                out.push(Effect::SwitchTarget(Box::new(target)));
                refresh_all(state, out);
            }
            None
        }
        _ => Some(Dialog::Names { selected }),
    }
}
