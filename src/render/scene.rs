//! A figure of one panel per run: what the app's scene draws (the target's heatmap, the model as particles
//! or per-component 1σ/2σ ellipses, axes, a colour bar), with a title per panel (the scenario, the method,
//! the step and the objective's value). Panels: 1, 2 side by side, 3 or 4 in a 2×2 grid.

use super::color::{Colormap, Theme};
use super::overlays::{Drawing, Limits, Overlay, Tint, Toggles, draw_all};
use super::text::approx_width;
use super::{Anchor, Figure, Prim, Raster, Rect, Rgba, Role};
use crate::core::flows::FlowConfig;
use crate::core::grid::{BBox, Grid};
use crate::core::math::Vec2;
use crate::core::scenario::{Method, Scenario};
use crate::core::sim::ModelView;
use crate::core::target::Target;
use crate::run::Run;

/// The heatmap's grid, a side (the app's `HEATMAP_RESOLUTION`).
pub const HEATMAP_RESOLUTION: usize = 256;

/// At most this many particles are drawn (an evenly strided subset beyond it, as in the app).
pub const MAX_DRAWN_POINTS: usize = 20_000;

/// Most panels in one figure.
pub const MAX_PANELS: usize = 4;

/// How a figure looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// The figure's size in figure units (pixels at scale 1).
    pub width: u32,
    pub height: u32,
    pub theme: Theme,
    pub colormap: Colormap,
    /// Draw a sample target's points over its histogram.
    pub target_points: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            width: 1280,
            height: 720,
            theme: Theme::Light,
            colormap: Colormap::Viridis,
            target_points: false,
        }
    }
}

/// The figure of `runs` (1 to [`MAX_PANELS`]), each in its own panel with its title, without overlays.
pub fn figure(runs: &[&Run], opts: &Options) -> Result<Figure, String> {
    let panels: Vec<(&Run, Toggles)> = runs.iter().map(|r| (*r, Toggles::default())).collect();
    figure_with(&panels, opts)
}

/// The figure of `panels` (1 to [`MAX_PANELS`]), each run with the overlays its toggles enable (computed
/// at once with the native [`Limits`]), its title and a legend.
pub fn figure_with(panels: &[(&Run, Toggles)], opts: &Options) -> Result<Figure, String> {
    let runs: Vec<&Run> = panels.iter().map(|(r, _)| *r).collect();
    if runs.is_empty() || runs.len() > MAX_PANELS {
        return Err(format!(
            "{} panels: a figure has 1 to {MAX_PANELS}",
            runs.len()
        ));
    }
    let (w, h) = (opts.width as f32, opts.height as f32);
    let cols = if runs.len() == 1 { 1 } else { 2 };
    let rows = runs.len().div_ceil(cols);
    let (pw, ph) = (w / cols as f32, h / rows as f32);
    let mut items = Vec::new();
    for (i, (run, toggles)) in panels.iter().enumerate() {
        let cell = Rect::new((i % cols) as f32 * pw, (i / cols) as f32 * ph, pw, ph);
        let drawing = if toggles.any() {
            draw_all(run, *toggles, &Limits::default())
        } else {
            Drawing::default()
        };
        items.extend(panel(run, &drawing, *toggles, cell, opts)?);
    }
    Ok(Figure {
        width: opts.width,
        height: opts.height,
        background: opts.theme.background(),
        items,
    })
}

