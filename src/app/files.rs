//! Files in and out: the side panel's File section, files dropped onto the window or opened, and the
//! exports.
//!
//! - A `.ron`/`.json` scenario (saved, opened or dropped) goes into the panel that Parameters edits; its
//!   target and seed go into every panel too, since the panels always share them (each other panel keeps
//!   its method). Every panel restarts from step 0.
//! - A `.csv` of x,y points becomes the samples target of every panel, as the target picker would; the
//!   fits go on toward it.
//! - A `.png` becomes an image target (see `DivlabApp::take_image_bytes`).
//! - A file that is refused (the scenario validator's line and field, the CSV's line) changes nothing.
//! - Exports: the edited panel's scenario (RON or JSON), every panel's history (CSV or JSON: every value
//!   each step recorded, [`crate::run::history::History`]), the canvas as a PNG at the screen's resolution
//!   (eframe's screenshot, cropped to the panels) or at 2× and 4× (redrawn offscreen: [`super::hires`]).
//!
//! Where files go and come from is the host's ([`super::host::save_file`], [`super::host::open_file`]): a
//! download and a file picker in the browser, the desktop's dialogs natively (or a folder, `DIVLAB_SAVE_DIR`).

use std::sync::Arc;

use crate::core::scenario::Scenario;
use crate::core::target::{SamplesSpec, TargetSpec};
use crate::run::history::History;
use crate::run::load::{self, Resolver};

use super::{DivlabApp, displayable, hires, host, panel};

/// What the File section and the drops open, by extension (without dots).
pub(crate) const OPENABLE: &[&str] = &["ron", "json", "csv", "png"];

/// What a file is, from its name (and, for an unknown extension, a PNG's signature).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Scenario,
    Points,
    Image,
    Other,
}

pub(crate) fn kind_of(name: &str, bytes: &[u8]) -> Kind {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "ron" | "json" => Kind::Scenario,
        "csv" | "tsv" if !bytes.starts_with(PNG_SIGNATURE) => Kind::Points,
        "png" => Kind::Image,
        _ if bytes.starts_with(PNG_SIGNATURE) => Kind::Image,
        _ => Kind::Other,
    }
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A scenario from a file's bytes, through the one loader (so a refusal names the line and the field).
pub(crate) fn read_scenario(
    name: &str,
    bytes: &[u8],
    inputs: &dyn Resolver,
) -> Result<Scenario, String> {
    let text = Scenario::text_of(bytes).map_err(|e| format!("{name}: {e}"))?;
    load::from_text(text, name, inputs)
        .map(|l| l.scenario)
        .map_err(|e| e.to_string())
}

/// A samples target from a CSV of points (the loader's reader: the error names the line).
pub(crate) fn read_points(name: &str, bytes: &[u8]) -> Result<TargetSpec, String> {
    let points = load::read_points_csv(bytes).map_err(|e| format!("{name}: {e}"))?;
    let spec = TargetSpec::Samples(SamplesSpec {
        points,
        source: Some(name.to_owned()),
    });
    spec.validate().map_err(|e| format!("{name}: {e}"))?;
    Ok(spec)
}

/// A file name from a scenario's name: lower case, runs of anything but letters and digits as one `_`.
pub(crate) fn file_name(base: &str, suffix: &str, ext: &str) -> String {
    let mut stem = String::new();
    for c in base.chars() {
        if c.is_ascii_alphanumeric() {
            stem.push(c.to_ascii_lowercase());
        } else if !stem.is_empty() && !stem.ends_with('_') {
            stem.push('_');
        }
    }
    let stem = stem.trim_end_matches('_');
    let stem = if stem.is_empty() { "divlab" } else { stem };
    format!("{stem}{suffix}.{ext}")
}

/// Every panel's history as one CSV: a header, then a row per step per panel.
pub(crate) fn history_csv(panels: &[(char, &History)]) -> String {
    let mut out = String::from(History::CSV_HEADER);
    out.push('\n');
    for (letter, history) in panels {
        out.push_str(&history.to_csv(&letter.to_string()));
    }
    out
}

/// Every panel's history as one JSON document: `{"panels": [...]}`, one [`History::to_json`] per panel.
pub(crate) fn history_json(panels: &[(char, &History, &str)]) -> Result<String, String> {
    let panels: Vec<serde_json::Value> = panels
        .iter()
        .map(|(letter, h, scenario)| h.to_json(&letter.to_string(), scenario))
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({ "panels": panels }))
        .map_err(|e| e.to_string())
}

