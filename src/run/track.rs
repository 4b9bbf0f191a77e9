//! Every row of the measurement battery tracked over a run's steps, computed a row at a time so that a
//! frame never does much more than one row's work.
//!
//! A [`BatteryTrack`] takes a *snapshot* of the model (an owned copy of the mixture or of the particles,
//! with its step) whenever the run reaches the next due step (0, `every`, 2·`every`, …; a run that went
//! past several due steps since the last snapshot gets one, at its current step). Then each
//! [`BatteryTrack::poll`] computes rows of that snapshot ([`measure_row`], in battery order) until its time
//! budget is spent, at least one row per poll, and appends each to its row's [`Series`]. A snapshot's rows
//! are exactly `measure(target, model, seed, settings)` at that step (the scenario's seed): each battery
//! row draws from its own sub-stream.
//!
//! The settings default to [`LIVE_SETTINGS`], cheaper than the battery's defaults; a legend can state
//! them ([`BatteryTrack::settings`], [`BatteryTrack::every`]).

use crate::core::math::Vec2;
use crate::core::measure::{
    BATTERY_LEN, MeasureSettings, ModelRef, Outcome, Row, measure_row, row_ids,
};
use crate::core::mixture::Mixture;
use crate::core::sim::ModelView;

use super::Run;
use super::worker::{Notify, THREADED, Worker};

/// Battery settings for live tracking: a 96² grid for the f-divergences and the grid Cauchy–Schwarz,
/// 256 samples of p (and of a mixture q), 32 slices, every point in the Sinkhorn row. Most rows then take
/// well under a millisecond to a few milliseconds; the Sinkhorn row (three OT problems between 256 points
/// of p and the model's up to 256 or its N particles, at the battery's small ε) is the dearest: about
/// 0.1–0.4 s in the dev profile for the bundled scenarios, which is why a track computes its snapshots on
/// another thread where it can ([`BatteryTrack::in_background`]).
pub const LIVE_SETTINGS: MeasureSettings = MeasureSettings {
    resolution: 96,
    samples: 256,
    directions: 32,
    ..MeasureSettings::DEFAULT
};

/// [`LIVE_SETTINGS`] where the rows are computed on the frame thread (the web): the Sinkhorn row on at
/// most [`SINGLE_THREAD_SINKHORN_POINTS`] points of each cloud (a 64th of the work or less: ~2–20 ms in
/// the dev profile where every point takes 0.1–0.4 s), the rest the same.
pub const SINGLE_THREAD_LIVE_SETTINGS: MeasureSettings = MeasureSettings {
    sinkhorn_points: Some(SINGLE_THREAD_SINKHORN_POINTS),
    ..LIVE_SETTINGS
};

/// Most points per cloud of the Sinkhorn row in [`SINGLE_THREAD_LIVE_SETTINGS`].
pub const SINGLE_THREAD_SINKHORN_POINTS: usize = 32;

/// The live settings for this build: [`LIVE_SETTINGS`] where a track can compute on another thread
/// ([`THREADED`]), else [`SINGLE_THREAD_LIVE_SETTINGS`].
pub fn live_settings() -> MeasureSettings {
    if THREADED {
        LIVE_SETTINGS
    } else {
        SINGLE_THREAD_LIVE_SETTINGS
    }
}

/// One battery row over the snapshots.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The row's stable id ([`row_ids`]).
    pub id: &'static str,
    /// The row's name for people, as the last snapshot gave it.
    pub name: String,
    /// The divergence's serde kind name (`alpha`, `mmd`, …).
    pub kind: String,
    /// `(step, value)` for each snapshot whose outcome was a finite value, in step order.
    pub points: Vec<[f64; 2]>,
    /// The step of the last snapshot that computed this row.
    pub last_step: Option<usize>,
    /// The row's outcome at [`Self::last_step`]: a value, or why there is none (infinite, not applicable,
    /// failed) for the legend to list.
    pub last: Option<Outcome>,
}

/// An owned copy of the model at one step.
#[derive(Debug, Clone, PartialEq)]
enum Model {
    Mixture(Mixture),
    Particles(Vec<Vec2>),
}

impl Model {
    fn of(view: ModelView<'_>) -> Self {
        match view {
            ModelView::Mixture(q) => Self::Mixture(q.clone()),
            ModelView::Particles(p) => Self::Particles(p.to_vec()),
        }
    }

    fn as_ref(&self) -> ModelRef<'_> {
        match self {
            Self::Mixture(q) => ModelRef::Mixture(q),
            Self::Particles(p) => ModelRef::Particles(p),
        }
    }
}

