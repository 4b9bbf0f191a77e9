//! Per-panel overlays, each a toggle: the entropic transport plan's strongest couplings and its barycentric
//! map, the dual potential and the MMD witness as contour layers, the particles' displacement over the last
//! step, the Monte Carlo gradient's spread at each component mean, and the model's density contours. The
//! numbers come from [`crate::run::overlay`]; this file turns them into lines and arrows, and decides when
//! to recompute them: when a toggle changes, and when the step changes — at most every
//! [`REFRESH_WHILE_RUNNING_S`] while the run plays (the plan costs up to ~0.2 s), at once when paused. Each
//! overlay's caption says what is drawn and at which step.

use egui::Color32;

use std::sync::Arc;

use crate::core::scenario::Scenario;
pub use crate::render::overlays::{Drawing, Overlay, Tint, Toggles};
use crate::render::overlays::{Limits, PLAN_OVERLAYS, draw, draw_plan};
use crate::run::Run;
use crate::run::overlay;
use crate::run::worker::{Notify, THREADED, Worker};

/// Points of each cloud the plan and the witness use (evenly subsampled; the captions say so). Natively
/// the plan is solved on another thread, so 300; on the web it is solved within a frame, so 64 (a 22nd of
/// the work: 3–20 ms in the dev profile where 300 take 56–184 ms; `run::overlay` `timings`).
pub const MAX_POINTS: usize = if THREADED { 300 } else { 64 };
/// Couplings drawn per model point.
pub const TOP_K: usize = 3;
/// Cells per side of the potential's and the witness' grids.
pub const FIELD_RESOLUTION: usize = 64;
/// Gradient estimates behind the spread.
pub const SPREAD_REPEATS: usize = 8;
/// Particles whose displacement is drawn.
pub const MAX_ARROWS: usize = 400;
/// The app's limits on overlay work (the constants above).
pub const LIMITS: Limits = Limits {
    max_points: MAX_POINTS,
    top_k: TOP_K,
    field_resolution: FIELD_RESOLUTION,
    spread_repeats: SPREAD_REPEATS,
    max_arrows: MAX_ARROWS,
};

/// An overlay mark's colour on screen: white at its opacity, or the model's `accent`.
pub fn tint_color(tint: Tint, accent: Color32) -> Color32 {
    match tint {
        Tint::Light(a) => Color32::WHITE.gamma_multiply(a),
        Tint::Accent => accent,
    }
}

/// Shortest wait between two recomputations while the run plays.
pub const REFRESH_WHILE_RUNNING_S: f64 = 0.5;

/// The plan, barycentric map and dual potential of one step, computed off the frame thread.
#[derive(Debug)]
struct PlanPart {
    /// Which of the three it drew (the other toggles cleared).
    toggles: Toggles,
    step: usize,
    scenario: Scenario,
    drawing: Drawing,
}

/// A plan part being computed, with what it is for.
#[derive(Debug)]
struct PlanJob {
    toggles: Toggles,
    step: usize,
    scenario: Scenario,
    worker: Worker<Drawing>,
}

/// A panel's overlays as last computed.
#[derive(Debug, Default)]
pub struct Cache {
    toggles: Toggles,
    step: Option<usize>,
    computed_at: Option<web_time::Instant>,
    pub drawing: Drawing,
    /// Every overlay but the plan's three, as last computed on the frame thread.
    rest: Drawing,
    plan: Option<PlanPart>,
    plan_job: Option<PlanJob>,
}

