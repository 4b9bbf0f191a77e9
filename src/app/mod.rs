//! The egui user interface: reads the run's state, draws it, sends commands. Work per frame is bounded:
//! the runs advance (through [`crate::run::Lockstep`]) only as many steps as fit in a time budget and the
//! steps-per-frame setting, and density grids are recomputed only when the target changes.

mod compute;
mod export;
mod files;
mod health;
pub mod heatmap;
mod hires;
mod host;
mod learn;
mod looks;
mod overlays;
mod panel;
mod params_ui;
mod plots;
mod scene;
mod state;
mod target_edit;
mod tours;

use crate::core::grid::{BBox, Grid};
use crate::core::scenario::Scenario;
use crate::core::target::{Target, TargetSpec, presets as target_presets};
use crate::gpu::backend::BackendChoice;
use crate::render::readable_value;
use crate::run::{Budget, Lockstep, Run, load};
use heatmap::{ColorScale, Colormap, DensityImage, density_image};
use host::{publish, startup_param};
pub use looks::{Look, ThemeChoice};
pub use panel::{Command, Layout, with_divergence};
pub use params_ui::{FLOW_KINDS, KERNEL_KINDS, OBJECTIVE_KINDS, OPTIMIZER_KINDS};

/// Resolution of the heatmap grid (cells per side).
pub const HEATMAP_RESOLUTION: usize = 256;

/// The scenario the app opens on: a three-component Gaussian mixture target.
pub const DEFAULT_SCENARIO: &str = "mixture_mmd_flow";

/// Time the simulation may use per frame, so the UI stays responsive.
const STEP_BUDGET_S: f64 = 0.012;

/// A target's heatmap texture and the box it covers.
pub(crate) struct TargetPicture {
    pub texture: egui::TextureHandle,
    pub bbox: BBox,
    pub value_range: (f64, f64),
    pub scale: ColorScale,
    pub colormap: Colormap,
}

/// The divlab app.
pub struct DivlabApp {
    scenarios: Vec<(String, Result<Scenario, String>)>,
    selected_scenario: Option<usize>,
    targets: Vec<(String, TargetSpec)>,
    /// Each panel's scenario (the same target and seed, each its own method): kept whatever happens to the
    /// runs. Its length is the layout (1, 2 or 4).
    panels: Vec<Scenario>,
    /// The runs on screen, one per panel, kept at the same step.
    lockstep: Lockstep,
    /// Commands from this frame's widgets, applied once at the start of the next frame.
    commands: Vec<Command>,
    picture: Option<TargetPicture>,
    scale: ColorScale,
    running: bool,
    /// Where Run stops: the scenario's `steps` unless the user changes it.
    run_until: usize,
    /// Where the current play stops (Run: `run_until`; Step: one more; `?run=K`: K).
    goal: usize,
    max_steps_per_frame: usize,
    show_target_points: bool,
    /// Why the last action failed or the run stopped (the previous picture and scenario stay).
    message: Option<String>,
    renderer: String,
    compute: compute::Compute,
    /// Draw the model's density q (mixtures) instead of the target's p.
    show_model_density: bool,
    /// CPU fallback texture of q's density, with the step it was drawn at.
    model_texture_cpu: Vec<Option<(usize, egui::TextureHandle)>>,
    /// Where each panel's heatmap was drawn in the last frame.
    heatmap_rects: Vec<Option<egui::Rect>>,
    reported_drawn: bool,
    rates: health::Rates,
    /// The panel whose parameters the side panel edits.
    edited_panel: usize,
    /// Hide wall-clock figures (fps, steps/s) so that screenshots are reproducible.
    reproducible: bool,
    /// Direct manipulation of the target on the canvas.
    editor: target_edit::TargetEditor,
    /// Where each panel drew the target's box last frame.
    bbox_on_screen: Vec<Option<egui::Rect>>,
    /// Each panel's overlay switches and what they drew last.
    overlay_toggles: Vec<overlays::Toggles>,
    overlay_caches: Vec<overlays::Cache>,
    /// An image dropped onto the window, by the asset name its target uses (`dropped:<file name>`).
    dropped_image: Option<(String, crate::core::target::GrayImage)>,
    /// Reads files dropped onto the window.
    drops: host::DropReader,
    /// The File section: opened and saved files, exports.
    files: files::FileState,
    /// Colormap, theme, text size, the help overlay and the phone layout.
    looks: looks::LookState,
    /// The Plots window of the selected panel (battery over steps, f(t)).
    plots: plots::PlotsWindow,
    /// The Learn panel (what the selected panel's methods are, with formulas and papers).
    learn: learn::LearnState,
    /// How the page embeds the app (`ui=min`, `hide=…`, `autoplay=1`).
    embed: state::Embed,
    /// The page address's link as last read or written (the web only), to notice the user editing it.
    link_seen: Option<String>,
    /// When the address's link is next brought up to date (seconds of egui's clock).
    link_due_s: f64,
    /// The message last published to the page (`data-divlab-message`).
    published_message: Option<String>,
    /// The session's link as last saved.
    session_saved: String,
    /// The claim presets (assets/presets), and the one on screen with its claim shown above the panels.
    claims: Vec<crate::assets::PresetEntry>,
    claim_open: Option<usize>,
    /// The guided tours (assets/tours); the one playing is `embed.tour`.
    tours: Vec<crate::tour::Tour>,
    /// The control sections drawn this frame, and as last published (`data-divlab-controls`).
    drawn_controls: Vec<&'static str>,
    published_controls: Vec<&'static str>,
}

/// The key under which the last session's link is saved (eframe's storage: a file natively, local storage
/// on the web).
const SESSION_KEY: &str = "divlab-session-link";

/// Seconds between updates of the page address while the state changes (running, dragging).
const LINK_INTERVAL_S: f64 = 0.3;

