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

// --- issue 16: every refusal with a position, a path, what was found and what is valid ----------------

/// `cautious` on `grams` (which has no Cautious mask) is refused, as the docs say, in RON and JSON.
#[test]
fn cautious_on_grams_is_refused_as_documented() {
    let bad = GRADIENT.replace("kind: \"adam\"", "kind: \"grams\"");
    let bad_err = refused(
        &bad,
        "beta1: 0.9,",
        "beta1: 0.9, cautious: true,",
        "method.optimizer.cautious",
    );
    assert!(bad_err.to_string().contains("unknown field"), "{bad_err}");
    // On adam it is a known field: adam with cautious parses.
    let adam = GRADIENT.replace("beta1: 0.9,", "beta1: 0.9, cautious: true,");
    Scenario::parse(&adam).unwrap_or_else(|e| panic!("{e}"));
    let docs = include_str!("../docs/scenario.md");
    assert!(
        docs.contains("each but `grams`"),
        "docs promise cautious on grams"
    );
}

#[test]
fn a_kind_in_the_wrong_case_or_with_spaces_names_its_kind() {
    for (from, to, nearest) in [
        ("\"adam\"", "\"LAPROP\"", "laprop"),
        ("\"adam\"", "\"adam \"", "adam"),
        ("\"adam\"", "\" Lion\"", "lion"),
        ("\"two_modes\"", "\"two-modes\"", "two_modes"),
    ] {
        let bad = GRADIENT.replace(from, to);
        let err = Scenario::parse(&bad).expect_err("refused");
        let msg = err.to_string();
        eprintln!("{msg}");
        assert!(msg.contains(&format!("did you mean {nearest}?")), "{msg}");
        assert!(msg.contains("valid kinds: "), "{msg}");
        assert!(msg.contains(&format!("unknown value {to}")), "{msg}");
        assert_eq!(err.line, Some(line_of(&bad, to)), "{msg}");
    }
}

#[test]
fn integers_beyond_u64_name_the_field_the_number_and_the_limit() {
    let big = "100000000000000000000000";
    for (from, to, field) in [
        ("seed: 3", format!("seed: {big}"), "seed"),
        ("lr: 0.05", format!("lr: {big}"), "method.optimizer.lr"),
        (
            "resolution: 64",
            format!("resolution: {big}"),
            "method.objective.estimator.resolution",
        ),
    ] {
        let err = refused(GRADIENT, from, &to, field);
        let msg = err.to_string();
        eprintln!("{msg}");
        assert!(msg.contains(big), "the number found: {msg}");
        assert!(msg.contains("18446744073709551615"), "the limit: {msg}");
        assert!(
            !msg.contains(&format!("`{big}`:")),
            "not as the field: {msg}"
        );
    }
    let json = json_of(GRADIENT).replace("\"seed\": 3", &format!("\"seed\": {big}"));
    let err = Scenario::parse(&json).expect_err("refused");
    assert_eq!(err.field.as_deref(), Some("seed"), "{err}");
    assert!(err.to_string().contains("whole number"), "{err}");
}

#[test]
fn a_field_given_twice_names_its_path_and_second_line() {
    for (from, to, field) in [
        (
            "lr: 0.05,",
            "lr: 0.05,\n            lr: 0.1,",
            "method.optimizer.lr",
        ),
        (
            "separation: 4.0,",
            "separation: 4.0,\n        separation: 3.0,",
            "target.separation",
        ),
        ("steps: 10,", "steps: 10,\n    steps: 11,", "steps"),
    ] {
        let bad = GRADIENT.replace(from, to);
        let second = to.lines().nth(1).expect("two lines").trim();
        for text in [bad.clone(), duplicate_in_json(&bad, second)] {
            let err = Scenario::parse(&text).expect_err("refused");
            eprintln!("{err}");
            assert_eq!(err.field.as_deref(), Some(field), "{err}");
            let key = second.split(':').next().expect("key");
            let lines: Vec<usize> = text
                .lines()
                .enumerate()
                .filter(|(_, l)| l.trim_start().trim_start_matches('"').starts_with(key))
                .map(|(i, _)| i + 1)
                .collect();
            assert_eq!(err.line, lines.last().copied(), "{err}\n{text}");
            assert!(err.to_string().contains("duplicate field"), "{err}");
            assert!(!err.to_string().contains("Scenario"), "{err}");
        }
    }
}

