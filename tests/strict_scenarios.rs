//! Strict scenario files: an unknown or misspelt field is refused at every depth, in RON and in JSON, with
//! the line, the dotted field path and the nearest valid name; a misspelt `kind` value names the field whose
//! value it is; wrong types and out-of-range numbers name the field and its line (not the end of the object).

use divlab::core::scenario::{Scenario, ScenarioError};

/// A gradient scenario with one field per line at every depth.
const GRADIENT: &str = r#"// strict-scenario test, gradient fit
(
    version: 1,
    name: "strict gradient",
    seed: 3,
    target: (
        kind: "two_modes",
        separation: 4.0,
        std: 0.5,
    ),
    model: (
        kind: "mixture",
        init: (
            kind: "random",
            components: 2,
            std_fraction: 0.1,
        ),
    ),
    method: (
        kind: "gradient",
        objective: (
            kind: "f_divergence",
            divergence: (kind: "reverse_kl"),
            estimator: (
                kind: "grid",
                resolution: 64,
            ),
        ),
        optimizer: (
            kind: "adam",
            lr: 0.05,
            beta1: 0.9,
        ),
    ),
    steps: 10,
)
"#;

/// A particle-flow scenario with one field per line at every depth.
const FLOW: &str = r#"// strict-scenario test, particle flow
(
    version: 1,
    seed: 2,
    target: (kind: "ring8"),
    model: (
        kind: "particles",
        count: 50,
        init: (
            kind: "gaussian",
            mean: (0.0, 0.0),
            std: 0.5,
        ),
    ),
    method: (
        kind: "flow",
        flow: (
            kind: "mmd",
            kernel: (
                kind: "gaussian",
                sigma: 0.5,
            ),
            step_size: 1.0,
        ),
    ),
    steps: 10,
)
"#;

/// The 1-based line of the only line of `text` that contains `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    let hits: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(hits.len(), 1, "`{needle}` should occur on exactly one line");
    hits[0]
}

fn json_of(ron: &str) -> String {
    Scenario::parse(ron)
        .expect("the base scenario parses")
        .to_json()
        .expect("writes JSON")
}

/// Replaces `from` (which must occur exactly once) by `to` and parses; the error must name `field` on the
/// line of `to`.
fn refused(text: &str, from: &str, to: &str, field: &str) -> ScenarioError {
    assert_eq!(text.matches(from).count(), 1, "`{from}` must occur once");
    let bad = text.replace(from, to);
    let err = Scenario::parse(&bad).expect_err("the changed scenario must be refused");
    assert_eq!(err.field.as_deref(), Some(field), "{err}");
    assert_eq!(err.line, Some(line_of(&bad, to)), "{err}\n{bad}");
    err
}

fn assert_suggests(err: &ScenarioError, name: &str) {
    let msg = err.to_string();
    assert!(msg.contains("unknown field"), "{msg}");
    assert!(msg.contains(&format!("did you mean {name}?")), "{msg}");
    assert!(msg.contains(name), "{msg}");
}

/// (base text, original, misspelt, field path, suggestion) for each depth.
fn misspellings() -> Vec<(
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
)> {
    vec![
        (GRADIENT, "steps: 10", "stpes: 10", "stpes", "steps"),
        (
            GRADIENT,
            "separation: 4.0",
            "separaton: 4.0",
            "target.separaton",
            "separation",
        ),
        (
            GRADIENT,
            "std_fraction: 0.1",
            "std_fracton: 0.1",
            "model.init.std_fracton",
            "std_fraction",
        ),
        (
            GRADIENT,
            "resolution: 64",
            "resolutoin: 64",
            "method.objective.estimator.resolutoin",
            "resolution",
        ),
        (
            GRADIENT,
            "lr: 0.05",
            "learning_rate: 0.05",
            "method.optimizer.learning_rate",
            "lr",
        ),
        (FLOW, "std: 0.5", "sdt: 0.5", "model.init.sdt", "std"),
        (
            FLOW,
            "sigma: 0.5",
            "sigm: 0.5",
            "method.flow.kernel.sigm",
            "sigma",
        ),
        (
            FLOW,
            "step_size: 1.0",
            "stepsize: 1.0",
            "method.flow.stepsize",
            "step_size",
        ),
    ]
}

