//! How the app looks and fits its screen: the colormap, light or dark theme and text size ([`Look`], kept
//! as one serializable value so it can be saved later), the top bar, the keyboard-shortcut help, and the
//! phone layout (below [`NARROW_WIDTH`] the controls fold away and the panels stack in one scrolling
//! column).

use serde::{Deserialize, Serialize};

use super::heatmap::Colormap;
use super::{Command, DivlabApp};

/// Below this content width (in points, after the text-size zoom) the app takes the phone layout: a phone
/// (390 points) and a 1280-pixel laptop screen at the 2× text size (640 points), where a 280-point side
/// panel would leave the panels too little room.
pub const NARROW_WIDTH: f32 = 700.0;

/// Height of a panel in the phone layout, at least.
pub const PANEL_MIN_HEIGHT: f32 = 300.0;

/// The text sizes offered (the whole UI is zoomed: 2× is readable from the back of a lecture room).
pub const TEXT_SCALES: [f32; 3] = [1.0, 1.5, 2.0];

/// Light or dark widgets and background.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThemeChoice {
    #[default]
    Dark,
    Light,
}

impl ThemeChoice {
    /// The same theme for the render layer's figures.
    pub fn to_render(self) -> crate::render::Theme {
        match self {
            Self::Dark => crate::render::Theme::Dark,
            Self::Light => crate::render::Theme::Light,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Dark => "dark",
            Self::Light => "light",
        }
    }

    fn egui(self) -> egui::Theme {
        match self {
            Self::Dark => egui::Theme::Dark,
            Self::Light => egui::Theme::Light,
        }
    }
}

/// The user's look settings: what a settings file would keep.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Look {
    pub colormap: Colormap,
    pub theme: ThemeChoice,
    /// Zoom of the whole UI (1 = egui's normal size).
    pub text_scale: f32,
}

impl Default for Look {
    fn default() -> Self {
        Self {
            colormap: Colormap::default(),
            theme: ThemeChoice::default(),
            text_scale: 1.0,
        }
    }
}

/// The app's state for all this (one field of [`DivlabApp`]).
#[derive(Debug, Default)]
pub(crate) struct LookState {
    pub look: Look,
    /// What was last handed to egui and the textures (`None` before the first frame).
    applied: Option<Look>,
    pub help_open: bool,
    /// Phone layout: the controls are shown above the panels.
    pub controls_open: bool,
    /// This frame uses the phone layout.
    pub narrow: bool,
}

/// Whether `width` points are too narrow for the side panel beside the canvas.
pub fn is_narrow(width: f32) -> bool {
    width < NARROW_WIDTH
}

/// `n` panel rectangles stacked down from the cursor of `ui` (a scrolling column `visible_height` tall),
/// full width, each at least [`PANEL_MIN_HEIGHT`] tall and at most the visible height, with a small gap.
pub fn stacked_rects(ui: &egui::Ui, n: usize, visible_height: f32) -> Vec<egui::Rect> {
    let gap = 12.0;
    let w = ui.available_width();
    // Header, a square-ish plot beside the 70-point colour bar, and the objective's history.
    let h = (w * 1.15).min(visible_height).max(PANEL_MIN_HEIGHT);
    let top = ui.cursor().min;
    (0..n)
        .map(|i| {
            egui::Rect::from_min_size(
                top + egui::vec2(0.0, i as f32 * (h + gap)),
                egui::vec2(w, h),
            )
        })
        .collect()
}

/// The shortcuts the app takes (see the top of `DivlabApp::ui`), as the help lists them.
pub const SHORTCUTS: [(&str, &str); 5] = [
    ("Space", "play / pause"),
    ("S or Right arrow", "one step in every panel"),
    ("R", "reset every panel to step 0"),
    ("?", "show or hide this help"),
    ("Esc", "close this help"),
];

impl DivlabApp {
    /// The look settings in use.
    pub fn look(&self) -> Look {
        self.looks.look
    }

    /// Changes the look (applied at the start of the next frame, like a click).
    pub fn set_look(&mut self, look: Look) {
        self.looks.look = look;
    }

    /// Whether the keyboard-shortcut help is open.
    pub fn help_open(&self) -> bool {
        self.looks.help_open
    }

    /// Where each panel's heatmap was drawn in the last frame, in points (`None` for a panel not drawn).
    pub fn panel_heatmap_rects(&self) -> &[Option<egui::Rect>] {
        &self.heatmap_rects
    }

    /// Hands the look to egui (theme, zoom) and to the pictures (colormap) when it changed. A zoom made
    /// with the keyboard (Ctrl +/-) is taken into the look instead of being undone.
    pub(crate) fn apply_look(&mut self, ctx: &egui::Context) {
        let look = self.looks.look;
        let applied = self.looks.applied;
        if applied.map(|a| a.theme) != Some(look.theme) {
            ctx.set_theme(look.theme.egui());
        }
        if applied.map(|a| a.text_scale) != Some(look.text_scale) {
            ctx.set_zoom_factor(look.text_scale);
        } else {
            self.looks.look.text_scale = ctx.zoom_factor();
        }
        if applied.map(|a| a.colormap) != Some(look.colormap) {
            self.compute.set_colormap(look.colormap);
            for slot in &mut self.model_texture_cpu {
                *slot = None;
            }
            self.redraw_picture(ctx);
        }
        self.looks.applied = Some(self.looks.look);
        self.looks.narrow = is_narrow(ctx.content_rect().width());
    }

