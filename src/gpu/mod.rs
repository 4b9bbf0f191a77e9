//! wgpu compute backend: one WGSL file per kernel in `shaders/`, thin Rust wrappers, results checked against `core`.
//!
//! All kernels are f32 and log-domain, use no float atomics (reductions go through workgroup
//! memory, then a second pass across workgroups), and stay within WebGPU's default limits.

pub mod backend;
#[cfg(not(target_arch = "wasm32"))]
pub mod bench;
pub mod context;
pub mod em;
pub mod mixture_grid;
pub mod mmd_flow;
pub mod sinkhorn;

pub use context::{AdapterSummary, GpuContext, GpuError, GpuResult};
