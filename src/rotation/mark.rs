//! The rotation mark: what a rotation in progress leaves on each
//! environment's app secret (as Secrets Manager tags), so that anyone on the
//! team — on any laptop, with any state directory — sees whose rotation it
//! is, resumes it, or takes it over. It is also the team-visible lock: while
//! a mark names another holder, rotui refuses to rotate unless told to take
//! over, and only once the holder has been idle for [`STALE_AFTER`].
//!
//! A mark holds decisions and names, never a secret: the rotation id (from
//! which the pending version's id is derived), the spec (with its nightly
//! restores), the old user per environment, the new user, the holder and
//! times, and what a restored environment's database was when its wait for
//! the nightly restore began (its baseline). AWS tag values allow
//! only letters, digits, spaces and `_.:/=+-@` (256 characters at most), so
//! every value goes through [`encode`]: anything else is written `=XX` per
//! UTF-8 byte (and `=` itself as `=3D`).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::spec::{Mode, PlanSpec, Restore, Rotation, default_restores};
use crate::target::{Engine, EnvName};

/// How long a holder may be silent (no heartbeat) before another operator
/// may take its rotation over with `--take-over`.
pub const STALE_AFTER: Duration = Duration::minutes(15);

/// The tag every key of a mark starts with.
pub const TAG_PREFIX: &str = "rotui:";
const ROTATION: &str = "rotui:rotation";
const APP: &str = "rotui:app";
const ENGINE: &str = "rotui:engine";
const ENVS: &str = "rotui:envs";
const MODE: &str = "rotui:mode";
const NEW_USER: &str = "rotui:new-user";
const OLD_USER: &str = "rotui:old-user:";
const HOLDER: &str = "rotui:holder";
const HOLDER_ARN: &str = "rotui:holder-arn";
const STARTED: &str = "rotui:started";
const SINCE: &str = "rotui:since";
const HEARTBEAT: &str = "rotui:heartbeat";
const TAKEN_FROM: &str = "rotui:taken-over-from";
/// `env from env from …`, each encoded (absent on marks written before
/// restores were configurable: the default restores then).
const RESTORES: &str = "rotui:restores";
const RESTORE_BASELINE: &str = "rotui:restore-baseline:";
/// The step the holder last began (absent until the first step).
const STEP: &str = "rotui:step";

/// A rotation in progress, as the team sees it in Secrets Manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationMark {
    pub rotation_id: String,
    pub spec: PlanSpec,
    /// The user each environment's app used when the rotation started (after
    /// the promotion it is AWSPREVIOUS: the mark is what still names it).
    pub old_users: BTreeMap<EnvName, String>,
    pub new_username: String,
    /// Who holds the rotation: `os-user@host`.
    pub holder: String,
    /// The holder's AWS caller identity (for people; never compared).
    pub holder_arn: String,
    /// When the rotation started.
    pub started: DateTime<Utc>,
    /// Since when the holder holds it (the start, or its take-over).
    pub since: DateTime<Utc>,
    /// The holder's last sign of life (refreshed at every step).
    pub heartbeat: DateTime<Utc>,
    /// The holder it was taken over from, if it was.
    pub taken_over_from: Option<String>,
    /// Per restored environment, its database's identity when the wait for
    /// the nightly restore began (`DbPort::database_incarnation`, or
    /// [`ABSENT`]): the wait ends when it differs.
    #[serde(default)]
    pub restore_baselines: BTreeMap<EnvName, String>,
    /// The step the holder last began (`production/drop-old-user`): where the
    /// rotation stands, for the fleet view and colleagues.
    #[serde(default)]
    pub step: Option<String>,
}

/// A baseline taken while the database did not exist.
pub const ABSENT: &str = "absent";

impl RotationMark {
    /// A new rotation's mark, held by `holder` from `now`.
    pub fn new(rotation: &Rotation, holder: &str, holder_arn: &str, now: DateTime<Utc>) -> Self {
        RotationMark {
            rotation_id: rotation.id.clone(),
            spec: rotation.spec.clone(),
            old_users: rotation.old_users.clone(),
            new_username: rotation.new_username.clone(),
            holder: holder.to_owned(),
            holder_arn: holder_arn.to_owned(),
            started: now,
            since: now,
            heartbeat: now,
            taken_over_from: None,
            restore_baselines: BTreeMap::new(),
            step: None,
        }
    }

