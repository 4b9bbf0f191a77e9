//! The pre-run cost estimate (`run::cost`): the runs the issue found too costly are refused by `Run::new`
//! with the setting to change, every bundled scenario and claim-preset panel is accepted, and the memory
//! estimate is within a stated factor of the bytes the run really allocates (counted by this test binary's
//! global allocator: the peak of live bytes while the run is built and takes its steps).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use divlab::app::open_link_headless;
use divlab::assets::{bundled_scenarios, claim_presets};
use divlab::core::scenario::Scenario;
use divlab::gpu::backend::BackendChoice;
use divlab::run::cost;
use divlab::run::{Run, RunError, load};

/// Counts live heap bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded to the system allocator with the caller's layout.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded to the system allocator with the caller's pointer and layout.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let now = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                    - layout.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The tests run one at a time (the allocation counters are process-wide).
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn scenario(text: &str) -> Scenario {
    Scenario::parse(text).unwrap_or_else(|e| panic!("{e}"))
}

fn refusal(s: &Scenario) -> String {
    let loaded = load::from_scenario(s.clone(), "test").unwrap_or_else(|e| panic!("{e}"));
    match Run::new(&loaded, BackendChoice::Cpu, Err("cpu")) {
        Ok(_) => panic!(
            "{}: accepted, estimate {:?}",
            s.name,
            cost::estimate(s, None)
        ),
        Err(RunError::TooCostly(r)) => r.to_string(),
        Err(e) => panic!("{}: refused for another reason: {e}", s.name),
    }
}

fn bundled(name: &str) -> Scenario {
    load::bundled(name)
        .unwrap_or_else(|e| panic!("{e}"))
        .scenario
}

#[test]
fn a_sinkhorn_objective_at_a_tiny_epsilon_is_refused_naming_its_iterations_and_samples() {
    let _serial = serial();
    // The case: ε = 1e-100 with the default 500 iterations and 1024 + 1024 samples (7.7 s a step;
    // 1024 was the default then, 256 is now).
    let mut s = bundled("two_modes_reverse_kl");
    s.method = serde_json::from_value(serde_json::json!({
        "kind": "gradient",
        "objective": {"kind": "sinkhorn", "config": {"epsilon": 1e-100, "max_iters": 500, "tolerance": 1e-4},
                      "samples": 1024, "target_samples": 1024},
        "optimizer": {"kind": "adam", "lr": 0.05},
    }))
    .expect("method");
    let msg = refusal(&s);
    eprintln!("{msg}");
    assert!(msg.contains("per step"), "{msg}");
    assert!(
        msg.contains("lower method.objective.config.max_iters (now 500) to at most"),
        "{msg}"
    );
    assert!(msg.contains("method.objective.samples"), "{msg}");
    // Following the advice is accepted.
    let r = cost::check(&s, None).expect_err("refused");
    let fixed = r
        .changes
        .iter()
        .find(|(k, _)| k.path == "method.objective.config.max_iters")
        .and_then(|(_, v)| *v)
        .expect("a value");
    if let divlab::core::scenario::Method::Gradient {
        objective: divlab::core::fit::Objective::Sinkhorn { config, .. },
        ..
    } = &mut s.method
    {
        config.max_iters = fixed as usize;
    }
    cost::check(&s, None).unwrap_or_else(|r| panic!("the advice was not enough: {r}"));
}

#[test]
fn a_two_moons_target_at_its_smallest_noise_is_refused_naming_the_noise() {
    let _serial = serial();
    let mut s = bundled("moons_sinkhorn_flow");
    s.target = serde_json::from_value(
        serde_json::json!({"kind": "two_moons", "radius": 2.0, "noise": 0.002}),
    )
    .expect("target");
    let msg = refusal(&s);
    eprintln!("{msg}");
    assert!(msg.contains("two_moons target at noise 0.002"), "{msg}");
    assert!(
        msg.contains("raise target.noise (now 0.002) to at least"),
        "{msg}"
    );
}

