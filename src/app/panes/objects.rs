//! Objects with their owners (PostgreSQL) or definers (MySQL), and how many
//! the old user owns or defines: they must move before it is dropped.

use crate::app::loadable::{Loadable, Stamp, Tracked};
use crate::app::selection::Selection;
use crate::app::source::{Answer, Request, Source};
use crate::model::DbObject;

use super::pane::{About, Around, Column, Landed, PaneModel, Place};

#[derive(Debug, Clone, Default)]
pub struct ObjectsPane {
    pub list: Loadable<Vec<DbObject>>,
    /// How many objects the old user owns or defines (when both are known).
    pub owned_by_old_user: Option<usize>,
    /// What that count was taken of: the old user and the list's generation.
    counted: Option<(Option<String>, u64)>,
    pub selection: Selection,
}

impl ObjectsPane {
    pub const ABOUT: About = About {
        title: "Objects",
        tab: "Objects",
        focus_key: "focus_objects",
        focus_help: "objects pane",
        place: Place {
            column: Column::Right,
            row: 2,
            percent: 28,
        },
        // Objects change when steps run (which refresh them): every 30th
        // interval catches anyone else's change.
        every: Some(30),
        filterable: true,
    };
}

/// Whether a DB owner/definer string names `user` (`user` or `user@host`).
pub fn names_user(owner: &str, user: &str) -> bool {
    owner == user || owner.strip_prefix(user).is_some_and(|rest| rest.starts_with('@'))
}

impl PaneModel for ObjectsPane {
    fn selection(&self) -> &Selection {
        &self.selection
    }

    fn selection_mut(&mut self) -> &mut Selection {
        &mut self.selection
    }

    fn row_count(&self) -> usize {
        self.list.data.as_ref().map_or(0, Vec::len)
    }

    fn row_key(&self, row: usize) -> Option<String> {
        let o = self.list.data.as_ref()?.get(row)?;
        Some(format!(
            "{} {}.{}",
            o.kind,
            o.schema.as_deref().unwrap_or(""),
            o.name
        ))
    }

    /// Owners too: `/aws_db` finds what the admin owns.
    fn row_texts(&self) -> Vec<String> {
        self.list
            .data
            .iter()
            .flatten()
            .map(|o| {
                format!(
                    "{} {}.{} {}",
                    o.kind,
                    o.schema.as_deref().unwrap_or(""),
                    o.name,
                    o.owner
                )
            })
            .collect()
    }

    fn shown(&self) -> &dyn Tracked {
        &self.list
    }

    fn sources(&self, _: &Around) -> Vec<Source> {
        vec![Source::Fetch(Request::Objects)]
    }

    fn cadence(&self, _: &Source) -> Option<i32> {
        Self::ABOUT.every
    }

    fn tracked(&self, source: &Source) -> Option<&dyn Tracked> {
        matches!(source, Source::Fetch(Request::Objects)).then_some(&self.list as &dyn Tracked)
    }

    fn tracked_mut(&mut self, source: &Source) -> Option<&mut dyn Tracked> {
        matches!(source, Source::Fetch(Request::Objects)).then_some(&mut self.list as &mut dyn Tracked)
    }

    fn land(&mut self, stamp: Stamp, answer: Answer, _: &Around) -> Result<Landed, Answer> {
        match answer {
            Answer::Objects(result) => Ok(Landed::rows(self.list.accept(stamp, result) == Some(true))),
            other => Err(other),
        }
    }

    /// Counted once per new list or new old user, not per frame: objects
    /// can number thousands.
    fn sync(&mut self, around: &Around) {
        let of = (around.old_user.clone(), self.list.applied);
        if self.counted.as_ref() == Some(&of) {
            return;
        }
        self.owned_by_old_user = match (&of.0, &self.list.data) {
            (Some(old), Some(objects)) => Some(objects.iter().filter(|o| names_user(&o.owner, old)).count()),
            _ => None,
        };
        self.counted = Some(of);
    }

    fn reset(&mut self) {
        self.list.reset();
        self.owned_by_old_user = None;
        self.counted = None;
        self.selection = Selection::default();
    }
}
