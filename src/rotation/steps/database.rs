//! Database steps: inspect, owner roles and definers, the new user, the
//! login test, the drain and the drop; for an environment restored every
//! night, the wait for the restore, its validation and the login it lacks.

use tokio::time::Instant;

use super::super::context::{StepCtx, StepEventKind};
use super::super::interlock::{self, InterlockKind};
use super::super::outcome::{Applied, Observation, StepError, StepResult, Wait};
use super::super::ports::{PortErrorKind, System};
use super::super::step::{Step, StepKind};
use super::restore;
use super::secrets::new_credentials;
use crate::db::Statement;
use crate::model::User;
use crate::secret::{MASK, SecretString};
use crate::target::EnvName;
use crate::text::count;

struct Names<'a> {
    old: &'a str,
    new: &'a str,
    owner: &'a str,
    admin: &'a str,
}

fn names<'a>(step: &Step, cx: &'a StepCtx<'a>) -> StepResult<Names<'a>> {
    let t = &cx.ports()?.target;
    Ok(Names {
        old: cx.rotation.old_user(&step.env),
        new: &cx.rotation.new_username,
        owner: &t.owner_role,
        admin: &t.admin_user,
    })
}

async fn user(cx: &StepCtx<'_>, env: &str, name: &str) -> StepResult<Option<User>> {
    cx.read(System::Database, cx.ports_of(env)?.db.user(name)).await
}

async fn statements(
    cx: &StepCtx<'_>,
    fut: super::super::ports::PortFuture<'_, Vec<Statement>>,
) -> StepResult<Vec<Statement>> {
    cx.read(System::Database, fut).await
}

fn previews(s: &[Statement]) -> Vec<String> {
    s.iter().map(Statement::preview).collect()
}

fn short_list(items: &[String]) -> String {
    let mut s = items.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > 5 {
        s.push_str(&format!(" and {} more", items.len() - 5));
    }
    s
}

/// Interlock: clone only statements that carry no credential.
fn credential_free(s: Vec<Statement>) -> StepResult<Vec<Statement>> {
    // The statement itself is not quoted: it may hold a password hash.
    if let Some((_, clause)) = interlock::first_with_credentials(&s) {
        return Err(StepError::interlock(
            InterlockKind::CredentialsInClonedGrant,
            format!(
                "a cloned grant would copy the old user's credentials (it holds {clause}); \
                 nothing was run: this is a defect in rotui's grant cloning; report it with the \
                 database server's version (`SELECT VERSION()`), and rotate this user by hand meanwhile"
            ),
        ));
    }
    Ok(s)
}