/// A snapshot whose rows are being computed.
#[derive(Debug)]
struct Snapshot {
    step: usize,
    model: Model,
    /// Rows computed so far (the next one to compute).
    done: usize,
    /// The thread computing the remaining rows, each with its index; `None`: computed by the polls.
    worker: Option<Worker<(usize, Option<Row>)>>,
}

impl Clone for Snapshot {
    /// A copy without the worker: its remaining rows are computed by its own polls.
    fn clone(&self) -> Self {
        Self {
            step: self.step,
            model: self.model.clone(),
            done: self.done,
            worker: None,
        }
    }
}

/// The battery tracked over a run's steps (module docs).
#[derive(Clone)]
pub struct BatteryTrack {
    settings: MeasureSettings,
    every: usize,
    series: Vec<Series>,
    pending: Option<Snapshot>,
    /// The step at or after which the next snapshot is due.
    next_due: usize,
    /// Snapshots completed.
    completed: usize,
    /// The step of the last snapshot taken (complete or not).
    last_snapshot_step: Option<usize>,
    /// Where snapshots go to another thread: called there after each row.
    background: Option<Notify>,
}

impl std::fmt::Debug for BatteryTrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatteryTrack")
            .field("settings", &self.settings)
            .field("every", &self.every)
            .field("pending", &self.pending)
            .field("completed", &self.completed)
            .field("background", &self.background.is_some())
            .finish_non_exhaustive()
    }
}

impl BatteryTrack {
    /// A track that snapshots every `every` steps (at least 1) with `settings`, its rows computed by the
    /// polls on the caller's thread.
    pub fn new(settings: MeasureSettings, every: usize) -> Self {
        let series = row_ids()
            .into_iter()
            .map(|id| Series {
                id,
                name: String::new(),
                kind: String::new(),
                points: Vec::new(),
                last_step: None,
                last: None,
            })
            .collect();
        Self {
            settings,
            every: every.max(1),
            series,
            pending: None,
            next_due: 0,
            completed: 0,
            last_snapshot_step: None,
            background: None,
        }
    }

    /// This track with each snapshot's rows computed on another thread ([`Worker`]; inline at the
    /// snapshot where there are no threads), `notify` called there after each row. A poll then only
    /// collects the rows that are done.
    pub fn in_background(mut self, notify: Notify) -> Self {
        self.background = Some(notify);
        self
    }

    /// Whether snapshots are computed on another thread.
    pub fn is_background(&self) -> bool {
        THREADED && self.background.is_some()
    }

    /// [`live_settings`], a snapshot every `every` steps.
    pub fn live(every: usize) -> Self {
        Self::new(live_settings(), every)
    }

    /// The battery settings the values are computed with (for the legend).
    pub fn settings(&self) -> &MeasureSettings {
        &self.settings
    }

    /// Steps between due snapshots.
    pub fn every(&self) -> usize {
        self.every
    }

    /// One series per battery row, in battery order ([`row_ids`]).
    pub fn series(&self) -> &[Series] {
        &self.series
    }

    /// Snapshots whose every row has been computed.
    pub fn completed(&self) -> usize {
        self.completed
    }

    /// The snapshot being computed: its step and how many of its [`BATTERY_LEN`] rows are done.
    pub fn in_progress(&self) -> Option<(usize, usize)> {
        self.pending.as_ref().map(|s| (s.step, s.done))
    }

    /// Forgets every snapshot (call it when the run is rebuilt); the next poll snapshots step 0 again or
    /// wherever the run stands.
    pub fn reset(&mut self) {
        let background = self.background.take();
        *self = Self::new(self.settings.clone(), self.every);
        self.background = background;
    }

