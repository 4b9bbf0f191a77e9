//! Mirrored SVGD on the 2-simplex (Shi, Sun and Mackey, *Sampling with Mirrored Stein Operators*): SVGD run
//! in the coordinates of a mirror map, so that a target on a constrained domain is sampled without any
//! particle leaving it.
//!
//! Coordinates: θ = (x, y) on the open simplex x > 0, y > 0, θ₃ = 1 − x − y > 0 (the `dirichlet` target's).
//! The mirror map is the simplex's negative entropy ψ(θ) = Σₖ θₖ ln θₖ (k = 1, 2, 3), so that
//! - η = ∇ψ(θ) = (ln θ₁ − ln θ₃, ln θ₂ − ln θ₃) (the dual, unconstrained coordinates),
//! - θ = ∇ψ*(η) = (e^{η₁}, e^{η₂}) / (1 + e^{η₁} + e^{η₂}), always inside,
//! - ∇²ψ(θ)⁻¹ = diag(θ) − θθᵀ, and the divergence of each of its rows is ∇·(∇²ψ⁻¹)(θ) = 1 − 3θ.
//!
//! The mirrored Stein operator of p with the matrix kernel k(θ′, θ)·I gives the update direction
//! g(θ) = E_{θ′∼q}[k(θ′, θ) ∇²ψ(θ′)⁻¹ ∇ln p(θ′) + ∇_{θ′}·(k(θ′, θ) ∇²ψ(θ′)⁻¹)], applied in the dual:
//! η ← η + ε g(θ), θ ← ∇ψ*(η). The kernel is SVGD's RBF k(θ′, θ) = exp(−|θ′ − θ|²/h) on θ (the primal
//! coordinates), with h fixed or the median heuristic. ∇²ψ⁻¹∇ln p stays bounded at the edges even where the
//! score does not (for a Dirichlet it is (αₖ − 1) − θₖ(α₁ + α₂ + α₃ − 3)), which is what lets the flow
//! sample densities piled against an edge.

use rayon::prelude::*;

use super::error::{CoreError, CoreResult};
use super::gaussian::Mat2;
use super::math::{Vec2, is_finite2};

/// θ₃ = 1 − x − y.
fn third(t: Vec2) -> f64 {
    1.0 - t[0] - t[1]
}

/// η = ∇ψ(θ) for θ inside the simplex.
pub fn to_dual(t: Vec2) -> Vec2 {
    let l3 = third(t).ln();
    [t[0].ln() - l3, t[1].ln() - l3]
}

/// θ = ∇ψ*(η), evaluated with the largest exponent factored out (no overflow for any finite η).
pub fn to_primal(e: Vec2) -> Vec2 {
    let m = e[0].max(e[1]).max(0.0);
    let (a, b, c) = ((e[0] - m).exp(), (e[1] - m).exp(), (-m).exp());
    let s = a + b + c;
    [a / s, b / s]
}

/// ∇²ψ(θ)⁻¹ = diag(θ) − θθᵀ (also the Jacobian of ∇ψ* at η = ∇ψ(θ)).
pub fn inverse_hessian(t: Vec2) -> Mat2 {
    [
        [t[0] * (1.0 - t[0]), -t[0] * t[1]],
        [-t[0] * t[1], t[1] * (1.0 - t[1])],
    ]
}

/// The divergence of each row of ∇²ψ(θ)⁻¹: Σⱼ ∂ⱼ(θᵢδᵢⱼ − θᵢθⱼ) = 1 − 3θᵢ.
pub fn inverse_hessian_divergence(t: Vec2) -> Vec2 {
    [1.0 - 3.0 * t[0], 1.0 - 3.0 * t[1]]
}

fn mat_vec(a: &Mat2, v: Vec2) -> Vec2 {
    [
        a[0][0] * v[0] + a[0][1] * v[1],
        a[1][0] * v[0] + a[1][1] * v[1],
    ]
}

