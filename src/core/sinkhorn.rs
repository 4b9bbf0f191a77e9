//! Entropic optimal transport between weighted 2D point clouds: log-domain Sinkhorn with
//! ε-scaling, and the debiased Sinkhorn divergence with its gradient.
//!
//! # Conventions
//! - Cost: **c(x, y) = |x − y|²** (squared Euclidean, *not* |x − y|²/2; the convention of POT's
//!   `ot.dist` and of OTT-JAX's default `PointCloud`).
//! - Entropic OT: OT_ε(α, β) = min_π ⟨π, c⟩ + ε KL(π ‖ α⊗β), with α = Σ aᵢ δ_{xᵢ}, β = Σ bⱼ δ_{yⱼ},
//!   weights summing to one. Its dual value, returned as [`SinkhornResult::cost_value`], is
//!   ⟨a, f⟩ + ⟨b, g⟩ at the optimal potentials; the plan is πᵢⱼ = aᵢ bⱼ exp((fᵢ + gⱼ − cᵢⱼ)/ε).
//!   (f, g) are unique up to (f + t, g − t).
//! - ε has the units of the cost (squared length). A scale-free choice is ε = ε_rel · D² with D
//!   the diameter of the point clouds ([`squared_diameter`]): ε_rel = 1 is very blurry, ε_rel =
//!   1e-3 is close to unregularized OT. ε-scaling starts at ε₀ = max(ε, D²) and multiplies by
//!   `scaling` each iteration until ε is reached (Feydy's annealing), then iterates at ε.
//! - Debiased divergence S_ε(α, β) = OT_ε(α, β) − ½ OT_ε(α, α) − ½ OT_ε(β, β) ≥ 0.
//!
//! # Implementation
//! Online: the N×M cost matrix is never stored; each half-iteration recomputes |xᵢ − yⱼ|² in its
//! inner loop, parallel over rows with rayon. The default [`Precision::F32`] inner loop is written
//! for auto-vectorization (a polynomial `exp`, lane accumulators) and accumulates each row's sum
//! in f64; [`Precision::F64`] is the reference path (tests compare the two). Its AVX2 build,
//! block skipping and fast exp can each be switched off ([`super::paths`]). Points are centred
//! (translation does not change the cost) before the f32 conversion to keep coordinates small.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::{CoreError, CoreResult, check_open};
use super::math::{Vec2, dot, is_finite2, sub};
use super::newton_ot::{self, NewtonConfig};
use super::params;
use super::paths::{self, Blocks, Exp};

/// Floating-point precision of the Sinkhorn inner loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// f32 costs and exponentials, f64 row sums and potentials (fast path).
    #[default]
    F32,
    /// f64 throughout (reference path).
    F64,
}

/// Parameters of the Sinkhorn solver. Cost |x − y|², ε in cost units (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct SinkhornConfig {
    /// Entropic regularization ε > 0, in units of the cost (squared length).
    pub epsilon: f64,
    /// ε-scaling factor in (0, 1): ε_k = max(ε, D² · scaling^k). `None`: no annealing.
    #[serde(default)]
    pub scaling: Option<f64>,
    /// Maximum number of full (f and g) iterations, ≥ 1.
    pub max_iters: usize,
    /// Stop when the L1 marginal error Σⱼ |(πᵀ1)ⱼ − bⱼ| falls below this, in (0, 1).
    pub tolerance: f64,
    /// Inner-loop precision (default f32).
    #[serde(default)]
    pub precision: Precision,
    /// Sparse Newton acceleration ([`super::newton_ot`]): after the ε-schedule and `newton.sweeps` plain
    /// iterations, Newton steps on the dual (f64) until the tolerance or `max_iters` (which counts both).
    /// `None`: plain Sinkhorn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newton: Option<NewtonConfig>,
}

impl Default for SinkhornConfig {
    fn default() -> Self {
        Self {
            epsilon: 0.01,
            scaling: Some(0.7),
            max_iters: 500,
            tolerance: 1e-4,
            precision: Precision::F32,
            newton: None,
        }
    }
}

impl SinkhornConfig {
    /// Checks every field against `sinkhorn.<field>` ([`super::params`]); the error names
    /// `sinkhorn.<field>`.
    pub fn validate(&self) -> CoreResult<()> {
        let c = |field: &str, v: f64| params::check_field("sinkhorn", None, field, v).map(|_| ());
        c("epsilon", self.epsilon)?;
        if let Some(s) = self.scaling {
            c("scaling", s)?;
        }
        c("max_iters", self.max_iters as f64)?;
        c("tolerance", self.tolerance)?;
        match &self.newton {
            Some(n) => n.validate(),
            None => Ok(()),
        }
    }
}

/// The solution of one entropic OT problem.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkhornResult {
    /// Dual value OT_ε = ⟨a, f⟩ + ⟨b, g⟩ (cost units).
    pub cost_value: f64,
    /// Potential on the source points (length N).
    pub f: Vec<f64>,
    /// Potential on the target points (length M).
    pub g: Vec<f64>,
    /// The ε the potentials belong to (the configured one).
    pub epsilon: f64,
    /// Full iterations done.
    pub iterations: usize,
    /// L1 error of the plan's second marginal before the last g-update (the first marginal is
    /// exact after each f-update, the second after each g-update).
    pub marginal_error: f64,
    /// Whether `marginal_error < tolerance` was reached at the final ε.
    pub converged: bool,
    /// The marginal error after each iteration (Sinkhorn, then Newton; see [`super::newton_ot`] for the
    /// Newton stage's error), for the solver's convergence plot. Empty where the solver records none (the
    /// GPU twin).
    pub trace: Vec<f64>,
}

/// Convergence diagnostics of a Sinkhorn divergence (three OT problems).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct SinkhornDiagnostics {
    pub iterations_xy: usize,
    pub iterations_xx: usize,
    pub iterations_yy: usize,
    /// Largest L1 marginal error of the three problems.
    pub marginal_error: f64,
    /// All three converged.
    pub converged: bool,
}

/// Debiased Sinkhorn divergence and its gradient with respect to the source cloud.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkhornDivergence {
    /// S_ε(α, β) = OT_ε(α, β) − ½ OT_ε(α, α) − ½ OT_ε(β, β).
    pub value: f64,
    /// ∂S_ε/∂xᵢ = 2 aᵢ (T_αα(xᵢ) − T_αβ(xᵢ)), T the barycentric maps of the two plans.
    pub grad_x: Vec<Vec2>,
    /// ∂S_ε/∂aᵢ = f_αβ,ᵢ − p_α,ᵢ (p the symmetric potential of OT_ε(α, α)). Defined up to an
    /// additive constant: only its pairing with sum-zero weight changes is meaningful.
    pub grad_a: Vec<f64>,
    /// Potentials of OT_ε(α, β), OT_ε(α, α) (p_α) and OT_ε(β, β) (p_β), for plans and pictures.
    pub f: Vec<f64>,
    pub g: Vec<f64>,
    pub p_x: Vec<f64>,
    pub p_y: Vec<f64>,
    /// OT_ε(β, β) (the target's self-transport, constant along a flow toward a fixed target).
    pub ot_yy: f64,
    pub diagnostics: SinkhornDiagnostics,
}

