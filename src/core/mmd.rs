//! Maximum mean discrepancy between weighted 2D point clouds, its gradient, and the witness.
//!
//! # Conventions
//! - MMD² is the weighted **V-statistic** (diagonal terms included):
//!   MMD²(α, β) = aᵀK_xx a + bᵀK_yy b − 2 aᵀK_xy b, α = Σ aᵢ δ_{xᵢ}, β = Σ bⱼ δ_{yⱼ}. It is ≥ 0 for
//!   the positive-definite kernels and for the conditionally positive-definite Riesz kernel when
//!   Σa = Σb.
//! - Witness: w(z) = Σᵢ aᵢ k(z, xᵢ) − Σⱼ bⱼ k(z, yⱼ); then MMD² = ⟨a, w(x)⟩ − ⟨b, w(y)⟩,
//!   ∂MMD²/∂xᵢ = 2 aᵢ ∇w(xᵢ) and ∂MMD²/∂aᵢ = 2 w(xᵢ) (weights treated as free, no simplex
//!   constraint).
//! - Kernels, r = |x − y|: Gaussian exp(−r²/(2σ²)); inverse multiquadric (1 + r²/c²)^(−1/2)
//!   (equal to one at r = 0); Laplace exp(−r/σ); Riesz −r^s with s ∈ (0, 2) (s = 1: energy
//!   distance). The gradients of Laplace and Riesz at r = 0 are taken as 0 (the symmetric
//!   subgradient).
//!
//! Computed online (no N×M matrix) and in parallel over evaluation points; every reduction is
//! serial so results do not depend on the thread count. [`Precision::F32`] runs the Gaussian,
//! IMQ and Laplace kernels in an f32 vectorizable loop (f64 block sums); Riesz always uses f64. Its
//! AVX2 build and fast exp can be switched off ([`super::paths`]); the AVX2 and baseline builds give
//! the same bits.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::{CoreError, CoreResult};
use super::math::{Vec2, is_finite2};
use super::params;
use super::paths::{self, Exp};
use super::sinkhorn::{Precision, fast_exp_f32};

/// A kernel k(x, y) = κ(|x − y|) (see the module docs for the formulas).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum Kernel {
    /// exp(−r²/(2σ²)), σ > 0 in length units.
    Gaussian { sigma: f64 },
    /// (1 + r²/c²)^(−1/2), c > 0 in length units.
    InverseMultiquadric { c: f64 },
    /// exp(−r/σ), σ > 0 in length units.
    Laplace { sigma: f64 },
    /// −r^r with exponent r ∈ (0, 2); r = 1 gives the energy distance.
    Riesz { r: f64 },
}

impl Kernel {
    /// A display name, e.g. "inverse multiquadric kernel, c = 0.9".
    pub fn name(&self) -> String {
        use super::math::display_number as n;
        match *self {
            Self::Gaussian { sigma } => format!("Gaussian kernel, σ = {}", n(sigma)),
            Self::InverseMultiquadric { c } => format!("inverse multiquadric kernel, c = {}", n(c)),
            Self::Laplace { sigma } => format!("Laplace kernel, σ = {}", n(sigma)),
            Self::Riesz { r } => format!("Riesz kernel, r = {}", n(r)),
        }
    }

