//! Sinkhorn with sparse Newton acceleration ("Accelerating Sinkhorn Algorithm with Sparse Newton
//! Iterations"): a few plain Sinkhorn sweeps, then Newton steps on the entropic dual with a sparsified
//! Hessian, solved by preconditioned conjugate gradients, and a backtracking line search.
//!
//! # Conventions
//! The problem and its potentials are those of [`super::sinkhorn`] (cost |x − y|², OT_ε with the
//! KL(π ‖ α⊗β) penalty). The dual maximized is
//! D(f, g) = ⟨a, f⟩ + ⟨b, g⟩ − ε Σᵢⱼ πᵢⱼ, with πᵢⱼ = aᵢ bⱼ exp((fᵢ + gⱼ − cᵢⱼ)/ε)
//! (the additive constant ε is left out: it moves no argmax). Its gradient is (a − π1, b − πᵀ1), and its
//! Hessian is −(1/ε) [[diag(π1), π], [πᵀ, diag(πᵀ1)]].
//!
//! A Newton step solves K d = ∇D for d, with K = [[diag(π1), πₛ], [πₛᵀ, diag(πᵀ1)]]. Here πₛ keeps the
//! ⌈`keep`·M⌉ largest entries of each row of π, and the diagonal keeps the exact marginals. The step is
//! then (f, g) ← (f, g) + t ε d. K is positive semi-definite, because Σᵢⱼ πₛ,ᵢⱼ (uᵢ + wⱼ)² ≤ (u, w)ᵀK(u, w).
//! So ε d is an ascent direction. The step length t is halved from 1 until the marginal error falls by a
//! fraction 10⁻⁴·t, or the dual rises by 10⁻⁴·t times its slope along the step (Armijo's condition, trusted
//! only where the rise exceeds the dual's round-off: near the optimum the dual is too flat to compare in
//! f64, and the error decides). When 12 halvings find
//! no such t, one plain Sinkhorn iteration is done instead, and the stage stops if that does not lower the
//! error either.
//!
//! Per-row selection (rather than the paper's global ρ-fraction of all entries) keeps every row's strongest
//! couplings and needs O(M) memory per thread: π is never stored. One Newton iteration costs two to a few
//! O(N·M) passes (one per line-search trial, which is also the next iteration's plan) plus the CG solve,
//! O(`cg_iters` · N · k). It is therefore dearer than a Sinkhorn iteration (one O(N·M) pass for each of f
//! and g). The iteration counts compare convergence, and `divlab bench newton` compares time.
//!
//! The error reported each iteration is the L1 error of both marginals, ‖π1 − a‖₁ + ‖πᵀ1 − b‖₁. For a
//! Sinkhorn iterate the first term is 0 after its f-update, so the same number is what
//! [`super::sinkhorn::SinkhornResult::marginal_error`] reports for plain Sinkhorn.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::{CoreError, CoreResult};
use super::math::Vec2;
use super::params;

/// The Newton stage's settings (`sinkhorn.newton` in a scenario).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct NewtonConfig {
    /// Plain Sinkhorn iterations at the final ε before the first Newton step (after the ε-schedule, if
    /// any). Newton converges quadratically only near the optimum; the sweeps bring it there.
    pub sweeps: usize,
    /// Fraction of each row of the plan kept in the sparsified Hessian, in (0, 1]; at least one entry a row.
    pub keep: f64,
    /// Most conjugate-gradient iterations per Newton step.
    pub cg_iters: usize,
}

impl Default for NewtonConfig {
    fn default() -> Self {
        Self {
            sweeps: 20,
            keep: 0.2,
            cg_iters: 50,
        }
    }
}

impl NewtonConfig {
    /// Checks every field against `sinkhorn.newton.<field>` ([`super::params`]).
    pub fn validate(&self) -> CoreResult<()> {
        let c = |field: &str, v: f64| {
            params::check_field("sinkhorn", None, &format!("newton.{field}"), v).map(|_| ())
        };
        c("sweeps", self.sweeps as f64)?;
        c("keep", self.keep)?;
        c("cg_iters", self.cg_iters as f64)
    }
}

