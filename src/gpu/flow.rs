//! Sample-based particle flows on the GPU that never block: a state machine driven by
//! [`GpuFlow::poll`], for the browser (WebGPU cannot wait on the GPU) and the app's frame loop.
//!
//! Supported flows (the others return [`GpuError::Invalid`], and the caller stays on the CPU):
//! - `FlowConfig::Sinkhorn`: xᵢ ← xᵢ − 2η (T_αα(xᵢ) − T_αβ(xᵢ)), the same step as
//!   `core::flows::ParticleFlow` (cost |x − y|², ε in cost units, debiased S_ε, objective S_ε
//!   before the step). As in the core: with ε-scaling (`scaling: Some(s)`) every step solves
//!   OT_ε(α, β) from zero potentials, annealing ε_k = max(ε, D²·s^k) with D² the squared diameter
//!   of x ∪ y; without ε-scaling the cross problem is warm-started from the previous step's (f, g)
//!   (kept on the GPU). OT_ε(α, α) starts from zero every step (annealed over the diameter of x);
//!   OT_ε(β, β) is solved once (first step) and cached, the target being fixed.
//!   With `debiased: false` (OT_ε(α, β) alone, as the core): xᵢ ← xᵢ − 2η (xᵢ − T_αβ(xᵢ)), objective
//!   OT_ε before the step, and neither symmetric problem is solved.
//! - `FlowConfig::Mmd` with a fixed step: xᵢ ← xᵢ − η ∇w(xᵢ) (w the witness, MMD² as the weighted
//!   V-statistic), objective MMD² before the step. With noise injection (level β > 0) the gradient is
//!   taken at zᵢ = xᵢ + β uᵢ, uᵢ ~ N(0, I) drawn on the CPU from the core's stream for that step
//!   (`rng::substream(seed, step)`), so both backends inject the same noise; z is uploaded with x and
//!   two more passes sum it against x and y.
//!
//! # Never blocking
//! Each [`GpuFlow::poll`] call (1) drives wgpu's callbacks (native: `device.poll(Poll)`, which
//! does not wait; on the web the browser runs them), (2) consumes a read-back whose `map_async`
//! callback has fired (it set a flag in an `Arc<Mutex<..>>`), (3) submits the next chunk of work
//! if nothing is in flight. A submission is therefore never consumed in the call that made it,
//! and no call waits. After a step completes, the first chunk of the next step is submitted at
//! once (the GPU stays busy while the app draws); stop calling `poll` to pause.
//!
//! Sinkhorn: each submission advances every unfinished problem (α-β, α-α, β-β) by up to
//! [`ITERS_PER_SUBMISSION`] full iterations, the ε of each iteration copied into the uniform
//! buffer from a per-submission table between passes. Only the marginal error of each problem's
//! last iteration in the chunk comes back (three f32, reduced on the GPU by `shaders/flow.wgsl`);
//! a problem stops when that error is below the tolerance at the final ε, or after `max_iters`
//! iterations. The core checks every iteration, so the GPU may do up to
//! `ITERS_PER_SUBMISSION − 1` more iterations than the core per problem (its result is then
//! slightly closer to the fixed point). As in `gpu::sinkhorn`, the tolerance is floored at
//! [`MIN_TOLERANCE`] (f32 cannot measure smaller marginal errors). The potentials and barycentric
//! maps are read back once per step, after the last chunk. One flow step costs
//! ⌈iterations / 5⌉ + 1 round trips (one per frame in the app). MMD: one submission and one
//! read-back per step.
//!
//! Errors (device lost, an uncaptured wgpu error, a failed mapping, a non-finite value read back)
//! are returned as [`GpuError`]; the in-flight step is abandoned, the particles and step count are
//! those of the last completed step, so the caller can continue on the CPU from
//! [`GpuFlow::particles`].
//!
//! Precision: f32 on the device (points centred on the target mean), the update in f64 on the
//! CPU. Measured against `core::flows::ParticleFlow` on lavapipe (tests/gpu_flow.rs, N = 300,
//! M = 250, 5 steps, acceptance 1e-3 relative):
//! - Sinkhorn, ε = 0.05·D², tolerance 1e-5, core in `Precision::F64`: objective S_ε ≤ 5.1e-4
//!   relative with ε-scaling 0.7, ≤ 3.1e-4 without (S_ε falls from 5.4 to 6.2e-4 over the 5
//!   steps; the difference is ~3e-7 absolute, the f32 floor of OT_ε values of order 1 that cancel
//!   in S_ε, plus ~9e-5 relative from the core stopping up to 4 iterations earlier); final
//!   particles within 1.1e-6 of the core's total displacement.
//! - Sinkhorn capped at `max_iters` = 7 (mid-annealing, neither side converges): the same
//!   iteration counts as the core for all three problems, S_ε ≤ 3.5e-4 relative (1.4e-7
//!   absolute at S_ε = 4.1e-4), particles within 6.7e-7.
//! - MMD, Gaussian σ = 0.5: objective ≤ 3.5e-8 relative, particles within 2.2e-7.
//!
//! The relative error of S_ε grows as S_ε → 0 (an absolute floor of ~1e-7·OT_ε): for display
//! and stopping rules, not for certifying tiny divergences.
//!
//! # Use in a frame loop
//! ```ignore
//! // once: let mut flow = GpuFlow::new(&ctx, &cfg, particles, target_points, seed)?;
//! // every frame:
//! match flow.poll(&ctx) {
//!     Ok(Some(report)) => { /* a step completed: draw flow.particles(), plot report */ }
//!     Ok(None) => { /* still working; request a repaint */ }
//!     Err(e) => { /* fall back: ParticleFlow::new(&cfg, flow.particles().to_vec(), seed) */ }
//! }
//! ```

use super::context::{GpuContext, GpuError, GpuResult, check_items_1d, workgroups_for};
use super::mmd_flow::{GpuKernel, MMD_FLOW_WGSL};
use super::sinkhorn::{MIN_TOLERANCE, SINKHORN_WGSL, eps_at};
use crate::core::flows::{FlowConfig, StepReport, noisy_points};
use crate::core::math::Vec2;
use crate::core::rng;
use crate::core::sinkhorn::{Precision, SinkhornConfig, SinkhornDiagnostics, squared_diameter};
use eframe::wgpu;
use std::sync::{Arc, Mutex};