/// The part of a screenshot under `rect` (points), clamped to the image; none if nothing is left.
pub(crate) fn crop(
    shot: &egui::ColorImage,
    rect: egui::Rect,
    pixels_per_point: f32,
) -> Option<egui::ColorImage> {
    let [w, h] = shot.size;
    let px = |v: f32, max: usize| ((v * pixels_per_point).round().max(0.0) as usize).min(max);
    let (x0, x1) = (px(rect.min.x, w), px(rect.max.x, w));
    let (y0, y1) = (px(rect.min.y, h), px(rect.max.y, h));
    (x1 > x0 && y1 > y0).then(|| shot.region_by_pixels([x0, y0], [x1 - x0, y1 - y0]))
}

/// An image as PNG bytes (RGBA, 8 bits per channel).
pub(crate) fn encode_png(image: &egui::ColorImage) -> Result<Vec<u8>, String> {
    let rgba: Vec<u8> = image
        .pixels
        .iter()
        .flat_map(|c| c.to_srgba_unmultiplied())
        .collect();
    let (w, h) = (
        u32::try_from(image.size[0]).map_err(|e| e.to_string())?,
        u32::try_from(image.size[1]).map_err(|e| e.to_string())?,
    );
    let buffer = image::RgbaImage::from_raw(w, h, rgba).ok_or("the image's size is wrong")?;
    encode_rgba(&buffer)
}

fn encode_rgba(image: &image::RgbaImage) -> Result<Vec<u8>, String> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, image::ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(bytes.into_inner())
}

/// The bundled assets and the PNG dropped this session (by the asset name its target uses, `dropped:…`),
/// for scenarios that are opened or dropped.
struct AppInputs<'a> {
    dropped: Option<&'a (String, Vec<u8>)>,
}

impl Resolver for AppInputs<'_> {
    fn read(&self, name: &str) -> Result<Vec<u8>, String> {
        match self.dropped {
            Some((asset, bytes)) if asset == name => Ok(bytes.clone()),
            _ => load::BundledOnly.read(name).map_err(|e| {
                if name.starts_with("dropped:") {
                    format!("an image dropped in another session: drop that PNG again first ({e})")
                } else {
                    e
                }
            }),
        }
    }
}

/// The File section's state: what has arrived from the host, and where the canvas was.
#[derive(Debug)]
pub(crate) struct FileState {
    opened: host::Mailbox<host::DroppedContents>,
    saved: host::Mailbox<Result<String, String>>,
    shots: host::Mailbox<Arc<egui::ColorImage>>,
    /// The panels' rectangle last frame (points): what the canvas PNG shows.
    pub canvas: Option<egui::Rect>,
    /// Natively: save into this folder without a dialog (`DIVLAB_SAVE_DIR`, or tests).
    save_dir: Option<std::path::PathBuf>,
    /// What the last file action did (a path saved, a file loaded), shown under the buttons.
    status: Option<String>,
    /// The PNG dropped this session, by its asset name, for scenarios that refer to it.
    dropped_png: Option<(String, Vec<u8>)>,
    shot_pending: bool,
    /// The canvas at 2× or 4×.
    hires: hires::HiresCapture,
    /// The name and size of the last file handed to the host.
    last_export: Option<(String, usize)>,
    /// Figures and the animation being made ([`super::export`]).
    pub exports: super::export::ExportState,
}

impl FileState {
    /// `render_state`: eframe's wgpu renderer, which the 2× and 4× captures draw with.
    pub fn new(render_state: Option<eframe::egui_wgpu::RenderState>) -> Self {
        Self {
            opened: host::Mailbox::default(),
            saved: host::Mailbox::default(),
            shots: host::Mailbox::default(),
            canvas: None,
            save_dir: host::startup_param("save_dir").map(Into::into),
            status: None,
            dropped_png: None,
            shot_pending: false,
            hires: hires::HiresCapture::new(render_state),
            last_export: None,
            exports: super::export::ExportState::default(),
        }
    }
}

/// A button of the File section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    SaveRon,
    SaveJson,
    Open,
    HistoryCsv,
    HistoryJson,
    /// The canvas at 1 (eframe's screenshot), 2 or 4 × the screen's resolution.
    CanvasPng(u8),
    /// The panels drawn by the render layer, as `divlab render` draws them.
    Figure(crate::render::Format),
    Animation,
}

