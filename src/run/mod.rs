//! A scenario running on a backend, shared by the app, the CLI and (later) headless rendering.
//!
//! A [`Run`] is a [`Simulation`] (the CPU core: the reference, and the state every measurement reads), its
//! optional GPU twin (a [`GpuFlow`] for the flows the GPU runs, see [`caps`]), the [`History`] of the steps
//! taken, and why it stopped if it did. It is advanced in two ways:
//! - [`Run::advance`] never blocks: CPU steps until the frame's time budget or the steps-per-frame cap is
//!   spent, or one non-blocking poll of the GPU twin. The app calls it once per frame (through
//!   [`Lockstep`] for several panels).
//! - [`Run::step`] blocks until one step is taken (native only): the CLI and tests.
//!
//! Both take the same steps in the same order, so a scenario and seed give the same history either way.
//!
//! Failures: a refused CPU step (non-finite value, invalid state) stops the run with the reason and keeps
//! the state of the last good step. A GPU step that returns a non-finite value is treated the same way (the
//! GPU is not at fault for a diverging step size). Any other GPU failure (device lost, validation error)
//! moves *this run only* to the CPU core, from the last completed GPU step, with a notice.

pub mod caps;
pub mod cost;
pub mod diagnose;
pub mod history;
pub mod load;
pub mod lockstep;
pub mod overlay;
pub mod track;
pub mod worker;

use std::fmt;

use serde::Serialize;

use crate::core::error::CoreError;
use crate::core::math::Vec2;
use crate::core::measure::{MeasureSettings, ModelRef, Row, measure};
use crate::core::scenario::Scenario;
use crate::core::sim::{ModelView, Simulation, StepInfo};
use crate::core::target::{GrayImage, Target, TargetSpec};
use crate::gpu::backend::{ActiveBackend, BackendChoice};
use crate::gpu::context::{GpuContext, GpuError};
use crate::gpu::flow::GpuFlow;

pub use history::{History, StepRecord};
pub use load::{LoadError, Loaded};
pub use lockstep::Lockstep;

/// How much work one call of [`Run::advance`] may do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Most steps to take (the app's steps-per-frame setting).
    pub max_steps: usize,
    /// Wall-clock seconds after which no further step is started.
    pub time_s: f64,
}

impl Budget {
    /// The app's default: 10 steps or 12 ms per frame, whichever comes first.
    pub const FRAME: Budget = Budget {
        max_steps: 10,
        time_s: 0.012,
    };
}

/// What one non-blocking attempt to step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A step was taken (it is the last record of the history).
    Stepped,
    /// The GPU twin is working on a step; try again later (next frame).
    Pending,
    /// The run has reached the goal step.
    AtGoal,
    /// The run stopped (see [`Run::stopped`]).
    Stopped,
}

/// Why and where a run stopped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stop {
    /// The step that was refused (1-based); the state is that of step `step − 1`.
    pub step: usize,
    pub reason: String,
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stopped at step {}: {}", self.step, self.reason)
    }
}

/// Which backend takes the steps of a run, and why the CPU where the GPU was asked for or possible.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Placement {
    pub steps: ActiveBackend,
    /// The adapter, when the GPU takes the steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adapter: Option<String>,
    /// Why the steps run on the CPU core although the GPU was requested or possible.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Placement {
    fn cpu(reason: Option<String>) -> Self {
        Self {
            steps: ActiveBackend::Cpu,
            adapter: None,
            reason,
        }
    }

    pub fn is_gpu(&self) -> bool {
        self.steps == ActiveBackend::Gpu
    }

    /// A short label: `gpu`, `cpu`.
    pub fn label(&self) -> &'static str {
        match self.steps {
            ActiveBackend::Gpu => "gpu",
            ActiveBackend::Cpu => "cpu",
        }
    }
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.adapter, &self.reason) {
            (Some(a), _) if self.is_gpu() => write!(f, "gpu ({a})"),
            (_, Some(r)) => write!(f, "{} ({r})", self.label()),
            _ => write!(f, "{}", self.label()),
        }
    }
}

