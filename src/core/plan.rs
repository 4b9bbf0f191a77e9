//! Drawable views of a Sinkhorn solution and of an MMD witness: the strongest couplings of each
//! source particle, the barycentric map, the dual potentials and the witness on a grid.
//!
//! Conventions are those of [`super::sinkhorn`]: cost |x − y|², plan
//! πᵢⱼ = aᵢ bⱼ exp((fᵢ + gⱼ − |xᵢ − yⱼ|²)/ε). The potentials extend off the support by the soft
//! c-transform f(z) = −ε log Σⱼ bⱼ exp((gⱼ − |z − yⱼ|²)/ε) (and symmetrically g(z) from f), which
//! agrees with f at the source points once Sinkhorn has converged.

use rayon::prelude::*;

use super::error::{CoreError, CoreResult};
use super::grid::Grid;
use super::math::{Vec2, dist2, logsumexp};
use super::mmd::{Kernel, witness};
use super::sinkhorn::{Precision, SinkhornResult, soft_c_transform};

/// One entry of the plan: mass πᵢⱼ sent from source i to target `target`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coupling {
    pub target: usize,
    pub mass: f64,
}

/// The plan in a drawable form.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanView {
    /// For each source particle, its k largest couplings, largest first.
    pub top_k: Vec<Vec<Coupling>>,
    /// Barycentric map xᵢ ↦ E_π[y | x = xᵢ] = Σⱼ πᵢⱼ yⱼ / Σⱼ πᵢⱼ.
    pub barycentric: Vec<Vec2>,
    /// Row sums Σⱼ πᵢⱼ (≈ aᵢ when converged).
    pub row_mass: Vec<f64>,
}

fn check_sizes(
    x: &[Vec2],
    a: &[f64],
    y: &[Vec2],
    b: &[f64],
    sol: &SinkhornResult,
) -> CoreResult<()> {
    if x.len() != a.len() || y.len() != b.len() || sol.f.len() != x.len() || sol.g.len() != y.len()
    {
        return Err(CoreError::invalid(
            "transport plan: the clouds, weights and Sinkhorn potentials differ in size",
        ));
    }
    if x.is_empty() || y.is_empty() {
        return Err(CoreError::invalid("transport plan: empty point cloud"));
    }
    Ok(())
}

/// Top-k couplings and barycentric map of a Sinkhorn solution (computed online in f64, parallel
/// over source particles; O(N·M)).
pub fn plan_view(
    x: &[Vec2],
    a: &[f64],
    y: &[Vec2],
    b: &[f64],
    sol: &SinkhornResult,
    k: usize,
) -> CoreResult<PlanView> {
    check_sizes(x, a, y, b, sol)?;
    if k == 0 {
        return Err(CoreError::param("plan.top_k", 0.0, "[1, ∞)"));
    }
    let eps = sol.epsilon;
    let k = k.min(y.len());
    let lb: Vec<f64> = b
        .iter()
        .map(|&w| if w > 0.0 { w.ln() } else { f64::NEG_INFINITY })
        .collect();
    let rows: Vec<(Vec<Coupling>, Vec2, f64)> = x
        .par_iter()
        .zip(a.par_iter().zip(sol.f.par_iter()))
        .map(|(&xi, (&ai, &fi))| {
            let la = if ai > 0.0 { ai.ln() } else { f64::NEG_INFINITY };
            let lp: Vec<f64> = y
                .iter()
                .zip(&lb)
                .zip(&sol.g)
                .map(|((yj, lbj), gj)| la + lbj + (fi + gj - dist2(xi, *yj)) / eps)
                .collect();
            let lse = logsumexp(&lp);
            let (mut s0, mut s1) = (0.0, 0.0);
            for (l, yj) in lp.iter().zip(y) {
                let w = (l - lse).exp();
                s0 += w * yj[0];
                s1 += w * yj[1];
            }
            let mut idx: Vec<usize> = (0..y.len()).collect();
            let cmp = |p: &usize, q: &usize| lp[*q].total_cmp(&lp[*p]);
            if k < idx.len() {
                idx.select_nth_unstable_by(k - 1, cmp);
                idx.truncate(k);
            }
            idx.sort_unstable_by(cmp);
            let top = idx
                .into_iter()
                .map(|j| Coupling {
                    target: j,
                    mass: lp[j].exp(),
                })
                .collect();
            (top, [s0, s1], lse.exp())
        })
        .collect();
    let mut view = PlanView {
        top_k: Vec::with_capacity(x.len()),
        barycentric: Vec::with_capacity(x.len()),
        row_mass: Vec::with_capacity(x.len()),
    };
    for (t, m, r) in rows {
        view.top_k.push(t);
        view.barycentric.push(m);
        view.row_mass.push(r);
    }
    if view
        .barycentric
        .iter()
        .any(|p| !(p[0].is_finite() && p[1].is_finite()))
        || view.row_mass.iter().any(|m| !m.is_finite())
    {
        return Err(CoreError::non_finite(
            "transport plan (barycentric map or row mass)",
        ));
    }
    Ok(view)
}

