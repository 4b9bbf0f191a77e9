//! Headless subcommands of the `divlab` binary. Usage errors exit with status 2, failures with status 1.

use std::process::ExitCode;

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
    bench em|grid|sinkhorn|mmd|sliced [--n N] [--iters I] [--json] [--backend cpu|gpu|auto]
        per-iteration seconds of the core's kernels
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

/// Runs a parsed headless command.
fn execute(cmd: Command) -> Result<(), String> {
    Err(format!("{cmd:?} is not available in this build yet"))
}

/// Which compute backend a headless command uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendArg {
    Cpu,
    Gpu,
    Auto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchKind {
    Em,
    Grid,
    Sinkhorn,
    Mmd,
    Sliced,
}

#[derive(Debug, PartialEq)]
pub enum Command {
    Help,
    Version,
    Measure {
        scenario: String,
        steps: usize,
        json: bool,
        backend: BackendArg,
    },
    Run {
        scenario: String,
        steps: usize,
        every: usize,
        json: bool,
        backend: BackendArg,
    },
    Bench {
        kind: BenchKind,
        n: Option<usize>,
        iters: Option<usize>,
        json: bool,
        backend: BackendArg,
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
    backend: Option<BackendArg>,
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
                        "cpu" => BackendArg::Cpu,
                        "gpu" => BackendArg::Gpu,
                        "auto" => BackendArg::Auto,
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
                backend: f.backend.unwrap_or(BackendArg::Auto),
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
                backend: f.backend.unwrap_or(BackendArg::Auto),
            })
        }
        "bench" => {
            let mut f = parse_flags(sub, rest, &["--n", "--iters", "--json", "--backend"])?;
            let kind = one_positional(sub, "a kernel (em, grid, sinkhorn, mmd, sliced)", &mut f)?;
            let kind = match kind.as_str() {
                "em" => BenchKind::Em,
                "grid" => BenchKind::Grid,
                "sinkhorn" => BenchKind::Sinkhorn,
                "mmd" => BenchKind::Mmd,
                "sliced" => BenchKind::Sliced,
                other => {
                    return Err(UsageError(format!(
                        "unknown bench kernel {other} (expected em, grid, sinkhorn, mmd or sliced)"
                    )));
                }
            };
            Ok(Command::Bench {
                kind,
                n: f.n,
                iters: f.iters,
                json: f.json,
                backend: f.backend.unwrap_or(BackendArg::Cpu),
            })
        }
        other if other.starts_with('-') => Err(UsageError(format!("unknown flag {other}"))),
        other => Err(UsageError(format!("unknown subcommand {other}"))),
    }
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
                backend: BackendArg::Auto
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
