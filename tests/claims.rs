//! The claim presets (`assets/presets/`): every one parses, opens as a link in the app's reader and cites
//! papers of the project's list by exact title; and each claim is run headless through `run::Run` (CPU
//! core, the panels its link opens, to the link's `until`) and asserted with numbers from the theory:
//! moments computed here from the target's parameters, optima of the divergence computed here by
//! quadrature, counts of covered modes. Every test prints what it measured (`--nocapture`).

use divlab::app::{LinkedPanels, open_link_headless};
use divlab::assets::{BUNDLED_PRESETS, PresetEntry, claim_presets};
use divlab::core::gaussian::Mat2;
use divlab::core::math::Vec2;
use divlab::core::mixture::Mixture;
use divlab::core::sim::ModelView;
use divlab::gpu::backend::BackendChoice;
use divlab::learn::PAPERS;
use divlab::run::{Run, load};

fn preset(id: &str) -> PresetEntry {
    let i = BUNDLED_PRESETS
        .iter()
        .position(|(name, _)| *name == id)
        .unwrap_or_else(|| panic!("no bundled preset {id}"));
    claim_presets()
        .swap_remove(i)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The panels of a preset's link, each run on the CPU core to the link's `until`, with `each` called after
/// every step (step index from 1, the runs).
fn run_preset(id: &str, mut each: impl FnMut(usize, &[Run])) -> (LinkedPanels, Vec<Run>) {
    let started = std::time::Instant::now();
    let p = preset(id);
    let linked = open_link_headless(&p.link).unwrap_or_else(|e| panic!("{id}: {e}"));
    let mut runs: Vec<Run> = linked
        .panels
        .iter()
        .map(|s| {
            let loaded = load::from_scenario(s.clone(), id).unwrap_or_else(|e| panic!("{e}"));
            Run::new(
                &loaded,
                BackendChoice::Cpu,
                Err("the claim tests run on the CPU core"),
            )
            .unwrap_or_else(|e| panic!("{id}: {e}"))
        })
        .collect();
    for k in 1..=linked.until {
        for (i, run) in runs.iter_mut().enumerate() {
            if let Err(stop) = run.step() {
                panic!("{id}: panel {i} stopped at step {k}: {stop:?}");
            }
        }
        each(k, &runs);
    }
    eprintln!(
        "{id}: {} panels × {} steps in {:.2} s",
        runs.len(),
        linked.until,
        started.elapsed().as_secs_f64()
    );
    (linked, runs)
}

fn mixture(run: &Run) -> &Mixture {
    match run.model() {
        ModelView::Mixture(q) => q,
        ModelView::Particles(_) => panic!("a mixture model was expected"),
    }
}

/// Mean and covariance of a Gaussian mixture from its parameters: μ = Σ wₖ μₖ, Σ = Σ wₖ (Σₖ + μₖμₖᵀ) − μμᵀ.
fn moments(weights: &[f64], means: &[Vec2], covs: &[Mat2]) -> (Vec2, Mat2) {
    let mut m = [0.0; 2];
    for (w, mu) in weights.iter().zip(means) {
        m[0] += w * mu[0];
        m[1] += w * mu[1];
    }
    let mut s = [[0.0; 2]; 2];
    for ((w, mu), c) in weights.iter().zip(means).zip(covs) {
        for i in 0..2 {
            for j in 0..2 {
                s[i][j] += w * (c[i][j] + mu[i] * mu[j]);
            }
        }
    }
    for i in 0..2 {
        for j in 0..2 {
            s[i][j] -= m[i] * m[j];
        }
    }
    (m, s)
}

fn target_mixture(run: &Run) -> &Mixture {
    run.target()
        .density()
        .and_then(|d| d.as_mixture())
        .unwrap_or_else(|| panic!("the target is a Gaussian mixture"))
}

fn dist(a: Vec2, b: Vec2) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

fn frobenius(a: &Mat2) -> f64 {
    a.iter().flatten().map(|v| v * v).sum::<f64>().sqrt()
}

fn diff(a: &Mat2, b: &Mat2) -> Mat2 {
    [
        [a[0][0] - b[0][0], a[0][1] - b[0][1]],
        [a[1][0] - b[1][0], a[1][1] - b[1][1]],
    ]
}

/// The midpoints and cell area of an n × n grid over the target's box grown by `margin`.
fn grid(run: &Run, n: usize, margin: f64) -> (Vec<Vec2>, f64) {
    let b = run.target().bbox().expanded(margin);
    let (dx, dy) = (b.width() / n as f64, b.height() / n as f64);
    let pts = (0..n * n)
        .map(|k| {
            [
                b.x_min + (k % n) as f64 * dx + 0.5 * dx,
                b.y_min + (k / n) as f64 * dy + 0.5 * dy,
            ]
        })
        .collect();
    (pts, dx * dy)
}

/// KL(p‖q) = ∫ p ln(p/q) by the midpoint rule on `pts` (p's mass beyond the box is below 1e-6 for the
/// targets used here).
fn forward_kl(p: &Mixture, q: &Mixture, pts: &[Vec2], area: f64) -> f64 {
    pts.iter()
        .map(|&x| {
            let lp = p.log_density(x);
            lp.exp() * (lp - q.log_density(x))
        })
        .sum::<f64>()
        * area
}

#[test]
fn every_preset_parses_opens_and_cites_listed_papers() {
    assert!(!BUNDLED_PRESETS.is_empty());
    // The list of titles above is the project's list, where it is at hand.
    if let Ok(list) = std::fs::read_to_string("../shared/papers.md") {
        for title in PAPERS {
            assert!(list.contains(title), "`{title}` is not in papers.md");
        }
    }
    for entry in claim_presets() {
        let p = entry.unwrap_or_else(|e| panic!("{e}"));
        for title in &p.papers {
            assert!(
                PAPERS.contains(&title.as_str()),
                "{}: `{title}` is not a title of papers.md",
                p.id
            );
        }
        let linked = open_link_headless(&p.link).unwrap_or_else(|e| panic!("{}: {e}", p.id));
        assert!(
            [1, 2, 4].contains(&linked.panels.len()),
            "{}: {} panels",
            p.id,
            linked.panels.len()
        );
        assert_eq!(linked.step, 0, "{}: a preset opens at step 0", p.id);
        for s in &linked.panels {
            load::from_scenario(s.clone(), p.id).unwrap_or_else(|e| panic!("{}: {e}", p.id));
        }
    }
}

/// Preset 1: forward KL moment-matches the two modes (2%); reverse KL sits on one mode (0.05, 5%).
#[test]
fn forward_kl_matches_moments_and_reverse_kl_picks_a_mode() {
    let (_, runs) = run_preset("forward_vs_reverse_kl", |_, _| {});
    let p = target_mixture(&runs[0]);
    let (m_star, s_star) = moments(&p.weights(), &p.means(), &p.covariances());

    let fwd = mixture(&runs[1]);
    let (m, s) = (fwd.mean(), fwd.covariance());
    let scale = s_star[0][0].max(s_star[1][1]).sqrt();
    eprintln!("forward KL: mean {m:?} (mixture {m_star:?}), cov {s:?} (mixture {s_star:?})");
    assert!(
        dist(m, m_star) <= 0.02 * scale,
        "forward KL mean {m:?} vs the mixture's {m_star:?}: off by {:.4} > 2% of {scale:.3}",
        dist(m, m_star)
    );
    for i in 0..2 {
        for j in 0..2 {
            let tol = 0.02 * (s_star[i][i] * s_star[j][j]).sqrt();
            assert!(
                (s[i][j] - s_star[i][j]).abs() <= tol,
                "forward KL covariance [{i}][{j}] = {:.4} vs the mixture's {:.4} (2%: ±{tol:.4})",
                s[i][j],
                s_star[i][j]
            );
        }
    }

    let rev = mixture(&runs[0]);
    let (m, s) = (rev.mean(), rev.covariance());
    let modes = p.means();
    let k = (0..modes.len())
        .min_by(|&a, &b| dist(m, modes[a]).total_cmp(&dist(m, modes[b])))
        .unwrap_or(0);
    let c = p.covariances()[k];
    let rel = frobenius(&diff(&s, &c)) / frobenius(&c);
    eprintln!(
        "reverse KL: mean {m:?} (mode {:?}, off by {:.4}), cov {s:?} (mode {c:?}, off by {:.2}%)",
        modes[k],
        dist(m, modes[k]),
        100.0 * rel
    );
    assert!(
        dist(m, modes[k]) <= 0.05,
        "reverse KL mean {m:?} is {:.4} from the nearest mode {:?} (> 0.05)",
        dist(m, modes[k]),
        modes[k]
    );
    assert!(
        rel <= 0.05,
        "reverse KL covariance {s:?} vs the mode's {c:?}: {:.2}% > 5%",
        100.0 * rel
    );
}

/// Amari's f for this α.
fn amari(alpha: f64) -> impl Fn(f64) -> f64 {
    move |t: f64| (t.powf(alpha) - alpha * t - (1.0 - alpha)) / (alpha * (alpha - 1.0))
}

/// Jensen–Shannon's f.
fn jensen_shannon(t: f64) -> f64 {
    0.5 * (t * t.ln() - (1.0 + t) * ((1.0 + t) / 2.0).ln())
}

/// ∫ q f(p/q) on the x-axis for q = N(m, s²), p the modes' x-marginal (midpoint rule on [−8, 8], where
/// q > 0 for the s ≥ 0.3 searched here).
fn objective_1d(
    f: impl Fn(f64) -> f64,
    p_means: &[f64],
    p_std: f64,
    weights: &[f64],
    m: f64,
    s: f64,
) -> f64 {
    let npdf = |x: f64, mu: f64, sd: f64| {
        (-0.5 * ((x - mu) / sd).powi(2)).exp() / (sd * (2.0 * std::f64::consts::PI).sqrt())
    };
    let (lo, hi, n) = (-8.0, 8.0, 4000);
    let h = (hi - lo) / n as f64;
    (0..n)
        .map(|i| {
            let x = lo + (i as f64 + 0.5) * h;
            let p: f64 = weights
                .iter()
                .zip(p_means)
                .map(|(w, mu)| w * npdf(x, *mu, p_std))
                .sum();
            let q = npdf(x, m, s);
            if q <= 0.0 {
                return if p > 0.0 { f64::INFINITY } else { 0.0 };
            }
            q * f(p / q)
        })
        .sum::<f64>()
        * h
}

/// The standard deviation s > 0 minimizing `f(s)` (golden section on [lo, hi]; f unimodal there).
fn golden(lo: f64, hi: f64, f: impl Fn(f64) -> f64) -> f64 {
    let g = 0.5 * (5f64.sqrt() - 1.0);
    let (mut a, mut b) = (lo, hi);
    for _ in 0..80 {
        let (c, d) = (b - g * (b - a), a + g * (b - a));
        if f(c) < f(d) {
            b = d;
        } else {
            a = c;
        }
    }
    0.5 * (a + b)
}

/// Preset 3: the spread along the modes' axis grows with α; α = ½ and squared Hellinger share the optimum.
#[test]
fn alpha_sweep_widens_with_alpha_and_half_is_hellinger() {
    let (_, runs) = run_preset("alpha_sweep", |_, _| {});
    let p = target_mixture(&runs[0]);
    let fits: Vec<(Vec2, Mat2)> = runs
        .iter()
        .map(|r| (mixture(r).mean(), mixture(r).covariance()))
        .collect();
    for (name, (m, s)) in ["α = −1", "α = ½", "α = 2", "squared Hellinger"]
        .iter()
        .zip(&fits)
    {
        eprintln!("{name}: mean {m:?}, cov {s:?}");
    }
    let spread: Vec<f64> = fits.iter().map(|(_, s)| s[0][0]).collect();

    // α = −1 (½ Neyman χ², mode-seeking) on a mode: that mode's Gaussian.
    let modes = p.means();
    let c = p.covariances()[0];
    let near = modes
        .iter()
        .map(|mu| dist(fits[0].0, *mu))
        .fold(f64::INFINITY, f64::min);
    eprintln!(
        "α = −1: {near:.4} from a mode, spread {:.4} vs the mode's {:.4}",
        spread[0], c[0][0]
    );
    assert!(near <= 0.05, "α = −1 is {near:.4} from the nearest mode");
    assert!(
        (spread[0] - c[0][0]).abs() <= 0.05 * c[0][0],
        "α = −1 spread {:.4} vs the mode's {:.4}",
        spread[0],
        c[0][0]
    );

    // α = 2 (½ Pearson χ², covering): the symmetric Gaussian minimizing the x-marginal's objective (the
    // target factorizes, and along y the optimum is the modes' own spread).
    let xs: Vec<f64> = modes.iter().map(|mu| mu[0]).collect();
    let w = p.weights();
    let sd = c[0][0].sqrt();
    let s2 = golden(0.3, 6.0, |s| objective_1d(amari(2.0), &xs, sd, &w, 0.0, s)).powi(2);
    let (_, s_mix) = moments(&w, &modes, &p.covariances());
    eprintln!(
        "α = 2: spread {:.4} vs the optimum {s2:.4} (moment matching: {:.4})",
        spread[2], s_mix[0][0]
    );
    assert!(
        (spread[2] - s2).abs() <= 0.05 * s2,
        "α = 2 spread {:.4} vs the quadrature optimum {s2:.4} (5%)",
        spread[2]
    );
    assert!(
        s2 > s_mix[0][0],
        "the χ² optimum is wider than moment matching"
    );

    // Monotone in α.
    assert!(
        spread[0] <= spread[1] * 1.01 && spread[1] < spread[2],
        "spreads along x are not increasing with α: {spread:?}"
    );

    // α = ½ is 4 H²: the same optimum (Adam sees a gradient 4× larger, which its scaling removes).
    let (mb, sb) = fits[1];
    let (md, sdh) = fits[3];
    let rel = frobenius(&diff(&sb, &sdh)) / frobenius(&sdh);
    eprintln!(
        "α = ½ vs squared Hellinger: means {:.2e} apart, covariances {:.3}%",
        dist(mb, md),
        100.0 * rel
    );
    assert!(
        dist(mb, md) <= 0.01,
        "α = ½ and H² means differ by {}",
        dist(mb, md)
    );
    assert!(
        rel <= 0.01,
        "α = ½ and H² covariances differ by {:.3}%",
        100.0 * rel
    );
}

/// Preset 2: Jensen–Shannon from a wide centred start ends at the symmetric optimum (computed here by
/// quadrature, 2%), from near a mode at the mode's local optimum (0.05 and 5%), and the first is lower.
#[test]
fn jensen_shannon_optimum_depends_on_the_start() {
    let (_, runs) = run_preset("js_two_starts", |_, _| {});
    let p = target_mixture(&runs[0]);
    let modes = p.means();
    let xs: Vec<f64> = modes.iter().map(|mu| mu[0]).collect();
    let w = p.weights();
    let c = p.covariances()[0];
    let sd = c[0][0].sqrt();
    let js = |m: f64, s: f64| objective_1d(jensen_shannon, &xs, sd, &w, m, s);

    let wide = mixture(&runs[0]);
    let (m, s) = (wide.mean(), wide.covariance());
    let s_sym = golden(0.3, 6.0, |s| js(0.0, s));
    eprintln!(
        "centred start: mean {m:?}, cov {s:?}; symmetric optimum var {:.4}",
        s_sym * s_sym
    );
    assert!(dist(m, [0.0, 0.0]) <= 0.05, "centred start ends at {m:?}");
    assert!(
        (s[0][0] - s_sym * s_sym).abs() <= 0.02 * s_sym * s_sym,
        "centred start spread {:.4} vs the symmetric optimum {:.4} (2%)",
        s[0][0],
        s_sym * s_sym
    );
    assert!(
        (s[1][1] - c[1][1]).abs() <= 0.02 * c[1][1],
        "across: {:.4}",
        s[1][1]
    );

    let on_mode = mixture(&runs[1]);
    let (m, s) = (on_mode.mean(), on_mode.covariance());
    let k = (0..modes.len())
        .min_by(|&a, &b| dist(m, modes[a]).total_cmp(&dist(m, modes[b])))
        .unwrap_or(0);
    let s_mode = golden(0.3, 1.5, |s| js(xs[k], s));
    eprintln!(
        "start near a mode: mean {m:?} ({:.4} from {:?}), cov {s:?}; local optimum var {:.4}",
        dist(m, modes[k]),
        modes[k],
        s_mode * s_mode
    );
    assert!(dist(m, modes[k]) <= 0.05, "near-mode start ends at {m:?}");
    assert!(
        (s[0][0] - s_mode * s_mode).abs() <= 0.05 * s_mode * s_mode,
        "near-mode spread {:.4} vs the local optimum {:.4} (5%)",
        s[0][0],
        s_mode * s_mode
    );
    let (v_sym, v_mode) = (js(0.0, s_sym), js(xs[k], s_mode));
    eprintln!("JS (x-marginal): symmetric optimum {v_sym:.5} < on a mode {v_mode:.5}");
    assert!(v_sym < v_mode, "the symmetric optimum is the global one");
}

/// The modes of `p` that `q` covers: a mode is covered when q puts at least half of p's mass in its cell
/// (the points nearer to it than to any other mode), by quadrature.
fn covered_modes(p: &Mixture, q: &Mixture, pts: &[Vec2], area: f64) -> Vec<usize> {
    let modes = p.means();
    let mut p_mass = vec![0.0; modes.len()];
    let mut q_mass = vec![0.0; modes.len()];
    for &x in pts {
        let k = (0..modes.len())
            .min_by(|&a, &b| dist(x, modes[a]).total_cmp(&dist(x, modes[b])))
            .unwrap_or(0);
        p_mass[k] += p.log_density(x).exp() * area;
        q_mass[k] += q.log_density(x).exp() * area;
    }
    (0..modes.len())
        .filter(|&k| q_mass[k] >= 0.5 * p_mass[k])
        .collect()
}

/// Preset 14: as many components as modes; forward KL covers all 8, reverse KL drops some.
#[test]
fn ring8_reverse_kl_drops_modes_forward_kl_covers_all() {
    let (_, runs) = run_preset("ring8_mode_coverage", |_, _| {});
    let p = target_mixture(&runs[0]);
    let (pts, area) = grid(&runs[0], 200, 1.0);
    let rev = covered_modes(p, mixture(&runs[0]), &pts, area);
    let fwd = covered_modes(p, mixture(&runs[1]), &pts, area);
    eprintln!(
        "ring of {}: reverse KL covers {} modes {rev:?}, forward KL {} {fwd:?}",
        p.n_components(),
        rev.len(),
        fwd.len()
    );
    assert_eq!(fwd.len(), p.n_components(), "forward KL covers {fwd:?}");
    assert!(
        rev.len() < p.n_components(),
        "reverse KL covers all: {rev:?}"
    );
}

/// Preset 12: EM and Adam on forward KL reach the same fit (KL(p‖q) below 0.01 for both, and the two fits
/// within 0.01 of each other), EM in at least 5× fewer steps.
#[test]
fn em_and_gradient_descent_reach_the_same_fit_em_much_sooner() {
    const KL_REACHED: f64 = 0.01;
    let mut first: [Option<usize>; 2] = [None, None];
    let mut pts_area: Option<(Vec<Vec2>, f64)> = None;
    let (_, runs) = run_preset("em_vs_gradient", |k, runs| {
        let (pts, area) = pts_area.get_or_insert_with(|| grid(&runs[0], 120, 1.0));
        let p = target_mixture(&runs[0]);
        for (i, run) in runs.iter().enumerate() {
            if first[i].is_none() && forward_kl(p, mixture(run), pts, *area) <= KL_REACHED {
                first[i] = Some(k);
            }
        }
    });
    let (pts, area) = grid(&runs[0], 240, 1.0);
    let p = target_mixture(&runs[0]);
    let (em, gd) = (mixture(&runs[0]), mixture(&runs[1]));
    let (kl_em, kl_gd, kl_between) = (
        forward_kl(p, em, &pts, area),
        forward_kl(p, gd, &pts, area),
        forward_kl(em, gd, &pts, area),
    );
    eprintln!(
        "EM: KL(p‖q) = {kl_em:.5}, reached {KL_REACHED} at step {:?}; gradient: KL = {kl_gd:.5}, at step {:?}; \
         KL(q_EM‖q_GD) = {kl_between:.5}",
        first[0], first[1]
    );
    assert!(
        kl_em <= KL_REACHED && kl_gd <= KL_REACHED,
        "EM {kl_em}, gradient {kl_gd}"
    );
    assert!(
        kl_between <= KL_REACHED,
        "the fits differ: KL = {kl_between}"
    );
    let (Some(n_em), Some(n_gd)) = (first[0], first[1]) else {
        panic!("a fit never reached KL {KL_REACHED}: {first:?}");
    };
    assert!(
        n_gd >= 5 * n_em,
        "EM took {n_em} steps, gradient descent {n_gd}: not 5× fewer"
    );
}

/// Not a claim: prints each panel's moments (mixtures) or spread (particles) along any link, for writing a
/// preset: `DIVLAB_EXPLORE='v=1&…' cargo test --test claims explore -- --ignored --nocapture`.
#[test]
#[ignore = "a tool for writing presets; needs DIVLAB_EXPLORE"]
fn explore() {
    let Ok(link) = std::env::var("DIVLAB_EXPLORE") else {
        return;
    };
    let linked = open_link_headless(&link).unwrap_or_else(|e| panic!("{e}"));
    let mut runs: Vec<Run> = linked
        .panels
        .iter()
        .map(|s| {
            let loaded =
                load::from_scenario(s.clone(), "explore").unwrap_or_else(|e| panic!("{e}"));
            Run::new(&loaded, BackendChoice::Cpu, Err("CPU")).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    let every = (linked.until / 10).max(1);
    for k in 1..=linked.until {
        for run in runs.iter_mut() {
            if let Err(stop) = run.step() {
                panic!("stopped at {k}: {stop:?}");
            }
        }
        if k % every == 0 {
            for (i, run) in runs.iter().enumerate() {
                let objective = run.history().records().last().map(|r| r.info.objective);
                match run.model() {
                    ModelView::Mixture(q) => eprintln!(
                        "{k} {i}: objective {objective:?} mean {:?} cov {:?}",
                        q.mean(),
                        q.covariance()
                    ),
                    ModelView::Particles(x) => {
                        let w = vec![1.0 / x.len() as f64; x.len()];
                        let m: Vec<Vec2> = x.to_vec();
                        let (mean, cov) = moments(&w, &m, &vec![[[0.0; 2]; 2]; x.len()]);
                        eprintln!("{k} {i}: objective {objective:?} mean {mean:?} cov {cov:?}");
                    }
                }
            }
        }
    }
}

// ---- Issue 13, the optimal-transport and flow presets (5, 6, 8). ----

/// The panels of a preset's link, each changed by `edit` (smaller counts for a test in debug), built on the
/// CPU core at step 0.
fn open_preset_runs(
    id: &str,
    edit: impl Fn(&mut divlab::core::scenario::Scenario),
) -> (LinkedPanels, Vec<Run>) {
    let p = preset(id);
    let mut linked = open_link_headless(&p.link).unwrap_or_else(|e| panic!("{id}: {e}"));
    for s in &mut linked.panels {
        edit(s);
    }
    let runs = linked
        .panels
        .iter()
        .map(|s| {
            let loaded = load::from_scenario(s.clone(), id).unwrap_or_else(|e| panic!("{e}"));
            Run::new(
                &loaded,
                BackendChoice::Cpu,
                Err("the claim tests run on the CPU core"),
            )
            .unwrap_or_else(|e| panic!("{id}: {e}"))
        })
        .collect();
    (linked, runs)
}

/// Steps every panel to `until`.
fn step_all(id: &str, runs: &mut [Run], until: usize) {
    let started = std::time::Instant::now();
    for k in 1..=until {
        for (i, run) in runs.iter_mut().enumerate() {
            if let Err(stop) = run.step() {
                panic!("{id}: panel {i} stopped at step {k}: {stop:?}");
            }
        }
    }
    eprintln!(
        "{id}: {} panels × {until} steps in {:.2} s",
        runs.len(),
        started.elapsed().as_secs_f64()
    );
}

fn particles(run: &Run) -> &[Vec2] {
    match run.model() {
        ModelView::Particles(x) => x,
        ModelView::Mixture(_) => panic!("a particle model was expected"),
    }
}

/// The mean of the two per-axis variances of a point cloud.
fn per_axis_variance(x: &[Vec2]) -> f64 {
    let n = x.len() as f64;
    let m = [
        x.iter().map(|p| p[0]).sum::<f64>() / n,
        x.iter().map(|p| p[1]).sum::<f64>() / n,
    ];
    x.iter()
        .map(|p| (p[0] - m[0]).powi(2) + (p[1] - m[1]).powi(2))
        .sum::<f64>()
        / (2.0 * n)
}

/// The energy distance 2 E|X − Y| − E|X − X'| − E|Y − Y'| of two uniform clouds (= the Riesz r = 1 MMD²),
/// every pair summed.
fn energy_distance(x: &[Vec2], y: &[Vec2]) -> f64 {
    let mean_dist = |a: &[Vec2], b: &[Vec2]| {
        a.iter()
            .map(|p| b.iter().map(|q| dist(*p, *q)).sum::<f64>())
            .sum::<f64>()
            / (a.len() * b.len()) as f64
    };
    2.0 * mean_dist(x, y) - mean_dist(x, x) - mean_dist(y, y)
}

/// Preset 5: p and q = two Gaussians of std 0.3 whose means are 3 apart. Jensen–Shannon starts within 1e-3
/// of its ceiling ln 2 (the value checked against quadrature) with a gradient under 1e-3 — at least 1000×
/// smaller than the Sinkhorn divergence's, which is ≈ 2|Δm| = 6 in the means — so plain SGD on it moves
/// q's mean by under 1% of the gap, while on S_ε the gap shrinks at least 20× (the mean's error contracts
/// by 1 − 2η = 0.8 a step for W₂², 0.8³⁰ ≈ 1e-3, above it the samples' noise).
#[test]
fn jensen_shannon_saturates_where_sinkhorn_moves_q_onto_p() {
    use divlab::core::scenario::Method;
    let id = "js_vs_sinkhorn_disjoint";
    let (linked, mut runs) = open_preset_runs(id, |_| {});
    let p = target_mixture(&runs[0]).clone();
    let m_p = p.means()[0];
    let sd_p = p.covariances()[0][0][0].sqrt();
    let q0 = mixture(&runs[0]).clone();
    let m0 = q0.mean();
    let sd_q = q0.covariance()[0][0].sqrt();
    let gap0 = dist(m0, m_p);

    // The gradients at the start, by each panel's own objective.
    let grad_norm = |run: &Run| {
        let Method::Gradient { objective, .. } = &run.scenario().method else {
            panic!("{id}: a gradient fit was expected");
        };
        let mut rng = divlab::core::rng::substream(1, 0);
        let e = objective
            .evaluate(run.target(), mixture(run), &mut rng)
            .unwrap_or_else(|e| panic!("{e}"));
        (e.value, e.grad.iter().map(|g| g * g).sum::<f64>().sqrt())
    };
    let (js0, g_js) = grad_norm(&runs[0]);
    let (sk0, g_sk) = grad_norm(&runs[1]);
    // p and q share the y-marginal, so JS(p‖q) is the x-marginals' (quadrature on [−8, 8]).
    let js_quad = objective_1d(jensen_shannon, &[m_p[0]], sd_p, &[1.0], m0[0], sd_q);
    let ln2 = std::f64::consts::LN_2;
    eprintln!(
        "start: JS = {js0:.8} (quadrature {js_quad:.8}, ln 2 − JS = {:.2e}), |∇JS| = {g_js:.2e}; \
         S_ε = {sk0:.4}, |∇S_ε| = {g_sk:.3}",
        ln2 - js_quad
    );
    assert!(
        (js0 - js_quad).abs() <= 1e-4,
        "the panel's JS {js0} vs quadrature {js_quad}"
    );
    assert!(
        (0.0..=1e-3).contains(&(ln2 - js_quad)),
        "JS = {js_quad} is not within 1e-3 below ln 2"
    );
    assert!(g_js <= 1e-3, "JS gradient {g_js:.3e} is not vanishing");
    assert!(
        g_sk >= 1e3 * g_js && g_sk >= 1.0,
        "Sinkhorn gradient {g_sk:.3e} vs JS's {g_js:.3e}"
    );

    step_all(id, &mut runs, linked.until);
    let (m_js, m_sk) = (mixture(&runs[0]).mean(), mixture(&runs[1]).mean());
    let (moved_js, gap_sk) = (dist(m_js, m0), dist(m_sk, m_p));
    eprintln!(
        "after {} steps: JS moved q's mean by {moved_js:.2e} (gap {gap0:.3}); Sinkhorn left a gap of \
         {gap_sk:.4} ({:.0}× smaller)",
        linked.until,
        gap0 / gap_sk
    );
    assert!(
        moved_js <= 0.01 * gap0,
        "JS moved the mean by {moved_js} (> 1% of {gap0})"
    );
    assert!(
        gap_sk <= gap0 / 20.0,
        "Sinkhorn left a gap of {gap_sk} (not 20× below {gap0})"
    );
}

/// Preset 6: the Sinkhorn flow onto N(0, s² I) with ε. Debiased (S_ε, whose minimizer is the target
/// itself) the cloud's per-axis variance ends within 5% of the target points'; following OT_ε alone it
/// ends near s² − ε/2, the variance whose Gaussian minimizes OT_ε(·, N(0, s²)) for the cost |x − y|²
/// (per axis: with covariance C between the two, E(X − Y)² + ε I(X; Y) is stationary in the variance A
/// where C = A, and 2C² + εC = 2As² there, so A = s² − ε/2). Asserted: within a quarter of the
/// predicted shrink ε/2 of it, and below the debiased one by at least half of it.
#[test]
fn sinkhorn_flow_without_debiasing_ends_shrunk_by_the_entropic_bias() {
    use divlab::core::flows::FlowConfig;
    use divlab::core::scenario::Method;
    let id = "sinkhorn_debiasing";
    let (linked, mut runs) = open_preset_runs(id, |_| {});
    let eps = match &runs[0].scenario().method {
        Method::Flow {
            flow: FlowConfig::Sinkhorn { sinkhorn, .. },
        } => sinkhorn.epsilon,
        _ => panic!("{id}: a Sinkhorn flow was expected"),
    };
    step_all(id, &mut runs, linked.until);
    let v_t = per_axis_variance(runs[0].target_points());
    let v_biased = per_axis_variance(particles(&runs[0]));
    let v_debiased = per_axis_variance(particles(&runs[1]));
    let predicted = v_t - 0.5 * eps;
    eprintln!(
        "ε = {eps}: target points' variance {v_t:.4}; debiased {v_debiased:.4} ({:+.2}%); not debiased \
         {v_biased:.4} (predicted s² − ε/2 = {predicted:.4})",
        100.0 * (v_debiased / v_t - 1.0)
    );
    assert!(
        (v_debiased - v_t).abs() <= 0.05 * v_t,
        "debiased variance {v_debiased:.4} vs the target's {v_t:.4} (5%)"
    );
    assert!(
        (v_biased - predicted).abs() <= 0.25 * 0.5 * eps,
        "non-debiased variance {v_biased:.4} vs the predicted {predicted:.4} (± ε/8)"
    );
    assert!(
        v_biased <= v_debiased - 0.25 * eps,
        "non-debiased {v_biased:.4} is not below the debiased {v_debiased:.4} by ε/4"
    );
}

/// Preset 8, at 500 particles and 500 target points instead of the preset's 10 000 (the full flow's step is
/// O(N(N + M)); the sliced gradient is an unbiased estimate of the full one at any size): the full and the
/// sliced Riesz flows end at the same energy distance to the target points (exact, every pair) within 10%,
/// and both at least 10× below where they started. Their speed is a benchmark:
/// `divlab bench preset full_vs_sliced_riesz`.
#[test]
fn full_and_sliced_riesz_flows_reach_the_same_energy_distance() {
    use divlab::core::flows::FlowConfig;
    use divlab::core::scenario::{Method, ModelSpec};
    let id = "full_vs_sliced_riesz";
    let (linked, mut runs) = open_preset_runs(id, |s| {
        if let ModelSpec::Particles { count, .. } = &mut s.model {
            *count = 500;
        }
        if let Method::Flow {
            flow:
                FlowConfig::Mmd { target_samples, .. } | FlowConfig::SlicedRiesz { target_samples, .. },
        } = &mut s.method
        {
            *target_samples = 500;
        }
    });
    let y = runs[0].target_points().to_vec();
    assert_eq!(
        y,
        runs[1].target_points(),
        "both panels share the target points"
    );
    let start = energy_distance(particles(&runs[0]), &y);
    step_all(id, &mut runs, linked.until);
    let full = energy_distance(particles(&runs[0]), &y);
    let sliced = energy_distance(particles(&runs[1]), &y);
    eprintln!(
        "energy distance to the target points: start {start:.3e}, full {full:.3e}, sliced {sliced:.3e} \
         (ratio {:.3})",
        sliced / full
    );
    assert!(
        (full - sliced).abs() <= 0.1 * full.max(sliced),
        "full {full:.4e} vs sliced {sliced:.4e}: not within 10%"
    );
    assert!(
        full.max(sliced) <= start / 10.0,
        "the flows did not reach 10× below the start {start:.3e}"
    );
}

/// Every panel of every preset is within the run layer's cost limits (`run::cost`), so the app opens it
/// (`every_preset_parses_opens_and_cites_listed_papers` loads the panels but builds no run).
#[test]
fn every_preset_panel_is_within_the_cost_limits() {
    for entry in claim_presets() {
        let p = entry.unwrap_or_else(|e| panic!("{e}"));
        let linked = open_link_headless(&p.link).unwrap_or_else(|e| panic!("{}: {e}", p.id));
        for (i, s) in linked.panels.iter().enumerate() {
            let estimate = divlab::run::cost::check(s, None)
                .unwrap_or_else(|e| panic!("{} panel {i}: {e}", p.id));
            eprintln!(
                "{} panel {i}: {:.2} s a step estimated",
                p.id,
                estimate.step_s()
            );
        }
    }
}