/// Squared diameter of the union of the clouds (squared diagonal of their bounding box); the
/// scale against which ε is best chosen: ε = ε_rel · D².
pub fn squared_diameter(x: &[Vec2], y: &[Vec2]) -> f64 {
    let mut lo = [f64::INFINITY; 2];
    let mut hi = [f64::NEG_INFINITY; 2];
    for p in x.iter().chain(y) {
        for k in 0..2 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    if lo[0] > hi[0] {
        return 0.0;
    }
    let d = sub(hi, lo);
    dot(d, d)
}

/// Checks a weighted cloud: non-empty, one weight per point, finite points, finite weights ≥ 0.
pub(crate) fn check_weighted_cloud(name: &str, pts: &[Vec2], w: &[f64]) -> CoreResult<()> {
    if pts.is_empty() {
        return Err(CoreError::invalid(format!(
            "{name}: the point cloud is empty"
        )));
    }
    if pts.len() != w.len() {
        return Err(CoreError::invalid(format!(
            "{name}: {} points but {} weights",
            pts.len(),
            w.len()
        )));
    }
    if let Some(i) = pts.iter().position(|p| !is_finite2(*p)) {
        return Err(CoreError::non_finite(format!("{name}: point {i}")));
    }
    if let Some(&v) = w.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
        return Err(CoreError::param(format!("{name} weight"), v, "[0, ∞)"));
    }
    Ok(())
}

/// [`check_weighted_cloud`], and the weights sum to 1 (±1e-6).
pub(crate) fn check_cloud(name: &str, pts: &[Vec2], w: &[f64]) -> CoreResult<()> {
    check_weighted_cloud(name, pts, w)?;
    let s: f64 = w.iter().sum();
    if (s - 1.0).abs() > 1e-6 {
        return Err(CoreError::param(
            format!("{name} total weight"),
            s,
            "[1 − 1e-6, 1 + 1e-6]",
        ));
    }
    Ok(())
}

fn mean_point(x: &[Vec2], y: &[Vec2]) -> Vec2 {
    let n = (x.len() + y.len()) as f64;
    let mut c = [0.0; 2];
    for p in x.iter().chain(y) {
        c[0] += p[0];
        c[1] += p[1];
    }
    [c[0] / n, c[1] / n]
}

fn centred(p: &[Vec2], c: Vec2) -> Vec<Vec2> {
    p.iter().map(|&q| sub(q, c)).collect()
}

// ---------------------------------------------------------------------------------------------
// Inner loops.

const LOG2E_F32: f32 = std::f32::consts::LOG2_E;

/// exp(x) for x ≤ 0 in f32, ~2e-7 relative error, branch-free so that loops over slices
/// vectorize. Inputs below −80 (and −∞, and NaN) return exactly 0; −80 itself returns e⁻⁸⁰ ≈ 1.8e-35
/// (a normal f32). Public for `tests/fast_paths.rs`, which measures it against `f64::exp`.
#[inline(always)]
pub fn fast_exp_f32(x: f32) -> f32 {
    // Below −80 the result is flushed to exactly 0: exp(−80) ≈ 2e-35 is negligible wherever
    // it is used, and products of such values with small weights would be f32 denormals, which
    // are ~100× slower on x86.
    let keep = x >= -80.0;
    let x = x.max(-80.0);
    // Round x·log2(e) to the nearest integer n with the 1.5·2²³ trick (vectorizes, unlike
    // f32::round), then reduce r = x − n ln2 in two parts (Cody–Waite) so r is accurate.
    const MAGIC: f32 = 12_582_912.0;
    let kf = x * LOG2E_F32 + MAGIC;
    let n = kf - MAGIC;
    // kf's low mantissa bits hold n (|n| ≤ 126 ≪ 2²²): the integer without a float→int cast
    // (Rust's saturating `as` cast does not vectorize).
    let ni = (kf.to_bits() as i32) - 0x4B40_0000;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let r = (x - n * LN2_HI) - n * LN2_LO; // in [−ln2/2, ln2/2]
    // e^r by its Taylor series, degree 6 (error < 2e-7 on the interval).
    let p = 1.0 / 720.0_f32;
    let p = p * r + 1.0 / 120.0;
    let p = p * r + 1.0 / 24.0;
    let p = p * r + 1.0 / 6.0;
    let p = p * r + 0.5;
    let p = p * r + 1.0;
    let p = p * r + 1.0;
    let bits = ((ni + 127) as u32) << 23;
    let e = p * f32::from_bits(bits);
    if keep { e } else { 0.0 }
}

/// Columns per block of the block-sparse f32 loop (a multiple of the lane count).
const BLOCK_COLS: usize = 128;

/// exp(−80) is flushed to exactly 0 by [`fast_exp_f32`]: a block whose every term lies this far below the
/// row's maximum contributes exactly nothing and is skipped.
const SKIP_BELOW: f32 = 80.0;

/// A block of consecutive (spatially sorted) columns: its bounding box and largest `h`.
struct ColBlock {
    start: usize,
    x0_min: f32,
    x0_max: f32,
    x1_min: f32,
    x1_max: f32,
    h_max: f32,
}

/// Column data for the f32 inner loop: columns sorted along a Morton (Z-order) curve so that each block of
/// [`BLOCK_COLS`] is spatially compact, padded to whole blocks with h = −∞ (which contributes exactly 0).
/// Rows then skip whole blocks that cannot matter at small ε, as block-sparse reductions do (KeOps,
/// GeomLoss). A block is skipped only when an upper bound of its exponents (its largest h minus the
/// squared distance to its box, over ε, computed in the same f32 operations, which round monotonically)
/// lies more than [`SKIP_BELOW`] = 80 below the row's largest exponent, so every skipped term is one
/// [`fast_exp_f32`] flushes to exactly 0; the live blocks are summed in the same column order either way.
/// Hence, with the fast exp, block-sparse and dense rows give the same bits. With `f32::exp` (no flush,
/// [`super::paths::Exp::Std`]) the skipped mass is at most (skipped columns)·e⁻⁸⁰ of the row's sum (which
/// is ≥ 1, its largest term being e⁰), so the log-sum moves by at most that much (≤ 2e-31 for 10⁴ columns,
/// below an f64 ulp of any potential) — the bound `tests/fast_paths.rs` checks.
struct ColsF32 {
    y0: Vec<f32>,
    y1: Vec<f32>,
    h: Vec<f32>,
    blocks: Vec<ColBlock>,
}

/// Interleaves the low 16 bits of `a` and `b` (Morton code).
fn morton(a: u32, b: u32) -> u64 {
    let spread = |v: u32| {
        let mut x = u64::from(v & 0xFFFF);
        x = (x | (x << 8)) & 0x00FF_00FF;
        x = (x | (x << 4)) & 0x0F0F_0F0F;
        x = (x | (x << 2)) & 0x3333_3333;
        (x | (x << 1)) & 0x5555_5555
    };
    spread(a) | (spread(b) << 1)
}

