//! Secrets Manager through the real AWS SDK against moto's server: reading
//! the app and admin secrets, the staged AWSPENDING → AWSCURRENT update and
//! its rollback, and the errors an operator meets (not found, access denied,
//! an expired session). Each test uses its own secret names on the shared
//! server.

use crate::support::unique;
use aws_sdk_secretsmanager::Client;
use rotui::aws::{
    AWSCURRENT, AWSPENDING, AWSPREVIOUS, AwsErrorKind, AwsOptions, AwsSession, StaticCredentials,
};
use rotui::secret::{ExposeSecret, MASK};
use rotui_sandbox::moto::MotoServer;
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
        ..AwsOptions::default()
    };
    AwsSession::with_credentials(&opts, &StaticCredentials::new(key, secret))
        .await
        .expect("static credentials always load")
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
    let port = rotui_sandbox::guard::free_port();
    let opts = AwsOptions {
        endpoint_url: Some(format!("http://127.0.0.1:{port}")),
        region: Some("eu-west-1".into()),
        ..AwsOptions::default()
    };
    let s = AwsSession::with_credentials(&opts, &StaticCredentials::new("testing", "testing"))
        .await
        .unwrap();
    let err = s.secrets().app_secret("govuk/signon/mysql").await.unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Network, "{err}");
    assert!(err.to_string().contains("AWS_ENDPOINT_URL"), "{err}");
}

/// Version ids → labels, straight from the SDK (the observer, not the code under test).
async fn labels(s: &AwsSession, id: &str) -> Vec<(String, Vec<String>)> {
    let out = Client::new(s.sdk_config())
        .describe_secret()
        .secret_id(id)
        .send()
        .await
        .unwrap();
    let mut v: Vec<(String, Vec<String>)> = out
        .version_ids_to_stages
        .unwrap_or_default()
        .into_iter()
        .map(|(k, mut st)| {
            st.sort();
            (k, st)
        })
        .collect();
    v.sort();
    v
}

fn version_with<'a>(labels: &'a [(String, Vec<String>)], stage: &str) -> Option<&'a str> {
    labels
        .iter()
        .find(|(_, st)| st.iter().any(|s| s == stage))
        .map(|(v, _)| v.as_str())
}

/// AWSCURRENT's JSON, read through the raw SDK.
async fn current_json(s: &AwsSession, id: &str) -> serde_json::Value {
    let out = Client::new(s.sdk_config())
        .get_secret_value()
        .secret_id(id)
        .version_stage(AWSCURRENT)
        .send()
        .await
        .unwrap();
    serde_json::from_str(out.secret_string().unwrap()).unwrap()
}