impl DivlabApp {
    /// Natively, saves go into `dir` without a dialog (none: the dialog). Tests use it; so does
    /// `DIVLAB_SAVE_DIR`.
    pub fn set_save_dir(&mut self, dir: Option<std::path::PathBuf>) {
        self.files.save_dir = dir;
    }

    /// What the last file action did ("Saved …", "Loaded …"), if anything.
    pub fn file_status(&self) -> Option<&str> {
        self.files.status.as_deref()
    }

    /// The name and size in bytes of the last file saved or downloaded.
    pub fn last_export(&self) -> Option<(&str, usize)> {
        self.files
            .last_export
            .as_ref()
            .map(|(n, s)| (n.as_str(), *s))
    }

    /// Once a frame: files dropped or opened, saves finished, screenshots taken.
    pub(super) fn poll_files(&mut self, ctx: &egui::Context) {
        let mut arrived: Vec<host::DroppedContents> = self.drops.take(ctx).into_iter().collect();
        arrived.extend(self.files.opened.take_all());
        for (name, bytes) in arrived {
            self.take_file(ctx, name, bytes);
        }
        for saved in self.files.saved.take_all() {
            match saved {
                Ok(status) => self.files.status = Some(status),
                Err(why) => self.message = Some(displayable(&why)),
            }
        }
        for shot in self.files.shots.take_all() {
            self.files.shot_pending = false;
            self.save_canvas(ctx, &shot);
        }
        if let Some((scale, captured)) = self.files.hires.poll(ctx) {
            match captured.and_then(|image| encode_rgba(&image)) {
                Ok(bytes) => {
                    let base = self.panels.first().map_or("divlab", |s| s.name.as_str());
                    let name = file_name(base, &format!("_canvas_{scale}x"), "png");
                    self.save(ctx, name, "image/png", bytes);
                }
                Err(why) => {
                    self.message =
                        Some(displayable(&format!("Could not export the canvas: {why}")));
                }
            }
        }
    }

    /// A file dropped or opened, by its kind (module docs). A refused file changes nothing and the message
    /// says why.
    fn take_file(&mut self, ctx: &egui::Context, name: String, bytes: Result<Vec<u8>, String>) {
        let bytes = match bytes {
            Ok(b) => b,
            Err(why) => {
                self.message = Some(displayable(&format!("Could not read {name}: {why}")));
                return;
            }
        };
        match kind_of(&name, &bytes) {
            Kind::Scenario => {
                let inputs = AppInputs {
                    dropped: self.files.dropped_png.as_ref(),
                };
                match read_scenario(&name, &bytes, &inputs) {
                    Ok(scenario) => self.load_into_edited(ctx, scenario, &name),
                    Err(why) => {
                        self.message =
                            Some(displayable(&format!("Refused, nothing changed: {why}")));
                    }
                }
            }
            Kind::Points => match read_points(&name, &bytes) {
                Ok(spec) => {
                    let count = match &spec {
                        TargetSpec::Samples(s) => s.points.len(),
                        _ => 0,
                    };
                    self.running = false;
                    self.retarget_all(ctx, &spec);
                    if self.panels.first().is_some_and(|s| s.target == spec) {
                        self.files.status = Some(format!(
                            "{name}: {count} points are the target of every panel"
                        ));
                    }
                }
                Err(why) => {
                    self.message = Some(displayable(&format!("Refused, nothing changed: {why}")));
                }
            },
            Kind::Image => {
                self.files.dropped_png = Some((format!("dropped:{name}"), bytes.clone()));
                self.take_image_bytes(name, Ok(bytes));
            }
            Kind::Other => {
                self.message = Some(displayable(&format!(
                    "{name} is not a file divlab reads: a .ron or .json scenario, a .csv of x,y points \
                     or a .png image"
                )));
            }
        }
    }

    /// `scenario` into the edited panel, its target and seed into every other panel (module docs); all
    /// restart. If a panel cannot start, everything stays as it was and the message says why.
    fn load_into_edited(&mut self, ctx: &egui::Context, scenario: Scenario, name: &str) {
        let i = self.edited_panel.min(self.panels.len().saturating_sub(1));
        let mut panels = self.panels.clone();
        for (j, p) in panels.iter_mut().enumerate() {
            if j == i {
                *p = scenario.clone();
            } else {
                p.target = scenario.target.clone();
                p.seed = scenario.seed;
            }
        }
        self.running = false;
        self.rebuild(ctx, panels.clone());
        if self.panels == panels {
            self.selected_scenario = None;
            let others = if panels.len() > 1 {
                " (its target and seed into every panel)"
            } else {
                ""
            };
            self.files.status = Some(format!(
                "Loaded {name} into panel {}{others}",
                panel::panel_letter(i)
            ));
        }
    }

