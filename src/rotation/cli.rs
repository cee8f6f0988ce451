//! What `rotui plan`, `rotui rotate` and `rotui journal` do, as library
//! functions: main.rs builds the target's ports and calls these.
//!
//! `rotate` exit codes ([`RunOutcome::exit_code`]): 0 done; 10 waiting (the
//! overnight sync, a slow sync/rollout/drain, or a confirmation): run it
//! again to resume; 1 failed.

use std::io::Write;
use std::path::Path;

use super::context::{Ctx, RunOptions};
use super::journal::{self, Entry, Event, Journal, JournalError};
use super::outcome::{RotationError, StepError};
use super::plan::Plan;
use super::progress::print_event;
use super::runner::{self, RunOutcome};
use super::spec::{Mode, PlanSpec};
use super::step::Confirm;
use super::survey::{self, Survey};

fn write_err(e: std::io::Error) -> RotationError {
    RotationError {
        step: None,
        error: StepError::Journal(format!("cannot write output: {e}")),
    }
}

/// `rotui plan`: each step with its state and the statements it would run,
/// masked. Reads live state; writes nothing (not even the journal).
pub async fn plan_cmd(
    spec: &PlanSpec,
    ctx: &Ctx,
    journal: &Journal,
    opts: &RunOptions,
    out: &mut dyn Write,
) -> Result<(), RotationError> {
    let survey = survey::survey(spec, ctx, journal, opts).await?;
    print_survey(&survey, out).map_err(write_err)
}

/// The survey as `rotui plan` prints it.
pub fn print_survey(survey: &Survey, w: &mut dyn Write) -> std::io::Result<()> {
    let (spec, rotation) = (&survey.plan.spec, &survey.rotation);
    let mode = match spec.mode {
        Mode::Normal => "normal",
        Mode::Compromised => "compromised credentials: no overnight wait",
    };
    writeln!(w, "Rotation plan for {} ({mode})", spec.label())?;
    if let Some(ended) = &survey.last_ended {
        writeln!(w, "{ended}; nothing under way: this plan is the next rotation's")?;
    }
    if survey.resumed {
        writeln!(w, "resuming rotation {}", rotation.id)?;
    }
    if let Some(m) = &survey.mark {
        let taken = m
            .taken_over_from
            .as_ref()
            .map(|f| format!("; taken over from {f}"))
            .unwrap_or_default();
        writeln!(
            w,
            "rotation {} {}; started {}{taken}",
            m.rotation_id,
            m.held_text(),
            m.started.format("%Y-%m-%d %H:%M UTC")
        )?;
    }
    let olds: Vec<String> = rotation
        .old_users
        .iter()
        .map(|(e, u)| format!("{u} in {e}"))
        .collect();
    writeln!(
        w,
        "old user: {}; new user: {}",
        olds.join(", "),
        rotation.new_username
    )?;
    writeln!(w, "{}/{} done", survey.done(), survey.steps.len())?;
    match &survey.rollback {
        Ok(r) => writeln!(w, "{r}\n")?,
        Err(e) => writeln!(w, "rollback: unknown ({e})\n")?,
    }
    for (i, s) in survey.steps.iter().enumerate() {
        let confirm = match &s.confirm {
            Confirm::Destructive => " [destructive]".to_owned(),
            Confirm::Typed(word) => format!(" [destructive: type {word}]"),
            _ => String::new(),
        };
        writeln!(w, "{:>2}. {} — {}{confirm}", i + 1, s.step.id, s.step.title())?;
        writeln!(w, "    why: {}", s.step.why())?;
        writeln!(w, "    now: {}: {}", s.state.label(), s.state.detail())?;
        match &s.preview {
            Ok(lines) => {
                for l in lines.iter().flat_map(|l| l.lines()) {
                    writeln!(w, "    | {l}")?;
                }
            }
            Err(e) => writeln!(w, "    | (preview unavailable: {e})")?,
        }
    }
    Ok(())
}

/// `rotui rotate --yes`: start or resume the rotation and run it until done,
/// a wait or a failure, printing progress.
pub async fn rotate_cmd(
    spec: &PlanSpec,
    ctx: &Ctx,
    journal: &Journal,
    opts: RunOptions,
    out: &mut dyn Write,
) -> RunOutcome {
    // Every way out says why: a refusal before the start too (another
    // operator holding the rotation, say), not only a failed step.
    let failed = |out: &mut dyn Write, e: RotationError| {
        let _ = writeln!(out, "failed: {e}");
        RunOutcome::Failed(e)
    };
    if let Err(e) = Plan::build(spec) {
        return failed(
            out,
            RotationError {
                step: None,
                error: StepError::Blocked(e.to_string()),
            },
        );
    }
    let rotation = match runner::start_or_resume(spec, ctx, journal, &opts).await {
        Ok(r) => r,
        Err(e) => return failed(out, e),
    };
    // A resumed rotation keeps the restores it started with.
    let plan = match Plan::build(&rotation.spec) {
        Ok(p) => p,
        Err(e) => {
            return failed(
                out,
                RotationError {
                    step: None,
                    error: StepError::Blocked(e.to_string()),
                },
            );
        }
    };
    if rotation.spec.restores != spec.restores {
        let _ = writeln!(
            out,
            "note: following the restores rotation {} started with ({}), not what the clusters say now",
            rotation.id,
            restores_text(&rotation.spec)
        );
    }
    let _ = writeln!(
        out,
        "rotation {} of {}: new user {}",
        rotation.id,
        spec.label(),
        rotation.new_username
    );
    let outcome = runner::drive(&plan, ctx, &rotation, journal, &opts, |ev| print_event(out, ev)).await;
    let _ = match &outcome {
        RunOutcome::Done => writeln!(out, "done: rotation {} finished", rotation.id),
        RunOutcome::Waiting(w) => writeln!(out, "waiting: {w}"),
        RunOutcome::Failed(e) => writeln!(out, "failed: {e}"),
    };
    outcome
}