/// The transport cost ⟨π, C⟩ = Σᵢⱼ πᵢⱼ |xᵢ − yⱼ|² of a Sinkhorn solution's plan
/// πᵢⱼ = aᵢ bⱼ exp((fᵢ + gⱼ − |xᵢ − yⱼ|²)/ε), without the entropic term (POT's `ot.sinkhorn2`; OT_ε is
/// this plus ε KL(π ‖ a⊗b)). f64, O(N·M), parallel over rows, summed in row order (deterministic).
pub fn transport_cost(
    x: &[Vec2],
    a: &[f64],
    y: &[Vec2],
    b: &[f64],
    sol: &SinkhornResult,
) -> CoreResult<f64> {
    check_sizes(x, a, y, b, sol)?;
    let eps = sol.epsilon;
    let rows: Vec<f64> = x
        .par_iter()
        .zip(a.par_iter().zip(sol.f.par_iter()))
        .map(|(&xi, (&ai, &fi))| {
            y.iter()
                .zip(b)
                .zip(&sol.g)
                .map(|((yj, &bj), gj)| {
                    let c = dist2(xi, *yj);
                    let w = ai * bj;
                    if w > 0.0 {
                        w * ((fi + gj - c) / eps).exp() * c
                    } else {
                        0.0
                    }
                })
                .sum::<f64>()
        })
        .collect();
    let total: f64 = rows.iter().sum();
    if !total.is_finite() {
        return Err(CoreError::non_finite("transport cost ⟨π, C⟩"));
    }
    Ok(total)
}

/// The dual potentials extended to the grid's cell centres (row-major, see [`Grid`]):
/// (f on the grid from g on the targets, g on the grid from f on the sources).
pub fn potentials_on_grid(
    grid: &Grid,
    x: &[Vec2],
    a: &[f64],
    y: &[Vec2],
    b: &[f64],
    sol: &SinkhornResult,
) -> CoreResult<(Vec<f64>, Vec<f64>)> {
    check_sizes(x, a, y, b, sol)?;
    let z = grid.centers();
    let (f, _) = soft_c_transform(&z, y, b, &sol.g, sol.epsilon, Precision::F64)?;
    let (g, _) = soft_c_transform(&z, x, a, &sol.f, sol.epsilon, Precision::F64)?;
    Ok((f, g))
}