#[test]
fn a_mixture_target_with_very_many_components_is_refused_naming_its_length() {
    let _serial = serial();
    let k = 100_000;
    let mut s = bundled("mixture_em");
    s.target = serde_json::from_value(serde_json::json!({
        "kind": "gaussian_mixture",
        "weights": vec![1.0; k],
        "means": (0..k).map(|i| [(i % 300) as f64 * 0.01, (i / 300) as f64 * 0.01]).collect::<Vec<_>>(),
        "covariances": vec![[[0.01, 0.0], [0.0, 0.01]]; k],
    }))
    .expect("target");
    let msg = refusal(&s);
    eprintln!("{msg}");
    assert!(
        msg.contains("lower target.weights (the number of components) (now 100000) to at most"),
        "{msg}"
    );
}

#[test]
fn huge_flows_are_refused_before_anything_is_allocated() {
    let _serial = serial();
    let mut s = bundled("ring8_mmd_flow");
    if let divlab::core::scenario::ModelSpec::Particles { count, .. } = &mut s.model {
        *count = 1_000_000;
    }
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let msg = refusal(&s);
    let peak = PEAK.load(Ordering::Relaxed) - before;
    eprintln!("{msg}\n(peak {peak} bytes allocated while refusing)");
    assert!(
        msg.contains("lower model.count (now 1000000) to at most"),
        "{msg}"
    );
    // Refused from the sizes: far less than the particles' 16 MB was ever allocated.
    assert!(
        peak < 4_000_000,
        "{peak} bytes allocated before the refusal"
    );
}

#[test]
fn every_bundled_scenario_and_claim_preset_panel_is_accepted() {
    let _serial = serial();
    let mut n = 0;
    for (name, s) in bundled_scenarios() {
        let s = s.unwrap_or_else(|e| panic!("{name}: {e}"));
        let e = cost::check(&s, None).unwrap_or_else(|r| panic!("{name}: {r}"));
        eprintln!(
            "{name}: {} , {} per step, {} to start",
            cost::human_bytes(e.bytes()),
            cost::human_seconds(e.step_s()),
            cost::human_seconds(e.setup_s())
        );
        n += 1;
    }
    for p in claim_presets() {
        let p = p.unwrap_or_else(|e| panic!("{e}"));
        let linked = open_link_headless(&p.link).unwrap_or_else(|e| panic!("{}: {e}", p.id));
        for s in &linked.panels {
            cost::check(s, None).unwrap_or_else(|r| panic!("{}: {r}", p.id));
            n += 1;
        }
    }
    assert!(n >= 20, "{n} runs checked");
}

/// Peak live bytes while `s` is built and takes `steps` steps, and the estimate's bytes.
fn measured_and_estimated(s: &Scenario, steps: usize) -> (f64, f64) {
    let loaded = load::from_scenario(s.clone(), "test").unwrap_or_else(|e| panic!("{e}"));
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let mut run =
        Run::new(&loaded, BackendChoice::Cpu, Err("cpu")).unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..steps {
        run.step().unwrap_or_else(|e| panic!("{e}"));
    }
    let peak = PEAK.load(Ordering::Relaxed) - before;
    drop(run);
    (peak as f64, cost::estimate(s, None).bytes())
}

/// The factor the memory estimate stays within, either way, at the sizes below.
const MEMORY_FACTOR: f64 = 4.0;