/// WGSL source of the marginal-error reduction.
pub const FLOW_WGSL: &str = include_str!("shaders/flow.wgsl");

/// Full Sinkhorn iterations per problem in one submission (one 12-byte read-back each).
pub const ITERS_PER_SUBMISSION: usize = 5;

/// Uniform-table entries one submission may use (4 per iteration of three problems, plus slack).
const TABLE_ENTRIES: usize = 4 * ITERS_PER_SUBMISSION + 8;

/// Bytes of one uniform entry (both kernels take four 32-bit fields).
const ENTRY_BYTES: u64 = 16;

type MapFlag = Arc<Mutex<Option<Result<(), String>>>>;

/// A MAP_READ staging buffer and the flag its `map_async` callback sets.
struct ReadBack {
    buffer: wgpu::Buffer,
    flag: MapFlag,
}

impl ReadBack {
    fn new(ctx: &GpuContext, label: &str, floats: usize) -> Self {
        let buffer = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: ((floats * 4) as u64).max(16),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Self {
            buffer,
            flag: Arc::new(Mutex::new(None)),
        }
    }

    /// Requests the mapping (after the copy into `buffer` was submitted); returns at once.
    fn request(&self) -> GpuResult<()> {
        *self.flag.lock().map_err(|_| poisoned())? = None;
        let flag = self.flag.clone();
        self.buffer.map_async(wgpu::MapMode::Read, .., move |r| {
            if let Ok(mut slot) = flag.lock() {
                *slot = Some(r.map_err(|e| e.to_string()));
            }
        });
        Ok(())
    }

    /// The first `len` f32 once the mapping has arrived (then unmaps), `None` while pending.
    fn try_take(&self, len: usize) -> GpuResult<Option<Vec<f32>>> {
        let arrived = self.flag.lock().map_err(|_| poisoned())?.take();
        match arrived {
            None => Ok(None),
            Some(Err(e)) => Err(GpuError::Wgpu {
                reason: format!("buffer map failed: {e}"),
            }),
            Some(Ok(())) => {
                let out = {
                    let view = self
                        .buffer
                        .get_mapped_range(..)
                        .map_err(|e| GpuError::Wgpu {
                            reason: format!("mapped range: {e}"),
                        })?;
                    let bytes: &[u8] = &view;
                    bytes
                        .get(..len * 4)
                        .map(bytemuck::pod_collect_to_vec::<u8, f32>)
                };
                self.buffer.unmap();
                out.map(Some).ok_or_else(|| GpuError::Wgpu {
                    reason: format!("read-back buffer shorter than {len} f32"),
                })
            }
        }
    }
}

fn poisoned() -> GpuError {
    GpuError::Wgpu {
        reason: "read-back flag poisoned".into(),
    }
}

fn f32_bits(v: f64) -> u32 {
    (v as f32).to_bits()
}

/// Records compute passes whose uniform parameters are copied, pass by pass, from a table
/// written once per submission (so the ε of every iteration can differ within one submission).
struct Recorder<'a> {
    ctx: &'a GpuContext,
    encoder: wgpu::CommandEncoder,
    table: Vec<[u32; 4]>,
    table_buf: &'a wgpu::Buffer,
    params: &'a wgpu::Buffer,
}

impl<'a> Recorder<'a> {
    fn new(ctx: &'a GpuContext, table_buf: &'a wgpu::Buffer, params: &'a wgpu::Buffer) -> Self {
        let encoder = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("divlab gpu flow"),
            });
        Self {
            ctx,
            encoder,
            table: Vec::new(),
            table_buf,
            params,
        }
    }

    fn pass(
        &mut self,
        pipeline: &wgpu::ComputePipeline,
        bind: &wgpu::BindGroup,
        workgroups: u32,
        entry: [u32; 4],
    ) -> GpuResult<()> {
        let idx = self.table.len();
        if idx >= TABLE_ENTRIES {
            return Err(GpuError::Invalid {
                reason: format!("gpu flow: more than {TABLE_ENTRIES} passes in one submission"),
            });
        }
        self.table.push(entry);
        self.encoder.copy_buffer_to_buffer(
            self.table_buf,
            idx as u64 * ENTRY_BYTES,
            self.params,
            0,
            ENTRY_BYTES,
        );
        self.ctx
            .encode_pass(&mut self.encoder, pipeline, bind, workgroups);
        Ok(())
    }

    fn copy(&mut self, src: &wgpu::Buffer, dst: &wgpu::Buffer, dst_offset_f32: usize, len: usize) {
        self.encoder.copy_buffer_to_buffer(
            src,
            0,
            dst,
            (dst_offset_f32 * 4) as u64,
            (len * 4) as u64,
        );
    }

    fn submit(self) {
        if !self.table.is_empty() {
            self.ctx
                .queue
                .write_buffer(self.table_buf, 0, bytemuck::cast_slice(&self.table));
        }
        self.ctx.queue.submit([self.encoder.finish()]);
    }
}

/// One of the three entropic OT problems of a Sinkhorn step.
#[derive(Debug, Clone, Copy, Default)]
struct Problem {
    /// Part of this step (β-β only on the first step).
    active: bool,
    /// Anneal ε from the squared diameter `d2` (else iterate at the final ε from the start).
    anneal: bool,
    d2: f64,
    /// Full iterations done.
    it: usize,
    /// ε of the last iteration submitted.
    last_eps: f64,
    /// Advanced by the submission in flight.
    advanced: bool,
    /// Marginal error of the last checked iteration.
    err: f64,
    converged: bool,
    done: bool,
}

const CROSS: usize = 0;
const XX: usize = 1;
const YY: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq)]
enum SinkhornStage {
    Idle,
    /// Waiting for the marginal errors of a chunk.
    Chunk,
    /// Waiting for potentials and barycentric maps.
    Final,
}