/// The MMD witness w(z) = Σ aᵢ k(z, xᵢ) − Σ bⱼ k(z, yⱼ) at the grid's cell centres (row-major).
pub fn mmd_witness_on_grid(
    grid: &Grid,
    x: &[Vec2],
    a: &[f64],
    y: &[Vec2],
    b: &[f64],
    kernel: &Kernel,
) -> CoreResult<Vec<f64>> {
    Ok(witness(&grid.centers(), x, a, y, b, kernel, Precision::F32)?.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::grid::BBox;
    use crate::core::rng;
    use crate::core::sinkhorn::{SinkhornConfig, sinkhorn, squared_diameter};

    fn cloud(n: usize, seed: u64, shift: Vec2) -> Vec<Vec2> {
        let mut r = rng::seeded(seed);
        (0..n)
            .map(|_| {
                let z = rng::normal2(&mut r);
                [shift[0] + 0.5 * z[0], shift[1] + 0.5 * z[1]]
            })
            .collect()
    }

    fn solve(
        x: &[Vec2],
        y: &[Vec2],
        eps_rel: f64,
        tolerance: f64,
    ) -> (Vec<f64>, Vec<f64>, SinkhornResult) {
        let a = vec![1.0 / x.len() as f64; x.len()];
        let b = vec![1.0 / y.len() as f64; y.len()];
        let cfg = SinkhornConfig {
            epsilon: eps_rel * squared_diameter(x, y),
            scaling: Some(0.5),
            max_iters: 50_000,
            tolerance,
            precision: Precision::F64,
            newton: None,
        };
        let s = sinkhorn(x, &a, y, &b, &cfg).unwrap();
        assert!(
            s.converged,
            "iterations {}, marginal error {}",
            s.iterations, s.marginal_error
        );
        (a, b, s)
    }

    #[test]
    fn plan_rows_hold_their_mass_and_top_k_is_sorted() {
        let x = cloud(40, 1, [0.0, 0.0]);
        let y = cloud(30, 2, [1.0, 0.0]);
        let (a, b, s) = solve(&x, &y, 0.05, 1e-10);
        let full = plan_view(&x, &a, &y, &b, &s, 1000).unwrap();
        for (i, (&ai, top)) in a.iter().zip(&full.top_k).enumerate() {
            let total: f64 = top.iter().map(|c| c.mass).sum();
            assert!((total - ai).abs() < 1e-9, "row {i}: {total}");
            assert!((full.row_mass[i] - ai).abs() < 1e-9);
        }
        let top3 = plan_view(&x, &a, &y, &b, &s, 3).unwrap();
        for (t, f) in top3.top_k.iter().zip(&full.top_k) {
            assert_eq!(t.len(), 3);
            assert!(t.windows(2).all(|w| w[0].mass >= w[1].mass));
            assert_eq!(t[0], f[0]);
            let max = f.iter().map(|c| c.mass).fold(0.0, f64::max);
            assert_eq!(t[0].mass, max);
        }
    }

    #[test]
    fn barycentric_map_of_a_translate_tends_to_the_translation() {
        // OT between a cloud and its translate is the translation; as ε → 0 the barycentric
        // map tends to it (the entropic blur, of width ≈ √ε, pulls outliers toward the bulk).
        let x = cloud(60, 3, [0.0, 0.0]);
        let t = [0.3, -0.2];
        let y: Vec<Vec2> = x.iter().map(|p| [p[0] + t[0], p[1] + t[1]]).collect();
        let mut last = f64::INFINITY;
        for eps_rel in [2e-2, 5e-3, 1.5e-3] {
            let (a, b, s) = solve(&x, &y, eps_rel, 1e-5);
            let v = plan_view(&x, &a, &y, &b, &s, 1).unwrap();
            let mean = x
                .iter()
                .zip(&v.barycentric)
                .map(|(p, q)| dist2([p[0] + t[0], p[1] + t[1]], *q).sqrt())
                .sum::<f64>()
                / x.len() as f64;
            assert!(mean < last, "ε_rel {eps_rel}: mean error {mean} ≥ {last}");
            last = mean;
            let hits = v
                .top_k
                .iter()
                .enumerate()
                .filter(|(i, c)| c[0].target == *i)
                .count();
            println!(
                "ε_rel {eps_rel}: mean barycentric error {mean:.4}, strongest coupling = translate for {hits}/60"
            );
            assert!(
                eps_rel > 2e-3 || hits >= 54,
                "ε_rel {eps_rel}: strongest coupling is the translate for {hits}/60"
            );
        }
        assert!(
            last < 0.1,
            "mean error {last} at the smallest ε (|t| = 0.36)"
        );
    }

    #[test]
    fn grid_potentials_extend_the_solution() {
        let x = cloud(30, 4, [0.0, 0.0]);
        let y = cloud(25, 5, [0.8, 0.3]);
        let (a, b, s) = solve(&x, &y, 0.05, 1e-10);
        let grid = Grid::new(BBox::new(-2.0, 2.0, -2.0, 2.0), 16, 12).unwrap();
        let (fg, gg) = potentials_on_grid(&grid, &x, &a, &y, &b, &s).unwrap();
        assert_eq!(fg.len(), 16 * 12);
        // The extension evaluated on the support reproduces the potentials.
        let (f_at_x, _) = soft_c_transform(&x, &y, &b, &s.g, s.epsilon, Precision::F64).unwrap();
        let scale = squared_diameter(&x, &y);
        for (p, q) in f_at_x.iter().zip(&s.f) {
            assert!((p - q).abs() < 1e-8 * scale, "{p} vs {q}");
        }
        // Grid values equal the direct formula.
        for idx in [0, 37, 191] {
            let z = grid.center_of(idx);
            let l: Vec<f64> = y
                .iter()
                .zip(&b)
                .zip(&s.g)
                .map(|((yj, bj), gj)| bj.ln() + (gj - dist2(z, *yj)) / s.epsilon)
                .collect();
            let direct = -s.epsilon * logsumexp(&l);
            assert!((fg[idx] - direct).abs() < 1e-10 * scale.max(direct.abs()));
            let l: Vec<f64> = x
                .iter()
                .zip(&a)
                .zip(&s.f)
                .map(|((xi, ai), fi)| ai.ln() + (fi - dist2(z, *xi)) / s.epsilon)
                .collect();
            let direct = -s.epsilon * logsumexp(&l);
            assert!((gg[idx] - direct).abs() < 1e-10 * scale.max(direct.abs()));
        }
    }

    #[test]
    fn witness_on_grid_is_positive_at_sources_negative_at_targets() {
        let x = cloud(50, 6, [-1.0, 0.0]);
        let y = cloud(50, 7, [1.0, 0.0]);
        let a = vec![0.02; 50];
        let k = Kernel::Gaussian { sigma: 0.5 };
        let grid = Grid::new(BBox::new(-2.0, 2.0, -1.0, 1.0), 40, 20).unwrap();
        let w = mmd_witness_on_grid(&grid, &x, &a, &y, &a, &k).unwrap();
        let at = |p: Vec2| {
            x.iter().map(|q| 0.02 * k.eval(dist2(p, *q)).0).sum::<f64>()
                - y.iter().map(|q| 0.02 * k.eval(dist2(p, *q)).0).sum::<f64>()
        };
        for idx in [0, 205, 410, 799] {
            let d = at(grid.center_of(idx));
            assert!((w[idx] - d).abs() < 1e-6, "cell {idx}: {} vs {d}", w[idx]);
        }
        // Cells at x = −1 and x = +1 on the middle row.
        assert!(w[10 * 40 + 10] > 0.1 && w[10 * 40 + 29] < -0.1);
    }
}
