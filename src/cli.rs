//! Headless subcommands of the `divlab` binary. Usage errors exit with status 2, failures with status 1.

use std::process::ExitCode;

use divlab::gpu::backend::BackendChoice;

const HELP: &str = "\
divlab — Divergence Lab: 2D distributions fitted live under different divergences

USAGE:
    divlab                      open the app (desktop window)
    divlab <SUBCOMMAND> [ARGS]  work headless

SUBCOMMANDS:
    measure SCENARIO [--steps N] [--json] [--backend cpu|gpu|auto]
        every divergence between the scenario's target and model (after N fitting steps, default 0)
    run SCENARIO --steps N [--every K] [--json] [--backend cpu|gpu|auto]
        the trajectory of the fit (parameters or particles, and the objective); same seed, same bytes
    bench em|grid|sinkhorn|sinkhorn-flow|mmd|sliced [--n N] [--iters I] [--json] [--backend cpu|gpu|auto]
        per-iteration seconds of the core's kernels (median over I iterations after a warm-up)
    help, --help, -h
        print this help
    --version, -V
        print the version

SCENARIO is a .ron or .json file (format: docs/scenario.md; examples in assets/scenarios/).
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
            Ok(()) => ExitCode::SUCCESS,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchKind {
    Em,
    Grid,
    Sinkhorn,
    Mmd,
    Sliced,
    SinkhornFlow,
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
    },
    Run {
        scenario: String,
        steps: usize,
        every: usize,
        json: bool,
        backend: BackendChoice,
    },
    Bench {
        kind: BenchKind,
        n: Option<usize>,
        iters: Option<usize>,
        json: bool,
        backend: BackendChoice,
    },
}

