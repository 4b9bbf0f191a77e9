//! Mixture log-density on a grid and grid f-divergence values on the GPU (`shaders/mixture_grid.wgsl`).
//!
//! Layout: the grid of `core::grid::Grid` (row-major, row 0 at `y_min`, cell centres at
//! `(x_min + (j + ½)dx, y_min + (i + ½)dy)`). Divergences use the core's grid estimator
//! D_f(p‖q) = Σ_cells q f(p/q) ΔA + M_q f(M_p/M_q) (midpoint rule over the grid plus the outer
//! cell holding the missed masses M = 1 − Σ ΔA·density; p the target, q the model):
//! forward KL = KL(p‖q) = Σ p log(p/q) ΔA, reverse KL = KL(q‖p) = Σ q log(q/p) ΔA,
//! Jensen–Shannon = ½ Σ [p log(2p/(p+q)) + q log(2q/(p+q))] ΔA. Cells where a density is exactly 0
//! contribute 0 to its own terms (0 log 0 = 0).
//!
//! The log-density grid stays on the GPU ([`GpuMixtureGrid::log_density_buffer`]) so the app can
//! colour it into a texture without a read-back; tests and the CLI read it back.
//!
//! Precision (f32, measured on lavapipe in tests/gpu_kernels.rs against `Mixture::log_density`
//! and `core::fdiv::fdiv_value_grad` with the grid estimator, presets two_modes, ring8, banana on
//! a 250² grid): log q within 7.8e-6 absolute, q within 5.8e-6 pointwise relative; values of
//! forward KL, reverse KL, JS, squared Hellinger, α = ½, total variation ≤ 2.4e-7 relative,
//! Pearson χ² ≤ 1.2e-5 (values up to 1e30); θ-gradients ≤ 3.3e-6 relative to the largest entry
//! (Pearson χ² on banana 1.2e-5). Neyman χ² and Amari α ∈ {−1, −½, ¼, 1.5, 2} on two_modes and
//! gaussian_mixture: values ≤ 2.8e-6 relative, θ-gradients ≤ 9.4e-6. Acceptance bound 1e-4. Known limit: the
//! outer cell's missed mass M_q = 1 − Σ q ΔA is a cancellation, ~5e-8 off in f32 (it can come out
//! negative); when M_q is that small and α > 1, its term M_p^α M_q^(1−α) amplifies the error (α = 1.5 with a
//! q narrower than p: 1.6e-3 relative).

use super::context::{
    GpuContext, GpuError, GpuResult, check_finite, check_items_1d, workgroups_for,
};
use super::em::GpuEm;
use super::pack::pack_components;
use crate::core::fdiv::{FDivKind, FDivValue};
use crate::core::grid::Grid;
use crate::core::math::Vec2;
use crate::core::mixture::Mixture;
use eframe::wgpu;

/// WGSL source of the grid kernels.
pub const MIXTURE_GRID_WGSL: &str = include_str!("shaders/mixture_grid.wgsl");

/// Floats per packed component.
/// Terms reduced by `fdiv_partials`.
const NTERMS: usize = 5;
/// Log densities below this are clamped (density 0) before the f32 upload.
pub const LOG_DENSITY_FLOOR: f64 = -1.0e30;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct GridParams {
    nx: u32,
    ny: u32,
    k: u32,
    _pad: u32,
    x_min: f32,
    y_min: f32,
    dx: f32,
    dy: f32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ReduceParams {
    len: u32,
    n_partials: u32,
    log_zp: f32,
    log_zq: f32,
}

/// Grid divergence values between p (target) and q (model), midpoint rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridDivergences {
    /// KL(p‖q).
    pub forward_kl: f64,
    /// KL(q‖p).
    pub reverse_kl: f64,
    /// Jensen–Shannon divergence (natural log, ≤ ln 2).
    pub jensen_shannon: f64,
    /// Σ p ΔA and Σ q ΔA (1 minus the mass the box misses).
    pub mass_p: f64,
    pub mass_q: f64,
}

/// Compiled grid kernels.
#[derive(Debug, Clone)]
pub struct GpuMixtureGrid {
    density: wgpu::ComputePipeline,
    partials: wgpu::ComputePipeline,
    finish: wgpu::ComputePipeline,
    em: GpuEm,
}

fn check_grid(grid: &Grid) -> GpuResult<()> {
    check_items_1d("grid cells", grid.len())
}

