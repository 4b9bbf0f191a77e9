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
    let mp4 = dir.join("a.mp4");
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
        (
            vec!["mixture_em", "--animate", mp4.to_str().unwrap()],
            "unknown animation format .mp4",
        ),
        (
            vec!["mixture_em", "--animate", out, "--frames", "0"],
            "--frames 0",
        ),
        (
            vec!["mixture_em", "--animate", out, "--frames", "1001"],
            "1 to 1000 frames",
        ),
        (
            vec!["mixture_em", "--animate", out, "--fps", "60"],
            "1 to 50",
        ),
        (
            vec!["mixture_em", "--animate", out, "--out", out],
            "not both",
        ),
        (
            vec!["mixture_em", "--out", out, "--every", "3"],
            "--animate only",
        ),
        (
            vec!["mixture_em", "--out", out, "--frames", "3"],
            "--animate only",
        ),
        (
            vec![
                "mixture_em",
                "--with",
                "banana_svgd",
                "--panel",
                "3",
                "--out",
                out,
            ],
            "--panel 3: the layout has 2 panels",
        ),
        (
            vec!["mixture_em", "--out", out, "--overlays", "plan,witnes"],
            "unknown overlay `witnes`",
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

/// The frames of a GIF, decoded to RGBA.
fn gif_frames(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut opts = gif::DecodeOptions::new();
    opts.set_color_output(gif::ColorOutput::RGBA);
    let mut d = opts.read_info(bytes).expect("a GIF");
    let mut frames = Vec::new();
    while let Some(f) = d.read_next_frame().expect("a GIF frame") {
        frames.push(f.buffer.to_vec());
    }
    frames
}

/// An APNG's declared frame count (acTL) and its frame-control chunks (fcTL).
fn apng_frames(bytes: &[u8]) -> (u32, usize) {
    let actl = bytes
        .windows(4)
        .position(|w| w == b"acTL")
        .expect("an acTL chunk");
    let n = u32::from_be_bytes(bytes[actl + 4..actl + 8].try_into().unwrap());
    (n, bytes.windows(4).filter(|w| *w == b"fcTL").count())
}

#[test]
fn divlab_render_animates_as_gif_and_apng_with_the_frames_asked_for() {
    let dir = scratch("anim");
    let gif_path = dir.join("fit.gif");
    let args = |out: &Path| {
        vec![
            "render".to_owned(),
            "two_modes_reverse_kl".into(),
            "--animate".into(),
            out.to_str().unwrap().into(),
            "--frames".into(),
            "6".into(),
            "--every".into(),
            "10".into(),
            "--fps".into(),
            "5".into(),
            "--width".into(),
            "240".into(),
            "--height".into(),
            "150".into(),
        ]
    };
    let run = |out: &Path| {
        let a = args(out);
        let o = divlab(&a.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let said = run(&gif_path);
    let bytes = std::fs::read(&gif_path).unwrap();
    assert!(
        said.contains("6 frames of 240×150 px at 5 fps, steps 0 to 50 every 10")
            && said.contains(&format!("{} bytes", bytes.len())),
        "{said}"
    );
    let frames = gif_frames(&bytes);
    assert_eq!(frames.len(), 6);
    assert!(frames.iter().all(|f| f.len() == 240 * 150 * 4));
    // The fit moves: the first and the last frame differ in many pixels; consecutive frames are not all equal.
    let differing = frames[0]
        .chunks_exact(4)
        .zip(frames[5].chunks_exact(4))
        .filter(|(a, b)| a.iter().zip(b.iter()).any(|(x, y)| x.abs_diff(*y) > 24))
        .count();
    assert!(differing > 500, "only {differing} pixels changed");
    // The same inputs, the same bytes.
    let again = dir.join("again.gif");
    run(&again);
    assert_eq!(std::fs::read(&again).unwrap(), bytes);

    let apng = dir.join("fit.png");
    run(&apng);
    let bytes = std::fs::read(&apng).unwrap();
    assert_eq!(apng_frames(&bytes), (6, 6));
    // Its default image is the first frame, at step 0: a still of step 0 has the same pixels.
    let first = image::load_from_memory(&bytes).unwrap().to_rgba8();
    assert_eq!(first.dimensions(), (240, 150));
    assert_eq!(
        files_in(&dir),
        ["again.gif", "fit.gif", "fit.png"],
        "no temporary file left"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_animation_steps_between_frames_and_its_last_frame_is_the_still_of_that_step() {
    use divlab::render::anim::{AnimFormat, Animation};
    let opts = small(200, 130);
    let mut anim = Animation::new(
        vec![run_of("mixture_mmd_flow", 0)],
        vec![],
        opts,
        1.0,
        AnimFormat::Apng,
        3,
        4,
        10,
    )
    .unwrap();
    let steps: Vec<usize> = (0..3).map(|_| anim.next_frame().unwrap().step).collect();
    assert_eq!(steps, [0, 4, 8]);
    assert!(anim.next_frame().is_err(), "a fourth frame of three");
    let bytes = anim.finish().unwrap();
    // Decode the last frame's pixels: an APNG of full frames, so the frame data after the last fcTL is the
    // still of step 8, compressed. Compare by re-rendering through the same path.
    let still = render::figure(&[&run_of("mixture_mmd_flow", 8)], &opts).unwrap();
    let want = render::anim::frame_rgba(&still, 1.0).unwrap();
    let mut decoder = png::Decoder::new(std::io::Cursor::new(&bytes[..]));
    decoder.set_transformations(png::Transformations::IDENTITY);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let mut last = Vec::new();
    for _ in 0..3 {
        let info = reader.next_frame(&mut buf).unwrap();
        last = buf[..info.buffer_size()].to_vec();
    }
    assert_eq!(last, want, "the last frame is the still of step 8");
}

#[test]
fn overlays_are_drawn_in_the_figure_and_named_in_its_legend() {
    use divlab::render::overlays::{Limits, Toggles, draw_all};
    let run = run_of("moons_sinkhorn_flow", 3);
    let toggles = Toggles::parse_list("plan,velocity").unwrap();
    let drawing = draw_all(&run, toggles, &Limits::default());
    let ModelView::Particles(p) = run.model() else {
        panic!("a particle flow");
    };
    let arrows: usize = drawing.arrows.iter().map(|a| a.origins.len()).sum();
    assert!(!drawing.lines.is_empty(), "{:?}", drawing.captions);
    assert_eq!(arrows, p.len().min(Limits::default().max_arrows));
    let fig = render::figure_with(&[(&run, toggles)], &small(400, 300)).unwrap();
    let svg = String::from_utf8(render::encode(&fig, Format::Svg, 1.0).unwrap()).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert_eq!(
        count_class(&doc, "polyline", "overlay") + count_class(&doc, "line", "overlay"),
        drawing.lines.len() + arrows,
        "one element per overlay line and per arrow"
    );
    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(str::to_owned))
        .collect();
    for want in [
        "q: 300 particles",
        "transport plan (strongest couplings)",
        "particle displacement (arrows)",
    ] {
        assert!(texts.iter().any(|t| t == want), "{want} not in {texts:?}");
    }
    // An overlay that does not apply says why in the legend.
    let em = run_of("mixture_em", 2);
    let fig = render::figure_with(
        &[(&em, Toggles::parse_list("velocity").unwrap())],
        &small(400, 300),
    )
    .unwrap();
    let said: Vec<String> = fig
        .walk()
        .into_iter()
        .filter_map(|p| match p {
            render::Prim::Text { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert!(
        said.iter()
            .any(|t| t
                .starts_with("particle displacement (arrows): not drawn: the model is a mixture")),
        "{said:?}"
    );
}

#[test]
fn divlab_render_panel_draws_one_panel_of_the_layout() {
    let dir = scratch("panel");
    let one = dir.join("one.svg");
    let o = divlab(&[
        "render",
        "mixture_em",
        "--with",
        "banana_svgd",
        "--panel",
        "2",
        "--steps",
        "2",
        "--out",
        one.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let svg = std::fs::read_to_string(&one).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert_eq!(
        count_class(&doc, "ellipse", "ellipse-1sigma"),
        0,
        "not the EM panel"
    );
    assert!(
        count_class(&doc, "circle", "particle") > 0,
        "the SVGD panel"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
