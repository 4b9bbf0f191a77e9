//! The link is the state: the app opens a link to exactly the linked panels, view and step (the same values
//! as the scenario run headless), writes its own state as a link that opens to the same, refuses a bad link
//! with the key and what is valid while keeping the view, and hides controls for classroom use.

mod ui_support;

use divlab::app::{Command, DivlabApp};
use divlab::gpu::backend::BackendChoice;
use divlab::run::{Run, load};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use ui_support::{cpu_harness, shots_dir};

/// Plays frames until every panel has reached `step` (or a bound of frames passes).
fn play_to(h: &mut Harness<'static, DivlabApp>, step: usize) {
    for _ in 0..400 {
        if h.state().runs().iter().all(|r| r.steps_taken() >= step) {
            break;
        }
        h.run_steps(1);
    }
    h.run_steps(2);
}

fn objective_after(scenario: &divlab::core::scenario::Scenario, steps: usize) -> f64 {
    let loaded = load::from_scenario(scenario.clone(), "test").unwrap();
    let mut run = Run::new(&loaded, BackendChoice::Cpu, Err("CPU asked for")).unwrap();
    for _ in 0..steps {
        run.step().unwrap();
    }
    run.history().last().unwrap().info.objective
}

#[test]
fn a_two_panel_link_opens_to_the_linked_settings_and_the_headless_values() {
    let mut h = cpu_harness(1200.0, 800.0);
    let link = "v=1&preset=two_modes_reverse_kl&layout=2&B.method.objective.divergence.kind=forward_kl\
                &B.method.optimizer.lr=0.03&step=12&view.scale=log&B.overlays=contours";
    h.state_mut().command(Command::OpenLink(link.into()));
    play_to(&mut h, 12);
    let app = h.state();
    assert_eq!(app.message(), None);
    let panels = app.panel_scenarios();
    assert_eq!(panels.len(), 2);
    let b = serde_json::to_value(&panels[1]).unwrap();
    assert_eq!(b["method"]["objective"]["divergence"]["kind"], "forward_kl");
    assert_eq!(b["method"]["optimizer"]["lr"], 0.03);
    let a = serde_json::to_value(&panels[0]).unwrap();
    assert_eq!(a["method"]["objective"]["divergence"]["kind"], "reverse_kl");
    // It stops at the linked step, with exactly the values of the scenario run headless for 12 steps.
    for (run, scenario) in app.runs().iter().zip(panels) {
        assert_eq!(run.steps_taken(), 12);
        let shown = run.history().last().unwrap().info.objective;
        assert_eq!(shown.to_bits(), objective_after(scenario, 12).to_bits());
    }
    assert_eq!(
        app.overlay_summary(1).map(|(captions, ..)| captions.len()),
        Some(1),
        "panel B's contours overlay is on"
    );
    // The app's own link says the same, and opens to the same in a fresh app.
    let written = app.link();
    assert!(written.contains("layout=2"), "{written}");
    assert!(written.contains("step=12"), "{written}");
    assert!(written.contains("view.scale=log"), "{written}");
    let mut again = cpu_harness(1200.0, 800.0);
    again
        .state_mut()
        .command(Command::OpenLink(written.clone()));
    play_to(&mut again, 12);
    assert_eq!(again.state().panel_scenarios(), panels);
    assert_eq!(again.state().link(), written);
    shot(&mut h, "link_two_panels");
}

/// Saves the harness's render for a person to look at.
fn shot(h: &mut Harness<'static, DivlabApp>, name: &str) {
    let img = h.render().unwrap();
    img.save(shots_dir().join(format!("{name}.png"))).unwrap();
}

#[test]
fn a_bad_link_keeps_the_view_and_says_which_key_and_what_is_valid() {
    let mut h = cpu_harness(1200.0, 800.0);
    let before = h.state().panel_scenarios().to_vec();
    for (link, expected) in [
        ("v=1&layout=3", "layout = `3`: valid values are 1, 2 and 4"),
        ("v=1&A.method.flow.step_size=1e9", "A.method.flow.step_size"),
        ("v=9", "newer divlab"),
        ("garbage%%", "has no `=`"),
    ] {
        h.state_mut().command(Command::OpenLink(link.into()));
        h.run_steps(2);
        let msg = h.state().message().unwrap_or_default().to_owned();
        assert!(msg.contains(expected), "{link}: {msg}");
        assert_eq!(h.state().panel_scenarios(), before.as_slice());
        h.get_by_label_contains(expected);
    }
    shot(&mut h, "link_refused");
}

#[test]
fn ui_min_keeps_only_play_step_and_reset() {
    let mut h = cpu_harness(1200.0, 800.0);
    h.state_mut()
        .command(Command::OpenLink("v=1&layout=2&ui=min".into()));
    h.run_steps(3);
    for kept in ["Run", "Step", "Reset"] {
        h.get_by_label(kept);
    }
    for gone in [
        "Copy link",
        "Panels:",
        "new seed",
        "Scenarios",
        "Parameters",
        "plots",
    ] {
        assert!(
            h.query_by_label(gone).is_none(),
            "`{gone}` is still on screen"
        );
    }
    assert_eq!(h.state().panel_scenarios().len(), 2);
    // Run plays, from the top bar.
    h.get_by_label("Run").click();
    h.run_steps(4);
    assert!(h.state().steps_taken() > 0);
    shot(&mut h, "link_ui_min");
    // The embedding keys stay in the app's link.
    assert!(h.state().link().ends_with("ui=min"), "{}", h.state().link());
}

#[test]
fn hide_names_the_controls_to_hide_and_show_keeps_one_knob() {
    let mut h = cpu_harness(1200.0, 800.0);
    h.state_mut().command(Command::OpenLink(
        "v=1&preset=two_modes_reverse_kl&hide=seed,optimizer,scenarios".into(),
    ));
    h.run_steps(3);
    assert!(h.query_by_label("new seed").is_none());
    assert!(h.query_by_label("Scenarios").is_none());
    assert!(
        h.query_by_label_contains("lr").is_none(),
        "the optimizer's lr is hidden"
    );
    h.get_by_label("Copy link");
    h.get_by_label("Panels:");
    shot(&mut h, "link_hide");
    let mut m = cpu_harness(1200.0, 800.0);
    m.state_mut().command(Command::OpenLink(
        "v=1&preset=two_modes_reverse_kl&ui=min&show=lr".into(),
    ));
    m.run_steps(3);
    assert!(m.query_all_by_label_contains("lr").count() > 0, "lr stays");
    assert!(m.query_by_label("Panels:").is_none());
    assert!(m.query_by_label_contains("beta1").is_none());
    shot(&mut m, "link_min_show_lr");
}

#[test]
fn copy_link_and_reset_everything() {
    let mut h = cpu_harness(1200.0, 800.0);
    h.state_mut().command(Command::OpenLink(
        "v=1&preset=two_modes_jensen_shannon&layout=4".into(),
    ));
    h.run_steps(3);
    assert_eq!(h.state().panel_scenarios().len(), 4);
    h.get_by_label("Copy link").click();
    h.run_steps(2);
    let msg = h.state().message().unwrap_or_default().to_owned();
    assert!(msg.starts_with("Link copied"), "{msg}");
    h.get_by_label("Reset everything").click();
    h.run_steps(3);
    assert_eq!(h.state().panel_scenarios().len(), 1);
    assert_eq!(h.state().link(), "v=1&preset=mixture_mmd_flow");
}