#[tokio::test]
async fn staged_update_puts_pending_then_promotes_keeping_other_keys() {
    let s = session().await;
    let sm = s.secrets();
    let id = app_secret_fixture(&s, "signon", "OldStagedPassw0rdBBB").await;
    let old_version = version_with(&labels(&s, &id).await, AWSCURRENT)
        .unwrap()
        .to_owned();
    assert!(sm.pending(&id).await.unwrap().is_none());

    let new_pw = rotui::secret::generate_password();
    let rotation = unique("rotation");
    // The preview names the call and the keys; planning writes nothing.
    let plan = sm
        .plan_put_pending(&id, &rotation, "signon_user_20260121", &new_pw)
        .await
        .unwrap();
    assert!(!plan.is_done());
    let preview = plan.preview();
    assert!(
        preview.starts_with(&format!("PutSecretValue {id}: new version rotui-")),
        "{preview}"
    );
    assert!(preview.contains("labelled AWSPENDING"), "{preview}");
    assert!(
        preview.contains("username signon → signon_user_20260121"),
        "{preview}"
    );
    assert!(preview.contains("kept: host, hostReplica, port"), "{preview}");
    assert!(!preview.contains(new_pw.expose_secret()) && !preview.contains("OldStagedPassw0rdBBB"));
    let debug = format!("{plan:?}");
    assert!(!debug.contains(new_pw.expose_secret()) && !debug.contains("OldStagedPassw0rdBBB"));
    assert_eq!(labels(&s, &id).await.len(), 1, "planning wrote nothing");

    let pending = sm
        .put_pending(&id, &rotation, "signon_user_20260121", &new_pw)
        .await
        .unwrap();
    assert_eq!(pending.version_id, rotui::aws::pending_token(&rotation));
    assert!(pending.has_stage(AWSPENDING));
    // The app still sees the old credentials until promotion.
    assert_eq!(current_json(&s, &id).await["username"], "signon");

    assert!(!format!("{pending:?}").contains(new_pw.expose_secret()));
    let found = sm.pending(&id).await.unwrap().expect("a pending version");
    assert_eq!(found.version_id, pending.version_id);
    assert_eq!(found.username, "signon_user_20260121");
    assert_eq!(found.password.expose_secret(), new_pw.expose_secret());
    assert_eq!(found.host, "db.internal");
    assert_eq!(found.other["hostReplica"], "replica.internal");

    let plan = sm.plan_promote(&id, &pending.version_id).await.unwrap();
    let preview = plan.preview();
    assert!(
        preview.contains(&format!(
            "AWSCURRENT moves from version {old_version} to version {}",
            pending.version_id
        )),
        "{preview}"
    );
    assert!(preview.contains(&format!("AWSPENDING removed from version {}", pending.version_id)));
    sm.promote(&id, &pending.version_id).await.unwrap();

    let after = labels(&s, &id).await;
    assert_eq!(
        version_with(&after, AWSCURRENT),
        Some(pending.version_id.as_str())
    );
    assert_eq!(version_with(&after, AWSPREVIOUS), Some(old_version.as_str()));
    assert_eq!(version_with(&after, AWSPENDING), None);
    let json = current_json(&s, &id).await;
    assert_eq!(json["username"], "signon_user_20260121");
    assert_eq!(json["password"], new_pw.expose_secret());
    assert_eq!(json["hostReplica"], "replica.internal");
    assert_eq!(json["port"], 3306);
    assert!(sm.pending(&id).await.unwrap().is_none());
}

#[tokio::test]
async fn re_running_put_pending_and_promote_changes_nothing() {
    let s = session().await;
    let sm = s.secrets();
    let id = app_secret_fixture(&s, "account-api", "OldRerunPassw0rdCCC").await;
    let rotation = unique("rotation");
    let pw = rotui::secret::generate_password();
    let first = sm
        .put_pending(&id, &rotation, "account-api-20260121", &pw)
        .await
        .unwrap();
    let before = labels(&s, &id).await;

    let again = sm
        .plan_put_pending(&id, &rotation, "account-api-20260121", &pw)
        .await
        .unwrap();
    assert!(again.is_done(), "{}", again.preview());
    assert!(
        again.preview().starts_with("nothing to do"),
        "{}",
        again.preview()
    );
    let second = sm
        .put_pending(&id, &rotation, "account-api-20260121", &pw)
        .await
        .unwrap();
    assert_eq!(second.version_id, first.version_id);
    assert_eq!(labels(&s, &id).await, before, "a re-run creates no version");

    // The same rotation with other credentials is refused: the password never forks.
    let other = rotui::secret::generate_password();
    let err = sm
        .put_pending(&id, &rotation, "account-api-20260121", &other)
        .await
        .unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Invalid);
    assert!(err.to_string().contains("reuse them"), "{err}");
    assert!(!err.to_string().contains(other.expose_secret()));
    assert_eq!(labels(&s, &id).await, before);

    sm.promote(&id, &first.version_id).await.unwrap();
    let promoted = labels(&s, &id).await;
    let plan = sm.plan_promote(&id, &first.version_id).await.unwrap();
    assert!(plan.is_done(), "{}", plan.preview());
    sm.promote(&id, &first.version_id).await.unwrap();
    assert_eq!(labels(&s, &id).await, promoted);
    // And putting the same credentials after promotion is done too.
    assert!(
        sm.plan_put_pending(&id, &rotation, "account-api-20260121", &pw)
            .await
            .unwrap()
            .is_done()
    );
}

