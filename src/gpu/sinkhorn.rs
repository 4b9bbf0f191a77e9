//! Log-domain Sinkhorn on the GPU (`shaders/sinkhorn.wgsl`): ε-scaling, the debiased Sinkhorn
//! divergence S_ε and its gradient with respect to the particles.
//!
//! Conventions (the same as `core::sinkhorn`): cost c(x, y) = |x − y|² (no ½), entropic
//! regularisation ε·KL(π | a⊗b), potentials (f, g) with
//! f_i = −ε log Σ_j b_j exp((g_j − |x_i − y_j|²)/ε), OT_ε = ⟨a, f⟩ + ⟨b, g⟩ at convergence, and
//! S_ε(α, β) = OT_ε(α, β) − ½ OT_ε(α, α) − ½ OT_ε(β, β).
//!
//! Gradient with respect to x_i (weights a fixed):
//! ∂S_ε/∂x_i = 2 a_i (T_αα(x_i) − T_αβ(x_i)), where T_αβ(x_i) = Σ_j π_ij y_j / a_i is the
//! barycentric projection of the plan row (computed online in the same kernel).
//!
//! Precision: f32 on the device, all logs accumulated by an online log-sum-exp (max per tile,
//! then one exp per pair). Measured against the f64 core (`Precision::F64`) on lavapipe
//! (tests/gpu_kernels.rs; N = 300, M = 250 for ε = D²·{1, 1e-1, 1e-2, 1e-3}, and N = 1000,
//! M = 777 at ε = 1e-2·D²): potentials ≤ 3.2e-6 relative to max |potential| (gauge-fixed),
//! OT_ε ≤ 6.9e-7, S_ε ≤ 1.0e-7, ∂S_ε/∂x ≤ 5.9e-6 relative to max |∂S_ε/∂x|. Acceptance bound
//! 1e-3.
//! The f32 marginal error cannot go much below ~1e-6, so the tolerance is floored at
//! [`MIN_TOLERANCE`].

use super::context::{GpuContext, GpuError, GpuResult, check_finite, workgroups_for};
use crate::core::math::Vec2;
use crate::core::sinkhorn::{SinkhornConfig, SinkhornResult, squared_diameter};
use eframe::wgpu;

/// Why Sinkhorn with Newton acceleration stays on the CPU core (the GPU twin and the capability table say it).
pub const NEWTON_ON_CPU: &str = "Sinkhorn with Newton acceleration runs on the CPU core: its sparse Newton stage (top-k \
                                 selection per row and a conjugate-gradient solve) is f64 and has no GPU kernel";

/// WGSL source of the half-iteration kernel.
pub const SINKHORN_WGSL: &str = include_str!("shaders/sinkhorn.wgsl");

/// The smallest marginal-error tolerance the f32 kernels can reach reliably: a requested
/// `tolerance` below this is raised to it (the f32 potentials carry ~1e-7·D²/ε of noise in the
/// exponent, which floors the measurable marginal error).
pub const MIN_TOLERANCE: f64 = 1e-5;

/// Full iterations between two convergence checks (each check reads g back to the CPU).
pub const CHECK_EVERY: usize = 5;

/// Debiased Sinkhorn divergence and its gradient (fields as in `core::sinkhorn::SinkhornDivergence`).
#[derive(Debug, Clone, PartialEq)]
pub struct GpuSinkhornDivergence {
    /// S_ε(α, β).
    pub value: f64,
    /// ∂S_ε/∂x_i (length N).
    pub grad_x: Vec<Vec2>,
    /// ∂S_ε/∂a_i = f_i − p_x,i (up to an additive constant).
    pub grad_a: Vec<f64>,
    /// Potentials of OT_ε(α, β), OT_ε(α, α), OT_ε(β, β).
    pub f: Vec<f64>,
    pub g: Vec<f64>,
    pub p_x: Vec<f64>,
    pub p_y: Vec<f64>,
    /// Whether all three problems reached the tolerance.
    pub converged: bool,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n_rows: u32,
    n_cols: u32,
    eps: f32,
    mix: f32,
}

