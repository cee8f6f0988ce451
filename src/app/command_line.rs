//! The `:` command line: `env NAME`, `app NAME`, `engine ENGINE` and
//! `target ENV/APP/ENGINE`, in any combination; what is not named stays as
//! the current target has it. Engines are parsed as the `--engine` flag
//! parses them (`mysql`, `mariadb`, `postgres`, `postgresql`, `pg`).

use clap::ValueEnum;

use crate::target::{Engine, EnvName, Target};

/// The target a command line asks for: `Ok(None)` for an empty line.
pub fn parse(current: Option<&Target>, line: &str) -> Result<Option<Target>, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.is_empty() {
        return Ok(None);
    }
    let (mut env, mut app, mut engine) = match current {
        Some(t) => (Some(t.env.clone()), Some(t.app.clone()), Some(t.engine)),
        None => (None, None, None),
    };
    let mut it = words.iter();
    while let Some(word) = it.next() {
        let mut value = || it.next().copied().ok_or(format!(":{word} needs a value"));
        match *word {
            "env" | "e" => env = Some(EnvName::from(value()?)),
            "app" | "a" => app = Some(value()?.to_owned()),
            "engine" => engine = Some(parse_engine(value()?)?),
            "target" => {
                let v = value()?;
                let [e, a, g] = v.split('/').collect::<Vec<_>>()[..] else {
                    return Err("target is env/app/engine, e.g. production/signon/mysql".into());
                };
                env = Some(EnvName::from(e));
                app = Some(a.to_owned());
                engine = Some(parse_engine(g)?);
            }
            other => {
                return Err(format!(
                    "unknown command {other:?}: try env, app, engine or target"
                ));
            }
        }
    }
    let valid = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    match (env, app, engine) {
        (Some(e), Some(a), Some(g)) if valid(&e) && valid(&a) => Ok(Some(Target::new(&e, &a, g))),
        (Some(e), Some(a), Some(_)) => Err(format!("not a valid environment/app name: {e:?} / {a:?}")),
        _ => Err("give env, app and engine (e.g. :target production/signon/mysql)".into()),
    }
}

/// The command words, in the order Tab offers them.
const COMMANDS: [&str; 4] = ["env", "app", "engine", "target"];

/// `line` with its last word completed by Tab for the `nth` time (cycling
/// through the matches): a command word, or the value the command before
/// it takes, from what the prompt knows (the current target's names, the
/// engines). `None` when nothing matches.
pub fn complete(current: Option<&Target>, line: &str, nth: usize) -> Option<String> {
    // The word being completed: empty after a space.
    let start = line.rfind(char::is_whitespace).map_or(0, |i| i + 1);
    let (before, prefix) = line.split_at(start);
    let previous = before.split_whitespace().next_back();
    let owned: Vec<String> = match previous {
        Some("env" | "e") => current.map(|t| t.env.as_str().to_owned()).into_iter().collect(),
        Some("app" | "a") => current.map(|t| t.app.clone()).into_iter().collect(),
        Some("engine") => Engine::value_variants()
            .iter()
            .map(|e| e.as_str().to_owned())
            .collect(),
        Some("target") => current
            .map(|t| format!("{}/{}/{}", t.env, t.app, t.engine.as_str()))
            .into_iter()
            .collect(),
        _ => COMMANDS.iter().map(|c| c.to_string()).collect(),
    };
    let matches: Vec<&String> = owned
        .iter()
        .filter(|c| c.to_lowercase().starts_with(&prefix.to_lowercase()))
        .collect();
    let chosen = matches.get(nth % matches.len().max(1))?;
    Some(format!("{before}{chosen} "))
}

/// An engine as the `--engine` flag reads it.
fn parse_engine(word: &str) -> Result<Engine, String> {
    Engine::from_str(word, true).map_err(|_| format!("unknown engine {word:?}: use mysql or postgres"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(line: &str) -> Result<Option<Target>, String> {
        parse(Some(&Target::new("production", "signon", Engine::Mysql)), line)
    }

    #[test]
    fn every_engine_name_works_in_engine_and_target_alike() {
        for (word, engine) in [
            ("mysql", Engine::Mysql),
            ("mariadb", Engine::Mysql),
            ("MariaDB", Engine::Mysql),
            ("postgres", Engine::Postgres),
            ("postgresql", Engine::Postgres),
            ("pg", Engine::Postgres),
        ] {
            let want = Target::new("staging", "account-api", engine);
            assert_eq!(
                target(&format!("env staging app account-api engine {word}")),
                Ok(Some(want.clone())),
                "{word}"
            );
            assert_eq!(
                target(&format!("target staging/account-api/{word}")),
                Ok(Some(want)),
                "{word}"
            );
        }
    }

    #[test]
    fn unnamed_parts_stay_and_mistakes_are_explained() {
        assert_eq!(
            target("e staging"),
            Ok(Some(Target::new("staging", "signon", Engine::Mysql)))
        );
        assert_eq!(target("   "), Ok(None));
        assert!(
            target("engine oracle")
                .unwrap_err()
                .contains("unknown engine \"oracle\"")
        );
        assert!(
            target("target x/y/oracle")
                .unwrap_err()
                .contains("unknown engine")
        );
        assert!(target("target x/y").unwrap_err().contains("env/app/engine"));
        assert!(target("env").unwrap_err().contains(":env needs a value"));
        assert!(target("env a;b").unwrap_err().contains("not a valid"));
        assert!(target("drop").unwrap_err().contains("unknown command"));
        assert!(
            parse(None, "env staging")
                .unwrap_err()
                .contains("give env, app and engine")
        );
    }
}