pub(super) async fn observe(step: &Step, cx: &StepCtx<'_>) -> StepResult<Observation> {
    use Observation::*;
    let n = names(step, cx)?;
    let db = &cx.ports()?.db;
    let env = &step.env;
    Ok(match &step.kind {
        StepKind::Inspect => match user(cx, env, n.old).await? {
            Some(u) => {
                let grants = cx.read(System::Database, db.grants(n.old)).await?;
                let objects = cx.read(System::Database, db.objects_of(n.old)).await?;
                let verb = db.objects_verb();
                let roles = if u.member_of.is_empty() {
                    String::new()
                } else {
                    format!(", member of {}", u.member_of.join(", "))
                };
                let unread = match restore::sync_blockers(cx).await? {
                    Ok(blocks) => return Ok(Blocked(blocks.join("\n"))),
                    Err(notes) if notes.is_empty() => String::new(),
                    Err(notes) => format!("; {notes}"),
                };
                Done(format!(
                    "{}: {}{roles}, {verb} {}{unread}",
                    u.key(),
                    count(grants.len() as i64, "grant"),
                    count(objects.len() as i64, "object")
                ))
            }
            None if user(cx, env, n.new).await?.is_some() => {
                Done(format!("{} is gone and {} exists", n.old, n.new))
            }
            None => Blocked(format!(
                "the app secret names {} but {env}'s database has no such user: check the target and --db-url",
                n.old
            )),
        },
        StepKind::CheckDefiners => {
            let objects = cx.read(System::Database, db.objects_of(n.old)).await?;
            if objects.is_empty() {
                Done(format!(
                    "{} defines no views, routines, triggers or events",
                    n.old
                ))
            } else {
                let list: Vec<String> = objects.iter().map(|o| format!("{} {}", o.kind, o.name)).collect();
                Done(format!(
                    "{} defines {} to migrate: {}",
                    n.old,
                    count(objects.len() as i64, "object"),
                    short_list(&list)
                ))
            }
        }
        StepKind::EnsureOwnerRole => {
            if user(cx, env, n.old).await?.is_none() {
                return Ok(Done(format!("{} is gone", n.old)));
            }
            let todo = statements(cx, db.move_objects(n.old, n.owner)).await?;
            if todo.is_empty() {
                Done(format!("{} owns the database and its objects", n.owner))
            } else {
                NotDone(format!(
                    "{} statements to hand {}'s objects to {}",
                    todo.len(),
                    n.old,
                    n.owner
                ))
            }
        }
        StepKind::CreateUser => {
            if user(cx, env, n.new).await?.is_none() {
                return Ok(NotDone(format!("{} does not exist", n.new)));
            }
            // What the database layer would still do to complete the user
            // (PostgreSQL: membership, session role) and the grants it lacks.
            let todo = creation(cx, &n, &SecretString::from(MASK)).await?;
            if todo.is_empty() {
                Done(format!("{} exists, complete", n.new))
            } else {
                NotDone(format!(
                    "{} exists; {} statements to complete it",
                    n.new,
                    todo.len()
                ))
            }
        }
        StepKind::VerifyGrants => {
            let missing = missing_grants(cx, &n).await?;
            if missing.is_empty() {
                Done(format!("{}'s grants cover {}'s", n.new, n.old))
            } else {
                Blocked(format!("{} lacks: {}", n.new, short_list(&previews(&missing))))
            }
        }
        StepKind::VerifyInheritance => match user(cx, env, n.new).await? {
            Some(u) if u.member_of.iter().any(|r| r == n.owner) => {
                // And it can do what the old user could, no more, no less.
                let differs = missing_grants(cx, &n).await?;
                if differs.is_empty() {
                    Done(format!(
                        "{} is a member of {} and can do what {} can",
                        n.new, n.owner, n.old
                    ))
                } else {
                    Blocked(format!(
                        "{}'s privileges differ from {}'s: {}",
                        n.new,
                        n.old,
                        short_list(&previews(&differs))
                    ))
                }
            }
            Some(u) => Blocked(format!(
                "{} is a member of [{}], not {}",
                n.new,
                u.member_of.join(", "),
                n.owner
            )),
            None => Blocked(format!("{} does not exist", n.new)),
        },
        StepKind::MigrateDefiners => {
            let objects = if user(cx, env, n.old).await?.is_some() {
                cx.read(System::Database, db.objects_of(n.old)).await?
            } else {
                vec![]
            };
            if objects.is_empty() {
                Done(format!("no objects defined by {}", n.old))
            } else {
                NotDone(format!("{} objects still defined by {}", objects.len(), n.old))
            }
        }
        StepKind::TestLogin => login(cx, env, env, n.new).await?,
        StepKind::Drain => match user(cx, env, n.old).await? {
            None => Done(format!("{} is gone", n.old)),
            Some(_) => match cx.read(System::Database, db.connections(n.old)).await? {
                0 => {
                    // Drained before the step looked: the curve's end, and
                    // beside it whether anyone failed to log in meanwhile.
                    super::cluster::sample_connections(cx, n.old, &mut None).await?;
                    let logins = super::cluster::sample_failed_logins(cx, false, &mut None).await?;
                    Done(format!(
                        "no connections of {}{}",
                        n.old,
                        super::cluster::logins_note(logins)
                    ))
                }
                k => NotDone(format!("{k} connections of {} remain", n.old)),
            },
        },
        StepKind::AwaitOvernightSync { from } => restore::observe_wait(cx, from).await?,
        StepKind::ValidateRestore { from } => validate_restore(cx, &n, env, from).await?,
        StepKind::CreateRestoredLogin { from } => match user(cx, env, n.new).await? {
            None => NotDone(format!(
                "pg_dump copies no roles: the restore brought {from}'s ownership ({}) but not {}; \
                 it is created here with {from}'s username and password",
                n.owner, n.new
            )),
            Some(_) => {
                let todo = creation(cx, &n, &SecretString::from(MASK)).await?;
                if todo.is_empty() {
                    Done(format!("{} exists in {env}, a member of {}", n.new, n.owner))
                } else {
                    NotDone(format!(
                        "{} exists in {env}; {} statements to complete it",
                        n.new,
                        todo.len()
                    ))
                }
            }
        },
        StepKind::DropOldUser { .. } => match user(cx, env, n.old).await? {
            None => Done(format!("{} is dropped", n.old)),
            Some(_) => match synced_definers(cx, n.old).await? {
                Some(why) => Blocked(why),
                None => NotDone(format!("{} exists", n.old)),
            },
        },
        other => unreachable!("{other:?} is not a database step"),
    })
}

