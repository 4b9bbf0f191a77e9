//! Single 2D Gaussians, 2×2 symmetric matrices, and the normal CDF / erfc special functions.
//!
//! Covariances are `Mat2 = [[a, b], [b, d]]` (row-major, symmetric positive definite). The Cholesky
//! factor is lower triangular `L = [[l11, 0], [l21, l22]]` with `Σ = L Lᵀ`.

use serde::{Deserialize, Serialize};

use super::error::{CoreError, CoreResult};
use super::math::{Vec2, sub};
use super::rng::{Rng, normal2};

/// A 2×2 matrix, row-major.
pub type Mat2 = [[f64; 2]; 2];

/// ln(2π).
pub const LN_2PI: f64 = 1.837_877_066_409_345_3;

pub fn det2(m: &Mat2) -> f64 {
    m[0][0] * m[1][1] - m[0][1] * m[1][0]
}

pub fn trace2(m: &Mat2) -> f64 {
    m[0][0] + m[1][1]
}

/// Inverse of a 2×2 matrix, `None` when singular or non-finite.
pub fn inv2(m: &Mat2) -> Option<Mat2> {
    let d = det2(m);
    if d == 0.0 || !d.is_finite() {
        return None;
    }
    Some([[m[1][1] / d, -m[0][1] / d], [-m[1][0] / d, m[0][0] / d]])
}

pub fn matmul2(a: &Mat2, b: &Mat2) -> Mat2 {
    [
        [
            a[0][0] * b[0][0] + a[0][1] * b[1][0],
            a[0][0] * b[0][1] + a[0][1] * b[1][1],
        ],
        [
            a[1][0] * b[0][0] + a[1][1] * b[1][0],
            a[1][0] * b[0][1] + a[1][1] * b[1][1],
        ],
    ]
}

pub fn matvec2(a: &Mat2, v: Vec2) -> Vec2 {
    [
        a[0][0] * v[0] + a[0][1] * v[1],
        a[1][0] * v[0] + a[1][1] * v[1],
    ]
}

pub fn add2(a: &Mat2, b: &Mat2) -> Mat2 {
    [
        [a[0][0] + b[0][0], a[0][1] + b[0][1]],
        [a[1][0] + b[1][0], a[1][1] + b[1][1]],
    ]
}

pub fn scale_mat2(a: &Mat2, s: f64) -> Mat2 {
    [[a[0][0] * s, a[0][1] * s], [a[1][0] * s, a[1][1] * s]]
}

pub fn identity2() -> Mat2 {
    [[1.0, 0.0], [0.0, 1.0]]
}

/// A 2×2 matrix as a file writes it: `[[a, b], [c, d]]` with short numbers.
fn mat_words(m: &Mat2) -> String {
    let n = super::math::exact_number;
    format!(
        "[[{}, {}], [{}, {}]]",
        n(m[0][0]),
        n(m[0][1]),
        n(m[1][0]),
        n(m[1][1])
    )
}

/// Checks that `m` is finite, symmetric (relative tolerance 1e-9) and positive definite; the error
/// ([`CoreError::Field`]) names `name` and says what was found.
pub fn check_spd(name: &str, m: &Mat2) -> CoreResult<()> {
    let flat = [m[0][0], m[0][1], m[1][0], m[1][1]];
    let spd = "a covariance must be symmetric positive definite";
    if flat.iter().any(|v| !v.is_finite()) {
        return Err(CoreError::field(
            name,
            format!("{} has a non-finite entry; {spd}", mat_words(m)),
        ));
    }
    let scale = m[0][0].abs().max(m[1][1].abs()).max(1e-300);
    if (m[0][1] - m[1][0]).abs() > 1e-9 * scale {
        return Err(CoreError::field(
            name,
            format!(
                "{} is not symmetric ([0][1] = {} but [1][0] = {}); {spd}",
                mat_words(m),
                super::math::exact_number(m[0][1]),
                super::math::exact_number(m[1][0])
            ),
        ));
    }
    let det = det2(m);
    if m[0][0] <= 0.0 || det <= 0.0 {
        return Err(CoreError::field(
            name,
            format!(
                "{} is not positive definite ([0][0] = {} and the determinant {} must both be above 0); {spd}",
                mat_words(m),
                super::math::exact_number(m[0][0]),
                super::math::exact_number(det)
            ),
        ));
    }
    Ok(())
}

/// Cholesky factor `(l11, l21, l22)` of an SPD matrix.
pub fn cholesky2(name: &str, m: &Mat2) -> CoreResult<[f64; 3]> {
    check_spd(name, m)?;
    let l11 = m[0][0].sqrt();
    let l21 = m[1][0] / l11;
    let r = m[1][1] - l21 * l21;
    if r <= 0.0 || !r.is_finite() {
        return Err(CoreError::field(
            name,
            format!(
                "{} is numerically not positive definite (its Cholesky factor has no real diagonal); a covariance must be symmetric positive definite",
                mat_words(m)
            ),
        ));
    }
    Ok([l11, l21, r.sqrt()])
}