#[tokio::test]
async fn a_stale_pending_version_of_another_rotation_is_superseded() {
    let s = session().await;
    let sm = s.secrets();
    let id = app_secret_fixture(&s, "whitehall", "OldStalePassw0rdDDD").await;
    let stale_pw = rotui::secret::generate_password();
    let stale = sm
        .put_pending(&id, &unique("crashed"), "whitehall_20250101", &stale_pw)
        .await
        .unwrap();

    let pw = rotui::secret::generate_password();
    let rotation = unique("rotation");
    let plan = sm
        .plan_put_pending(&id, &rotation, "whitehall_20260121", &pw)
        .await
        .unwrap();
    assert!(
        plan.preview().contains(&format!(
            "moves AWSPENDING off stale version {} (user whitehall_20250101)",
            stale.version_id
        )),
        "{}",
        plan.preview()
    );
    let fresh = sm
        .put_pending(&id, &rotation, "whitehall_20260121", &pw)
        .await
        .unwrap();
    let after = labels(&s, &id).await;
    assert_eq!(version_with(&after, AWSPENDING), Some(fresh.version_id.as_str()));
    assert!(
        after
            .iter()
            .any(|(v, st)| *v == stale.version_id && st.is_empty())
    );
    assert_eq!(
        sm.pending(&id).await.unwrap().unwrap().username,
        "whitehall_20260121"
    );
}

#[tokio::test]
async fn rollback_restores_the_previous_version_once() {
    let s = session().await;
    let sm = s.secrets();
    let id = app_secret_fixture(&s, "publisher", "OldRollbackPassw0rdE").await;
    let old_version = version_with(&labels(&s, &id).await, AWSCURRENT)
        .unwrap()
        .to_owned();

    // Nothing promoted yet: rolling back "the old version" is a no-op.
    assert!(
        sm.plan_rollback(&id, &unique("v")).await.is_err(),
        "unknown version"
    );
    let pw = rotui::secret::generate_password();
    let rotation = unique("rotation");
    let pending = sm
        .put_pending(&id, &rotation, "publisher_20260121", &pw)
        .await
        .unwrap();
    assert!(
        sm.plan_rollback(&id, &pending.version_id)
            .await
            .unwrap()
            .is_done()
    );
    sm.promote(&id, &pending.version_id).await.unwrap();

    let plan = sm.plan_rollback(&id, &pending.version_id).await.unwrap();
    assert!(
        plan.preview().contains(&format!(
            "AWSCURRENT moves from version {} to version {old_version}",
            pending.version_id
        )),
        "{}",
        plan.preview()
    );
    let restored = sm.rollback(&id, &pending.version_id).await.unwrap();
    assert_eq!(restored, old_version);
    let after = labels(&s, &id).await;
    assert_eq!(version_with(&after, AWSCURRENT), Some(old_version.as_str()));
    assert_eq!(
        version_with(&after, AWSPREVIOUS),
        Some(pending.version_id.as_str())
    );
    let json = current_json(&s, &id).await;
    assert_eq!(json["username"], "publisher");
    assert_eq!(json["password"], "OldRollbackPassw0rdE");

    // A second rollback must not flip back to the rotated version.
    assert!(
        sm.plan_rollback(&id, &pending.version_id)
            .await
            .unwrap()
            .is_done()
    );
    sm.rollback(&id, &pending.version_id).await.unwrap();
    assert_eq!(labels(&s, &id).await, after);

    // Re-staging the same rotation after the rollback puts its version back
    // as AWSPENDING (no new version), ready to be promoted again.
    let plan = sm
        .plan_put_pending(&id, &rotation, "publisher_20260121", &pw)
        .await
        .unwrap();
    assert_eq!(
        plan.preview(),
        format!(
            "UpdateSecretVersionStage {id}: AWSPENDING added to version {}",
            pending.version_id
        )
    );
    let again = sm
        .put_pending(&id, &rotation, "publisher_20260121", &pw)
        .await
        .unwrap();
    assert_eq!(again.version_id, pending.version_id);
    assert_eq!(
        sm.pending(&id).await.unwrap().unwrap().version_id,
        pending.version_id
    );
    sm.promote(&id, &pending.version_id).await.unwrap();
    assert_eq!(current_json(&s, &id).await["username"], "publisher_20260121");
    assert_eq!(labels(&s, &id).await.len(), 2, "still two versions");
}

