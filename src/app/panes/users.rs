//! Users & grants: the database's users (MySQL accounts; PostgreSQL roles
//! and memberships), and the selected user's grants, asked for whenever the
//! selection moves to another user.

use crate::app::loadable::{Loadable, Stamp, Tracked};
use crate::app::selection::{Selection, row_at};
use crate::app::source::{Answer, Request, Source};
use crate::model::{Grant, User};

use super::pane::{About, Around, Column, Landed, PaneModel, Place};

#[derive(Debug, Clone, Default)]
pub struct UsersPane {
    /// The users, keyed `name@host` (MySQL) or by name (PostgreSQL).
    pub list: Loadable<Vec<User>>,
    /// The grants of `grants_of` (the selected user's key).
    pub grants: Loadable<Vec<Grant>>,
    pub grants_of: Option<String>,
    pub selection: Selection,
}

impl UsersPane {
    pub const ABOUT: About = About {
        title: "Users & grants",
        tab: "Users",
        focus_key: "focus_users",
        focus_help: "users & grants pane",
        place: Place {
            column: Column::Left,
            row: 1,
            percent: 45,
        },
        // Users and grants change when steps run (which refresh them): every
        // 30th interval catches anyone else's change.
        every: Some(30),
        filterable: true,
    };

    /// The selected row's user.
    pub fn selected(&self) -> Option<&User> {
        let row = row_at(&self.selection, self.selection.index)?;
        self.list.data.as_ref()?.get(row)
    }
}

impl PaneModel for UsersPane {
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
        self.list.data.as_ref()?.get(row).map(|u| u.key())
    }

    fn shown(&self) -> &dyn Tracked {
        &self.list
    }

    fn sources(&self, _: &Around) -> Vec<Source> {
        let mut sources = vec![Source::Fetch(Request::Users)];
        if let Some(user) = &self.grants_of {
            sources.push(Source::Fetch(Request::Grants { user: user.clone() }));
        }
        sources
    }

    fn cadence(&self, _: &Source) -> Option<i32> {
        Self::ABOUT.every
    }

    fn tracked(&self, source: &Source) -> Option<&dyn Tracked> {
        match source {
            Source::Fetch(Request::Users) => Some(&self.list),
            Source::Fetch(Request::Grants { .. }) => Some(&self.grants),
            _ => None,
        }
    }

    fn tracked_mut(&mut self, source: &Source) -> Option<&mut dyn Tracked> {
        match source {
            Source::Fetch(Request::Users) => Some(&mut self.list),
            Source::Fetch(Request::Grants { .. }) => Some(&mut self.grants),
            _ => None,
        }
    }

    fn land(&mut self, stamp: Stamp, answer: Answer, _: &Around) -> Result<Landed, Answer> {
        match answer {
            Answer::Users(result) => Ok(Landed::rows(self.list.accept(stamp, result) == Some(true))),
            // Grants for a user no longer selected are dropped.
            Answer::Grants { user, result } if self.grants_of.as_deref() == Some(user.as_str()) => {
                Ok(Landed::shown(self.grants.accept(stamp, result) == Some(true)))
            }
            Answer::Grants { .. } => Ok(Landed::default()),
            other => Err(other),
        }
    }

    /// The grants shown are the selected user's: ask for them when it changes.
    fn selection_moved(&mut self, around: &Around) -> Vec<Source> {
        let key = self.selection.key.clone();
        if key == self.grants_of {
            return Vec::new();
        }
        self.grants_of = key.clone();
        self.grants.reset();
        match key {
            Some(user) if around.has_target => vec![Source::Fetch(Request::Grants { user })],
            _ => Vec::new(),
        }
    }

    fn reset(&mut self) {
        self.list.reset();
        self.grants.reset();
        self.grants_of = None;
        self.selection = Selection::default();
    }
}