/// The method as the app's panel header names it.
pub fn method_label(s: &Scenario) -> String {
    match &s.method {
        Method::Gradient {
            objective,
            optimizer,
        } => format!("{}, {}", objective.name(), optimizer.label()),
        Method::Em { samples } => format!("EM on {samples} samples"),
        Method::BwJko { step_size, .. } => format!(
            "Bures–Wasserstein JKO, h = {}",
            crate::core::math::display_number(*step_size)
        ),
        Method::Flow { flow } => match flow {
            FlowConfig::Mmd { .. } => "MMD flow".into(),
            FlowConfig::SlicedRiesz { .. } => "sliced Riesz flow".into(),
            FlowConfig::Sinkhorn {
                debiased, sinkhorn, ..
            } => format!(
                "{}{}",
                if *debiased {
                    "Sinkhorn-divergence flow"
                } else {
                    "entropic OT flow (not debiased)"
                },
                if sinkhorn.newton.is_some() {
                    ", sparse Newton Sinkhorn"
                } else {
                    ""
                }
            ),
            FlowConfig::Svgd { .. } => "SVGD".into(),
            FlowConfig::MirroredSvgd { .. } => "mirrored SVGD (simplex)".into(),
            FlowConfig::Langevin { .. } => "Langevin dynamics".into(),
            FlowConfig::UnderdampedLangevin { .. } => "underdamped Langevin dynamics".into(),
        },
    }
}

/// A number with about four significant digits, without an exponent where it reads as well.
pub fn short_number(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if (1e-3..1e4).contains(&a) {
        let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
        format!("{v:.decimals$}")
    } else {
        format!("{v:.3e}")
    }
}

/// The panel's title lines: the scenario, then the method, the step and the objective's value.
pub fn title_lines(run: &Run) -> (String, String) {
    let s = run.scenario();
    let mut second = format!("{} · step {}", method_label(s), run.steps_taken());
    if let Some(r) = run.history().last() {
        // A gradient fit's label already names its objective.
        let name = if second.contains(&r.info.objective_name) {
            "objective"
        } else {
            &r.info.objective_name
        };
        second += &format!(" · {name} = {}", short_number(r.info.objective));
    }
    if let Some(stop) = run.stopped() {
        second += &format!(" · stopped at step {}", stop.step);
    }
    (s.name.clone(), second)
}

/// Maps data coordinates into a plot rectangle (y up in data, down on the page).
#[derive(Debug, Clone, Copy)]
struct ToPage {
    bbox: BBox,
    rect: Rect,
    k: f64,
}

impl ToPage {
    fn at(&self, p: Vec2) -> [f32; 2] {
        [
            self.rect.x + ((p[0] - self.bbox.x_min) * self.k) as f32,
            self.rect.bottom() - ((p[1] - self.bbox.y_min) * self.k) as f32,
        ]
    }
}

/// What the model is drawn as, for the legend.
fn model_legend(run: &Run) -> String {
    match run.model() {
        ModelView::Particles(p) => format!("q: {} particles", p.len()),
        ModelView::Mixture(q) => {
            let k = q.weights().len();
            format!(
                "q: 1σ and 2σ ellipse of {k} component{}",
                if k == 1 { "" } else { "s" }
            )
        }
    }
}

fn tint_rgba(t: Tint, cm: Colormap) -> Rgba {
    match t {
        Tint::Light(a) => Rgba::rgb(255, 255, 255).faded(a),
        Tint::Accent => cm.model_color(),
    }
}

/// The legend's entries: a swatch colour and a label (the model, then each overlay that is on: its label,
/// or why it is not drawn).
fn legend_entries(
    run: &Run,
    drawing: &Drawing,
    toggles: Toggles,
    cm: Colormap,
) -> Vec<(Rgba, String)> {
    let mut entries = vec![(cm.model_color(), model_legend(run))];
    for o in Overlay::ALL {
        if !toggles.get(o) {
            continue;
        }
        let failed = drawing
            .captions
            .iter()
            .find(|c| c.starts_with(&format!("{}: not drawn", o.label())));
        let tint = match o {
            Overlay::Velocity | Overlay::Contours => Tint::Accent,
            _ => Tint::Light(1.0),
        };
        entries.push(match failed {
            Some(c) => (tint_rgba(tint, cm), c.clone()),
            None => (tint_rgba(tint, cm), o.label().to_owned()),
        });
    }
    entries
}