/// Rows per parallel chunk of a plan pass.
const ROWS_PER_CHUNK: usize = 64;
/// Most line-search halvings of one Newton step; then a plain Sinkhorn iteration is done instead.
const MAX_HALVINGS: usize = 12;
/// A trial step is accepted when it lowers the marginal error by this fraction of its length t.
const SUFFICIENT_DECREASE: f64 = 1e-4;
/// The conjugate-gradient solve stops at this residual, relative to the right-hand side.
const CG_RELATIVE_TOLERANCE: f64 = 1e-10;

/// What the Newton stage ends with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct NewtonOutcome {
    /// Newton iterations done (each counted once, whatever its line search cost).
    pub iterations: usize,
    /// The L1 error of both marginals at the final potentials.
    pub marginal_error: f64,
    pub converged: bool,
}

/// One entropic OT problem on centred points, at its final ε.
#[derive(Clone, Copy)]
pub(crate) struct Problem<'a> {
    pub xc: &'a [Vec2],
    pub a: &'a [f64],
    pub yc: &'a [Vec2],
    pub b: &'a [f64],
    pub eps: f64,
}

/// The kept entries of each row of the plan (CSR: `(column, value)` per row).
type Kept = Vec<Vec<(u32, f64)>>;

/// The plan's marginals at some (f, g), and its sparsified rows.
struct PlanPass {
    /// π1 (length N).
    rows: Vec<f64>,
    /// πᵀ1 (length M).
    cols: Vec<f64>,
    /// The kept entries of each row.
    kept: Kept,
}

impl PlanPass {
    /// ‖π1 − a‖₁ + ‖πᵀ1 − b‖₁.
    fn error(&self, a: &[f64], b: &[f64]) -> f64 {
        l1_error(&self.rows, a) + l1_error(&self.cols, b)
    }
}

/// ln πᵢⱼ for one row i: ln aᵢ + ln bⱼ + (fᵢ + gⱼ − cᵢⱼ)/ε, written into `out`.
fn log_row(
    xi: Vec2,
    ln_ai_plus: f64,
    yc: &[Vec2],
    lb_plus_g: &[f64],
    inv_eps: f64,
    out: &mut [f64],
) {
    for ((o, y), h) in out.iter_mut().zip(yc).zip(lb_plus_g) {
        let dx = xi[0] - y[0];
        let dy = xi[1] - y[1];
        *o = ln_ai_plus + h - (dx * dx + dy * dy) * inv_eps;
    }
}

/// ln bⱼ + gⱼ/ε (−∞ where bⱼ = 0).
fn log_cols(b: &[f64], g: &[f64], inv_eps: f64) -> Vec<f64> {
    b.iter()
        .zip(g)
        .map(|(&bj, &gj)| {
            if bj > 0.0 {
                bj.ln() + gj * inv_eps
            } else {
                f64::NEG_INFINITY
            }
        })
        .collect()
}

/// ln aᵢ + fᵢ/ε (−∞ where aᵢ = 0).
fn log_rows(a: &[f64], f: &[f64], inv_eps: f64) -> Vec<f64> {
    log_cols(a, f, inv_eps)
}

