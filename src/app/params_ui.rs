//! A panel's parameter editor, built from the scenario itself and the parameter declarations
//! ([`crate::core::params`]): every number of the model and the method gets a slider over its declared range
//! (logarithmic where the declaration says so, whole numbers for counts), every switch a checkbox. An edit
//! returns the edited scenario; the app rebuilds that panel alone.

use serde_json::Value;

use crate::core::fit::Objective;
use crate::core::flows::{Bandwidth, FlowConfig};
use crate::core::mmd::Kernel;
use crate::core::params::{ParamDecl, Scale, decl_at};
use crate::core::scenario::{Method, Scenario};
use crate::core::sinkhorn::SinkhornConfig;

/// One editable leaf of a scenario: its dotted path and current value.
#[derive(Debug, Clone, PartialEq)]
pub enum Leaf {
    Number(String, f64),
    Switch(String, bool),
}

/// The numbers and switches under `model` and `method` (lists, such as explicit means, are not listed).
pub fn leaves(scenario: &Value) -> Vec<Leaf> {
    let mut out = Vec::new();
    for root in ["model", "method"] {
        if let Some(v) = scenario.get(root) {
            walk(v, root, &mut out);
        }
    }
    out
}

fn walk(v: &Value, path: &str, out: &mut Vec<Leaf>) {
    match v {
        Value::Object(map) => {
            for (key, child) in map {
                walk(child, &format!("{path}.{key}"), out);
            }
        }
        Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                out.push(Leaf::Number(path.to_owned(), x));
            }
        }
        Value::Bool(b) => out.push(Leaf::Switch(path.to_owned(), *b)),
        _ => {}
    }
}

/// `scenario` with the leaf at `path` set to `value`, checked by the core (the error names the field).
pub fn with_value(scenario: &Scenario, path: &str, value: Value) -> Result<Scenario, String> {
    let mut json = serde_json::to_value(scenario).map_err(|e| e.to_string())?;
    let mut node = &mut json;
    for key in path.split('.') {
        node = node
            .get_mut(key)
            .ok_or_else(|| format!("{path}: no such field"))?;
    }
    *node = value;
    let edited: Scenario = serde_json::from_value(json).map_err(|e| format!("{path}: {e}"))?;
    edited.validate().map_err(|e| e.to_string())?;
    Ok(edited)
}

/// The slider's bounds for a declaration: an open bound at 0 of a log scale becomes the smallest value
/// the slider offers (six decades below the top, or the default if that is lower).
fn slider_bounds(d: &ParamDecl) -> (f64, f64) {
    let max = if d.max.is_finite() {
        d.max
    } else {
        (d.default.abs() * 1e3).max(1.0)
    };
    let min = if d.min.is_finite() { d.min } else { -max };
    let min = if d.scale == Scale::Log && min <= 0.0 {
        (max * 1e-6).min(d.default.abs().max(f64::MIN_POSITIVE))
    } else {
        min
    };
    (min, max)
}

/// A declared default (the table is complete: a test checks every field has a declaration).
fn default_of(id: &str) -> f64 {
    crate::core::params::decl(id).map_or(1.0, |d| d.default)
}

/// The flow kinds, by their scenario names.
pub const FLOW_KINDS: [&str; 7] = [
    "mmd",
    "sliced_riesz",
    "sinkhorn",
    "svgd",
    "mirrored_svgd",
    "langevin",
    "underdamped_langevin",
];

/// The optimizer kinds, by their scenario names.
pub const OPTIMIZER_KINDS: [&str; 7] = [
    "sgd",
    "adam",
    "lion",
    "laprop",
    "ademamix",
    "grams",
    "d_adapt_adam",
];

/// The objective kinds of a gradient fit, by their scenario names.
pub const OBJECTIVE_KINDS: [&str; 7] = [
    "f_divergence",
    "cross_entropy",
    "cauchy_schwarz",
    "mmd_gaussian_closed_form",
    "mmd",
    "sinkhorn",
    "sliced_energy",
];

/// The kernel kinds of an MMD objective or flow, by their scenario names.
pub const KERNEL_KINDS: [&str; 4] = ["gaussian", "inverse_multiquadric", "laplace", "riesz"];