#[tokio::test]
async fn promote_refuses_a_version_that_is_not_pending() {
    let s = session().await;
    let sm = s.secrets();
    let id = app_secret_fixture(&s, "collections", "OldRefusePassw0rdFFF").await;
    let pw = rotui::secret::generate_password();
    let stale = sm
        .put_pending(&id, &unique("a"), "collections_1", &pw)
        .await
        .unwrap();
    let pw2 = rotui::secret::generate_password();
    sm.put_pending(&id, &unique("b"), "collections_2", &pw2)
        .await
        .unwrap();
    // `stale` lost its AWSPENDING label to the second rotation.
    let err = sm.promote(&id, &stale.version_id).await.unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Invalid);
    assert!(err.to_string().contains("refusing to promote"), "{err}");
    let err = sm.promote(&id, &unique("nosuchversion")).await.unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::NotFound, "{err}");
    assert_eq!(current_json(&s, &id).await["username"], "collections");
}

/// A moto server of its own with IAM enforced (moto's `reset-auth`), so
/// signatures and policies are checked for real: a user allowed only to
/// describe secrets, one allowed to read but not write, and a secret. IAM is
/// global to a moto process, hence not the shared server.
struct IamWorld {
    moto: MotoServer,
    /// Access key id and secret key of the describe-only user.
    describe_only: (String, String),
    /// … and of the read-only user.
    read_only: (String, String),
    secret_id: String,
}

fn iam_world() -> &'static IamWorld {
    static WORLD: std::sync::OnceLock<IamWorld> = std::sync::OnceLock::new();
    WORLD.get_or_init(|| {
        let moto = MotoServer::start().expect("start moto");
        let describe_only = iam_user(
            &moto,
            "rotui-describe-only",
            &[
                "secretsmanager:DescribeSecret",
                "secretsmanager:ListSecretVersionIds",
                "sts:GetCallerIdentity",
            ],
        );
        let read_only = iam_user(
            &moto,
            "rotui-read-only",
            &[
                "secretsmanager:DescribeSecret",
                "secretsmanager:ListSecretVersionIds",
                "secretsmanager:GetSecretValue",
            ],
        );
        // The secret, created unsigned while auth is still off.
        let secret_id = "govuk/signon/mysql".to_owned();
        let body = json!({"Name": secret_id, "SecretString":
            json!({"username": "signon", "password": "IamGuardedPassw0rd1", "host": "h"}).to_string()});
        let (status, answer) = rotui_sandbox::moto::http_post(
            moto.port(),
            "/",
            &[
                ("Content-Type", "application/x-amz-json-1.1"),
                ("X-Amz-Target", "secretsmanager.CreateSecret"),
                ("Authorization", &fake_auth("secretsmanager")),
            ],
            &body.to_string(),
        )
        .unwrap();
        assert_eq!(status, 200, "{answer}");
        // From now on every call is authenticated and authorised.
        moto.moto_api("reset-auth", "0").unwrap();
        IamWorld {
            moto,
            describe_only,
            read_only,
            secret_id,
        }
    })
}

/// An IAM user allowed exactly `actions`; returns its access key pair.
fn iam_user(moto: &MotoServer, user: &str, actions: &[&str]) -> (String, String) {
    iam(moto, &[("Action", "CreateUser"), ("UserName", user)]);
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]
    });
    iam(
        moto,
        &[
            ("Action", "PutUserPolicy"),
            ("UserName", user),
            ("PolicyName", "rotui-test"),
            ("PolicyDocument", &policy.to_string()),
        ],
    );
    let created = iam(moto, &[("Action", "CreateAccessKey"), ("UserName", user)]);
    (
        xml_field(&created, "AccessKeyId"),
        xml_field(&created, "SecretAccessKey"),
    )
}

