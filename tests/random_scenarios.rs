//! Random valid scenarios over the parameter declarations (`core::params`), every kind: each target × each
//! mixture method (EM, gradient on every objective with every optimizer) or particle flow (every flow and
//! kernel), every number drawn from its declared range (the default, an edge, or inside; sizes kept small),
//! then three steps. Never a panic, never a non-finite number in a step's output or the model; a refused
//! step leaves the model and the step count as they were and says why.
//!
//! CI draws `DIVLAB_SCENARIO_CASES` valid scenarios (default 10 000, about a minute in the dev profile);
//! the long run is `DIVLAB_SCENARIO_CASES=200000 cargo test --release --test random_scenarios -- --nocapture`.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use divlab::core::params::{self, Scale};
use divlab::core::rng::{Rng, index, seeded, uniform};
use divlab::core::scenario::Scenario;
use divlab::core::sim::{ModelView, Simulation};
use divlab::core::target::GrayImage;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

/// A scenario from JSON with every optional field written out (so that every number can be drawn).
fn full(v: Value) -> Value {
    let s: Scenario = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}: {v}"));
    serde_json::to_value(&s).expect("JSON")
}

struct Templates {
    targets: Vec<Value>,
    /// (model, method) pairs for mixtures; the optimizer of a gradient method is drawn apart.
    mixture_methods: Vec<Value>,
    mixture_inits: Vec<Value>,
    optimizers: Vec<Value>,
    flows: Vec<Value>,
    particle_inits: Vec<Value>,
}

fn templates() -> Templates {
    let kernels = [
        json!({"kind": "gaussian", "sigma": 0.5}),
        json!({"kind": "inverse_multiquadric", "c": 1.0}),
        json!({"kind": "laplace", "sigma": 0.5}),
        json!({"kind": "riesz", "r": 1.0}),
    ];
    let mut objectives = vec![
        json!({"kind": "cross_entropy"}),
        json!({"kind": "cauchy_schwarz"}),
        json!({"kind": "mmd_gaussian_closed_form", "sigma": 0.5}),
        json!({"kind": "sinkhorn"}),
        json!({"kind": "sliced_energy"}),
    ];
    for d in divlab::core::fdiv::FDivKind::all() {
        for e in [json!({"kind": "grid"}), json!({"kind": "monte_carlo"})] {
            objectives.push(json!({"kind": "f_divergence", "divergence": d, "estimator": e}));
        }
    }
    for k in &kernels {
        objectives.push(json!({"kind": "mmd", "kernel": k}));
    }
    let mut mixture_methods: Vec<Value> = objectives
        .into_iter()
        .map(|o| json!({"kind": "gradient", "objective": o, "optimizer": {"kind": "adam"}}))
        .collect();
    mixture_methods.push(json!({"kind": "em"}));
    let sinkhorn = json!({"epsilon": 0.05, "scaling": 0.7, "max_iters": 100, "tolerance": 0.001});
    let mut flows = vec![
        json!({"kind": "sliced_riesz", "slices": 8, "step_size": 1.0}),
        json!({"kind": "sinkhorn", "sinkhorn": sinkhorn, "step_size": 0.5}),
        json!({"kind": "svgd", "bandwidth": {"kind": "median"}, "step_size": 0.1}),
        json!({"kind": "svgd", "bandwidth": {"kind": "fixed", "h": 0.5}, "step_size": 0.1}),
        json!({"kind": "langevin", "step_size": 0.05}),
        json!({"kind": "underdamped_langevin", "step_size": 0.05, "friction": 1.0}),
    ];
    for k in &kernels {
        flows.push(json!({"kind": "mmd", "kernel": k, "step_size": 1.0, "noise_level": 0.1}));
    }
    let base = |target: &Value, model: Value, method: Value| {
        full(
            json!({"version": 1, "seed": 1, "steps": 3, "target": target, "model": model, "method": method}),
        )
    };
    let two_modes = json!({"kind": "two_modes"});
    let ring8 = json!({"kind": "ring8"});
    let random = json!({"kind": "mixture", "init": {"kind": "random", "components": 2, "seed": 4}});
    let given = json!({"kind": "mixture", "init": {"kind": "given", "weights": [0.6, 0.4], "means": [[0.1, 0.2], [-1.0, 0.5]], "covariances": [[[0.5, 0.1], [0.1, 0.4]], [[0.3, 0.0], [0.0, 0.3]]]}});
    let gaussian = json!({"kind": "particles", "count": 20, "init": {"kind": "gaussian", "mean": [0.1, 0.2], "std": 0.5}});
    let uniform = json!({"kind": "particles", "count": 20, "init": {"kind": "uniform_in_box"}});
    Templates {
        targets: divlab::core::target::presets()
            .into_iter()
            .map(|(_, t)| {
                let t = serde_json::to_value(&t).expect("JSON");
                base(&t, random.clone(), json!({"kind": "em"}))["target"].clone()
            })
            .collect(),
        mixture_methods: mixture_methods
            .into_iter()
            .map(|m| base(&two_modes, random.clone(), m)["method"].clone())
            .collect(),
        mixture_inits: [random, given]
            .into_iter()
            .map(|m| base(&two_modes, m, json!({"kind": "em"}))["model"].clone())
            .collect(),
        optimizers: ["sgd", "adam", "lion", "laprop", "ademamix", "grams"]
            .into_iter()
            .map(|k| {
                base(
                    &two_modes,
                    json!({"kind": "mixture", "init": {"kind": "random", "components": 1}}),
                    json!({"kind": "gradient", "objective": {"kind": "cross_entropy"}, "optimizer": {"kind": k}}),
                )["method"]["optimizer"]
                    .clone()
            })
            .collect(),
        flows: flows
            .into_iter()
            .map(|f| base(&ring8, gaussian.clone(), json!({"kind": "flow", "flow": f}))["method"].clone())
            .collect(),
        particle_inits: [gaussian, uniform]
            .into_iter()
            .map(|m| {
                base(
                    &ring8,
                    m,
                    json!({"kind": "flow", "flow": {"kind": "langevin", "step_size": 0.05}}),
                )["model"]
                    .clone()
            })
            .collect(),
    }
}

