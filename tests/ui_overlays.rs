//! Each overlay of a panel toggles from its menu, draws over that panel only, and says what it drew (or why
//! it cannot be drawn for this method). Rendered offscreen on lavapipe, CPU steps so step counts are exact.

use divlab::app::{Command, DivlabApp, Layout};
use divlab::core::fdiv::Estimator;
use divlab::core::fit::Objective;
use divlab::core::scenario::Method;
use divlab::run::load;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

mod ui_support;
use ui_support::shots_dir;

fn harness() -> Harness<'static, DivlabApp> {
    ui_support::cpu_harness(1400.0, 900.0)
}

fn step(h: &mut Harness<'static, DivlabApp>, n: usize) {
    for _ in 0..n {
        h.key_press(egui::Key::S);
        h.run_steps(2);
    }
}

/// Opens panel `i`'s overlay menu and clicks `label`.
fn toggle(h: &mut Harness<'static, DivlabApp>, i: usize, label: &str) {
    h.get_all_by_label_contains("overlays")
        .nth(i)
        .expect("overlay menu")
        .click();
    h.run_steps(2);
    h.get_by_label(label).click();
    h.run_steps(2);
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
}

/// What panel `i`'s overlays draw once the transport plan, computed off the frame thread, is in.
fn summary(h: &mut Harness<'static, DivlabApp>, i: usize) -> (Vec<String>, usize, usize) {
    h.state_mut().finish_background_work();
    h.state().overlay_summary(i).expect("panel")
}

#[test]
fn every_overlay_of_a_particle_flow_toggles_and_draws_on_its_panel_only() {
    let mut h = harness();
    // The default: particles fitted by an MMD flow to a mixture target; two panels.
    h.state_mut().command(Command::SetLayout(Layout::Two));
    h.run_steps(2);
    step(&mut h, 3);
    let cases = [
        (
            "transport plan (strongest couplings)",
            "plan at step 3",
            true,
            false,
        ),
        (
            "barycentric map (arrows)",
            "barycentric map at step 3",
            false,
            true,
        ),
        (
            "dual potential f (contours)",
            "dual potential f at step 3",
            true,
            false,
        ),
        (
            "MMD witness (contours)",
            "MMD witness at step 3",
            true,
            false,
        ),
        (
            "particle displacement (arrows)",
            "displacement over step 3",
            false,
            true,
        ),
    ];
    for (label, caption, lines, arrows) in cases {
        toggle(&mut h, 0, label);
        let (captions, n_lines, n_arrows) = summary(&mut h, 0);
        assert_eq!(captions.len(), 1, "{label}: {captions:?}");
        assert!(captions[0].starts_with(caption), "{label}: {captions:?}");
        assert_eq!(n_lines > 0, lines, "{label}: {n_lines} lines");
        assert_eq!(n_arrows > 0, arrows, "{label}: {n_arrows} arrow sets");
        // Panel B draws nothing.
        let (b, b_lines, b_arrows) = summary(&mut h, 1);
        assert!(b.is_empty() && b_lines == 0 && b_arrows == 0, "{b:?}");
        // Off again.
        toggle(&mut h, 0, label);
        assert_eq!(
            summary(&mut h, 0),
            (Vec::new(), 0, 0),
            "{label} did not turn off"
        );
    }
    // A particle cloud has no density to contour and no Monte Carlo gradient: said, not drawn.
    for label in [
        "q's density contours (50%, 90%)",
        "Monte Carlo gradient spread",
    ] {
        toggle(&mut h, 1, label);
        let (captions, n_lines, _) = summary(&mut h, 1);
        assert!(captions[0].contains("not drawn"), "{captions:?}");
        assert_eq!(n_lines, 0);
        toggle(&mut h, 1, label);
    }
    // An overlay follows the run: after more steps its caption names the new step.
    toggle(&mut h, 0, "particle displacement (arrows)");
    step(&mut h, 2);
    assert!(
        summary(&mut h, 0).0[0].starts_with("displacement over step 5"),
        "{:?}",
        summary(&mut h, 0)
    );
    // For a person to look at: plan and displacement on A, witness on B.
    toggle(&mut h, 0, "transport plan (strongest couplings)");
    toggle(&mut h, 1, "MMD witness (contours)");
    h.remove_cursor();
    h.state_mut().finish_background_work();
    h.run_steps(1);
    let img = h.render().expect("render");
    img.save(shots_dir().join("overlays_flow.png")).unwrap();
}

#[test]
fn a_monte_carlo_fit_shows_its_gradient_spread_and_density_contours() {
    let mut h = harness();
    let mut s = load::bundled("two_modes_reverse_kl").unwrap().scenario;
    if let Method::Gradient {
        objective: Objective::FDivergence { estimator, .. },
        ..
    } = &mut s.method
    {
        *estimator = Estimator::MonteCarlo { samples: 256 };
    }
    h.state_mut().command(Command::SetPanel(0, Box::new(s)));
    h.run_steps(2);
    step(&mut h, 2);
    toggle(&mut h, 0, "Monte Carlo gradient spread");
    toggle(&mut h, 0, "q's density contours (50%, 90%)");
    let (captions, n_lines, n_arrows) = summary(&mut h, 0);
    assert_eq!(captions.len(), 2, "{captions:?}");
    assert!(
        captions[0].starts_with("gradient spread at step 2"),
        "{captions:?}"
    );
    assert!(
        captions[1].starts_with("q's density contours at step 2"),
        "{captions:?}"
    );
    // One ellipse for the one component, and at least the two contour lines.
    assert!(n_lines >= 3, "{n_lines}");
    assert_eq!(n_arrows, 1);
    let img = h.render().expect("render");
    img.save(shots_dir().join("overlays_mc.png")).unwrap();
}