/// An arrow from `a` to `b` on the page: its shaft and a two-stroke head `head` long.
fn arrow(a: [f32; 2], b: [f32; 2], head: f32, color: Rgba, width: f32) -> Prim {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len = dx.hypot(dy).max(1e-6);
    let (ux, uy) = (dx / len, dy / len);
    let h = head.min(len * 0.6);
    // The head's strokes, ±25° from the shaft.
    let (c, s) = (25f32.to_radians().cos(), 25f32.to_radians().sin());
    let left = [b[0] - h * (ux * c - uy * s), b[1] - h * (uy * c + ux * s)];
    let right = [b[0] - h * (ux * c + uy * s), b[1] - h * (uy * c - ux * s)];
    Prim::Polyline {
        points: vec![a, b, left, b, right],
        color,
        width,
        role: Role::Overlay,
    }
}

fn panel(
    run: &Run,
    drawing: &Drawing,
    toggles: Toggles,
    cell: Rect,
    opts: &Options,
) -> Result<Vec<Prim>, String> {
    let theme = opts.theme;
    let cm = opts.colormap;
    let base = (cell.w.min(cell.h) / 45.0).clamp(8.0, 28.0);
    let tick_size = base * 0.8;
    let unit = base / 11.0;
    let pad = base * 0.8;
    let mut out = Vec::new();

    // Title.
    let (first, second) = title_lines(run);
    let title_size = base * 1.05;
    let sub_size = base * 0.8;
    let mut y = cell.y + pad + title_size;
    out.push(text(
        cell.x + pad,
        y,
        first,
        title_size,
        theme.text(),
        Anchor::Start,
    ));
    y += sub_size * 1.45;
    out.push(text(
        cell.x + pad,
        y,
        second,
        sub_size,
        theme.text(),
        Anchor::Start,
    ));
    // Legend: a swatch on a chip of the colormap's low end (overlays are white, as in the app), then its
    // label; entries wrap onto further lines within the panel's width.
    let legend_size = sub_size * 0.95;
    let chip = legend_size * 1.1;
    let mut x = cell.x + pad;
    y += legend_size * 1.6;
    let fonts = super::text::Fonts::new()?;
    for (color, label) in legend_entries(run, drawing, toggles, cm) {
        let w = chip + legend_size * 0.4 + fonts.width(&label, legend_size) + legend_size * 1.2;
        if x > cell.x + pad && x + w > cell.right() - pad {
            x = cell.x + pad;
            y += legend_size * 1.5;
        }
        let r = Rect::new(x, y - chip * 0.85, chip, chip);
        out.push(Prim::Rect {
            rect: r,
            fill: Some(cm.eval(0.0)),
            stroke: None,
            role: Role::Legend,
        });
        out.push(Prim::Polyline {
            points: vec![
                [r.x + chip * 0.15, r.y + chip * 0.5],
                [r.right() - chip * 0.15, r.y + chip * 0.5],
            ],
            color,
            width: 2.0 * unit,
            role: Role::Legend,
        });
        out.push(text(
            r.right() + legend_size * 0.4,
            y,
            label,
            legend_size,
            theme.text(),
            Anchor::Start,
        ));
        x += w;
    }
    let top = y + pad;

    // Room for the axes' labels and the colour bar.
    let target = run.target();
    let bbox = target.bbox();
    let (heat, value_range, bar_title) = heatmap(target, &bbox, cm)?;
    let bar_label_w = approx_width("8.8e-88", tick_size);
    let bar_w = base * 0.9;
    let right_room = pad + bar_w + base * 0.4 + bar_label_w + pad;
    let left_room = pad + base * 1.4 + approx_width("-88.8", tick_size) + base * 0.5;
    let bottom_room = pad + base * 1.4 + tick_size * 1.6;
    let avail = Rect::new(
        cell.x + left_room,
        top + base * 0.6,
        (cell.w - left_room - right_room).max(1.0),
        (cell.bottom() - bottom_room - top - base * 0.6).max(1.0),
    );
    let k = (f64::from(avail.w) / bbox.width()).min(f64::from(avail.h) / bbox.height());
    let (plot_w, plot_h) = ((bbox.width() * k) as f32, (bbox.height() * k) as f32);
    let plot = Rect::new(
        avail.x + (avail.w - plot_w) * 0.5,
        avail.y + (avail.h - plot_h) * 0.5,
        plot_w,
        plot_h,
    );
    let to = ToPage {
        bbox,
        rect: plot,
        k,
    };

    // Heatmap and the model, clipped to the plot.
    let mut inside = vec![Prim::Image {
        rect: plot,
        raster: heat,
        smooth: true,
        label: bar_title.clone(),
    }];
    if opts.target_points && !run.target_points().is_empty() {
        inside.push(Prim::Circles {
            centers: strided(run.target_points()).map(|p| to.at(*p)).collect(),
            radius: 1.2 * unit,
            fill: cm.target_point_color(),
            role: Role::TargetPoint,
        });
    }
    match run.model() {
        ModelView::Particles(particles) => {
            let r = if particles.len() > 2000 { 1.2 } else { 2.2 };
            inside.push(Prim::Circles {
                centers: strided(particles).map(|p| to.at(*p)).collect(),
                radius: r * unit,
                fill: cm.model_color(),
                role: Role::Particle,
            });
        }
        ModelView::Mixture(q) => {
            let weights = q.weights();
            let means = q.means();
            for (j, [l11, l21, l22]) in q.cholesky_factors().into_iter().enumerate() {
                // Σ = L Lᵀ; its eigen-decomposition gives the ellipse's axes.
                let (a, b, c) = (l11 * l11, l11 * l21, l21 * l21 + l22 * l22);
                let half = 0.5 * (a - c);
                let root = (half * half + b * b).sqrt();
                let (l1, l2) = (0.5 * (a + c) + root, (0.5 * (a + c) - root).max(0.0));
                // Anticlockwise in data is clockwise on the page (y flips).
                let angle = -(0.5 * (2.0 * b).atan2(a - c)) as f32;
                let width = (1.0 + 3.0 * weights[j] as f32) * unit;
                for (sigmas, role, fade) in [
                    (1.0, Role::Ellipse1Sigma, 1.0),
                    (2.0, Role::Ellipse2Sigma, 0.6),
                ] {
                    inside.push(Prim::Ellipse {
                        center: to.at(means[j]),
                        radii: [
                            (sigmas * l1.sqrt() * k) as f32,
                            (sigmas * l2.sqrt() * k) as f32,
                        ],
                        angle,
                        color: cm.model_color().faded(fade),
                        width,
                        role,
                    });
                }
            }
        }
    }
    for l in &drawing.lines {
        inside.push(Prim::Polyline {
            points: l.points.iter().map(|p| to.at(*p)).collect(),
            color: tint_rgba(l.tint, cm),
            width: l.width * unit,
            role: Role::Overlay,
        });
    }
    for a in &drawing.arrows {
        let color = tint_rgba(a.tint, cm);
        for (o, t) in a.origins.iter().zip(&a.tips) {
            inside.push(arrow(to.at(*o), to.at(*t), 6.0 * unit, color, unit));
        }
    }
    out.push(Prim::Clip {
        rect: plot,
        items: inside,
    });
    out.push(Prim::Rect {
        rect: plot,
        fill: None,
        stroke: Some((theme.ink(), unit)),
        role: Role::Frame,
    });

    // Axes: ticks at a 1–2–5 step, their labels, and the axis names.
    let tick_len = base * 0.35;
    let min_gap = (approx_width("-88.8", tick_size) + base).max(5.0 * tick_size) as f64 / k;
    for (axis, lo, hi) in [(0, bbox.x_min, bbox.x_max), (1, bbox.y_min, bbox.y_max)] {
        let (step, values) = ticks(lo, hi, min_gap);
        for v in values {
            let label = tick_label(v, step);
            if axis == 0 {
                let [x, _] = to.at([v, bbox.y_min]);
                out.push(line(
                    [x, plot.bottom()],
                    [x, plot.bottom() + tick_len],
                    theme.ink(),
                    unit,
                ));
                out.push(text(
                    x,
                    plot.bottom() + tick_len + tick_size * 1.05,
                    label,
                    tick_size,
                    theme.text(),
                    Anchor::Middle,
                ));
            } else {
                let [_, y] = to.at([bbox.x_min, v]);
                out.push(line([plot.x - tick_len, y], [plot.x, y], theme.ink(), unit));
                out.push(text(
                    plot.x - tick_len - base * 0.25,
                    y + tick_size * 0.35,
                    label,
                    tick_size,
                    theme.text(),
                    Anchor::End,
                ));
            }
        }
    }
    out.push(text(
        plot.x + plot.w * 0.5,
        plot.bottom() + tick_len + tick_size * 1.1 + base * 1.3,
        "x₁".into(),
        base,
        theme.text(),
        Anchor::Middle,
    ));
    out.push(Prim::Text {
        pos: [
            plot.x - tick_len - approx_width("-88.8", tick_size) - base * 0.6,
            plot.y + plot.h * 0.5,
        ],
        text: "x₂".into(),
        size: base,
        color: theme.text(),
        anchor: Anchor::Middle,
        vertical: true,
    });

    // Colour bar: the map from the bottom (low) to the top (high), with the values at its ends and middle.
    let bar = Rect::new(plot.right() + pad, plot.y, bar_w, plot.h);
    let n = 256u32;
    let mut rgba = Vec::with_capacity(n as usize * 4);
    for i in (0..n).rev() {
        rgba.extend_from_slice(&cm.eval((f64::from(i) + 0.5) / f64::from(n)).0);
    }
    out.push(Prim::Image {
        rect: bar,
        raster: Raster {
            width: 1,
            height: n,
            rgba,
        },
        smooth: true,
        label: "colour bar".into(),
    });
    out.push(Prim::Rect {
        rect: bar,
        fill: None,
        stroke: Some((theme.ink(), unit)),
        role: Role::Colorbar,
    });
    let (lo, hi) = value_range;
    for (t, v) in [(0.0f32, lo), (0.5, 0.5 * (lo + hi)), (1.0, hi)] {
        let y = bar.bottom() - t * bar.h;
        out.push(line(
            [bar.right(), y],
            [bar.right() + tick_len * 0.6, y],
            theme.ink(),
            unit,
        ));
        out.push(text(
            bar.right() + tick_len * 0.6 + base * 0.2,
            y + tick_size * 0.35,
            if v == 0.0 {
                "0".into()
            } else {
                format!("{v:.1e}")
            },
            tick_size,
            theme.text(),
            Anchor::Start,
        ));
    }
    out.push(text(
        bar.x,
        bar.y - base * 0.45,
        bar_title,
        tick_size,
        theme.text(),
        Anchor::Start,
    ));
    Ok(out)
}