/// The largest size drawn for a count (sizes kept small so that 10⁴ scenarios run in a minute).
fn size_cap(id: &str) -> f64 {
    match id {
        "version" => 1.0,
        id if id.ends_with("resolution") => 24.0,
        "sinkhorn.max_iters" => 40.0,
        "init.random.components" => 4.0,
        "method.em.samples" => 60.0,
        "target.ring8.modes" => 16.0,
        "target.grid25.per_side" | "target.checkerboard.cells" => 6.0,
        _ => 32.0,
    }
}

/// A number for the declaration: its default, an edge of its range, or inside it (log or linear).
fn draw(d: &params::ParamDecl, rng: &mut Rng) -> f64 {
    if d.integer {
        let hi = if d.id.ends_with("seed") {
            d.max
        } else {
            d.max.min(size_cap(d.id).max(d.min))
        };
        return match index(rng, 4) {
            0 => d.default.min(hi),
            1 => d.min,
            2 => hi,
            _ => (d.min + uniform(rng) * (hi - d.min)).floor(),
        };
    }
    let lo_edge = if d.min_inclusive {
        d.min
    } else if d.min == 0.0 {
        // Just above an open 0, where the default's scale leaves it far behind.
        d.default.abs().max(1e-3) * 1e-6
    } else {
        d.min + d.min.abs().max(1.0) * 1e-9
    };
    let hi_edge = if d.max_inclusive {
        d.max
    } else {
        d.max - d.max.abs().max(1.0) * 1e-9
    };
    // Coordinates and lengths far beyond the scene are valid but dull: the inside draws stay near it.
    let (lo, hi) = match d.scale {
        Scale::Log => (
            lo_edge.max(d.default.abs() / 100.0),
            hi_edge.min(d.default.abs().max(1e-3) * 100.0),
        ),
        Scale::Linear => (lo_edge.max(d.default - 10.0), hi_edge.min(d.default + 10.0)),
    };
    match index(rng, 6) {
        0 | 1 => d.default,
        2 => lo_edge,
        3 => hi_edge,
        _ if d.scale == Scale::Log && lo > 0.0 && hi > lo => {
            (lo.ln() + uniform(rng) * (hi.ln() - lo.ln())).exp()
        }
        _ => lo + uniform(rng) * (hi - lo).max(0.0),
    }
}

