//! Direct manipulation of the target, driven with the pointer like a user would (rendered offscreen on
//! lavapipe): dragging a component's centre moves the target in every panel and the fits go on toward it;
//! a click on empty ground adds a component and right-click on its centre deletes it; on a sample target a click adds a point.

use divlab::app::{Command, DivlabApp, Layout};
use divlab::core::target::TargetSpec;
use divlab::run::Run;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

mod ui_support;

fn harness() -> Harness<'static, DivlabApp> {
    // The CPU core takes every step, so the step count after N frames and the snapshot are exact.
    ui_support::cpu_harness(1400.0, 860.0)
}

fn means(run: &Run) -> Vec<[f64; 2]> {
    match &run.scenario().target {
        TargetSpec::GaussianMixture(m) => m.means.clone(),
        other => panic!("not a mixture target: {other:?}"),
    }
}

/// Where the data point `x` is on screen in panel A (the heatmap covers the target's box).
fn screen(h: &Harness<'static, DivlabApp>, x: [f64; 2]) -> egui::Pos2 {
    let rect = h.state().bbox_screen_rect(0).expect("heatmap drawn");
    let b = h.state().runs()[0].target().bbox();
    egui::pos2(
        rect.min.x + ((x[0] - b.x_min) / b.width()) as f32 * rect.width(),
        rect.min.y + ((b.y_max - x[1]) / b.height()) as f32 * rect.height(),
    )
}

fn press(
    h: &mut Harness<'static, DivlabApp>,
    pos: egui::Pos2,
    button: egui::PointerButton,
    down: bool,
) {
    h.event(egui::Event::PointerButton {
        pos,
        button,
        pressed: down,
        modifiers: egui::Modifiers::NONE,
    });
    h.run_steps(1);
}

fn drag(h: &mut Harness<'static, DivlabApp>, from: egui::Pos2, to: egui::Pos2) {
    h.event(egui::Event::PointerMoved(from));
    h.run_steps(1);
    press(h, from, egui::PointerButton::Primary, true);
    for i in 1..=6 {
        let t = i as f32 / 6.0;
        h.event(egui::Event::PointerMoved(from + (to - from) * t));
        h.run_steps(1);
    }
    press(h, to, egui::PointerButton::Primary, false);
    h.run_steps(2);
}

#[test]
fn dragging_a_component_moves_the_target_in_every_panel_and_the_fits_go_on() {
    let mut h = harness();
    // The default scenario fits particles to a three-component mixture target.
    h.state_mut().command(Command::SetLayout(Layout::Two));
    h.run_steps(2);
    // A few steps first: the edit must not restart the fits.
    for _ in 0..4 {
        h.key_press(egui::Key::S);
        h.run_steps(2);
    }
    let steps_before: Vec<usize> = h.state().runs().iter().map(Run::steps_taken).collect();
    assert!(
        steps_before[0] > 0 && steps_before[0] == steps_before[1],
        "{steps_before:?}"
    );
    let points_before = h.state().runs()[1].target_points().to_vec();

    h.get_by_label("edit the target on the canvas").click();
    h.run_steps(2);
    let before = means(&h.state().runs()[0]);
    let from = screen(&h, before[0]);
    let to = from + egui::vec2(60.0, -40.0);
    drag(&mut h, from, to);

    for run in h.state().runs() {
        let after = means(run);
        let moved = [after[0][0] - before[0][0], after[0][1] - before[0][1]];
        assert!(
            moved[0] > 0.1 && moved[1] > 0.1,
            "component 0 moved by {moved:?}"
        );
        assert_eq!(after[1..], before[1..], "only the dragged component moves");
        assert!(run.steps_taken() >= steps_before[0], "the fit restarted");
    }
    // The panels share the target, and the flow's target points were drawn again from it.
    assert_eq!(means(&h.state().runs()[0]), means(&h.state().runs()[1]));
    assert_eq!(
        h.state().panel_scenarios()[0].target,
        h.state().panel_scenarios()[1].target
    );
    assert_ne!(
        h.state().runs()[1].target_points(),
        points_before.as_slice()
    );
    // The dragged centre lands under the pointer (within a couple of points).
    let landed = screen(&h, means(&h.state().runs()[0])[0]);
    assert!((landed - to).length() < 3.0, "{landed:?} vs {to:?}");

    // What the user sees while editing (the handles on both panels), kept as a snapshot.
    h.remove_cursor();
    h.run_steps(1);
    ui_support::snapshot(&h.render().expect("render"), "edit_target");

    // A click on empty ground adds a component; right-click on its centre deletes it again.
    let spot = screen(&h, [0.0, -3.0]);
    h.event(egui::Event::PointerMoved(spot));
    h.run_steps(1);
    press(&mut h, spot, egui::PointerButton::Primary, true);
    press(&mut h, spot, egui::PointerButton::Primary, false);
    h.run_steps(2);
    let added = means(&h.state().runs()[0]);
    assert_eq!(added.len(), before.len() + 1, "{added:?}");
    let new = added[added.len() - 1];
    assert!(
        (new[0] - 0.0).abs() < 0.1 && (new[1] + 3.0).abs() < 0.1,
        "{new:?}"
    );
    press(&mut h, spot, egui::PointerButton::Secondary, true);
    press(&mut h, spot, egui::PointerButton::Secondary, false);
    h.run_steps(2);
    assert_eq!(means(&h.state().runs()[1]).len(), before.len());
    // The side panel deletes the component last added or grabbed (touch screens have no right-click).
    press(&mut h, spot, egui::PointerButton::Primary, true);
    press(&mut h, spot, egui::PointerButton::Primary, false);
    h.run_steps(2);
    assert_eq!(means(&h.state().runs()[1]).len(), before.len() + 1);
    h.get_by_label(&format!("delete component {}", before.len() + 1))
        .click();
    h.run_steps(3);
    assert_eq!(means(&h.state().runs()[0]), means(&h.state().runs()[1]));
    assert_eq!(means(&h.state().runs()[1]).len(), before.len());
    assert!(h.state().message().is_none(), "{:?}", h.state().message());
}

