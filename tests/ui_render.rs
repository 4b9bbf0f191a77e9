//! The app's UI rendered offscreen with the wgpu renderer (Mesa's lavapipe in CI, no display), compared with a
//! committed snapshot, and checked for a heatmap that is actually drawn.
//! Update the snapshot after an intended change: `UPDATE_SNAPSHOTS=1 cargo test --test ui_render`.

use divlab::app::DivlabApp;
use egui_kittest::{Harness, SnapshotOptions};

const WIDTH: f32 = 1200.0;
const HEIGHT: f32 = 800.0;

/// Standard deviation of the luminance (0..1) in a pixel rectangle.
fn luminance_std_dev(img: &image::RgbaImage, x0: u32, y0: u32, w: u32, h: u32) -> f64 {
    let mut values = Vec::with_capacity((w * h) as usize);
    for y in y0..y0 + h {
        for x in x0..x0 + w {
            let p = img.get_pixel(x, y).0;
            values.push((0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64) / 255.0);
        }
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt()
}

/// [`luminance_std_dev`] over a rectangle given in points (the harness renders at 1 pixel per point).
fn rect_std_dev(img: &image::RgbaImage, rect: egui::Rect) -> f64 {
    luminance_std_dev(
        img,
        rect.min.x as u32,
        rect.min.y as u32,
        rect.width() as u32,
        rect.height() as u32,
    )
}

#[test]
fn app_renders_the_target_heatmap() {
    let mut harness = Harness::builder()
        .with_size(egui::vec2(WIDTH, HEIGHT))
        .wgpu()
        .build_eframe(|cc| DivlabApp::new(cc));
    harness.state_mut().set_reproducible(true);
    harness.run_steps(6);
    let img = match harness.render() {
        Ok(img) => img,
        Err(err) => panic!("offscreen rendering failed (is Mesa's lavapipe installed?): {err}"),
    };
    assert_eq!((img.width(), img.height()), (WIDTH as u32, HEIGHT as u32));

    // The app reports where it drew the heatmap; the region must not be blank.
    let rect = harness
        .state()
        .heatmap_screen_rect()
        .expect("the app drew no heatmap");
    let ppp = 1.0; // the harness renders at 1 pixel per point
    let (x0, y0) = ((rect.min.x * ppp) as u32, (rect.min.y * ppp) as u32);
    let (w, h) = ((rect.width() * ppp) as u32, (rect.height() * ppp) as u32);
    assert!(w > 200 && h > 200, "heatmap area too small: {w}×{h}");
    let sd = luminance_std_dev(&img, x0, y0, w, h);
    eprintln!("heatmap area {w}×{h} at ({x0},{y0}): luminance std-dev {sd:.4}");
    assert!(sd > 0.05, "heatmap area looks blank (std-dev {sd})");

    // Compare with the committed snapshot (small per-pixel colour tolerance, a few differing pixels allowed
    // for rasterizer differences between Mesa versions; a changed word fails it).
    let options = SnapshotOptions::new().threshold(1.0).max_failed_pixels(20);
    if let Err(err) = egui_kittest::try_image_snapshot_options(&img, "app_default", &options) {
        panic!("snapshot differs: {err}");
    }
}

/// Clicks through the bundled scenarios like a teacher would: pick one, press Run, let it run, and check that
/// the run advanced, nothing stopped it, and the scene is drawn. Screenshots land in
/// `$CARGO_TARGET_DIR/ui-shots/` (or `target/ui-shots/`) for a person to look at.
#[test]
fn every_scenario_runs_from_the_ui() {
    use egui_kittest::kittest::Queryable as _;
    let shots = std::path::PathBuf::from(
        std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()),
    )
    .join("ui-shots");
    std::fs::create_dir_all(&shots).unwrap();
    let mut harness = Harness::builder()
        .with_size(egui::vec2(WIDTH, HEIGHT))
        .wgpu()
        .build_eframe(|cc| DivlabApp::new(cc));
    harness.run_steps(2);
    for (file, text) in divlab::assets::BUNDLED {
        let scenario = divlab::core::scenario::Scenario::parse(text).unwrap();
        harness.get_by_label(&scenario.name).click();
        harness.run_steps(2);
        harness.get_by_label("Run").click();
        // CPU runs take several steps a frame; the GPU flow never blocks a frame, so its steps land when the
        // (software) GPU finishes them: give it real time, as frames would in the app.
        let mut frames = 0;
        let started = std::time::Instant::now();
        while harness.state().steps_taken() < 20 && started.elapsed().as_secs() < 120 {
            harness.run_steps(1);
            frames += 1;
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        harness.get_by_label("Pause").click();
        harness.run_steps(2);
        let app = harness.state();
        assert!(app.message().is_none(), "{file}: {:?}", app.message());
        let steps = app.steps_taken();
        assert!(
            steps >= 20,
            "{file}: only {steps} steps after {frames} frames"
        );
        let on = if app.flow_on_gpu() { "GPU" } else { "CPU" };
        eprintln!("{file}: {steps} steps in {frames} frames on the {on}");
        let rect = app.heatmap_screen_rect().expect("heatmap drawn");
        let img = harness.render().expect("render");
        img.save(shots.join(format!("{file}.png"))).unwrap();
        let sd = rect_std_dev(&img, rect);
        eprintln!("{file}: {steps} steps, scene std-dev {sd:.3}");
        assert!(sd > 0.03, "{file}: scene looks blank ({sd})");

        // Mixture fits can draw q's density instead of p's (on the GPU when the app has one).
        if matches!(
            scenario.model,
            divlab::core::scenario::ModelSpec::Mixture { .. }
        ) {
            harness
                .get_by_label("draw q's density instead of p")
                .click();
            harness.run_steps(3);
            let img = harness.render().expect("render");
            img.save(shots.join(format!("{file}_q.png"))).unwrap();
            let sd_q = rect_std_dev(&img, rect);
            eprintln!("{file}: q density drawn, std-dev {sd_q:.3}");
            assert!(sd_q > 0.03, "{file}: q density looks blank ({sd_q})");
            harness
                .get_by_label("draw q's density instead of p")
                .click();
            harness.run_steps(2);
        }
    }
}