/// What the new user still lacks of the old user's grants (nothing once the old user is gone).
async fn missing_grants(cx: &StepCtx<'_>, n: &Names<'_>) -> StepResult<Vec<Statement>> {
    if user(cx, &cx.step.env, n.old).await?.is_none() {
        return Ok(vec![]);
    }
    statements(cx, cx.ports()?.db.clone_grants(n.old, n.new)).await
}

/// Log in to `env`'s database as `new` with the password `secret_env`'s
/// Secrets Manager holds for it.
async fn login(cx: &StepCtx<'_>, env: &str, secret_env: &str, new: &str) -> StepResult<Observation> {
    let Some(creds) = new_credentials(cx, secret_env).await? else {
        return Ok(Observation::Blocked(format!(
            "no version of {secret_env}'s app secret names {new}"
        )));
    };
    let db = &cx.ports_of(env)?.db;
    match cx
        .read(System::Database, db.test_login(new, &creds.password))
        .await
    {
        Ok(()) => Ok(Observation::Done(format!(
            "{new} logs in to {env} with the password in {secret_env}'s Secrets Manager"
        ))),
        Err(StepError::Port(e)) if matches!(e.kind, PortErrorKind::BadPassword | PortErrorKind::NotFound) => {
            Ok(Observation::Blocked(format!(
                "{new} cannot log in to {env} with the password in {secret_env}'s Secrets Manager: {e}"
            )))
        }
        Err(e) => Err(e),
    }
}

/// The restore brought `from`'s ownership: the owner role exists here and
/// owns the database's objects, and the old user owns none of them. (The
/// new login is the next step's business: pg_dump copies no roles.)
async fn validate_restore(cx: &StepCtx<'_>, n: &Names<'_>, env: &str, from: &str) -> StepResult<Observation> {
    use Observation::*;
    let db = &cx.ports_of(env)?.db;
    if user(cx, env, n.owner).await?.is_none() {
        return Ok(Blocked(format!(
            "{} does not exist in {env}, so the restore could not give it {from}'s objects \
             (pg_dump copies no roles): create it NOLOGIN in {env}, grant it to {}, and wait for the next restore",
            n.owner, n.old
        )));
    }
    let owned = cx.read(System::Database, db.objects_of(n.owner)).await?;
    if owned.is_empty() {
        return Ok(Blocked(format!(
            "nothing in {env}'s database belongs to {}: the restore did not bring {from}'s ownership",
            n.owner
        )));
    }
    if user(cx, env, n.old).await?.is_some() {
        let left = cx.read(System::Database, db.objects_of(n.old)).await?;
        if !left.is_empty() {
            return Ok(Blocked(format!(
                "{} still owns {} objects in {env}: the owner-role conversion has not arrived from {from}",
                n.old,
                left.len()
            )));
        }
    }
    Ok(Done(format!(
        "{env}'s database came from {from} with {}'s ownership ({} objects)",
        n.owner,
        owned.len()
    )))
}

