//! Per-panel overlays, each a toggle: the entropic transport plan's strongest couplings and its barycentric
//! map, the dual potential and the MMD witness as contour layers, the particles' displacement over the last
//! step, the Monte Carlo gradient's spread at each component mean, and the model's density contours. The
//! numbers come from [`crate::run::overlay`]; this file turns them into lines and arrows, and decides when
//! to recompute them: when a toggle changes, and when the step changes — at most every
//! [`REFRESH_WHILE_RUNNING_S`] while the run plays (the plan costs up to ~0.2 s), at once when paused. Each
//! overlay's caption says what is drawn and at which step.

use egui::Color32;

use std::sync::Arc;

use crate::core::grid::{BBox, Grid};
use crate::core::scenario::Scenario;
use crate::run::Run;
use crate::run::overlay::{self, ContourLevel};
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
/// Shortest wait between two recomputations while the run plays.
pub const REFRESH_WHILE_RUNNING_S: f64 = 0.5;

/// The overlays, in the order of the menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    Plan,
    Barycentric,
    Potential,
    Witness,
    Velocity,
    Spread,
    Contours,
}

impl Overlay {
    pub const ALL: [Overlay; 7] = [
        Overlay::Plan,
        Overlay::Barycentric,
        Overlay::Potential,
        Overlay::Witness,
        Overlay::Velocity,
        Overlay::Spread,
        Overlay::Contours,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Plan => "transport plan (strongest couplings)",
            Self::Barycentric => "barycentric map (arrows)",
            Self::Potential => "dual potential f (contours)",
            Self::Witness => "MMD witness (contours)",
            Self::Velocity => "particle displacement (arrows)",
            Self::Spread => "Monte Carlo gradient spread",
            Self::Contours => "q's density contours (50%, 90%)",
        }
    }

    /// The overlay's name in a link (`A.overlays=plan,witness`).
    pub fn id(self) -> &'static str {
        match self {
            Self::Plan => "plan",
            Self::Barycentric => "barycentric",
            Self::Potential => "potential",
            Self::Witness => "witness",
            Self::Velocity => "velocity",
            Self::Spread => "spread",
            Self::Contours => "contours",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|o| *o == self).unwrap_or(0)
    }
}

/// Which overlays a panel shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Toggles([bool; 7]);

impl Toggles {
    pub fn get(&self, o: Overlay) -> bool {
        self.0[o.index()]
    }

    pub fn set(&mut self, o: Overlay, on: bool) {
        self.0[o.index()] = on;
    }

    pub fn any(&self) -> bool {
        self.0.iter().any(|b| *b)
    }

    /// These toggles with the plan's three ([`PLAN_OVERLAYS`]) alone.
    fn plan_only(&self) -> Toggles {
        let mut t = Toggles::default();
        for o in PLAN_OVERLAYS {
            t.set(o, self.get(o));
        }
        t
    }

    /// These toggles without the plan's three.
    fn without_plan(&self) -> Toggles {
        let mut t = *self;
        for o in PLAN_OVERLAYS {
            t.set(o, false);
        }
        t
    }
}

/// The overlays drawn from the transport plan (computed off the frame thread).
const PLAN_OVERLAYS: [Overlay; 3] = [Overlay::Plan, Overlay::Barycentric, Overlay::Potential];

/// A polyline to draw, in data coordinates.
#[derive(Debug, Clone)]
pub struct DrawnLine {
    pub name: String,
    pub points: Vec<[f64; 2]>,
    pub color: Color32,
    pub width: f32,
}

/// Arrows to draw, from `origins[i]` to `tips[i]`.
#[derive(Debug, Clone)]
pub struct DrawnArrows {
    pub name: String,
    pub origins: Vec<[f64; 2]>,
    pub tips: Vec<[f64; 2]>,
    pub color: Color32,
}

