//! The rotation engine: its journal on a real filesystem, the plans as the
//! CLI sees them, and the database and Secrets Manager half of a MySQL
//! rotation against a real MariaDB and moto's Secrets Manager (the cluster
//! half, and full rotations, run against the sandbox once it exists).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use rotui::db::Statement;
use rotui::rotation::journal::{self, Event, Journal, JournalError, Operator, RotationState, StepOutcome};
use rotui::rotation::ports::System;
use rotui::rotation::runner::{RotationError, RunOutcome, Wait};
use rotui::rotation::{InterlockKind, StepError, StepId};
use rotui::rotation::{Mode, Plan, PlanSpec, Rotation, cli};
use rotui::secret::{self, MASK, SecretString};
use rotui::target::Engine;

fn spec(env: &str, app: &str, engine: Engine) -> PlanSpec {
    PlanSpec {
        app: app.into(),
        engine,
        envs: vec![env.into()],
        mode: Mode::Normal,
        restores: rotui::rotation::plan::default_restores(),
    }
}

fn rotation(id: &str, spec: &PlanSpec, old: &str, new: &str) -> Rotation {
    Rotation {
        id: id.into(),
        spec: spec.clone(),
        old_users: BTreeMap::from([(spec.envs[0].clone(), old.to_owned())]),
        new_username: new.into(),
    }
}

fn operator() -> Operator {
    Operator {
        os_user: "tester".into(),
        aws: BTreeMap::from([(
            "production".into(),
            "arn:aws:sts::123456789012:assumed-role/fulladmin/tester".into(),
        )]),
        host: None,
    }
}

fn step(id: &str) -> StepId {
    StepId(id.into())
}

#[test]
fn journal_appends_lists_and_shows_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let mysql = spec("production", "signon", Engine::Mysql);
    let pg = spec("integration", "account-api", Engine::Postgres);
    let jm = Journal::for_spec(dir.path(), &mysql);
    let jp = Journal::for_spec(dir.path(), &pg);
    assert_ne!(jm.path(), jp.path());

    let a = rotation("20260121-090000-aaaaaa", &mysql, "signon", "signon_user_20260121");
    jm.append(
        &a.id,
        Event::Started {
            decisions: a.clone(),
            operator: operator(),
        },
    )
    .unwrap();
    jm.append(
        &a.id,
        Event::StepFinished {
            step: step("production/inspect"),
            result: StepOutcome::AlreadyDone,
            detail: "signon@%: 2 grants".into(),
        },
    )
    .unwrap();
    jm.append(&a.id, Event::Finished).unwrap();

    let b = rotation(
        "20260122-090000-bbbbbb",
        &pg,
        "account-api",
        "account-api-user-20260122",
    );
    jp.append(
        &b.id,
        Event::Started {
            decisions: b.clone(),
            operator: operator(),
        },
    )
    .unwrap();
    jp.append(
        &b.id,
        Event::Waiting {
            step: Some(step("integration/drain")),
            reason: "2 connections of account-api remain".into(),
        },
    )
    .unwrap();

    let all = journal::list(dir.path()).unwrap();
    assert_eq!(
        all.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        [&a.id, &b.id]
    );
    assert_eq!(all[0].state, RotationState::Finished);
    assert_eq!(all[0].label, "production/signon/mysql");
    assert_eq!(all[0].new_username, "signon_user_20260121");
    assert_eq!(all[0].started_by, "tester");
    assert!(matches!(&all[1].state, RotationState::Waiting(r) if r.contains("2 connections")));

    let (s, entries) = journal::show(dir.path(), "20260122").unwrap();
    assert_eq!(s.id, b.id);
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|e| e.rotation == b.id));
    assert_eq!(
        journal::show(dir.path(), "2026012").unwrap_err(),
        JournalError::Ambiguous("2026012".into())
    );
    assert_eq!(
        journal::show(dir.path(), "nope").unwrap_err(),
        JournalError::NotFound("nope".into())
    );

    // The file is the operator's alone.
    let mode = std::fs::metadata(jm.path()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn resume_reads_the_decisions_of_the_unfinished_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec("production", "signon", Engine::Mysql);
    let j = Journal::for_spec(dir.path(), &s);
    assert_eq!(j.unfinished().unwrap(), None);
    let a = rotation("r-1", &s, "signon", "signon_user_20260121");
    j.append(
        &a.id,
        Event::Started {
            decisions: a.clone(),
            operator: operator(),
        },
    )
    .unwrap();
    assert_eq!(j.unfinished().unwrap(), Some(a.clone()));
    j.append(
        &a.id,
        Event::Failed {
            step: None,
            error: "database down".into(),
        },
    )
    .unwrap();
    // A failure is not the end: the rotation resumes.
    assert_eq!(j.unfinished().unwrap(), Some(a.clone()));
    j.append(&a.id, Event::Finished).unwrap();
    assert_eq!(j.unfinished().unwrap(), None);
    let b = rotation("r-2", &s, "signon_user_20260121", "signon_user_20260301");
    j.append(
        &b.id,
        Event::Started {
            decisions: b.clone(),
            operator: operator(),
        },
    )
    .unwrap();
    assert_eq!(j.unfinished().unwrap(), Some(b));
}

#[test]
fn no_secret_is_ever_written_to_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec("production", "signon", Engine::Mysql);
    let j = Journal::for_spec(dir.path(), &s);
    let password = secret::generate_password();
    let pw = secret::ExposeSecret::expose_secret(&password).to_owned();
    let admin = "Adm1n'pass\"word`x";
    secret::register(admin);
    let r = rotation("r-secret", &s, "signon", "signon_user_20260121");
    j.append(
        &r.id,
        Event::Started {
            decisions: r.clone(),
            operator: operator(),
        },
    )
    .unwrap();

    // A statement's preview is masked by construction…
    let create = Statement::with_password(
        format!(
            "CREATE USER 'signon_user_20260121'@'%' IDENTIFIED BY {}",
            Statement::PASSWORD
        ),
        password.clone(),
        rotui::db::ident::mysql_str,
    );
    j.append(
        &r.id,
        Event::StepStarted {
            step: step("production/create-user"),
            title: "Create the new user".into(),
            preview: vec![create.preview()],
        },
    )
    .unwrap();
    // …and anything else that slipped a secret in is scrubbed on the way to disk.
    j.append(
        &r.id,
        Event::Call {
            step: step("production/create-user"),
            system: System::Database,
            text: create.sql(),
        },
    )
    .unwrap();
    j.append(
        &r.id,
        Event::Failed {
            step: Some(step("production/test-login")),
            error: format!(
                "login failed for mysql2://signon_user_20260121:{pw}@db/signon_production; admin password {admin}"
            ),
        },
    )
    .unwrap();
    j.append(
        &r.id,
        Event::Skipped {
            step: step("production/verify-grants"),
            reason: format!("pasted by mistake: {pw}"),
            by: "tester".into(),
        },
    )
    .unwrap();

    let raw = std::fs::read_to_string(j.path()).unwrap();
    assert!(!raw.contains(&pw), "the new password reached the journal");
    assert!(!raw.contains("Adm1n"), "the admin password reached the journal");
    assert!(raw.contains(MASK));
    // Still valid JSON lines after scrubbing.
    let entries = j.entries().unwrap();
    assert_eq!(entries.len(), 5);
    let Event::Call { text, .. } = &entries[2].event else {
        panic!("not a call")
    };
    assert_eq!(
        text,
        &format!("CREATE USER 'signon_user_20260121'@'%' IDENTIFIED BY '{MASK}'")
    );

    // And the rendered journal shows none either.
    let mut out = Vec::new();
    cli::journal_cmd(dir.path(), Some("r-secret"), &mut out).unwrap();
    let shown = String::from_utf8(out).unwrap();
    assert!(!shown.contains(&pw) && !shown.contains("Adm1n"));
    let _: SecretString = password;
}

#[test]
fn a_torn_last_line_is_ignored_but_a_corrupt_middle_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec("production", "signon", Engine::Mysql);
    let j = Journal::for_spec(dir.path(), &s);
    let r = rotation("r-torn", &s, "signon", "signon_user_20260121");
    j.append(
        &r.id,
        Event::Started {
            decisions: r.clone(),
            operator: operator(),
        },
    )
    .unwrap();
    // A crash in the middle of a write.
    let mut text = std::fs::read_to_string(j.path()).unwrap();
    text.push_str("{\"at\":\"2026-01-21T09:");
    std::fs::write(j.path(), &text).unwrap();
    assert_eq!(j.entries().unwrap().len(), 1);
    assert_eq!(j.unfinished().unwrap(), Some(r.clone()));

    text.push_str("\n{\"at\":\"2026-01-21T09:00:00Z\",\"rotation\":\"r-torn\",\"event\":\"finished\"}\n");
    std::fs::write(j.path(), &text).unwrap();
    match j.entries().unwrap_err() {
        JournalError::Parse { line, .. } => assert_eq!(line, 2),
        other => panic!("{other}"),
    }
}

