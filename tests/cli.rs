//! The `divlab` binary, headless: help, usage errors (exit 2), measure/run/bench JSON, byte-identical replays,
//! and clear errors for malformed scenarios.

use std::process::{Command, Output};

fn divlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_divlab"))
        .args(args)
        .output()
        .expect("run divlab")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn help_lists_the_subcommands_and_usage_errors_exit_2() {
    let o = divlab(&["--help"]);
    assert!(o.status.success());
    for sub in ["measure", "run", "bench"] {
        assert!(stdout(&o).contains(sub), "help lacks {sub}");
    }
    for bad in [
        &["frobnicate"][..],
        &["--frobnicate"],
        &["run"],
        &["bench", "warp"],
    ] {
        let o = divlab(bad);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("divlab --help"),
            "{bad:?}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn measure_reports_every_divergence_or_why_not() {
    let o = divlab(&[
        "measure",
        "assets/scenarios/two_modes_reverse_kl.ron",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    let divs = v["divergences"].as_array().expect("divergences");
    let ids: Vec<&str> = divs.iter().map(|d| d["id"].as_str().expect("id")).collect();
    assert_eq!(ids, divlab::core::measure::row_ids());
    let find = |id: &str| divs.iter().find(|d| d["id"] == id).cloned();
    let kl = find("forward_kl").expect("forward KL listed");
    assert!(kl["value"].as_f64().expect("forward KL value") > 0.0);
    assert_eq!(kl["diagnostics"]["estimator"], "grid");
    assert!(
        kl["diagnostics"]["missed_mass_p"].as_f64().is_some(),
        "{kl}"
    );
    // Every row has a name without debug output, and a finite value or a reason, never both.
    for d in divs {
        let name = d["name"].as_str().expect("name");
        assert!(!name.contains('{') && !name.contains("::"), "{name}");
        let outcome = d["outcome"].as_str().expect("outcome");
        let has_value = d["value"].as_f64().is_some_and(f64::is_finite);
        let has_reason = ["reason", "error"]
            .iter()
            .any(|k| d[*k].as_str().is_some_and(|s| !s.is_empty()));
        assert_eq!(has_value, outcome == "value", "{d}");
        assert!(has_value ^ has_reason, "{d}");
    }

    // A particle cloud has no density: density-based divergences say so instead of giving a number.
    let o = divlab(&[
        "measure",
        "assets/scenarios/ring8_mmd_flow.ron",
        "--steps",
        "3",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    let divs = v["divergences"].as_array().expect("divergences");
    let ids: Vec<&str> = divs.iter().map(|d| d["id"].as_str().expect("id")).collect();
    assert_eq!(ids, divlab::core::measure::row_ids());
    let rkl = divs
        .iter()
        .find(|d| d["id"] == "reverse_kl")
        .expect("reverse KL listed");
    assert!(rkl["value"].is_null());
    assert_eq!(rkl["outcome"], "not_applicable");
    assert!(rkl["reason"].as_str().unwrap().contains("no density"));
    let sinkhorn = divs
        .iter()
        .find(|d| d["id"] == "sinkhorn")
        .expect("Sinkhorn listed");
    assert!(
        sinkhorn["value"].as_f64().is_some_and(f64::is_finite),
        "{sinkhorn}"
    );
    assert!(
        sinkhorn["diagnostics"]["sinkhorn"]["converged"].is_boolean(),
        "{sinkhorn}"
    );

    // The text table: a name, a value or n/a, and the reason.
    let o = divlab(&["measure", "assets/scenarios/ring8_mmd_flow.ron"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("reverse KL"))
        .expect("reverse KL line");
    assert!(
        line.contains("n/a") && line.contains("no density"),
        "{line}"
    );
}

#[test]
fn run_is_byte_identical_for_the_same_scenario_and_seed() {
    let args = [
        "run",
        "assets/scenarios/moons_sinkhorn_flow.ron",
        "--steps",
        "4",
        "--every",
        "2",
        "--json",
    ];
    let a = divlab(&args);
    let b = divlab(&args);
    assert!(a.status.success(), "{}", stderr(&a));
    assert!(b.status.success(), "{}", stderr(&b));
    assert!(!a.stdout.is_empty());
    assert!(
        a.stdout == b.stdout,
        "two runs differ ({} vs {} bytes)",
        a.stdout.len(),
        b.stdout.len()
    );
    let v: serde_json::Value = serde_json::from_slice(&a.stdout).expect("JSON");
    let traj = v["trajectory"].as_array().expect("trajectory");
    assert_eq!(traj.len(), 3, "initial state + steps 2 and 4");
    assert_eq!(traj[2]["step"], 4);
    assert_eq!(traj[2]["model"]["positions"].as_array().unwrap().len(), 300);
    // The Sinkhorn flow's solver diagnostics and step size reach the trajectory.
    assert!(
        traj[2]["sinkhorn"]["iterations_xy"].as_u64().is_some(),
        "{}",
        traj[2]
    );
    assert_eq!(traj[2]["step_size_used"], 0.5);
    assert!(traj[0].get("sinkhorn").is_none());
}

#[test]
fn malformed_scenario_names_line_and_field() {
    let dir = std::env::temp_dir().join(format!("divlab-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string("assets/scenarios/two_modes_reverse_kl.ron").unwrap();
    let bad = text.replace("lr: 0.05", "lr: -3.0");
    let path = dir.join("bad.ron");
    std::fs::write(&path, &bad).unwrap();
    let o = divlab(&["measure", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let line = bad.lines().position(|l| l.contains("lr: -3.0")).unwrap() + 1;
    let err = stderr(&o);
    assert!(err.contains(&format!("line {line}")), "{err}");
    assert!(err.contains("lr"), "{err}");
    assert!(err.contains("valid range"), "{err}");

    let o = divlab(&["measure", dir.join("missing.ron").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot read"), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bench_reports_seconds_per_iteration() {
    let o = divlab(&[
        "bench",
        "em",
        "--n",
        "2000",
        "--iters",
        "2",
        "--json",
        "--backend",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    assert_eq!(v["kernel"], "em");
    assert_eq!(v["backend"], "cpu");
    assert_eq!(v["seconds_per_iter"].as_array().unwrap().len(), 2);
    assert!(v["seconds_per_iter_median"].as_f64().unwrap() > 0.0);
}

#[test]
fn run_on_the_gpu_matches_the_cpu_and_says_which_backend_ran() {
    let args = |backend: &'static str| {
        [
            "run",
            "assets/scenarios/moons_sinkhorn_flow.ron",
            "--steps",
            "2",
            "--json",
            "--backend",
            backend,
        ]
    };
    let gpu = divlab(&args("gpu"));
    assert!(gpu.status.success(), "{}", stderr(&gpu));
    let cpu = divlab(&args("cpu"));
    assert!(cpu.status.success(), "{}", stderr(&cpu));
    let g: serde_json::Value = serde_json::from_slice(&gpu.stdout).unwrap();
    let c: serde_json::Value = serde_json::from_slice(&cpu.stdout).unwrap();
    assert_eq!(g["backend"], "gpu", "{}", g["backend_reason"]);
    assert!(g["adapter"].as_str().is_some_and(|a| !a.is_empty()));
    assert_eq!(c["backend"], "cpu");
    assert_eq!(c["backend_reason"], serde_json::Value::Null);
    for (v, b) in [(&g, "gpu"), (&c, "cpu")] {
        assert_eq!(v["measured_by"], "cpu");
        assert_eq!(
            v["trajectory"][1]["backend"], b,
            "each step names its backend"
        );
    }
    // Step 1 reports S_ε at the same starting particles on both backends.
    let go = g["trajectory"][1]["objective"].as_f64().unwrap();
    let co = c["trajectory"][1]["objective"].as_f64().unwrap();
    eprintln!("S_ε at step 1: GPU {go}, CPU {co}");
    assert!((go - co).abs() <= 1e-3 * co.abs(), "GPU {go} vs CPU {co}");

    // A flow the GPU does not run: refused with --backend gpu, on the CPU with auto (and the reason).
    let o = divlab(&[
        "run",
        "assets/scenarios/banana_svgd.ron",
        "--steps",
        "1",
        "--backend",
        "gpu",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("the GPU runs"), "{}", stderr(&o));
    let o = divlab(&[
        "run",
        "assets/scenarios/banana_svgd.ron",
        "--steps",
        "1",
        "--json",
        "--backend",
        "auto",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["backend"], "cpu");
    assert!(
        v["backend_reason"].as_str().unwrap().contains("SVGD"),
        "{}",
        v["backend_reason"]
    );
}

/// A scenario file in a fresh temporary folder (removed by the caller with the folder).
fn temp_scenario(tag: &str, text: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("divlab-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.ron");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn a_run_stopped_midway_keeps_its_trajectory_and_exits_3() {
    // Underdamped Langevin with a step 20× the bundled one: the particles leave the funnel and a score
    // overflows after a few steps, which the core refuses.
    let text = std::fs::read_to_string("assets/scenarios/funnel_langevin.ron")
        .unwrap()
        .replace("step_size: 0.05", "step_size: 1.0")
        .replace("count: 1000", "count: 50");
    let (dir, path) = temp_scenario("stop", &text);
    let path = path.to_str().unwrap();
    let o = divlab(&["run", path, "--steps", "60", "--every", "5", "--json"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    let stop = &v["stopped"];
    let at = stop["step"].as_u64().expect("stopped.step") as usize;
    assert!(
        at > 5 && at < 60,
        "stops midway, after a few recorded steps: {stop}"
    );
    assert!(
        stop["reason"]
            .as_str()
            .is_some_and(|r| r.contains("not finite")),
        "{stop}"
    );
    let traj = v["trajectory"].as_array().expect("trajectory");
    let last = traj.last().unwrap()["step"].as_u64().unwrap() as usize;
    assert_eq!(
        traj.len(),
        1 + (at - 1) / 5,
        "initial state + every 5th good step"
    );
    assert!(last < at);
    assert!(
        stderr(&o).contains(&format!("stopped at step {at}")),
        "{}",
        stderr(&o)
    );
    // The text form says the same, with the same exit status.
    let o = divlab(&["run", path, "--steps", "60", "--every", "5"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stdout(&o).contains(&format!("stopped at step {at}")),
        "{}",
        stdout(&o)
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn run_defaults_to_the_scenarios_steps_on_the_cpu_without_stderr_noise() {
    let text = std::fs::read_to_string("assets/scenarios/two_modes_reverse_kl.ron").unwrap();
    let steps_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("steps:"))
        .expect("the scenario states its steps")
        .to_owned();
    let (dir, path) = temp_scenario("steps", &text.replace(&steps_line, "    steps: 7,"));
    let o = divlab(&["run", path.to_str().unwrap(), "--every", "100", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        "",
        "the CPU path probes no GPU and prints nothing on stderr"
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["steps"], 7);
    assert_eq!(v["backend"], "cpu");
    assert_eq!(v["stopped"], serde_json::Value::Null);
    let traj = v["trajectory"].as_array().unwrap();
    assert_eq!(
        traj.last().unwrap()["step"],
        7,
        "the last step is always recorded"
    );
    let o = divlab(&["measure", path.to_str().unwrap(), "--json"]);
    assert!(o.status.success());
    assert_eq!(stderr(&o), "");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn caps_lists_every_method_with_its_backends() {
    let o = divlab(&["caps", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let methods = v["methods"].as_array().unwrap();
    let row = |id: &str| {
        methods
            .iter()
            .find(|m| m["method"] == id)
            .unwrap_or_else(|| panic!("{id} listed"))
            .clone()
    };
    assert_eq!(row("flow.sinkhorn")["gpu"], "conditional");
    assert_eq!(row("flow.mmd")["gpu"], "conditional");
    assert_eq!(row("flow.svgd")["gpu"], "no");
    assert!(row("em")["note"].as_str().unwrap().contains("CPU"));
    let o = divlab(&["caps"]);
    assert!(stdout(&o).contains("flow.sinkhorn"));
}

#[test]
fn bench_refuses_sizes_beyond_the_machines_memory_with_the_estimate() {
    let o = divlab(&["bench", "grid", "--n", "10000000", "--backend", "cpu"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(err.contains("GiB") && err.contains("largest n"), "{err}");
    let o = divlab(&[
        "bench",
        "sinkhorn",
        "--n",
        "100000000000",
        "--backend",
        "cpu",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("would need about"), "{}", stderr(&o));
}

#[test]
fn a_samples_target_reads_its_csv_source_next_to_the_scenario() {
    let text = r#"(version: 1, name: "from a CSV", seed: 4,
    target: (kind: "samples", source: "points.csv"),
    model: (kind: "particles", count: 30),
    method: (kind: "flow", flow: (kind: "mmd", kernel: (kind: "gaussian", sigma: 0.5), step_size: 0.5)),
    steps: 3)"#;
    let (dir, path) = temp_scenario("csv", text);
    let csv: String = std::iter::once("x,y\n".to_owned())
        .chain(
            (0..40).map(|i| format!("{},{}\n", (i as f64 * 0.37).sin(), (i as f64 * 0.11).cos())),
        )
        .collect();
    std::fs::write(dir.join("points.csv"), csv).unwrap();
    let o = divlab(&["run", path.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["trajectory"].as_array().unwrap().len(), 4);
    std::fs::write(dir.join("points.csv"), "x,y\n0,1\n2,oops\n").unwrap();
    let o = divlab(&["run", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("points.csv") && err.contains("line 3"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

fn divlab_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_divlab"));
    c.args(args).env_remove("DIVLAB_PATHS");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run divlab")
}

/// `divlab run --json` prints the same bytes on 1 thread and on 4 (rayon reads `RAYON_NUM_THREADS`), and with
/// the baseline build and dense Sinkhorn rows forced (`DIVLAB_PATHS=scalar,dense`: bit-identical paths); an
/// unknown `DIVLAB_PATHS` word is refused by name.
#[test]
fn run_json_is_the_same_on_any_thread_count_and_forced_paths() {
    // (One particle scenario, two steps: each run prints the measurement battery, a few seconds in debug;
    // tests/fast_paths.rs covers every kernel and scenario in-process.)
    for scenario in ["moons_sinkhorn_flow"] {
        let path = format!("assets/scenarios/{scenario}.ron");
        let args = ["run", path.as_str(), "--steps", "2", "--json"];
        let base = divlab_env(&args, &[("RAYON_NUM_THREADS", "2")]);
        assert!(base.status.success(), "{scenario}: {}", stderr(&base));
        for env in [
            [("RAYON_NUM_THREADS", "1"), ("DIVLAB_PATHS", "")],
            [("RAYON_NUM_THREADS", "4"), ("DIVLAB_PATHS", "scalar,dense")],
        ] {
            let o = divlab_env(&args, &env);
            assert!(o.status.success(), "{scenario} {env:?}: {}", stderr(&o));
            assert!(
                o.stdout == base.stdout,
                "{scenario} {env:?}: output differs"
            );
        }
    }
    let o = divlab_env(&["caps"], &[("DIVLAB_PATHS", "scalar,avx512")]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("avx512"), "{}", stderr(&o));
}

#[test]
fn files_that_are_not_utf8_missing_images_and_byte_order_marks() {
    let base = std::fs::read_to_string("assets/scenarios/two_modes_reverse_kl.ron").unwrap();
    let (dir, path) = temp_scenario("bytes", &format!("\u{feff}{base}"));
    let o = divlab(&["run", path.to_str().unwrap(), "--steps", "1", "--json"]);
    assert!(o.status.success(), "a BOM is ignored: {}", stderr(&o));
    let mut bytes = base.clone().into_bytes();
    let at = base.find("reverse KL").unwrap();
    bytes[at] = 0xfe;
    std::fs::write(&path, &bytes).unwrap();
    let o = divlab(&["run", path.to_str().unwrap(), "--steps", "1"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("byte offset {at}")) && err.contains("line 4"),
        "{err}"
    );
    let image = r#"(version: 1,
    target: (kind: "image",
        asset: "nowhere.png"),
    model: (kind: "particles", count: 20),
    method: (kind: "flow", flow: (kind: "langevin", step_size: 0.1)))"#;
    std::fs::write(&path, image).unwrap();
    let o = divlab(&["run", path.to_str().unwrap(), "--steps", "1"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("line 3, field `target.asset` (nowhere.png): no such file"),
        "{err}"
    );
    std::fs::write(dir.join("nowhere.png"), b"not a png").unwrap();
    let o = divlab(&["run", path.to_str().unwrap(), "--steps", "1"]);
    let err = stderr(&o);
    assert!(
        err.contains("line 3, field `target.asset` (nowhere.png): cannot decode"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Issue 15: `divlab measure` between two given point clouds (a sample target and particles from points)
/// with its settings from the scenario's `measure` section and from flags; bad settings are refused
/// naming the flag or the line and field, with the valid range.
#[test]
fn measure_two_point_clouds_with_settings_from_the_file_and_flags() {
    let text = r#"(version: 1, seed: 4,
        target: (kind: "samples", points: [[0.0, 0.0], [1.0, 0.2], [0.5, 1.0], [1.5, 1.5]]),
        model: (kind: "particles", init: (kind: "points", points: [[2.0, 0.0], [2.5, 1.0], [3.0, 0.5]])),
        method: (kind: "flow", flow: (kind: "sliced_riesz", slices: 4, step_size: 1.0)),
        measure: (epsilon_rel: Some(0.01), precision: Some(f64), sinkhorn_tolerance: Some(1e-9),
            sinkhorn_max_iters: Some(100000)))"#;
    let (dir, path) = temp_scenario("clouds", text);
    let p = path.to_str().expect("path");
    let values = |extra: &[&str]| {
        let mut args = vec!["measure", p, "--json"];
        args.extend_from_slice(extra);
        let o = divlab(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON");
        let get = |id: &str| {
            let d = v["divergences"]
                .as_array()
                .expect("divergences")
                .iter()
                .find(|d| d["id"] == id)
                .cloned()
                .expect(id);
            assert_eq!(d["outcome"], "value", "{id}: {d}");
            d["value"].as_f64().expect("value")
        };
        (
            get("ot_epsilon"),
            get("transport_cost"),
            get("exact_w2"),
            v["measure"].clone(),
        )
    };
    let (ot_file, cost_file, exact, m) = values(&[]);
    assert_eq!(m["epsilon_rel"], 0.01);
    assert!(
        ot_file >= cost_file && cost_file >= exact - 1e-9,
        "{ot_file} {cost_file} {exact}"
    );
    // A smaller ε from the command line: closer to the exact value; the half cost halves everything.
    let (ot_flag, _, _, m) = values(&["--epsilon-rel", "0.001"]);
    assert_eq!(m["epsilon_rel"], 0.001);
    assert!(
        ot_flag - exact < ot_file - exact,
        "{ot_flag} {ot_file} {exact}"
    );
    let (_, _, exact_half, _) = values(&["--cost", "half_squared"]);
    assert!(
        (exact_half - 0.5 * exact).abs() < 1e-12,
        "{exact_half} {exact}"
    );
    // Text output names the rows.
    let o = divlab(&["measure", p]);
    let out = stdout(&o);
    assert!(
        out.contains("exact OT") && out.contains("transport cost"),
        "{out}"
    );
    // Refusals: a flag out of range (usage, 2), both ε kinds, a bad section field (line and field).
    for (args, want) in [
        (
            vec!["--epsilon-scaling", "1.5"],
            "--epsilon-scaling: measure.epsilon_scaling = 1.5",
        ),
        (vec!["--epsilon", "0.1", "--epsilon-rel", "0.1"], "not both"),
        (vec!["--slices", "0"], "--slices: measure.directions = 0"),
        (vec!["--cost", "cubic"], "expected squared"),
        (vec!["--epsilon", "abc"], "expected a finite number"),
    ] {
        let mut full = vec!["measure", p];
        full.extend(args.iter());
        let o = divlab(&full);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
    let bad = text.replace("epsilon_rel: Some(0.01)", "epsilon_rel: Some(-1.0)");
    let (dir2, path2) = temp_scenario("clouds_bad", &bad);
    let o = divlab(&["measure", path2.to_str().expect("path")]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("line 5") && err.contains("measure.epsilon_rel"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(dir2);
}
