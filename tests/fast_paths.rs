//! The fast paths against their references (issue 17): the AVX2 and baseline ("scalar") builds of the f32
//! inner loops give the same bits; block-sparse Sinkhorn rows give the dense rows' bits (fast exp) or
//! stay within the documented skipped-mass bound (`f32::exp`); the fast exp's error and flush-to-zero
//! threshold against `f64::exp`; a rayon pool of 1 thread and one of 4 give the same bits for every parallel
//! kernel and every bundled scenario.
//!
//! `DIVLAB_PATHS` (the words of `core::paths::Paths::parse`) forces the paths every test here runs under,
//! except where a test sets both sides of a comparison itself; `scripts/check.sh` runs this file with
//! `scalar,dense,std_exp` and with `avx2` (when the CPU has it) besides the default. Each comparison
//! prints its largest difference (`--nocapture`). The tests share the process-wide setting, so they hold
//! one lock.

use std::sync::{Mutex, MutexGuard};

use divlab::core::math::Vec2;
use divlab::core::mmd::{self, Kernel};
use divlab::core::paths::{self, Blocks, Exp, Paths, Simd};
use divlab::core::rng;
use divlab::core::sinkhorn::{self, Precision, SinkhornConfig};

static LOCK: Mutex<()> = Mutex::new(());

/// The paths `DIVLAB_PATHS` forces (the default when unset); an unknown word fails the test.
fn forced() -> Paths {
    let words = std::env::var("DIVLAB_PATHS").unwrap_or_default();
    Paths::parse(&words).unwrap_or_else(|e| panic!("{e}"))
}

/// Holds the lock and sets the forced paths (again, after a test that changed them).
fn lock() -> MutexGuard<'static, ()> {
    let g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    paths::set(forced()).unwrap_or_else(|e| panic!("{e}"));
    g
}

/// Runs `f` under `p`, then puts the forced paths back.
fn under<T>(p: Paths, f: impl FnOnce() -> T) -> T {
    paths::set(p).unwrap_or_else(|e| panic!("{e}"));
    let out = f();
    paths::set(forced()).unwrap_or_else(|e| panic!("{e}"));
    out
}

