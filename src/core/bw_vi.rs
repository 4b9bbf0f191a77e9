//! Gaussian variational inference by forward–backward JKO in Bures–Wasserstein space ("Forward-backward
//! Gaussian variational inference via JKO in the Bures-Wasserstein Space", Diao, Balasubramanian, Chewi,
//! Salim). A single Gaussian q = N(m, Σ) minimizes KL(q‖p) = E_q[V] − H(q) + const with V = −ln p, by
//! splitting the objective into the potential energy E_q[V] and the negative entropy −H(q):
//!
//! - forward (a Wasserstein gradient step on E_q[V]):
//!   `m ← m − h E_q[∇V]`, `Σ ← M Σ M` with `M = I − h E_q[∇²V]`;
//! - backward (the JKO proximal step of −H, in closed form):
//!   `Σ ← ½ (Σ + 2h I + [Σ (Σ + 4h I)]^½)`, m unchanged.
//!
//! Conventions of this implementation (documented in `docs/methods.md`):
//! - The expectations over q are taken by an `n × n` tensor Gauss–Hermite rule in q's whitened
//!   coordinates (x = m + L z, Σ = L Lᵀ), not by the paper's single-sample stochastic estimate, so the
//!   step is deterministic and exact for targets whose score is a polynomial of degree ≤ 2n − 2 (Gaussians,
//!   the banana).
//! - E_q[∇²V] comes from the score alone by Stein's identity `E_q[∇²V] = E_q[∇V(x) zᵀ] L⁻¹`
//!   (symmetrized), so every target with a closed-form score can be fitted.
//! - The objective reported is KL(q‖p) = −1 − ln 2π − ½ ln det Σ − E_q[ln p] with the same rule (exact
//!   entropy, quadrature cross term).
//!
//! A step whose result is not finite or not positive definite is refused and the state is kept.

use super::error::{CoreError, CoreResult};
use super::gaussian::{Mat2, check_spd, cholesky2, det2};
use super::math::Vec2;

/// Nodes per axis of the default quadrature rule (exact for polynomial scores up to degree 14).
pub const DEFAULT_NODES: usize = 8;

/// Most nodes per axis accepted.
pub const MAX_NODES: usize = 32;

/// A Gauss–Hermite rule for the standard normal: `E[f(Z)] ≈ Σ wᵢ f(zᵢ)`, Z ~ N(0, 1), weights summing to 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Hermite {
    pub nodes: Vec<f64>,
    pub weights: Vec<f64>,
}

impl Hermite {
    /// The `n`-point rule (1 ≤ n ≤ [`MAX_NODES`]), exact for polynomials of degree ≤ 2n − 1. Computed by
    /// Golub–Welsch: the nodes are the eigenvalues of the Jacobi matrix of the probabilists' Hermite
    /// polynomials (off-diagonal √k), the weights the squared first components of its unit eigenvectors;
    /// each node is then polished by Newton steps on the orthonormal recurrence.
    pub fn new(n: usize) -> CoreResult<Self> {
        if n == 0 || n > MAX_NODES {
            return Err(CoreError::param(
                "quadrature nodes",
                n as f64,
                format!("1 ..= {MAX_NODES}"),
            ));
        }
        let mut a = vec![vec![0.0; n]; n];
        for k in 1..n {
            let s = (k as f64).sqrt();
            a[k - 1][k] = s;
            a[k][k - 1] = s;
        }
        let (values, vectors) = jacobi_eigen(a);
        let mut pairs: Vec<(f64, f64)> = values
            .iter()
            .enumerate()
            .map(|(i, &x)| (x, vectors[0][i] * vectors[0][i]))
            .collect();
        pairs.sort_by(|p, q| p.0.total_cmp(&q.0));
        for (x, w) in &mut pairs {
            // Newton on h_n (orthonormal: h_{k+1} = (x h_k − √k h_{k−1}) / √(k+1), h_n' = √n h_{n−1}).
            for _ in 0..3 {
                let (hn, hn1) = orthonormal_hermite(n, *x);
                let d = (n as f64).sqrt() * hn1;
                if d != 0.0 {
                    *x -= hn / d;
                }
            }
            let (_, hn1) = orthonormal_hermite(n, *x);
            *w = 1.0 / (n as f64 * hn1 * hn1);
        }
        let total: f64 = pairs.iter().map(|p| p.1).sum();
        Ok(Self {
            nodes: pairs.iter().map(|p| p.0).collect(),
            weights: pairs.iter().map(|p| p.1 / total).collect(),
        })
    }
}

