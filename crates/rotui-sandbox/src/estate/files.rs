//! What `Estate::start` writes into its directory, so rotui, kubectl and the
//! AWS CLI reach each environment as on the real estate: one kubeconfig
//! context per environment (every cluster called `govuk`, told apart by its
//! EKS ARN), one AWS profile per environment (`govuk-<env>`), rotui's own
//! config, `estate.json` and `estate.env`. No file holds a password.

use std::fmt::Write as _;
use std::path::Path;

use color_eyre::eyre::{Result, WrapErr};

use super::{EstateInfo, spec::EstateSpec};
use crate::world::exports;

/// `arn:aws:eks:<region>:<account>:cluster/govuk`
pub(super) fn cluster_arn(region: &str, account_id: &str) -> String {
    format!("arn:aws:eks:{region}:{account_id}:cluster/govuk")
}

pub(super) fn profile(env: &str) -> String {
    format!("govuk-{env}")
}

pub(super) fn write_all(info: &EstateInfo, spec: &EstateSpec) -> Result<()> {
    let write = |path: &Path, text: String| {
        std::fs::write(path, text).wrap_err_with(|| format!("writing {}", path.display()))
    };
    if let Some(aws) = info.aws_config_file.parent() {
        std::fs::create_dir_all(aws)?;
    }
    let python = super::creds::python()?;
    write(
        &super::creds::creds_script(&info.dir),
        super::creds::CREDS_PY.to_owned(),
    )?;
    write(
        &super::creds::token_script(&info.dir),
        super::creds::EKS_TOKEN_PY.to_owned(),
    )?;
    write(&info.kubeconfig, kubeconfig(info, &python))?;
    write(&info.aws_config_file, aws_config(info, &python))?;
    write(&info.aws_shared_credentials_file, aws_credentials(info))?;
    write(&info.rotui_config, rotui_toml(info, spec, &python))?;
    write(&info.dir.join("estate.json"), serde_json::to_string_pretty(info)?)?;
    write(&info.dir.join("estate.env"), env_file(info))?;
    Ok(())
}

/// Every context's user runs the estate's `aws eks get-token` (as `aws eks
/// update-kubeconfig` writes it): the token is minted with whatever AWS
/// credentials the calling process has.
fn kubeconfig(info: &EstateInfo, python: &Path) -> String {
    let mut out = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
    for e in info.environments.values() {
        let _ = write!(
            out,
            "- name: {}\n  cluster:\n    server: {}\n",
            e.cluster, e.kube_url
        );
    }
    out.push_str("users:\n");
    let q = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
    for e in info.environments.values() {
        let _ = write!(
            out,
            "- name: {}\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      \
             command: {}\n      args: [{}, \"--cluster-name\", \"govuk\"]\n      interactiveMode: Never\n",
            e.cluster,
            q(&python.to_string_lossy()),
            q(&super::creds::token_script(&info.dir).to_string_lossy()),
        );
    }
    out.push_str("contexts:\n");
    for e in info.environments.values() {
        let _ = write!(
            out,
            "- name: {}\n  context:\n    cluster: {}\n    user: {}\n    namespace: {}\n",
            e.kube_context, e.cluster, e.cluster, info.namespace
        );
    }
    let _ = write!(out, "current-context: {}\npreferences: {{}}\n", info.default_env);
    out
}

fn aws_config(info: &EstateInfo, python: &Path) -> String {
    let mut out = String::from(
        "# rotui sandbox estate: one profile per environment (its own account, its own moto),\n\
         # each the environment's platformengineer role (what the shell's session is).\n",
    );
    for e in info.environments.values() {
        let _ = write!(
            out,
            "[profile {}]\nregion = {}\nendpoint_url = {}\ncredential_process = {} --json\n\n",
            e.aws_profile,
            info.region,
            e.aws_endpoint_url,
            super::creds::credential_command(python, &info.dir, &e.name, "platformengineer"),
        );
    }
    out
}

fn aws_credentials(_info: &EstateInfo) -> String {
    // Every profile's keys come from its credential_process (an assumed
    // role, which the estate's clusters accept): no static keys.
    "# rotui sandbox estate: the profiles' keys come from credential_process (see aws/config).\n".to_owned()
}

/// rotui's config for the estate: `[environments.<env>]` and `[apps.<app>]`.
fn rotui_toml(info: &EstateInfo, spec: &EstateSpec, python: &Path) -> String {
    let q = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let mut out =
        String::from("# rotui's config for the sandbox estate (written by rotui-sandbox --estate).\n");
    for e in info.environments.values() {
        let _ = write!(
            out,
            "\n[environments.{}]\n# the estate's `gds aws govuk-{}-platformengineer -e`\ncredential_command = {}\naws_endpoint_url = {}   # sandbox only\nregion = {}\naccount_id = {}\nkube_context = {}\ncluster = {}\n",
            e.name,
            e.name,
            q(&super::creds::credential_command(
                python,
                &info.dir,
                &e.name,
                "platformengineer"
            )),
            q(&e.aws_endpoint_url),
            q(&info.region),
            q(&e.account_id),
            q(&e.kube_context),
            q(&e.cluster),
        );
        if let Some(ca) = &info.ca_bundle {
            let _ = writeln!(
                out,
                "ca_bundle = {}   # the estate's CA, as RDS's bundle: TLS verify-full",
                q(&ca.to_string_lossy())
            );
        }
        if let Some(from) = &e.restored_from {
            let _ = writeln!(
                out,
                "restored_from = {}   # its data sync restores from {from}'s backups",
                q(from)
            );
        }
    }
    for (name, app) in &spec.apps {
        if !app.copied_by_restore {
            let _ = write!(
                out,
                "\n[apps.{name}]\ncopied_by_restore = false   # not copied to restored environments: planned as its own environment\n"
            );
        }
    }
    out
}