fn text(x: f32, y: f32, text: String, size: f32, color: Rgba, anchor: Anchor) -> Prim {
    Prim::Text {
        pos: [x, y],
        text,
        size,
        color,
        anchor,
        vertical: false,
    }
}

fn line(a: [f32; 2], b: [f32; 2], color: Rgba, width: f32) -> Prim {
    Prim::Polyline {
        points: vec![a, b],
        color,
        width,
        role: Role::Tick,
    }
}

/// The points drawn: all of them, or an evenly strided subset of at most [`MAX_DRAWN_POINTS`].
fn strided(points: &[Vec2]) -> impl Iterator<Item = &Vec2> {
    let stride = points.len().div_ceil(MAX_DRAWN_POINTS).max(1);
    points.iter().step_by(stride)
}

/// Tick values at a 1–2–5 step of at least `min_step` within [lo, hi], and the step.
pub fn ticks(lo: f64, hi: f64, min_step: f64) -> (f64, Vec<f64>) {
    if !(min_step.is_finite() && min_step > 0.0 && lo.is_finite() && hi.is_finite() && hi > lo) {
        return (1.0, Vec::new());
    }
    let magnitude = 10f64.powf(min_step.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= min_step)
        .unwrap_or(10.0 * magnitude);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (step, (first..=last).map(|i| i as f64 * step).collect())
}