impl Cache {
    /// Recomputes the drawing if `toggles` changed, or the step did (at most every
    /// [`REFRESH_WHILE_RUNNING_S`] while `running`). The plan, its
    /// barycentric map and the dual potential (tens to ~200 ms) are solved by a [`Worker`] from a snapshot
    /// of the run and drawn from a later frame on (`ctx` is asked to repaint when they are ready); until
    /// then the last one is drawn, its caption naming its step, or a caption says it is being computed.
    pub fn refresh(&mut self, ctx: &egui::Context, run: &Run, toggles: Toggles, running: bool) {
        let mut changed = self.poll_plan();
        if !toggles.any() {
            *self = Self::default();
            return;
        }
        let step = run.steps_taken();
        if self
            .plan
            .as_ref()
            .is_some_and(|p| p.step > step || p.scenario != *run.scenario())
        {
            // The run was rebuilt: that plan is of another run.
            self.plan = None;
            changed = true;
        }
        let due = toggles != self.toggles
            || (self.step != Some(step)
                && (!running
                    || self
                        .computed_at
                        .is_none_or(|t| t.elapsed().as_secs_f64() >= REFRESH_WHILE_RUNNING_S)));
        if due {
            self.rest = draw(run, toggles.without_plan(), &LIMITS);
            self.toggles = toggles;
            self.step = Some(step);
            self.computed_at = Some(web_time::Instant::now());
            changed = true;
        }
        let wanted = toggles.plan_only();
        if wanted.any() && self.plan_job.is_none() {
            let at = self.step.unwrap_or(step);
            let fresh = self.plan.as_ref().is_some_and(|p| {
                p.toggles == wanted && p.step >= at && p.scenario == *run.scenario()
            });
            if !fresh {
                self.spawn_plan(ctx, run, wanted);
                changed |= self.poll_plan();
            }
        }
        if changed {
            self.compose();
        }
    }

    /// Waits for the plan being computed, if any, and draws it (for tests and headless use).
    pub fn finish_pending(&mut self) {
        if let Some(job) = &mut self.plan_job
            && let Some(drawing) = job.worker.wait_next()
        {
            self.plan = Some(PlanPart {
                toggles: job.toggles,
                step: job.step,
                scenario: job.scenario.clone(),
                drawing,
            });
        }
        self.plan_job = None;
        self.compose();
    }

    fn spawn_plan(&mut self, ctx: &egui::Context, run: &Run, wanted: Toggles) {
        let step = run.steps_taken();
        let bbox = run.target().bbox();
        let inputs = overlay::plan_inputs(run, MAX_POINTS);
        let ctx = ctx.clone();
        let notify: Notify = Arc::new(move || ctx.request_repaint());
        let worker = Worker::once(
            "plan-overlay",
            move || draw_plan(inputs, wanted, step, bbox, &LIMITS),
            Some(notify),
        );
        self.plan_job = Some(PlanJob {
            toggles: wanted,
            step,
            scenario: run.scenario().clone(),
            worker,
        });
    }

    /// Takes the plan part if its worker is done; whether it was.
    fn poll_plan(&mut self) -> bool {
        let Some(job) = &mut self.plan_job else {
            return false;
        };
        let Some(drawing) = job.worker.try_next() else {
            if !job.worker.is_running() {
                self.plan_job = None;
            }
            return false;
        };
        self.plan = Some(PlanPart {
            toggles: job.toggles,
            step: job.step,
            scenario: job.scenario.clone(),
            drawing,
        });
        self.plan_job = None;
        true
    }

    /// The drawing: the plan part (if it is of the overlays now on), then the rest.
    fn compose(&mut self) {
        let wanted = self.toggles.plan_only();
        let mut d = Drawing::default();
        match &self.plan {
            Some(p) if p.toggles == wanted => {
                d.lines.extend(p.drawing.lines.iter().cloned());
                d.arrows.extend(p.drawing.arrows.iter().cloned());
                d.captions.extend(p.drawing.captions.iter().cloned());
            }
            _ => {
                let at = self
                    .plan_job
                    .as_ref()
                    .map(|j| j.step)
                    .or(self.step)
                    .unwrap_or(0);
                for o in PLAN_OVERLAYS {
                    if wanted.get(o) {
                        d.captions
                            .push(format!("{}: computing at step {at}…", o.label()));
                    }
                }
            }
        }
        d.lines.extend(self.rest.lines.iter().cloned());
        d.arrows.extend(self.rest.arrows.iter().cloned());
        d.captions.extend(self.rest.captions.iter().cloned());
        self.drawing = d;
    }
}

/// The overlays menu of panel `i`: a checkbox per overlay.
pub fn menu_ui(ui: &mut egui::Ui, i: usize, toggles: &mut Toggles) {
    let count = Overlay::ALL.iter().filter(|o| toggles.get(**o)).count();
    let title = if count == 0 {
        "overlays".to_owned()
    } else {
        format!("overlays ({count})")
    };
    ui.push_id(("overlays", i), |ui| {
        ui.menu_button(title, |ui| {
            for o in Overlay::ALL {
                let mut on = toggles.get(o);
                if ui.checkbox(&mut on, o.label()).changed() {
                    toggles.set(o, on);
                }
            }
        });
    });
}
