//! The steps a run has taken: per step the core's [`StepInfo`] (objective, diagnostics) and the backend
//! that took it. The app plots it, the CLI prints it.

use serde::Serialize;

use crate::core::sim::StepInfo;
use crate::gpu::backend::ActiveBackend;

/// One step of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRecord {
    #[serde(flatten)]
    pub info: StepInfo,
    /// The backend that took the step.
    pub backend: ActiveBackend,
}

/// Every step since the run was built, in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct History {
    records: Vec<StepRecord>,
    /// `[step, objective]` of every record, kept beside them so a frame can plot without copying.
    #[serde(skip)]
    points: Vec<[f64; 2]>,
}

impl History {
    pub(crate) fn push(&mut self, info: StepInfo, backend: ActiveBackend) {
        self.points.push([info.step as f64, info.objective]);
        self.records.push(StepRecord { info, backend });
    }

    pub fn records(&self) -> &[StepRecord] {
        &self.records
    }

    pub fn last(&self) -> Option<&StepRecord> {
        self.records.last()
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The objective's name (of the last step), if a step was taken.
    pub fn objective_name(&self) -> Option<&str> {
        self.last().map(|r| r.info.objective_name.as_str())
    }

    /// `[step, objective]` per step, for plots.
    pub fn objective_points(&self) -> &[[f64; 2]] {
        &self.points
    }
}
