//! The egui user interface: reads the core's state, draws it, sends commands. Work per frame is bounded:
//! density grids are recomputed only when the target changes.

pub mod heatmap;

use egui_plot::{Plot, PlotImage, PlotPoint};

use crate::core::grid::{BBox, Grid};
use crate::core::target::{GrayImage, Target, TargetSpec, presets};
use heatmap::{ColorScale, DensityImage, density_image};

/// Resolution of the heatmap grid (cells per side).
pub const HEATMAP_RESOLUTION: usize = 256;

/// The target the app opens on: a three-component Gaussian mixture.
pub const DEFAULT_TARGET: &str = "gaussian_mixture";

/// The grayscale image the `image` target reads (bundled so the web build has it too).
const BUNDLED_IMAGE_PNG: &[u8] = include_bytes!("../../assets/images/target_density.png");

/// Decodes the bundled PNG into the core's grayscale image (luminance, 0 = no mass).
pub fn bundled_gray_image() -> Result<GrayImage, String> {
    let img = image::load_from_memory_with_format(BUNDLED_IMAGE_PNG, image::ImageFormat::Png)
        .map_err(|e| format!("bundled target image: {e}"))?
        .to_luma32f();
    Ok(GrayImage {
        width: img.width() as usize,
        height: img.height() as usize,
        pixels: img.into_raw(),
    })
}

/// A target drawn on screen: the built target, its heatmap texture and the box the texture covers.
struct ShownTarget {
    name: String,
    target: Target,
    bbox: BBox,
    texture: egui::TextureHandle,
    value_range: (f64, f64),
}

/// The divlab app.
pub struct DivlabApp {
    presets: Vec<(String, TargetSpec)>,
    selected: usize,
    shown: Option<ShownTarget>,
    scale: ColorScale,
    /// A message for the user when something could not be shown (the previous picture stays).
    error: Option<String>,
    renderer: String,
    heatmap_rect: Option<egui::Rect>,
    reported_drawn: bool,
}

impl DivlabApp {
    pub fn new(cc: &eframe::CreationContext<'_>) -> Self {
        let renderer = renderer_description(cc);
        #[cfg(target_arch = "wasm32")]
        crate::web::set_body_data("divlab-renderer", &renderer);
        let presets: Vec<(String, TargetSpec)> = presets()
            .into_iter()
            .map(|(name, spec)| (name.to_owned(), spec))
            .collect();
        let selected = presets
            .iter()
            .position(|(name, _)| name == DEFAULT_TARGET)
            .unwrap_or(0);
        let mut app = Self {
            presets,
            selected,
            shown: None,
            scale: ColorScale::Linear,
            error: None,
            renderer,
            heatmap_rect: None,
            reported_drawn: false,
        };
        app.show_target(&cc.egui_ctx, selected);
        app
    }

    /// Where the heatmap was drawn in the last frame, in points (for tests and screenshots).
    pub fn heatmap_screen_rect(&self) -> Option<egui::Rect> {
        self.heatmap_rect
    }

    /// Builds target `index` and its heatmap; on failure keeps the current picture and says why.
    fn show_target(&mut self, ctx: &egui::Context, index: usize) {
        let Some((name, spec)) = self.presets.get(index) else {
            return;
        };
        match build_target(spec).and_then(|target| {
            let bbox = target.bbox();
            let image = target_image(&target, &bbox, self.scale)?;
            Ok((target, bbox, image))
        }) {
            Ok((target, bbox, image)) => {
                let texture =
                    ctx.load_texture("target-density", image.image, egui::TextureOptions::LINEAR);
                self.shown = Some(ShownTarget {
                    name: name.clone(),
                    target,
                    bbox,
                    texture,
                    value_range: image.value_range,
                });
                self.selected = index;
                self.error = None;
            }
            Err(err) => self.error = Some(format!("Could not show {name}: {err}")),
        }
    }

