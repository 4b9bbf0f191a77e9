//! The central view: the target's heatmap with the model drawn over it (particles, or the mixture's
//! 1σ/2σ ellipses), a colour bar, and the objective's history.

use egui_plot::{Line, Plot, PlotImage, PlotPoint, PlotPoints, Points};

use super::TargetPicture;
use super::heatmap::{ColorScale, Colormap};
use super::target_edit::{self, PointerInput};
use crate::core::math::Vec2;
use crate::core::mixture::Mixture;
use crate::core::sim::ModelView;
use crate::run::Run;

/// At most this many particles are drawn (a fixed, evenly strided subset beyond it).
pub const MAX_DRAWN_POINTS: usize = 20_000;

/// What the scene shows this frame.
#[derive(Clone, Copy)]
pub struct SceneView<'a> {
    /// Which panel (widget ids are salted with it, so panels cannot collide).
    pub panel: usize,
    pub picture: Option<&'a TargetPicture>,
    /// q's density texture, drawn instead of p's when present.
    pub model_texture: Option<egui::TextureId>,
    /// The run whose model is drawn (its particles come from whichever backend took the last step).
    pub run: Option<&'a Run>,
    pub scale: ColorScale,
    /// The heatmap's colormap (the model's and the points' colours are picked to stand out on it).
    pub colormap: Colormap,
    pub show_target_points: bool,
    pub history: &'a [[f64; 2]],
    pub objective_name: &'a str,
    /// Set while the target is being edited: dragging edits instead of panning.
    pub edit: Option<EditView<'a>>,
    /// Fit the view to the target again (this frame only: editing has just ended).
    pub refit: bool,
    /// The panel's overlays (lines and arrows over the scene).
    pub overlay: Option<&'a super::overlays::Drawing>,
}

/// What the scene needs to draw the target's handles.
#[derive(Clone, Copy)]
pub struct EditView<'a> {
    /// The mixture whose handles are drawn (none for a sample target: it is painted on).
    pub mixture: Option<&'a crate::core::target::GaussianMixtureSpec>,
    /// Keep the view where it is (the target's box changes under the handles).
    pub hold_view: bool,
}

/// What the scene reports back.
#[derive(Default)]
pub struct SceneOutput {
    /// Where the heatmap landed on screen (clipped to the plot).
    pub heatmap: Option<egui::Rect>,
    /// Where the target's whole box is on screen (unclipped: maps data to screen coordinates).
    pub bbox_on_screen: Option<egui::Rect>,
    /// The pointer over the scene, in data coordinates (for the target editor).
    pub pointer: PointerInput,
}

const HANDLE_COLOR: egui::Color32 = egui::Color32::WHITE;

