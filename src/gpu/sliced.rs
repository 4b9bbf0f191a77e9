//! Sliced Riesz (energy, r = 1) MMD gradient on the GPU (`shaders/sliced.wgsl`): projections, a
//! bitonic sort per slice (global memory, one dispatch per stage, all slices at once), a chunked
//! workgroup scan of the masses ranked below each point, and a per-particle sum over slices.
//!
//! Same estimator and conventions as `core::sliced::sliced_riesz_grad` (weights summing to one,
//! value (π/2)(1/P) Σ_θ 2∫(F_α − F_β)², gradient 2aᵢ[(2B_<ᵢ − 1) − (2A_<ᵢ + aᵢ − 1)] θ per slice,
//! averaged with the factor π/2). Projections are f32 of centred coordinates; the sort orders by
//! (projection, index) like the core's radix sort, so only near-ties (|Δs| ≲ 1e-7·|s|) can
//! rank differently. Cost per call: log₂L(log₂L + 1)/2 sort dispatches (L = N + M rounded up to
//! a power of two) over P·L/2 compare-exchanges each, O(P·L) for the scan.
//!
//! Measured against the core on lavapipe (tests/gpu_kernels.rs): N = 1000, M = 777, P = 64:
//! value 1.4e-7, gradient 2.6e-5 relative to its largest entry; N = 300, M = 100, P = 7: 3.1e-7,
//! 3.5e-7 (acceptance 1e-4).

use super::context::{GpuContext, GpuError, GpuResult, check_finite, workgroups_for};
use crate::core::math::Vec2;
use eframe::wgpu;

/// WGSL source of the sliced kernels.
pub const SLICED_WGSL: &str = include_str!("shaders/sliced.wgsl");

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    m: u32,
    l_pad: u32,
    p: u32,
    k: u32,
    j: u32,
    _a: u32,
    _b: u32,
}

/// Compiled sliced-Riesz kernels.
#[derive(Debug, Clone)]
pub struct GpuSlicedRiesz {
    project: wgpu::ComputePipeline,
    bitonic: wgpu::ComputePipeline,
    scan: wgpu::ComputePipeline,
    reduce: wgpu::ComputePipeline,
}

fn pass_2d(
    encoder: &mut wgpu::CommandEncoder,
    pipeline: &wgpu::ComputePipeline,
    bind: &wgpu::BindGroup,
    x: u32,
    y: u32,
) {
    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: None,
        timestamp_writes: None,
    });
    pass.set_pipeline(pipeline);
    pass.set_bind_group(0, bind, &[]);
    pass.dispatch_workgroups(x, y, 1);
}

impl GpuSlicedRiesz {
    pub fn new(ctx: &GpuContext) -> GpuResult<Self> {
        Ok(Self {
            project: ctx.compute_pipeline("sliced project", SLICED_WGSL, "project")?,
            bitonic: ctx.compute_pipeline("sliced bitonic", SLICED_WGSL, "bitonic_step")?,
            scan: ctx.compute_pipeline("sliced scan", SLICED_WGSL, "scan_grad")?,
            reduce: ctx.compute_pipeline("sliced reduce", SLICED_WGSL, "reduce_grad")?,
        })
    }

