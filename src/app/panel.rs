//! The canvas's panels: the layout (1, 2 or 4 panels fitting the same target from the same seed), the
//! commands the widgets return (applied once per frame by the app), and each panel's header: its method,
//! step, objective and where it computes, with the controls that change this panel only.

use crate::core::fdiv::{Estimator, FDivKind};
use crate::core::fit::Objective;
use crate::core::scenario::{Method, Scenario};
use crate::run::Run;

/// How many panels the canvas shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    One,
    /// Side by side.
    Two,
    /// 2 × 2.
    Four,
}

impl Layout {
    pub const ALL: [Layout; 3] = [Layout::One, Layout::Two, Layout::Four];

    /// The layout for `n` panels (4 for more than 2).
    pub fn of(n: usize) -> Self {
        match n {
            0 | 1 => Self::One,
            2 => Self::Two,
            _ => Self::Four,
        }
    }

    pub fn panels(self) -> usize {
        match self {
            Self::One => 1,
            Self::Two => 2,
            Self::Four => 4,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::One => "1",
            Self::Two => "2",
            Self::Four => "4",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::One => "one panel",
            Self::Two => "two panels side by side: the same target and seed, two methods",
            Self::Four => "four panels, 2 × 2",
        }
    }

    /// The panels' rectangles inside `area`, in reading order, with a small gap between them.
    pub fn split(self, area: egui::Rect) -> Vec<egui::Rect> {
        let gap = 8.0;
        let (cols, rows) = match self {
            Self::One => (1, 1),
            Self::Two => (2, 1),
            Self::Four => (2, 2),
        };
        let w = (area.width() - gap * (cols - 1) as f32) / cols as f32;
        let h = (area.height() - gap * (rows - 1) as f32) / rows as f32;
        (0..rows)
            .flat_map(|r| (0..cols).map(move |c| (r, c)))
            .map(|(r, c)| {
                let min = area.min + egui::vec2(c as f32 * (w + gap), r as f32 * (h + gap));
                egui::Rect::from_min_size(min, egui::vec2(w, h))
            })
            .collect()
    }
}

/// What the widgets ask for; the app applies them at the start of the next frame, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    SetLayout(Layout),
    /// Panel `i` takes this scenario (its run is rebuilt; the other panels keep going).
    SetPanel(usize, Box<Scenario>),
    /// Copies panel `i`'s scenario into panel `i + 1`.
    Duplicate(usize),
    /// Restarts panel `i` from step 0.
    ResetPanel(usize),
    /// Every panel takes this target, and the fits go on toward it (an edit on the canvas).
    EditTarget(Box<crate::core::target::TargetSpec>),
    PlayPause,
    Step,
    Reset,
    /// Every panel's scenario takes this seed; all panels restart from step 0.
    SetSeed(u64),
    /// Opens or closes the keyboard-shortcut help.
    ToggleHelp,
    /// Opens a link (`v=1&preset=…`, see [`super::state`]); a bad one keeps the view and says why.
    OpenLink(String),
    /// Back to the default scenario, layout and view (the saved session is replaced on the next save).
    ResetEverything,
}

/// "A", "B", "C", "D".
pub fn panel_letter(i: usize) -> char {
    char::from(b'A' + (i % 26) as u8)
}

/// The method in words: "reverse KL(q‖p) (grid 256²), Adam", "EM", "Sinkhorn flow" (the render layer's
/// words, so that a figure and the app name a method alike).
pub fn method_label(s: &Scenario) -> String {
    crate::render::scene::method_label(s)
}

/// The f-divergences a gradient fit can switch between (α = ½ and Rényi α = 2 as representatives).
fn divergence_choices() -> Vec<FDivKind> {
    FDivKind::all()
}

/// What a panel's header shows.
pub struct HeaderView<'a> {
    pub i: usize,
    pub panel_count: usize,
    pub scenario: &'a Scenario,
    pub run: &'a Run,
    /// Which controls the page shows (`ui=min`, `hide=`).
    pub embed: &'a super::state::Embed,
    /// Show wall-clock figures (the CPU step time); off for reproducible screenshots.
    pub show_timing: bool,
}

