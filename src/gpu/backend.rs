//! Choosing between the CPU core and the GPU kernels.
//!
//! `auto` uses the GPU when an adapter with compute exists (native, or WebGPU in the browser) and
//! the CPU core otherwise (WebGL2-only browsers, GL backends, no adapter). A lost device or a
//! kernel returning a non-finite value surfaces as a [`GpuError`]; callers then call
//! [`BackendStatus::fall_back_to_cpu`] and continue on the CPU with the same state.

use super::context::{AdapterSummary, GpuContext, GpuError, GpuResult};
use std::fmt;

/// What the user asked for (`--backend cpu|gpu|auto`, scenario files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendChoice {
    Cpu,
    Gpu,
    #[default]
    Auto,
}

impl BackendChoice {
    /// Parses "cpu", "gpu" or "auto".
    pub fn parse(s: &str) -> GpuResult<Self> {
        match s {
            "cpu" => Ok(Self::Cpu),
            "gpu" => Ok(Self::Gpu),
            "auto" => Ok(Self::Auto),
            other => Err(GpuError::Invalid {
                reason: format!(
                    "backend = {other:?} is not valid: valid values are cpu, gpu, auto"
                ),
            }),
        }
    }
}

/// The backend actually in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActiveBackend {
    Cpu,
    Gpu,
}

/// Which backend runs, on which adapter, and why (printed by the app and the CLI).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct BackendStatus {
    pub requested: BackendChoice,
    pub active: ActiveBackend,
    /// The adapter (when the GPU is in use, or was before a fallback).
    pub adapter: Option<AdapterSummary>,
    /// Why the CPU is used although the GPU was possible or requested (no adapter, no compute,
    /// device lost, non-finite kernel output).
    pub reason: Option<String>,
}

impl BackendStatus {
    /// Status for a run on the CPU by choice.
    pub fn cpu() -> Self {
        Self {
            requested: BackendChoice::Cpu,
            active: ActiveBackend::Cpu,
            adapter: None,
            reason: None,
        }
    }

    /// Switches to the CPU after a GPU failure, recording the reason.
    pub fn fall_back_to_cpu(&mut self, err: &GpuError) {
        self.active = ActiveBackend::Cpu;
        self.reason = Some(err.to_string());
    }

    pub fn is_gpu(&self) -> bool {
        self.active == ActiveBackend::Gpu
    }
}

impl fmt::Display for BackendStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.active, &self.adapter) {
            (ActiveBackend::Gpu, Some(a)) => write!(f, "backend: gpu on {a}")?,
            (ActiveBackend::Gpu, None) => write!(f, "backend: gpu")?,
            (ActiveBackend::Cpu, _) => write!(f, "backend: cpu")?,
        }
        if let Some(r) = &self.reason {
            write!(f, " ({r})")?;
        }
        Ok(())
    }
}

/// Resolves a choice given the outcome of trying to create a GPU context.
/// `gpu` → the context or the error; `auto` → GPU if available else CPU with the reason;
/// `cpu` → CPU (the attempt is not made).
pub fn resolve(
    choice: BackendChoice,
    try_gpu: impl FnOnce() -> GpuResult<GpuContext>,
) -> GpuResult<(Option<GpuContext>, BackendStatus)> {
    match choice {
        BackendChoice::Cpu => Ok((None, BackendStatus::cpu())),
        BackendChoice::Gpu => {
            let ctx = try_gpu()?;
            let status = BackendStatus {
                requested: choice,
                active: ActiveBackend::Gpu,
                adapter: Some(ctx.adapter.clone()),
                reason: None,
            };
            Ok((Some(ctx), status))
        }
        BackendChoice::Auto => match try_gpu() {
            Ok(ctx) => {
                let status = BackendStatus {
                    requested: choice,
                    active: ActiveBackend::Gpu,
                    adapter: Some(ctx.adapter.clone()),
                    reason: None,
                };
                Ok((Some(ctx), status))
            }
            Err(e) => Ok((
                None,
                BackendStatus {
                    requested: choice,
                    active: ActiveBackend::Cpu,
                    adapter: None,
                    reason: Some(e.to_string()),
                },
            )),
        },
    }
}

/// [`resolve`] with a headless device (CLI, tests). Native only; the web app passes eframe's
/// device through [`GpuContext::from_device`] and calls [`resolve`] itself.
#[cfg(not(target_arch = "wasm32"))]
pub fn select_headless(choice: BackendChoice) -> GpuResult<(Option<GpuContext>, BackendStatus)> {
    resolve(choice, GpuContext::new_headless_blocking)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choice_serde_and_parse_are_snake_case() {
        assert_eq!(
            serde_json::to_string(&BackendChoice::Auto).unwrap(),
            "\"auto\""
        );
        let c: BackendChoice = serde_json::from_str("\"gpu\"").unwrap();
        assert_eq!(c, BackendChoice::Gpu);
        assert_eq!(BackendChoice::parse("cpu").unwrap(), BackendChoice::Cpu);
        assert!(BackendChoice::parse("vulkan").is_err());
    }

    #[test]
    fn auto_falls_back_to_cpu_with_reason_and_gpu_reports_error() {
        let no_gpu = || {
            Err(GpuError::NoCompute {
                adapter: "WebGL2".into(),
                reason: "DownlevelFlags::COMPUTE_SHADERS missing".into(),
            })
        };
        let (ctx, status) = resolve(BackendChoice::Auto, no_gpu).unwrap();
        assert!(ctx.is_none());
        assert_eq!(status.active, ActiveBackend::Cpu);
        assert!(
            status
                .reason
                .as_deref()
                .unwrap()
                .contains("COMPUTE_SHADERS")
        );
        assert!(status.to_string().starts_with("backend: cpu"));
        assert!(resolve(BackendChoice::Gpu, no_gpu).is_err());
        let (ctx, status) = resolve(BackendChoice::Cpu, || panic!("must not try the GPU")).unwrap();
        assert!(ctx.is_none() && status.active == ActiveBackend::Cpu);
    }

    #[test]
    fn fallback_records_device_loss() {
        let mut s = BackendStatus::cpu();
        s.active = ActiveBackend::Gpu;
        s.fall_back_to_cpu(&GpuError::DeviceLost);
        assert!(!s.is_gpu());
        assert_eq!(s.reason.as_deref(), Some("GPU device lost"));
    }
}
