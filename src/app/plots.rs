//! The Plots window of the selected panel (the one the side panel edits): every row of the measurement
//! battery tracked over the steps ([`BatteryTrack`]), and for an f-divergence fit the generator f(t) with
//! the current fit's distribution of the density ratio t = p/q under it ([`overlay::f_data`]).
//!
//! Work per frame, only while the window is open: one [`BatteryTrack::poll`] within [`POLL_BUDGET_S`]
//! (at least one battery row while a snapshot is in progress, so a frame that computes the Sinkhorn row is
//! a long one), and [`overlay::f_data`] again when the step changed, at most every [`F_REFRESH_S`] while
//! running (about 0.3 ms).

use std::sync::Arc;

use egui_plot::{Bar, BarChart, Corner, HLine, Legend, Line, Plot, PlotPoints, VLine};

use crate::core::measure::{BATTERY_LEN, Outcome};
use crate::core::scenario::Scenario;
use crate::run::Run;
use crate::run::overlay::{self, FData, OverlayResult, SolverComparison, SolverRun};
use crate::run::track::{BatteryTrack, Series};
use crate::run::worker::{Notify, Worker};

use super::{DivlabApp, displayable, panel, readable_value};

/// Time the battery may take per frame (at least one row is computed whatever it is).
pub const POLL_BUDGET_S: f64 = 0.004;
/// About this many snapshots over a run to `run_until` ([`every_for`]).
pub const TARGET_SNAPSHOTS: usize = 40;
/// Draws of q for the ratio histogram.
pub const F_SAMPLES: usize = 2000;
/// Bins of the ratio histogram (log-spaced over [`overlay::DEFAULT_T_RANGE`]).
pub const F_BINS: usize = 40;
/// Least time between two recomputations of the f(t) view while running.
pub const F_REFRESH_S: f64 = 0.25;

