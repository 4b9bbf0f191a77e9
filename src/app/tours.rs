//! Guided tours ([`crate::tour`]): the top bar's Tours menu starts one; while it plays, a bar above the
//! panels shows the step's title, caption and what to do next, with Back, Next and End. A step opens
//! through the link (`Command::OpenLink`), with `tour=<id>.<step>` among the embedding keys, so the page
//! address follows the tour and reopening it resumes at that step.

use crate::tour::Tour;

use super::{Command, DivlabApp, displayable};

impl DivlabApp {
    /// The tour on screen and its step (0-based), if one plays.
    pub fn tour_step(&self) -> Option<(String, usize)> {
        self.embed.tour.clone()
    }

    /// The bundled tours' names, in the Tours menu's order (for tests).
    pub fn tour_names(&self) -> Vec<String> {
        self.tours.iter().map(|t| t.file.name.clone()).collect()
    }

    /// The top bar's Tours menu: each tour by name, with what it covers on hover.
    pub(crate) fn tours_menu_ui(&mut self, ui: &mut egui::Ui) {
        ui.menu_button("Tours", |ui| {
            ui.label("Guided tours (Back and Next step through them):");
            let mut start = None;
            for t in &self.tours {
                let minutes: u32 = t.file.steps.iter().map(|s| s.minutes).sum();
                if ui
                    .selectable_label(
                        self.embed.tour.as_ref().is_some_and(|(id, _)| id == t.id),
                        format!(
                            "{} ({} steps, {minutes} min)",
                            t.file.name,
                            t.file.steps.len()
                        ),
                    )
                    .on_hover_text(displayable(&t.file.about))
                    .clicked()
                {
                    start = Some(t.id);
                    ui.close();
                }
            }
            if let Some(id) = start {
                self.go_to_tour_step(id, 0);
            }
        });
    }

    fn tour(&self, id: &str) -> Option<&Tour> {
        self.tours.iter().find(|t| t.id == id)
    }

    /// Opens step `k` of tour `id`: its link with the page's other embedding keys and `tour=<id>.<k+1>`,
    /// and the claim bar when the step is a claim preset.
    pub fn go_to_tour_step(&mut self, id: &str, k: usize) {
        let Some(step) = self.tour(id).and_then(|t| t.file.steps.get(k)) else {
            return;
        };
        match step.link() {
            Ok((link, claim)) => {
                let mut pairs: Vec<String> = self
                    .embed
                    .pairs
                    .iter()
                    .filter(|(key, _)| key != "tour")
                    .map(|(key, v)| format!("{key}={v}"))
                    .collect();
                pairs.push(format!("tour={id}.{}", k + 1));
                self.claim_open = claim.and_then(|c| self.claims.iter().position(|p| p.id == c));
                self.commands
                    .push(Command::OpenLink(format!("{link}&{}", pairs.join("&"))));
            }
            Err(why) => self.message = Some(displayable(&why)),
        }
    }

    /// Leaves the tour; the view stays as it is.
    fn end_tour(&mut self) {
        self.embed.tour = None;
        self.embed.pairs.retain(|(key, _)| key != "tour");
    }

    /// The tour bar: step k of n, its title, caption and next action, and Back / Next / End.
    pub(crate) fn tour_ui(&mut self, ui: &mut egui::Ui) {
        let Some((id, k)) = self.embed.tour.clone() else {
            return;
        };
        let Some(tour) = self.tour(&id) else {
            return;
        };
        let n = tour.file.steps.len();
        let Some(step) = tour.file.steps.get(k) else {
            return;
        };
        let (name, title) = (tour.file.name.clone(), step.title.clone());
        let (caption, next) = (step.caption.clone(), step.next.clone());
        self.drawn_controls.push("tour");
        let mut go = None;
        let mut end = false;
        ui.horizontal_wrapped(|ui| {
            if ui.add_enabled(k > 0, egui::Button::new("Back")).clicked() {
                go = Some(k - 1);
            }
            if ui
                .add_enabled(k + 1 < n, egui::Button::new("Next"))
                .clicked()
            {
                go = Some(k + 1);
            }
            ui.label(format!("{name} · step {} of {n}:", k + 1));
            ui.strong(displayable(&title));
            if ui.small_button("end tour").clicked() {
                end = true;
            }
        });
        ui.label(displayable(&caption));
        ui.label(egui::RichText::new(format!("Next: {}", displayable(&next))).italics());
        if let Some(k) = go {
            self.go_to_tour_step(&id, k);
        } else if end {
            self.end_tour();
        }
    }
}
