//! Per-dispatch timing for `divlab bench --backend gpu`: GPU timestamp queries where the adapter
//! has `Features::TIMESTAMP_QUERY`, else wall-clock time around submit + wait (which includes
//! submission overhead). On software adapters (lavapipe, SwiftShader) the figures measure this
//! machine's CPUs, not a GPU.

use super::context::{GpuContext, GpuError, GpuResult};
use eframe::wgpu;

/// Runs `pipeline` with `bind_group` over `workgroups` workgroups, `iters` times, and returns the
/// seconds each dispatch took (one warm-up dispatch first, not reported).
pub fn time_dispatch(
    ctx: &GpuContext,
    pipeline: &wgpu::ComputePipeline,
    bind_group: &wgpu::BindGroup,
    workgroups: u32,
    iters: usize,
) -> GpuResult<Vec<f64>> {
    if iters == 0 || iters > 4096 {
        return Err(GpuError::Invalid {
            reason: format!("bench iters = {iters} is out of range: valid range is [1, 4096]"),
        });
    }
    ctx.run_passes(&[(pipeline, bind_group, workgroups)])?;
    ctx.wait_idle()?;
    if ctx.adapter.has_timestamps {
        let count = 2 * iters as u32;
        let query_set = ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("divlab bench timestamps"),
            ty: wgpu::QueryType::Timestamp,
            count,
        });
        let resolve = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("divlab bench resolve"),
            size: 8 * count as u64,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let mut encoder = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("divlab bench"),
            });
        for i in 0..iters as u32 {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: None,
                timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                    query_set: &query_set,
                    beginning_of_pass_write_index: Some(2 * i),
                    end_of_pass_write_index: Some(2 * i + 1),
                }),
            });
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, bind_group, &[]);
            pass.dispatch_workgroups(workgroups, 1, 1);
        }
        encoder.resolve_query_set(&query_set, 0..count, &resolve, 0);
        ctx.queue.submit([encoder.finish()]);
        let bytes = ctx.read_bytes(&resolve, 8 * count as u64)?;
        let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(&bytes);
        let period_s = ctx.queue.get_timestamp_period() as f64 * 1e-9;
        Ok(ticks
            .chunks_exact(2)
            .map(|t| t[1].saturating_sub(t[0]) as f64 * period_s)
            .collect())
    } else {
        let mut out = Vec::with_capacity(iters);
        for _ in 0..iters {
            let t0 = std::time::Instant::now();
            ctx.run_passes(&[(pipeline, bind_group, workgroups)])?;
            ctx.wait_idle()?;
            out.push(t0.elapsed().as_secs_f64());
        }
        Ok(out)
    }
}