/// Steps between the battery's snapshots for a run to `run_until`: about [`TARGET_SNAPSHOTS`] of them.
pub fn every_for(run_until: usize) -> usize {
    run_until.div_ceil(TARGET_SNAPSHOTS).max(1)
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Tab {
    #[default]
    Battery,
    Generator,
    Solver,
}

/// The battery of one panel's run, with what it was started for (a new panel or scenario resets it).
struct Tracked {
    panel: usize,
    scenario: Scenario,
    track: BatteryTrack,
}

/// The f(t) view's data, with what and when it was computed.
struct FCache {
    panel: usize,
    scenario: Scenario,
    step: usize,
    at: web_time::Instant,
    data: OverlayResult<FData>,
}

/// Least time between two recomputations of the solver comparison while running.
pub const SOLVER_REFRESH_S: f64 = 1.0;
/// Most points a side of the solver comparison (that of the plan overlay).
pub const SOLVER_MAX_POINTS: usize = overlay::DEFAULT_MAX_POINTS;

/// The solver comparison of one panel's run at one step: computed on another thread (inline on the web).
struct SolverCache {
    panel: usize,
    scenario: Scenario,
    step: usize,
    at: web_time::Instant,
    job: Option<Worker<OverlayResult<SolverComparison>>>,
    data: Option<OverlayResult<SolverComparison>>,
}

/// The Plots window's state (kept in the app; [`DivlabApp::plots_ui`] draws it).
#[derive(Default)]
pub(crate) struct PlotsWindow {
    pub open: bool,
    tab: Tab,
    tracked: Option<Tracked>,
    f: Option<FCache>,
    solver: Option<SolverCache>,
    /// Milliseconds of the last frame: the battery's poll and the f(t) data, then the window's drawing.
    cost_ms: (f64, f64),
}

impl PlotsWindow {
    /// Brings the track and the f(t) data up to `run` (panel `i`, built from `scenario`).
    fn update(
        &mut self,
        ctx: &egui::Context,
        i: usize,
        scenario: &Scenario,
        run: &Run,
        run_until: usize,
        running: bool,
    ) {
        let stale = self
            .tracked
            .as_ref()
            .is_none_or(|t| t.panel != i || t.scenario != *scenario);
        if stale {
            self.tracked = Some(Tracked {
                panel: i,
                scenario: scenario.clone(),
                track: {
                    let ctx = ctx.clone();
                    BatteryTrack::live(every_for(run_until))
                        .in_background(Arc::new(move || ctx.request_repaint()))
                },
            });
        }
        if let Some(t) = &mut self.tracked {
            t.track.poll(run, POLL_BUDGET_S);
        }
        let step = run.steps_taken();
        let recompute = match &self.f {
            None => true,
            Some(f) if f.panel != i || f.scenario != *scenario => true,
            Some(f) if f.step == step => false,
            Some(f) => !running || f.at.elapsed().as_secs_f64() >= F_REFRESH_S,
        };
        if self.tab == Tab::Solver {
            self.update_solver(ctx, i, scenario, run, running);
        }
        if recompute {
            self.f = Some(FCache {
                panel: i,
                scenario: scenario.clone(),
                step,
                at: web_time::Instant::now(),
                data: overlay::f_data(run, F_SAMPLES, F_BINS),
            });
        }
    }

    /// Starts the solver comparison when the panel, scenario or step changed (at most every
    /// [`SOLVER_REFRESH_S`] while running, and on the web, where it runs inside the frame, only while paused;
    /// one at a time), and takes a finished one.
    fn update_solver(
        &mut self,
        ctx: &egui::Context,
        i: usize,
        scenario: &Scenario,
        run: &Run,
        running: bool,
    ) {
        let step = run.steps_taken();
        if let Some(c) = &mut self.solver
            && let Some(job) = &mut c.job
        {
            if let Some(done) = job.try_next() {
                c.data = Some(done);
                c.job = None;
            } else if !job.is_running() {
                c.job = None;
            }
        }
        let due = match &self.solver {
            None => true,
            Some(c) if c.job.is_some() => false,
            Some(c) if c.panel != i || c.scenario != *scenario => true,
            Some(c) if c.step == step => false,
            // Without threads (the web) the solves would run inside a frame: only while paused.
            Some(c) => {
                !running
                    || (crate::run::worker::THREADED
                        && c.at.elapsed().as_secs_f64() >= SOLVER_REFRESH_S)
            }
        };
        if !due {
            return;
        }
        let inputs = overlay::plan_inputs(run, SOLVER_MAX_POINTS);
        let ctx = ctx.clone();
        let notify: Notify = Arc::new(move || ctx.request_repaint());
        let job = Worker::once(
            "solver-comparison",
            move || inputs.and_then(|i| i.compare_solvers()),
            Some(notify),
        );
        let kept = self
            .solver
            .take()
            .filter(|c| c.panel == i && c.scenario == *scenario)
            .and_then(|c| c.data);
        let mut cache = SolverCache {
            panel: i,
            scenario: scenario.clone(),
            step,
            at: web_time::Instant::now(),
            job: Some(job),
            data: kept,
        };
        // Without threads (the web) the work is already done.
        if let Some(job) = &mut cache.job
            && let Some(done) = job.try_next()
        {
            cache.data = Some(done);
            cache.job = None;
        }
        self.solver = Some(cache);
    }

    /// Waits for the solver comparison being computed, if any (for tests).
    fn finish_solver(&mut self) {
        if let Some(c) = &mut self.solver
            && let Some(job) = &mut c.job
        {
            if let Some(done) = job.wait_next() {
                c.data = Some(done);
            }
            c.job = None;
        }
    }

    fn busy(&self) -> bool {
        self.tracked
            .as_ref()
            .is_some_and(|t| t.track.in_progress().is_some())
    }

    fn contents_ui(&mut self, ui: &mut egui::Ui, letter: char, reproducible: bool) {
        // Wrapped: on a phone the three tabs and the cost line do not fit one row.
        ui.horizontal_wrapped(|ui| {
            ui.selectable_value(&mut self.tab, Tab::Battery, "battery over steps");
            ui.selectable_value(&mut self.tab, Tab::Generator, "f(t) and the ratio p/q");
            ui.selectable_value(&mut self.tab, Tab::Solver, "Sinkhorn solvers");
            if !reproducible {
                let (poll, draw) = self.cost_ms;
                ui.small(format!(
                    "this window: {poll:.1} ms compute + {draw:.1} ms draw"
                ));
            }
        });
        ui.separator();
        egui::ScrollArea::vertical()
            .id_salt("plots_scroll")
            .auto_shrink([false, false])
            .show(ui, |ui| match self.tab {
                Tab::Battery => {
                    if let Some(t) = &self.tracked {
                        battery_ui(ui, &t.track, letter);
                    }
                }
                Tab::Generator => {
                    if let Some(f) = &self.f {
                        generator_ui(ui, f, letter);
                    }
                }
                Tab::Solver => solver_ui(ui, self.solver.as_ref(), letter, reproducible),
            });
    }
}

impl DivlabApp {
    /// Whether the Plots window is open.
    pub fn plots_open(&self) -> bool {
        self.plots.open
    }

    /// Opens or closes the Plots window (like its toggle in the side panel).
    pub fn set_plots_open(&mut self, open: bool) {
        self.plots.open = open;
    }

    /// The battery the Plots window tracks for the selected panel (once the window has been open).
    pub fn battery_track(&self) -> Option<&BatteryTrack> {
        self.plots.tracked.as_ref().map(|t| &t.track)
    }

    /// The f(t) view's data for the selected panel, or why there is none (once the window has been open).
    pub fn plots_f_data(&self) -> Option<&OverlayResult<FData>> {
        self.plots.f.as_ref().map(|f| &f.data)
    }

    /// Waits for the background work of the overlays, the stopped runs and the Plots window (the transport
    /// plans, the retries behind a stop's cause, the battery's snapshot in progress) and takes its results, so that the next frame draws them. For tests.
    pub fn finish_background_work(&mut self) {
        for cache in &mut self.overlay_caches {
            cache.finish_pending();
        }
        for run in &mut self.lockstep.runs {
            run.finish_stop_cause();
        }
        let n = self.lockstep.runs.len();
        if let Some(t) = &mut self.plots.tracked
            && t.panel < n
        {
            t.track.finish_pending(&self.lockstep.runs[t.panel]);
        }
        self.plots.finish_solver();
    }

    /// Shows the Plots window's solver tab (plain against Newton-accelerated Sinkhorn), as its tab button does.
    pub fn show_solver_plot(&mut self) {
        self.plots.open = true;
        self.plots.tab = Tab::Solver;
    }

    /// The solver comparison the Plots window shows for the selected panel, once computed.
    pub fn solver_comparison(&self) -> Option<&OverlayResult<SolverComparison>> {
        self.plots.solver.as_ref().and_then(|c| c.data.as_ref())
    }

    /// Milliseconds the Plots window took in the last frame: computing (battery poll and f data), drawing.
    pub fn plots_cost_ms(&self) -> (f64, f64) {
        self.plots.cost_ms
    }

    /// The Plots window of the selected panel, when open: polls the battery, then draws.
    pub(crate) fn plots_ui(&mut self, ctx: &egui::Context) {
        if !self.plots.open {
            return;
        }
        let n = self.lockstep.runs.len().min(self.panels.len());
        if n == 0 {
            return;
        }
        let i = self.edited_panel.min(n - 1);
        let letter = panel::panel_letter(i);
        let start = web_time::Instant::now();
        let run = &self.lockstep.runs[i];
        self.plots
            .update(ctx, i, &self.panels[i], run, self.run_until, self.running);
        let computed = start.elapsed().as_secs_f64() * 1e3;
        if self.plots.busy()
            && !self
                .plots
                .tracked
                .as_ref()
                .is_some_and(|t| t.track.is_background())
        {
            // Paused, egui repaints only on input: keep going until the snapshot is complete (a
            // background track asks for a repaint after each row itself).
            ctx.request_repaint();
        }
        let start = web_time::Instant::now();
        let mut open = true;
        let mut window = egui::Window::new(format!("Plots: panel {letter}"))
            .id(egui::Id::unique("divlab_plots_window"))
            .open(&mut open)
            .resizable(true)
            .default_size([560.0, 520.0])
            // Beside the side panel, over the right of the canvas.
            .pivot(egui::Align2::RIGHT_TOP)
            .default_pos(ctx.content_rect().right_top() + egui::vec2(-12.0, 48.0));
        if self.looks.narrow {
            // Phone: the full width of the lower half, so that the panel above stays in sight.
            let screen = ctx.content_rect();
            let width = (screen.width() - 16.0).max(200.0);
            let height = (screen.height() * 0.5).max(240.0);
            window = window
                .anchor(egui::Align2::CENTER_BOTTOM, [0.0, -8.0])
                .default_size([width, height])
                .max_width(width)
                .max_height(height);
        }
        let reproducible = self.reproducible;
        let plots = &mut self.plots;
        window.show(ctx, |ui| plots.contents_ui(ui, letter, reproducible));
        self.plots.open &= open;
        self.plots.cost_ms = (computed, start.elapsed().as_secs_f64() * 1e3);
    }
}

/// Whether every plotted value of `s` is positive (then it goes on the log₁₀ plot).
fn all_positive(s: &Series) -> bool {
    s.points.iter().all(|p| p[1] > 0.0)
}

fn outcome_words(o: &Outcome) -> &'static str {
    match o {
        Outcome::Value { .. } => "value",
        Outcome::Infinite { .. } => "infinite",
        Outcome::LowerBound { .. } => "lower bound",
        Outcome::NotApplicable { .. } => "not applicable",
        Outcome::Failed { .. } => "failed",
    }
}