/// The plan's marginals at (f, g), and the `keep` largest entries of each row (CSR:
/// `(column, value)` per row). One O(N·M) pass, parallel over rows.
fn plan_pass(pr: Problem<'_>, f: &[f64], g: &[f64], keep: usize) -> PlanPass {
    let Problem { xc, a, yc, b, eps } = pr;
    let inv_eps = 1.0 / eps;
    let hx = log_rows(a, f, inv_eps);
    let hy = log_cols(b, g, inv_eps);
    let m = yc.len();
    // Fixed chunks of rows, each with its own column sums, added in chunk order: the result does not depend
    // on the number of threads.
    let chunks: Vec<(Vec<f64>, Vec<f64>, Kept)> = xc
        .par_chunks(ROWS_PER_CHUNK)
        .zip(hx.par_chunks(ROWS_PER_CHUNK))
        .map(|(xs, hs)| {
            let mut buf = vec![0.0; m];
            let mut cols = vec![0.0; m];
            let mut rows = Vec::with_capacity(xs.len());
            let mut kept = Vec::with_capacity(xs.len());
            for (xi, &hi) in xs.iter().zip(hs) {
                log_row(*xi, hi, yc, &hy, inv_eps, &mut buf);
                let mut sum = 0.0;
                for (v, c) in buf.iter_mut().zip(cols.iter_mut()) {
                    *v = v.exp();
                    sum += *v;
                    *c += *v;
                }
                rows.push(sum);
                kept.push(top_k(&buf, keep));
            }
            (rows, cols, kept)
        })
        .collect();
    let mut cols = vec![0.0; m];
    let mut rows = Vec::with_capacity(xc.len());
    let mut kept = Vec::with_capacity(xc.len());
    for (r, c, k) in chunks {
        rows.extend(r);
        for (acc, v) in cols.iter_mut().zip(&c) {
            *acc += v;
        }
        kept.extend(k);
    }
    PlanPass { rows, cols, kept }
}

/// The dual D(f, g) = ⟨a, f⟩ + ⟨b, g⟩ − ε Σ πᵢⱼ, from a pass's row sums, and the sum of its terms'
/// magnitudes (the scale of its round-off).
fn dual_value(a: &[f64], f: &[f64], b: &[f64], g: &[f64], eps: f64, rows: &[f64]) -> (f64, f64) {
    let total: f64 = rows.iter().sum();
    let af: f64 = a.iter().zip(f).map(|(x, y)| x * y).sum();
    let bg: f64 = b.iter().zip(g).map(|(x, y)| x * y).sum();
    let scale: f64 = a
        .iter()
        .zip(f)
        .chain(b.iter().zip(g))
        .map(|(x, y)| (x * y).abs())
        .sum::<f64>()
        + eps * total;
    (af + bg - eps * total, scale)
}

/// The `k` largest values of `row` with their columns (ties broken by the lower column; zeros left out).
fn top_k(row: &[f64], k: usize) -> Vec<(u32, f64)> {
    let mut idx: Vec<u32> = (0..row.len() as u32).collect();
    let k = k.clamp(1, row.len());
    if k < row.len() {
        idx.select_nth_unstable_by(k - 1, |&i, &j| {
            row[j as usize].total_cmp(&row[i as usize]).then(i.cmp(&j))
        });
        idx.truncate(k);
    }
    idx.sort_unstable();
    idx.into_iter()
        .map(|j| (j, row[j as usize]))
        .filter(|&(_, v)| v > 0.0)
        .collect()
}

/// y = K (u, w) with K = [[diag(dr), S], [Sᵀ, diag(dc)]], S the kept entries (`kept[i]` of row i).
fn k_matvec(dr: &[f64], dc: &[f64], kept: &[Vec<(u32, f64)>], v: &[f64], out: &mut [f64]) {
    let n = dr.len();
    let (u, w) = v.split_at(n);
    let (ou, ow) = out.split_at_mut(n);
    for (j, o) in ow.iter_mut().enumerate() {
        *o = dc[j] * w[j];
    }
    for (i, row) in kept.iter().enumerate() {
        let mut s = dr[i] * u[i];
        for &(j, p) in row {
            s += p * w[j as usize];
            ow[j as usize] += p * u[i];
        }
        ou[i] = s;
    }
}