    /// The snake_case kind name.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Gaussian { .. } => "gaussian",
            Self::InverseMultiquadric { .. } => "inverse_multiquadric",
            Self::Laplace { .. } => "laplace",
            Self::Riesz { .. } => "riesz",
        }
    }

    /// Checks the parameter against `kernel.<kind>.<field>` ([`super::params`]); the error names
    /// `kernel.<field>`.
    pub fn validate(&self) -> CoreResult<()> {
        let kind = Some(self.kind_name());
        match *self {
            Self::Gaussian { sigma } | Self::Laplace { sigma } => {
                params::check_field("kernel", kind, "sigma", sigma)?;
                params::check_squared("kernel.sigma", sigma).map(|_| sigma)
            }
            Self::InverseMultiquadric { c } => {
                params::check_field("kernel", kind, "c", c)?;
                params::check_squared("kernel.c", c).map(|_| c)
            }
            Self::Riesz { r } => params::check_field("kernel", kind, "r", r),
        }
        .map(|_| ())
    }

    /// (k, φ) at squared distance r2, with ∇ₓk(x, y) = φ · (x − y).
    #[inline]
    pub fn eval(&self, r2: f64) -> (f64, f64) {
        match *self {
            Self::Gaussian { sigma } => {
                let s2 = sigma * sigma;
                let k = (-0.5 * r2 / s2).exp();
                (k, -k / s2)
            }
            Self::InverseMultiquadric { c } => {
                let c2 = c * c;
                let u = 1.0 + r2 / c2;
                let k = 1.0 / u.sqrt();
                (k, -k * k * k / c2)
            }
            Self::Laplace { sigma } => {
                let r = r2.sqrt();
                let k = (-r / sigma).exp();
                (k, if r > 0.0 { -k / (sigma * r) } else { 0.0 })
            }
            Self::Riesz { r: s } => {
                if r2 > 0.0 {
                    let k = -r2.powf(0.5 * s);
                    (k, s * k / r2)
                } else {
                    (0.0, 0.0)
                }
            }
        }
    }
}

/// Checks a weighted cloud for MMD: non-empty, finite points, finite weights ≥ 0.
fn check_cloud(name: &str, pts: &[Vec2], w: &[f64]) -> CoreResult<()> {
    super::sinkhorn::check_weighted_cloud(name, pts, w)
}

/// The merged, signed column set of a witness: x with +a, y with −b, centred.
struct Cols {
    pts: Vec<Vec2>,
    w: Vec<f64>,
    /// The first `nx` columns are the source points, the rest the targets.
    nx: usize,
    c0: Vec<f32>,
    c1: Vec<f32>,
    w32: Vec<f32>,
    centre: Vec2,
}

impl Cols {
    fn new(x: &[Vec2], a: &[f64], y: &[Vec2], b: &[f64]) -> Self {
        let n = (x.len() + y.len()) as f64;
        let mut centre = [0.0; 2];
        for p in x.iter().chain(y) {
            centre[0] += p[0] / n;
            centre[1] += p[1] / n;
        }
        let pts: Vec<Vec2> = x
            .iter()
            .chain(y)
            .map(|p| [p[0] - centre[0], p[1] - centre[1]])
            .collect();
        let w: Vec<f64> = a.iter().copied().chain(b.iter().map(|v| -v)).collect();
        Self {
            c0: pts.iter().map(|p| p[0] as f32).collect(),
            c1: pts.iter().map(|p| p[1] as f32).collect(),
            w32: w.iter().map(|&v| v as f32).collect(),
            pts,
            w,
            nx: x.len(),
            centre,
        }
    }
}

/// Sums over the columns lo..hi of one row: (Σ wⱼ k, Σ wⱼ φ d₀, Σ wⱼ φ d₁), f64.
#[inline]
fn range_f64(z: Vec2, cols: &Cols, lo: usize, hi: usize, kernel: &Kernel) -> (f64, f64, f64) {
    let (mut s, mut g0, mut g1) = (0.0, 0.0, 0.0);
    for (c, &w) in cols.pts[lo..hi].iter().zip(&cols.w[lo..hi]) {
        let d0 = z[0] - c[0];
        let d1 = z[1] - c[1];
        let (k, phi) = kernel.eval(d0 * d0 + d1 * d1);
        s += w * k;
        g0 += w * phi * d0;
        g1 += w * phi * d1;
    }
    (s, g0, g1)
}

/// (Σ over the x columns, Σ over the y columns, gradient) of the signed witness sum at z.
#[inline]
fn row_f64(z: Vec2, cols: &Cols, kernel: &Kernel) -> (f64, f64, Vec2) {
    let m = cols.w.len();
    let (sx, gx0, gx1) = range_f64(z, cols, 0, cols.nx, kernel);
    let (sy, gy0, gy1) = range_f64(z, cols, cols.nx, m, kernel);
    (sx, sy, [gx0 + gy0, gx1 + gy1])
}

