//! Discovery against the classic sandbox: apps whose names drift from the
//! conventions, created in it through the kube API and Secrets Manager, are
//! found with no name flags; flags still win; what cannot be found falls
//! back to the convention with a note; an admin key that cannot be chosen
//! is asked for, by the CLI before anything is written.

use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::Client;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::PostParams;
use rotui::aws::{AwsOptions, AwsSession, SecretsManager, StaticCredentials};
use rotui::discover::{self, discover};
use rotui::k8s::{K8s, KubeOptions};
use rotui::target::{Engine, Field, NameSource, Target, TargetArgs};
use rotui_sandbox::controllers::govuk;
use rotui_sandbox::world::World;
use serde_json::json;

struct Sandbox {
    world: World,
    k8s: K8s,
    session: AwsSession,
    dir: tempfile::TempDir,
}

impl Sandbox {
    async fn start() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let world = World::start(dir.path()).await.expect("the sandbox starts");
        let info = world.info();
        let k8s = K8s::connect(&KubeOptions {
            kubeconfig: Some(info.kubeconfig.clone()),
            context: None,
            namespace: Some(info.namespace.clone()),
            exec_env: None,
        })
        .await
        .unwrap();
        let opts = AwsOptions {
            endpoint_url: Some(info.aws_endpoint_url.clone()),
            region: Some(info.aws_region.clone()),
            ..AwsOptions::default()
        };
        let key = &info.aws_access_key_id;
        let session = AwsSession::with_credentials(&opts, &StaticCredentials::new(key, key))
            .await
            .unwrap();
        Sandbox {
            world,
            k8s,
            session,
            dir,
        }
    }

    fn env(&self) -> &str {
        &self.world.info().env
    }

    fn sm(&self) -> SecretsManager {
        self.session.secrets()
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        Api::namespaced(self.world.client().clone(), &self.world.info().namespace)
    }

    /// Names given by no flag but env, app and engine.
    fn no_name_flags(&self, app: &str, engine: Engine) -> Target {
        Target::from_args(&TargetArgs {
            env: Some(self.env().to_owned()),
            app: Some(app.to_owned()),
            engine: Some(engine),
            ..TargetArgs::default()
        })
        .unwrap()
    }

    async fn discover(&self, t: &Target) -> Target {
        discover(t, Some(&self.k8s), Some(&self.sm())).await
    }

    /// Add `key` to the admin passwords secret (its value is irrelevant here).
    async fn add_admin_key(&self, key: &str) {
        let client = Client::new(self.session.sdk_config());
        let id = format!("{}-rds-admin-passwords", self.env());
        let now = client.get_secret_value().secret_id(&id).send().await.unwrap();
        let mut map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(now.secret_string().unwrap()).unwrap();
        map.insert(key.to_owned(), json!("AdminPassw0rdForDiscovery"));
        client
            .put_secret_value()
            .secret_id(&id)
            .secret_string(serde_json::Value::Object(map).to_string())
            .send()
            .await
            .unwrap();
    }

    /// Wait until the External Secrets controller has written Secret `name`.
    async fn synced(&self, name: &str) {
        let start = Instant::now();
        while self.api::<Secret>().get_opt(name).await.unwrap().is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "Secret {name} never synced"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// whitehall-admin with every name drifted, further than the estate's
/// (there: `whitehall-admin-mysql` from `govuk/whitehall-admin/mysql`, key
/// `whitehall`; see `assets/sandbox/estate.toml`), so that each name can
/// only be found by discovery: Deployment `whitehall-admin` reads Secret
/// `whitehall-database`, written by ExternalSecret `whitehall-database` from
/// `govuk/whitehall/mysql-primary`, for database `whitehall_production`; the
/// admin key is `whitehall_admin`.
async fn whitehall(s: &Sandbox) -> Target {
    let mut t = Target::new(s.env(), "whitehall-admin", Engine::Mysql);
    t.app_secret = "govuk/whitehall/mysql-primary".into();
    t.external_secret = "whitehall-database".into();
    t.k8s_secret = "whitehall-database".into();
    t.database = "whitehall_production".into();
    let body = json!({ "username": "whitehall", "password": "Wh1tehallPassw0rd", "host": "127.0.0.1:1" });
    assert!(s.sm().create_if_missing(&t.app_secret, &body).await.unwrap());
    s.add_admin_key("whitehall_admin").await;
    let pp = PostParams::default();
    s.api::<rotui_sandbox::controllers::ExternalSecret>()
        .create(&pp, &govuk::external_secret(&t))
        .await
        .unwrap();
    s.api::<Deployment>()
        .create(&pp, &govuk::deployment(&t, 0))
        .await
        .unwrap();
    s.synced(&t.k8s_secret).await;
    t
}

fn discovered(t: &Target, f: Field) -> String {
    match t.sources.get(f) {
        NameSource::Discovered(from) => from.clone(),
        other => panic!("{f:?} = {} was not discovered: {other:?}", f.get(t)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drifted_app_is_discovered_with_no_name_flags_and_flags_override() {
    let s = Sandbox::start().await;
    let want = whitehall(&s).await;

    let t = s
        .discover(&s.no_name_flags("whitehall-admin", Engine::Mysql))
        .await;
    for f in [
        Field::Deployment,
        Field::Container,
        Field::K8sSecret,
        Field::ExternalSecret,
        Field::AppSecret,
        Field::Database,
    ] {
        assert_eq!(f.get(&t), f.get(&want), "{f:?}: {:?}", t.sources.get(f));
    }
    assert_eq!(t.admin_secret_key, "whitehall_admin");
    assert_eq!(
        discovered(&t, Field::Deployment),
        "Deployment whitehall-admin exists"
    );
    assert_eq!(
        discovered(&t, Field::K8sSecret),
        "Deployment whitehall-admin env DATABASE_URL"
    );
    assert_eq!(
        discovered(&t, Field::ExternalSecret),
        "ExternalSecret writing Secret whitehall-database"
    );
    assert_eq!(
        discovered(&t, Field::AppSecret),
        "ExternalSecret whitehall-database dataFrom"
    );
    assert_eq!(
        discovered(&t, Field::Database),
        "Secret whitehall-database DATABASE_URL path"
    );
    assert_eq!(
        discovered(&t, Field::AdminSecretKey),
        "admin secret key (app name with underscores)"
    );
    assert_eq!(t.sources.get(Field::Namespace), &NameSource::Convention);
    assert!(discover::unresolved(&t).is_none());
    // Nothing of the DATABASE_URL but its path reaches the names.
    let shown = discover::describe(&t).join("\n");
    assert!(!shown.contains("Wh1tehallPassw0rd"), "{shown}");

    // A flag always wins over discovery.
    let flagged = Target::from_args(&TargetArgs {
        env: Some(s.env().to_owned()),
        app: Some("whitehall-admin".into()),
        engine: Some(Engine::Mysql),
        database: Some("whitehall_live".into()),
        app_secret: Some("govuk/whitehall/mysql".into()),
        admin_secret_key: Some("whitehall".into()),
        container: Some("app".into()),
        ..TargetArgs::default()
    })
    .unwrap();
    let t = s.discover(&flagged).await;
    assert_eq!(t.database, "whitehall_live");
    assert_eq!(t.app_secret, "govuk/whitehall/mysql");
    assert_eq!(t.admin_secret_key, "whitehall");
    for f in [
        Field::Database,
        Field::AppSecret,
        Field::AdminSecretKey,
        Field::Container,
    ] {
        assert_eq!(t.sources.get(f), &NameSource::Flag, "{f:?}");
    }
    // ... and what no flag named is still discovered.
    assert_eq!(t.k8s_secret, "whitehall-database");
    assert_eq!(t.external_secret, "whitehall-database");

    // govuk-chat's admin key is `chat`: neither its name, its underscored
    // name (a key here too) nor its database's. Its RDS host says so.
    let mut chat = Target::new(s.env(), "govuk-chat", Engine::Postgres);
    chat.database = "govuk_chat_production".into();
    let body = json!({
        "username": "govuk-chat",
        "password": "Ch4tPassw0rdForDiscovery",
        "host": "chat-postgres.staging.govuk-internal.digital",
    });
    assert!(s.sm().create_if_missing(&chat.app_secret, &body).await.unwrap());
    s.add_admin_key("govuk_chat").await;
    s.add_admin_key("chat").await;
    let pp = PostParams::default();
    s.api::<rotui_sandbox::controllers::ExternalSecret>()
        .create(&pp, &govuk::external_secret(&chat))
        .await
        .unwrap();
    s.api::<Deployment>()
        .create(&pp, &govuk::deployment(&chat, 0))
        .await
        .unwrap();
    let t = s.discover(&s.no_name_flags("govuk-chat", Engine::Postgres)).await;
    assert_eq!(t.admin_secret_key, "chat");
    assert_eq!(
        discovered(&t, Field::AdminSecretKey),
        "admin secret key (RDS host name)"
    );

    // A Deployment not named after the app is found by its label, and with
    // no Secret synced yet the database comes from the template.
    let mut legacy = Target::new(s.env(), "legacy-app", Engine::Postgres);
    legacy.deployment = "legacy-app-web".into();
    legacy.k8s_secret = "legacy-db".into();
    legacy.external_secret = "legacy-db".into();
    legacy.app_secret = "govuk/legacy/postgres-not-there".into();
    legacy.database = "legacy_name_production".into();
    let mut d = govuk::deployment(&legacy, 0);
    d.metadata
        .labels
        .get_or_insert_default()
        .insert("app.kubernetes.io/name".into(), "legacy-app".into());
    let pp = PostParams::default();
    s.api::<Deployment>().create(&pp, &d).await.unwrap();
    s.api::<rotui_sandbox::controllers::ExternalSecret>()
        .create(&pp, &govuk::external_secret(&legacy))
        .await
        .unwrap();
    let t = s.discover(&s.no_name_flags("legacy-app", Engine::Postgres)).await;
    assert_eq!(t.deployment, "legacy-app-web");
    assert_eq!(
        discovered(&t, Field::Deployment),
        "Deployment labelled app.kubernetes.io/name=legacy-app"
    );
    assert_eq!(t.k8s_secret, "legacy-db");
    assert_eq!(t.app_secret, "govuk/legacy/postgres-not-there");
    assert_eq!(t.database, "legacy_name_production");
    assert_eq!(
        discovered(&t, Field::Database),
        "ExternalSecret legacy-db template DATABASE_URL path"
    );
    s.world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_pieces_fall_back_and_an_unknown_admin_key_is_asked_for() {
    let s = Sandbox::start().await;
    // content-data-api reads its Secret through envFrom; no ExternalSecret
    // writes it, and the admin secret has no key for it.
    let deployment: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": "content-data-api", "labels": { "app": "content-data-api" } },
        "spec": {
            "replicas": 0,
            "selector": { "matchLabels": { "app": "content-data-api" } },
            "template": {
                "metadata": { "labels": { "app": "content-data-api" } },
                "spec": { "containers": [{
                    "name": "app",
                    "image": "ghcr.io/alphagov/content-data-api:latest",
                    "envFrom": [{ "secretRef": { "name": "content-data-api-database" } }],
                }]},
            },
        },
    }))
    .unwrap();
    let secret: Secret = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": { "name": "content-data-api-database" },
        "stringData": {
            "DATABASE_URL": "postgresql://cda:Cd4Passw0rdSecret@127.0.0.1:1/content_performance_manager_production",
        },
    }))
    .unwrap();
    let pp = PostParams::default();
    s.api::<Secret>().create(&pp, &secret).await.unwrap();
    s.api::<Deployment>().create(&pp, &deployment).await.unwrap();

    let t = s
        .discover(&s.no_name_flags("content-data-api", Engine::Postgres))
        .await;
    assert_eq!(t.k8s_secret, "content-data-api-database");
    assert_eq!(
        discovered(&t, Field::K8sSecret),
        "Deployment content-data-api envFrom DATABASE_URL"
    );
    assert_eq!(t.database, "content_performance_manager_production");
    // No ExternalSecret: the convention, saying so.
    assert_eq!(t.external_secret, "content-data-api-postgres");
    assert_eq!(
        t.sources.get(Field::ExternalSecret),
        &NameSource::Fallback("no ExternalSecret writes Secret content-data-api-database".into())
    );
    assert!(matches!(t.sources.get(Field::AppSecret), NameSource::Fallback(_)));
    // The admin key: every key offered, none chosen.
    let NameSource::Choose(keys) = t.sources.get(Field::AdminSecretKey) else {
        panic!("{:?}", t.sources.get(Field::AdminSecretKey));
    };
    assert_eq!(keys, &["account-api".to_owned(), "signon".to_owned()]);
    let ask = discover::unresolved(&t).unwrap();
    assert!(
        ask.ends_with("pass --admin-secret-key, one of: account-api, signon"),
        "{ask}"
    );
    let shown = discover::describe(&t).join("\n");
    assert!(!shown.contains("Cd4Passw0rdSecret"), "{shown}");

    // An app with nothing in the cluster keeps every convention, and is
    // named as not found, with the apps there are.
    let t = s.discover(&s.no_name_flags("nothing-here", Engine::Mysql)).await;
    assert_eq!(t.deployment, "nothing-here");
    assert!(
        matches!(t.sources.get(Field::Deployment), NameSource::NotFound(apps) if apps.contains(&"signon".to_owned())),
        "{:?}",
        t.sources.get(Field::Deployment)
    );
    assert!(
        matches!(t.sources.get(Field::Container), NameSource::Fallback(w) if w.contains("no Deployment nothing-here")),
        "{:?}",
        t.sources.get(Field::Container)
    );

    // `rotui plan` prints each name with its source and stops before
    // anything is written, naming the flag and the keys.
    let mut env = rotui_sandbox::world::parse_env_file(
        &std::fs::read_to_string(s.dir.path().join("sandbox.env")).unwrap(),
    );
    env.insert("PATH".into(), std::env::var("PATH").unwrap());
    env.insert("HOME".into(), s.dir.path().display().to_string());
    env.insert(
        "ROTUI_STATE_DIR".into(),
        s.dir.path().join("state").display().to_string(),
    );
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_rotui"))
        .args(["plan", "--app", "content-data-api", "--engine", "postgres"])
        .env_clear()
        .envs(env)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("pass --admin-secret-key, one of: account-api, signon"),
        "{text}"
    );
    assert!(
        text.contains("content-data-api-database  (Deployment content-data-api envFrom DATABASE_URL)"),
        "{text}"
    );
    assert!(!text.contains("Cd4Passw0rdSecret"), "{text}");

    // No RBAC to list ExternalSecrets: those names fall back, saying why,
    // and everything else is still discovered.
    s.world.kube_store().deny("list", "externalsecrets");
    let t = s.discover(&s.no_name_flags("signon", Engine::Mysql)).await;
    s.world.kube_store().allow("list", "externalsecrets");
    for f in [Field::ExternalSecret, Field::AppSecret] {
        assert!(
            matches!(t.sources.get(f), NameSource::Fallback(why) if why.contains("externalsecrets")),
            "{f:?}: {:?}",
            t.sources.get(f)
        );
    }
    assert_eq!(t.external_secret, "signon-mysql");
    assert_eq!(
        discovered(&t, Field::K8sSecret),
        "Deployment signon env DATABASE_URL"
    );
    assert_eq!(
        discovered(&t, Field::Database),
        "Secret signon-mysql DATABASE_URL path"
    );
    assert_eq!(
        discovered(&t, Field::AdminSecretKey),
        "admin secret key (app name)"
    );
    s.world.shutdown().await;
}