    /// The rotation's decisions, as the journal would hold them.
    pub fn rotation(&self) -> Rotation {
        Rotation {
            id: self.rotation_id.clone(),
            spec: self.spec.clone(),
            old_users: self.old_users.clone(),
            new_username: self.new_username.clone(),
        }
    }

    /// No heartbeat for [`STALE_AFTER`] at `now`.
    pub fn is_stale(&self, now: DateTime<Utc>) -> bool {
        now - self.heartbeat >= STALE_AFTER
    }

    /// When the holder becomes stale (may be taken over).
    pub fn stale_at(&self) -> DateTime<Utc> {
        self.heartbeat + STALE_AFTER
    }

    /// "held by alice@laptop since 2026-12-03 09:12 UTC (last active 09:40 UTC)".
    pub fn held_text(&self) -> String {
        format!(
            "held by {} since {} (last active {})",
            self.holder,
            self.since.format("%Y-%m-%d %H:%M UTC"),
            self.heartbeat.format("%Y-%m-%d %H:%M:%S UTC")
        )
    }

    /// The mark as Secrets Manager tags (key, value), every value encoded.
    pub fn to_tags(&self) -> Vec<(String, String)> {
        let time = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
        let mut tags = vec![
            (ROTATION.to_owned(), encode(&self.rotation_id)),
            (APP.to_owned(), encode(&self.spec.app)),
            (ENGINE.to_owned(), self.spec.engine.as_str().to_owned()),
            (
                ENVS.to_owned(),
                self.spec
                    .envs
                    .iter()
                    .map(|e| encode(e))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            (
                MODE.to_owned(),
                match self.spec.mode {
                    Mode::Normal => "normal",
                    Mode::Compromised => "compromised",
                }
                .to_owned(),
            ),
            (NEW_USER.to_owned(), encode(&self.new_username)),
            (HOLDER.to_owned(), encode(&self.holder)),
            (HOLDER_ARN.to_owned(), encode(&self.holder_arn)),
            (STARTED.to_owned(), time(&self.started)),
            (SINCE.to_owned(), time(&self.since)),
            (HEARTBEAT.to_owned(), time(&self.heartbeat)),
        ];
        for (env, user) in &self.old_users {
            tags.push((format!("{OLD_USER}{}", encode(env)), encode(user)));
        }
        let restores: Vec<String> = self
            .spec
            .restores
            .iter()
            .flat_map(|r| [encode(&r.env), encode(&r.from)])
            .collect();
        tags.push((RESTORES.to_owned(), restores.join(" ")));
        for (env, baseline) in &self.restore_baselines {
            tags.push((format!("{RESTORE_BASELINE}{}", encode(env)), encode(baseline)));
        }
        if let Some(from) = &self.taken_over_from {
            tags.push((TAKEN_FROM.to_owned(), encode(from)));
        }
        if let Some(step) = &self.step {
            tags.push((STEP.to_owned(), encode(step)));
        }
        for (_, v) in &mut tags {
            truncate_encoded(v, 256);
        }
        tags
    }

    /// The mark these tags hold: `None` when there is none (no
    /// `rotui:rotation` tag), an error naming what is wrong when it is damaged.
    pub fn from_tags(tags: &[(String, String)]) -> Option<Result<RotationMark, String>> {
        let get = |k: &str| tags.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        let id = get(ROTATION)?;
        Some((|| -> Result<RotationMark, String> {
            let need = |k: &str| get(k).ok_or_else(|| format!("the rotation mark lacks the tag {k}"));
            let text =
                |k: &str| need(k).and_then(|v| decode(v).ok_or_else(|| format!("tag {k} is not readable")));
            let time = |k: &str| {
                need(k).and_then(|v| {
                    DateTime::parse_from_rfc3339(v)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|_| format!("tag {k} is not a time: {v}"))
                })
            };
            let engine = need(ENGINE).and_then(|v| {
                Engine::from_name(v).ok_or_else(|| format!("tag {ENGINE} names no engine: {v}"))
            })?;
            let mode = match need(MODE)? {
                "normal" => Mode::Normal,
                "compromised" => Mode::Compromised,
                other => return Err(format!("tag {MODE} names no mode: {other}")),
            };
            let envs = need(ENVS)?
                .split(' ')
                .filter(|e| !e.is_empty())
                .map(|e| {
                    decode(e)
                        .map(EnvName::from)
                        .ok_or_else(|| format!("tag {ENVS} is not readable"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mut old_users = BTreeMap::new();
            let mut restore_baselines = BTreeMap::new();
            for (k, v) in tags {
                let bad = || format!("tag {k} is not readable");
                if let Some(env) = k.strip_prefix(OLD_USER) {
                    old_users.insert(
                        EnvName::from(decode(env).ok_or_else(bad)?),
                        decode(v).ok_or_else(bad)?,
                    );
                } else if let Some(env) = k.strip_prefix(RESTORE_BASELINE) {
                    restore_baselines.insert(
                        EnvName::from(decode(env).ok_or_else(bad)?),
                        decode(v).ok_or_else(bad)?,
                    );
                }
            }
            let restores = match get(RESTORES) {
                None => default_restores(),
                Some(v) => {
                    let names = v
                        .split(' ')
                        .filter(|e| !e.is_empty())
                        .map(|e| decode(e).ok_or_else(|| format!("tag {RESTORES} is not readable")))
                        .collect::<Result<Vec<_>, _>>()?;
                    if names.len() % 2 != 0 {
                        return Err(format!("tag {RESTORES} does not hold pairs"));
                    }
                    names
                        .chunks(2)
                        .map(|p| Restore::new(p[0].as_str(), p[1].as_str()))
                        .collect()
                }
            };
            Ok(RotationMark {
                rotation_id: decode(id).ok_or_else(|| format!("tag {ROTATION} is not readable"))?,
                spec: PlanSpec {
                    app: text(APP)?,
                    engine,
                    envs,
                    mode,
                    restores,
                },
                old_users,
                new_username: text(NEW_USER)?,
                holder: text(HOLDER)?,
                holder_arn: get(HOLDER_ARN).and_then(decode).unwrap_or_default(),
                started: time(STARTED)?,
                since: time(SINCE)?,
                heartbeat: time(HEARTBEAT)?,
                taken_over_from: get(TAKEN_FROM).and_then(decode),
                restore_baselines,
                step: get(STEP).and_then(decode),
            })
        })())
    }
}

/// A tag value AWS accepts: letters, digits and `_.:/+-@` as they are,
/// anything else (`=` and spaces included) as `=XX` per UTF-8 byte.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"_.:/+-@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    out
}

/// The text [`encode`] wrote; `None` when it is not such text.
pub fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Cut an encoded value to `max` characters without splitting an `=XX`.
fn truncate_encoded(v: &mut String, max: usize) {
    if v.len() <= max {
        return;
    }
    let mut cut = max;
    if let Some(eq) = v[..max].rfind('=')
        && eq + 3 > max
    {
        cut = eq;
    }
    v.truncate(cut);
}

/// What an operator may do with a marked rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// No mark, or it is ours: go on.
    Own,
    /// Someone else's and stale, and the operator asked to take it over.
    TakeOver,
    /// Someone else's: the refusal, in words.
    Refused(String),
}

/// The rule for `me` (an `os-user@host`) and a rotation marked `mark`, at
/// `now`: the holder resumes freely; another operator is refused unless it
/// asks to take over (`take_over`) and the holder has been silent for
/// [`STALE_AFTER`]. (Whether the holder's rotui is running at all is the
/// database advisory lock's business: a run holds it throughout.)
pub fn access(mark: Option<&RotationMark>, me: &str, take_over: bool, now: DateTime<Utc>) -> Access {
    let Some(m) = mark else {
        return Access::Own;
    };
    if m.holder == me {
        return Access::Own;
    }
    if take_over && m.is_stale(now) {
        return Access::TakeOver;
    }
    let head = format!(
        "rotation {} of {} is {}",
        m.rotation_id,
        m.spec.label(),
        m.held_text()
    );
    let stale = m.stale_at().format("%Y-%m-%d %H:%M:%S UTC");
    Access::Refused(if take_over {
        format!(
            "{head}: it can be taken over once its holder has been idle for {} minutes, at {stale}; \
             meanwhile watch it in the dashboard (`rotui`), or ask {} to finish or leave it",
            STALE_AFTER.num_minutes(),
            m.holder
        )
    } else {
        format!(
            "{head}: watch it in the dashboard (`rotui`), take it over with `rotui rotate --take-over` \
             (allowed once its holder has been idle for {} minutes, at {stale}), or leave it to {}",
            STALE_AFTER.num_minutes(),
            m.holder
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark() -> RotationMark {
        let rotation = Rotation {
            id: "20261203-104500-a1b2c3".into(),
            spec: PlanSpec {
                app: "account-api".into(),
                engine: Engine::Postgres,
                envs: vec!["production".into(), "staging".into()],
                mode: Mode::Normal,
                restores: default_restores(),
            },
            old_users: [
                ("production".into(), "account-api it's \"q\" %=".to_string()),
                ("staging".into(), "account-api".to_string()),
            ]
            .into(),
            new_username: "account-api-user-20261203".into(),
        };
        let t0 = DateTime::parse_from_rfc3339("2026-12-03T10:45:00Z")
            .unwrap()
            .with_timezone(&Utc);
        RotationMark::new(
            &rotation,
            "alice@laptop one",
            "arn:aws:sts::123456789012:assumed-role/fulladmin/alice",
            t0,
        )
    }

    #[test]
    fn tags_round_trip_and_use_only_allowed_characters() {
        let mut m = mark();
        m.taken_over_from = Some("bob@laptop".into());
        m.step = Some("production/drop-old-user".into());
        m.restore_baselines.insert("staging".into(), "oid 16384".into());
        let tags = m.to_tags();
        for (k, v) in &tags {
            let ok = |s: &str| {
                s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || " _.:/=+-@".contains(c))
            };
            assert!(ok(k) && ok(v) && v.len() <= 256 && k.len() <= 128, "{k}={v}");
        }
        assert_eq!(RotationMark::from_tags(&tags), Some(Ok(m.clone())));
        assert!(RotationMark::from_tags(&[("team".into(), "x".into())]).is_none());
        let damaged: Vec<_> = tags.into_iter().filter(|(k, _)| k != "rotui:holder").collect();
        assert!(matches!(RotationMark::from_tags(&damaged), Some(Err(e)) if e.contains("rotui:holder")));
    }

    #[test]
    fn restores_round_trip_and_older_marks_mean_the_default() {
        let mut m = mark();
        m.spec.restores = vec![];
        assert_eq!(RotationMark::from_tags(&m.to_tags()), Some(Ok(m.clone())));
        m.spec.restores = vec![
            Restore::new("staging", "production"),
            Restore::new("qa env", "staging"),
        ];
        assert_eq!(RotationMark::from_tags(&m.to_tags()), Some(Ok(m.clone())));
        // A mark written before restores were tagged: the estate's default.
        let older: Vec<_> = m.to_tags().into_iter().filter(|(k, _)| k != RESTORES).collect();
        let read = RotationMark::from_tags(&older).unwrap().unwrap();
        assert_eq!(read.spec.restores, default_restores());
    }

    #[test]
    fn encoding_keeps_plain_names_readable() {
        assert_eq!(encode("signon_user_20261203"), "signon_user_20261203");
        assert_eq!(encode("a b=c%"), "a=20b=3Dc=25");
        assert_eq!(decode(&encode("é it's")).unwrap(), "é it's");
        assert_eq!(decode("=4"), None);
        let mut long = "x".repeat(254) + "=20";
        truncate_encoded(&mut long, 256);
        assert_eq!(long.len(), 254);
    }

    /// The staleness rule on a fixed clock.
    #[test]
    fn others_are_refused_until_the_holder_is_stale_and_take_over_is_asked() {
        let m = mark();
        let at = |min: i64| m.heartbeat + Duration::minutes(min);
        assert_eq!(access(None, "bob@b", false, at(0)), Access::Own);
        assert_eq!(access(Some(&m), "alice@laptop one", false, at(0)), Access::Own);
        // Bob, 14 minutes after Alice's last step: refused, told who and when.
        let Access::Refused(why) = access(Some(&m), "bob@b", true, at(14)) else {
            panic!()
        };
        assert!(
            why.contains("held by alice@laptop one since 2026-12-03 10:45 UTC"),
            "{why}"
        );
        assert!(why.contains("last active 2026-12-03 10:45:00 UTC"), "{why}");
        assert!(why.contains("at 2026-12-03 11:00:00 UTC"), "{why}");
        // Without --take-over: refused whatever the time, with the options.
        let Access::Refused(why) = access(Some(&m), "bob@b", false, at(600)) else {
            panic!()
        };
        assert!(why.contains("--take-over") && why.contains("`rotui`"), "{why}");
        // 15 minutes idle and asked: taken over.
        assert_eq!(access(Some(&m), "bob@b", true, at(15)), Access::TakeOver);
    }
}
