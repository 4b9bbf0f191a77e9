//! Headless (or borrowed) wgpu device, compute-capability detection, and small buffer helpers.
//!
//! Everything here stays within WebGPU's default limits (`Limits::default()`: 256 invocations per
//! workgroup, 16 KiB workgroup storage, 8 storage buffers per stage), so the same kernels run in
//! the browser through WebGPU, on the desktop through Vulkan/Metal/DX12, and on Mesa's lavapipe.

use eframe::wgpu;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Workgroup size used by every 1-D kernel (WebGPU's default `maxComputeInvocationsPerWorkgroup`).
pub const WORKGROUP_SIZE: u32 = 256;

/// Everything that can go wrong on the GPU path. Every variant means "use the CPU core instead".
#[derive(Debug, Clone, PartialEq)]
pub enum GpuError {
    /// No adapter was found (no driver, no WebGPU in the browser).
    NoAdapter { reason: String },
    /// An adapter exists but cannot run compute shaders (GL / WebGL2 backends, tiny limits).
    NoCompute { adapter: String, reason: String },
    /// Creating the device failed.
    RequestDevice { reason: String },
    /// The device was lost (driver reset, browser tab backgrounded, ...).
    DeviceLost,
    /// A kernel produced NaN or ±∞; `what` names the quantity.
    NonFinite { what: String },
    /// A wgpu validation / out-of-memory error, or a failed buffer mapping.
    Wgpu { reason: String },
    /// Invalid input (sizes, parameters outside their range).
    Invalid { reason: String },
}

impl fmt::Display for GpuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoAdapter { reason } => write!(f, "no GPU adapter: {reason}"),
            Self::NoCompute { adapter, reason } => {
                write!(f, "GPU adapter {adapter} has no usable compute: {reason}")
            }
            Self::RequestDevice { reason } => write!(f, "could not create GPU device: {reason}"),
            Self::DeviceLost => write!(f, "GPU device lost"),
            Self::NonFinite { what } => write!(f, "GPU kernel returned a non-finite {what}"),
            Self::Wgpu { reason } => write!(f, "GPU error: {}", one_line(reason)),
            Self::Invalid { reason } => write!(f, "{reason}"),
        }
    }
}

impl std::error::Error for GpuError {}

pub type GpuResult<T> = Result<T, GpuError>;

/// What the app and CLI print about the adapter in use.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct AdapterSummary {
    /// Adapter name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)".
    pub name: String,
    /// Backend name: "vulkan", "metal", "dx12", "gl", "browser_webgpu".
    pub backend: String,
    /// Device type as wgpu reports it ("Cpu", "DiscreteGpu", ...).
    pub device_type: String,
    /// Driver name and info.
    pub driver: String,
    /// True for software adapters (lavapipe, SwiftShader, WARP): timings say nothing about real GPUs.
    pub is_software: bool,
    /// True when the adapter supports timestamp queries (GPU-side timing for benches).
    pub has_timestamps: bool,
}

impl AdapterSummary {
    /// Builds the summary from wgpu's adapter info and the device's features.
    pub fn from_info(info: &wgpu::AdapterInfo, features: wgpu::Features) -> Self {
        let backend = match info.backend {
            wgpu::Backend::Vulkan => "vulkan",
            wgpu::Backend::Metal => "metal",
            wgpu::Backend::Dx12 => "dx12",
            wgpu::Backend::Gl => "gl",
            wgpu::Backend::BrowserWebGpu => "browser_webgpu",
            _ => "other",
        };
        Self {
            name: info.name.clone(),
            backend: backend.to_owned(),
            device_type: format!("{:?}", info.device_type),
            driver: format!("{} {}", info.driver, info.driver_info)
                .trim()
                .to_owned(),
            is_software: info.device_type == wgpu::DeviceType::Cpu,
            has_timestamps: features.contains(wgpu::Features::TIMESTAMP_QUERY),
        }
    }
}

impl fmt::Display for AdapterSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Browsers hide the adapter's name: then the backend alone names it.
        if !self.name.is_empty() {
            write!(f, "{} ", self.name)?;
        }
        write!(
            f,
            "({}, {}{})",
            self.backend,
            self.device_type,
            if self.is_software { ", software" } else { "" }
        )
    }
}