fn battery_ui(ui: &mut egui::Ui, track: &BatteryTrack, letter: char) {
    let s = track.settings();
    let last = track.series().iter().filter_map(|s| s.last_step).max();
    let how = if track.is_background() {
        "computed on another thread".to_owned()
    } else {
        format!("computed at most {:.0} ms a frame", POLL_BUDGET_S * 1e3)
    };
    ui.label(displayable(&format!(
        "Every divergence of the battery between p and panel {letter}'s model, tracked over the steps: \
         does minimizing one lower the others? A snapshot every {} steps (or at the step reached when \
         the previous one is done), its {BATTERY_LEN} rows {how} while this window is open.",
        track.every(),
    )));
    let sinkhorn = match s.sinkhorn_points {
        Some(m) => format!(
            "; the Sinkhorn row on at most {m} points of each side (to keep frames short without threads)"
        ),
        None => String::new(),
    };
    ui.small(format!(
        "Settings: f-divergences and Cauchy–Schwarz on a {}² grid, {} samples of p (and of a mixture q), \
         {} slices for sliced W2{sinkhorn}.",
        s.resolution, s.samples, s.directions
    ));
    let progress = match track.in_progress() {
        Some((step, done)) => format!(", computing step {step}: {done} of {BATTERY_LEN} rows"),
        None => String::new(),
    };
    ui.small(format!(
        "{} snapshots done{}{progress}.",
        track.completed(),
        last.map_or(String::new(), |l| format!(", the last at step {l}")),
    ));
    let (positive, signed): (Vec<&Series>, Vec<&Series>) = track
        .series()
        .iter()
        .filter(|s| !s.points.is_empty())
        .partition(|s| all_positive(s));
    let max_step = track
        .series()
        .iter()
        .flat_map(|s| s.points.last())
        .map(|p| p[0])
        .fold(1.0f64, f64::max);
    // Room on the right for the legend, so that it covers the lines less.
    let x_max = max_step * 1.6;
    let legend = || {
        Legend::default()
            .position(Corner::RightTop)
            .text_style(egui::TextStyle::Small)
            .follow_insertion_order(true)
    };
    ui.strong("Rows whose every value is positive: log₁₀ of the value");
    // Tall enough for the legend (one small line per row) not to spill over the text below.
    let legend_height =
        positive.len() as f32 * 1.25 * ui.text_style_height(&egui::TextStyle::Small) + 40.0;
    let height = (ui.available_height() * 0.55).max(260.0).max(legend_height);
    Plot::new("battery_log")
        .height(height)
        .legend(legend())
        .x_axis_label("step")
        .y_axis_label("log₁₀ value")
        .include_x(0.0)
        .include_x(x_max)
        .show(ui, |plot_ui| {
            for s in &positive {
                let pts: PlotPoints<'_> = s.points.iter().map(|p| [p[0], p[1].log10()]).collect();
                plot_ui.line(Line::new(s.id, pts).width(1.5));
            }
        });
    if !signed.is_empty() {
        ui.strong(
            "Rows with a zero or negative value (estimators can dip below 0): value / max |value| \
             of the row, linear",
        );
        Plot::new("battery_signed")
            .height(170.0)
            .legend(legend())
            .x_axis_label("step")
            .y_axis_label("value / max |value|")
            .include_x(0.0)
            .include_x(x_max)
            .include_y(0.0)
            .show(ui, |plot_ui| {
                for s in &signed {
                    let scale = s.points.iter().map(|p| p[1].abs()).fold(0.0, f64::max);
                    let scale = if scale > 0.0 { scale } else { 1.0 };
                    let pts: PlotPoints<'_> =
                        s.points.iter().map(|p| [p[0], p[1] / scale]).collect();
                    plot_ui.line(Line::new(s.id, pts).width(1.5));
                }
            });
    }
    ui.add_space(4.0);
    let missing: Vec<&Series> = track
        .series()
        .iter()
        .filter(|s| !matches!(&s.last, Some(Outcome::Value { value, .. }) if value.is_finite()))
        .collect();
    if !missing.is_empty() {
        ui.strong(match last {
            Some(step) => {
                format!("Rows without an exact value at their last snapshot (step {step}):")
            }
            None => "Rows without an exact value yet:".to_owned(),
        });
        // Rows with the same outcome and reason share a line (a particle cloud makes 16 rows not apply).
        let mut lines: Vec<(Vec<&str>, String)> = Vec::new();
        for s in missing {
            let why = match &s.last {
                None => "not computed yet".to_owned(),
                Some(Outcome::Value { .. }) => "value not finite".to_owned(),
                Some(o) => format!(
                    "{} — {}",
                    outcome_words(o),
                    o.reason().unwrap_or("no reason given")
                ),
            };
            match lines.iter_mut().find(|(_, w)| *w == why) {
                Some((ids, _)) => ids.push(s.id),
                None => lines.push((vec![s.id], why)),
            }
        }
        for (ids, why) in lines {
            ui.label(displayable(&format!("{}: {why}", ids.join(", "))));
        }
    }
    egui::CollapsingHeader::new("Values at the last snapshot")
        .id_salt("battery_values")
        .show(ui, |ui| {
            egui::Grid::new("battery_values_grid")
                .num_columns(3)
                .striped(true)
                .show(ui, |ui| {
                    for s in track.series() {
                        ui.label(s.id);
                        ui.label(displayable(&s.name));
                        ui.label(match &s.last {
                            Some(Outcome::Value { value, .. }) => readable_value(*value),
                            Some(Outcome::LowerBound { value, .. }) => {
                                format!("≥ {}", readable_value(*value))
                            }
                            Some(o) => outcome_words(o).to_owned(),
                            None => "-".to_owned(),
                        });
                        ui.end_row();
                    }
                });
        });
}

