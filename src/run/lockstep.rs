//! Several runs advanced to the same step within one frame budget: the basis of side-by-side panels.
//!
//! A frame is a sequence of rounds. In a round every run that is at the lowest step count takes one step;
//! GPU twins are polled first, and if one of them has not finished its step the round ends there, before
//! the CPU runs step, so that at the end of every frame all running runs stand at the same step. A stopped
//! run is left where it stopped; the others go on.

use super::{Budget, Progress, Run};

/// Runs kept at the same step count.
#[derive(Debug, Default)]
pub struct Lockstep {
    pub runs: Vec<Run>,
}

impl Lockstep {
    pub fn new(runs: Vec<Run>) -> Self {
        Self { runs }
    }

    /// The step count of the runs still going (the lowest one), or of all runs if every one stopped.
    pub fn steps_taken(&self) -> usize {
        let going = self
            .runs
            .iter()
            .filter(|r| r.stopped().is_none())
            .map(Run::steps_taken)
            .min();
        going
            .or_else(|| self.runs.iter().map(Run::steps_taken).max())
            .unwrap_or(0)
    }

    /// Whether every run has stopped or reached `goal`.
    pub fn is_done(&self, goal: usize) -> bool {
        self.runs
            .iter()
            .all(|r| r.stopped().is_some() || r.steps_taken() >= goal)
    }

    /// Advances every running run toward `goal` by whole rounds within `budget` (at most `budget.max_steps`
    /// rounds). Returns the rounds completed. Never blocks.
    pub fn advance(&mut self, goal: usize, budget: Budget) -> usize {
        let start = web_time::Instant::now();
        let mut rounds = 0;
        while rounds < budget.max_steps {
            let low = self.steps_taken();
            if low >= goal || self.is_done(goal) {
                break;
            }
            let behind = |r: &Run| r.stopped().is_none() && r.steps_taken() == low;
            // GPU twins first: if one has not finished its step, the CPU runs wait for it.
            let mut pending = false;
            for run in self
                .runs
                .iter_mut()
                .filter(|r| r.placement().is_gpu() && behind(r))
            {
                pending |= run.try_step(goal) == Progress::Pending;
            }
            if pending {
                break;
            }
            for run in self
                .runs
                .iter_mut()
                .filter(|r| !r.placement().is_gpu() && behind(r))
            {
                // A CPU step either lands or stops the run; a run that just moved off the GPU steps next round.
                let _ = run.try_step(goal);
            }
            rounds += 1;
            if start.elapsed().as_secs_f64() > budget.time_s {
                break;
            }
        }
        rounds
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::backend::BackendChoice;
    use crate::run::load;

    fn run_of(name: &str, edit: impl FnOnce(&mut load::Loaded)) -> Run {
        let mut loaded = load::bundled(name).unwrap_or_else(|e| panic!("{e}"));
        edit(&mut loaded);
        Run::new(&loaded, BackendChoice::Cpu, Err("cpu")).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn two_divergences_reach_the_same_step_every_frame() {
        use crate::core::fdiv::FDivKind;
        use crate::core::fit::Objective;
        use crate::core::scenario::Method;
        let reverse = run_of("two_modes_reverse_kl", |_| {});
        let js = run_of("two_modes_reverse_kl", |l| {
            if let Method::Gradient { objective, .. } = &mut l.scenario.method
                && let Objective::FDivergence { divergence, .. } = objective
            {
                *divergence = FDivKind::JensenShannon;
            }
        });
        assert_ne!(reverse.scenario().method, js.scenario().method);
        let mut lock = Lockstep::new(vec![reverse, js]);
        let budget = Budget {
            max_steps: 3,
            time_s: 1e9,
        };
        for frame in 1..=4 {
            let rounds = lock.advance(10, budget);
            let steps: Vec<usize> = lock.runs.iter().map(Run::steps_taken).collect();
            assert_eq!(steps[0], steps[1], "frame {frame}: {steps:?}");
            assert_eq!(steps[0], (3 * frame).min(10), "frame {frame}");
            assert!(rounds <= 3);
        }
        assert!(lock.is_done(10));
        let names: Vec<_> = lock
            .runs
            .iter()
            .map(|r| r.history().objective_name().map(str::to_owned))
            .collect();
        assert_ne!(names[0], names[1], "two different objectives: {names:?}");
    }
}