/// Why a run could not be built.
#[derive(Debug, Clone, PartialEq)]
pub enum RunError {
    /// The scenario cannot be simulated (the core says why).
    Build(CoreError),
    /// `--backend gpu` was asked for and the GPU cannot run this scenario.
    GpuRefused(String),
    /// The run's estimated memory or time is over [`cost::Limits::DEFAULT`] (the estimate and what to change).
    TooCostly(Box<cost::Refusal>),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Build(e) => write!(f, "{e}"),
            Self::GpuRefused(reason) => write!(f, "backend gpu: {reason}"),
            Self::TooCostly(refusal) => write!(f, "{refusal}"),
        }
    }
}

impl std::error::Error for RunError {}

/// The GPU twin of a run's flow, with the device it runs on.
struct GpuTwin {
    ctx: GpuContext,
    flow: GpuFlow,
    /// When the step in flight was started (for the blocking [`Run::step`]'s time-out).
    #[cfg(not(target_arch = "wasm32"))]
    waiting_since: Option<std::time::Instant>,
}

/// The weight of the latest step in [`Run::cpu_step_seconds`]'s exponential average.
const CPU_STEP_AVERAGE_WEIGHT: f64 = 0.2;

/// Longest the blocking [`Run::step`] waits for one GPU step before moving the run to the CPU core.
#[cfg(not(target_arch = "wasm32"))]
pub const GPU_STEP_TIMEOUT_S: f64 = 120.0;

/// Most seconds a stop's diagnosis may spend restarting from step 0 with half the step size
/// ([`diagnose::diagnose`], on its own thread; 0.03 s on the web, where it runs within a frame).
pub const DIAGNOSIS_BUDGET_S: f64 = 3.0;

/// A scenario running on a backend. See the module docs.
pub struct Run {
    sim: Simulation,
    gpu: Option<GpuTwin>,
    history: History,
    placement: Placement,
    stop: Option<Stop>,
    /// Why the stop happened, once the retries of [`diagnose::diagnose`] are done.
    cause: Option<diagnose::StopCause>,
    /// Those retries while they run (off the frame thread where there are threads).
    diagnosis: Option<worker::Worker<diagnose::StopCause>>,
    /// The simulation at step 0 (retargeted with it), for the diagnosis' restart with half the step size.
    first: Option<Box<Simulation>>,
    notices: Vec<String>,
    trail: Trail,
    /// Wall-clock seconds of the CPU core's recent steps (exponential average), once one was taken.
    cpu_step_s: Option<f64>,
}

/// The particle positions at the last completed step and at the one before it (empty for a mixture), kept so
/// that the displacement of the latest step can be drawn whichever backend took it. One O(N) copy per step,
/// into buffers that are reused.
#[derive(Debug, Default)]
struct Trail {
    /// Positions after the last completed step (step [`Run::steps_taken`]).
    now: Vec<Vec2>,
    /// Positions before it, once a step has been taken since the run was built.
    before: Option<Vec<Vec2>>,
}

impl Trail {
    fn new(model: ModelView<'_>) -> Self {
        match model {
            ModelView::Particles(p) => Self {
                now: p.to_vec(),
                before: None,
            },
            ModelView::Mixture(_) => Self::default(),
        }
    }

    /// Records a completed step that left the particles at `after`.
    fn stepped(&mut self, model: ModelView<'_>) {
        let ModelView::Particles(after) = model else {
            return;
        };
        let mut before = self.before.take().unwrap_or_default();
        std::mem::swap(&mut before, &mut self.now);
        self.now.clear();
        self.now.extend_from_slice(after);
        self.before = Some(before);
    }
}

impl fmt::Debug for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Run")
            .field("scenario", &self.sim.scenario().name)
            .field("steps_taken", &self.steps_taken())
            .field("placement", &self.placement)
            .field("stop", &self.stop)
            .finish_non_exhaustive()
    }
}