struct SinkhornEngine {
    cfg: SinkhornConfig,
    tolerance: f64,
    n: usize,
    m: usize,
    d2y: f64,
    half: wgpu::ComputePipeline,
    reduce: wgpu::ComputePipeline,
    params: wgpu::Buffer,
    table: wgpu::Buffer,
    xb: wgpu::Buffer,
    f: wgpu::Buffer,
    g: wgpu::Buffer,
    px: wgpu::Buffer,
    px_save: wgpu::Buffer,
    tpx: wgpu::Buffer,
    qx: wgpu::Buffer,
    py: wgpu::Buffer,
    py_save: wgpu::Buffer,
    tpy: wgpu::Buffer,
    qy: wgpu::Buffer,
    bary_xy: wgpu::Buffer,
    bary_xx: wgpu::Buffer,
    err: wgpu::Buffer,
    bg_to_f: wgpu::BindGroup,
    bg_to_g: wgpu::BindGroup,
    bg_xx_mix: wgpu::BindGroup,
    bg_xx_exact: wgpu::BindGroup,
    bg_yy_mix: wgpu::BindGroup,
    bg_yy_exact: wgpu::BindGroup,
    bg_fresh_xy: wgpu::BindGroup,
    bg_fresh_xx: wgpu::BindGroup,
    bg_err_xy: wgpu::BindGroup,
    bg_err_xx: wgpu::BindGroup,
    bg_err_yy: wgpu::BindGroup,
    g_old: wgpu::Buffer,
    err_rb: ReadBack,
    result_rb: ReadBack,
    /// (f, g) on the GPU are the previous step's converged potentials.
    warm_valid: bool,
    /// OT_ε(β, β), once solved.
    ot_yy: Option<f64>,
    /// Follow S_ε (true) or OT_ε(α, β) alone (false: no symmetric problems, the core's `debiased: false`).
    debiased: bool,
    /// The target's centre: the points on the GPU are centred by it.
    centre: Vec2,
    problems: [Problem; 3],
    stage: SinkhornStage,
}

fn centred_f32(p: &[Vec2], c: Vec2) -> Vec<[f32; 2]> {
    p.iter()
        .map(|v| [(v[0] - c[0]) as f32, (v[1] - c[1]) as f32])
        .collect()
}

impl SinkhornEngine {
    fn new(
        ctx: &GpuContext,
        cfg: &SinkhornConfig,
        y: &[Vec2],
        c: Vec2,
        n: usize,
        debiased: bool,
    ) -> GpuResult<Self> {
        let m = y.len();
        let half = ctx.compute_pipeline("flow sinkhorn half_step", SINKHORN_WGSL, "half_step")?;
        let reduce = ctx.compute_pipeline("flow marginal_error", FLOW_WGSL, "marginal_error")?;
        let params = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("flow params"),
            size: ENTRY_BYTES,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let table = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("flow params table"),
            size: TABLE_ENTRIES as u64 * ENTRY_BYTES,
            usage: wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let xb = ctx.storage_zeros("flow x", 2 * n);
        let yb = ctx.storage_buffer("flow y", &centred_f32(y, c));
        let la = ctx.storage_buffer("flow log a", &vec![-(n as f32).ln(); n]);
        let lb = ctx.storage_buffer("flow log b", &vec![-(m as f32).ln(); m]);
        let z = |label: &str, len: usize| ctx.storage_zeros(label, len);
        let (f, g, g_old, f_fresh) = (z("f", n), z("g", m), z("g old", m), z("f fresh", n));
        let (px, px_save, tpx, qx, tpx_fresh) = (
            z("p x", n),
            z("p x saved", n),
            z("T p x", n),
            z("p x next", n),
            z("T p x fresh", n),
        );
        let (py, py_save, tpy, qy) = (
            z("p y", m),
            z("p y saved", m),
            z("T p y", m),
            z("p y next", m),
        );
        let (bary_xy, bary_xx, bary_ys) =
            (z("bary xy", 2 * n), z("bary xx", 2 * n), z("bary y", 2 * m));
        let err = z("marginal errors", 4);
        let dummy = z("unused", 1);
        let hs = |label: &str, bufs: [&wgpu::Buffer; 7]| {
            let [rows, cols, lw, h, prev, out, bary] = bufs;
            ctx.bind_group(label, &half, &[&params, rows, cols, lw, h, prev, out, bary])
        };
        let bg_to_f = hs("f <- T g", [&xb, &yb, &lb, &g, &g, &f, &bary_xy]);
        let bg_to_g = hs("g <- T f", [&yb, &xb, &la, &f, &f, &g, &bary_ys]);
        let bg_xx_mix = hs("p x mix", [&xb, &xb, &la, &px, &px, &qx, &bary_xx]);
        let bg_xx_exact = hs("p x exact", [&xb, &xb, &la, &px, &px, &tpx, &bary_xx]);
        let bg_yy_mix = hs("p y mix", [&yb, &yb, &lb, &py, &py, &qy, &bary_ys]);
        let bg_yy_exact = hs("p y exact", [&yb, &yb, &lb, &py, &py, &tpy, &bary_ys]);
        let bg_fresh_xy = hs("fresh xy", [&xb, &yb, &lb, &g, &g, &f_fresh, &bary_xy]);
        let bg_fresh_xx = hs("fresh xx", [&xb, &xb, &la, &px, &px, &tpx_fresh, &bary_xx]);
        let re = |label: &str,
                  lw: &wgpu::Buffer,
                  old: &wgpu::Buffer,
                  new: &wgpu::Buffer,
                  save: &wgpu::Buffer| {
            ctx.bind_group(label, &reduce, &[&params, lw, old, new, save, &err])
        };
        let bg_err_xy = re("err xy", &lb, &g_old, &g, &dummy);
        let bg_err_xx = re("err xx", &la, &px, &tpx, &px_save);
        let bg_err_yy = re("err yy", &lb, &py, &tpy, &py_save);
        Ok(Self {
            cfg: cfg.clone(),
            tolerance: cfg.tolerance.max(MIN_TOLERANCE),
            n,
            m,
            d2y: squared_diameter(y, &[]),
            half,
            reduce,
            params,
            table,
            xb,
            f,
            g,
            px,
            px_save,
            tpx,
            qx,
            py,
            py_save,
            tpy,
            qy,
            bary_xy,
            bary_xx,
            err,
            bg_to_f,
            bg_to_g,
            bg_xx_mix,
            bg_xx_exact,
            bg_yy_mix,
            bg_yy_exact,
            bg_fresh_xy,
            bg_fresh_xx,
            bg_err_xy,
            bg_err_xx,
            bg_err_yy,
            g_old,
            err_rb: ReadBack::new(ctx, "flow marginal errors", 4),
            result_rb: ReadBack::new(ctx, "flow step result", 7 * n + 3 * m),
            warm_valid: false,
            ot_yy: None,
            debiased,
            centre: c,
            problems: [Problem::default(); 3],
            stage: SinkhornStage::Idle,
        })
    }

