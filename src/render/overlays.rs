//! Overlays as data: which ones a panel shows ([`Toggles`]) and what each draws over the scene
//! ([`Drawing`]: polylines and arrows in data coordinates, tinted white or in the model's accent, and one
//! caption per overlay saying what is drawn or why it is not), from the numbers of [`crate::run::overlay`].
//! The app draws a [`Drawing`] with egui_plot (and decides when to recompute it); a figure
//! ([`super::figure_with`]) draws the same one, so an exported picture shows what the app shows.

use crate::core::grid::{BBox, Grid};
use crate::run::Run;
use crate::run::overlay::{self, ContourLevel};

/// How much work an overlay may do: the app's limits depend on the platform (a plan solved on another
/// thread natively, within a frame on the web); a figure uses the native ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Points of each cloud the plan and the witness use (evenly subsampled; the captions say so).
    pub max_points: usize,
    /// Couplings drawn per model point.
    pub top_k: usize,
    /// Cells per side of the potential's and the witness' grids.
    pub field_resolution: usize,
    /// Gradient estimates behind the spread.
    pub spread_repeats: usize,
    /// Particles whose displacement is drawn.
    pub max_arrows: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_points: 300,
            top_k: 3,
            field_resolution: 64,
            spread_repeats: 8,
            max_arrows: 400,
        }
    }
}

/// An overlay mark's colour: white at an opacity (0 to 1), or the model's accent colour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tint {
    Light(f32),
    Accent,
}

/// Every overlay `t` enables, computed at once (the plan too): what a figure draws.
pub fn draw_all(run: &Run, t: Toggles, limits: &Limits) -> Drawing {
    let mut d = Drawing::default();
    let plan = t.plan_only();
    if plan.any() {
        let inputs = overlay::plan_inputs(run, limits.max_points);
        d = draw_plan(inputs, plan, run.steps_taken(), run.target().bbox(), limits);
    }
    let rest = draw(run, t.without_plan(), limits);
    d.lines.extend(rest.lines);
    d.arrows.extend(rest.arrows);
    d.captions.extend(rest.captions);
    d
}

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
    KnnRatio,
}

impl Overlay {
    pub const ALL: [Overlay; 8] = [
        Overlay::Plan,
        Overlay::Barycentric,
        Overlay::Potential,
        Overlay::Witness,
        Overlay::Velocity,
        Overlay::Spread,
        Overlay::Contours,
        Overlay::KnnRatio,
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
            Self::KnnRatio => "kNN density ratio p/q at each particle (rings)",
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
            Self::KnnRatio => "knn_ratio",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|o| *o == self).unwrap_or(0)
    }
}

/// Which overlays a panel shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Toggles([bool; 8]);

impl Toggles {
    pub fn get(&self, o: Overlay) -> bool {
        self.0[o.index()]
    }

    pub fn set(&mut self, o: Overlay, on: bool) {
        self.0[o.index()] = on;
    }

    /// Toggles from a comma-separated list of overlay ids (`plan,contours`), or which id is unknown and the
    /// valid ones.
    pub fn parse_list(list: &str) -> Result<Toggles, String> {
        let mut t = Toggles::default();
        for id in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let o = Overlay::ALL.iter().find(|o| o.id() == id).ok_or_else(|| {
                let ids: Vec<&str> = Overlay::ALL.iter().map(|o| o.id()).collect();
                format!("unknown overlay `{id}` (expected {})", ids.join(", "))
            })?;
            t.set(*o, true);
        }
        Ok(t)
    }

    pub fn any(&self) -> bool {
        self.0.iter().any(|b| *b)
    }

    /// These toggles with the plan's three ([`PLAN_OVERLAYS`]) alone.
    pub fn plan_only(&self) -> Toggles {
        let mut t = Toggles::default();
        for o in PLAN_OVERLAYS {
            t.set(o, self.get(o));
        }
        t
    }

    /// These toggles without the plan's three.
    pub fn without_plan(&self) -> Toggles {
        let mut t = *self;
        for o in PLAN_OVERLAYS {
            t.set(o, false);
        }
        t
    }
}

/// The overlays drawn from the transport plan (computed off the frame thread).
pub const PLAN_OVERLAYS: [Overlay; 3] = [Overlay::Plan, Overlay::Barycentric, Overlay::Potential];

/// A polyline to draw, in data coordinates.
#[derive(Debug, Clone)]
pub struct DrawnLine {
    pub name: String,
    pub points: Vec<[f64; 2]>,
    pub tint: Tint,
    pub width: f32,
}

/// Arrows to draw, from `origins[i]` to `tips[i]`.
#[derive(Debug, Clone)]
pub struct DrawnArrows {
    pub name: String,
    pub origins: Vec<[f64; 2]>,
    pub tips: Vec<[f64; 2]>,
    pub tint: Tint,
}

