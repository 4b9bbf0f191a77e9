//! The browser's touch test (`web/e2e.test.mjs`, "on a phone, a touch drag moves a target component") taps
//! and drags at fixed positions of a 390×844 phone viewport, because a canvas has no DOM to query. egui lays
//! the page out as it does natively, so this test finds the same widgets and the component's centre in the
//! native layout, fails with the new positions when a layout change moves them (update the constants here
//! and in the browser test to what it prints), and plays the same taps and drag with the pointer.

use divlab::app::DivlabApp;
use divlab::core::target::TargetSpec;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

/// The positions `web/e2e.test.mjs` taps and drags (CSS pixels = egui points at a device scale of 1).
const CONTROLS: egui::Pos2 = egui::pos2(320.0, 12.0);
const EDIT_CHECKBOX: egui::Pos2 = egui::pos2(60.0, 478.0);
/// Where component 0's centre of the default target is drawn once the controls are folded again.
const CENTRE: egui::Pos2 = egui::pos2(154.0, 229.0);
/// The drag, from [`CENTRE`].
const DRAG: egui::Vec2 = egui::vec2(50.0, -40.0);

fn means(h: &Harness<'static, DivlabApp>) -> Vec<[f64; 2]> {
    match &h.state().panel_scenarios()[0].target {
        TargetSpec::GaussianMixture(m) => m.means.clone(),
        other => panic!("not a mixture target: {other:?}"),
    }
}

fn tap(h: &mut Harness<'static, DivlabApp>, at: egui::Pos2) {
    h.event(egui::Event::PointerMoved(at));
    h.run_steps(1);
    for pressed in [true, false] {
        h.event(egui::Event::PointerButton {
            pos: at,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        });
        h.run_steps(1);
    }
    h.run_steps(2);
}

#[test]
fn the_browser_touch_tests_positions_are_the_controls_the_edit_checkbox_and_a_component_centre() {
    let mut h = Harness::builder()
        .with_size(egui::vec2(390.0, 844.0))
        .wgpu()
        .build_eframe(|cc| DivlabApp::new(cc));
    h.run_steps(3);
    let controls = h.get_by_label("Controls").rect();
    assert!(
        controls.contains(CONTROLS),
        "the Controls toggle is now at {controls:?} (centre {:?}): update CONTROLS here and in web/e2e.test.mjs",
        controls.center()
    );
    tap(&mut h, CONTROLS);
    let edit = h.get_by_label("edit the target on the canvas").rect();
    assert!(
        edit.contains(EDIT_CHECKBOX),
        "the edit checkbox is now at {edit:?} (centre {:?}): update EDIT_CHECKBOX here and in web/e2e.test.mjs",
        edit.center()
    );
    tap(&mut h, EDIT_CHECKBOX);
    tap(&mut h, CONTROLS);
    assert!(
        h.query_by_label("Scenarios").is_none(),
        "controls still open"
    );
    let before = means(&h);
    let rect = h.state().bbox_screen_rect(0).expect("heatmap drawn");
    let b = h.state().runs()[0].target().bbox();
    let centre = egui::pos2(
        rect.min.x + ((before[0][0] - b.x_min) / b.width()) as f32 * rect.width(),
        rect.min.y + ((b.y_max - before[0][1]) / b.height()) as f32 * rect.height(),
    );
    assert!(
        (centre - CENTRE).length() < 2.0,
        "component 0's centre is now drawn at {centre:?}: update CENTRE here and in web/e2e.test.mjs"
    );
    // The drag the browser test makes with touch events, here with the pointer.
    h.event(egui::Event::PointerMoved(CENTRE));
    h.run_steps(1);
    h.event(egui::Event::PointerButton {
        pos: CENTRE,
        button: egui::PointerButton::Primary,
        pressed: true,
        modifiers: egui::Modifiers::NONE,
    });
    h.run_steps(1);
    for k in 1..=8 {
        h.event(egui::Event::PointerMoved(CENTRE + DRAG * (k as f32 / 8.0)));
        h.run_steps(1);
    }
    h.event(egui::Event::PointerButton {
        pos: CENTRE + DRAG,
        button: egui::PointerButton::Primary,
        pressed: false,
        modifiers: egui::Modifiers::NONE,
    });
    h.run_steps(3);
    let after = means(&h);
    let moved = [after[0][0] - before[0][0], after[0][1] - before[0][1]];
    assert!(
        moved[0] > 0.1 && moved[1] > 0.1,
        "component 0 moved by {moved:?}"
    );
    assert_eq!(after[1..], before[1..], "only the dragged component moves");
}
