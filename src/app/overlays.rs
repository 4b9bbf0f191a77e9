//! Per-panel overlays, each a toggle: the entropic transport plan's strongest couplings and its barycentric
//! map, the dual potential and the MMD witness as contour layers, the particles' displacement over the last
//! step, the Monte Carlo gradient's spread at each component mean, and the model's density contours. The
//! numbers come from [`crate::run::overlay`]; this file turns them into lines and arrows, and decides when
//! to recompute them: when a toggle changes, and when the step changes — at most every
//! [`REFRESH_WHILE_RUNNING_S`] while the run plays (the plan costs up to ~0.2 s), at once when paused. Each
//! overlay's caption says what is drawn and at which step.

use egui::Color32;

use crate::core::grid::Grid;
use crate::run::Run;
use crate::run::overlay::{self, ContourLevel};

/// Points of each cloud the plan and the witness use (evenly subsampled).
pub const MAX_POINTS: usize = 300;
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
}

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

/// A panel's overlays as last computed.
#[derive(Debug, Default)]
pub struct Cache {
    toggles: Toggles,
    step: Option<usize>,
    computed_at: Option<web_time::Instant>,
    pub drawing: Drawing,
}

impl Cache {
    /// Recomputes the drawing if `toggles` changed, or the step did (at most every
    /// [`REFRESH_WHILE_RUNNING_S`] while `running`). `accent` colours the model's overlays.
    pub fn refresh(&mut self, run: &Run, toggles: Toggles, running: bool, accent: Color32) {
        if !toggles.any() {
            self.drawing = Drawing::default();
            self.toggles = toggles;
            self.step = None;
            return;
        }
        let step = run.steps_taken();
        let due = toggles != self.toggles
            || (self.step != Some(step)
                && (!running
                    || self
                        .computed_at
                        .is_none_or(|t| t.elapsed().as_secs_f64() >= REFRESH_WHILE_RUNNING_S)));
        if !due {
            return;
        }
        self.drawing = draw(run, toggles, accent);
        self.toggles = toggles;
        self.step = Some(step);
        self.computed_at = Some(web_time::Instant::now());
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

/// Every enabled overlay of `run` at its current step.
fn draw(run: &Run, t: Toggles, accent: Color32) -> Drawing {
    let mut d = Drawing::default();
    let step = run.steps_taken();
    let bbox = run.target().bbox();
    let side = bbox.width().min(bbox.height());
    let fail = |d: &mut Drawing, o: Overlay, why: String| {
        d.captions.push(format!("{}: not drawn: {why}", o.label()));
    };

    if t.get(Overlay::Plan) || t.get(Overlay::Barycentric) || t.get(Overlay::Potential) {
        match overlay::plan_overlay(run, MAX_POINTS, TOP_K) {
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
                for o in [Overlay::Plan, Overlay::Barycentric, Overlay::Potential] {
                    if t.get(o) {
                        fail(&mut d, o, e.clone());
                    }
                }
            }
        }
    }

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
                                 mass than the target, white where it has less; {} levels from {lo:.2e} to {hi:.2e}",
                                w.kernel_source,
                                levels.len()
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