/// The JSON of the scenario without the duplicate, with the duplicate line added back after its twin.
fn duplicate_in_json(ron_with_duplicate: &str, duplicate_line: &str) -> String {
    let clean = ron_with_duplicate.replace(&format!("{duplicate_line}\n"), "");
    let clean: String = clean
        .lines()
        .filter(|l| l.trim() != duplicate_line)
        .collect::<Vec<_>>()
        .join("\n");
    let json = json_of(&clean);
    let (key, value) = duplicate_line
        .trim_end_matches(',')
        .split_once(": ")
        .expect("key: value");
    let twin = json
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("\"{key}\": ")))
        .expect("twin in JSON")
        .to_owned();
    let indent: String = twin.chars().take_while(|c| *c == ' ').collect();
    let twin_with_comma = if twin.ends_with(',') {
        twin.clone()
    } else {
        format!("{twin},")
    };
    let dup = format!(
        "{indent}\"{key}\": {value}{}",
        if twin.ends_with(',') { "," } else { "" }
    );
    json.replacen(&twin, &format!("{twin_with_comma}\n{dup}"), 1)
}

#[test]
fn a_missing_field_below_the_top_names_its_object_not_the_scenario() {
    let mut json: serde_json::Value = serde_json::from_str(&json_of(FLOW)).expect("JSON");
    if let Some(init) = json
        .pointer_mut("/model/init")
        .and_then(|v| v.as_object_mut())
    {
        init.remove("std");
    }
    let json = serde_json::to_string_pretty(&json).expect("JSON");
    let ron: String = FLOW
        .lines()
        .filter(|l| !l.contains("std"))
        .collect::<Vec<_>>()
        .join("\n");
    for bad in [ron, json] {
        let err = Scenario::parse(&bad).expect_err("refused");
        eprintln!("{err}");
        assert_eq!(err.field.as_deref(), Some("model.init.std"), "{err}");
        assert!(!err.to_string().contains("Scenario"), "{err}");
        assert!(err.line.is_some(), "{err}");
    }
}

#[test]
fn invalid_utf8_names_the_byte_offset_line_and_column() {
    let mut bytes = GRADIENT.as_bytes().to_vec();
    let at = GRADIENT.find("strict gradient").expect("name") + 3;
    bytes[at] = 0xff;
    let err = Scenario::parse_bytes(&bytes).expect_err("not UTF-8");
    let msg = err.to_string();
    eprintln!("{msg}");
    let line = line_of(GRADIENT, "strict gradient");
    assert_eq!(err.line, Some(line), "{msg}");
    assert!(msg.contains(&format!("byte offset {at}")), "{msg}");
    assert!(msg.contains("column 15"), "{msg}");
    assert!(msg.contains("0xff"), "{msg}");
}

#[test]
fn a_byte_order_mark_is_ignored_in_ron_and_json() {
    for text in [GRADIENT.to_owned(), json_of(GRADIENT)] {
        let with_bom = format!("\u{feff}{text}");
        let a = Scenario::parse(&with_bom).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a, Scenario::parse(&text).unwrap());
        let b = Scenario::parse_bytes(with_bom.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a, b);
        // And errors keep their lines.
        let bad = with_bom.replace("0.05", "-1.0");
        let err = Scenario::parse(&bad).expect_err("refused");
        assert_eq!(err.line, Some(line_of(&bad, "-1.0")), "{err}");
    }
}

