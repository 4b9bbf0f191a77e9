//! Sliced optimal transport and the sliced Riesz (energy) MMD gradient.
//!
//! # Conventions
//! - Directions θ are unit vectors; [`random_directions`] draws their angles uniformly in
//!   [0, 2π) from a [`Rng`], so every slice average is an unbiased Monte-Carlo estimate.
//! - Sliced Wasserstein-2 (POT's `sliced_wasserstein_distance` with p = 2):
//!   SW₂ = ( (1/P) Σ_θ W₂²(θ#α, θ#β) )^{1/2}, cost |s − t|² in 1D, weighted quantile matching.
//! - Sliced energy MMD: for the Riesz kernel with r = 1, k = −|x − y|, the identity
//!   E_θ |⟨θ, z⟩| = (2/π)|z| in 2D gives MMD²(α, β) = (π/2) E_θ MMD²₁(θ#α, θ#β), so the
//!   estimate (π/2)(1/P)Σ_θ and its gradient are unbiased for the full energy MMD² of
//!   [`super::mmd`] (weights summing to one). Per slice: one sort of the N + M projections;
//!   the 1D value is 2∫(F_α − F_β)² and the 1D gradient of particle i is
//!   2aᵢ[(2B_<ᵢ − B) − (2A_<ᵢ + aᵢ − A)] from the masses A_<ᵢ, B_<ᵢ of α and β ranked below it:
//!   O((N + M) log(N + M)) per slice (an LSD radix sort on f32 keys).
//!
//! Slices are split into a fixed number of groups processed in parallel and summed in group
//! order, so the result does not depend on the number of threads.

use rayon::prelude::*;

use super::error::{CoreError, CoreResult};
use super::math::{Vec2, is_finite2};
use super::rng::{self, Rng};

/// Number of slice groups (fixed, for thread-count-independent sums).
const GROUPS: usize = 4;

/// P directions with uniformly random angles.
pub fn random_directions(p: usize, rng: &mut Rng) -> Vec<Vec2> {
    (0..p)
        .map(|_| {
            let t = std::f64::consts::TAU * rng::uniform(rng);
            [t.cos(), t.sin()]
        })
        .collect()
}

fn check(name: &str, pts: &[Vec2], w: &[f64]) -> CoreResult<()> {
    super::sinkhorn::check_cloud(name, pts, w)
}

fn check_dirs(dirs: &[Vec2]) -> CoreResult<()> {
    if dirs.is_empty() {
        return Err(CoreError::param("slices", 0.0, "[1, ∞)"));
    }
    for d in dirs {
        let n = (d[0] * d[0] + d[1] * d[1]).sqrt();
        if !(n.is_finite() && (n - 1.0).abs() < 1e-6) {
            return Err(CoreError::param(
                "direction norm",
                n,
                "[1 − 1e-6, 1 + 1e-6]",
            ));
        }
    }
    Ok(())
}

fn sort_by_projection(pts: &[Vec2], w: &[f64], d: Vec2) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = pts
        .iter()
        .zip(w)
        .map(|(p, &wi)| (p[0] * d[0] + p[1] * d[1], wi))
        .collect();
    v.sort_unstable_by(|p, q| p.0.total_cmp(&q.0));
    v
}

/// W₂² between two weighted 1D measures given sorted (position, weight) lists.
fn w2sq_1d(u: &[(f64, f64)], v: &[(f64, f64)]) -> f64 {
    let (mut i, mut j) = (0, 0);
    let (mut ru, mut rv) = (u[0].1, v[0].1);
    let mut cost = 0.0;
    loop {
        let m = ru.min(rv);
        let d = u[i].0 - v[j].0;
        cost += m * d * d;
        ru -= m;
        rv -= m;
        if ru <= 0.0 {
            i += 1;
            if i == u.len() {
                break;
            }
            ru = u[i].1;
        }
        if rv <= 0.0 {
            j += 1;
            if j == v.len() {
                break;
            }
            rv = v[j].1;
        }
    }
    cost
}

