//! The cost of a run, estimated before it starts from the scenario's sizes alone, and the limits a run must
//! stay within (so that no run exhausts the machine's memory or freezes the page for long).
//!
//! The estimate is a list of [`Term`]s, each a piece of work or of memory with the settings of the file it
//! grows with ([`Knob`]: a dotted path as in the file, its value, and the power the term grows with). Time is
//! counted in *elementary operations*: one kernel or `exp` evaluation, one Gaussian component's density at a
//! point, one element of a sort. It is converted to seconds at [`OPS_PER_SECOND`], a conservative rate (the
//! CPU core's measured rates in release builds are above it: see `tests/cost.rs` and `docs/conventions.md`).
//! Memory counts the bytes the run's buffers hold at once (particles, target samples, grids, the target's
//! components, the solvers' scratch, the history of `steps` steps).
//!
//! Upper bounds where the work depends on the data: a Sinkhorn solver is counted at its iteration cap
//! (`max_iters`), which it reaches whenever it does not meet its tolerance (a tiny ε).
//!
//! [`check`] refuses a run whose memory exceeds [`Limits::max_bytes`], whose step exceeds
//! [`Limits::max_step_s`] or whose set-up exceeds [`Limits::max_setup_s`], naming the estimate, the term that
//! dominates it and, for each of its settings, the value that would bring the run within the limit.
//! [`crate::run::Run::new`] calls it, so the CLI (`run`, `measure`, `render`), the app (a preset, link,
//! file or edited parameter builds a run) and the tests all refuse the same scenarios.

use std::fmt;

use crate::core::fdiv::Estimator;
use crate::core::fit::Objective;
use crate::core::flows::FlowConfig;
use crate::core::mixture::MixtureInit;
use crate::core::scenario::{Method, ModelSpec, Scenario};
use crate::core::target::{GrayImage, TargetSpec};

/// Elementary operations per second assumed when converting an estimate to seconds: below the release
/// build's measured rates on one core (`tests/cost.rs` prints them), so that estimated seconds are an upper
/// bound on a CPU at least this fast.
pub const OPS_PER_SECOND: f64 = 1e8;

/// Elementary operations counted for one Gaussian component's density (or score) at a point, in f64: a
/// quadratic form and an `exp` (measured about 90 ns in the dev profile, 25 × 10 ns at [`OPS_PER_SECOND`]).
pub const COMPONENT_OPS: f64 = 25.0;

/// Elementary operations counted for one pair of Gaussian components in a closed form (a 2×2 inverse,
/// determinant and `exp`, with their gradients; measured about 70 ns in the dev profile).
pub const PAIR_OPS: f64 = 20.0;

/// Bytes a history record holds (the record with its two short strings).
const HISTORY_RECORD_BYTES: f64 = 256.0;

/// Cells per side of the grid the app and `divlab render` evaluate the target's density on (the heat map).
const SCENE_GRID: f64 = 256.0;

/// What a run may cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Most bytes a run may hold at once.
    pub max_bytes: f64,
    /// Most estimated seconds one step may take (at [`OPS_PER_SECOND`]).
    pub max_step_s: f64,
    /// Most estimated seconds building the run may take (target samples, cached grids, the solver's fixed
    /// terms).
    pub max_setup_s: f64,
}

impl Limits {
    /// 1 GiB of memory (a browser tab's WebAssembly memory is at most 4 GiB, and often less is granted),
    /// 2 s per step (the app takes CPU steps on its frame thread: a longer step is a frozen page), 30 s of
    /// set-up.
    pub const DEFAULT: Limits = Limits {
        max_bytes: 1024.0 * 1024.0 * 1024.0,
        max_step_s: 2.0,
        max_setup_s: 30.0,
    };
}

/// A setting of the scenario a term grows with.
#[derive(Debug, Clone, PartialEq)]
pub struct Knob {
    /// The dotted path of the field in the file (`model.count`, `method.flow.sinkhorn.max_iters`).
    pub path: String,
    /// Its value in the scenario.
    pub now: f64,
    /// The term's operations grow as `value^ops_power` (0: not at all).
    pub ops_power: f64,
    /// The term's bytes grow as `value^bytes_power`.
    pub bytes_power: f64,
    /// Whether the setting is a whole number (a suggestion is rounded the safe way).
    pub whole: bool,
}

impl Knob {
    fn new(path: impl Into<String>, now: f64, ops_power: f64, bytes_power: f64) -> Self {
        Self {
            path: path.into(),
            now,
            ops_power,
            bytes_power,
            whole: false,
        }
    }

