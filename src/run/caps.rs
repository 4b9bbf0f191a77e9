//! Which method runs on which backend, as data. The app's backend badge, `divlab run --backend` and
//! `divlab caps` read this table; [`crate::gpu::flow::GpuFlow::new`] refuses the same cases as a second
//! line of defence, and `tests/run_layer.rs` checks on a real adapter that the two agree.

use serde::Serialize;

use crate::core::flows::FlowConfig;
use crate::core::scenario::{Method, Scenario};
use crate::core::sinkhorn::Precision;

/// Where a method's steps can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GpuSupport {
    /// The GPU runs every step.
    Yes,
    /// The GPU runs it when the condition in [`Capability::note`] holds.
    Conditional,
    /// The CPU core runs it; [`Capability::note`] says why.
    No,
}

/// One row of the table: a method id (`<method kind>` or `flow.<flow kind>`, the scenario's serde names),
/// where it runs, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capability {
    pub method: &'static str,
    pub cpu: bool,
    pub gpu: GpuSupport,
    pub note: &'static str,
}

const CPU_ONLY_MIXTURE: &str = "mixture fits step on the CPU core (value and gradient in f64); with the GPU \
                                backend the app draws q's density on the GPU";

/// Every method divlab runs, with its backends.
pub const TABLE: &[Capability] = &[
    Capability {
        method: "gradient",
        cpu: true,
        gpu: GpuSupport::No,
        note: CPU_ONLY_MIXTURE,
    },
    Capability {
        method: "em",
        cpu: true,
        gpu: GpuSupport::No,
        note: "EM steps on the CPU core (the GPU E-step kernel is reached by tests and `divlab bench em \
               --backend gpu` only)",
    },
    Capability {
        method: "bw_jko",
        cpu: true,
        gpu: GpuSupport::No,
        note: "Gaussian VI by JKO steps on the CPU core: one step is a 2×2 update from n² quadrature nodes (64 by default), \
               far below what a GPU dispatch costs",
    },
    Capability {
        method: "flow.sinkhorn",
        cpu: true,
        gpu: GpuSupport::Conditional,
        note: "log-domain f32 Sinkhorn on the GPU, never blocking a frame: the debiased S_ε flow, or OT_ε alone \
               (debiased = false); precision = f64 (the reference inner loop) and Newton acceleration (newton = …) \
               run on the CPU core",
    },
    Capability {
        method: "flow.mmd",
        cpu: true,
        gpu: GpuSupport::Conditional,
        note: "on the GPU with a fixed step, with or without noise injection (the same noise as the CPU \
               core's); the adaptive step (adaptive_step = true) runs on the CPU core",
    },
    Capability {
        method: "flow.sliced_riesz",
        cpu: true,
        gpu: GpuSupport::No,
        note: "the sliced Riesz flow steps on the CPU core (one sort per slice beats the GPU bitonic sort at \
               these sizes; the kernel is reached by tests only)",
    },
    Capability {
        method: "flow.svgd",
        cpu: true,
        gpu: GpuSupport::No,
        note: "SVGD steps on the CPU core: no GPU kernel yet",
    },
    Capability {
        method: "flow.mirrored_svgd",
        cpu: true,
        gpu: GpuSupport::No,
        note: "mirrored SVGD steps on the CPU core: no GPU kernel yet",
    },
    Capability {
        method: "flow.langevin",
        cpu: true,
        gpu: GpuSupport::No,
        note: "Langevin steps on the CPU core: no GPU kernel yet",
    },
    Capability {
        method: "flow.underdamped_langevin",
        cpu: true,
        gpu: GpuSupport::No,
        note: "underdamped Langevin steps on the CPU core: no GPU kernel yet",
    },
];

/// The method id of a scenario (a row of [`TABLE`]).
pub fn method_id(method: &Method) -> &'static str {
    match method {
        Method::Gradient { .. } => "gradient",
        Method::Em { .. } => "em",
        Method::BwJko { .. } => "bw_jko",
        Method::Flow { flow } => match flow {
            FlowConfig::Sinkhorn { .. } => "flow.sinkhorn",
            FlowConfig::Mmd { .. } => "flow.mmd",
            FlowConfig::SlicedRiesz { .. } => "flow.sliced_riesz",
            FlowConfig::Svgd { .. } => "flow.svgd",
            FlowConfig::MirroredSvgd { .. } => "flow.mirrored_svgd",
            FlowConfig::Langevin { .. } => "flow.langevin",
            FlowConfig::UnderdampedLangevin { .. } => "flow.underdamped_langevin",
        },
    }
}

