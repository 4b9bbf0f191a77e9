//! Files in and out, driven like a user would (rendered offscreen on lavapipe): the File section's buttons
//! save into a folder (natively `DIVLAB_SAVE_DIR`; here `set_save_dir`), and files are dropped onto the
//! window as the native integration hands them over.

use divlab::app::{Command, DivlabApp, Layout};
use divlab::core::scenario::Scenario;
use divlab::core::target::TargetSpec;
use divlab::run::Run;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

mod ui_support;

fn drop_file(h: &mut Harness<'static, DivlabApp>, path: &std::path::Path, bytes: Vec<u8>) {
    h.input_mut()
        .dropped_files
        .push(std::sync::Arc::new(ui_support::Dropped {
            path: path.to_path_buf(),
            bytes,
        }));
    h.run_steps(3);
}

/// The app with two panels, saves going into a fresh folder.
fn harness(test: &str) -> (Harness<'static, DivlabApp>, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("divlab-ui-files-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut h = ui_support::cpu_harness(1400.0, 1000.0);
    h.state_mut().set_save_dir(Some(dir.clone()));
    h.state_mut().command(Command::SetLayout(Layout::Two));
    h.run_steps(2);
    (h, dir)
}

/// Opens the File menu and clicks `label` in it.
fn file_menu(h: &mut Harness<'static, DivlabApp>, label: &str) {
    h.get_by_label("File").click();
    h.run_steps(3);
    h.render()
        .unwrap()
        .save(ui_support::shots_dir().join("files_menu.png"))
        .unwrap();
    h.get_by_label(label).click();
}

fn steps(h: &mut Harness<'static, DivlabApp>, n: usize) {
    for _ in 0..n {
        h.key_press(egui::Key::S);
        h.run_steps(2);
    }
}

/// The one file in `dir` whose name ends with `suffix`.
fn saved(dir: &std::path::Path, suffix: &str) -> std::path::PathBuf {
    let found: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    assert_eq!(found.len(), 1, "{found:?} in {}", dir.display());
    found[0].clone()
}