/// wgpu's multi-line error report in one line for a status bar or a notice: its chain of causes joined by
/// ": ", without the "Caused by:" headings and the source excerpt a shader error draws under its message.
fn one_line(report: &str) -> String {
    let excerpt = |l: &str| {
        l.starts_with(['│', '┌', '└', '╭', '╰', '·', '^'])
            || l.split_once('│')
                .is_some_and(|(gutter, _)| gutter.trim().chars().all(|c| c.is_ascii_digit()))
    };
    report
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "Caused by:" && !excerpt(l))
        .collect::<Vec<_>>()
        .join(": ")
}

/// Checks that a device with these downlevel flags and limits can run divlab's kernels.
///
/// GL backends (WebGL2, native GL) report no `COMPUTE_SHADERS` and zero workgroup limits; building
/// a compute pipeline there panics inside wgpu, so this must be called first.
pub fn check_compute_support(
    adapter_name: &str,
    downlevel: &wgpu::DownlevelCapabilities,
    limits: &wgpu::Limits,
) -> GpuResult<()> {
    let no = |reason: String| GpuError::NoCompute {
        adapter: adapter_name.to_owned(),
        reason,
    };
    if !downlevel
        .flags
        .contains(wgpu::DownlevelFlags::COMPUTE_SHADERS)
    {
        return Err(no(
            "DownlevelFlags::COMPUTE_SHADERS missing (GL/WebGL2 backend)".into(),
        ));
    }
    if limits.max_compute_invocations_per_workgroup < WORKGROUP_SIZE
        || limits.max_compute_workgroup_size_x < WORKGROUP_SIZE
    {
        return Err(no(format!(
            "max_compute_invocations_per_workgroup = {} / max_compute_workgroup_size_x = {}, need ≥ {WORKGROUP_SIZE}",
            limits.max_compute_invocations_per_workgroup, limits.max_compute_workgroup_size_x
        )));
    }
    if limits.max_compute_workgroup_storage_size < 16384 {
        return Err(no(format!(
            "max_compute_workgroup_storage_size = {}, need ≥ 16384",
            limits.max_compute_workgroup_storage_size
        )));
    }
    if limits.max_storage_buffers_per_shader_stage < 8 {
        return Err(no(format!(
            "max_storage_buffers_per_shader_stage = {}, need ≥ 8",
            limits.max_storage_buffers_per_shader_stage
        )));
    }
    if limits.max_compute_workgroups_per_dimension < 1024 {
        return Err(no(format!(
            "max_compute_workgroups_per_dimension = {}, need ≥ 1024",
            limits.max_compute_workgroups_per_dimension
        )));
    }
    Ok(())
}

/// A device + queue able to run divlab's compute kernels.
#[derive(Clone)]
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub adapter: AdapterSummary,
    pub limits: wgpu::Limits,
    lost: Arc<AtomicBool>,
    /// The last uncaptured wgpu error (validation, out of memory), instead of wgpu's default
    /// handler, which panics.
    uncaptured: Arc<Mutex<Option<String>>>,
}

impl fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GpuContext")
            .field("adapter", &self.adapter)
            .finish_non_exhaustive()
    }
}