/// A kernel of `kind` with its parameter at the declared default.
pub fn default_kernel(kind: &str) -> Option<Kernel> {
    Some(match kind {
        "gaussian" => Kernel::Gaussian {
            sigma: default_of("kernel.gaussian.sigma"),
        },
        "inverse_multiquadric" => Kernel::InverseMultiquadric {
            c: default_of("kernel.inverse_multiquadric.c"),
        },
        "laplace" => Kernel::Laplace {
            sigma: default_of("kernel.laplace.sigma"),
        },
        "riesz" => Kernel::Riesz {
            r: default_of("kernel.riesz.r"),
        },
        _ => return None,
    })
}

/// An objective of `kind` with every parameter at its declared default; an f-divergence keeps the current
/// one's divergence and estimator when there is one.
pub fn default_objective(kind: &str, current: &Objective) -> Option<Objective> {
    let samples = default_of("objective.samples") as usize;
    let target_samples = default_of("objective.target_samples") as usize;
    Some(match kind {
        "f_divergence" => match current {
            Objective::FDivergence { .. } => current.clone(),
            _ => Objective::FDivergence {
                divergence: crate::core::fdiv::FDivKind::ReverseKl,
                estimator: crate::core::fdiv::Estimator::default(),
            },
        },
        "cross_entropy" => Objective::CrossEntropy {
            samples: default_of("objective.cross_entropy.samples") as usize,
        },
        "cauchy_schwarz" => Objective::CauchySchwarz {
            resolution: default_of("objective.cauchy_schwarz.resolution") as usize,
        },
        "mmd_gaussian_closed_form" => Objective::MmdGaussianClosedForm {
            sigma: default_of("objective.mmd_gaussian_closed_form.sigma"),
        },
        "mmd" => Objective::Mmd {
            kernel: default_kernel("gaussian")?,
            samples,
            target_samples,
        },
        "sinkhorn" => Objective::Sinkhorn {
            config: SinkhornConfig {
                epsilon: default_of("sinkhorn.epsilon"),
                ..SinkhornConfig::default()
            },
            samples: default_of("objective.sinkhorn.samples") as usize,
            target_samples: default_of("objective.sinkhorn.target_samples") as usize,
        },
        "sliced_energy" => Objective::SlicedEnergy {
            directions: default_of("objective.sliced_energy.directions") as usize,
            samples,
            target_samples,
        },
        _ => return None,
    })
}

/// A flow of `kind` with every parameter at its declared default (the target sample count kept).
pub fn default_flow(kind: &str, target_samples: usize) -> Option<FlowConfig> {
    let step = |k: &str| default_of(&format!("flow.{k}.step_size"));
    Some(match kind {
        "mmd" => FlowConfig::Mmd {
            kernel: Kernel::Gaussian {
                sigma: default_of("kernel.gaussian.sigma"),
            },
            step_size: step("mmd"),
            noise_level: 0.0,
            adaptive_step: false,
            target_samples,
        },
        "sliced_riesz" => FlowConfig::SlicedRiesz {
            slices: default_of("flow.sliced_riesz.slices") as usize,
            step_size: step("sliced_riesz"),
            target_samples,
        },
        "sinkhorn" => FlowConfig::Sinkhorn {
            sinkhorn: SinkhornConfig {
                epsilon: default_of("sinkhorn.epsilon"),
                ..SinkhornConfig::default()
            },
            step_size: step("sinkhorn"),
            target_samples,
            debiased: true,
        },
        "svgd" => FlowConfig::Svgd {
            bandwidth: Bandwidth::Median,
            step_size: step("svgd"),
        },
        "mirrored_svgd" => FlowConfig::MirroredSvgd {
            bandwidth: Bandwidth::Median,
            step_size: step("mirrored_svgd"),
        },
        "langevin" => FlowConfig::Langevin {
            step_size: step("langevin"),
        },
        "underdamped_langevin" => FlowConfig::UnderdampedLangevin {
            step_size: step("underdamped_langevin"),
            friction: default_of("flow.underdamped_langevin.friction"),
        },
        _ => return None,
    })
}

