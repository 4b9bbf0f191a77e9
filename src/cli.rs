//! Headless subcommands of the `divlab` binary. Usage errors exit with status 2, failures with status 1.

use std::process::ExitCode;

use divlab::gpu::backend::BackendChoice;

use crate::bench::BenchKind;

const HELP: &str = "\
divlab — Divergence Lab: 2D distributions fitted live under different divergences

USAGE:
    divlab                      open the app (desktop window)
    divlab open '#v=1&…'        open the app on a link (Copy link in the app, or the web app's address)
    divlab <SUBCOMMAND> [ARGS]  work headless

SUBCOMMANDS:
    measure SCENARIO [--steps N] [--json] [--backend cpu|gpu|auto] [SETTINGS]
        every divergence between the scenario's target and model (after N fitting steps, default 0).
        SETTINGS override the scenario's `measure` section (docs/scenario.md), each range-checked:
          --epsilon E | --epsilon-rel R   Sinkhorn ε in cost units, or ε = R·c(D) with D the diagonal of
                                          both clouds' bounding box (default ε = (5% of the target box's
                                          smaller side)²)
          --epsilon-scaling S             ε-scaling factor in (0, 1) (default 0.7)
          --sinkhorn-iters K              iteration cap per Sinkhorn problem (default 500)
          --sinkhorn-tolerance T          marginal L1 error to stop at (default 1e-4)
          --precision f32|f64             Sinkhorn inner loop (default f32)
          --sinkhorn-points P             at most P points a side in the OT rows (default: all)
          --cost squared|half_squared     OT ground cost |x − y|² (default) or |x − y|²/2
          --kernel-sigma S                MMD kernel length scale (default 10% of the box's smaller side)
          --riesz-r R                     exponent of the energy-distance kernel −|x − y|^R, in (0, 2)
          --slices K                      slices of sliced W2 (default 64)
          --resolution N                  grid cells per side of the f-divergences (default 256)
          --samples N                     samples of p, and of a mixture q (default 1000)
          --knn-k K                       neighbours k of the kNN rows knn_kl and knn_renyi_2 (default 5)
        The optimal-transport rows measure the same two clouds (a particle model is its particles, a
        sample target its points): sinkhorn = S_ε = OT_ε(α,β) − ½OT_ε(α,α) − ½OT_ε(β,β) (debiased);
        ot_epsilon = OT_ε = min ⟨π, C⟩ + ε KL(π‖a⊗b); transport_cost = ⟨π_ε, C⟩ of that plan (POT's
        ot.sinkhorn2); exact_w2 = min ⟨π, C⟩ unregularized (POT's ot.emd2; W₂² for the cost |x − y|²),
        by a network simplex, up to 3000 points a side. As ε → 0, OT_ε and ⟨π_ε, C⟩ approach exact_w2.
        is_ess = 1/(1 + χ²(p‖q)) = 1/∫p²/q, the importance-sampling ESS/N of q as a proposal for p
        (large N); cauchy_schwarz_grid = the grid quadrature beside cauchy_schwarz's closed form.
        orlicz_wasserstein and mixing_w2 compare the mixing measures Σ wₖ δ(μₖ, Σₖ) of two mixtures
        (ground cost: the Gaussians' W₂): W_Φ with Φ = eˣ − 1 and W₂, by exact programs;
        not applicable for particles or a target that is not a mixture.
        A value marked ≥ is a lower bound (a χ²-type integrand the grid's region does not hold)
    run SCENARIO [--steps N] [--every K] [--json] [--backend cpu|gpu|auto]
        the trajectory of the fit (parameters or particles, and the objective); same seed, same bytes.
        N defaults to the scenario's `steps`. A step refused midway prints the trajectory so far and
        a `stopped` record (step, reason), and exits with status 3
    render SCENARIO --out FILE.png|FILE.svg [--steps N] [--width W --height H --scale S]
           [--layout 1|2|4 --with SCENARIO…] [--theme light|dark] [--colormap NAME] [--backend cpu|gpu|auto]
        a figure of the fit after N steps (default: the scenario's `steps`), offscreen: the target's heatmap,
        the model (particles or 1σ/2σ ellipses), axes, a colour bar and a title per panel. PNG through a CPU
        rasterizer (same inputs, same bytes), or SVG with vector marks and text. W×H defaults to 1280×720;
        S multiplies the pixels (at most 16384 a side). --with adds panels side by side (2) or 2×2 (4),
        all at the same step; --panel I draws only the I-th of them (1-based). --overlays LIST draws
        overlays on every panel, as the app's menu does (plan, barycentric, potential, witness, velocity,
        spread, contours, knn_ratio; comma-separated), each named in the panel's legend. --colormap: viridis,
        cividis, magma, inferno or ygb. The file is written whole or not at all
    render SCENARIO --animate FILE.gif|FILE.png [--frames F] [--every K] [--fps R] [--steps N] [...]
        the fit as an animation (GIF, or APNG for .png): F frames (default 60, at most 1000), one every K
        steps (default: spread over the scenario's `steps`), the first at step N (default 0), played at
        R frames per second (default 15, 1 to 50); W×H defaults to 720×450. The same flags as a still
        otherwise. A progress bar on a terminal; prints the file's size
    caps [--json]
        which method runs on which backend, and why the CPU where it does
    bench em|grid|sinkhorn|sinkhorn-flow|newton|mmd|sliced [--n N] [--iters I] [--json] [--backend cpu|gpu|auto]
        per-iteration seconds of the core's kernels (median over I iterations after a warm-up)
    bench soak [--steps N] [--seconds S] [--only TEXT] [--json]
        every bundled scenario and claim-preset panel for N steps (default 100000; at most S seconds each)
        on the CPU core: fails on a non-finite number or resident memory growing beyond its bound
    bench preset NAME|all [--steps K] [--json] [--backend cpu|gpu|auto]
        steps per second of a bundled scenario or claim preset at its default size, through the run layer
        (every panel, in lockstep): the CPU core, and the GPU where the method has a GPU twin and an
        adapter is found (unless --backend cpu). K defaults to the preset's steps (at most 20 s timed)
    help, --help, -h
        print this help
    --version, -V
        print the version

SCENARIO is a .ron or .json file (format: docs/scenario.md; examples in assets/scenarios/); render also
takes a bundled scenario's name (e.g. two_modes_reverse_kl).
run and measure compute on the CPU core unless --backend says otherwise (deterministic: same bytes on
any machine with the same build); the output names the backend that took the steps. Measurements are
always computed by the CPU core.

EXIT STATUS: 0 success, 1 failure (bad scenario, refused backend), 2 usage error, 3 run stopped midway.
";

/// A command line that cannot be understood: printed with a hint, exit status 2.
#[derive(Debug)]
pub struct UsageError(pub String);

/// Entry point for a non-empty argument list.
pub fn main(args: &[String]) -> ExitCode {
    match parse(args) {
        Ok(Command::Help) => {
            print!("{HELP}");
            ExitCode::SUCCESS
        }
        Ok(Command::Version) => {
            println!("divlab {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Ok(cmd) => match execute(cmd) {
            Ok(Ended::Done) => ExitCode::SUCCESS,
            Ok(Ended::Stopped) => ExitCode::from(3),
            Err(err) => {
                eprintln!("divlab: error: {err}");
                ExitCode::FAILURE
            }
        },
        Err(UsageError(msg)) => {
            eprintln!(
                "divlab: {msg}\n\nRun `divlab --help` for the list of subcommands and flags."
            );
            ExitCode::from(2)
        }
    }
}

#[derive(Debug, PartialEq)]
pub enum Command {
    Help,
    Version,
    Measure {
        scenario: String,
        steps: usize,
        json: bool,
        backend: BackendChoice,
        /// Settings from the flags, over the scenario's `measure` section.
        settings: MeasureSpec,
    },
    Run {
        scenario: String,
        /// Defaults to the scenario's `steps`.
        steps: Option<usize>,
        every: usize,
        json: bool,
        backend: BackendChoice,
    },
    Caps {
        json: bool,
    },
    Render(RenderArgs),
    Bench {
        kind: BenchKind,
        n: Option<usize>,
        iters: Option<usize>,
        json: bool,
        backend: BackendChoice,
    },
    /// `bench soak` (src/soak.rs).
    Soak(crate::soak::SoakArgs),
    BenchPreset {
        name: String,
        steps: Option<usize>,
        json: bool,
        backend: BackendChoice,
    },
}

/// What `divlab render` was asked for.
#[derive(Debug, PartialEq)]
pub struct RenderArgs {
    /// The first panel's scenario, then those of `--with`.
    pub scenarios: Vec<String>,
    /// The step drawn (a still) or the first frame's step (an animation). Defaults to the first scenario's
    /// `steps` for a still and to 0 for an animation.
    pub steps: Option<usize>,
    /// The file written: a still (`--out`) or an animation (`--animate`).
    pub out: String,
    /// Set for `--animate`.
    pub animate: Option<AnimateArgs>,
    /// Draw only this panel (0-based) of the layout.
    pub panel: Option<usize>,
    /// The overlays drawn on every panel.
    pub overlays: divlab::render::overlays::Toggles,
    pub width: u32,
    pub height: u32,
    pub scale: f32,
    pub theme: divlab::render::Theme,
    pub colormap: divlab::render::Colormap,
    pub backend: BackendChoice,
}

/// `--animate`'s settings.
#[derive(Debug, PartialEq)]
pub struct AnimateArgs {
    pub format: divlab::render::anim::AnimFormat,
    pub frames: usize,
    /// Steps between frames; defaults to spreading the frames over the first scenario's `steps`.
    pub every: Option<usize>,
    pub fps: u32,
}

/// Frames of an animation unless `--frames` says otherwise.
const DEFAULT_FRAMES: usize = 60;
/// Frames per second of an animation unless `--fps` says otherwise.
const DEFAULT_FPS: u32 = 15;

/// Flags shared by the subcommands, collected before checking which apply.
#[derive(Default)]
struct Flags {
    positional: Vec<String>,
    out: Option<String>,
    width: Option<usize>,
    height: Option<usize>,
    scale: Option<f32>,
    layout: Option<usize>,
    with: Vec<String>,
    theme: Option<divlab::render::Theme>,
    colormap: Option<divlab::render::Colormap>,
    steps: Option<usize>,
    every: Option<usize>,
    animate: Option<String>,
    frames: Option<usize>,
    fps: Option<usize>,
    panel: Option<usize>,
    overlays: Option<divlab::render::overlays::Toggles>,
    n: Option<usize>,
    iters: Option<usize>,
    json: bool,
    backend: Option<BackendChoice>,
    measure: MeasureSpec,
}

/// The `divlab measure` flags that set a field of the `measure` section, with that field.
const MEASURE_FLAGS: [(&str, &str); 14] = [
    ("--epsilon", "epsilon"),
    ("--epsilon-rel", "epsilon_rel"),
    ("--epsilon-scaling", "epsilon_scaling"),
    ("--sinkhorn-iters", "sinkhorn_max_iters"),
    ("--sinkhorn-tolerance", "sinkhorn_tolerance"),
    ("--precision", "precision"),
    ("--sinkhorn-points", "sinkhorn_points"),
    ("--cost", "cost"),
    ("--kernel-sigma", "kernel_sigma"),
    ("--riesz-r", "riesz_r"),
    ("--slices", "directions"),
    ("--resolution", "resolution"),
    ("--samples", "samples"),
    ("--knn-k", "knn_k"),
];

fn parse_number(flag: &str, value: Option<&String>) -> Result<f64, UsageError> {
    let value = value.ok_or_else(|| UsageError(format!("{flag} needs a value")))?;
    value
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| UsageError(format!("{flag} {value}: expected a finite number")))
}

/// Sets the `measure` field of `flag` from its value (ranges are checked afterwards, all together).
fn set_measure_flag(
    m: &mut MeasureSpec,
    flag: &str,
    value: Option<&String>,
) -> Result<(), UsageError> {
    match flag {
        "--epsilon" => m.epsilon = Some(parse_number(flag, value)?),
        "--epsilon-rel" => m.epsilon_rel = Some(parse_number(flag, value)?),
        "--epsilon-scaling" => m.epsilon_scaling = Some(parse_number(flag, value)?),
        "--sinkhorn-tolerance" => m.sinkhorn_tolerance = Some(parse_number(flag, value)?),
        "--kernel-sigma" => m.kernel_sigma = Some(parse_number(flag, value)?),
        "--riesz-r" => m.riesz_r = Some(parse_number(flag, value)?),
        "--sinkhorn-iters" => m.sinkhorn_max_iters = Some(parse_count(flag, value, 0)?),
        "--sinkhorn-points" => m.sinkhorn_points = Some(parse_count(flag, value, 0)?),
        "--slices" => m.directions = Some(parse_count(flag, value, 0)?),
        "--resolution" => m.resolution = Some(parse_count(flag, value, 0)?),
        "--samples" => m.samples = Some(parse_count(flag, value, 0)?),
        "--knn-k" => m.knn_k = Some(parse_count(flag, value, 0)?),
        "--precision" => {
            let v = value.ok_or_else(|| UsageError(format!("{flag} needs a value")))?;
            m.precision = Some(match v.as_str() {
                "f32" => Precision::F32,
                "f64" => Precision::F64,
                other => {
                    return Err(UsageError(format!("{flag} {other}: expected f32 or f64")));
                }
            });
        }
        "--cost" => {
            let v = value.ok_or_else(|| UsageError(format!("{flag} needs a value")))?;
            m.cost = Some(match v.as_str() {
                "squared" => CostConvention::Squared,
                "half_squared" => CostConvention::HalfSquared,
                other => {
                    return Err(UsageError(format!(
                        "{flag} {other}: expected squared (|x − y|²) or half_squared (|x − y|²/2)"
                    )));
                }
            });
        }
        _ => return Err(UsageError(format!("unknown flag {flag}"))),
    }
    Ok(())
}

/// The settings given by flags, range-checked; an error names the flag and the valid range.
fn checked_measure_flags(m: MeasureSpec) -> Result<MeasureSpec, UsageError> {
    m.validate().map_err(|e| {
        let field = e.field_name().unwrap_or("");
        let flag = if m.epsilon.is_some() && m.epsilon_rel.is_some() {
            "--epsilon and --epsilon-rel"
        } else {
            MEASURE_FLAGS
                .iter()
                .find(|(_, f)| format!("measure.{f}") == field)
                .map_or("measure flags", |(flag, _)| *flag)
        };
        UsageError(format!("{flag}: {e}"))
    })?;
    Ok(m)
}

fn parse_count(flag: &str, value: Option<&String>, min: usize) -> Result<usize, UsageError> {
    let value = value.ok_or_else(|| UsageError(format!("{flag} needs a value")))?;
    match value.parse::<usize>() {
        Ok(v) if v >= min => Ok(v),
        _ => Err(UsageError(format!(
            "{flag} {value}: expected a whole number ≥ {min}"
        ))),
    }
}

fn parse_flags(sub: &str, rest: &[String], allowed: &[&str]) -> Result<Flags, UsageError> {
    let mut flags = Flags::default();
    let mut i = 0;
    while i < rest.len() {
        let arg = rest[i].as_str();
        if arg.starts_with('-') {
            if !allowed.contains(&arg) {
                return Err(UsageError(format!(
                    "unknown flag {arg} for `divlab {sub}` (accepted: {})",
                    allowed.join(", ")
                )));
            }
            match arg {
                "--json" => flags.json = true,
                "--steps" => {
                    flags.steps = Some(parse_count(arg, rest.get(i + 1), 0)?);
                    i += 1;
                }
                "--every" => {
                    flags.every = Some(parse_count(arg, rest.get(i + 1), 1)?);
                    i += 1;
                }
                "--n" => {
                    flags.n = Some(parse_count(arg, rest.get(i + 1), 1)?);
                    i += 1;
                }
                "--iters" => {
                    flags.iters = Some(parse_count(arg, rest.get(i + 1), 1)?);
                    i += 1;
                }
                "--width" | "--height" | "--layout" => {
                    let v = Some(parse_count(arg, rest.get(i + 1), 0)?);
                    match arg {
                        "--width" => flags.width = v,
                        "--height" => flags.height = v,
                        _ => flags.layout = v,
                    }
                    i += 1;
                }
                "--scale" => {
                    let v = rest
                        .get(i + 1)
                        .ok_or_else(|| UsageError("--scale needs a value".into()))?;
                    flags.scale = Some(match v.parse::<f32>() {
                        Ok(s) if s.is_finite() && s > 0.0 => s,
                        _ => {
                            return Err(UsageError(format!("--scale {v}: expected a number > 0")));
                        }
                    });
                    i += 1;
                }
                "--out" | "--animate" => {
                    let v = rest
                        .get(i + 1)
                        .ok_or_else(|| UsageError(format!("{arg} needs a file")))?;
                    if arg == "--out" {
                        flags.out = Some(v.clone());
                    } else {
                        flags.animate = Some(v.clone());
                    }
                    i += 1;
                }
                "--overlays" => {
                    let v = rest
                        .get(i + 1)
                        .ok_or_else(|| UsageError("--overlays needs a list".into()))?;
                    flags.overlays = Some(
                        divlab::render::overlays::Toggles::parse_list(v)
                            .map_err(|e| UsageError(format!("--overlays {v}: {e}")))?,
                    );
                    i += 1;
                }
                "--frames" | "--fps" | "--panel" => {
                    let v = Some(parse_count(arg, rest.get(i + 1), 1)?);
                    match arg {
                        "--frames" => flags.frames = v,
                        "--fps" => flags.fps = v,
                        _ => flags.panel = v,
                    }
                    i += 1;
                }
                "--with" => {
                    // One or more scenarios, up to the next flag.
                    let start = flags.with.len();
                    while let Some(v) = rest.get(i + 1).filter(|v| !v.starts_with('-')) {
                        flags.with.push(v.clone());
                        i += 1;
                    }
                    if flags.with.len() == start {
                        return Err(UsageError("--with needs a SCENARIO".into()));
                    }
                }
                "--theme" => {
                    let v = rest
                        .get(i + 1)
                        .ok_or_else(|| UsageError("--theme needs a value".into()))?;
                    flags.theme = Some(divlab::render::Theme::parse(v).ok_or_else(|| {
                        UsageError(format!("--theme {v}: expected light or dark"))
                    })?);
                    i += 1;
                }
                "--colormap" => {
                    let v = rest
                        .get(i + 1)
                        .ok_or_else(|| UsageError("--colormap needs a value".into()))?;
                    flags.colormap = Some(divlab::render::Colormap::parse(v).ok_or_else(|| {
                        UsageError(format!(
                            "--colormap {v}: expected viridis, cividis, magma, inferno or ygb"
                        ))
                    })?);
                    i += 1;
                }
                "--backend" => {
                    let v = rest
                        .get(i + 1)
                        .ok_or_else(|| UsageError("--backend needs a value".into()))?;
                    flags.backend = Some(match v.as_str() {
                        "cpu" => BackendChoice::Cpu,
                        "gpu" => BackendChoice::Gpu,
                        "auto" => BackendChoice::Auto,
                        other => {
                            return Err(UsageError(format!(
                                "--backend {other}: expected cpu, gpu or auto"
                            )));
                        }
                    });
                    i += 1;
                }
                _ if MEASURE_FLAGS.iter().any(|(f, _)| *f == arg) => {
                    set_measure_flag(&mut flags.measure, arg, rest.get(i + 1))?;
                    i += 1;
                }
                _ => return Err(UsageError(format!("unknown flag {arg}"))),
            }
        } else {
            flags.positional.push(arg.to_owned());
        }
        i += 1;
    }
    Ok(flags)
}

fn one_positional(sub: &str, what: &str, flags: &mut Flags) -> Result<String, UsageError> {
    match flags.positional.len() {
        1 => Ok(flags.positional.remove(0)),
        0 => Err(UsageError(format!("`divlab {sub}` needs {what}"))),
        _ => Err(UsageError(format!(
            "`divlab {sub}` takes one {what}, got {}: {}",
            flags.positional.len(),
            flags.positional.join(" ")
        ))),
    }
}

/// Parses a non-empty argument list.
pub fn parse(args: &[String]) -> Result<Command, UsageError> {
    let Some((sub, rest)) = args.split_first() else {
        return Ok(Command::Help);
    };
    match sub.as_str() {
        "help" | "--help" | "-h" => Ok(Command::Help),
        "--version" | "-V" => Ok(Command::Version),
        "measure" => {
            let mut allowed = vec!["--steps", "--json", "--backend"];
            allowed.extend(MEASURE_FLAGS.iter().map(|(f, _)| *f));
            let mut f = parse_flags(sub, rest, &allowed)?;
            let settings = checked_measure_flags(std::mem::take(&mut f.measure))?;
            Ok(Command::Measure {
                scenario: one_positional(sub, "a SCENARIO file", &mut f)?,
                steps: f.steps.unwrap_or(0),
                json: f.json,
                backend: f.backend.unwrap_or(BackendChoice::Cpu),
                settings,
            })
        }
        "run" => {
            let mut f = parse_flags(sub, rest, &["--steps", "--every", "--json", "--backend"])?;
            let scenario = one_positional(sub, "a SCENARIO file", &mut f)?;
            Ok(Command::Run {
                scenario,
                steps: f.steps,
                every: f.every.unwrap_or(1),
                json: f.json,
                backend: f.backend.unwrap_or(BackendChoice::Cpu),
            })
        }
        "render" => parse_render(sub, rest),
        "caps" => {
            let f = parse_flags(sub, rest, &["--json"])?;
            if !f.positional.is_empty() {
                return Err(UsageError(format!(
                    "`divlab caps` takes no arguments, got {}",
                    f.positional.join(" ")
                )));
            }
            Ok(Command::Caps { json: f.json })
        }
        "bench" if rest.first().is_some_and(|a| a == "soak") => crate::soak::parse(&rest[1..])
            .map(Command::Soak)
            .map_err(UsageError),
        "bench" if rest.first().is_some_and(|k| k == "preset") => {
            let mut f = parse_flags(sub, &rest[1..], &["--steps", "--json", "--backend"])?;
            let name = one_positional(sub, "a preset name (or all)", &mut f)?;
            Ok(Command::BenchPreset {
                name,
                steps: match f.steps {
                    Some(0) => {
                        return Err(UsageError(
                            "--steps 0: `bench preset` times at least 1 step".into(),
                        ));
                    }
                    k => k,
                },
                json: f.json,
                backend: f.backend.unwrap_or(BackendChoice::Auto),
            })
        }
        "bench" => {
            let mut f = parse_flags(sub, rest, &["--n", "--iters", "--json", "--backend"])?;
            let kind = one_positional(
                sub,
                "a kernel (em, grid, sinkhorn, sinkhorn-flow, newton, mmd, sliced)",
                &mut f,
            )?;
            let kind = match kind.as_str() {
                "em" => BenchKind::Em,
                "grid" => BenchKind::Grid,
                "sinkhorn" => BenchKind::Sinkhorn,
                "mmd" => BenchKind::Mmd,
                "sliced" => BenchKind::Sliced,
                "sinkhorn-flow" => BenchKind::SinkhornFlow,
                "newton" => BenchKind::Newton,
                other => {
                    return Err(UsageError(format!(
                        "unknown bench kernel {other} (expected em, grid, sinkhorn, sinkhorn-flow, newton, mmd or sliced)"
                    )));
                }
            };
            Ok(Command::Bench {
                kind,
                n: f.n,
                iters: f.iters,
                json: f.json,
                backend: f.backend.unwrap_or(BackendChoice::Cpu),
            })
        }
        other if other.starts_with('-') => Err(UsageError(format!("unknown flag {other}"))),
        other => Err(UsageError(format!("unknown subcommand {other}"))),
    }
}

/// `divlab render`'s flags, checked before any step is taken.
fn parse_render(sub: &str, rest: &[String]) -> Result<Command, UsageError> {
    let mut f = parse_flags(
        sub,
        rest,
        &[
            "--steps",
            "--out",
            "--width",
            "--height",
            "--scale",
            "--layout",
            "--with",
            "--theme",
            "--colormap",
            "--backend",
            "--animate",
            "--frames",
            "--every",
            "--fps",
            "--panel",
            "--overlays",
        ],
    )?;
    let first = one_positional(sub, "a SCENARIO (a file or a bundled name)", &mut f)?;
    let (out, animate) = match (f.out.take(), f.animate.take()) {
        (Some(_), Some(_)) => {
            return Err(UsageError(
                "`divlab render` writes a still (--out) or an animation (--animate), not both"
                    .into(),
            ));
        }
        (None, None) => {
            return Err(UsageError(
                "`divlab render` needs --out FILE.png or FILE.svg, or --animate FILE.gif or FILE.png"
                    .into(),
            ));
        }
        (Some(out), None) => {
            for flag in [("--frames", f.frames.is_some()), ("--fps", f.fps.is_some())] {
                if flag.1 {
                    return Err(UsageError(format!("{} applies to --animate only", flag.0)));
                }
            }
            if f.every.is_some() {
                return Err(UsageError("--every applies to --animate only".into()));
            }
            divlab::render::Format::from_path(&out).map_err(UsageError)?;
            (out, None)
        }
        (None, Some(out)) => {
            let format = divlab::render::anim::AnimFormat::from_path(&out).map_err(UsageError)?;
            let frames = f.frames.unwrap_or(DEFAULT_FRAMES);
            let fps = f.fps.map_or(Ok(DEFAULT_FPS), |v| {
                u32::try_from(v).map_err(|_| UsageError(format!("--fps {v}: too large")))
            })?;
            divlab::render::anim::check_frames(frames, fps)
                .map_err(|e| UsageError(format!("--frames/--fps: {e}")))?;
            (
                out,
                Some(AnimateArgs {
                    format,
                    frames,
                    every: f.every,
                    fps,
                }),
            )
        }
    };
    let mut scenarios = vec![first];
    scenarios.append(&mut f.with);
    let layout = f.layout.unwrap_or(scenarios.len());
    if ![1, 2, 4].contains(&layout) {
        return Err(UsageError(format!(
            "--layout {layout}: expected 1, 2 or 4 panels"
        )));
    }
    if scenarios.len() != layout {
        return Err(UsageError(format!(
            "--layout {layout} needs {layout} scenarios (SCENARIO and {} with --with), got {}",
            layout - 1,
            scenarios.len()
        )));
    }
    let side = |flag: &str, v: Option<usize>, default: u32| -> Result<u32, UsageError> {
        match v {
            None => Ok(default),
            Some(v) => u32::try_from(v)
                .map_err(|_| UsageError(format!("{flag} {v}: too large")))
                .and_then(|v| {
                    if v == 0 {
                        Err(UsageError(format!("{flag} 0: expected at least 1 pixel")))
                    } else {
                        Ok(v)
                    }
                }),
        }
    };
    // An animation's default size keeps a GIF of 60 frames to a few megabytes.
    let (dw, dh) = if animate.is_some() {
        (720, 450)
    } else {
        (1280, 720)
    };
    let width = side("--width", f.width, dw)?;
    let height = side("--height", f.height, dh)?;
    let panel = match f.panel {
        None => None,
        Some(p) if p <= scenarios.len() => Some(p - 1),
        Some(p) => {
            return Err(UsageError(format!(
                "--panel {p}: the layout has {} panel{} (expected 1 to {})",
                scenarios.len(),
                if scenarios.len() == 1 { "" } else { "s" },
                scenarios.len()
            )));
        }
    };
    let scale = f.scale.unwrap_or(1.0);
    divlab::render::check_size(width, height, scale).map_err(UsageError)?;
    Ok(Command::Render(RenderArgs {
        scenarios,
        steps: f.steps,
        out,
        animate,
        panel,
        overlays: f.overlays.unwrap_or_default(),
        width,
        height,
        scale,
        theme: f.theme.unwrap_or_default(),
        colormap: f.colormap.unwrap_or_default(),
        backend: f.backend.unwrap_or(BackendChoice::Cpu),
    }))
}

// ---------------------------------------------------------------------------------------------------------
// Running the commands.

use divlab::core::measure::{CostConvention, MeasureSettings, MeasureSpec, Outcome, Row};
use divlab::core::sim::ModelView;
use divlab::core::sinkhorn::Precision;
use divlab::gpu::backend::select_headless;
use divlab::gpu::context::GpuContext;
use divlab::run::{Loaded, Run, Stop, caps, load};
use serde_json::{Value, json};

/// How a command that ran ended.
enum Ended {
    Done,
    /// `divlab run` stopped midway: the trajectory so far was printed with the reason.
    Stopped,
}

/// Runs a parsed command; the error is printed once, by [`main`].
fn execute(cmd: Command) -> Result<Ended, String> {
    match cmd {
        Command::Help | Command::Version => Ok(Ended::Done),
        Command::Measure {
            scenario,
            steps,
            json,
            backend,
            settings,
        } => measure(&scenario, steps, json, backend, &settings).map(|()| Ended::Done),
        Command::Run {
            scenario,
            steps,
            every,
            json,
            backend,
        } => run(&scenario, steps, every, json, backend),
        Command::Caps { json } => caps_table(json).map(|()| Ended::Done),
        Command::Render(args) => render(&args),
        Command::Bench {
            kind,
            n,
            iters,
            json,
            backend,
        } => crate::bench::bench(kind, n, iters, json, backend).map(|()| Ended::Done),
        Command::Soak(args) => crate::soak::soak(&args).map(|()| Ended::Done),
        Command::BenchPreset {
            name,
            steps,
            json,
            backend,
        } => crate::bench::bench_preset(&name, steps, json, backend).map(|()| Ended::Done),
    }
}

/// A run of the scenario file at `path` on the backend asked for. The GPU is probed only when asked for
/// (`gpu` or `auto`), so the default CPU path prints nothing on stderr.
fn start(path: &str, backend: BackendChoice) -> Result<(Loaded, Run), String> {
    let loaded = load::from_file(path).map_err(|e| e.to_string())?;
    start_loaded(loaded, backend)
}

/// A run of a loaded scenario on the backend asked for (see [`start`]).
fn start_loaded(loaded: Loaded, backend: BackendChoice) -> Result<(Loaded, Run), String> {
    let device: Result<GpuContext, String> = match backend {
        BackendChoice::Cpu => Err("the CPU core was asked for".into()),
        _ => match select_headless(backend) {
            Ok((Some(ctx), _)) => Ok(ctx),
            Ok((None, status)) => Err(status.reason.unwrap_or_else(|| "no GPU adapter".to_owned())),
            Err(e) => Err(e.to_string()),
        },
    };
    let run = Run::new(&loaded, backend, device.as_ref().map_err(String::as_str))
        .map_err(|e| match e {
            divlab::run::RunError::GpuRefused(reason) => {
                let gpu_methods: Vec<&str> = caps::TABLE
                    .iter()
                    .filter(|c| c.gpu != caps::GpuSupport::No)
                    .map(|c| c.method)
                    .collect();
                format!(
                    "--backend gpu: {reason} (the GPU runs {}; `divlab caps` lists every method; use --backend cpu \
                     or auto)",
                    gpu_methods.join(", ")
                )
            }
            other => format!("{}: {other}", loaded.origin),
        })?;
    Ok((loaded, run))
}

fn model_json(run: &Run) -> Value {
    match run.model() {
        ModelView::Mixture(q) => json!({
            "kind": "mixture",
            "weights": q.weights(),
            "means": q.means(),
            "covariances": q.covariances(),
        }),
        ModelView::Particles(p) => json!({ "kind": "particles", "positions": p }),
    }
}

fn measurement_json(m: &Row) -> Value {
    serde_json::to_value(m)
        .unwrap_or_else(|e| json!({ "id": m.id, "outcome": "failed", "error": e.to_string() }))
}

fn divergences_json(run: &Run) -> Value {
    Value::Array(run.measure().iter().map(measurement_json).collect())
}

fn print_json(v: &Value) -> Result<(), String> {
    println!(
        "{}",
        serde_json::to_string_pretty(v).map_err(|e| e.to_string())?
    );
    Ok(())
}

fn stop_json(stop: Option<&Stop>) -> Value {
    stop.map_or(
        Value::Null,
        |s| json!({ "step": s.step, "reason": s.reason }),
    )
}

fn measure(
    path: &str,
    steps: usize,
    as_json: bool,
    backend: BackendChoice,
    flags: &MeasureSpec,
) -> Result<(), String> {
    let (loaded, mut run) = start(path, backend)?;
    let scenario = &loaded.scenario;
    let spec = scenario.measure.merged(flags);
    spec.validate()
        .map_err(|e| format!("{}: the measure settings: {e}", loaded.origin))?;
    let settings = spec.over(&MeasureSettings::DEFAULT);
    for _ in 0..steps {
        run.step().map_err(|stop| {
            format!(
                "{}: {stop} (no measurement: the fit did not reach step {steps})",
                loaded.origin
            )
        })?;
    }
    let measurements = run.measure_with(&settings);
    if as_json {
        return print_json(&json!({
            "scenario": scenario.name,
            "target": run.target().name(),
            "steps": steps,
            "seed": scenario.seed,
            "backend": run.placement().label(),
            "adapter": run.placement().adapter,
            "backend_reason": run.placement().reason,
            "measured_by": "cpu",
            "measure": spec,
            "divergences": measurements.iter().map(measurement_json).collect::<Vec<_>>(),
        }));
    }
    println!(
        "{} — target {}, after {steps} steps (seed {}; steps on {}, measured by the CPU core):",
        scenario.name,
        run.target().name(),
        scenario.seed,
        run.placement()
    );
    let width = measurements
        .iter()
        .map(|m| m.name.chars().count())
        .max()
        .unwrap_or(0);
    for m in &measurements {
        let (value, note) = match &m.outcome {
            Outcome::Value { value, diagnostics } => (
                format!("{value:.6e}"),
                diagnostics
                    .missed_mass_p
                    .map(|p| format!("mass of p outside the box {p:.1e}"))
                    .unwrap_or_default(),
            ),
            Outcome::Infinite { reason } => ("infinite".into(), reason.clone()),
            Outcome::LowerBound {
                value,
                upper_bound,
                reason,
                ..
            } => (
                format!("≥ {value:.6e}"),
                if upper_bound.is_finite() {
                    format!("{reason}; at most {upper_bound:.6e}")
                } else {
                    reason.clone()
                },
            ),
            Outcome::NotApplicable { reason } => ("n/a".into(), reason.clone()),
            Outcome::Failed { error } => ("failed".into(), error.clone()),
        };
        println!("  {:<width$} {value:>14}  {note}", m.name);
    }
    Ok(())
}

/// The trajectory of a fit. `steps` defaults to the scenario's `steps`. A step that is refused midway
/// ends the run: the trajectory so far is printed with a `stopped` record and the exit status is 3.
fn run(
    path: &str,
    steps: Option<usize>,
    every: usize,
    as_json: bool,
    backend: BackendChoice,
) -> Result<Ended, String> {
    let (loaded, mut run) = start(path, backend)?;
    let scenario = &loaded.scenario;
    let steps = steps.unwrap_or(scenario.steps);
    let record = |run: &Run| -> Value {
        let mut v = match run.history().last() {
            Some(r) => serde_json::to_value(r).unwrap_or(Value::Null),
            None => json!({ "step": 0 }),
        };
        if let Value::Object(map) = &mut v {
            map.insert("model".into(), model_json(run));
            map.insert("divergences".into(), divergences_json(run));
        }
        v
    };
    let mut trajectory = Vec::new();
    if as_json {
        trajectory.push(record(&run));
    } else {
        println!(
            "{}: {steps} steps on {}, recording every {every}",
            scenario.name,
            run.placement()
        );
    }
    let mut stop = None;
    for _ in 0..steps {
        let step = match run.step() {
            Ok(r) => r.info.clone(),
            Err(s) => {
                stop = Some(s);
                break;
            }
        };
        if step.step % every == 0 || step.step == steps {
            if as_json {
                trajectory.push(record(&run));
            } else {
                let sinkhorn = step.sinkhorn.as_ref().map_or_else(String::new, |d| {
                    format!(
                        "  (Sinkhorn iterations xy {} xx {} yy {}, marginal error {:.1e}{})",
                        d.iterations_xy,
                        d.iterations_xx,
                        if d.iterations_yy == 0 {
                            "cached".to_owned()
                        } else {
                            d.iterations_yy.to_string()
                        },
                        d.marginal_error,
                        if d.converged { "" } else { ", not converged" }
                    )
                });
                println!(
                    "  step {:>6}  {} = {:.6e}{sinkhorn}",
                    step.step, step.objective_name, step.objective
                );
            }
        }
    }
    let notices = run.take_notices();
    if as_json {
        print_json(&json!({
            "scenario": scenario.name,
            "seed": scenario.seed,
            "steps": steps,
            "every": every,
            "backend": run.placement().label(),
            "adapter": run.placement().adapter,
            "backend_reason": run.placement().reason,
            "measured_by": "cpu",
            "notices": notices,
            "trajectory": trajectory,
            "stopped": stop_json(stop.as_ref()),
        }))?;
    } else {
        for n in &notices {
            println!("  note: {n}");
        }
        if let Some(s) = &stop {
            println!("  {s} (the trajectory above is kept; the scenario is unchanged)");
        }
    }
    Ok(match stop {
        Some(s) => {
            eprintln!("divlab: {}: the run {s}", loaded.origin);
            Ended::Stopped
        }
        None => Ended::Done,
    })
}

/// A scenario file, or a bundled scenario by name when no such file exists and the name has no path or
/// extension.
fn load_file_or_bundled(name: &str) -> Result<Loaded, String> {
    let path = std::path::Path::new(name);
    if path.exists() || name.contains(['/', '\\']) || path.extension().is_some() {
        load::from_file(name).map_err(|e| e.to_string())
    } else {
        load::bundled(name).map_err(|e| e.to_string())
    }
}

/// `divlab render`: every panel's run taken to the same step, drawn, encoded, and written through a temporary
/// file next to the target that is renamed over it (so a failure leaves no partial file). With `--animate`,
/// frames every `every` steps encoded as they come, with a progress bar on a terminal.
fn render(args: &RenderArgs) -> Result<Ended, String> {
    use divlab::render::{Format, Options, encode, figure_with};
    let out = std::path::Path::new(&args.out);
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(format!(
            "{}: cannot write there: {} is not a folder",
            args.out,
            dir.display()
        ));
    }
    if out.is_dir() {
        return Err(format!("{}: is a folder, not a file", args.out));
    }
    let started = std::time::Instant::now();
    let mut runs = Vec::new();
    for (i, name) in args.scenarios.iter().enumerate() {
        if args.panel.is_some_and(|p| p != i) {
            continue;
        }
        let loaded = load_file_or_bundled(name)?;
        runs.push(start_loaded(loaded, args.backend)?);
    }
    let opts = Options {
        width: args.width,
        height: args.height,
        theme: args.theme,
        colormap: args.colormap,
        ..Options::default()
    };
    if let Some(anim) = &args.animate {
        return render_animation(args, anim, runs, opts, out, &dir);
    }
    let format = Format::from_path(&args.out)?;
    let steps = args.steps.unwrap_or(runs[0].0.scenario.steps);
    let stopped = step_all(&mut runs, steps);
    let stepped = started.elapsed().as_secs_f64();
    let panels: Vec<(&Run, _)> = runs.iter().map(|(_, r)| (r, args.overlays)).collect();
    let fig = figure_with(&panels, &opts)?;
    let bytes = encode(&fig, format, args.scale)?;
    write_whole(out, &dir, &bytes)?;
    let total = started.elapsed().as_secs_f64();
    println!(
        "wrote {} ({}×{} px{}, {} bytes): {steps} steps in {stepped:.2} s, drawn and encoded in {:.2} s",
        args.out,
        (args.width as f32 * args.scale).round(),
        (args.height as f32 * args.scale).round(),
        if format == Format::Svg { ", SVG" } else { "" },
        bytes.len(),
        total - stepped
    );
    Ok(if stopped { Ended::Stopped } else { Ended::Done })
}

/// Takes every run `steps` steps (a run that stops is reported and left where it stopped); true if one did.
fn step_all(runs: &mut [(Loaded, Run)], steps: usize) -> bool {
    let mut stopped = false;
    for (loaded, run) in runs {
        for _ in 0..steps {
            if let Err(stop) = run.step() {
                eprintln!(
                    "divlab: {}: the run {stop}; the figure shows step {}",
                    loaded.origin,
                    stop.step - 1
                );
                stopped = true;
                break;
            }
        }
    }
    stopped
}

/// `divlab render --animate`: the runs taken to the first frame's step, then one frame every `every` steps.
fn render_animation(
    args: &RenderArgs,
    anim: &AnimateArgs,
    mut runs: Vec<(Loaded, Run)>,
    opts: divlab::render::Options,
    out: &std::path::Path,
    dir: &std::path::Path,
) -> Result<Ended, String> {
    use divlab::render::anim::Animation;
    use std::io::{IsTerminal, Write};
    let started = std::time::Instant::now();
    let first = args.steps.unwrap_or(0);
    let every = anim.every.unwrap_or_else(|| {
        // Spread the frames over the rest of the scenario's own steps.
        let span = runs[0].0.scenario.steps.saturating_sub(first);
        (span / anim.frames.saturating_sub(1).max(1)).max(1)
    });
    let mut stopped = step_all(&mut runs, first);
    let runs: Vec<Run> = runs.into_iter().map(|(_, r)| r).collect();
    let overlays = vec![args.overlays; runs.len()];
    let mut animation = Animation::new(
        runs,
        overlays,
        opts,
        args.scale,
        anim.format,
        anim.frames,
        every,
        anim.fps,
    )?;
    let tty = std::io::stderr().is_terminal();
    let mut last_step = first;
    while animation.done() < animation.total() {
        let f = animation.next_frame()?;
        last_step = f.step;
        if tty {
            let width = 30;
            let filled = f.done * width / f.total;
            eprint!(
                "\r[{}{}] frame {}/{} · step {} · {:.1} s",
                "#".repeat(filled),
                " ".repeat(width - filled),
                f.done,
                f.total,
                f.step,
                started.elapsed().as_secs_f64()
            );
            let _ = std::io::stderr().flush();
        }
    }
    if tty {
        eprintln!();
    }
    for stop in animation.stops() {
        eprintln!("divlab: {stop}; the frames after it hold its last state");
        stopped = true;
    }
    let bytes = animation.finish()?;
    write_whole(out, dir, &bytes)?;
    println!(
        "wrote {} ({}, {} frames of {}×{} px at {} fps, steps {first} to {last_step} every {every}, {} bytes = {:.2} MB) in {:.2} s",
        args.out,
        match anim.format {
            divlab::render::anim::AnimFormat::Gif => "GIF",
            divlab::render::anim::AnimFormat::Apng => "APNG",
        },
        anim.frames,
        (args.width as f32 * args.scale).round(),
        (args.height as f32 * args.scale).round(),
        anim.fps,
        bytes.len(),
        bytes.len() as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(if stopped { Ended::Stopped } else { Ended::Done })
}

/// Writes `bytes` to a temporary file in `dir` and renames it to `out`; on any failure the temporary file
/// is removed and `out` is left as it was.
fn write_whole(out: &std::path::Path, dir: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "figure".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, out));
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("{}: cannot write the picture: {e}", out.display())
    })
}

/// `divlab caps`: which method runs on which backend (the table the app's badge reads).
fn caps_table(as_json: bool) -> Result<(), String> {
    if as_json {
        return print_json(&json!({ "methods": caps::TABLE }));
    }
    println!("{:<28} {:<5} {:<12} note", "method", "cpu", "gpu");
    for c in caps::TABLE {
        let gpu = match c.gpu {
            caps::GpuSupport::Yes => "yes",
            caps::GpuSupport::Conditional => "conditional",
            caps::GpuSupport::No => "no",
        };
        println!(
            "{:<28} {:<5} {gpu:<12} {}",
            c.method,
            if c.cpu { "yes" } else { "no" },
            c.note
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_subcommands_and_rejects_nonsense() {
        assert_eq!(parse(&args("--help")).ok(), Some(Command::Help));
        assert_eq!(
            parse(&args("run a.ron --steps 5 --every 2 --json")).ok(),
            Some(Command::Run {
                scenario: "a.ron".into(),
                steps: Some(5),
                every: 2,
                json: true,
                backend: BackendChoice::Cpu
            })
        );
        assert_eq!(
            parse(&args("run a.ron")).ok(),
            Some(Command::Run {
                scenario: "a.ron".into(),
                steps: None,
                every: 1,
                json: false,
                backend: BackendChoice::Cpu
            }),
            "steps default to the scenario's"
        );
        assert_eq!(
            parse(&args("caps --json")).ok(),
            Some(Command::Caps { json: true })
        );
        assert!(parse(&args("caps extra")).is_err());
        assert!(parse(&args("frobnicate")).is_err());
        assert!(parse(&args("--frobnicate")).is_err());
        assert!(parse(&args("run a.ron --steps -1")).is_err());
        assert!(parse(&args("measure a.ron --every 3")).is_err());
        assert!(parse(&args("bench sinkhorn --backend tpu")).is_err());
        assert!(parse(&args("bench warp")).is_err());
        assert!(parse(&args("run --every 0 a.ron --steps 3")).is_err());
    }
}