/// The mirrored SVGD direction g(θᵢ) at every particle, from the particles `x` (inside the simplex), the
/// target's score at each and the RBF bandwidth `h` (length²).
pub fn direction(x: &[Vec2], scores: &[Vec2], h: f64) -> Vec<Vec2> {
    let n = x.len() as f64;
    // Per particle j: A_j = ∇²ψ(θⱼ)⁻¹ and A_j sⱼ + ∇·A_j, the part of the operator without the kernel's gradient.
    let parts: Vec<(Mat2, Vec2)> = x
        .iter()
        .zip(scores)
        .map(|(t, s)| {
            let a = inverse_hessian(*t);
            let drift = mat_vec(&a, *s);
            let div = inverse_hessian_divergence(*t);
            (a, [drift[0] + div[0], drift[1] + div[1]])
        })
        .collect();
    x.par_iter()
        .map(|xi| {
            let mut g = [0.0; 2];
            for (xj, (a, drift)) in x.iter().zip(&parts) {
                let d = [xi[0] - xj[0], xi[1] - xj[1]];
                let k = (-(d[0] * d[0] + d[1] * d[1]) / h).exp();
                // ∇_{θⱼ} k(θⱼ, θᵢ) = k · 2(θᵢ − θⱼ)/h, carried through A_j.
                let r = mat_vec(a, [2.0 * d[0] / h, 2.0 * d[1] / h]);
                g[0] += k * (drift[0] + r[0]);
                g[1] += k * (drift[1] + r[1]);
            }
            [g[0] / n, g[1] / n]
        })
        .collect()
}