/// An IAM query-protocol call, unsigned (auth is off during set-up); the
/// Authorization header only tells moto which service is meant.
fn iam(moto: &MotoServer, params: &[(&str, &str)]) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    let form: Vec<String> = params
        .iter()
        .chain(&[("Version", "2010-05-08")])
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, NON_ALPHANUMERIC)))
        .collect();
    let (status, body) = rotui_sandbox::moto::http_post(
        moto.port(),
        "/",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Authorization", &fake_auth("iam")),
        ],
        &form.join("&"),
    )
    .unwrap();
    assert_eq!(status, 200, "{params:?}: {body}");
    body
}

fn fake_auth(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=setup/20260101/eu-west-1/{service}/aws4_request, \
         SignedHeaders=host, Signature=0"
    )
}

fn xml_field(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = xml.find(&open).map(|i| i + open.len()).expect(tag);
    let end = xml[start..].find("</").expect(tag) + start;
    xml[start..end].to_owned()
}

#[tokio::test]
async fn reading_denied_by_iam_is_access_denied() {
    let world = iam_world();
    let (key, secret) = &world.describe_only;
    let s = session_on(&world.moto, key, secret).await;
    // The signature is accepted and the allowed calls work…
    let id = s.caller_identity().await.unwrap();
    assert_eq!(id.principal_name(), "rotui-describe-only", "{id:?}");
    let sm = s.secrets();
    assert_eq!(sm.versions(&world.secret_id).await.unwrap().len(), 1);
    // …but reading the value is denied.
    let err = sm.app_secret(&world.secret_id).await.unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::AccessDenied, "{err}");
    assert_eq!(err.code.as_deref(), Some("AccessDenied"));
    let msg = err.to_string();
    assert!(
        msg.starts_with("secret govuk/signon/mysql in eu-west-1: access denied"),
        "{msg}"
    );
    assert!(msg.contains("fulladmin"), "{msg}");
    let err = sm.admin_password(&world.secret_id, "signon").await.unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::AccessDenied, "{err}");
}

#[tokio::test]
async fn writing_denied_by_iam_is_access_denied_and_changes_nothing() {
    let world = iam_world();
    let (key, secret) = &world.read_only;
    let s = session_on(&world.moto, key, secret).await;
    let sm = s.secrets();
    let before = labels_of(&sm, &world.secret_id).await;
    assert_eq!(sm.app_secret(&world.secret_id).await.unwrap().username, "signon");
    let pw = rotui::secret::generate_password();
    let plan = sm
        .plan_put_pending(&world.secret_id, "r1", "signon_20260121", &pw)
        .await
        .unwrap();
    assert!(!plan.is_done());
    let err = sm.apply(&plan).await.unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::AccessDenied, "{err}");
    assert!(!err.to_string().contains(pw.expose_secret()));
    assert!(!format!("{err:?}").contains(pw.expose_secret()));
    assert_eq!(labels_of(&sm, &world.secret_id).await, before);
    assert!(sm.pending(&world.secret_id).await.unwrap().is_none());
}

/// Version ids and labels through `versions()`, without creation dates:
/// moto's ListSecretVersionIds reports the time of the call as CreatedDate.
async fn labels_of(sm: &rotui::aws::SecretsManager, id: &str) -> Vec<(String, Vec<String>)> {
    let mut v: Vec<_> = sm
        .versions(id)
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.version_id, v.stages))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn unknown_or_expired_credentials_say_to_log_in_again() {
    let world = iam_world();
    // Keys IAM has never issued: what AWS answers for an expired or revoked session.
    let s = session_on(&world.moto, "ASIAEXPIREDSESSION01", "expiredSecretKey").await;
    let err = s.secrets().app_secret(&world.secret_id).await.unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::ExpiredSession, "{err}");
    assert_eq!(err.code.as_deref(), Some("InvalidClientTokenId"));
    assert!(
        err.to_string()
            .contains("re-run `gds aws <account>-<role> --shell`"),
        "{err}"
    );
    assert!(!err.to_string().contains("expiredSecretKey"));
    let err = s.caller_identity().await.unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::ExpiredSession, "{err}");
}