    /// Takes a snapshot if one is due, then computes rows of the current snapshot until `budget_s` seconds
    /// of wall-clock time are spent (at least one row per call while a snapshot is in progress). Returns
    /// the rows computed. Cost: one battery row each (a grid row is O(resolution² · K) for K components;
    /// a sample row is up to O(samples · N) for N particles, Sinkhorn times its iterations). A run whose
    /// step went backwards (rebuilt) resets the track. In the background ([`Self::in_background`]) a
    /// snapshot's rows are computed on another thread and a poll takes the rows done so far, never
    /// waiting (the budget is not used).
    pub fn poll(&mut self, run: &Run, budget_s: f64) -> usize {
        let start = web_time::Instant::now();
        let step = run.steps_taken();
        if self.last_snapshot_step.is_some_and(|s| step < s) {
            self.reset();
        }
        if self.pending.is_none() && step >= self.next_due {
            let model = Model::of(run.model());
            let worker = self.background.clone().map(|notify| {
                let (target, model, settings) =
                    (run.target().clone(), model.clone(), self.settings.clone());
                let seed = run.scenario().seed;
                Worker::spawn(
                    "battery",
                    move |emit| {
                        for i in 0..BATTERY_LEN {
                            emit((i, measure_row(&target, model.as_ref(), seed, &settings, i)));
                        }
                    },
                    Some(notify),
                )
            });
            self.pending = Some(Snapshot {
                step,
                model,
                done: 0,
                worker,
            });
            self.last_snapshot_step = Some(step);
            self.next_due = (step / self.every + 1) * self.every;
        }
        let seed = run.scenario().seed;
        let mut computed = 0;
        while let Some(snap) = &mut self.pending {
            let index = snap.done;
            let row = match &mut snap.worker {
                Some(worker) => match worker.try_next() {
                    Some((i, row)) if i == index => row,
                    // Rows come in order; anything else means the worker is gone: finish here.
                    Some(_) | None if !worker.is_running() => {
                        snap.worker = None;
                        continue;
                    }
                    _ => break,
                },
                None => {
                    if computed > 0 && start.elapsed().as_secs_f64() >= budget_s {
                        break;
                    }
                    measure_row(
                        run.target(),
                        snap.model.as_ref(),
                        seed,
                        &self.settings,
                        index,
                    )
                }
            };
            computed += 1;
            self.record(row, index);
        }
        computed
    }

    /// Waits until the snapshot in progress, if any, is complete (rows computed on another thread are
    /// waited for; rows left to the polls are computed here). For tests and headless use.
    pub fn finish_pending(&mut self, run: &Run) {
        while let Some(snap) = &mut self.pending {
            let index = snap.done;
            let row = match &mut snap.worker {
                Some(worker) => match worker.wait_next() {
                    Some((i, row)) if i == index => row,
                    _ => {
                        snap.worker = None;
                        continue;
                    }
                },
                None => measure_row(
                    run.target(),
                    snap.model.as_ref(),
                    run.scenario().seed,
                    &self.settings,
                    index,
                ),
            };
            self.record(row, index);
        }
    }