    fn targets_ui(&mut self, ui: &mut egui::Ui) {
        ui.heading("Targets");
        ui.label("The distribution p to fit. Pick one to see its density.");
        ui.add_space(4.0);
        let mut clicked = None;
        egui::ScrollArea::vertical()
            .max_height(ui.available_height() - 140.0)
            .show(ui, |ui| {
                for (i, (name, _)) in self.presets.iter().enumerate() {
                    if ui
                        .selectable_label(i == self.selected, pretty_name(name))
                        .clicked()
                    {
                        clicked = Some(i);
                    }
                }
            });
        if let Some(i) = clicked {
            self.show_target(ui.ctx(), i);
        }
        ui.separator();
        ui.horizontal(|ui| {
            ui.label("Colour scale:");
            let before = self.scale;
            ui.selectable_value(&mut self.scale, ColorScale::Linear, "linear");
            ui.selectable_value(&mut self.scale, ColorScale::Log, "log");
            if self.scale != before {
                self.show_target(ui.ctx(), self.selected);
            }
        });
        if let Some(err) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, err);
        }
    }

    fn status_ui(&self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.label(format!("renderer: {}", self.renderer));
            ui.separator();
            ui.label("compute: CPU core");
            if let Some(shown) = &self.shown {
                ui.separator();
                let (lo, hi) = shown.value_range;
                ui.label(format!(
                    "{}: colour from p = {lo:.3e} to {hi:.3e} ({})",
                    pretty_name(&shown.name),
                    match self.scale {
                        ColorScale::Linear => "linear",
                        ColorScale::Log => "log, 4 decades",
                    }
                ));
            }
        });
    }

    fn plot_ui(&mut self, ui: &mut egui::Ui) {
        let Some(shown) = &self.shown else {
            ui.centered_and_justified(|ui| ui.label("No target to show."));
            return;
        };
        let b = shown.bbox;
        let texture_id = shown.texture.id();
        let target = &shown.target;
        let value_range = shown.value_range;
        let scale = self.scale;
        egui::Panel::right("colorbar")
            .resizable(false)
            .exact_size(70.0)
            .frame(egui::Frame::NONE)
            .show(ui, |ui| colorbar_ui(ui, value_range, scale));
        let response = Plot::new("density_plot")
            .data_aspect(1.0)
            .show_grid(false)
            .x_axis_label("x₁")
            .y_axis_label("x₂")
            .include_x(b.x_min)
            .include_x(b.x_max)
            .include_y(b.y_min)
            .include_y(b.y_max)
            .show(ui, |plot_ui| {
                plot_ui.image(PlotImage::new(
                    "p (target density)",
                    texture_id,
                    PlotPoint::new(0.5 * (b.x_min + b.x_max), 0.5 * (b.y_min + b.y_max)),
                    egui::vec2(b.width() as f32, b.height() as f32),
                ));
                plot_ui.pointer_coordinate()
            });
        // Where the texture sits on screen: the box's corners mapped through the plot transform.
        let t = response.transform;
        let a = t.position_from_point(&PlotPoint::new(b.x_min, b.y_max));
        let c = t.position_from_point(&PlotPoint::new(b.x_max, b.y_min));
        self.heatmap_rect = Some(egui::Rect::from_two_pos(a, c).intersect(response.response.rect));
        if let Some(p) = response.inner
            && let Some(density) = target.density()
        {
            let lp = density.log_density([p.x, p.y]);
            response.response.on_hover_text(format!(
                "x = ({:.3}, {:.3})\np(x) = {:.4e}",
                p.x,
                p.y,
                lp.exp()
            ));
        }
    }
}

impl eframe::App for DivlabApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::Panel::top("top_bar").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.heading("divlab");
                ui.label("— Divergence Lab: 2D distributions, fitted live");
            });
        });
        egui::Panel::bottom("status_bar").show(ui, |ui| self.status_ui(ui));
        egui::Panel::left("targets_panel")
            .default_size(260.0)
            .show(ui, |ui| self.targets_ui(ui));
        egui::CentralPanel::default().show(ui, |ui| self.plot_ui(ui));
        if !self.reported_drawn && self.heatmap_rect.is_some() {
            self.reported_drawn = true;
            #[cfg(target_arch = "wasm32")]
            crate::web::set_body_data("divlab-heatmap", "drawn");
        }
    }
}

/// A vertical viridis bar with the density values at its ends (and middle).
fn colorbar_ui(ui: &mut egui::Ui, (lo, hi): (f64, f64), scale: ColorScale) {
    ui.add_space(24.0);
    ui.label(egui::RichText::new("p(x)").small());
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
        painter.rect_filled(r, 0.0, heatmap::viridis(f64::from(t0 + t1) * 0.5));
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

/// Builds a target from its spec, giving the image target the bundled image.
pub fn build_target(spec: &TargetSpec) -> Result<Target, String> {
    let image = match spec {
        TargetSpec::Image { .. } => Some(bundled_gray_image()?),
        _ => None,
    };
    Target::build(spec, image.as_ref()).map_err(|e| e.to_string())
}

/// The heatmap of a target: its density on a grid over `bbox`, or a histogram of its points for sample targets.
fn target_image(target: &Target, bbox: &BBox, scale: ColorScale) -> Result<DensityImage, String> {
    let grid =
        Grid::new(*bbox, HEATMAP_RESOLUTION, HEATMAP_RESOLUTION).map_err(|e| e.to_string())?;
    let log_density = match target.density() {
        Some(density) => grid.eval(|x| density.log_density(x)),
        None => {
            let mut rng = crate::core::rng::seeded(0);
            let points = target.sample(20_000, &mut rng);
            histogram(&grid, &points)
                .iter()
                .map(|&c| (c as f64).ln())
                .collect()
        }
    };
    Ok(density_image(&log_density, grid.nx, grid.ny, scale))
}

/// Counts of points per grid cell (row-major, row 0 at the bottom); points outside the box are dropped.
fn histogram(grid: &Grid, points: &[crate::core::math::Vec2]) -> Vec<u32> {
    let mut counts = vec![0u32; grid.nx * grid.ny];
    let b = grid.bbox;
    for p in points {
        let fx = (p[0] - b.x_min) / b.width() * grid.nx as f64;
        let fy = (p[1] - b.y_min) / b.height() * grid.ny as f64;
        if fx >= 0.0 && fy >= 0.0 && fx < grid.nx as f64 && fy < grid.ny as f64 {
            counts[fy as usize * grid.nx + fx as usize] += 1;
        }
    }
    counts
}

/// "two_moons" → "Two moons".
pub fn pretty_name(name: &str) -> String {
    let mut s = name.replace('_', " ");
    if let Some(first) = s.get(0..1) {
        let upper = first.to_uppercase();
        s.replace_range(0..1, &upper);
    }
    s
}

fn renderer_description(cc: &eframe::CreationContext<'_>) -> String {
    match &cc.wgpu_render_state {
        Some(rs) => {
            let info = rs.adapter.get_info();
            let backend = match info.backend {
                eframe::wgpu::Backend::BrowserWebGpu => "WebGPU".to_owned(),
                eframe::wgpu::Backend::Gl => "WebGL2/GL".to_owned(),
                other => format!("{other:?}"),
            };
            if info.name.is_empty() {
                backend
            } else {
                format!("{backend} ({})", info.name)
            }
        }
        None => "no wgpu renderer".to_owned(),
    }
}