    pub(super) fn save(
        &mut self,
        ctx: &egui::Context,
        name: String,
        mime: &'static str,
        bytes: Vec<u8>,
    ) {
        self.files.last_export = Some((name.clone(), bytes.len()));
        host::save_file(
            ctx,
            name,
            mime,
            bytes,
            self.files.save_dir.as_deref(),
            self.files.saved.clone(),
        );
    }

    fn act(&mut self, ctx: &egui::Context, action: Action) {
        let i = self.edited_panel.min(self.panels.len().saturating_sub(1));
        let base = self
            .panels
            .get(i)
            .map_or_else(|| "divlab".to_owned(), |s| s.name.clone());
        let exported = match action {
            Action::SaveRon | Action::SaveJson => {
                let Some(scenario) = self.panels.get(i) else {
                    return;
                };
                let (text, ext, mime) = if action == Action::SaveRon {
                    (scenario.to_ron(), "ron", "text/plain")
                } else {
                    (scenario.to_json(), "json", "application/json")
                };
                text.map(|t| (file_name(&base, "", ext), mime, t.into_bytes()))
                    .map_err(|e| e.to_string())
            }
            Action::HistoryCsv | Action::HistoryJson => {
                let letters = (0..self.lockstep.runs.len()).map(panel::panel_letter);
                if action == Action::HistoryCsv {
                    let panels: Vec<(char, &History)> = letters
                        .zip(&self.lockstep.runs)
                        .map(|(l, r)| (l, r.history()))
                        .collect();
                    Ok((
                        file_name(&base, "_history", "csv"),
                        "text/csv",
                        history_csv(&panels).into_bytes(),
                    ))
                } else {
                    let panels: Vec<(char, &History, &str)> = letters
                        .zip(&self.lockstep.runs)
                        .map(|(l, r)| (l, r.history(), r.scenario().name.as_str()))
                        .collect();
                    history_json(&panels).map(|t| {
                        (
                            file_name(&base, "_history", "json"),
                            "application/json",
                            t.into_bytes(),
                        )
                    })
                }
            }
            Action::Open => {
                host::open_file(ctx, OPENABLE, self.files.opened.clone());
                return;
            }
            Action::Figure(format) => {
                self.export_figure(ctx, format);
                return;
            }
            Action::Animation => {
                self.export_animation(ctx);
                return;
            }
            Action::CanvasPng(scale @ (2 | 4)) => {
                match self.files.canvas {
                    Some(canvas) => self.files.hires.start(ctx, canvas, f32::from(scale)),
                    None => {
                        self.message = Some("Could not export: the canvas is not on screen".into())
                    }
                }
                return;
            }
            Action::CanvasPng(_) => {
                let shots = self.files.shots.clone();
                let repaint = ctx.clone();
                self.files.shot_pending = true;
                ctx.send_viewport_cmd(egui::ViewportCommand::Screenshot(
                    egui::ScreenshotCallback::new(move |image| {
                        shots.post(image);
                        repaint.request_repaint();
                    }),
                ));
                return;
            }
        };
        match exported {
            Ok((name, mime, bytes)) => self.save(ctx, name, mime, bytes),
            Err(why) => self.message = Some(displayable(&format!("Could not export: {why}"))),
        }
    }

    /// The screenshot cropped to the panels, saved as a PNG.
    fn save_canvas(&mut self, ctx: &egui::Context, shot: &egui::ColorImage) {
        let png = self
            .files
            .canvas
            .and_then(|rect| crop(shot, rect, ctx.pixels_per_point()))
            .ok_or_else(|| "the canvas is not on screen".to_owned())
            .and_then(|image| encode_png(&image));
        match png {
            Ok(bytes) => {
                let base = self.panels.first().map_or("divlab", |s| s.name.as_str());
                let name = file_name(base, "_canvas", "png");
                self.save(ctx, name, "image/png", bytes);
            }
            Err(why) => {
                self.message = Some(displayable(&format!("Could not export the canvas: {why}")));
            }
        }
    }

