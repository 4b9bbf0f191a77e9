//! Guided tours in the app: the Tours menu starts one, Next and Back open the steps with the link's
//! `tour=<id>.<step>` kept in step, a claim step shows its claim, a link with a tour reopens at that step,
//! a bad tour key is refused with the valid tours, and End leaves the view as it is.

mod ui_support;

use divlab::app::Command;
use egui_kittest::kittest::Queryable as _;
use ui_support::{cpu_harness, snapshot};

#[test]
fn a_tour_steps_with_next_and_back_and_the_link_follows() {
    let mut h = cpu_harness(1400.0, 900.0);
    let names = h.state().tour_names();
    assert_eq!(names.len(), 2, "{names:?}");
    let tours: Vec<divlab::tour::Tour> = divlab::tour::bundled_tours()
        .into_iter()
        .map(|t| t.unwrap())
        .collect();
    let lecture = tours.iter().find(|t| t.id == "divergences").unwrap();

    h.get_by_label("Tours").click();
    h.run_steps(3);
    h.get_by_label_contains("Divergences in 20 minutes").click();
    h.run_steps(3);
    assert_eq!(h.state().message(), None);
    assert_eq!(h.state().tour_step(), Some(("divergences".into(), 0)));
    assert!(
        h.state().link().contains("tour=divergences.1"),
        "{}",
        h.state().link()
    );
    h.get_by_label(&lecture.file.steps[0].title);

    // Next: step 2 is a claim preset, shown with its claim and its two panels.
    h.get_by_label("Next").click();
    h.run_steps(3);
    assert_eq!(h.state().tour_step(), Some(("divergences".into(), 1)));
    assert!(
        h.state().link().contains("tour=divergences.2"),
        "{}",
        h.state().link()
    );
    assert_eq!(h.state().panel_scenarios().len(), 2);
    let claim = divlab::assets::claim_presets()
        .into_iter()
        .filter_map(Result::ok)
        .find(|p| p.id == "forward_vs_reverse_kl")
        .unwrap();
    h.get_by_label(&divlab::app::displayable(&claim.claim));
    h.get_by_label(&lecture.file.steps[1].title);
    snapshot(&h.render().unwrap(), "tour_bar");

    // Back to the first step, one panel again.
    h.get_by_label("Back").click();
    h.run_steps(3);
    assert_eq!(h.state().tour_step(), Some(("divergences".into(), 0)));
    assert_eq!(h.state().panel_scenarios().len(), 1);

    // End: the view stays, the tour leaves the link.
    h.get_by_label("end tour").click();
    h.run_steps(3);
    assert_eq!(h.state().tour_step(), None);
    assert!(!h.state().link().contains("tour="), "{}", h.state().link());
}

#[test]
fn a_link_reopens_a_tour_at_its_step_and_a_bad_one_names_the_tours() {
    let mut h = cpu_harness(1200.0, 800.0);
    let flows = divlab::tour::bundled_tours()
        .into_iter()
        .map(|t| t.unwrap())
        .find(|t| t.id == "particle_flows")
        .unwrap();
    let (link, _) = flows.file.steps[4].link().unwrap();
    h.state_mut()
        .command(Command::OpenLink(format!("{link}&tour=particle_flows.5")));
    h.run_steps(3);
    assert_eq!(h.state().message(), None);
    assert_eq!(h.state().tour_step(), Some(("particle_flows".into(), 4)));
    h.get_by_label(&flows.file.steps[4].title);
    let before = h.state().panel_scenarios().to_vec();
    for (bad, expected) in [
        ("v=1&tour=divergence.1", "did you mean `divergences`"),
        ("v=1&tour=divergences.99", "not one of 1 to 8"),
    ] {
        h.state_mut().command(Command::OpenLink(bad.into()));
        h.run_steps(2);
        let msg = h.state().message().unwrap_or_default().to_owned();
        assert!(msg.contains(expected), "{bad}: {msg}");
        assert!(msg.contains("tour"), "{bad}: {msg}");
        assert_eq!(h.state().panel_scenarios(), before.as_slice());
    }
}