/// The compiled Sinkhorn kernel; create once per device and reuse.
#[derive(Debug, Clone)]
pub struct GpuSinkhorn {
    pipeline: wgpu::ComputePipeline,
}

/// One half-step direction: rows, columns, log-weights of columns, input potential, output.
struct HalfStep {
    params: wgpu::Buffer,
    bind: wgpu::BindGroup,
    n_rows: u32,
    n_cols: u32,
    mix: f32,
}

/// Points relative to `c`, in f32 (centring keeps the f32 coordinates small, as in the core).
fn to_f32_points(p: &[Vec2], c: Vec2) -> Vec<[f32; 2]> {
    p.iter()
        .map(|v| [(v[0] - c[0]) as f32, (v[1] - c[1]) as f32])
        .collect()
}

/// log w in f32; zero weights become a huge negative number (exp underflows to exactly 0).
fn log_weights(w: &[f64]) -> Vec<f32> {
    w.iter()
        .map(|&v| if v > 0.0 { v.ln() as f32 } else { -1.0e30 })
        .collect()
}

fn mean_point(x: &[Vec2], y: &[Vec2]) -> Vec2 {
    let n = (x.len() + y.len()).max(1) as f64;
    let s = x
        .iter()
        .chain(y)
        .fold([0.0, 0.0], |acc, p| [acc[0] + p[0], acc[1] + p[1]]);
    [s[0] / n, s[1] / n]
}

/// The ε of iteration `it` under the core's annealing schedule ε_k = max(ε, D²·scaling^k).
pub(crate) fn eps_at(cfg: &SinkhornConfig, d2: f64, it: usize) -> f64 {
    match cfg.scaling {
        Some(s) if d2 > cfg.epsilon => {
            (d2 * s.powi(it.min(i32::MAX as usize) as i32)).max(cfg.epsilon)
        }
        _ => cfg.epsilon,
    }
}

/// Σ w_j |exp((old_j − new_j)/ε) − 1|, the L1 marginal error of the plan built with `old`.
fn marginal_error(w: &[f64], old: &[f32], new: &[f32], eps: f64) -> f64 {
    w.iter()
        .zip(old.iter().zip(new))
        .map(|(&wj, (&o, &n))| wj * ((o as f64 - n as f64) / eps).min(700.0).exp_m1().abs())
        .sum()
}

fn dot_w(w: &[f64], v: &[f32]) -> f64 {
    w.iter().zip(v).map(|(a, b)| a * *b as f64).sum()
}

fn check_cloud(name: &str, pts: &[Vec2], w: &[f64]) -> GpuResult<()> {
    if pts.is_empty() || pts.len() != w.len() {
        return Err(GpuError::Invalid {
            reason: format!(
                "{name}: {} points and {} weights (need a non-empty cloud with one weight per point)",
                pts.len(),
                w.len()
            ),
        });
    }
    if pts.len() > super::context::MAX_ITEMS_1D {
        return Err(GpuError::Invalid {
            reason: format!("{name}: {} points is too many for one dispatch", pts.len()),
        });
    }
    if pts.iter().any(|p| !(p[0].is_finite() && p[1].is_finite())) {
        return Err(GpuError::NonFinite {
            what: format!("{name} point"),
        });
    }
    if let Some(&v) = w.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
        return Err(GpuError::Invalid {
            reason: format!("{name} weight = {v} is out of range: valid range is [0, ∞)"),
        });
    }
    Ok(())
}