    /// The File section of the side panel (collapsed at first).
    pub(super) fn file_ui(&mut self, ui: &mut egui::Ui) {
        let n = self.panels.len();
        let letter = panel::panel_letter(self.edited_panel.min(n.saturating_sub(1)));
        let mut action = None;
        ui.menu_button("File", |ui| {
                // The browser test waits for the open menu before it clicks an entry: not in the menu's
                // first (invisible) frame, which egui's hit test of the next frame does not see.
                if !ui.is_sizing_pass() {
                    self.drawn_controls.push("file-menu");
                }
                ui.label(if n > 1 {
                    format!("Scenario of panel {letter} (the panel Parameters edits)")
                } else {
                    "Scenario".to_owned()
                });
                ui.horizontal_wrapped(|ui| {
                    if ui
                        .button("save scenario (RON)")
                        .on_hover_text("The panel's scenario as a .ron file (docs/scenario.md)")
                        .clicked()
                    {
                        action = Some(Action::SaveRon);
                    }
                    if ui
                        .button("save scenario (JSON)")
                        .on_hover_text("The same scenario as a .json file")
                        .clicked()
                    {
                        action = Some(Action::SaveJson);
                    }
                    if ui
                        .button("open a file…")
                        .on_hover_text("A .ron or .json scenario, a .csv of x,y points or a .png image")
                        .clicked()
                    {
                        action = Some(Action::Open);
                    }
                });
                ui.label("History of every panel (every value each step recorded)");
                ui.horizontal(|ui| {
                    if ui.button("history (CSV)").clicked() {
                        action = Some(Action::HistoryCsv);
                    }
                    if ui.button("history (JSON)").clicked() {
                        action = Some(Action::HistoryJson);
                    }
                });
                ui.horizontal_wrapped(|ui| {
                    ui.label("Canvas");
                    let idle = !self.files.shot_pending && !self.files.hires.busy();
                    if ui
                        .add_enabled(idle, egui::Button::new("canvas (PNG)"))
                        .on_hover_text("The panels as a PNG, at the screen's resolution")
                        .clicked()
                    {
                        action = Some(Action::CanvasPng(1));
                    }
                    for scale in [2u8, 4] {
                        if ui
                            .add_enabled(
                                idle && self.files.hires.available(),
                                egui::Button::new(format!("{scale}×")),
                            )
                            .on_hover_text(format!(
                                "The panels at {scale} × the screen's resolution: drawn again \
                                 offscreen (text keeps the screen's glyphs, magnified)"
                            ))
                            .clicked()
                        {
                            action = Some(Action::CanvasPng(scale));
                        }
                    }
                });
                ui.horizontal_wrapped(|ui| {
                    ui.label("Figure");
                    let idle = !self.files.exports.busy();
                    if ui
                        .add_enabled(idle, egui::Button::new("figure (PNG)"))
                        .on_hover_text(format!(
                            "Every panel with its overlays, a legend, axes and a colour bar, drawn as \
                             `divlab render` draws it: {} × {} pixels a panel",
                            super::export::FIGURE_CELL.0 * super::export::FIGURE_SCALE as u32,
                            super::export::FIGURE_CELL.1 * super::export::FIGURE_SCALE as u32
                        ))
                        .clicked()
                    {
                        action = Some(Action::Figure(crate::render::Format::Png));
                    }
                    if ui
                        .add_enabled(idle, egui::Button::new("figure (SVG)"))
                        .on_hover_text(
                            "The same figure as vectors (the heatmap embedded as an image): sharp at \
                             any zoom, for papers and slides",
                        )
                        .clicked()
                    {
                        action = Some(Action::Figure(crate::render::Format::Svg));
                    }
                    if ui
                        .add_enabled(idle, egui::Button::new("animation (GIF)"))
                        .on_hover_text(format!(
                            "Every panel's scenario replayed from step 0 to this step on the CPU core, {} \
                             frames at {} fps (particles dragged or targets edited by hand are not replayed)",
                            super::export::ANIMATION_FRAMES,
                            super::export::ANIMATION_FPS
                        ))
                        .clicked()
                    {
                        action = Some(Action::Animation);
                    }
                    if let Some((done, total)) = self.files.exports.progress {
                        ui.add(
                            egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                                .text(format!("animation: frame {done} of {total}")),
                        );
                    }
                });
                ui.small(format!(
                    "Or drop onto the window: a .ron or .json scenario (into panel {letter}; the panels \
                     share its target and seed), a .csv of x,y points (every panel's target) or a .png \
                     (a density)."
                ));
            });
        if let Some(action) = action {
            self.act(ui.ctx(), action);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_told_apart_by_extension_then_by_a_png_signature() {
        assert_eq!(kind_of("a.RON", b"("), Kind::Scenario);
        assert_eq!(kind_of("dir/a.json", b"{"), Kind::Scenario);
        assert_eq!(kind_of("pts.csv", b"0,1"), Kind::Points);
        assert_eq!(kind_of("heart.png", b""), Kind::Image);
        assert_eq!(kind_of("photo", PNG_SIGNATURE), Kind::Image);
        assert_eq!(kind_of("notes.txt", b"hello"), Kind::Other);
        assert_eq!(kind_of("notes.doc", b"hello"), Kind::Other);
    }

    #[test]
    fn a_saved_scenario_reads_back_and_a_bad_field_names_its_line() {
        for (name, _) in crate::assets::BUNDLED {
            let s = load::bundled(name)
                .map(|l| l.scenario)
                .unwrap_or_else(|e| panic!("{e}"));
            let ron = s.to_ron().unwrap_or_else(|e| panic!("{e}"));
            let json = s.to_json().unwrap_or_else(|e| panic!("{e}"));
            let inputs = AppInputs { dropped: None };
            assert_eq!(
                read_scenario("a.ron", ron.as_bytes(), &inputs),
                Ok(s.clone())
            );
            assert_eq!(read_scenario("a.json", json.as_bytes(), &inputs), Ok(s));
        }
        let bad = "(version: 1,\n seed: 1,\n target: (kind: \"two_moons\"),\n model: (kind: \"particles\", count: 0),\n method: (kind: \"flow\", flow: (kind: \"mmd\", kernel: (kind: \"gaussian\", sigma: 0.5), step_size: 0.1)))";
        let err = read_scenario("bad.ron", bad.as_bytes(), &AppInputs { dropped: None })
            .expect_err("count 0 is out of range");
        assert!(
            err.contains("bad.ron") && err.contains("line 4") && err.contains("model.count"),
            "{err}"
        );
        let err = read_scenario("x.ron", &[0xff, 0xfe], &AppInputs { dropped: None })
            .expect_err("not text");
        assert!(err.contains("UTF-8"), "{err}");
    }

    #[test]
    fn a_csv_becomes_a_samples_target_and_a_bad_line_is_named() {
        let spec = read_points("pts.csv", b"x,y\n0,1\n2,3\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            spec,
            TargetSpec::Samples(SamplesSpec {
                points: vec![[0.0, 1.0], [2.0, 3.0]],
                source: Some("pts.csv".into()),
            })
        );
        let err = read_points("pts.csv", b"0,1\n2,oops\n").expect_err("bad line");
        assert!(err.contains("pts.csv") && err.contains("line 2"), "{err}");
    }

    #[test]
    fn file_names_come_from_the_scenario_name() {
        assert_eq!(
            file_name("Two modes: reverse KL(q‖p)", "", "ron"),
            "two_modes_reverse_kl_q_p.ron"
        );
        assert_eq!(file_name("", "_history", "csv"), "divlab_history.csv");
        assert_eq!(file_name("  ", "_canvas", "png"), "divlab_canvas.png");
    }

    #[test]
    fn a_crop_is_clamped_to_the_shot_and_scaled_by_the_pixels_per_point() {
        let mut shot = egui::ColorImage::filled([40, 30], egui::Color32::BLACK);
        shot.pixels[10 * 40 + 20] = egui::Color32::RED;
        let rect = egui::Rect::from_min_max(egui::pos2(10.0, 5.0), egui::pos2(100.0, 100.0));
        let part = crop(&shot, rect, 2.0).unwrap_or_else(|| panic!("something left"));
        assert_eq!(part.size, [20, 20]);
        assert_eq!(part.pixels[0], egui::Color32::RED);
        let outside = egui::Rect::from_min_max(egui::pos2(50.0, 0.0), egui::pos2(60.0, 10.0));
        assert!(crop(&shot, outside, 1.0).is_none());
        let png = encode_png(&part).unwrap_or_else(|e| panic!("{e}"));
        let back = image::load_from_memory(&png).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((back.width(), back.height()), (20, 20));
    }
}
