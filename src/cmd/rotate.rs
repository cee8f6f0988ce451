//! `rotui plan`, `rotui rotate`, `rotui rollback` and `rotui journal`: the rotation engine
//! without the dashboard. Their output passes through an
//! [`EscapingWriter`](crate::text::EscapingWriter): names from the database
//! and the cluster reach the terminal with control characters escaped.

use color_eyre::eyre::{Result, eyre};

use crate::cli::{ConnArgs, PlanArgs, RollbackArgs, RotateArgs, RunLimits};
use crate::config::Config;
use crate::connect::{self, Connected};
use crate::preflight;
use crate::rotation::journal::{self, Event, Journal};
use crate::rotation::{Ctx, Mode, PlanSpec, RunOptions, cli};
use crate::target::{Target, TargetArgs};
use crate::webhook::{Policy, Webhooks};

/// The plan's spec and, per environment, live connections (each with its
/// own session and context when configured; refused before connecting when
/// several environments are asked for and one is not configured).
async fn prepare(
    target_args: &TargetArgs,
    conn: &ConnArgs,
    args: &PlanArgs,
) -> Result<(PlanSpec, Vec<Connected>, Config, Vec<String>)> {
    let target = Target::from_args(target_args)?;
    let mode = if args.compromised {
        Mode::Compromised
    } else {
        Mode::Normal
    };
    let mut envs = vec![target.env.to_string()];
    envs.extend(args.also_env.iter().cloned());
    if envs.len() > 1 && conn.db_url.is_some() {
        return Err(eyre!(
            "--db-url names one database: with --also-env, rotui finds each environment's from its secrets"
        ));
    }
    // Each environment is its own AWS account and cluster: several at once
    // need each one's session and context from the config.
    let config = super::config_for(conn, &envs)?;
    let mut connected = Vec::new();
    for env in &envs {
        connected.push(connect::open(&PlanSpec::target_in(&target, env), conn).await);
    }
    // Which environments are copies of another: each cluster's data sync,
    // unless the config says otherwise (see `restores`).
    let syncs = super::restores::read_all(&connected).await;
    let restores = super::restores::decide(&target.app, &config, &syncs, chrono::Utc::now());
    let spec = PlanSpec::for_target_with_restores(&target, &envs, mode, &restores.pairs);
    Ok((spec, connected, config, restores.lines))
}

/// What each environment's data sync is, as the run follows it.
fn print_sync(lines: &[String], out: &mut dyn std::io::Write) -> Result<()> {
    writeln!(out, "Data sync:")?;
    for line in lines {
        writeln!(out, "  {line}")?;
    }
    writeln!(out)?;
    Ok(())
}

/// The webhooks of the run's environments, delivering in the background;
/// the first delivery that fails is said once, on stderr and in the journal.
fn webhooks(config: &Config, spec: &PlanSpec, journal: &Journal) -> Option<Webhooks> {
    let hooks = crate::environments::webhooks(&config.environments)
        .into_iter()
        .filter(|(env, _)| spec.envs.iter().any(|e| e.as_str() == env))
        .collect();
    let journal = journal.clone();
    Webhooks::start(
        hooks,
        Policy::default(),
        Box::new(move |notice, what| {
            eprintln!("{}", crate::text::escape_controls(&what));
            let _ = journal.append(&notice.rotation, Event::NotificationFailed { error: what });
        }),
    )
}

/// On exit, a short bounded flush of the notices still queued.
async fn flush(hooks: Option<Webhooks>) {
    if let Some(hooks) = hooks
        && let Some(lost) = hooks.finish(crate::webhook::EXIT_FLUSH).await
    {
        eprintln!("{}", crate::text::escape_controls(&lost));
    }
}

/// Each environment's names and where they came from: flag, discovered
/// (from what) or convention.
fn print_names(connected: &[Connected], out: &mut dyn std::io::Write) -> Result<()> {
    for c in connected {
        writeln!(out, "Names for {}:", c.target.label())?;
        for line in crate::discover::describe(&c.target) {
            writeln!(out, "{line}")?;
        }
    }
    writeln!(out)?;
    Ok(())
}

/// How each environment's database connection is secured, as the status
/// bar says it, with the warning when it is not verified.
fn print_tls(connected: &[Connected], out: &mut dyn std::io::Write) -> Result<()> {
    for c in connected {
        if let Some(tls) = c.db_tls() {
            writeln!(
                out,
                "Database connection for {}: {}",
                c.target.label(),
                tls.label()
            )?;
            if let Some(warning) = tls.warning() {
                writeln!(out, "  ⚠ {warning}")?;
            }
        }
    }
    writeln!(out)?;
    Ok(())
}