impl Run {
    /// Builds a run of `loaded` on the backend `choice` asks for. `device` is the GPU on offer, or why there
    /// is none. `cpu` never touches the device; `auto` uses the GPU where [`caps`] says it runs the method;
    /// `gpu` refuses what the GPU cannot run (with the reason).
    pub fn new(
        loaded: &Loaded,
        choice: BackendChoice,
        device: Result<&GpuContext, &str>,
    ) -> Result<Self, RunError> {
        // Before anything is built or allocated: a run over the cost limits is refused, with what to change.
        loaded.scenario.validate().map_err(RunError::Build)?;
        cost::check(&loaded.scenario, loaded.image.as_ref()).map_err(RunError::TooCostly)?;
        let sim =
            Simulation::new(&loaded.scenario, loaded.image.as_ref()).map_err(RunError::Build)?;
        // An objective that is +∞ at the start has no gradient to follow: refused, with why.
        if let Some(why) = sim.objective_infinite() {
            return Err(RunError::Build(crate::core::error::CoreError::invalid(why)));
        }
        let trail = Trail::new(sim.model());
        let mut run = Self {
            sim,
            gpu: None,
            history: History::default(),
            placement: Placement::cpu(None),
            stop: None,
            cause: None,
            diagnosis: None,
            first: None,
            notices: Vec::new(),
            trail,
            cpu_step_s: None,
        };
        run.first = Some(Box::new(run.sim.clone()));
        if choice == BackendChoice::Cpu {
            return Ok(run);
        }
        let twin = device
            .map_err(str::to_owned)
            .and_then(|ctx| run.gpu_twin(ctx));
        match (twin, choice) {
            (Ok(twin), _) => {
                run.placement = Placement {
                    steps: ActiveBackend::Gpu,
                    adapter: Some(twin.ctx.adapter.to_string()),
                    reason: None,
                };
                run.gpu = Some(twin);
            }
            (Err(reason), BackendChoice::Gpu) => return Err(RunError::GpuRefused(reason)),
            (Err(reason), _) => run.placement = Placement::cpu(Some(reason)),
        }
        Ok(run)
    }

    fn gpu_twin(&self, ctx: &GpuContext) -> Result<GpuTwin, String> {
        caps::gpu_runs(self.sim.scenario())?;
        let (Some(cfg), ModelView::Particles(particles)) =
            (self.sim.flow_config(), self.sim.model())
        else {
            return Err("only particle flows run on the GPU".into());
        };
        let flow = GpuFlow::new(
            ctx,
            cfg,
            particles.to_vec(),
            self.sim.target_points().to_vec(),
            self.sim.scenario().seed,
        )
        .map_err(|e| e.to_string())?;
        Ok(GpuTwin {
            ctx: ctx.clone(),
            flow,
            #[cfg(not(target_arch = "wasm32"))]
            waiting_since: None,
        })
    }

    pub fn scenario(&self) -> &Scenario {
        self.sim.scenario()
    }

    pub fn target(&self) -> &Target {
        self.sim.target()
    }

    /// The CPU core's simulation (its model is stale while the GPU twin takes the steps: use [`Self::model`]).
    pub fn simulation(&self) -> &Simulation {
        &self.sim
    }