/// What a panel's overlays draw this frame, with a caption per overlay.
#[derive(Debug, Clone, Default)]
pub struct Drawing {
    pub lines: Vec<DrawnLine>,
    pub arrows: Vec<DrawnArrows>,
    /// One line per overlay: what is drawn, or why it is not.
    pub captions: Vec<String>,
}

fn contour_lines(
    name: &str,
    levels: &[ContourLevel],
    tint: impl Fn(f64) -> Tint,
) -> Vec<DrawnLine> {
    levels
        .iter()
        .flat_map(|l| {
            l.lines.iter().map(|line| DrawnLine {
                name: name.to_owned(),
                points: line.iter().map(|p| [p[0], p[1]]).collect(),
                tint: tint(l.level),
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
pub fn draw_plan(
    inputs: overlay::OverlayResult<overlay::PlanInputs>,
    t: Toggles,
    step: usize,
    bbox: BBox,
    limits: &Limits,
) -> Drawing {
    let mut d = Drawing::default();
    match inputs.and_then(|i| i.solve(limits.top_k)) {
        Ok(plan) => {
            let what = plan.describe();
            if t.get(Overlay::Plan) {
                for s in &plan.segments {
                    d.lines.push(DrawnLine {
                        name: "transport plan".into(),
                        points: vec![s.from, s.to],
                        tint: Tint::Light((0.15 + 0.6 * s.mass) as f32),
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
                    tint: Tint::Light(1.0),
                });
                d.captions.push(format!(
                    "barycentric map at step {step}: each of {} model points to the mean of where the plan \
                     sends it",
                    plan.barycentric.len()
                ));
            }
            if t.get(Overlay::Potential) {
                match Grid::square(bbox, limits.field_resolution)
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
                                        |_| Tint::Light(0.7),
                                    ));
                                    d.captions.push(format!(
                                        "dual potential f at step {step}: {} levels from {lo:.3} to {hi:.3} \
                                         (cost units), on a {}² grid",
                                        levels.len(),
                                        limits.field_resolution
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
pub fn draw(run: &Run, t: Toggles, limits: &Limits) -> Drawing {
    let mut d = Drawing::default();
    let step = run.steps_taken();
    let bbox = run.target().bbox();
    let side = bbox.width().min(bbox.height());

    if t.get(Overlay::Witness) {
        match overlay::witness_overlay(run, limits.max_points, limits.field_resolution) {
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
                                        Tint::Accent
                                    } else {
                                        Tint::Light(0.8)
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
        match overlay::displacements(run, limits.max_arrows) {
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
                    tint: Tint::Accent,
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
        match overlay::gradient_spread(run, limits.spread_repeats) {
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
                            tint: Tint::Light(1.0),
                            width: 1.5,
                        });
                    }
                    d.arrows.push(DrawnArrows {
                        name: "descent direction (mean gradient)".into(),
                        origins,
                        tips,
                        tint: Tint::Light(1.0),
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
                    .extend(contour_lines("q: density contours", &c.lines, |_| {
                        Tint::Accent
                    }));
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

    if t.get(Overlay::KnnRatio) {
        match overlay::knn_ratios(run, limits.max_points) {
            Ok(r) => {
                // A ring per model point: white where p/q > 1 (the target has more mass there than the
                // model), the model's colour where p/q < 1; the radius grows with |ln p/q| up to
                // KNN_LOG_CAP (a ratio of 0, no target neighbour, is drawn at the cap).
                for (x, v) in r.model.points.iter().zip(&r.ratios) {
                    if v.ratio == 1.0 {
                        continue;
                    }
                    let strength = if v.ratio > 0.0 {
                        v.ratio.ln().abs().min(KNN_LOG_CAP) / KNN_LOG_CAP
                    } else {
                        1.0
                    };
                    let radius = side * (0.008 + 0.02 * strength);
                    d.lines.push(DrawnLine {
                        name: "kNN ratio p/q".into(),
                        points: (0..=16)
                            .map(|i| {
                                let a = i as f64 / 16.0 * std::f64::consts::TAU;
                                [x[0] + radius * a.cos(), x[1] + radius * a.sin()]
                            })
                            .collect(),
                        tint: if v.ratio > 1.0 {
                            Tint::Light(0.95)
                        } else {
                            Tint::Accent
                        },
                        width: 1.5,
                    });
                }
                d.captions.push(format!(
                    "kNN ratio p/q at step {step} at each of {}, from its k = {} nearest among them and {}                      (m/n · from p/(from q + 1)): white where p/q > 1, model-coloured where p/q < 1, larger                      rings for larger |ln p/q| (capped at {}); median {}, {} with no target point among                      their neighbours",
                    r.model.count_words(),
                    r.k,
                    r.target.count_words(),
                    KNN_LOG_CAP,
                    super::readable_value(r.median()),
                    r.without_target_neighbour()
                ));
            }
            Err(e) => fail(&mut d, Overlay::KnnRatio, e),
        }
    }
    d
}

/// The kNN ratio overlay's rings stop growing at |ln p/q| = this.
pub const KNN_LOG_CAP: f64 = 3.0;