impl ColsF32 {
    fn new(cols: &[Vec2], h: &[f64]) -> Self {
        let (mut lo0, mut hi0, mut lo1, mut hi1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for p in cols {
            lo0 = lo0.min(p[0]);
            hi0 = hi0.max(p[0]);
            lo1 = lo1.min(p[1]);
            hi1 = hi1.max(p[1]);
        }
        let q = |v: f64, lo: f64, hi: f64| {
            if hi > lo {
                (((v - lo) / (hi - lo)) * 65535.0).clamp(0.0, 65535.0) as u32
            } else {
                0
            }
        };
        let mut order: Vec<usize> = (0..cols.len()).collect();
        order.sort_by_key(|&j| (morton(q(cols[j][0], lo0, hi0), q(cols[j][1], lo1, hi1)), j));
        let padded = cols.len().div_ceil(BLOCK_COLS) * BLOCK_COLS;
        let mut y0 = Vec::with_capacity(padded);
        let mut y1 = Vec::with_capacity(padded);
        let mut hf = Vec::with_capacity(padded);
        for &j in &order {
            y0.push(cols[j][0] as f32);
            y1.push(cols[j][1] as f32);
            hf.push(h[j] as f32);
        }
        y0.resize(padded, 0.0);
        y1.resize(padded, 0.0);
        hf.resize(padded, f32::NEG_INFINITY);
        let blocks = (0..padded / BLOCK_COLS)
            .map(|b| {
                let start = b * BLOCK_COLS;
                let real = start..(start + BLOCK_COLS).min(cols.len());
                let mut blk = ColBlock {
                    start,
                    x0_min: f32::INFINITY,
                    x0_max: f32::NEG_INFINITY,
                    x1_min: f32::INFINITY,
                    x1_max: f32::NEG_INFINITY,
                    h_max: f32::NEG_INFINITY,
                };
                for j in real {
                    blk.x0_min = blk.x0_min.min(y0[j]);
                    blk.x0_max = blk.x0_max.max(y0[j]);
                    blk.x1_min = blk.x1_min.min(y1[j]);
                    blk.x1_max = blk.x1_max.max(y1[j]);
                    blk.h_max = blk.h_max.max(hf[j]);
                }
                blk
            })
            .collect();
        Self {
            y0,
            y1,
            h: hf,
            blocks,
        }
    }

    /// Number of columns including the padding (the length `buf` must have).
    fn len(&self) -> usize {
        self.h.len()
    }
}

const LANES: usize = 8;

/// For one row point r: returns (LSE_j sⱼ, Σⱼ wⱼ yⱼ) with sⱼ = hⱼ − |r − yⱼ|²/ε and w = softmax(s)
/// (the weighted sum only if `bary`). `buf` has [`ColsF32::len`] entries.
#[inline(always)]
fn row_f32_body<E: Fn(f32) -> f32>(
    r: Vec2,
    cols: &ColsF32,
    inv_eps: f32,
    bary: bool,
    dense: bool,
    exp: &E,
    buf: &mut [f32],
) -> (f64, Vec2, u32) {
    let (x0, x1) = (r[0] as f32, r[1] as f32);
    // Upper bound of sⱼ over each block: its largest h minus the squared distance from r to its box.
    let bound = |b: &ColBlock| {
        let d0 = (b.x0_min - x0).max(0.0).max(x0 - b.x0_max);
        let d1 = (b.x1_min - x1).max(0.0).max(x1 - b.x1_max);
        b.h_max - (d0 * d0 + d1 * d1) * inv_eps
    };
    let fill = |buf: &mut [f32], start: usize| -> f32 {
        let end = start + BLOCK_COLS;
        let mut mx = [f32::NEG_INFINITY; LANES];
        for (((sc, y0c), y1c), hc) in buf[start..end]
            .chunks_exact_mut(LANES)
            .zip(cols.y0[start..end].chunks_exact(LANES))
            .zip(cols.y1[start..end].chunks_exact(LANES))
            .zip(cols.h[start..end].chunks_exact(LANES))
        {
            for l in 0..LANES {
                let d0 = x0 - y0c[l];
                let d1 = x1 - y1c[l];
                let v = hc[l] - (d0 * d0 + d1 * d1) * inv_eps;
                sc[l] = v;
                mx[l] = mx[l].max(v);
            }
        }
        mx.iter().copied().fold(f32::NEG_INFINITY, f32::max)
    };
    // A lower bound of the row maximum from the most promising block, then only the blocks that can
    // come within SKIP_BELOW of it are evaluated.
    let Some(best) = cols
        .blocks
        .iter()
        .map(|b| (b, bound(b)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(b, _)| b.start)
    else {
        return (f64::NEG_INFINITY, [0.0; 2], 0);
    };
    let lower = fill(buf, best);
    let live = |b: &ColBlock| dense || b.start == best || bound(b) >= lower - SKIP_BELOW;
    let mut m_all = lower;
    for b in &cols.blocks {
        if b.start != best && live(b) {
            m_all = m_all.max(fill(buf, b.start));
        }
    }
    if m_all == f32::NEG_INFINITY {
        return (f64::NEG_INFINITY, [0.0; 2], 0);
    }
    let mut sum = 0f64;
    let mut s0 = 0f64;
    let mut s1 = 0f64;
    let mut n_live = 0u32;
    // Each live block's terms are summed in f32 lanes, then added into f64 accumulators, in column order.
    for b in cols.blocks.iter().filter(|b| live(b)) {
        n_live += 1;
        let (start, end) = (b.start, b.start + BLOCK_COLS);
        let mut acc = [0f32; LANES];
        if bary {
            let mut acc0 = [0f32; LANES];
            let mut acc1 = [0f32; LANES];
            for ((c, q0), q1) in buf[start..end]
                .chunks_exact(LANES)
                .zip(cols.y0[start..end].chunks_exact(LANES))
                .zip(cols.y1[start..end].chunks_exact(LANES))
            {
                for l in 0..LANES {
                    let e = exp(c[l] - m_all);
                    acc[l] += e;
                    acc0[l] += e * q0[l];
                    acc1[l] += e * q1[l];
                }
            }
            for l in 0..LANES {
                s0 += f64::from(acc0[l]);
                s1 += f64::from(acc1[l]);
            }
        } else {
            for c in buf[start..end].chunks_exact(LANES) {
                for l in 0..LANES {
                    acc[l] += exp(c[l] - m_all);
                }
            }
        }
        for v in acc {
            sum += f64::from(v);
        }
    }
    let lse = f64::from(m_all) + sum.ln();
    (lse, [s0 / sum, s1 / sum], n_live)
}

/// [`row_f32_body`] compiled for AVX2 (8 f32 lanes per instruction instead of SSE2's 4). The
/// arithmetic and its order are the same (no FMA), so results are bit-identical to the baseline path.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn row_f32_avx2<E: Fn(f32) -> f32>(
    r: Vec2,
    cols: &ColsF32,
    inv_eps: f32,
    bary: bool,
    dense: bool,
    exp: &E,
    buf: &mut [f32],
) -> (f64, Vec2, u32) {
    row_f32_body(r, cols, inv_eps, bary, dense, exp, buf)
}

/// The paths of one kernel call, resolved once ([`super::paths`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct LoopPaths {
    /// Run the AVX2 build (only ever true when this CPU has AVX2).
    pub(crate) avx2: bool,
    pub(crate) dense: bool,
    pub(crate) exp: Exp,
}

impl LoopPaths {
    pub(crate) fn current() -> Self {
        let p = paths::current();
        Self {
            avx2: p.uses_avx2(),
            dense: p.blocks == Blocks::Dense,
            exp: p.exp,
        }
    }
}

#[inline]
fn row_f32_with<E: Fn(f32) -> f32>(
    r: Vec2,
    cols: &ColsF32,
    inv_eps: f32,
    bary: bool,
    lp: LoopPaths,
    exp: &E,
    buf: &mut [f32],
) -> (f64, Vec2, u32) {
    #[cfg(target_arch = "x86_64")]
    if lp.avx2 {
        // SAFETY: `lp.avx2` is true only when `paths::avx2_available()` detected AVX2 on this CPU.
        return unsafe { row_f32_avx2(r, cols, inv_eps, bary, lp.dense, exp, buf) };
    }
    let _ = lp.avx2; // (only x86-64 has an AVX2 build)
    row_f32_body(r, cols, inv_eps, bary, lp.dense, exp, buf)
}

#[inline]
fn row_f32(
    r: Vec2,
    cols: &ColsF32,
    inv_eps: f32,
    bary: bool,
    buf: &mut [f32],
    lp: LoopPaths,
) -> (f64, Vec2, u32) {
    match lp.exp {
        Exp::Fast => row_f32_with(r, cols, inv_eps, bary, lp, &fast_exp_f32, buf),
        Exp::Std => row_f32_with(r, cols, inv_eps, bary, lp, &f32::exp, buf),
    }
}