#[test]
fn a_preset_turned_into_points_takes_a_point_per_click() {
    let mut h = harness();
    h.get_by_label("Two moons").click();
    h.run_steps(2);
    h.get_by_label("edit the target on the canvas").click();
    h.run_steps(2);
    h.get_by_label("turn it into points to paint on").click();
    h.run_steps(2);
    let count = |h: &Harness<'static, DivlabApp>| match &h.state().runs()[0].scenario().target {
        TargetSpec::Samples(s) => s.points.len(),
        other => panic!("not points: {other:?}"),
    };
    assert_eq!(count(&h), 1000);
    let spot = screen(&h, [0.5, 0.5]);
    h.event(egui::Event::PointerMoved(spot));
    h.run_steps(1);
    press(&mut h, spot, egui::PointerButton::Primary, true);
    press(&mut h, spot, egui::PointerButton::Primary, false);
    h.run_steps(2);
    assert_eq!(count(&h), 1001);
    let TargetSpec::Samples(s) = &h.state().runs()[0].scenario().target else {
        unreachable!()
    };
    let p = s.points[1000];
    assert!(
        (p[0] - 0.5).abs() < 0.05 && (p[1] - 0.5).abs() < 0.05,
        "{p:?}"
    );
    // The flow follows the new points (a sample target's points are its target points).
    assert_eq!(h.state().runs()[0].target_points().len(), 1001);
}

#[test]
fn a_png_dropped_onto_the_window_becomes_every_panels_target_and_the_fits_go_on() {
    let mut h = harness();
    h.state_mut().command(Command::SetLayout(Layout::Two));
    h.run_steps(2);
    for _ in 0..2 {
        h.key_press(egui::Key::S);
        h.run_steps(2);
    }
    let png = std::fs::read("assets/target.png").unwrap();
    h.input_mut()
        .dropped_files
        .push(std::sync::Arc::new(ui_support::Dropped {
            path: "/somewhere/heart.png".into(),
            bytes: png,
        }));
    h.run_steps(3);
    for run in h.state().runs() {
        match &run.scenario().target {
            TargetSpec::Image(spec) => assert_eq!(spec.asset, "dropped:heart.png"),
            other => panic!("not the dropped image: {other:?}"),
        }
        assert_eq!(run.steps_taken(), 2, "the fit restarted");
    }
    // A later rebuild (Reset) still finds the dropped image.
    h.key_press(egui::Key::R);
    h.run_steps(2);
    assert!(h.state().message().is_none(), "{:?}", h.state().message());
    assert!(matches!(
        h.state().runs()[1].scenario().target,
        TargetSpec::Image(_)
    ));
    // Something that is not an image is refused with its name, and the target stays.
    h.input_mut()
        .dropped_files
        .push(std::sync::Arc::new(ui_support::Dropped {
            path: "notes.txt".into(),
            bytes: b"hello".to_vec(),
        }));
    h.run_steps(2);
    let msg = h.state().message().unwrap_or_default().to_owned();
    assert!(msg.contains("notes.txt"), "{msg}");
    assert!(matches!(
        h.state().runs()[0].scenario().target,
        TargetSpec::Image(_)
    ));
}