/// "plain Sinkhorn: 4211 iterations, converged (L1 marginal error 9.9e-3), 0.210 s" (without the seconds when
/// `reproducible`: they vary from run to run).
fn solver_line(r: &SolverRun, reproducible: bool) -> String {
    let seconds = if reproducible {
        String::new()
    } else {
        format!(", {:.3} s", r.seconds)
    };
    format!(
        "{}: {} iterations, {} (L1 marginal error {:.1e}){seconds}",
        r.label,
        r.iterations,
        if r.converged {
            "converged"
        } else {
            "not converged: the iteration cap was reached"
        },
        r.marginal_error,
    )
}

fn solver_ui(ui: &mut egui::Ui, cache: Option<&SolverCache>, letter: char, reproducible: bool) {
    ui.label(displayable(&format!(
        "Plain Sinkhorn against Sinkhorn with sparse Newton acceleration on one problem: OT_ε between panel \
         {letter}'s model and its target, with the run's solver settings. After its sweeps, each Newton \
         iteration solves a sparsified Hessian system by conjugate gradients, so it costs a few Sinkhorn \
         iterations: compare the seconds as well as the counts."
    )));
    let Some(cache) = cache else {
        ui.label("computing…");
        return;
    };
    if cache.job.is_some() {
        ui.small(format!("computing at step {}…", cache.step));
    } else if !crate::run::worker::THREADED {
        ui.small(format!(
            "At step {}: recomputed when the run pauses (in the browser the solves would share the frame).",
            cache.step
        ));
    }
    let Some(data) = &cache.data else {
        return;
    };
    let c = match data {
        Ok(c) => c,
        Err(reason) => {
            ui.label(displayable(&format!("Not available: {reason}")));
            return;
        }
    };
    ui.small(displayable(&c.describe()));
    ui.small(format!(
        "Newton: {} Sinkhorn sweeps first, {}% of each plan row kept in the Hessian, at most {} CG iterations \
         a step.",
        c.newton.sweeps,
        crate::core::math::display_number(c.newton.keep * 100.0),
        c.newton.cg_iters
    ));
    for r in [&c.plain, &c.accelerated] {
        ui.label(displayable(&solver_line(r, reproducible)));
    }
    if c.accelerated.iterations > 0 {
        let time = if reproducible {
            String::new()
        } else {
            format!(
                ", {:.2}× the time",
                c.accelerated.seconds / c.plain.seconds.max(1e-9)
            )
        };
        ui.strong(format!(
            "Newton: {:.1}× fewer iterations{time}",
            c.plain.iterations as f64 / c.accelerated.iterations as f64,
        ));
    }
    let legend = Legend::default()
        .position(Corner::RightTop)
        .text_style(egui::TextStyle::Small)
        .follow_insertion_order(true);
    let height = (ui.available_height() * 0.8).max(240.0);
    Plot::new("solver_traces")
        .height(height)
        .legend(legend)
        .x_axis_label("iteration")
        .y_axis_label("log₁₀ L1 marginal error")
        .include_x(0.0)
        .show(ui, |plot_ui| {
            for r in [&c.plain, &c.accelerated] {
                let pts: PlotPoints<'_> = r
                    .trace
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| **e > 0.0 && e.is_finite())
                    .map(|(k, e)| [(k + 1) as f64, e.log10()])
                    .collect();
                plot_ui.line(Line::new(r.label, pts).width(1.5));
            }
            plot_ui.hline(HLine::new("tolerance", c.tolerance.log10()).width(1.0));
        });
}