    fn eps_of(&self, p: &Problem, it: usize) -> f64 {
        if p.anneal {
            eps_at(&self.cfg, p.d2, it)
        } else {
            self.cfg.epsilon
        }
    }

    /// Uploads x, resets what the core resets, and submits the first chunk.
    fn start_step(&mut self, ctx: &GpuContext, x: &[Vec2], c: Vec2, y: &[Vec2]) -> GpuResult<()> {
        ctx.queue
            .write_buffer(&self.xb, 0, bytemuck::cast_slice(&centred_f32(x, c)));
        // Core: warm start of the cross problem only without ε-scaling; zeros (and annealing)
        // otherwise. The symmetric problems always start from zero.
        let cold = self.cfg.scaling.is_some() || !self.warm_valid;
        self.problems[CROSS] = Problem {
            active: true,
            anneal: cold,
            d2: squared_diameter(x, y),
            ..Problem::default()
        };
        self.problems[XX] = Problem {
            active: self.debiased,
            anneal: true,
            d2: squared_diameter(x, &[]),
            ..Problem::default()
        };
        self.problems[YY] = Problem {
            active: self.debiased && self.ot_yy.is_none(),
            anneal: true,
            d2: self.d2y,
            ..Problem::default()
        };
        self.submit_chunk(ctx, cold)
    }

    /// Advances every unfinished problem by up to [`ITERS_PER_SUBMISSION`] iterations and
    /// requests the three marginal errors.
    fn submit_chunk(&mut self, ctx: &GpuContext, clear_cross: bool) -> GpuResult<()> {
        let (n, m) = (self.n, self.m);
        let max_iters = self.cfg.max_iters;
        let mut rec = Recorder::new(ctx, &self.table, &self.params);
        if clear_cross {
            rec.encoder.clear_buffer(&self.f, 0, None);
            rec.encoder.clear_buffer(&self.g, 0, None);
        }
        let mut problems = self.problems;
        for (slot, p) in problems.iter_mut().enumerate() {
            p.advanced = p.active && !p.done;
            if !p.advanced {
                continue;
            }
            if p.it == 0 && slot != CROSS {
                let (pot, len) = if slot == XX {
                    (&self.px, n)
                } else {
                    (&self.py, m)
                };
                rec.encoder.clear_buffer(pot, 0, Some((len * 4) as u64));
            }
            let k = ITERS_PER_SUBMISSION.min(max_iters - p.it);
            for i in 0..k {
                let eps = self.eps_of(p, p.it + i);
                let e = f32_bits(eps);
                let last = i + 1 == k;
                match slot {
                    CROSS => {
                        if last {
                            rec.copy(&self.g, &self.g_old, 0, m);
                        }
                        let (wf, wg) = (workgroups_for(n), workgroups_for(m));
                        rec.pass(&self.half, &self.bg_to_f, wf, [n as u32, m as u32, e, 0])?;
                        rec.pass(&self.half, &self.bg_to_g, wg, [m as u32, n as u32, e, 0])?;
                    }
                    _ => {
                        let (len, mix, exact, q, pot) = if slot == XX {
                            (n, &self.bg_xx_mix, &self.bg_xx_exact, &self.qx, &self.px)
                        } else {
                            (m, &self.bg_yy_mix, &self.bg_yy_exact, &self.qy, &self.py)
                        };
                        let wgs = workgroups_for(len);
                        let l = len as u32;
                        if last {
                            // T p exactly; the reduction then averages p ← ½(p + T p) in place.
                            rec.pass(&self.half, exact, wgs, [l, l, e, 0])?;
                        } else {
                            rec.pass(&self.half, mix, wgs, [l, l, e, 0.5f32.to_bits()])?;
                            rec.copy(q, pot, 0, len);
                        }
                    }
                }
                if last {
                    p.last_eps = eps;
                }
            }
            p.it += k;
            let (bind, len, mode) = match slot {
                CROSS => (&self.bg_err_xy, m, 0u32),
                XX => (&self.bg_err_xx, n, 1),
                _ => (&self.bg_err_yy, m, 1),
            };
            let e = f32_bits(p.last_eps);
            rec.pass(&self.reduce, bind, 1, [len as u32, mode, slot as u32, e])?;
        }
        rec.copy(&self.err, &self.err_rb.buffer, 0, 4);
        rec.submit();
        self.err_rb.request()?;
        self.problems = problems;
        self.stage = SinkhornStage::Chunk;
        Ok(())
    }

    /// Barycentric maps of the final plans, then one copy of everything the step needs.
    fn submit_final(&mut self, ctx: &GpuContext) -> GpuResult<()> {
        let (n, m) = (self.n, self.m);
        let e = f32_bits(self.cfg.epsilon);
        let mut rec = Recorder::new(ctx, &self.table, &self.params);
        let wgn = workgroups_for(n);
        rec.pass(
            &self.half,
            &self.bg_fresh_xy,
            wgn,
            [n as u32, m as u32, e, 0],
        )?;
        if self.debiased {
            rec.pass(
                &self.half,
                &self.bg_fresh_xx,
                wgn,
                [n as u32, n as u32, e, 0],
            )?;
        }
        let dst = &self.result_rb.buffer;
        rec.copy(&self.f, dst, 0, n);
        rec.copy(&self.g, dst, n, m);
        rec.copy(&self.px_save, dst, n + m, n);
        rec.copy(&self.tpx, dst, 2 * n + m, n);
        rec.copy(&self.bary_xy, dst, 3 * n + m, 2 * n);
        rec.copy(&self.bary_xx, dst, 5 * n + m, 2 * n);
        if self.problems[YY].active {
            rec.copy(&self.py_save, dst, 7 * n + m, m);
            rec.copy(&self.tpy, dst, 7 * n + 2 * m, m);
        }
        rec.submit();
        self.result_rb.request()?;
        self.stage = SinkhornStage::Final;
        Ok(())
    }