#[test]
fn the_memory_estimate_is_within_a_factor_of_the_allocated_bytes() {
    let _serial = serial();
    let cases = [
        (
            "mmd flow, 2 000 particles, 2 000 target points",
            "(version: 1, steps: 10, target: (kind: \"ring8\"), model: (kind: \"particles\", count: 2000), \
             method: (kind: \"flow\", flow: (kind: \"mmd\", kernel: (kind: \"gaussian\", sigma: 0.5), step_size: 1.0, target_samples: 2000)))",
        ),
        (
            "mmd flow, 4 000 particles, 4 000 target points",
            "(version: 1, steps: 10, target: (kind: \"ring8\"), model: (kind: \"particles\", count: 4000), \
             method: (kind: \"flow\", flow: (kind: \"mmd\", kernel: (kind: \"gaussian\", sigma: 0.5), step_size: 1.0, target_samples: 4000)))",
        ),
        (
            "sliced Riesz flow, 200 000 particles, 100 000 target points",
            "(version: 1, steps: 10, target: (kind: \"spiral\"), model: (kind: \"particles\", count: 200000, init: (kind: \"uniform_in_box\")), \
             method: (kind: \"flow\", flow: (kind: \"sliced_riesz\", slices: 4, step_size: 1.0, target_samples: 100000)))",
        ),
        (
            "reverse KL on a 1024² grid",
            "(version: 1, steps: 10, target: (kind: \"two_modes\"), model: (kind: \"mixture\", init: (kind: \"random\", components: 2, seed: 1)), \
             method: (kind: \"gradient\", objective: (kind: \"f_divergence\", divergence: (kind: \"reverse_kl\"), estimator: (kind: \"grid\", resolution: 1024)), \
             optimizer: (kind: \"adam\", lr: 0.05)))",
        ),
        (
            "closed-form MMD² against two moons at noise 0.02 (628 components)",
            "(version: 1, steps: 10, target: (kind: \"two_moons\", noise: 0.02), model: (kind: \"mixture\", init: (kind: \"random\", components: 4, seed: 1)), \
             method: (kind: \"gradient\", objective: (kind: \"mmd_gaussian_closed_form\", sigma: 0.5), optimizer: (kind: \"adam\", lr: 0.05)))",
        ),
        (
            "Langevin, 50 000 particles on two moons",
            "(version: 1, steps: 10, target: (kind: \"two_moons\"), model: (kind: \"particles\", count: 50000), \
             method: (kind: \"flow\", flow: (kind: \"langevin\", step_size: 0.01)))",
        ),
    ];
    let mut off = Vec::new();
    for (what, text) in cases {
        let s = scenario(text);
        let (measured, estimated) = measured_and_estimated(&s, 2);
        let ratio = estimated / measured;
        eprintln!(
            "{what}: estimated {}, allocated at peak {} (estimate / allocated = {ratio:.2})",
            cost::human_bytes(estimated),
            cost::human_bytes(measured)
        );
        if !(1.0 / MEMORY_FACTOR..=MEMORY_FACTOR).contains(&ratio) {
            off.push(format!(
                "{what}: estimate {estimated} vs allocated {measured}"
            ));
        }
    }
    assert!(off.is_empty(), "{off:#?}");
}

/// A Sinkhorn flow that follows OT_ε(α, β) alone (`debiased: false`) solves one N·M problem a step (two
/// N·M soft-min passes an iteration); the debiased one adds OT_ε(α, α), N² an iteration. The estimate's
/// Sinkhorn term says so: at its iteration cap, (2NM + N²)·(cap + 1) debiased and 2NM·(cap + 1) not.
#[test]
fn a_sinkhorn_flow_without_debiasing_is_counted_without_its_self_problem() {
    let _serial = serial();
    let mut s = bundled("moons_sinkhorn_flow");
    let (n, m, cap) = match (&s.model, &s.method) {
        (
            divlab::core::scenario::ModelSpec::Particles { count, .. },
            divlab::core::scenario::Method::Flow {
                flow:
                    divlab::core::flows::FlowConfig::Sinkhorn {
                        sinkhorn,
                        target_samples,
                        ..
                    },
            },
        ) => (
            *count as f64,
            *target_samples as f64,
            sinkhorn.max_iters as f64,
        ),
        _ => panic!("moons_sinkhorn_flow: a Sinkhorn flow of particles was expected"),
    };
    let solver_ops = |s: &Scenario| {
        let e = cost::estimate(s, None);
        let solver: Vec<_> = e
            .terms
            .iter()
            .filter(|t| t.per_step && t.what.starts_with("the Sinkhorn solver at its cap"))
            .collect();
        assert_eq!(solver.len(), 1, "{:#?}", e.terms);
        solver[0].ops
    };
    let debiased = solver_ops(&s);
    if let divlab::core::scenario::Method::Flow {
        flow: divlab::core::flows::FlowConfig::Sinkhorn { debiased: d, .. },
    } = &mut s.method
    {
        *d = false;
    }
    let alone = solver_ops(&s);
    eprintln!("N = {n}, M = {m}, cap {cap}: debiased {debiased:.3e} ops, OT_ε alone {alone:.3e}");
    assert_eq!(debiased, (2.0 * n * m + n * n) * (cap + 1.0));
    assert_eq!(alone, 2.0 * n * m * (cap + 1.0));
}