const LANES: usize = 8;
const BLOCK: usize = 256;

/// f32 inner loop over the columns lo..hi: `kf(r2) -> (k, φ)`; lanes of 8, f32 blocks of 256
/// columns summed into f64.
#[inline(always)]
fn range_f32<K: Fn(f32) -> (f32, f32)>(
    z: [f32; 2],
    cols: &Cols,
    lo: usize,
    hi: usize,
    kf: &K,
) -> (f64, f64, f64) {
    let (z0, z1) = (z[0], z[1]);
    let c0 = &cols.c0[lo..hi];
    let c1 = &cols.c1[lo..hi];
    let w32 = &cols.w32[lo..hi];
    let m = hi - lo;
    let full = m - m % LANES;
    let (mut s, mut g0, mut g1) = (0f64, 0f64, 0f64);
    // Blocks of BLOCK columns (a multiple of LANES) in f32 lanes, each block added in f64.
    for ((bc0, bc1), bw) in c0[..full]
        .chunks(BLOCK)
        .zip(c1[..full].chunks(BLOCK))
        .zip(w32[..full].chunks(BLOCK))
    {
        let mut acc = [0f32; LANES];
        let mut a0 = [0f32; LANES];
        let mut a1 = [0f32; LANES];
        for ((q0, q1), qw) in bc0
            .chunks_exact(LANES)
            .zip(bc1.chunks_exact(LANES))
            .zip(bw.chunks_exact(LANES))
        {
            for l in 0..LANES {
                let d0 = z0 - q0[l];
                let d1 = z1 - q1[l];
                let (k, phi) = kf(d0 * d0 + d1 * d1);
                let w = qw[l];
                acc[l] += w * k;
                a0[l] += w * phi * d0;
                a1[l] += w * phi * d1;
            }
        }
        for l in 0..LANES {
            s += f64::from(acc[l]);
            g0 += f64::from(a0[l]);
            g1 += f64::from(a1[l]);
        }
    }
    for ((&q0, &q1), &w) in c0[full..].iter().zip(&c1[full..]).zip(&w32[full..]) {
        let d0 = z0 - q0;
        let d1 = z1 - q1;
        let (k, phi) = kf(d0 * d0 + d1 * d1);
        s += f64::from(w * k);
        g0 += f64::from(w * phi * d0);
        g1 += f64::from(w * phi * d1);
    }
    (s, g0, g1)
}

#[inline(always)]
fn row_f32_body<K: Fn(f32) -> (f32, f32)>(z: Vec2, cols: &Cols, kf: &K) -> (f64, f64, Vec2) {
    let zf = [z[0] as f32, z[1] as f32];
    let m = cols.w32.len();
    let (sx, gx0, gx1) = range_f32(zf, cols, 0, cols.nx, kf);
    let (sy, gy0, gy1) = range_f32(zf, cols, cols.nx, m, kf);
    (sx, sy, [gx0 + gy0, gx1 + gy1])
}

/// [`row_f32_body`] compiled for AVX2; same operations in the same order (bit-identical).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn row_f32_avx2<K: Fn(f32) -> (f32, f32)>(z: Vec2, cols: &Cols, kf: &K) -> (f64, f64, Vec2) {
    row_f32_body(z, cols, kf)
}

#[inline(always)]
fn row_f32<K: Fn(f32) -> (f32, f32)>(z: Vec2, cols: &Cols, avx2: bool, kf: &K) -> (f64, f64, Vec2) {
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: `avx2` is true only when `paths::avx2_available()` detected AVX2 on this CPU.
        return unsafe { row_f32_avx2(z, cols, kf) };
    }
    let _ = avx2;
    row_f32_body(z, cols, kf)
}

