//! The dashboard's panes, each a unit: one file here holds a pane's model
//! (what it reads and how often, the rows it lists and the selection over
//! them, what happens when its answers land, its title, key and place),
//! and one file in `ui::panes` its view. A pane is registered once, in
//! [`panes!`] below, which makes its id ([`Pane`]) and its place in the
//! state ([`Panes`]).
//!
//! Why this shape (kdash keeps a file per resource; gitui, a component per
//! view): the pane's knowledge sits in one place, and the code that joins
//! panes (update, the schedule, the titles, the layout) goes through
//! [`PaneModel`] and [`About`] without naming any pane. Two rules keep The
//! Elm Architecture's: a pane's model never sees `State` (which holds it):
//! it is told what it may know of the rest ([`pane::Around`]) and answers
//! with what it needs of it ([`pane::Landed`], sources to ask), so update
//! stays the one place that joins them; and its view lives in `ui`,
//! because `app` names no screen.
//!
//! Adding a pane: its model here and its view in `ui::panes`, one line in
//! [`panes!`] and one in `ui::panes::view`. If it reads something no pane
//! reads yet: its request and answer in `app::source`, and the read itself
//! in `workers::fetch`.

pub mod cluster;
pub mod connections;
pub mod objects;
pub mod pane;
pub mod steps;
pub mod users;

pub use pane::{About, PaneModel};

/// Registers the panes, in Tab order: each as its id, its field in
/// [`Panes`] and its model.
macro_rules! panes {
    ($($pane:ident => $field:ident: $model:ty),* $(,)?) => {
        /// A pane's id. Tab goes through them in this order; number keys
        /// pick them (1 for the first).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Pane {
            $($pane),*
        }

        impl Pane {
            pub const ALL: [Pane; [$(Pane::$pane),*].len()] = [$(Pane::$pane),*];

            /// Its fixed facts: title, key, place, how often it looks.
            pub fn about(self) -> &'static About {
                match self {
                    $(Pane::$pane => &<$model>::ABOUT),*
                }
            }
        }

        /// Every pane's model, held by the state.
        #[derive(Debug, Clone, Default)]
        pub struct Panes {
            $(pub $field: $model),*
        }

        impl Panes {
            pub fn get(&self, pane: Pane) -> &dyn PaneModel {
                match pane {
                    $(Pane::$pane => &self.$field),*
                }
            }

            pub fn get_mut(&mut self, pane: Pane) -> &mut dyn PaneModel {
                match pane {
                    $(Pane::$pane => &mut self.$field),*
                }
            }
        }
    };
}

// In screen order (by top edge, then left to right), so the numbers read as
// the panes are laid out; `layout`'s tests hold them to it.
panes! {
    Steps => steps: steps::StepsPane,
    Connections => connections: connections::ConnectionsPane,
    Cluster => cluster: cluster::ClusterPane,
    Users => users: users::UsersPane,
    Objects => objects: objects::ObjectsPane,
}

impl Pane {
    pub fn index(self) -> usize {
        Pane::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }

    pub fn title(self) -> &'static str {
        self.about().title
    }

    fn next(self, by: isize) -> Pane {
        let n = Pane::ALL.len() as isize;
        Pane::ALL[(self.index() as isize + by).rem_euclid(n) as usize]
    }

    pub fn following(self) -> Pane {
        self.next(1)
    }

    pub fn preceding(self) -> Pane {
        self.next(-1)
    }
}

#[cfg(test)]
mod tests {
    use super::pane::Column;
    use super::*;

    /// Each column of the grid is filled by its panes, one to a row.
    #[test]
    fn the_grid_columns_are_filled_exactly() {
        for column in [Column::Left, Column::Right] {
            let mut rows: Vec<_> = Pane::ALL
                .iter()
                .map(|p| p.about().place)
                .filter(|place| place.column == column)
                .collect();
            assert_eq!(rows.iter().map(|p| p.percent).sum::<u16>(), 100, "{column:?}");
            rows.sort_by_key(|p| p.row);
            assert!(
                rows.iter().enumerate().all(|(i, p)| p.row as usize == i),
                "{column:?}"
            );
        }
    }
}