impl DivlabApp {
    pub fn new(cc: &eframe::CreationContext<'_>) -> Self {
        let renderer = renderer_description(cc);
        let compute = compute::Compute::new(cc.wgpu_render_state.as_ref(), backend_choice());
        publish("divlab-renderer", &renderer);
        publish(
            "divlab-compute",
            if compute.is_gpu() { "gpu" } else { "cpu" },
        );
        let scenarios = crate::assets::bundled_scenarios();
        let targets: Vec<(String, TargetSpec)> = target_presets()
            .into_iter()
            .map(|(name, spec)| (name.to_owned(), spec))
            .collect();
        let wanted = startup_param("scenario").unwrap_or_else(|| DEFAULT_SCENARIO.to_owned());
        let start = scenarios
            .iter()
            .position(|(name, s)| *name == wanted && s.is_ok())
            .or_else(|| {
                scenarios
                    .iter()
                    .position(|(name, s)| name == DEFAULT_SCENARIO && s.is_ok())
            });
        let scenario = start
            .and_then(|i| scenarios[i].1.clone().ok())
            .unwrap_or_else(fallback_scenario);
        let mut app = Self {
            scenarios,
            selected_scenario: start,
            targets,
            run_until: scenario.steps,
            goal: scenario.steps,
            panels: vec![scenario.clone()],
            lockstep: Lockstep::default(),
            commands: Vec::new(),
            picture: None,
            scale: ColorScale::Linear,
            running: false,
            max_steps_per_frame: Budget::FRAME.max_steps,
            show_target_points: false,
            message: None,
            renderer,
            compute,
            show_model_density: false,
            model_texture_cpu: Vec::new(),
            heatmap_rects: Vec::new(),
            reported_drawn: false,
            rates: health::Rates::default(),
            reproducible: false,
            edited_panel: 0,
            editor: target_edit::TargetEditor::default(),
            bbox_on_screen: Vec::new(),
            overlay_toggles: Vec::new(),
            overlay_caches: Vec::new(),
            dropped_image: None,
            drops: host::DropReader::default(),
            files: files::FileState::new(cc.wgpu_render_state.clone()),
            looks: looks::LookState::default(),
            plots: plots::PlotsWindow::default(),
            learn: learn::LearnState::new(),
            embed: state::Embed::default(),
            link_seen: None,
            link_due_s: 0.0,
            published_message: None,
            session_saved: String::new(),
            claims: crate::assets::claim_presets()
                .into_iter()
                .filter_map(Result::ok)
                .collect(),
            claim_open: None,
            tours: crate::tour::bundled_tours()
                .into_iter()
                .filter_map(Result::ok)
                .collect(),
            drawn_controls: Vec::new(),
            published_controls: Vec::new(),
        };
        match startup_param("layout").as_deref() {
            None => app.load(&cc.egui_ctx, scenario),
            Some(v) => match Layout::ALL.into_iter().find(|l| l.label() == v) {
                Some(layout) => app.rebuild(&cc.egui_ctx, vec![scenario; layout.panels()]),
                None => {
                    app.load(&cc.egui_ctx, scenario);
                    app.message = Some(format!(
                        "layout = {v:?} is not a layout: valid values are 1, 2 and 4; showing 1 panel"
                    ));
                }
            },
        }
        if let Some(k) = startup_param("run").and_then(|v| v.parse::<usize>().ok()) {
            app.goal = k;
            app.running = true;
        }
        // A link in the address wins over the saved session; the start-up settings above win over both.
        let legacy = ["scenario", "layout", "run"]
            .iter()
            .any(|k| startup_param(k).is_some());
        if let Some(link) = host::startup_link() {
            app.open_link(&cc.egui_ctx, &link, "This link");
        } else if !legacy && let Some(saved) = cc.storage.and_then(|s| s.get_string(SESSION_KEY)) {
            app.open_link(&cc.egui_ctx, &saved, "The last session");
        }
        app.link_seen = host::current_link();
        app
    }

    /// What is on screen, as the state a link carries.
    fn app_state(&self) -> state::AppState {
        let preset = self
            .selected_scenario
            .and_then(|i| self.scenarios.get(i))
            .map_or_else(|| DEFAULT_SCENARIO.to_owned(), |(name, _)| name.clone());
        let n = self.panels.len();
        let mut overlays = self.overlay_toggles.clone();
        overlays.resize(n, overlays::Toggles::default());
        state::AppState {
            preset,
            panels: self.panels.clone(),
            overlays,
            scale: self.scale,
            model_density: self.show_model_density,
            look: self.looks.look,
            step: self.steps_taken(),
            until: self.run_until,
        }
    }

    /// The link of what is on screen (without the `#`): paste it after the web app's address, or give it
    /// to `divlab open`. The embedding keys the app was opened with are kept.
    pub fn link(&self) -> String {
        state::to_link(&self.app_state(), &self.embed, &self.scenarios)
    }

    /// Opens `link`: every panel's scenario and the view, run to the link's step. A bad link keeps what is
    /// on screen and says what was wrong; `what` names the link in that message.
    fn open_link(&mut self, ctx: &egui::Context, link: &str, what: &str) {
        match state::from_link(link, &self.scenarios) {
            Ok((s, embed)) => {
                if embed != state::Embed::default() {
                    self.embed = embed;
                }
                self.open_state(ctx, s);
            }
            Err(why) => {
                self.message = Some(displayable(&format!(
                    "{what} could not be opened, so the view is unchanged: {why}"
                )));
            }
        }
    }

    /// Puts `s` on screen: the panels rebuilt from step 0 and run to its step (on to `until` with
    /// `autoplay=1`).
    fn open_state(&mut self, ctx: &egui::Context, s: state::AppState) {
        self.scale = s.scale;
        self.looks.look = s.look;
        self.show_model_density = s.model_density;
        self.running = false;
        self.rebuild(ctx, s.panels.clone());
        if self.panels != s.panels {
            // rebuild said why in the message; the previous panels stay.
            return;
        }
        self.selected_scenario = self
            .scenarios
            .iter()
            .position(|(name, p)| *name == s.preset && p.is_ok());
        self.overlay_toggles = s.overlays;
        self.run_until = s.until;
        self.goal = if self.embed.autoplay {
            s.until.max(s.step)
        } else {
            s.step
        };
        self.running = self.goal > 0;
        self.publish_run_state();
    }