impl GpuSinkhorn {
    pub fn new(ctx: &GpuContext) -> GpuResult<Self> {
        Ok(Self {
            pipeline: ctx.compute_pipeline("sinkhorn half_step", SINKHORN_WGSL, "half_step")?,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn half_step(
        &self,
        ctx: &GpuContext,
        rows: &wgpu::Buffer,
        cols: &wgpu::Buffer,
        log_w_cols: &wgpu::Buffer,
        h: &wgpu::Buffer,
        prev: &wgpu::Buffer,
        out: &wgpu::Buffer,
        bary: &wgpu::Buffer,
        n_rows: usize,
        n_cols: usize,
        mix: f32,
    ) -> HalfStep {
        let params = ctx.uniform_buffer(
            "sinkhorn params",
            &Params {
                n_rows: n_rows as u32,
                n_cols: n_cols as u32,
                eps: 1.0,
                mix,
            },
        );
        let bind = ctx.bind_group(
            "sinkhorn",
            &self.pipeline,
            &[&params, rows, cols, log_w_cols, h, prev, out, bary],
        );
        HalfStep {
            params,
            bind,
            n_rows: n_rows as u32,
            n_cols: n_cols as u32,
            mix,
        }
    }

    fn set_eps(ctx: &GpuContext, steps: &[&HalfStep], eps: f64) {
        for s in steps {
            ctx.queue.write_buffer(
                &s.params,
                0,
                bytemuck::bytes_of(&Params {
                    n_rows: s.n_rows,
                    n_cols: s.n_cols,
                    eps: eps as f32,
                    mix: s.mix,
                }),
            );
        }
    }

    /// Submits `repeat` rounds of the given half-steps (in order) as one command buffer.
    fn run(&self, ctx: &GpuContext, steps: &[&HalfStep], repeat: usize) -> GpuResult<()> {
        let mut passes = Vec::with_capacity(steps.len() * repeat);
        for _ in 0..repeat {
            for s in steps {
                passes.push((&self.pipeline, &s.bind, workgroups_for(s.n_rows as usize)));
            }
        }
        ctx.run_passes(&passes)
    }

    /// Solves OT_ε(α, β) for α = Σ a_i δ_{x_i}, β = Σ b_j δ_{y_j} (weights ≥ 0 summing to 1),
    /// following `core::sinkhorn::sinkhorn` step for step (same ε schedule, same update order);
    /// convergence is checked every [`CHECK_EVERY`] iterations at the final ε.
    pub fn solve(
        &self,
        ctx: &GpuContext,
        x: &[Vec2],
        a: &[f64],
        y: &[Vec2],
        b: &[f64],
        cfg: &SinkhornConfig,
    ) -> GpuResult<SinkhornResult> {
        Ok(self.solve_inner(ctx, x, a, y, b, cfg, false, None)?.0)
    }

    /// [`Self::solve`] started from potentials (f, g) (e.g. the previous flow step's); like
    /// `core::sinkhorn::sinkhorn_warm`, the ε-scaling schedule is skipped when a warm start is given.
    #[allow(clippy::too_many_arguments)]
    pub fn solve_warm(
        &self,
        ctx: &GpuContext,
        x: &[Vec2],
        a: &[f64],
        y: &[Vec2],
        b: &[f64],
        cfg: &SinkhornConfig,
        init: Option<(&[f64], &[f64])>,
    ) -> GpuResult<SinkhornResult> {
        Ok(self.solve_inner(ctx, x, a, y, b, cfg, false, init)?.0)
    }

    /// Returns the result and, if `want_bary`, the barycentric map T_αβ(x_i) (centred coordinates
    /// shifted back) of the plan (T(g), g).
    #[allow(clippy::too_many_arguments)]
    fn solve_inner(
        &self,
        ctx: &GpuContext,
        x: &[Vec2],
        a: &[f64],
        y: &[Vec2],
        b: &[f64],
        cfg: &SinkhornConfig,
        want_bary: bool,
        init: Option<(&[f64], &[f64])>,
    ) -> GpuResult<(SinkhornResult, Vec<Vec2>)> {
        cfg.validate().map_err(|e| GpuError::Invalid {
            reason: e.to_string(),
        })?;
        if cfg.newton.is_some() {
            return Err(GpuError::Invalid {
                reason: NEWTON_ON_CPU.to_owned(),
            });
        }
        check_cloud("source", x, a)?;
        check_cloud("target", y, b)?;
        let (n, m) = (x.len(), y.len());
        let c = mean_point(x, y);
        let xb = ctx.storage_buffer("x", &to_f32_points(x, c));
        let yb = ctx.storage_buffer("y", &to_f32_points(y, c));
        let la = ctx.storage_buffer("log a", &log_weights(a));
        let lb = ctx.storage_buffer("log b", &log_weights(b));
        let f = ctx.storage_zeros("f", n);
        let f_fresh = ctx.storage_zeros("f fresh", n);
        let g = ctx.storage_zeros("g", m);
        let bary_x = ctx.storage_zeros("bary x", 2 * n);
        let bary_y = ctx.storage_zeros("bary y", 2 * m);
        // One iteration: f ← T(g) on rows x, then g ← T(f) on rows y (as in the core).
        let to_f = self.half_step(ctx, &xb, &yb, &lb, &g, &g, &f, &bary_x, n, m, 0.0);
        let to_g = self.half_step(ctx, &yb, &xb, &la, &f, &f, &g, &bary_y, m, n, 0.0);
        let anneal = match init {
            None => true,
            Some((f0, g0)) if f0.len() == n && g0.len() == m => {
                let to32 = |v: &[f64]| -> GpuResult<Vec<f32>> {
                    if v.iter().all(|p| p.is_finite()) {
                        Ok(v.iter().map(|&p| p as f32).collect())
                    } else {
                        Err(GpuError::NonFinite {
                            what: "Sinkhorn warm-start potential".into(),
                        })
                    }
                };
                ctx.queue
                    .write_buffer(&f, 0, bytemuck::cast_slice(&to32(f0)?));
                ctx.queue
                    .write_buffer(&g, 0, bytemuck::cast_slice(&to32(g0)?));
                false
            }
            Some(_) => {
                return Err(GpuError::Invalid {
                    reason: "sinkhorn warm start: potentials do not match the clouds' sizes".into(),
                });
            }
        };
        let d2 = squared_diameter(x, y);
        let tol = cfg.tolerance.max(MIN_TOLERANCE);
        let mut it = 0;
        let mut err = f64::INFINITY;
        let mut converged = false;
        // Annealing: one iteration per ε value, each its own submission.
        while anneal && it < cfg.max_iters && eps_at(cfg, d2, it) > cfg.epsilon {
            Self::set_eps(ctx, &[&to_f, &to_g], eps_at(cfg, d2, it));
            self.run(ctx, &[&to_f, &to_g], 1)?;
            it += 1;
        }
        Self::set_eps(ctx, &[&to_f, &to_g], cfg.epsilon);
        while it < cfg.max_iters {
            let k = CHECK_EVERY.min(cfg.max_iters - it);
            if k > 1 {
                self.run(ctx, &[&to_f, &to_g], k - 1)?;
            }
            let g_old = ctx.read_f32(&g, m)?;
            self.run(ctx, &[&to_f, &to_g], 1)?;
            let g_new = ctx.read_f32(&g, m)?;
            check_finite("Sinkhorn potential g", &g_new)?;
            it += k;
            err = marginal_error(b, &g_old, &g_new, cfg.epsilon);
            if err < tol {
                converged = true;
                break;
            }
        }
        let fv = ctx.read_f32(&f, n)?;
        let gv = ctx.read_f32(&g, m)?;
        check_finite("Sinkhorn potential f", &fv)?;
        check_finite("Sinkhorn potential g", &gv)?;
        let cost_value = dot_w(a, &fv) + dot_w(b, &gv);
        if !cost_value.is_finite() {
            return Err(GpuError::NonFinite {
                what: "Sinkhorn dual value".into(),
            });
        }
        let mut bary = Vec::new();
        if want_bary {
            // Fresh f = T(g) with its barycentric map (rows of this plan sum exactly to a).
            let fresh = self.half_step(ctx, &xb, &yb, &lb, &g, &g, &f_fresh, &bary_x, n, m, 0.0);
            Self::set_eps(ctx, &[&fresh], cfg.epsilon);
            self.run(ctx, &[&fresh], 1)?;
            bary = read_points(ctx, &bary_x, n, c)?;
        }
        Ok((
            SinkhornResult {
                cost_value,
                f: fv.iter().map(|&v| v as f64).collect(),
                g: gv.iter().map(|&v| v as f64).collect(),
                epsilon: cfg.epsilon,
                iterations: it,
                marginal_error: err,
                converged,
                trace: Vec::new(),
            },
            bary,
        ))
    }

    /// Symmetric OT_ε(α, α) with averaged updates p ← ½(p + T(p)) (as in the core).
    /// Returns (OT_ε(α, α) = ⟨a, p⟩ + ⟨a, T p⟩, p, T_αα(x_i), converged).
    fn solve_symmetric(
        &self,
        ctx: &GpuContext,
        x: &[Vec2],
        a: &[f64],
        c: Vec2,
        cfg: &SinkhornConfig,
    ) -> GpuResult<(f64, Vec<f64>, Vec<Vec2>, bool)> {
        let n = x.len();
        let xb = ctx.storage_buffer("x", &to_f32_points(x, c));
        let la = ctx.storage_buffer("log a", &log_weights(a));
        let p0 = ctx.storage_zeros("p0", n);
        let p1 = ctx.storage_zeros("p1", n);
        let tp = ctx.storage_zeros("T p", n);
        let bary = ctx.storage_zeros("bary", 2 * n);
        // Averaged steps ping-pong between p0 and p1; `exact` writes T(p0) into tp.
        let s01 = self.half_step(ctx, &xb, &xb, &la, &p0, &p0, &p1, &bary, n, n, 0.5);
        let s10 = self.half_step(ctx, &xb, &xb, &la, &p1, &p1, &p0, &bary, n, n, 0.5);
        let exact = self.half_step(ctx, &xb, &xb, &la, &p0, &p0, &tp, &bary, n, n, 0.0);
        let d2 = squared_diameter(x, &[]);
        let tol = cfg.tolerance.max(MIN_TOLERANCE);
        let mut it = 0;
        let mut converged = false;
        // Annealing, two averaged steps per submission (p0 → p1 → p0) so p0 stays current.
        while it < cfg.max_iters && eps_at(cfg, d2, it) > cfg.epsilon {
            Self::set_eps(ctx, &[&s01], eps_at(cfg, d2, it));
            Self::set_eps(ctx, &[&s10], eps_at(cfg, d2, it + 1));
            self.run(ctx, &[&s01, &s10], 1)?;
            it += 2;
        }
        Self::set_eps(ctx, &[&s01, &s10, &exact], cfg.epsilon);
        while it < cfg.max_iters {
            let k = CHECK_EVERY.min(cfg.max_iters - it).div_ceil(2);
            self.run(ctx, &[&s01, &s10], k)?;
            it += 2 * k;
            self.run(ctx, &[&exact], 1)?;
            let pv = ctx.read_f32(&p0, n)?;
            let tv = ctx.read_f32(&tp, n)?;
            check_finite("symmetric Sinkhorn potential", &tv)?;
            if marginal_error(a, &pv, &tv, cfg.epsilon) < tol {
                converged = true;
                break;
            }
        }
        // Value at (p, T p); gradient from the map of T p (rows of that plan sum exactly to a).
        self.run(ctx, &[&exact], 1)?;
        let pv = ctx.read_f32(&p0, n)?;
        let tv = ctx.read_f32(&tp, n)?;
        check_finite("symmetric Sinkhorn potential", &pv)?;
        check_finite("symmetric Sinkhorn potential", &tv)?;
        let value = dot_w(a, &pv) + dot_w(a, &tv);
        let map = read_points(ctx, &bary, n, c)?;
        // The core returns the averaged potential ½(p + T p).
        let p_avg = pv
            .iter()
            .zip(&tv)
            .map(|(&p, &t)| 0.5 * (p as f64 + t as f64))
            .collect();
        Ok((value, p_avg, map, converged))
    }

    /// Debiased S_ε(α, β), ∂S_ε/∂x and ∂S_ε/∂a (see the module doc for conventions).
    pub fn divergence(
        &self,
        ctx: &GpuContext,
        x: &[Vec2],
        a: &[f64],
        y: &[Vec2],
        b: &[f64],
        cfg: &SinkhornConfig,
    ) -> GpuResult<GpuSinkhornDivergence> {
        self.divergence_warm(ctx, x, a, y, b, cfg, None)
    }

    /// [`Self::divergence`] with an optional warm start (f, g) for the cross problem (as
    /// `core::sinkhorn::sinkhorn_divergence_warm`).
    #[allow(clippy::too_many_arguments)]
    pub fn divergence_warm(
        &self,
        ctx: &GpuContext,
        x: &[Vec2],
        a: &[f64],
        y: &[Vec2],
        b: &[f64],
        cfg: &SinkhornConfig,
        init: Option<(&[f64], &[f64])>,
    ) -> GpuResult<GpuSinkhornDivergence> {
        let (xy, t_xy) = self.solve_inner(ctx, x, a, y, b, cfg, true, init)?;
        let c = mean_point(x, y);
        let (vx, p_x, t_xx, cx) = self.solve_symmetric(ctx, x, a, c, cfg)?;
        let (vy, p_y, _, cy) = self.solve_symmetric(ctx, y, b, c, cfg)?;
        let value = xy.cost_value - 0.5 * vx - 0.5 * vy;
        let grad_x: Vec<Vec2> = a
            .iter()
            .zip(t_xx.iter().zip(&t_xy))
            .map(|(&ai, (p, q))| [2.0 * ai * (p[0] - q[0]), 2.0 * ai * (p[1] - q[1])])
            .collect();
        if !value.is_finite()
            || grad_x
                .iter()
                .any(|g| !(g[0].is_finite() && g[1].is_finite()))
        {
            return Err(GpuError::NonFinite {
                what: "Sinkhorn divergence or its gradient".into(),
            });
        }
        let grad_a = xy.f.iter().zip(&p_x).map(|(f, p)| f - p).collect();
        Ok(GpuSinkhornDivergence {
            value,
            grad_x,
            grad_a,
            f: xy.f,
            g: xy.g,
            p_x,
            p_y,
            converged: xy.converged && cx && cy,
        })
    }

    /// Times one f-update half-iteration (N rows × M columns) `iters` times; returns seconds per
    /// half-iteration (GPU timestamps when available, else wall clock around submit + wait).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn bench_half_iteration(
        &self,
        ctx: &GpuContext,
        x: &[Vec2],
        y: &[Vec2],
        epsilon: f64,
        iters: usize,
    ) -> GpuResult<Vec<f64>> {
        let (n, m) = (x.len(), y.len());
        let c = mean_point(x, y);
        let xb = ctx.storage_buffer("x", &to_f32_points(x, c));
        let yb = ctx.storage_buffer("y", &to_f32_points(y, c));
        let lb = ctx.storage_buffer("log b", &vec![-(m as f32).ln(); m]);
        let g = ctx.storage_zeros("g", m);
        let f = ctx.storage_zeros("f", n);
        let bary = ctx.storage_zeros("bary", 2 * n);
        let step = self.half_step(ctx, &xb, &yb, &lb, &g, &g, &f, &bary, n, m, 0.0);
        Self::set_eps(ctx, &[&step], epsilon);
        let pipeline = &self.pipeline;
        super::bench::time_dispatch(ctx, pipeline, &step.bind, workgroups_for(n), iters)
    }
}

/// Reads N vec2 from `buf` and shifts them back by `c`.
fn read_points(ctx: &GpuContext, buf: &wgpu::Buffer, n: usize, c: Vec2) -> GpuResult<Vec<Vec2>> {
    let v = ctx.read_f32(buf, 2 * n)?;
    check_finite("Sinkhorn barycentric map", &v)?;
    Ok(v.chunks_exact(2)
        .map(|p| [p[0] as f64 + c[0], p[1] as f64 + c[1]])
        .collect())
}