/// `(h_n(x), h_{n−1}(x))` of the orthonormal probabilists' Hermite polynomials.
fn orthonormal_hermite(n: usize, x: f64) -> (f64, f64) {
    let (mut prev, mut cur) = (0.0, 1.0);
    for k in 0..n {
        let next = (x * cur - (k as f64).sqrt() * prev) / ((k + 1) as f64).sqrt();
        prev = cur;
        cur = next;
    }
    (cur, prev)
}

/// Eigenvalues and eigenvectors (columns) of a small symmetric matrix by cyclic Jacobi rotations.
#[allow(clippy::needless_range_loop)] // rotations index rows and columns p, q of both matrices
fn jacobi_eigen(mut a: Vec<Vec<f64>>) -> (Vec<f64>, Vec<Vec<f64>>) {
    let n = a.len();
    let mut v: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i][j] * a[i][j])
            .sum();
        if off < 1e-30 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                if a[p][q].abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k][p], a[k][q]);
                    a[k][p] = c * akp - s * akq;
                    a[k][q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p][k], a[q][k]);
                    a[p][k] = c * apk - s * aqk;
                    a[q][k] = s * apk + c * aqk;
                }
                for row in v.iter_mut() {
                    let (vp, vq) = (row[p], row[q]);
                    row[p] = c * vp - s * vq;
                    row[q] = s * vp + c * vq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i][i]).collect(), v)
}

/// What one step measured at q before it moved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BwJkoReport {
    /// KL(q‖p) at the start of the step (exact entropy, quadrature cross term).
    pub kl: f64,
    /// E_q[∇V], the mean's gradient.
    pub grad_mean: Vec2,
    /// E_q[∇²V] (symmetrized), twice the covariance's gradient of E_q[V].
    pub hessian: Mat2,
}

/// E_q[V], E_q[∇V] and E_q[∇²V] (by Stein's identity) for q = N(mean, cov) by the tensor rule.
/// `log_p` and `score` are ln p and ∇ ln p.
pub fn potential_moments(
    mean: Vec2,
    cov: &Mat2,
    rule: &Hermite,
    log_p: &dyn Fn(Vec2) -> f64,
    score: &dyn Fn(Vec2) -> Vec2,
) -> CoreResult<(f64, Vec2, Mat2)> {
    let [l11, l21, l22] = cholesky2("q.covariance", cov)?;
    let mut e_v = 0.0;
    let mut g = [0.0; 2];
    // B = E[∇V zᵀ]; then E[∇²V] = B L⁻¹.
    let mut b = [[0.0; 2]; 2];
    for (&z0, &w0) in rule.nodes.iter().zip(&rule.weights) {
        for (&z1, &w1) in rule.nodes.iter().zip(&rule.weights) {
            let w = w0 * w1;
            let x = [mean[0] + l11 * z0, mean[1] + l21 * z0 + l22 * z1];
            let s = score(x);
            let gv = [-s[0], -s[1]];
            e_v -= w * log_p(x);
            g[0] += w * gv[0];
            g[1] += w * gv[1];
            b[0][0] += w * gv[0] * z0;
            b[0][1] += w * gv[0] * z1;
            b[1][0] += w * gv[1] * z0;
            b[1][1] += w * gv[1] * z1;
        }
    }
    // L⁻¹ = [[1/l11, 0], [−l21/(l11 l22), 1/l22]].
    let li = [[1.0 / l11, 0.0], [-l21 / (l11 * l22), 1.0 / l22]];
    let h = [
        [
            b[0][0] * li[0][0] + b[0][1] * li[1][0],
            b[0][0] * li[0][1] + b[0][1] * li[1][1],
        ],
        [
            b[1][0] * li[0][0] + b[1][1] * li[1][0],
            b[1][0] * li[0][1] + b[1][1] * li[1][1],
        ],
    ];
    let off = 0.5 * (h[0][1] + h[1][0]);
    let hs = [[h[0][0], off], [off, h[1][1]]];
    let finite = e_v.is_finite() && g.iter().chain(hs.iter().flatten()).all(|v| v.is_finite());
    if !finite {
        return Err(CoreError::non_finite(
            "the target's log-density or score at q's quadrature nodes (q reaches where p vanishes)",
        ));
    }
    Ok((e_v, g, hs))
}

/// KL(q‖p) for q = N(mean, cov) given E_q[V] = −E_q[ln p]: `−1 − ln 2π − ½ ln det Σ + E_q[V]`.
pub fn kl_from_potential(cov: &Mat2, e_v: f64) -> f64 {
    -1.0 - (2.0 * std::f64::consts::PI).ln() - 0.5 * det2(cov).ln() + e_v
}