    fn count(path: impl Into<String>, now: usize, ops_power: f64, bytes_power: f64) -> Self {
        Self {
            whole: true,
            ..Self::new(path, now as f64, ops_power, bytes_power)
        }
    }
}

/// One piece of a run's cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// What it is, for people ("the MMD flow's kernel sums, N·(N + M)").
    pub what: String,
    /// Whether the operations are spent on every step (else once, when the run is built).
    pub per_step: bool,
    pub ops: f64,
    pub bytes: f64,
    /// The settings it grows with.
    pub knobs: Vec<Knob>,
}

impl Term {
    /// This term's ops and bytes with the setting `path` changed to `value`.
    fn scaled(&self, path: &str, value: f64) -> (f64, f64) {
        let mut ops = self.ops;
        let mut bytes = self.bytes;
        for k in self.knobs.iter().filter(|k| k.path == path && k.now > 0.0) {
            let r = value / k.now;
            ops *= r.powf(k.ops_power);
            bytes *= r.powf(k.bytes_power);
        }
        (ops, bytes)
    }
}

/// A run's estimated cost: see the module docs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Estimate {
    pub terms: Vec<Term>,
}

/// Which limit a refused run exceeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    Memory,
    Step,
    Setup,
}

/// Why [`check`] refused a run: the estimate, the limit and what to change.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub over: Over,
    pub estimate: Estimate,
    pub limits: Limits,
    /// The term that dominates the exceeded quantity.
    pub term: Term,
    /// For settings of that term: the path, and the value (rounded the safe way) that would bring the run
    /// within the limit, changing that setting alone; `None` where no value of it would.
    pub changes: Vec<(Knob, Option<f64>)>,
}

impl Estimate {
    /// Bytes held at once.
    pub fn bytes(&self) -> f64 {
        self.terms.iter().map(|t| t.bytes).sum()
    }

    /// Operations of one step.
    pub fn step_ops(&self) -> f64 {
        self.terms
            .iter()
            .filter(|t| t.per_step)
            .map(|t| t.ops)
            .sum()
    }

    /// Operations of building the run.
    pub fn setup_ops(&self) -> f64 {
        self.terms
            .iter()
            .filter(|t| !t.per_step)
            .map(|t| t.ops)
            .sum()
    }

    /// Estimated seconds of one step, at [`OPS_PER_SECOND`].
    pub fn step_s(&self) -> f64 {
        self.step_ops() / OPS_PER_SECOND
    }

    /// Estimated seconds of building the run, at [`OPS_PER_SECOND`].
    pub fn setup_s(&self) -> f64 {
        self.setup_ops() / OPS_PER_SECOND
    }

    /// The quantity `over` measures, with the setting `path` changed to `value`.
    fn quantity_with(&self, over: Over, path: &str, value: f64) -> f64 {
        self.terms
            .iter()
            .map(|t| {
                let (ops, bytes) = t.scaled(path, value);
                match over {
                    Over::Memory => bytes,
                    Over::Step if t.per_step => ops / OPS_PER_SECOND,
                    Over::Setup if !t.per_step => ops / OPS_PER_SECOND,
                    _ => 0.0,
                }
            })
            .sum()
    }

    fn quantity(&self, over: Over) -> f64 {
        match over {
            Over::Memory => self.bytes(),
            Over::Step => self.step_s(),
            Over::Setup => self.setup_s(),
        }
    }

    /// The value of `knob` that brings `over` within `limit` with every other setting kept, rounded the
    /// safe way; `None` if none does within twelve decades of its value.
    fn fix(&self, over: Over, limit: f64, knob: &Knob) -> Option<f64> {
        let power = match over {
            Over::Memory => knob.bytes_power,
            _ => knob.ops_power,
        };
        if power == 0.0 || knob.now <= 0.0 {
            return None;
        }
        // Lower a setting the cost grows with, raise one it shrinks with; bisect in log space.
        let far = if power > 0.0 {
            knob.now * 1e-12
        } else {
            knob.now * 1e12
        };
        let within = |v: f64| self.quantity_with(over, &knob.path, v) <= limit;
        if !within(far) {
            return None;
        }
        let (mut bad, mut good) = (knob.now.ln(), far.ln());
        for _ in 0..100 {
            let mid = 0.5 * (bad + good);
            if within(mid.exp()) {
                good = mid;
            } else {
                bad = mid;
            }
        }
        let v = good.exp();
        let v = if knob.whole {
            if power > 0.0 {
                v.floor().max(1.0)
            } else {
                v.ceil()
            }
        } else {
            round_safe(v, power > 0.0)
        };
        within(v).then_some(v)
    }
}

