//! wgpu compute backend: one WGSL file per kernel in `shaders/`, thin Rust wrappers, results checked against `core`.
//!
//! All kernels are f32 and log-domain, use no float atomics (reductions go through workgroup
//! memory, then a second pass across workgroups), and stay within WebGPU's default limits.
//!
//! | kernel | WGSL | wrapper | measured vs core (lavapipe) |
//! |---|---|---|---|
//! | mixture log-density grid, f-div values and θ-gradients (all kinds but Rényi) | `mixture_grid.wgsl` (+ `em.wgsl`) | [`mixture_grid`] | ≤ 1.2e-5 |
//! | heatmap texture (viridis, linear/log) from a GPU grid | `heatmap.wgsl` | [`heatmap`] | ≤ 1/255 per channel |
//! | log-domain Sinkhorn half-step, S_ε, ∂S_ε/∂x | `sinkhorn.wgsl` | [`sinkhorn`] | ≤ 5.9e-6 |
//! | MMD pair sums (Gaussian, IMQ, Laplace, Riesz) | `mmd_flow.wgsl` | [`mmd_flow`] | ≤ 2.7e-6 |
//! | EM E-step sums | `em.wgsl` | [`em`] | ≤ 1.2e-7 after 10 steps |
//!
//! **Sliced Riesz stays on the CPU.** Its per-slice work is one sort of N + M projections and a
//! prefix sum over the sorted order. On WebGPU that needs a multi-pass global bitonic sort
//! (log²(N + M)/2 dispatches per batch of slices, since 16 KiB of workgroup memory holds at most
//! 2048 key/index pairs) plus a multi-level scan, all without subgroup guarantees; the core's
//! radix-sorted path is already O((N + M) log(N + M)) per slice and meets its target (N = 10⁶,
//! P = 64 under 2 s). Where a GPU is available, the *exact* energy-distance gradient (Riesz
//! r = 1, no Monte-Carlo noise) is computed by [`mmd_flow`] in O(N(N + M)), which is the better
//! GPU use at the particle counts a live demo shows.

pub mod backend;
#[cfg(not(target_arch = "wasm32"))]
pub mod bench;
pub mod context;
pub mod em;
pub mod heatmap;
pub mod mixture_grid;
pub mod mmd_flow;
pub mod sinkhorn;

pub use context::{AdapterSummary, GpuContext, GpuError, GpuResult};
