//! Who may talk to an estate cluster: as on EKS, a bearer token minted from
//! AWS credentials (`aws eks get-token`: `k8s-aws-v1.` + a presigned STS
//! GetCallerIdentity URL) is accepted only when the cluster's own account's
//! STS says those credentials are a role of that account. Another account's
//! credentials, the shell's static keys, or no token: 401, as a real
//! cluster answers a token minted with the wrong account's session.

use std::collections::HashSet;
use std::sync::Mutex;

use base64::Engine;

/// What an estate API server accepts.
#[derive(Debug)]
pub struct TokenAuth {
    /// The cluster's AWS account.
    pub account: String,
    /// Its account's moto (STS) port on 127.0.0.1.
    pub sts_port: u16,
    /// The sandbox's own controllers' token (they are in-cluster).
    pub internal_token: String,
    /// Tokens already proven (a proven token stays good while it lives).
    proven: Mutex<HashSet<String>>,
}

impl TokenAuth {
    pub fn new(account: &str, sts_port: u16) -> TokenAuth {
        TokenAuth {
            account: account.to_owned(),
            sts_port,
            internal_token: format!("sandbox-controllers-{}", uuid::Uuid::new_v4()),
            proven: Mutex::new(HashSet::new()),
        }
    }

    /// `Ok` for a token of this account; `Err(why)` for the 401's message.
    pub async fn check(&self, authorization: Option<&str>) -> Result<(), String> {
        let Some(token) = authorization.and_then(|h| h.strip_prefix("Bearer ")) else {
            return Err("Unauthorized: no bearer token (the context's exec plugin gave none)".into());
        };
        if token == self.internal_token || self.proven.lock().unwrap().contains(token) {
            return Ok(());
        }
        let key = access_key_of(token).ok_or("Unauthorized: not an EKS token (k8s-aws-v1.…)")?;
        let port = self.sts_port;
        let arn = tokio::task::spawn_blocking(move || caller_arn(port, &key))
            .await
            .map_err(|e| e.to_string())??;
        // moto answers keys it did not issue as its own default user: only a
        // role it issued is this account's.
        let ours = format!("arn:aws:sts::{}:assumed-role/", self.account);
        if !arn.starts_with(&ours) {
            return Err(format!(
                "Unauthorized: the token's AWS credentials are not a role of account {} (STS: {arn})",
                self.account
            ));
        }
        self.proven.lock().unwrap().insert(token.to_owned());
        Ok(())
    }
}

/// The access key id in an EKS token's presigned URL (`X-Amz-Credential`).
fn access_key_of(token: &str) -> Option<String> {
    let b64 = token.strip_prefix("k8s-aws-v1.")?;
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64.trim_end_matches('='))
        .ok()?;
    let url = url::Url::parse(std::str::from_utf8(&url).ok()?).ok()?;
    let (_, credential) = url.query_pairs().find(|(k, _)| k == "X-Amz-Credential")?;
    Some(credential.split('/').next()?.to_owned())
}

/// Ask the account's STS (moto) who `access_key` is: moto tells callers
/// apart by the key in the request's credential scope.
fn caller_arn(port: u16, access_key: &str) -> Result<String, String> {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={access_key}/20260101/eu-west-1/sts/aws4_request, \
         SignedHeaders=host, Signature=0"
    );
    let (status, body) = crate::moto::http_post(
        port,
        "/",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        "Action=GetCallerIdentity&Version=2011-06-15",
    )
    .map_err(|e| format!("asking STS: {e}"))?;
    let arn = body
        .split("<Arn>")
        .nth(1)
        .and_then(|s| s.split("</Arn>").next())
        .filter(|_| status == 200)
        .ok_or_else(|| format!("STS answered {status}"))?;
    Ok(arn.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_eks_tokens_name_an_access_key() {
        let url = "http://127.0.0.1:1/?Action=GetCallerIdentity&Version=2011-06-15\
                   &X-Amz-Credential=ASIAEXAMPLE%2F20261206%2Feu-west-1%2Fsts%2Faws4_request&X-Amz-Signature=0";
        let token = format!(
            "k8s-aws-v1.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url)
        );
        assert_eq!(access_key_of(&token).as_deref(), Some("ASIAEXAMPLE"));
        assert_eq!(access_key_of("k8s-aws-v1.!!"), None);
        assert_eq!(access_key_of("static-token"), None);
        // Refused without asking STS: no token, or not an EKS one.
        let auth = TokenAuth::new("111111111111", 1);
        assert!(auth.check(None).await.unwrap_err().contains("no bearer token"));
        assert!(
            auth.check(Some("Bearer static"))
                .await
                .unwrap_err()
                .contains("not an EKS token")
        );
        let internal = format!("Bearer {}", auth.internal_token);
        assert_eq!(auth.check(Some(&internal)).await, Ok(()));
    }
}
