//! A survey reads each outside value once per environment: the same survey
//! through the memoized ports, with the fake counting every read.

use super::*;
use crate::rotation::survey::{survey, survey_as_is};

const SECRETS: [&str; 5] = [
    "caller_identity",
    "current",
    "pending",
    "past_usernames",
    "rotation_mark",
];

fn reads(s: &Setup) -> BTreeMap<String, usize> {
    std::mem::take(&mut s.fake("production").reads)
}

fn shown(x: &crate::rotation::survey::Survey) -> Vec<String> {
    x.steps
        .iter()
        .map(|st| format!("{} {} {:?}", st.step.id, st.state.detail(), st.preview))
        .collect()
}

/// At every point of a rotation, one survey makes at most one call per
/// (method, arguments): one `current()` where each step used to read it again,
/// and shows exactly what the unmemoized survey shows.
#[tokio::test]
async fn a_survey_reads_each_outside_value_once() {
    for engine in [Engine::Mysql, Engine::Postgres] {
        let old = match engine {
            Engine::Mysql => "signon",
            Engine::Postgres => "account-api",
        };
        let s = Setup::new(engine, &["production"], Mode::Normal);
        let mut o = opts(true, &[old]);
        // Most calls in one survey: (current(), Secrets Manager, all), before and after.
        let (mut before_max, mut after_max) = ([0; 3], [0; 3]);
        // Every boundary of the rotation under way (after the last step, it is over).
        for step in &s.plan.steps[..s.plan.steps.len() - 1] {
            o.stop_after = Some(step.id.clone());
            let rot = s.rotation(&o).await;
            s.run(&rot, &o).await;
            reads(&s);
            let plain = survey_as_is(&s.plan.spec, &s.ctx, &s.journal(), &RunOptions::default())
                .await
                .unwrap();
            let before = reads(&s);
            let memo = survey(&s.plan.spec, &s.ctx, &s.journal(), &RunOptions::default())
                .await
                .unwrap();
            let after = reads(&s);
            assert_eq!(shown(&memo), shown(&plain), "{engine} after {}", step.id);
            assert_eq!(memo.rotation, plain.rotation);
            for (read, n) in &after {
                assert_eq!(*n, 1, "{engine} after {}: {read} read {n} times", step.id);
            }
            assert_eq!(after.get("current"), Some(&1), "{engine} after {}", step.id);
            for (max, m) in [(&mut before_max, &before), (&mut after_max, &after)] {
                let secrets: usize = SECRETS.iter().filter_map(|r| m.get(*r)).sum();
                let now = [m["current"], secrets, m.values().sum()];
                for (x, n) in max.iter_mut().zip(now) {
                    *x = (*x).max(n);
                }
            }
            assert!(
                before["current"] > 1,
                "{engine}: the unmemoized survey reads current once?"
            );
        }
        // The README's numbers: `current()` calls and all calls per survey, at most.
        eprintln!(
            "{engine}: per survey at most, current() {} -> {}, Secrets Manager {} -> {}, all reads {} -> {}",
            before_max[0], after_max[0], before_max[1], after_max[1], before_max[2], after_max[2]
        );
    }
}