/// A tick's label with as many decimals as its step needs (and no "-0").
pub fn tick_label(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    let v = if v.abs() < step * 1e-6 { 0.0 } else { v };
    format!("{v:.decimals$}")
}

/// The target's heatmap (its density on the grid, or a histogram density of its points) as a raster whose
/// top row is the top of the box, its value range (0 to the maximum, linear scale) and the bar's title.
fn heatmap(
    target: &Target,
    bbox: &BBox,
    cm: Colormap,
) -> Result<(Raster, (f64, f64), String), String> {
    let n = HEATMAP_RESOLUTION;
    let grid = Grid::new(*bbox, n, n).map_err(|e| e.to_string())?;
    let (log_density, title): (Vec<f64>, &str) = match (target.density(), target.points()) {
        (Some(density), _) => (grid.eval(|x| density.log_density(x)), "p(x)"),
        (None, Some(points)) => {
            let mut counts = vec![0u32; grid.len()];
            for p in points {
                if !bbox.contains(*p) {
                    continue;
                }
                let i = (((p[0] - bbox.x_min) / grid.dx()) as usize).min(grid.nx - 1);
                let j = (((p[1] - bbox.y_min) / grid.dy()) as usize).min(grid.ny - 1);
                counts[j * grid.nx + i] += 1;
            }
            let norm = (points.len().max(1) as f64 * grid.cell_area()).ln();
            (
                counts.iter().map(|&c| (f64::from(c)).ln() - norm).collect(),
                "p(x), histogram",
            )
        }
        (None, None) => return Err("the target has neither a density nor points".into()),
    };
    let max_log = log_density
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    let mut rgba = Vec::with_capacity(n * n * 4);
    for row in (0..grid.ny).rev() {
        for col in 0..grid.nx {
            let lp = log_density[row * grid.nx + col];
            let t = if lp.is_finite() && max_log.is_finite() {
                (lp - max_log).exp()
            } else {
                0.0
            };
            rgba.extend_from_slice(&cm.eval(t).0);
        }
    }
    let range = if max_log.is_finite() {
        (0.0, max_log.exp())
    } else {
        (0.0, 0.0)
    };
    Ok((
        Raster {
            width: grid.nx as u32,
            height: grid.ny as u32,
            rgba,
        },
        range,
        title.into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_a_round_step_inside_the_range() {
        let (step, v) = ticks(-4.0, 4.0, 1.5);
        assert_eq!(step, 2.0);
        assert_eq!(v, vec![-4.0, -2.0, 0.0, 2.0, 4.0]);
        let (step, v) = ticks(-0.33, 0.33, 0.12);
        assert_eq!(step, 0.2);
        assert_eq!(v.len(), 3);
        assert_eq!(tick_label(-0.0000001, 0.2), "0.0");
        assert_eq!(tick_label(-2.0, 2.0), "-2");
        assert!(ticks(1.0, 0.0, 1.0).1.is_empty());
        assert!(ticks(0.0, 1.0, f64::NAN).1.is_empty());
    }

    #[test]
    fn numbers_read_short() {
        assert_eq!(short_number(0.702_913), "0.7029");
        assert_eq!(short_number(12.5), "12.50");
        assert_eq!(short_number(1.5e-6), "1.500e-6");
        assert_eq!(short_number(0.0), "0");
    }
}
