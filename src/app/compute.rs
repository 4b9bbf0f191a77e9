//! Which compute backend the app uses, and the GPU work it does without read-back: the model's density drawn
//! straight into a texture the UI samples. `auto` takes eframe's own wgpu device when it has compute (native
//! Vulkan/Metal/DX12, WebGPU in the browser) and the CPU core otherwise (WebGL2, GL, no adapter).

use eframe::egui_wgpu::RenderState;
use eframe::wgpu;

use crate::core::grid::Grid;
use crate::core::mixture::Mixture;
use crate::gpu::backend::{BackendChoice, BackendStatus, resolve};
use crate::gpu::context::{AdapterSummary, GpuContext, GpuError, GpuResult};
use crate::gpu::heatmap::GpuHeatmap;
use crate::gpu::mixture_grid::GpuMixtureGrid;

/// Cells per side of the GPU density texture.
pub const GPU_GRID: u32 = 256;

/// The GPU pieces the app keeps (only when the GPU backend is active).
struct GpuParts {
    ctx: GpuContext,
    grid_kernel: GpuMixtureGrid,
    heatmap: GpuHeatmap,
    texture: wgpu::Texture,
    texture_id: egui::TextureId,
}

/// The compute backend in use and, on the GPU, the model-density texture.
pub struct Compute {
    pub status: BackendStatus,
    gpu: Option<GpuParts>,
}

impl Compute {
    /// Resolves `choice` against eframe's render state.
    pub fn new(render_state: Option<&RenderState>, choice: BackendChoice) -> Self {
        let attempt = resolve(choice, || match render_state {
            Some(rs) => GpuContext::from_render_state(rs),
            None => Err(GpuError::NoAdapter {
                reason: "the app has no wgpu renderer".into(),
            }),
        });
        let (ctx, mut status) = match attempt {
            Ok(pair) => pair,
            Err(err) => {
                let mut status = BackendStatus::cpu();
                status.requested = choice;
                status.fall_back_to_cpu(&err);
                (None, status)
            }
        };
        let gpu = match (ctx, render_state) {
            (Some(ctx), Some(rs)) => match GpuParts::new(ctx, rs) {
                Ok(parts) => Some(parts),
                Err(err) => {
                    status.fall_back_to_cpu(&err);
                    None
                }
            },
            _ => None,
        };
        Self { status, gpu }
    }

    pub fn is_gpu(&self) -> bool {
        self.gpu.is_some()
    }

    /// The GPU context, when the GPU backend is active.
    pub fn context(&self) -> Option<&GpuContext> {
        self.gpu.as_ref().map(|g| &g.ctx)
    }

    /// Short words for the status bar.
    pub fn describe(&self) -> String {
        match (&self.gpu, &self.status.reason) {
            (Some(g), _) => format!("compute: GPU ({})", adapter_words(&g.ctx.adapter)),
            (None, Some(reason)) => format!("compute: CPU core ({reason})"),
            (None, None) => "compute: CPU core".to_owned(),
        }
    }

    /// Colours the GPU texture with `colormap` from now on (the same table as the CPU path samples). On a GPU
    /// error the app falls back to the CPU, as for a failed draw.
    pub fn set_colormap(&mut self, colormap: super::heatmap::Colormap) {
        let Some(parts) = self.gpu.as_ref() else {
            return;
        };
        if let Err(err) = parts.heatmap.set_colors(&parts.ctx, &colormap.table()) {
            self.status.fall_back_to_cpu(&err);
            self.gpu = None;
        }
    }

    /// Draws the mixture's density over `grid` into the GPU texture (no read-back) and returns its texture id.
    /// On a GPU error the app falls back to the CPU: the error is recorded and `None` returned.
    pub fn model_density_texture(
        &mut self,
        q: &Mixture,
        grid: &Grid,
        log_scale: bool,
    ) -> Option<egui::TextureId> {
        let parts = self.gpu.as_ref()?;
        match parts.draw(q, grid, log_scale) {
            Ok(()) => Some(parts.texture_id),
            Err(err) => {
                self.status.fall_back_to_cpu(&err);
                self.gpu = None;
                None
            }
        }
    }
}

/// The adapter in a few words for the status bar: its name when the platform gives one (browsers do not),
/// the API and whether it is a software device, e.g. "llvmpipe (LLVM 15.0.6, 256 bits), Vulkan, software"
/// or "WebGPU, software" ([`AdapterSummary`]'s own `Display` is for logs and JSON).
pub fn adapter_words(a: &AdapterSummary) -> String {
    let api = match a.backend.as_str() {
        "browser_webgpu" => "WebGPU",
        "vulkan" => "Vulkan",
        "metal" => "Metal",
        "dx12" => "DX12",
        "gl" => "GL",
        other => other,
    };
    let mut words: Vec<&str> = Vec::new();
    if !a.name.trim().is_empty() {
        words.push(a.name.trim());
    }
    words.push(api);
    if a.is_software {
        words.push("software");
    }
    words.join(", ")
}

impl GpuParts {
    fn new(ctx: GpuContext, rs: &RenderState) -> GpuResult<Self> {
        let grid_kernel = GpuMixtureGrid::new(&ctx)?;
        let heatmap = GpuHeatmap::new(&ctx)?;
        let texture = heatmap.create_texture(&ctx, GPU_GRID, GPU_GRID);
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        let texture_id = rs.renderer.write().register_native_texture(
            &rs.device,
            &view,
            wgpu::FilterMode::Linear,
        );
        Ok(Self {
            ctx,
            grid_kernel,
            heatmap,
            texture,
            texture_id,
        })
    }

    fn draw(&self, q: &Mixture, grid: &Grid, log_scale: bool) -> GpuResult<()> {
        if grid.nx as u32 != GPU_GRID || grid.ny as u32 != GPU_GRID {
            return Err(GpuError::Invalid {
                reason: format!("model density grid must be {GPU_GRID}²"),
            });
        }
        let log_q = self.grid_kernel.log_density_buffer(&self.ctx, q, grid)?;
        self.heatmap.render(
            &self.ctx,
            &log_q,
            GPU_GRID,
            GPU_GRID,
            log_scale,
            &self.texture,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(name: &str, backend: &str, is_software: bool) -> AdapterSummary {
        AdapterSummary {
            name: name.into(),
            backend: backend.into(),
            device_type: if is_software { "Cpu" } else { "DiscreteGpu" }.into(),
            driver: String::new(),
            is_software,
            has_timestamps: false,
        }
    }

    #[test]
    fn the_status_bar_names_the_adapter_without_doubled_parentheses() {
        // The browser hides the adapter's name: the API alone (it used to read "GPU ((browser_webgpu, Cpu,
        // software))").
        let web = summary("", "browser_webgpu", true);
        let words = format!("compute: GPU ({})", adapter_words(&web));
        assert_eq!(words, "compute: GPU (WebGPU, software)");
        assert!(!words.contains("(("), "{words}");
        assert_eq!(
            adapter_words(&summary("llvmpipe (LLVM 15.0.6, 256 bits)", "vulkan", true)),
            "llvmpipe (LLVM 15.0.6, 256 bits), Vulkan, software"
        );
        assert_eq!(
            adapter_words(&summary("Apple M2", "metal", false)),
            "Apple M2, Metal"
        );
    }
}
