//! `divlab bench soak`: every bundled scenario and every panel of every claim preset, run headless on the CPU
//! core for many steps, checking that no number goes non-finite and that resident memory stays bounded.
//!
//! Per run: N steps (default 10⁵), or fewer when `--seconds S` (per run) runs out first, which the report says.
//! Every step's objective must be finite (a refused step is a failure, with its reason), and every 1000 steps
//! (and at the end) every number of the model. Resident memory (`VmRSS` of `/proc/self/status`) is read after
//! a warm-up of 1000 steps (or a tenth of the run, or a tenth of `--seconds`, if shorter) and at the end; the growth beyond what the run's
//! history legitimately adds (its records' bytes) must stay within [`GROWTH_BOUND_BYTES`].

use std::time::Instant;

use divlab::app::open_link_headless;
use divlab::assets::{bundled_scenarios, claim_presets};
use divlab::core::scenario::Scenario;
use divlab::core::sim::ModelView;
use divlab::gpu::backend::BackendChoice;
use divlab::run::{Run, load};
use serde_json::json;

/// Most bytes resident memory may grow between the warm-up and the end of a run beyond its history's records.
pub const GROWTH_BOUND_BYTES: f64 = 16.0 * 1024.0 * 1024.0;

/// Steps between checks of every number of the model.
const CHECK_EVERY: usize = 1000;

/// Resident memory in bytes (`VmRSS` of `/proc/self/status`), if it can be read.
pub fn resident_bytes() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0)
}

/// What one soaked run did.
struct Outcome {
    name: String,
    steps: usize,
    seconds: f64,
    capped_by_time: bool,
    rss_warm: Option<f64>,
    rss_end: Option<f64>,
    history_bytes: f64,
    failure: Option<String>,
}

impl Outcome {
    /// Growth of resident memory beyond the history's records (bytes), when both readings exist.
    fn excess_growth(&self) -> Option<f64> {
        Some(self.rss_end? - self.rss_warm? - self.history_bytes)
    }
}

fn model_is_finite(run: &Run) -> bool {
    match run.model() {
        ModelView::Particles(p) => p.iter().all(|x| x[0].is_finite() && x[1].is_finite()),
        ModelView::Mixture(q) => q.params_ref().iter().all(|v| v.is_finite()),
    }
}

fn soak_one(name: String, scenario: Scenario, steps: usize, seconds: f64) -> Outcome {
    let mut out = Outcome {
        name,
        steps: 0,
        seconds: 0.0,
        capped_by_time: false,
        rss_warm: None,
        rss_end: None,
        history_bytes: 0.0,
        failure: None,
    };
    let built = load::from_scenario(scenario, &out.name)
        .map_err(|e| e.to_string())
        .and_then(|loaded| {
            Run::new(
                &loaded,
                BackendChoice::Cpu,
                Err("the soak runs on the CPU core"),
            )
            .map_err(|e| e.to_string())
        });
    let mut run = match built {
        Ok(run) => run,
        Err(e) => {
            out.failure = Some(format!("not started: {e}"));
            return out;
        }
    };
    let warm_up = CHECK_EVERY.min(steps / 10).max(1);
    let start = Instant::now();
    let mut history_at_warm = 0usize;
    for k in 1..=steps {
        match run.step() {
            Ok(record) if record.info.objective.is_finite() => {}
            Ok(record) => {
                out.failure = Some(format!("step {k}: objective {}", record.info.objective));
                break;
            }
            Err(stop) => {
                out.failure = Some(stop.to_string());
                break;
            }
        }
        out.steps = k;
        // After the warm-up's steps, or a tenth of the time allowed, whichever comes first.
        if out.rss_warm.is_none() && (k == warm_up || start.elapsed().as_secs_f64() > 0.1 * seconds)
        {
            out.rss_warm = resident_bytes();
            history_at_warm = k;
        }
        if (k % CHECK_EVERY == 0 || k == steps) && !model_is_finite(&run) {
            out.failure = Some(format!("step {k}: a model parameter is not finite"));
            break;
        }
        if start.elapsed().as_secs_f64() > seconds {
            out.capped_by_time = k < steps;
            break;
        }
    }
    if out.failure.is_none() && !model_is_finite(&run) {
        out.failure = Some(format!(
            "step {}: a model parameter is not finite",
            out.steps
        ));
    }
    out.seconds = start.elapsed().as_secs_f64();
    out.rss_end = resident_bytes();
    // What the history adds after the warm-up: its records (the same bound the cost estimate uses), doubled
    // for the vector's growth by doubling.
    out.history_bytes = 2.0 * (out.steps.saturating_sub(history_at_warm)) as f64 * 256.0;
    if out.failure.is_none()
        && let Some(g) = out.excess_growth()
        && g > GROWTH_BOUND_BYTES
    {
        out.failure = Some(format!(
            "resident memory grew by {:.1} MiB beyond the history's records (bound {:.0} MiB)",
            g / 1048576.0,
            GROWTH_BOUND_BYTES / 1048576.0
        ));
    }
    out
}