impl GpuMixtureGrid {
    pub fn new(ctx: &GpuContext) -> GpuResult<Self> {
        Ok(Self {
            density: ctx.compute_pipeline(
                "mixture log_density_grid",
                MIXTURE_GRID_WGSL,
                "log_density_grid",
            )?,
            partials: ctx.compute_pipeline(
                "mixture fdiv_partials",
                MIXTURE_GRID_WGSL,
                "fdiv_partials",
            )?,
            finish: ctx.compute_pipeline("mixture fdiv_final", MIXTURE_GRID_WGSL, "fdiv_final")?,
            em: GpuEm::new(ctx)?,
        })
    }

    /// Computes log q on `grid` into a new storage buffer (`grid.len()` f32, row-major) and
    /// returns it without reading back (for the app's heatmap texture).
    pub fn log_density_buffer(
        &self,
        ctx: &GpuContext,
        mix: &Mixture,
        grid: &Grid,
    ) -> GpuResult<wgpu::Buffer> {
        check_grid(grid)?;
        let comps = ctx.storage_buffer("mixture components", &pack_components(mix));
        let out = ctx.storage_zeros("log q grid", grid.len());
        let params = ctx.uniform_buffer(
            "grid params",
            &GridParams {
                nx: grid.nx as u32,
                ny: grid.ny as u32,
                k: mix.n_components() as u32,
                _pad: 0,
                x_min: grid.bbox.x_min as f32,
                y_min: grid.bbox.y_min as f32,
                dx: grid.dx() as f32,
                dy: grid.dy() as f32,
            },
        );
        let bind = ctx.bind_group("mixture grid", &self.density, &[&params, &comps, &out]);
        ctx.run_passes(&[(&self.density, &bind, workgroups_for(grid.len()))])?;
        Ok(out)
    }

    /// log q on `grid`, read back (row-major, `grid.len()` values).
    pub fn log_density(&self, ctx: &GpuContext, mix: &Mixture, grid: &Grid) -> GpuResult<Vec<f64>> {
        let buf = self.log_density_buffer(ctx, mix, grid)?;
        let v = ctx.read_f32(&buf, grid.len())?;
        check_finite("mixture log-density grid", &v)?;
        Ok(v.into_iter().map(f64::from).collect())
    }

    /// Uploads a log-density grid computed on the CPU (e.g. the target's), clamping −∞ to
    /// [`LOG_DENSITY_FLOOR`].
    pub fn upload_log_density(&self, ctx: &GpuContext, log_p: &[f64]) -> GpuResult<wgpu::Buffer> {
        if log_p.iter().any(|v| v.is_nan() || *v == f64::INFINITY) {
            return Err(GpuError::NonFinite {
                what: "target log-density grid".into(),
            });
        }
        let v: Vec<f32> = log_p
            .iter()
            .map(|&x| x.max(LOG_DENSITY_FLOOR) as f32)
            .collect();
        Ok(ctx.storage_buffer("log p grid", &v))
    }

    /// Forward KL, reverse KL, JS and the masses from two log-density grids already on the GPU
    /// (`grid.len()` f32 each), by a workgroup tree reduction and a second pass across workgroups.
    pub fn divergences_from_buffers(
        &self,
        ctx: &GpuContext,
        log_p: &wgpu::Buffer,
        log_q: &wgpu::Buffer,
        grid: &Grid,
    ) -> GpuResult<GridDivergences> {
        check_grid(grid)?;
        let len = grid.len();
        let n_wg = workgroups_for(len);
        let rp = ReduceParams {
            len: len as u32,
            n_partials: n_wg,
            log_zp: 0.0,
            log_zq: 0.0,
        };
        let params = ctx.uniform_buffer("fdiv params", &rp);
        let partials = ctx.storage_zeros("fdiv partials", n_wg as usize * NTERMS);
        let sums = ctx.storage_zeros("fdiv sums", NTERMS);
        let b1 = ctx.bind_group(
            "fdiv partials",
            &self.partials,
            &[&params, log_p, log_q, &partials],
        );
        let b2 = ctx.bind_group("fdiv final", &self.finish, &[&params, &partials, &sums]);
        ctx.run_passes(&[(&self.partials, &b1, n_wg), (&self.finish, &b2, 1)])?;
        let s = ctx.read_f32(&sums, NTERMS)?;
        let area = grid.cell_area();
        let mass_p = s[3] as f64 * area;
        let mass_q = s[4] as f64 * area;
        // The outer cell of `core::fdiv`'s grid estimator: M_q f(M_p/M_q) with the missed masses.
        let outer = |kind: FDivKind| {
            const OUTER_FLOOR: f64 = 1e-12;
            kind.generator()
                .q_term(
                    (1.0 - mass_p).max(OUTER_FLOOR).ln(),
                    (1.0 - mass_q).max(OUTER_FLOOR).ln(),
                )
                .0
        };
        let out = GridDivergences {
            forward_kl: s[0] as f64 * area + outer(FDivKind::ForwardKl),
            reverse_kl: s[1] as f64 * area + outer(FDivKind::ReverseKl),
            jensen_shannon: s[2] as f64 * area + outer(FDivKind::JensenShannon),
            mass_p,
            mass_q,
        };
        if [out.forward_kl, out.reverse_kl, out.jensen_shannon]
            .iter()
            .any(|v| !v.is_finite())
        {
            return Err(GpuError::NonFinite {
                what: "grid f-divergence".into(),
            });
        }
        Ok(out)
    }