/// Refuse, before anything is written, a name discovery could not choose.
fn resolved(connected: &[Connected]) -> Result<()> {
    match connected
        .iter()
        .find_map(|c| crate::discover::unresolved(&c.target))
    {
        Some(ask) => Err(eyre!("{ask}")),
        None => Ok(()),
    }
}

/// The engine's ports; when a part is down, the preflight says what else is
/// wrong (an environment's session that is another account's, say).
async fn ctx(connected: &[Connected]) -> Result<Ctx> {
    let mut ports = Vec::new();
    for c in connected {
        match c.ports() {
            Ok(p) => ports.push(p),
            Err(e) => {
                let report = preflight(connected).await;
                return Err(eyre!("{}: {e}\n{report}", c.target.label()));
            }
        }
    }
    Ok(Ctx::new(ports))
}

fn journal_for(spec: &PlanSpec) -> Result<Journal> {
    let dir = journal::state_dir()?;
    Ok(Journal::for_spec(&dir, spec))
}

/// The preflight of every environment, one report.
async fn preflight(connected: &[Connected]) -> preflight::Report {
    let mut report = preflight::Report::default();
    for c in connected {
        let mut one = preflight::check(c, c.tunnel.is_some()).await;
        if connected.len() > 1 {
            for check in &mut one.checks {
                check.what = format!("{}: {}", c.target.env, check.what);
            }
        }
        report.checks.extend(one.checks);
    }
    report
}

async fn close(connected: Vec<Connected>) {
    for c in connected {
        c.close().await;
    }
}

pub async fn plan(target: &TargetArgs, conn: &ConnArgs, args: &PlanArgs) -> Result<()> {
    let (spec, connected, _, sync) = prepare(target, conn, args).await?;
    let result = async {
        let mut out = crate::text::EscapingWriter::new(std::io::stdout());
        print_names(&connected, &mut out)?;
        print_tls(&connected, &mut out)?;
        print_sync(&sync, &mut out)?;
        resolved(&connected)?;
        let ctx = ctx(&connected).await?;
        cli::plan_cmd(
            &spec,
            &ctx,
            &journal_for(&spec)?,
            &RunOptions::default(),
            &mut out,
        )
        .await?;
        // What a rotation would need, as `rotate` will check it first.
        use std::io::Write;
        writeln!(out, "\n{}", preflight(&connected).await)?;
        Ok(())
    }
    .await;
    close(connected).await;
    result
}

/// Returns the exit code: 0 done, 10 waiting (run again to resume), 1 failed.
pub async fn rotate(target: &TargetArgs, conn: &ConnArgs, args: &RotateArgs, read_only: bool) -> Result<i32> {
    if read_only {
        return Err(eyre!(
            "--read-only: rotate writes; use `rotui plan` to see what it would do"
        ));
    }
    let (spec, connected, config, sync) = prepare(target, conn, &args.plan).await?;
    let result = async {
        resolved(&connected)?;
        let ctx = ctx(&connected).await?;
        let journal = journal_for(&spec)?;
        let hooks = webhooks(&config, &spec, &journal);
        if spec.envs.len() > 1 {
            print_sync(&sync, &mut crate::text::EscapingWriter::new(std::io::stdout()))?;
        }
        let opts = RunOptions {
            yes: args.yes,
            notify: hooks.as_ref().map(Webhooks::notifier),
            kill_leftovers: args.kill_leftovers,
            force_drop: args.force_drop.clone(),
            typed: args
                .confirm_drop
                .iter()
                .chain(&args.force_drop)
                .cloned()
                .collect(),
            take_over: args.take_over,
            ..RunOptions::default()
        };
        let stagger = args.stagger
            || crate::config::Config::load(conn.config.as_deref())
                .ok()
                .and_then(|c| c.apps.get(&spec.app).and_then(|a| a.stagger))
                .unwrap_or(false);
        let opts = RunOptions { stagger, ..opts };
        let opts = limited(opts, &args.limits);
        // Everything the rotation needs, checked before anything is written.
        let report = preflight(&connected).await;
        if !report.passed() || report.findings().next().is_some() {
            eprintln!("{}", crate::text::escape_controls(report.to_string().trim_end()));
        }
        if !report.passed() {
            return Ok(1);
        }
        let mut out = crate::text::EscapingWriter::new(std::io::stdout());
        let outcome = cli::rotate_cmd(&spec, &ctx, &journal, opts, &mut out).await;
        flush(hooks).await;
        Ok(outcome.exit_code())
    }
    .await;
    close(connected).await;
    result
}

