//! Expectation–maximization for the Gaussian mixture on samples (forward-KL maximum likelihood).
//!
//! One [`em_step`] is a single parallel pass over the samples that computes the responsibilities
//! (E-step, log-sum-exp) and accumulates the sufficient statistics `N_k`, `Σ r (x − μ_k)`,
//! `Σ r (x − μ_k)(x − μ_k)ᵀ` (centred on the current means for accuracy), followed by the M-step
//! `w_k = N_k/N`, `μ_k ← μ_k + S1_k/N_k`, `Σ_k = S2_k/N_k − d̄ d̄ᵀ + floor·I`.
//! The covariance floor ([`COV_FLOOR`], like scikit-learn's `reg_covar`) keeps every Σ_k positive
//! definite; a component that receives no mass (`N_k < 1e-10 N`) keeps its mean and covariance
//! and gets the weight 1e-10. Chunks are reduced serially, so the result does not depend on the
//! number of threads.

use rayon::prelude::*;

use super::error::{CoreError, CoreResult};
use super::gaussian::LN_2PI;
use super::math::{Vec2, is_finite2};
use super::mixture::Mixture;

/// Added to the diagonal of every covariance in the M-step (squared length units).
pub const COV_FLOOR: f64 = 1e-6;

const CHUNK: usize = 2048;

#[derive(Clone, Copy)]
struct Pre {
    c: f64,
    mx: f64,
    my: f64,
    i11: f64,
    l21: f64,
    i22: f64,
}

/// Per-chunk sufficient statistics, per component `[n, s1x, s1y, sxx, sxy, syy]`, plus Σ log q.
struct Stats {
    comp: Vec<[f64; 6]>,
    loglik: f64,
}

/// One EM iteration on `samples`; returns the mean log-likelihood of the samples under the
/// mixture as it was BEFORE the update. Errors on empty or non-finite samples (the mixture is then
/// unchanged).
pub fn em_step(samples: &[Vec2], mix: &mut Mixture) -> CoreResult<f64> {
    if samples.is_empty() {
        return Err(CoreError::invalid("EM needs at least one sample"));
    }
    let k = mix.n_components();
    let pre: Vec<Pre> = mix
        .log_weights()
        .iter()
        .zip(mix.means())
        .zip(mix.cholesky_factors())
        .map(|((lw, m), [l11, l21, l22])| Pre {
            c: lw - LN_2PI - l11.ln() - l22.ln(),
            mx: m[0],
            my: m[1],
            i11: 1.0 / l11,
            l21,
            i22: 1.0 / l22,
        })
        .collect();
    let chunks: Vec<CoreResult<Stats>> = samples
        .par_chunks(CHUNK)
        .map(|xs| {
            let mut st = Stats {
                comp: vec![[0.0; 6]; k],
                loglik: 0.0,
            };
            let mut lt = vec![0.0; k];
            for x in xs {
                if !is_finite2(*x) {
                    return Err(CoreError::invalid(format!("EM sample {x:?} is not finite")));
                }
                let mut mx = f64::NEG_INFINITY;
                for (t, p) in lt.iter_mut().zip(&pre) {
                    let z1 = (x[0] - p.mx) * p.i11;
                    let z2 = (x[1] - p.my - p.l21 * z1) * p.i22;
                    *t = p.c - 0.5 * (z1 * z1 + z2 * z2);
                    mx = mx.max(*t);
                }
                let mut s = 0.0;
                for t in lt.iter_mut() {
                    *t = (*t - mx).exp();
                    s += *t;
                }
                st.loglik += mx + s.ln();
                let inv = 1.0 / s;
                for (c, (t, p)) in st.comp.iter_mut().zip(lt.iter().zip(&pre)) {
                    let r = t * inv;
                    let dx = x[0] - p.mx;
                    let dy = x[1] - p.my;
                    c[0] += r;
                    c[1] += r * dx;
                    c[2] += r * dy;
                    c[3] += r * dx * dx;
                    c[4] += r * dx * dy;
                    c[5] += r * dy * dy;
                }
            }
            Ok(st)
        })
        .collect();
    let mut tot = vec![[0.0; 6]; k];
    let mut loglik = 0.0;
    for ch in chunks {
        let ch = ch?;
        loglik += ch.loglik;
        for (t, c) in tot.iter_mut().zip(&ch.comp) {
            for i in 0..6 {
                t[i] += c[i];
            }
        }
    }
    let n = samples.len() as f64;
    let old_means = mix.means();
    let old_covs = mix.covariances();
    let mut weights = Vec::with_capacity(k);
    let mut means = Vec::with_capacity(k);
    let mut covs = Vec::with_capacity(k);
    for j in 0..k {
        let [nk, s1x, s1y, sxx, sxy, syy] = tot[j];
        if nk < 1e-10 * n {
            weights.push(1e-10);
            means.push(old_means[j]);
            covs.push(old_covs[j]);
            continue;
        }
        let (dx, dy) = (s1x / nk, s1y / nk);
        weights.push(nk / n);
        means.push([old_means[j][0] + dx, old_means[j][1] + dy]);
        let cxy = sxy / nk - dx * dy;
        covs.push([
            [sxx / nk - dx * dx + COV_FLOOR, cxy],
            [cxy, syy / nk - dy * dy + COV_FLOOR],
        ]);
    }
    let new = Mixture::from_components(&weights, &means, &covs)?;
    let mean_ll = loglik / n;
    if !mean_ll.is_finite() {
        return Err(CoreError::non_finite("EM mean log-likelihood"));
    }
    *mix = new;
    Ok(mean_ll)
}