/// A cloud of n points around `mean` with non-uniform weights (0.2 to 1.2 before normalizing).
fn cloud(seed: u64, n: usize, mean: Vec2, sd: f64) -> (Vec<Vec2>, Vec<f64>) {
    let mut r = rng::seeded(seed);
    let pts = (0..n)
        .map(|_| {
            let z = rng::normal2(&mut r);
            [mean[0] + sd * z[0], mean[1] + sd * z[1]]
        })
        .collect();
    let mut w: Vec<f64> = (0..n).map(|_| 0.2 + rng::uniform(&mut r)).collect();
    let s: f64 = w.iter().sum();
    w.iter_mut().for_each(|v| *v /= s);
    (pts, w)
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn bits2(v: &[Vec2]) -> Vec<u64> {
    v.iter()
        .flat_map(|x| [x[0].to_bits(), x[1].to_bits()])
        .collect()
}

/// Largest |a − b| (0 when bit-identical).
fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// The AVX2 claim cannot be checked on a CPU without AVX2: say so loudly (the run is not a pass of it).
fn avx2_or_say_why(test: &str) -> bool {
    if paths::avx2_available() {
        eprintln!("{test}: AVX2 present; comparing the AVX2 and baseline builds");
        true
    } else {
        eprintln!("{test}: NOT CHECKED — this CPU has no AVX2, so only the baseline build exists");
        false
    }
}

const BOTH_EXPS: [Exp; 2] = [Exp::Fast, Exp::Std];
const BOTH_BLOCKS: [Blocks; 2] = [Blocks::Sparse, Blocks::Dense];

#[test]
fn sinkhorn_avx2_and_scalar_give_the_same_bits() {
    let _g = lock();
    if !avx2_or_say_why("sinkhorn") {
        return;
    }
    // Sizes that are not multiples of 8 lanes nor of the 128-column blocks; non-uniform weights.
    let (x, a) = cloud(1, 1001, [0.0, 0.0], 1.0);
    let (y, b) = cloud(2, 777, [0.8, -0.3], 0.7);
    let g: Vec<f64> = y.iter().map(|p| 0.3 * p[0] - 0.1 * p[1] * p[1]).collect();
    let d2 = sinkhorn::squared_diameter(&x, &y);
    let mut compared = 0;
    for exp in BOTH_EXPS {
        for blocks in BOTH_BLOCKS {
            let at = |simd| Paths { simd, blocks, exp };
            for rel in [1.0, 1e-2, 1e-4] {
                let eps = rel * d2;
                let half = |simd| {
                    under(at(simd), || {
                        let mut f = vec![0.0; x.len()];
                        sinkhorn::sinkhorn_half_iteration(
                            &x,
                            &y,
                            &b,
                            &g,
                            eps,
                            Precision::F32,
                            &mut f,
                        )
                        .unwrap();
                        let (pot, bary) =
                            sinkhorn::soft_c_transform(&x, &y, &b, &g, eps, Precision::F32)
                                .unwrap();
                        (f, pot, bary)
                    })
                };
                let (f0, p0, t0) = half(Simd::Scalar);
                let (f1, p1, t1) = half(Simd::Avx2);
                assert_eq!(bits(&f0), bits(&f1), "{exp:?} {blocks:?} ε_rel {rel}: f");
                assert_eq!(
                    bits(&p0),
                    bits(&p1),
                    "{exp:?} {blocks:?} ε_rel {rel}: c-transform"
                );
                assert_eq!(
                    bits2(&t0),
                    bits2(&t1),
                    "{exp:?} {blocks:?} ε_rel {rel}: barycentres"
                );
                compared += 1;
            }
            // The whole divergence: every potential and gradient.
            let c = SinkhornConfig {
                epsilon: 0.01 * d2,
                tolerance: 1e-4,
                max_iters: 200,
                ..SinkhornConfig::default()
            };
            let (xs, ys) = (&x[..301], &y[..257]);
            let renorm = |w: &[f64]| {
                let s: f64 = w.iter().sum();
                w.iter().map(|v| v / s).collect::<Vec<f64>>()
            };
            let (as_, bs) = (renorm(&a[..301]), renorm(&b[..257]));
            let div = |simd| {
                under(at(simd), || {
                    sinkhorn::sinkhorn_divergence(xs, &as_, ys, &bs, &c).unwrap()
                })
            };
            let (s0, s1) = (div(Simd::Scalar), div(Simd::Avx2));
            assert_eq!(s0.value.to_bits(), s1.value.to_bits());
            for (name, u, v) in [
                ("f", &s0.f, &s1.f),
                ("g", &s0.g, &s1.g),
                ("p_x", &s0.p_x, &s1.p_x),
                ("p_y", &s0.p_y, &s1.p_y),
                ("grad_a", &s0.grad_a, &s1.grad_a),
            ] {
                assert_eq!(bits(u), bits(v), "{exp:?} {blocks:?}: divergence {name}");
            }
            assert_eq!(
                bits2(&s0.grad_x),
                bits2(&s1.grad_x),
                "{exp:?} {blocks:?}: grad_x"
            );
        }
    }
    eprintln!(
        "sinkhorn: {compared} half-iterations and 4 divergences bit-identical (largest difference 0)"
    );
}

fn kernels() -> [Kernel; 4] {
    [
        Kernel::Gaussian { sigma: 0.6 },
        Kernel::InverseMultiquadric { c: 0.8 },
        Kernel::Laplace { sigma: 0.5 },
        Kernel::Riesz { r: 1.0 },
    ]
}

#[test]
fn mmd_avx2_and_scalar_give_the_same_bits() {
    let _g = lock();
    if !avx2_or_say_why("mmd") {
        return;
    }
    let (x, a) = cloud(3, 523, [0.0, 0.0], 1.0);
    let (y, b) = cloud(4, 389, [0.5, 0.4], 0.8);
    let (z, _) = cloud(5, 261, [0.2, 0.0], 1.5);
    for exp in BOTH_EXPS {
        for kernel in kernels() {
            let at = |simd| Paths {
                simd,
                blocks: Blocks::Sparse,
                exp,
            };
            let run = |simd| {
                under(at(simd), || {
                    let w =
                        mmd::witness_parts(&z, &x, &a, &y, &b, &kernel, Precision::F32).unwrap();
                    let g = mmd::mmd2_grad_with(&x, &a, &y, &b, &kernel, Precision::F32).unwrap();
                    let s = mmd::self_term(&y, &b, &kernel, Precision::F32).unwrap();
                    (w, g, s)
                })
            };
            let (w0, g0, s0) = run(Simd::Scalar);
            let (w1, g1, s1) = run(Simd::Avx2);
            let k = kernel.name();
            assert_eq!(bits(&w0.kx), bits(&w1.kx), "{exp:?} {k}: witness kx");
            assert_eq!(bits(&w0.ky), bits(&w1.ky), "{exp:?} {k}: witness ky");
            assert_eq!(
                bits2(&w0.grad),
                bits2(&w1.grad),
                "{exp:?} {k}: witness gradient"
            );
            assert_eq!(g0.0.to_bits(), g1.0.to_bits(), "{exp:?} {k}: MMD²");
            assert_eq!(bits2(&g0.1), bits2(&g1.1), "{exp:?} {k}: ∂/∂x");
            assert_eq!(bits(&g0.2), bits(&g1.2), "{exp:?} {k}: ∂/∂a");
            assert_eq!(s0.to_bits(), s1.to_bits(), "{exp:?} {k}: self-term");
        }
    }
    eprintln!(
        "mmd: witnesses, gradients and self-terms of 4 kernels × 2 exps bit-identical (largest difference 0)"
    );
}

#[test]
fn mmd_std_exp_stays_close_to_fast_exp_and_f64() {
    let _g = lock();
    let (x, a) = cloud(6, 301, [0.0, 0.0], 1.0);
    let (y, b) = cloud(7, 203, [0.5, 0.4], 0.8);
    let base = forced();
    for kernel in [
        Kernel::Gaussian { sigma: 0.6 },
        Kernel::Laplace { sigma: 0.5 },
    ] {
        let run = |exp| {
            under(Paths { exp, ..base }, || {
                mmd::witness(&x, &x, &a, &y, &b, &kernel, Precision::F32).unwrap()
            })
        };
        let (fast, std) = (run(Exp::Fast), run(Exp::Std));
        let (w64, _) = mmd::witness(&x, &x, &a, &y, &b, &kernel, Precision::F64).unwrap();
        let scale = w64.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let d_fs = max_diff(&fast.0, &std.0) / scale;
        let d_f64 = max_diff(&fast.0, &w64).max(max_diff(&std.0, &w64)) / scale;
        eprintln!(
            "mmd {}: witness fast vs std exp {d_fs:.2e}, f32 vs f64 {d_f64:.2e} (relative to max |w|)",
            kernel.name()
        );
        assert!(
            d_fs < 1e-5 && d_f64 < 1e-5,
            "{}: {d_fs} {d_f64}",
            kernel.name()
        );
    }
}

#[test]
fn block_sparse_sinkhorn_matches_dense_at_4096_with_33_blocks() {
    let _g = lock();
    // M = 4100 columns: 33 blocks of 128, the last one partly padding.
    let (x, _) = cloud(8, 4096, [0.0, 0.0], 1.0);
    let (y, b) = cloud(9, 4100, [0.6, -0.2], 1.1);
    let d2 = sinkhorn::squared_diameter(&x, &y);
    let base = forced();
    let blocks_total = 4100usize.div_ceil(128) as u64 * 4096;
    for (rel, expect_skips) in [(1e-5, true), (1.0, false)] {
        let eps = rel * d2;
        // A potential on the scale of ε (as the solver's are), not flat.
        let g: Vec<f64> = y.iter().map(|p| eps * (0.5 * p[0] - 0.3 * p[1])).collect();
        let (live, total) = under(
            Paths {
                blocks: Blocks::Sparse,
                ..base
            },
            || sinkhorn::half_iteration_live_blocks(&x, &y, &b, &g, eps).unwrap(),
        );
        assert_eq!(total, blocks_total);
        let skipped = total - live;
        eprintln!(
            "block-sparse ε_rel {rel:e}: {skipped} of {total} row-blocks skipped ({:.1}%)",
            100.0 * skipped as f64 / total as f64
        );
        if expect_skips {
            // (About 43% here: the Morton blocks of a Gaussian cloud that straddle the curve's big jumps have
            // wide boxes, which no row can rule out.)
            assert!(
                skipped * 5 > total * 2,
                "small ε should skip at least 40% of the row-blocks: {skipped}/{total}"
            );
        } else {
            assert_eq!(skipped, 0, "large ε: no block may be skipped");
        }
        for exp in BOTH_EXPS {
            let run = |blocks| {
                under(
                    Paths {
                        blocks,
                        exp,
                        ..base
                    },
                    || {
                        let mut f = vec![0.0; x.len()];
                        sinkhorn::sinkhorn_half_iteration(
                            &x,
                            &y,
                            &b,
                            &g,
                            eps,
                            Precision::F32,
                            &mut f,
                        )
                        .unwrap();
                        f
                    },
                )
            };
            let (sparse, dense) = (run(Blocks::Sparse), run(Blocks::Dense));
            let d = max_diff(&sparse, &dense);
            eprintln!("block-sparse vs dense ε_rel {rel:e} {exp:?}: max |Δf| {d:.3e}");
            match exp {
                // Skipped blocks hold only terms the fast exp flushes to 0: the same bits.
                Exp::Fast => assert_eq!(bits(&sparse), bits(&dense), "ε_rel {rel}: fast exp"),
                // f32::exp does not flush: each potential moves by at most ε·(skipped columns)·e⁻⁸⁰, plus
                // the rounding of the f64 sums (a few ulps of f).
                Exp::Std => {
                    for (i, (s, dn)) in sparse.iter().zip(&dense).enumerate() {
                        let bound = eps * 4100.0 * (-80f64).exp() + 4.0 * f64::EPSILON * dn.abs();
                        assert!(
                            (s - dn).abs() <= bound,
                            "row {i}: {s} vs {dn} (bound {bound:e})"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn fast_exp_error_and_flush_threshold_against_f64_exp() {
    let _g = lock();
    let fe = sinkhorn::fast_exp_f32;
    // Every 17th f32 in [−80, 0] (of 1.1e9), against f64::exp of the same f32.
    let (lo, hi) = ((-80.0f32).to_bits(), (-0.0f32).to_bits());
    let (mut worst, mut at) = (0f64, 0f32);
    let (mut worst_std, mut at_std) = (0f64, 0f32);
    let mut bits = hi;
    let mut n = 0u64;
    while bits <= lo {
        let x = f32::from_bits(bits);
        let r = f64::from(x).exp();
        let e = (f64::from(fe(x)) - r).abs() / r;
        if e > worst {
            (worst, at) = (e, x);
        }
        let es = (f64::from(x.exp()) - r).abs() / r;
        if es > worst_std {
            (worst_std, at_std) = (es, x);
        }
        n += 1;
        bits += 17;
    }
    eprintln!(
        "fast exp over {n} f32 in [−80, 0]: max relative error {worst:.3e} at {at}; f32::exp {worst_std:.3e} at {at_std}"
    );
    assert!(
        worst < 5e-7,
        "fast exp max relative error {worst:e} at {at}"
    );
    // The ends of the interval exactly.
    assert_eq!(fe(0.0), 1.0);
    assert_eq!(fe(-0.0), 1.0);
    let e80 = f64::from(fe(-80.0));
    assert!(
        ((e80 - (-80f64).exp()) / (-80f64).exp()).abs() < 5e-7,
        "e⁻⁸⁰: {e80:e}"
    );
    assert!(fe(-80.0).is_normal(), "e⁻⁸⁰ must be a normal f32");
    // The flush: the first f32 below −80 and everything further down (and −∞) give exactly 0.
    let below = f32::from_bits((-80.0f32).to_bits() + 1);
    assert!(below < -80.0);
    for x in [
        below,
        -80.5,
        -87.0,
        -100.0,
        -1e30,
        f32::MIN,
        f32::NEG_INFINITY,
    ] {
        assert_eq!(fe(x).to_bits(), 0, "fast_exp({x}) must be +0");
    }
    assert_eq!(fe(f32::NAN).to_bits(), 0, "fast_exp(NaN) is flushed to +0");
    // Between −80 and 0 the result is never 0 nor subnormal.
    let mut x = -80.0f32;
    while x < 0.0 {
        assert!(fe(x).is_normal(), "fast_exp({x}) = {}", fe(x));
        x += 0.37;
    }
}

/// `f` in a rayon pool of `threads` threads.
fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

/// Every parallel kernel's full output, as bits, for one thread count.
fn kernel_outputs() -> Vec<(String, Vec<u64>)> {
    use divlab::core::fdiv::{Estimator, FDivKind, fdiv_value_grad};
    use divlab::core::target::{Target, presets};
    let mut out = Vec::new();
    let (x, a) = cloud(11, 1500, [0.0, 0.0], 1.0);
    let (y, b) = cloud(12, 1300, [0.7, 0.2], 0.8);
    let d2 = sinkhorn::squared_diameter(&x, &y);
    for precision in [Precision::F32, Precision::F64] {
        let c = SinkhornConfig {
            epsilon: 0.01 * d2,
            max_iters: 60,
            precision,
            ..SinkhornConfig::default()
        };
        let s = sinkhorn::sinkhorn_divergence(
            &x[..600],
            &renorm(&a[..600]),
            &y[..500],
            &renorm(&b[..500]),
            &c,
        )
        .unwrap();
        let mut v = vec![s.value.to_bits()];
        for p in [&s.f, &s.g, &s.p_x, &s.p_y, &s.grad_a] {
            v.extend(bits(p));
        }
        v.extend(bits2(&s.grad_x));
        out.push((format!("sinkhorn {precision:?}"), v));
        for kernel in kernels() {
            let (m, gx, ga) = mmd::mmd2_grad_with(&x, &a, &y, &b, &kernel, precision).unwrap();
            let mut v = vec![m.to_bits()];
            v.extend(bits2(&gx));
            v.extend(bits(&ga));
            v.push(
                mmd::self_term(&y, &b, &kernel, precision)
                    .unwrap()
                    .to_bits(),
            );
            out.push((format!("mmd {} {precision:?}", kernel.name()), v));
        }
    }
    let mut r = rng::seeded(13);
    let dirs = divlab::core::sliced::random_directions(64, &mut r);
    let sw = divlab::core::sliced::sliced_wasserstein2(&x, &a, &y, &b, &dirs).unwrap();
    out.push(("sliced W2".into(), vec![sw.to_bits()]));
    let (e, g) = divlab::core::sliced::sliced_riesz_grad(&x, &a, &y, &b, &dirs).unwrap();
    let mut v = vec![e.to_bits()];
    v.extend(bits2(&g));
    out.push(("sliced Riesz".into(), v));
    // Grid f-divergences (rows in parallel) and EM (chunks of 2048 samples in parallel).
    let (_, spec) = presets()
        .into_iter()
        .find(|(n, _)| *n == "two_modes")
        .unwrap();
    let target = Target::build(&spec, None).unwrap();
    let p = target.density().unwrap();
    let q = divlab::core::mixture::Mixture::from_components(
        &[0.5, 0.3, 0.2],
        &[[-1.0, 0.5], [1.2, -0.8], [0.3, 1.5]],
        &[
            [[0.6, 0.2], [0.2, 0.4]],
            [[0.3, -0.1], [-0.1, 0.5]],
            [[1.0, 0.0], [0.0, 0.2]],
        ],
    )
    .unwrap();
    for kind in [
        FDivKind::ReverseKl,
        FDivKind::JensenShannon,
        FDivKind::Alpha { alpha: 0.5 },
    ] {
        let est = Estimator::Grid { resolution: 97 };
        let f = fdiv_value_grad(&kind, p, &target.bbox(), &q, &est, &mut rng::seeded(0)).unwrap();
        let mut v = vec![
            f.value.to_bits(),
            f.missed_mass_p.to_bits(),
            f.missed_mass_q.to_bits(),
        ];
        v.extend(bits(&f.grad));
        out.push((format!("grid {kind:?}"), v));
    }
    let samples = target.sample(9001, &mut rng::seeded(14));
    let mut mix = q.clone();
    let mut v = Vec::new();
    for _ in 0..3 {
        v.push(
            divlab::core::em::em_step(&samples, &mut mix)
                .unwrap()
                .to_bits(),
        );
    }
    v.extend(bits(&mix.params()));
    out.push(("EM 9001 samples".into(), v));
    out
}

fn renorm(w: &[f64]) -> Vec<f64> {
    let s: f64 = w.iter().sum();
    w.iter().map(|v| v / s).collect()
}

#[test]
fn one_thread_and_four_give_the_same_bits_for_every_parallel_kernel() {
    let _g = lock();
    let one = in_pool(1, kernel_outputs);
    let four = in_pool(4, kernel_outputs);
    assert_eq!(one.len(), four.len());
    for ((name, u), (_, v)) in one.iter().zip(&four) {
        assert_eq!(u, v, "{name}: 1 thread and 4 differ");
    }
    eprintln!(
        "threads: {} kernels bit-identical in pools of 1 and 4 (largest difference 0)",
        one.len()
    );
}

/// Two steps of every bundled scenario (the whole state after them, as a checkpoint's JSON, and the step
/// records), and the measurement battery of a mixture run and of a particle run, for one thread count.
fn scenario_outputs() -> Vec<(String, String)> {
    use divlab::core::scenario::Scenario;
    use divlab::core::sim::Simulation;
    let img = divlab::assets::bundled_gray_image().unwrap();
    let mut out = Vec::new();
    for (name, text) in divlab::assets::BUNDLED {
        let s = Scenario::parse(text).unwrap();
        let mut sim = Simulation::new(&s, Some(&img)).unwrap();
        let steps: Vec<String> = (0..2)
            .map(|_| serde_json::to_string(&sim.step().unwrap()).unwrap())
            .collect();
        out.push((format!("{name} steps"), steps.join("\n")));
        out.push((
            format!("{name} state"),
            serde_json::to_string(&sim.checkpoint()).unwrap(),
        ));
        if ["two_modes_reverse_kl", "ring8_mmd_flow"].contains(name) {
            out.push((
                format!("{name} battery"),
                serde_json::to_string(&sim.measure()).unwrap(),
            ));
        }
    }
    out
}

#[test]
fn one_thread_and_four_give_the_same_bits_for_every_bundled_scenario() {
    let _g = lock();
    let one = in_pool(1, scenario_outputs);
    let four = in_pool(4, scenario_outputs);
    for ((name, u), (_, v)) in one.iter().zip(&four) {
        assert!(u == v, "{name}: 1 thread and 4 differ");
    }
    eprintln!(
        "threads: {} scenario outputs (steps, full state, battery) identical in pools of 1 and 4",
        one.len()
    );
}