    /// Consumes an arrived read-back; `Some((new particles, report))` when the step completed.
    fn consume(
        &mut self,
        ctx: &GpuContext,
        x: &[Vec2],
        step_size: f64,
    ) -> GpuResult<Option<(Vec<Vec2>, StepReport)>> {
        match self.stage {
            SinkhornStage::Idle => Ok(None),
            SinkhornStage::Chunk => {
                let Some(errs) = self.err_rb.try_take(3)? else {
                    return Ok(None);
                };
                let (eps, tol, max_iters) = (self.cfg.epsilon, self.tolerance, self.cfg.max_iters);
                for (p, &e) in self.problems.iter_mut().zip(&errs) {
                    if !p.advanced {
                        continue;
                    }
                    if !e.is_finite() {
                        return Err(GpuError::NonFinite {
                            what: "Sinkhorn marginal error (potentials)".into(),
                        });
                    }
                    p.err = e as f64;
                    p.converged = p.last_eps == eps && p.err < tol;
                    p.done = p.converged || p.it >= max_iters;
                }
                if self.problems.iter().all(|p| !p.active || p.done) {
                    self.submit_final(ctx)?;
                } else {
                    self.submit_chunk(ctx, false)?;
                }
                Ok(None)
            }
            SinkhornStage::Final => {
                let (n, m) = (self.n, self.m);
                let with_yy = self.problems[YY].active;
                let len = 7 * n + if with_yy { 3 * m } else { m };
                let Some(v) = self.result_rb.try_take(len)? else {
                    return Ok(None);
                };
                self.stage = SinkhornStage::Idle;
                if !v.iter().all(|p| p.is_finite()) {
                    return Err(GpuError::NonFinite {
                        what: "Sinkhorn potentials or barycentric maps".into(),
                    });
                }
                let mean = |s: &[f32]| s.iter().map(|&q| q as f64).sum::<f64>() / s.len() as f64;
                let ot_xy = mean(&v[..n]) + mean(&v[n..n + m]);
                let t_xy = &v[3 * n + m..5 * n + m];
                // Debiased: x − η n ∂S_ε/∂x = x − 2η (T_αα(x) − T_αβ(x)) (aᵢ = 1/n). OT_ε alone:
                // x − 2η (x − T_αβ(x)). The maps are in centred coordinates, their difference is not, and
                // x − T_αβ(x) is (x − c) − T_αβ(x).
                let (name, value, t_xx, ot_yy) = if self.debiased {
                    let ot_xx = mean(&v[n + m..2 * n + m]) + mean(&v[2 * n + m..3 * n + m]);
                    let ot_yy = match self.ot_yy {
                        Some(o) if !with_yy => o,
                        _ => {
                            mean(&v[7 * n + m..7 * n + 2 * m])
                                + mean(&v[7 * n + 2 * m..7 * n + 3 * m])
                        }
                    };
                    let value = ot_xy - 0.5 * ot_xx - 0.5 * ot_yy;
                    let t_xx = &v[5 * n + m..7 * n + m];
                    ("sinkhorn_divergence", value, Some(t_xx), Some(ot_yy))
                } else {
                    ("ot_epsilon", ot_xy, None, None)
                };
                let c = self.centre;
                let new_x: Vec<Vec2> = x
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let from = match t_xx {
                            Some(t) => [t[2 * i] as f64, t[2 * i + 1] as f64],
                            None => [p[0] - c[0], p[1] - c[1]],
                        };
                        let d0 = from[0] - t_xy[2 * i] as f64;
                        let d1 = from[1] - t_xy[2 * i + 1] as f64;
                        [p[0] - 2.0 * step_size * d0, p[1] - 2.0 * step_size * d1]
                    })
                    .collect();
                let pr = &self.problems;
                let diag = SinkhornDiagnostics {
                    iterations_xy: pr[CROSS].it,
                    iterations_xx: pr[XX].it,
                    iterations_yy: if with_yy { pr[YY].it } else { 0 },
                    marginal_error: pr[CROSS].err.max(pr[XX].err).max(if with_yy {
                        pr[YY].err
                    } else {
                        0.0
                    }),
                    converged: pr.iter().all(|p| !p.active || p.converged),
                };
                let report = finish_report(x, &new_x, name, value, step_size, Some(diag))?;
                // Commit only once the step is known to be finite.
                self.warm_valid = true;
                if with_yy {
                    self.ot_yy = ot_yy;
                }
                Ok(Some((new_x, report)))
            }
        }
    }

    fn busy(&self) -> bool {
        self.stage != SinkhornStage::Idle
    }

    fn abandon(&mut self, ctx: &GpuContext) {
        self.stage = SinkhornStage::Idle;
        self.warm_valid = false;
        self.err_rb = ReadBack::new(ctx, "flow marginal errors", 4);
        self.result_rb = ReadBack::new(ctx, "flow step result", 7 * self.n + 3 * self.m);
    }
}

/// Checks the new particles and the objective, and builds the step report.
fn finish_report(
    x: &[Vec2],
    new_x: &[Vec2],
    name: &str,
    value: f64,
    step_size: f64,
    sinkhorn: Option<SinkhornDiagnostics>,
) -> GpuResult<StepReport> {
    if new_x
        .iter()
        .any(|p| !(p[0].is_finite() && p[1].is_finite()))
    {
        return Err(GpuError::NonFinite {
            what: format!("particle position after a step of size {step_size:e} (step refused)"),
        });
    }
    let max_displacement = x
        .iter()
        .zip(new_x)
        .map(|(p, q)| ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt())
        .fold(0.0, f64::max);
    if !(value.is_finite() && max_displacement.is_finite()) {
        return Err(GpuError::NonFinite {
            what: format!("{name} or step displacement (step refused)"),
        });
    }
    Ok(StepReport {
        objective_name: name.to_owned(),
        objective_value: value,
        max_displacement,
        sinkhorn,
        step_size_used: step_size,
    })
}

struct MmdEngine {
    n: usize,
    m: usize,
    pipeline: wgpu::ComputePipeline,
    xb: wgpu::Buffer,
    xx: wgpu::Buffer,
    xy: wgpu::Buffer,
    yy: wgpu::Buffer,
    bg_xx: wgpu::BindGroup,
    bg_xy: wgpu::BindGroup,
    bg_yy: wgpu::BindGroup,
    /// Noise injection: the noisy points z = x + β u, their sums against x and y, and the seed that draws u
    /// (the CPU core's stream for each step, so both backends inject the same noise).
    noise: Option<MmdNoise>,
    rb: ReadBack,
    /// bᵀK_yy b, once computed.
    kyy: Option<f64>,
    /// In flight: Some(whether the β-β sums are part of it).
    in_flight: Option<bool>,
}

