//! Whether ∫ p^α q^(1−α) is finite for two Gaussian mixtures, decided exactly from their covariances.
//!
//! Pearson χ² (α = 2), Neyman χ² (α = −1), Amari α and Rényi α outside [0, 1] integrate p^α q^(1−α), which
//! is infinite whenever the lighter-tailed side decays too fast along some direction. A grid cannot see
//! that: it prints a large finite number that depends on the box. The exact criterion for mixtures:
//!
//! For α > 1 write the integrand as p^a / q^b with a = α, b = α − 1 (for α < 0, swap p and q, with
//! a = 1 − α, b = −α). Since w_j N_j ≤ q ≤ J · max_j w_j N_j, the integrand is, up to constant factors,
//! max_i min_j exp(−½ xᵀ M_ij x + linear terms) with M_ij = a Σ_i⁻¹ − b Σ_j⁻¹ (i over the numerator's
//! components, j over the denominator's). It is integrable iff, for every numerator component i and every
//! direction u, max_j uᵀ M_ij u > 0. In 2D, uᵀMu = A + B cos 2θ + C sin 2θ, so the minimum over θ of the
//! upper envelope of those sinusoids is found exactly among finitely many candidates (each sinusoid's own
//! minimum and the crossings of two). A minimum at or below zero (within 1e-9 of a·‖Σ_i⁻¹‖) is
//! reported as divergent along that direction; the borderline case (= 0) is divergent as well, since a
//! Gaussian decay that vanishes along one direction leaves ∫ r dr / r, which diverges, whatever the linear
//! terms do away from it.

use super::fdiv::FDivKind;
use super::gaussian::ln_ndtr;
use super::grid::BBox;
use super::math::Vec2;
use super::mixture::Mixture;

/// Why ∫ p^α q^(1−α) is infinite: which density's tails are too light, and along which direction.
#[derive(Debug, Clone, PartialEq)]
pub struct Divergent {
    /// A unit direction along which the integrand does not decay.
    pub direction: Vec2,
    /// `true` when q's tails are too light for p (α > 1), `false` when p's are too light for q (α < 0).
    pub q_too_light: bool,
}

impl Divergent {
    /// "q's tails are lighter than p's along direction (0.80, 0.60)", for the given integral.
    pub fn reason(&self, integral: &str) -> String {
        let (light, heavy) = if self.q_too_light {
            ("q", "p")
        } else {
            ("p", "q")
        };
        format!(
            "{integral} is infinite: {light}'s tails are too light for {heavy}'s along direction ({:.2}, \
             {:.2})",
            self.direction[0], self.direction[1]
        )
    }
}

/// `Some` when ∫ p^α q^(1−α) dx is infinite for mixtures `p` and `q`; `None` when it is finite (always for
/// α in [0, 1]). Components of zero weight are left out.
pub fn power_integral_diverges(p: &Mixture, q: &Mixture, alpha: f64) -> Option<Divergent> {
    if (0.0..=1.0).contains(&alpha) || !alpha.is_finite() {
        return None;
    }
    let (num, den, a, b, q_too_light) = if alpha > 1.0 {
        (p, q, alpha, alpha - 1.0, true)
    } else {
        (q, p, 1.0 - alpha, -alpha, false)
    };
    let precisions = |m: &Mixture| -> Vec<[f64; 3]> {
        m.weights()
            .iter()
            .zip(m.covariances())
            .filter(|(w, _)| **w > 0.0)
            .filter_map(|(_, c)| inverse(c))
            .collect()
    };
    let (num_prec, den_prec) = (precisions(num), precisions(den));
    for pi in &num_prec {
        // Each denominator component's form M = a·Σ_i⁻¹ − b·Σ_j⁻¹ as the sinusoid A + B cos φ + C sin φ.
        let waves: Vec<[f64; 3]> = den_prec
            .iter()
            .map(|pj| {
                let m = [
                    a * pi[0] - b * pj[0],
                    a * pi[1] - b * pj[1],
                    a * pi[2] - b * pj[2],
                ];
                [(m[0] + m[2]) / 2.0, (m[0] - m[2]) / 2.0, m[1]]
            })
            .collect();
        // The numerator's own scale: a form within 1e-9 of it from zero is the borderline (divergent).
        let scale = a * pi.iter().map(|x| x.abs()).fold(0.0_f64, f64::max);
        let (phi, lowest) = envelope_minimum(&waves);
        if lowest <= 1e-9 * scale {
            let theta = phi / 2.0;
            return Some(Divergent {
                direction: [theta.cos(), theta.sin()],
                q_too_light,
            });
        }
    }
    None
}