/// `estate.env`: the exports for a shell working on the estate (production
/// by default). No `AWS_ENDPOINT_URL`: each profile carries its own.
fn env_file(info: &EstateInfo) -> String {
    let p = |path: &Path| path.to_string_lossy().into_owned();
    let default = &info.environments[&info.default_env];
    let vars = [
        ("KUBECONFIG", p(&info.kubeconfig)),
        ("AWS_CONFIG_FILE", p(&info.aws_config_file)),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            p(&info.aws_shared_credentials_file),
        ),
        ("ROTUI_CONFIG", p(&info.rotui_config)),
        ("AWS_PROFILE", default.aws_profile.clone()),
        ("ROTUI_ENV", default.name.clone()),
    ];
    exports(
        "# rotui sandbox estate: `source` this file, then run rotui.\n",
        &vars,
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::super::{EnvInfo, ServerInfo};
    use super::*;
    use crate::world::parse_env_file;

    fn info() -> (EstateInfo, EstateSpec) {
        let spec = EstateSpec::load(&EstateSpec::default_path()).unwrap();
        let server = |f: &str| ServerInfo {
            flavor: f.into(),
            version: "1".into(),
            host: "127.0.0.1:1".into(),
            admin_url: "mysql://aws_db_admin@127.0.0.1:1".into(),
        };
        let environments: BTreeMap<String, EnvInfo> = spec
            .environments
            .iter()
            .map(|(n, e)| {
                let info = EnvInfo {
                    name: n.clone(),
                    account_id: e.account_id.clone(),
                    aws_profile: profile(n),
                    aws_endpoint_url: "http://127.0.0.1:5".into(),
                    kube_context: n.clone(),
                    cluster: cluster_arn("eu-west-1", &e.account_id),
                    kube_url: "http://127.0.0.1:6".into(),
                    restored_from: spec.restored_from(n).map(str::to_owned),
                    admin_secret: format!("{n}-rds-admin-passwords"),
                    mysql: server("mysql"),
                    postgres: server("postgresql-17"),
                };
                (n.clone(), info)
            })
            .collect();
        let dir = PathBuf::from("/tmp/e state");
        let info = EstateInfo {
            kubeconfig: dir.join("kubeconfig"),
            aws_config_file: dir.join("aws/config"),
            aws_shared_credentials_file: dir.join("aws/credentials"),
            rotui_config: dir.join("rotui.toml"),
            dir,
            namespace: "apps".into(),
            region: "eu-west-1".into(),
            default_env: "production".into(),
            environments,
            apps: spec.apps.clone(),
            ca_bundle: Some(PathBuf::from("/tmp/e state/rds-ca-bundle.pem")),
        };
        (info, spec)
    }

    #[test]
    fn rotui_toml_has_the_agreed_schema() {
        let (info, spec) = info();
        let python = Path::new("/venv/bin/python");
        let v: toml::Value = toml::from_str(&rotui_toml(&info, &spec, python)).unwrap();
        let st = &v["environments"]["staging"];
        assert_eq!(
            st["credential_command"].as_str(),
            Some("/venv/bin/python '/tmp/e state/creds.py' staging --role platformengineer")
        );
        assert_eq!(st["account_id"].as_str(), Some("222222222222"));
        assert_eq!(st["kube_context"].as_str(), Some("staging"));
        assert_eq!(
            st["cluster"].as_str(),
            Some("arn:aws:eks:eu-west-1:222222222222:cluster/govuk")
        );
        assert_eq!(st["restored_from"].as_str(), Some("production"));
        assert_eq!(st["region"].as_str(), Some("eu-west-1"));
        assert!(v["environments"]["production"].get("restored_from").is_none());
        assert_eq!(
            v["environments"]["integration"]["restored_from"].as_str(),
            Some("staging")
        );
        assert_eq!(
            v["apps"]["account-api"]["copied_by_restore"].as_bool(),
            Some(false)
        );
        assert!(v["apps"].get("signon").is_none());
        assert_eq!(st["ca_bundle"].as_str(), Some("/tmp/e state/rds-ca-bundle.pem"));
    }

    #[test]
    fn env_file_and_kubeconfig() {
        let (info, _) = info();
        let env = parse_env_file(&env_file(&info));
        assert_eq!(env["AWS_PROFILE"], "govuk-production");
        assert_eq!(env["ROTUI_CONFIG"], "/tmp/e state/rotui.toml");
        assert!(!env.contains_key("AWS_ENDPOINT_URL"));
        let kc: serde_json::Value =
            serde_saphyr::from_str(&kubeconfig(&info, Path::new("/venv/bin/python"))).unwrap();
        assert_eq!(kc["users"][0]["user"]["exec"]["command"], "/venv/bin/python");
        assert_eq!(
            kc["users"][0]["user"]["exec"]["args"][0],
            "/tmp/e state/eks-token.py"
        );
        assert_eq!(kc["contexts"][2]["name"], "staging");
        assert_eq!(
            kc["contexts"][2]["context"]["cluster"],
            "arn:aws:eks:eu-west-1:222222222222:cluster/govuk"
        );
        assert_eq!(kc["current-context"], "production");
    }
}
