//! Data from one source as the dashboard holds it: the last good answer,
//! its age, the last error, and the generations asked for and shown. How an
//! answer is accepted (or dropped as older than what is shown) is written
//! here once, for every source.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::secret::Redacted;

/// A worker's answer: data, or an error message, redacted by construction.
pub type Fetched<T> = Result<T, Redacted>;

/// Which asking an answer is for (its generation), and when it came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub generation: u64,
    pub at: DateTime<Utc>,
}

/// Data from one source, with what the pane must say about it: loading, its
/// age, the last error (the last good data is kept when a refresh fails).
#[derive(Debug, Clone)]
pub struct Loadable<T> {
    pub data: Option<T>,
    pub loaded_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub error_at: Option<DateTime<Utc>>,
    /// Newest generation asked for, and newest applied: anything older than
    /// what is shown is dropped.
    pub requested: u64,
    pub applied: u64,
    pub requested_at: Option<DateTime<Utc>>,
}

impl<T> Default for Loadable<T> {
    fn default() -> Self {
        Loadable {
            data: None,
            loaded_at: None,
            error: None,
            error_at: None,
            requested: 0,
            applied: 0,
            requested_at: None,
        }
    }
}

/// How a pane labels its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    Loading,
    Fresh,
    Stale { age: TimeDelta },
    Failed { error: String, age: Option<TimeDelta> },
}

impl<T> Loadable<T> {
    pub fn in_flight(&self) -> bool {
        self.requested > self.applied
    }

    /// Data older than three refresh intervals is stale: the source is slow
    /// or gone. Watched data (`interval` None) is fresh until its watch fails.
    pub fn freshness(&self, now: DateTime<Utc>, interval: Option<Duration>) -> Freshness {
        let age = self.loaded_at.map(|at| now - at);
        if let Some(error) = &self.error {
            return Freshness::Failed {
                error: error.clone(),
                age,
            };
        }
        match (age, interval) {
            (None, _) => Freshness::Loading,
            (Some(age), Some(interval))
                if age > TimeDelta::from_std(interval * 3).unwrap_or(TimeDelta::MAX) =>
            {
                Freshness::Stale { age }
            }
            (Some(_), _) => Freshness::Fresh,
        }
    }

    /// Forget everything (a new target): in-flight answers will be dropped
    /// (a watched source answers under the generation it was asked with, so
    /// the old ones must be strictly older than anything shown).
    pub fn reset(&mut self) {
        let requested = self.requested + 1;
        *self = Loadable {
            requested,
            applied: requested,
            ..Default::default()
        };
    }

    /// Ask again: the next generation, asked now.
    pub fn bump(&mut self, now: DateTime<Utc>) -> u64 {
        self.requested += 1;
        self.requested_at = Some(now);
        self.requested
    }

    /// Store an answer unless a newer one is already shown. On failure the
    /// last good data stays, with the error beside it. `None`: dropped;
    /// else whether what the screen shows changed, `same` saying whether
    /// two answers look the same on screen: a refresh that brings the same
    /// rows leaves the screen still.
    pub fn accept_by(
        &mut self,
        stamp: Stamp,
        result: Fetched<T>,
        same: impl Fn(&T, &T) -> bool,
    ) -> Option<bool> {
        // Watched sources answer many times under one generation.
        if stamp.generation < self.applied {
            return None;
        }
        self.applied = stamp.generation;
        self.requested = self.requested.max(stamp.generation);
        Some(match result {
            Ok(data) => {
                let changed = self.error.is_some() || !self.data.as_ref().is_some_and(|old| same(old, &data));
                self.data = Some(data);
                self.loaded_at = Some(stamp.at);
                self.error = None;
                self.error_at = None;
                changed
            }
            Err(e) => {
                let e = e.into_string();
                let changed = self.error.as_ref() != Some(&e);
                self.error = Some(e);
                self.error_at = Some(stamp.at);
                changed
            }
        })
    }
}

impl<T: PartialEq> Loadable<T> {
    /// [`Loadable::accept_by`], answers compared whole.
    pub fn accept(&mut self, stamp: Stamp, result: Fetched<T>) -> Option<bool> {
        self.accept_by(stamp, result, T::eq)
    }
}

/// What the schedule and a pane's title need of a loadable, whatever its
/// data: when it was asked, whether an answer is awaited, how fresh it is.
pub trait Tracked {
    fn requested_at(&self) -> Option<DateTime<Utc>>;
    fn in_flight(&self) -> bool;
    /// Ask again: the next generation, asked `now`.
    fn bump(&mut self, now: DateTime<Utc>) -> u64;
    fn freshness(&self, now: DateTime<Utc>, interval: Option<Duration>) -> Freshness;
    fn error(&self) -> Option<&str>;
    fn has_data(&self) -> bool;
}

impl<T> Tracked for Loadable<T> {
    fn requested_at(&self) -> Option<DateTime<Utc>> {
        self.requested_at
    }

    fn in_flight(&self) -> bool {
        Loadable::in_flight(self)
    }

    fn bump(&mut self, now: DateTime<Utc>) -> u64 {
        Loadable::bump(self, now)
    }

    fn freshness(&self, now: DateTime<Utc>, interval: Option<Duration>) -> Freshness {
        Loadable::freshness(self, now, interval)
    }

    fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    fn has_data(&self) -> bool {
        self.data.is_some()
    }
}