/// Why the f-divergence `kind` between mixtures p (target) and q (model) is infinite, in words; `None`
/// when it is finite. Pearson χ² is α = 2, Neyman χ² α = −1, Amari α and Rényi α their α; the other
/// f-divergences (KL both ways, JS, squared Hellinger, TV) are always finite between Gaussian mixtures.
pub fn divergence_infinite(kind: &FDivKind, p: &Mixture, q: &Mixture) -> Option<String> {
    let (alpha, integral) = match kind {
        FDivKind::PearsonChi2 => (2.0, "∫p²/q".to_owned()),
        FDivKind::NeymanChi2 => (-1.0, "∫q²/p".to_owned()),
        FDivKind::Alpha { alpha } | FDivKind::Renyi { alpha } => {
            (*alpha, format!("∫p^α q^(1−α) with α = {alpha}"))
        }
        _ => return None,
    };
    power_integral_diverges(p, q, alpha).map(|d| d.reason(&integral))
}

/// [xx, xy, yy] of the inverse of a symmetric 2×2 matrix, if it is invertible.
fn inverse(c: [[f64; 2]; 2]) -> Option<[f64; 3]> {
    let det = c[0][0] * c[1][1] - c[0][1] * c[1][0];
    (det.is_finite() && det > 0.0).then(|| [c[1][1] / det, -c[0][1] / det, c[0][0] / det])
}

/// The minimum over φ of max_j (A_j + B_j cos φ + C_j sin φ), and where it is.
fn envelope_minimum(waves: &[[f64; 3]]) -> (f64, f64) {
    let value = |phi: f64| {
        waves
            .iter()
            .map(|w| w[0] + w[1] * phi.cos() + w[2] * phi.sin())
            .fold(f64::NEG_INFINITY, f64::max)
    };
    let mut candidates: Vec<f64> = waves
        .iter()
        .map(|w| w[2].atan2(w[1]) + std::f64::consts::PI)
        .collect();
    for (j, u) in waves.iter().enumerate() {
        for v in &waves[j + 1..] {
            let (da, db, dc) = (u[0] - v[0], u[1] - v[1], u[2] - v[2]);
            let r = db.hypot(dc);
            if r > 0.0 && da.abs() <= r {
                let phi0 = dc.atan2(db);
                let spread = (-da / r).clamp(-1.0, 1.0).acos();
                candidates.push(phi0 + spread);
                candidates.push(phi0 - spread);
            }
        }
    }
    candidates
        .into_iter()
        .map(|phi| (phi, value(phi)))
        .fold(
            (0.0, f64::INFINITY),
            |best, c| if c.1 < best.1 { c } else { best },
        )
}

