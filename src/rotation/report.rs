//! `rotui report`: one rotation's journal made into what a change record or
//! a post-incident review attaches. [`build`] is a pure function from the
//! journal's entries to a [`Report`]; [`markdown`] and [`json`] render it;
//! [`write`] puts both beside each other, 0600.
//!
//! Nothing here reads a live system: what the report says is what the
//! journal recorded (every string of which was redacted as it was written,
//! and is redacted again on the way out).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::journal::{self, Entry, Event, JournalError, RotationState, StepOutcome, Summary};
use super::plan::Plan;
use super::ports::FailedLogins;
use super::step::StepId;
use crate::secret;
use crate::target::EnvName;

/// One rotation, as its journal tells it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub rotation: String,
    pub label: String,
    pub state: RotationState,
    pub old_users: BTreeMap<EnvName, String>,
    pub new_username: String,
    pub started: DateTime<Utc>,
    /// The journal's last entry.
    pub last: DateTime<Utc>,
    pub duration_s: f64,
    /// Who ran it, from where, each time it was started, resumed, picked up
    /// or taken over.
    pub operators: Vec<Session>,
    /// Each step of the plan in order (those the journal names beyond it,
    /// such as a rollback's, after).
    pub steps: Vec<StepRun>,
    /// Per environment: the workloads restarted and the drain.
    pub environments: Vec<EnvReport>,
    /// Connections ended (the statements, masked).
    pub kills: Vec<Change>,
    /// Waits, failures and skips, in order.
    pub notes: Vec<Change>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub at: DateTime<Utc>,
    /// `started`, `resumed`, `picked up`, `taken over from …`, `rollback started`.
    pub what: String,
    pub os_user: String,
    pub host: Option<String>,
    /// AWS caller identity per environment.
    pub aws: BTreeMap<EnvName, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRun {
    pub step: StepId,
    pub env: String,
    pub title: String,
    /// `done`, `already done`, `skipped`, `failed`, `waiting`, `started`, `not reached`.
    pub outcome: String,
    pub detail: String,
    pub started: Option<DateTime<Utc>>,
    pub ended: Option<DateTime<Utc>>,
    pub duration_s: Option<f64>,
    /// Every write it made (masked previews), in order.
    pub changes: Vec<String>,
    /// Whether `rotui rollback` could still undo the rotation when the step ended.
    pub rollback_available: bool,
    pub rollback: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub at: DateTime<Utc>,
    pub step: Option<StepId>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvReport {
    pub env: String,
    pub restarts: Vec<Restart>,
    /// When the sync was asked for (the ExternalSecret annotated; else the
    /// sync step's end): what sets the restarts off.
    pub synced: Option<DateTime<Utc>>,
    pub drain: Vec<DrainPoint>,
    /// The old and new users' failed logins since the switch, as the last
    /// sample counted them from the one taken before the promote; or why
    /// the server cannot tell. `None`: never sampled (the rotation did not
    /// reach the switch).
    pub failed_logins: Option<FailedLogins>,
    /// When that last sample was taken.
    pub failed_logins_at: Option<DateTime<Utc>>,
    /// Each health gate's outcome: passed (ready on the credentials the
    /// step waited for) or failed, with why.
    pub gates: Vec<GateOutcome>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateOutcome {
    pub step: StepId,
    pub workload: String,
    pub at: DateTime<Utc>,
    pub passed: bool,
    /// rotui restarted it rather than Reloader: how (`restartedAt <time>`,
    /// or resumed after `--stagger`'s pause).
    pub restarted_by_rotui: Option<String>,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Restart {
    pub step: StepId,
    pub workload: String,
    pub pods: usize,
    pub ready_at: DateTime<Utc>,
    /// Seconds from the sync to ready, as the rollout step saw it (it looks
    /// once per poll).
    pub ready_after_s: Option<f64>,
    /// Already rolled out when the rollout step first looked: ready at the
    /// latest by `ready_at`.
    pub ready_before_step: bool,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrainPoint {
    pub at: DateTime<Utc>,
    /// Seconds since the sync was asked for (0 for the count just before).
    pub after_s: Option<f64>,
    pub user: String,
    pub connections: i64,
    /// Connections per pod (`pod (workload)`), where the cluster named the client.
    pub by_pod: BTreeMap<String, i64>,
}

fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds() as f64 / 1000.0
}

/// A step id's environment: `production/drain` → `production`.
fn env_of(step: &StepId) -> &str {
    step.env()
}

fn slug_of(step: &StepId) -> &str {
    step.0.split_once('/').map_or(step.0.as_str(), |(_, slug)| slug)
}

/// A statement that ends connections (`KILL`, `mysql.rds_kill`, `pg_terminate_backend`).
fn is_kill(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("kill") || t.contains("pg_terminate_backend")
}

/// The report of one rotation from its summary and entries (oldest first).
pub fn build(summary: &Summary, entries: &[Entry]) -> Report {
    let r = |s: &str| secret::redact(s);
    // The plan's steps, for order and titles of steps that never started.
    let spec = entries.iter().find_map(|e| match &e.event {
        Event::Started { decisions, .. } | Event::Adopted { decisions, .. } => Some(decisions.spec.clone()),
        _ => None,
    });
    let mut steps: Vec<StepRun> = spec
        .and_then(|s| Plan::build(&s).ok())
        .map(|p| {
            p.steps
                .iter()
                .map(|s| StepRun {
                    step: s.id.clone(),
                    env: s.env.to_string(),
                    title: s.title(),
                    outcome: "not reached".into(),
                    detail: String::new(),
                    started: None,
                    ended: None,
                    duration_s: None,
                    changes: vec![],
                    rollback_available: false,
                    rollback: String::new(),
                })
                .collect()
        })
        .unwrap_or_default();
    fn run<'a>(steps: &'a mut Vec<StepRun>, id: &StepId) -> &'a mut StepRun {
        let i = match steps.iter().position(|s| &s.step == id) {
            Some(i) => i,
            None => {
                steps.push(StepRun {
                    step: id.clone(),
                    env: env_of(id).to_owned(),
                    title: slug_of(id).to_owned(),
                    outcome: "not reached".into(),
                    detail: String::new(),
                    started: None,
                    ended: None,
                    duration_s: None,
                    changes: vec![],
                    rollback_available: false,
                    rollback: String::new(),
                });
                steps.len() - 1
            }
        };
        &mut steps[i]
    }

    let mut operators = vec![];
    let mut kills = vec![];
    let mut notes = vec![];
    let mut envs: BTreeMap<String, EnvReport> = BTreeMap::new();
    fn env_mut<'a>(envs: &'a mut BTreeMap<String, EnvReport>, name: &str) -> &'a mut EnvReport {
        envs.entry(name.to_owned()).or_insert_with(|| EnvReport {
            env: name.to_owned(),
            restarts: vec![],
            synced: None,
            drain: vec![],
            failed_logins: None,
            failed_logins_at: None,
            gates: vec![],
        })
    }
    // Per environment: the failed logins before the switch, and the latest.
    let mut logins_before: BTreeMap<String, FailedLogins> = BTreeMap::new();
    let mut logins_last: BTreeMap<String, (DateTime<Utc>, FailedLogins)> = BTreeMap::new();
    // Rollback stays possible while the old user exists and no rollback began.
    let mut rollback: (bool, String) = (true, "yes: the old user exists".into());
    let session = |at, what: String, op: &journal::Operator| Session {
        at,
        what,
        os_user: r(&op.os_user),
        host: op.host.as_deref().map(r),
        aws: op.aws.iter().map(|(k, v)| (k.clone(), r(v))).collect(),
    };
    for e in entries {
        match &e.event {
            Event::Started { operator, .. } => operators.push(session(e.at, "started".into(), operator)),
            Event::Resumed { operator } => operators.push(session(e.at, "resumed".into(), operator)),
            Event::Adopted {
                operator, started_by, ..
            } => operators.push(session(
                e.at,
                format!("picked up from the rotation mark (started by {})", r(started_by)),
                operator,
            )),
            Event::TakenOver { from, operator, .. } => {
                operators.push(session(e.at, format!("taken over from {}", r(from)), operator))
            }
            Event::RollbackStarted { operator } => {
                operators.push(session(e.at, "rollback started".into(), operator));
                rollback = (false, "rolling back".into());
            }
            Event::StepStarted { step, title, .. } => {
                let s = run(&mut steps, step);
                s.title = r(title);
                s.started.get_or_insert(e.at);
                s.outcome = "started".into();
            }
            Event::Call { step, text, .. } => {
                let text = r(text);
                // Only the drain and the drop end connections.
                if matches!(slug_of(step), "drain" | "drop-old-user") && is_kill(&text) {
                    kills.push(Change {
                        at: e.at,
                        step: Some(step.clone()),
                        text: text.clone(),
                    });
                }
                if slug_of(step) == "drop-old-user" && text.to_ascii_lowercase().contains("drop") {
                    rollback = (false, format!("no: the old user was dropped in {}", env_of(step)));
                }
                if matches!(slug_of(step), "force-sync" | "rollback-sync") {
                    // The annotation: what sets the restarts off.
                    env_mut(&mut envs, env_of(step)).synced.get_or_insert(e.at);
                }
                run(&mut steps, step).changes.push(text);
            }
            Event::StepFinished { step, result, detail } => {
                let s = run(&mut steps, step);
                // A later run looks at every step before its own: its
                // "already done" confirms the first finish, which stands.
                if s.ended.is_some() {
                    continue;
                }
                s.started.get_or_insert(e.at);
                s.ended = Some(e.at);
                s.outcome = match result {
                    StepOutcome::AlreadyDone => "already done",
                    StepOutcome::Done => "done",
                }
                .into();
                s.detail = r(detail);
                s.rollback_available = rollback.0;
                s.rollback = rollback.1.clone();
                if matches!(slug_of(step), "force-sync" | "rollback-sync") {
                    env_mut(&mut envs, env_of(step)).synced.get_or_insert(e.at);
                }
            }
            Event::Skipped { step, reason, by } => {
                let s = run(&mut steps, step);
                s.ended = Some(e.at);
                s.outcome = "skipped".into();
                s.detail = format!("by {}: {}", r(by), r(reason));
                s.rollback_available = rollback.0;
                s.rollback = rollback.1.clone();
                notes.push(Change {
                    at: e.at,
                    step: Some(step.clone()),
                    text: format!("skipped {}", s.detail),
                });
            }
            Event::Waiting { step, reason } => {
                if let Some(id) = step {
                    let s = run(&mut steps, id);
                    // (A pause after a step that finished leaves it finished.)
                    if s.ended.is_none() {
                        s.outcome = "waiting".into();
                        s.detail = r(reason);
                    }
                }
                notes.push(Change {
                    at: e.at,
                    step: step.clone(),
                    text: format!("waiting: {}", r(reason)),
                });
            }
            Event::Failed { step, error } => {
                if let Some(id) = step {
                    let s = run(&mut steps, id);
                    // (A pause after a step that finished leaves it finished.)
                    if s.ended.is_none() {
                        s.outcome = "failed".into();
                        s.detail = r(error);
                    }
                }
                notes.push(Change {
                    at: e.at,
                    step: step.clone(),
                    text: format!("failed: {}", r(error)),
                });
            }
            Event::Abandoned { reason, by } => notes.push(Change {
                at: e.at,
                step: None,
                text: format!("abandoned by {}: {}", r(by), r(reason)),
            }),
            Event::Finished | Event::RolledBack | Event::NotificationFailed { .. } => {}
            Event::WorkloadReady {
                step,
                workload,
                pods,
                summary,
            } => {
                let env = env_mut(&mut envs, env_of(step));
                // The rollout journals a workload again when it looks again.
                if env
                    .restarts
                    .iter()
                    .any(|w| &w.step == step && w.workload == r(workload))
                {
                    continue;
                }
                env.restarts.push(Restart {
                    step: step.clone(),
                    workload: r(workload),
                    pods: *pods,
                    ready_at: e.at,
                    ready_after_s: None,
                    ready_before_step: false,
                    summary: r(summary),
                });
                let by_rotui = env
                    .gates
                    .iter()
                    .rfind(|g| g.step == *step && g.workload == r(workload) && g.detail.is_empty())
                    .and_then(|g| g.restarted_by_rotui.clone());
                env.gates
                    .retain(|g| !(g.step == *step && g.workload == r(workload) && g.detail.is_empty()));
                env.gates.push(GateOutcome {
                    step: step.clone(),
                    workload: r(workload),
                    at: e.at,
                    passed: true,
                    restarted_by_rotui: by_rotui,
                    detail: format!("ready: {}", r(summary)),
                });
            }
            // Pending until its gate passes or fails: no detail yet.
            Event::WorkloadRestarted {
                step,
                workload,
                restarted_at: at,
            } => {
                env_mut(&mut envs, env_of(step)).gates.push(GateOutcome {
                    step: step.clone(),
                    workload: r(workload),
                    at: e.at,
                    passed: false,
                    restarted_by_rotui: Some(format!("restartedAt {}", r(at))),
                    detail: String::new(),
                });
            }
            Event::WorkloadResumed { step, workload } => {
                env_mut(&mut envs, env_of(step)).gates.push(GateOutcome {
                    step: step.clone(),
                    workload: r(workload),
                    at: e.at,
                    passed: false,
                    restarted_by_rotui: Some("resumed after --stagger's pause".into()),
                    detail: String::new(),
                });
            }
            Event::GateFailed {
                step,
                workload,
                reason,
            } => {
                let env = env_mut(&mut envs, env_of(step));
                let by_rotui = env
                    .gates
                    .iter()
                    .rfind(|g| g.step == *step && g.workload == r(workload) && g.detail.is_empty())
                    .and_then(|g| g.restarted_by_rotui.clone());
                env.gates
                    .retain(|g| !(g.step == *step && g.workload == r(workload) && g.detail.is_empty()));
                env.gates.push(GateOutcome {
                    step: step.clone(),
                    workload: r(workload),
                    at: e.at,
                    passed: false,
                    restarted_by_rotui: by_rotui,
                    detail: format!("FAILED: {}", r(reason)),
                });
            }
            Event::DrainSample {
                step,
                user,
                total,
                by_pod,
            } => {
                let env = env_mut(&mut envs, env_of(step));
                let by_pod: BTreeMap<String, i64> = by_pod.iter().map(|(k, v)| (r(k), *v)).collect();
                // Each step that looks journals what it sees: a repeat adds nothing.
                if env
                    .drain
                    .last()
                    .is_some_and(|d| d.connections == *total && d.user == r(user) && d.by_pod == by_pod)
                {
                    continue;
                }
                env.drain.push(DrainPoint {
                    at: e.at,
                    after_s: None,
                    user: r(user),
                    connections: *total,
                    by_pod,
                });
            }
            Event::FailedLogins {
                step,
                baseline,
                logins,
            } => {
                let env = env_mut(&mut envs, env_of(step)).env.clone();
                let logins = match logins {
                    FailedLogins::Counted(by_user) => {
                        FailedLogins::Counted(by_user.iter().map(|(u, n)| (r(u), *n)).collect())
                    }
                    FailedLogins::NotObservable(why) => FailedLogins::NotObservable(r(why)),
                };
                if *baseline {
                    logins_before.insert(env.clone(), logins.clone());
                }
                logins_last.insert(env, (e.at, logins));
            }
        }
    }
    for s in &mut steps {
        if let (Some(a), Some(b)) = (s.started, s.ended) {
            s.duration_s = Some(seconds(a, b));
        }
    }
    // Times from the sync, now each environment's is known (the drain's
    // first sample is taken as the sync ends, just before it is journalled).
    for env in envs.values_mut() {
        let synced = env.synced;
        for w in &mut env.restarts {
            w.ready_after_s = synced.map(|s| seconds(s, w.ready_at));
            w.ready_before_step = steps
                .iter()
                .any(|s| s.step == w.step && s.outcome == "already done");
        }
        for d in &mut env.drain {
            d.after_s = synced.map(|s| seconds(s, d.at).max(0.0));
        }
        if let Some((at, last)) = logins_last.get(&env.env) {
            env.failed_logins = Some(last.since(logins_before.get(&env.env)));
            env.failed_logins_at = Some(*at);
        }
    }
    let last = entries.last().map_or(summary.last, |e| e.at);
    Report {
        rotation: summary.id.clone(),
        label: r(&summary.label),
        state: summary.state.clone(),
        old_users: summary.old_users.iter().map(|(k, v)| (k.clone(), r(v))).collect(),
        new_username: r(&summary.new_username),
        started: summary.started,
        last,
        duration_s: seconds(summary.started, last),
        operators,
        steps,
        environments: envs.into_values().collect(),
        kills,
        notes,
    }
}