/// The principal square root of a 2×2 symmetric positive semi-definite matrix:
/// `(A + √det A · I) / √(tr A + 2√det A)`.
pub fn sqrtm_spd(a: &Mat2) -> Mat2 {
    let s = det2(a).max(0.0).sqrt();
    let t = (a[0][0] + a[1][1] + 2.0 * s).max(0.0).sqrt();
    if t == 0.0 {
        return [[0.0; 2]; 2];
    }
    [
        [(a[0][0] + s) / t, a[0][1] / t],
        [a[1][0] / t, (a[1][1] + s) / t],
    ]
}

/// The entropy's JKO step in closed form: `½ (Σ + 2h I + [Σ (Σ + 4h I)]^½)`.
pub fn entropy_prox(cov: &Mat2, h: f64) -> Mat2 {
    let p = [
        [cov[0][0] + 4.0 * h, cov[0][1]],
        [cov[1][0], cov[1][1] + 4.0 * h],
    ];
    let prod = super::gaussian::matmul2(cov, &p);
    // Σ and Σ + 4hI commute, so the product is symmetric; symmetrize the rounding.
    let o = 0.5 * (prod[0][1] + prod[1][0]);
    let r = sqrtm_spd(&[[prod[0][0], o], [o, prod[1][1]]]);
    let off = 0.5 * (cov[0][1] + r[0][1]);
    [
        [0.5 * (cov[0][0] + 2.0 * h + r[0][0]), off],
        [off, 0.5 * (cov[1][1] + 2.0 * h + r[1][1])],
    ]
}