/// An upper bound on ∫ p^α q^(1−α) over the outside of `region`, for mixtures p and q and α outside
/// [0, 1] where the integral is finite ([`power_integral_diverges`] is `None`), in closed form; `None`
/// when α is in [0, 1] or no bound below was found (then the grid's value cannot be vouched for).
///
/// With the numerator's components i (n of them) and the denominator's j as in the module docs, and
/// a ≥ 1 the numerator's power: (Σᵢ xᵢ)^a ≤ n^(a−1) Σᵢ xᵢ^a (convexity) and q^(−b) ≤ (w_j N_j)^(−b) for
/// every j, so the integrand is at most n^(a−1) Σᵢ min_j f_ij with f_ij = (wᵢNᵢ)^a (w_jN_j)^(−b). A
/// minimum is at most any weighted geometric mean Π_j f_ij^(λ_j) (λ ≥ 0, Σλ = 1), an unnormalized
/// Gaussian when its form Σ_j λ_j M_ij is positive definite: its mass outside the box is at most its
/// total mass times the four one-sided tail probabilities of its axis marginals (a union bound). The
/// λ tried per i: each vertex, and the mixes ¼, ½, ¾ of every pair; the smallest bound is kept.
pub fn outside_mass_bound(p: &Mixture, q: &Mixture, alpha: f64, region: &BBox) -> Option<f64> {
    if (0.0..=1.0).contains(&alpha) || !alpha.is_finite() {
        return None;
    }
    let (num, den, a, b) = if alpha > 1.0 {
        (p, q, alpha, alpha - 1.0)
    } else {
        (q, p, 1.0 - alpha, -alpha)
    };
    let num_parts = log_gaussian_parts(num);
    let den_parts = log_gaussian_parts(den);
    if num_parts.is_empty() || den_parts.is_empty() {
        return None;
    }
    let n = num_parts.len() as f64;
    let mut total = 0.0;
    for ni in &num_parts {
        // Each f_ij as (K, M = [xx, xy, yy], h, c): ln f = K − ½ xᵀMx + hᵀx − ½c.
        let forms: Vec<Form> = den_parts
            .iter()
            .map(|dj| Form {
                k: a * ni.log_norm - b * dj.log_norm,
                m: [
                    a * ni.prec[0] - b * dj.prec[0],
                    a * ni.prec[1] - b * dj.prec[1],
                    a * ni.prec[2] - b * dj.prec[2],
                ],
                h: [a * ni.ph[0] - b * dj.ph[0], a * ni.ph[1] - b * dj.ph[1]],
                c: a * ni.quad - b * dj.quad,
            })
            .collect();
        let mut mixes: Vec<Form> = forms.clone();
        for (j, u) in forms.iter().enumerate() {
            for v in &forms[j + 1..] {
                for t in [0.25, 0.5, 0.75] {
                    mixes.push(u.mix(v, t));
                }
            }
        }
        let best = mixes
            .iter()
            .filter_map(|f| f.outside_mass(region))
            .fold(f64::INFINITY, f64::min);
        if !best.is_finite() {
            return None;
        }
        total += best;
    }
    Some(n.powf(a - 1.0) * total)
}

/// ln(w (2π)⁻¹ |Σ|^(−½)), the precision P = Σ⁻¹ as [xx, xy, yy], Pμ and μᵀPμ of a component.
struct LogGaussian {
    log_norm: f64,
    prec: [f64; 3],
    ph: Vec2,
    quad: f64,
}

fn log_gaussian_parts(m: &Mixture) -> Vec<LogGaussian> {
    m.weights()
        .iter()
        .zip(m.means())
        .zip(m.covariances())
        .filter(|((w, _), _)| **w > 0.0)
        .filter_map(|((w, mu), c)| {
            let det = c[0][0] * c[1][1] - c[0][1] * c[1][0];
            let p = inverse(c)?;
            let ph = [p[0] * mu[0] + p[1] * mu[1], p[1] * mu[0] + p[2] * mu[1]];
            Some(LogGaussian {
                log_norm: w.ln() - (2.0 * std::f64::consts::PI).ln() - 0.5 * det.ln(),
                prec: p,
                ph,
                quad: mu[0] * ph[0] + mu[1] * ph[1],
            })
        })
        .collect()
}

/// exp(k − ½ xᵀMx + hᵀx − ½c), M = [xx, xy, yy].
#[derive(Clone)]
struct Form {
    k: f64,
    m: [f64; 3],
    h: Vec2,
    c: f64,
}