/// The f32 rows at every z, in parallel (one row per point: the result does not depend on the thread count).
fn rows_f32<K: Fn(f32) -> (f32, f32) + Sync>(
    z: &[Vec2],
    cols: &Cols,
    avx2: bool,
    kf: K,
) -> Vec<(f64, f64, Vec2)> {
    let c = cols.centre;
    z.par_iter()
        .map(|p| row_f32([p[0] - c[0], p[1] - c[1]], cols, avx2, &kf))
        .collect()
}

/// Gaussian (k, φ) in f32 with the exponential `exp`.
#[inline(always)]
fn gaussian_f32(exp: impl Fn(f32) -> f32, inv: f32, inv_s2: f32) -> impl Fn(f32) -> (f32, f32) {
    move |r2| {
        let k = exp(-r2 * inv);
        (k, -k * inv_s2)
    }
}

/// Laplace (k, φ) in f32 with the exponential `exp`.
#[inline(always)]
fn laplace_f32(exp: impl Fn(f32) -> f32, inv_s: f32) -> impl Fn(f32) -> (f32, f32) {
    move |r2| {
        let r = r2.sqrt();
        let k = exp(-r * inv_s);
        (k, if r > 0.0 { -k * inv_s / r } else { 0.0 })
    }
}

fn witness_rows(
    z: &[Vec2],
    cols: &Cols,
    kernel: &Kernel,
    precision: Precision,
) -> Vec<(f64, f64, Vec2)> {
    let p = paths::current();
    let avx2 = p.uses_avx2();
    let std_exp = p.exp == Exp::Std;
    match (precision, *kernel) {
        (Precision::F32, Kernel::Gaussian { sigma }) => {
            let inv = (0.5 / (sigma * sigma)) as f32;
            let inv_s2 = (1.0 / (sigma * sigma)) as f32;
            if std_exp {
                rows_f32(z, cols, avx2, gaussian_f32(f32::exp, inv, inv_s2))
            } else {
                rows_f32(z, cols, avx2, gaussian_f32(fast_exp_f32, inv, inv_s2))
            }
        }
        (Precision::F32, Kernel::InverseMultiquadric { c: cc }) => {
            let inv_c2 = (1.0 / (cc * cc)) as f32;
            rows_f32(z, cols, avx2, |r2| {
                let k = 1.0 / (1.0 + r2 * inv_c2).sqrt();
                (k, -k * k * k * inv_c2)
            })
        }
        (Precision::F32, Kernel::Laplace { sigma }) => {
            let inv_s = (1.0 / sigma) as f32;
            if std_exp {
                rows_f32(z, cols, avx2, laplace_f32(f32::exp, inv_s))
            } else {
                rows_f32(z, cols, avx2, laplace_f32(fast_exp_f32, inv_s))
            }
        }
        _ => {
            let c = cols.centre;
            z.par_iter()
                .map(|p| row_f64([p[0] - c[0], p[1] - c[1]], cols, kernel))
                .collect()
        }
    }
}

/// The witness split into its two halves at points z: kx(z) = Σᵢ aᵢ k(z, xᵢ),
/// ky(z) = Σⱼ bⱼ k(z, yⱼ) (so w = kx − ky), and ∇w(z).
#[derive(Debug, Clone, PartialEq)]
pub struct WitnessParts {
    pub kx: Vec<f64>,
    pub ky: Vec<f64>,
    pub grad: Vec<Vec2>,
}