impl GpuContext {
    /// Creates a headless device on the first adapter wgpu offers (native: Vulkan/Metal/DX12/GL,
    /// respecting `WGPU_BACKEND`/`WGPU_ADAPTER_NAME`). Fallback (software) adapters are accepted.
    /// Requests `Limits::default()` (WebGPU defaults) plus `TIMESTAMP_QUERY` where available.
    pub async fn new_headless() -> GpuResult<Self> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                force_fallback_adapter: false,
                compatible_surface: None,
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::NoAdapter {
                reason: e.to_string(),
            })?;
        let info = adapter.get_info();
        let required_limits = wgpu::Limits::default();
        check_compute_support(
            &info.name,
            &adapter.get_downlevel_capabilities(),
            &adapter.limits(),
        )?;
        let required_features = adapter.features() & wgpu::Features::TIMESTAMP_QUERY;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("divlab compute"),
                required_features,
                required_limits,
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::RequestDevice {
                reason: e.to_string(),
            })?;
        Self::from_device(device, queue, &info, &adapter.get_downlevel_capabilities())
    }

    /// Blocking version of [`Self::new_headless`] for native tests and the CLI.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new_headless_blocking() -> GpuResult<Self> {
        pollster::block_on(Self::new_headless())
    }

    /// Wraps an existing device (e.g. eframe's `wgpu_render_state`): checks compute support first,
    /// so on a GL/WebGL2 device this returns [`GpuError::NoCompute`] instead of panicking later.
    /// Installs a device-lost callback and an uncaptured-error handler that records the error
    /// (reported by the next kernel call as [`GpuError::Wgpu`]) instead of panicking.
    pub fn from_device(
        device: wgpu::Device,
        queue: wgpu::Queue,
        info: &wgpu::AdapterInfo,
        downlevel: &wgpu::DownlevelCapabilities,
    ) -> GpuResult<Self> {
        let limits = device.limits();
        check_compute_support(&info.name, downlevel, &limits)?;
        let lost = Arc::new(AtomicBool::new(false));
        let flag = lost.clone();
        device.set_device_lost_callback(move |_reason, _msg| {
            flag.store(true, Ordering::SeqCst);
        });
        let uncaptured = Arc::new(Mutex::new(None));
        let slot = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            log::error!("divlab gpu: uncaptured wgpu error: {e}");
            if let Ok(mut s) = slot.lock() {
                *s = Some(e.to_string());
            }
        }));
        let adapter = AdapterSummary::from_info(info, device.features());
        Ok(Self {
            device,
            queue,
            adapter,
            limits,
            lost,
            uncaptured,
        })
    }

    /// Wraps the device eframe created (`frame.wgpu_render_state()` / `cc.wgpu_render_state`),
    /// so grids computed here can feed the UI's textures without a read-back. Returns
    /// [`GpuError::NoCompute`] on GL/WebGL2 render states.
    pub fn from_render_state(rs: &eframe::egui_wgpu::RenderState) -> GpuResult<Self> {
        Self::from_device(
            rs.device.clone(),
            rs.queue.clone(),
            &rs.adapter.get_info(),
            &rs.adapter.get_downlevel_capabilities(),
        )
    }

    /// Whether the device was lost (then every call returns [`GpuError::DeviceLost`]).
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Errors if the device was lost or an uncaptured wgpu error happened since the last check.
    pub(crate) fn check_alive(&self) -> GpuResult<()> {
        if self.is_lost() {
            return Err(GpuError::DeviceLost);
        }
        if let Ok(mut s) = self.uncaptured.lock()
            && let Some(reason) = s.take()
        {
            return Err(GpuError::Wgpu { reason });
        }
        Ok(())
    }

    /// Compiles a WGSL module and a compute pipeline with an automatic layout, catching
    /// validation errors as [`GpuError::Wgpu`] instead of letting wgpu panic.
    pub(crate) fn compute_pipeline(
        &self,
        label: &str,
        wgsl: &str,
        entry_point: &str,
    ) -> GpuResult<wgpu::ComputePipeline> {
        self.check_alive()?;
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(label),
                source: wgpu::ShaderSource::Wgsl(wgsl.into()),
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(label),
                layout: None,
                module: &module,
                entry_point: Some(entry_point),
                compilation_options: Default::default(),
                cache: None,
            });
        if let Some(err) = pollster_free_block_on(scope.pop()) {
            return Err(GpuError::Wgpu {
                reason: format!("{label}: {err}"),
            });
        }
        Ok(pipeline)
    }

    /// A storage buffer initialised from `data` (usable as copy source/destination too).
    pub fn storage_buffer<T: bytemuck::Pod>(&self, label: &str, data: &[T]) -> wgpu::Buffer {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        let size = (bytes.len() as u64).max(16).next_multiple_of(4);
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        if !bytes.is_empty() {
            self.queue.write_buffer(&buffer, 0, bytes);
        }
        buffer
    }

    /// A zeroed storage buffer of `len` f32 values.
    pub fn storage_zeros(&self, label: &str, len: usize) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: ((len * 4) as u64).max(16),
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// A uniform buffer holding `value`.
    pub fn uniform_buffer<T: bytemuck::Pod>(&self, label: &str, value: &T) -> wgpu::Buffer {
        let bytes: &[u8] = bytemuck::bytes_of(value);
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: (bytes.len() as u64).next_multiple_of(16),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.queue.write_buffer(&buffer, 0, bytes);
        buffer
    }

    /// A bind group for `pipeline`'s group 0 with `buffers` bound at bindings 0, 1, 2, ...
    pub(crate) fn bind_group(
        &self,
        label: &str,
        pipeline: &wgpu::ComputePipeline,
        buffers: &[&wgpu::Buffer],
    ) -> wgpu::BindGroup {
        let layout = pipeline.get_bind_group_layout(0);
        let entries: Vec<wgpu::BindGroupEntry<'_>> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(label),
            layout: &layout,
            entries: &entries,
        })
    }

    /// A bind group for `pipeline`'s group 0 with explicit binding numbers.
    pub(crate) fn bind_group_at(
        &self,
        label: &str,
        pipeline: &wgpu::ComputePipeline,
        buffers: &[(u32, &wgpu::Buffer)],
    ) -> wgpu::BindGroup {
        let layout = pipeline.get_bind_group_layout(0);
        let entries: Vec<wgpu::BindGroupEntry<'_>> = buffers
            .iter()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: *i,
                resource: b.as_entire_binding(),
            })
            .collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(label),
            layout: &layout,
            entries: &entries,
        })
    }

    /// Blocks until all submitted work is done (native); maps device loss to [`GpuError::DeviceLost`].
    pub fn wait_idle(&self) -> GpuResult<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::Wgpu {
                reason: e.to_string(),
            })?;
        self.check_alive()
    }

    /// Copies the first `len` f32 values of `buffer` back to the CPU (map_async + device.poll).
    ///
    /// Native only in practice: on the web `poll` does not block; the app keeps data on the GPU.
    pub fn read_f32(&self, buffer: &wgpu::Buffer, len: usize) -> GpuResult<Vec<f32>> {
        let bytes = self.read_bytes(buffer, (len * 4) as u64)?;
        Ok(bytemuck::pod_collect_to_vec::<u8, f32>(&bytes))
    }

    /// Copies the first `size` bytes (a multiple of 4) of `buffer` back to the CPU.
    pub fn read_bytes(&self, buffer: &wgpu::Buffer, size: u64) -> GpuResult<Vec<u8>> {
        self.check_alive()?;
        if size == 0 {
            return Ok(Vec::new());
        }
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("divlab read-back"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("divlab read-back"),
            });
        encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, size);
        self.queue.submit([encoder.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            // The receiver lives until recv() below returns; a send error cannot occur before that.
            let _ = tx.send(r);
        });
        self.wait_idle()?;
        // Never block on the channel: natively `poll(wait)` has run the callback by now; on the
        // web `poll` returns at once and the callback needs the event loop, so a synchronous
        // read-back is refused there instead of freezing the page.
        match rx.try_recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(GpuError::Wgpu {
                    reason: format!("buffer map failed: {e}"),
                });
            }
            Err(_) => {
                return Err(GpuError::Wgpu {
                    reason: "synchronous GPU read-back is not available here (web); keep the data on the GPU".into(),
                });
            }
        }
        let out = {
            let view = staging.get_mapped_range(..).map_err(|e| GpuError::Wgpu {
                reason: format!("mapped range: {e}"),
            })?;
            view.to_vec()
        };
        staging.unmap();
        Ok(out)
    }

    /// Records one compute pass: `pipeline` with `bind_group`, `workgroups` along x.
    pub(crate) fn encode_pass(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        pipeline: &wgpu::ComputePipeline,
        bind_group: &wgpu::BindGroup,
        workgroups: u32,
    ) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: None,
            timestamp_writes: None,
        });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, bind_group, &[]);
        pass.dispatch_workgroups(workgroups, 1, 1);
    }

    /// Runs a sequence of (pipeline, bind group, workgroups) passes in one submission.
    pub(crate) fn run_passes(
        &self,
        passes: &[(&wgpu::ComputePipeline, &wgpu::BindGroup, u32)],
    ) -> GpuResult<()> {
        self.check_alive()?;
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("divlab compute"),
            });
        for (p, bg, wg) in passes {
            self.encode_pass(&mut encoder, p, bg, *wg);
        }
        self.queue.submit([encoder.finish()]);
        Ok(())
    }
}