/// The buffers of the MMD flow's noise injection (Arbel et al.): the witness gradient is taken at
/// z = x + β u, u ~ N(0, I), instead of at the particles.
struct MmdNoise {
    level: f64,
    seed: u64,
    zb: wgpu::Buffer,
    zx: wgpu::Buffer,
    zy: wgpu::Buffer,
    bg_zx: wgpu::BindGroup,
    bg_zy: wgpu::BindGroup,
}

impl MmdNoise {
    /// The noisy points of step `step` (0-based), as the CPU core draws them (`core::flows`).
    fn points(&self, x: &[Vec2], step: usize) -> Vec<Vec2> {
        noisy_points(x, self.level, &mut rng::substream(self.seed, step as u64))
    }
}

/// Floats read back per step: the x-x and x-y sums (4 per particle), the y-y sums on the first step (4 per
/// target point), and with noise the z-x and z-y sums (4 per particle each).
fn mmd_readback_len(n: usize, m: usize, noisy: bool) -> usize {
    8 * n + 4 * m + if noisy { 8 * n } else { 0 }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct MmdParams {
    n_rows: u32,
    n_cols: u32,
    kind: u32,
    p: f32,
}

impl MmdEngine {
    fn new(
        ctx: &GpuContext,
        kernel: &GpuKernel,
        y: &[Vec2],
        c: Vec2,
        n: usize,
        noise: Option<(f64, u64)>,
    ) -> GpuResult<Self> {
        let m = y.len();
        let (kind, p) = kernel.code()?;
        let pipeline = ctx.compute_pipeline("flow mmd pair_sums", MMD_FLOW_WGSL, "pair_sums")?;
        let xb = ctx.storage_zeros("flow x", 2 * n);
        let yb = ctx.storage_buffer("flow y", &centred_f32(y, c));
        let ab = ctx.storage_buffer("flow a", &vec![1.0 / n as f32; n]);
        let bb = ctx.storage_buffer("flow b", &vec![1.0 / m as f32; m]);
        let (xx, xy, yy) = (
            ctx.storage_zeros("xx sums", 4 * n),
            ctx.storage_zeros("xy sums", 4 * n),
            ctx.storage_zeros("yy sums", 4 * m),
        );
        let bind = |rows: &wgpu::Buffer,
                    cols: &wgpu::Buffer,
                    w: &wgpu::Buffer,
                    out: &wgpu::Buffer,
                    nr: usize,
                    nc: usize| {
            let params = ctx.uniform_buffer(
                "flow mmd params",
                &MmdParams {
                    n_rows: nr as u32,
                    n_cols: nc as u32,
                    kind,
                    p,
                },
            );
            ctx.bind_group("flow mmd", &pipeline, &[&params, rows, cols, w, out])
        };
        let bg_xx = bind(&xb, &xb, &ab, &xx, n, n);
        let bg_xy = bind(&xb, &yb, &bb, &xy, n, m);
        let bg_yy = bind(&yb, &yb, &bb, &yy, m, m);
        let noise = noise.map(|(level, seed)| {
            let zb = ctx.storage_zeros("flow z", 2 * n);
            let (zx, zy) = (
                ctx.storage_zeros("zx sums", 4 * n),
                ctx.storage_zeros("zy sums", 4 * n),
            );
            let bg_zx = bind(&zb, &xb, &ab, &zx, n, n);
            let bg_zy = bind(&zb, &yb, &bb, &zy, n, m);
            MmdNoise {
                level,
                seed,
                zb,
                zx,
                zy,
                bg_zx,
                bg_zy,
            }
        });
        let len = mmd_readback_len(n, m, noise.is_some());
        Ok(Self {
            n,
            m,
            noise,
            rb: ReadBack::new(ctx, "flow mmd sums", len),
            pipeline,
            xb,
            xx,
            xy,
            yy,
            bg_xx,
            bg_xy,
            bg_yy,
            kyy: None,
            in_flight: None,
        })
    }

    /// Submits step `step` (0-based: the steps taken so far) from the particles `x`.
    fn start_step(&mut self, ctx: &GpuContext, x: &[Vec2], c: Vec2, step: usize) -> GpuResult<()> {
        let (n, m) = (self.n, self.m);
        ctx.queue
            .write_buffer(&self.xb, 0, bytemuck::cast_slice(&centred_f32(x, c)));
        if let Some(noise) = &self.noise {
            let z = noise.points(x, step);
            ctx.queue
                .write_buffer(&noise.zb, 0, bytemuck::cast_slice(&centred_f32(&z, c)));
        }
        let mut encoder = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("divlab gpu mmd flow"),
            });
        let with_yy = self.kyy.is_none();
        ctx.encode_pass(&mut encoder, &self.pipeline, &self.bg_xx, workgroups_for(n));
        ctx.encode_pass(&mut encoder, &self.pipeline, &self.bg_xy, workgroups_for(n));
        if with_yy {
            ctx.encode_pass(&mut encoder, &self.pipeline, &self.bg_yy, workgroups_for(m));
        }
        if let Some(noise) = &self.noise {
            ctx.encode_pass(
                &mut encoder,
                &self.pipeline,
                &noise.bg_zx,
                workgroups_for(n),
            );
            ctx.encode_pass(
                &mut encoder,
                &self.pipeline,
                &noise.bg_zy,
                workgroups_for(n),
            );
        }
        // Read-back layout (bytes): x-x sums at 0, x-y at 16n, z-x at 32n, z-y at 48n (with noise), then the
        // y-y sums on the first step.
        let dst = &self.rb.buffer;
        encoder.copy_buffer_to_buffer(&self.xx, 0, dst, 0, (16 * n) as u64);
        encoder.copy_buffer_to_buffer(&self.xy, 0, dst, (16 * n) as u64, (16 * n) as u64);
        let mut end = 32 * n;
        if let Some(noise) = &self.noise {
            encoder.copy_buffer_to_buffer(&noise.zx, 0, dst, end as u64, (16 * n) as u64);
            encoder.copy_buffer_to_buffer(
                &noise.zy,
                0,
                dst,
                (end + 16 * n) as u64,
                (16 * n) as u64,
            );
            end += 32 * n;
        }
        if with_yy {
            encoder.copy_buffer_to_buffer(&self.yy, 0, dst, end as u64, (16 * m) as u64);
        }
        ctx.queue.submit([encoder.finish()]);
        self.rb.request()?;
        self.in_flight = Some(with_yy);
        Ok(())
    }

    fn consume(
        &mut self,
        x: &[Vec2],
        step_size: f64,
    ) -> GpuResult<Option<(Vec<Vec2>, StepReport)>> {
        let Some(with_yy) = self.in_flight else {
            return Ok(None);
        };
        let (n, m) = (self.n, self.m);
        let noisy = self.noise.is_some();
        let len = mmd_readback_len(n, if with_yy { m } else { 0 }, noisy);
        let Some(v) = self.rb.try_take(len)? else {
            return Ok(None);
        };
        self.in_flight = None;
        if !v.iter().all(|p| p.is_finite()) {
            return Err(GpuError::NonFinite {
                what: "MMD pair sums".into(),
            });
        }
        let (sxx, sxy) = (&v[..4 * n], &v[4 * n..8 * n]);
        // With noise the gradient is the witness's at z (z-x and z-y sums); the value is MMD² at x.
        let (gx, gy, yy_at) = if noisy {
            (&v[8 * n..12 * n], &v[12 * n..16 * n], 16 * n)
        } else {
            (sxx, sxy, 8 * n)
        };
        let kyy = match self.kyy {
            Some(k) if !with_yy => k,
            _ => v[yy_at..].chunks_exact(4).map(|r| r[2] as f64).sum::<f64>() / m as f64,
        };
        let (mut kxx, mut kxy) = (0.0, 0.0);
        let mut new_x = Vec::with_capacity(n);
        for (i, p) in x.iter().enumerate() {
            kxx += sxx[4 * i + 2] as f64;
            kxy += sxy[4 * i + 2] as f64;
            // ∇w(pᵢ) = Σⱼ aⱼ ∇₁k(pᵢ, xⱼ) − Σⱼ bⱼ ∇₁k(pᵢ, yⱼ), at pᵢ = xᵢ or zᵢ.
            let (a, b) = (&gx[4 * i..4 * i + 2], &gy[4 * i..4 * i + 2]);
            let g = [a[0] as f64 - b[0] as f64, a[1] as f64 - b[1] as f64];
            new_x.push([p[0] - step_size * g[0], p[1] - step_size * g[1]]);
        }
        let value = (kxx - 2.0 * kxy) / n as f64 + kyy;
        let report = finish_report(x, &new_x, "mmd2", value, step_size, None)?;
        if with_yy {
            self.kyy = Some(kyy);
        }
        Ok(Some((new_x, report)))
    }

    fn abandon(&mut self, ctx: &GpuContext) {
        self.in_flight = None;
        let len = mmd_readback_len(self.n, self.m, self.noise.is_some());
        self.rb = ReadBack::new(ctx, "flow mmd sums", len);
    }
}

