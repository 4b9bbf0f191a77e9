//! The numeric core against independent references (SciPy), read from
//! `tests/fixtures/reference_core.json` (written by `tests/fixtures/gen_reference.py`).
//! Each family prints its maximum relative error and asserts a tolerance.

use divlab::core::closed_form::{
    bures_wasserstein2, cauchy_schwarz_mixtures, kl_gaussians, mmd2_gaussian_mixtures,
};
use divlab::core::fdiv::{FDivKind, fdiv_value_grid};
use divlab::core::gaussian::{Gaussian, Mat2};
use divlab::core::grid::BBox;
use divlab::core::math::Vec2;
use divlab::core::mixture::Mixture;
use divlab::core::target::{GaussianMixtureSpec, Target, TargetSpec};
use serde_json::Value;

fn load() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/reference_core.json"
    );
    let text = std::fs::read_to_string(path).expect("run tests/fixtures/gen_reference.py");
    serde_json::from_str(&text).expect("valid JSON")
}

fn f(v: &Value) -> f64 {
    v.as_f64().expect("number")
}

fn vec2(v: &Value) -> Vec2 {
    [f(&v[0]), f(&v[1])]
}

fn mat2(v: &Value) -> Mat2 {
    [[f(&v[0][0]), f(&v[0][1])], [f(&v[1][0]), f(&v[1][1])]]
}

fn mixture_parts(v: &Value) -> (Vec<f64>, Vec<Vec2>, Vec<Mat2>) {
    let w = v["weights"].as_array().unwrap().iter().map(f).collect();
    let m = v["means"].as_array().unwrap().iter().map(vec2).collect();
    let c = v["covs"].as_array().unwrap().iter().map(mat2).collect();
    (w, m, c)
}

fn mixture(v: &Value) -> Mixture {
    let (w, m, c) = mixture_parts(v);
    Mixture::from_components(&w, &m, &c).unwrap()
}

fn mixture_target(v: &Value) -> Target {
    let (weights, means, covariances) = mixture_parts(v);
    Target::build(
        &TargetSpec::GaussianMixture(GaussianMixtureSpec {
            weights,
            means,
            covariances,
        }),
        None,
    )
    .unwrap()
}

fn kind_of(name: &str) -> Option<FDivKind> {
    Some(match name {
        "forward_kl" => FDivKind::ForwardKl,
        "reverse_kl" => FDivKind::ReverseKl,
        "jensen_shannon" => FDivKind::JensenShannon,
        "squared_hellinger" => FDivKind::SquaredHellinger,
        "total_variation" => FDivKind::TotalVariation,
        "pearson_chi2" => FDivKind::PearsonChi2,
        "neyman_chi2" => FDivKind::NeymanChi2,
        _ => {
            if let Some(a) = name.strip_prefix("alpha_") {
                FDivKind::Alpha {
                    alpha: a.parse().ok()?,
                }
            } else if let Some(a) = name.strip_prefix("renyi_") {
                FDivKind::Renyi {
                    alpha: a.parse().ok()?,
                }
            } else {
                return None;
            }
        }
    })
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

#[test]
fn f_divergences_by_grid_match_scipy_quadrature() {
    let r = load();
    let mut worst: f64 = 0.0;
    let mut worst_smooth: f64 = 0.0;
    for case in r["fdiv_cases"].as_array().unwrap() {
        let t = mixture_target(&case["p"]);
        let q = mixture(&case["q"]);
        let b = &case["bbox"];
        let bbox = BBox::new(f(&b[0]), f(&b[1]), f(&b[2]), f(&b[3]));
        for (name, want) in case["values"].as_object().unwrap() {
            let Some(kind) = kind_of(name) else { continue };
            let got = fdiv_value_grid(&kind, t.density().unwrap(), &bbox, &q, 768)
                .unwrap()
                .value;
            let e = rel(got, f(want));
            eprintln!(
                "{:>40} {name:>18}: divlab {got:.10} scipy {:.10} rel err {e:.2e}",
                case["name"].as_str().unwrap(),
                f(want)
            );
            worst = worst.max(e);
            if name != "total_variation" {
                worst_smooth = worst_smooth.max(e);
            }
        }
    }
    eprintln!(
        "f-divergences: max relative error {worst:.2e} (smooth integrands {worst_smooth:.2e})"
    );
    // Smooth integrands: the midpoint rule is spectrally accurate; total variation has a kink
    // along p = q, where the midpoint rule is only second order.
    assert!(worst_smooth < 1e-6, "{worst_smooth}");
    assert!(worst < 1e-4, "{worst}");
}

#[test]
fn gaussian_closed_forms_match_scipy() {
    let r = load();
    let mut worst_kl: f64 = 0.0;
    let mut worst_bw: f64 = 0.0;
    for case in r["gaussian_cases"].as_array().unwrap() {
        let p = Gaussian::new(vec2(&case["p"]["mean"]), mat2(&case["p"]["cov"])).unwrap();
        let q = Gaussian::new(vec2(&case["q"]["mean"]), mat2(&case["q"]["cov"])).unwrap();
        let kl = kl_gaussians(&p, &q).unwrap();
        worst_kl = worst_kl
            .max(rel(kl, f(&case["kl"])))
            .max(rel(kl, f(&case["kl_dblquad"])));
        worst_bw = worst_bw.max(rel(bures_wasserstein2(&p, &q).unwrap(), f(&case["bw2"])));
    }
    eprintln!(
        "KL(Gaussians): max relative error {worst_kl:.2e}; Bures–Wasserstein²: {worst_bw:.2e}"
    );
    assert!(worst_kl < 1e-8 && worst_bw < 1e-10);
}

#[test]
fn mixture_closed_forms_match_scipy() {
    let r = load();
    let mut worst_cs: f64 = 0.0;
    let mut worst_mmd: f64 = 0.0;
    for case in r["mixture_cases"].as_array().unwrap() {
        let p = mixture(&case["p"]);
        let q = mixture(&case["q"]);
        let (cs, _) = cauchy_schwarz_mixtures(&p, &q).unwrap();
        worst_cs = worst_cs.max(rel(cs, f(&case["cauchy_schwarz"])));
        for m in case["mmd2"].as_array().unwrap() {
            let (v, _) = mmd2_gaussian_mixtures(&p, &q, f(&m["sigma"])).unwrap();
            worst_mmd = worst_mmd.max(rel(v, f(&m["value"])));
        }
    }
    eprintln!(
        "Cauchy–Schwarz (closed form vs quadrature): max relative error {worst_cs:.2e}; Gaussian MMD²: {worst_mmd:.2e}"
    );
    assert!(worst_cs < 1e-8 && worst_mmd < 1e-10);
}

#[test]
fn target_log_densities_match_scipy() {
    let r = load();
    let pts: Vec<Vec2> = r["target_points"]
        .as_array()
        .unwrap()
        .iter()
        .map(vec2)
        .collect();
    let mut worst: f64 = 0.0;
    for t in r["targets"].as_array().unwrap() {
        let spec: TargetSpec = serde_json::from_value(t["spec"].clone()).unwrap();
        let target = Target::build(&spec, None).unwrap();
        let d = target.density().unwrap();
        let mut w: f64 = 0.0;
        for (x, want) in pts.iter().zip(t["logpdf"].as_array().unwrap()) {
            // Absolute error on log p = relative error on p.
            w = w.max((d.log_density(*x) - f(want)).abs());
        }
        eprintln!("{:>14}: max |Δ log p| {w:.2e}", target.name());
        worst = worst.max(w);
    }
    eprintln!("targets: max relative density error {worst:.2e}");
    assert!(worst < 1e-9, "{worst}");
}
