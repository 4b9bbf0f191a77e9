//! The File menu's figures and animation, drawn by the render layer ([`crate::render`]) — the same figure
//! `divlab render` writes, so a picture exported from the app and one made on the command line agree.
//!
//! - **Figure (PNG or SVG):** every panel as it is now, with its overlays, in the app's theme and colormap,
//!   at the canvas' aspect. The figure is built on the frame thread (its overlays computed at once); the
//!   PNG's rasterizing and encoding runs on a [`Worker`] (off the frame thread natively).
//! - **Animation (GIF):** every panel's scenario replayed from step 0 on the CPU core up to the step shown
//!   now (or over the scenario's `steps` at step 0), at most [`ANIMATION_FRAMES`] frames a whole number of
//!   steps apart, the last at or just before that step. Natively on its own
//!   thread; on the web one frame per UI frame ([`Animation::advance`] with a small step budget), so the
//!   page keeps drawing, with the progress in the File menu. The replay is the scenario's, from its seed:
//!   particles dragged or a target edited by hand in this session are not in it.

use std::sync::Arc;

use crate::render::anim::{AnimFormat, Animation, FrameDone};
use crate::render::{self, Format, Options};
use crate::run::worker::{Notify, THREADED, Worker};
use crate::run::{Run, load};

use super::files::file_name;
use super::{DivlabApp, displayable};

/// Frames of an exported animation.
pub const ANIMATION_FRAMES: usize = 60;
/// Its frame rate.
pub const ANIMATION_FPS: u32 = 15;
/// The size of one panel of an animation, in pixels (panels side by side, or 2 × 2).
pub const ANIMATION_CELL: (u32, u32) = (480, 430);
/// The size of one panel of a figure, in figure units (pixels at scale 1); a PNG is drawn at
/// [`FIGURE_SCALE`].
pub const FIGURE_CELL: (u32, u32) = (800, 720);
pub const FIGURE_SCALE: f32 = 2.0;
/// Seconds of steps per UI frame for an animation made on the frame thread (the web).
const FRAME_BUDGET_S: f64 = 0.02;

/// What the animation export sends back from its thread.
enum AnimMsg {
    Progress(FrameDone),
    Done(Result<Vec<u8>, String>),
}

enum AnimJob {
    /// On its own thread (natively).
    Thread(Worker<AnimMsg>),
    /// On the frame thread, a little each frame (the web).
    Frames(Box<Animation>),
}

/// A figure being encoded: its file name, MIME type and the worker with its bytes.
type FigureJob = (String, &'static str, Worker<Result<Vec<u8>, String>>);

/// Exports being made.
#[derive(Default)]
pub(crate) struct ExportState {
    figure: Option<FigureJob>,
    animation: Option<(String, AnimJob)>,
    /// Frames done of the animation being made.
    pub progress: Option<(usize, usize)>,
    /// The export state last published to the page (`data-divlab-export`), so it is written on change only.
    published: String,
}

impl std::fmt::Debug for ExportState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportState")
            .field("figure", &self.figure.as_ref().map(|(n, _, _)| n))
            .field("animation", &self.animation.as_ref().map(|(n, _)| n))
            .field("progress", &self.progress)
            .finish()
    }
}

impl ExportState {
    pub fn busy(&self) -> bool {
        self.figure.is_some() || self.animation.is_some()
    }
}

/// A figure's size for `panels` panels of `cell` each: one, two side by side, or a 2 × 2 grid (the render
/// layer's layout).
fn layout_size(panels: usize, cell: (u32, u32)) -> (u32, u32) {
    let cols: u32 = if panels <= 1 { 1 } else { 2 };
    let rows = (panels.max(1) as u32).div_ceil(cols);
    (cell.0 * cols, cell.1 * rows)
}

impl DivlabApp {
    /// The render layer's options for the app's look, `cell` a panel.
    fn figure_options(&self, cell: (u32, u32)) -> Options {
        let (width, height) = layout_size(self.panels.len(), cell);
        Options {
            width,
            height,
            theme: self.looks.look.theme.to_render(),
            colormap: self.looks.look.colormap.to_render(),
            ..Options::default()
        }
    }

    fn export_base(&self) -> String {
        self.panels
            .first()
            .map_or_else(|| "divlab".to_owned(), |s| s.name.clone())
    }

    /// Starts exporting the panels as a figure.
    pub(super) fn export_figure(&mut self, ctx: &egui::Context, format: Format) {
        let opts = self.figure_options(FIGURE_CELL);
        let panels: Vec<(&Run, render::overlays::Toggles)> = self
            .lockstep
            .runs
            .iter()
            .enumerate()
            .map(|(i, r)| (r, self.overlay_toggles.get(i).copied().unwrap_or_default()))
            .collect();
        let fig = match render::figure_with(&panels, &opts) {
            Ok(f) => f,
            Err(why) => {
                self.message = Some(displayable(&format!("Could not export the figure: {why}")));
                return;
            }
        };
        let (ext, mime, scale) = match format {
            Format::Png => ("png", "image/png", FIGURE_SCALE),
            Format::Svg => ("svg", "image/svg+xml", 1.0),
        };
        let name = file_name(&self.export_base(), "_figure", ext);
        let repaint = ctx.clone();
        let notify: Notify = Arc::new(move || repaint.request_repaint());
        let worker = Worker::once(
            "figure-export",
            move || render::encode(&fig, format, scale),
            Some(notify),
        );
        self.files.exports.figure = Some((name, mime, worker));
    }

