//! Secrets Manager through the real AWS SDK against moto's server: reading
//! the app and admin secrets, the staged AWSPENDING → AWSCURRENT update and
//! its rollback, and the errors an operator meets (not found, access denied,
//! an expired session). Each test uses its own secret names on the shared
//! server.

use aws_sdk_secretsmanager::Client;
use rotui::aws::{AWSCURRENT, AwsErrorKind, AwsOptions, AwsSession, StaticCredentials};
use rotui::sandbox::moto::MotoServer;
use rotui::secret::{ExposeSecret, MASK};
use serde_json::json;

/// A session on the shared moto server with static test credentials,
/// passed explicitly (tests run in parallel: no process env changes).
async fn session() -> AwsSession {
    session_on(MotoServer::shared(), "testing", "testing").await
}

async fn session_on(moto: &MotoServer, key: &str, secret: &str) -> AwsSession {
    let opts = AwsOptions {
        endpoint_url: Some(moto.endpoint_url()),
        region: Some("eu-west-1".into()),
        profile: None,
    };
    AwsSession::with_credentials(&opts, &StaticCredentials::new(key, secret))
        .await
        .expect("static credentials always load")
}

/// A name no other test uses.
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

/// Create a secret through the raw SDK (the fixture side, not the code under test).
async fn create(s: &AwsSession, name: &str, value: serde_json::Value) {
    Client::new(s.sdk_config())
        .create_secret()
        .name(name)
        .secret_string(value.to_string())
        .send()
        .await
        .expect("create secret in moto");
}

/// An app secret like GOV.UK's, with an extra key that must survive.
async fn app_secret_fixture(s: &AwsSession, app: &str, password: &str) -> String {
    let id = format!("govuk/{}/mysql", unique(app));
    create(
        s,
        &id,
        json!({"username": app, "password": password, "host": "db.internal",
               "hostReplica": "replica.internal", "port": 3306}),
    )
    .await;
    id
}

#[tokio::test]
async fn reads_the_app_secret_keeping_every_key_and_masking_the_password() {
    let s = session().await;
    let id = app_secret_fixture(&s, "signon", "OldSignonPassw0rdAAA").await;
    let secret = s.secrets().app_secret(&id).await.unwrap();
    assert_eq!(secret.username, "signon");
    assert_eq!(secret.password.expose_secret(), "OldSignonPassw0rdAAA");
    assert_eq!(secret.host, "db.internal");
    assert_eq!(secret.other["hostReplica"], "replica.internal");
    assert_eq!(secret.other["port"], 3306);
    assert!(secret.has_stage(AWSCURRENT));
    let debug = format!("{secret:?}");
    assert!(!debug.contains("OldSignonPassw0rdAAA"), "{debug}");
    assert!(debug.contains(MASK));
    // Registered on read: any later text that quotes it is scrubbed.
    assert_eq!(
        rotui::secret::redact("oops OldSignonPassw0rdAAA"),
        format!("oops {MASK}")
    );
}

#[tokio::test]
async fn an_app_secret_without_required_keys_is_refused_naming_them() {
    let s = session().await;
    let id = unique("govuk/broken/mysql");
    create(
        &s,
        &id,
        json!({"user": "signon", "pass": "NeverShowMe123", "host": "h"}),
    )
    .await;
    let err = s.secrets().app_secret(&id).await.unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Invalid);
    let msg = err.to_string();
    assert!(msg.contains("lacks the key(s) username, password"), "{msg}");
    assert!(msg.contains("it has: host, pass, user"), "{msg}");
    assert!(!msg.contains("NeverShowMe123") && !format!("{err:?}").contains("NeverShowMe123"));
}

#[tokio::test]
async fn reads_the_admin_password_by_database_key() {
    let s = session().await;
    let id = format!("{}-rds-admin-passwords", unique("env"));
    create(
        &s,
        &id,
        json!({"signon": "AdminSignonPassw0rd1", "account-api": "AdminAccountApiPw0rd2"}),
    )
    .await;
    let p = s.secrets().admin_password(&id, "account-api").await.unwrap();
    assert_eq!(p.expose_secret(), "AdminAccountApiPw0rd2");
    assert!(!format!("{p:?}").contains("AdminAccountApiPw0rd2"));
}

#[tokio::test]
async fn a_missing_admin_key_lists_the_keys_that_exist_but_no_values() {
    let s = session().await;
    let id = format!("{}-rds-admin-passwords", unique("env"));
    create(
        &s,
        &id,
        json!({"signon": "AdminValueNotShown1", "publishing-api": "AdminValueNotShown2"}),
    )
    .await;
    let err = s.secrets().admin_password(&id, "whitehall").await.unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::NotFound);
    let msg = err.to_string();
    assert!(msg.contains("no key whitehall"), "{msg}");
    assert!(msg.contains("it has: publishing-api, signon"), "{msg}");
    assert!(!msg.contains("AdminValueNotShown"), "{msg}");
}

#[tokio::test]
async fn a_missing_secret_is_not_found_naming_secret_and_region() {
    let s = session().await;
    let id = unique("govuk/nosuchapp/mysql");
    let err = s.secrets().app_secret(&id).await.unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::NotFound);
    assert_eq!(err.code.as_deref(), Some("ResourceNotFoundException"));
    assert!(
        err.to_string()
            .starts_with(&format!("secret {id} not found in eu-west-1")),
        "{err}"
    );
    let err = s.secrets().admin_password(&id, "x").await.unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::NotFound);
}

#[tokio::test]
async fn caller_identity_comes_from_sts() {
    let s = session().await;
    let id = s.caller_identity().await.unwrap();
    assert_eq!(id.account.len(), 12, "{id:?}");
    assert!(id.arn.starts_with("arn:aws:"), "{id:?}");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_network_error() {
    // A port nothing listens on: bound then released.
    let port = rotui::sandbox::guard::free_port();
    let opts = AwsOptions {
        endpoint_url: Some(format!("http://127.0.0.1:{port}")),
        region: Some("eu-west-1".into()),
        profile: None,
    };
    let s = AwsSession::with_credentials(&opts, &StaticCredentials::new("testing", "testing"))
        .await
        .unwrap();
    let err = s.secrets().app_secret("govuk/signon/mysql").await.unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Network, "{err}");
    assert!(err.to_string().contains("AWS_ENDPOINT_URL"), "{err}");
}
