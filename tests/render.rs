//! Headless figures (`divlab::render` and `divlab render`): byte-identical PNGs from the same inputs, the
//! requested size and a picture that is not blank, a committed snapshot (per-pixel tolerance; update with
//! `UPDATE_SNAPSHOTS=1`), SVG that parses with one element per particle and per ellipse, the colours the app
//! uses, and every bad input refused with a clear error and no file left behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use divlab::core::sim::ModelView;
use divlab::gpu::backend::BackendChoice;
use divlab::render::{self, Colormap, Format, Options, Theme};
use divlab::run::{Run, load};

fn run_of(name: &str, steps: usize) -> Run {
    let loaded = load::bundled(name).unwrap();
    let mut run = Run::new(
        &loaded,
        BackendChoice::Cpu,
        Err("the CPU core was asked for"),
    )
    .unwrap();
    for _ in 0..steps {
        run.step().unwrap();
    }
    run
}

fn small(width: u32, height: u32) -> Options {
    Options {
        width,
        height,
        ..Options::default()
    }
}

fn png_of(runs: &[&Run], opts: &Options) -> Vec<u8> {
    let fig = render::figure(runs, opts).unwrap();
    render::encode(&fig, Format::Png, 1.0).unwrap()
}

#[test]
fn the_same_inputs_give_byte_identical_pngs_of_the_requested_size_that_are_not_blank() {
    let opts = small(360, 240);
    let a = png_of(&[&run_of("two_modes_reverse_kl", 10)], &opts);
    let b = png_of(&[&run_of("two_modes_reverse_kl", 10)], &opts);
    assert_eq!(a, b, "two renders of the same run differ");
    let img = image::load_from_memory(&a).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (360, 240));
    // The plot area (the middle of the picture) has structure: the heatmap's two modes and the ellipses.
    let lum: Vec<f64> = (80..280)
        .flat_map(|x| (60..200).map(move |y| (x, y)))
        .map(|(x, y)| {
            let p = img.get_pixel(x, y).0;
            0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2])
        })
        .collect();
    let mean = lum.iter().sum::<f64>() / lum.len() as f64;
    let var = lum.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / lum.len() as f64;
    assert!(
        var > 100.0,
        "the plot area is nearly uniform: variance {var:.1}"
    );
    // A different step draws a different picture.
    let c = png_of(&[&run_of("two_modes_reverse_kl", 30)], &opts);
    assert_ne!(a, c);
}

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots")
}

/// Compares `png` with the committed snapshot `name`: a pixel differs when a channel is more than 24 apart;
/// at most 0.5 % of the pixels may differ (anti-aliasing and float rounding across machines).
fn check_snapshot(name: &str, png: &[u8]) {
    let path = snapshot_dir().join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() || !path.exists() {
        std::fs::create_dir_all(snapshot_dir()).unwrap();
        std::fs::write(&path, png).unwrap();
        eprintln!("wrote the snapshot {}", path.display());
        return;
    }
    let want = image::open(&path).unwrap().to_rgb8();
    let got = image::load_from_memory(png).unwrap().to_rgb8();
    assert_eq!(want.dimensions(), got.dimensions(), "{name}: size");
    let differing = want
        .pixels()
        .zip(got.pixels())
        .filter(|(a, b)| a.0.iter().zip(b.0).any(|(x, y)| x.abs_diff(y) > 24))
        .count();
    let allowed = want.pixels().len() / 200;
    if differing > allowed {
        let new = std::env::temp_dir().join(format!("new_{name}"));
        let _ = std::fs::write(&new, png);
        panic!(
            "{name}: {differing} pixels differ (at most {allowed}); the new picture is {}; UPDATE_SNAPSHOTS=1 \
             to accept it after looking at it",
            new.display()
        );
    }
}

#[test]
fn rendered_presets_match_their_snapshots() {
    check_snapshot(
        "render_two_modes_reverse_kl.png",
        &png_of(&[&run_of("two_modes_reverse_kl", 20)], &small(400, 260)),
    );
    let dark = Options {
        theme: Theme::Dark,
        colormap: Colormap::Magma,
        ..small(480, 300)
    };
    check_snapshot(
        "render_banana_svgd_dark.png",
        &png_of(
            &[
                &run_of("banana_svgd", 10),
                &run_of("two_modes_forward_kl", 10),
            ],
            &dark,
        ),
    );
}

fn svg_of(runs: &[&Run]) -> String {
    let fig = render::figure(runs, &small(400, 300)).unwrap();
    String::from_utf8(render::encode(&fig, Format::Svg, 2.0).unwrap()).unwrap()
}

fn count_class(doc: &roxmltree::Document<'_>, tag: &str, class: &str) -> usize {
    doc.descendants()
        .filter(|n| n.has_tag_name(tag))
        .filter(|n| {
            n.attribute("class") == Some(class)
                || n.parent_element().and_then(|p| p.attribute("class")) == Some(class)
        })
        .count()
}