#[test]
fn concurrent_appends_keep_lines_whole() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec("production", "signon", Engine::Mysql);
    let j = Journal::for_spec(dir.path(), &s);
    std::thread::scope(|scope| {
        for t in 0..4 {
            let j = j.clone();
            scope.spawn(move || {
                for i in 0..50 {
                    j.append(
                        &format!("r-{t}"),
                        Event::Call {
                            step: step("production/create-user"),
                            system: System::Database,
                            text: format!("GRANT SELECT ON `db{i}`.* TO 'u{t}'@'%' -- {}", "x".repeat(300)),
                        },
                    )
                    .unwrap();
                }
            });
        }
    });
    assert_eq!(j.entries().unwrap().len(), 200);
}

#[test]
fn journal_cmd_lists_and_shows() {
    let dir = tempfile::tempdir().unwrap();
    let mut out = Vec::new();
    cli::journal_cmd(dir.path(), None, &mut out).unwrap();
    assert!(String::from_utf8_lossy(&out).contains("no rotations recorded"));

    let s = spec("production", "signon", Engine::Mysql);
    let j = Journal::for_spec(dir.path(), &s);
    let r = rotation("20260121-090000-cccccc", &s, "signon", "signon_user_20260121");
    j.append(
        &r.id,
        Event::Started {
            decisions: r.clone(),
            operator: operator(),
        },
    )
    .unwrap();
    j.append(
        &r.id,
        Event::Skipped {
            step: step("production/verify-grants"),
            reason: "checked by hand".into(),
            by: "tester".into(),
        },
    )
    .unwrap();
    j.append(
        &r.id,
        Event::Call {
            step: step("production/drop-old-user"),
            system: System::Database,
            text: "DROP USER 'signon'@'%'".into(),
        },
    )
    .unwrap();

    let mut out = Vec::new();
    cli::journal_cmd(dir.path(), None, &mut out).unwrap();
    let list = String::from_utf8(out).unwrap();
    assert!(list.contains("20260121-090000-cccccc"), "{list}");
    assert!(list.contains("production/signon/mysql"));
    assert!(list.contains("signon -> signon_user_20260121"));
    assert!(list.contains("in progress"));

    let mut out = Vec::new();
    cli::journal_cmd(dir.path(), Some("20260121-0900"), &mut out).unwrap();
    let shown = String::from_utf8(out).unwrap();
    assert!(shown.contains("started by tester"), "{shown}");
    assert!(shown.contains("arn:aws:sts::123456789012:assumed-role/fulladmin/tester"));
    assert!(shown.contains("production/verify-grants: SKIPPED by tester: checked by hand"));
    assert!(shown.contains("production/drop-old-user: database: DROP USER 'signon'@'%'"));

    assert!(matches!(
        cli::journal_cmd(dir.path(), Some("zzz"), &mut Vec::new()),
        Err(JournalError::NotFound(_))
    ));
}

#[test]
fn plans_per_engine_and_mode() {
    let m = Plan::build(&PlanSpec {
        app: "signon".into(),
        engine: Engine::Mysql,
        envs: vec!["production".into(), "staging".into()],
        mode: Mode::Normal,
        restores: rotui::rotation::plan::default_restores(),
    })
    .unwrap();
    // The runbook's MySQL steps, repeated per environment, drops last.
    assert_eq!(m.steps.len(), 2 * 12 + 2);
    assert_eq!(m.steps[0].title(), "Inspect users and grants");
    assert!(m.steps[24].id.0 == "production/drop-old-user" && m.steps[25].id.0 == "staging/drop-old-user");

    let p = Plan::build(&PlanSpec {
        app: "account-api".into(),
        engine: Engine::Postgres,
        envs: vec!["production".into(), "staging".into()],
        mode: Mode::Normal,
        restores: rotui::rotation::plan::default_restores(),
    })
    .unwrap();
    let titles: Vec<String> = p.steps.iter().map(|s| s.title()).collect();
    assert_eq!(titles[0], "Inspect roles and owners");
    assert!(titles.contains(&"Wait for the overnight production-to-staging sync".to_string()));
    assert_eq!(
        titles.last().unwrap(),
        "Drop the old user, handing what it owns to the owner role"
    );
    for s in &p.steps {
        assert!(!s.why().is_empty());
    }
}

#[test]
fn exit_codes_distinguish_done_waiting_and_failed() {
    assert_eq!(RunOutcome::Done.exit_code(), 0);
    let wait = RunOutcome::Waiting(Wait::Overnight {
        env: "staging".into(),
        from: "production".into(),
    });
    assert_eq!(wait.exit_code(), 10);
    let failed = RunOutcome::Failed(RotationError {
        step: Some(step("production/promote")),
        error: StepError::interlock(
            InterlockKind::LoginFails {
                system: System::Database,
            },
            "login failed",
        ),
    });
    assert_eq!(failed.exit_code(), 1);
    assert_eq!(
        failed_text(&failed),
        "production/promote: refused by a safety interlock: login failed"
    );
}

fn failed_text(o: &RunOutcome) -> String {
    match o {
        RunOutcome::Failed(e) => e.to_string(),
        _ => String::new(),
    }
}

// ---------------------------------------------------------------------------
// Against real servers: MariaDB and PostgreSQL (RDS-shaped admins) and moto's
// Secrets Manager, through the adapters to the real modules.

mod real {
    use std::sync::Arc;
    use std::time::Duration;

    use aws_sdk_secretsmanager::Client;
    use rotui::app::state::{PlanView, StepStatus};
    use rotui::aws::{AwsOptions, AwsSession, StaticCredentials};
    use rotui::db::Statement;
    use rotui::db::mysql::{Account, MysqlDb};
    use rotui::db::postgres::PgDb;
    use rotui::rotation::adapters::{AwsSecrets, MysqlPort, PgPort};
    use rotui::rotation::journal::{Event, Journal};
    use rotui::rotation::ports::*;
    use rotui::rotation::runner::{self, RunOptions, RunOutcome, Wait};
    use rotui::rotation::{Ctx, Mode, Plan, PlanSpec, Rotation, cli};
    use rotui::rotation::{InterlockKind, StepCtx, StepError, StepId};
    use rotui::secret::{self, ExposeSecret, SecretString};
    use rotui::target::{Engine, Target};
    use rotui_sandbox::mariadb::{MysqlFlavor, MysqlServer};
    use rotui_sandbox::moto::MotoServer;
    use rotui_sandbox::postgres::{PgFlavor, PostgresServer};
    use serde_json::json;
    use sqlx::{Connection, PgConnection};

    /// This half of the rotation never reaches the cluster; any call fails.
    struct NoCluster;