/// Draws the scene; returns where the heatmap landed and what the pointer did.
pub fn scene_ui(ui: &mut egui::Ui, view: &SceneView<'_>) -> SceneOutput {
    let SceneView {
        panel,
        picture,
        model_texture,
        run,
        scale,
        colormap,
        show_target_points,
        history,
        objective_name,
        edit,
        refit,
        overlay,
    } = *view;
    let model_color = colormap.model_color();
    let Some(picture) = picture else {
        ui.centered_and_justified(|ui| ui.label("No target to show."));
        return SceneOutput::default();
    };
    egui::Panel::right(("colorbar", panel))
        .resizable(false)
        .exact_size(70.0)
        .frame(egui::Frame::NONE)
        .show(ui, |ui| match model_texture {
            Some(_) => colorbar_ui(ui, "q(x) / max q", (0.0, 1.0), scale, colormap),
            None => colorbar_ui(ui, "p(x)", picture.value_range, scale, colormap),
        });

    let b = picture.bbox;
    let texture_id = model_texture.unwrap_or_else(|| picture.texture.id());
    let image_name = if model_texture.is_some() {
        "q (model density)"
    } else {
        "p (target density)"
    };
    let history_height = (ui.available_height() * 0.22).clamp(90.0, 170.0);
    let response = Plot::new(("scene_plot", panel))
        .height(ui.available_height() - history_height)
        .data_aspect(1.0)
        .show_grid(false)
        .x_grid_spacer(labelled_marks)
        .y_grid_spacer(labelled_marks)
        // egui_plot's own labels round a step of 0.5 to no decimals ("0" at 0.5): as many as the step needs.
        .x_axis_formatter(|mark, _| crate::render::scene::tick_label(mark.value, mark.step_size))
        .y_axis_formatter(|mark, _| crate::render::scene::tick_label(mark.value, mark.step_size))
        .show_grid(false)
        .x_axis_label("x₁")
        .y_axis_label("x₂")
        .include_x(b.x_min)
        .include_x(b.x_max)
        .include_y(b.y_min)
        .include_y(b.y_max)
        .allow_drag(edit.is_none())
        .allow_double_click_reset(edit.is_none())
        .show(ui, |plot_ui| {
            if edit.is_some_and(|e| e.hold_view) {
                plot_ui.set_auto_bounds(false);
            } else if refit {
                // Editing just ended: fit the (edited) target again.
                plot_ui.set_auto_bounds(true);
            }
            plot_ui.image(PlotImage::new(
                image_name,
                texture_id,
                PlotPoint::new(0.5 * (b.x_min + b.x_max), 0.5 * (b.y_min + b.y_max)),
                egui::vec2(b.width() as f32, b.height() as f32),
            ));
            if let Some(run) = run {
                if show_target_points && !run.target_points().is_empty() {
                    plot_ui.points(
                        Points::new("target samples", strided(run.target_points()))
                            .radius(1.2)
                            .color(colormap.target_point_color()),
                    );
                }
                match run.model() {
                    ModelView::Particles(particles) => {
                        let radius = if particles.len() > 2000 { 1.2 } else { 2.2 };
                        plot_ui.points(
                            Points::new("particles (model)", strided(particles))
                                .radius(radius)
                                .color(model_color),
                        );
                    }
                    ModelView::Mixture(q) => {
                        for line in mixture_lines(q, model_color) {
                            plot_ui.line(line);
                        }
                    }
                }
            }
            if let Some(d) = overlay {
                for l in &d.lines {
                    plot_ui.line(
                        Line::new(l.name.clone(), l.points.clone())
                            .color(super::overlays::tint_color(l.tint, model_color))
                            .width(l.width),
                    );
                }
                for a in &d.arrows {
                    plot_ui.arrows(
                        egui_plot::Arrows::new(a.name.clone(), a.origins.clone(), a.tips.clone())
                            .color(super::overlays::tint_color(a.tint, model_color))
                            .tip_length(6.0),
                    );
                }
            }
            if let Some(m) = edit.and_then(|e| e.mixture) {
                draw_handles(plot_ui, m);
            }
            let pointer = edit.map(|_| pointer_input(plot_ui)).unwrap_or_default();
            (plot_ui.pointer_coordinate(), pointer)
        });
    history_ui(ui, panel, history, objective_name, model_color);
    let t = response.transform;
    let a = t.position_from_point(&PlotPoint::new(b.x_min, b.y_max));
    let c = t.position_from_point(&PlotPoint::new(b.x_max, b.y_min));
    let (hovered, pointer) = response.inner;
    if let (Some(p), Some(run), None) = (hovered, run, edit) {
        let x = [p.x, p.y];
        let mut text = format!("x = ({:.3}, {:.3})", p.x, p.y);
        if let Some(d) = run.target().density() {
            text += &format!("\np(x) = {:.4e}", d.log_density(x).exp());
        }
        if let ModelView::Mixture(q) = run.model() {
            text += &format!("\nq(x) = {:.4e}", q.log_density(x).exp());
        }
        response.response.clone().on_hover_text(text);
    }
    SceneOutput {
        heatmap: Some(egui::Rect::from_two_pos(a, c).intersect(response.response.rect)),
        bbox_on_screen: Some(egui::Rect::from_two_pos(a, c)),
        pointer,
    }
}