    /// Keeps the page address's `#…` equal to the state (no history entries; while running at most every
    /// [`LINK_INTERVAL_S`], when paused on every frame, which egui draws only on input), and opens a link the
    /// user typed into it.
    fn sync_link(
        &mut self,
        ctx: &egui::Context,
        storage: Option<&mut (dyn eframe::Storage + 'static)>,
    ) {
        let now = ctx.input(|i| i.time);
        if self.running && now < self.link_due_s {
            return;
        }
        // The session is saved as soon as it changes (eframe saves by itself only on exit and on a timer
        // that idle frames never reach), without the embedding keys.
        if let Some(storage) = storage {
            let session =
                state::to_link(&self.app_state(), &state::Embed::default(), &self.scenarios);
            if session != self.session_saved {
                storage.set_string(SESSION_KEY, session.clone());
                storage.flush();
                self.session_saved = session;
            }
        }
        self.link_due_s = now + LINK_INTERVAL_S;
        let address = host::current_link();
        if address.is_some() && address != self.link_seen {
            self.link_seen = address.clone();
            if let Some(link) = address {
                self.commands.push(Command::OpenLink(link));
            }
            return;
        }
        if cfg!(target_arch = "wasm32") {
            let link = self.link();
            if self.link_seen.as_deref() != Some(link.as_str()) {
                host::write_link(&link);
                self.link_seen = host::current_link();
            }
        }
    }

    /// The top bar's Claims menu: each preset by name, with its claim on hover; choosing one opens its
    /// link and shows the claim above the panels.
    pub(crate) fn claims_menu_ui(&mut self, ui: &mut egui::Ui) {
        ui.menu_button("Claims", |ui| {
            ui.label("Presets that show what a paper claims:");
            for (i, c) in self.claims.iter().enumerate() {
                if ui
                    .selectable_label(self.claim_open == Some(i), &c.name)
                    .on_hover_text(displayable(&c.claim))
                    .clicked()
                {
                    self.claim_open = Some(i);
                    self.commands.push(Command::OpenLink(c.link.clone()));
                    ui.close();
                }
            }
        });
    }

    /// The open claim preset: its claim, what to look at and its papers (with a close button).
    fn claim_ui(&mut self, ui: &mut egui::Ui) {
        let Some(c) = self.claim_open.and_then(|i| self.claims.get(i)) else {
            return;
        };
        let mut close = false;
        ui.horizontal_wrapped(|ui| {
            ui.strong(displayable(&c.claim));
            if ui.small_button("close").clicked() {
                close = true;
            }
        });
        ui.small(displayable(&format!("Look at: {}", c.look_at)));
        if let Some(race) = c.race {
            ui.label(displayable(&race_line(race.threshold, &self.lockstep.runs)));
        }
        ui.small(displayable(&format!("From: {}", c.papers.join("; "))));
        if close {
            self.claim_open = None;
        }
    }

    /// The claim presets the Claims menu offers (for tests).
    pub fn claim_names(&self) -> Vec<String> {
        self.claims.iter().map(|c| c.name.clone()).collect()
    }

    /// Back to the default scenario in one panel with the default view.
    fn reset_everything(&mut self, ctx: &egui::Context) {
        let start = self
            .scenarios
            .iter()
            .position(|(name, s)| name == DEFAULT_SCENARIO && s.is_ok());
        let scenario = start
            .and_then(|i| self.scenarios[i].1.clone().ok())
            .unwrap_or_else(fallback_scenario);
        self.embed = state::Embed::default();
        self.claim_open = None;
        self.editor = target_edit::TargetEditor::default();
        self.dropped_image = None;
        self.open_state(ctx, state::AppState::of_preset(DEFAULT_SCENARIO, scenario));
        self.selected_scenario = start;
        if self.message.is_none() {
            self.message = Some("Everything is back to the defaults.".into());
        }
    }

    /// Where the heatmap was drawn in the last frame, in points (for tests and screenshots).
    pub fn heatmap_screen_rect(&self) -> Option<egui::Rect> {
        self.heatmap_rects.first().copied().flatten()
    }

    /// Where panel `i` drew the target's box last frame, in points (unclipped, so it maps data coordinates
    /// to the screen: for tests that point at the canvas).
    pub fn bbox_screen_rect(&self, i: usize) -> Option<egui::Rect> {
        self.bbox_on_screen.get(i).copied().flatten()
    }

    /// What panel `i`'s overlays drew last: one caption per enabled overlay, and how many lines and arrow
    /// sets (for tests).
    pub fn overlay_summary(&self, i: usize) -> Option<(Vec<String>, usize, usize)> {
        self.overlay_caches.get(i).map(|c| {
            (
                c.drawing.captions.clone(),
                c.drawing.lines.len(),
                c.drawing.arrows.len(),
            )
        })
    }

    /// Why the last action failed or the run stopped, if it did.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The run on screen, if one could be built from the scenario.
    pub fn run(&self) -> Option<&Run> {
        self.lockstep.runs.first()
    }

    /// The panels' scenarios (their number is the layout).
    pub fn panel_scenarios(&self) -> &[Scenario] {
        &self.panels
    }

    /// The runs on screen, one per panel.
    pub fn runs(&self) -> &[Run] {
        &self.lockstep.runs
    }

    /// The GPU device the app computes on, when the GPU backend is active (the fault tests inject errors
    /// into it).
    pub fn gpu_context(&self) -> Option<&crate::gpu::GpuContext> {
        self.compute.context()
    }

    /// Hides the wall-clock figures (frames and steps per second) from the status bar, so that two
    /// screenshots of the same state are identical (snapshot tests, figures for documents).
    pub fn set_reproducible(&mut self, on: bool) {
        self.reproducible = on;
    }

    /// Asks for `command` (applied at the start of the next frame, like a click).
    pub fn command(&mut self, command: Command) {
        self.commands.push(command);
    }

    /// A run of `scenario` on the app's backend.
    fn build_run(&self, scenario: &Scenario) -> Result<Run, String> {
        let device = self
            .compute
            .context()
            .ok_or_else(|| self.compute.describe());
        // In the app `gpu` means "the GPU wherever it runs the method": what it cannot run stays on the CPU
        // core, with the reason in the panel.
        let choice = match self.compute.status.requested {
            BackendChoice::Cpu => BackendChoice::Cpu,
            BackendChoice::Gpu | BackendChoice::Auto => BackendChoice::Auto,
        };
        let loaded = match (&scenario.target, &self.dropped_image) {
            (TargetSpec::Image(spec), Some((name, image))) if spec.asset == *name => {
                scenario.validate().map_err(|e| e.to_string())?;
                load::Loaded {
                    scenario: scenario.clone(),
                    image: Some(image.clone()),
                    origin: name.clone(),
                }
            }
            _ => {
                load::from_scenario(scenario.clone(), &scenario.name).map_err(|e| e.to_string())?
            }
        };
        Run::new(
            &loaded,
            choice,
            device.as_ref().map(|c| *c).map_err(String::as_str),
        )
        .map_err(|e| e.to_string())
    }

    /// Builds every panel's run (and the target picture) from `panels`. On failure the current runs, picture
    /// and scenarios stay and the message says why.
    fn rebuild(&mut self, ctx: &egui::Context, panels: Vec<Scenario>) {
        let built = panels
            .iter()
            .enumerate()
            .map(|(i, s)| {
                self.build_run(s)
                    .map_err(|e| format!("panel {}: {e}", panel::panel_letter(i)))
            })
            .collect::<Result<Vec<Run>, String>>()
            .and_then(|runs| {
                let first = runs.first().ok_or("no panel")?;
                let picture =
                    target_picture(ctx, first.target(), self.scale, self.looks.look.colormap)?;
                Ok((runs, picture))
            });
        match built {
            Ok((runs, picture)) => {
                publish("divlab-flow", runs[0].placement().label());
                publish(
                    "divlab-target",
                    &target_edit::published_target(&panels[0].target),
                );
                let steps = panels[0].steps;
                if self.panels.first().map(|s| s.steps) != Some(steps)
                    || self.lockstep.runs.is_empty()
                {
                    self.run_until = steps;
                }
                self.model_texture_cpu = vec![None; panels.len()];
                self.panels = panels;
                self.lockstep = Lockstep::new(runs);
                self.picture = Some(picture);
                self.message = None;
            }
            Err(err) => {
                self.running = false;
                self.message = Some(displayable(&format!("Could not start that: {err}")));
            }
        }
    }

    /// Puts `scenario` into every panel.
    fn load(&mut self, ctx: &egui::Context, scenario: Scenario) {
        let n = self.panels.len().max(1);
        self.rebuild(ctx, vec![scenario; n]);
    }

    /// Rebuilds panel `i` alone from its scenario (the others keep going; lockstep lets it catch up).
    fn rebuild_panel(&mut self, i: usize, scenario: Scenario) {
        if i >= self.lockstep.runs.len() {
            return;
        }
        match self.build_run(&scenario) {
            Ok(run) => {
                self.lockstep.runs[i] = run;
                self.panels[i] = scenario;
                if let Some(t) = self.model_texture_cpu.get_mut(i) {
                    *t = None;
                }
                self.message = None;
            }
            Err(err) => {
                self.message = Some(displayable(&format!(
                    "Panel {}: could not start that: {err}",
                    panel::panel_letter(i)
                )));
            }
        }
    }

    fn reset(&mut self, ctx: &egui::Context) {
        self.running = false;
        self.rebuild(ctx, self.panels.clone());
    }

    /// Applies the commands the widgets returned this frame, in order.
    fn apply_commands(&mut self, ctx: &egui::Context) {
        for command in std::mem::take(&mut self.commands) {
            match command {
                Command::SetLayout(layout) => {
                    let n = layout.panels();
                    let mut panels = self.panels.clone();
                    let last = panels.last().cloned().unwrap_or_else(fallback_scenario);
                    panels.resize(n, last);
                    self.running = false;
                    self.rebuild(ctx, panels);
                }
                Command::SetPanel(i, scenario) => self.rebuild_panel(i, *scenario),
                Command::Duplicate(i) => {
                    if let Some(s) = self.panels.get(i).cloned()
                        && i + 1 < self.panels.len()
                    {
                        self.rebuild_panel(i + 1, s);
                    }
                }
                Command::ResetPanel(i) => {
                    if let Some(s) = self.panels.get(i).cloned() {
                        self.rebuild_panel(i, s);
                    }
                }
                Command::EditTarget(spec) => self.retarget_all(ctx, &spec),
                Command::PlayPause => self.play_pause(),
                Command::Step => {
                    self.goal = self.steps_taken() + 1;
                    self.running = !self.lockstep.runs.is_empty();
                }
                Command::Reset => self.reset(ctx),
                Command::SetSeed(seed) => self.set_seed(ctx, seed),
                Command::ToggleHelp => self.looks.help_open = !self.looks.help_open,
                Command::OpenLink(link) => self.open_link(ctx, &link, "That link"),
                Command::ResetEverything => self.reset_everything(ctx),
            }
        }
    }

    /// Files dropped onto the window (natively or in the browser) or opened, and finished exports: a
    /// `.ron`/`.json` scenario, a `.csv` of points or a PNG (see `files`). In the browser a file is read
    /// asynchronously and taken on a later frame.
    fn take_dropped_files(&mut self, ctx: &egui::Context) {
        self.poll_files(ctx);
        self.poll_exports(ctx);
    }

    /// A PNG becomes the target of every panel, as a density (brighter = more mass); the fits go on toward
    /// it. Other bytes are refused with a message.
    fn take_image_bytes(&mut self, name: String, bytes: Result<Vec<u8>, String>) {
        match bytes.and_then(|b| crate::assets::decode_gray(&b)) {
            Ok(image) => {
                let asset = format!("dropped:{name}");
                self.dropped_image = Some((asset.clone(), image));
                let spec = TargetSpec::Image(crate::core::target::ImageSpec {
                    asset,
                    ..Default::default()
                });
                self.commands.push(Command::EditTarget(Box::new(spec)));
            }
            Err(why) => {
                self.message = Some(displayable(&format!(
                    "{name} is not an image divlab can read (a PNG): {why}"
                )));
            }
        }
    }

    /// Every panel's run takes the target `spec` without restarting its fit. If one run refuses it (a flow
    /// that follows the score cannot take a sample target), every run keeps the old target and the message
    /// says why.
    fn retarget_all(&mut self, ctx: &egui::Context, spec: &TargetSpec) {
        let image = match (spec, &self.dropped_image) {
            (TargetSpec::Image(s), Some((name, image))) if s.asset == *name => Some(image.clone()),
            _ => None,
        };
        let Some(old) = self.panels.first().map(|s| s.target.clone()) else {
            return;
        };
        let mut done = 0;
        let mut refused = None;
        for (i, run) in self.lockstep.runs.iter_mut().enumerate() {
            match run.retarget(spec, image.as_ref()) {
                Ok(()) => done += 1,
                Err(why) => {
                    refused = Some(format!("panel {}: {why}", panel::panel_letter(i)));
                    break;
                }
            }
        }
        if let Some(why) = refused {
            for run in self.lockstep.runs.iter_mut().take(done) {
                // The old target was running a moment ago, so this cannot be refused; if it were, the
                // message below still says what happened.
                if let Err(e) = run.retarget(&old, None) {
                    log::warn!("could not restore the previous target: {e}");
                }
            }
            self.message = Some(displayable(&format!("That target is refused: {why}")));
            return;
        }
        for s in &mut self.panels {
            s.target = spec.clone();
        }
        publish("divlab-target", &target_edit::published_target(spec));
        if let Some(run) = self.lockstep.runs.first() {
            match target_picture(ctx, run.target(), self.scale, self.looks.look.colormap) {
                Ok(p) => self.picture = Some(p),
                Err(e) => self.message = Some(e),
            }
        }
        for t in &mut self.model_texture_cpu {
            *t = None;
        }
        for run in &mut self.lockstep.runs {
            for notice in run.take_notices() {
                self.message = Some(displayable(&notice));
            }
            run.poll_stop_cause();
        }
    }

    /// Every panel's scenario takes `seed`; all are rebuilt from step 0 (and stay in lockstep).
    fn set_seed(&mut self, ctx: &egui::Context, seed: u64) {
        let mut panels = self.panels.clone();
        for s in &mut panels {
            s.seed = seed;
        }
        self.running = false;
        self.rebuild(ctx, panels);
    }

    fn play_pause(&mut self) {
        if self.running {
            self.running = false;
        } else if !self.lockstep.runs.is_empty() {
            // Run plays to the run-until step, or on from there when it has been reached.
            let taken = self.steps_taken();
            self.goal = if taken < self.run_until {
                self.run_until
            } else {
                usize::MAX
            };
            self.running = true;
        }
    }

    /// Steps taken so far, on whichever backend runs the model.
    pub fn steps_taken(&self) -> usize {
        self.lockstep.steps_taken()
    }

    /// Whether the model's steps run on the GPU.
    pub fn flow_on_gpu(&self) -> bool {
        self.run().is_some_and(|r| r.placement().is_gpu())
    }

    /// Advances the runs toward the goal within the frame's budget. A refused step stops the run and says
    /// why; a GPU failure moves that run to the CPU core and says so.
    fn advance(&mut self) {
        let budget = Budget {
            max_steps: self.max_steps_per_frame,
            time_s: STEP_BUDGET_S,
        };
        self.lockstep.advance(self.goal, budget);
        for run in &mut self.lockstep.runs {
            for notice in run.take_notices() {
                self.message = Some(displayable(&notice));
            }
        }
        self.note_stop();
        if self.lockstep.is_done(self.goal) {
            self.running = false;
        }
    }

    /// Takes each stopped run's diagnosis once its worker is done (every frame, running or paused: the other
    /// panels may have finished before the cause arrived), and says it.
    fn poll_stop_causes(&mut self, ctx: &egui::Context) {
        let mut arrived = false;
        for run in &mut self.lockstep.runs {
            arrived |= run.poll_stop_cause();
            if run.stopped().is_some() && run.stop_cause().is_none() {
                ctx.request_repaint_after(std::time::Duration::from_millis(50));
            }
        }
        if arrived {
            self.note_stop();
        }
    }

    /// The message of the first stopped panel: what was refused and what the retries showed.
    fn note_stop(&mut self) {
        // A panel whose step is refused stops alone (the others go on); its state and scenario are kept.
        if let Some((i, stop)) = self
            .lockstep
            .runs
            .iter()
            .enumerate()
            .find_map(|(i, r)| r.stopped().map(|s| (i, s)))
        {
            let which = if self.lockstep.runs.len() > 1 {
                format!("Panel {} stopped", panel::panel_letter(i))
            } else {
                "Stopped".to_owned()
            };
            // What retrying the refused step from the last good state showed (run::diagnose).
            let cause = match self.lockstep.runs[i].stop_cause() {
                None => {
                    "working out the cause (retrying the step from the last good state)".to_owned()
                }
                Some(c) if c.halving_fixes() => format!(
                    "{}: \"retry with half the step size\" in the panel halves it, or set it under \
                     Parameters",
                    c.describe()
                ),
                Some(c) => format!("{}; change a parameter and press Reset", c.describe()),
            };
            self.message = Some(displayable(&format!(
                "{which} at step {}: {}. Your scenario and the last good state are kept; {cause}.",
                stop.step, stop.reason
            )));
        }
    }

    fn scenarios_ui(&mut self, ui: &mut egui::Ui) {
        ui.heading("Scenarios");
        let mut clicked = None;
        for (i, (name, parsed)) in self.scenarios.iter().enumerate() {
            match parsed {
                Ok(s) => {
                    let label = if s.name.is_empty() {
                        name.clone()
                    } else {
                        s.name.clone()
                    };
                    let r = ui.selectable_label(self.selected_scenario == Some(i), label);
                    let r = if s.description.is_empty() {
                        r
                    } else {
                        r.on_hover_text(&s.description)
                    };
                    if r.clicked() {
                        clicked = Some(i);
                    }
                }
                Err(err) => {
                    ui.colored_label(ui.visuals().error_fg_color, err);
                }
            }
        }
        if let Some(i) = clicked
            && let Some(Ok(s)) = self.scenarios.get(i).map(|(_, s)| s.clone())
        {
            self.running = false;
            self.selected_scenario = Some(i);
            self.claim_open = None;
            self.load(ui.ctx(), s);
        }
    }

    fn targets_ui(&mut self, ui: &mut egui::Ui) {
        ui.heading("Target p");
        let current = self.panels.first().map_or("", |s| s.target.kind_name());
        let mut clicked = None;
        ui.horizontal_wrapped(|ui| {
            for (i, (name, spec)) in self.targets.iter().enumerate() {
                if ui
                    .selectable_label(spec.kind_name() == current, pretty_name(name))
                    .clicked()
                {
                    clicked = Some(i);
                }
            }
        });
        self.target_edit_ui(ui);
        if let Some(i) = clicked {
            // The same target for every panel; each keeps its method.
            let mut panels = self.panels.clone();
            for s in &mut panels {
                s.target = self.targets[i].1.clone();
            }
            self.running = false;
            self.rebuild(ui.ctx(), panels);
        }
    }

    /// The switch for editing the target on the canvas, what the pointer does, and the conversions that
    /// make a preset editable.
    fn target_edit_ui(&mut self, ui: &mut egui::Ui) {
        let Some(run) = self.lockstep.runs.first() else {
            return;
        };
        if !self.embed.shows("edit") {
            self.editor.on = false;
            return;
        }
        ui.checkbox(&mut self.editor.on, "edit the target on the canvas")
            .on_hover_text("Dragging on a panel edits the target instead of moving the view");
        if !self.editor.on {
            return;
        }
        let spec = &run.scenario().target;
        let side = {
            let b = run.target().bbox();
            b.width().min(b.height())
        };
        match spec {
            TargetSpec::GaussianMixture(m) => {
                ui.small(
                    "Drag a white centre to move a component, a square handle to stretch and turn it; click on \
                     empty ground to add a component, right-click a centre to delete it.",
                );
                let centre = run.target().bbox().center();
                ui.horizontal(|ui| {
                    if m.means.len() < target_edit::MAX_EDITABLE_COMPONENTS
                        && ui.button("add a component").clicked()
                    {
                        let added = target_edit::add_component(m, centre, 0.08 * side);
                        self.commands.push(Command::EditTarget(Box::new(
                            TargetSpec::GaussianMixture(added),
                        )));
                    }
                    let selected = self.editor.selected.filter(|k| *k < m.means.len());
                    let label = match selected {
                        Some(k) => format!("delete component {}", k + 1),
                        None => "delete component".to_owned(),
                    };
                    if ui
                        .add_enabled(
                            selected.is_some() && m.means.len() > 1,
                            egui::Button::new(label),
                        )
                        .on_hover_text("The component last dragged or clicked")
                        .clicked()
                        && let Some(k) = selected
                        && let Some(fewer) = target_edit::delete_component(m, k)
                    {
                        self.editor.selected = None;
                        self.commands.push(Command::EditTarget(Box::new(
                            TargetSpec::GaussianMixture(fewer),
                        )));
                    }
                });
            }
            TargetSpec::Samples(s) => {
                ui.small(format!(
                    "{} points. Click to add a point, drag to paint with the brush, right-click to remove \
                     the nearest point.",
                    s.points.len()
                ));
            }
            _ => {
                ui.small("This target is not edited directly:");
                if let Some(m) = target_edit::as_editable_mixture(run.target())
                    && ui
                        .button("edit it as a Gaussian mixture")
                        .on_hover_text("The same density, as components you can drag")
                        .clicked()
                {
                    self.commands
                        .push(Command::EditTarget(Box::new(TargetSpec::GaussianMixture(
                            m,
                        ))));
                }
                if ui
                    .button("turn it into points to paint on")
                    .on_hover_text(
                        "1000 samples of this target, seeded; then paint or remove points",
                    )
                    .clicked()
                {
                    let mut r = crate::core::rng::seeded(run.scenario().seed);
                    let points = run.target().sample(1000, &mut r);
                    self.commands
                        .push(Command::EditTarget(Box::new(TargetSpec::Samples(
                            crate::core::target::SamplesSpec {
                                points,
                                source: Some("samples of a preset, drawn on in divlab".into()),
                            },
                        ))));
                }
            }
        }
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui) {
        ui.heading("Simulation");
        ui.horizontal(|ui| {
            if !self.embed.minimal {
                self.run_buttons_ui(ui);
            }
            if self.embed.shows("plots") {
                ui.toggle_value(&mut self.plots.open, "plots")
                    .on_hover_text("The selected panel's battery over steps, and f(t)");
            }
        });
        if self.embed.shows("link") || self.embed.shows("file") {
            self.link_ui(ui);
        }
        if self.embed.shows("layout") {
            self.drawn_controls.push("layout");
            self.layout_ui(ui);
        }
        self.settings_ui(ui);
    }

    /// Run (or Pause), Step and Reset.
    fn run_buttons_ui(&mut self, ui: &mut egui::Ui) {
        self.drawn_controls.push("run");
        let label = if self.running { "Pause" } else { "Run" };
        if ui.button(label).on_hover_text("Space").clicked() {
            self.commands.push(Command::PlayPause);
        }
        // One more step in every panel, on whichever backend (a GPU flow needs a few frames for it).
        if ui
            .button("Step")
            .on_hover_text("S or the right arrow key")
            .clicked()
        {
            self.commands.push(Command::Step);
        }
        if ui.button("Reset").on_hover_text("R").clicked() {
            self.commands.push(Command::Reset);
        }
    }

    /// 1, 2 or 4 panels.
    fn layout_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.label("Panels:");
            let current = Layout::of(self.panels.len());
            for layout in Layout::ALL {
                if ui
                    .selectable_label(current == layout, layout.label())
                    .on_hover_text(layout.describe())
                    .clicked()
                    && current != layout
                {
                    self.commands.push(Command::SetLayout(layout));
                }
            }
        });
    }

    /// Run until, seed, speed, what the heatmap shows, and where each panel computes.
    fn settings_ui(&mut self, ui: &mut egui::Ui) {
        if self.embed.shows("until") {
            ui.horizontal(|ui| {
                ui.label("Run until step");
                ui.add(
                    egui::DragValue::new(&mut self.run_until)
                        .range(1..=crate::core::scenario::MAX_STEPS),
                )
                .on_hover_text("Run stops here; the scenario's `steps` by default");
            });
        }
        if self.embed.shows("seed")
            && let Some(seed) = seed_ui(ui, self.panels.first().map_or(0, |s| s.seed))
        {
            self.commands.push(Command::SetSeed(seed));
        }
        if self.embed.shows("speed") {
            ui.add(egui::Slider::new(&mut self.max_steps_per_frame, 1..=50).text("steps / frame"));
        }
        if self.embed.shows("view") {
            self.view_ui(ui);
        }
        ui.separator();
        self.where_ui(ui);
    }

    /// "Copy link", "Reset everything" and the File menu.
    fn link_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            if self.embed.shows("link") {
                self.drawn_controls.push("link");
                if ui
                    .button("Copy link")
                    .on_hover_text(
                        "The whole state (panels, every parameter, seed, view, step) as a link; opening it \
                         runs to the same step",
                    )
                    .clicked()
                {
                    let link = format!("{}#{}", host::link_base(), self.link());
                    self.message = Some(format!(
                        "Link copied ({} characters){}",
                        link.len(),
                        if cfg!(target_arch = "wasm32") {
                            "."
                        } else {
                            ": paste it after the web app's address, or open it with divlab open '<link>'."
                        }
                    ));
                    ui.ctx().copy_text(link);
                }
                if ui
                    .button("Reset everything")
                    .on_hover_text("The default scenario, one panel, the default view")
                    .clicked()
                {
                    self.commands.push(Command::ResetEverything);
                }
            }
            if self.embed.shows("file") {
                self.drawn_controls.push("file");
                self.file_ui(ui);
            }
        });
        if let Some(status) = self.file_status() {
            ui.small(displayable(status));
        }
    }

    /// What the heatmap shows: the target's samples, q or p, the colour scale.
    fn view_ui(&mut self, ui: &mut egui::Ui) {
        ui.checkbox(&mut self.show_target_points, "show the target samples used");
        let is_mixture = matches!(
            self.run().map(|r| r.model()),
            Some(crate::core::sim::ModelView::Mixture(_))
        );
        ui.add_enabled(
            is_mixture,
            egui::Checkbox::new(
                &mut self.show_model_density,
                "draw q's density instead of p",
            ),
        )
        .on_hover_text(if self.compute.is_gpu() {
            "q is evaluated on the GPU straight into the texture, every frame"
        } else {
            "q is evaluated on the CPU core"
        });
        ui.horizontal(|ui| {
            ui.label("Colour scale:");
            let before = self.scale;
            ui.selectable_value(&mut self.scale, ColorScale::Linear, "linear");
            ui.selectable_value(&mut self.scale, ColorScale::Log, "log");
            if self.scale != before {
                self.redraw_picture(ui.ctx());
            }
        });
    }

    /// The step, where each panel computes, and the message.
    fn where_ui(&self, ui: &mut egui::Ui) {
        if !self.lockstep.runs.is_empty() {
            ui.label(format!(
                "step {} in {}",
                self.steps_taken(),
                if self.lockstep.runs.len() == 1 {
                    "the panel".to_owned()
                } else {
                    format!("all {} panels", self.lockstep.runs.len())
                }
            ));
            // Where each panel computes, one line per distinct placement ("A, B: …").
            let mut lines: Vec<(String, String)> = Vec::new();
            for (i, run) in self.lockstep.runs.iter().enumerate() {
                let placement = run.placement();
                let text = match &placement.reason {
                    Some(why) if why.contains("CPU") => why.clone(),
                    Some(why) => format!("CPU core: {why}"),
                    None if placement.is_gpu() => "steps on the GPU".to_owned(),
                    None => "steps on the CPU core".to_owned(),
                };
                let letter = panel::panel_letter(i).to_string();
                match lines.iter_mut().find(|(_, t)| *t == text) {
                    Some((letters, _)) => *letters = format!("{letters}, {letter}"),
                    None => lines.push((letter, text)),
                }
            }
            for (letters, text) in lines {
                ui.small(displayable(&format!("{letters}: {text}")));
            }
        }
        if let Some(msg) = &self.message {
            ui.colored_label(ui.visuals().error_fg_color, msg);
        }
    }

    /// Every parameter of one panel's model and method, with sliders over the declared ranges; an edit
    /// restarts that panel alone.
    fn parameters_ui(&mut self, ui: &mut egui::Ui) {
        let n = self.panels.len();
        self.edited_panel = self.edited_panel.min(n.saturating_sub(1));
        egui::CollapsingHeader::new("Parameters")
            .id_salt("parameters")
            .default_open(true)
            .show(ui, |ui| {
                if n > 1 {
                    ui.horizontal(|ui| {
                        ui.label("panel");
                        for i in 0..n {
                            ui.selectable_value(
                                &mut self.edited_panel,
                                i,
                                panel::panel_letter(i).to_string(),
                            );
                        }
                    });
                }
                let i = self.edited_panel;
                let Some(scenario) = self.panels.get(i) else {
                    return;
                };
                ui.small(displayable(&panel::method_label(scenario)));
                let embed = &self.embed;
                let shown = |path: &str| embed.shows_parameter(path);
                let edit = params_ui::kinds_ui(ui, i, scenario, &shown)
                    .or_else(|| params_ui::params_ui(ui, i, scenario, &shown));
                match edit {
                    Some(Ok(edited)) => self.commands.push(Command::SetPanel(i, Box::new(edited))),
                    Some(Err(why)) => {
                        self.message = Some(displayable(&format!("That value is refused: {why}")));
                    }
                    None => {}
                }
            });
    }

    fn status_ui(&self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.label(format!("renderer: {}", self.renderer));
            ui.separator();
            if !self.reproducible {
                // egui repaints only on input while paused, so rates are shown while running only.
                if self.running {
                    ui.label(self.rates.describe(panel::panel_letter));
                } else {
                    ui.label("paused");
                }
                ui.separator();
            }
            ui.label(self.compute.describe());
            // What actually takes the steps, per panel (the device above may be idle).
            let on_gpu: Vec<String> = self
                .lockstep
                .runs
                .iter()
                .enumerate()
                .filter(|(_, r)| r.placement().is_gpu())
                .map(|(i, _)| panel::panel_letter(i).to_string())
                .collect();
            ui.separator();
            ui.label(match (on_gpu.len(), self.lockstep.runs.len()) {
                (0, _) => "steps: CPU core".to_owned(),
                (g, n) if g == n => "steps: GPU".to_owned(),
                _ => format!(
                    "steps: GPU for {}, CPU core for the rest",
                    on_gpu.join(", ")
                ),
            });
            if let Some(p) = &self.picture {
                ui.separator();
                let (lo, hi) = p.value_range;
                ui.label(format!(
                    "{}: colour from p = {lo:.3e} to {hi:.3e} ({})",
                    pretty_name(self.panels.first().map_or("", |s| s.target.kind_name())),
                    match self.scale {
                        ColorScale::Linear => "linear",
                        ColorScale::Log => "log, 4 decades",
                    }
                ));
            }
        });
    }
}