/// The row of [`TABLE`] for `method`.
pub fn capability(method: &Method) -> &'static Capability {
    let id = method_id(method);
    TABLE.iter().find(|c| c.method == id).unwrap_or(&TABLE[0])
}

/// Whether the GPU can run this scenario's steps: `Ok(())`, or the reason it stays on the CPU core.
pub fn gpu_runs(scenario: &Scenario) -> Result<(), String> {
    let cap = capability(&scenario.method);
    match (cap.gpu, &scenario.method) {
        (GpuSupport::Yes, _) => Ok(()),
        (
            GpuSupport::Conditional,
            Method::Flow {
                flow: FlowConfig::Mmd { adaptive_step, .. },
            },
        ) => {
            if *adaptive_step {
                Err("the MMD flow with an adaptive step runs on the CPU core; the GPU runs a fixed step"
                    .to_owned())
            } else {
                Ok(())
            }
        }
        (
            GpuSupport::Conditional,
            Method::Flow {
                flow: FlowConfig::Sinkhorn { sinkhorn, .. },
            },
        ) => {
            if sinkhorn.precision == Precision::F64 {
                Err("the Sinkhorn flow at precision = f64 runs on the CPU core; the GPU computes in f32"
                    .to_owned())
            } else if sinkhorn.newton.is_some() {
                Err(crate::gpu::sinkhorn::NEWTON_ON_CPU.to_owned())
            } else {
                Ok(())
            }
        }
        _ => Err(cap.note.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_kind_has_exactly_one_row() {
        let mut ids: Vec<&str> = TABLE.iter().map(|c| c.method).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), TABLE.len(), "duplicate method ids");
        for (name, text) in crate::assets::BUNDLED {
            let s = Scenario::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let id = method_id(&s.method);
            assert!(TABLE.iter().any(|c| c.method == id), "{name}: {id}");
            assert!(TABLE.iter().all(|c| c.cpu), "the CPU core runs everything");
        }
    }

    #[test]
    fn mmd_on_the_gpu_only_with_a_fixed_step() {
        let bundled = |name: &str| {
            let text = crate::assets::BUNDLED
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| *t)
                .unwrap_or_else(|| panic!("{name} is bundled"));
            Scenario::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        let mut s = bundled("ring8_mmd_flow");
        let Method::Flow {
            flow:
                FlowConfig::Mmd {
                    noise_level,
                    adaptive_step,
                    ..
                },
        } = &mut s.method
        else {
            panic!("ring8_mmd_flow is an MMD flow");
        };
        assert!(*noise_level > 0.0, "the bundled ring-8 flow injects noise");
        *adaptive_step = false;
        assert_eq!(gpu_runs(&s), Ok(()), "noise injection runs on the GPU");
        if let Method::Flow {
            flow: FlowConfig::Mmd { adaptive_step, .. },
        } = &mut s.method
        {
            *adaptive_step = true;
        }
        let why = gpu_runs(&s).expect_err("the adaptive MMD step stays on the CPU");
        assert!(why.contains("adaptive"), "{why}");
        assert!(gpu_runs(&bundled("two_modes_reverse_kl")).is_err());
        assert_eq!(gpu_runs(&bundled("moons_sinkhorn_flow")), Ok(()));
        let mut s = bundled("moons_sinkhorn_flow");
        if let Method::Flow {
            flow: FlowConfig::Sinkhorn { debiased, .. },
        } = &mut s.method
        {
            *debiased = false;
        }
        assert_eq!(gpu_runs(&s), Ok(()), "OT_ε alone runs on the GPU too");
        if let Method::Flow {
            flow: FlowConfig::Sinkhorn { sinkhorn, .. },
        } = &mut s.method
        {
            sinkhorn.precision = Precision::F64;
        }
        let why = gpu_runs(&s).expect_err("an f64 Sinkhorn flow stays on the CPU");
        assert!(why.contains("f64"), "{why}");
        if let Method::Flow {
            flow: FlowConfig::Sinkhorn { sinkhorn, .. },
        } = &mut s.method
        {
            sinkhorn.precision = Precision::F32;
            sinkhorn.newton = Some(crate::core::newton_ot::NewtonConfig::default());
        }
        let why = gpu_runs(&s).expect_err("Newton acceleration stays on the CPU");
        assert!(why.contains("Newton"), "{why}");
    }
}