impl Form {
    /// The weighted geometric mean f^(1−t) g^t.
    fn mix(&self, g: &Form, t: f64) -> Form {
        let l = |x: f64, y: f64| (1.0 - t) * x + t * y;
        Form {
            k: l(self.k, g.k),
            m: [
                l(self.m[0], g.m[0]),
                l(self.m[1], g.m[1]),
                l(self.m[2], g.m[2]),
            ],
            h: [l(self.h[0], g.h[0]), l(self.h[1], g.h[1])],
            c: l(self.c, g.c),
        }
    }

    /// An upper bound on its integral outside `region` (total mass × union of the four one-sided
    /// marginal tails, at most the total mass); `None` unless M is positive definite.
    fn outside_mass(&self, region: &BBox) -> Option<f64> {
        let det = self.m[0] * self.m[2] - self.m[1] * self.m[1];
        if !(self.m[0] > 0.0 && det > 0.0 && det.is_finite()) {
            return None;
        }
        // S = M⁻¹, the peak m = S h.
        let s = [self.m[2] / det, -self.m[1] / det, self.m[0] / det];
        let peak = [
            s[0] * self.h[0] + s[1] * self.h[1],
            s[1] * self.h[0] + s[2] * self.h[1],
        ];
        let log_total = self.k - 0.5 * self.c
            + 0.5 * (self.h[0] * peak[0] + self.h[1] * peak[1])
            + (2.0 * std::f64::consts::PI).ln()
            - 0.5 * det.ln();
        let (sx, sy) = (s[0].sqrt(), s[2].sqrt());
        let tails = [
            ln_ndtr((region.x_min - peak[0]) / sx),
            ln_ndtr((peak[0] - region.x_max) / sx),
            ln_ndtr((region.y_min - peak[1]) / sy),
            ln_ndtr((peak[1] - region.y_max) / sy),
        ];
        let log_outside = super::math::logsumexp(&tails).min(0.0);
        let v = (log_total + log_outside).exp();
        v.is_finite().then_some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaussian(var: [f64; 2]) -> Mixture {
        Mixture::single([0.0, 0.0], [[var[0], 0.0], [0.0, var[1]]]).unwrap()
    }

    #[test]
    fn pearson_between_gaussians_is_finite_iff_q_is_wider_than_half_of_p() {
        // ∫ N(0,1)² / N(0,s²) dx = s / √(2s² − 1) per dimension: finite iff s² > ½.
        let p = gaussian([1.0, 1.0]);
        assert_eq!(
            power_integral_diverges(&p, &gaussian([0.6, 0.6]), 2.0),
            None
        );
        let d = power_integral_diverges(&p, &gaussian([0.4, 0.4]), 2.0).unwrap();
        assert!(d.q_too_light);
        assert!((d.direction[0].hypot(d.direction[1]) - 1.0).abs() < 1e-12);
        // Exactly at s² = ½ the integral diverges (the borderline counts as infinite).
        assert!(power_integral_diverges(&p, &gaussian([0.5, 0.5]), 2.0).is_some());
    }

    #[test]
    fn the_direction_is_the_one_where_q_is_too_narrow() {
        // q is narrow along x only (0.4 < ½), wide along y.
        let d = power_integral_diverges(&gaussian([1.0, 1.0]), &gaussian([0.4, 4.0]), 2.0).unwrap();
        assert!(d.direction[0].abs() > 0.99, "{:?}", d.direction);
        assert!(
            d.reason("∫p²/q")
                .contains("q's tails are too light for p's")
        );
    }

    #[test]
    fn neyman_and_negative_alpha_swap_the_roles() {
        // Neyman χ² = ∫q²/p − 1 (α = −1): infinite when p is too narrow for q.
        let (wide, narrow) = (gaussian([1.0, 1.0]), gaussian([0.4, 0.4]));
        assert_eq!(power_integral_diverges(&wide, &narrow, -1.0), None);
        let d = power_integral_diverges(&narrow, &wide, -1.0).unwrap();
        assert!(!d.q_too_light);
        assert!(
            d.reason("∫q²/p")
                .contains("p's tails are too light for q's")
        );
    }

    #[test]
    fn alpha_in_the_unit_interval_is_always_finite() {
        let (p, q) = (gaussian([1.0, 1.0]), gaussian([1e-3, 1e-3]));
        for alpha in [0.0, 0.25, 0.5, 1.0] {
            assert_eq!(power_integral_diverges(&p, &q, alpha), None);
        }
    }

    #[test]
    fn two_narrow_components_cover_each_others_weak_direction() {
        // Each of q's components alone is too narrow for p = N(0, I) along one axis, but together they
        // cover every direction: along the diagonal 2 − (¼ + 1/0.3)/2 > 0.
        let p = gaussian([1.0, 1.0]);
        let q = Mixture::from_components(
            &[0.5, 0.5],
            &[[0.0, 0.0], [0.0, 0.0]],
            &[[[4.0, 0.0], [0.0, 0.3]], [[0.3, 0.0], [0.0, 4.0]]],
        )
        .unwrap();
        assert_eq!(power_integral_diverges(&p, &q, 2.0), None);
        for one in [gaussian([4.0, 0.3]), gaussian([0.3, 4.0])] {
            assert!(power_integral_diverges(&p, &one, 2.0).is_some());
        }
        // A heavier numerator (α = 3: 3·I − 2·Σ_j⁻¹) is no longer covered on the diagonal.
        let d = power_integral_diverges(&p, &q, 3.0).unwrap();
        assert!(
            (d.direction[0].abs() - d.direction[1].abs()).abs() < 0.3,
            "{:?}",
            d.direction
        );
    }

    #[test]
    fn agrees_with_brute_force_directions_on_random_mixtures() {
        use crate::core::rng::{seeded, uniform};
        let mut r = seeded(3);
        let cov = |r: &mut crate::core::rng::Rng| {
            let (a, b, t) = (
                0.05 + 2.0 * uniform(r),
                0.05 + 2.0 * uniform(r),
                std::f64::consts::PI * uniform(r),
            );
            let (c, s) = (t.cos(), t.sin());
            [
                [a * c * c + b * s * s, (a - b) * c * s],
                [(a - b) * c * s, a * s * s + b * c * c],
            ]
        };
        let (mut finite, mut infinite, mut missed_by_brute_force) = (0, 0, 0);
        for _ in 0..300 {
            let p = Mixture::from_components(
                &[0.5, 0.5],
                &[[0.0, 0.0], [1.0, 0.0]],
                &[cov(&mut r), cov(&mut r)],
            )
            .unwrap();
            let q = Mixture::from_components(
                &[0.3, 0.7],
                &[[0.0, 1.0], [0.0, 0.0]],
                &[cov(&mut r), cov(&mut r)],
            )
            .unwrap();
            // Brute force: the same forms on 20 000 directions.
            let pi: Vec<[f64; 3]> = p.covariances().into_iter().filter_map(inverse).collect();
            let qj: Vec<[f64; 3]> = q.covariances().into_iter().filter_map(inverse).collect();
            let brute = pi.iter().any(|a| {
                (0..20_000).any(|k| {
                    let t = std::f64::consts::PI * k as f64 / 20_000.0;
                    let (c, s) = (t.cos(), t.sin());
                    qj.iter().all(|b| {
                        let m = [2.0 * a[0] - b[0], 2.0 * a[1] - b[1], 2.0 * a[2] - b[2]];
                        m[0] * c * c + 2.0 * m[1] * c * s + m[2] * s * s <= 0.0
                    })
                })
            });
            let exact = power_integral_diverges(&p, &q, 2.0).is_some();
            assert!(
                !brute || exact,
                "brute force finds a divergent direction the exact test missed"
            );
            // The exact test may also catch a divergent arc thinner than the brute force's spacing.
            if exact && !brute {
                missed_by_brute_force += 1;
            }
            if exact {
                infinite += 1;
            } else {
                finite += 1;
            }
        }
        assert!(
            finite > 20 && infinite > 20,
            "{finite} finite, {infinite} infinite"
        );
        assert!(
            missed_by_brute_force <= 3,
            "{missed_by_brute_force} of 300 only the exact test finds"
        );
    }
}