impl eframe::App for DivlabApp {
    /// Keeps the session as its link (without the embedding keys), so the next start restores it.
    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        let link = state::to_link(&self.app_state(), &state::Embed::default(), &self.scenarios);
        storage.set_string(SESSION_KEY, link);
    }

    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        // Shortcuts, taken before any widget sees the keys (so Space does not also press a focused
        // button), except while a text field is being edited.
        if !ui.ctx().egui_wants_keyboard_input() {
            let none = egui::Modifiers::NONE;
            ui.input_mut(|i| {
                if i.consume_key(none, egui::Key::Space) {
                    self.commands.push(Command::PlayPause);
                }
                if i.consume_key(none, egui::Key::S) || i.consume_key(none, egui::Key::ArrowRight) {
                    self.commands.push(Command::Step);
                }
                if i.consume_key(none, egui::Key::R) {
                    self.commands.push(Command::Reset);
                }
                if i.consume_key(none, egui::Key::Questionmark) {
                    self.commands.push(Command::ToggleHelp);
                }
            });
        }
        self.take_dropped_files(ui.ctx());
        self.sync_link(ui.ctx(), frame.storage_mut());
        self.apply_commands(ui.ctx());
        if self.published_message != self.message {
            self.published_message.clone_from(&self.message);
            publish("divlab-message", self.message.as_deref().unwrap_or(""));
        }
        self.apply_look(ui.ctx());
        let steps: Vec<usize> = self.lockstep.runs.iter().map(Run::steps_taken).collect();
        self.rates.frame(&steps);
        if self.running {
            self.advance();
            if !self.running {
                self.publish_run_state();
            }
            ui.ctx().request_repaint();
        }
        self.poll_stop_causes(ui.ctx());
        egui::Panel::top("top_bar").show(ui, |ui| self.top_bar_ui(ui));
        if self.embed.tour.is_some() && !self.embed.hidden.iter().any(|h| h == "tours") {
            egui::Panel::top("tour_bar").show(ui, |ui| self.tour_ui(ui));
        }
        if self.claim_open.is_some() {
            egui::Panel::top("claim_bar").show(ui, |ui| self.claim_ui(ui));
        }
        let narrow = self.looks.narrow;
        if !narrow {
            if self.embed.shows("status") {
                egui::Panel::bottom("status_bar").show(ui, |ui| self.status_ui(ui));
            }
            // `ui=min` keeps the side panel only for the controls the link names in `show=`.
            if !self.embed.minimal || !self.embed.shown.is_empty() {
                egui::Panel::left("side_panel")
                    .default_size(280.0)
                    .show(ui, |ui| {
                        egui::ScrollArea::vertical().show(ui, |ui| self.side_ui(ui));
                    });
            }
            if self.learn.open && self.embed.shows("learn") {
                egui::Panel::right("learn_panel")
                    .default_size(380.0)
                    .show(ui, |ui| {
                        egui::ScrollArea::vertical()
                            .id_salt("learn_scroll")
                            .show(ui, |ui| self.learn_ui(ui));
                    });
            }
        }
        let textures: Vec<Option<egui::TextureId>> = (0..self.lockstep.runs.len())
            .map(|i| self.model_density_texture(ui.ctx(), i))
            .collect();
        egui::CentralPanel::default().show(ui, |ui| {
            if narrow {
                // Phone: the controls (when opened) above the panels, one panel under the other.
                let visible_height = ui.available_height();
                egui::ScrollArea::vertical()
                    .id_salt("phone_column")
                    .show(ui, |ui| {
                        if self.learn.open && self.embed.shows("learn") {
                            self.learn_ui(ui);
                            ui.separator();
                        }
                        if self.looks.controls_open {
                            self.look_ui(ui);
                            ui.separator();
                            self.side_ui(ui);
                            ui.separator();
                        }
                        let rects = looks::stacked_rects(ui, self.panels.len(), visible_height);
                        self.panels_ui(ui, &rects, &textures);
                        if let Some(last) = rects.last() {
                            ui.advance_cursor_after_rect(*last);
                        }
                        if self.embed.shows("status") {
                            ui.separator();
                            self.status_ui(ui);
                        }
                    });
            } else {
                let layout = Layout::of(self.panels.len());
                let rects = layout.split(ui.available_rect_before_wrap());
                self.panels_ui(ui, &rects, &textures);
            }
        });
        self.help_ui(ui.ctx());
        self.plots_ui(ui.ctx());
        // What the page shows of the controls (the browser test of `ui=min` reads it).
        let drawn = std::mem::take(&mut self.drawn_controls);
        if drawn != self.published_controls {
            publish("divlab-controls", &drawn.join(","));
            self.published_controls = drawn;
        }
        if !self.reported_drawn && self.heatmap_screen_rect().is_some() {
            self.reported_drawn = true;
            publish("divlab-heatmap", "drawn");
        }
    }
}

