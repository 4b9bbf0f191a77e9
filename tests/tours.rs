//! The bundled tours (`assets/tours/`): every one parses, every step opens in the app's link reader with
//! panels the run layer starts, and the divergence lecture is planned for 20 minutes.

use divlab::app::open_link_headless;
use divlab::gpu::backend::BackendChoice;
use divlab::run::{Run, load};
use divlab::tour::bundled_tours;

#[test]
fn every_step_of_every_tour_opens_and_starts() {
    let tours: Vec<_> = bundled_tours()
        .into_iter()
        .map(|t| t.unwrap_or_else(|e| panic!("{e}")))
        .collect();
    assert!(tours.len() >= 2);
    for tour in &tours {
        for (k, step) in tour.file.steps.iter().enumerate() {
            let what = format!("{} step {} ({})", tour.id, k + 1, step.title);
            let (link, _) = step.link().unwrap_or_else(|e| panic!("{what}: {e}"));
            let linked = open_link_headless(&link).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(!linked.panels.is_empty(), "{what}");
            for s in &linked.panels {
                let loaded = load::from_scenario(s.clone(), tour.id)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                let mut run = Run::new(&loaded, BackendChoice::Cpu, Err("tests run on the CPU"))
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                run.step()
                    .unwrap_or_else(|e| panic!("{what}: first step: {e:?}"));
            }
        }
        let minutes: u32 = tour.file.steps.iter().map(|s| s.minutes).sum();
        eprintln!(
            "{}: {} steps, {minutes} minutes planned",
            tour.id,
            tour.file.steps.len()
        );
    }
    let lecture = tours
        .iter()
        .find(|t| t.id == "divergences")
        .expect("the divergence lecture is bundled");
    let minutes: u32 = lecture.file.steps.iter().map(|s| s.minutes).sum();
    assert_eq!(
        minutes, 20,
        "the divergence lecture is planned for 20 minutes"
    );
    assert!(lecture.file.steps.len() >= 6);
}