#[test]
fn a_saved_scenario_loads_back_into_the_panel_and_its_target_and_seed_into_every_panel() {
    let (mut h, dir) = harness("roundtrip");
    let before: Vec<Scenario> = h.state().panel_scenarios().to_vec();
    file_menu(&mut h, "save scenario (RON)");
    h.run_steps(2);
    file_menu(&mut h, "save scenario (JSON)");
    h.run_steps(2);
    let status = h.state().file_status().unwrap_or_default().to_owned();
    assert!(
        status.starts_with("Saved ") && status.contains(".json"),
        "{status}"
    );
    let img = h.render().unwrap();
    img.save(ui_support::shots_dir().join("files_section.png"))
        .unwrap();
    let ron = saved(&dir, ".ron");
    let json = saved(&dir, ".json");
    for file in [ron, json] {
        // Change every panel: another seed and another target.
        h.state_mut().command(Command::SetSeed(4242));
        h.state_mut()
            .command(Command::EditTarget(Box::new(TargetSpec::Samples(
                divlab::core::target::SamplesSpec {
                    points: vec![[0.0, 0.0], [1.0, 1.0], [2.0, 0.5]],
                    source: None,
                },
            ))));
        h.run_steps(3);
        assert_ne!(h.state().panel_scenarios(), before.as_slice());
        steps(&mut h, 2);
        let bytes = std::fs::read(&file).unwrap();
        drop_file(&mut h, &file, bytes);
        assert!(h.state().message().is_none(), "{:?}", h.state().message());
        assert_eq!(
            h.state().panel_scenarios(),
            before.as_slice(),
            "{}",
            file.display()
        );
        assert!(h.state().runs().iter().all(|r| r.steps_taken() == 0));
        let status = h.state().file_status().unwrap_or_default().to_owned();
        assert!(
            status.starts_with("Loaded ") && status.contains("panel A"),
            "{status}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_dropped_scenario_with_a_bad_field_is_refused_with_its_line_and_field_and_nothing_changes() {
    let (mut h, dir) = harness("bad");
    steps(&mut h, 3);
    let before: Vec<Scenario> = h.state().panel_scenarios().to_vec();
    let mut text = h.state().panel_scenarios()[0].to_ron().unwrap();
    // An out-of-range particle count.
    let count = text.find("count: ").expect("a particle model");
    let end = count + text[count..].find(',').unwrap();
    text.replace_range(count..end, "count: 0");
    let line = text[..count].lines().count();
    drop_file(&mut h, &dir.join("broken.ron"), text.into_bytes());
    let msg = h.state().message().unwrap_or_default().to_owned();
    assert!(
        msg.contains("broken.ron")
            && msg.contains(&format!("line {line}"))
            && msg.contains("model.count"),
        "{msg}"
    );
    assert_eq!(h.state().panel_scenarios(), before.as_slice());
    assert!(h.state().runs().iter().all(|r| r.steps_taken() == 3));
    // A misspelt field is refused the same way.
    drop_file(
        &mut h,
        &dir.join("typo.json"),
        br#"{"version": 1, "sed": 3, "target": {"kind": "two_moons"}}"#.to_vec(),
    );
    let msg = h.state().message().unwrap_or_default().to_owned();
    assert!(
        msg.contains("typo.json") && msg.contains("line 1") && msg.contains("sed"),
        "{msg}"
    );
    assert_eq!(h.state().panel_scenarios(), before.as_slice());
    let img = h.render().unwrap();
    img.save(ui_support::shots_dir().join("files_refused.png"))
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_dropped_csv_of_points_becomes_every_panels_target() {
    let (mut h, dir) = harness("csv");
    steps(&mut h, 2);
    let mut csv = String::from("x,y\n");
    for k in 0..300 {
        let t = k as f64 / 300.0 * std::f64::consts::TAU;
        csv.push_str(&format!("{},{}\n", 2.0 * t.cos(), t.sin()));
    }
    drop_file(&mut h, &dir.join("ring.csv"), csv.into_bytes());
    assert!(h.state().message().is_none(), "{:?}", h.state().message());
    for run in h.state().runs() {
        match &run.scenario().target {
            TargetSpec::Samples(s) => {
                assert_eq!(s.points.len(), 300);
                assert_eq!(s.source.as_deref(), Some("ring.csv"));
            }
            other => panic!("not the dropped points: {other:?}"),
        }
        assert_eq!(run.target_points().len(), 300);
        assert_eq!(run.steps_taken(), 2, "the fit goes on");
    }
    let img = h.render().unwrap();
    img.save(ui_support::shots_dir().join("files_csv_target.png"))
        .unwrap();
    // A bad line is named and the target stays.
    drop_file(&mut h, &dir.join("bad.csv"), b"0,1\n2,3\n4,five\n".to_vec());
    let msg = h.state().message().unwrap_or_default().to_owned();
    assert!(msg.contains("bad.csv") && msg.contains("line 3"), "{msg}");
    assert!(matches!(
        &h.state().runs()[1].scenario().target,
        TargetSpec::Samples(s) if s.points.len() == 300
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn history_exports_have_a_row_per_step_per_panel_and_the_canvas_png_its_size() {
    let (mut h, dir) = harness("history");
    steps(&mut h, 5);
    let taken: Vec<usize> = h.state().runs().iter().map(Run::steps_taken).collect();
    assert_eq!(taken, vec![5, 5]);
    file_menu(&mut h, "history (CSV)");
    h.run_steps(2);
    file_menu(&mut h, "history (JSON)");
    h.run_steps(2);
    let csv = std::fs::read_to_string(saved(&dir, "_history.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[..3], ["panel", "step", "objective_id"]);
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 10);
    let objective = header.iter().position(|c| *c == "objective").unwrap();
    for (k, row) in rows.iter().enumerate() {
        assert_eq!(row.len(), header.len(), "{row:?}");
        assert_eq!(row[0], if k < 5 { "A" } else { "B" });
        assert_eq!(row[1], (k % 5 + 1).to_string());
        let value: f64 = row[objective].parse().unwrap();
        let run = &h.state().runs()[k / 5];
        assert_eq!(value, run.history().records()[k % 5].info.objective);
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(saved(&dir, "_history.json")).unwrap())
            .unwrap();
    let panels = json["panels"].as_array().unwrap();
    assert_eq!(panels.len(), 2);
    for p in panels {
        assert_eq!(p["records"].as_array().map(Vec::len), Some(5));
        assert_eq!(p["records"][4]["step"], 5);
    }
    // The canvas: eframe's screenshot (kittest renders it), cropped to the panels.
    file_menu(&mut h, "canvas (PNG)");
    h.run_steps(4);
    assert!(h.state().message().is_none(), "{:?}", h.state().message());
    let png = saved(&dir, "_canvas.png");
    let image = image::open(&png).unwrap().to_rgba8();
    // The two panels, right of the side panel and between the top and status bars (1 pixel per point).
    let heatmap = h.state().heatmap_screen_rect().unwrap();
    let (w, h_px) = image.dimensions();
    println!(
        "canvas PNG: {w} x {h_px} pixels, {} bytes",
        std::fs::metadata(&png).unwrap().len()
    );
    assert!(w > 2 * heatmap.width() as u32 && w < 1400 - 200, "{w}");
    assert!(h_px > heatmap.height() as u32 && h_px < 1000 - 40, "{h_px}");
    let distinct: std::collections::HashSet<[u8; 4]> = image.pixels().map(|p| p.0).collect();
    assert!(
        distinct.len() > 100,
        "a blank picture: {} colours",
        distinct.len()
    );
    assert_eq!(
        h.state()
            .last_export()
            .map(|(n, _)| n.ends_with("_canvas.png")),
        Some(true)
    );
    std::fs::copy(
        &png,
        ui_support::shots_dir().join("files_canvas_export.png"),
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_canvas_at_2x_and_4x_is_drawn_again_at_that_resolution() {
    let (mut h, dir) = harness("hires");
    steps(&mut h, 3);
    file_menu(&mut h, "canvas (PNG)");
    h.run_steps(4);
    let one = image::open(saved(&dir, "_canvas.png")).unwrap().to_rgba8();
    for scale in [2u32, 4] {
        file_menu(&mut h, &format!("{scale}×"));
        h.run_steps(4);
        assert!(h.state().message().is_none(), "{:?}", h.state().message());
        let path = saved(&dir, &format!("_canvas_{scale}x.png"));
        let big = image::open(&path).unwrap().to_rgba8();
        println!(
            "canvas at {scale}x: {} x {} pixels, {} bytes (1x: {} x {})",
            big.width(),
            big.height(),
            std::fs::metadata(&path).unwrap().len(),
            one.width(),
            one.height()
        );
        assert!(
            big.width().abs_diff(scale * one.width()) <= scale,
            "{}",
            big.width()
        );
        assert!(
            big.height().abs_diff(scale * one.height()) <= scale,
            "{}",
            big.height()
        );
        // The same picture: the big one shrunk is close to the screenshot, pixel by pixel.
        let small = image::imageops::resize(
            &big,
            one.width(),
            one.height(),
            image::imageops::FilterType::Triangle,
        );
        let diff: f64 = small
            .pixels()
            .zip(one.pixels())
            .map(|(a, b)| {
                (0..3)
                    .map(|c| (f64::from(a.0[c]) - f64::from(b.0[c])).abs())
                    .sum::<f64>()
            })
            .sum::<f64>()
            / (3.0 * f64::from(one.width() * one.height()));
        println!("  mean absolute difference from 1x after shrinking: {diff:.2} / 255");
        assert!(diff < 12.0, "{diff}");
        std::fs::copy(
            &path,
            ui_support::shots_dir().join(format!("files_canvas_{scale}x.png")),
        )
        .unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn finish_exports(h: &mut Harness<'static, DivlabApp>) {
    let ctx = h.ctx.clone();
    h.state_mut().finish_exports(&ctx);
    h.run_steps(2);
}

#[test]
fn the_figure_and_the_animation_are_drawn_by_the_render_layer_from_the_panels() {
    let (mut h, dir) = harness("figure");
    steps(&mut h, 5);
    file_menu(&mut h, "figure (SVG)");
    h.run_steps(2);
    finish_exports(&mut h);
    assert!(h.state().message().is_none(), "{:?}", h.state().message());
    let svg = std::fs::read_to_string(saved(&dir, "_figure.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(str::to_owned))
        .collect();
    // Both panels, at the step the app shows, each titled with its scenario.
    let names: Vec<String> = h
        .state()
        .runs()
        .iter()
        .map(|r| r.scenario().name.clone())
        .collect();
    for name in &names {
        assert!(texts.iter().any(|t| t == name), "{name} not in {texts:?}");
    }
    assert_eq!(
        texts.iter().filter(|t| t.contains("· step 5")).count(),
        2,
        "{texts:?}"
    );
    file_menu(&mut h, "figure (PNG)");
    h.run_steps(2);
    finish_exports(&mut h);
    let png = saved(&dir, "_figure.png");
    let image = image::open(&png).unwrap().to_rgba8();
    let (w, h_px) = image.dimensions();
    // Two panels of 800 × 720 figure units side by side, at twice the pixels.
    assert_eq!((w, h_px), (3200, 1440));
    println!(
        "figure PNG: {w} x {h_px} pixels, {} bytes",
        std::fs::metadata(&png).unwrap().len()
    );
    file_menu(&mut h, "animation (GIF)");
    h.run_steps(2);
    finish_exports(&mut h);
    assert!(h.state().message().is_none(), "{:?}", h.state().message());
    assert_eq!(h.state().export_progress(), None);
    let gif = std::fs::read(saved(&dir, "_animation.gif")).unwrap();
    let mut decoder = gif::DecodeOptions::new().read_info(&gif[..]).unwrap();
    let mut frames = 0;
    while decoder.read_next_frame().unwrap().is_some() {
        frames += 1;
    }
    // Steps 0 to 5, one frame a step.
    assert_eq!(frames, 6);
    std::fs::copy(
        &png,
        ui_support::shots_dir().join("files_figure_export.png"),
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