/// The dashboard shows each name with its source (`n`), says when the admin
/// key needs choosing, and the choice reconnects as `--admin-secret-key` would.
#[test]
fn the_dashboard_shows_the_names_and_asks_for_the_admin_key() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::{Terminal, backend::TestBackend};
    use rotui::app::Answer;
    use rotui::app::action::{Action, Effect};
    use rotui::app::state::{Dialog, SessionView, State};
    use rotui::app::update::update;

    let now = chrono::Utc::now();
    let given = Target::new("production", "whitehall-admin", Engine::Mysql);
    let mut connected = given.clone();
    connected.set(
        Field::K8sSecret,
        "whitehall-database",
        NameSource::Discovered("Deployment whitehall-admin env DATABASE_URL".into()),
    );
    connected.set(
        Field::Database,
        "whitehall_production",
        NameSource::Discovered("Secret whitehall-database DATABASE_URL path".into()),
    );
    connected.note(
        Field::ExternalSecret,
        NameSource::Fallback("no ExternalSecret writes Secret whitehall-database".into()),
    );
    connected.note(
        Field::AdminSecretKey,
        NameSource::Choose(vec!["signon".into(), "whitehall".into()]),
    );
    let mut s = State::new(Some(given), now);
    update(
        &mut s,
        Action::Loaded {
            generation: 1,
            at: now,
            answer: Answer::Session(Ok(SessionView {
                target: Some(connected),
                ..SessionView::default()
            })),
        },
    );
    let notice = s.notice.as_ref().map(|(_, n)| n.clone()).unwrap_or_default();
    assert!(notice.contains("press n"), "{notice}");

    let press =
        |s: &mut State, code: KeyCode| update(s, Action::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    press(&mut s, KeyCode::Char('n'));
    assert_eq!(
        s.dialog.as_ref().map(|d| matches!(d, Dialog::Names { .. })),
        Some(true)
    );
    let mut term = Terminal::new(TestBackend::new(160, 40)).unwrap();
    term.draw(|f| rotui::ui::render(f, &s)).unwrap();
    let screen = term.backend().to_string();
    for want in [
        "k8s-secret        whitehall-database",
        "Deployment whitehall-admin env DATABASE_URL",
        "Secret whitehall-database DATABASE_URL path",
        "convention (no ExternalSecret writes Secret whitehall-database)",
        "namespace         apps",
        "choose the admin password's key",
        "› signon",
        "whitehall",
    ] {
        assert!(screen.contains(want), "{want:?} missing from:\n{screen}");
    }

    press(&mut s, KeyCode::Char('j'));
    let effects = press(&mut s, KeyCode::Enter);
    let switched = effects
        .iter()
        .find_map(|e| match e {
            Effect::SwitchTarget(t) => Some(t.clone()),
            _ => None,
        })
        .expect("the choice reconnects");
    assert_eq!(switched.admin_secret_key, "whitehall");
    assert_eq!(switched.sources.get(Field::AdminSecretKey), &NameSource::Flag);
    assert!(s.dialog.is_none());
}