/// `rotui rollback`: the same exit codes as `rotate`.
pub async fn rollback(
    target: &TargetArgs,
    conn: &ConnArgs,
    args: &RollbackArgs,
    read_only: bool,
) -> Result<i32> {
    if read_only {
        return Err(eyre!(
            "--read-only: rollback writes; use `rotui plan` to see whether a rollback is possible"
        ));
    }
    let (spec, connected, config, _) = prepare(target, conn, &args.plan).await?;
    let result = async {
        resolved(&connected)?;
        let ctx = ctx(&connected).await?;
        let journal = journal_for(&spec)?;
        let hooks = webhooks(&config, &spec, &journal);
        let opts = limited(
            RunOptions {
                yes: args.yes,
                notify: hooks.as_ref().map(Webhooks::notifier),
                typed: args.confirm_drop_new.iter().cloned().collect(),
                ..RunOptions::default()
            },
            &args.limits,
        );
        // Everything the rollback needs, checked before anything is written.
        let report = preflight(&connected).await;
        if !report.passed() || report.findings().next().is_some() {
            eprintln!("{}", crate::text::escape_controls(report.to_string().trim_end()));
        }
        if !report.passed() {
            return Ok(1);
        }
        let mut out = crate::text::EscapingWriter::new(std::io::stdout());
        let outcome = crate::rotation::rollback::rollback_cmd(&spec, &ctx, &journal, opts, &mut out).await;
        flush(hooks).await;
        Ok(outcome.exit_code())
    }
    .await;
    close(connected).await;
    result
}

pub fn journal(id: Option<&str>) -> Result<()> {
    let dir = journal::state_dir()?;
    let mut out = crate::text::EscapingWriter::new(std::io::stdout());
    Ok(cli::journal_cmd(&dir, id, &mut out)?)
}

/// `opts` within the operator's `--call-timeout`, `--wait-timeout` and
/// `--gate-timeout`; each left at its default when not given.
fn limited(opts: RunOptions, limits: &RunLimits) -> RunOptions {
    let secs = std::time::Duration::from_secs;
    let wait = limits.wait_timeout.map(secs);
    RunOptions {
        call_timeout: limits.call_timeout.map_or(opts.call_timeout, secs),
        rollout_timeout: wait.unwrap_or(opts.rollout_timeout),
        drain_timeout: wait.unwrap_or(opts.drain_timeout),
        gate_timeout: limits.gate_timeout.map_or(opts.gate_timeout, secs),
        ..opts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;
    use std::time::Duration;

    /// A rollback restarts the workloads behind the same gates and waits for
    /// the same drains as a rotation: it takes the same three bounds.
    #[test]
    fn rotate_and_rollback_take_the_same_bounds() {
        let limits = |args: &[&str]| match Cli::try_parse_from(args).unwrap().command {
            Some(Command::Rotate(a)) => a.limits,
            Some(Command::Rollback(a)) => a.limits,
            other => panic!("{other:?}"),
        };
        let bounds = [
            "--call-timeout",
            "3",
            "--wait-timeout",
            "7",
            "--gate-timeout",
            "5",
        ];
        for command in ["rotate", "rollback"] {
            let args: Vec<&str> = ["rotui", command].into_iter().chain(bounds).collect();
            let opts = limited(RunOptions::default(), &limits(&args));
            assert_eq!(opts.call_timeout, Duration::from_secs(3), "{command}");
            assert_eq!(opts.rollout_timeout, Duration::from_secs(7), "{command}");
            assert_eq!(opts.drain_timeout, Duration::from_secs(7), "{command}");
            assert_eq!(opts.gate_timeout, Duration::from_secs(5), "{command}");
        }
        // Unset, each keeps its default.
        let defaults = RunOptions::default();
        let opts = limited(RunOptions::default(), &limits(&["rotui", "rollback"]));
        assert_eq!(
            (
                opts.call_timeout,
                opts.rollout_timeout,
                opts.drain_timeout,
                opts.gate_timeout
            ),
            (
                defaults.call_timeout,
                defaults.rollout_timeout,
                defaults.drain_timeout,
                defaults.gate_timeout
            )
        );
    }
}
