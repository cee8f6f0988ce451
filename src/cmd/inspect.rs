//! `rotui inspect`: the database's read side, for people (tables) and
//! scripts (`--json`). Reads only.

use std::io::Write;

use color_eyre::eyre::{Result, eyre};
use percent_encoding::percent_decode_str;

use crate::cli::{ConnArgs, InspectArgs};
use crate::connect;
use crate::db::{Db, Inspection};
use crate::secret::redact;
use crate::target::{Engine, Target, TargetArgs};

/// Where to connect: the engine and the database to inspect.
pub struct InspectTarget {
    pub engine: Engine,
    pub url: String,
    pub database: String,
}

/// Work out the engine and database from `--db-url` and the target flags.
pub fn resolve(db_url: &str, target: &TargetArgs) -> Result<InspectTarget> {
    let engine = target
        .engine
        .or_else(|| Engine::of_url(db_url))
        .ok_or_else(|| eyre!("cannot tell the engine from the URL: pass --engine mysql|postgres"))?;
    let from_url = url::Url::parse(db_url)
        .ok()
        .map(|u| {
            percent_decode_str(u.path().trim_start_matches('/'))
                .decode_utf8_lossy()
                .into_owned()
        })
        .filter(|p| !p.is_empty());
    let database = target
        .database
        .clone()
        .or(from_url)
        .or_else(|| target.app.as_ref().map(|app| format!("{app}_production")))
        .ok_or_else(|| eyre!("which database? put it in the URL's path, or pass --database or --app"))?;
    Ok(InspectTarget {
        engine,
        url: db_url.to_owned(),
        database,
    })
}

/// Inspect the database that `--db-url` names, or — given the target
/// (`--env`, `--app`, `--engine`) — the one its app secret names, connected
/// as every command connects (admin password from the admin secret,
/// `--tunnel` through a relay pod).
pub async fn run(conn: &ConnArgs, target_args: &TargetArgs, args: &InspectArgs) -> Result<()> {
    super::config_for(conn, &target_args.env.iter().cloned().collect::<Vec<_>>())?;
    let result = match (&conn.db_url, Target::from_args(target_args)) {
        (Some(url), _) if connect::has_password(url) && !conn.tunnel => {
            let t = resolve(url, target_args)?;
            let db = Db::connect(t.engine, &t.url, None)
                .await
                .map_err(|e| eyre!("{e}"))?;
            let result = db.inspect(&t.database, args.user.as_deref()).await;
            db.close().await;
            result
        }
        (_, Ok(target)) => {
            let connected = connect::open(&target, conn).await;
            let result = match &connected.db {
                Ok(db) => db.inspect(&target.database, args.user.as_deref()).await,
                Err(e) => Err(crate::db::DbError::new(crate::db::DbErrorKind::Unreachable, e)),
            };
            connected.close().await;
            result
        }
        (Some(url), Err(_)) => {
            let is_db_url = Engine::of_url(url).is_some()
                && url::Url::parse(url).is_ok_and(|u| u.host_str().is_some_and(|h| !h.is_empty()));
            let why = if !is_db_url {
                format!(
                    "--db-url {:?} is not a URL (expected mysql://user@host:port/database or \
                     postgresql://user@host:port/database)",
                    crate::text::escape_controls(&redact(url))
                )
            } else if conn.tunnel {
                "with --tunnel, rotui needs the target to reach the database".to_owned()
            } else {
                "--db-url has no password (ROTUI_DB_URL may carry one)".to_owned()
            };
            return Err(eyre!(
                "{why}: or add --env, --app and --engine so rotui reads the admin password from the admin \
                 secret and the host from the app secret"
            ));
        }
        (None, Err(_)) => return Err(eyre!("inspect needs --db-url, or --env, --app and --engine")),
    };
    let inspection = result.map_err(|e| eyre!("{e}"))?;
    // Names come from the database: no control character reaches the
    // terminal raw (JSON keeps its own escapes, so stays JSON).
    let mut out = std::io::stdout().lock();
    if args.json {
        let json = redact(&serde_json::to_string_pretty(&inspection)?);
        writeln!(out, "{}", crate::text::escape_json_controls(&json))?;
    } else {
        let mut out = crate::text::EscapingWriter::new(out);
        write!(out, "{}", redact(&human(&inspection)))?;
        out.flush()?;
    }
    Ok(())
}

/// The inspection as aligned text sections.
pub fn human(i: &Inspection) -> String {
    let mut out = format!("{} — database {}\n\n", i.flavor, i.database);
    out.push_str("USERS\n");
    for u in &i.users {
        let mut flags = Vec::new();
        if !u.can_login {
            flags.push("cannot login".to_owned());
        }
        if u.superuser {
            flags.push("superuser".to_owned());
        }
        if u.account_locked {
            flags.push("locked".to_owned());
        }
        if u.password_expired {
            flags.push("password expired".to_owned());
        }
        if u.can_grant {
            flags.push("can grant".to_owned());
        }
        flags.extend(u.attributes.iter().cloned());
        if !u.member_of.is_empty() {
            flags.push(format!("member of {}", u.member_of.join(", ")));
        }
        out.push_str(&format!("  {:<32} {}\n", u.key(), flags.join("; ")));
    }
    for g in &i.grants {
        out.push_str(&format!("\nGRANTS for {}\n", g.user));
        for grant in &g.grants {
            out.push_str(&format!("  {}\n", grant.raw));
        }
    }
    out.push_str("\nOBJECTS (owner / definer)\n");
    for o in &i.objects {
        let name = match &o.schema {
            Some(s) => format!("{s}.{}", o.name),
            None => o.name.clone(),
        };
        out.push_str(&format!("  {:<18} {:<40} {}\n", o.kind, name, o.owner));
    }
    if !i.owned_in.is_empty() {
        out.push_str("\nOWNS OBJECTS IN\n");
        for o in &i.owned_in {
            out.push_str(&format!("  {:<32} {} objects\n", o.database, o.objects));
        }
    }
    out.push_str("\nCONNECTIONS per user\n");
    for c in &i.connections.counts {
        out.push_str(&format!(
            "  {:<32} {}\n",
            c.user.as_deref().unwrap_or("(dropped role)"),
            c.count
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_comes_from_flags_then_url_then_app() {
        let mut t = TargetArgs::default();
        let r = resolve("mysql://aws_db_admin@127.0.0.1:3306/signon_production", &t).unwrap();
        assert_eq!(
            (r.engine, r.database.as_str()),
            (Engine::Mysql, "signon_production")
        );
        t.app = Some("account-api".into());
        let r = resolve("postgresql://aws_db_admin@h/", &t).unwrap();
        assert_eq!(
            (r.engine, r.database.as_str()),
            (Engine::Postgres, "account-api_production")
        );
        assert!(resolve("odd://h/x", &TargetArgs::default()).is_err());
    }
}