/// [`WitnessParts`] at the points z (module docs), in f64 or f32.
pub fn witness_parts(
    z: &[Vec2],
    x: &[Vec2],
    a: &[f64],
    y: &[Vec2],
    b: &[f64],
    kernel: &Kernel,
    precision: Precision,
) -> CoreResult<WitnessParts> {
    kernel.validate()?;
    check_cloud("source", x, a)?;
    check_cloud("target", y, b)?;
    if let Some(i) = z.iter().position(|p| !is_finite2(*p)) {
        return Err(CoreError::non_finite(format!("evaluation point {i}")));
    }
    let cols = Cols::new(x, a, y, b);
    let rows = witness_rows(z, &cols, kernel, precision);
    let mut out = WitnessParts {
        kx: Vec::with_capacity(z.len()),
        ky: Vec::with_capacity(z.len()),
        grad: Vec::with_capacity(z.len()),
    };
    for (sx, sy, g) in rows {
        out.kx.push(sx);
        out.ky.push(-sy);
        out.grad.push(g);
    }
    if out.kx.iter().chain(&out.ky).any(|v| !v.is_finite())
        || out.grad.iter().any(|v| !is_finite2(*v))
    {
        return Err(CoreError::non_finite("MMD witness"));
    }
    Ok(out)
}

/// The witness w(z) and its gradient ∇w(z) at the points z (module docs), in f64 or f32.
pub fn witness(
    z: &[Vec2],
    x: &[Vec2],
    a: &[f64],
    y: &[Vec2],
    b: &[f64],
    kernel: &Kernel,
    precision: Precision,
) -> CoreResult<(Vec<f64>, Vec<Vec2>)> {
    let p = witness_parts(z, x, a, y, b, kernel, precision)?;
    Ok((p.kx.iter().zip(&p.ky).map(|(u, v)| u - v).collect(), p.grad))
}

/// The self-term bᵀK_yy b of one cloud (constant along a flow toward a fixed target).
pub fn self_term(y: &[Vec2], b: &[f64], kernel: &Kernel, precision: Precision) -> CoreResult<f64> {
    kernel.validate()?;
    check_cloud("target", y, b)?;
    let cols = Cols::new(y, b, &[], &[]);
    let rows = witness_rows(y, &cols, kernel, precision);
    let v: f64 = rows.iter().zip(b).map(|(r, bi)| bi * r.0).sum();
    if v.is_finite() {
        Ok(v)
    } else {
        Err(CoreError::non_finite("MMD self-term"))
    }
}

/// MMD²(α, β), weighted V-statistic, f64.
pub fn mmd2(x: &[Vec2], a: &[f64], y: &[Vec2], b: &[f64], kernel: &Kernel) -> CoreResult<f64> {
    mmd2_with(x, a, y, b, kernel, Precision::F64)
}

/// [`mmd2`] with a choice of inner-loop precision.
pub fn mmd2_with(
    x: &[Vec2],
    a: &[f64],
    y: &[Vec2],
    b: &[f64],
    kernel: &Kernel,
    precision: Precision,
) -> CoreResult<f64> {
    let (wx, _) = witness(x, x, a, y, b, kernel, precision)?;
    let (wy, _) = witness(y, x, a, y, b, kernel, precision)?;
    let v = dotw(a, &wx) - dotw(b, &wy);
    if v.is_finite() {
        Ok(v)
    } else {
        Err(CoreError::non_finite("MMD²"))
    }
}

fn dotw(w: &[f64], v: &[f64]) -> f64 {
    w.iter().zip(v).map(|(p, q)| p * q).sum()
}

/// MMD² with its gradients (∂/∂xᵢ = 2aᵢ∇w(xᵢ), ∂/∂aᵢ = 2w(xᵢ)), f64.
pub fn mmd2_grad(
    x: &[Vec2],
    a: &[f64],
    y: &[Vec2],
    b: &[f64],
    kernel: &Kernel,
) -> CoreResult<(f64, Vec<Vec2>, Vec<f64>)> {
    mmd2_grad_with(x, a, y, b, kernel, Precision::F64)
}

