//! The egui user interface: reads simulation state, sends commands, bounded work per frame.

pub mod heatmap;

/// The divlab app (being built; see the target list and heatmap in the next commit).
pub struct DivlabApp {
    heatmap_rect: Option<egui::Rect>,
}

impl DivlabApp {
    pub fn new(_cc: &eframe::CreationContext<'_>) -> Self {
        Self { heatmap_rect: None }
    }

    /// Where the heatmap was drawn in the last frame, in points.
    pub fn heatmap_screen_rect(&self) -> Option<egui::Rect> {
        self.heatmap_rect
    }
}

impl eframe::App for DivlabApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::CentralPanel::default().show(ui, |ui| {
            ui.heading("divlab");
        });
    }
}