/// Every run the soak covers: the bundled scenarios, then each claim preset's panels.
fn runs() -> Result<Vec<(String, Scenario)>, String> {
    let mut all = Vec::new();
    for (name, s) in bundled_scenarios() {
        all.push((name.clone(), s.map_err(|e| format!("{name}: {e}"))?));
    }
    for p in claim_presets() {
        let p = p?;
        let linked = open_link_headless(&p.link).map_err(|e| format!("{}: {e}", p.id))?;
        for (i, s) in linked.panels.into_iter().enumerate() {
            all.push((format!("{} panel {}", p.id, (b'A' + i as u8) as char), s));
        }
    }
    Ok(all)
}

/// `divlab bench soak [--steps N] [--seconds S] [--only TEXT] [--json]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SoakArgs {
    pub steps: usize,
    /// Most seconds per run.
    pub seconds: f64,
    /// Only the runs whose name contains this.
    pub only: Option<String>,
    pub json: bool,
}

/// Reads the flags after `bench soak`; the error is a usage message.
pub fn parse(rest: &[String]) -> Result<SoakArgs, String> {
    let mut a = SoakArgs {
        steps: 100_000,
        seconds: f64::INFINITY,
        only: None,
        json: false,
    };
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{flag} needs a value (divlab bench soak [--steps N] [--seconds S] [--only TEXT] [--json])"))
        };
        match flag.as_str() {
            "--json" => a.json = true,
            "--steps" => {
                let v = value()?;
                a.steps = match v.parse::<usize>() {
                    Ok(n) if (1..=divlab::core::scenario::MAX_STEPS).contains(&n) => n,
                    _ => {
                        return Err(format!(
                            "--steps {v}: expected a whole number in [1, {}]",
                            divlab::core::scenario::MAX_STEPS
                        ));
                    }
                };
            }
            "--seconds" => {
                let v = value()?;
                a.seconds = match v.parse::<f64>() {
                    Ok(s) if s > 0.0 => s,
                    _ => {
                        return Err(format!(
                            "--seconds {v}: expected a number of seconds above 0"
                        ));
                    }
                };
            }
            "--only" => a.only = Some(value()?.clone()),
            other => {
                return Err(format!(
                    "unknown argument {other} for `divlab bench soak` (accepted: --steps, --seconds, --only, --json)"
                ));
            }
        }
    }
    Ok(a)
}

/// `divlab bench soak`: see the module docs. Fails (exit 1) if any run failed.
pub fn soak(args: &SoakArgs) -> Result<(), String> {
    let (steps, seconds, as_json) = (args.steps, args.seconds, args.json);
    let only = args.only.as_deref();
    let mut outcomes = Vec::new();
    for (name, scenario) in runs()? {
        if only.is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let o = soak_one(name, scenario, steps, seconds);
        if !as_json {
            let mib =
                |b: Option<f64>| b.map_or("?".to_owned(), |b| format!("{:.1}", b / 1048576.0));
            println!(
                "{:<40} {:>7} steps in {:>7.1} s{}  RSS {} → {} MiB (excess growth {} MiB)  {}",
                o.name,
                o.steps,
                o.seconds,
                if o.capped_by_time { " (time cap)" } else { "" },
                mib(o.rss_warm),
                mib(o.rss_end),
                mib(o.excess_growth()),
                o.failure.as_deref().unwrap_or("ok")
            );
        }
        outcomes.push(o);
    }
    if as_json {
        let rows: Vec<_> = outcomes
            .iter()
            .map(|o| {
                json!({
                    "run": o.name, "steps": o.steps, "seconds": o.seconds,
                    "capped_by_time": o.capped_by_time, "rss_after_warm_up_bytes": o.rss_warm,
                    "rss_end_bytes": o.rss_end, "history_allowance_bytes": o.history_bytes,
                    "excess_growth_bytes": o.excess_growth(), "failure": o.failure,
                })
            })
            .collect();
        println!(
            "{}",
            json!({"steps_asked": steps, "seconds_per_run": seconds,
                   "growth_bound_bytes": GROWTH_BOUND_BYTES, "runs": rows})
        );
    }
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.failure.is_some())
        .map(|o| o.name.as_str())
        .collect();
    if outcomes.is_empty() {
        return Err("no run matched --only".into());
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("soak failed for {}", failed.join(", ")))
    }
}