impl DivlabApp {
    /// The side panel's contents (in the phone layout: above the panels, when opened).
    fn side_ui(&mut self, ui: &mut egui::Ui) {
        self.drawn_controls.push("side");
        if self.embed.shows("scenarios") {
            self.drawn_controls.push("scenarios");
            self.scenarios_ui(ui);
            ui.separator();
        }
        if self.embed.shows("target") {
            self.drawn_controls.push("target");
            self.targets_ui(ui);
            ui.separator();
        }
        self.controls_ui(ui);
        if self.embed.shows_any_parameter() {
            self.drawn_controls.push("parameters");
            ui.separator();
            self.parameters_ui(ui);
        }
    }

    /// Draws panel `i` into `rects[i]`: its header and its scene.
    fn panels_ui(
        &mut self,
        ui: &mut egui::Ui,
        rects: &[egui::Rect],
        textures: &[Option<egui::TextureId>],
    ) {
        self.heatmap_rects = vec![None; rects.len()];
        self.files.canvas = rects.iter().copied().reduce(egui::Rect::union);
        self.bbox_on_screen = vec![None; rects.len()];
        let was_on = self.editor.on;
        self.overlay_toggles
            .resize(rects.len(), overlays::Toggles::default());
        self.overlay_caches
            .resize_with(rects.len(), overlays::Cache::default);
        for (i, rect) in rects.iter().copied().enumerate() {
            let (Some(run), Some(scenario)) = (self.lockstep.runs.get(i), self.panels.get(i))
            else {
                continue;
            };
            let history = run.history().objective_points();
            let objective_name = run
                .history()
                .objective_name()
                .map(displayable)
                .unwrap_or_default();
            ui.scope_builder(
                egui::UiBuilder::new().max_rect(rect).id_salt(("panel", i)),
                |ui| {
                    let panel_count = self.panels.len();
                    let (toggles, cache) =
                        (&mut self.overlay_toggles[i], &mut self.overlay_caches[i]);
                    panel::header_ui(
                        ui,
                        &panel::HeaderView {
                            i,
                            panel_count,
                            scenario,
                            run,
                            embed: &self.embed,
                            show_timing: !self.reproducible,
                        },
                        &mut self.commands,
                        toggles,
                    );
                    cache.refresh(ui.ctx(), run, *toggles, self.running);
                    if !cache.drawing.captions.is_empty() {
                        ui.horizontal_wrapped(|ui| {
                            for caption in &cache.drawing.captions {
                                ui.small(displayable(caption));
                            }
                        });
                    }
                    let mixture = match &scenario.target {
                        TargetSpec::GaussianMixture(m) => Some(m),
                        _ => None,
                    };
                    let edit = self.editor.on.then_some(scene::EditView {
                        mixture,
                        // The view holds still while editing, so the handles stay under the pointer
                        // as the target's box changes; it fits the target again after.
                        hold_view: true,
                    });
                    let drawn = scene::scene_ui(
                        ui,
                        &scene::SceneView {
                            panel: i,
                            picture: self.picture.as_ref(),
                            model_texture: textures.get(i).copied().flatten(),
                            run: Some(run),
                            scale: self.scale,
                            colormap: self.looks.look.colormap,
                            show_target_points: self.show_target_points,
                            history,
                            objective_name: &objective_name,
                            edit,
                            refit: self.editor.was_on && !self.editor.on,
                            overlay: Some(&self.overlay_caches[i].drawing),
                        },
                    );
                    self.heatmap_rects[i] = drawn.heatmap;
                    self.bbox_on_screen[i] = drawn.bbox_on_screen;
                    let b = run.target().bbox();
                    if let Some(spec) = self.editor.edit(
                        &scenario.target,
                        &drawn.pointer,
                        b.width().min(b.height()),
                    ) {
                        self.commands.push(Command::EditTarget(Box::new(spec)));
                    }
                },
            );
        }
        self.editor.was_on = was_on;
    }
}