/// Solves K d = rhs by conjugate gradients preconditioned with K's diagonal, from d = 0, for at most
/// `max_iters` iterations (K positive semi-definite; `rhs` lies in its range up to the sparsification).
fn solve_cg(
    dr: &[f64],
    dc: &[f64],
    kept: &[Vec<(u32, f64)>],
    rhs: &[f64],
    max_iters: usize,
) -> Vec<f64> {
    let diag: Vec<f64> = dr
        .iter()
        .chain(dc)
        .map(|&d| if d > f64::MIN_POSITIVE { d } else { 1.0 })
        .collect();
    let dim = rhs.len();
    let mut x = vec![0.0; dim];
    let mut r = rhs.to_vec();
    let mut z: Vec<f64> = r.iter().zip(&diag).map(|(ri, di)| ri / di).collect();
    let mut p = z.clone();
    let mut kp = vec![0.0; dim];
    let mut rz: f64 = r.iter().zip(&z).map(|(a, b)| a * b).sum();
    let stop = CG_RELATIVE_TOLERANCE * rhs.iter().map(|v| v * v).sum::<f64>().sqrt();
    for _ in 0..max_iters {
        if r.iter().map(|v| v * v).sum::<f64>().sqrt() <= stop {
            break;
        }
        k_matvec(dr, dc, kept, &p, &mut kp);
        let pkp: f64 = p.iter().zip(&kp).map(|(a, b)| a * b).sum();
        if pkp.is_nan() || pkp <= 0.0 {
            break;
        }
        let alpha = rz / pkp;
        for i in 0..dim {
            x[i] += alpha * p[i];
            r[i] -= alpha * kp[i];
        }
        for i in 0..dim {
            z[i] = r[i] / diag[i];
        }
        let rz_new: f64 = r.iter().zip(&z).map(|(a, b)| a * b).sum();
        let beta = rz_new / rz;
        rz = rz_new;
        for i in 0..dim {
            p[i] = z[i] + beta * p[i];
        }
    }
    x
}

fn l1_error(marginal: &[f64], w: &[f64]) -> f64 {
    marginal.iter().zip(w).map(|(m, w)| (m - w).abs()).sum()
}

/// The Newton stage on centred points, from the potentials (f, g) of the sweeps, at the final ε. Stops when
/// the L1 error of both marginals falls below `tolerance`, after `max_iters` Newton iterations, or when a
/// line search finds no ascent (the potentials are then those of the last accepted step). Pushes each
/// iterate's error onto `trace`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn newton_stage(
    pr: Problem<'_>,
    cfg: &NewtonConfig,
    f: &mut [f64],
    g: &mut [f64],
    max_iters: usize,
    tolerance: f64,
    trace: &mut Vec<f64>,
) -> CoreResult<NewtonOutcome> {
    let Problem { xc, a, yc, b, eps } = pr;
    let n = xc.len();
    let k = ((cfg.keep * yc.len() as f64).ceil() as usize).clamp(1, yc.len());
    let mut iterations = 0;
    let mut pass = plan_pass(pr, f, g, k);
    loop {
        let err = pass.error(a, b);
        if !err.is_finite() {
            return Err(CoreError::non_finite("sinkhorn-newton marginal error"));
        }
        if iterations > 0 {
            trace.push(err);
        }
        let outcome = NewtonOutcome {
            iterations,
            marginal_error: err,
            converged: err < tolerance,
        };
        if err < tolerance || iterations >= max_iters {
            return Ok(outcome);
        }
        let grad: Vec<f64> = a
            .iter()
            .zip(&pass.rows)
            .map(|(ai, ri)| ai - ri)
            .chain(b.iter().zip(&pass.cols).map(|(bj, cj)| bj - cj))
            .collect();
        let d = solve_cg(&pass.rows, &pass.cols, &pass.kept, &grad, cfg.cg_iters);
        // D's derivative along the step ε d, its value now, and the round-off of a difference of two values.
        let slope = eps * grad.iter().zip(&d).map(|(x, y)| x * y).sum::<f64>();
        let (d0, d0_scale) = dual_value(a, f, b, g, eps, &pass.rows);
        let round_off = 64.0 * f64::EPSILON * d0_scale;
        let mut t = 1.0;
        let mut accepted = None;
        for _ in 0..MAX_HALVINGS {
            let ft: Vec<f64> = f
                .iter()
                .zip(&d[..n])
                .map(|(v, s)| v + t * eps * s)
                .collect();
            let gt: Vec<f64> = g
                .iter()
                .zip(&d[n..])
                .map(|(v, s)| v + t * eps * s)
                .collect();
            let trial = plan_pass(pr, &ft, &gt, k);
            let e = trial.error(a, b);
            let (dt, _) = dual_value(a, &ft, b, &gt, eps, &trial.rows);
            let ascent = dt - d0;
            let lower_error = e <= (1.0 - SUFFICIENT_DECREASE * t) * err;
            let higher_dual = ascent >= SUFFICIENT_DECREASE * t * slope && ascent > round_off;
            if e.is_finite() && (lower_error || higher_dual) {
                accepted = Some((ft, gt, trial));
                break;
            }
            t *= 0.5;
        }
        match accepted {
            Some((ft, gt, trial)) => {
                f.copy_from_slice(&ft);
                g.copy_from_slice(&gt);
                pass = trial;
            }
            None => {
                // The sparsified direction does not lower the error (far from the optimum, or at round-off):
                // one plain Sinkhorn iteration instead, and stop if that does not lower it either.
                sinkhorn_sweep(pr, f, g);
                pass = plan_pass(pr, f, g, k);
                let e = pass.error(a, b);
                if e.is_nan() || e >= err {
                    return Ok(outcome);
                }
            }
        }
        iterations += 1;
    }
}

