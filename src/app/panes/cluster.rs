//! The cluster side: the ExternalSecret's sync, the Secret's DATABASE_URL,
//! the Deployment's rollout and its pods, and every workload reading the
//! Secret. Watched, not polled (`workers::cluster`): the pane changes as
//! the cluster does, and a change makes the step list look again.

use crate::app::loadable::{Loadable, Stamp, Tracked};
use crate::app::selection::Selection;
use crate::app::source::{Answer, ClusterView, Request, Source};

use super::pane::{About, Around, Column, Landed, PaneModel, Place};

#[derive(Debug, Clone, Default)]
pub struct ClusterPane {
    pub view: Loadable<ClusterView>,
    /// Over the pods.
    pub selection: Selection,
}

impl ClusterPane {
    pub const ABOUT: About = About {
        title: "Cluster",
        tab: "Cluster",
        focus_key: "focus_cluster",
        focus_help: "cluster pane",
        place: Place {
            column: Column::Right,
            row: 1,
            percent: 32,
        },
        every: None,
        filterable: false,
    };
}

impl PaneModel for ClusterPane {
    fn selection(&self) -> &Selection {
        &self.selection
    }

    fn selection_mut(&mut self) -> &mut Selection {
        &mut self.selection
    }

    fn row_count(&self) -> usize {
        self.view.data.as_ref().map_or(0, |c| c.pods.len())
    }

    fn row_key(&self, row: usize) -> Option<String> {
        self.view.data.as_ref()?.pods.get(row).map(|p| p.name.clone())
    }

    fn shown(&self) -> &dyn Tracked {
        &self.view
    }

    fn sources(&self, _: &Around) -> Vec<Source> {
        vec![Source::Cluster]
    }

    fn cadence(&self, _: &Source) -> Option<i32> {
        Self::ABOUT.every
    }

    fn tracked(&self, source: &Source) -> Option<&dyn Tracked> {
        matches!(source, Source::Cluster).then_some(&self.view as &dyn Tracked)
    }

    fn tracked_mut(&mut self, source: &Source) -> Option<&mut dyn Tracked> {
        matches!(source, Source::Cluster).then_some(&mut self.view as &mut dyn Tracked)
    }

    fn land(&mut self, stamp: Stamp, answer: Answer, _: &Around) -> Result<Landed, Answer> {
        let Answer::Cluster(result) = answer else {
            return Err(answer);
        };
        let first = self.view.data.is_none();
        let changed = self.view.accept(stamp, result) == Some(true);
        // A sync or rollout may have moved a step along: look again.
        let moved = changed && !first && self.view.error.is_none();
        Ok(Landed {
            look_again: moved.then_some(Source::Fetch(Request::Plan)),
            ..Landed::rows(changed)
        })
    }

    fn reset(&mut self) {
        self.view.reset();
        self.selection = Selection::default();
    }
}