pub(super) async fn preview(step: &Step, cx: &StepCtx<'_>) -> StepResult<Vec<String>> {
    let n = names(step, cx)?;
    let db = &cx.ports()?.db;
    let read_only = |what: String| Ok(vec![format!("-- read only: {what}")]);
    match &step.kind {
        StepKind::Inspect => read_only(format!(
            "{}'s account, grants and objects; whether a restore of the estate's data sync \
             (db-backup CronJobs) names a login this rotation drops",
            n.old
        )),
        StepKind::CheckDefiners => read_only(format!(
            "views, functions, procedures, triggers and events defined by {}",
            n.old
        )),
        StepKind::EnsureOwnerRole => Ok(previews(&statements(cx, db.move_objects(n.old, n.owner)).await?)),
        StepKind::CreateUser => {
            let mut out = previews(&creation(cx, &n, &SecretString::from(MASK)).await?);
            if user(cx, &step.env, n.new).await?.is_none() {
                out.insert(
                    0,
                    format!(
                        "-- password: the one Secrets Manager holds for {} ({MASK})",
                        n.new
                    ),
                );
            }
            Ok(out)
        }
        StepKind::VerifyGrants => read_only(format!("compare {}'s grants with {}'s", n.new, n.old)),
        StepKind::VerifyInheritance => read_only(format!("{}'s role memberships include {}", n.new, n.owner)),
        StepKind::MigrateDefiners => Ok(previews(&statements(cx, db.move_objects(n.old, n.admin)).await?)),
        StepKind::TestLogin => read_only(format!(
            "log in as {} with the password in Secrets Manager",
            n.new
        )),
        StepKind::Drain => {
            let mut out = vec![format!(
                "-- read only: count {}'s connections, for up to {} s",
                n.old,
                cx.opts.drain_timeout.as_secs()
            )];
            if cx.opts.kill_leftovers {
                out.push("-- then end the connections that remain:".into());
                out.extend(previews(&statements(cx, db.kill_connections(n.old)).await?));
            }
            Ok(out)
        }
        StepKind::AwaitOvernightSync { from } => restore::preview_wait(cx, from).await,
        StepKind::ValidateRestore { from } => read_only(format!(
            "{} exists and owns the objects {from}'s dump brought; {} owns none",
            n.owner, n.old
        )),
        StepKind::CreateRestoredLogin { from } => {
            let mut out = previews(&creation(cx, &n, &SecretString::from(MASK)).await?);
            if user(cx, &step.env, n.new).await?.is_none() {
                out.insert(
                    0,
                    format!(
                        "-- pg_dump copies no roles: the restore brought {from}'s ownership ({}) but not {}; \
                         it is created here with the password {from}'s secret holds for it, as {}'s pending \
                         version now does ({MASK})",
                        n.owner, n.new, step.env
                    ),
                );
            }
            Ok(out)
        }
        StepKind::DropOldUser { also_check } => {
            let mut envs = vec![step.env.clone()];
            envs.extend(also_check.iter().cloned());
            let mut out = vec![format!(
                "-- first checks, in {}: AWSCURRENT does not name {}, and {} has no connections",
                envs.join(", "),
                n.old,
                n.old
            )];
            let drop = statements(cx, db.drop_user(n.old, n.owner)).await?;
            out.extend(db.drop_note(n.old, n.owner, &drop));
            out.extend(previews(&drop));
            Ok(out)
        }
        other => unreachable!("{other:?} is not a database step"),
    }
}

pub(super) async fn apply(step: &Step, cx: &StepCtx<'_>) -> StepResult<Applied> {
    let n = names(step, cx)?;
    let db = &cx.ports()?.db;
    match &step.kind {
        StepKind::EnsureOwnerRole => {
            let todo = statements(cx, db.move_objects(n.old, n.owner)).await?;
            cx.execute(&todo).await?;
        }
        StepKind::CreateUser | StepKind::CreateRestoredLogin { .. } => create_user(cx, &n).await?,
        StepKind::MigrateDefiners => {
            let todo = statements(cx, db.move_objects(n.old, n.admin)).await?;
            cx.execute(&todo).await?;
        }
        StepKind::Drain => return drain(cx, &n).await,
        StepKind::AwaitOvernightSync { from } => return restore::wait(cx, from).await,
        StepKind::DropOldUser { also_check } => drop_old_user(cx, &n, also_check).await?,
        // Checks: observe said not done, and applying cannot change that.
        _ => match observe(step, cx).await? {
            Observation::Done(_) => {}
            Observation::NotDone(why) | Observation::Blocked(why) => return Err(StepError::Blocked(why)),
        },
    }
    Ok(Applied::Done)
}

/// The statements that create (or complete) the new user and, where the
/// engine copies grants, give it those of the old user, credential-free.
async fn creation(cx: &StepCtx<'_>, n: &Names<'_>, password: &SecretString) -> StepResult<Vec<Statement>> {
    let db = &cx.ports()?.db;
    let mut out = statements(cx, db.create_user(n.new, password, n.old, n.owner)).await?;
    if db.copies_grants() {
        out.extend(credential_free(missing_grants(cx, n).await?)?);
    }
    Ok(out)
}

