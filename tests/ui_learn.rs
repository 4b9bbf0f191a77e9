//! The Learn panel: opens from the side panel, explains the selected panel's method with the entries
//! `divlab::learn::ids_of` names, draws every character of every entry with the app's fonts, and its linked
//! terms open the claim preset or scenario they name.

mod ui_support;

use egui_kittest::kittest::Queryable as _;
use ui_support::{cpu_harness, snapshot};

#[test]
fn learn_panel_explains_the_selected_panel_and_its_links_open_presets() {
    let mut h = cpu_harness(1400.0, 900.0);
    assert!(!h.state().learn_open());
    h.get_by_label("Learn").click();
    h.run_steps(3);
    assert!(h.state().learn_open());
    h.get_by_label("Learn more");

    // The default scenario (an MMD flow with a Gaussian kernel): the flow's entry, then the kernel's.
    let titles = h.state().learn_titles();
    assert_eq!(
        titles,
        ["MMD gradient flow", "Gaussian kernel"],
        "the default scenario's entries"
    );
    for t in &titles {
        h.get_by_label(t);
    }
    snapshot(&h.render().unwrap(), "learn_panel");

    // A linked term opens the scenario it names.
    h.get_by_label("a ring of eight modes").click();
    h.run_steps(3);
    assert_eq!(h.state().message(), None);
    let kind = h.state().panel_scenarios()[0].target.kind_name().to_owned();
    assert_eq!(kind, "ring8", "the ring8 scenario opened");

    // A claim preset: the entries follow its first panel (reverse KL by gradient), and a term opens
    // another claim preset with its claim shown.
    h.get_by_label("Claims").click();
    h.run_steps(3);
    h.get_by_label("Forward vs reverse KL on two modes").click();
    h.run_steps(3);
    let titles = h.state().learn_titles();
    assert!(
        titles.iter().any(|t| t == "Reverse KL(q‖p)")
            && titles.iter().any(|t| t.starts_with("Adam")),
        "{titles:?}"
    );
    h.get_by_label("drops modes").click();
    h.run_steps(3);
    let ring = divlab::assets::claim_presets()
        .into_iter()
        .filter_map(Result::ok)
        .find(|p| p.id == "ring8_mode_coverage")
        .expect("the ring-8 preset is bundled");
    h.get_by_label(&divlab::app::displayable(&ring.claim));
    assert_eq!(h.state().message(), None);
}

#[test]
fn every_character_of_every_entry_has_a_glyph_in_the_apps_fonts() {
    let h = cpu_harness(800.0, 600.0);
    let list = divlab::learn::entries().unwrap_or_else(|e| panic!("{e}"));
    let proportional = egui::FontId::proportional(14.0);
    let monospace = egui::FontId::monospace(14.0);
    let mut missing = Vec::new();
    h.ctx.fonts_mut(|f| {
        for e in &list {
            let prose = [&e.title, &e.text, &e.watch]
                .map(|s| divlab::app::displayable(s))
                .join(" ");
            for c in prose.chars().chain(e.papers.join(" ").chars()) {
                if !f.has_glyph(&proportional, c) {
                    missing.push(format!("{}: `{c}` (U+{:04X}) in the text", e.id, c as u32));
                }
            }
            for c in e.formula.join(" ").chars() {
                if !f.has_glyph(&monospace, c) {
                    missing.push(format!(
                        "{}: `{c}` (U+{:04X}) in the formula",
                        e.id, c as u32
                    ));
                }
            }
        }
    });
    missing.dedup();
    assert!(
        missing.is_empty(),
        "characters the app cannot draw: {missing:#?}"
    );
}

#[test]
fn learn_panel_on_a_phone_sits_above_the_panels() {
    let mut h = cpu_harness(400.0, 860.0);
    h.get_by_label("Learn").click();
    h.run_steps(3);
    h.get_by_label("Learn more");
    h.get_by_label("MMD gradient flow");
    let img = h.render().unwrap();
    img.save(ui_support::shots_dir().join("learn_phone.png"))
        .unwrap();
}