#[inline]
fn row_f64(
    r: Vec2,
    cols: &[Vec2],
    h: &[f64],
    inv_eps: f64,
    bary: bool,
    buf: &mut [f64],
) -> (f64, Vec2) {
    let mut m_all = f64::NEG_INFINITY;
    for ((s, y), &hj) in buf.iter_mut().zip(cols).zip(h) {
        let d0 = r[0] - y[0];
        let d1 = r[1] - y[1];
        *s = hj - (d0 * d0 + d1 * d1) * inv_eps;
        m_all = m_all.max(*s);
    }
    if m_all == f64::NEG_INFINITY {
        return (f64::NEG_INFINITY, [0.0; 2]);
    }
    let (mut sum, mut s0, mut s1) = (0.0, 0.0, 0.0);
    for (s, y) in buf.iter().zip(cols) {
        let e = (s - m_all).exp();
        sum += e;
        if bary {
            s0 += e * y[0];
            s1 += e * y[1];
        }
    }
    (m_all + sum.ln(), [s0 / sum, s1 / sum])
}

/// outᵢ = −ε · LSE_j(hⱼ − |rᵢ − cⱼ|²/ε) (the soft-min / c-transform), and if `bary` is given the
/// soft-min-weighted mean of the columns (the barycentric map), which is in centred coordinates.
/// The barycentric map T(xᵢ) = Σⱼ πᵢⱼ yⱼ / Σⱼ πᵢⱼ of the plan whose column log-weights (with the potential
/// folded in, [`log_weights_plus`]) are `h`, at every row point.
fn barycentric_map(
    rows: &[Vec2],
    cols: &[Vec2],
    h: &[f64],
    eps: f64,
    precision: Precision,
) -> Vec<Vec2> {
    let mut fresh = vec![0.0; rows.len()];
    let mut t = vec![[0.0; 2]; rows.len()];
    softmin_into(rows, cols, h, eps, precision, &mut fresh, Some(&mut t));
    t
}

fn softmin_into(
    rows: &[Vec2],
    cols: &[Vec2],
    h: &[f64],
    eps: f64,
    precision: Precision,
    out: &mut [f64],
    bary: Option<&mut [Vec2]>,
) {
    let m = cols.len();
    let want_bary = bary.is_some();
    let mut dummy = Vec::new();
    let bary_out: &mut [Vec2] = match bary {
        Some(b) => b,
        None => {
            dummy.resize(rows.len(), [0.0; 2]);
            &mut dummy
        }
    };
    match precision {
        Precision::F32 => {
            let data = ColsF32::new(cols, h);
            let inv_eps = (1.0 / eps) as f32;
            let lp = LoopPaths::current();
            let width = data.len();
            out.par_iter_mut()
                .zip(bary_out.par_iter_mut())
                .zip(rows.par_iter())
                .for_each_init(
                    || vec![0f32; width],
                    |buf, ((o, bo), r)| {
                        let (lse, t, _) = row_f32(*r, &data, inv_eps, want_bary, buf, lp);
                        *o = -eps * lse;
                        *bo = t;
                    },
                );
        }
        Precision::F64 => {
            let inv_eps = 1.0 / eps;
            out.par_iter_mut()
                .zip(bary_out.par_iter_mut())
                .zip(rows.par_iter())
                .for_each_init(
                    || vec![0f64; m],
                    |buf, ((o, bo), r)| {
                        let (lse, t) = row_f64(*r, cols, h, inv_eps, want_bary, buf);
                        *o = -eps * lse;
                        *bo = t;
                    },
                );
        }
    }
}

fn log_weights_plus(w: &[f64], pot: &[f64], eps: f64) -> Vec<f64> {
    w.iter()
        .zip(pot)
        .map(|(&wi, &p)| {
            if wi > 0.0 {
                wi.ln() + p / eps
            } else {
                f64::NEG_INFINITY
            }
        })
        .collect()
}

fn check_finite(v: &[f64], what: &str) -> CoreResult<()> {
    if v.iter().all(|x| x.is_finite()) {
        Ok(())
    } else {
        Err(CoreError::non_finite(what))
    }
}

/// One Sinkhorn half-iteration (an f-update), the kernel timed by `divlab bench sinkhorn`:
/// fᵢ = −ε log Σⱼ bⱼ exp((gⱼ − |xᵢ − yⱼ|²)/ε), written into `f_out` (length N). Online and
/// parallel over i; no centring is done here (callers pass coordinates of moderate size).
pub fn sinkhorn_half_iteration(
    x: &[Vec2],
    y: &[Vec2],
    b: &[f64],
    g: &[f64],
    epsilon: f64,
    precision: Precision,
    f_out: &mut [f64],
) -> CoreResult<()> {
    check_open("epsilon", epsilon, 0.0, f64::INFINITY)?;
    if y.len() != b.len() || y.len() != g.len() || x.len() != f_out.len() {
        return Err(CoreError::invalid(
            "sinkhorn_half_iteration: mismatched lengths of x/f_out or y/b/g",
        ));
    }
    let h = log_weights_plus(b, g, epsilon);
    softmin_into(x, y, &h, epsilon, precision, f_out, None);
    check_finite(f_out, "sinkhorn potential f")
}

/// How many column blocks the rows of [`sinkhorn_half_iteration`] (f32) evaluate, with the current
/// [`super::paths`]: (live blocks summed over the rows, rows × blocks). Under [`Blocks::Dense`] every block
/// is live. A diagnostic for tests of the block-sparse path; it does the half-iteration's work.
pub fn half_iteration_live_blocks(
    x: &[Vec2],
    y: &[Vec2],
    b: &[f64],
    g: &[f64],
    epsilon: f64,
) -> CoreResult<(u64, u64)> {
    check_open("epsilon", epsilon, 0.0, f64::INFINITY)?;
    if y.len() != b.len() || y.len() != g.len() {
        return Err(CoreError::invalid(
            "half_iteration_live_blocks: mismatched lengths of y/b/g",
        ));
    }
    let data = ColsF32::new(y, &log_weights_plus(b, g, epsilon));
    let inv_eps = (1.0 / epsilon) as f32;
    let lp = LoopPaths::current();
    let width = data.len();
    let live: Vec<u32> = x
        .par_iter()
        .map_init(
            || vec![0f32; width],
            |buf, r| row_f32(*r, &data, inv_eps, false, buf, lp).2,
        )
        .collect();
    let total = (x.len() * data.blocks.len()) as u64;
    Ok((live.iter().map(|&v| u64::from(v)).sum(), total))
}

/// The ε of iteration `it` under the annealing schedule.
fn eps_at(cfg: &SinkhornConfig, d2: f64, it: usize) -> f64 {
    match cfg.scaling {
        Some(s) if d2 > cfg.epsilon => {
            let e = d2 * s.powi(it.min(i32::MAX as usize) as i32);
            e.max(cfg.epsilon)
        }
        _ => cfg.epsilon,
    }
}

/// Σ wⱼ |exp((oldⱼ − newⱼ)/ε) − 1|: the L1 marginal error of the plan built with `old`.
fn marginal_error(w: &[f64], old: &[f64], new: &[f64], eps: f64) -> f64 {
    let e: f64 = w
        .iter()
        .zip(old.iter().zip(new))
        .map(|(&wj, (&o, &n))| wj * ((o - n) / eps).min(700.0).exp_m1().abs())
        .sum();
    e.min(f64::MAX)
}

/// Solves OT_ε(α, β) for the cost |x − y|² (see the module docs).
pub fn sinkhorn(
    x: &[Vec2],
    a: &[f64],
    y: &[Vec2],
    b: &[f64],
    cfg: &SinkhornConfig,
) -> CoreResult<SinkhornResult> {
    sinkhorn_warm(x, a, y, b, cfg, None)
}