async fn create_user(cx: &StepCtx<'_>, n: &Names<'_>) -> StepResult<()> {
    // No secret lives only in rotui: the password comes from Secrets Manager.
    let Some(creds) = new_credentials(cx, &cx.step.env).await? else {
        return Err(StepError::interlock(
            InterlockKind::NoPendingPassword,
            format!(
                "Secrets Manager holds no password for {}: store it as pending first",
                n.new
            ),
        ));
    };
    let create = statements(
        cx,
        cx.ports()?.db.create_user(n.new, &creds.password, n.old, n.owner),
    )
    .await?;
    cx.execute(&create).await?;
    if cx.ports()?.db.copies_grants() {
        // Recomputed now the user exists: only what it still lacks.
        let copy = credential_free(missing_grants(cx, n).await?)?;
        cx.execute(&copy).await?;
    }
    Ok(())
}

/// How often a drain asks who still holds the old user, for its progress
/// (it reads the pods' environment).
const HOLDERS_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// The consumers still on the old user, and each restarting one's pods.
type Holders = (Vec<String>, Vec<String>);

async fn drain(cx: &StepCtx<'_>, n: &Names<'_>) -> StepResult<Applied> {
    let started = Instant::now();
    let deadline = started + cx.opts.drain_timeout;
    let mut killed = false;
    // Who still holds the old user, and the consumers' pods (each refreshed
    // every HOLDERS_EVERY): read from the cluster, so not at every poll.
    let mut holders: Option<(Instant, Holders)> = None;
    let mut last = None;
    let mut last_logins = None;
    loop {
        super::cluster::sample_connections(cx, n.old, &mut last).await?;
        let logins = super::cluster::sample_failed_logins(cx, false, &mut last_logins).await?;
        let remaining = match observe(cx.step, cx).await? {
            Observation::Done(_) => return Ok(Applied::Done),
            Observation::NotDone(why) | Observation::Blocked(why) => why,
        };
        if Instant::now() >= deadline {
            if !cx.opts.kill_leftovers || killed {
                // Name the consumers still holding the old user, when the cluster says.
                let holding = super::cluster::holding(cx, n.old).await;
                let detail = if holding.is_empty() {
                    remaining
                } else {
                    format!("{remaining}; still on {}: {}", n.old, holding.join(", "))
                };
                return Ok(Applied::Waiting(Wait::Drain {
                    env: cx.step.env.clone(),
                    user: n.old.to_owned(),
                    detail,
                }));
            }
            // Killing is pointless (and harmful) while the app still uses the old user.
            ensure_secret_moved_on(cx, &cx.step.env, n.old).await?;
            let kill = statements(cx, cx.ports()?.db.kill_connections(n.old)).await?;
            cx.execute(&kill).await?;
            killed = true;
        }
        // Progress for the dashboard: how long it has waited, and who holds on.
        if let Some(rec) = cx.recorder {
            if holders
                .as_ref()
                .is_none_or(|(at, _)| at.elapsed() >= HOLDERS_EVERY)
            {
                holders = Some((
                    Instant::now(),
                    super::cluster::holding_and_health(cx, n.old).await,
                ));
            }
            let (on, pods) = match holders.as_ref().map(|(_, h)| h) {
                Some((holding, health)) => (
                    if holding.is_empty() {
                        String::new()
                    } else {
                        format!("; still on {}: {}", n.old, holding.join(", "))
                    },
                    if health.is_empty() {
                        String::new()
                    } else {
                        format!("; pods: {}", health.join("; "))
                    },
                ),
                None => (String::new(), String::new()),
            };
            // Beside the drain: whether anyone failed to log in since the
            // switch, and how the consumers' pods fare on the new credentials.
            let logins = super::cluster::logins_note(logins);
            let progress = format!(
                "{remaining}, waited {} s of {} s{on}{logins}{pods}",
                started.elapsed().as_secs(),
                cx.opts.drain_timeout.as_secs()
            );
            rec.emit(cx.step, StepEventKind::Observed(Observation::NotDone(progress)));
        }
        tokio::time::sleep(cx.opts.poll).await;
    }
}

/// Interlock: the app in `env` must no longer use `old`.
async fn ensure_secret_moved_on(cx: &StepCtx<'_>, env: &str, old: &str) -> StepResult<()> {
    let current = cx
        .read(System::SecretsManager, cx.ports_of(env)?.secrets.current())
        .await?;
    if current.username == old {
        return Err(StepError::interlock(
            InterlockKind::SecretStillNamesUser,
            format!("{env}'s AWSCURRENT still names {old}: the app uses it"),
        ));
    }
    Ok(())
}