/// The pointer over the plot this frame, in data coordinates.
fn pointer_input(plot_ui: &egui_plot::PlotUi<'_>) -> PointerInput {
    let r = plot_ui.response();
    let t = plot_ui.transform();
    let at = |pos: Option<egui::Pos2>| {
        pos.map(|p| {
            let v = t.value_from_position(p);
            [v.x, v.y]
        })
    };
    let pos = r.interact_pointer_pos();
    // A drag starts where the button went down, not where the pointer is when egui calls it a drag.
    let origin = r.ctx.input(|i| i.pointer.press_origin());
    PointerInput {
        drag_started: if r.drag_started() {
            at(origin.or(pos))
        } else {
            None
        },
        dragging: if r.dragged() { at(pos) } else { None },
        drag_stopped: r.drag_stopped(),
        clicked: if r.clicked() { at(pos) } else { None },
        secondary_clicked: if r.secondary_clicked() { at(pos) } else { None },
        units_per_point: t.dvalue_dpos()[0].abs(),
    }
}

/// The target's components as 2σ ellipses with a handle at each centre and on each axis.
fn draw_handles(plot_ui: &mut egui_plot::PlotUi<'_>, m: &crate::core::target::GaussianMixtureSpec) {
    for (mean, cov) in m.means.iter().zip(&m.covariances) {
        let (s, u) = target_edit::axes(cov);
        let v = [-u[1], u[0]];
        let r = target_edit::AXIS_HANDLE_SIGMAS;
        let pts: Vec<[f64; 2]> = (0..=64)
            .map(|i| {
                let t = i as f64 / 64.0 * std::f64::consts::TAU;
                let (c, sn) = (r * s[0] * t.cos(), r * s[1] * t.sin());
                [
                    mean[0] + c * u[0] + sn * v[0],
                    mean[1] + c * u[1] + sn * v[1],
                ]
            })
            .collect();
        plot_ui.line(
            Line::new("target: 2σ (drag the handles)", pts)
                .color(HANDLE_COLOR.gamma_multiply(0.7))
                .width(1.0),
        );
    }
    let (centres, axes): (Vec<_>, Vec<_>) = target_edit::handles(m)
        .into_iter()
        .partition(|(h, _)| matches!(h, target_edit::Handle::Centre(_)));
    let to_points = |v: Vec<(target_edit::Handle, Vec2)>| -> Vec<[f64; 2]> {
        v.into_iter().map(|(_, p)| [p[0], p[1]]).collect()
    };
    // White on a black rim: visible on every colormap, dark or light.
    for (name, handles, shape, radius) in [
        (
            "target: component centres",
            centres,
            egui_plot::MarkerShape::Circle,
            5.0,
        ),
        (
            "target: covariance handles",
            axes,
            egui_plot::MarkerShape::Square,
            3.5,
        ),
    ] {
        let points = to_points(handles);
        plot_ui.points(
            Points::new(name, points.clone())
                .radius(radius + 1.5)
                .shape(shape)
                .color(egui::Color32::BLACK),
        );
        plot_ui.points(
            Points::new(name, points)
                .radius(radius)
                .shape(shape)
                .color(HANDLE_COLOR),
        );
    }
}

/// Tick marks at a 1–2–5 step wide enough for the axis labels (≥ 65 points apart) at any window size.
fn labelled_marks(input: egui_plot::GridInput) -> Vec<egui_plot::GridMark> {
    // egui_plot's base step is the data distance of its minimum grid spacing (8 points).
    let min_step = input.base_step_size * 65.0 / 8.0;
    if !(min_step.is_finite() && min_step > 0.0) {
        return Vec::new();
    }
    let magnitude = 10f64.powf(min_step.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= min_step)
        .unwrap_or(10.0 * magnitude);
    let (lo, hi) = input.bounds;
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last)
        .map(|i| egui_plot::GridMark {
            value: i as f64 * step,
            step_size: step,
        })
        .collect()
}