// The default credential chain reads the process environment, which tests
// running in parallel must not change. So each case runs this binary again
// with a prepared environment, executing only `default_chain_child`.

const CHILD_CASE: &str = "ROTUI_TEST_AWS_CHILD_CASE";

/// Run `default_chain_child` in a child process with exactly these AWS
/// settings (every inherited AWS_* variable removed, HOME emptied, instance
/// metadata off so nothing leaves 127.0.0.1). Returns its output on success.
fn run_child(case: &str, env: &[(&str, String)]) -> String {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "aws_secrets::default_chain_child",
        "--exact",
        "--ignored",
        "--nocapture",
    ]);
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", home.path())
        .env("AWS_CONFIG_FILE", home.path().join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("no-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env(CHILD_CASE, case);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child case {case} failed:\n{text}");
    assert!(text.contains("1 passed"), "the child ran its test:\n{text}");
    text
}

/// The child side; does nothing unless started by `run_child`.
#[tokio::test]
#[ignore = "run by the default-chain tests in a child process"]
async fn default_chain_child() {
    let Ok(case) = std::env::var(CHILD_CASE) else {
        return;
    };
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    match case.as_str() {
        "gds-shell" => {
            let s = AwsSession::load(&AwsOptions::default()).await.unwrap();
            assert_eq!(s.region(), "eu-west-1", "region defaults to eu-west-1");
            assert_eq!(s.endpoint_url(), Some(var("AWS_ENDPOINT_URL").as_str()));
            let expiry = s.expiry().expect("expiry from AWS_CREDENTIAL_EXPIRATION");
            assert_eq!(expiry.to_rfc3339(), var("AWS_CREDENTIAL_EXPIRATION"));
            let left = s.remaining(chrono::Utc::now()).unwrap();
            assert!(left > std::time::Duration::from_secs(50 * 60), "{left:?}");
            let secret = s.secrets().app_secret(&var("ROTUI_TEST_SECRET")).await.unwrap();
            assert_eq!(secret.username, "signon");
            s.caller_identity().await.unwrap();
        }
        "profile" => {
            let opts = AwsOptions {
                profile: Some("rotui-test".into()),
                ..AwsOptions::default()
            };
            let s = AwsSession::load(&opts).await.unwrap();
            assert_eq!(s.region(), "eu-west-2", "region from the profile");
            assert_eq!(s.expiry(), None);
            let secret = s.secrets().app_secret(&var("ROTUI_TEST_SECRET")).await.unwrap();
            assert_eq!(secret.username, "signon");
        }
        "expired" => {
            let err = AwsSession::load(&AwsOptions::default()).await.unwrap_err();
            assert_eq!(err.kind, AwsErrorKind::ExpiredSession, "{err}");
            let msg = err.to_string();
            assert!(msg.contains("the AWS session expired at"), "{msg}");
            assert!(msg.contains("re-run `gds aws <account>-<role> --shell`"), "{msg}");
        }
        "none" => {
            let err = AwsSession::load(&AwsOptions::default()).await.unwrap_err();
            assert_eq!(err.kind, AwsErrorKind::ExpiredSession, "{err}");
            let msg = err.to_string();
            assert!(msg.contains("no AWS credentials found"), "{msg}");
            assert!(msg.contains("re-run `gds aws"), "{msg}");
        }
        other => panic!("unknown child case {other}"),
    }
}