/// `v` to two significant digits, rounded down (`down`) or up.
fn round_safe(v: f64, down: bool) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return v;
    }
    let scale = 10f64.powi(v.log10().floor() as i32 - 1);
    let m = v / scale;
    (if down { m.floor() } else { m.ceil() }) * scale
}

/// Bytes for people: `2.8 GB`, `640 MB`, `12 kB` (powers of 1000).
pub fn human_bytes(b: f64) -> String {
    let units = [(1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")];
    for (scale, unit) in units {
        if b >= scale {
            return format!("{} {unit}", sig2(b / scale));
        }
    }
    format!("{} B", b.round())
}

/// Seconds for people: `7.7 s`, `3 min`, `0.02 s`.
pub fn human_seconds(s: f64) -> String {
    if s >= 3600.0 * 24.0 {
        format!("{} days", sig2(s / 86400.0))
    } else if s >= 3600.0 {
        format!("{} h", sig2(s / 3600.0))
    } else if s >= 120.0 {
        format!("{} min", sig2(s / 60.0))
    } else {
        format!("{} s", sig2(s))
    }
}

/// Two significant digits, no exponent below 1e6.
fn sig2(v: f64) -> String {
    if !v.is_finite() {
        return "∞".into();
    }
    if v >= 1e6 {
        return format!("{v:.1e}");
    }
    if v >= 10.0 {
        return format!("{}", v.round());
    }
    let digits = if v == 0.0 {
        1
    } else {
        (1 - v.log10().floor() as i32).max(1) as usize
    };
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// A number in a few characters: `0.05`, `1e-100`.
fn short(v: f64) -> String {
    if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e6) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// A setting's value as the user would write it.
fn show_value(v: f64, whole: bool) -> String {
    if whole {
        format!("{}", v as u64)
    } else {
        if v != 0.0 && (1e-3..1e6).contains(&v.abs()) {
            // Three significant digits at most, trailing zeros dropped.
            let digits = (2 - v.abs().log10().floor() as i32).max(0) as usize;
            let s = format!("{v:.digits$}");
            if s.contains('.') {
                s.trim_end_matches('0').trim_end_matches('.').to_owned()
            } else {
                s
            }
        } else {
            format!("{v:.2e}")
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.estimate;
        match self.over {
            Over::Memory => write!(
                f,
                "estimated {} of memory, above the limit of {}: {} holds {}",
                human_bytes(e.bytes()),
                human_bytes(self.limits.max_bytes),
                self.term.what,
                human_bytes(self.term.bytes)
            )?,
            Over::Step => write!(
                f,
                "estimated {} per step ({:.1e} operations at {:.0e} per second), above the limit of {}: {} takes {:.1e}",
                human_seconds(e.step_s()),
                e.step_ops(),
                OPS_PER_SECOND,
                human_seconds(self.limits.max_step_s),
                self.term.what,
                self.term.ops
            )?,
            Over::Setup => write!(
                f,
                "estimated {} to start the run ({:.1e} operations at {:.0e} per second), above the limit of {}: {} takes {:.1e}",
                human_seconds(e.setup_s()),
                e.setup_ops(),
                OPS_PER_SECOND,
                human_seconds(self.limits.max_setup_s),
                self.term.what,
                self.term.ops
            )?,
        }
        let mut ways: Vec<String> = Vec::new();
        for (k, v) in &self.changes {
            let power = match self.over {
                Over::Memory => k.bytes_power,
                _ => k.ops_power,
            };
            let now = show_value(k.now, k.whole);
            ways.push(match (v, power > 0.0) {
                (Some(v), true) => format!(
                    "lower {} (now {now}) to at most {}",
                    k.path,
                    show_value(*v, k.whole)
                ),
                (Some(v), false) => format!(
                    "raise {} (now {now}) to at least {}",
                    k.path,
                    show_value(*v, k.whole)
                ),
                (None, true) => format!("lower {} (now {now})", k.path),
                (None, false) => format!("raise {} (now {now})", k.path),
            });
        }
        if !ways.is_empty() {
            write!(f, "; {}", ways.join(", or "))?;
        }
        Ok(())
    }
}

impl std::error::Error for Refusal {}

/// Refuses `estimate` if it exceeds `limits` (memory first, then a step, then the set-up).
pub fn check_estimate(estimate: Estimate, limits: Limits) -> Result<Estimate, Box<Refusal>> {
    for (over, limit) in [
        (Over::Memory, limits.max_bytes),
        (Over::Step, limits.max_step_s),
        (Over::Setup, limits.max_setup_s),
    ] {
        if estimate.quantity(over) <= limit {
            continue;
        }
        let weight = |t: &Term| match over {
            Over::Memory => t.bytes,
            Over::Step if t.per_step => t.ops,
            Over::Setup if !t.per_step => t.ops,
            _ => 0.0,
        };
        let Some(term) = estimate
            .terms
            .iter()
            .max_by(|a, b| weight(a).total_cmp(&weight(b)))
            .cloned()
        else {
            continue;
        };
        let changes = term
            .knobs
            .iter()
            .filter(|k| match over {
                Over::Memory => k.bytes_power != 0.0,
                _ => k.ops_power != 0.0,
            })
            .map(|k| (k.clone(), estimate.fix(over, limit, k)))
            .collect();
        return Err(Box::new(Refusal {
            over,
            estimate,
            limits,
            term,
            changes,
        }));
    }
    Ok(estimate)
}

/// [`estimate`] of `scenario`, refused over [`Limits::DEFAULT`].
pub fn check(scenario: &Scenario, image: Option<&GrayImage>) -> Result<Estimate, Box<Refusal>> {
    check_estimate(estimate(scenario, image), Limits::DEFAULT)
}

/// log₂ of a sort's length (at least 1).
fn log2(n: f64) -> f64 {
    n.max(2.0).log2()
}

/// The knobs a target's terms-per-evaluation grows with.
fn target_knobs(spec: &TargetSpec) -> Vec<Knob> {
    match spec {
        TargetSpec::TwoMoons(s) => vec![
            Knob::new("target.noise", s.noise, -1.0, -1.0),
            Knob::new("target.radius", s.radius, 1.0, 1.0),
        ],
        TargetSpec::Spiral(s) => vec![Knob::new("target.width", s.width, -1.0, -1.0)],
        TargetSpec::Ring8(s) => vec![Knob::count("target.modes", s.modes, 1.0, 1.0)],
        TargetSpec::Grid25(s) => vec![Knob::count("target.per_side", s.per_side, 2.0, 2.0)],
        TargetSpec::Checkerboard(s) => vec![Knob::count("target.cells", s.cells, 2.0, 2.0)],
        TargetSpec::GaussianMixture(s) => vec![Knob::count(
            "target.weights (the number of components)",
            s.weights.len(),
            1.0,
            1.0,
        )],
        TargetSpec::Samples(s) => vec![Knob::count(
            "target.points (the number of points)",
            s.points.len(),
            1.0,
            1.0,
        )],
        _ => Vec::new(),
    }
}

/// A short description of the target for the terms' names: "the two_moons target at noise 0.001 (6284
/// components)".
fn target_words(spec: &TargetSpec, terms: usize) -> String {
    let kind = spec.kind_name();
    match spec {
        TargetSpec::TwoMoons(s) => format!(
            "the two_moons target at noise {} ({terms} Gaussian components)",
            s.noise
        ),
        TargetSpec::Spiral(s) => format!(
            "the spiral target at width {} ({terms} Gaussian components)",
            s.width
        ),
        TargetSpec::Samples(_) => format!("the samples target ({terms} points)"),
        TargetSpec::Banana(_)
        | TargetSpec::Ring(_)
        | TargetSpec::Funnel(_)
        | TargetSpec::Dirichlet(_)
        | TargetSpec::Image(_) => {
            format!("the {kind} target")
        }
        _ => format!("the {kind} target ({terms} terms per density evaluation)"),
    }
}

/// The estimated cost of `scenario` (module docs). `image` is the decoded image of an `image` target.
pub fn estimate(scenario: &Scenario, image: Option<&GrayImage>) -> Estimate {
    let mut terms = Vec::new();
    let spec = &scenario.target;
    let tk = spec.terms_per_evaluation();
    let cp = tk.max(1) as f64;
    let twords = target_words(spec, tk);
    let tknobs = target_knobs(spec);
    let is_samples = matches!(spec, TargetSpec::Samples(_));

    // The target itself: its components (about 15 numbers each) or points, and an image's pixels with the
    // normalizer's grid.
    let target_bytes = match spec {
        TargetSpec::Samples(s) => s.points.len() as f64 * 16.0 * 3.0,
        TargetSpec::Image(_) => image.map_or(0.0, |i| (i.width * i.height) as f64 * 12.0),
        _ => cp * 15.0 * 8.0,
    };
    terms.push(Term {
        what: twords.clone(),
        per_step: false,
        ops: 0.0,
        bytes: target_bytes,
        knobs: tknobs.clone(),
    });
    // Its density on the heat map's grid (the app, `divlab render`), once.
    if !is_samples {
        let cells = SCENE_GRID * SCENE_GRID;
        terms.push(Term {
            what: format!(
                "{twords} evaluated on the {}² heat-map grid",
                SCENE_GRID as usize
            ),
            per_step: false,
            ops: cells * cp * COMPONENT_OPS,
            bytes: 2.0 * cells * 8.0,
            knobs: tknobs.clone(),
        });
    }
    // The history: one record per step of the run's length.
    terms.push(Term {
        what: format!("the history of {} steps", scenario.steps),
        per_step: false,
        ops: 0.0,
        bytes: scenario.steps as f64 * HISTORY_RECORD_BYTES,
        knobs: vec![Knob::count("steps", scenario.steps, 0.0, 1.0)],
    });

    match (&scenario.model, &scenario.method) {
        (ModelSpec::Mixture { init }, method) => {
            let (k, kknob) = match init {
                MixtureInit::Random { components, .. } => (
                    *components,
                    Knob::count("model.init.components", *components, 1.0, 0.0),
                ),
                MixtureInit::Given { weights, .. } => (
                    weights.len(),
                    Knob::count(
                        "model.init.weights (the number of components)",
                        weights.len(),
                        1.0,
                        0.0,
                    ),
                ),
            };
            let is_mixture_target = matches!(
                spec,
                TargetSpec::TwoModes(_)
                    | TargetSpec::Ring8(_)
                    | TargetSpec::Grid25(_)
                    | TargetSpec::GaussianMixture(_)
                    | TargetSpec::TwoMoons(_)
                    | TargetSpec::Spiral(_)
            );
            mixture_terms(
                &mut terms,
                method,
                is_mixture_target,
                k.max(1),
                kknob,
                cp,
                &twords,
                &tknobs,
            );
        }
        (ModelSpec::Particles { count, .. }, Method::Flow { flow }) => {
            let n = *count as f64;
            let nk = |ops: f64, bytes: f64| Knob::count("model.count", *count, ops, bytes);
            // Positions held by the simulation, its step-0 copy, the displacement trail (two), a GPU copy and
            // a step's scratch (new positions, gradients, noise): eight copies of 16 bytes.
            terms.push(Term {
                what: format!("{count} particles"),
                per_step: false,
                ops: n,
                bytes: n * 16.0 * 8.0,
                knobs: vec![nk(1.0, 1.0)],
            });
            flow_terms(&mut terms, flow, *count, spec, cp, &twords, &tknobs);
        }
        // A mismatched model and method is refused by validation, before any cost matters.
        (ModelSpec::Particles { .. }, _) => {}
    }
    Estimate { terms }
}

/// The samples a batch of `samples` stratified over `k` components holds (`⌊samples/k⌋ ≥ 1` per component).
fn stratified(samples: usize, k: usize) -> f64 {
    ((samples / k).max(1) * k) as f64
}

#[allow(clippy::too_many_arguments)]
fn mixture_terms(
    terms: &mut Vec<Term>,
    method: &Method,
    is_mixture_target: bool,
    k: usize,
    kknob: Knob,
    cp: f64,
    twords: &str,
    tknobs: &[Knob],
) {
    let kf = k as f64;
    let tk = |ops: f64, bytes: f64| -> Vec<Knob> {
        tknobs
            .iter()
            .map(|t| Knob {
                ops_power: t.ops_power * ops,
                bytes_power: t.bytes_power * bytes,
                ..t.clone()
            })
            .collect()
    };
    let push = |terms: &mut Vec<Term>, what: String, per_step, ops, bytes, knobs: Vec<Knob>| {
        terms.push(Term {
            what,
            per_step,
            ops,
            bytes,
            knobs,
        });
    };
    match method {
        Method::BwJko { nodes, .. } => {
            let n2 = (*nodes as f64).powi(2);
            push(
                terms,
                format!("{twords}'s log-density and score at {nodes}² quadrature nodes"),
                true,
                2.0 * n2 * cp * COMPONENT_OPS,
                n2 * 16.0,
                with_knobs(
                    vec![Knob::count("method.nodes", *nodes, 2.0, 2.0)],
                    &tk(1.0, 0.0),
                ),
            );
        }
        Method::Em { samples } => {
            let s = *samples as f64;
            let sk = Knob::count("method.samples", *samples, 1.0, 1.0);
            push(
                terms,
                format!("EM's E and M steps over {samples} samples × {k} components"),
                true,
                3.0 * s * kf * COMPONENT_OPS,
                s * (16.0 + 8.0 * kf),
                vec![sk.clone(), kknob],
            );
            push(
                terms,
                format!("drawing {samples} samples of {twords}"),
                false,
                s * 4.0,
                0.0,
                vec![sk],
            );
        }
        Method::Gradient { objective, .. } => match objective {
            Objective::FDivergence { estimator, .. } => match estimator {
                Estimator::Grid { resolution } => {
                    let r2 = (*resolution as f64).powi(2);
                    let rk = |o, b| {
                        Knob::count("method.objective.estimator.resolution", *resolution, o, b)
                    };
                    push(
                        terms,
                        format!("q and its gradient on the {resolution}² grid, {k} components"),
                        true,
                        3.0 * r2 * kf * COMPONENT_OPS,
                        // p's cached log-density on the grid, and half as much scratch.
                        1.5 * r2 * 8.0,
                        vec![rk(2.0, 2.0), kknob],
                    );
                    push(
                        terms,
                        format!("{twords} on the {resolution}² grid"),
                        false,
                        r2 * cp * COMPONENT_OPS,
                        0.0,
                        with_knobs(vec![rk(2.0, 0.0)], &tk(1.0, 0.0)),
                    );
                }
                Estimator::MonteCarlo { samples } => {
                    let s = stratified(*samples, k);
                    let sk = Knob::count("method.objective.estimator.samples", *samples, 1.0, 1.0);
                    push(
                        terms,
                        format!("p and q at {s} Monte Carlo samples, {twords}"),
                        true,
                        s * (cp + 3.0 * kf) * COMPONENT_OPS,
                        s * 16.0 * 4.0,
                        with_knobs(vec![sk, kknob], &tk(1.0, 0.0)),
                    );
                }
            },
            Objective::CrossEntropy { samples } => {
                let s = *samples as f64;
                push(
                    terms,
                    format!("q and its gradient at {samples} target samples"),
                    true,
                    s * 3.0 * kf * COMPONENT_OPS,
                    s * 16.0 * 2.0,
                    vec![
                        Knob::count("method.objective.samples", *samples, 1.0, 1.0),
                        kknob,
                    ],
                );
            }
            Objective::CauchySchwarz { resolution } => {
                if is_mixture_target {
                    pairs_term(terms, "Cauchy–Schwarz", cp, kf, twords, &tk);
                } else {
                    let r2 = (*resolution as f64).powi(2);
                    let rk = |o, b| Knob::count("method.objective.resolution", *resolution, o, b);
                    push(
                        terms,
                        format!("q on the {resolution}² grid"),
                        true,
                        3.0 * r2 * kf * COMPONENT_OPS,
                        2.0 * r2 * 8.0,
                        vec![rk(2.0, 2.0), kknob],
                    );
                    push(
                        terms,
                        format!("{twords} on the {resolution}² grid"),
                        false,
                        r2 * cp * COMPONENT_OPS,
                        r2 * 8.0,
                        with_knobs(vec![rk(2.0, 2.0)], &tk(1.0, 0.0)),
                    );
                }
            }
            Objective::MmdGaussianClosedForm { .. } => {
                pairs_term(terms, "MMD²", cp, kf, twords, &tk);
            }
            Objective::Mmd {
                samples,
                target_samples,
                ..
            } => {
                let s = stratified(*samples, k);
                let m = *target_samples as f64;
                push(
                    terms,
                    format!("the MMD² kernel sums over {s} + {target_samples} samples"),
                    true,
                    2.0 * (s + m).powi(2),
                    (s + m) * 16.0 * 4.0,
                    vec![
                        Knob::count("method.objective.samples", *samples, 2.0, 1.0),
                        Knob::count("method.objective.target_samples", *target_samples, 2.0, 1.0),
                    ],
                );
            }
            Objective::Sinkhorn {
                config,
                samples,
                target_samples,
            } => {
                let s = stratified(*samples, k);
                let m = *target_samples as f64;
                let iters = config.max_iters as f64 * iteration_weight(config);
                push(
                    terms,
                    format!(
                        "the Sinkhorn solver at its cap of {} iterations{} over {s} × {target_samples} samples (ε = {})",
                        config.max_iters,
                        newton_words(config),
                        short(config.epsilon)
                    ),
                    true,
                    iters * (2.0 * s * m + s * s + m * m),
                    (s + m) * 8.0 * 12.0,
                    vec![
                        Knob::count(
                            "method.objective.config.max_iters",
                            config.max_iters,
                            1.0,
                            0.0,
                        ),
                        Knob::count("method.objective.samples", *samples, 2.0, 1.0),
                        Knob::count("method.objective.target_samples", *target_samples, 2.0, 1.0),
                    ],
                );
            }
            Objective::SlicedEnergy {
                directions,
                samples,
                target_samples,
            } => {
                let s = stratified(*samples, k);
                let m = *target_samples as f64;
                push(
                    terms,
                    format!("sorting {s} + {target_samples} samples along {directions} slices"),
                    true,
                    2.0 * *directions as f64 * (s + m) * log2(s + m),
                    (s + m) * 8.0 * 6.0,
                    vec![
                        Knob::count("method.objective.directions", *directions, 1.0, 0.0),
                        Knob::count("method.objective.samples", *samples, 1.0, 1.0),
                        Knob::count("method.objective.target_samples", *target_samples, 1.0, 1.0),
                    ],
                );
            }
        },
        Method::Flow { .. } => {}
    }
}

/// A closed form over pairs of Gaussian components: p's self-term (its terms held, 8 bytes a pair), the
/// cross and q's self-terms with their gradients (72 bytes a pair).
fn pairs_term(
    terms: &mut Vec<Term>,
    name: &str,
    cp: f64,
    kf: f64,
    twords: &str,
    tk: &dyn Fn(f64, f64) -> Vec<Knob>,
) {
    terms.push(Term {
        what: format!(
            "the closed-form {name} over pairs of components of {twords} ({cp}² pairs) and q"
        ),
        per_step: true,
        ops: (cp * cp + cp * kf + kf * kf) * PAIR_OPS,
        bytes: cp * cp * 8.0 + (cp * kf + kf * kf) * 72.0,
        // q's ≤ 64 components change little next to the target's pairs: only the target's settings are named.
        knobs: tk(2.0, 2.0),
    });
}

fn with_knobs(mut a: Vec<Knob>, b: &[Knob]) -> Vec<Knob> {
    a.extend_from_slice(b);
    a
}

fn flow_terms(
    terms: &mut Vec<Term>,
    flow: &FlowConfig,
    count: usize,
    spec: &TargetSpec,
    cp: f64,
    twords: &str,
    tknobs: &[Knob],
) {
    let n = count as f64;
    let nk = |ops: f64, bytes: f64| Knob::count("model.count", count, ops, bytes);
    // The target points a sample-based flow moves toward: `target_samples` draws of a density, or a
    // samples target's own points.
    let (m, mknob) = match (spec, flow.target_samples()) {
        (TargetSpec::Samples(s), _) => (
            s.points.len(),
            Knob::count(
                "target.points (the number of points)",
                s.points.len(),
                1.0,
                1.0,
            ),
        ),
        (_, Some(ts)) => (ts, Knob::count("method.flow.target_samples", ts, 1.0, 1.0)),
        (_, None) => (0, Knob::count("method.flow.target_samples", 0, 0.0, 0.0)),
    };
    let mf = m as f64;
    let mk = |ops: f64, bytes: f64| Knob {
        ops_power: ops,
        bytes_power: bytes,
        ..mknob.clone()
    };
    if flow.target_samples().is_some() {
        terms.push(Term {
            what: format!("{m} target points"),
            per_step: false,
            ops: mf * 4.0,
            bytes: mf * 16.0 * 4.0,
            knobs: vec![mk(1.0, 1.0)],
        });
    }
    let mut push = |what: String, per_step: bool, ops: f64, bytes: f64, knobs: Vec<Knob>| {
        terms.push(Term {
            what,
            per_step,
            ops,
            bytes,
            knobs,
        })
    };
    // Scaled target knobs for the terms that evaluate the density.
    let tk = |ops: f64| -> Vec<Knob> {
        tknobs
            .iter()
            .map(|t| Knob {
                ops_power: t.ops_power * ops,
                bytes_power: 0.0,
                ..t.clone()
            })
            .collect()
    };
    match flow {
        FlowConfig::Mmd {
            noise_level,
            adaptive_step,
            ..
        } => {
            // The witness's gradient at the particles (cross and self sums), again at the noisy points with
            // noise injection, and twice with the adaptive step's trial.
            let passes = 2.0
                * if *noise_level > 0.0 { 2.0 } else { 1.0 }
                * if *adaptive_step { 2.0 } else { 1.0 };
            push(
                format!("the MMD flow's kernel sums, N·(N + M) with N = {count}, M = {m}"),
                true,
                passes * n * (n + mf),
                (n + mf) * 16.0 * 2.0,
                vec![nk(2.0, 1.0), mk(1.0, 1.0)],
            );
            push(
                format!("the MMD flow's target self-term, M² with M = {m}"),
                false,
                mf * mf,
                0.0,
                vec![mk(2.0, 0.0)],
            );
        }
        FlowConfig::SlicedRiesz { slices, .. } => push(
            format!("sorting N + M = {count} + {m} points along {slices} slices"),
            true,
            2.0 * *slices as f64 * (n + mf) * log2(n + mf),
            // Each worker thread sorts its own keys and indices: four copies of (N + M) × 24 bytes.
            (n + mf) * 24.0 * 4.0,
            vec![
                Knob::count("method.flow.slices", *slices, 1.0, 0.0),
                nk(1.0, 1.0),
                mk(1.0, 1.0),
            ],
        ),
        FlowConfig::Sinkhorn {
            sinkhorn, debiased, ..
        } => {
            let iters = sinkhorn.max_iters as f64 * iteration_weight(sinkhorn);
            let newton = newton_words(sinkhorn);
            let ik = |o| Knob::count("method.flow.sinkhorn.max_iters", sinkhorn.max_iters, o, 0.0);
            if *debiased {
                push(
                    format!(
                        "the Sinkhorn solver at its cap of {} iterations{newton}, N·M + N² with N = {count}, M = {m} (ε = {})",
                        sinkhorn.max_iters,
                        short(sinkhorn.epsilon)
                    ),
                    true,
                    iters * (2.0 * n * mf + n * n) + 2.0 * n * mf + n * n,
                    (n + mf) * 8.0 * 12.0,
                    vec![ik(1.0), nk(2.0, 1.0), mk(1.0, 1.0)],
                );
                push(
                    format!("the Sinkhorn solver's target self-problem, M² with M = {m}"),
                    false,
                    iters * mf * mf,
                    0.0,
                    vec![ik(1.0), mk(2.0, 0.0)],
                );
            } else {
                // OT_ε(α, β) alone: no self-problems, one N·M problem a step.
                push(
                    format!(
                        "the Sinkhorn solver at its cap of {} iterations{newton}, N·M with N = {count}, M = {m} (ε = {}, OT_ε alone)",
                        sinkhorn.max_iters,
                        short(sinkhorn.epsilon)
                    ),
                    true,
                    iters * 2.0 * n * mf + 2.0 * n * mf,
                    (n + mf) * 8.0 * 12.0,
                    vec![ik(1.0), nk(1.0, 1.0), mk(1.0, 1.0)],
                );
            }
        }
        FlowConfig::Svgd { .. } | FlowConfig::MirroredSvgd { .. } => push(
            format!("SVGD's kernel sums over {count}² pairs and the score of {twords}"),
            true,
            3.0 * n * n + n * cp * COMPONENT_OPS + 512.0 * 512.0,
            n * 16.0 * 4.0,
            with_knobs(vec![nk(2.0, 1.0)], &tk(1.0)),
        ),
        FlowConfig::Langevin { .. } | FlowConfig::UnderdampedLangevin { .. } => {
            // The score at every particle; the KDE estimate of KL over at most 256 of them.
            let kde = n.min(256.0);
            push(
                format!("the score of {twords} at {count} particles"),
                true,
                (n + kde) * cp * COMPONENT_OPS + kde * n,
                n * 16.0 * 2.0,
                with_knobs(vec![nk(1.0, 1.0)], &tk(1.0)),
            );
        }
    }
}

/// Work of one iteration at the cap relative to a plain Sinkhorn iteration: 2 with Newton acceleration (a
/// Newton iteration evaluates the plan at least twice, at the iterate and at the accepted trial step, and
/// selects each row's largest entries; its conjugate-gradient solve on the sparse rows is smaller).
fn iteration_weight(cfg: &crate::core::sinkhorn::SinkhornConfig) -> f64 {
    if cfg.newton.is_some() { 2.0 } else { 1.0 }
}

/// ", each a Newton step's work (twice a Sinkhorn iteration's)" with Newton acceleration, "" without.
fn newton_words(cfg: &crate::core::sinkhorn::SinkhornConfig) -> &'static str {
    if cfg.newton.is_some() {
        ", each a Newton step's work (twice a Sinkhorn iteration's)"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_safe_and_readable() {
        assert_eq!(round_safe(0.003456, false), 0.0035);
        assert_eq!(round_safe(347.0, true), 340.0);
        assert_eq!(human_bytes(2.8e9), "2.8 GB");
        assert_eq!(human_bytes(640e6), "640 MB");
        assert_eq!(human_seconds(7.7), "7.7 s");
        assert_eq!(human_seconds(0.02), "0.02 s");
        assert_eq!(human_seconds(600.0), "10 min");
    }
}
