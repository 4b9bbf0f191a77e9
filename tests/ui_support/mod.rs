//! Shared by the app's kittests: the harness, where screenshots go, and the snapshot check. Not every test
//! binary uses every helper.
#![allow(dead_code)]

use divlab::app::DivlabApp;
use egui_kittest::{Harness, SnapshotOptions};

/// The app in a `width` × `height` window (points), rendered on lavapipe, with the wall-clock figures hidden
/// so that renders are reproducible, after its first two frames.
pub fn harness(width: f32, height: f32) -> Harness<'static, DivlabApp> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(width, height))
        .wgpu()
        .build_eframe(|cc| DivlabApp::new(cc));
    h.state_mut().set_reproducible(true);
    h.run_steps(2);
    h
}

/// [`harness`] with every step on the CPU core, so step counts after N frames and snapshots are exact.
pub fn cpu_harness(width: f32, height: f32) -> Harness<'static, DivlabApp> {
    // SAFETY: every test of a binary that uses this sets the same value before any thread reads it.
    unsafe { std::env::set_var("DIVLAB_BACKEND", "cpu") };
    harness(width, height)
}

/// Where screenshots go for a person to look at: `$CARGO_TARGET_DIR/ui-shots/` (or `target/ui-shots/`).
pub fn shots_dir() -> std::path::PathBuf {
    let shots = std::path::PathBuf::from(
        std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()),
    )
    .join("ui-shots");
    std::fs::create_dir_all(&shots).unwrap();
    shots
}

/// Saves `img` for a person to look at and compares it with `tests/snapshots/<name>.png` (tolerance for the
/// software renderer; update with `UPDATE_SNAPSHOTS=1`).
pub fn snapshot(img: &image::RgbaImage, name: &str) {
    img.save(shots_dir().join(format!("{name}.png"))).unwrap();
    let options = SnapshotOptions::new().threshold(1.0).max_failed_pixels(40);
    if let Err(err) = egui_kittest::try_image_snapshot_options(img, name, &options) {
        panic!("{name}: snapshot differs: {err}");
    }
}

/// A file dropped onto the window, as the native integration hands it over.
#[derive(Debug)]
pub struct Dropped {
    pub path: std::path::PathBuf,
    pub bytes: Vec<u8>,
}

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &std::path::Path {
        &self.path
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        Ok(self.bytes.clone())
    }
}