    /// Convenience: log q of `mix` on `grid` (on the GPU), then the divergences against the
    /// target's log-density grid `log_p` (row-major over the same grid, from the CPU).
    pub fn divergences(
        &self,
        ctx: &GpuContext,
        log_p: &[f64],
        mix: &Mixture,
        grid: &Grid,
    ) -> GpuResult<GridDivergences> {
        if log_p.len() != grid.len() {
            return Err(GpuError::Invalid {
                reason: format!(
                    "log_p has {} values but the grid has {} cells",
                    log_p.len(),
                    grid.len()
                ),
            });
        }
        let lp = self.upload_log_density(ctx, log_p)?;
        let lq = self.log_density_buffer(ctx, mix, grid)?;
        self.divergences_from_buffers(ctx, &lp, &lq, grid)
    }

    /// Value and θ-gradient of a grid f-divergence, by quadrature, exactly as
    /// `core::fdiv::fdiv_value_grad` with `Estimator::Grid` defines them (midpoint cells plus the
    /// outer cell holding the missed masses), for every `FDivKind` except Rényi:
    /// value = ΔA Σ q f(p/q) + M_q f(M_p/M_q), and
    /// ∂/∂θ = Σ v ∂ln q/∂θ − (d_out/M_q) Σ ΔA q ∂ln q/∂θ, with the per-cell weights
    /// v = ΔA q [f − t f′] and d_out from the core's generator (`FDivergence::q_term`).
    /// log q comes from the GPU grid kernel; the responsibility-weighted sums Σ v r_k, Σ v r_k d,
    /// Σ v r_k d dᵀ (d = x − μ_k) run on the GPU (the EM kernel with weights); the chain rule to
    /// θ (≤ 64 components) is f64 on the CPU: with z = L⁻¹d, Z0 = Σ v r, Z1 = L⁻¹S1,
    /// Z2 = L⁻¹S2L⁻ᵀ: ∂/∂logit_k = Z0_k − w_k Σ_j Z0_j, ∂/∂μ_k = L⁻ᵀZ1,
    /// ∂/∂a = Z2₀₀ − (l21/l22) Z2₀₁ − Z0, ∂/∂b = Z2₀₁/l22, ∂/∂c = Z2₁₁ − Z0.
    pub fn fdiv_value_grad(
        &self,
        ctx: &GpuContext,
        kind: &FDivKind,
        log_p: &[f64],
        mix: &Mixture,
        grid: &Grid,
    ) -> GpuResult<FDivValue> {
        kind.validate().map_err(|e| GpuError::Invalid {
            reason: e.to_string(),
        })?;
        if matches!(kind, FDivKind::Renyi { .. }) {
            return Err(GpuError::Invalid {
                reason: "Rényi is not an f-divergence; its grid estimate stays on the CPU".into(),
            });
        }
        if log_p.len() != grid.len() {
            return Err(GpuError::Invalid {
                reason: format!(
                    "log_p has {} values but the grid has {} cells",
                    log_p.len(),
                    grid.len()
                ),
            });
        }
        let generator = kind.generator();
        let log_q = self.log_density(ctx, mix, grid)?;
        let area = grid.cell_area();
        let (mut value, mut mp, mut mq) = (0.0, 0.0, 0.0);
        let mut w_d = Vec::with_capacity(log_q.len());
        let mut w_q = Vec::with_capacity(log_q.len());
        for (&lp, &lq) in log_p.iter().zip(&log_q) {
            let (t, d) = generator.q_term(lp, lq);
            let q = lq.exp();
            value += t;
            mp += lp.exp();
            mq += q;
            w_d.push(d * area);
            w_q.push(q * area);
        }
        if !value.is_finite() || w_d.iter().any(|w| !w.is_finite()) {
            return Err(GpuError::NonFinite {
                what: format!("{} on the grid", kind.name()),
            });
        }
        let missed_p = 1.0 - mp * area;
        let missed_q = 1.0 - mq * area;
        const OUTER_FLOOR: f64 = 1e-12;
        let (outer_v, outer_d) = generator.q_term(
            missed_p.max(OUTER_FLOOR).ln(),
            missed_q.max(OUTER_FLOOR).ln(),
        );
        let value = value * area + outer_v;
        let centres = grid.centers();
        let mut grad = self.theta_sums(ctx, &centres, &w_d, mix)?;
        if missed_q > OUTER_FLOOR && outer_d != 0.0 {
            let gm = self.theta_sums(ctx, &centres, &w_q, mix)?;
            let c = -outer_d / missed_q;
            for (g, m) in grad.iter_mut().zip(&gm) {
                *g += c * m;
            }
        }
        if !value.is_finite() || grad.iter().any(|g| !g.is_finite()) {
            return Err(GpuError::NonFinite {
                what: format!("{} or its gradient", kind.name()),
            });
        }
        Ok(FDivValue {
            value,
            grad,
            missed_mass_p: missed_p,
            missed_mass_q: missed_q,
            std_error: None,
        })
    }