/// [`mmd2_grad`] with a choice of inner-loop precision.
pub fn mmd2_grad_with(
    x: &[Vec2],
    a: &[f64],
    y: &[Vec2],
    b: &[f64],
    kernel: &Kernel,
    precision: Precision,
) -> CoreResult<(f64, Vec<Vec2>, Vec<f64>)> {
    let (wx, gx) = witness(x, x, a, y, b, kernel, precision)?;
    let (wy, _) = witness(y, x, a, y, b, kernel, precision)?;
    let v = dotw(a, &wx) - dotw(b, &wy);
    if !v.is_finite() {
        return Err(CoreError::non_finite("MMD²"));
    }
    let grad_x = gx
        .iter()
        .zip(a)
        .map(|(g, &ai)| [2.0 * ai * g[0], 2.0 * ai * g[1]])
        .collect();
    let grad_a = wx.iter().map(|w| 2.0 * w).collect();
    Ok((v, grad_x, grad_a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::rng;
    use proptest::prelude::*;

    fn cloud(n: usize, seed: u64, shift: f64) -> (Vec<Vec2>, Vec<f64>) {
        let mut r = rng::seeded(seed);
        let x: Vec<Vec2> = (0..n)
            .map(|_| {
                let z = rng::normal2(&mut r);
                [z[0] + shift, 0.7 * z[1]]
            })
            .collect();
        let mut w: Vec<f64> = (0..n).map(|i| 1.0 + 0.5 * ((i * 7) % 5) as f64).collect();
        let s: f64 = w.iter().sum();
        w.iter_mut().for_each(|v| *v /= s);
        (x, w)
    }

    fn kernels() -> Vec<Kernel> {
        vec![
            Kernel::Gaussian { sigma: 0.8 },
            Kernel::InverseMultiquadric { c: 1.2 },
            Kernel::Laplace { sigma: 0.7 },
            Kernel::Riesz { r: 1.0 },
            Kernel::Riesz { r: 0.6 },
            Kernel::Riesz { r: 1.5 },
        ]
    }

    fn naive(x: &[Vec2], a: &[f64], y: &[Vec2], b: &[f64], k: &Kernel) -> f64 {
        let kk = |p: Vec2, q: Vec2| k.eval(crate::core::math::dist2(p, q)).0;
        let mut v = 0.0;
        for i in 0..x.len() {
            for j in 0..x.len() {
                v += a[i] * a[j] * kk(x[i], x[j]);
            }
            for j in 0..y.len() {
                v -= 2.0 * a[i] * b[j] * kk(x[i], y[j]);
            }
        }
        for i in 0..y.len() {
            for j in 0..y.len() {
                v += b[i] * b[j] * kk(y[i], y[j]);
            }
        }
        v
    }

    #[test]
    fn matches_double_sum() {
        let (x, a) = cloud(31, 1, 0.0);
        let (y, b) = cloud(27, 2, 1.0);
        for k in kernels() {
            let v = mmd2(&x, &a, &y, &b, &k).unwrap();
            let n = naive(&x, &a, &y, &b, &k);
            assert!(
                (v - n).abs() < 1e-12 * n.abs().max(1.0),
                "{k:?}: {v} vs {n}"
            );
            assert!(v > 0.0);
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let (x, a) = cloud(20, 3, 0.0);
        let (y, b) = cloud(15, 4, 0.8);
        let h = 1e-6;
        for k in kernels() {
            let (_, gx, ga) = mmd2_grad(&x, &a, &y, &b, &k).unwrap();
            for i in [0, 5, 13] {
                for d in 0..2 {
                    let mut xp = x.clone();
                    xp[i][d] += h;
                    let mut xm = x.clone();
                    xm[i][d] -= h;
                    let fd = (mmd2(&xp, &a, &y, &b, &k).unwrap()
                        - mmd2(&xm, &a, &y, &b, &k).unwrap())
                        / (2.0 * h);
                    let an = gx[i][d];
                    assert!(
                        (fd - an).abs() <= 1e-4 * an.abs().max(1e-4),
                        "{k:?} x[{i}][{d}]: fd {fd} an {an}"
                    );
                }
                let mut ap = a.clone();
                ap[i] += h;
                let mut am = a.clone();
                am[i] -= h;
                let fd = (mmd2(&x, &ap, &y, &b, &k).unwrap() - mmd2(&x, &am, &y, &b, &k).unwrap())
                    / (2.0 * h);
                assert!(
                    (fd - ga[i]).abs() <= 1e-4 * ga[i].abs().max(1e-4),
                    "{k:?} a[{i}]: fd {fd} an {}",
                    ga[i]
                );
            }
        }
    }

    #[test]
    fn f32_path_matches_f64_path() {
        let (x, a) = cloud(300, 5, 0.0);
        let (y, b) = cloud(257, 6, 0.5);
        for k in kernels() {
            let (v64, g64, _) = mmd2_grad_with(&x, &a, &y, &b, &k, Precision::F64).unwrap();
            let (v32, g32, _) = mmd2_grad_with(&x, &a, &y, &b, &k, Precision::F32).unwrap();
            assert!(
                (v32 - v64).abs() < 1e-5 * v64.abs(),
                "{k:?}: {v32} vs {v64}"
            );
            let gmax = g64
                .iter()
                .map(|g| g[0].abs().max(g[1].abs()))
                .fold(0.0, f64::max);
            let err = g32
                .iter()
                .zip(&g64)
                .map(|(p, q)| (p[0] - q[0]).abs().max((p[1] - q[1]).abs()))
                .fold(0.0, f64::max);
            assert!(err < 1e-5 * gmax, "{k:?}: gradient error {err} of {gmax}");
        }
    }

    #[test]
    fn witness_parts_and_self_term_recompose_mmd2() {
        let (x, a) = cloud(40, 7, 0.0);
        let (y, b) = cloud(33, 8, 0.5);
        for k in kernels() {
            for prec in [Precision::F64, Precision::F32] {
                let w = witness_parts(&x, &x, &a, &y, &b, &k, prec).unwrap();
                let axx: f64 = a.iter().zip(&w.kx).map(|(p, q)| p * q).sum();
                let axy: f64 = a.iter().zip(&w.ky).map(|(p, q)| p * q).sum();
                let v = axx - 2.0 * axy + self_term(&y, &b, &k, prec).unwrap();
                let r = mmd2(&x, &a, &y, &b, &k).unwrap();
                assert!((v - r).abs() < 1e-5 * r, "{k:?} {prec:?}: {v} vs {r}");
            }
        }
    }

    #[test]
    fn kernel_validation_names_the_field() {
        let e = Kernel::Riesz { r: 2.0 }.validate().unwrap_err();
        assert!(
            e.to_string().contains("kernel.r") && e.to_string().contains("(0, 2)"),
            "{e}"
        );
        assert!(Kernel::Gaussian { sigma: 0.0 }.validate().is_err());
        let k: Kernel = serde_json::from_str(r#"{"kind":"inverse_multiquadric","c":2.0}"#).unwrap();
        assert_eq!(k, Kernel::InverseMultiquadric { c: 2.0 });
    }

    fn arb_cloud() -> impl Strategy<Value = (Vec<Vec2>, Vec<f64>)> {
        prop::collection::vec(((-5.0f64..5.0, -5.0f64..5.0), 0.05f64..1.0), 1..12).prop_map(|v| {
            let s: f64 = v.iter().map(|p| p.1).sum();
            (
                v.iter().map(|p| [p.0.0, p.0.1]).collect(),
                v.iter().map(|p| p.1 / s).collect(),
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn mmd2_is_nonnegative_symmetric_finite((x, a) in arb_cloud(), (y, b) in arb_cloud(), which in 0usize..6) {
            let k = &kernels()[which];
            let v = mmd2(&x, &a, &y, &b, k).unwrap();
            let w = mmd2(&y, &b, &x, &a, k).unwrap();
            prop_assert!(v.is_finite());
            prop_assert!(v >= -1e-10, "{v}");
            prop_assert!((v - w).abs() <= 1e-10 * v.abs().max(1.0));
            let z = mmd2(&x, &a, &x, &a, k).unwrap();
            prop_assert!(z.abs() < 1e-10);
        }
    }
}