impl DivlabApp {
    /// The texture of q's density when it is to be drawn (mixture models): on the GPU every frame with no
    /// read-back, or on the CPU once per step.
    fn model_density_texture(
        &mut self,
        ctx: &egui::Context,
        panel: usize,
    ) -> Option<egui::TextureId> {
        if !self.show_model_density {
            return None;
        }
        let run = self.lockstep.runs.get(panel)?;
        let crate::core::sim::ModelView::Mixture(q) = run.model() else {
            return None;
        };
        let bbox = self.picture.as_ref()?.bbox;
        let n = compute::GPU_GRID as usize;
        let grid = Grid::new(bbox, n, n).ok()?;
        let log_scale = self.scale == ColorScale::Log;
        // The app has one GPU texture: the first panel's q is drawn there, the others on the CPU.
        if panel == 0
            && let Some(id) = self.compute.model_density_texture(q, &grid, log_scale)
        {
            return Some(id);
        }
        let step = run.steps_taken();
        let slot = self.model_texture_cpu.get_mut(panel)?;
        if slot.as_ref().map(|(s, _)| *s) != Some(step) {
            let log_q = grid.eval(|x| q.log_density(x));
            let image = density_image(
                &log_q,
                grid.nx,
                grid.ny,
                self.scale,
                self.looks.look.colormap,
            );
            let texture = ctx.load_texture(
                format!("model-density-{panel}"),
                image.image,
                egui::TextureOptions::LINEAR,
            );
            *slot = Some((step, texture));
        }
        slot.as_ref().map(|(_, t)| t.id())
    }
}

