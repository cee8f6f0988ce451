//! Command-line interface. The same target flags serve the dashboard,
//! `inspect`, `plan` and `rotate`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::target::TargetArgs;

#[derive(Debug, Parser)]
#[command(
    name = "rotui",
    version,
    about = "Rotate an app's AWS RDS credentials end to end, and watch it happen",
    long_about = "rotui rotates the database credentials of an app on Kubernetes end to end: \
the database user, the AWS Secrets Manager secret, the ExternalSecret, the app's rollout and \
the drain of the old user's connections. Without a subcommand it opens the dashboard."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Disable every write (SQL, Secrets Manager, Kubernetes).
    #[arg(long, global = true)]
    pub read_only: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the dashboard (the default).
    Tui,
    /// Print the database's users, grants, objects and connections (read only).
    Inspect(InspectArgs),
    /// Print the rotation's steps and the statements each will run; writes nothing.
    Plan(PlanArgs),
    /// Run the rotation without the dashboard, until done or a wait; run again to resume.
    Rotate(RotateArgs),
    /// Roll the unfinished rotation back to the old user (while it exists):
    /// the secret, the Secret and the app's pods; run again to resume.
    Rollback(RollbackArgs),
    /// List past rotations, or show one.
    Journal(JournalArgs),
    /// Write one rotation's report (Markdown and JSON) from its journal:
    /// who ran it, each step's timing and changes, restarts, the drain.
    Report(ReportArgs),
    /// Every database app of the environments (--env production,staging,
    /// each with its configured session and kube context): credential age, due, half-finished
    /// rotations, ExternalSecret sync; Enter opens the dashboard on one.
    /// Reads only. With --json exits 3 when an app is due or half-rotated.
    Fleet(FleetArgs),
    /// Start a local world to try rotui in (runs the `rotui-sandbox` binary
    /// beside this one; its arguments pass through, e.g. `--dir D`).
    #[command(disable_help_flag = true)]
    Sandbox(SandboxArgs),
    /// (Internal) An AWS `credential_process`: run an environment's
    /// credential command and print its credentials as credential_process
    /// JSON. rotui names itself so in the profile it gives a kube context's
    /// exec plugin, so every token is minted with fresh credentials.
    #[command(hide = true)]
    CredentialProcess(CredentialProcessArgs),
}

#[derive(Debug, Args)]
pub struct CredentialProcessArgs {
    /// The environment's `credential_command`.
    #[arg(long)]
    pub command: String,
}