/// One forward–backward step of q = N(mean, cov) toward p: returns the new (mean, cov) and what was
/// measured at the old q. Refused (`Err`, nothing returned) when the result is not finite or not positive
/// definite.
pub fn fb_step(
    mean: Vec2,
    cov: &Mat2,
    h: f64,
    rule: &Hermite,
    log_p: &dyn Fn(Vec2) -> f64,
    score: &dyn Fn(Vec2) -> Vec2,
) -> CoreResult<(Vec2, Mat2, BwJkoReport)> {
    if !(h.is_finite() && h > 0.0) {
        return Err(CoreError::param("step_size", h, "> 0, finite"));
    }
    let (e_v, g, hs) = potential_moments(mean, cov, rule, log_p, score)?;
    let kl = kl_from_potential(cov, e_v);
    let m_new = [mean[0] - h * g[0], mean[1] - h * g[1]];
    let mm = [
        [1.0 - h * hs[0][0], -h * hs[0][1]],
        [-h * hs[1][0], 1.0 - h * hs[1][1]],
    ];
    let ms = super::gaussian::matmul2(&mm, cov);
    let half = super::gaussian::matmul2(&ms, &mm);
    let o = 0.5 * (half[0][1] + half[1][0]);
    let half = [[half[0][0], o], [o, half[1][1]]];
    let cov_new = entropy_prox(&half, h);
    if !(m_new[0].is_finite() && m_new[1].is_finite()) {
        return Err(CoreError::non_finite(format!(
            "the mean after a step of size {h} (E_q[∇V] = {g:?}); lower the step size"
        )));
    }
    check_spd("q.covariance after the step", &cov_new)?;
    Ok((
        m_new,
        cov_new,
        BwJkoReport {
            kl,
            grad_mean: g,
            hessian: hs,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::closed_form::kl_gaussians;
    use crate::core::gaussian::Gaussian;

    fn gaussian_target(m: Vec2, c: Mat2) -> (impl Fn(Vec2) -> f64, impl Fn(Vec2) -> Vec2) {
        let g = Gaussian::new(m, c).unwrap();
        let g2 = g.clone();
        (move |x| g.log_density(x), move |x| g2.score(x))
    }

    #[test]
    fn hermite_rule_matches_the_standard_normal_moments() {
        let r = Hermite::new(3).unwrap();
        let s3 = 3f64.sqrt();
        for (x, want) in r.nodes.iter().zip([-s3, 0.0, s3]) {
            assert!((x - want).abs() < 1e-13, "{x} vs {want}");
        }
        for (w, want) in r.weights.iter().zip([1.0 / 6.0, 2.0 / 3.0, 1.0 / 6.0]) {
            assert!((w - want).abs() < 1e-13, "{w} vs {want}");
        }
        // E[Z^2k] = (2k − 1)!!, exact up to degree 2n − 1.
        let r = Hermite::new(12).unwrap();
        let mut double_fact = 1.0;
        for k in 1..=11 {
            double_fact *= (2 * k - 1) as f64;
            let m: f64 = r
                .nodes
                .iter()
                .zip(&r.weights)
                .map(|(x, w)| w * x.powi(2 * k))
                .sum();
            assert!(
                (m / double_fact - 1.0).abs() < 1e-11,
                "E[Z^{}] = {m} vs {double_fact}",
                2 * k
            );
        }
        assert!(Hermite::new(0).is_err() && Hermite::new(MAX_NODES + 1).is_err());
    }

    #[test]
    fn sqrtm_and_entropy_prox_satisfy_their_defining_equations() {
        let a = [[2.0, 0.7], [0.7, 0.5]];
        let r = sqrtm_spd(&a);
        let rr = crate::core::gaussian::matmul2(&r, &r);
        for i in 0..2 {
            for j in 0..2 {
                assert!((rr[i][j] - a[i][j]).abs() < 1e-14);
            }
        }
        // The entropy's JKO step keeps Σ's eigenvectors; on each eigenvalue σ it minimizes
        // −½ ln s + (√s − √σ)² / (2h), whose optimality condition is 1 − √(σ/s) = h / s.
        let h = 0.3;
        let d = [[1.7, 0.0], [0.0, 0.2]];
        let s = entropy_prox(&d, h);
        for (k, sigma) in [1.7, 0.2].into_iter().enumerate() {
            let sk = s[k][k];
            assert!((1.0 - (sigma / sk).sqrt() - h / sk).abs() < 1e-14, "{sk}");
        }
    }

    #[test]
    fn a_gaussian_target_is_a_fixed_point_and_is_reached_exactly() {
        let (mu, sig) = ([0.4, -0.3], [[0.8, 0.3], [0.3, 0.5]]);
        let (lp, sc) = gaussian_target(mu, sig);
        let rule = Hermite::new(4).unwrap();
        let (m, c, rep) = fb_step(mu, &sig, 0.2, &rule, &lp, &sc).unwrap();
        assert!(rep.kl.abs() < 1e-13, "KL at the target {}", rep.kl);
        for i in 0..2 {
            assert!((m[i] - mu[i]).abs() < 1e-14);
            for j in 0..2 {
                assert!((c[i][j] - sig[i][j]).abs() < 1e-13, "{c:?}");
            }
        }
        let (mut m, mut c) = ([-1.0, 1.5], [[0.1, 0.0], [0.0, 2.0]]);
        let p = Gaussian::new(mu, sig).unwrap();
        let mut last = f64::INFINITY;
        for _ in 0..300 {
            let (m2, c2, rep) = fb_step(m, &c, 0.1, &rule, &lp, &sc).unwrap();
            // The reported KL is the closed form KL(q‖p).
            let exact = kl_gaussians(&Gaussian::new(m, c).unwrap(), &p).unwrap();
            assert!(
                (rep.kl - exact).abs() < 1e-10 * (1.0 + exact),
                "{} vs {exact}",
                rep.kl
            );
            assert!(rep.kl <= last + 1e-12, "KL rose: {last} -> {}", rep.kl);
            last = rep.kl;
            (m, c) = (m2, c2);
        }
        for i in 0..2 {
            assert!((m[i] - mu[i]).abs() < 1e-10, "{m:?}");
            for j in 0..2 {
                assert!((c[i][j] - sig[i][j]).abs() < 1e-10, "{c:?}");
            }
        }
    }

    /// The forward step follows the gradient of E_q[V]: ∂/∂m = E[∇V], ∂/∂Σ = ½ E[∇²V]; checked by central
    /// differences of the quadrature E_q[V] on the banana (a non-Gaussian target whose score is polynomial).
    #[test]
    fn potential_gradients_match_finite_differences() {
        let t = crate::core::target::Target::build(
            &crate::core::target::TargetSpec::Banana(Default::default()),
            None,
        )
        .unwrap();
        let d = t.density().unwrap().clone();
        let lp = |x: Vec2| d.log_density(x);
        let sc = |x: Vec2| d.score(x);
        let rule = Hermite::new(8).unwrap();
        let (m, c) = ([0.2, -0.1], [[0.6, 0.15], [0.15, 0.4]]);
        let (_, g, hs) = potential_moments(m, &c, &rule, &lp, &sc).unwrap();
        let ev = |m: Vec2, c: Mat2| potential_moments(m, &c, &rule, &lp, &sc).unwrap().0;
        let e = 1e-5;
        for i in 0..2 {
            let (mut a, mut b) = (m, m);
            a[i] += e;
            b[i] -= e;
            let fd = (ev(a, c) - ev(b, c)) / (2.0 * e);
            assert!((fd - g[i]).abs() < 1e-7, "dm{i}: {fd} vs {}", g[i]);
        }
        for (i, j) in [(0, 0), (1, 1), (0, 1)] {
            let (mut a, mut b) = (c, c);
            a[i][j] += e;
            b[i][j] -= e;
            if i != j {
                a[j][i] += e;
                b[j][i] -= e;
            }
            let fd = (ev(m, a) - ev(m, b)) / (2.0 * e);
            // A symmetric perturbation of an off-diagonal pair moves both entries: 2 × ½ H_ij.
            let want = if i == j { 0.5 * hs[i][i] } else { hs[i][j] };
            assert!((fd - want).abs() < 1e-6, "dΣ{i}{j}: {fd} vs {want}");
        }
    }

    /// On the banana (non-Gaussian) the JKO fixed point is the reverse-KL optimum over Gaussians: Adam on
    /// the grid estimate of KL(q‖p) from the same start (the app's gradient fit) ends at the same mean
    /// within 0.005 and the same covariance within 1% (entrywise, relative to the largest entry).
    #[test]
    fn on_the_banana_it_matches_the_reverse_kl_optimum_of_gradient_descent() {
        use crate::core::scenario::Scenario;
        use crate::core::sim::{ModelView, Simulation};
        let text = r#"(
            version: 1,
            target: (kind: "banana"),
            model: (kind: "mixture", init: (kind: "given", weights: [1.0], means: [(0.5, 0.8)],
                covariances: [((0.3, 0.0), (0.0, 0.3))])),
            method: (kind: "gradient",
                objective: (kind: "f_divergence", divergence: (kind: "reverse_kl"),
                    estimator: (kind: "grid", resolution: 160)),
                optimizer: (kind: "adam", lr: 0.02)),
        )"#;
        let scenario = Scenario::parse(text).unwrap();
        let mut sim = Simulation::new(&scenario, None).unwrap();
        for _ in 0..2500 {
            sim.step().unwrap();
        }
        let ModelView::Mixture(q) = sim.model() else {
            panic!("a mixture model")
        };
        let (gd_m, gd_c) = (q.mean(), q.covariance());
        let d = sim.target().density().unwrap().clone();
        let lp = |x: Vec2| d.log_density(x);
        let sc = |x: Vec2| d.score(x);
        let rule = Hermite::new(DEFAULT_NODES).unwrap();
        let (mut m, mut c) = ([0.5, 0.8], [[0.3, 0.0], [0.0, 0.3]]);
        let mut steps_to_converge = None;
        for k in 0..600 {
            let (m2, c2, _) = fb_step(m, &c, 0.1, &rule, &lp, &sc).unwrap();
            let moved = (m2[0] - m[0]).abs().max((m2[1] - m[1]).abs());
            if moved < 1e-8 && steps_to_converge.is_none() {
                steps_to_converge = Some(k);
            }
            (m, c) = (m2, c2);
        }
        eprintln!("JKO: {m:?} {c:?} (still after {steps_to_converge:?}); Adam: {gd_m:?} {gd_c:?}");
        assert!(steps_to_converge.is_some(), "JKO did not settle");
        let scale = c.iter().flatten().fold(0f64, |a, v| a.max(v.abs()));
        for i in 0..2 {
            assert!((m[i] - gd_m[i]).abs() < 0.005, "mean {m:?} vs {gd_m:?}");
            for j in 0..2 {
                assert!(
                    (c[i][j] - gd_c[i][j]).abs() < 0.01 * scale,
                    "cov {c:?} vs {gd_c:?}"
                );
            }
        }
    }

    #[test]
    fn bad_steps_are_refused() {
        let (lp, sc) = gaussian_target([0.0, 0.0], [[1.0, 0.0], [0.0, 1.0]]);
        let rule = Hermite::new(4).unwrap();
        let c = [[1.0, 0.0], [0.0, 1.0]];
        assert!(fb_step([0.0, 0.0], &c, f64::NAN, &rule, &lp, &sc).is_err());
        assert!(fb_step([0.0, 0.0], &c, 0.0, &rule, &lp, &sc).is_err());
        assert!(fb_step([f64::NAN, 0.0], &c, 0.1, &rule, &lp, &sc).is_err());
        assert!(fb_step([0.0, 0.0], &[[1.0, 2.0], [2.0, 1.0]], 0.1, &rule, &lp, &sc).is_err());
    }
}
