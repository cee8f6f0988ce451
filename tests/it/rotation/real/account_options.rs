//! A MySQL user with account options (TLS required, resource limits, the
//! password and lock policy, an attribute) rotated to the end in the
//! sandbox — the drop included — on MySQL 9.7 and MariaDB: the new user has
//! exactly the old user's options, as the server itself prints them.

use super::*;
use sqlx::mysql::MySqlConnection;

/// The account's options as `SHOW CREATE USER` prints them, without its
/// name and its credentials (`IDENTIFIED …`): what the server says, not
/// what rotui reads, so the comparison does not agree with itself.
async fn printed_options(flavor: MysqlFlavor, user: &str) -> String {
    let server = MysqlServer::shared_flavor(flavor);
    let mut c = MySqlConnection::connect(&server.admin_url(None)).await.unwrap();
    let sql = format!("SHOW CREATE USER {}", Account::new(user, "%").sql());
    let row: (Vec<u8>,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_one(&mut c)
        .await
        .unwrap();
    let _ = c.close().await;
    let text = String::from_utf8_lossy(&row.0).into_owned();
    // `CREATE USER `name`@`%` IDENTIFIED … [REQUIRE …] [WITH …] [PASSWORD …] …`
    let after_name = text.split_once("@`%`").map(|(_, r)| r).unwrap_or(&text);
    let Some((_, from_identified)) = after_name.split_once(" IDENTIFIED ") else {
        return after_name.trim().to_owned();
    };
    let rest = [" REQUIRE ", " WITH ", " PASSWORD EXPIRE", " ACCOUNT "]
        .iter()
        .filter_map(|w| from_identified.find(w))
        .min()
        .map(|at| &from_identified[at..])
        .unwrap_or("");
    rest.trim().to_owned()
}

per_flavor!(a_user_with_account_options_is_rotated_to_the_end);
async fn a_user_with_account_options_is_rotated_to_the_end(flavor: MysqlFlavor) {
    let parts = mysql_parts(flavor).await;
    let old = Account::new(&parts.old, "%").sql();
    let setup = match flavor {
        MysqlFlavor::Mysql => vec![
            format!(
                "ALTER USER {old} REQUIRE SSL WITH MAX_USER_CONNECTIONS 50 \
                 PASSWORD EXPIRE INTERVAL 365 DAY PASSWORD HISTORY 5 \
                 FAILED_LOGIN_ATTEMPTS 5 PASSWORD_LOCK_TIME 1"
            ),
            format!(
                "ALTER USER {old} ATTRIBUTE '{{\"team\": \"govuk\", \"note\": \"PASSWORD EXPIRE is policy\"}}'"
            ),
        ],
        // MariaDB's subset: limits (its own MAX_STATEMENT_TIME too) and the
        // password expiry (the sandbox's MariaDB serves no TLS, so no REQUIRE
        // SSL there: no login could meet it).
        MysqlFlavor::Mariadb => vec![format!(
            "ALTER USER {old} WITH MAX_USER_CONNECTIONS 50 MAX_QUERIES_PER_HOUR 100000 \
             MAX_CONNECTIONS_PER_HOUR 5000 MAX_STATEMENT_TIME 300 PASSWORD EXPIRE INTERVAL 365 DAY"
        )],
    };
    MysqlServer::shared_flavor(flavor)
        .admin_exec(&setup)
        .await
        .unwrap();
    let before = printed_options(flavor, &parts.old).await;
    assert!(before.contains("MAX_USER_CONNECTIONS 50"), "{before}");
    if flavor == MysqlFlavor::Mariadb {
        assert!(before.contains("PASSWORD EXPIRE INTERVAL 365 DAY"), "{before}");
    }
    if flavor == MysqlFlavor::Mysql {
        for option in [
            "REQUIRE SSL",
            "FAILED_LOGIN_ATTEMPTS 5",
            "PASSWORD_LOCK_TIME 1",
            "ATTRIBUTE",
        ] {
            assert!(before.contains(option), "{option} in {before}");
        }
    }

    let (_sandbox, w) = deployed(parts).await;
    let o = sandbox_opts(&w, None);
    let r = runner::start_or_resume(&w.plan.spec, &w.ctx, &w.journal(), &o)
        .await
        .unwrap();
    let out = runner::run(&w.plan, &w.ctx, &r, &w.journal(), &o).await;
    assert_eq!(out, RunOutcome::Done, "{out:?}");

    // The new user's options are the old user's, as the server prints them.
    assert_eq!(printed_options(flavor, &r.new_username).await, before);
    // The app runs on it (with TLS where required: the server enforces
    // REQUIRE SSL), AWSCURRENT logs in, and the old user is gone.
    let cur = w.current().await;
    assert_eq!(cur.username, r.new_username);
    assert_eq!(w.app_reads(&cur.username, &cur.password).await, Ok(2));
    assert!(w.db.connections(&r.new_username).await.unwrap() >= 2);
    assert!(w.db.user(&w.old).await.unwrap().is_none());
    let tags = w.tags().await;
    assert!(!tags.iter().any(|(k, _)| k.starts_with("rotui:")), "{tags:?}");
}
