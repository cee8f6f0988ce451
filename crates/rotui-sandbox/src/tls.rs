//! A throwaway CA and the server certificates it signs, for database servers
//! that require TLS as RDS PostgreSQL 15+ does (`rds.force_ssl=1`): rotui
//! is pointed at the CA (`ca_bundle`) and checks each server's name, and a
//! test can ask for a certificate of another name (the mismatch rotui must
//! refuse) or another CA's (a wrong bundle).

use std::io;
use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

/// A CA that exists for one sandbox or test run.
pub struct SandboxCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

/// A server's certificate and its key, as PEM.
#[derive(Clone)]
pub struct ServerCert {
    pub cert_pem: String,
    /// Only ever written to a file readable by its owner alone.
    pub key_pem: String,
}

/// Where a server's certificate and key were written.
#[derive(Debug, Clone)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn err(e: rcgen::Error) -> io::Error {
    io::Error::other(format!("making a certificate: {e}"))
}

impl SandboxCa {
    pub fn new(name: &str) -> io::Result<SandboxCa> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().map_err(err)?;
        let pem = params.self_signed(&key).map_err(err)?.pem();
        Ok(SandboxCa {
            issuer: Issuer::new(params, key),
            pem,
        })
    }

    /// The CA certificate: what rotui's `ca_bundle` names.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// Write the CA certificate (public) to `path`.
    pub fn write(&self, path: &Path) -> io::Result<()> {
        std::fs::write(path, &self.pem)
    }

    /// A server certificate for `names` (DNS names or IP addresses, as the
    /// subject alternative names a client checks).
    pub fn server_cert(&self, names: &[&str]) -> io::Result<ServerCert> {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).map_err(err)?;
        params
            .distinguished_name
            .push(DnType::CommonName, names.first().cloned().unwrap_or_default());
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().map_err(err)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(err)?;
        Ok(ServerCert {
            cert_pem: format!("{}{}", cert.pem(), self.pem),
            key_pem: key.serialize_pem(),
        })
    }
}

impl ServerCert {
    /// Write `server.crt` and `server.key` (mode 0600) into `dir`, owned by
    /// `owner` when given (PostgreSQL refuses a key others can read, and
    /// reads it as the user it runs as).
    pub fn write(&self, dir: &Path, owner: Option<(u32, u32)>) -> io::Result<CertFiles> {
        use std::os::unix::fs::PermissionsExt;
        let files = CertFiles {
            cert: dir.join("server.crt"),
            key: dir.join("server.key"),
        };
        std::fs::write(&files.cert, &self.cert_pem)?;
        std::fs::write(&files.key, "")?;
        std::fs::set_permissions(&files.key, std::fs::Permissions::from_mode(0o600))?;
        std::fs::write(&files.key, &self.key_pem)?;
        if let Some((uid, gid)) = owner {
            for f in [&files.cert, &files.key] {
                std::os::unix::fs::chown(f, Some(uid), Some(gid))?;
            }
        }
        Ok(files)
    }
}

/// The names the sandbox's servers answer to: what the app secrets' `host`
/// holds (127.0.0.1:PORT) and its other spelling.
pub const LOCAL_NAMES: [&str; 2] = ["127.0.0.1", "localhost"];

/// mysqld options that require TLS with these files.
pub fn mysql_args(ca: &Path, files: &CertFiles) -> Vec<String> {
    vec![
        format!("--ssl-ca={}", ca.display()),
        format!("--ssl-cert={}", files.cert.display()),
        format!("--ssl-key={}", files.key.display()),
        "--require-secure-transport=ON".to_owned(),
    ]
}