/// One mirrored SVGD step of size `eta` (dual units): η ← ∇ψ(θ) + eta·g(θ), θ ← ∇ψ*(η). Refused (with the
/// particle) when a new position is not finite or rounds onto an edge of the simplex.
pub fn step(x: &[Vec2], scores: &[Vec2], h: f64, eta: f64) -> CoreResult<Vec<Vec2>> {
    let g = direction(x, scores, h);
    let out: Vec<Vec2> = x
        .iter()
        .zip(&g)
        .map(|(t, gi)| {
            let e = to_dual(*t);
            to_primal([e[0] + eta * gi[0], e[1] + eta * gi[1]])
        })
        .collect();
    if let Some(i) = out
        .iter()
        .position(|t| !(is_finite2(*t) && t[0] > 0.0 && t[1] > 0.0 && third(*t) > 0.0))
    {
        return Err(CoreError::non_finite(format!(
            "mirrored SVGD position of particle {i}: the step of size {eta} pushes it within rounding of the \
             simplex's edge; lower step_size"
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::rng::seeded;
    use crate::core::target::{DirichletSpec, Target, TargetSpec};

    fn interior_points() -> Vec<Vec2> {
        vec![
            [0.2, 0.3],
            [0.6, 0.1],
            [0.05, 0.9],
            [1e-6, 0.5],
            [0.33, 0.33],
        ]
    }

    #[test]
    fn the_dual_map_inverts_the_primal_one() {
        for t in interior_points() {
            let back = to_primal(to_dual(t));
            for k in 0..2 {
                assert!(
                    (back[k] - t[k]).abs() <= 1e-14 * t[k].max(1e-3),
                    "{t:?} → {back:?}"
                );
            }
        }
        // Far out in the dual the point stays strictly inside.
        for e in [[700.0, -700.0], [-700.0, -700.0], [40.0, 40.0]] {
            let t = to_primal(e);
            assert!(
                t[0] >= 0.0 && t[1] >= 0.0 && third(t) >= 0.0,
                "{e:?} → {t:?}"
            );
        }
    }

    /// ∇ψ* has Jacobian ∇²ψ⁻¹: central differences of `to_primal` in η against `inverse_hessian`.
    #[test]
    fn the_inverse_hessian_is_the_jacobian_of_the_primal_map() {
        let h = 1e-6;
        for t in interior_points() {
            let e = to_dual(t);
            let a = inverse_hessian(t);
            for j in 0..2 {
                let mut up = e;
                let mut down = e;
                up[j] += h;
                down[j] -= h;
                let (tu, td) = (to_primal(up), to_primal(down));
                for i in 0..2 {
                    let fd = (tu[i] - td[i]) / (2.0 * h);
                    assert!(
                        (fd - a[i][j]).abs() < 1e-8,
                        "{t:?} [{i}][{j}]: {fd} vs {}",
                        a[i][j]
                    );
                }
            }
        }
    }

    /// Σⱼ ∂ⱼ Aᵢⱼ by central differences against the closed form 1 − 3θᵢ.
    #[test]
    fn the_divergence_matches_finite_differences() {
        let h = 1e-6;
        for t in interior_points().into_iter().filter(|t| t[0] > 1e-3) {
            let div = inverse_hessian_divergence(t);
            for (i, d) in div.iter().enumerate() {
                let mut fd = 0.0;
                for j in 0..2 {
                    let mut up = t;
                    let mut down = t;
                    up[j] += h;
                    down[j] -= h;
                    fd += (inverse_hessian(up)[i][j] - inverse_hessian(down)[i][j]) / (2.0 * h);
                }
                assert!((fd - d).abs() < 1e-8, "{t:?}: {fd} vs {d}");
            }
        }
    }

    /// The mirrored Stein identity E_p[∇²ψ⁻¹∇ln p + ∇·∇²ψ⁻¹] = 0 (a constant kernel), on exact Dirichlet
    /// samples, to Monte Carlo error; and clearly non-zero on a cloud that is not p.
    #[test]
    fn the_mirrored_stein_operator_has_mean_zero_under_the_target() {
        let alpha = [0.6, 2.5, 4.0];
        let target = Target::build(&TargetSpec::Dirichlet(DirichletSpec { alpha }), None)
            .unwrap_or_else(|e| panic!("{e}"));
        let p = target.density().expect("a density target");
        let n = 200_000;
        let x = target.sample(n, &mut seeded(7));
        let operator_mean = |cloud: &[Vec2]| -> Vec<(f64, f64)> {
            let terms: Vec<Vec2> = cloud
                .iter()
                .map(|t| {
                    let d = mat_vec(&inverse_hessian(*t), p.score(*t));
                    let v = inverse_hessian_divergence(*t);
                    [d[0] + v[0], d[1] + v[1]]
                })
                .collect();
            let m = cloud.len() as f64;
            (0..2)
                .map(|k| {
                    let mean = terms.iter().map(|v| v[k]).sum::<f64>() / m;
                    let var = terms.iter().map(|v| (v[k] - mean).powi(2)).sum::<f64>() / (m - 1.0);
                    (mean, (var / m).sqrt())
                })
                .collect()
        };
        for (k, (mean, se)) in operator_mean(&x).into_iter().enumerate() {
            assert!(
                mean.abs() < 5.0 * se,
                "coordinate {k}: mean {mean:.3e}, se {se:.3e}"
            );
        }
        // A uniform cloud on the simplex (Dirichlet(1, 1, 1)) is not p: there the mean of a term, αₖ − θₖ α₀,
        // is αₖ − α₀/3 (−1.77 for k = 1), many standard errors from 0.
        let uniform = Target::build(
            &TargetSpec::Dirichlet(DirichletSpec { alpha: [1.0; 3] }),
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .sample(n, &mut seeded(8));
        let (mean, se) = operator_mean(&uniform)[0];
        let want = alpha[0] - alpha.iter().sum::<f64>() / 3.0;
        assert!((mean - want).abs() < 5.0 * se, "{mean} vs {want}");
        assert!(mean.abs() > 100.0 * se, "{mean} ± {se}");
    }

    #[test]
    fn a_mirrored_step_keeps_every_particle_inside() {
        // Scores pulling hard toward the edge x = 0: ∇²ψ⁻¹s ≈ −50 outweighs the divergence term (≈ 1), so
        // a unit step moves η₁ by about −49, which in θ would land far beyond the edge.
        let x: Vec<Vec2> = (0..50)
            .map(|i| [1e-4 * (1 + i) as f64, 0.2 + 0.01 * i as f64])
            .collect();
        let s: Vec<Vec2> = x.iter().map(|t| [-50.0 / t[0], 0.0]).collect();
        let out = step(&x, &s, 0.05, 1.0).unwrap_or_else(|e| panic!("{e}"));
        for (t, before) in out.iter().zip(&x) {
            assert!(t[0] > 0.0 && t[1] > 0.0 && third(*t) > 0.0, "{t:?}");
            // Toward the edge, by many orders of magnitude, and still inside.
            assert!(t[0] < 1e-10 * before[0], "{before:?} → {t:?}");
        }
    }
}