/// [`sinkhorn`] started from given potentials (f, g) (e.g. the previous flow step's); the
/// ε-scaling schedule is skipped when a warm start is given.
pub fn sinkhorn_warm(
    x: &[Vec2],
    a: &[f64],
    y: &[Vec2],
    b: &[f64],
    cfg: &SinkhornConfig,
    init: Option<(&[f64], &[f64])>,
) -> CoreResult<SinkhornResult> {
    cfg.validate()?;
    check_cloud("source", x, a)?;
    check_cloud("target", y, b)?;
    let c = mean_point(x, y);
    let xc = centred(x, c);
    let yc = centred(y, c);
    let d2 = squared_diameter(x, y);
    let (mut f, mut g) = match init {
        Some((f0, g0)) if f0.len() == x.len() && g0.len() == y.len() => (f0.to_vec(), g0.to_vec()),
        Some(_) => {
            return Err(CoreError::invalid(
                "sinkhorn warm start: potentials do not match the clouds' sizes",
            ));
        }
        None => (vec![0.0; x.len()], vec![0.0; y.len()]),
    };
    let anneal = init.is_none();
    // With Newton acceleration the plain iterations end `sweeps` after the ε-schedule.
    let plain_cap = match &cfg.newton {
        Some(n) => cfg
            .max_iters
            .min(schedule_len(cfg, d2, anneal).saturating_add(n.sweeps)),
        None => cfg.max_iters,
    };
    let mut g_new = vec![0.0; y.len()];
    let mut err = f64::INFINITY;
    let mut iterations = 0;
    let mut converged = false;
    let mut trace = Vec::new();
    for it in 0..plain_cap {
        let eps = if anneal {
            eps_at(cfg, d2, it)
        } else {
            cfg.epsilon
        };
        let hg = log_weights_plus(b, &g, eps);
        softmin_into(&xc, &yc, &hg, eps, cfg.precision, &mut f, None);
        check_finite(&f, "sinkhorn potential f")?;
        let hf = log_weights_plus(a, &f, eps);
        softmin_into(&yc, &xc, &hf, eps, cfg.precision, &mut g_new, None);
        check_finite(&g_new, "sinkhorn potential g")?;
        err = marginal_error(b, &g, &g_new, eps);
        trace.push(err);
        std::mem::swap(&mut g, &mut g_new);
        iterations = it + 1;
        if eps == cfg.epsilon && err < cfg.tolerance {
            converged = true;
            break;
        }
    }
    if let Some(n) = &cfg.newton
        && !converged
        && iterations < cfg.max_iters
    {
        let problem = newton_ot::Problem {
            xc: &xc,
            a,
            yc: &yc,
            b,
            eps: cfg.epsilon,
        };
        let out = newton_ot::newton_stage(
            problem,
            n,
            &mut f,
            &mut g,
            cfg.max_iters - iterations,
            cfg.tolerance,
            &mut trace,
        )?;
        iterations += out.iterations;
        err = out.marginal_error;
        converged = out.converged;
    }
    let cost_value = dot_w(a, &f) + dot_w(b, &g);
    if !cost_value.is_finite() {
        return Err(CoreError::non_finite("sinkhorn dual value"));
    }
    Ok(SinkhornResult {
        cost_value,
        f,
        g,
        epsilon: cfg.epsilon,
        iterations,
        marginal_error: err,
        converged,
        trace,
    })
}

/// Iterations of the ε-schedule before ε reaches its final value (0 without annealing).
fn schedule_len(cfg: &SinkhornConfig, d2: f64, anneal: bool) -> usize {
    if !anneal {
        return 0;
    }
    (0..cfg.max_iters)
        .find(|&it| eps_at(cfg, d2, it) == cfg.epsilon)
        .unwrap_or(cfg.max_iters)
}

fn dot_w(w: &[f64], v: &[f64]) -> f64 {
    w.iter().zip(v).map(|(a, b)| a * b).sum()
}

/// Symmetric problem OT_ε(α, α) on centred points: returns (value, potential p, iterations,
/// marginal error, converged). Averaged updates p ← ½(p + T(p)).
/// Started from `init` (the previous flow step's potential, same points moved a little) the ε-scaling
/// schedule is skipped, as in [`sinkhorn_warm`].
fn sinkhorn_symmetric(
    xc: &[Vec2],
    a: &[f64],
    d2: f64,
    cfg: &SinkhornConfig,
    init: Option<&[f64]>,
) -> CoreResult<(f64, Vec<f64>, usize, f64, bool)> {
    if cfg.newton.is_some() {
        // The Newton stage is two-sided: solve OT_ε(α, α) as a cross problem and symmetrize. Its
        // potentials are (p + t, p − t) for some t, so their mean is p.
        let a_pot = init.map(|p0| (p0, p0));
        let r = sinkhorn_warm(xc, a, xc, a, cfg, a_pot)?;
        let p: Vec<f64> = r.f.iter().zip(&r.g).map(|(f, g)| 0.5 * (f + g)).collect();
        return Ok((r.cost_value, p, r.iterations, r.marginal_error, r.converged));
    }
    let mut p = match init {
        Some(p0) if p0.len() == xc.len() => p0.to_vec(),
        Some(_) => {
            return Err(CoreError::invalid(
                "sinkhorn warm start: the symmetric potential does not match the cloud's size",
            ));
        }
        None => vec![0.0; xc.len()],
    };
    let anneal = init.is_none();
    let mut tp = vec![0.0; xc.len()];
    let mut err = f64::INFINITY;
    let mut value = f64::NAN;
    let mut iterations = 0;
    let mut converged = false;
    for it in 0..cfg.max_iters {
        let eps = if anneal {
            eps_at(cfg, d2, it)
        } else {
            cfg.epsilon
        };
        let h = log_weights_plus(a, &p, eps);
        softmin_into(xc, xc, &h, eps, cfg.precision, &mut tp, None);
        check_finite(&tp, "sinkhorn symmetric potential")?;
        err = marginal_error(a, &p, &tp, eps);
        // Dual value at (p, T p): its penalty term vanishes exactly (T p fixes the marginal).
        value = dot_w(a, &p) + dot_w(a, &tp);
        iterations = it + 1;
        let done = eps == cfg.epsilon && err < cfg.tolerance;
        for (pi, ti) in p.iter_mut().zip(&tp) {
            *pi = 0.5 * (*pi + ti);
        }
        if done {
            converged = true;
            break;
        }
    }
    if !value.is_finite() {
        return Err(CoreError::non_finite("sinkhorn symmetric dual value"));
    }
    Ok((value, p, iterations, err, converged))
}

/// Debiased Sinkhorn divergence S_ε(α, β) and its gradient w.r.t. the source positions and
/// weights (module docs for the conventions).
pub fn sinkhorn_divergence(
    x: &[Vec2],
    a: &[f64],
    y: &[Vec2],
    b: &[f64],
    cfg: &SinkhornConfig,
) -> CoreResult<SinkhornDivergence> {
    sinkhorn_divergence_warm(x, a, y, b, cfg, None, None)
}

/// [`sinkhorn_divergence`] with an optional warm start (f, g) for the cross problem and an
/// optional known OT_ε(β, β) (`ot_yy`, e.g. cached along a flow toward a fixed target; then the
/// β-β problem is skipped, `p_y` is empty and `iterations_yy` is 0).
pub fn sinkhorn_divergence_warm(
    x: &[Vec2],
    a: &[f64],
    y: &[Vec2],
    b: &[f64],
    cfg: &SinkhornConfig,
    init: Option<(&[f64], &[f64])>,
    ot_yy: Option<f64>,
) -> CoreResult<SinkhornDivergence> {
    let warm = SinkhornWarm {
        xy: init,
        xx: None,
        ot_yy,
    };
    sinkhorn_divergence_from(x, a, y, b, cfg, &warm)
}

