//! The Learn panel: what the selected panel's method, objective, divergence, estimator, optimizer and
//! kernel are ([`crate::learn`]'s entries), with the formula, what to watch and the papers. A linked term
//! opens the claim preset or bundled scenario that shows it.

use crate::learn::{LearnEntry, Span, ids_of};

use super::{Command, DivlabApp, displayable};

/// The Learn panel's state: the entries (parsed once) and whether the panel is open.
#[derive(Default)]
pub(crate) struct LearnState {
    pub entries: Vec<LearnEntry>,
    pub open: bool,
}

impl LearnState {
    pub fn new() -> Self {
        Self {
            // The bundled file is checked by tests/learn.rs; a broken one shows no entries.
            entries: crate::learn::entries().unwrap_or_default(),
            open: false,
        }
    }
}

impl DivlabApp {
    /// Whether the Learn panel is open.
    pub fn learn_open(&self) -> bool {
        self.learn.open
    }

    /// Opens or closes the Learn panel (like its toggle in the side panel).
    pub fn set_learn_open(&mut self, open: bool) {
        self.learn.open = open;
    }

    /// The titles the Learn panel shows for the selected panel, in order (for tests).
    pub fn learn_titles(&self) -> Vec<String> {
        self.learn_shown()
            .into_iter()
            .map(|e| e.title.clone())
            .collect()
    }

    fn learn_shown(&self) -> Vec<&LearnEntry> {
        let Some(scenario) = self
            .panels
            .get(self.edited_panel)
            .or_else(|| self.panels.first())
        else {
            return Vec::new();
        };
        let panel = if self.panels.get(self.edited_panel).is_some() {
            self.edited_panel
        } else {
            0
        };
        let mut ids = ids_of(scenario);
        // An overlay with an entry of its own (`overlay.<id>`) is explained while it is on.
        if let Some(t) = self.overlay_toggles.get(panel) {
            ids.extend(
                crate::render::overlays::Overlay::ALL
                    .iter()
                    .filter(|o| t.get(**o))
                    .map(|o| format!("overlay.{}", o.id())),
            );
        }
        ids.iter()
            .filter_map(|id| self.learn.entries.iter().find(|e| &e.id == id))
            .collect()
    }

    /// The panel's contents: one section per entry of the selected panel's scenario.
    pub(crate) fn learn_ui(&mut self, ui: &mut egui::Ui) {
        self.drawn_controls.push("learn");
        let letter = super::panel::panel_letter(self.edited_panel);
        ui.horizontal(|ui| {
            ui.heading("Learn more");
            if self.panels.len() > 1 {
                ui.label(format!("(panel {letter})"));
            }
        });
        let mut open = None;
        let shown: Vec<LearnEntry> = self.learn_shown().into_iter().cloned().collect();
        if shown.is_empty() {
            ui.label("No entry for this panel's method.");
        }
        for entry in &shown {
            ui.add_space(4.0);
            egui::CollapsingHeader::new(egui::RichText::new(displayable(&entry.title)).strong())
                .id_salt(("learn", &entry.id))
                .default_open(true)
                .show(ui, |ui| {
                    if let Some(target) = entry_ui(ui, entry) {
                        open = Some(target);
                    }
                });
        }
        if let Some(target) = open {
            self.open_learn_link(&target);
        }
    }

    /// Opens what a linked term names: a claim preset (with its claim shown) or a bundled scenario.
    fn open_learn_link(&mut self, target: &str) {
        if let Some(i) = self.claims.iter().position(|c| c.id == target) {
            self.claim_open = Some(i);
            self.commands
                .push(Command::OpenLink(self.claims[i].link.clone()));
        } else if self.scenarios.iter().any(|(name, _)| name == target) {
            self.claim_open = None;
            self.commands
                .push(Command::OpenLink(format!("v=1&preset={target}")));
        } else {
            self.message = Some(format!(
                "Learn more: no preset or scenario named `{target}`"
            ));
        }
    }
}

/// One entry: the explanation (with its links), the formula, what to watch and the papers. Returns the
/// target of a clicked link.
fn entry_ui(ui: &mut egui::Ui, entry: &LearnEntry) -> Option<String> {
    let mut clicked = None;
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 0.0;
        for span in crate::learn::spans(&entry.text) {
            match span {
                Span::Text(t) => {
                    ui.label(displayable(t));
                }
                Span::Link { term, target } => {
                    if ui
                        .link(displayable(term))
                        .on_hover_text(format!("open the preset `{target}`"))
                        .clicked()
                    {
                        clicked = Some(target.to_owned());
                    }
                }
            }
        }
    });
    ui.add_space(2.0);
    egui::Frame::group(ui.style()).show(ui, |ui| {
        for line in &entry.formula {
            ui.label(egui::RichText::new(line).monospace());
        }
    });
    ui.label(egui::RichText::new(format!("Watch: {}", displayable(&entry.watch))).italics());
    if !entry.papers.is_empty() {
        ui.small(format!("Papers: {}", entry.papers.join("; ")));
    }
    clicked
}
