//! [`SecretSource`] backed by AWS Secrets Manager through the real SDK — the
//! sandbox points it at moto, a real cluster's ESO at AWS. Reads the
//! AWSCURRENT version, as ESO does by default.

use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use futures::future::BoxFuture;

use super::SecretSource;
use rotui::secret::redact;

/// Reads `SecretString` JSON documents with `GetSecretValue`.
#[derive(Clone, Debug)]
pub struct AwsSource {
    client: aws_sdk_secretsmanager::Client,
}

impl AwsSource {
    /// `client` carries region, credentials and any endpoint override.
    pub fn new(client: aws_sdk_secretsmanager::Client) -> AwsSource {
        AwsSource { client }
    }
}

impl SecretSource for AwsSource {
    fn get(&self, key: &str) -> BoxFuture<'static, Result<serde_json::Value, String>> {
        let client = self.client.clone();
        let key = key.to_owned();
        Box::pin(async move {
            let out = client
                .get_secret_value()
                .secret_id(&key)
                // ESO reads AWSCURRENT (its default `version`). Asked for
                // explicitly because moto 5 keeps answering an unlabelled
                // read with the old version after AWSCURRENT moves.
                .version_stage("AWSCURRENT")
                .send()
                .await
                .map_err(|e| describe(&e))?;
            let text = out
                .secret_string()
                .ok_or_else(|| format!("secret {key} has no SecretString"))?;
            // serde's message names no content, but keep ours plainer still.
            serde_json::from_str(text).map_err(|_| format!("secret {key} is not a JSON document"))
        })
    }
}

/// `Code: message` for service errors (as ESO shows them), the error chain
/// otherwise; redacted.
fn describe<E, R>(e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let text = match e {
        SdkError::ServiceError(s) => {
            let err = s.err();
            match (err.code(), err.message()) {
                (Some(code), Some(msg)) => format!("{code}: {msg}"),
                (Some(code), None) => code.to_owned(),
                _ => DisplayErrorContext(e).to_string(),
            }
        }
        other => DisplayErrorContext(other).to_string(),
    };
    redact(&text)
}
