//! How the app looks and fits a screen, driven like a user would (keys, clicks) and rendered offscreen on
//! lavapipe: the keyboard-shortcut help, the colormap, the light theme, the presentation text size, the
//! phone layout and the seed every panel shares. Snapshots of the phone layout and the light theme are in
//! `tests/snapshots/` (update after an intended change: `UPDATE_SNAPSHOTS=1 cargo test --test ui_look`).

use divlab::app::heatmap::Colormap;
use divlab::app::{Command, DivlabApp, Layout, Look, ThemeChoice};
use divlab::run::Run;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

mod ui_support;
use ui_support::{harness, shots_dir, snapshot};

fn steps(h: &Harness<'static, DivlabApp>) -> Vec<usize> {
    h.state().runs().iter().map(Run::steps_taken).collect()
}

#[test]
fn the_question_mark_key_and_button_open_the_shortcut_help_and_esc_closes_it() {
    let mut h = harness(1200.0, 800.0);
    assert!(h.query_by_label("Keyboard shortcuts").is_none());
    h.key_press(egui::Key::Questionmark);
    h.run_steps(2);
    assert!(h.state().help_open());
    h.get_by_label("Keyboard shortcuts");
    for (keys, what) in [
        ("Space", "play / pause"),
        ("S or Right arrow", "one step in every panel"),
        ("R", "reset every panel to step 0"),
        ("?", "show or hide this help"),
        ("Esc", "close this help"),
    ] {
        assert!(
            h.query_all_by_label(keys).count() >= 1,
            "the help does not list {keys}"
        );
        h.get_by_label(what);
    }
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    assert!(!h.state().help_open());
    assert!(h.query_by_label("Keyboard shortcuts").is_none());

    // The top bar's button opens it too; its Close button shuts it.
    h.get_by_label("?").click();
    h.run_steps(2);
    h.get_by_label("Keyboard shortcuts");
    h.get_by_label("Close").click();
    h.run_steps(2);
    assert!(h.query_by_label("Keyboard shortcuts").is_none());
}

/// The pixel at `p` (points; the harness renders at 1 pixel per point unless zoomed).
fn pixel(img: &image::RgbaImage, p: egui::Pos2) -> [u8; 3] {
    let c = img.get_pixel(p.x as u32, p.y as u32).0;
    [c[0], c[1], c[2]]
}

fn close(a: [u8; 3], b: egui::Color32) -> bool {
    a.iter()
        .zip([b.r(), b.g(), b.b()])
        .all(|(x, y)| (i32::from(*x) - i32::from(y)).abs() <= 3)
}

#[test]
fn picking_another_colormap_recolours_the_heatmap() {
    let mut h = harness(1200.0, 800.0);
    assert_eq!(h.state().look().colormap, Colormap::Viridis);
    let rect = h.state().heatmap_screen_rect().expect("heatmap drawn");
    // A corner of the target's box (zero density: the bottom of the colormap) and its centre.
    let corner = rect.min + egui::vec2(6.0, 6.0);
    let before = h.render().expect("render");
    assert!(
        close(pixel(&before, corner), Colormap::Viridis.eval(0.0)),
        "{:?}",
        pixel(&before, corner)
    );

    h.get_by_label("colormap").click();
    h.run_steps(2);
    h.get_by_label("magma").click();
    h.run_steps(3);
    assert_eq!(h.state().look().colormap, Colormap::Magma);
    let after = h.render().expect("render");
    after.save(shots_dir().join("colormap_magma.png")).unwrap();
    assert_eq!(h.state().heatmap_screen_rect(), Some(rect));
    assert!(
        close(pixel(&after, corner), Colormap::Magma.eval(0.0)),
        "{:?}",
        pixel(&after, corner)
    );
    // The whole heatmap changed colour, not just its corner.
    let changed = (0..20)
        .flat_map(|i| (0..20).map(move |j| (i, j)))
        .filter(|(i, j)| {
            let p = rect.min + rect.size() * egui::vec2(*i as f32 + 0.5, *j as f32 + 0.5) / 20.0;
            pixel(&before, p) != pixel(&after, p)
        })
        .count();
    assert!(
        changed > 380,
        "only {changed} of 400 sampled pixels changed"
    );
}