/// The panel's header: letter and method, step and objective, the backend and why; a divergence picker
/// for gradient fits; Reset, Duplicate-into-the-next-panel and the overlays menu (each unless the link hides
/// it). Returns nothing: it pushes commands (and flips the overlay toggles).
pub fn header_ui(
    ui: &mut egui::Ui,
    view: &HeaderView<'_>,
    commands: &mut Vec<Command>,
    toggles: &mut super::overlays::Toggles,
) {
    let HeaderView {
        i,
        panel_count,
        scenario,
        run,
        embed,
        show_timing,
    } = *view;
    ui.horizontal_wrapped(|ui| {
        ui.strong(format!("{}", panel_letter(i)));
        if let Method::Gradient { objective, .. } = &scenario.method
            && embed.shows("divergence")
        {
            let current = match objective {
                Objective::FDivergence { divergence, .. } => Some(*divergence),
                _ => None,
            };
            let shown = current.map_or_else(|| objective.name(), |d| d.name());
            egui::ComboBox::from_id_salt(("divergence", i))
                .selected_text(super::displayable(&shown))
                .show_ui(ui, |ui| {
                    for kind in divergence_choices() {
                        if ui
                            .selectable_label(
                                current == Some(kind),
                                super::displayable(&kind.name()),
                            )
                            .clicked()
                            && current != Some(kind)
                        {
                            commands.push(Command::SetPanel(
                                i,
                                Box::new(with_divergence(scenario, kind)),
                            ));
                        }
                    }
                })
                .response
                .on_hover_text(super::displayable(&method_label(scenario)));
        } else {
            ui.label(super::displayable(&method_label(scenario)));
        }
        let panel_buttons = embed.shows("panel");
        if panel_buttons
            && ui
                .small_button("Reset")
                .on_hover_text("restart this panel from step 0")
                .clicked()
        {
            commands.push(Command::ResetPanel(i));
        }
        if panel_buttons
            && i + 1 < panel_count
            && ui
                .small_button(format!("Duplicate to {}", panel_letter(i + 1)))
                .on_hover_text("copy this panel's settings into the next panel")
                .clicked()
        {
            commands.push(Command::Duplicate(i));
        }
        if embed.shows("overlays") {
            super::overlays::menu_ui(ui, i, toggles);
        }
    });
    ui.horizontal_wrapped(|ui| {
        let placement = run.placement();
        let badge = if placement.is_gpu() { "GPU" } else { "CPU" };
        ui.label(format!("step {} · {badge}", run.steps_taken()))
            .on_hover_text(super::displayable(&placement.to_string()));
        if show_timing
            && !placement.is_gpu()
            && let Some(s) = run.cpu_step_seconds()
        {
            ui.small(ms_per_step_label(s))
                .on_hover_text(
                    "wall-clock time of this panel's recent CPU steps (an exponential average); panels in \
                     lockstep share the steps per second of the top bar, so this is what compares their costs",
                );
        }
        if let Some(r) = run.history().last() {
            let spread = r
                .info
                .standard_error
                .map(|se| format!(" ± {se:.1e}"))
                .unwrap_or_default();
            ui.label(super::displayable(&format!(
                "{} = {}{spread}",
                r.info.objective_name,
                super::readable_value(r.info.objective)
            )));
            if let Some(d) = &r.info.sinkhorn
                && r.info.objective_id == "ot_epsilon"
            {
                ui.small(ot_epsilon_iterations_label(d)).on_hover_text(format!(
                    "Sinkhorn iterations of this step's one problem, OT_ε(particles, target): without \
                     debiasing there are no self-problems; each step starts from the previous one's \
                     potentials. L1 marginal error {:.1e}{}",
                    d.marginal_error,
                    if d.converged {
                        " (below the tolerance)"
                    } else {
                        ": the iteration cap was reached before the tolerance"
                    }
                ));
            } else if let Some(d) = &r.info.sinkhorn {
                ui.small(sinkhorn_iterations_label(d)).on_hover_text(format!(
                    "Sinkhorn iterations of this step: the particles–target problem (xy), the particles' own \
                     (xx) and the target's (yy, computed once while the target points stay the same); each \
                     step starts from the previous one's potentials. Largest L1 marginal error {:.1e}{}",
                    d.marginal_error,
                    if d.converged {
                        " (below the tolerance)"
                    } else {
                        ": the iteration cap was reached before the tolerance"
                    }
                ));
            }
        }
        if let Some(stop) = run.stopped() {
            ui.colored_label(
                ui.visuals().error_fg_color,
                super::displayable(&stop.to_string()),
            );
            match run.stop_cause() {
                Some(cause) => {
                    ui.small(super::displayable(&cause.describe()));
                }
                None => {
                    ui.small("working out the cause…");
                    // The retries run off the frame thread: look again soon.
                    ui.ctx()
                        .request_repaint_after(std::time::Duration::from_millis(50));
                }
            }
            // Halving the step size was retried and goes on: the fix is one click away.
            if run.stop_cause().is_some_and(|c| c.halving_fixes())
                && embed.shows("panel")
                && let Some((setting, halved)) = super::params_ui::halved_step(scenario)
                && ui
                    .small_button("retry with half the step size")
                    .on_hover_text(format!("{setting}: restart this panel with half of it"))
                    .clicked()
            {
                commands.push(Command::SetPanel(i, Box::new(halved)));
            }
        }
    });
}