fn state_text(s: &RotationState) -> String {
    match s {
        RotationState::InProgress => "in progress".into(),
        RotationState::Waiting(r) => format!("waiting: {r}"),
        RotationState::Failed(e) => format!("failed: {e}"),
        RotationState::Finished => "finished".into(),
        RotationState::Abandoned(r) => format!("abandoned: {r}"),
        RotationState::RollingBack => "rolling back".into(),
        RotationState::RolledBack => "rolled back".into(),
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn clock(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "–".into(), |t| t.format("%H:%M:%S").to_string())
}

fn secs(s: Option<f64>) -> String {
    s.map_or_else(|| "–".into(), |s| format!("{s:.1} s"))
}

/// A Markdown table cell: no pipe or line break ends it early.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', "<br>")
}

/// The report as Markdown.
pub fn markdown(rep: &Report) -> String {
    let mut o = String::new();
    let olds = rep
        .old_users
        .iter()
        .map(|(e, u)| format!("{u} ({e})"))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(o, "# Rotation {} of {}\n", rep.rotation, rep.label);
    let every_step_done = !rep.steps.is_empty()
        && rep
            .steps
            .iter()
            .all(|s| matches!(s.outcome.as_str(), "done" | "already done" | "skipped"));
    let state = match &rep.state {
        // The dashboard runs one step at a time: its last run pauses after the last step.
        RotationState::Waiting(_) if every_step_done => {
            format!(
                "every step done (the journal's last word: {})",
                state_text(&rep.state)
            )
        }
        s => state_text(s),
    };
    let _ = writeln!(o, "- state: {state}");
    let _ = writeln!(o, "- users: {olds} → {}", rep.new_username);
    let _ = writeln!(
        o,
        "- started {}, last entry {} ({:.0} s)\n",
        time(rep.started),
        time(rep.last),
        rep.duration_s
    );

    let _ = writeln!(o, "## Who ran it\n");
    let _ = writeln!(o, "| at | what | OS user | host | AWS identity |");
    let _ = writeln!(o, "| --- | --- | --- | --- | --- |");
    for s in &rep.operators {
        let aws = s
            .aws
            .iter()
            .map(|(e, a)| format!("{e}: {a}"))
            .collect::<Vec<_>>()
            .join("; ");
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} |",
            time(s.at),
            cell(&s.what),
            cell(&s.os_user),
            cell(s.host.as_deref().unwrap_or("not recorded")),
            cell(&aws)
        );
    }

    let _ = writeln!(o, "\n## Steps\n");
    let _ = writeln!(
        o,
        "| step | title | outcome | start | end | duration | rollback |"
    );
    let _ = writeln!(o, "| --- | --- | --- | --- | --- | --- | --- |");
    for s in &rep.steps {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} |",
            s.step,
            cell(&s.title),
            cell(&s.outcome),
            clock(s.started),
            clock(s.ended),
            secs(s.duration_s),
            if s.ended.is_none() {
                "–".into()
            } else {
                cell(&s.rollback)
            }
        );
    }
    for s in rep
        .steps
        .iter()
        .filter(|s| !s.changes.is_empty() || !s.detail.is_empty())
    {
        let _ = writeln!(o, "\n### {} — {}\n", s.step, s.title);
        if !s.detail.is_empty() {
            let _ = writeln!(o, "{}\n", s.detail);
        }
        if !s.changes.is_empty() {
            let _ = writeln!(o, "~~~~");
            for c in &s.changes {
                let _ = writeln!(o, "{c}");
            }
            let _ = writeln!(o, "~~~~");
        }
    }

    for env in &rep.environments {
        let _ = writeln!(o, "\n## {}\n", env.env);
        if let Some(t) = env.synced {
            let _ = writeln!(o, "The sync was asked for at {}.\n", time(t));
        }
        let _ = writeln!(o, "### Workloads restarted\n");
        if env.restarts.is_empty() {
            let _ = writeln!(
                o,
                "None recorded (the rollout step found every workload ready when it first looked).\n"
            );
        } else {
            let _ = writeln!(o, "| workload | pods | ready at | after the sync | rollout |");
            let _ = writeln!(o, "| --- | --- | --- | --- | --- |");
            for w in &env.restarts {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} | {} |",
                    cell(&w.workload),
                    w.pods,
                    if w.ready_before_step {
                        format!("by {}", clock(Some(w.ready_at)))
                    } else {
                        clock(Some(w.ready_at))
                    },
                    if w.ready_before_step {
                        format!("≤ {}", secs(w.ready_after_s))
                    } else {
                        secs(w.ready_after_s)
                    },
                    cell(&w.summary)
                );
            }
        }
        let _ = writeln!(o, "\n### Health gates\n");
        if env.gates.is_empty() {
            let _ = writeln!(o, "None recorded.");
        } else {
            let _ = writeln!(o, "| workload | restarted by | at | outcome |");
            let _ = writeln!(o, "| --- | --- | --- | --- |");
            for g in &env.gates {
                let by = match &g.restarted_by_rotui {
                    Some(how) => format!("rotui ({how})"),
                    None => "Reloader".to_owned(),
                };
                let outcome = if g.detail.is_empty() {
                    "restarted; no gate outcome recorded (the run stopped first)".to_owned()
                } else if g.passed {
                    format!("passed — {}", g.detail)
                } else {
                    g.detail.clone()
                };
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} |",
                    cell(&g.workload),
                    cell(&by),
                    clock(Some(g.at)),
                    cell(&outcome)
                );
            }
        }
        let _ = writeln!(o, "\n### Drain of the old user\n");
        if env.drain.is_empty() {
            let _ = writeln!(o, "No samples (no connections when the drain began).");
        } else {
            let _ = writeln!(o, "| at | after the sync | user | connections | per pod |");
            let _ = writeln!(o, "| --- | --- | --- | --- | --- |");
            for d in &env.drain {
                let pods = d
                    .by_pod
                    .iter()
                    .map(|(p, n)| format!("{p}: {n}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} | {} |",
                    clock(Some(d.at)),
                    secs(d.after_s),
                    cell(&d.user),
                    d.connections,
                    cell(&pods)
                );
            }
        }
        let _ = writeln!(o, "\n### Failed logins since the switch\n");
        match (&env.failed_logins, env.failed_logins_at) {
            (Some(FailedLogins::Counted(by_user)), Some(at)) => {
                let _ = writeln!(o, "As the server counted them at {}:\n", time(at));
                let _ = writeln!(o, "| user | failed logins |");
                let _ = writeln!(o, "| --- | --- |");
                for (user, n) in by_user {
                    let _ = writeln!(o, "| {} | {n} |", cell(user));
                }
            }
            (Some(FailedLogins::NotObservable(why)), _) => {
                let _ = writeln!(o, "Not observable: {why}.");
            }
            _ => {
                let _ = writeln!(o, "Not counted: the rotation did not reach the switch.");
            }
        }
    }

    let _ = writeln!(o, "\n## Connections killed\n");
    if rep.kills.is_empty() {
        let _ = writeln!(o, "None.");
    }
    for k in &rep.kills {
        let step = k.step.as_ref().map(|s| s.0.as_str()).unwrap_or("");
        let _ = writeln!(o, "- {} {step}: `{}`", time(k.at), k.text.replace('`', "'"));
    }
    if !rep.notes.is_empty() {
        let _ = writeln!(o, "\n## Waits, failures and skips\n");
        for n in &rep.notes {
            let step = n.step.as_ref().map(|s| format!(" {s}:")).unwrap_or_default();
            let _ = writeln!(o, "- {}{step} {}", time(n.at), n.text.replace('\n', " "));
        }
    }
    // Redacted once more on the way out: belt and braces.
    secret::redact(&o)
}