#[test]
fn a_misspelt_field_at_every_depth_is_refused_in_ron() {
    for (base, from, to, field, suggestion) in misspellings() {
        let err = refused(base, from, to, field);
        assert_suggests(&err, suggestion);
    }
}

#[test]
fn a_misspelt_field_at_every_depth_is_refused_in_json() {
    for (base, from, to, field, suggestion) in misspellings() {
        let json = json_of(base);
        let key = |s: &str| {
            let (k, v) = s.split_once(": ").expect("key: value");
            format!("\"{k}\": {v}")
        };
        let err = refused(&json, &key(from), &key(to), field);
        assert_suggests(&err, suggestion);
    }
}

#[test]
fn the_message_has_the_documented_shape() {
    let bad = GRADIENT.replace("lr: 0.05", "learning_rate: 0.05");
    let err = Scenario::parse(&bad).unwrap_err();
    let line = line_of(&bad, "learning_rate");
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(
        msg.starts_with(&format!(
            "line {line}, field `method.optimizer.learning_rate`: unknown field; did you mean lr?"
        )),
        "{msg}"
    );
    // The valid fields follow.
    for valid in ["lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad"] {
        assert!(msg.contains(valid), "{msg}");
    }
}

#[test]
fn a_misspelt_kind_names_the_kind_field_lists_the_kinds_and_suggests() {
    // (base, the object's first key line, kind, misspelt kind, field, nearest, another valid kind)
    let cases = [
        (
            GRADIENT,
            "optimizer",
            "adam",
            "adamm",
            "method.optimizer.kind",
            "adam",
            "ademamix",
        ),
        (
            GRADIENT,
            "estimator",
            "grid",
            "gird",
            "method.objective.estimator.kind",
            "grid",
            "monte_carlo",
        ),
        (
            GRADIENT,
            "target",
            "two_modes",
            "two_mode",
            "target.kind",
            "two_modes",
            "banana",
        ),
        (
            FLOW,
            "kernel",
            "gaussian",
            "gausian",
            "method.flow.kernel.kind",
            "gaussian",
            "riesz",
        ),
    ];
    for (base, object, kind, misspelt, field, nearest, another) in cases {
        for text in [base.to_owned(), json_of(base)] {
            // The `kind` line that follows the object's key.
            let lines: Vec<&str> = text.lines().collect();
            let start = lines
                .iter()
                .position(|l| {
                    l.contains(&format!("{object}\": {{")) || l.contains(&format!("{object}: ("))
                })
                .expect("object key");
            let offset = lines[start..]
                .iter()
                .position(|l| l.contains(&format!("\"{kind}\"")))
                .expect("kind line");
            let kind_line = start + offset;
            let mut bad_lines: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
            bad_lines[kind_line] =
                bad_lines[kind_line].replace(&format!("\"{kind}\""), &format!("\"{misspelt}\""));
            let bad = bad_lines.join("\n");
            let err = Scenario::parse(&bad).expect_err("refused");
            eprintln!("{err}");
            assert_eq!(err.field.as_deref(), Some(field), "{err}");
            assert_eq!(err.line, Some(kind_line + 1), "{err}\n{bad}");
            let msg = err.to_string();
            assert!(msg.contains(&format!("\"{misspelt}\"")), "{msg}");
            assert!(msg.contains(&format!("value of {field}")), "{msg}");
            assert!(msg.contains(&format!("did you mean {nearest}?")), "{msg}");
            assert!(msg.contains(another), "the valid kinds are listed: {msg}");
        }
    }
}

