//! How long a whole rotation takes in the sandbox, per engine, without the
//! deliberate waits: `--yes`, the drop confirmed up front, and waits polling
//! every 50 ms instead of every 2 s. Each run gets a fresh sandbox (`World`),
//! whose start-up time is reported too (the target is under 10 s).
//!
//! The target's ports are built exactly as `rotui rotate` builds them: from
//! the environment (AWS credentials and region, `KUBECONFIG`,
//! `ROTUI_STATE_DIR`) and `--aws-endpoint-url`, through `connect::open`.
//!
//! `cargo bench --profile dev --bench rotation -- --bench` runs it in full.
//! Without `--bench` (`cargo test --benches`) it only says so and returns:
//! the same rotations already run end to end in `tests/it/rotation.rs`, and
//! each sandbox costs seconds that CI need not spend twice.
//! With `ROTATION_BENCH_LOG=<dir>`, each run's `rotate` output (statements
//! masked, as `rotui rotate` prints them) is written there for inspection.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use rotui::cli::ConnArgs;
use rotui::connect;
use rotui::rotation::runner::StepEventKind;
use rotui::rotation::{Ctx, Mode, PlanSpec, RunOptions, RunOutcome, StepEvent, cli, journal};
use rotui::target::{Engine, Target};
use rotui_sandbox::world::{self, World};

const RUNS: usize = 3;
const ENGINES: [(&str, Engine); 2] = [("signon", Engine::Mysql), ("account-api", Engine::Postgres)];

/// One rotation's timings.
struct Run {
    /// `connect::open` and `.ports()`: AWS session, cluster, admin login.
    connect: Duration,
    /// `rotate_cmd`, from the plan to `done`.
    rotate: Duration,
    /// Each step that ran: started → finished.
    steps: Vec<(String, Duration)>,
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("rotation bench: skipped without --bench (tests/it/rotation.rs runs these rotations)");
        return;
    }
    let base = tempfile::tempdir().expect("a temp dir");
    let world_dir = base.path().join("world");
    // Before any thread starts: the process environment as `rotui rotate`
    // would find it after `source sandbox.env`. Every sandbox writes its
    // kubeconfig to the same path.
    // SAFETY: no other thread exists yet, so nothing reads the environment concurrently.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", world::AWS_KEY);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", world::AWS_KEY);
        std::env::set_var("AWS_REGION", world::REGION);
        std::env::set_var("KUBECONFIG", world_dir.join("kubeconfig"));
        std::env::set_var("ROTUI_STATE_DIR", base.path().join("state"));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");

    let mut starts = Vec::new();
    let mut runs: BTreeMap<&str, Vec<Run>> = BTreeMap::new();
    for i in 0..RUNS {
        for (app, engine) in ENGINES {
            let _ = std::fs::remove_dir_all(&world_dir);
            let t = Instant::now();
            let world = rt
                .block_on(World::start(&world_dir))
                .unwrap_or_else(|e| panic!("the sandbox starts: {e:?}"));
            starts.push(t.elapsed());
            let run = rt.block_on(rotate(&world, app, engine, i));
            eprintln!(
                "run {}/{RUNS} {app}/{engine}: sandbox {:.2} s, rotation {:.2} s",
                i + 1,
                starts.last().unwrap().as_secs_f64(),
                run.rotate.as_secs_f64()
            );
            runs.entry(app).or_default().push(run);
            rt.block_on(world.shutdown());
        }
    }
    report(&starts, &runs);
}

