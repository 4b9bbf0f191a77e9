//! Heatmap texture from a log-density grid that is already on the GPU (`shaders/heatmap.wgsl`):
//! the app draws it through `egui_wgpu::Renderer::register_native_texture` with no read-back.
//!
//! Same mapping as the CPU path in `app::heatmap::density_image`: a 256-colour table sampled from a
//! `colorous` gradient (viridis until [`GpuHeatmap::set_colors`] replaces it), linear scale
//! t = p/max p or log scale over [`LOG_DECADES`] decades below the maximum, non-finite log
//! densities coloured as zero density, image row 0 = top of the box (y_max).

use super::context::{GpuContext, GpuResult, check_items_1d, workgroups_for};
use eframe::wgpu;

/// WGSL source of the heatmap kernels.
pub const HEATMAP_WGSL: &str = include_str!("shaders/heatmap.wgsl");

/// Decades shown by the log scale (as `app::heatmap::LOG_DECADES`).
pub const LOG_DECADES: f64 = 4.0;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    nx: u32,
    ny: u32,
    n_partials: u32,
    log_scale: u32,
    decades: f32,
    _pad: [f32; 3],
}

/// Compiled heatmap kernels and the colour table.
#[derive(Debug, Clone)]
pub struct GpuHeatmap {
    max_partials: wgpu::ComputePipeline,
    max_final: wgpu::ComputePipeline,
    colorize: wgpu::ComputePipeline,
    lut: wgpu::Buffer,
}

/// Entries in the colour table.
pub const TABLE_LEN: usize = 256;

/// 256 viridis colours (RGBA in [0, 1]) from `colorous`, the table the CPU path samples.
pub fn viridis_table() -> Vec<[f32; 4]> {
    color_table(colorous::VIRIDIS)
}

/// [`TABLE_LEN`] colours of `gradient` (RGBA in [0, 1]), evenly spaced from its start to its end.
pub fn color_table(gradient: colorous::Gradient) -> Vec<[f32; 4]> {
    (0..TABLE_LEN)
        .map(|i| {
            let c = gradient.eval_continuous(i as f64 / (TABLE_LEN - 1) as f64);
            [
                c.r as f32 / 255.0,
                c.g as f32 / 255.0,
                c.b as f32 / 255.0,
                1.0,
            ]
        })
        .collect()
}

impl GpuHeatmap {
    pub fn new(ctx: &GpuContext) -> GpuResult<Self> {
        Ok(Self {
            max_partials: ctx.compute_pipeline("heatmap max", HEATMAP_WGSL, "max_partials")?,
            max_final: ctx.compute_pipeline("heatmap max final", HEATMAP_WGSL, "max_final")?,
            colorize: ctx.compute_pipeline("heatmap colorize", HEATMAP_WGSL, "colorize")?,
            lut: ctx.storage_buffer("heatmap colours", &viridis_table()),
        })
    }

    /// Replaces the colour table (e.g. [`color_table`] of another gradient) for the next renders.
    pub fn set_colors(&self, ctx: &GpuContext, table: &[[f32; 4]]) -> GpuResult<()> {
        if table.len() != TABLE_LEN {
            return Err(super::context::GpuError::Invalid {
                reason: format!(
                    "a heatmap colour table has {TABLE_LEN} entries, not {}",
                    table.len()
                ),
            });
        }
        ctx.check_alive()?;
        ctx.queue
            .write_buffer(&self.lut, 0, bytemuck::cast_slice(table));
        Ok(())
    }

    /// A texture usable as a storage target here and as a sampled texture by egui.
    pub fn create_texture(&self, ctx: &GpuContext, nx: u32, ny: u32) -> wgpu::Texture {
        ctx.device.create_texture(&wgpu::TextureDescriptor {
            label: Some("divlab heatmap"),
            size: wgpu::Extent3d {
                width: nx.max(1),
                height: ny.max(1),
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba8Unorm,
            usage: wgpu::TextureUsages::STORAGE_BINDING
                | wgpu::TextureUsages::TEXTURE_BINDING
                | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        })
    }

    /// Colours the `nx × ny` log-density grid `log_density` (row-major, row 0 = y_min, e.g. from
    /// `GpuMixtureGrid::log_density_buffer`) into `texture` (from [`Self::create_texture`]).
    pub fn render(
        &self,
        ctx: &GpuContext,
        log_density: &wgpu::Buffer,
        nx: u32,
        ny: u32,
        log_scale: bool,
        texture: &wgpu::Texture,
    ) -> GpuResult<()> {
        ctx.check_alive()?;
        let len = (nx as usize) * (ny as usize);
        check_items_1d("heatmap cells", len)?;
        let n_wg = workgroups_for(len);
        let params = ctx.uniform_buffer(
            "heatmap params",
            &Params {
                nx,
                ny,
                n_partials: n_wg,
                log_scale: u32::from(log_scale),
                decades: LOG_DECADES as f32,
                _pad: [0.0; 3],
            },
        );
        let partials = ctx.storage_zeros("heatmap partials", n_wg as usize);
        let max = ctx.storage_zeros("heatmap max", 1);
        let b1 = ctx.bind_group(
            "heatmap max",
            &self.max_partials,
            &[&params, log_density, &partials],
        );
        let b2 = ctx.bind_group(
            "heatmap max final",
            &self.max_final,
            &[&params, &partials, &max],
        );
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        let b3 = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("heatmap colorize"),
            layout: &self.colorize.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: params.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: log_density.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: max.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: self.lut.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 4,
                    resource: wgpu::BindingResource::TextureView(&view),
                },
            ],
        });
        let mut encoder = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("divlab heatmap"),
            });
        ctx.encode_pass(&mut encoder, &self.max_partials, &b1, n_wg);
        ctx.encode_pass(&mut encoder, &self.max_final, &b2, 1);
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("heatmap colorize"),
                timestamp_writes: None,
            });
            pass.set_pipeline(&self.colorize);
            pass.set_bind_group(0, &b3, &[]);
            pass.dispatch_workgroups(nx.div_ceil(16), ny.div_ceil(16), 1);
        }
        ctx.queue.submit([encoder.finish()]);
        ctx.check_alive()
    }

    /// Reads the texture back as RGBA8 rows (top row first) — for tests and the CLI.
    pub fn read_texture(
        &self,
        ctx: &GpuContext,
        texture: &wgpu::Texture,
    ) -> GpuResult<Vec<[u8; 4]>> {
        let (w, h) = (texture.width(), texture.height());
        let row_bytes = (w * 4).next_multiple_of(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT);
        let buf = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("heatmap read-back"),
            size: (row_bytes * h) as u64,
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let mut encoder = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("heatmap read-back"),
            });
        encoder.copy_texture_to_buffer(
            wgpu::TexelCopyTextureInfo {
                texture,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            wgpu::TexelCopyBufferInfo {
                buffer: &buf,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(row_bytes),
                    rows_per_image: Some(h),
                },
            },
            wgpu::Extent3d {
                width: w,
                height: h,
                depth_or_array_layers: 1,
            },
        );
        ctx.queue.submit([encoder.finish()]);
        let bytes = ctx.read_bytes(&buf, (row_bytes * h) as u64)?;
        let mut out = Vec::with_capacity((w * h) as usize);
        for r in 0..h as usize {
            let row = &bytes[r * row_bytes as usize..r * row_bytes as usize + 4 * w as usize];
            out.extend(row.chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]]));
        }
        Ok(out)
    }
}