#[test]
fn on_a_phone_the_controls_fold_away_and_two_panels_stack() {
    let mut h = harness(390.0, 844.0);
    h.state_mut().command(Command::SetLayout(Layout::Two));
    h.run_steps(3);
    // No side panel: its headings appear only when the Controls toggle is on.
    assert!(h.query_by_label("Scenarios").is_none());
    let rects: Vec<egui::Rect> = h
        .state()
        .panel_heatmap_rects()
        .iter()
        .map(|r| r.expect("every panel drawn"))
        .collect();
    assert_eq!(rects.len(), 2);
    let (a, b) = (rects[0].center(), rects[1].center());
    assert!((a.x - b.x).abs() < 1.0, "not one column: {a:?} {b:?}");
    assert!(b.y - a.y > 250.0, "not stacked: {a:?} {b:?}");
    assert!(
        rects[0].width() > 200.0,
        "heatmap A too narrow: {:?}",
        rects[0]
    );
    snapshot(&h.render().expect("render"), "phone_layout");

    // A drag on panel A's plot pans that plot (its heatmap moves right), not the page (B stays put).
    let start = rects[0].center();
    h.drag_at(start);
    h.run_steps(1);
    for k in 1..=6 {
        h.hover_at(start + egui::vec2(5.0 * k as f32, 0.0));
        h.run_steps(1);
    }
    h.drop_at(start + egui::vec2(30.0, 0.0));
    h.run_steps(2);
    let moved = h.state().panel_heatmap_rects()[0].expect("A drawn");
    let b_after = h.state().panel_heatmap_rects()[1].expect("B drawn");
    assert!(
        // (less than the 30 points moved: the drag starts past egui's small threshold)
        moved.min.x - rects[0].min.x > 15.0 && moved.min.y == rects[0].min.y,
        "A did not pan: {:?} -> {moved:?}",
        rects[0]
    );
    assert_eq!(b_after, rects[1], "the page scrolled");

    h.get_by_label("Controls").click();
    h.run_steps(3);
    h.get_by_label("Scenarios");
    h.get_by_label("new seed");
    h.render()
        .expect("render")
        .save(shots_dir().join("phone_controls.png"))
        .unwrap();
}

#[test]
fn the_light_theme_renders_as_in_its_snapshot() {
    let mut h = harness(1200.0, 800.0);
    // The light theme with the colormap made for it, on a fit with target points shown.
    let ring = divlab::run::load::bundled("ring8_mmd_flow")
        .unwrap_or_else(|e| panic!("{e}"))
        .scenario;
    h.get_by_label(&ring.name).click();
    h.run_steps(2);
    h.get_by_label("show the target samples used").click();
    h.state_mut().set_look(Look {
        theme: ThemeChoice::Light,
        colormap: Colormap::YellowGreenBlue,
        ..Look::default()
    });
    h.run_steps(3);
    assert_eq!(h.ctx.theme(), egui::Theme::Light);
    snapshot(&h.render().expect("render"), "light_theme");
    // Back to dark with the top bar's toggle.
    h.get_by_label("dark").click();
    h.run_steps(3);
    assert_eq!(h.ctx.theme(), egui::Theme::Dark);
}

/// A 1280 × 800 pixel window at the 2× text size is 640 × 400 points: the app takes the narrow layout
/// (controls folded away, panels one under the other, each as tall as the window allows).
#[test]
fn twice_the_text_size_still_fits_a_laptop_window() {
    let mut h = harness(1280.0, 800.0);
    h.state_mut().set_look(Look {
        text_scale: 2.0,
        ..Look::default()
    });
    h.state_mut().command(Command::SetLayout(Layout::Two));
    h.run_steps(4);
    assert_eq!(h.ctx.zoom_factor(), 2.0);
    assert_eq!(h.ctx.content_rect().size(), egui::vec2(640.0, 400.0));
    let img = h.render().expect("render");
    assert_eq!((img.width(), img.height()), (1280, 800));
    img.save(shots_dir().join("text_2x.png")).unwrap();
    assert!(h.query_by_label("Scenarios").is_none());
    let a = h.state().panel_heatmap_rects()[0].expect("heatmap drawn");
    assert!(a.height() > 160.0, "heatmap too small: {a:?}");
    assert!(h.ctx.content_rect().contains_rect(a), "{a:?}");
}

#[test]
fn a_new_seed_goes_to_every_panel_and_they_stay_in_lockstep() {
    let mut h = harness(1200.0, 800.0);
    // A CPU fit, so that every frame ends with both panels at the same step.
    let reverse = divlab::run::load::bundled("two_modes_reverse_kl")
        .unwrap_or_else(|e| panic!("{e}"))
        .scenario;
    h.get_by_label(&reverse.name).click();
    h.run_steps(2);
    h.state_mut().command(Command::SetLayout(Layout::Two));
    h.run_steps(2);
    h.state_mut().command(Command::Step);
    h.run_steps(3);
    assert_eq!(steps(&h), vec![1, 1]);
    let old = h.state().panel_scenarios()[0].seed;

    h.get_by_label("new seed").click();
    h.run_steps(3);
    let seeds: Vec<u64> = h.state().panel_scenarios().iter().map(|s| s.seed).collect();
    assert_ne!(seeds[0], old, "the seed did not change");
    assert_eq!(seeds, vec![seeds[0]; 2]);
    let run_seeds: Vec<u64> = h.state().runs().iter().map(|r| r.scenario().seed).collect();
    assert_eq!(run_seeds, seeds, "the runs were not rebuilt with it");
    assert_eq!(steps(&h), vec![0, 0], "every panel restarts");

    for _ in 0..5 {
        h.state_mut().command(Command::Step);
        h.run_steps(2);
        let s = steps(&h);
        assert_eq!(s[0], s[1], "lockstep: {s:?}");
    }
    assert_eq!(steps(&h), vec![5, 5]);
    // Same scenario, same seed: the same fit in both panels.
    let runs = h.state().runs();
    assert_eq!(runs[0].history(), runs[1].history());

    // A seed typed in (the command the drag value sends) goes to every panel too.
    h.state_mut().command(Command::SetSeed(42));
    h.run_steps(3);
    assert!(h.state().panel_scenarios().iter().all(|s| s.seed == 42));
    assert!(h.state().runs().iter().all(|r| r.scenario().seed == 42));
}