/// What a Sinkhorn divergence may start from: the previous flow step's potentials and the target's
/// cached self-transport.
#[derive(Debug, Clone, Copy, Default)]
pub struct SinkhornWarm<'a> {
    /// (f, g) of OT_ε(α, β) (`f` on the sources, `g` on the targets; only `g` is read, as the first
    /// half-iteration recomputes `f` from it at the sources' new positions).
    pub xy: Option<(&'a [f64], &'a [f64])>,
    /// The symmetric potential p_α of OT_ε(α, α), one per source point.
    pub xx: Option<&'a [f64]>,
    /// A known OT_ε(β, β): the β-β problem is skipped (`p_y` empty, `iterations_yy` 0).
    pub ot_yy: Option<f64>,
}

/// [`sinkhorn_divergence`] started from `warm`. A warm-started problem skips the ε-scaling schedule
/// (it starts at the final ε, from potentials that already belong to it) and stops by the same rule
/// (marginal error below `tolerance` at the final ε), so its accuracy is that of a cold solve; if it
/// does not converge within `max_iters` it is solved again cold (the diagnostics count both).
pub fn sinkhorn_divergence_from(
    x: &[Vec2],
    a: &[f64],
    y: &[Vec2],
    b: &[f64],
    cfg: &SinkhornConfig,
    warm: &SinkhornWarm<'_>,
) -> CoreResult<SinkhornDivergence> {
    // A warm start that does not converge within `max_iters` (the particles moved too far) is dropped
    // for a cold solve with the full schedule: an unconverged result is never worse than a cold one. The
    // iterations reported are those of both.
    let mut xy = sinkhorn_warm(x, a, y, b, cfg, warm.xy)?;
    if warm.xy.is_some() && !xy.converged {
        let spent = xy.iterations;
        xy = sinkhorn_warm(x, a, y, b, cfg, None)?;
        xy.iterations += spent;
    }
    let c = mean_point(x, y);
    let xc = centred(x, c);
    let yc = centred(y, c);
    let d2x = squared_diameter(x, &[]);
    let d2y = squared_diameter(y, &[]);
    let (vx, p_x, itx, errx, convx) = match sinkhorn_symmetric(&xc, a, d2x, cfg, warm.xx)? {
        (.., it, _, false) if warm.xx.is_some() => {
            let (v, p, it_cold, e, conv) = sinkhorn_symmetric(&xc, a, d2x, cfg, None)?;
            (v, p, it + it_cold, e, conv)
        }
        solved => solved,
    };
    let (vy, p_y, ity, erry, convy) = match warm.ot_yy {
        Some(v) if v.is_finite() => (v, Vec::new(), 0, 0.0, true),
        Some(v) => return Err(CoreError::non_finite(format!("given OT_ε(β, β) = {v}"))),
        None => sinkhorn_symmetric(&yc, b, d2y, cfg, None)?,
    };
    let eps = cfg.epsilon;

    // Barycentric maps of the cross plan and of the symmetric plan, at the source points.
    let n = x.len();
    let t_xy = barycentric_map(
        &xc,
        &yc,
        &log_weights_plus(b, &xy.g, eps),
        eps,
        cfg.precision,
    );
    let t_xx = barycentric_map(
        &xc,
        &xc,
        &log_weights_plus(a, &p_x, eps),
        eps,
        cfg.precision,
    );
    let grad_x: Vec<Vec2> = (0..n)
        .map(|i| {
            let s = 2.0 * a[i];
            [s * (t_xx[i][0] - t_xy[i][0]), s * (t_xx[i][1] - t_xy[i][1])]
        })
        .collect();
    let grad_a: Vec<f64> = xy.f.iter().zip(&p_x).map(|(f, p)| f - p).collect();
    let value = xy.cost_value - 0.5 * vx - 0.5 * vy;
    if !value.is_finite() || grad_x.iter().any(|g| !is_finite2(*g)) {
        return Err(CoreError::non_finite("sinkhorn divergence or its gradient"));
    }
    check_finite(&grad_a, "sinkhorn divergence weight gradient")?;
    Ok(SinkhornDivergence {
        value,
        grad_x,
        grad_a,
        f: xy.f,
        g: xy.g,
        p_x,
        p_y,
        ot_yy: vy,
        diagnostics: SinkhornDiagnostics {
            iterations_xy: xy.iterations,
            iterations_xx: itx,
            iterations_yy: ity,
            marginal_error: xy.marginal_error.max(errx).max(erry),
            converged: xy.converged && convx && convy,
        },
    })
}

/// Entropic OT_ε(α, β) alone (no debiasing) and its gradient w.r.t. the source positions.
#[derive(Debug, Clone, PartialEq)]
pub struct EntropicOt {
    /// OT_ε(α, β) = ⟨a, f⟩ + ⟨b, g⟩.
    pub value: f64,
    /// ∂OT_ε/∂xᵢ = 2 aᵢ (xᵢ − T_αβ(xᵢ)), T_αβ the barycentric map of the plan.
    pub grad_x: Vec<Vec2>,
    /// Potentials of OT_ε(α, β).
    pub f: Vec<f64>,
    pub g: Vec<f64>,
    /// The cross problem's diagnostics (`iterations_xx` and `iterations_yy` are 0: no self-problems).
    pub diagnostics: SinkhornDiagnostics,
}

/// OT_ε(α, β) and its gradient, started from `warm_xy` (the previous step's potentials; a warm start that
/// does not converge within `max_iters` is solved again cold, as in [`sinkhorn_divergence_from`]). Without
/// the self-terms of the debiased divergence its minimizer over α is not β: the entropic bias pulls a
/// cloud that follows its gradient inward (for β = N(m, s²I) and cost |x − y|², the minimizing Gaussian
/// has variance s² − ε/2 per axis).
pub fn entropic_ot_from(
    x: &[Vec2],
    a: &[f64],
    y: &[Vec2],
    b: &[f64],
    cfg: &SinkhornConfig,
    warm_xy: Option<(&[f64], &[f64])>,
) -> CoreResult<EntropicOt> {
    let mut xy = sinkhorn_warm(x, a, y, b, cfg, warm_xy)?;
    if warm_xy.is_some() && !xy.converged {
        let spent = xy.iterations;
        xy = sinkhorn_warm(x, a, y, b, cfg, None)?;
        xy.iterations += spent;
    }
    let c = mean_point(x, y);
    let xc = centred(x, c);
    let yc = centred(y, c);
    let n = x.len();
    let t_xy = barycentric_map(
        &xc,
        &yc,
        &log_weights_plus(b, &xy.g, cfg.epsilon),
        cfg.epsilon,
        cfg.precision,
    );
    let grad_x: Vec<Vec2> = (0..n)
        .map(|i| {
            let s = 2.0 * a[i];
            [s * (xc[i][0] - t_xy[i][0]), s * (xc[i][1] - t_xy[i][1])]
        })
        .collect();
    if !xy.cost_value.is_finite() || grad_x.iter().any(|g| !is_finite2(*g)) {
        return Err(CoreError::non_finite("entropic OT or its gradient"));
    }
    Ok(EntropicOt {
        value: xy.cost_value,
        grad_x,
        diagnostics: SinkhornDiagnostics {
            iterations_xy: xy.iterations,
            iterations_xx: 0,
            iterations_yy: 0,
            marginal_error: xy.marginal_error,
            converged: xy.converged,
        },
        f: xy.f,
        g: xy.g,
    })
}

