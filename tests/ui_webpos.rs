//! The browser test (`web/e2e.test.mjs`, "a new divergence in one panel") clicks panel B's divergence picker
//! and its "forward KL(p||q)" entry at fixed positions of a 1200×800 canvas, because a canvas has no DOM to
//! query. egui lays the page out as it does natively, so this test finds both widgets in the native layout
//! and fails, with the new positions, when a layout change moves them: update `B_PICKER` / `B_FORWARD_KL`
//! in the browser test to what it prints. Likewise the File menu and its "canvas (PNG)" entry, which the
//! download test clicks.

use divlab::app::{Command, DivlabApp, Layout};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

/// The positions `web/e2e.test.mjs` clicks.
const B_PICKER: egui::Pos2 = egui::pos2(822.0, 44.0);
const B_FORWARD_KL: egui::Pos2 = egui::pos2(858.0, 71.0);
/// The File menu and its "canvas (PNG)" entry (the browser test of the PNG download).
const FILE_MENU: egui::Pos2 = egui::pos2(224.0, 556.0);
const CANVAS_PNG: egui::Pos2 = egui::pos2(297.0, 665.0);
const FIGURE_SVG: egui::Pos2 = egui::pos2(377.0, 688.0);
const ANIMATION_GIF: egui::Pos2 = egui::pos2(467.0, 688.0);

#[test]
fn the_browser_tests_click_positions_are_panel_bs_picker_and_its_forward_kl_entry() {
    // SAFETY: set before the app reads them; this binary has a single test.
    unsafe { std::env::set_var("DIVLAB_SCENARIO", "two_modes_reverse_kl") };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1200.0, 800.0))
        .wgpu()
        .build_eframe(|cc| DivlabApp::new(cc));
    h.run_steps(2);
    h.state_mut().command(Command::SetLayout(Layout::Two));
    h.run_steps(3);
    let picker = h
        .get_all_by_value("reverse KL(q||p)")
        .nth(1)
        .expect("panel B's picker");
    let at = picker.rect();
    assert!(
        at.contains(B_PICKER),
        "panel B's divergence picker is now at {at:?} (centre {:?}): update B_PICKER here and in web/e2e.test.mjs",
        at.center()
    );
    picker.click();
    h.run_steps(2);
    let entry = h.get_by_label("forward KL(p||q)").rect();
    assert!(
        entry.contains(B_FORWARD_KL),
        "its forward KL entry is now at {entry:?} (centre {:?}): update B_FORWARD_KL here and in web/e2e.test.mjs",
        entry.center()
    );
    h.get_by_label("forward KL(p||q)").click();
    h.run_steps(3);
    assert_eq!(
        h.state().panel_scenarios()[1].method,
        divlab::app::with_divergence(
            &h.state().panel_scenarios()[0],
            divlab::core::fdiv::FDivKind::ForwardKl
        )
        .method
    );
    let file = h.get_by_label("File").rect();
    assert!(
        file.contains(FILE_MENU),
        "the File menu is now at {file:?} (centre {:?}): update FILE_MENU here and in web/e2e.test.mjs",
        file.center()
    );
    h.get_by_label("File").click();
    h.run_steps(3);
    let png = h.get_by_label("canvas (PNG)").rect();
    assert!(
        png.contains(CANVAS_PNG),
        "its canvas (PNG) entry is now at {png:?} (centre {:?}): update CANVAS_PNG here and in web/e2e.test.mjs",
        png.center()
    );
    for (label, at, name) in [
        ("figure (SVG)", FIGURE_SVG, "FIGURE_SVG"),
        ("animation (GIF)", ANIMATION_GIF, "ANIMATION_GIF"),
    ] {
        let r = h.get_by_label(label).rect();
        assert!(
            r.contains(at),
            "its {label} entry is now at {r:?} (centre {:?}): update {name} here and in web/e2e.test.mjs",
            r.center()
        );
    }
}