#[tokio::test]
async fn the_default_chain_takes_a_gds_aws_shell_session() {
    let s = session().await;
    let id = app_secret_fixture(&s, "signon", "ChainPassw0rdGGGGG").await;
    let expiry = (chrono::Utc::now() + chrono::Duration::hours(1))
        .with_timezone(&chrono::Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    // What `gds aws govuk-production-fulladmin --shell` exports (no region).
    run_child(
        "gds-shell",
        &[
            ("AWS_ACCESS_KEY_ID", "ASIATESTGDSSESSION01".into()),
            ("AWS_SECRET_ACCESS_KEY", "gdsSessionSecretKey".into()),
            ("AWS_SESSION_TOKEN", "gdsSessionToken".into()),
            ("AWS_CREDENTIAL_EXPIRATION", expiry),
            ("AWS_ENDPOINT_URL", MotoServer::shared().endpoint_url()),
            ("ROTUI_TEST_SECRET", id),
        ],
    );
}

#[tokio::test]
async fn the_default_chain_takes_a_named_profile_and_its_region() {
    let moto = MotoServer::shared();
    let opts = AwsOptions {
        endpoint_url: Some(moto.endpoint_url()),
        region: Some("eu-west-2".into()),
        ..AwsOptions::default()
    };
    let london = AwsSession::with_credentials(&opts, &StaticCredentials::new("testing", "testing"))
        .await
        .unwrap();
    let id = app_secret_fixture(&london, "signon", "ProfilePassw0rdHHHH").await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let credentials = dir.path().join("credentials");
    std::fs::write(
        &config,
        format!(
            "[profile rotui-test]\nregion = eu-west-2\nendpoint_url = {}\n",
            moto.endpoint_url()
        ),
    )
    .unwrap();
    std::fs::write(
        &credentials,
        "[rotui-test]\naws_access_key_id = AKIAPROFILETEST0001\naws_secret_access_key = profileSecret\n",
    )
    .unwrap();
    run_child(
        "profile",
        &[
            ("AWS_CONFIG_FILE", config.display().to_string()),
            ("AWS_SHARED_CREDENTIALS_FILE", credentials.display().to_string()),
            // Left over from an old `gds aws --shell`: not about these keys.
            ("AWS_CREDENTIAL_EXPIRATION", "2020-01-01T00:00:00Z".into()),
            ("ROTUI_TEST_SECRET", id),
        ],
    );
}

#[tokio::test]
async fn an_expired_or_missing_session_fails_at_load_saying_to_log_in_again() {
    run_child(
        "expired",
        &[
            ("AWS_ACCESS_KEY_ID", "ASIATESTGDSSESSION02".into()),
            ("AWS_SECRET_ACCESS_KEY", "gdsSessionSecretKey".into()),
            ("AWS_SESSION_TOKEN", "gdsSessionToken".into()),
            ("AWS_CREDENTIAL_EXPIRATION", "2020-01-01T00:00:00Z".into()),
        ],
    );
    run_child("none", &[]);
}

#[tokio::test]
async fn a_silent_endpoint_times_out_as_a_network_error() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let opts = AwsOptions {
        endpoint_url: Some(format!("http://127.0.0.1:{port}")),
        region: Some("eu-west-1".into()),
        timeout: Some(std::time::Duration::from_secs(2)),
        ..AwsOptions::default()
    };
    let s = AwsSession::with_credentials(&opts, &StaticCredentials::new("testing", "testing"))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let err = s.secrets().app_secret("govuk/signon/mysql").await.unwrap_err();
    let took = started.elapsed();
    hold.abort();
    assert_eq!(err.kind, AwsErrorKind::Network, "{err}");
    assert!(err.to_string().contains("did not answer in time"), "{err}");
    assert!(took < std::time::Duration::from_secs(6), "took {took:?}");
}

#[test]
fn a_moto_server_stops_when_dropped() {
    let moto = MotoServer::start().unwrap();
    let port = moto.port();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    let log = moto.log_path();
    assert!(log.exists());
    drop(moto);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server is gone"
    );
    assert!(!log.exists(), "its directory is removed");
}