/// `log N(x; 0, S)` together with `∂/∂x = −S⁻¹x` and `∂/∂S = ½(S⁻¹xxᵀS⁻¹ − S⁻¹)` (symmetric).
pub fn log_normal_with_grads(x: Vec2, s: &Mat2) -> CoreResult<(f64, Vec2, Mat2)> {
    let det = det2(s);
    let inv = match inv2(s) {
        Some(inv) if det > 0.0 => inv,
        _ => {
            return Err(CoreError::invalid(format!(
                "covariance {s:?} is not positive definite"
            )));
        }
    };
    let u = matvec2(&inv, x);
    let quad = x[0] * u[0] + x[1] * u[1];
    let val = -LN_2PI - 0.5 * det.ln() - 0.5 * quad;
    let gs = [
        [
            0.5 * (u[0] * u[0] - inv[0][0]),
            0.5 * (u[0] * u[1] - inv[0][1]),
        ],
        [
            0.5 * (u[1] * u[0] - inv[1][0]),
            0.5 * (u[1] * u[1] - inv[1][1]),
        ],
    ];
    Ok((val, [-u[0], -u[1]], gs))
}

/// A 2D Gaussian `N(mean, cov)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct Gaussian {
    pub mean: Vec2,
    pub cov: Mat2,
}

impl Gaussian {
    /// Validates finiteness of the mean and SPD of the covariance.
    pub fn new(mean: Vec2, cov: Mat2) -> CoreResult<Self> {
        let g = Self { mean, cov };
        g.validate()?;
        Ok(g)
    }

    pub fn validate(&self) -> CoreResult<()> {
        if !(self.mean[0].is_finite() && self.mean[1].is_finite()) {
            return Err(CoreError::invalid(format!(
                "gaussian.mean = {:?} must be finite",
                self.mean
            )));
        }
        check_spd("gaussian.cov", &self.cov)
    }

    /// Normalized log-density.
    pub fn log_density(&self, x: Vec2) -> f64 {
        let d = sub(x, self.mean);
        match log_normal_with_grads(d, &self.cov) {
            Ok((v, _, _)) => v,
            Err(_) => f64::NEG_INFINITY,
        }
    }

    /// ∇ₓ log N(x) = −Σ⁻¹(x − μ).
    pub fn score(&self, x: Vec2) -> Vec2 {
        let d = sub(x, self.mean);
        match inv2(&self.cov) {
            Some(inv) => {
                let u = matvec2(&inv, d);
                [-u[0], -u[1]]
            }
            None => [0.0, 0.0],
        }
    }

    /// `n` exact samples μ + Lε.
    pub fn sample(&self, n: usize, rng: &mut Rng) -> CoreResult<Vec<Vec2>> {
        let [l11, l21, l22] = cholesky2("gaussian.cov", &self.cov)?;
        Ok((0..n)
            .map(|_| {
                let e = normal2(rng);
                [
                    self.mean[0] + l11 * e[0],
                    self.mean[1] + l21 * e[0] + l22 * e[1],
                ]
            })
            .collect())
    }
}

// ---------------------------------------------------------------------------------------------
// Special functions (f64; relative accuracy better than 1e-11 over the whole line — the worst
// case is 1 − erf just below the switch at 2.5 — tested below).

const FRAC_2_SQRT_PI: f64 = std::f64::consts::FRAC_2_SQRT_PI;
const SQRT_PI: f64 = 1.772_453_850_905_516;

/// erf(x) for |x| ≤ 3 by the all-positive series
/// `erf x = (2/√π) e^{−x²} Σ 2ⁿ x^{2n+1} / (1·3·…·(2n+1))` (no cancellation).
fn erf_series(x: f64) -> f64 {
    let x2 = x * x;
    let mut term = x;
    let mut sum = x;
    let mut n = 0.0;
    while n < 200.0 {
        term *= 2.0 * x2 / (2.0 * n + 3.0);
        sum += term;
        if term.abs() < 1e-17 * sum.abs() {
            break;
        }
        n += 1.0;
    }
    FRAC_2_SQRT_PI * (-x2).exp() * sum
}

/// Scaled complementary error function `erfcx(x) = e^{x²} erfc(x)` for x ≥ 2.5, by the continued
/// fraction `erfc x = e^{−x²}/√π · 1/(x + ½/(x + 1/(x + 3/2/(x + …))))`, evaluated backwards.
fn erfcx_cf(x: f64) -> f64 {
    let mut f = x;
    let mut k = 120.0;
    while k >= 1.0 {
        f = x + (0.5 * k) / f;
        k -= 1.0;
    }
    1.0 / (SQRT_PI * f)
}