    /// Starts exporting an animation of every panel's scenario (module docs).
    pub(super) fn export_animation(&mut self, ctx: &egui::Context) {
        let opts = self.figure_options(ANIMATION_CELL);
        let now = self.lockstep.runs.first().map_or(0, Run::steps_taken);
        let mut runs = Vec::new();
        for scenario in &self.panels {
            let run = load::from_scenario(scenario.clone(), "the app's panel")
                .map_err(|e| e.to_string())
                .and_then(|l| {
                    Run::new(
                        &l,
                        crate::gpu::backend::BackendChoice::Cpu,
                        Err("an exported animation is replayed on the CPU core"),
                    )
                    .map_err(|e| e.to_string())
                });
            match run {
                Ok(r) => runs.push(r),
                Err(why) => {
                    self.message = Some(displayable(&format!(
                        "Could not export the animation: {why}"
                    )));
                    return;
                }
            }
        }
        let span = if now > 0 {
            now
        } else {
            self.panels.first().map_or(0, |s| s.steps)
        };
        // A whole number of steps between frames, the last frame at or just before `span`.
        let every = span.div_ceil(ANIMATION_FRAMES - 1).max(1);
        let frames = (span / every + 1).min(ANIMATION_FRAMES);
        let overlays = self.overlay_toggles.clone();
        let anim = match Animation::new(
            runs,
            overlays,
            opts,
            1.0,
            AnimFormat::Gif,
            frames,
            every,
            ANIMATION_FPS,
        ) {
            Ok(a) => a,
            Err(why) => {
                self.message = Some(displayable(&format!(
                    "Could not export the animation: {why}"
                )));
                return;
            }
        };
        let name = file_name(&self.export_base(), "_animation", "gif");
        let job = if THREADED {
            let repaint = ctx.clone();
            let notify: Notify = Arc::new(move || repaint.request_repaint());
            AnimJob::Thread(Worker::spawn(
                "animation-export",
                move |emit| {
                    let mut anim = anim;
                    while anim.done() < anim.total() {
                        match anim.advance(f64::INFINITY) {
                            Ok(Some(f)) => emit(AnimMsg::Progress(f)),
                            Ok(None) => {}
                            Err(e) => {
                                emit(AnimMsg::Done(Err(e)));
                                return;
                            }
                        }
                    }
                    emit(AnimMsg::Done(anim.finish()));
                },
                Some(notify),
            ))
        } else {
            AnimJob::Frames(Box::new(anim))
        };
        self.files.exports.progress = Some((0, frames));
        self.files.exports.animation = Some((name, job));
        ctx.request_repaint();
    }

    /// Once a frame: exports that finished are saved; an animation made on the frame thread goes on.
    pub(super) fn poll_exports(&mut self, ctx: &egui::Context) {
        if let Some((_, _, worker)) = &mut self.files.exports.figure
            && let Some(done) = worker.try_next()
            && let Some((name, mime, _)) = self.files.exports.figure.take()
        {
            match done {
                Ok(bytes) => self.save(ctx, name, mime, bytes),
                Err(why) => {
                    self.message =
                        Some(displayable(&format!("Could not export the figure: {why}")));
                }
            }
        }
        let mut finished = None;
        if let Some((_, job)) = &mut self.files.exports.animation {
            match job {
                AnimJob::Thread(worker) => {
                    while let Some(msg) = worker.try_next() {
                        match msg {
                            AnimMsg::Progress(f) => {
                                self.files.exports.progress = Some((f.done, f.total));
                            }
                            AnimMsg::Done(result) => finished = Some(result),
                        }
                    }
                    if finished.is_none() && !worker.is_running() {
                        finished = Some(Err("the export's thread ended early".into()));
                    }
                }
                AnimJob::Frames(anim) => {
                    match anim.advance(FRAME_BUDGET_S) {
                        Ok(Some(f)) => self.files.exports.progress = Some((f.done, f.total)),
                        Ok(None) => {}
                        Err(e) => finished = Some(Err(e)),
                    }
                    if anim.done() == anim.total() {
                        finished = Some(Ok(Vec::new()));
                    }
                    ctx.request_repaint();
                }
            }
        }
        if let Some(result) = finished
            && let Some((name, job)) = self.files.exports.animation.take()
        {
            self.files.exports.progress = None;
            let result = match job {
                AnimJob::Frames(anim) => result.and_then(|_| anim.finish()),
                AnimJob::Thread(_) => result,
            };
            match result {
                Ok(bytes) => self.save(ctx, name, AnimFormat::Gif.mime(), bytes),
                Err(why) => {
                    self.message = Some(displayable(&format!(
                        "Could not export the animation: {why}"
                    )));
                }
            }
        }
        // What the page is exporting (the browser test waits on it rather than on a fixed delay).
        let state = match (&self.files.exports.figure, self.files.exports.progress) {
            (_, Some((done, total))) => format!("animation {done}/{total}"),
            (Some(_), None) => "figure".to_owned(),
            (None, None) => String::new(),
        };
        if state != self.files.exports.published {
            super::host::publish("divlab-export", &state);
            self.files.exports.published = state;
        }
    }

    /// Waits for the exports being made (tests and headless use).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn finish_exports(&mut self, ctx: &egui::Context) {
        for _ in 0..100_000 {
            if !self.files.exports.busy() {
                return;
            }
            self.poll_exports(ctx);
            if self.files.exports.busy() {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
    }

    /// Frames done of the animation being exported, if one is.
    pub fn export_progress(&self) -> Option<(usize, usize)> {
        self.files.exports.progress
    }
}

#[cfg(test)]
mod tests {
    use super::layout_size;

    #[test]
    fn a_figure_has_a_cell_per_panel_side_by_side_or_two_by_two() {
        assert_eq!(layout_size(1, (800, 720)), (800, 720));
        assert_eq!(layout_size(2, (800, 720)), (1600, 720));
        assert_eq!(layout_size(4, (800, 720)), (1600, 1440));
    }
}