/// Soft-min (c-transform) of a potential to arbitrary points: for each zₖ,
/// −ε log Σⱼ wⱼ exp((potⱼ − |zₖ − cⱼ|²)/ε), and the barycentric map Σⱼ πₖⱼ cⱼ / Σⱼ πₖⱼ. This is
/// how f (from g on the targets) or g (from f on the sources) extends off the support.
pub fn soft_c_transform(
    z: &[Vec2],
    cols: &[Vec2],
    w: &[f64],
    pot: &[f64],
    epsilon: f64,
    precision: Precision,
) -> CoreResult<(Vec<f64>, Vec<Vec2>)> {
    check_open("epsilon", epsilon, 0.0, f64::INFINITY)?;
    if cols.len() != w.len() || cols.len() != pot.len() || cols.is_empty() {
        return Err(CoreError::invalid(
            "soft_c_transform: points, weights and potential differ in length or are empty",
        ));
    }
    let c = mean_point(z, cols);
    let zc = centred(z, c);
    let cc = centred(cols, c);
    let mut out = vec![0.0; z.len()];
    let mut t = vec![[0.0; 2]; z.len()];
    softmin_into(
        &zc,
        &cc,
        &log_weights_plus(w, pot, epsilon),
        epsilon,
        precision,
        &mut out,
        Some(&mut t),
    );
    for ti in &mut t {
        *ti = [ti[0] + c[0], ti[1] + c[1]];
    }
    check_finite(&out, "c-transform")?;
    Ok((out, t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::rng;

    fn cloud(n: usize, seed: u64, shift: Vec2, s: f64) -> (Vec<Vec2>, Vec<f64>) {
        let mut r = rng::seeded(seed);
        let x = (0..n)
            .map(|_| {
                let z = rng::normal2(&mut r);
                [shift[0] + s * z[0], shift[1] + s * z[1]]
            })
            .collect();
        (x, vec![1.0 / n as f64; n])
    }

    fn cfg(eps: f64, precision: Precision) -> SinkhornConfig {
        SinkhornConfig {
            epsilon: eps,
            scaling: Some(0.5),
            max_iters: 20_000,
            tolerance: 1e-11,
            precision,
            newton: None,
        }
    }

    #[test]
    fn fast_exp_is_accurate() {
        let mut worst = 0f64;
        for k in 0..20_000 {
            let x = -(k as f32) * 0.004;
            let e = f64::from(fast_exp_f32(x));
            let r = f64::from(x).exp();
            worst = worst.max((e - r).abs() / r);
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
        assert_eq!(fast_exp_f32(-80.5), 0.0);
        assert_eq!(fast_exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(fast_exp_f32(0.0), 1.0);
    }

    #[test]
    fn avx2_and_baseline_rows_are_bit_identical() {
        let (x, _) = cloud(37, 11, [0.0, 0.0], 1.0);
        let (y, b) = cloud(1003, 12, [0.5, 0.0], 1.0);
        let g: Vec<f64> = y.iter().map(|p| 0.1 * p[0]).collect();
        let cols = ColsF32::new(&y, &log_weights_plus(&b, &g, 0.05));
        let mut buf = vec![0f32; cols.len()];
        let lp = |avx2| LoopPaths {
            avx2,
            dense: false,
            exp: Exp::Fast,
        };
        for &r in &x {
            let base = row_f32(r, &cols, 20.0, true, &mut buf, lp(false));
            let fast = row_f32(r, &cols, 20.0, true, &mut buf, lp(paths::avx2_available()));
            assert_eq!(base.0.to_bits(), fast.0.to_bits());
            assert_eq!(base.1[0].to_bits(), fast.1[0].to_bits());
        }
    }

    #[test]
    fn marginals_hold_after_convergence() {
        let (x, a) = cloud(60, 1, [0.0, 0.0], 1.0);
        let (y, b) = cloud(50, 2, [1.0, 0.5], 0.7);
        let eps = 0.05 * squared_diameter(&x, &y);
        let r = sinkhorn(&x, &a, &y, &b, &cfg(eps, Precision::F64)).unwrap();
        assert!(r.converged);
        // Row and column sums of the plan, built explicitly (small sizes only in tests).
        let mut col = vec![0.0; y.len()];
        for i in 0..x.len() {
            let mut row = 0.0;
            for j in 0..y.len() {
                let p = a[i] * b[j] * ((r.f[i] + r.g[j] - dist2(x[i], y[j])) / eps).exp();
                row += p;
                col[j] += p;
            }
            assert!((row - a[i]).abs() < 1e-9, "row {i}: {row} vs {}", a[i]);
        }
        for j in 0..y.len() {
            assert!((col[j] - b[j]).abs() < 1e-12);
        }
    }

    use crate::core::math::dist2;

    #[test]
    fn f32_path_matches_f64_path_over_eps_range() {
        let (x, a) = cloud(200, 3, [0.0, 0.0], 1.0);
        let (y, b) = cloud(180, 4, [2.0, -1.0], 0.5);
        let d2 = squared_diameter(&x, &y);
        for rel in [1.0, 0.1, 0.01, 1e-3] {
            let mut c = cfg(rel * d2, Precision::F64);
            c.tolerance = 1e-6;
            let r64 = sinkhorn_divergence(&x, &a, &y, &b, &c).unwrap();
            c.precision = Precision::F32;
            let r32 = sinkhorn_divergence(&x, &a, &y, &b, &c).unwrap();
            assert!(r32.value.is_finite() && r64.value.is_finite());
            let dv = (r32.value - r64.value).abs() / r64.value.abs().max(1e-3 * d2);
            assert!(
                dv < 1e-4,
                "ε_rel {rel}: S32 {} S64 {}",
                r32.value,
                r64.value
            );
            let gmax = r64
                .grad_x
                .iter()
                .map(|g| g[0].abs().max(g[1].abs()))
                .fold(0.0, f64::max);
            let gerr = r32
                .grad_x
                .iter()
                .zip(&r64.grad_x)
                .map(|(p, q)| (p[0] - q[0]).abs().max((p[1] - q[1]).abs()))
                .fold(0.0, f64::max);
            assert!(
                gerr < 1e-3 * gmax,
                "ε_rel {rel}: gradient error {gerr} of {gmax}"
            );
        }
    }

    #[test]
    fn divergence_gradient_matches_finite_differences() {
        let (x, a0) = cloud(30, 5, [0.0, 0.0], 1.0);
        let (y, b) = cloud(25, 6, [1.0, 0.0], 0.6);
        // Non-uniform source weights.
        let mut a: Vec<f64> = (0..x.len()).map(|i| 1.0 + (i % 3) as f64).collect();
        let s: f64 = a.iter().sum();
        a.iter_mut().for_each(|v| *v /= s);
        let _ = a0;
        let d2 = squared_diameter(&x, &y);
        let c = cfg(0.1 * d2, Precision::F64);
        let r = sinkhorn_divergence(&x, &a, &y, &b, &c).unwrap();
        assert!(r.value > 0.0);
        let h = 1e-5;
        for i in [0, 7, 19] {
            for k in 0..2 {
                let mut xp = x.clone();
                xp[i][k] += h;
                let mut xm = x.clone();
                xm[i][k] -= h;
                let fd = (sinkhorn_divergence(&xp, &a, &y, &b, &c).unwrap().value
                    - sinkhorn_divergence(&xm, &a, &y, &b, &c).unwrap().value)
                    / (2.0 * h);
                let an = r.grad_x[i][k];
                assert!(
                    (fd - an).abs() <= 1e-4 * an.abs().max(1e-3),
                    "x[{i}][{k}]: fd {fd} an {an}"
                );
            }
        }
        // Weights: sum-zero direction e_i − e_k keeps Σa = 1.
        for (i, k) in [(0, 1), (4, 20), (11, 29)] {
            let mut ap = a.clone();
            ap[i] += h;
            ap[k] -= h;
            let mut am = a.clone();
            am[i] -= h;
            am[k] += h;
            let fd = (sinkhorn_divergence(&x, &ap, &y, &b, &c).unwrap().value
                - sinkhorn_divergence(&x, &am, &y, &b, &c).unwrap().value)
                / (2.0 * h);
            let an = r.grad_a[i] - r.grad_a[k];
            assert!(
                (fd - an).abs() <= 1e-4 * an.abs().max(1e-3),
                "a[{i}]−a[{k}]: fd {fd} an {an}"
            );
        }
    }

    #[test]
    fn entropic_ot_gradient_matches_finite_differences_and_its_value_the_primal() {
        let (x, a) = cloud(30, 5, [0.0, 0.0], 1.0);
        let (y, b) = cloud(25, 6, [1.0, 0.0], 0.6);
        let d2 = squared_diameter(&x, &y);
        let c = cfg(0.1 * d2, Precision::F64);
        let r = entropic_ot_from(&x, &a, &y, &b, &c, None).unwrap();
        // The dual value against the primal ⟨π, C⟩ + ε KL(π ‖ a⊗b) of the plan the potentials give.
        let eps = c.epsilon;
        let mut primal = 0.0;
        for (i, xi) in x.iter().enumerate() {
            for (j, yj) in y.iter().enumerate() {
                let cij = dist2(*xi, *yj);
                let pij = a[i] * b[j] * ((r.f[i] + r.g[j] - cij) / eps).exp();
                primal += pij * cij + eps * pij * (pij / (a[i] * b[j])).ln();
            }
        }
        assert!(
            (primal - r.value).abs() <= 1e-8 * r.value.abs(),
            "primal {primal} vs dual {}",
            r.value
        );
        assert!(r.diagnostics.converged && r.diagnostics.iterations_xx == 0);
        let h = 1e-5;
        let value = |x: &[Vec2]| entropic_ot_from(x, &a, &y, &b, &c, None).unwrap().value;
        for i in [0, 7, 19] {
            for k in 0..2 {
                let mut xp = x.clone();
                xp[i][k] += h;
                let mut xm = x.clone();
                xm[i][k] -= h;
                let fd = (value(&xp) - value(&xm)) / (2.0 * h);
                let an = r.grad_x[i][k];
                assert!(
                    (fd - an).abs() <= 1e-4 * an.abs().max(1e-3),
                    "x[{i}][{k}]: fd {fd} an {an}"
                );
            }
        }
        // Not debiased: OT_ε(α, α) > 0, where S_ε(α, α) = 0.
        let own = entropic_ot_from(&x, &a, &x, &a, &c, None).unwrap();
        assert!(own.value > 0.0, "OT_ε(α, α) = {}", own.value);
    }

    #[test]
    fn divergence_is_symmetric_and_zero_on_equal_clouds() {
        let (x, a) = cloud(40, 7, [0.0, 0.0], 1.0);
        let (y, b) = cloud(35, 8, [0.5, 0.5], 1.0);
        let c = cfg(0.05 * squared_diameter(&x, &y), Precision::F64);
        let s1 = sinkhorn_divergence(&x, &a, &y, &b, &c).unwrap().value;
        let s2 = sinkhorn_divergence(&y, &b, &x, &a, &c).unwrap().value;
        assert!((s1 - s2).abs() < 1e-9 * s1.abs().max(1.0), "{s1} vs {s2}");
        let s0 = sinkhorn_divergence(&x, &a, &x, &a, &c).unwrap();
        assert!(s0.value.abs() < 1e-9, "S(α, α) = {}", s0.value);
        assert!(
            s0.grad_x
                .iter()
                .all(|g| g[0].abs() < 1e-7 && g[1].abs() < 1e-7)
        );
    }

    #[test]
    fn invalid_inputs_are_named_errors() {
        let x = vec![[0.0, 0.0]];
        let a = vec![1.0];
        let c = SinkhornConfig {
            epsilon: -1.0,
            ..SinkhornConfig::default()
        };
        assert!(matches!(
            sinkhorn(&x, &a, &x, &a, &c),
            Err(CoreError::InvalidParameter { .. })
        ));
        let c = SinkhornConfig::default();
        assert!(sinkhorn(&x, &[0.5], &x, &a, &c).is_err());
        assert!(sinkhorn(&[[f64::NAN, 0.0]], &a, &x, &a, &c).is_err());
        assert!(sinkhorn(&[], &[], &x, &a, &c).is_err());
    }

    #[test]
    fn config_round_trips_through_serde() {
        let c = SinkhornConfig::default();
        let s = serde_json::to_string(&c).unwrap();
        let back: SinkhornConfig = serde_json::from_str(&s).unwrap();
        assert_eq!(c, back);
    }

    fn arb_cloud() -> impl proptest::strategy::Strategy<Value = (Vec<Vec2>, Vec<f64>)> {
        use proptest::prelude::*;
        prop::collection::vec(((-3.0f64..3.0, -3.0f64..3.0), 0.05f64..1.0), 1..10).prop_map(|v| {
            let s: f64 = v.iter().map(|p| p.1).sum();
            (
                v.iter().map(|p| [p.0.0, p.0.1]).collect(),
                v.iter().map(|p| p.1 / s).collect(),
            )
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        #[test]
        fn divergence_nonnegative_symmetric_finite(
            (x, a) in arb_cloud(),
            (y, b) in arb_cloud(),
            eps_rel in 0.02f64..1.0,
            f32_path: bool,
        ) {
            let d2 = squared_diameter(&x, &y).max(1e-2);
            let mut c = cfg(eps_rel * d2, if f32_path { Precision::F32 } else { Precision::F64 });
            c.tolerance = if f32_path { 1e-6 } else { 1e-11 };
            let s1 = sinkhorn_divergence(&x, &a, &y, &b, &c).unwrap();
            let s2 = sinkhorn_divergence(&y, &b, &x, &a, &c).unwrap();
            let tiny = if f32_path { 1e-5 } else { 1e-9 } * d2;
            proptest::prop_assert!(s1.value.is_finite() && s1.grad_x.iter().all(|g| is_finite2(*g)));
            proptest::prop_assert!(s1.value >= -tiny, "S = {}", s1.value);
            proptest::prop_assert!((s1.value - s2.value).abs() <= tiny.max(1e-6 * s1.value.abs()),
                "{} vs {}", s1.value, s2.value);
        }
    }

    /// Timing printout (release): `cargo test --release --lib core::sinkhorn -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timing_half_iteration() {
        for n in [4096usize, 16_384] {
            let (x, _) = cloud(n, 9, [0.0, 0.0], 0.3);
            let (y, b) = cloud(n, 10, [0.2, 0.1], 0.3);
            let g = vec![0.0; n];
            let mut f = vec![0.0; n];
            let eps = 0.01;
            sinkhorn_half_iteration(&x, &y, &b, &g, eps, Precision::F32, &mut f).unwrap();
            let reps = if n > 5000 { 3 } else { 20 };
            let t = std::time::Instant::now();
            for _ in 0..reps {
                sinkhorn_half_iteration(&x, &y, &b, &g, eps, Precision::F32, &mut f).unwrap();
            }
            let dt = t.elapsed().as_secs_f64() / reps as f64;
            println!(
                "sinkhorn half-iteration N=M={n}: {:.2} ms (full iteration ≈ {:.2} ms)",
                dt * 1e3,
                2.0 * dt * 1e3
            );
        }
    }
}