    fn no_cluster<'a, T: Send + 'a>() -> PortFuture<'a, T> {
        Box::pin(async {
            Err(PortError::new(
                System::Kubernetes,
                PortErrorKind::Other,
                "this test has no cluster",
            ))
        })
    }

    impl ClusterPort for NoCluster {
        fn force_sync(&self, _: Duration) -> PortFuture<'_, SyncVerdict> {
            no_cluster()
        }
        fn check_secret<'a>(&'a self, _: &'a AppCredentials) -> PortFuture<'a, Option<CredCheck>> {
            no_cluster()
        }
        fn check_rollout<'a>(&'a self, _: &'a AppCredentials) -> PortFuture<'a, RolloutCheck> {
            no_cluster()
        }
    }

    /// A database session held open, as a running app pod holds one.
    enum Held {
        Mysql(MysqlDb),
        Pg(PgConnection),
    }

    impl Held {
        async fn close(self) {
            match self {
                Held::Mysql(db) => db.close().await,
                Held::Pg(c) => {
                    let _ = c.close().await;
                }
            }
        }
    }

    struct World {
        engine: Engine,
        flavor: MysqlFlavor,
        /// The app's user before the rotation, its password and its database.
        old: String,
        old_password: SecretString,
        database: String,
        session: AwsSession,
        secret_id: String,
        db: Arc<dyn DbPort>,
        /// The PostgreSQL server (flavor) of a PostgreSQL app.
        pg_flavor: PgFlavor,
        ctx: Ctx,
        plan: Plan,
        dir: tempfile::TempDir,
    }

    async fn aws_session() -> AwsSession {
        let opts = AwsOptions {
            endpoint_url: Some(MotoServer::shared().endpoint_url()),
            region: Some("eu-west-1".into()),
            ..Default::default()
        };
        AwsSession::with_credentials(&opts, &StaticCredentials::new("testing", "testing"))
            .await
            .unwrap()
    }

    /// The app's secret as GOV.UK keeps it, with a key that must survive.
    async fn app_secret(session: &AwsSession, id: &str, user: &str, password: &SecretString, host: &str) {
        Client::new(session.sdk_config())
            .create_secret()
            .name(id)
            .secret_string(
                json!({"username": user, "password": password.expose_secret(),
                       "host": host, "hostReplica": "replica.internal"})
                .to_string(),
            )
            .send()
            .await
            .expect("create the app secret in moto");
    }

    /// An app's database side, before any cluster is attached.
    struct Parts {
        engine: Engine,
        /// The MySQL-family server (unused for PostgreSQL).
        flavor: MysqlFlavor,
        old: String,
        old_password: SecretString,
        database: String,
        session: AwsSession,
        secret_id: String,
        db: Arc<dyn DbPort>,
        pg_flavor: PgFlavor,
    }

    /// An app like signon: its database, a user that owns a table and
    /// defines a view, and its secret `govuk/<app>/mysql`.
    async fn mysql_parts(flavor: MysqlFlavor) -> Parts {
        let server = MysqlServer::shared_flavor(flavor);
        let app = server.create_app("signon").await.expect("create the app");
        let as_app =
            MysqlDb::connect(&server.url(&app.user, app.password.expose_secret(), Some(&app.database)))
                .await
                .unwrap();
        as_app
            .execute(&[
                Statement::new("CREATE TABLE users (id INT PRIMARY KEY)"),
                Statement::new("INSERT INTO users VALUES (1), (2)"),
                Statement::new("CREATE VIEW active_users AS SELECT COUNT(*) AS n FROM users"),
            ])
            .await
            .unwrap();
        as_app.close().await;
        let session = aws_session().await;
        let secret_id = format!("govuk/{}/mysql", app.user);
        let host = format!("127.0.0.1:{}", server.port());
        app_secret(&session, &secret_id, &app.user, &app.password, &host).await;
        let admin = MysqlDb::connect(&server.admin_url(None)).await.unwrap();
        let db = MysqlPort::new(admin, server.host(), server.port(), &app.database);
        Parts {
            engine: Engine::Mysql,
            flavor,
            old: app.user,
            old_password: app.password,
            database: app.database,
            session,
            secret_id,
            db: Arc::new(db),
            pg_flavor: PgFlavor::default(),
        }
    }

    /// An app like account-api whose login user owns its database and every
    /// object in it (not on owner roles yet). `hostile` names break naive
    /// quoting (they cannot go into an unescaped DATABASE_URL, so the
    /// end-to-end tests use plain ones, as GOV.UK does).
    async fn postgres_parts(pg_flavor: PgFlavor, hostile: bool) -> Parts {
        let pg = PostgresServer::shared_of(pg_flavor);
        let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        let user = if hostile {
            format!("account-api-{tag} it's \"q\" %")
        } else {
            format!("account-api-{tag}")
        };
        let database = format!("account-api-{tag}_production");
        let password = secret::generate_password();
        pg.seed_app(&user, &password, &database)
            .await
            .expect("seed the app");
        let session = aws_session().await;
        let secret_id = format!("govuk/account-api-{tag}/postgres");
        let host = format!("127.0.0.1:{}", pg.port());
        app_secret(&session, &secret_id, &user, &password, &host).await;
        let admin = PgDb::connect(pg.admin_url(&database).expose_secret())
            .await
            .unwrap();
        let db = PgPort::new(admin, "127.0.0.1", pg.port(), &database);
        Parts {
            engine: Engine::Postgres,
            flavor: MysqlFlavor::Mysql,
            old: user,
            old_password: password,
            database,
            session,
            secret_id,
            db: Arc::new(db),
            pg_flavor,
        }
    }

    impl World {
        async fn mysql(flavor: MysqlFlavor) -> World {
            World::assemble(mysql_parts(flavor).await, |_| {}, |_| Arc::new(NoCluster))
        }

        async fn postgres() -> World {
            World::postgres_on(PgFlavor::default()).await
        }

        async fn postgres_on(flavor: PgFlavor) -> World {
            World::assemble(
                postgres_parts(flavor, true).await,
                |_| {},
                |_| Arc::new(NoCluster),
            )
        }

        /// The rotation of `p`'s app in "production": `rename` adjusts the
        /// target's names, `cluster` gives its cluster port.
        fn assemble(
            p: Parts,
            rename: impl FnOnce(&mut Target),
            cluster: impl FnOnce(&Target) -> Arc<dyn ClusterPort>,
        ) -> World {
            let mut target = Target::new("production", &p.old, p.engine);
            target.database = p.database.clone();
            target.app_secret = p.secret_id.clone();
            rename(&mut target);
            let ports = EnvPorts {
                cluster: cluster(&target),
                target,
                db: p.db.clone(),
                secrets: Arc::new(AwsSecrets::new(p.session.clone(), &p.secret_id)),
            };
            let spec = PlanSpec {
                app: p.old.clone(),
                engine: p.engine,
                envs: vec!["production".into()],
                mode: Mode::Normal,
                restores: rotui::rotation::plan::default_restores(),
            };
            World {
                engine: p.engine,
                flavor: p.flavor,
                old: p.old,
                old_password: p.old_password,
                database: p.database,
                session: p.session,
                secret_id: p.secret_id,
                db: p.db,
                pg_flavor: p.pg_flavor,
                plan: Plan::build(&spec).unwrap(),
                ctx: Ctx::new([ports]),
                dir: tempfile::tempdir().unwrap(),
            }
        }

        fn journal(&self) -> Journal {
            Journal::for_spec(self.dir.path(), &self.plan.spec)
        }

        fn opts(&self, stop_after: &str) -> RunOptions {
            RunOptions {
                yes: true,
                stop_after: Some(StepId(format!("production/{stop_after}"))),
                call_timeout: Duration::from_secs(20),
                ..Default::default()
            }
        }

        /// Resume from the journal (or start) and run until `step` is done.
        async fn run_to(&self, step: &str) -> Rotation {
            self.run_to_with(step, &self.journal()).await
        }

        /// [`run_to`] with `journal`: another laptop's state directory.
        async fn run_to_with(&self, step: &str, journal: &Journal) -> Rotation {
            let o = self.opts(step);
            let r = runner::start_or_resume(&self.plan.spec, &self.ctx, journal, &o)
                .await
                .unwrap();
            let out = runner::run(&self.plan, &self.ctx, &r, journal, &o).await;
            let want = RunOutcome::Waiting(Wait::Paused {
                after: StepId(format!("production/{step}")),
            });
            assert_eq!(out, want);
            r
        }

        /// The app secret's tags (the rotation mark), read with the SDK.
        async fn tags(&self) -> Vec<(String, String)> {
            Client::new(self.session.sdk_config())
                .describe_secret()
                .secret_id(&self.secret_id)
                .send()
                .await
                .unwrap()
                .tags
                .unwrap_or_default()
                .into_iter()
                .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
                .collect()
        }

        /// Every version of the app secret, deprecated ones included (SDK).
        async fn versions(&self) -> usize {
            Client::new(self.session.sdk_config())
                .list_secret_version_ids()
                .secret_id(&self.secret_id)
                .include_deprecated(true)
                .send()
                .await
                .unwrap()
                .versions
                .unwrap_or_default()
                .len()
        }

        /// How many writes the journal records (a rerun that writes nothing adds none).
        async fn calls(&self) -> usize {
            self.journal()
                .entries()
                .unwrap()
                .iter()
                .filter(|e| matches!(e.event, Event::Call { .. }))
                .count()
        }

        /// AWSCURRENT, read with the real AWS module.
        async fn current(&self) -> rotui::aws::AppSecret {
            self.session.secrets().app_secret(&self.secret_id).await.unwrap()
        }

        /// Log in as the app does and read its data: the number of active users.
        async fn app_reads(&self, user: &str, password: &SecretString) -> Result<i64, String> {
            match self.engine {
                Engine::Mysql => {
                    let s = MysqlServer::shared_flavor(self.flavor);
                    let db = MysqlDb::connect(&s.url(user, password.expose_secret(), Some(&self.database)))
                        .await
                        .map_err(|e| e.to_string())?;
                    let n = db.query_scalar("SELECT n FROM active_users").await;
                    db.close().await;
                    let n = n.map_err(|e| e.to_string())?.unwrap_or_default();
                    n.parse().map_err(|_| format!("not a number: {n}"))
                }
                Engine::Postgres => {
                    let mut c = self.pg_session(user, password).await?;
                    let n = sqlx::query_scalar("SELECT count(*) FROM active_users")
                        .fetch_one(&mut c)
                        .await
                        .map_err(|e| secret::redact(&e.to_string()));
                    let _ = c.close().await;
                    n
                }
            }
        }

        async fn pg_session(&self, user: &str, password: &SecretString) -> Result<PgConnection, String> {
            let url = PostgresServer::shared_of(self.pg_flavor).url(user, password, &self.database);
            PgConnection::connect(url.expose_secret())
                .await
                .map_err(|e| secret::redact(&e.to_string()))
        }

        /// A session as `user` that stays open until closed.
        async fn hold_session(&self, user: &str, password: &SecretString) -> Held {
            match self.engine {
                Engine::Mysql => {
                    let s = MysqlServer::shared_flavor(self.flavor);
                    let db = MysqlDb::connect(&s.url(user, password.expose_secret(), Some(&self.database)))
                        .await
                        .unwrap();
                    db.query_scalar("SELECT 1").await.unwrap();
                    Held::Mysql(db)
                }
                Engine::Postgres => Held::Pg(self.pg_session(user, password).await.unwrap()),
            }
        }

        fn step(&self, slug: &str) -> rotui::rotation::Step {
            self.plan
                .step(&StepId(format!("production/{slug}")))
                .unwrap()
                .clone()
        }

        /// The steps up to and including the promotion, in plan order.
        fn until_promotion(&self) -> Vec<String> {
            let mut out = vec![];
            for s in &self.plan.steps {
                out.push(s.id.0.trim_start_matches("production/").to_owned());
                if s.id.0 == "production/promote" {
                    break;
                }
            }
            out
        }
    }

    /// A fresh, empty state directory: another laptop.
    fn laptop(w: &World) -> (tempfile::TempDir, Journal) {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::for_spec(dir.path(), &w.plan.spec);
        (dir, journal)
    }

    /// The database and Secrets Manager half of a rotation, interrupted and
    /// resumed at every step boundary, each time from an empty state
    /// directory (another laptop: the rotation mark on the secret is all it
    /// has), with the app's current credentials checked between every two
    /// steps and the mark checked to hold no secret.
    async fn until_promotion_interrupted_at_every_step(w: &World) -> Rotation {
        let mut rotation: Option<Rotation> = None;
        let mut journals = vec![];
        for step in w.until_promotion() {
            let (dir, journal) = laptop(w);
            let r = w.run_to_with(&step, &journal).await;
            assert_eq!(rotation.get_or_insert_with(|| r.clone()), &r, "at {step}");
            let cur = w.current().await;
            let n = w
                .app_reads(&cur.username, &cur.password)
                .await
                .unwrap_or_else(|e| panic!("AWSCURRENT cannot work after {step}: {e}"));
            assert_eq!(n, 2, "after {step}");
            // The mark names the rotation, for anyone, and holds no secret.
            let tags = w.tags().await;
            let text = format!("{tags:?}");
            assert!(text.contains(&r.id) && text.contains("rotui:holder"), "{text}");
            crate::support::assert_no_secret(&text, &[&cur.password, &w.old_password]);
            let first = journal.entries().unwrap().remove(0).event;
            if journals.is_empty() {
                assert!(matches!(first, Event::Started { .. }), "{first:?}");
            } else {
                assert!(matches!(first, Event::Adopted { .. }), "at {step}: {first:?}");
            }
            journals.push((dir, journal));
        }
        let r = rotation.unwrap();
        let cur = w.current().await;
        assert_eq!(cur.username, r.new_username);
        assert_ne!(cur.password.expose_secret(), w.old_password.expose_secret());
        assert!(cur.host.starts_with("127.0.0.1:"), "{}", cur.host);
        assert_eq!(cur.other["hostReplica"], "replica.internal", "other keys kept");
        // One pending version was written: the original and the new one.
        assert_eq!(w.versions().await, 2);
        // The old user keeps working until the app has moved and it is dropped.
        assert_eq!(w.app_reads(&w.old, &w.old_password).await, Ok(2));

        // Running again, from yet another laptop, changes nothing.
        let (_dir, journal) = laptop(w);
        let again = w.run_to_with("promote", &journal).await;
        assert_eq!(again, r);
        assert_eq!(
            again.old_user("production"),
            w.old,
            "the old user, though AWSPREVIOUS now"
        );
        let calls = journal.entries().unwrap();
        assert!(
            !calls.iter().any(|e| matches!(e.event, Event::Call { .. })),
            "{calls:?}"
        );

        // No password in any journal, though together they list every write.
        let raw: String = journals
            .iter()
            .map(|(_, j)| std::fs::read_to_string(j.path()).unwrap())
            .collect();
        assert!(!raw.contains(cur.password.expose_secret()));
        assert!(!raw.contains(w.old_password.expose_secret()));
        assert!(
            raw.contains("CREATE USER")
                && raw.contains("PutSecretValue")
                && raw.contains("UpdateSecretVersionStage")
        );

        // The next step needs the cluster: its failure is clear and names it.
        match runner::run(&w.plan, &w.ctx, &r, &w.journal(), &w.opts("drain")).await {
            RunOutcome::Failed(e) => {
                assert_eq!(e.step, Some(StepId("production/force-sync".into())));
                assert!(
                    e.to_string().contains("Kubernetes: this test has no cluster"),
                    "{e}"
                );
            }
            other => panic!("{other:?}"),
        }
        r
    }

    /// `name::mysql` and `name::mariadb`, each running `name(flavor)`.
    macro_rules! per_flavor {
        ($name:ident) => {
            mod $name {
                use super::*;
                #[tokio::test]
                async fn mysql() {
                    super::$name(MysqlFlavor::Mysql).await
                }
                #[tokio::test]
                async fn mariadb() {
                    super::$name(MysqlFlavor::Mariadb).await
                }
            }
        };
    }

    per_flavor!(mysql_until_promotion_on_moto);
    async fn mysql_until_promotion_on_moto(flavor: MysqlFlavor) {
        let w = World::mysql(flavor).await;
        let r = until_promotion_interrupted_at_every_step(&w).await;
        // Same rights, and the view no longer depends on the old definer.
        let admin = MysqlDb::connect(&MysqlServer::shared_flavor(flavor).admin_url(None))
            .await
            .unwrap();
        let (old, new) = (Account::new(&w.old, "%"), Account::new(&r.new_username, "%"));
        assert!(
            admin
                .verify_grants_equivalent(&old, &new)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(admin.objects_defined_by(&old, None).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn postgres_until_promotion_with_owner_role_conversion() {
        postgres_until_promotion(PgFlavor::Pg17).await;
    }

    #[tokio::test]
    async fn postgres_15_until_promotion_with_owner_role_conversion() {
        postgres_until_promotion(PgFlavor::Pg15).await;
    }

    async fn postgres_until_promotion(flavor: PgFlavor) {
        let w = World::postgres_on(flavor).await;
        let r = until_promotion_interrupted_at_every_step(&w).await;
        let owner = format!("{}-owner-role", w.old);
        // Everything belongs to the owner role, which both users inherit.
        assert!(w.db.objects_of(&w.old).await.unwrap().is_empty());
        assert!(!w.db.objects_of(&owner).await.unwrap().is_empty());
        let new = w.db.user(&r.new_username).await.unwrap().unwrap();
        assert!(new.member_of.contains(&owner), "{:?}", new.member_of);
        // What the new user creates belongs to the owner role, not to itself.
        let cur = w.current().await;
        let mut c = w.pg_session(&cur.username, &cur.password).await.unwrap();
        sqlx::query("CREATE TABLE made_by_new (id int)")
            .execute(&mut c)
            .await
            .unwrap();
        let by: String =
            sqlx::query_scalar("SELECT tableowner::text FROM pg_tables WHERE tablename = 'made_by_new'")
                .fetch_one(&mut c)
                .await
                .unwrap();
        assert_eq!(by, owner);
        let _ = c.close().await;
    }

    /// Two operators run `rotate` at the same moment, each with its own
    /// state directory: exactly one new user and one pending version; the
    /// other is refused, naming the holder. Then the winner's rotation is
    /// resumed by its holder, from another laptop.
    async fn two_at_once(w: &World) {
        let (_a_dir, a_journal) = laptop(w);
        let (_b_dir, b_journal) = laptop(w);
        let mut alice = w.opts("test-login");
        alice.holder = Some("alice@laptop".into());
        let mut bob = alice.clone();
        bob.holder = Some("bob@desk".into());
        let go = |o: RunOptions, journal: Journal| async move {
            let r = runner::start_or_resume(&w.plan.spec, &w.ctx, &journal, &o).await?;
            match runner::run(&w.plan, &w.ctx, &r, &journal, &o).await {
                RunOutcome::Failed(e) => Err(e),
                _ => Ok(r),
            }
        };
        let (a, b) = tokio::join!(go(alice, a_journal), go(bob, b_journal));
        let (won, refused, winner) = match (a, b) {
            (Ok(r), Err(e)) => (r, e, "alice@laptop"),
            (Err(e), Ok(r)) => (r, e, "bob@desk"),
            other => panic!("exactly one must win: {other:?}"),
        };
        assert!(matches!(refused.error, StepError::Held(_)), "{refused}");
        assert!(
            refused.to_string().contains(&format!("held by {winner}")),
            "{refused}"
        );
        // One new user, one pending version (beside the original).
        assert!(w.db.user(&won.new_username).await.unwrap().is_some());
        assert_eq!(w.versions().await, 2);
        let pending = w
            .ctx
            .env("production")
            .unwrap()
            .secrets
            .pending()
            .await
            .unwrap()
            .unwrap();
        assert_eq!(pending.username, won.new_username);
        let mut other = won.new_username.clone();
        other.push_str("_2");
        assert!(w.db.user(&other).await.unwrap().is_none());
        let past = w
            .ctx
            .env("production")
            .unwrap()
            .secrets
            .past_usernames()
            .await
            .unwrap();
        assert_eq!(past.len(), 2, "{past:?}");
    }

    #[tokio::test]
    async fn two_operators_at_once_make_one_new_user_mysql() {
        two_at_once(&World::mysql(MysqlFlavor::Mysql).await).await;
    }

    #[tokio::test]
    async fn two_operators_at_once_make_one_new_user_postgres() {
        two_at_once(&World::postgres().await).await;
    }

    /// On moto: another operator is refused naming the holder while it is
    /// fresh, and takes over once its heartbeat (a tag) is 16 minutes old;
    /// the take-over is in the mark and in the taker's journal.
    #[tokio::test]
    async fn a_stale_holder_is_taken_over_and_it_is_recorded() {
        let w = World::mysql(MysqlFlavor::Mysql).await;
        let mut alice = w.opts("create-user");
        alice.holder = Some("alice@laptop".into());
        let r = runner::start_or_resume(&w.plan.spec, &w.ctx, &w.journal(), &alice)
            .await
            .unwrap();
        runner::run(&w.plan, &w.ctx, &r, &w.journal(), &alice).await;
        let (_dir, journal) = laptop(&w);
        let mut bob = w.opts("test-login");
        bob.holder = Some("bob@desk".into());
        bob.take_over = true;
        let err = runner::start_or_resume(&w.plan.spec, &w.ctx, &journal, &bob)
            .await
            .unwrap_err();
        assert!(matches!(err.error, StepError::Held(_)), "{err}");
        assert!(err.to_string().contains("held by alice@laptop since"), "{err}");

        // Alice's last heartbeat, as the tag says, 16 minutes ago.
        let old = (chrono::Utc::now() - chrono::Duration::minutes(16))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Client::new(w.session.sdk_config())
            .tag_resource()
            .secret_id(&w.secret_id)
            .tags(
                aws_sdk_secretsmanager::types::Tag::builder()
                    .key("rotui:heartbeat")
                    .value(old)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let taken = runner::start_or_resume(&w.plan.spec, &w.ctx, &journal, &bob)
            .await
            .unwrap();
        assert_eq!(taken, r);
        let tags = w.tags().await;
        let tag = |k: &str| tags.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        assert_eq!(tag("rotui:holder").as_deref(), Some("bob@desk"));
        assert_eq!(tag("rotui:taken-over-from").as_deref(), Some("alice@laptop"));
        let entries = journal.entries().unwrap();
        assert!(
            entries
                .iter()
                .any(|e| matches!(&e.event, Event::TakenOver { from, .. } if from == "alice@laptop"))
        );
        assert_eq!(
            runner::run(&w.plan, &w.ctx, &taken, &journal, &bob).await,
            RunOutcome::Waiting(Wait::Paused {
                after: StepId("production/test-login".into())
            })
        );
        // Now Alice is refused, naming Bob.
        let err = runner::start_or_resume(&w.plan.spec, &w.ctx, &w.journal(), &alice)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("held by bob@desk"), "{err}");
    }

    /// The drop refuses while the secret names the old user or a session
    /// uses it, then drops it once unused, and is idempotent.
    async fn drop_only_once_unused(w: &World) {
        let drop_step = w.step("drop-old-user");
        let drain_step = w.step("drain");
        let o = w.opts("promote");

        // Before promotion the app secret names the old user: refused.
        let r = w.run_to("test-login").await;
        let cx = StepCtx {
            ctx: &w.ctx,
            rotation: &r,
            step: &drop_step,
            opts: &o,
            recorder: None,
        };
        let err = drop_step.apply(&cx).await.unwrap_err();
        assert!(
            matches!(
                &err,
                StepError::Interlock {
                    kind: InterlockKind::SecretStillNamesUser,
                    ..
                }
            ),
            "{err}"
        );

        // Promoted, but the app still has a session as the old user: refused.
        let r = w.run_to("promote").await;
        let held = w.hold_session(&w.old, &w.old_password).await;
        let cx = StepCtx {
            ctx: &w.ctx,
            rotation: &r,
            step: &drain_step,
            opts: &o,
            recorder: None,
        };
        let seen = drain_step.observe(&cx).await.unwrap();
        assert!(!seen.is_done(), "{seen:?}");
        let cx = StepCtx {
            step: &drop_step,
            ..cx
        };
        let err = drop_step.apply(&cx).await.unwrap_err();
        assert!(
            matches!(
                &err,
                StepError::Interlock {
                    kind: InterlockKind::ConnectionsRemain,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(w.app_reads(&w.old, &w.old_password).await, Ok(2));

        // The session ends: the drop goes through, and applying it again changes nothing.
        held.close().await;
        for _ in 0..100 {
            if w.db.connections(&w.old).await.unwrap() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // PostgreSQL's preview says why it reassigns and drops nothing owned:
        // the owner role owns everything since ensure-owner-role.
        let preview = drop_step.preview(&cx).await.unwrap().join("\n");
        if w.plan.spec.engine == Engine::Postgres {
            let owner = format!("{}-owner-role", w.old);
            assert!(
                preview.contains(&format!(
                    "-- no REASSIGN OWNED or DROP OWNED needed: {} owns nothing",
                    w.old
                )) && preview.contains(&format!("{owner} owns everything")),
                "{preview}"
            );
            assert!(!preview.contains("REASSIGN OWNED BY"), "{preview}");
        }
        assert!(preview.contains("DROP USER"), "{preview}");
        drop_step.apply(&cx).await.unwrap();
        drop_step.verify(&cx).await.unwrap();
        drop_step.apply(&cx).await.unwrap();
        assert!(w.db.user(&w.old).await.unwrap().is_none());
        assert!(w.app_reads(&w.old, &w.old_password).await.is_err());
        let cur = w.current().await;
        assert_eq!(w.app_reads(&cur.username, &cur.password).await, Ok(2));
    }

    per_flavor!(mysql_old_user_is_dropped_only_once_unused);
    async fn mysql_old_user_is_dropped_only_once_unused(flavor: MysqlFlavor) {
        drop_only_once_unused(&World::mysql(flavor).await).await;
    }

    #[tokio::test]
    async fn postgres_old_user_is_reassigned_and_dropped_only_once_unused() {
        postgres_old_user_dropped(PgFlavor::Pg17).await;
    }

    #[tokio::test]
    async fn postgres_15_old_user_is_reassigned_and_dropped_only_once_unused() {
        postgres_old_user_dropped(PgFlavor::Pg15).await;
    }

    async fn postgres_old_user_dropped(flavor: PgFlavor) {
        let w = World::postgres_on(flavor).await;
        drop_only_once_unused(&w).await;
        // Nothing was lost with it: the owner role owns every object.
        let owner = format!("{}-owner-role", w.old);
        assert!(w.db.objects_of(&owner).await.unwrap().len() >= 8);
    }

    /// `rotui plan` connects as every command does (`connect::open`): the
    /// admin password comes from `<env>-rds-admin-passwords` when the URL has
    /// none; wrong settings give clear, secret-free errors.
    #[tokio::test]
    async fn plan_reads_the_admin_password_from_secrets_manager() {
        let server = MysqlServer::shared();
        let app = server.create_app("signon").await.unwrap();
        let session = aws_session().await;
        let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        let env = format!("env{tag}");
        let mut target = Target::new(&env, &app.user, Engine::Mysql);
        target.app_secret = format!("govuk/{}/mysql", app.user);
        app_secret(
            &session,
            &target.app_secret,
            &app.user,
            &app.password,
            "127.0.0.1",
        )
        .await;
        Client::new(session.sdk_config())
            .create_secret()
            .name(&target.admin_secret)
            .secret_string(json!({ &app.user: server.admin_password().expose_secret() }).to_string())
            .send()
            .await
            .unwrap();
        // A cluster that is not there: connecting does not contact it, and
        // before the promotion no step needs it.
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        let port = rotui_sandbox::guard::free_port();
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{port}\n\
                 contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user: {{}}\n"
            ),
        )
        .unwrap();
        let plan = |url: &str, key: &str| {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_rotui"))
                .args([
                    "plan",
                    "--env",
                    &env,
                    "--app",
                    &app.user.replace('_', "-"),
                    "--engine",
                    "mysql",
                ])
                .args(["--database", &app.database, "--app-secret", &target.app_secret])
                .args(["--admin-secret-key", key])
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap())
                .env("HOME", dir.path())
                .env("KUBECONFIG", &kubeconfig)
                .env("ROTUI_STATE_DIR", dir.path().join("state"))
                .env("ROTUI_DB_URL", url)
                .env("AWS_ENDPOINT_URL", MotoServer::shared().endpoint_url())
                .env("AWS_REGION", "eu-west-1")
                .env("AWS_ACCESS_KEY_ID", "testing")
                .env("AWS_SECRET_ACCESS_KEY", "testing")
                .output()
                .expect("rotui runs");
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
            )
        };

        let url = format!("mysql://aws_db_admin@127.0.0.1:{}", server.port());
        let (ok, text) = plan(&url, &app.user);
        assert!(ok, "{text}");
        assert!(
            text.contains(&format!("old user: {} in {env}", app.user)),
            "AWSCURRENT read: {text}"
        );
        assert!(
            text.contains(&format!("now: done: {}@%", app.user)),
            "the database read with the admin password from Secrets Manager: {text}"
        );
        assert!(!text.contains(server.admin_password().expose_secret()));

        // A wrong password in the URL: named as such, never shown.
        let bad = format!(
            "mysql://aws_db_admin:NotTheAdminPassword9@127.0.0.1:{}",
            server.port()
        );
        let (ok, text) = plan(&bad, &app.user);
        assert!(!ok, "{text}");
        assert!(text.to_lowercase().contains("password"), "{text}");
        assert!(!text.contains("NotTheAdminPassword9"), "{text}");

        // No admin password under the app's key: the error names the keys there are.
        let (ok, text) = plan(&url, "not-an-app");
        assert!(!ok, "{text}");
        assert!(text.contains(&app.user), "{text}");
        assert!(!text.contains(server.admin_password().expose_secret()), "{text}");
    }

    /// `rotui plan` on live systems shows every step with its statements,
    /// masked, and writes nothing anywhere.
    #[tokio::test]
    async fn plan_cmd_on_live_systems_writes_nothing() {
        for w in [World::mysql(MysqlFlavor::Mysql).await, World::postgres().await] {
            let before = w.current().await;
            let mut out = Vec::new();
            rotui::rotation::cli::plan_cmd(&w.plan.spec, &w.ctx, &w.journal(), &w.opts("promote"), &mut out)
                .await
                .unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains(rotui::secret::MASK));
            assert!(!text.contains(w.old_password.expose_secret()));
            // Before the promotion the cluster steps wait for it; the
            // cluster (absent here) is not what decides they are not done.
            assert!(
                text.contains("waiting: needs production/promote first; now: AWSCURRENT still names"),
                "{text}"
            );
            assert!(!text.contains("unknown:"), "{text}");
            if w.engine == Engine::Postgres {
                assert!(text.contains("REASSIGN OWNED"), "{text}");
                assert!(text.contains("NOLOGIN"), "{text}");
                // The new user's statements depend on the owner role the conversion makes.
                assert!(
                    text.contains("convert the database to owner roles first"),
                    "{text}"
                );
            } else {
                assert!(text.contains("CREATE USER"), "{text}");
                assert!(text.contains("GRANT ALL PRIVILEGES ON"), "{text}");
                assert!(
                    text.contains("ALTER DEFINER") || text.contains("DEFINER="),
                    "{text}"
                );
            }
            // Nothing changed: no journal, same secret, no new user, old user intact.
            assert!(!w.journal().path().exists());
            let after = w.current().await;
            assert_eq!(after.version_id, before.version_id);
            let objects: Vec<String> =
                w.db.objects_of(&w.old)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|o| o.name)
                    .collect();
            assert!(!objects.is_empty(), "the old user's objects were moved");
            let new =
                rotui::target::new_username(&w.old, w.engine, chrono::Utc::now().date_naive(), |_| false);
            assert!(w.db.user(&new).await.unwrap().is_none());
        }
    }

    /// A TCP relay to a server that a test can cut, as a network or a
    /// database outage would: open sessions die, new ones are refused.
    struct Relay {
        port: u16,
        up: Arc<std::sync::atomic::AtomicBool>,
        sessions: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    }

    impl Relay {
        async fn start(upstream: u16) -> Relay {
            use std::sync::atomic::Ordering;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let relay = Relay {
                port: listener.local_addr().unwrap().port(),
                up: Arc::new(true.into()),
                sessions: Arc::default(),
            };
            let (up, sessions) = (relay.up.clone(), relay.sessions.clone());
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        continue; // dropped: the client sees the connection closed
                    }
                    let task = tokio::spawn(async move {
                        if let Ok(mut out) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await {
                            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                        }
                    });
                    sessions.lock().unwrap().push(task.abort_handle());
                }
            });
            relay
        }

        fn cut(&self) {
            self.up.store(false, std::sync::atomic::Ordering::SeqCst);
            for s in self.sessions.lock().unwrap().drain(..) {
                s.abort();
            }
        }

        fn restore(&self) {
            self.up.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// The database goes down, then Secrets Manager: each failure names the
    /// system in words, holds no secret, and the next run resumes.
    #[tokio::test]
    async fn outages_fail_clearly_and_the_rotation_resumes() {
        let w = World::mysql(MysqlFlavor::Mariadb).await;
        let server = MysqlServer::shared();
        let relay = Relay::start(server.port()).await;
        let admin = MysqlDb::connect_with(
            &format!("mysql://aws_db_admin@127.0.0.1:{}", relay.port),
            &server.admin_password(),
        )
        .await
        .unwrap();
        let mut target = Target::new("production", &w.old, Engine::Mysql);
        target.database = w.database.clone();
        target.app_secret = w.secret_id.clone();
        let ports = |db: Arc<dyn DbPort>, session: AwsSession| {
            Ctx::new([EnvPorts {
                target: target.clone(),
                db,
                secrets: Arc::new(AwsSecrets::new(session, &w.secret_id)),
                cluster: Arc::new(NoCluster),
            }])
        };
        let relayed: Arc<dyn DbPort> = Arc::new(MysqlPort::new(admin, "127.0.0.1", relay.port, &w.database));
        let good = ports(relayed.clone(), w.session.clone());
        let run = |ctx: Ctx, step: &'static str| {
            let (plan, journal, o) = (w.plan.clone(), w.journal(), w.opts(step));
            async move {
                let r = runner::start_or_resume(&plan.spec, &ctx, &journal, &o).await?;
                Ok::<_, runner::RotationError>(runner::run(&plan, &ctx, &r, &journal, &o).await)
            }
        };
        let paused = |step: &str| {
            RunOutcome::Waiting(Wait::Paused {
                after: StepId(format!("production/{step}")),
            })
        };
        assert_eq!(
            run(good.clone(), "create-user").await.unwrap(),
            paused("create-user")
        );

        // The database goes away.
        let o = w.opts("promote");
        let o = RunOptions {
            call_timeout: Duration::from_secs(5),
            ..o
        };
        // Starting (or resuming) takes the database lock first: that fails,
        // before any step, and nothing is written.
        let r = w.run_to("create-user").await;
        relay.cut();
        match runner::start_or_resume(&w.plan.spec, &good, &w.journal(), &o).await {
            Err(e) => {
                assert_eq!(e.step, None);
                let StepError::Port(p) = &e.error else {
                    panic!("{e}")
                };
                assert_eq!(p.system, System::Database);
                assert!(
                    matches!(
                        p.kind,
                        PortErrorKind::Unreachable | PortErrorKind::Timeout | PortErrorKind::Other
                    ),
                    "{e}"
                );
                assert!(!e.to_string().contains(server.admin_password().expose_secret()));
            }
            Ok(r) => panic!("{r:?}"),
        }
        match runner::run(&w.plan, &good, &r, &w.journal(), &o).await {
            RunOutcome::Failed(e) => assert!(matches!(e.error, StepError::Port(_)), "{e}"),
            other => panic!("{other:?}"),
        }
        relay.restore();

        // Secrets Manager cannot be reached (an endpoint where nothing listens).
        let nowhere = AwsSession::with_credentials(
            &AwsOptions {
                endpoint_url: Some(format!("http://127.0.0.1:{}", rotui_sandbox::guard::free_port())),
                region: Some("eu-west-1".into()),
                timeout: Some(Duration::from_secs(5)),
                ..Default::default()
            },
            &StaticCredentials::new("testing", "testing"),
        )
        .await
        .unwrap();
        let no_aws = ports(relayed.clone(), nowhere);
        let r = runner::start_or_resume(&w.plan.spec, &good, &w.journal(), &o)
            .await
            .unwrap();
        // The run reads the rotation mark before any step: that fails first.
        match runner::run(&w.plan, &no_aws, &r, &w.journal(), &o).await {
            RunOutcome::Failed(e) => {
                assert_eq!(e.step, None);
                let StepError::Port(p) = &e.error else {
                    panic!("{e}")
                };
                assert_eq!(p.system, System::SecretsManager, "{e}");
                assert_eq!(p.kind, PortErrorKind::Unreachable, "{e}");
            }
            other => panic!("{other:?}"),
        }

        // Both back: the same rotation carries on to the promotion.
        assert_eq!(run(good.clone(), "promote").await.unwrap(), paused("promote"));
        let cur = w.current().await;
        assert_eq!(cur.username, r.new_username);
        assert_eq!(w.app_reads(&cur.username, &cur.password).await, Ok(2));
        let journal = std::fs::read_to_string(w.journal().path()).unwrap();
        assert_eq!(journal.matches("\"event\":\"failed\"").count(), 2);
        let started = journal.matches("\"event\":\"started\"").count();
        assert_eq!(started, 1, "one rotation, resumed");
    }

    /// The sandbox cluster: the API server, its controllers (External
    /// Secrets reading moto through the SDK, Reloader, Deployments) and app
    /// pods that hold real database sessions with the DATABASE_URL they started with.
    struct Sandbox {
        client: kube::Client,
        kubeconfig: std::path::PathBuf,
        cluster: rotui_sandbox::controllers::Cluster,
        server: rotui_sandbox::apiserver::KubeApiServer,
        _dir: tempfile::TempDir,
    }

    impl Sandbox {
        async fn start(session: &AwsSession) -> Sandbox {
            use rotui_sandbox::apiserver::KubeApiServer;
            use rotui_sandbox::controllers::{AppPods, Cluster};
            let pods = AppPods::new();
            let server = KubeApiServer::start(Arc::new(pods.clone())).await.unwrap();
            let mut config = kube::Config::new(server.url().parse().unwrap());
            config.default_namespace = "apps".into();
            let client = kube::Client::try_from(config).unwrap();
            let source = Arc::new(CurrentStage(Client::new(session.sdk_config())));
            let cluster = Cluster::start(client.clone(), "apps", source, pods);
            let dir = tempfile::tempdir().unwrap();
            let kubeconfig = dir.path().join("kubeconfig");
            server.write_kubeconfig(&kubeconfig, "apps").unwrap();
            Sandbox {
                client,
                kubeconfig,
                cluster,
                server,
                _dir: dir,
            }
        }
    }

    /// External Secrets' provider read, asking for AWSCURRENT by name. moto
    /// 5.2 does not move a secret's default version when AWSCURRENT moves
    /// (UpdateSecretVersionStage), so an unlabelled GetSecretValue there
    /// returns the old credentials; AWS itself returns AWSCURRENT either way.
    struct CurrentStage(Client);

    impl rotui_sandbox::controllers::SecretSource for CurrentStage {
        fn get(&self, key: &str) -> futures::future::BoxFuture<'static, Result<serde_json::Value, String>> {
            let (client, key) = (self.0.clone(), key.to_owned());
            Box::pin(async move {
                let out = client
                    .get_secret_value()
                    .secret_id(&key)
                    .version_stage("AWSCURRENT")
                    .send()
                    .await
                    .map_err(|e| {
                        secret::redact(&aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string())
                    })?;
                serde_json::from_str(out.secret_string().unwrap_or_default())
                    .map_err(|_| format!("secret {key} is not a JSON document"))
            })
        }
    }

    /// Poll until `f` holds, or fail naming `what`.
    async fn eventually<F, Fut>(what: &str, mut f: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !f().await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `parts`' app deployed in a fresh sandbox as GOV.UK has it (its
    /// ExternalSecret and a Deployment of two pods), running as the old user.
    async fn deployed(parts: Parts) -> (Sandbox, World) {
        use k8s_openapi::api::apps::v1::Deployment;
        use kube::api::{Api, PostParams};
        use rotui::k8s::{K8s, KubeOptions};
        use rotui::rotation::adapters::K8sCluster;
        use rotui_sandbox::controllers::{ExternalSecret, govuk};

        let sandbox = Sandbox::start(&parts.session).await;
        let k8s = K8s::connect(&KubeOptions {
            kubeconfig: Some(sandbox.kubeconfig.clone()),
            namespace: Some("apps".into()),
            ..Default::default()
        })
        .await
        .unwrap();
        let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        let w = World::assemble(
            parts,
            |t| {
                // Kubernetes names must be DNS labels.
                t.external_secret = format!("e2e-{tag}-{}", t.engine);
                t.k8s_secret = t.external_secret.clone();
                t.deployment = format!("e2e-{tag}");
            },
            |t| {
                Arc::new(K8sCluster::new(
                    k8s,
                    &t.external_secret,
                    &t.k8s_secret,
                    &t.deployment,
                    &t.container,
                ))
            },
        );
        let target = w.ctx.env("production").unwrap().target.clone();
        Api::<ExternalSecret>::namespaced(sandbox.client.clone(), "apps")
            .create(&PostParams::default(), &govuk::external_secret(&target))
            .await
            .unwrap();
        Api::<Deployment>::namespaced(sandbox.client.clone(), "apps")
            .create(&PostParams::default(), &govuk::deployment(&target, 2))
            .await
            .unwrap();
        let db = w.db.clone();
        let old = w.old.clone();
        eventually("the app's pods connected as the old user", || {
            let (db, old) = (db.clone(), old.clone());
            async move { db.connections(&old).await.unwrap_or(0) >= 2 }
        })
        .await;
        (sandbox, w)
    }

    fn sandbox_opts(w: &World, stop: Option<&str>) -> RunOptions {
        RunOptions {
            yes: true,
            typed: vec![w.old.clone()],
            stop_after: stop.map(|s| StepId(s.to_owned())),
            call_timeout: Duration::from_secs(20),
            sync_timeout: Duration::from_secs(30),
            rollout_timeout: Duration::from_secs(60),
            drain_timeout: Duration::from_secs(60),
            poll: Duration::from_millis(200),
            ..Default::default()
        }
    }

    /// A full rotation in the sandbox, interrupted and resumed at every step
    /// boundary, with the app's current credentials checked at each. With
    /// `laptops`, every resume starts from an empty state directory (another
    /// laptop, or another operator's: the rotation mark is all it has), also
    /// after the promotion, when the old user is only AWSPREVIOUS.
    async fn full_rotation(parts: Parts, laptops: bool) {
        let (_sandbox, w) = deployed(parts).await;
        let opts = |stop: Option<&str>| sandbox_opts(&w, stop);
        let started = std::time::Instant::now();
        let mut rotation: Option<Rotation> = None;
        let mut journals: Vec<(Option<tempfile::TempDir>, Journal)> = vec![];
        let mut next_journal = || {
            if laptops {
                let (dir, j) = laptop(&w);
                journals.push((Some(dir), j.clone()));
                j
            } else {
                if journals.is_empty() {
                    journals.push((None, w.journal()));
                }
                w.journal()
            }
        };
        let mut last_journal = None;
        for step in &w.plan.steps {
            let o = opts(Some(&step.id.0));
            let journal = next_journal();
            last_journal = Some(journal.clone());
            let r = runner::start_or_resume(&w.plan.spec, &w.ctx, &journal, &o)
                .await
                .unwrap();
            assert_eq!(rotation.get_or_insert_with(|| r.clone()), &r, "at {}", step.id);
            let out = runner::run(&w.plan, &w.ctx, &r, &journal, &o).await;
            // Stopping after the last step is the rotation's end.
            let want = if Some(step) == w.plan.steps.last() {
                RunOutcome::Done
            } else {
                RunOutcome::Waiting(Wait::Paused {
                    after: step.id.clone(),
                })
            };
            assert_eq!(out, want, "at {}", step.id);
            let cur = w.current().await;
            let n = w
                .app_reads(&cur.username, &cur.password)
                .await
                .unwrap_or_else(|e| panic!("AWSCURRENT cannot work after {}: {e}", step.id));
            assert_eq!(n, 2, "after {}", step.id);
        }
        let r = rotation.unwrap();
        // Finished: nothing is left to resume, on this laptop or another.
        let journal = last_journal.unwrap();
        let (_dir, elsewhere) = laptop(&w);
        for j in [&journal, &elsewhere] {
            let (next, resumed) = runner::decide(&w.plan.spec, &w.ctx, j, &opts(None))
                .await
                .unwrap();
            assert!(!resumed && next.id != r.id, "{next:?}");
        }
        eprintln!(
            "{} rotation in the sandbox, with a resume at every step{}: {:?}",
            w.engine,
            if laptops { " from an empty state dir" } else { "" },
            started.elapsed()
        );

        // The app runs as the new user only; the old one is gone.
        let cur = w.current().await;
        assert_eq!(cur.username, r.new_username);
        let creds = AppCredentials {
            username: cur.username.clone(),
            password: cur.password.clone(),
        };
        let ports = w.ctx.env("production").unwrap();
        assert!(ports.cluster.check_secret(&creds).await.unwrap().unwrap().matches);
        let rollout = ports.cluster.check_rollout(&creds).await.unwrap();
        assert!(rollout.complete && rollout.pods.len() == 2, "{rollout:?}");
        assert!(rollout.pods.iter().all(|p| p.check.matches), "{rollout:?}");
        assert!(w.db.user(&w.old).await.unwrap().is_none());
        assert_eq!(w.db.connections(&w.old).await.unwrap(), 0);
        assert!(w.db.connections(&r.new_username).await.unwrap() >= 2);
        if w.engine == Engine::Postgres {
            let owner = format!("{}-owner-role", w.old);
            assert!(w.db.objects_of(&owner).await.unwrap().len() >= 8);
        } else {
            assert!(w.db.objects_of(&w.old).await.unwrap().is_empty());
        }
        // One pending version in all; finished, the rotation's mark is gone.
        assert_eq!(w.versions().await, 2);
        let tags = w.tags().await;
        assert!(!tags.iter().any(|(k, _)| k.starts_with("rotui:")), "{tags:?}");
        // A complete journal (across the laptops), without a secret.
        let entries = journal.entries().unwrap();
        assert!(matches!(entries.last().unwrap().event, Event::Finished));
        let raw: String = journals
            .iter()
            .map(|(_, j)| std::fs::read_to_string(j.path()).unwrap())
            .collect();
        assert!(!raw.contains(cur.password.expose_secret()));
        assert!(!raw.contains(w.old_password.expose_secret()));
        for call in [
            "PutSecretValue",
            "UpdateSecretVersionStage",
            "force-sync",
            "CREATE USER",
            "DROP",
        ] {
            assert!(raw.contains(call), "the journal lacks {call}");
        }
    }

    // Rolling back, on the same worlds.
    mod rollback;
    // Users with account options, rotated to the end.
    mod account_options;
    // A DATABASE_URL that does not parse before rotui starts.
    mod unparsable_url;

    // MySQL 9.7 resumes from an empty state directory at every step;
    // MariaDB from the same one.
    per_flavor!(mysql_full_rotation_in_the_sandbox);
    async fn mysql_full_rotation_in_the_sandbox(flavor: MysqlFlavor) {
        full_rotation(mysql_parts(flavor).await, flavor == MysqlFlavor::Mysql).await;
    }

    /// Each resume from an empty state directory.
    #[tokio::test]
    async fn postgres_full_rotation_in_the_sandbox_with_owner_role_conversion() {
        full_rotation(postgres_parts(PgFlavor::Pg17, false).await, true).await;
    }

    #[tokio::test]
    async fn postgres_15_full_rotation_in_the_sandbox_with_owner_role_conversion() {
        full_rotation(postgres_parts(PgFlavor::Pg15, false).await, false).await;
    }

    /// Kubernetes refuses (RBAC), then External Secrets cannot sync: each
    /// stops the rotation with a clear error while the app keeps working,
    /// and the next run completes it.
    #[tokio::test]
    async fn cluster_failures_are_clear_and_the_rotation_resumes() {
        let (sandbox, w) = deployed(mysql_parts(MysqlFlavor::Mysql).await).await;
        let run = |stop: Option<&'static str>| {
            let o = sandbox_opts(&w, stop);
            let (w, journal) = (&w, w.journal());
            async move {
                let r = runner::start_or_resume(&w.plan.spec, &w.ctx, &journal, &o)
                    .await
                    .unwrap();
                runner::run(&w.plan, &w.ctx, &r, &journal, &o).await
            }
        };
        assert!(matches!(
            run(Some("production/promote")).await,
            RunOutcome::Waiting(Wait::Paused { .. })
        ));
        let still_works = || async {
            let cur = w.current().await;
            assert_eq!(w.app_reads(&cur.username, &cur.password).await, Ok(2));
        };

        sandbox.server.store().deny("patch", "externalsecrets");
        match run(None).await {
            RunOutcome::Failed(e) => {
                assert_eq!(e.step, Some(StepId("production/force-sync".into())));
                let StepError::Port(p) = &e.error else {
                    panic!("{e}")
                };
                assert_eq!(
                    (p.system, p.kind),
                    (System::Kubernetes, PortErrorKind::Denied),
                    "{e}"
                );
                assert!(
                    e.to_string().contains("patch") && e.to_string().contains("externalsecrets"),
                    "{e}"
                );
            }
            other => panic!("{other:?}"),
        }
        still_works().await;
        sandbox.server.store().allow("patch", "externalsecrets");

        sandbox
            .cluster
            .set_sync_failure(Some("AccessDeniedException: not authorised to read".into()));
        match run(None).await {
            RunOutcome::Failed(e) => {
                assert_eq!(e.step, Some(StepId("production/force-sync".into())));
                assert!(e.to_string().contains("failed to sync"), "{e}");
                assert!(e.to_string().contains("not authorised to read"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        still_works().await;
        sandbox.cluster.set_sync_failure(None);

        assert_eq!(run(None).await, RunOutcome::Done);
        still_works().await;
        assert!(w.db.user(&w.old).await.unwrap().is_none());
        let raw = std::fs::read_to_string(w.journal().path()).unwrap();
        assert_eq!(raw.matches("\"event\":\"failed\"").count(), 2);
        assert_eq!(raw.matches("\"event\":\"started\"").count(), 1);
    }

    /// Each step's state as `rotui plan` prints it (`NN. id — title` then
    /// `now: state: detail`), and the new user it names.
    fn plan_states(text: &str) -> (String, Vec<(String, String)>) {
        let new_user = text
            .lines()
            .find_map(|l| l.split_once("new user: ").map(|(_, u)| u.trim().to_owned()))
            .expect("a new user");
        let mut states = Vec::new();
        let mut id = None;
        for line in text.lines() {
            if let Some((n, rest)) = line.trim_start().split_once(". ")
                && n.parse::<usize>().is_ok()
            {
                id = rest.split(' ').next().map(str::to_owned);
            } else if let Some(now) = line.trim_start().strip_prefix("now: ") {
                let state = ["done", "to do", "blocked", "waiting", "unknown"]
                    .into_iter()
                    .find(|s| now.starts_with(&format!("{s}: ")))
                    .unwrap_or_else(|| panic!("no state in {line:?}"));
                states.push((id.take().expect("a step line first"), state.to_owned()));
            }
        }
        (new_user, states)
    }

    /// `rotui plan`'s text and the Steps pane's PlanView (as the dashboard's
    /// workers build it), each from its own look at the live systems; they
    /// must agree on the rotation and on every step's state.
    async fn plan_and_dashboard(w: &World) -> PlanView {
        let mut out = Vec::new();
        cli::plan_cmd(
            &w.plan.spec,
            &w.ctx,
            &w.journal(),
            &RunOptions::default(),
            &mut out,
        )
        .await
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let view = rotui::workers::plan::plan_view(&w.plan.spec, &w.ctx, &w.journal())
            .await
            .unwrap();
        let (new_user, states) = plan_states(&text);
        assert_eq!(view.new_user.as_deref(), Some(new_user.as_str()), "{text}");
        assert_eq!(view.old_user.as_deref(), Some(w.old.as_str()));
        assert_eq!(states.len(), view.steps.len(), "{text}");
        for ((id, state), step) in states.iter().zip(&view.steps) {
            assert_eq!(id, &step.id, "{text}");
            let agree = matches!(
                (state.as_str(), step.status),
                ("done", StepStatus::Done)
                    | ("to do", StepStatus::Pending)
                    | ("blocked" | "waiting" | "unknown", StepStatus::Blocked)
            );
            assert!(
                agree,
                "{id}: plan says {state}, the dashboard {:?}\n{text}",
                step.status
            );
        }
        let done = view.steps.iter().filter(|s| s.status == StepStatus::Done).count();
        assert!(
            text.contains(&format!("{done}/{} done", view.steps.len())),
            "{text}"
        );
        // Never done before what it needs is done.
        for (i, step) in w.plan.steps.iter().enumerate() {
            if view.steps[i].status == StepStatus::Done {
                for need in &step.requires {
                    let n = view.steps.iter().find(|s| s.id == need.0).unwrap();
                    assert_eq!(
                        n.status,
                        StepStatus::Done,
                        "{} done before {need}\n{text}",
                        step.id
                    );
                }
            }
        }
        view
    }

    fn status(view: &PlanView, slug: &str) -> StepStatus {
        let id = format!("production/{slug}");
        view.steps.iter().find(|s| s.id == id).unwrap().status
    }

    /// At the start of a rotation the cluster matches the *old* credentials:
    /// neither the step list nor `rotui plan` may call the cluster steps done,
    /// and neither may the steps' own observations. Mid-rotation (after the
    /// promotion, after the sync) the two faces still agree step by step.
    async fn plan_and_dashboard_agree(parts: Parts) {
        let (_sandbox, w) = deployed(parts).await;
        let start = plan_and_dashboard(&w).await;
        for slug in [
            "force-sync",
            "verify-secret",
            "rollout",
            "drain",
            "drop-old-user",
            "promote",
        ] {
            assert_eq!(status(&start, slug), StepStatus::Blocked, "{slug} at the start");
        }
        assert_eq!(status(&start, "inspect"), StepStatus::Done);
        // The observations themselves, for the rotation about to start: the
        // cluster carrying the old credentials is not this rotation's work.
        let (rotation, resumed) = runner::decide(&w.plan.spec, &w.ctx, &w.journal(), &RunOptions::default())
            .await
            .unwrap();
        assert!(!resumed);
        let opts = RunOptions::default();
        for slug in ["force-sync", "verify-secret", "rollout"] {
            let step = w.step(slug);
            let cx = StepCtx {
                ctx: &w.ctx,
                rotation: &rotation,
                step: &step,
                opts: &opts,
                recorder: None,
            };
            let seen = step.observe(&cx).await.unwrap();
            assert!(!seen.is_done(), "{slug}: {seen:?}");
        }

        let run_to = |slug: &'static str| {
            let o = sandbox_opts(&w, Some(&format!("production/{slug}")));
            let (w, journal) = (&w, w.journal());
            async move {
                let r = runner::start_or_resume(&w.plan.spec, &w.ctx, &journal, &o)
                    .await
                    .unwrap();
                let out = runner::run(&w.plan, &w.ctx, &r, &journal, &o).await;
                assert!(matches!(out, RunOutcome::Waiting(Wait::Paused { .. })), "{out:?}");
            }
        };
        run_to("promote").await;
        let promoted = plan_and_dashboard(&w).await;
        assert_eq!(status(&promoted, "promote"), StepStatus::Done);
        assert_eq!(status(&promoted, "test-login"), StepStatus::Done);
        assert_eq!(status(&promoted, "force-sync"), StepStatus::Pending);
        assert_eq!(status(&promoted, "verify-secret"), StepStatus::Blocked);
        assert_eq!(status(&promoted, "rollout"), StepStatus::Blocked);

        run_to("force-sync").await;
        // Reloader restarts the pods on the synced Secret; once they run as
        // the new user and the old sessions are gone, the state holds still.
        eventually("the rollout and the drain", || async {
            let v = rotui::workers::plan::plan_view(&w.plan.spec, &w.ctx, &w.journal())
                .await
                .unwrap();
            status(&v, "rollout") == StepStatus::Done && status(&v, "drain") == StepStatus::Done
        })
        .await;
        let synced = plan_and_dashboard(&w).await;
        assert_eq!(status(&synced, "force-sync"), StepStatus::Done);
        assert_eq!(status(&synced, "verify-secret"), StepStatus::Done);
        // Everything it needs is done, but the old user still exists.
        assert_eq!(status(&synced, "drop-old-user"), StepStatus::Pending);
    }

    per_flavor!(mysql_plan_and_dashboard_agree_and_nothing_is_done_early);
    async fn mysql_plan_and_dashboard_agree_and_nothing_is_done_early(flavor: MysqlFlavor) {
        plan_and_dashboard_agree(mysql_parts(flavor).await).await;
    }

    #[tokio::test]
    async fn postgres_plan_and_dashboard_agree_and_nothing_is_done_early() {
        plan_and_dashboard_agree(postgres_parts(PgFlavor::Pg17, false).await).await;
    }

    #[tokio::test]
    async fn postgres_15_plan_and_dashboard_agree_and_nothing_is_done_early() {
        plan_and_dashboard_agree(postgres_parts(PgFlavor::Pg15, false).await).await;
    }
}