    /// The model as it stands after the last completed step, on whichever backend took it.
    pub fn model(&self) -> ModelView<'_> {
        match &self.gpu {
            Some(twin) => ModelView::Particles(twin.flow.particles()),
            None => self.sim.model(),
        }
    }

    /// The fixed sample set the method uses (EM's data, a flow's target points), if any.
    pub fn target_points(&self) -> &[Vec2] {
        self.sim.target_points()
    }

    /// Wall-clock seconds a step of the CPU core takes here, an exponential average over the recent steps
    /// (weight 0.2 on the latest); `None` before the first CPU step (and for a run the GPU steps). The
    /// panel shows it as ms/step, since panels in lockstep share their steps per second.
    pub fn cpu_step_seconds(&self) -> Option<f64> {
        self.cpu_step_s
    }

    /// Steps completed so far.
    pub fn steps_taken(&self) -> usize {
        match &self.gpu {
            Some(twin) => twin.flow.steps_taken(),
            None => self.sim.steps_taken(),
        }
    }

    pub fn history(&self) -> &History {
        &self.history
    }

    /// Where the steps run, and why the CPU if the GPU was possible.
    pub fn placement(&self) -> &Placement {
        &self.placement
    }

    /// Why the run stopped, if it did. A stopped run keeps the state of its last good step.
    pub fn stopped(&self) -> Option<&Stop> {
        self.stop.as_ref()
    }

    /// Messages about the run that the user should see once (a GPU failure the CPU took over from).
    pub fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }

    /// The particle positions before the latest completed step (the step [`Self::steps_taken`] took), on
    /// whichever backend took it; `None` for a mixture model or before the first step.
    pub fn positions_before_last_step(&self) -> Option<&[Vec2]> {
        self.trail.before.as_deref()
    }

    /// Per-particle displacement of the latest completed step, `new − old` in length units (the same
    /// order as the particles of [`Self::model`]); `None` for a mixture model or before the first step.
    /// O(N).
    pub fn last_displacements(&self) -> Option<Vec<Vec2>> {
        let before = self.trail.before.as_ref()?;
        let ModelView::Particles(now) = self.model() else {
            return None;
        };
        (before.len() == now.len()).then(|| {
            now.iter()
                .zip(before)
                .map(|(n, b)| [n[0] - b[0], n[1] - b[1]])
                .collect()
        })
    }

    /// Every divergence between the target and the model as it stands, by the CPU core, with the
    /// scenario's `measure` settings.
    pub fn measure(&self) -> Vec<Row> {
        self.measure_with(&self.sim.scenario().measure.over(&MeasureSettings::DEFAULT))
    }

    /// [`Self::measure`] with the given settings (e.g. the scenario's overridden by command-line flags).
    pub fn measure_with(&self, settings: &MeasureSettings) -> Vec<Row> {
        measure(
            self.sim.target(),
            ModelRef::from(self.model()),
            self.sim.scenario().seed,
            settings,
        )
    }

    /// Changes the target under the running fit (a target edited in the app): the model stays where it is
    /// and the next steps go toward the new target ([`Simulation::retarget`]). A GPU twin is rebuilt on the
    /// same device from its particles, keeping the step count (a step in flight is dropped); if the GPU
    /// cannot take the new target the run goes on on the CPU core, with a notice. On error nothing changes
    /// and the error says why.
    pub fn retarget(&mut self, spec: &TargetSpec, image: Option<&GrayImage>) -> Result<(), String> {
        let mut edited = self.sim.scenario().clone();
        edited.target = spec.clone();
        cost::check(&edited, image).map_err(|r| r.to_string())?;
        if let Some(twin) = &self.gpu {
            // The CPU core takes the twin's state first (the twin stays in charge if what follows fails).
            let steps = twin.flow.steps_taken();
            self.sim
                .resume_particles(twin.flow.particles().to_vec(), steps)
                .map_err(|e| e.to_string())?;
        }
        self.sim.retarget(spec, image).map_err(|e| e.to_string())?;
        if let Some(first) = &mut self.first
            && first.retarget(spec, image).is_err()
        {
            self.first = None;
        }
        let Some(twin) = self.gpu.take() else {
            return Ok(());
        };
        let steps = twin.flow.steps_taken();
        match self.gpu_twin(&twin.ctx) {
            Ok(new) => {
                self.gpu = Some(GpuTwin {
                    flow: new.flow.continuing_from(steps),
                    ..new
                });
            }
            Err(why) => {
                let reason = format!("the GPU could not take the new target: {why}");
                self.notices
                    .push(format!("{reason}; the run continues on the CPU core"));
                self.placement = Placement::cpu(Some(reason));
            }
        }
        Ok(())
    }

    /// One non-blocking attempt at the next step, unless `goal` steps are taken. A CPU step is taken
    /// synchronously; the GPU twin is polled once.
    pub fn try_step(&mut self, goal: usize) -> Progress {
        if self.stop.is_some() {
            return Progress::Stopped;
        }
        if self.steps_taken() >= goal {
            return Progress::AtGoal;
        }
        if self.gpu.is_some() {
            return self.poll_gpu();
        }
        let started = web_time::Instant::now();
        match self.sim.step() {
            Ok(info) => {
                let took_s = started.elapsed().as_secs_f64();
                self.cpu_step_s = Some(self.cpu_step_s.map_or(took_s, |s| {
                    (1.0 - CPU_STEP_AVERAGE_WEIGHT) * s + CPU_STEP_AVERAGE_WEIGHT * took_s
                }));
                self.history.push(info, ActiveBackend::Cpu);
                self.trail.stepped(self.sim.model());
                Progress::Stepped
            }
            Err(err) => self.stop_with(err.to_string()),
        }
    }

    fn stop_with(&mut self, reason: String) -> Progress {
        self.stop = Some(Stop {
            step: self.steps_taken() + 1,
            reason,
        });
        self.start_diagnosis();
        Progress::Stopped
    }

    /// Retries the refused step from the last good state ([`diagnose::diagnose`]) on a [`worker::Worker`].
    fn start_diagnosis(&mut self) {
        let mut last_good = self.sim.clone();
        let first = self.first.as_deref().cloned();
        let on_gpu = self.gpu.is_some();
        // Off the frame thread natively; within a frame on the web.
        let budget_s = if worker::THREADED {
            DIAGNOSIS_BUDGET_S
        } else {
            0.03
        };
        if let Some(twin) = &self.gpu
            && let Err(e) =
                last_good.resume_particles(twin.flow.particles().to_vec(), twin.flow.steps_taken())
        {
            self.cause = Some(diagnose::StopCause::Unknown {
                why: format!("the CPU core could not take the GPU's last good state: {e}"),
            });
            return;
        }
        self.cause = None;
        self.diagnosis = Some(worker::Worker::once(
            "diagnosis",
            move || diagnose::diagnose(last_good, first, on_gpu, budget_s),
            None,
        ));
        self.poll_stop_cause();
    }

    /// Why the run stopped, once known: what retrying the refused step from the last good state with a
    /// smaller step size showed ([`diagnose`]). `None` while the retries run or if the run did not stop.
    pub fn stop_cause(&self) -> Option<&diagnose::StopCause> {
        self.cause.as_ref()
    }

    /// Takes the stop's cause if its retries are done; whether it just arrived. Never blocks (call it once
    /// a frame while [`Self::stopped`]).
    pub fn poll_stop_cause(&mut self) -> bool {
        let Some(w) = &mut self.diagnosis else {
            return false;
        };
        match w.try_next() {
            Some(cause) => {
                self.cause = Some(cause);
                self.diagnosis = None;
                true
            }
            None => {
                if !w.is_running() {
                    self.diagnosis = None;
                }
                false
            }
        }
    }

    /// Waits for the stop's cause (tests and headless use).
    pub fn finish_stop_cause(&mut self) -> Option<&diagnose::StopCause> {
        if let Some(w) = &mut self.diagnosis {
            if let Some(cause) = w.wait_next() {
                self.cause = Some(cause);
            }
            self.diagnosis = None;
        }
        self.cause.as_ref()
    }

    fn poll_gpu(&mut self) -> Progress {
        let Some(twin) = &mut self.gpu else {
            return Progress::Pending;
        };
        match twin.flow.poll(&twin.ctx) {
            Ok(Some(report)) => {
                let info = StepInfo::from_flow_report(twin.flow.steps_taken(), &report);
                #[cfg(not(target_arch = "wasm32"))]
                {
                    twin.waiting_since = None;
                }
                if !info.objective.is_finite() {
                    return self.stop_with(format!(
                        "the GPU step gave a non-finite {}",
                        info.objective_name
                    ));
                }
                self.history.push(info, ActiveBackend::Gpu);
                if let Some(twin) = &self.gpu {
                    self.trail
                        .stepped(ModelView::Particles(twin.flow.particles()));
                }
                Progress::Stepped
            }
            Ok(None) => Progress::Pending,
            Err(GpuError::NonFinite { what }) => {
                // Like a refused CPU step: the state of the last completed step is kept.
                self.stop_with(format!("the GPU step produced a non-finite value ({what})"))
            }
            Err(err) => {
                self.fall_back(&err.to_string());
                Progress::Pending
            }
        }
    }

    /// Moves this run to the CPU core from the GPU twin's last completed step.
    fn fall_back(&mut self, why: &str) {
        let Some(twin) = self.gpu.take() else {
            return;
        };
        let steps = twin.flow.steps_taken();
        let resumed = self
            .sim
            .resume_particles(twin.flow.particles().to_vec(), steps);
        match resumed {
            Ok(()) => {
                let reason = format!("the GPU failed at step {}: {why}", steps + 1);
                self.notices.push(format!(
                    "{reason}; the run continues on the CPU core from step {steps}"
                ));
                self.placement = Placement::cpu(Some(reason));
            }
            Err(e) => {
                self.placement = Placement::cpu(Some(format!("the GPU failed: {why}")));
                self.stop_with(format!(
                    "the GPU failed ({why}) and the CPU core could not take over ({e})"
                ));
            }
        }
    }

    /// Advances toward `goal` within `budget` without blocking: CPU steps until the step cap or the time
    /// budget is spent; on the GPU, polls until a poll completes no step (at most `budget.max_steps`).
    /// Returns the steps taken.
    pub fn advance(&mut self, goal: usize, budget: Budget) -> usize {
        let start = web_time::Instant::now();
        let mut taken = 0;
        while taken < budget.max_steps {
            match self.try_step(goal) {
                Progress::Stepped => taken += 1,
                Progress::Pending | Progress::AtGoal | Progress::Stopped => break,
            }
            if start.elapsed().as_secs_f64() > budget.time_s {
                break;
            }
        }
        taken
    }

    /// Takes one step, waiting for the GPU twin if it has one. On the GPU, a step that takes longer than
    /// [`GPU_STEP_TIMEOUT_S`] moves the run to the CPU core (it never hangs).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn step(&mut self) -> Result<&StepRecord, Stop> {
        loop {
            match self.try_step(usize::MAX) {
                Progress::Stepped => {
                    return self.history.last().ok_or_else(|| Stop {
                        step: self.steps_taken(),
                        reason: "no step was recorded".into(),
                    });
                }
                Progress::Stopped | Progress::AtGoal => {
                    return Err(self.stop.clone().unwrap_or(Stop {
                        step: self.steps_taken() + 1,
                        reason: "the run cannot go further".into(),
                    }));
                }
                Progress::Pending => {
                    let timed_out = self.gpu.as_mut().is_some_and(|twin| {
                        let since = *twin
                            .waiting_since
                            .get_or_insert_with(std::time::Instant::now);
                        since.elapsed().as_secs_f64() > GPU_STEP_TIMEOUT_S
                    });
                    if timed_out {
                        self.fall_back(&format!("no step completed within {GPU_STEP_TIMEOUT_S} s"));
                    } else {
                        std::thread::sleep(std::time::Duration::from_micros(200));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A run of the bundled scenario `name` on the CPU core (shared by the run layer's unit tests).
    pub(crate) fn cpu_run(name: &str) -> Run {
        let loaded = load::bundled(name).unwrap_or_else(|e| panic!("{e}"));
        Run::new(&loaded, BackendChoice::Cpu, Err("no GPU in this test"))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn advance_and_step_take_the_same_steps() {
        for name in ["two_modes_reverse_kl", "moons_sinkhorn_flow", "mixture_em"] {
            let mut blocking = cpu_run(name);
            for _ in 0..6 {
                blocking.step().unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            let mut framed = cpu_run(name);
            let mut frames = 0;
            while framed.steps_taken() < 6 {
                let budget = Budget {
                    max_steps: 4,
                    time_s: 1e9,
                };
                let taken = framed.advance(6, budget);
                assert!(taken <= 4, "the steps-per-frame cap holds");
                frames += 1;
            }
            assert_eq!(frames, 2, "{name}: 4 + 2 steps");
            assert_eq!(framed.advance(6, Budget::FRAME), 0, "at the goal");
            assert_eq!(blocking.history(), framed.history(), "{name}");
        }
    }

    #[test]
    fn a_gradient_fits_objective_id_is_a_measurement_row_id() {
        let ids = crate::core::measure::row_ids();
        for name in [
            "two_modes_forward_kl",
            "two_modes_reverse_kl",
            "two_modes_jensen_shannon",
        ] {
            let mut run = cpu_run(name);
            let id = run
                .step()
                .map(|r| r.info.objective_id.clone())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(ids.contains(&id.as_str()), "{name}: {id} not in {ids:?}");
        }
        let mut flow = cpu_run("moons_sinkhorn_flow");
        let info = flow
            .step()
            .map(|r| r.info.clone())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(info.objective_id, "sinkhorn_divergence");
        assert_eq!(info.objective_name, "Sinkhorn divergence S_ε");
    }

    #[test]
    fn the_last_displacement_is_new_minus_old_positions() {
        let mut run = cpu_run("moons_sinkhorn_flow");
        assert!(run.last_displacements().is_none() && run.positions_before_last_step().is_none());
        let particles = |run: &Run| match run.model() {
            ModelView::Particles(p) => p.to_vec(),
            ModelView::Mixture(_) => panic!("particles"),
        };
        for _ in 0..2 {
            let old = particles(&run);
            run.step().unwrap_or_else(|e| panic!("{e}"));
            let new = particles(&run);
            assert_eq!(run.positions_before_last_step(), Some(&old[..]));
            let d = run.last_displacements().expect("a step was taken");
            assert_eq!(d.len(), new.len());
            for ((d, n), o) in d.iter().zip(&new).zip(&old) {
                assert_eq!(*d, [n[0] - o[0], n[1] - o[1]]);
            }
            assert!(
                d.iter().any(|v| v[0] != 0.0 || v[1] != 0.0),
                "the flow moved"
            );
        }
        let mut mixture = cpu_run("two_modes_reverse_kl");
        mixture.step().unwrap_or_else(|e| panic!("{e}"));
        assert!(mixture.last_displacements().is_none());
    }

    #[test]
    fn the_time_budget_stops_a_frame_after_one_step() {
        let mut run = cpu_run("two_modes_reverse_kl");
        let budget = Budget {
            max_steps: 50,
            time_s: 0.0,
        };
        assert_eq!(run.advance(usize::MAX, budget), 1);
    }

    #[test]
    fn a_refused_step_stops_the_run_and_keeps_the_state() {
        let mut loaded = load::bundled("ring8_mmd_flow").unwrap_or_else(|e| panic!("{e}"));
        if let crate::core::scenario::Method::Flow {
            flow:
                crate::core::flows::FlowConfig::Mmd {
                    step_size,
                    adaptive_step,
                    ..
                },
        } = &mut loaded.scenario.method
        {
            *step_size = 1e300;
            *adaptive_step = false;
        }
        let mut run = match Run::new(&loaded, BackendChoice::Cpu, Err("cpu")) {
            Ok(run) => run,
            // The parameter table may refuse such a step size up front: that is a refusal too.
            Err(e) => {
                assert!(e.to_string().contains("step_size"), "{e}");
                return;
            }
        };
        let before: Vec<_> = match run.model() {
            ModelView::Particles(p) => p.to_vec(),
            ModelView::Mixture(_) => panic!("particles"),
        };
        let mut stop = None;
        for _ in 0..5 {
            if let Err(s) = run.step() {
                stop = Some(s);
                break;
            }
        }
        let stop = stop.expect("a step of 1e300 is refused");
        assert!(stop.step >= 1 && run.stopped() == Some(&stop), "{stop}");
        assert_eq!(run.steps_taken(), stop.step - 1);
        if stop.step == 1 {
            let ModelView::Particles(after) = run.model() else {
                panic!("particles");
            };
            assert_eq!(after, &before[..], "state kept");
        }
        assert_eq!(run.try_step(usize::MAX), Progress::Stopped);
    }

    #[test]
    fn gpu_choice_without_a_device_is_refused_and_auto_says_why() {
        let loaded = load::bundled("moons_sinkhorn_flow").unwrap_or_else(|e| panic!("{e}"));
        let err = Run::new(&loaded, BackendChoice::Gpu, Err("no adapter here"))
            .expect_err("gpu without a device");
        assert!(err.to_string().contains("no adapter here"), "{err}");
        let run = Run::new(&loaded, BackendChoice::Auto, Err("no adapter here"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!run.placement().is_gpu());
        assert_eq!(run.placement().to_string(), "cpu (no adapter here)");
    }
}