/// "12.3 ms/step": three significant digits (two decimals below 10 ms, none from 100 ms).
pub fn ms_per_step_label(seconds: f64) -> String {
    let ms = seconds * 1e3;
    let decimals = if ms < 10.0 {
        2
    } else if ms < 100.0 {
        1
    } else {
        0
    };
    format!("{ms:.decimals$} ms/step")
}

/// "Sinkhorn iterations xy 3 (OT_ε alone) · marginal error 9.9e-4": the Sinkhorn flow without debiasing solves one problem a step.
pub fn ot_epsilon_iterations_label(d: &crate::core::sinkhorn::SinkhornDiagnostics) -> String {
    format!(
        "Sinkhorn iterations xy {} (OT_ε alone) · marginal error {:.1e}{}",
        d.iterations_xy,
        d.marginal_error,
        if d.converged { "" } else { " (not converged)" }
    )
}

/// "Sinkhorn iterations xy 3 · xx 1 · yy cached · marginal error 9.9e-4" (the largest L1 marginal error of
/// the step's problems; and "not converged" when the cap was reached).
pub fn sinkhorn_iterations_label(d: &crate::core::sinkhorn::SinkhornDiagnostics) -> String {
    let yy = if d.iterations_yy == 0 {
        "cached".to_owned()
    } else {
        d.iterations_yy.to_string()
    };
    format!(
        "Sinkhorn iterations xy {} · xx {} · yy {yy} · marginal error {:.1e}{}",
        d.iterations_xy,
        d.iterations_xx,
        d.marginal_error,
        if d.converged { "" } else { " (not converged)" }
    )
}

/// `scenario` with its gradient fit's objective replaced by the f-divergence `kind` (the estimator kept
/// when it was an f-divergence, the grid otherwise).
pub fn with_divergence(scenario: &Scenario, kind: FDivKind) -> Scenario {
    let mut s = scenario.clone();
    if let Method::Gradient { objective, .. } = &mut s.method {
        let estimator = match objective {
            Objective::FDivergence { estimator, .. } => *estimator,
            _ => Estimator::default(),
        };
        *objective = Objective::FDivergence {
            divergence: kind,
            estimator,
        };
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinkhorn_labels_show_the_iterations_and_the_marginal_error() {
        let d = crate::core::sinkhorn::SinkhornDiagnostics {
            iterations_xy: 12,
            iterations_xx: 3,
            iterations_yy: 0,
            marginal_error: 9.94e-4,
            converged: true,
        };
        assert_eq!(
            sinkhorn_iterations_label(&d),
            "Sinkhorn iterations xy 12 · xx 3 · yy cached · marginal error 9.9e-4"
        );
        let capped = crate::core::sinkhorn::SinkhornDiagnostics {
            converged: false,
            marginal_error: 0.02,
            ..d
        };
        assert_eq!(
            ot_epsilon_iterations_label(&capped),
            "Sinkhorn iterations xy 12 (OT_ε alone) · marginal error 2.0e-2 (not converged)"
        );
    }

    #[test]
    fn ms_per_step_keeps_three_significant_digits() {
        assert_eq!(ms_per_step_label(0.001234), "1.23 ms/step");
        assert_eq!(ms_per_step_label(0.01234), "12.3 ms/step");
        assert_eq!(ms_per_step_label(0.1234), "123 ms/step");
        assert_eq!(ms_per_step_label(2.5), "2500 ms/step");
    }

    #[test]
    fn layouts_split_the_area_into_that_many_disjoint_panels() {
        let area = egui::Rect::from_min_size(egui::pos2(10.0, 20.0), egui::vec2(808.0, 608.0));
        for layout in Layout::ALL {
            let rects = layout.split(area);
            assert_eq!(rects.len(), layout.panels());
            assert_eq!(Layout::of(layout.panels()), layout);
            for (a, r) in rects.iter().enumerate() {
                assert!(area.contains_rect(*r), "{layout:?} {a}");
                for other in &rects[a + 1..] {
                    assert!(!r.intersects(*other) || r.intersect(*other).area() < 1e-3);
                }
            }
        }
        assert_eq!(panel_letter(3), 'D');
    }
}