/// Every numeric leaf of `v` (paths as `params::decl_at` reads them), skipping the elements of point and
/// matrix lists (mixture components and sample points stay as the template has them: a covariance must be
/// SPD and the declarations do not say how to draw one).
fn numeric_leaves(v: &Value, path: String, out: &mut Vec<String>) {
    match v {
        Value::Number(_) => out.push(path),
        Value::Object(m) => {
            for (k, child) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                numeric_leaves(child, p, out);
            }
        }
        Value::Array(a) if a.iter().all(Value::is_number) && !path.ends_with(']') => {
            // A list of weights: each drawn.
            for i in 0..a.len() {
                out.push(format!("{path}[{i}]"));
            }
        }
        _ => {}
    }
}

fn set(v: &mut Value, path: &str, x: Value) {
    let mut node = v;
    for seg in path.split('.') {
        let key = seg.split('[').next().unwrap_or(seg);
        node = &mut node[key];
        let mut rest = &seg[key.len()..];
        while let Some(close) = rest.find(']') {
            let i: usize = rest[1..close].parse().expect("index");
            node = &mut node[i];
            rest = &rest[close + 1..];
        }
    }
    *node = x;
}

/// A random scenario: a target, a model and a method of the templates, every number drawn.
fn scenario(t: &Templates, pick: (usize, usize, usize, usize, bool), seed: u64) -> Value {
    let (target, method, optimizer, init, particles) = pick;
    let mut v = json!({"version": 1, "seed": seed, "steps": 3, "name": "random"});
    v["target"] = t.targets[target % t.targets.len()].clone();
    if particles {
        v["model"] = t.particle_inits[init % t.particle_inits.len()].clone();
        v["method"] = t.flows[method % t.flows.len()].clone();
    } else {
        v["model"] = t.mixture_inits[init % t.mixture_inits.len()].clone();
        v["method"] = t.mixture_methods[method % t.mixture_methods.len()].clone();
        if v["method"]["kind"] == "gradient" {
            v["method"]["optimizer"] = t.optimizers[optimizer % t.optimizers.len()].clone();
        }
    }
    let mut rng = seeded(seed);
    let mut leaves = Vec::new();
    numeric_leaves(&v, String::new(), &mut leaves);
    for path in leaves {
        if path == "seed" {
            continue;
        }
        let Some(d) = params::decl_at(&v, &path) else {
            panic!("no declaration for {path} in {v}");
        };
        let x = draw(d, &mut rng);
        let x = if d.integer { json!(x as u64) } else { json!(x) };
        set(&mut v, &path, x);
    }
    v
}

fn bundled_image() -> &'static GrayImage {
    static IMAGE: OnceLock<GrayImage> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let bytes = divlab::assets::bundled_bytes(divlab::assets::BUNDLED_IMAGE_ASSET)
            .expect("bundled image");
        divlab::assets::decode_gray(bytes).expect("decodes")
    })
}

fn model_numbers(sim: &Simulation) -> Vec<f64> {
    match sim.model() {
        ModelView::Mixture(q) => q.params(),
        ModelView::Particles(p) => p.iter().flatten().copied().collect(),
    }
}

/// What the scenarios did: [built, refused at build, infinite at the start, steps taken, steps refused].
static OUTCOMES: [AtomicUsize; 5] = [const { AtomicUsize::new(0) }; 5];

fn count(i: usize) {
    OUTCOMES[i].fetch_add(1, Ordering::Relaxed);
}

/// Kinds seen over the run: every one must be drawn.
static SEEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

fn note_kinds(v: &Value, path: &str) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(k)) = m.get("kind")
                && let Ok(mut seen) = SEEN.lock()
            {
                seen.insert(format!("{path}={k}"));
            }
            for (key, child) in m {
                note_kinds(child, &format!("{path}.{key}"));
            }
        }
        Value::Array(a) => a.iter().for_each(|x| note_kinds(x, path)),
        _ => {}
    }
}