/// Complementary error function erfc(x) = 1 − erf(x).
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 2.5 {
        1.0 - erf_series(x)
    } else if x > 27.5 {
        0.0
    } else {
        erfcx_cf(x) * (-x * x).exp()
    }
}

/// Error function.
pub fn erf(x: f64) -> f64 {
    if x.abs() < 2.5 {
        erf_series(x)
    } else {
        1.0 - erfc(x)
    }
}

/// ln erfc(x), finite for every finite x.
pub fn ln_erfc(x: f64) -> f64 {
    if x >= 2.5 {
        erfcx_cf(x).ln() - x * x
    } else {
        erfc(x).ln()
    }
}

/// Standard normal CDF Φ(u).
pub fn ndtr(u: f64) -> f64 {
    0.5 * erfc(-u * std::f64::consts::FRAC_1_SQRT_2)
}

/// ln Φ(u), finite for every finite u.
pub fn ln_ndtr(u: f64) -> f64 {
    std::f64::consts::LN_2.mul_add(-1.0, ln_erfc(-u * std::f64::consts::FRAC_1_SQRT_2))
}

/// ln φ(u) for the standard normal density.
pub fn ln_npdf(u: f64) -> f64 {
    -0.5 * (LN_2PI + u * u)
}

/// ln(1 − eᵈ) for d ≤ 0, accurately.
fn ln_one_minus_exp(d: f64) -> f64 {
    if d > -std::f64::consts::LN_2 {
        (-d.exp_m1()).ln()
    } else {
        (-d.exp()).ln_1p()
    }
}

/// ln(Φ(u) − Φ(v)) for u > v, accurate in both tails.
pub fn ln_diff_ndtr(u: f64, v: f64) -> f64 {
    if u <= v {
        return f64::NEG_INFINITY;
    }
    if v >= 0.0 {
        // Φ(u) − Φ(v) = Φ(−v) − Φ(−u).
        let a = ln_ndtr(-v);
        let b = ln_ndtr(-u);
        a + ln_one_minus_exp(b - a)
    } else if u <= 0.0 {
        let a = ln_ndtr(u);
        let b = ln_ndtr(v);
        a + ln_one_minus_exp(b - a)
    } else {
        (ndtr(u) - ndtr(v)).ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfc_matches_known_values_and_branches_agree() {
        // Known values (Abramowitz–Stegun / high-precision tables).
        let cases = [
            (0.5, 0.479_500_122_186_953_5),
            (1.0, 0.157_299_207_050_285_13),
            (2.0, 0.004_677_734_981_047_266),
            (3.0, 2.209_049_699_858_544e-5),
            (5.0, 1.537_459_794_428_035e-12),
        ];
        for (x, want) in cases {
            let got = erfc(x);
            assert!(
                ((got - want) / want).abs() < 1e-13,
                "erfc({x}) = {got}, want {want}"
            );
        }
        // The two branches agree around the switch point.
        let a = 1.0 - erf_series(2.5);
        let b = erfcx_cf(2.5) * (-6.25f64).exp();
        assert!(((a - b) / b).abs() < 1e-11, "{a} vs {b}");
        assert!((erf(0.3) + erf(-0.3)).abs() < 1e-16);
        assert!((ndtr(0.0) - 0.5).abs() < 1e-16);
        // ln Φ in the far tail: Φ(−40) ≈ φ(40)/40 · (1 − 1/40² + …).
        let approx =
            ln_npdf(-40.0) - 40f64.ln() + (1.0 - 1.0 / 1600.0 + 3.0 / 1600f64.powi(2)).ln();
        assert!((ln_ndtr(-40.0) - approx).abs() < 1e-6);
        let d = ln_diff_ndtr(-30.0, -31.0);
        assert!((d - ln_ndtr(-30.0)).abs() < 1e-6);
        assert!((ln_diff_ndtr(1.0, -1.0) - (ndtr(1.0) - ndtr(-1.0)).ln()).abs() < 1e-14);
    }

    #[test]
    fn gaussian_density_and_score() {
        let g = Gaussian::new([1.0, -0.5], [[2.0, 0.3], [0.3, 0.5]]).unwrap();
        let x = [0.2, 0.4];
        let s = g.score(x);
        let h = 1e-6;
        for k in 0..2 {
            let mut xp = x;
            let mut xm = x;
            xp[k] += h;
            xm[k] -= h;
            let fd = (g.log_density(xp) - g.log_density(xm)) / (2.0 * h);
            assert!((fd - s[k]).abs() < 1e-7, "{fd} vs {}", s[k]);
        }
        assert!(Gaussian::new([0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]]).is_err());
        let mut rng = super::super::rng::seeded(3);
        let xs = g.sample(50_000, &mut rng).unwrap();
        let m0 = xs.iter().map(|x| x[0]).sum::<f64>() / xs.len() as f64;
        assert!((m0 - 1.0).abs() < 0.03, "{m0}");
    }
}