/// serde_json's `float_roundtrip`: a number just inside an open bound is read exactly, as in RON.
#[test]
fn json_reads_numbers_just_inside_a_bound_exactly() {
    let ron = FLOW.replace(
        "target: (kind: \"ring8\")",
        "target: (kind: \"funnel\", sigma_v: 4.999999999999999)",
    );
    let s = Scenario::parse(&ron).unwrap_or_else(|e| panic!("{e}"));
    let json = json_of(&ron);
    assert!(json.contains("4.999999999999999"), "{json}");
    assert_eq!(Scenario::parse(&json).unwrap_or_else(|e| panic!("{e}")), s);
    let json = json_of(FLOW).replace("\"std\": 0.5", "\"std\": 99.99999999999999");
    let s = Scenario::parse(&json).unwrap_or_else(|e| panic!("{e}"));
    let divlab::core::scenario::ModelSpec::Particles { init, .. } = s.model else {
        panic!("particles");
    };
    assert_eq!(
        init,
        divlab::core::scenario::ParticleInit::Gaussian {
            mean: [0.0, 0.0],
            std: 99.99999999999999
        }
    );
}

#[test]
fn covariance_and_list_length_errors_name_the_element_and_both_lists() {
    let given = GRADIENT.replace(
        "            kind: \"random\",\n            components: 2,\n            std_fraction: 0.1,",
        "            kind: \"given\",\n            weights: [0.5, 0.5],\n            means: [(0.0, 0.0), (1.0, 0.0)],\n            covariances: [((1.0, 0.0), (0.0, 1.0)), ((1.0, 0.0), (0.0, 1.0))],",
    );
    Scenario::parse(&given).unwrap_or_else(|e| panic!("{e}"));
    let err = refused(
        &given,
        "covariances: [((1.0, 0.0), (0.0, 1.0)), ((1.0, 0.0), (0.0, 1.0))],",
        "covariances: [((1.0, 0.0), (0.0, 1.0)), ((1.0, 0.3), (0.0, 1.0))],",
        "model.init.covariances[1]",
    );
    assert!(err.to_string().contains("not symmetric"), "{err}");
    assert!(err.to_string().contains("0.3"), "{err}");
    let err = refused(
        &given,
        "covariances: [((1.0, 0.0), (0.0, 1.0)), ((1.0, 0.0), (0.0, 1.0))],",
        "covariances: [((1.0, 0.0), (0.0, 1.0)), ((1.0, 2.0), (2.0, 1.0))],",
        "model.init.covariances[1]",
    );
    assert!(err.to_string().contains("not positive definite"), "{err}");
    let err = refused(
        &given,
        "means: [(0.0, 0.0), (1.0, 0.0)],",
        "means: [(0.0, 0.0)],",
        "model.init.means",
    );
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(
        msg.contains("weights has 2") && msg.contains("means 1"),
        "{msg}"
    );
    // A target mixture too.
    let target = GRADIENT.replace(
        "        kind: \"two_modes\",\n        separation: 4.0,\n        std: 0.5,",
        "        kind: \"gaussian_mixture\",\n        weights: [1.0],\n        means: [(0.0, 0.0)],\n        covariances: [((1.0, 0.5), (0.0, 1.0))],",
    );
    let err = Scenario::parse(&target).expect_err("asymmetric");
    assert_eq!(err.field.as_deref(), Some("target.covariances[0]"), "{err}");
    assert_eq!(err.line, Some(line_of(&target, "covariances")), "{err}");
}

#[test]
fn extreme_values_name_the_users_field_in_short_numbers() {
    // A std whose variance underflows: the user's field, not a derived covariance.
    for (from, to, field) in [
        ("std: 0.5,", "std: 5e-324,", "target.std"),
        ("std: 0.5,", "std: 1e-300,", "target.std"),
    ] {
        let err = refused(GRADIENT, from, to, field);
        let msg = err.to_string();
        eprintln!("{msg}");
        assert!(!msg.contains("covariances"), "{msg}");
        assert!(
            msg.contains("too small") && msg.contains("1.3e-77"),
            "{msg}"
        );
    }
    let err = refused(GRADIENT, "std: 0.5,", "std: 1e300,", "target.std");
    let msg = err.to_string();
    assert!(msg.contains("= 1e300 is out of range"), "{msg}");
    assert!(msg.len() < 200, "short numbers: {msg}");
    for (from, to, field) in [
        ("sigma: 0.5,", "sigma: 1e-200,", "method.flow.kernel.sigma"),
        ("std: 0.5,", "std: 1e-100,", "model.init.std"),
    ] {
        let err = refused(FLOW, from, to, field);
        assert!(err.to_string().contains("too small"), "{err}");
    }
    // A number that overflows reads as infinite, and says so.
    let spiral = FLOW.replace(
        "(kind: \"ring8\")",
        "(kind: \"spiral\",\n    r_max: 1.8e308)",
    );
    let err = Scenario::parse(&spiral).expect_err("overflow");
    assert_eq!(err.field.as_deref(), Some("target.r_max"), "{err}");
    assert!(err.to_string().contains("reads as infinite"), "{err}");
    // A bound derived from another field prints short: two moons' noise below radius/1000.
    let moons = FLOW.replace(
        "(kind: \"ring8\")",
        "(kind: \"two_moons\", radius: 1e-5,\n    noise: 1e-12)",
    );
    let err = Scenario::parse(&moons).expect_err("noise below radius/1000");
    let msg = err.to_string();
    eprintln!("{msg}");
    assert_eq!(err.field.as_deref(), Some("target.noise"), "{msg}");
    assert!(msg.contains("1e-8") && msg.len() < 220, "{msg}");
}