/// How to reach the database, AWS and Kubernetes.
#[derive(Debug, Clone, Default, Args)]
pub struct ConnArgs {
    /// Admin connection to the database (mysql://… or postgres://…), without
    /// a password: it is then read from the admin secret. A URL with a
    /// password is refused here (others can read command lines with `ps`):
    /// put that in ROTUI_DB_URL instead.
    #[arg(long, env = "ROTUI_DB_URL", global = true, hide_env_values = true)]
    pub db_url: Option<String>,
    /// Reach the database through a relay pod in the cluster.
    #[arg(long, global = true)]
    pub tunnel: bool,
    /// Secrets Manager endpoint (for the sandbox or tests).
    #[arg(long, env = "AWS_ENDPOINT_URL", global = true)]
    pub aws_endpoint_url: Option<String>,
    /// Kubeconfig context.
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// Config file [default: the XDG config dir's rotui/config.toml].
    #[arg(long, env = "ROTUI_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// PEM CA bundle the database's certificate must chain to (the RDS
    /// bundle): TLS verify-full against the host the app secret names.
    /// Overrides the environment's `ca_bundle`. Without either, TLS is
    /// required where the server offers it but not verified.
    #[arg(long, env = "ROTUI_CA_BUNDLE", global = true, value_name = "PEM")]
    pub ca_bundle: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The user whose grants, objects and connections to show.
    #[arg(long)]
    pub user: Option<String>,
    /// Print one JSON document (for scripts).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Default, Args)]
pub struct PlanArgs {
    /// Further environments the rotation covers, in order after --env
    /// (e.g. `--env production --also-env staging`).
    #[arg(long = "also-env", value_name = "ENV")]
    pub also_env: Vec<String>,
    /// Compromised-credentials mode: no overnight wait; the same new
    /// username and password in every environment, at once.
    #[arg(long)]
    pub compromised: bool,
}

/// Bounds of a run that writes (rotate, rollback: a rollback restarts the
/// workloads behind the same gates and waits for the same drains).
#[derive(Debug, Args)]
pub struct RunLimits {
    /// Give up on any single call to the database, Secrets Manager or the
    /// API server after this long (the step fails naming the system; run
    /// again to resume) [default: 30 s].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub call_timeout: Option<u64>,
    /// How long the run waits for a rollout or a drain before it stops
    /// (exit 10; run again to keep waiting) [default: 600 s rollout, 300 s drain].
    #[arg(long, value_name = "SECS")]
    pub wait_timeout: Option<u64>,
    /// The health gate: how long each restarting workload may take to be
    /// ready on the credentials it is switched to (crash loops and too few
    /// available pods stop it at once); past it the rollout step stops the
    /// plan [default: 300 s].
    #[arg(long, value_name = "SECS")]
    pub gate_timeout: Option<u64>,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    #[command(flatten)]
    pub limits: RunLimits,
    /// Apply every step without asking (required: without it rotate stops
    /// before the first write).
    #[arg(long)]
    pub yes: bool,
    /// End the old user's connections that outlive the drain timeout.
    #[arg(long)]
    pub kill_leftovers: bool,
    /// Confirm dropping the old user by typing its name (the last step
    /// waits for this, as the dashboard asks for it to be typed).
    #[arg(long, value_name = "OLD_USER")]
    pub confirm_drop: Option<String>,
    /// Drop the old user even with live connections (they are ended
    /// first): type its name here.
    #[arg(long, value_name = "OLD_USER")]
    pub force_drop: Option<String>,
    /// Take over a rotation another operator holds (its rotation mark names
    /// them): allowed once they have been idle for 15 minutes; recorded in
    /// the mark and the journal.
    #[arg(long)]
    pub take_over: bool,
    /// Restart the workloads one at a time, each behind its gate, Reloader's
    /// too: the sync step pauses each Deployment Reloader restarts (`kubectl
    /// rollout pause`) and the rollout step resumes them in turn.
    /// StatefulSets and DaemonSets cannot be paused: Reloader restarts
    /// them at once. Also `stagger = true` under `[apps.<app>]`.
    #[arg(long)]
    pub stagger: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    #[command(flatten)]
    pub limits: RunLimits,
    /// Apply every step without asking (required: without it rollback
    /// stops before the first write).
    #[arg(long)]
    pub yes: bool,
    /// Also drop the new user (once the app is back on the old
    /// one and it has no connections): type its name here. Without it the
    /// new user is kept, and the journal says so.
    #[arg(long, value_name = "NEW_USER")]
    pub confirm_drop_new: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct FleetArgs {
    /// Print one JSON document (rows, errors, calls) and exit 0 (all well),
    /// 3 (an app due or half-rotated) or 1 (a system could not be read).
    #[arg(long)]
    pub json: bool,
    /// The environments to show, comma-separated or repeated
    /// (`--env production,staging`); several need each configured
    /// (`[environments.<env>]`): each is read with its own session and context.
    // Named `env` so it takes the place of the global `--env` here.
    #[arg(long, env = "ROTUI_ENV", value_delimiter = ',')]
    pub env: Vec<String>,
    /// Do not log in to each app's server with its AWSCURRENT credentials
    /// (which checks they work and reads the server's version).
    #[arg(long)]
    pub no_login: bool,
}

#[derive(Debug, Args)]
pub struct JournalArgs {
    /// The rotation to show; lists rotations when omitted.
    pub id: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The rotation (its id from `rotui journal`, or a unique prefix of it).
    pub id: String,
    /// Where to write `rotui-report-<id>.md` and `.json` (0600).
    #[arg(long, default_value = ".")]
    pub out: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Arguments for `rotui-sandbox` (`--help` for its own).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<std::ffi::OsString>,
}

/// Whether a database URL carries a password: in its userinfo
/// (`scheme://user:password@host`) or as a `password=` query parameter.
pub fn url_carries_password(url: &str) -> bool {
    let parsed = url::Url::parse(url).ok();
    let in_userinfo = parsed.as_ref().is_some_and(|u| u.password().is_some()) || {
        // Also what the URL parser reads otherwise (`user:pw@host/db` has
        // no `//`): a `:` in what comes before the authority's last `@`.
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        authority
            .rsplit_once('@')
            .is_some_and(|(userinfo, _)| userinfo.contains(':'))
    };
    let in_query = match &parsed {
        Some(u) => u.query_pairs().any(|(k, _)| k.eq_ignore_ascii_case("password")),
        None => url.to_ascii_lowercase().contains("password="),
    };
    in_userinfo || in_query
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_found() {
        assert!(url_carries_password("mysql://u:p4ss@h/d"));
        assert!(url_carries_password(
            "postgresql://u@h/d?sslmode=require&password=p4ss"
        ));
        assert!(url_carries_password("u:p4ss@h/d"));
        assert!(!url_carries_password("mysql://aws_db_admin@h:3306/d"));
        assert!(!url_carries_password("postgresql://h/d?sslmode=require"));
        assert!(!url_carries_password("notaurl"));
    }
}