fn generator_ui(ui: &mut egui::Ui, f: &FCache, letter: char) {
    let data = match &f.data {
        Ok(data) => data,
        Err(reason) => {
            ui.label(format!(
                "No f(t) view for panel {letter}: it needs a mixture fitted by gradient steps on an \
                 f-divergence, against a target with a density. Here:"
            ));
            ui.strong(displayable(reason));
            return;
        }
    };
    let (curve, h) = (&data.curve, &data.histogram);
    ui.heading(displayable(&curve.kind.name()));
    ui.label(displayable(&format!(
        "The generator f(t): D_f = E_q[f(p/q)] weighs each density ratio t = p/q by f(t). The bars \
         are where t falls for {} samples of the current q (step {}).",
        h.samples, f.step
    )));
    if let Some(note) = &curve.note {
        ui.small(displayable(note));
    }
    let (t_min, t_max) = overlay::DEFAULT_T_RANGE;
    ui.small(format!(
        "{} samples with t = 0 (p is 0 there), {} with t infinite (q is 0 at its own sample): not drawn. \
         {} below t = {t_min} and {} above t = {t_max}: counted in the end bars.",
        h.zeros, h.infinite, h.below, h.above
    ));
    let fs: Vec<[f64; 2]> = curve
        .points
        .iter()
        .filter(|p| p[1].is_finite())
        .map(|p| [p[0].log10(), p[1]])
        .collect();
    let (lo, hi) = fs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p[1]), hi.max(p[1]))
        });
    let (lo, hi) = if lo < hi { (lo, hi) } else { (-1.0, 1.0) };
    let tallest = h.fractions.iter().copied().fold(0.0, f64::max);
    let scale = if tallest > 0.0 {
        0.8 * (hi - lo) / tallest
    } else {
        0.0
    };
    let bars: Vec<Bar> = h
        .edges
        .windows(2)
        .zip(&h.fractions)
        .map(|(e, &share)| {
            let (a, b) = (e[0].log10(), e[1].log10());
            Bar::new(0.5 * (a + b), share * scale)
                .base_offset(lo)
                .width(b - a)
                .name(format!("{:.1}% of q's samples", share * 100.0))
        })
        .collect();
    ui.small(format!(
        "Bars scaled to the plot: the tallest is {:.1}% of the samples with a finite positive t.",
        tallest * 100.0
    ));
    Plot::new("generator_plot")
        .height((ui.available_height() - 8.0).max(260.0))
        .legend(Legend::default().position(Corner::LeftTop))
        .x_axis_label("log₁₀ t, t = p/q")
        .y_axis_label("f(t)")
        .show(ui, |plot_ui| {
            plot_ui.bar_chart(
                BarChart::new("t = p/q under the current q", bars)
                    .color(egui::Color32::from_rgb(110, 150, 210)),
            );
            plot_ui.line(Line::new("f(t)", PlotPoints::new(fs)).width(2.0));
            plot_ui.vline(VLine::new("t = 1 (p = q)", 0.0).width(1.0));
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_of_300_steps_gets_about_40_snapshots() {
        assert_eq!(every_for(300), 8);
        assert_eq!(300 / every_for(300) + 1, 38);
        assert_eq!(every_for(10), 1);
        assert_eq!(every_for(0), 1);
        assert_eq!(every_for(100_000), 2500);
    }
}