/// The report as JSON (pretty).
pub fn json(rep: &Report) -> String {
    let text = serde_json::to_string_pretty(rep).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    secret::redact(&text)
}

/// The two files a report is written to, in `dir`.
pub fn paths(dir: &Path, rotation: &str) -> (PathBuf, PathBuf) {
    let stem = format!("rotui-report-{rotation}");
    (dir.join(format!("{stem}.md")), dir.join(format!("{stem}.json")))
}

/// Build the report of rotation `id` (or a unique prefix) from the journals
/// under `state`, and write its Markdown and JSON into `out` (0600).
pub fn write(state: &Path, id: &str, out: &Path) -> Result<(PathBuf, PathBuf), JournalError> {
    let (summary, entries) = journal::show(state, id)?;
    let rep = build(&summary, &entries);
    let (md, js) = paths(out, &rep.rotation);
    let io = |path: &Path, e: std::io::Error| JournalError::Io {
        path: path.to_owned(),
        message: format!("cannot write the report ({e}): give a directory you may write to"),
    };
    crate::paths::private_write(&md, markdown(&rep).as_bytes()).map_err(|e| io(&md, e))?;
    crate::paths::private_write(&js, json(&rep).as_bytes()).map_err(|e| io(&js, e))?;
    Ok((md, js))
}