#[test]
fn the_svg_parses_and_has_one_element_per_particle_and_per_ellipse() {
    let flow = run_of("banana_svgd", 3);
    let ModelView::Particles(particles) = flow.model() else {
        panic!("banana_svgd is a particle flow");
    };
    let n_particles = particles.len();
    let mixture = run_of("mixture_em", 3);
    let ModelView::Mixture(q) = mixture.model() else {
        panic!("mixture_em fits a mixture");
    };
    let n_components = q.n_components();
    let svg = svg_of(&[&flow, &mixture]);
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.attribute("width"),
        Some("800"),
        "scale 2 doubles the size"
    );
    assert_eq!(root.attribute("viewBox"), Some("0 0 400 300"));
    assert_eq!(count_class(&doc, "circle", "particle"), n_particles);
    assert_eq!(count_class(&doc, "ellipse", "ellipse-1sigma"), n_components);
    assert_eq!(count_class(&doc, "ellipse", "ellipse-2sigma"), n_components);
    // Heatmaps and colour bars as embedded PNGs, text as text.
    let images: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("image"))
        .collect();
    assert_eq!(images.len(), 4);
    for im in images {
        let href = im
            .attribute(("http://www.w3.org/1999/xlink", "href"))
            .unwrap();
        assert!(href.starts_with("data:image/png;base64,iVBORw0KGgo"));
    }
    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(str::to_owned))
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("SVGD · step 3")),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t == "x₁"));
}

#[test]
fn the_figure_uses_the_apps_colours() {
    use divlab::app::heatmap::Colormap as AppColormap;
    let pairs = [
        (Colormap::Viridis, AppColormap::Viridis),
        (Colormap::Cividis, AppColormap::Cividis),
        (Colormap::Magma, AppColormap::Magma),
        (Colormap::Inferno, AppColormap::Inferno),
        (Colormap::YellowGreenBlue, AppColormap::YellowGreenBlue),
    ];
    let rgb = |c: egui::Color32| [c.r(), c.g(), c.b()];
    for (ours, app) in pairs {
        for i in 0..=20 {
            let t = f64::from(i) / 20.0;
            assert_eq!(ours.eval(t).0[..3], rgb(app.eval(t)), "{ours:?} at {t}");
        }
        assert_eq!(ours.model_color().0[..3], rgb(app.model_color()));
        assert_eq!(
            ours.target_point_color().0[..3],
            rgb(app.target_point_color())
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// The binary.

fn divlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_divlab"))
        .args(args)
        .output()
        .expect("run divlab")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("divlab-render-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn divlab_render_writes_png_and_svg_of_a_bundled_name_or_a_file() {
    let dir = scratch("ok");
    let png = dir.join("fig.png");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/mixture_em.ron");
    let o = divlab(&[
        "render",
        scenario.to_str().unwrap(),
        "--steps",
        "5",
        "--out",
        png.to_str().unwrap(),
        "--width",
        "300",
        "--height",
        "200",
        "--scale",
        "2",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let img = image::open(&png).unwrap();
    assert_eq!((img.width(), img.height()), (600, 400));
    let svg = dir.join("fig.svg");
    let o = divlab(&[
        "render",
        "two_modes_reverse_kl",
        "--with",
        "two_modes_forward_kl",
        "--steps",
        "5",
        "--out",
        svg.to_str().unwrap(),
        "--width",
        "300",
        "--height",
        "200",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&svg).unwrap();
    roxmltree::Document::parse(&text).unwrap();
    assert!(text.contains("forward KL"));
    assert_eq!(
        files_in(&dir),
        ["fig.png", "fig.svg"],
        "no temporary file left"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_render_inputs_fail_clearly_and_leave_no_file() {
    let dir = scratch("bad");
    let out = dir.join("out.png");
    let out = out.to_str().unwrap();
    let not_a_dir = dir.join("plain-file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    let inside_file = not_a_dir.join("out.png");
    let missing_dir = dir.join("no-such-folder/out.png");
    let jpg = dir.join("out.jpg");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["no_such_preset", "--out", out], "no bundled scenario"),
        (vec!["missing/file.ron", "--out", out], "missing/file.ron"),
        (
            vec!["mixture_em", "--out", out, "--width", "0"],
            "--width 0",
        ),
        (
            vec!["mixture_em", "--out", out, "--height", "16385"],
            "at most 16384",
        ),
        (
            vec![
                "mixture_em",
                "--out",
                out,
                "--width",
                "9000",
                "--scale",
                "2",
            ],
            "at most 16384",
        ),
        (
            vec!["mixture_em", "--out", out, "--scale", "0"],
            "--scale 0",
        ),
        (
            vec!["mixture_em", "--out", jpg.to_str().unwrap()],
            "unknown picture format .jpg",
        ),
        (vec!["mixture_em"], "needs --out"),
        (
            vec!["mixture_em", "--out", out, "--layout", "3"],
            "--layout 3",
        ),
        (
            vec!["mixture_em", "--out", out, "--layout", "2"],
            "needs 2 scenarios",
        ),
        (
            vec!["mixture_em", "--out", out, "--theme", "sepia"],
            "--theme sepia",
        ),
        (
            vec![
                "mixture_em",
                "--steps",
                "1",
                "--out",
                inside_file.to_str().unwrap(),
            ],
            "not a folder",
        ),
        (
            vec![
                "mixture_em",
                "--steps",
                "1",
                "--out",
                missing_dir.to_str().unwrap(),
            ],
            "not a folder",
        ),
        (
            vec!["mixture_em", "--steps", "1", "--out", dir.to_str().unwrap()],
            "picture format",
        ),
    ];
    for (args, says) in cases {
        let mut full = vec!["render"];
        full.extend(args.iter().copied());
        let o = divlab(&full);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(files_in(&dir), ["plain-file"], "{args:?} left a file");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