/// Flags shared by the subcommands, collected before checking which apply.
#[derive(Default)]
struct Flags {
    positional: Vec<String>,
    steps: Option<usize>,
    every: Option<usize>,
    n: Option<usize>,
    iters: Option<usize>,
    json: bool,
    backend: Option<BackendChoice>,
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
            let mut f = parse_flags(sub, rest, &["--steps", "--json", "--backend"])?;
            Ok(Command::Measure {
                scenario: one_positional(sub, "a SCENARIO file", &mut f)?,
                steps: f.steps.unwrap_or(0),
                json: f.json,
                backend: f.backend.unwrap_or(BackendChoice::Auto),
            })
        }
        "run" => {
            let mut f = parse_flags(sub, rest, &["--steps", "--every", "--json", "--backend"])?;
            let scenario = one_positional(sub, "a SCENARIO file", &mut f)?;
            let steps = f
                .steps
                .ok_or_else(|| UsageError("`divlab run` needs --steps N".into()))?;
            Ok(Command::Run {
                scenario,
                steps,
                every: f.every.unwrap_or(1),
                json: f.json,
                backend: f.backend.unwrap_or(BackendChoice::Auto),
            })
        }
        "bench" => {
            let mut f = parse_flags(sub, rest, &["--n", "--iters", "--json", "--backend"])?;
            let kind = one_positional(
                sub,
                "a kernel (em, grid, sinkhorn, sinkhorn-flow, mmd, sliced)",
                &mut f,
            )?;
            let kind = match kind.as_str() {
                "em" => BenchKind::Em,
                "grid" => BenchKind::Grid,
                "sinkhorn" => BenchKind::Sinkhorn,
                "mmd" => BenchKind::Mmd,
                "sliced" => BenchKind::Sliced,
                "sinkhorn-flow" => BenchKind::SinkhornFlow,
                other => {
                    return Err(UsageError(format!(
                        "unknown bench kernel {other} (expected em, grid, sinkhorn, sinkhorn-flow, mmd or sliced)"
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

// ---------------------------------------------------------------------------------------------------------
// Running the commands.

use std::path::{Path, PathBuf};

use divlab::core::measure::{ModelRef, Outcome, Row, measure_default};
use divlab::core::scenario::Scenario;
use divlab::core::sim::{ModelView, Simulation, StepInfo};
use divlab::core::target::{GrayImage, TargetSpec};
use divlab::gpu::backend::select_headless;
use divlab::gpu::context::GpuContext;
use divlab::gpu::flow::GpuFlow;
use serde_json::{Value, json};

/// Runs a parsed command; the error is printed once, by [`main`].
fn execute(cmd: Command) -> Result<(), String> {
    match cmd {
        Command::Help | Command::Version => Ok(()),
        Command::Measure {
            scenario,
            steps,
            json,
            backend,
        } => measure(&scenario, steps, json, backend),
        Command::Run {
            scenario,
            steps,
            every,
            json,
            backend,
        } => run(&scenario, steps, every, json, backend),
        Command::Bench {
            kind,
            n,
            iters,
            json,
            backend,
        } => crate::bench::bench(kind, n, iters, json, backend),
    }
}

/// Reads a scenario file and everything it refers to (an image, a CSV of points).
fn load_scenario(path: &str) -> Result<(Scenario, Option<GrayImage>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let mut scenario = Scenario::parse(&text).map_err(|e| format!("{path}: {e}"))?;
    let dir = Path::new(path).parent().unwrap_or(Path::new("."));
    let image = match &scenario.target {
        TargetSpec::Image(spec) => Some(load_image(&spec.asset, dir)?),
        _ => None,
    };
    if let TargetSpec::Samples(spec) = &mut scenario.target
        && spec.points.is_empty()
    {
        let Some(source) = spec.source.clone() else {
            return Err(format!(
                "{path}: target `samples` has no points and no `source` CSV file"
            ));
        };
        let csv = resolve(&source, dir).ok_or_else(|| format!("{path}: cannot find {source}"))?;
        spec.points = read_points_csv(&csv)?;
        scenario.validate().map_err(|e| format!("{path}: {}", e))?;
    }
    Ok((scenario, image))
}

/// A path as given, or relative to the scenario's folder.
fn resolve(name: &str, dir: &Path) -> Option<PathBuf> {
    [PathBuf::from(name), dir.join(name)]
        .into_iter()
        .find(|p| p.is_file())
}

fn load_image(asset: &str, dir: &Path) -> Result<GrayImage, String> {
    match resolve(asset, dir) {
        Some(path) => {
            let img = image::open(&path)
                .map_err(|e| format!("cannot read image {}: {e}", path.display()))?
                .to_luma32f();
            Ok(GrayImage {
                width: img.width() as usize,
                height: img.height() as usize,
                pixels: img.into_raw(),
            })
        }
        // The bundled image answers to its asset name even outside a checkout.
        None if asset == divlab::assets::BUNDLED_IMAGE_ASSET => {
            divlab::assets::bundled_gray_image()
        }
        None => Err(format!("cannot find image {asset}")),
    }
}

/// Points from a CSV file: two numbers per line (x, y); a header line and blank lines are skipped.
fn read_points_csv(path: &Path) -> Result<Vec<[f64; 2]>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut points = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line
            .split([',', ';', '\t', ' '])
            .filter(|f| !f.is_empty())
            .collect();
        let parsed: Option<Vec<f64>> = fields.iter().map(|f| f.parse::<f64>().ok()).collect();
        match parsed {
            Some(v) if v.len() == 2 && v.iter().all(|x| x.is_finite()) => points.push([v[0], v[1]]),
            None if i == 0 => continue, // header
            _ => {
                return Err(format!(
                    "{}: line {}: expected two finite numbers x,y, got {line:?}",
                    path.display(),
                    i + 1
                ));
            }
        }
    }
    if points.is_empty() {
        return Err(format!("{}: no points", path.display()));
    }
    Ok(points)
}

/// A run: the scenario's simulation on the CPU core, or its particle flow on the GPU (the CPU core then holds
/// the target and measures the divergences). A refused step stops the run with the reason.
struct Runner {
    sim: Simulation,
    gpu: Option<(GpuContext, GpuFlow)>,
    /// Which backend runs the steps, in words (printed and written into the JSON).
    backend: String,
}

impl Runner {
    fn new(
        scenario: &Scenario,
        image: Option<&GrayImage>,
        choice: BackendChoice,
    ) -> Result<Self, String> {
        let sim = Simulation::new(scenario, image).map_err(|e| e.to_string())?;
        if choice == BackendChoice::Cpu {
            return Ok(Self {
                sim,
                gpu: None,
                backend: "cpu".into(),
            });
        }
        let (ctx, status) = select_headless(choice).map_err(|e| format!("--backend gpu: {e}"))?;
        let Some(ctx) = ctx else {
            return Ok(Self {
                sim,
                gpu: None,
                backend: format!("cpu ({})", status.reason.unwrap_or_default()),
            });
        };
        let flow = match (sim.flow_config(), sim.model()) {
            (Some(cfg), ModelView::Particles(p)) => GpuFlow::new(
                &ctx,
                cfg,
                p.to_vec(),
                sim.target_points().to_vec(),
                scenario.seed,
            )
            .map_err(|e| e.to_string()),
            _ => Err("the GPU runs particle flows; this scenario fits a mixture".to_owned()),
        };
        match (flow, choice) {
            (Ok(flow), _) => Ok(Self {
                sim,
                backend: format!("gpu ({})", ctx.adapter),
                gpu: Some((ctx, flow)),
            }),
            (Err(reason), BackendChoice::Gpu) => Err(format!(
                "--backend gpu: {reason} (the GPU runs the Sinkhorn and fixed-step MMD flows; use --backend \
                 cpu or auto)"
            )),
            (Err(reason), _) => Ok(Self {
                sim,
                gpu: None,
                backend: format!("cpu (auto: {reason})"),
            }),
        }
    }

    fn steps_taken(&self) -> usize {
        match &self.gpu {
            Some((_, flow)) => flow.steps_taken(),
            None => self.sim.steps_taken(),
        }
    }

    /// One step. The GPU flow never blocks, so this polls it until its step lands; on a GPU error the CPU core
    /// carries on from the last completed step.
    fn step(&mut self) -> Result<StepInfo, String> {
        if let Some((ctx, flow)) = &mut self.gpu {
            loop {
                match flow.poll(ctx) {
                    Ok(Some(report)) => {
                        return Ok(StepInfo::from_flow_report(flow.steps_taken(), &report));
                    }
                    Ok(None) => std::thread::sleep(std::time::Duration::from_micros(200)),
                    Err(err) => {
                        let (particles, steps) = (flow.particles().to_vec(), flow.steps_taken());
                        eprintln!(
                            "divlab: the GPU step failed ({err}); continuing on the CPU core from step {steps}"
                        );
                        self.sim
                            .resume_particles(particles, steps)
                            .map_err(|e| e.to_string())?;
                        self.gpu = None;
                        self.backend = format!("cpu (the GPU failed at step {steps}: {err})");
                        break;
                    }
                }
            }
        }
        self.sim.step().map_err(|e| {
            format!(
                "the run stopped at step {}: {e} (the scenario is unchanged)",
                self.sim.steps_taken() + 1
            )
        })
    }

    fn model_json(&self) -> Value {
        match (&self.gpu, self.sim.model()) {
            (Some((_, flow)), _) => json!({ "kind": "particles", "positions": flow.particles() }),
            (None, ModelView::Mixture(q)) => json!({
                "kind": "mixture",
                "weights": q.weights(),
                "means": q.means(),
                "covariances": q.covariances(),
            }),
            (None, ModelView::Particles(p)) => json!({ "kind": "particles", "positions": p }),
        }
    }

    fn measure(&self) -> Vec<Row> {
        match &self.gpu {
            Some((_, flow)) => measure_default(
                self.sim.target(),
                ModelRef::Particles(flow.particles()),
                self.sim.scenario().seed,
            ),
            None => self.sim.measure(),
        }
    }
}

fn measurement_json(m: &Row) -> Value {
    serde_json::to_value(m)
        .unwrap_or_else(|e| json!({ "id": m.id, "outcome": "failed", "error": e.to_string() }))
}

fn measure(path: &str, steps: usize, as_json: bool, backend: BackendChoice) -> Result<(), String> {
    let (scenario, image) = load_scenario(path)?;
    let mut runner = Runner::new(&scenario, image.as_ref(), backend)?;
    for _ in 0..steps {
        runner.step()?;
    }
    let measurements = runner.measure();
    let sim = &runner.sim;
    let used = &runner.backend;
    if as_json {
        let out = json!({
            "scenario": scenario.name,
            "target": sim.target().name(),
            "steps": steps,
            "seed": scenario.seed,
            "backend": used,
            "divergences": measurements.iter().map(measurement_json).collect::<Vec<_>>(),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
        );
    } else {
        println!(
            "{} — target {}, after {steps} steps (seed {}):",
            scenario.name,
            sim.target().name(),
            scenario.seed
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
                Outcome::NotApplicable { reason } => ("n/a".into(), reason.clone()),
                Outcome::Failed { error } => ("failed".into(), error.clone()),
            };
            println!("  {:<width$} {value:>14}  {note}", m.name);
        }
    }
    Ok(())
}

fn run(
    path: &str,
    steps: usize,
    every: usize,
    as_json: bool,
    backend: BackendChoice,
) -> Result<(), String> {
    let (scenario, image) = load_scenario(path)?;
    let record = |runner: &Runner, info: Option<&StepInfo>| -> Value {
        let mut r = json!({
            "step": runner.steps_taken(),
            "objective_name": info.map(|i| i.objective_name.clone()),
            "objective": info.map(|i| i.objective),
            "model": runner.model_json(),
            "divergences": runner.measure().iter().map(measurement_json).collect::<Vec<_>>(),
        });
        // The step's diagnostics (standard error, Sinkhorn solver, step size), where it has them.
        if let (Some(Value::Object(step)), Some(out)) = (
            info.and_then(|i| serde_json::to_value(i).ok()),
            r.as_object_mut(),
        ) {
            for key in ["standard_error", "sinkhorn", "step_size_used"] {
                if let Some(v) = step.get(key) {
                    out.insert(key.into(), v.clone());
                }
            }
        }
        r
    };
    let mut runner = Runner::new(&scenario, image.as_ref(), backend)?;
    let mut trajectory = vec![record(&runner, None)];
    if !as_json {
        println!(
            "{}: {} steps, recording every {every}",
            scenario.name, steps
        );
    }
    for _ in 0..steps {
        let info = runner.step()?;
        if info.step % every == 0 || info.step == steps {
            if as_json {
                trajectory.push(record(&runner, Some(&info)));
            } else {
                let se = info
                    .standard_error
                    .map(|se| format!(" ± {se:.1e}"))
                    .unwrap_or_default();
                println!(
                    "  step {:>6}  {} = {:.6e}{se}",
                    info.step, info.objective_name, info.objective
                );
            }
        }
    }
    let used = &runner.backend;
    if as_json {
        let out = json!({
            "scenario": scenario.name,
            "seed": scenario.seed,
            "steps": steps,
            "every": every,
            "backend": used,
            "trajectory": trajectory,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
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
                steps: 5,
                every: 2,
                json: true,
                backend: BackendChoice::Auto
            })
        );
        assert!(parse(&args("frobnicate")).is_err());
        assert!(parse(&args("--frobnicate")).is_err());
        assert!(parse(&args("run a.ron")).is_err(), "run needs --steps");
        assert!(parse(&args("run a.ron --steps -1")).is_err());
        assert!(parse(&args("measure a.ron --every 3")).is_err());
        assert!(parse(&args("bench sinkhorn --backend tpu")).is_err());
        assert!(parse(&args("bench warp")).is_err());
        assert!(parse(&args("run --every 0 a.ron --steps 3")).is_err());
    }
}