/// Most items a 1-D kernel covers in one dispatch (WebGPU's 65 535 workgroups per dimension).
pub const MAX_ITEMS_1D: usize = 65_535 * WORKGROUP_SIZE as usize;

/// Errors when `n` items do not fit one 1-D dispatch ([`MAX_ITEMS_1D`]).
pub fn check_items_1d(what: &str, n: usize) -> GpuResult<()> {
    if n == 0 || n > MAX_ITEMS_1D {
        return Err(GpuError::Invalid {
            reason: format!("{what} = {n} is out of range: valid range is [1, {MAX_ITEMS_1D}]"),
        });
    }
    Ok(())
}

/// Number of workgroups of [`WORKGROUP_SIZE`] covering `n` items.
pub fn workgroups_for(n: usize) -> u32 {
    n.div_ceil(WORKGROUP_SIZE as usize).max(1) as u32
}

/// Errors a slice of GPU output if any value is NaN or ±∞.
pub fn check_finite(what: &str, values: &[f32]) -> GpuResult<()> {
    if values.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(GpuError::NonFinite { what: what.into() })
    }
}

/// Error-scope futures on native wgpu resolve immediately; on the web they need the event loop,
/// so there we skip waiting (validation errors then surface through the uncaptured-error handler).
fn pollster_free_block_on<F: std::future::Future<Output = Option<wgpu::Error>>>(
    fut: F,
) -> Option<wgpu::Error> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        pollster::block_on(fut)
    }
    #[cfg(target_arch = "wasm32")]
    {
        drop(fut);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gl_like_devices_are_rejected_before_any_pipeline() {
        // WebGL2 / native GL: no compute shaders and zero compute limits.
        let gl = wgpu::DownlevelCapabilities {
            flags: wgpu::DownlevelFlags::empty(),
            ..Default::default()
        };
        let err = check_compute_support("ANGLE", &gl, &wgpu::Limits::downlevel_webgl2_defaults())
            .unwrap_err();
        assert!(matches!(err, GpuError::NoCompute { .. }), "{err:?}");
        assert!(err.to_string().contains("COMPUTE_SHADERS"));
        // Compute flag present but WebGL2-sized limits: still rejected, naming the limit.
        let full = wgpu::DownlevelCapabilities::default();
        let err = check_compute_support("x", &full, &wgpu::Limits::downlevel_webgl2_defaults())
            .unwrap_err();
        assert!(err.to_string().contains("max_compute"), "{err}");
        // WebGPU defaults are enough.
        assert!(check_compute_support("x", &full, &wgpu::Limits::default()).is_ok());
    }

    #[test]
    fn a_wgpu_report_is_shown_in_one_line_without_its_source_excerpt() {
        let report = "Validation Error\n\nCaused by:\n  In Device::create_shader_module, label = 'broken'\n    \n\
                      Shader 'broken' parsing error: expected expression, found \";\"\n  ┌─ wgsl:1:55\n  │\n\
                      1 │ fn main() { let x: f32 = ; }\n  │                ^ expected expression\n\n\n";
        let e = GpuError::Wgpu {
            reason: report.into(),
        };
        assert_eq!(
            e.to_string(),
            "GPU error: Validation Error: In Device::create_shader_module, label = 'broken': \
             Shader 'broken' parsing error: expected expression, found \";\""
        );
    }

    #[test]
    fn workgroup_counts_cover_sizes_that_are_not_multiples() {
        assert_eq!(workgroups_for(1), 1);
        assert_eq!(workgroups_for(256), 1);
        assert_eq!(workgroups_for(257), 2);
        assert_eq!(workgroups_for(1000), 4);
    }
}
