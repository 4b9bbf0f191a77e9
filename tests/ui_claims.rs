//! The Claims menu: every claim preset opens from the top bar, shows its claim above the panels (and a race's
//! steps per panel), and runs.

mod ui_support;

use egui_kittest::kittest::Queryable as _;
use ui_support::{cpu_harness, shots_dir};

#[test]
fn every_claim_preset_opens_from_the_menu_shows_its_claim_and_runs() {
    let mut h = cpu_harness(1400.0, 900.0);
    let names = h.state().claim_names();
    assert!(names.len() >= 5, "{names:?}");
    let presets: Vec<_> = divlab::assets::claim_presets()
        .into_iter()
        .map(|p| p.unwrap())
        .collect();
    for (k, preset) in presets.iter().enumerate() {
        h.get_by_label("Claims").click();
        h.run_steps(3);
        h.get_by_label(&preset.name).click();
        h.run_steps(3);
        assert_eq!(h.state().message(), None, "{}", preset.name);
        let panels = h.state().panel_scenarios().len();
        assert!(
            [1, 2, 4].contains(&panels),
            "{}: {panels} panels",
            preset.name
        );
        // The claim is on screen, above the panels.
        let claim = divlab::app::displayable(&preset.claim);
        h.get_by_label(&claim);
        // Its first panel is explained in the Learn panel (every id has an entry: tests/learn.rs).
        let learn = h.state().learn_titles();
        assert!(!learn.is_empty(), "{}: no Learn entries", preset.name);
        // It runs: a few frames of play move every panel.
        h.key_press(egui::Key::Space);
        for _ in 0..6 {
            h.run_steps(1);
        }
        h.key_press(egui::Key::Space);
        h.run_steps(2);
        assert!(
            h.state().runs().iter().all(|r| r.steps_taken() > 0),
            "{} did not run",
            preset.name
        );
        // A race shows, under the claim, the steps each panel needed (or "not yet").
        if let Some(race) = preset.race {
            let line = divlab::app::race_line(race.threshold, h.state().runs());
            assert!(line.contains("A (") && line.contains(" · D ("), "{line}");
            h.get_by_label(&divlab::app::displayable(&line));
            // Looked at, not compared: `ui-shots/claim_race_<id>.png`.
            let img = h.render().unwrap();
            img.save(shots_dir().join(format!("claim_race_{}.png", preset.id)))
                .unwrap();
        }
        if k == 0 {
            let img = h.render().unwrap();
            img.save(shots_dir().join("claim_preset.png")).unwrap();
        }
    }
}

/// A stop's cause, found off the frame thread, reaches the message and the panel while every panel is
/// paused (it was taken only by a retarget before): plain SVGD leaves the simplex in the mirrored-SVGD preset.
#[test]
fn a_stops_cause_arrives_while_paused() {
    let mut h = cpu_harness(1400.0, 900.0);
    let preset = divlab::assets::claim_presets()
        .into_iter()
        .map(|p| p.unwrap())
        .find(|p| p.id == "mirrored_svgd_simplex")
        .expect("the mirrored SVGD preset");
    h.get_by_label("Claims").click();
    h.run_steps(3);
    h.get_by_label(&preset.name).click();
    h.run_steps(3);
    h.key_press(egui::Key::Space);
    let mut frames = 0;
    while h.state().runs()[0].stopped().is_none() && frames < 400 {
        h.run_steps(1);
        frames += 1;
    }
    h.key_press(egui::Key::Space);
    h.run_steps(1);
    let stop = h.state().runs()[0]
        .stopped()
        .cloned()
        .expect("plain SVGD stopped");
    assert!(
        stop.reason.contains("outside the target's support"),
        "{stop}"
    );
    // Paused: only the per-frame poll can bring the cause in.
    let mut message = String::new();
    for _ in 0..500 {
        h.run_steps(1);
        message = h.state().message().unwrap_or_default().to_owned();
        if !message.contains("working out the cause") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(h.state().runs()[0].stop_cause().is_some(), "{message}");
    assert!(
        message.contains("Panel A stopped at step") && !message.contains("working out the cause"),
        "{message}"
    );
    assert!(
        message.contains(&h.state().runs()[0].stop_cause().unwrap().describe()),
        "{message}"
    );
    // A smaller step only delays the exit: the flow is named as the cause, mirrored SVGD as the fix.
    assert!(
        message.contains("the cause is the flow") && message.contains("mirrored_svgd keeps"),
        "{message}"
    );
    eprintln!("{message}");
}