    /// Redraws the target's picture with the current colour scale and colormap (when it differs).
    pub(crate) fn redraw_picture(&mut self, ctx: &egui::Context) {
        let colormap = self.looks.look.colormap;
        let Some(run) = self.lockstep.runs.first() else {
            return;
        };
        if self
            .picture
            .as_ref()
            .is_some_and(|p| p.colormap == colormap && p.scale == self.scale)
        {
            return;
        }
        match super::target_picture(ctx, run.target(), self.scale, colormap) {
            Ok(p) => self.picture = Some(p),
            Err(err) => self.message = Some(err),
        }
    }

    /// The top bar: the name, the look (or the Controls toggle on a phone), and the help button.
    pub(crate) fn top_bar_ui(&mut self, ui: &mut egui::Ui) {
        let narrow = self.looks.narrow;
        ui.horizontal(|ui| {
            ui.heading("divlab");
            if self.embed.shows("claims") {
                self.claims_menu_ui(ui);
            }
            if self.embed.shows("tours") {
                self.tours_menu_ui(ui);
            }
            if self.embed.shows("learn") {
                ui.toggle_value(&mut self.learn.open, "Learn").on_hover_text(
                    "What the selected panel's method, divergence and optimizer are: formulas, what \
                     to watch, papers",
                );
            }
            if self.embed.minimal {
                // Classroom and embed mode (`ui=min`): the run controls live here.
                self.run_buttons_ui(ui);
                if let Some(msg) = &self.message {
                    ui.colored_label(ui.visuals().error_fg_color, msg);
                }
            } else if !narrow && ui.ctx().content_rect().width() > 1100.0 {
                ui.label("— Divergence Lab: 2D distributions, fitted live");
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui
                    .button("?")
                    .on_hover_text("keyboard shortcuts (?)")
                    .clicked()
                {
                    self.commands.push(Command::ToggleHelp);
                }
                if self.embed.minimal && self.embed.shown.is_empty() {
                    // Nothing else to open.
                } else if narrow {
                    ui.toggle_value(&mut self.looks.controls_open, "Controls")
                        .on_hover_text(
                            "show the scenarios, settings and parameters above the panels",
                        );
                } else if self.embed.shows("look") {
                    // Right to left: the widgets come out in reverse order.
                    ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                        self.look_ui(ui);
                    });
                }
            });
        });
    }

    /// Colormap, theme and text size, in a row.
    pub(crate) fn look_ui(&mut self, ui: &mut egui::Ui) {
        let look = &mut self.looks.look;
        ui.horizontal_wrapped(|ui| {
            egui::ComboBox::from_label("colormap")
                .selected_text(look.colormap.label())
                .show_ui(ui, |ui| {
                    for c in Colormap::ALL {
                        ui.selectable_value(&mut look.colormap, c, c.label());
                    }
                })
                .response
                .on_hover_text("all of these read the same for colour-blind viewers");
            ui.separator();
            for theme in [ThemeChoice::Dark, ThemeChoice::Light] {
                ui.selectable_value(&mut look.theme, theme, theme.label());
            }
            ui.separator();
            ui.label("text");
            for scale in TEXT_SCALES {
                ui.selectable_value(&mut look.text_scale, scale, format!("{scale}x"))
                    .on_hover_text("zoom the whole window (also Ctrl + and Ctrl -)");
            }
        });
    }

    /// The keyboard-shortcut help, while open (`?` or the top bar's button; Esc, a click outside or Close
    /// shuts it).
    pub(crate) fn help_ui(&mut self, ctx: &egui::Context) {
        if !self.looks.help_open {
            return;
        }
        let response = egui::Modal::new(egui::Id::unique("divlab-help")).show(ctx, |ui| {
            ui.heading("Keyboard shortcuts");
            ui.add_space(6.0);
            egui::Grid::new("shortcuts")
                .num_columns(2)
                .spacing([24.0, 6.0])
                .show(ui, |ui| {
                    for (keys, what) in SHORTCUTS {
                        ui.strong(keys);
                        ui.label(what);
                        ui.end_row();
                    }
                });
            ui.add_space(6.0);
            ui.label(
                "On a plot: drag to pan, scroll or pinch to zoom, double-click to reset the view.",
            );
            ui.add_space(6.0);
            ui.button("Close").clicked()
        });
        if response.inner || response.should_close() {
            self.looks.help_open = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_look_round_trips_through_json_and_fills_missing_fields() {
        let look = Look {
            colormap: Colormap::Cividis,
            theme: ThemeChoice::Light,
            text_scale: 1.5,
        };
        let json = serde_json::to_string(&look).unwrap();
        assert_eq!(
            json,
            r#"{"colormap":"cividis","theme":"light","text_scale":1.5}"#
        );
        assert_eq!(serde_json::from_str::<Look>(&json).unwrap(), look);
        let partial: Look = serde_json::from_str(r#"{"theme":"light"}"#).unwrap();
        assert_eq!(partial.colormap, Colormap::Viridis);
        assert_eq!(partial.text_scale, 1.0);
    }

    #[test]
    fn a_phone_is_narrow_and_a_laptop_is_not() {
        assert!(is_narrow(390.0));
        assert!(!is_narrow(1280.0));
    }
}
