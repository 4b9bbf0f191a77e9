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
        &["run", "x.ron"],
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
    assert!(
        g["backend"].as_str().unwrap().starts_with("gpu"),
        "{}",
        g["backend"]
    );
    assert_eq!(c["backend"], "cpu");
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
    assert!(
        v["backend"].as_str().unwrap().starts_with("cpu (auto:"),
        "{}",
        v["backend"]
    );
}
