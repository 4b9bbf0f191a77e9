//! The Plots window of the selected panel, driven like a user would (rendered offscreen on lavapipe): the
//! battery tracked over the steps with a legend naming every row, the rows without a value listed with
//! their reason, and the generator f(t) with the ratio p/q under it (or why there is none). A snapshot of
//! the window after some steps is in `tests/snapshots/` (`UPDATE_SNAPSHOTS=1 cargo test --test ui_plots`).

use divlab::app::{Command, DivlabApp, Layout, displayable};
use divlab::core::fdiv::FDivKind;
use divlab::core::measure::row_ids;
use divlab::run::{load, overlay};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

mod ui_support;
use ui_support::{cpu_harness as harness, shots_dir, snapshot};

/// Frames until the battery's snapshot in progress is complete (each waits for the rows computed on
/// another thread first).
fn settle(h: &mut Harness<'static, DivlabApp>) {
    for _ in 0..400 {
        h.run_steps(1);
        h.state_mut().finish_background_work();
        let busy = h
            .state()
            .battery_track()
            .is_some_and(|t| t.in_progress().is_some());
        if !busy {
            return;
        }
    }
    panic!("the battery's snapshot never completed");
}

/// `n` single steps, each followed by frames until the battery is done (so snapshots land on due steps).
fn step_settled(h: &mut Harness<'static, DivlabApp>, n: usize) {
    for _ in 0..n {
        h.state_mut().command(Command::Step);
        h.run_steps(2);
        settle(h);
    }
}

fn open_scenario(h: &mut Harness<'static, DivlabApp>, name: &str) {
    let scenario = load::bundled(name)
        .unwrap_or_else(|e| panic!("{e}"))
        .scenario;
    h.get_by_label(&scenario.name).click();
    h.run_steps(2);
}

#[test]
fn the_battery_over_steps_names_every_row_and_f_shows_the_divergence() {
    let mut h = harness(1400.0, 860.0);
    assert!(h.query_by_label("Plots: panel A").is_none());
    h.get_by_label("plots").click();
    h.run_steps(2);
    assert!(h.state().plots_open());
    assert!(h.query_by_label("Plots: panel A").is_some(), "no window");

    open_scenario(&mut h, "two_modes_reverse_kl");
    settle(&mut h);
    step_settled(&mut h, 16);
    assert_eq!(h.state().steps_taken(), 16);
    let track = h.state().battery_track().expect("a track").clone();
    assert_eq!(track.every(), 8, "300 steps: a snapshot every 8");
    assert_eq!(track.completed(), 3, "steps 0, 8 and 16");
    let with_points = track
        .series()
        .iter()
        .filter(|s| s.points.len() == 3)
        .count();
    let summary: Vec<_> = track
        .series()
        .iter()
        .map(|s| {
            (
                s.id,
                s.points.len(),
                s.last
                    .as_ref()
                    .map(|o| (o.tag(), o.reason().map(str::to_owned))),
            )
        })
        .collect();
    assert!(
        with_points >= 10,
        "only {with_points} rows have 3 points: {summary:?}"
    );
    // Every row is named: a legend entry (a plotted line) or a line of the no-value list.
    h.run_steps(1);
    for id in row_ids() {
        let legend = h.query_by_label(id).is_some();
        // Rows with the same outcome share a line: "a, b: not applicable — why".
        let listed = h.query_by_label_contains(&format!("{id}: ")).is_some()
            || h.query_by_label_contains(&format!("{id}, ")).is_some();
        assert!(legend || listed, "{id} is neither plotted nor listed");
    }
    // The list gives the outcome and the reason (a mixture has no particles, …).
    for s in track.series().iter().filter(|s| s.points.is_empty()) {
        let last = s.last.as_ref().expect("computed");
        let reason = last.reason().expect("a reason");
        assert!(
            h.query_all_by_label_contains(&displayable(reason))
                .next()
                .is_some()
                && (h.query_by_label_contains(&format!("{}: ", s.id)).is_some()
                    || h.query_by_label_contains(&format!("{}, ", s.id)).is_some()),
            "{}: {reason:?} not shown",
            s.id
        );
    }
    snapshot(&h.render().expect("render"), "plots_battery");

    h.get_by_label("f(t) and the ratio p/q").click();
    h.run_steps(2);
    let name = displayable(&FDivKind::ReverseKl.name());
    assert!(h.query_by_label(&name).is_some(), "no {name:?}");
    let data = h.state().plots_f_data().expect("f data").as_ref().unwrap();
    assert_eq!(data.histogram.samples, 2000);
    snapshot(&h.render().expect("render"), "plots_generator");

    // A particle flow: the reason, in words.
    open_scenario(&mut h, "moons_sinkhorn_flow");
    h.run_steps(2);
    let run = &h.state().runs()[0];
    let reason = overlay::f_data(run, 10, 4).unwrap_err();
    assert!(
        h.query_by_label(&displayable(&reason)).is_some(),
        "{reason:?} not shown"
    );
    // The track started over for the new run.
    let track = h.state().battery_track().unwrap();
    assert!(track.series().iter().all(|s| s.points.len() <= 1));

    // Closing it.
    h.get_by_label("plots").click();
    h.run_steps(2);
    assert!(h.query_by_label("Plots: panel A").is_none());
}