impl DivlabApp {
    /// On the web, writes the step count and the last objective into the page (`data-divlab-steps`,
    /// `data-divlab-objective`) when a run stops, for the browser tests and for pages that embed divlab.
    fn publish_run_state(&self) {
        publish("divlab-steps", &self.steps_taken().to_string());
        let per_panel = |f: &dyn Fn(&Run) -> String| -> String {
            self.lockstep
                .runs
                .iter()
                .map(f)
                .collect::<Vec<_>>()
                .join(",")
        };
        publish(
            "divlab-panel-steps",
            &per_panel(&|r| r.steps_taken().to_string()),
        );
        publish(
            "divlab-panel-objectives",
            &per_panel(&|r| {
                r.history()
                    .last()
                    .map_or_else(String::new, |x| format!("{:e}", x.info.objective))
            }),
        );
        if let Some(run) = self.run() {
            let records = run.history().records();
            if let Some(r) = records.last() {
                publish("divlab-objective", &format!("{:e}", r.info.objective));
            }
            let all: Vec<String> = records
                .iter()
                .map(|r| format!("{:e}", r.info.objective))
                .collect();
            publish("divlab-objectives", &all.join(","));
            publish("divlab-flow", run.placement().label());
        }
        publish(
            "divlab-panel-methods",
            &self
                .panels
                .iter()
                .map(panel::method_label)
                .collect::<Vec<_>>()
                .join(" | "),
        );
    }
}