/// The points to draw: all of them, or an evenly strided subset of [`MAX_DRAWN_POINTS`].
fn strided(points: &[Vec2]) -> PlotPoints<'static> {
    let stride = points.len().div_ceil(MAX_DRAWN_POINTS).max(1);
    points
        .iter()
        .step_by(stride)
        .map(|p| [p[0], p[1]])
        .collect::<Vec<_>>()
        .into()
}

/// 1σ and 2σ ellipses of every component, thicker for heavier components.
fn mixture_lines(q: &Mixture, color: egui::Color32) -> Vec<Line<'static>> {
    let weights = q.weights();
    let means = q.means();
    let chols = q.cholesky_factors();
    let mut lines = Vec::new();
    for k in 0..q.n_components() {
        let [l11, l21, l22] = chols[k];
        let m = means[k];
        for (radius, name) in [(1.0, "q: 1σ"), (2.0, "q: 2σ")] {
            let pts: Vec<[f64; 2]> = (0..=96)
                .map(|i| {
                    let t = i as f64 / 96.0 * std::f64::consts::TAU;
                    let (c, s) = (radius * t.cos(), radius * t.sin());
                    [m[0] + l11 * c, m[1] + l21 * c + l22 * s]
                })
                .collect();
            let width = 1.0 + 3.0 * weights[k] as f32;
            let color = if radius == 1.0 {
                color
            } else {
                color.gamma_multiply(0.6)
            };
            lines.push(Line::new(name, pts).width(width).color(color));
        }
    }
    lines
}

/// The objective per step; on a log₁₀ axis when every value is positive (divergences fall over decades).
fn history_ui(
    ui: &mut egui::Ui,
    panel: usize,
    history: &[[f64; 2]],
    objective_name: &str,
    color: egui::Color32,
) {
    let log = !history.is_empty() && history.iter().all(|[_, v]| *v > 0.0);
    let title = if objective_name.is_empty() {
        "objective (press Run or Step)".to_owned()
    } else if log {
        format!("log₁₀ {objective_name} per step")
    } else {
        format!("{objective_name} per step")
    };
    let points: Vec<[f64; 2]> = if log {
        history.iter().map(|[s, v]| [*s, v.log10()]).collect()
    } else {
        history.to_vec()
    };
    ui.label(egui::RichText::new(title).small());
    Plot::new(("objective_plot", panel))
        .x_axis_label("step")
        .allow_scroll(false)
        .show(ui, |plot_ui| {
            if !points.is_empty() {
                plot_ui.line(Line::new(objective_name.to_owned(), points).color(color));
            }
        });
}

/// A vertical bar of the colormap with the density values at its ends and middle.
fn colorbar_ui(
    ui: &mut egui::Ui,
    title: &str,
    (lo, hi): (f64, f64),
    scale: ColorScale,
    colormap: Colormap,
) {
    ui.add_space(24.0);
    ui.label(egui::RichText::new(title).small());
    let height = (ui.available_height() - 60.0).max(60.0);
    let (rect, _) = ui.allocate_exact_size(egui::vec2(18.0, height), egui::Sense::hover());
    let painter = ui.painter();
    let steps = 64;
    for i in 0..steps {
        let t0 = i as f32 / steps as f32;
        let t1 = (i + 1) as f32 / steps as f32;
        let r = egui::Rect::from_min_max(
            egui::pos2(rect.min.x, rect.max.y - t1 * rect.height()),
            egui::pos2(rect.max.x, rect.max.y - t0 * rect.height() + 0.5),
        );
        painter.rect_filled(r, 0.0, colormap.eval(f64::from(t0 + t1) * 0.5));
    }
    let mid = match scale {
        ColorScale::Linear => 0.5 * (lo + hi),
        ColorScale::Log => (lo * hi).sqrt(),
    };
    let font = egui::FontId::proportional(10.0);
    let color = ui.visuals().text_color();
    for (t, v) in [(0.0, lo), (0.5, mid), (1.0, hi)] {
        painter.text(
            egui::pos2(rect.max.x + 3.0, rect.max.y - t * rect.height()),
            egui::Align2::LEFT_CENTER,
            format!("{v:.1e}"),
            font.clone(),
            color,
        );
    }
}