/// Sliced Wasserstein-2 distance SW₂ over the given unit directions (module docs).
pub fn sliced_wasserstein2(
    x: &[Vec2],
    a: &[f64],
    y: &[Vec2],
    b: &[f64],
    directions: &[Vec2],
) -> CoreResult<f64> {
    check("source", x, a)?;
    check("target", y, b)?;
    check_dirs(directions)?;
    let per: Vec<f64> = directions
        .par_iter()
        .map(|&d| w2sq_1d(&sort_by_projection(x, a, d), &sort_by_projection(y, b, d)))
        .collect();
    let v = (per.iter().sum::<f64>() / per.len() as f64).sqrt();
    if v.is_finite() {
        Ok(v)
    } else {
        Err(CoreError::non_finite("sliced Wasserstein distance"))
    }
}

/// Monotone map f32 → u32 (total order, −0 < +0).
#[inline]
fn key_bits(f: f32) -> u32 {
    let b = f.to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// LSD radix sort of u64 values by their upper 32 bits (3 passes of 11 bits, all histograms
/// from one read; a pass whose digit is the same for every value is skipped); `tmp` is scratch.
fn radix_sort_hi32(v: &mut Vec<u64>, tmp: &mut Vec<u64>) {
    tmp.resize(v.len(), 0);
    let mut hist = vec![[0usize; 2048]; 3];
    for &k in v.iter() {
        for (pass, h) in hist.iter_mut().enumerate() {
            h[((k >> (32 + 11 * pass)) & 0x7ff) as usize] += 1;
        }
    }
    for (pass, h) in hist.iter().enumerate() {
        if h.contains(&v.len()) {
            continue;
        }
        let shift = 32 + 11 * pass;
        let mut start = [0usize; 2048];
        let mut acc = 0;
        for (s, &c) in start.iter_mut().zip(h) {
            *s = acc;
            acc += c;
        }
        for &k in v.iter() {
            let d = ((k >> shift) & 0x7ff) as usize;
            tmp[start[d]] = k;
            start[d] += 1;
        }
        std::mem::swap(v, tmp);
    }
}

/// Inverse of [`key_bits`].
#[inline]
fn key_value(k: u32) -> f32 {
    f32::from_bits(if k & 0x8000_0000 != 0 {
        k & 0x7fff_ffff
    } else {
        !k
    })
}

/// Scratch buffers of one slice group.
struct SliceScratch {
    keys: Vec<u64>,
    tmp: Vec<u64>,
    g1d: Vec<f64>,
}

/// Per-slice work: adds θ · (1D gradient) into `grad` and returns the 1D energy MMD² (from the
/// f32 projections; the ranks decide the gradient).
fn riesz_slice(
    x: &[Vec2],
    a: &[f64],
    y: &[Vec2],
    b: &[f64],
    d: Vec2,
    sc: &mut SliceScratch,
    grad: &mut [Vec2],
) -> f64 {
    let n = x.len();
    sc.keys.clear();
    sc.keys.extend(x.iter().chain(y).enumerate().map(|(i, p)| {
        let s = (p[0] * d[0] + p[1] * d[1]) as f32;
        (u64::from(key_bits(s)) << 32) | i as u64
    }));
    radix_sort_hi32(&mut sc.keys, &mut sc.tmp);
    sc.g1d.clear();
    sc.g1d.resize(n, 0.0);
    // Uniform weights (the flows' case) need no random reads of a and b.
    let a_uniform = a.iter().all(|&v| v == a[0]);
    let b_uniform = b.iter().all(|&v| v == b[0]);
    let (a0, b0) = (a[0], b[0]);
    let (a_tot, b_tot) = (1.0, 1.0);
    let (mut a_below, mut b_below) = (0.0f64, 0.0f64);
    let mut value = 0.0;
    let mut prev = f64::NAN;
    for &k in sc.keys.iter() {
        let idx = (k & 0xffff_ffff) as usize;
        let s = f64::from(key_value((k >> 32) as u32));
        if prev.is_finite() {
            let diff = a_below - b_below;
            value += diff * diff * (s - prev);
        }
        prev = s;
        if idx < n {
            let ai = if a_uniform { a0 } else { a[idx] };
            sc.g1d[idx] = 2.0 * ai * ((2.0 * b_below - b_tot) - (2.0 * a_below + ai - a_tot));
            a_below += ai;
        } else {
            b_below += if b_uniform { b0 } else { b[idx - n] };
        }
    }
    for (g, &v) in grad.iter_mut().zip(&sc.g1d) {
        g[0] += v * d[0];
        g[1] += v * d[1];
    }
    2.0 * value
}

/// Sliced estimate of the energy (Riesz, r = 1) MMD² and of its gradient ∂/∂xᵢ (same
/// convention as [`super::mmd::mmd2_grad`]), averaged over the given directions; unbiased for the
/// full energy MMD² and its gradient when the directions are uniformly random.
pub fn sliced_riesz_grad(
    x: &[Vec2],
    a: &[f64],
    y: &[Vec2],
    b: &[f64],
    directions: &[Vec2],
) -> CoreResult<(f64, Vec<Vec2>)> {
    check("source", x, a)?;
    check("target", y, b)?;
    check_dirs(directions)?;
    if x.len() + y.len() > u32::MAX as usize {
        return Err(CoreError::invalid("sliced Riesz: more than 2³² points"));
    }
    let n = x.len();
    let groups = GROUPS.min(directions.len());
    let parts: Vec<(f64, Vec<Vec2>)> = (0..groups)
        .into_par_iter()
        .map(|gi| {
            let mut grad = vec![[0.0; 2]; n];
            let mut sc = SliceScratch {
                keys: Vec::with_capacity(x.len() + y.len()),
                tmp: Vec::new(),
                g1d: Vec::with_capacity(n),
            };
            let mut value = 0.0;
            for d in directions.iter().skip(gi).step_by(groups) {
                value += riesz_slice(x, a, y, b, *d, &mut sc, &mut grad);
            }
            (value, grad)
        })
        .collect();
    let scale = std::f64::consts::FRAC_PI_2 / directions.len() as f64;
    let mut value = 0.0;
    let mut grad = vec![[0.0; 2]; n];
    for (v, g) in parts {
        value += v;
        for (acc, gi) in grad.iter_mut().zip(&g) {
            acc[0] += gi[0];
            acc[1] += gi[1];
        }
    }
    for g in &mut grad {
        g[0] *= scale;
        g[1] *= scale;
    }
    let value = value * scale;
    if !value.is_finite() || grad.iter().any(|g| !is_finite2(*g)) {
        return Err(CoreError::non_finite("sliced Riesz MMD gradient"));
    }
    Ok((value, grad))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::mmd::{Kernel, mmd2_grad};

    fn cloud(n: usize, seed: u64, shift: f64) -> (Vec<Vec2>, Vec<f64>) {
        let mut r = rng::seeded(seed);
        let x = (0..n)
            .map(|_| {
                let z = rng::normal2(&mut r);
                [z[0] + shift, 0.5 * z[1] - 0.3 * shift]
            })
            .collect();
        (x, vec![1.0 / n as f64; n])
    }

    #[test]
    fn radix_sort_orders_keys() {
        let mut r = rng::seeded(3);
        let vals: Vec<f32> = (0..5000)
            .map(|_| (rng::normal(&mut r) * 100.0) as f32)
            .collect();
        let mut keys: Vec<u64> = vals
            .iter()
            .enumerate()
            .map(|(i, &v)| (u64::from(key_bits(v)) << 32) | i as u64)
            .collect();
        radix_sort_hi32(&mut keys, &mut Vec::new());
        let sorted: Vec<f32> = keys
            .iter()
            .map(|k| vals[(k & 0xffff_ffff) as usize])
            .collect();
        assert!(sorted.windows(2).all(|w| w[0] <= w[1]));
        let mut idx: Vec<usize> = keys.iter().map(|k| (k & 0xffff_ffff) as usize).collect();
        idx.sort_unstable();
        assert!(idx.iter().enumerate().all(|(i, &j)| i == j));
    }

    #[test]
    fn sliced_riesz_converges_to_full_energy_gradient_like_inverse_sqrt_p() {
        let (x, a) = cloud(64, 1, 0.0);
        let (y, b) = cloud(48, 2, 1.5);
        let (v_full, g_full, _) = mmd2_grad(&x, &a, &y, &b, &Kernel::Riesz { r: 1.0 }).unwrap();
        let norm = g_full
            .iter()
            .map(|g| g[0] * g[0] + g[1] * g[1])
            .sum::<f64>()
            .sqrt();
        // Mean relative error over independent repetitions, for P = 16 and P = 1024.
        let rel_err = |p: usize| -> (f64, f64) {
            let reps = 12;
            let (mut eg, mut ev) = (0.0, 0.0);
            for rep in 0..reps {
                let mut r = rng::substream(99, (p * 1000 + rep) as u64);
                let dirs = random_directions(p, &mut r);
                let (v, g) = sliced_riesz_grad(&x, &a, &y, &b, &dirs).unwrap();
                let e = g
                    .iter()
                    .zip(&g_full)
                    .map(|(p, q)| (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2))
                    .sum::<f64>()
                    .sqrt();
                eg += e / norm / reps as f64;
                ev += (v - v_full).abs() / v_full / reps as f64;
            }
            (eg, ev)
        };
        let (e16, v16) = rel_err(16);
        let (e1024, v1024) = rel_err(1024);
        // 1/√P scaling predicts a ratio of 8 between P = 16 and P = 1024; accept 5..13.
        let ratio = e16 / e1024;
        println!(
            "sliced Riesz vs full energy gradient: rel. error {e16:.4} (P=16), {e1024:.4} (P=1024), ratio {ratio:.2}; value errors {v16:.4}, {v1024:.4}"
        );
        assert!(
            (5.0..13.0).contains(&ratio),
            "gradient errors {e16} (P=16), {e1024} (P=1024), ratio {ratio}"
        );
        assert!(e1024 < 0.05, "gradient error at P=1024: {e1024}");
        assert!(v1024 < 0.02 && v16 < 0.2, "value errors {v16}, {v1024}");
    }

    #[test]
    fn sliced_w2_of_a_translate_is_projected_shift() {
        // Translating a cloud by t: W₂ on slice θ is |⟨θ, t⟩|, so SW₂² = mean ⟨θ, t⟩².
        let (x, a) = cloud(50, 4, 0.0);
        let t = [0.7, -0.2];
        let y: Vec<Vec2> = x.iter().map(|p| [p[0] + t[0], p[1] + t[1]]).collect();
        let dirs = random_directions(40, &mut rng::seeded(5));
        let sw = sliced_wasserstein2(&x, &a, &y, &a, &dirs).unwrap();
        let expect = (dirs
            .iter()
            .map(|d| (d[0] * t[0] + d[1] * t[1]).powi(2))
            .sum::<f64>()
            / 40.0)
            .sqrt();
        assert!((sw - expect).abs() < 1e-12, "{sw} vs {expect}");
    }

    #[test]
    fn deterministic_and_rejects_bad_input() {
        let (x, a) = cloud(100, 6, 0.0);
        let (y, b) = cloud(80, 7, 1.0);
        let dirs = random_directions(10, &mut rng::seeded(8));
        let r1 = sliced_riesz_grad(&x, &a, &y, &b, &dirs).unwrap();
        let r2 = sliced_riesz_grad(&x, &a, &y, &b, &dirs).unwrap();
        assert_eq!(r1.0.to_bits(), r2.0.to_bits());
        assert!(
            r1.1.iter()
                .zip(&r2.1)
                .all(|(p, q)| p[0].to_bits() == q[0].to_bits() && p[1].to_bits() == q[1].to_bits())
        );
        assert!(sliced_riesz_grad(&x, &a, &y, &b, &[]).is_err());
        assert!(sliced_riesz_grad(&x, &a, &y, &b, &[[2.0, 0.0]]).is_err());
    }

    /// `cargo test --release --lib core::sliced -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn timing_sliced_riesz() {
        for n in [1000usize, 10_000, 100_000, 1_000_000] {
            let (x, a) = cloud(n, 9, 0.0);
            let (y, b) = cloud(n, 10, 1.0);
            let dirs = random_directions(64, &mut rng::seeded(11));
            let t = std::time::Instant::now();
            let _ = sliced_riesz_grad(&x, &a, &y, &b, &dirs).unwrap();
            println!(
                "sliced Riesz N=M={n}, P=64: {:.3} s",
                t.elapsed().as_secs_f64()
            );
        }
    }
}