/// `rotui journal [ID]`: list rotations, or show one entry by entry.
pub fn journal_cmd(dir: &Path, id: Option<&str>, out: &mut dyn Write) -> Result<(), JournalError> {
    let io = |e: std::io::Error| JournalError::Io {
        path: dir.to_owned(),
        message: e.to_string(),
    };
    match id {
        None => {
            let all = journal::list(dir)?;
            if all.is_empty() {
                writeln!(out, "no rotations recorded in {}", dir.display()).map_err(io)?;
            }
            for s in all {
                writeln!(
                    out,
                    "{}  {}  {}  {} -> {}  by {}  {}",
                    s.id,
                    s.started.format("%Y-%m-%d %H:%M"),
                    s.label,
                    s.old_users.values().cloned().collect::<Vec<_>>().join(","),
                    s.new_username,
                    s.started_by,
                    state_text(&s.state)
                )
                .map_err(io)?;
            }
        }
        Some(id) => {
            let (s, entries) = journal::show(dir, id)?;
            writeln!(out, "rotation {} of {} ({})", s.id, s.label, state_text(&s.state)).map_err(io)?;
            for e in entries {
                writeln!(out, "{}", entry_text(&e)).map_err(io)?;
            }
        }
    }
    Ok(())
}

fn state_text(s: &journal::RotationState) -> String {
    match s {
        journal::RotationState::InProgress => "in progress".into(),
        journal::RotationState::Waiting(r) => format!("waiting: {r}"),
        journal::RotationState::Failed(e) => format!("failed: {e}"),
        journal::RotationState::Finished => "finished".into(),
        journal::RotationState::Abandoned(r) => format!("abandoned: {r}"),
        journal::RotationState::RollingBack => "rolling back".into(),
        journal::RotationState::RolledBack => "rolled back".into(),
    }
}

fn entry_text(e: &Entry) -> String {
    let at = e.at.format("%Y-%m-%d %H:%M:%S");
    let body = match &e.event {
        Event::Started { decisions, operator } => format!(
            "started by {} ({}): new user {}",
            operator.os_user,
            operator
                .aws
                .iter()
                .map(|(e, a)| format!("{e}: {a}"))
                .collect::<Vec<_>>()
                .join(", "),
            decisions.new_username
        ),
        Event::Resumed { operator } => format!("resumed by {}", operator.os_user),
        Event::Adopted {
            decisions,
            operator,
            started_by,
            started,
        } => format!(
            "picked up by {} from the rotation mark: started by {started_by} at {}, new user {}",
            operator.os_user,
            started.format("%Y-%m-%d %H:%M UTC"),
            decisions.new_username
        ),
        Event::TakenOver {
            from,
            last_active,
            operator,
        } => format!(
            "TAKEN OVER by {} from {from} (last active {})",
            operator.os_user,
            last_active.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        Event::StepStarted { step, title, .. } => format!("{step}: started — {title}"),
        Event::Call { step, system, text } => format!("{step}: {system}: {}", text.replace('\n', " ")),
        Event::StepFinished { step, result, detail } => match result {
            journal::StepOutcome::AlreadyDone => format!("{step}: already done — {detail}"),
            journal::StepOutcome::Done => format!("{step}: done"),
        },
        Event::Skipped { step, reason, by } => format!("{step}: SKIPPED by {by}: {reason}"),
        Event::Waiting { reason, .. } => format!("waiting: {reason}"),
        Event::Failed { step, error } => format!(
            "{}failed: {error}",
            step.as_ref().map(|s| format!("{s}: ")).unwrap_or_default()
        ),
        Event::Finished => "finished".into(),
        Event::Abandoned { reason, by } => format!("abandoned by {by}: {reason}"),
        Event::RollbackStarted { operator } => format!("rollback started by {}", operator.os_user),
        Event::RolledBack => "rolled back".into(),
        Event::WorkloadReady {
            step,
            workload,
            pods,
            summary,
        } => format!("{step}: {workload} ready ({pods} pods): {summary}"),
        Event::DrainSample {
            step, user, total, ..
        } => format!("{step}: {total} connections of {user}"),
        Event::NotificationFailed { error } => format!("notification failed: {error}"),
        Event::FailedLogins {
            step,
            baseline,
            logins,
        } => format!(
            "{step}: failed logins {}(the server's counters): {}",
            if *baseline { "before the switch " } else { "" },
            logins.summary()
        ),
        Event::WorkloadRestarted {
            step,
            workload,
            restarted_at,
        } => {
            format!("{step}: rotui restarted {workload} (restartedAt {restarted_at})")
        }
        Event::WorkloadResumed { step, workload } => {
            format!("{step}: rotui resumed {workload} (paused for --stagger)")
        }
        Event::GateFailed {
            step,
            workload,
            reason,
        } => format!("{step}: health gate failed: {workload} {reason}"),
    };
    format!("{at}  {body}")
}

/// `staging ← production, integration ← staging`, or `none`.
fn restores_text(spec: &PlanSpec) -> String {
    let pairs: Vec<String> = spec
        .restores
        .iter()
        .map(|r| format!("{} ← {}", r.env, r.from))
        .collect();
    if pairs.is_empty() {
        "none".to_owned()
    } else {
        pairs.join(", ")
    }
}