/// The scenario's flow, objective, kernel or optimizer switched to another kind (parameters at their
/// defaults; an optimizer keeps its learning rate, an f-divergence objective its divergence). `None` when the
/// scenario has no such part.
pub fn with_kind(scenario: &Scenario, part: &str, kind: &str) -> Option<Result<Scenario, String>> {
    let mut s = scenario.clone();
    match (&mut s.method, part) {
        (Method::Flow { flow }, "flow") => {
            *flow = default_flow(kind, flow.target_samples().unwrap_or(1024))?;
        }
        (Method::Gradient { optimizer, .. }, "optimizer") => {
            let lr = serde_json::to_value(&*optimizer)
                .ok()
                .and_then(|v| v.get("lr").cloned())
                .unwrap_or(Value::from(default_of("optimizer.lr")));
            // D-Adaptation has no learning rate to carry over.
            let v = if kind == "d_adapt_adam" {
                serde_json::json!({ "kind": kind })
            } else {
                serde_json::json!({ "kind": kind, "lr": lr })
            };
            *optimizer = match serde_json::from_value(v) {
                Ok(o) => o,
                Err(e) => return Some(Err(format!("optimizer {kind}: {e}"))),
            };
        }
        (Method::Gradient { objective, .. }, "objective") => {
            *objective = default_objective(kind, objective)?;
        }
        (
            Method::Gradient {
                objective: Objective::Mmd { kernel, .. },
                ..
            }
            | Method::Flow {
                flow: FlowConfig::Mmd { kernel, .. },
            },
            "kernel",
        ) => {
            *kernel = default_kernel(kind)?;
        }
        _ => return None,
    }
    Some(s.validate().map(|()| s).map_err(|e| e.to_string()))
}

/// The setting a step that blew up most likely came from: the step size of the method (an optimizer's
/// learning rate `lr`, a flow's `step_size`), as "name = value", with the scenario that has it halved. `None`
/// for EM, which has no step size.
pub fn halved_step(scenario: &Scenario) -> Option<(String, Scenario)> {
    let mut json = serde_json::to_value(scenario).ok()?;
    let (part, field, what) = match &scenario.method {
        Method::Gradient { .. } => ("optimizer", "lr", "the learning rate lr"),
        Method::Flow { .. } => ("flow", "step_size", "the step size step_size"),
        Method::BwJko { .. } => ("", "step_size", "the JKO time step step_size"),
        Method::Em { .. } => return None,
    };
    let slot = if part.is_empty() {
        &mut json["method"][field]
    } else {
        &mut json["method"][part][field]
    };
    let value = slot.as_f64()?;
    *slot = Value::from(0.5 * value);
    let halved: Scenario = serde_json::from_value(json).ok()?;
    halved.validate().ok()?;
    Some((
        format!("{what} = {}", crate::core::math::display_number(value)),
        halved,
    ))
}

/// The kind pickers of a panel: the objective and the optimizer of a gradient fit, the flow of a particle
/// model, and the kernel of an MMD objective or flow. Each switch sets the new kind's parameters to their
/// declared defaults.
pub fn kinds_ui(
    ui: &mut egui::Ui,
    panel: usize,
    scenario: &Scenario,
    shown: &dyn Fn(&str) -> bool,
) -> Option<Result<Scenario, String>> {
    let json = serde_json::to_value(scenario).ok()?;
    let mut parts: Vec<(&str, &[&str], &Value)> = match &scenario.method {
        Method::Flow { .. } => vec![("flow", &FLOW_KINDS, &json["method"]["flow"])],
        Method::Gradient { .. } => vec![
            ("objective", &OBJECTIVE_KINDS, &json["method"]["objective"]),
            ("optimizer", &OPTIMIZER_KINDS, &json["method"]["optimizer"]),
        ],
        Method::Em { .. } | Method::BwJko { .. } => return None,
    };
    let kernel = match &scenario.method {
        Method::Gradient { .. } => &json["method"]["objective"]["kernel"],
        Method::Flow { .. } => &json["method"]["flow"]["kernel"],
        Method::Em { .. } | Method::BwJko { .. } => &Value::Null,
    };
    if kernel.is_object() {
        parts.push(("kernel", &KERNEL_KINDS, kernel));
    }
    let mut edit = None;
    for (part, kinds, value) in parts {
        if !shown(&format!("method.{part}.kind")) {
            continue;
        }
        let current = value["kind"].as_str().unwrap_or("").to_owned();
        egui::ComboBox::new((part, panel), part)
            .selected_text(current.replace('_', " "))
            .show_ui(ui, |ui| {
                for kind in kinds {
                    if ui
                        .selectable_label(current == *kind, kind.replace('_', " "))
                        .clicked()
                        && current != *kind
                    {
                        edit = with_kind(scenario, part, kind);
                    }
                }
            });
    }
    edit
}

