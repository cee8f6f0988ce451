//! The blast radius in the promote step's preview: before AWSCURRENT
//! moves, every workload of this environment the switch restarts (and
//! how), those that read the Secret but nothing restarts, the CronJobs
//! that may start inside the switch, and the Jobs running on the old
//! credentials. A cluster that cannot be read makes it unknown, never a
//! failed preview: the rollout step checks every consumer anyway.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::super::context::StepCtx;
use super::super::outcome::StepResult;
use super::super::ports::{BlastRadius, System};

pub(super) async fn preview(cx: &StepCtx<'_>) -> StepResult<Vec<String>> {
    let ports = cx.ports()?;
    let t = &ports.target;
    // From the promotion to the old user's drop at the latest: the sync,
    // the rollout and the drain, each at its timeout.
    let window = cx.opts.sync_timeout + cx.opts.rollout_timeout + cx.opts.drain_timeout;
    Ok(
        match cx.read(System::Kubernetes, ports.cluster.blast_radius()).await {
            Ok(b) => lines(&b, &t.app, &t.k8s_secret, &cx.step.env, window, Utc::now()),
            Err(e) => vec![format!(
                "# who restarts in {}: unknown ({e}); the rollout step still checks every consumer",
                cx.step.env
            )],
        },
    )
}

/// The app's own workload: named after it (`signon`, `signon-worker`) or labelled so.
fn own(app: &str, workload: &str, label: Option<&str>) -> bool {
    let name = workload.split_once('/').map_or(workload, |(_, n)| n);
    let prefix = format!("{app}-");
    [Some(name), label]
        .into_iter()
        .flatten()
        .any(|n| n == app || n.starts_with(&prefix))
}

fn replicas(n: i32) -> String {
    format!("{n} replica{}", if n == 1 { "" } else { "s" })
}

fn minutes(d: Duration) -> u64 {
    d.as_secs().div_ceil(60)
}

/// The preview's lines, `#` comments (nothing here is a command).
pub(crate) fn lines(
    b: &BlastRadius,
    app: &str,
    secret: &str,
    env: &str,
    window: Duration,
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut out = vec![format!(
        "# who the switch touches in {env} (readers of Secret {secret}; switch window: up to {} min from promotion to the old user's drop):",
        minutes(window)
    )];
    let (restarted, kept): (Vec<_>, Vec<_>) = b.restarts.iter().partition(|r| r.restarted.is_ok());
    for r in &restarted {
        let whose = if own(app, &r.workload, r.app.as_deref()) {
            String::new()
        } else {
            format!(" [another app's: {}]", r.app.as_deref().unwrap_or("unlabelled"))
        };
        let pdbs = if r.pdbs.is_empty() {
            "no PodDisruptionBudget".to_owned()
        } else {
            r.pdbs.join(", ")
        };
        out.push(format!(
            "#   restarts: {}{whose}, {}, {}; {}; {pdbs}",
            r.workload,
            replicas(r.replicas),
            r.strategy,
            r.readiness
        ));
        out.push(format!(
            "#     reads {}; restarted by Reloader ({})",
            r.reads,
            r.restarted.as_deref().unwrap_or_default()
        ));
    }
    for r in &kept {
        out.push(format!(
            "#   NOT restarted: {} ({}; {}): keeps the old credentials until the rollout step restarts it (kubectl rollout restart {}), behind its health gate",
            r.workload,
            replicas(r.replicas),
            r.restarted.as_ref().err().map_or("", String::as_str),
            r.workload
        ));
        out.push(format!("#     reads {}", r.reads));
    }
    let end = now + chrono::Duration::from_std(window).unwrap_or_default();
    for c in &b.cronjobs {
        let when = match &c.next {
            Ok(Some(next)) if *next <= end => format!(
                "next run {} is INSIDE the switch window: a run started before the sync reads the old credentials",
                next.format("%Y-%m-%d %H:%M UTC")
            ),
            Ok(Some(next)) => format!(
                "next run {}, after the switch window",
                next.format("%Y-%m-%d %H:%M UTC")
            ),
            Ok(None) => "no run within a year".into(),
            Err(why) => format!("next run unknown: {why}"),
        };
        out.push(format!(
            "#   {} ({}): {when}; reads {}",
            c.workload, c.schedule, c.reads
        ));
    }
    for j in &b.jobs {
        out.push(format!(
            "#   running on the old credentials: {j}; the drain waits for it to end"
        ));
    }
    if b.restarts.is_empty() && b.cronjobs.is_empty() && b.jobs.is_empty() {
        out.push("#   no workload reads it".into());
    }
    if !b.unlisted.is_empty() {
        out.push(format!("#   not looked at: {}", b.unlisted.join("; ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::super::ports::{CronImpact, RestartImpact};
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn names_others_apps_and_cronjobs_inside_the_window() {
        let restart = |w: &str, app: &str, restarted: Result<String, String>| RestartImpact {
            workload: w.into(),
            app: Some(app.into()),
            reads: "app: DATABASE_URL".into(),
            restarted,
            replicas: 2,
            strategy: "RollingUpdate maxUnavailable 0, maxSurge 1".into(),
            readiness: "readiness probe on every container".into(),
            pdbs: vec![],
        };
        let b = BlastRadius {
            restarts: vec![
                restart("deployment/content-store", "content-store", Ok("auto".into())),
                restart("deployment/router", "router", Ok("auto".into())),
                restart("deployment/draft", "draft", Err("no Reloader annotation".into())),
            ],
            cronjobs: vec![CronImpact {
                workload: "cronjob/content-store-sweep".into(),
                reads: "task: DATABASE_URL".into(),
                schedule: "*/5 * * * *".into(),
                next: Ok(Some(at("2026-12-05T22:45:00Z"))),
            }],
            jobs: vec![],
            unlisted: vec![],
        };
        let text = lines(
            &b,
            "content-store",
            "content-store-postgres",
            "production",
            Duration::from_secs(1020),
            at("2026-12-05T22:40:00Z"),
        )
        .join("\n");
        assert!(text.contains("switch window: up to 17 min"), "{text}");
        assert!(
            text.contains("restarts: deployment/content-store, 2 replicas"),
            "{text}"
        );
        assert!(
            text.contains("restarts: deployment/router [another app's: router]"),
            "{text}"
        );
        assert!(text.contains("NOT restarted: deployment/draft"), "{text}");
        assert!(text.contains("INSIDE the switch window"), "{text}");
    }
}