    /// Sliced estimate of the energy MMD² and of ∂/∂xᵢ over the given unit directions (as
    /// `core::sliced::sliced_riesz_grad`; draw them with `core::sliced::random_directions`).
    pub fn sliced_riesz_grad(
        &self,
        ctx: &GpuContext,
        x: &[Vec2],
        a: &[f64],
        y: &[Vec2],
        b: &[f64],
        directions: &[Vec2],
    ) -> GpuResult<(f64, Vec<Vec2>)> {
        let (n, m, p) = (x.len(), y.len(), directions.len());
        if n == 0 || m == 0 || a.len() != n || b.len() != m {
            return Err(GpuError::Invalid {
                reason: format!(
                    "sliced Riesz sizes: x {n}, a {}, y {m}, b {} (need non-empty, matching)",
                    a.len(),
                    b.len()
                ),
            });
        }
        if p == 0 || p > 65_535 {
            return Err(GpuError::Invalid {
                reason: format!("slices = {p} is out of range: valid range is [1, 65535]"),
            });
        }
        let l_pad = (n + m).next_power_of_two().max(2);
        let bytes = (p * l_pad * 4) as u64;
        if bytes > ctx.limits.max_storage_buffer_binding_size
            || (p * n * 4) as u64 > ctx.limits.max_storage_buffer_binding_size
            || l_pad / 2 > 65_535 * 256
        {
            return Err(GpuError::Invalid {
                reason: format!(
                    "sliced Riesz: {p} slices × {l_pad} keys exceed the storage-buffer limit"
                ),
            });
        }
        let all = || x.iter().chain(y);
        if all().any(|q| !(q[0].is_finite() && q[1].is_finite()))
            || directions
                .iter()
                .any(|d| !(d[0].is_finite() && d[1].is_finite()))
        {
            return Err(GpuError::NonFinite {
                what: "sliced Riesz point or direction".into(),
            });
        }
        let s = all().fold([0.0, 0.0], |s, q| [s[0] + q[0], s[1] + q[1]]);
        let c = [s[0] / (n + m) as f64, s[1] / (n + m) as f64];
        let pts: Vec<[f32; 2]> = all()
            .map(|q| [(q[0] - c[0]) as f32, (q[1] - c[1]) as f32])
            .collect();
        let dirs: Vec<[f32; 2]> = directions
            .iter()
            .map(|d| [d[0] as f32, d[1] as f32])
            .collect();
        let wts: Vec<f32> = a.iter().chain(b).map(|&w| w as f32).collect();
        let base = Params {
            n: n as u32,
            m: m as u32,
            l_pad: l_pad as u32,
            p: p as u32,
            k: 0,
            j: 0,
            _a: 0,
            _b: 0,
        };
        let params = ctx.uniform_buffer("sliced params", &base);
        let pb = ctx.storage_buffer("sliced points", &pts);
        let db = ctx.storage_buffer("sliced directions", &dirs);
        let wb = ctx.storage_buffer("sliced weights", &wts);
        let keys = ctx.storage_zeros("sliced keys", p * l_pad);
        let idxs = ctx.storage_zeros("sliced indices", p * l_pad);
        let contrib = ctx.storage_zeros("sliced contributions", p * n);
        let values = ctx.storage_zeros("sliced values", p);
        let grad = ctx.storage_zeros("sliced gradient", 2 * n);
        let b_project = ctx.bind_group_at(
            "sliced project",
            &self.project,
            &[(0, &params), (1, &pb), (2, &db), (3, &keys), (4, &idxs)],
        );
        let mut stage_params = Vec::new();
        let mut k = 2;
        while k <= l_pad {
            let mut j = k / 2;
            while j > 0 {
                stage_params.push(ctx.uniform_buffer(
                    "sliced stage",
                    &Params {
                        k: k as u32,
                        j: j as u32,
                        ..base
                    },
                ));
                j /= 2;
            }
            k *= 2;
        }
        let stage_binds: Vec<wgpu::BindGroup> = stage_params
            .iter()
            .map(|u| {
                ctx.bind_group_at(
                    "sliced bitonic",
                    &self.bitonic,
                    &[(0, u), (3, &keys), (4, &idxs)],
                )
            })
            .collect();
        let b_scan = ctx.bind_group_at(
            "sliced scan",
            &self.scan,
            &[
                (0, &params),
                (1, &keys),
                (2, &idxs),
                (3, &wb),
                (4, &contrib),
                (5, &values),
            ],
        );
        let b_reduce = ctx.bind_group_at(
            "sliced reduce",
            &self.reduce,
            &[(0, &params), (1, &contrib), (2, &db), (3, &grad)],
        );
        ctx.check_alive()?;
        let mut encoder = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("sliced riesz"),
            });
        pass_2d(
            &mut encoder,
            &self.project,
            &b_project,
            workgroups_for(l_pad),
            p as u32,
        );
        for bg in &stage_binds {
            pass_2d(
                &mut encoder,
                &self.bitonic,
                bg,
                workgroups_for(l_pad / 2),
                p as u32,
            );
        }
        pass_2d(&mut encoder, &self.scan, &b_scan, p as u32, 1);
        pass_2d(&mut encoder, &self.reduce, &b_reduce, workgroups_for(n), 1);
        ctx.queue.submit([encoder.finish()]);
        let gv = ctx.read_f32(&grad, 2 * n)?;
        let sv = ctx.read_f32(&values, p)?;
        check_finite("sliced Riesz gradient", &gv)?;
        check_finite("sliced Riesz slice values", &sv)?;
        let scale = std::f64::consts::FRAC_PI_2 / p as f64;
        let value = 2.0 * sv.iter().map(|&v| v as f64).sum::<f64>() * scale;
        let grad = gv
            .chunks_exact(2)
            .map(|g| [g[0] as f64 * scale, g[1] as f64 * scale])
            .collect();
        Ok((value, grad))
    }

    /// Wall-clock seconds per full sliced-Riesz gradient (all passes + read-back), for `divlab bench`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn bench_grad(
        &self,
        ctx: &GpuContext,
        x: &[Vec2],
        y: &[Vec2],
        directions: &[Vec2],
        iters: usize,
    ) -> GpuResult<Vec<f64>> {
        let a = vec![1.0 / x.len().max(1) as f64; x.len()];
        let b = vec![1.0 / y.len().max(1) as f64; y.len()];
        let mut out = Vec::with_capacity(iters);
        for _ in 0..iters {
            let t0 = std::time::Instant::now();
            self.sliced_riesz_grad(ctx, x, &a, y, &b, directions)?;
            out.push(t0.elapsed().as_secs_f64());
        }
        Ok(out)
    }
}