/// The latest rotation `journal` records (finished or not): the one the
/// dashboard's report key writes.
pub fn latest(journal: &journal::Journal) -> Result<Option<String>, JournalError> {
    Ok(journal
        .entries()?
        .into_iter()
        .rev()
        .find(|e| matches!(e.event, Event::Started { .. } | Event::Adopted { .. }))
        .map(|e| e.rotation))
}

/// The dashboard's report: the latest rotation of `journal`, written under
/// `<state dir>/reports/` (0700). Its id and the two files.
pub fn write_latest(journal: &journal::Journal) -> Result<(String, PathBuf, PathBuf), JournalError> {
    let Some(id) = latest(journal)? else {
        return Err(JournalError::Io {
            path: journal.path().to_owned(),
            message: "no rotation of this target in the journal yet: start one, then write its report".into(),
        });
    };
    let state = journal::state_dir()?;
    let out = state.join("reports");
    crate::paths::private_dir(&out).map_err(|e| JournalError::Io {
        path: out.clone(),
        message: e.to_string(),
    })?;
    let (md, json) = write(&state, &id, &out)?;
    Ok((id, md, json))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rotation::spec::{Mode, PlanSpec, Rotation};
    use crate::target::Target;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn entry(s: i64, event: Event) -> Entry {
        Entry {
            at: at(s),
            rotation: "r1".into(),
            event,
        }
    }

    fn id(slug: &str) -> StepId {
        StepId(format!("production/{slug}"))
    }

    fn finished(slug: &str, result: StepOutcome) -> Event {
        Event::StepFinished {
            step: id(slug),
            result,
            detail: String::new(),
        }
    }

    fn sample(slug: &str, total: i64) -> Event {
        Event::DrainSample {
            step: id(slug),
            user: "signon".into(),
            total,
            by_pod: BTreeMap::from([("signon-a (deployment/signon)".to_owned(), total)]),
        }
    }

    /// As the dashboard journals a rotation run one step at a time: every
    /// run re-observes the steps before its own, and pauses after it.
    #[test]
    fn first_finishes_stand_repeats_fold_and_rollback_ends_at_the_drop() {
        let target = Target::new("production", "signon", crate::target::Engine::Mysql);
        let spec = PlanSpec::for_target(&target, &[], Mode::Normal);
        let decisions = Rotation {
            id: "r1".into(),
            spec,
            old_users: BTreeMap::from([("production".into(), "signon".to_owned())]),
            new_username: "signon_user_1".into(),
        };
        let operator = journal::Operator {
            os_user: "ops".into(),
            aws: BTreeMap::new(),
            host: Some("laptop".into()),
        };
        let start = |s, slug: &str| {
            entry(
                s,
                Event::StepStarted {
                    step: id(slug),
                    title: slug.into(),
                    preview: vec![],
                },
            )
        };
        let entries = vec![
            entry(0, Event::Started { decisions, operator }),
            start(10, "force-sync"),
            entry(
                11,
                Event::Call {
                    step: id("force-sync"),
                    system: crate::model::System::Kubernetes,
                    text: "kubectl annotate …".into(),
                },
            ),
            entry(11, sample("force-sync", 2)),
            entry(12, finished("force-sync", StepOutcome::Done)),
            entry(
                12,
                Event::Waiting {
                    step: Some(id("force-sync")),
                    reason: "paused after production/force-sync".into(),
                },
            ),
            entry(20, finished("force-sync", StepOutcome::AlreadyDone)),
            entry(
                21,
                Event::WorkloadReady {
                    step: id("rollout"),
                    workload: "deployment/signon".into(),
                    pods: 2,
                    summary: "2/2".into(),
                },
            ),
            entry(21, sample("rollout", 0)),
            entry(21, finished("rollout", StepOutcome::AlreadyDone)),
            entry(22, sample("rollout", 0)),
            start(30, "drop-old-user"),
            entry(
                30,
                Event::Call {
                    step: id("drop-old-user"),
                    system: crate::model::System::Database,
                    text: "DROP USER 'signon'@'%'".into(),
                },
            ),
            entry(31, finished("drop-old-user", StepOutcome::Done)),
        ];
        let summary = Summary {
            id: "r1".into(),
            label: "production/signon/mysql".into(),
            started: at(0),
            last: at(31),
            old_users: BTreeMap::new(),
            new_username: "signon_user_1".into(),
            started_by: "ops".into(),
            state: RotationState::Waiting("paused after production/drop-old-user".into()),
            path: PathBuf::new(),
        };
        let rep = build(&summary, &entries);
        let step = |slug: &str| rep.steps.iter().find(|s| s.step == id(slug)).unwrap();
        let sync = step("force-sync");
        assert_eq!((sync.outcome.as_str(), sync.ended), ("done", Some(at(12))));
        assert_eq!(sync.duration_s, Some(2.0));
        assert!(sync.rollback_available);
        assert!(!step("drop-old-user").rollback_available);
        assert_eq!(step("drain").outcome, "not reached");
        let env = &rep.environments[0];
        assert_eq!(env.synced, Some(at(11)));
        assert_eq!(env.restarts.len(), 1);
        assert_eq!(env.restarts[0].ready_after_s, Some(10.0));
        assert!(env.restarts[0].ready_before_step);
        let curve: Vec<(Option<f64>, i64)> = env.drain.iter().map(|d| (d.after_s, d.connections)).collect();
        assert_eq!(curve, [(Some(0.0), 2), (Some(10.0), 0)]);
        assert_eq!(rep.operators[0].host.as_deref(), Some("laptop"));
        let md = markdown(&rep);
        assert!(!md.contains("every step done"), "the drain was not reached: {md}");
        assert!(md.contains("| deployment/signon | 2 | by "), "{md}");
    }

    fn logins(baseline: bool, slug: &str, old: i64, new: i64) -> Event {
        Event::FailedLogins {
            step: id(slug),
            baseline,
            logins: FailedLogins::Counted(BTreeMap::from([
                ("signon".to_owned(), old),
                ("signon_user_1".to_owned(), new),
            ])),
        }
    }

    fn summary() -> Summary {
        Summary {
            id: "r1".into(),
            label: "production/signon/mysql".into(),
            started: at(0),
            last: at(40),
            old_users: BTreeMap::new(),
            new_username: "signon_user_1".into(),
            started_by: "ops".into(),
            state: RotationState::Finished,
            path: PathBuf::new(),
        }
    }

    /// Failed logins count from the baseline taken before the promote, not
    /// from the server's start; a counter below its baseline was reset and
    /// all it holds came after; no baseline, no blame; a server that cannot
    /// tell says so, never 0.
    #[test]
    fn failed_logins_count_from_the_switch_or_say_why_not() {
        let rep = build(
            &summary(),
            &[
                entry(1, logins(true, "promote", 7, 1)),
                entry(2, logins(false, "force-sync", 7, 1)),
                entry(9, logins(false, "drain", 9, 1)),
                entry(12, logins(false, "drop-old-user", 12, 0)),
            ],
        );
        let env = &rep.environments[0];
        assert_eq!(
            env.failed_logins,
            Some(FailedLogins::Counted(BTreeMap::from([
                ("signon".to_owned(), 5),
                ("signon_user_1".to_owned(), 0),
            ])))
        );
        assert_eq!(env.failed_logins_at, Some(at(12)));
        let md = markdown(&rep);
        assert!(md.contains("| signon | 5 |\n| signon_user_1 | 0 |"), "{md}");

        let reset = build(
            &summary(),
            &[
                entry(1, logins(true, "promote", 7, 4)),
                entry(9, logins(false, "drain", 9, 2)),
            ],
        );
        assert_eq!(
            reset.environments[0].failed_logins,
            Some(FailedLogins::Counted(BTreeMap::from([
                ("signon".to_owned(), 2),
                ("signon_user_1".to_owned(), 2),
            ])))
        );

        let unbased = build(&summary(), &[entry(9, logins(false, "drain", 9, 2))]);
        let Some(FailedLogins::NotObservable(why)) = &unbased.environments[0].failed_logins else {
            panic!("{:?}", unbased.environments[0].failed_logins);
        };
        assert!(why.contains("before the switch"), "{why}");

        let cannot = Event::FailedLogins {
            step: id("drain"),
            baseline: false,
            logins: FailedLogins::NotObservable("PostgreSQL counts failed logins nowhere".into()),
        };
        let rep = build(&summary(), &[entry(1, cannot)]);
        let md = markdown(&rep);
        assert!(
            md.contains("Not observable: PostgreSQL counts failed logins nowhere."),
            "{md}"
        );
        assert!(
            json(&rep).contains("\"not_observable\": \"PostgreSQL"),
            "{}",
            json(&rep)
        );

        let none = build(&summary(), &[entry(1, sample("drain", 0))]);
        assert_eq!(none.environments[0].failed_logins, None);
        assert!(markdown(&none).contains("Not counted: the rotation did not reach the switch."));
    }

    /// rotui's restarts and the gates' outcomes: a restart then its
    /// workload ready is a gate passed by rotui's restart; a failure names why.
    #[test]
    fn gates_show_who_restarted_and_how_each_ended() {
        let ready = |s, w: &str| {
            entry(
                s,
                Event::WorkloadReady {
                    step: id("rollout"),
                    workload: w.into(),
                    pods: 1,
                    summary: "1/1".into(),
                },
            )
        };
        let restarted = |s, w: &str| {
            entry(
                s,
                Event::WorkloadRestarted {
                    step: id("rollout"),
                    workload: w.into(),
                    restarted_at: "2027-01-15T08:00:00Z".into(),
                },
            )
        };
        let entries = vec![
            ready(1, "deployment/signon"),
            restarted(2, "deployment/worker"),
            ready(5, "deployment/worker"),
            restarted(6, "deployment/admin"),
            entry(
                20,
                Event::GateFailed {
                    step: id("rollout"),
                    workload: "deployment/admin".into(),
                    reason: "is crash-looping: admin-1".into(),
                },
            ),
        ];
        let summary = Summary {
            id: "r1".into(),
            label: "production/signon/mysql".into(),
            started: at(0),
            last: at(20),
            old_users: BTreeMap::new(),
            new_username: "signon_user_1".into(),
            started_by: "ops".into(),
            state: RotationState::Waiting("x".into()),
            path: PathBuf::new(),
        };
        let rep = build(&summary, &entries);
        let gates: Vec<(&str, bool, Option<&str>)> = rep.environments[0]
            .gates
            .iter()
            .map(|g| (g.workload.as_str(), g.passed, g.restarted_by_rotui.as_deref()))
            .collect();
        assert_eq!(
            gates,
            [
                ("deployment/signon", true, None),
                (
                    "deployment/worker",
                    true,
                    Some("restartedAt 2027-01-15T08:00:00Z")
                ),
                (
                    "deployment/admin",
                    false,
                    Some("restartedAt 2027-01-15T08:00:00Z")
                ),
            ]
        );
        let md = markdown(&rep);
        assert!(md.contains("| deployment/signon | Reloader | "), "{md}");
        assert!(
            md.contains("| deployment/admin | rotui (restartedAt 2027-01-15T08:00:00Z) | ")
                && md.contains("| FAILED: is crash-looping: admin-1 |"),
            "{md}"
        );
    }
}