#[tokio::test]
async fn odd_secret_names_and_odd_values_are_handled() {
    let s = session().await;
    let sm = s.secrets();
    // Every punctuation mark AWS allows in a name.
    let id = format!("govuk/{}/my+sql=.@_-", unique("odd"));
    create(
        &s,
        &id,
        json!({"username": "we'ird`user%", "password": "Odd\"Passw0rd'`%\\", "host": "h"}),
    )
    .await;
    let secret = sm.app_secret(&id).await.unwrap();
    assert_eq!(secret.username, "we'ird`user%");
    assert_eq!(secret.password.expose_secret(), "Odd\"Passw0rd'`%\\");

    // Non-string values and non-JSON secrets are refused, quoting nothing.
    let admin = unique("env-rds-admin-passwords");
    create(&s, &admin, json!({"signon": 12345678})).await;
    let err = sm.admin_password(&admin, "signon").await.unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Invalid, "{err}");
    assert!(err.to_string().contains("is not a string"), "{err}");
    let plain = unique("govuk/plain/mysql");
    Client::new(s.sdk_config())
        .create_secret()
        .name(&plain)
        .secret_string("PlainTextPassw0rdNotJson")
        .send()
        .await
        .unwrap();
    let err = sm.app_secret(&plain).await.unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Invalid, "{err}");
    assert!(err.to_string().contains("is not valid JSON"), "{err}");
    assert!(!err.to_string().contains("PlainTextPassw0rdNotJson"));
}

#[tokio::test]
async fn create_if_missing_seeds_once_and_never_overwrites() {
    let s = session().await;
    let sm = s.secrets();
    let id = format!("govuk/{}/postgres", unique("seed"));
    let first = json!({"username": "account-api", "password": "SeedPassw0rdIIII", "host": "h"});
    assert!(sm.create_if_missing(&id, &first).await.unwrap());
    let second = json!({"username": "other", "password": "SeedPassw0rdJJJJ", "host": "h"});
    assert!(!sm.create_if_missing(&id, &second).await.unwrap());
    assert_eq!(current_json(&s, &id).await, first);
    assert_eq!(sm.versions(&id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn https_endpoints_go_through_rustls_and_untrusted_certificates_are_refused() {
    // A TLS server with a self-signed certificate (openssl's own test server).
    let dir = rotui_sandbox::guard::scratch_dir("rotui-tls-").unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is installed");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let port = rotui_sandbox::guard::free_port();
    let args: Vec<String> = ["s_server", "-quiet", "-accept", &port.to_string(), "-cert"]
        .iter()
        .map(|s| s.to_string())
        .chain([
            cert.display().to_string(),
            "-key".into(),
            key.display().to_string(),
        ])
        .collect();
    let _server = rotui_sandbox::guard::Guarded::spawn(
        std::path::Path::new("openssl"),
        &args,
        None,
        &dir.join("log"),
        Some(&dir),
    )
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "openssl s_server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let opts = AwsOptions {
        endpoint_url: Some(format!("https://127.0.0.1:{port}")),
        region: Some("eu-west-1".into()),
        timeout: Some(std::time::Duration::from_secs(10)),
        ..AwsOptions::default()
    };
    let s = AwsSession::with_credentials(&opts, &StaticCredentials::new("testing", "testing"))
        .await
        .unwrap();
    let err = s.secrets().app_secret("govuk/signon/mysql").await.unwrap_err();
    assert_eq!(err.kind, AwsErrorKind::Network, "{err}");
    assert!(err.to_string().to_lowercase().contains("certificate"), "{err}");
}

#[tokio::test]
async fn past_usernames_come_from_every_version_the_secret_keeps() {
    let s = session().await;
    let sm = s.secrets();
    let id = app_secret_fixture(&s, "signon", "OldHistoryPassw0rdAA").await;
    for name in ["signon_user_20261203", "signon_user_20261203_2"] {
        let pending = sm
            .put_pending(
                &id,
                &unique("rotation"),
                name,
                &rotui::secret::generate_password(),
            )
            .await
            .unwrap();
        sm.promote(&id, &pending.version_id).await.unwrap();
    }
    // The first user is now in a version with no label at all (deprecated).
    assert_eq!(
        sm.past_usernames(&id).await.unwrap(),
        ["signon", "signon_user_20261203", "signon_user_20261203_2"]
    );
}