#[test]
fn the_window_follows_the_selected_panel() {
    let mut h = harness(1400.0, 860.0);
    open_scenario(&mut h, "two_modes_reverse_kl");
    h.state_mut().command(Command::SetLayout(Layout::Two));
    h.run_steps(2);
    let forward =
        divlab::app::with_divergence(&h.state().panel_scenarios()[0], FDivKind::ForwardKl);
    h.state_mut()
        .command(Command::SetPanel(1, Box::new(forward)));
    h.run_steps(2);
    h.get_by_label("plots").click();
    settle(&mut h);
    step_settled(&mut h, 8);
    assert_eq!(h.state().battery_track().unwrap().completed(), 2);
    // The side panel's panel selector (the leftmost "B"; panel B's header has one too).
    h.get_all_by_label("B")
        .min_by(|a, b| a.rect().min.x.total_cmp(&b.rect().min.x))
        .unwrap()
        .click();
    h.run_steps(2);
    assert!(h.query_by_label("Plots: panel B").is_some());
    // A new track, at the current step.
    let track = h.state().battery_track().unwrap();
    assert!(track.series().iter().all(|s| s.points.len() <= 1));
    settle(&mut h);
    h.get_by_label("f(t) and the ratio p/q").click();
    h.run_steps(2);
    let name = displayable(&FDivKind::ForwardKl.name());
    assert!(h.query_by_label(&name).is_some(), "no {name:?}");
}

#[test]
fn on_a_phone_the_window_fits_the_width_and_says_why_a_flow_has_no_f() {
    let mut h = harness(390.0, 844.0);
    h.state_mut().set_plots_open(true);
    h.run_steps(2);
    settle(&mut h);
    let title = h.get_by_label("Plots: panel A").rect();
    assert!(
        title.min.x >= 0.0 && title.max.x <= 390.0,
        "title at {title:?}"
    );
    h.get_by_label("f(t) and the ratio p/q").click();
    h.run_steps(2);
    let run = &h.state().runs()[0];
    let reason = overlay::f_data(run, 10, 4).unwrap_err();
    let shown = h.get_by_label(&displayable(&reason)).rect();
    assert!(shown.max.x <= 390.0, "reason at {shown:?}");
    // Looked at, not compared: `ui-shots/plots_phone.png`.
    h.render()
        .expect("render")
        .save(shots_dir().join("plots_phone.png"))
        .unwrap();
    h.state_mut().set_plots_open(false);
    h.run_steps(2);
    h.render()
        .expect("render")
        .save(shots_dir().join("plots_phone_closed.png"))
        .unwrap();
}

/// Plays `frames` frames and returns the window's mean and largest compute and draw time per frame (ms).
fn play_and_measure(h: &mut Harness<'static, DivlabApp>, frames: usize) -> (f64, f64, f64, f64) {
    let mut costs = Vec::new();
    h.key_press(egui::Key::Space);
    for _ in 0..frames {
        h.run_steps(1);
        costs.push(h.state().plots_cost_ms());
    }
    h.key_press(egui::Key::Space);
    let n = costs.len().max(1) as f64;
    let (c, d) = costs
        .iter()
        .fold((0.0, 0.0), |(a, b), x| (a + x.0, b + x.1));
    let (cm, dm) = costs
        .iter()
        .fold((0.0f64, 0.0f64), |(a, b), x| (a.max(x.0), b.max(x.1)));
    (c / n, d / n, cm, dm)
}

/// What the window costs a frame while a run plays (prints; `--ignored --nocapture`), and a picture of
/// the battery of a particle flow (signed rows included) in `ui-shots/plots_flow.png`.
#[test]
#[ignore]
fn timings() {
    let mut h = harness(1400.0, 860.0);
    open_scenario(&mut h, "two_modes_reverse_kl");
    h.get_by_label("plots").click();
    h.run_steps(1);
    let (c, d, cm, dm) = play_and_measure(&mut h, 120);
    println!(
        "battery tab, running to step {}: compute mean {c:.2} ms (max {cm:.1}), draw mean {d:.2} ms (max {dm:.1})",
        h.state().steps_taken(),
    );
    h.get_by_label("f(t) and the ratio p/q").click();
    let (c, d, _, _) = play_and_measure(&mut h, 60);
    println!("f(t) tab: compute mean {c:.2} ms, draw mean {d:.2} ms");
    h.get_by_label("battery over steps").click();
    open_scenario(&mut h, "mixture_mmd_flow");
    settle(&mut h);
    step_settled(&mut h, 24);
    h.render()
        .expect("render")
        .save(shots_dir().join("plots_flow.png"))
        .unwrap();
}