#[test]
fn a_wrong_type_names_the_field_and_its_line() {
    let cases = [
        (
            GRADIENT,
            "resolution: 64",
            "resolution: \"many\"",
            "method.objective.estimator.resolution",
        ),
        (
            GRADIENT,
            "beta1: 0.9",
            "beta1: true",
            "method.optimizer.beta1",
        ),
        (
            GRADIENT,
            "separation: 4.0",
            "separation: \"far\"",
            "target.separation",
        ),
        (GRADIENT, "seed: 3", "seed: \"three\"", "seed"),
        (FLOW, "count: 50", "count: 2.5", "model.count"),
        (
            FLOW,
            "sigma: 0.5",
            "sigma: \"wide\"",
            "method.flow.kernel.sigma",
        ),
    ];
    for (base, from, to, field) in cases {
        eprintln!("{}", refused(base, from, to, field));
        let json = json_of(base);
        let key = |s: &str| {
            let (k, v) = s.split_once(": ").expect("key: value");
            format!("\"{k}\": {v}")
        };
        refused(&json, &key(from), &key(to), field);
    }
}

#[test]
fn a_missing_field_names_its_path_and_the_enclosing_line() {
    let bad = FLOW.replace("            step_size: 1.0,\n", "");
    let err = Scenario::parse(&bad).unwrap_err();
    eprintln!("{err}");
    assert_eq!(err.field.as_deref(), Some("method.flow.step_size"), "{err}");
    assert_eq!(err.line, Some(line_of(&bad, "flow: (")), "{err}");
    assert!(err.to_string().contains("missing"), "{err}");
}

#[test]
fn out_of_range_numbers_name_the_full_path_and_line() {
    let cases = [
        (GRADIENT, "lr: 0.05", "lr: 1000000.0", "method.optimizer.lr"),
        (
            GRADIENT,
            "resolution: 64",
            "resolution: 4",
            "method.objective.estimator.resolution",
        ),
        (
            GRADIENT,
            "separation: 4.0",
            "separation: 1e9",
            "target.separation",
        ),
        (
            GRADIENT,
            "std_fraction: 0.1",
            "std_fraction: -0.1",
            "model.init.std_fraction",
        ),
        (
            FLOW,
            "sigma: 0.5",
            "sigma: -1.0",
            "method.flow.kernel.sigma",
        ),
        (
            FLOW,
            "step_size: 1.0",
            "step_size: 1e9",
            "method.flow.step_size",
        ),
        (FLOW, "std: 0.5", "std: 0.0", "model.init.std"),
        (FLOW, "count: 50", "count: 0", "model.count"),
    ];
    for (base, from, to, field) in cases {
        let err = refused(base, from, to, field);
        let msg = err.to_string();
        eprintln!("{msg}");
        assert!(msg.contains("valid range"), "{msg}");
        assert!(msg.contains(&format!("{field} = ")), "{msg}");
        let json = json_of(base);
        let key = |s: &str| {
            let (k, v) = s.split_once(": ").expect("key: value");
            format!("\"{k}\": {v}")
        };
        refused(&json, &key(from), &key(to), field);
    }
}