/// The compute backend asked for: `?backend=cpu|gpu|auto` in the page address on the web, the
/// `DIVLAB_BACKEND` environment variable natively; `auto` by default.
fn backend_choice() -> BackendChoice {
    startup_param("backend")
        .and_then(|s| BackendChoice::parse(&s).ok())
        .unwrap_or(BackendChoice::Auto)
}

/// A scenario that needs nothing but the core: used only if the bundled default fails to parse.
fn fallback_scenario() -> Scenario {
    Scenario {
        version: crate::core::scenario::SCENARIO_VERSION,
        name: "Gaussian mixture target".into(),
        description: String::new(),
        seed: 0,
        target: TargetSpec::default(),
        model: crate::core::scenario::ModelSpec::Mixture {
            init: crate::core::mixture::MixtureInit::default(),
        },
        method: crate::core::scenario::Method::Em { samples: 2000 },
        steps: 100,
        measure: Default::default(),
    }
}

/// The heatmap of a target as a texture.
fn target_picture(
    ctx: &egui::Context,
    target: &Target,
    scale: ColorScale,
    colormap: Colormap,
) -> Result<TargetPicture, String> {
    let bbox = target.bbox();
    let image = target_image(target, &bbox, scale, colormap)?;
    Ok(TargetPicture {
        texture: ctx.load_texture("target-density", image.image, egui::TextureOptions::LINEAR),
        bbox,
        value_range: image.value_range,
        scale,
        colormap,
    })
}

/// The heatmap of a target: its density on a grid over `bbox`, or a histogram of its points for sample targets.
fn target_image(
    target: &Target,
    bbox: &BBox,
    scale: ColorScale,
    colormap: Colormap,
) -> Result<DensityImage, String> {
    let grid =
        Grid::new(*bbox, HEATMAP_RESOLUTION, HEATMAP_RESOLUTION).map_err(|e| e.to_string())?;
    let log_density: Vec<f64> = match (target.density(), target.points()) {
        (Some(density), _) => grid.eval(|x| density.log_density(x)),
        (None, Some(points)) => histogram(&grid, points)
            .iter()
            .map(|&c| (c as f64).ln())
            .collect(),
        (None, None) => return Err("target has neither a density nor points".into()),
    };
    Ok(density_image(
        &log_density,
        grid.nx,
        grid.ny,
        scale,
        colormap,
    ))
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

/// The seed every panel uses, with a "new seed" button; returns the seed asked for, if any.
fn seed_ui(ui: &mut egui::Ui, current: u64) -> Option<u64> {
    let mut seed = current;
    let mut asked = None;
    ui.horizontal(|ui| {
        ui.label("Seed");
        if ui
            .add(egui::DragValue::new(&mut seed))
            .on_hover_text(
                "the random seed of every panel (the same for all, so they stay comparable)",
            )
            .changed()
            && seed != current
        {
            asked = Some(seed);
        }
        if ui
            .button("new seed")
            .on_hover_text("another seed for every panel; they restart from step 0")
            .clicked()
        {
            asked = Some(next_seed(current));
        }
    });
    asked
}

/// A different seed below a million, scrambled from `seed` (SplitMix64), so a "new seed" is reproducible.
fn next_seed(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    let next = (z ^ (z >> 31)) % 1_000_000;
    if next == seed { next + 1 } else { next }
}

/// The panels a link opens, as the app reads it (`state.rs`), for headless callers (the claim tests).
#[derive(Debug, Clone, PartialEq)]
pub struct LinkedPanels {
    /// One scenario per panel (1, 2 or 4), all with the same target and seed.
    pub panels: Vec<Scenario>,
    /// The step the link runs to on opening.
    pub step: usize,
    /// Where Run stops.
    pub until: usize,
}

/// Reads `link` over the bundled scenarios exactly as the app opens it (`Command::OpenLink`); the error is
/// the app's message (the key, the value and what is valid).
pub fn open_link_headless(link: &str) -> Result<LinkedPanels, String> {
    let (s, _) = state::from_link(link, &crate::assets::bundled_scenarios())?;
    Ok(LinkedPanels {
        panels: s.panels,
        step: s.step,
        until: s.until,
    })
}

/// The race line of a claim preset with a race (the claim bar shows it): per panel, its letter, its
/// optimizer (or method) and after how many steps its objective first was at or below `threshold`
/// ([`crate::run::history::History::steps_to_reach`]), or "not yet"; the panels separated by " · ".
pub fn race_line(threshold: f64, runs: &[Run]) -> String {
    let panels: Vec<String> = runs
        .iter()
        .enumerate()
        .map(|(i, run)| {
            let s = run.scenario();
            let who = match &s.method {
                crate::core::scenario::Method::Gradient { optimizer, .. } => {
                    if optimizer.is_cautious() {
                        format!("cautious {}", optimizer.label())
                    } else {
                        optimizer.label()
                    }
                }
                _ => panel::method_label(s),
            };
            let letter = panel::panel_letter(i);
            match run.history().steps_to_reach(threshold) {
                Some(n) => format!("{letter} ({who}): {n}"),
                None => format!("{letter} ({who}): not yet"),
            }
        })
        .collect();
    format!(
        "Steps until the objective is ≤ {}: {}",
        crate::core::math::exact_number(threshold),
        panels.join(" · ")
    )
}

/// Text the bundled font can draw: notation it lacks is spelled in ASCII (‖ → ||).
pub fn displayable(text: &str) -> String {
    text.replace('‖', "||")
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

#[cfg(test)]
mod tests {
    #[test]
    fn readable_values_keep_five_significant_digits() {
        assert_eq!(super::readable_value(0.0), "0");
        assert_eq!(super::readable_value(2.4751), "2.4751");
        assert_eq!(super::readable_value(0.0012345), "0.0012345");
        assert_eq!(super::readable_value(4.2e-5), "4.2000e-5");
        assert_eq!(super::readable_value(-123.456), "-123.46");
        assert_eq!(super::readable_value(f64::INFINITY), "inf");
    }
}
