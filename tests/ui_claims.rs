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