/// What a panel's overlays draw this frame, with a caption per overlay.
#[derive(Debug, Clone, Default)]
pub struct Drawing {
    pub lines: Vec<DrawnLine>,
    pub arrows: Vec<DrawnArrows>,
    /// One line per overlay: what is drawn, or why it is not.
    pub captions: Vec<String>,
}

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
    /// [`REFRESH_WHILE_RUNNING_S`] while `running`). `accent` colours the model's overlays. The plan, its
    /// barycentric map and the dual potential (tens to ~200 ms) are solved by a [`Worker`] from a snapshot
    /// of the run and drawn from a later frame on (`ctx` is asked to repaint when they are ready); until
    /// then the last one is drawn, its caption naming its step, or a caption says it is being computed.
    pub fn refresh(
        &mut self,
        ctx: &egui::Context,
        run: &Run,
        toggles: Toggles,
        running: bool,
        accent: Color32,
    ) {
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
            self.rest = draw(run, toggles.without_plan(), accent);
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
            move || draw_plan(inputs, wanted, step, bbox),
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

const LIGHT: Color32 = Color32::WHITE;

fn contour_lines(
    name: &str,
    levels: &[ContourLevel],
    color: impl Fn(f64) -> Color32,
) -> Vec<DrawnLine> {
    levels
        .iter()
        .flat_map(|l| {
            l.lines.iter().map(|line| DrawnLine {
                name: name.to_owned(),
                points: line.iter().map(|p| [p[0], p[1]]).collect(),
                color: color(l.level),
                width: 1.0,
            })
        })
        .collect()
}

fn fail(d: &mut Drawing, o: Overlay, why: String) {
    d.captions.push(format!("{}: not drawn: {why}", o.label()));
}

/// The plan, barycentric map and dual potential that `t` enables, from the plan's inputs at `step` (run
/// on a [`Worker`]: it owns everything it reads).
fn draw_plan(
    inputs: overlay::OverlayResult<overlay::PlanInputs>,
    t: Toggles,
    step: usize,
    bbox: BBox,
) -> Drawing {
    let mut d = Drawing::default();
    match inputs.and_then(|i| i.solve(TOP_K)) {
        Ok(plan) => {
            let what = plan.describe();
            if t.get(Overlay::Plan) {
                for s in &plan.segments {
                    d.lines.push(DrawnLine {
                        name: "transport plan".into(),
                        points: vec![s.from, s.to],
                        color: LIGHT.gamma_multiply((0.15 + 0.6 * s.mass) as f32),
                        width: (0.5 + 1.5 * s.mass) as f32,
                    });
                }
                d.captions.push(format!("plan at step {step}: {what}"));
            }
            if t.get(Overlay::Barycentric) {
                d.arrows.push(DrawnArrows {
                    name: "barycentric map".into(),
                    origins: plan.barycentric.iter().map(|a| a[0]).collect(),
                    tips: plan.barycentric.iter().map(|a| a[1]).collect(),
                    color: LIGHT,
                });
                d.captions.push(format!(
                    "barycentric map at step {step}: each of {} model points to the mean of where the plan \
                     sends it",
                    plan.barycentric.len()
                ));
            }
            if t.get(Overlay::Potential) {
                match Grid::square(bbox, FIELD_RESOLUTION)
                    .map_err(|e| e.to_string())
                    .and_then(|g| plan.potential_on_grid(&g))
                {
                    Ok(field) => match field.finite_range() {
                        Some((lo, hi)) => {
                            let levels = overlay::nice_levels(lo, hi, 8);
                            match overlay::contour_lines(&field.values, &field.grid, &levels) {
                                Ok(lines) => {
                                    d.lines.extend(contour_lines(
                                        "dual potential f",
                                        &lines,
                                        |_| LIGHT.gamma_multiply(0.7),
                                    ));
                                    d.captions.push(format!(
                                        "dual potential f at step {step}: {} levels from {lo:.3} to {hi:.3} \
                                         (cost units), on a {FIELD_RESOLUTION}² grid",
                                        levels.len()
                                    ));
                                }
                                Err(e) => fail(&mut d, Overlay::Potential, e),
                            }
                        }
                        None => fail(&mut d, Overlay::Potential, "no finite value".into()),
                    },
                    Err(e) => fail(&mut d, Overlay::Potential, e),
                }
            }
        }
        Err(e) => {
            for o in PLAN_OVERLAYS {
                if t.get(o) {
                    fail(&mut d, o, e.clone());
                }
            }
        }
    }
    d
}

/// Every enabled overlay of `run` at its current step but the plan's three ([`draw_plan`]).
fn draw(run: &Run, t: Toggles, accent: Color32) -> Drawing {
    let mut d = Drawing::default();
    let step = run.steps_taken();
    let bbox = run.target().bbox();
    let side = bbox.width().min(bbox.height());

    if t.get(Overlay::Witness) {
        match overlay::witness_overlay(run, MAX_POINTS, FIELD_RESOLUTION) {
            Ok(w) => match w.field.finite_range() {
                Some((lo, hi)) => {
                    let levels: Vec<f64> = overlay::nice_levels(lo, hi, 8)
                        .into_iter()
                        .filter(|l| *l != 0.0)
                        .collect();
                    match overlay::contour_lines(&w.field.values, &w.field.grid, &levels) {
                        Ok(lines) => {
                            d.lines
                                .extend(contour_lines("MMD witness", &lines, |level| {
                                    if level > 0.0 {
                                        accent
                                    } else {
                                        LIGHT.gamma_multiply(0.8)
                                    }
                                }));
                            d.captions.push(format!(
                                "MMD witness at step {step} ({:?} kernel): model-coloured where the model has more \
                                 mass than the target, white where it has less; {} levels from {lo:.2e} to {hi:.2e}; \
                                 from {} and {}",
                                w.kernel_source,
                                levels.len(),
                                w.model.count_words(),
                                w.target.count_words(),
                            ));
                        }
                        Err(e) => fail(&mut d, Overlay::Witness, e),
                    }
                }
                None => fail(&mut d, Overlay::Witness, "no finite value".into()),
            },
            Err(e) => fail(&mut d, Overlay::Witness, e),
        }
    }

    if t.get(Overlay::Velocity) {
        match overlay::displacements(run, MAX_ARROWS) {
            Ok(v) if v.mean_length > 0.0 => {
                // Scaled so that the mean arrow is 3% of the box's smaller side; the caption gives the factor.
                let scale = 0.03 * side / v.mean_length;
                d.arrows.push(DrawnArrows {
                    name: "displacement over the last step".into(),
                    origins: v.arrows.iter().map(|a| a[0]).collect(),
                    tips: v
                        .arrows
                        .iter()
                        .map(|[a, b]| [a[0] + scale * (b[0] - a[0]), a[1] + scale * (b[1] - a[1])])
                        .collect(),
                    color: accent,
                });
                d.captions.push(format!(
                    "displacement over step {} of {} of {} particles, drawn ×{} (mean {:.3e}, largest \
                     {:.3e} length units per step)",
                    v.step,
                    v.arrows.len(),
                    v.of,
                    super::readable_value(scale),
                    v.mean_length,
                    v.max_length
                ));
            }
            Ok(v) => d.captions.push(format!(
                "particle displacement: no particle moved at step {}",
                v.step
            )),
            Err(e) => fail(&mut d, Overlay::Velocity, e),
        }
    }

    if t.get(Overlay::Spread) {
        match overlay::gradient_spread(run, SPREAD_REPEATS) {
            Ok(g) => {
                let largest = g
                    .components
                    .iter()
                    .map(|c| {
                        c.grad_mean[0].hypot(c.grad_mean[1]) + c.grad_std[0].max(c.grad_std[1])
                    })
                    .fold(0.0, f64::max);
                if largest > 0.0 {
                    // The longest arrow plus its spread spans 15% of the box's smaller side.
                    let scale = 0.15 * side / largest;
                    let mut origins = Vec::new();
                    let mut tips = Vec::new();
                    for c in &g.components {
                        let tip = [
                            c.mean[0] - scale * c.grad_mean[0],
                            c.mean[1] - scale * c.grad_mean[1],
                        ];
                        origins.push(c.mean);
                        tips.push(tip);
                        let (rx, ry) = (scale * c.grad_std[0], scale * c.grad_std[1]);
                        d.lines.push(DrawnLine {
                            name: "gradient spread (±1 sd)".into(),
                            points: (0..=48)
                                .map(|i| {
                                    let a = i as f64 / 48.0 * std::f64::consts::TAU;
                                    [tip[0] + rx * a.cos(), tip[1] + ry * a.sin()]
                                })
                                .collect(),
                            color: LIGHT,
                            width: 1.5,
                        });
                    }
                    d.arrows.push(DrawnArrows {
                        name: "descent direction (mean gradient)".into(),
                        origins,
                        tips,
                        color: LIGHT,
                    });
                    d.captions.push(format!(
                        "gradient spread at step {step}: − mean of {} estimates of ∂D/∂μ with {} samples each, an \
                         ellipse of ±1 standard deviation at its tip, drawn ×{}",
                        g.repeats,
                        g.samples,
                        super::readable_value(scale)
                    ));
                } else {
                    d.captions
                        .push("gradient spread: the gradient is zero".into());
                }
            }
            Err(e) => fail(&mut d, Overlay::Spread, e),
        }
    }

    if t.get(Overlay::Contours) {
        match overlay::model_density_contours(run, 96) {
            Ok(c) => {
                d.lines
                    .extend(contour_lines("q: density contours", &c.lines, |_| accent));
                let fractions: Vec<String> = c
                    .levels
                    .iter()
                    .map(|l| format!("{:.0}%", 100.0 * l.fraction))
                    .collect();
                d.captions.push(format!(
                    "q's density contours at step {step}: the regions holding {} of q's mass",
                    fractions.join(" and ")
                ));
            }
            Err(e) => fail(&mut d, Overlay::Contours, e),
        }
    }
    d
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