/// `deny_unknown_fields` takes effect in every type reachable from a scenario, including struct variants,
/// newtype variants and unit variants of internally tagged enums.
#[test]
fn every_scenario_type_refuses_unknown_fields() {
    use divlab::core::{fdiv, fit, flows, mixture, mmd, optim, scenario, sinkhorn, target};
    fn refuses<T: serde::de::DeserializeOwned + std::fmt::Debug>(json: &str) {
        let r = serde_json::from_str::<T>(json);
        assert!(
            r.is_err(),
            "{} accepted an unknown field: {json} → {r:?}",
            std::any::type_name::<T>()
        );
        let msg = r.unwrap_err().to_string();
        assert!(msg.contains("unknown field"), "{json}: {msg}");
    }
    refuses::<target::TargetSpec>(r#"{"kind":"two_modes","separaton":4}"#);
    refuses::<target::TargetSpec>(r#"{"kind":"ring8","modes":8,"radiuss":3}"#);
    refuses::<target::TargetSpec>(
        r#"{"kind":"image","bbox":{"x_min":-1,"x_max":1,"y_min":-1,"y_max":1,"z":0}}"#,
    );
    refuses::<target::TargetSpec>(r#"{"kind":"samples","points":[[0,0]],"sorce":"x"}"#);
    refuses::<mixture::MixtureInit>(r#"{"kind":"random","components":2,"sed":1}"#);
    refuses::<mixture::MixtureInit>(
        r#"{"kind":"given","weights":[1],"means":[[0,0]],"covariances":[[[1,0],[0,1]]],"x":1}"#,
    );
    refuses::<scenario::ParticleInit>(r#"{"kind":"gaussian","mean":[0,0],"std":1,"sdt":1}"#);
    refuses::<scenario::ParticleInit>(r#"{"kind":"uniform_in_box","std":1}"#);
    refuses::<scenario::ModelSpec>(r#"{"kind":"particles","count":5,"cont":5}"#);
    refuses::<scenario::Method>(r#"{"kind":"em","samples":10,"sample":10}"#);
    refuses::<fit::Objective>(r#"{"kind":"cross_entropy","samples":10,"sampels":10}"#);
    refuses::<fit::Objective>(
        r#"{"kind":"mmd","kernel":{"kind":"riesz","r":1},"target_sample":3}"#,
    );
    refuses::<fdiv::Estimator>(r#"{"kind":"grid","resolutoin":64}"#);
    refuses::<fdiv::FDivKind>(r#"{"kind":"alpha","alpha":0.5,"alfa":1}"#);
    refuses::<fdiv::FDivKind>(r#"{"kind":"reverse_kl","alpha":0.5}"#);
    refuses::<optim::OptimizerConfig>(r#"{"kind":"adam","learning_rate":0.1}"#);
    refuses::<optim::OptimizerConfig>(r#"{"kind":"grams","cautious":true}"#);
    refuses::<flows::FlowConfig>(r#"{"kind":"langevin","step_size":0.1,"steps":3}"#);
    refuses::<flows::Bandwidth>(r#"{"kind":"fixed","h":1,"hh":1}"#);
    refuses::<flows::Bandwidth>(r#"{"kind":"median","h":1}"#);
    refuses::<mmd::Kernel>(r#"{"kind":"gaussian","sigm":1}"#);
    refuses::<sinkhorn::SinkhornConfig>(
        r#"{"epsilon":0.1,"max_iters":10,"tolerance":0.01,"eps":1}"#,
    );
}

#[test]
fn bundled_files_with_comments_and_options_locate_errors_too() {
    let moons = divlab::assets::BUNDLED
        .iter()
        .find(|(n, _)| *n == "moons_sinkhorn_flow")
        .map(|(_, t)| *t)
        .expect("bundled");
    let err = refused(
        moons,
        "tolerance: 0.001",
        "tolerence: 0.001",
        "method.flow.sinkhorn.tolerence",
    );
    assert_suggests(&err, "tolerance");
    let err = refused(
        moons,
        "scaling: Some(0.7)",
        "scaling: Some(7.0)",
        "method.flow.sinkhorn.scaling",
    );
    assert!(err.to_string().contains("valid range"), "{err}");
    // A syntax error keeps the parser's line.
    let broken = moons.replace("step_size: 0.5,", "step_size: 0.5,,");
    let err = Scenario::parse(&broken).unwrap_err();
    eprintln!("{err}");
    assert_eq!(err.line, Some(line_of(&broken, "0.5,,")), "{err}");
    let json = json_of(moons).replace("\"step_size\": 0.5,", "\"step_size\": 0.5,,");
    let err = Scenario::parse(&json).unwrap_err();
    eprintln!("{err}");
    assert_eq!(err.line, Some(line_of(&json, "0.5,,")), "{err}");
}