/// The last field of a dotted path (the whole path is in the hover text): `lr`, `resolution`, `sigma`.
fn short_label(path: &str) -> String {
    path.rsplit('.').next().unwrap_or(path).to_owned()
}

/// The editor; returns the edited scenario (or why the edit was refused) when the user changed something.
pub fn params_ui(
    ui: &mut egui::Ui,
    panel: usize,
    scenario: &Scenario,
    shown: &dyn Fn(&str) -> bool,
) -> Option<Result<Scenario, String>> {
    let json = serde_json::to_value(scenario).ok()?;
    let mut edit = None;
    egui::Grid::new(("params", panel))
        .num_columns(1)
        .striped(true)
        .show(ui, |ui| {
            for leaf in leaves(&json) {
                let (Leaf::Number(path, _) | Leaf::Switch(path, _)) = &leaf;
                if !shown(path) {
                    continue;
                }
                match leaf {
                    Leaf::Number(path, mut x) => {
                        let label = short_label(&path);
                        match decl_at(&json, &path) {
                            Some(d) => {
                                let (lo, hi) = slider_bounds(d);
                                let mut slider = egui::Slider::new(&mut x, lo..=hi)
                                    .logarithmic(d.scale == Scale::Log)
                                    .clamping(egui::SliderClamping::Always)
                                    .text(&label);
                                if d.integer {
                                    slider = slider.integer();
                                }
                                let response = ui.add(slider).on_hover_text(format!(
                                    "{}: {} ({}), valid {}",
                                    path,
                                    d.label,
                                    d.unit,
                                    d.range_words()
                                ));
                                if response.changed() {
                                    let v = serde_json::Number::from_f64(x).map(Value::Number);
                                    let v = match (v, d.integer) {
                                        (Some(_), true) => Some(Value::from(x.round() as u64)),
                                        (v, _) => v,
                                    };
                                    edit = v.map(|v| with_value(scenario, &path, v));
                                }
                            }
                            None => {
                                ui.label(format!("{label} = {x}"));
                            }
                        }
                        ui.end_row();
                    }
                    Leaf::Switch(path, mut b) => {
                        let label = short_label(&path);
                        if ui.checkbox(&mut b, &label).on_hover_text(&path).changed() {
                            edit = Some(with_value(scenario, &path, Value::Bool(b)));
                        }
                        ui.end_row();
                    }
                }
            }
        });
    edit
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundled(name: &str) -> Scenario {
        crate::run::load::bundled(name)
            .unwrap_or_else(|e| panic!("{e}"))
            .scenario
    }

    /// Every objective kind and every kernel the pickers offer gives a scenario the core accepts and can
    /// step (on two modes, whose density is a Gaussian mixture, so the closed forms apply too).
    #[test]
    fn every_objective_and_kernel_of_the_pickers_builds_and_steps() {
        let base = bundled("two_modes_reverse_kl");
        for kind in OBJECTIVE_KINDS {
            let s = with_kind(&base, "objective", kind)
                .unwrap_or_else(|| panic!("{kind}: no edit"))
                .unwrap_or_else(|e| panic!("{kind}: {e}"));
            let json = serde_json::to_value(&s).unwrap();
            assert_eq!(json["method"]["objective"]["kind"], *kind);
            // The run layer's cost check accepts every picker's defaults.
            crate::run::cost::check(&s, None).unwrap_or_else(|e| panic!("{kind}: {e}"));
            let mut sim = crate::core::sim::Simulation::new(&s, None).unwrap();
            let info = sim.step().unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert!(info.objective.is_finite(), "{kind}: {}", info.objective);
        }
        let mmd = with_kind(&base, "objective", "mmd").unwrap().unwrap();
        for kind in KERNEL_KINDS {
            let s = with_kind(&mmd, "kernel", kind).unwrap().unwrap();
            let json = serde_json::to_value(&s).unwrap();
            assert_eq!(json["method"]["objective"]["kernel"]["kind"], *kind);
            let mut sim = crate::core::sim::Simulation::new(&s, None).unwrap();
            assert!(sim.step().unwrap().objective.is_finite(), "{kind}");
        }
        // The kernel of an MMD flow switches the same way; an f-divergence has no kernel to switch.
        let flow = bundled("mixture_mmd_flow");
        let s = with_kind(&flow, "kernel", "laplace").unwrap().unwrap();
        assert_eq!(
            serde_json::to_value(&s).unwrap()["method"]["flow"]["kernel"]["kind"],
            "laplace"
        );
        assert!(with_kind(&base, "kernel", "laplace").is_none());
        // Back to an f-divergence from another kind: reverse KL on the default estimator.
        let back = with_kind(&mmd, "objective", "f_divergence")
            .unwrap()
            .unwrap();
        assert_eq!(
            serde_json::to_value(&back).unwrap()["method"]["objective"]["divergence"]["kind"],
            "reverse_kl"
        );
    }

    #[test]
    fn every_number_of_every_bundled_method_has_a_declaration_and_a_usable_slider() {
        for (name, _) in crate::assets::BUNDLED {
            let s = bundled(name);
            let json = serde_json::to_value(&s).unwrap();
            let leaves = leaves(&json);
            assert!(!leaves.is_empty(), "{name}");
            for leaf in leaves {
                if let Leaf::Number(path, x) = leaf {
                    let d = decl_at(&json, &path).unwrap_or_else(|| panic!("{name}: {path}"));
                    let (lo, hi) = slider_bounds(d);
                    assert!(
                        lo < hi && lo.is_finite() && hi.is_finite(),
                        "{name}: {path}"
                    );
                    assert!(d.contains(lo) || !d.min_inclusive, "{name}: {path}: {lo}");
                    assert!(
                        (lo..=hi).contains(&x),
                        "{name}: {path} = {x} outside the slider {lo}..{hi}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_flow_and_optimizer_kind_can_be_switched_to_with_valid_defaults() {
        let moons = bundled("moons_sinkhorn_flow");
        // Mirrored SVGD needs the simplex: refused on the moons with the way out, accepted on a Dirichlet.
        let refused = with_kind(&moons, "flow", "mirrored_svgd").expect("a flow scenario");
        assert!(
            refused.as_ref().is_err_and(|e| e.contains("dirichlet")),
            "{refused:?}"
        );
        let simplex = bundled("dirichlet_mirrored_svgd");
        for kind in FLOW_KINDS {
            let flow = if kind == "mirrored_svgd" {
                &simplex
            } else {
                &moons
            };
            let s = with_kind(flow, "flow", kind)
                .expect("a flow scenario")
                .unwrap_or_else(|e| panic!("{kind}: {e}"));
            let json = serde_json::to_value(&s).unwrap();
            assert_eq!(json["method"]["flow"]["kind"], kind);
        }
        let fit = bundled("two_modes_reverse_kl");
        for kind in OPTIMIZER_KINDS {
            let s = with_kind(&fit, "optimizer", kind)
                .expect("a gradient fit")
                .unwrap_or_else(|e| panic!("{kind}: {e}"));
            let json = serde_json::to_value(&s).unwrap();
            assert_eq!(json["method"]["optimizer"]["kind"], kind);
            let lr = &json["method"]["optimizer"]["lr"];
            if kind == "d_adapt_adam" {
                assert!(lr.is_null(), "D-Adaptation has no lr: {lr}");
            } else {
                assert_eq!(
                    *lr,
                    serde_json::to_value(&fit).unwrap()["method"]["optimizer"]["lr"]
                );
            }
        }
        assert!(
            with_kind(&fit, "flow", "mmd").is_none(),
            "a mixture fit has no flow"
        );
    }

    #[test]
    fn an_edit_goes_through_the_core_checks() {
        let s = bundled("two_modes_reverse_kl");
        let edited = with_value(&s, "method.optimizer.lr", Value::from(0.2)).unwrap();
        assert_ne!(edited, s);
        let json = serde_json::to_value(&edited).unwrap();
        assert_eq!(json["method"]["optimizer"]["lr"], 0.2);
        let err =
            with_value(&s, "method.optimizer.lr", Value::from(1e6)).expect_err("out of range");
        assert!(err.contains("lr"), "{err}");
        assert!(with_value(&s, "method.nope", Value::from(1)).is_err());
    }
}