    /// Row `index` of the snapshot in progress is `row`: into its series; the snapshot is complete after
    /// its last row.
    fn record(&mut self, row: Option<Row>, index: usize) {
        let Some(snap) = &mut self.pending else {
            return;
        };
        snap.done += 1;
        let snap_step = snap.step;
        if snap.done >= BATTERY_LEN {
            self.pending = None;
            self.completed += 1;
        }
        let (Some(row), Some(series)) = (row, self.series.get_mut(index)) else {
            return;
        };
        if let Outcome::Value { value, .. } = &row.outcome
            && value.is_finite()
        {
            series.points.push([snap_step as f64, *value]);
        }
        series.name = row.name;
        series.kind = row.kind;
        series.last_step = Some(snap_step);
        series.last = Some(row.outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::measure::measure;
    use crate::run::tests::cpu_run;

    fn small() -> MeasureSettings {
        MeasureSettings {
            resolution: 48,
            samples: 120,
            directions: 8,
            ..MeasureSettings::DEFAULT
        }
    }

    /// Polls with a zero budget (one row a poll) until the snapshot in progress is complete.
    fn finish(track: &mut BatteryTrack, run: &Run) -> usize {
        let mut polls = 0;
        loop {
            let n = track.poll(run, 0.0);
            polls += 1;
            assert!(n <= 1, "a zero budget computes one row a poll");
            if track.in_progress().is_none() {
                return polls;
            }
        }
    }

    #[test]
    fn a_snapshot_per_due_step_equal_to_the_battery() {
        for name in ["two_modes_reverse_kl", "moons_sinkhorn_flow"] {
            let mut run = cpu_run(name);
            let mut track = BatteryTrack::new(small(), 2);
            let ids: Vec<_> = track.series().iter().map(|s| s.id).collect();
            assert_eq!(ids, row_ids());
            let mut expected = Vec::new();
            // Steps 0, 2, 4 are due; step 5 is not (the next is 6).
            for target_step in [0, 2, 4] {
                while run.steps_taken() < target_step {
                    run.step().unwrap_or_else(|e| panic!("{e}"));
                }
                let polls = finish(&mut track, &run);
                assert_eq!(polls, BATTERY_LEN, "{name}: one row a poll");
                expected.push((
                    target_step,
                    measure(
                        run.target(),
                        ModelRef::from(run.model()),
                        run.scenario().seed,
                        &small(),
                    ),
                ));
            }
            run.step().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(track.poll(&run, 1.0), 0, "step 5 is not due");
            assert_eq!(track.completed(), 3);
            for (i, series) in track.series().iter().enumerate() {
                let values: Vec<_> = expected
                    .iter()
                    .filter_map(|(step, rows)| match &rows[i].outcome {
                        Outcome::Value { value, .. } => Some([*step as f64, *value]),
                        _ => None,
                    })
                    .collect();
                // Exactly the battery's values at those steps (same settings, same seed).
                assert_eq!(series.points, values, "{name} {}", series.id);
                assert!(series.points.iter().all(|p| p[1].is_finite()));
                let last = &expected[2].1[i];
                assert_eq!(series.last.as_ref(), Some(&last.outcome));
                assert_eq!(
                    (series.name.as_str(), series.last_step),
                    (last.name.as_str(), Some(4))
                );
                if matches!(last.outcome, Outcome::Value { .. }) {
                    assert_eq!(
                        series.points.len(),
                        3,
                        "{name} {}: a point per snapshot",
                        series.id
                    );
                } else {
                    assert!(last.outcome.reason().is_some_and(|r| !r.is_empty()));
                }
            }
            let values = track
                .series()
                .iter()
                .filter(|s| !s.points.is_empty())
                .count();
            assert!(values >= 6, "{name}: {values} rows with values");
        }
    }

    #[test]
    fn a_background_track_gives_the_rows_of_the_polls_and_notifies_each() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        for name in ["two_modes_reverse_kl", "moons_sinkhorn_flow"] {
            let mut run = cpu_run(name);
            let notified = Arc::new(AtomicUsize::new(0));
            let n = Arc::clone(&notified);
            let mut bg = BatteryTrack::new(small(), 2).in_background(Arc::new(move || {
                n.fetch_add(1, Ordering::SeqCst);
            }));
            assert!(bg.is_background());
            let mut inline = BatteryTrack::new(small(), 2);
            for _ in 0..2 {
                bg.poll(&run, 0.0);
                bg.finish_pending(&run);
                assert_eq!(bg.in_progress(), None);
                finish(&mut inline, &run);
                run.step().unwrap_or_else(|e| panic!("{e}"));
                run.step().unwrap_or_else(|e| panic!("{e}"));
            }
            assert_eq!(bg.completed(), 2);
            assert_eq!(bg.series(), inline.series(), "{name}");
            assert_eq!(notified.load(Ordering::SeqCst), 2 * BATTERY_LEN);
            // A clone has no worker: it finishes a snapshot by its own polls, to the same rows.
            bg.poll(&run, 0.0);
            let mut copy = bg.clone();
            copy.finish_pending(&run);
            bg.finish_pending(&run);
            assert_eq!(copy.series(), bg.series());
        }
    }

    #[test]
    fn a_run_past_several_due_steps_gets_one_snapshot_at_its_step() {
        let mut run = cpu_run("moons_sinkhorn_flow");
        let mut track = BatteryTrack::new(small(), 2);
        finish(&mut track, &run);
        for _ in 0..5 {
            run.step().unwrap_or_else(|e| panic!("{e}"));
        }
        // Steps 2 and 4 were passed: one snapshot, of step 5; the next is due at 6.
        track.poll(&run, 0.0);
        assert_eq!(track.in_progress(), Some((5, 1)));
        finish(&mut track, &run);
        let sinkhorn = track.series().iter().find(|s| s.id == "sinkhorn").unwrap();
        let steps: Vec<f64> = sinkhorn.points.iter().map(|p| p[0]).collect();
        assert_eq!(steps, [0.0, 5.0]);
        // A generous budget completes a snapshot in one poll.
        run.step().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(track.poll(&run, 1e9), BATTERY_LEN);
        assert_eq!(track.completed(), 3);
        // A rebuilt run (back at step 0) starts the track over.
        let fresh = cpu_run("moons_sinkhorn_flow");
        track.poll(&fresh, 1e9);
        let sinkhorn = track.series().iter().find(|s| s.id == "sinkhorn").unwrap();
        assert_eq!(sinkhorn.points.len(), 1);
        assert_eq!(track.completed(), 1);
    }
}