enum Engine {
    Sinkhorn(Box<SinkhornEngine>),
    Mmd(Box<MmdEngine>),
}

/// Sample-based particle flows on the GPU (Sinkhorn divergence flow and MMD flow with a fixed
/// step): a state machine that never waits on the GPU (module docs).
pub struct GpuFlow {
    particles: Vec<Vec2>,
    target: Vec<Vec2>,
    /// Centre of the f32 coordinates on the device (the target mean).
    centre: Vec2,
    step_size: f64,
    steps_taken: usize,
    engine: Engine,
}

impl std::fmt::Debug for GpuFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuFlow")
            .field("particles", &self.particles.len())
            .field("targets", &self.target.len())
            .field("steps_taken", &self.steps_taken)
            .field("busy", &self.is_busy())
            .finish_non_exhaustive()
    }
}

fn check_points(name: &str, pts: &[Vec2]) -> GpuResult<()> {
    check_items_1d(name, pts.len())?;
    if let Some(i) = pts
        .iter()
        .position(|p| !(p[0].is_finite() && p[1].is_finite()))
    {
        return Err(GpuError::NonFinite {
            what: format!("{name}: point {i}"),
        });
    }
    Ok(())
}

/// The most bytes per point any binding of the flow engines holds (the MMD engine's sums: 4 f32 per point;
/// positions take 2, the Sinkhorn engine's potentials and barycentres 1 or 2).
const BINDING_BYTES_PER_POINT: u64 = 16;

/// Errors, naming the device's limit and the counts that would fit, when the flow's largest binding for `n`
/// particles and `m` target points is over what the device binds or allocates in one buffer.
fn check_bindings_fit(limits: &wgpu::Limits, n: usize, m: usize) -> GpuResult<()> {
    let largest = n.max(m) as u64 * BINDING_BYTES_PER_POINT;
    let (limit, name) = if limits.max_storage_buffer_binding_size <= limits.max_buffer_size {
        (
            limits.max_storage_buffer_binding_size,
            "max_storage_buffer_binding_size",
        )
    } else {
        (limits.max_buffer_size, "max_buffer_size")
    };
    if largest <= limit {
        return Ok(());
    }
    Err(GpuError::Invalid {
        reason: format!(
            "this GPU device binds at most {limit} bytes per storage buffer ({name}); {n} particles and {m} \
             target points need {largest} bytes ({BINDING_BYTES_PER_POINT} per point): at most {} points a side \
             fit on it",
            limit / BINDING_BYTES_PER_POINT
        ),
    })
}