/// One `rotui rotate --yes` of `app` in the sandbox, confirmed in full.
async fn rotate(world: &World, app: &str, engine: Engine, run: usize) -> Run {
    let info = world.info();
    let conn = ConnArgs {
        aws_endpoint_url: Some(info.aws_endpoint_url.clone()),
        ..ConnArgs::default()
    };
    let target = Target::new(&info.env, app, engine);
    let spec = PlanSpec::for_target(&target, std::slice::from_ref(&info.env), Mode::Normal);

    let t = Instant::now();
    let connected = connect::open(&PlanSpec::target_in(&target, &info.env), &conn).await;
    let ports = connected
        .ports()
        .unwrap_or_else(|e| panic!("{}: {e}", target.label()));
    let ctx = Ctx::new(vec![ports]);
    let connect = t.elapsed();

    // A journal per run: each rotation starts from nothing, as in a fresh sandbox.
    let state = journal::state_dir()
        .expect("ROTUI_STATE_DIR")
        .join(format!("run-{run}"));
    let journal = journal::Journal::for_spec(&state, &spec);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<StepEvent>();
    let timeline = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(ev) = rx.recv().await {
            seen.push((Instant::now(), ev));
        }
        seen
    });
    let opts = RunOptions {
        yes: true,
        // What `--force-drop <old user>` types; without killing anything.
        typed: vec![app.to_owned()],
        call_timeout: Duration::from_secs(20),
        sync_timeout: Duration::from_secs(30),
        rollout_timeout: Duration::from_secs(60),
        drain_timeout: Duration::from_secs(60),
        poll: Duration::from_millis(50),
        events: Some(tx),
        ..RunOptions::default()
    };
    let mut out = Vec::new();
    let t = Instant::now();
    let outcome = cli::rotate_cmd(&spec, &ctx, &journal, opts, &mut out).await;
    let rotate = t.elapsed();
    drop(ctx);
    connected.close().await;
    assert!(
        matches!(outcome, RunOutcome::Done),
        "{app}: {outcome:?}\n{}",
        String::from_utf8_lossy(&out)
    );
    let steps = step_times(&timeline.await.expect("the event collector"));
    if let Ok(dir) = std::env::var("ROTATION_BENCH_LOG") {
        let _ = std::fs::write(Path::new(&dir).join(format!("{app}-{run}.log")), &out);
    }
    Run {
        connect,
        rotate,
        steps,
    }
}

/// Started → finished of each step that ran, named without its environment.
fn step_times(events: &[(Instant, StepEvent)]) -> Vec<(String, Duration)> {
    let mut started: BTreeMap<&str, Instant> = BTreeMap::new();
    let mut out = Vec::new();
    for (at, ev) in events {
        let id = ev.step.0.as_str();
        match ev.kind {
            StepEventKind::Started { .. } => {
                started.insert(id, *at);
            }
            StepEventKind::Finished => {
                if let Some(s) = started.remove(id) {
                    let name = id.split_once('/').map_or(id, |(_, step)| step);
                    out.push((name.to_owned(), at.duration_since(s)));
                }
            }
            _ => {}
        }
    }
    out
}

fn report(starts: &[Duration], runs: &BTreeMap<&str, Vec<Run>>) {
    let mut starts = starts.to_vec();
    starts.sort();
    println!();
    println!(
        "sandbox start (World::start, until both apps' pods are connected): {} runs, median {}, min {}, max {} (target < 10 s)",
        starts.len(),
        secs(median(&starts)),
        secs(starts[0]),
        secs(*starts.last().unwrap())
    );
    println!();
    println!("full sandbox rotation (rotate_cmd, --yes, poll 50 ms), a fresh sandbox per run");
    println!(
        "{:<22} {:>5} {:>10} {:>10} {:>16}",
        "engine", "runs", "median", "min", "connect (median)"
    );
    for (app, engine) in ENGINES {
        let r = &runs[app];
        let mut rotate: Vec<Duration> = r.iter().map(|r| r.rotate).collect();
        let mut connect: Vec<Duration> = r.iter().map(|r| r.connect).collect();
        rotate.sort();
        connect.sort();
        println!(
            "{:<22} {:>5} {:>10} {:>10} {:>16}",
            format!("{app}/{engine}"),
            r.len(),
            secs(median(&rotate)),
            secs(rotate[0]),
            secs(median(&connect))
        );
    }
    for (app, engine) in ENGINES {
        // Per step, the median over runs; the slowest first.
        let mut per_step: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
        for run in &runs[app] {
            for (step, d) in &run.steps {
                per_step.entry(step).or_default().push(*d);
            }
        }
        let mut rows: Vec<(&str, Duration)> = per_step
            .into_iter()
            .map(|(s, mut d)| {
                d.sort();
                (s, median(&d))
            })
            .collect();
        rows.sort_by_key(|r| std::cmp::Reverse(r.1));
        let shown: Vec<String> = rows
            .iter()
            .take(5)
            .map(|(s, d)| format!("{s} {}", secs(*d)))
            .collect();
        println!("  {app}/{engine} slowest steps (median): {}", shown.join(", "));
    }
}

/// The median of sorted durations (the lower one of an even count).
fn median(sorted: &[Duration]) -> Duration {
    sorted[(sorted.len() - 1) / 2]
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}