async fn drop_old_user(cx: &StepCtx<'_>, n: &Names<'_>, also_check: &[EnvName]) -> StepResult<()> {
    let mut envs = vec![cx.step.env.clone()];
    envs.extend(also_check.iter().cloned());
    for env in &envs {
        ensure_secret_moved_on(cx, env, n.old).await?;
    }
    let db = &cx.ports()?.db;
    if let Some(why) = synced_definers(cx, n.old).await? {
        return Err(StepError::interlock(InterlockKind::ObjectsWouldBeLost, why));
    }
    // Nothing lost: MariaDB drops a definer silently and its objects then fail (1449).
    let lost = cx.read(System::Database, db.objects_lost_on_drop(n.old)).await?;
    if !lost.is_empty() {
        return Err(StepError::interlock(
            InterlockKind::ObjectsWouldBeLost,
            format!(
                "{} still {} {} objects: migrate definers first",
                n.old,
                db.objects_verb(),
                lost.len()
            ),
        ));
    }
    let forced = cx.opts.force_drop.as_deref() == Some(n.old);
    for env in &envs {
        if user(cx, env, n.old).await?.is_none() {
            continue;
        }
        let live = cx
            .read(System::Database, cx.ports_of(env)?.db.connections(n.old))
            .await?;
        if live > 0 && !forced {
            return Err(StepError::interlock(
                InterlockKind::ConnectionsRemain,
                format!(
                    "{} still has {live} connections in {env}: wait for them to drain, or force the drop by typing the username",
                    n.old
                ),
            ));
        }
        if live > 0 {
            // Sessions survive DROP USER; end them first.
            let kill = statements(cx, cx.ports_of(env)?.db.kill_connections(n.old)).await?;
            cx.execute_in(env, &kill).await?;
        }
    }
    let drop = statements(cx, db.drop_user(n.old, n.owner)).await?;
    cx.execute(&drop).await?;
    // The count at the rotation's end: a client left on the old password
    // fails from here on, and shows in the last sample.
    super::cluster::sample_failed_logins(cx, false, &mut None).await?;
    Ok(())
}

/// MySQL's data sync copies views and triggers with their source's DEFINERs
/// (`mysqldump` without routines or events). Why `old` must stay in the
/// step's environment, when a restore into it from another environment
/// would bring a view or trigger whose definer is `old` (error 1449 once
/// it is gone): read in the source when this run has it, else unknowable
/// here, so kept. `None`: nothing stops the drop.
async fn synced_definers(cx: &StepCtx<'_>, old: &str) -> StepResult<Option<String>> {
    if cx.rotation.spec.engine != crate::target::Engine::Mysql {
        return Ok(None);
    }
    let env = &cx.step.env;
    let ports = cx.ports()?;
    let runs = cx.read(System::Kubernetes, ports.cluster.restore_runs()).await?;
    for run in runs.iter().filter(|r| !r.suspended) {
        let Some(from) = run.from.as_deref().filter(|f| *f != env.as_str()) else {
            continue;
        };
        let Ok(source) = cx.ports_of(from) else {
            return Ok(Some(format!(
                "{env} is restored from {from} by {}, which copies views and triggers with {from}'s \
                 DEFINERs; this run cannot read {from}, where they may name {old}: keeping {old} in \
                 {env} so they keep working. Rotate {from} in the same run (--also-env {from}) so \
                 its definers move first, or check {from} by hand (SELECT … FROM \
                 information_schema.VIEWS/TRIGGERS WHERE DEFINER LIKE '{old}@%') and leave this step \
                 until they name another user",
                run.cronjob
            )));
        };
        let named: Vec<String> = cx
            .read(System::Database, source.db.objects_of(old))
            .await?
            .into_iter()
            .filter(|o| matches!(o.kind.as_str(), "view" | "trigger"))
            .map(|o| format!("{} {}", o.kind, o.name))
            .collect();
        if !named.is_empty() {
            return Ok(Some(format!(
                "{from}'s {} name {old} as DEFINER, and {} restores them into {env} as they are: \
                 with {old} gone from {env} they fail there (error 1449). Keeping {old} in {env} \
                 until they are moved in {from} ({from}'s check-definers and drop steps move them \
                 to the new user)",
                named.join(", "),
                run.cronjob
            )));
        }
    }
    Ok(None)
}