#[test]
fn a_derived_scene_box_out_of_range_names_the_users_field_not_bbox() {
    // A banana this curved and wide has a scene box beyond the coordinates' range ±10⁶.
    let text = GRADIENT.replace(
        "kind: \"two_modes\",\n        separation: 4.0,\n        std: 0.5,",
        "kind: \"banana\",\n        curvature: 100.0,\n        sigma_x: 100.0,",
    );
    assert_ne!(text, GRADIENT, "the target was replaced");
    let scenario = Scenario::parse(&text).unwrap_or_else(|e| panic!("parses and validates: {e}"));
    let err = divlab::core::target::Target::build(&scenario.target, None)
        .expect_err("the derived box is refused");
    let msg = err.to_string();
    assert_eq!(err.field_name(), Some("target.sigma_x"), "{msg}");
    assert!(msg.contains("target.curvature = 100"), "{msg}");
    assert!(!msg.contains("bbox.y_max"), "{msg}");
}

#[test]
fn a_score_flow_on_a_samples_target_is_refused_with_the_reason() {
    for flow in [
        "(kind: \"langevin\", step_size: 0.01)",
        "(kind: \"underdamped_langevin\", step_size: 0.01, friction: 1.0)",
        "(kind: \"svgd\", bandwidth: (kind: \"median\"), step_size: 0.1)",
    ] {
        let text = format!(
            "(version: 1, target: (kind: \"samples\", points: [(0.0, 0.0), (1.0, 0.5)]), \
             model: (kind: \"particles\", count: 10), method: (kind: \"flow\", flow: {flow}))"
        );
        let err = Scenario::parse(&text).expect_err("refused");
        let msg = err.to_string();
        assert!(msg.contains("method.flow.kind"), "{msg}");
        assert!(msg.contains("a samples target has only points"), "{msg}");
    }
}

/// The Sinkhorn flow's `debiased` switch: `false` parses (OT_ε alone), a number in its place or a misspelling
/// is refused with its line and path.
#[test]
fn sinkhorn_debiased_switch_is_strict() {
    let moons = divlab::assets::BUNDLED
        .iter()
        .find(|(n, _)| *n == "moons_sinkhorn_flow")
        .map(|(_, t)| *t)
        .expect("bundled");
    let off = moons.replace(
        "target_samples: 300,",
        "target_samples: 300,\n            debiased: false,",
    );
    let s = Scenario::parse(&off).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        s.method,
        divlab::core::scenario::Method::Flow {
            flow: divlab::core::flows::FlowConfig::Sinkhorn {
                debiased: false,
                ..
            }
        }
    ));
    let on = Scenario::parse(moons).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        on.method,
        divlab::core::scenario::Method::Flow {
            flow: divlab::core::flows::FlowConfig::Sinkhorn { debiased: true, .. }
        }
    ));
    let err = refused(
        moons,
        "target_samples: 300,",
        "target_samples: 300, debiased: 1,",
        "method.flow.debiased",
    );
    eprintln!("{err}");
    let err = refused(
        moons,
        "target_samples: 300,",
        "target_samples: 300, debiassed: false,",
        "method.flow.debiassed",
    );
    assert_suggests(&err, "debiased");
}
