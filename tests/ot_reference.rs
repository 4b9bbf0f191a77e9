//! divlab's Sinkhorn, MMD² and sliced-Wasserstein values against independent libraries.
//! Reference numbers come from tests/fixtures/reference_ot.json, written by
//! tests/fixtures/gen_ot.py (POT `sinkhorn_log` / `sliced_wasserstein_distance`, OTT-JAX
//! `sinkhorn`, NumPy MMD²). Nothing here is hard-coded.

use divlab::core::math::Vec2;
use divlab::core::mmd::{Kernel, mmd2, mmd2_with};
use divlab::core::sinkhorn::{Precision, SinkhornConfig, sinkhorn, sinkhorn_divergence};
use divlab::core::sliced::sliced_wasserstein2;
use serde_json::Value;

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/reference_ot.json"
    );
    let text = std::fs::read_to_string(path).expect("read reference_ot.json");
    serde_json::from_str(&text).expect("parse reference_ot.json")
}

fn points(v: &Value) -> Vec<Vec2> {
    v.as_array()
        .expect("point array")
        .iter()
        .map(|p| [p[0].as_f64().expect("x"), p[1].as_f64().expect("y")])
        .collect()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

/// Shift (f, g) → (f − t, g + t) so that ⟨a, f⟩ = ⟨b, g⟩ (the fixture's normalisation).
fn normalise(a: &[f64], f: &[f64], b: &[f64], g: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let af: f64 = a.iter().zip(f).map(|(p, q)| p * q).sum();
    let bg: f64 = b.iter().zip(g).map(|(p, q)| p * q).sum();
    let t = 0.5 * (af - bg);
    (
        f.iter().map(|v| v - t).collect(),
        g.iter().map(|v| v + t).collect(),
    )
}

fn max_abs_diff(p: &[f64], q: &[f64]) -> f64 {
    p.iter()
        .zip(q)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

#[test]
fn sinkhorn_potentials_and_divergence_match_pot_and_ott() {
    let fx = fixture();
    let (x, a, y, b) = (
        points(&fx["x"]),
        floats(&fx["a"]),
        points(&fx["y"]),
        floats(&fx["b"]),
    );
    let d2 = fx["squared_diameter"].as_f64().expect("d2");
    for case in fx["sinkhorn"].as_array().expect("cases") {
        let eps = case["epsilon"].as_f64().expect("epsilon");
        let eps_rel = case["eps_rel"].as_f64().expect("eps_rel");
        for (precision, tol, lim_value, lim_pot) in [
            (Precision::F64, 1e-12, 1e-7, 1e-7),
            (Precision::F32, 1e-6, 1e-4, 1e-4),
        ] {
            let cfg = SinkhornConfig {
                epsilon: eps,
                scaling: Some(0.5),
                max_iters: 200_000,
                tolerance: tol,
                precision,
            };
            let ot = sinkhorn(&x, &a, &y, &b, &cfg).expect("sinkhorn");
            let s = sinkhorn_divergence(&x, &a, &y, &b, &cfg).expect("sinkhorn divergence");
            assert!(s.value.is_finite() && ot.f.iter().chain(&ot.g).all(|v| v.is_finite()));
            let (f, g) = normalise(&a, &ot.f, &b, &ot.g);
            for lib in ["pot", "ott"] {
                let r = &case[lib];
                if r.is_null() {
                    continue;
                }
                let s_ref = r["divergence"].as_f64().expect("divergence");
                let ot_ref = r["ot_xy"].as_f64().expect("ot_xy");
                let e_s = (s.value - s_ref).abs() / s_ref.abs();
                let e_ot = (ot.cost_value - ot_ref).abs() / ot_ref.abs();
                // Potentials: max abs difference relative to the squared diameter (their scale).
                let e_f = max_abs_diff(&f, &floats(&r["f"])) / d2;
                let e_g = max_abs_diff(&g, &floats(&r["g"])) / d2;
                println!(
                    "{lib} ε_rel={eps_rel} {precision:?}: rel err S_ε {e_s:.2e}, OT_ε {e_ot:.2e}, f {e_f:.2e}, g {e_g:.2e} (iters {}, converged {})",
                    ot.iterations, ot.converged
                );
                assert!(
                    e_s < lim_value && e_ot < lim_value,
                    "{lib} ε_rel={eps_rel} {precision:?}: S {e_s:e}, OT {e_ot:e}"
                );
                assert!(
                    e_f < lim_pot && e_g < lim_pot,
                    "{lib} ε_rel={eps_rel} {precision:?}: f {e_f:e}, g {e_g:e}"
                );
            }
        }
    }
}

#[test]
fn mmd2_matches_numpy() {
    let fx = fixture();
    let (x, a, y, b) = (
        points(&fx["x"]),
        floats(&fx["a"]),
        points(&fx["y"]),
        floats(&fx["b"]),
    );
    for case in fx["mmd"].as_array().expect("mmd cases") {
        let kernel: Kernel = serde_json::from_value(case["kernel"].clone()).expect("kernel");
        let reference = case["mmd2"].as_f64().expect("mmd2");
        let v64 = mmd2(&x, &a, &y, &b, &kernel).expect("mmd2");
        let v32 = mmd2_with(&x, &a, &y, &b, &kernel, Precision::F32).expect("mmd2 f32");
        let (e64, e32) = (
            (v64 - reference).abs() / reference,
            (v32 - reference).abs() / reference,
        );
        println!("MMD² {kernel:?}: rel err f64 {e64:.2e}, f32 {e32:.2e}");
        assert!(e64 < 1e-12, "{kernel:?}: {v64} vs {reference}");
        assert!(e32 < 1e-5, "{kernel:?} f32: {v32} vs {reference}");
    }
}

#[test]
fn sliced_wasserstein_matches_pot() {
    let fx = fixture();
    let (x, a, y, b) = (
        points(&fx["x"]),
        floats(&fx["a"]),
        points(&fx["y"]),
        floats(&fx["b"]),
    );
    let dirs = points(&fx["sliced"]["directions"]);
    let reference = fx["sliced"]["sw2"].as_f64().expect("sw2");
    let v = sliced_wasserstein2(&x, &a, &y, &b, &dirs).expect("sliced W2");
    let e = (v - reference).abs() / reference;
    println!("sliced W2: {v} vs POT {reference}, rel err {e:.2e}");
    assert!(e < 1e-10);
}