/// Runs up to `max_iters` EM steps, stopping when the mean log-likelihood improves by less than
/// `tol`; returns the log-likelihood trace.
pub fn em_fit(
    samples: &[Vec2],
    mix: &mut Mixture,
    max_iters: usize,
    tol: f64,
) -> CoreResult<Vec<f64>> {
    let mut trace = Vec::new();
    for _ in 0..max_iters {
        let ll = em_step(samples, mix)?;
        let done = trace
            .last()
            .is_some_and(|prev: &f64| (ll - prev).abs() < tol);
        trace.push(ll);
        if done {
            break;
        }
    }
    Ok(trace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::rng::seeded;

    fn truth() -> Mixture {
        Mixture::from_components(
            &[0.3, 0.7],
            &[[-2.0, 0.5], [1.5, -1.0]],
            &[[[0.5, 0.2], [0.2, 0.4]], [[1.0, -0.3], [-0.3, 0.6]]],
        )
        .unwrap()
    }

    #[test]
    fn recovers_a_known_mixture_and_likelihood_increases() {
        let xs = truth().sample(20_000, &mut seeded(7));
        let mut m = Mixture::from_components(
            &[0.5, 0.5],
            &[[-1.0, 0.0], [1.0, 0.0]],
            &[[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]],
        )
        .unwrap();
        let trace = em_fit(&xs, &mut m, 300, 1e-10).unwrap();
        for w in trace.windows(2) {
            assert!(w[1] >= w[0] - 1e-12, "log-likelihood decreased: {w:?}");
        }
        let (w, mu, c) = (m.weights(), m.means(), m.covariances());
        let (tw, tmu, tc) = (truth().weights(), truth().means(), truth().covariances());
        for j in 0..2 {
            // Standard errors at N = 20 000 are ~0.01; allow 5σ.
            assert!((w[j] - tw[j]).abs() < 0.02, "w {w:?}");
            assert!((mu[j][0] - tmu[j][0]).abs() < 0.05 && (mu[j][1] - tmu[j][1]).abs() < 0.05);
            for a in 0..2 {
                for b in 0..2 {
                    assert!((c[j][a][b] - tc[j][a][b]).abs() < 0.05, "{c:?}");
                }
            }
        }
        // The final log-likelihood is close to the truth's (the MLE is at least as good).
        let ll_true = xs.iter().map(|x| truth().log_density(*x)).sum::<f64>() / xs.len() as f64;
        assert!(*trace.last().unwrap() >= ll_true - 1e-3);
    }

    #[test]
    fn one_step_matches_a_naive_serial_implementation() {
        let xs = truth().sample(5000, &mut seeded(3));
        let m0 = Mixture::from_components(
            &[0.4, 0.35, 0.25],
            &[[-1.0, 0.0], [1.0, 0.5], [0.0, -1.5]],
            &[
                [[1.0, 0.1], [0.1, 1.0]],
                [[0.5, 0.0], [0.0, 2.0]],
                [[1.5, -0.4], [-0.4, 0.8]],
            ],
        )
        .unwrap();
        let mut m = m0.clone();
        let ll = em_step(&xs, &mut m).unwrap();
        // Naive: responsibilities from Mixture::log_density_terms, raw moments.
        let k = 3;
        let mut n = vec![0.0; k];
        let mut s1 = vec![[0.0; 2]; k];
        let mut s2 = vec![[[0.0; 2]; 2]; k];
        let mut ll_naive = 0.0;
        let mut t = vec![0.0; k];
        for x in &xs {
            let lq = m0.log_density_terms(*x, &mut t);
            ll_naive += lq;
            for j in 0..k {
                let r = (t[j] - lq).exp();
                n[j] += r;
                for a in 0..2 {
                    s1[j][a] += r * x[a];
                    for b in 0..2 {
                        s2[j][a][b] += r * x[a] * x[b];
                    }
                }
            }
        }
        ll_naive /= xs.len() as f64;
        assert!((ll - ll_naive).abs() < 1e-12);
        for j in 0..k {
            let mu = [s1[j][0] / n[j], s1[j][1] / n[j]];
            assert!((m.means()[j][0] - mu[0]).abs() < 1e-10);
            assert!((m.weights()[j] - n[j] / xs.len() as f64).abs() < 1e-12);
            for a in 0..2 {
                for b in 0..2 {
                    let want =
                        s2[j][a][b] / n[j] - mu[a] * mu[b] + if a == b { COV_FLOOR } else { 0.0 };
                    assert!((m.covariances()[j][a][b] - want).abs() < 1e-9);
                }
            }
        }
    }

    #[test]
    fn refuses_bad_samples_and_survives_an_empty_component() {
        let mut m = truth();
        assert!(em_step(&[], &mut m).is_err());
        assert!(em_step(&[[0.0, f64::NAN]], &mut m).is_err());
        assert_eq!(m, truth());
        // A component far from every sample keeps its place and stays valid.
        let mut far = Mixture::from_components(
            &[0.5, 0.5],
            &[[0.0, 0.0], [1e3, 1e3]],
            &[[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]],
        )
        .unwrap();
        let xs = vec![[0.1, 0.2], [-0.3, 0.4], [0.5, -0.1]];
        em_step(&xs, &mut far).unwrap();
        assert!(far.weights()[1] < 1e-9 && far.means()[1] == [1e3, 1e3]);
        // A single point: covariance collapses to the floor but stays positive definite.
        let mut one = truth();
        for _ in 0..3 {
            em_step(&[[0.0, 0.0]], &mut one).unwrap();
        }
        assert!(one.covariances().iter().all(|c| c[0][0] > 0.0));
    }
}