impl GpuFlow {
    /// A GPU flow for `cfg` from `particles` toward the fixed `target_points` (uniform weights).
    ///
    /// `Err(GpuError::Invalid { .. })` for flow kinds the GPU does not run (SVGD, Langevins,
    /// sliced Riesz, adaptive-step MMD), for an invalid configuration, and for empty or oversized
    /// clouds; the caller then stays on the CPU. `seed` is the scenario's, as for
    /// `core::flows::ParticleFlow::new`: the noisy MMD flow draws its noise from it.
    pub fn new(
        ctx: &GpuContext,
        cfg: &FlowConfig,
        particles: Vec<Vec2>,
        target_points: Vec<Vec2>,
        seed: u64,
    ) -> GpuResult<Self> {
        cfg.validate().map_err(|e| GpuError::Invalid {
            reason: e.to_string(),
        })?;
        let unsupported = |what: &str| GpuError::Invalid {
            reason: format!("{what} is not run on the GPU (use the CPU flow)"),
        };
        check_points("particles", &particles)?;
        check_points("target points", &target_points)?;
        ctx.check_alive()?;
        let n = particles.len();
        let m = target_points.len();
        check_bindings_fit(&ctx.limits, n, m)?;
        let centre = [
            target_points.iter().map(|p| p[0]).sum::<f64>() / m as f64,
            target_points.iter().map(|p| p[1]).sum::<f64>() / m as f64,
        ];
        let (engine, step_size) = match cfg {
            FlowConfig::Sinkhorn { sinkhorn, .. } if sinkhorn.newton.is_some() => {
                return Err(GpuError::Invalid {
                    reason: super::sinkhorn::NEWTON_ON_CPU.to_owned(),
                });
            }
            FlowConfig::Sinkhorn { sinkhorn, .. } if sinkhorn.precision == Precision::F64 => {
                return Err(unsupported(
                    "the Sinkhorn flow at precision = f64 (the GPU computes in f32)",
                ));
            }
            FlowConfig::Sinkhorn {
                sinkhorn,
                step_size,
                debiased,
                ..
            } => (
                Engine::Sinkhorn(Box::new(SinkhornEngine::new(
                    ctx,
                    sinkhorn,
                    &target_points,
                    centre,
                    n,
                    *debiased,
                )?)),
                *step_size,
            ),
            FlowConfig::Mmd {
                kernel,
                step_size,
                noise_level,
                adaptive_step,
                ..
            } => {
                if *adaptive_step {
                    return Err(unsupported(
                        "the MMD flow with an adaptive step (flow.adaptive_step = true)",
                    ));
                }
                let k = GpuKernel::from(kernel);
                (
                    Engine::Mmd(Box::new(MmdEngine::new(
                        ctx,
                        &k,
                        &target_points,
                        centre,
                        n,
                        (*noise_level > 0.0).then_some((*noise_level, seed)),
                    )?)),
                    *step_size,
                )
            }
            FlowConfig::SlicedRiesz { .. } => return Err(unsupported("the sliced Riesz flow")),
            FlowConfig::Svgd { .. } => return Err(unsupported("the SVGD flow")),
            FlowConfig::MirroredSvgd { .. } => return Err(unsupported("the mirrored SVGD flow")),
            FlowConfig::Langevin { .. } => return Err(unsupported("the Langevin flow")),
            FlowConfig::UnderdampedLangevin { .. } => {
                return Err(unsupported("the underdamped Langevin flow"));
            }
        };
        // A buffer or binding over the device's limits is reported to the uncaptured-error handler while
        // the engine is built: refused here, before any step, rather than at the first poll.
        ctx.check_alive()?;
        Ok(Self {
            particles,
            target: target_points,
            centre,
            step_size,
            steps_taken: 0,
            engine,
        })
    }

    /// Never blocks. Drives wgpu's callbacks (native: `device.poll(PollType::Poll)`; on the web
    /// the browser runs them), consumes a read-back that has arrived, and submits the next chunk
    /// of GPU work when nothing is in flight. Returns `Some(report)` when a whole flow step
    /// completed during this call (the particles were updated), `None` otherwise; the first call
    /// only submits work and returns `None`.
    ///
    /// On error the step in flight is abandoned and the particles are those of the last
    /// completed step (fall back to the CPU from [`Self::particles`]).
    pub fn poll(&mut self, ctx: &GpuContext) -> GpuResult<Option<StepReport>> {
        let r = self.poll_inner(ctx);
        if r.is_err() {
            match &mut self.engine {
                Engine::Sinkhorn(e) => e.abandon(ctx),
                Engine::Mmd(e) => e.abandon(ctx),
            }
        }
        // A lost device shows first as whichever call failed (a destroyed buffer, a failed mapping); the
        // device-lost callback has run by then (during the poll), so the error says what happened.
        match r {
            Err(GpuError::Wgpu { .. }) if ctx.is_lost() => Err(GpuError::DeviceLost),
            r => r,
        }
    }

    fn poll_inner(&mut self, ctx: &GpuContext) -> GpuResult<Option<StepReport>> {
        ctx.check_alive()?;
        #[cfg(not(target_arch = "wasm32"))]
        ctx.device
            .poll(wgpu::PollType::Poll)
            .map_err(|e| GpuError::Wgpu {
                reason: e.to_string(),
            })?;
        let x = &self.particles;
        let done = match &mut self.engine {
            Engine::Sinkhorn(e) => e.consume(ctx, x, self.step_size)?,
            Engine::Mmd(e) => e.consume(x, self.step_size)?,
        };
        let report = done.map(|(new_x, report)| {
            self.particles = new_x;
            self.steps_taken += 1;
            report
        });
        if !self.is_busy() {
            let (x, c) = (&self.particles, self.centre);
            match &mut self.engine {
                Engine::Sinkhorn(e) => e.start_step(ctx, x, c, &self.target)?,
                Engine::Mmd(e) => e.start_step(ctx, x, c, self.steps_taken)?,
            }
        }
        Ok(report)
    }

    /// The particles after the last completed step.
    pub fn particles(&self) -> &[Vec2] {
        &self.particles
    }

    /// The same flow counting its steps from `steps_taken` (a flow rebuilt mid-run, e.g. for a new target,
    /// goes on with the run's step numbers).
    pub fn continuing_from(mut self, steps_taken: usize) -> Self {
        self.steps_taken = steps_taken;
        self
    }

    /// Steps completed so far.
    pub fn steps_taken(&self) -> usize {
        self.steps_taken
    }

    /// Whether GPU work (a chunk or a step's read-back) is in flight.
    pub fn is_busy(&self) -> bool {
        match &self.engine {
            Engine::Sinkhorn(e) => e.busy(),
            Engine::Mmd(e) => e.in_flight.is_some(),
        }
    }

    /// The target points the flow moves toward.
    pub fn target_points(&self) -> &[Vec2] {
        &self.target
    }
}
