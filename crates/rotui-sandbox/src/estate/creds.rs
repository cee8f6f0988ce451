//! How the estate hands out AWS credentials and cluster tokens, as a
//! GOV.UK laptop does: two small programs written into the estate's
//! directory and run by moto's own Python (which has boto3).
//!
//! - `creds.py <env> --role <role>` is the estate's `gds aws
//!   govuk-<env>-<role> -e`: it assumes `govuk-<env>-<role>` in that
//!   environment's account (moto's STS) and prints `export AWS_…` lines
//!   (`--json`: credential_process JSON, for the profiles' `credential_process`).
//! - `eks-token.py` is the estate's `aws eks get-token`: it mints the token
//!   from whatever AWS credentials its environment holds (a presigned STS
//!   GetCallerIdentity, as EKS's is). Each API server asks its own
//!   account's STS who that is and refuses (401) anyone else's
//!   ([`crate::apiserver::TokenAuth`]).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub(super) const CREDS_PY: &str = r#"#!/usr/bin/env python3
"""The sandbox estate's `gds aws govuk-<env>-<role> -e`: one account's credentials."""
import argparse, json, os, sys
import boto3

here = os.path.dirname(os.path.abspath(__file__))
p = argparse.ArgumentParser()
p.add_argument("env")
p.add_argument("--role", default="platformengineer")
p.add_argument("--json", action="store_true", help="credential_process output")
a = p.parse_args()
if os.environ.get("AWS_VAULT"):
    sys.exit("aws-vault: error: exec: running in an existing aws-vault subshell; 'exit' first")
with open(os.path.join(here, "estate.json")) as f:
    estate = json.load(f)
env = estate["environments"].get(a.env)
if env is None:
    sys.exit(f"no environment {a.env} in the estate")
sts = boto3.client("sts", endpoint_url=env["aws_endpoint_url"], region_name=estate["region"],
                   aws_access_key_id="testing", aws_secret_access_key="testing")
role = f"arn:aws:iam::{env['account_id']}:role/govuk-{a.env}-{a.role}"
c = sts.assume_role(RoleArn=role, RoleSessionName="sandbox.operator", DurationSeconds=3600)["Credentials"]
expiry = c["Expiration"].strftime("%Y-%m-%dT%H:%M:%SZ")
if a.json:
    print(json.dumps({"Version": 1, "AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"],
                      "SessionToken": c["SessionToken"], "Expiration": expiry}))
else:
    print(f"export AWS_ACCESS_KEY_ID={c['AccessKeyId']}")
    print(f"export AWS_SECRET_ACCESS_KEY={c['SecretAccessKey']}")
    print(f"export AWS_SESSION_TOKEN={c['SessionToken']}")
    print(f"export AWS_CREDENTIAL_EXPIRATION={expiry}")
"#;

pub(super) const EKS_TOKEN_PY: &str = r#"#!/usr/bin/env python3
"""The sandbox estate's `aws eks get-token`: a token for whoever this process's AWS credentials are."""
import base64, datetime, json, sys
import boto3

session = boto3.session.Session()
sts = session.client("sts", region_name=session.region_name or "eu-west-1")
url = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60)
token = "k8s-aws-v1." + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=14)
print(json.dumps({"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1beta1",
                  "spec": {}, "status": {"token": token,
                  "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}}))
"#;

/// The programs' paths in the estate's directory.
pub(super) fn creds_script(dir: &Path) -> PathBuf {
    dir.join("creds.py")
}

pub(super) fn token_script(dir: &Path) -> PathBuf {
    dir.join("eks-token.py")
}

/// The Python that runs them: moto's own (it has boto3).
pub(super) fn python() -> std::io::Result<PathBuf> {
    let moto = crate::moto::moto_server_path().map_err(std::io::Error::other)?;
    let python = moto.with_file_name("python");
    if python.is_file() {
        Ok(python)
    } else {
        Err(std::io::Error::other(format!(
            "{} has no python beside it (the estate's credential programs need moto's boto3)",
            moto.display()
        )))
    }
}

/// `sh` quoting, for the credential command rotui runs with `sh -c`.
pub(super) fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-=:".contains(&b))
    {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `<python> <dir>/creds.py <env> --role <role>`: the estate's `gds aws … -e`.
pub fn credential_command(python: &Path, dir: &Path, env: &str, role: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "{} {} {} --role {}",
        sh_quote(&python.to_string_lossy()),
        sh_quote(&creds_script(dir).to_string_lossy()),
        sh_quote(env),
        sh_quote(role)
    );
    out
}