/// Wall time of each frame while a run plays with the transport plan and dual potential overlays on and the
/// Plots window open (battery tab), with the background work as it is (picked up when done) and with every
/// frame waiting for it (what a frame did before that work moved off the frame thread). Prints mean, 95th
/// percentile and largest (`--ignored --nocapture`; timings depend on the machine and the profile).
#[test]
#[ignore]
fn frame_times_with_the_plan_overlay_and_the_battery() {
    fn toggle(h: &mut Harness<'static, DivlabApp>, label: &str) {
        h.get_all_by_label_contains("overlays")
            .next()
            .expect("overlay menu")
            .click();
        h.run_steps(2);
        h.get_by_label(label).click();
        h.run_steps(2);
        h.key_press(egui::Key::Escape);
        h.run_steps(2);
    }
    for name in ["two_modes_reverse_kl", "ring8_mmd_flow"] {
        // None: neither the overlays nor the window, for comparison.
        for blocking in [Some(true), Some(false), None] {
            let mut h = harness(1400.0, 860.0);
            open_scenario(&mut h, name);
            if blocking.is_some() {
                toggle(&mut h, "transport plan (strongest couplings)");
                toggle(&mut h, "dual potential f (contours)");
                h.get_by_label("plots").click();
                h.run_steps(2);
            }
            h.state_mut().finish_background_work();
            h.key_press(egui::Key::Space);
            let mut ms = Vec::new();
            for _ in 0..120 {
                let t = std::time::Instant::now();
                h.run_steps(1);
                if blocking == Some(true) {
                    h.state_mut().finish_background_work();
                }
                ms.push(t.elapsed().as_secs_f64() * 1e3);
            }
            h.key_press(egui::Key::Space);
            let steps = h.state().steps_taken();
            let snapshots = h.state().battery_track().map_or(0, |t| t.completed());
            ms.sort_by(f64::total_cmp);
            let mean = ms.iter().sum::<f64>() / ms.len() as f64;
            println!(
                "{name:<22} {:<28} frame mean {mean:6.1} ms, p95 {:6.1} ms, max {:6.1} ms ({steps} steps, {snapshots} battery snapshots)",
                match blocking {
                    Some(true) => "waiting for the work (before)",
                    Some(false) => "background (after)",
                    None => "no overlay, no Plots window",
                },
                ms[ms.len() * 95 / 100],
                ms[ms.len() - 1],
            );
        }
    }
}

/// The Sinkhorn solvers tab on the Newton preset: clicking the tab computes plain and Newton-accelerated
/// Sinkhorn on the selected panel's problem (another thread), then names both with their iterations, and the
/// Newton one needs far fewer. A snapshot is kept.
#[test]
fn the_solver_tab_compares_plain_and_newton_sinkhorn_on_the_panels_problem() {
    let mut h = harness(1400.0, 860.0);
    let preset = divlab::assets::claim_presets()
        .into_iter()
        .flatten()
        .find(|p| p.id == "newton_sinkhorn")
        .expect("the newton_sinkhorn preset");
    h.state_mut()
        .command(Command::OpenLink(preset.link.clone()));
    h.run_steps(2);
    assert_eq!(h.state().message(), None);
    h.get_by_label("plots").click();
    h.run_steps(2);
    h.get_by_label("Sinkhorn solvers").click();
    for _ in 0..3 {
        h.run_steps(1);
        h.state_mut().finish_background_work();
    }
    let c = match h.state().solver_comparison() {
        Some(Ok(c)) => c.clone(),
        other => panic!("no comparison: {other:?}"),
    };
    assert!(c.plain.converged && c.accelerated.converged);
    assert!(
        c.plain.iterations >= 10 * c.accelerated.iterations,
        "plain {} against Newton {}",
        c.plain.iterations,
        c.accelerated.iterations
    );
    h.run_steps(1);
    for label in ["plain Sinkhorn: ", "Sinkhorn + sparse Newton: "] {
        assert!(
            h.query_by_label_contains(label).is_some(),
            "no line {label:?}"
        );
    }
    assert!(h.query_by_label_contains("fewer iterations").is_some());
    snapshot(&h.render().expect("render"), "plots_solver");
}