/// Builds and steps one scenario; `Ok(false)` when the drawn numbers are not a valid scenario together
/// (a cross-field rule such as two moons' noise below its radius), which the runner rejects.
fn check(v: &Value) -> Result<bool, TestCaseError> {
    let text = serde_json::to_string(v).expect("JSON");
    let Ok(scenario) = Scenario::parse(&text) else {
        return Ok(false);
    };
    note_kinds(v, "");
    let image =
        matches!(scenario.target, divlab::core::target::TargetSpec::Image(_)).then(bundled_image);
    let mut sim = match Simulation::new(&scenario, image) {
        Ok(sim) => sim,
        // Refused at build: a message, never a panic.
        Err(e) => {
            prop_assert!(!e.to_string().is_empty());
            if OUTCOMES[1].load(Ordering::Relaxed) < 3 {
                eprintln!("refused at build: {e}");
            }
            count(1);
            return Ok(true);
        }
    };
    count(0);
    if sim.objective_infinite().is_some() {
        count(2);
        return Ok(true); // the run layer refuses it before a step, saying why
    }
    for _ in 0..scenario.steps.min(3) {
        let before = model_numbers(&sim);
        let taken = sim.steps_taken();
        match sim.step() {
            Ok(info) => {
                prop_assert_eq!(info.step, taken + 1);
                prop_assert!(info.objective.is_finite(), "{}: {:?}", text, info);
                for x in [info.standard_error, info.step_size_used]
                    .into_iter()
                    .flatten()
                {
                    prop_assert!(x.is_finite(), "{}: {:?}", text, info);
                }
                let after = model_numbers(&sim);
                prop_assert!(after.iter().all(|x| x.is_finite()), "{}", text);
                count(3);
            }
            Err(e) => {
                count(4);
                prop_assert!(!e.to_string().is_empty(), "{}", text);
                prop_assert_eq!(sim.steps_taken(), taken, "a refused step counted: {}", text);
                prop_assert_eq!(
                    model_numbers(&sim),
                    before,
                    "a refused step moved the model: {}",
                    text
                );
                break;
            }
        }
    }
    Ok(true)
}

#[test]
fn random_valid_scenarios_never_panic_or_print_non_finite_numbers() {
    let cases: u32 = std::env::var("DIVLAB_SCENARIO_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let t = templates();
    // A fixed draw, so that CI gives the same verdict on every run (`DIVLAB_SCENARIO_SEED=N` draws another
    // set of scenarios for a longer exploration).
    let config = Config {
        cases,
        max_global_rejects: cases.saturating_mul(4),
        failure_persistence: None,
        ..Config::default()
    };
    let draw: u64 = std::env::var("DIVLAB_SCENARIO_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261202);
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&draw.to_le_bytes());
    let rng = proptest::test_runner::TestRng::from_seed(config.rng_algorithm, &seed);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let valid = std::sync::atomic::AtomicU32::new(0);
    let strategy = (
        (
            0..t.targets.len(),
            0..64usize,
            0..6usize,
            0..2usize,
            any::<bool>(),
        ),
        any::<u64>(),
    );
    let started = std::time::Instant::now();
    let result = runner.run(&strategy, |(pick, seed)| {
        let v = scenario(&t, pick, seed);
        if check(&v)? {
            valid.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        } else {
            Err(TestCaseError::reject("not valid together"))
        }
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let valid = valid.into_inner();
    eprintln!(
        "{valid} random valid scenarios built and stepped in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(valid >= cases, "{valid} < {cases}");
    let [built, unbuilt, infinite, steps, refused] =
        OUTCOMES.each_ref().map(|c| c.load(Ordering::Relaxed));
    eprintln!(
        "built {built} (refused at build {unbuilt}, infinite at the start {infinite}); steps taken {steps}, refused {refused}"
    );
    // Most draws run: a generator that only made refusals would test nothing.
    assert!(built * 10 >= valid as usize * 9, "built {built} of {valid}");
    // (`steps` is drawn too, 0 a quarter of the time.)
    assert!(steps >= built, "steps {steps} for {built} scenarios");
    let seen = SEEN.lock().map(|s| s.clone()).unwrap_or_default();
    // Every kind of every family was drawn.
    for (_, target) in divlab::core::target::presets() {
        let kind = format!(".target={}", target.kind_name());
        assert!(seen.contains(&kind), "never drew {kind}");
    }
    for k in ["sgd", "adam", "lion", "laprop", "ademamix", "grams"] {
        assert!(
            seen.contains(&format!(".method.optimizer={k}")),
            "never drew {k}"
        );
    }
    for k in [
        "mmd",
        "sliced_riesz",
        "sinkhorn",
        "svgd",
        "langevin",
        "underdamped_langevin",
    ] {
        assert!(
            seen.contains(&format!(".method.flow={k}")),
            "never drew {k}"
        );
    }
    for k in ["gaussian", "inverse_multiquadric", "laplace", "riesz"] {
        assert!(
            seen.contains(&format!(".method.flow.kernel={k}")),
            "never drew {k}"
        );
        assert!(
            seen.contains(&format!(".method.objective.kernel={k}")),
            "never drew {k}"
        );
    }
    assert!(seen.contains(".method=em"), "never drew EM");
}