/// fᵢ ← −ε ln Σⱼ bⱼ exp((gⱼ − cᵢⱼ)/ε), then gⱼ ← the same from f (f64, stable log-sum-exp).
fn sinkhorn_sweep(pr: Problem<'_>, f: &mut [f64], g: &mut [f64]) {
    let Problem { xc, a, yc, b, eps } = pr;
    soft_min(xc, yc, b, g, eps, f);
    soft_min(yc, xc, a, f, eps, g);
}

/// outᵢ = −ε ln Σⱼ wⱼ exp((potⱼ − |zᵢ − cⱼ|²)/ε).
fn soft_min(z: &[Vec2], cols: &[Vec2], w: &[f64], pot: &[f64], eps: f64, out: &mut [f64]) {
    let inv_eps = 1.0 / eps;
    let h = log_cols(w, pot, inv_eps);
    out.par_iter_mut().zip(z).for_each(|(o, zi)| {
        let mut best = f64::NEG_INFINITY;
        for (c, hj) in cols.iter().zip(&h) {
            let dx = zi[0] - c[0];
            let dy = zi[1] - c[1];
            best = best.max(hj - (dx * dx + dy * dy) * inv_eps);
        }
        let s: f64 = cols
            .iter()
            .zip(&h)
            .map(|(c, hj)| {
                let dx = zi[0] - c[0];
                let dy = zi[1] - c[1];
                (hj - (dx * dx + dy * dy) * inv_eps - best).exp()
            })
            .sum();
        *o = -eps * (best + s.ln());
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::rng;
    use crate::core::sinkhorn::{Precision, SinkhornConfig, sinkhorn, squared_diameter};
    use rand::Rng;

    /// A uniform square of `n` points and an off-centre ring of `n` points, uniform weights.
    fn problem(n: usize, seed: u64) -> (Vec<Vec2>, Vec<f64>, Vec<Vec2>, Vec<f64>) {
        let mut r = rng::seeded(seed);
        let x: Vec<Vec2> = (0..n)
            .map(|_| [r.random::<f64>() - 0.5, r.random::<f64>() - 0.5])
            .collect();
        let y: Vec<Vec2> = (0..n)
            .map(|_| {
                let t = r.random::<f64>() * std::f64::consts::TAU;
                let s = 0.8 + 0.2 * r.random::<f64>();
                [s * t.cos() + 0.3, s * t.sin()]
            })
            .collect();
        let w = vec![1.0 / n as f64; n];
        (x, w.clone(), y, w)
    }

    fn cfg(eps: f64, newton: Option<NewtonConfig>) -> SinkhornConfig {
        SinkhornConfig {
            epsilon: eps,
            scaling: None,
            max_iters: 20_000,
            tolerance: 1e-9,
            precision: Precision::F64,
            newton,
        }
    }

    /// The largest |fᵢ − f'ᵢ − t| with t the shift that best aligns f' to f at its first entry
    /// (potentials are unique up to (f + t, g − t)), over f and g.
    fn potential_gap(f: &[f64], g: &[f64], f2: &[f64], g2: &[f64]) -> f64 {
        let t = f[0] - f2[0];
        let gf = f.iter().zip(f2).map(|(u, v)| (u - v - t).abs());
        let gg = g.iter().zip(g2).map(|(u, v)| (u - v + t).abs());
        gf.chain(gg).fold(0.0, f64::max)
    }

    #[test]
    fn the_dual_gradient_and_hessian_match_finite_differences() {
        let (x, a, y, b) = problem(12, 5);
        let eps = 0.05;
        let mut r = rng::seeded(9);
        let f: Vec<f64> = (0..12).map(|_| 0.1 * r.random::<f64>()).collect();
        let g: Vec<f64> = (0..12).map(|_| 0.1 * r.random::<f64>()).collect();
        let pr = Problem {
            xc: &x,
            a: &a,
            yc: &y,
            b: &b,
            eps,
        };
        let dual = |f: &[f64], g: &[f64]| {
            let p = plan_pass(pr, f, g, 12);
            dual_value(&a, f, &b, g, eps, &p.rows).0
        };
        let p = plan_pass(pr, &f, &g, 12);
        let h = 1e-5;
        for i in [0, 5, 11] {
            let (mut fp, mut fm) = (f.clone(), f.clone());
            fp[i] += h;
            fm[i] -= h;
            let fd = (dual(&fp, &g) - dual(&fm, &g)) / (2.0 * h);
            assert!(
                (fd - (a[i] - p.rows[i])).abs() < 1e-8,
                "∂D/∂f{i}: {fd} vs {}",
                a[i] - p.rows[i]
            );
            let (mut gp, mut gm) = (g.clone(), g.clone());
            gp[i] += h;
            gm[i] -= h;
            let fd = (dual(&f, &gp) - dual(&f, &gm)) / (2.0 * h);
            assert!(
                (fd - (b[i] - p.cols[i])).abs() < 1e-8,
                "∂D/∂g{i}: {fd} vs {}",
                b[i] - p.cols[i]
            );
        }
        // With every entry kept, K v = −ε ∇²D v: compare with differences of the gradient along v.
        let v: Vec<f64> = (0..24).map(|_| r.random::<f64>() - 0.5).collect();
        let mut kv = vec![0.0; 24];
        k_matvec(&p.rows, &p.cols, &p.kept, &v, &mut kv);
        let grad_at = |t: f64| {
            let ft: Vec<f64> = f.iter().zip(&v[..12]).map(|(u, s)| u + t * s).collect();
            let gt: Vec<f64> = g.iter().zip(&v[12..]).map(|(u, s)| u + t * s).collect();
            let q = plan_pass(pr, &ft, &gt, 12);
            let mut out: Vec<f64> = a.iter().zip(&q.rows).map(|(u, w)| u - w).collect();
            out.extend(b.iter().zip(&q.cols).map(|(u, w)| u - w));
            out
        };
        let (gp, gm) = (grad_at(h), grad_at(-h));
        for i in 0..24 {
            let hv = (gp[i] - gm[i]) / (2.0 * h);
            assert!(
                (-eps * hv - kv[i]).abs() < 1e-7 * (1.0 + kv[i].abs()),
                "row {i}: {} vs {}",
                -eps * hv,
                kv[i]
            );
        }
    }

    #[test]
    fn newton_reaches_the_potentials_and_value_of_plain_sinkhorn() {
        let (x, a, y, b) = problem(60, 3);
        let d2 = squared_diameter(&x, &y);
        for rel in [1e-2, 1e-3] {
            let eps = rel * d2;
            let plain = sinkhorn(&x, &a, &y, &b, &cfg(eps, None)).expect("plain");
            let newton =
                sinkhorn(&x, &a, &y, &b, &cfg(eps, Some(NewtonConfig::default()))).expect("newton");
            assert!(plain.converged && newton.converged, "ε = {rel}·D²");
            assert!(newton.marginal_error < 1e-9);
            // Both at a marginal error below 1e-9: the potentials agree to about ε times that, scaled by
            // the problem's conditioning.
            let gap = potential_gap(&plain.f, &plain.g, &newton.f, &newton.g);
            assert!(gap < 1e-6 * d2, "ε = {rel}·D²: potentials differ by {gap}");
            let dv = (plain.cost_value - newton.cost_value).abs();
            assert!(dv < 1e-9 * d2, "ε = {rel}·D²: values differ by {dv}");
            assert_eq!(newton.trace.len(), newton.iterations);
            assert_eq!(plain.trace.len(), plain.iterations);
        }
    }

    #[test]
    fn at_small_epsilon_newton_needs_far_fewer_iterations() {
        // ε = 3e-4·D², tolerance 1e-6: measured 14180 plain iterations against 128 (20 sweeps, then
        // Newton), and 12407 for plain Sinkhorn with ε-scaling 0.9. The paper's point is the ratio; assert
        // a fifth of it.
        let (x, a, y, b) = problem(60, 3);
        let d2 = squared_diameter(&x, &y);
        let c = |newton| SinkhornConfig {
            tolerance: 1e-6,
            max_iters: 50_000,
            ..cfg(3e-4 * d2, newton)
        };
        let plain = sinkhorn(&x, &a, &y, &b, &c(None)).expect("plain");
        let newton = sinkhorn(&x, &a, &y, &b, &c(Some(NewtonConfig::default()))).expect("newton");
        assert!(plain.converged && newton.converged);
        assert!(
            newton.iterations * 20 <= plain.iterations,
            "Newton {} iterations, plain {}",
            newton.iterations,
            plain.iterations
        );
        // Each recorded error is of an iterate; the last is below the tolerance.
        assert!(newton.trace.last().is_some_and(|&e| e < 1e-6));
        let gap = potential_gap(&plain.f, &plain.g, &newton.f, &newton.g);
        assert!(gap < 1e-4 * d2, "potentials differ by {gap}");
    }

    #[test]
    fn an_impossible_setting_is_refused_with_its_field_and_range() {
        let (x, a, y, b) = problem(8, 1);
        for (n, field) in [
            (
                NewtonConfig {
                    keep: 0.0,
                    ..NewtonConfig::default()
                },
                "sinkhorn.newton.keep",
            ),
            (
                NewtonConfig {
                    keep: 1.5,
                    ..NewtonConfig::default()
                },
                "sinkhorn.newton.keep",
            ),
            (
                NewtonConfig {
                    cg_iters: 0,
                    ..NewtonConfig::default()
                },
                "sinkhorn.newton.cg_iters",
            ),
        ] {
            let e = sinkhorn(&x, &a, &y, &b, &cfg(0.1, Some(n)))
                .expect_err("refused")
                .to_string();
            assert!(e.contains(field), "{e}");
        }
    }

    #[test]
    fn the_solve_is_deterministic() {
        let (x, a, y, b) = problem(200, 7);
        let c = cfg(0.003, Some(NewtonConfig::default()));
        let r1 = sinkhorn(&x, &a, &y, &b, &c).expect("first");
        let r2 = sinkhorn(&x, &a, &y, &b, &c).expect("second");
        assert_eq!(r1, r2);
    }
}