    /// Σᵢ vᵢ ∂ln q(xᵢ)/∂θ over the points xᵢ (GPU sums, f64 chain rule; see
    /// [`Self::fdiv_value_grad`]).
    fn theta_sums(
        &self,
        ctx: &GpuContext,
        points: &[Vec2],
        v: &[f64],
        mix: &Mixture,
    ) -> GpuResult<Vec<f64>> {
        let stats = self.em.weighted_stats(ctx, points, Some(v), mix)?;
        let total: f64 = stats.components.iter().map(|s| s.n).sum();
        let w = mix.weights();
        let chol = mix.cholesky_factors();
        let mut grad = Vec::with_capacity(6 * w.len());
        for ((st, wk), l) in stats.components.iter().zip(&w).zip(&chol) {
            let [l11, l21, l22] = *l;
            let linv = |v: [f64; 2]| {
                let a = v[0] / l11;
                [a, (v[1] - l21 * a) / l22]
            };
            // Z1 = L⁻¹ S1; M = L⁻¹ S2 (columns m0, m1); Z2 = M L⁻ᵀ = (L⁻¹ Mᵀ)ᵀ.
            let z1 = linv(st.s1);
            let m0 = linv([st.s2[0][0], st.s2[1][0]]);
            let m1 = linv([st.s2[0][1], st.s2[1][1]]);
            let r0 = linv([m0[0], m1[0]]);
            let r1 = linv([m0[1], m1[1]]);
            let (z00, z01, z11) = (r0[0], r0[1], r1[1]);
            // L⁻ᵀ Z1
            let u1 = z1[1] / l22;
            let u0 = (z1[0] - l21 * u1) / l11;
            grad.extend_from_slice(&[
                st.n - wk * total,
                u0,
                u1,
                z00 - (l21 / l22) * z01 - st.n,
                z01 / l22,
                z11 - st.n,
            ]);
        }
        Ok(grad)
    }

    /// Seconds per log-density-grid dispatch (timestamps where available), for `divlab bench`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn bench_log_density(
        &self,
        ctx: &GpuContext,
        mix: &Mixture,
        grid: &Grid,
        iters: usize,
    ) -> GpuResult<Vec<f64>> {
        check_grid(grid)?;
        let comps = ctx.storage_buffer("mixture components", &pack_components(mix));
        let out = ctx.storage_zeros("log q grid", grid.len());
        let params = ctx.uniform_buffer(
            "grid params",
            &GridParams {
                nx: grid.nx as u32,
                ny: grid.ny as u32,
                k: mix.n_components() as u32,
                _pad: 0,
                x_min: grid.bbox.x_min as f32,
                y_min: grid.bbox.y_min as f32,
                dx: grid.dx() as f32,
                dy: grid.dy() as f32,
            },
        );
        let bind = ctx.bind_group("mixture grid", &self.density, &[&params, &comps, &out]);
        super::bench::time_dispatch(ctx, &self.density, &bind, workgroups_for(grid.len()), iters)
    }
}
