//! GPU faults on a real adapter (Mesa's lavapipe in CI): a device destroyed mid-run, a shader that fails to
//! compile on the run's device, and a device whose buffer limits the run does not fit. Each leaves the run on
//! the CPU core from its last completed step, with a notice saying what failed; nothing panics, no step is
//! lost or repeated, and the CPU core goes on from exactly the GPU's last good particles.

mod common;
mod ui_support;

use divlab::core::math::Vec2;
use divlab::core::sim::ModelView;
use divlab::gpu::GpuContext;
use divlab::gpu::backend::ActiveBackend;
use divlab::gpu::backend::BackendChoice;
use divlab::run::{Run, load};
use eframe::wgpu;

/// The bundled mixture MMD flow (fixed step: it runs on the GPU) with `count` particles.
fn mmd_flow(count: usize) -> load::Loaded {
    let mut loaded = load::bundled("mixture_mmd_flow").unwrap_or_else(|e| panic!("{e}"));
    let text = serde_json::to_value(&loaded.scenario).unwrap_or_else(|e| panic!("{e}"));
    let mut v = text;
    v["model"]["count"] = count.into();
    loaded.scenario = serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"));
    loaded
}

fn particles(run: &Run) -> Vec<Vec2> {
    match run.model() {
        ModelView::Particles(p) => p.to_vec(),
        ModelView::Mixture(_) => panic!("a particle flow was expected"),
    }
}

/// Steps `run` (waiting for the GPU) until it has taken `n` steps.
fn step_to(run: &mut Run, n: usize) {
    while run.steps_taken() < n {
        if let Err(stop) = run.step() {
            panic!("stopped at step {}: {}", stop.step, stop.reason);
        }
    }
}

/// After a fault at step `k + 1`: the run took the steps on the CPU from the GPU's particles at step `k`,
/// said so once, and matches a CPU-only run resumed from those particles.
fn check_fell_back(run: &mut Run, k: usize, at_k: &[Vec2], fault: &str) {
    assert!(
        !run.placement().is_gpu(),
        "{fault}: the run is still placed on the GPU"
    );
    let reason = run.placement().reason.clone().unwrap_or_default();
    assert!(
        reason.contains(&format!("the GPU failed at step {}", k + 1)),
        "{fault}: placement reason {reason:?}"
    );
    let notices = run.take_notices();
    assert_eq!(notices.len(), 1, "{fault}: {notices:?}");
    assert!(
        notices[0].contains(&format!("the run continues on the CPU core from step {k}")),
        "{fault}: {notices:?}"
    );
    // Steps 1..=k on the GPU, then the CPU: none lost, none repeated.
    let backends: Vec<ActiveBackend> = run.history().records().iter().map(|r| r.backend).collect();
    assert_eq!(backends.len(), k + 1, "{fault}: {backends:?}");
    assert!(
        backends[..k].iter().all(|b| *b == ActiveBackend::Gpu),
        "{fault}: {backends:?}"
    );
    assert_eq!(backends[k], ActiveBackend::Cpu, "{fault}: {backends:?}");
    // The CPU step went from the GPU's last good particles: a CPU-only run resumed there agrees exactly.
    let loaded =
        load::from_scenario(run.scenario().clone(), "fault").unwrap_or_else(|e| panic!("{e}"));
    let cpu = Run::new(&loaded, BackendChoice::Cpu, Err("CPU reference"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut sim = cpu.simulation().clone();
    sim.resume_particles(at_k.to_vec(), k)
        .unwrap_or_else(|e| panic!("{e}"));
    sim.step().unwrap_or_else(|e| panic!("{e}"));
    let ModelView::Particles(expected) = sim.model() else {
        panic!("particles");
    };
    assert_eq!(
        particles(run),
        expected,
        "{fault}: the CPU step did not start from step {k}'s particles"
    );
    // And it keeps going.
    step_to(run, k + 3);
    assert!(
        particles(run)
            .iter()
            .all(|p| p[0].is_finite() && p[1].is_finite())
    );
}

/// A GPU run of the mixture MMD flow that takes `k` steps, meets the fault `inject` makes on its device, and
/// must go on on the CPU core from step `k` (checked by [`check_fell_back`]) with `reason` in its placement.
fn fault_after(k: usize, fault: &str, reason: &str, inject: impl FnOnce(&GpuContext)) {
    let Some(ctx) = common::context() else {
        return;
    };
    let loaded = mmd_flow(300);
    let mut run =
        Run::new(&loaded, BackendChoice::Auto, Ok(&ctx)).unwrap_or_else(|e| panic!("{e}"));
    assert!(run.placement().is_gpu(), "{:?}", run.placement());
    step_to(&mut run, k);
    let at_k = particles(&run);
    inject(&ctx);
    step_to(&mut run, k + 1);
    eprintln!("after the {fault}: {:?}", run.placement());
    check_fell_back(&mut run, k, &at_k, fault);
    assert!(
        run.placement()
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains(reason),
        "{fault}: the reason should say {reason:?}: {:?}",
        run.placement()
    );
}

#[test]
fn a_device_destroyed_mid_run_leaves_the_run_on_the_cpu_from_its_last_step() {
    fault_after(3, "device destroyed", "GPU device lost", |ctx| {
        ctx.device.destroy()
    });
}

#[test]
fn a_shader_error_on_the_runs_device_leaves_the_run_on_the_cpu_from_its_last_step() {
    // A module that does not compile, on the run's device, outside any error scope: wgpu reports it to
    // the device's uncaptured-error handler, as a driver's shader failure would be.
    fault_after(2, "shader error", "deliberately broken", |ctx| {
        let _broken = ctx
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("deliberately broken"),
                source: wgpu::ShaderSource::Wgsl(
                    "@compute @workgroup_size(64) fn main() { let x: f32 = ; }".into(),
                ),
            });
    });
}

/// A device whose storage buffers may bind at most `max_binding` bytes (below WebGPU's default of 128 MiB).
fn small_device(max_binding: u64) -> Option<GpuContext> {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter =
        pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
            .ok()?;
    let limits = wgpu::Limits {
        max_storage_buffer_binding_size: max_binding,
        ..wgpu::Limits::default()
    };
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("small limits"),
        required_limits: limits,
        ..Default::default()
    }))
    .unwrap_or_else(|e| panic!("a device with lower limits than the adapter's: {e}"));
    Some(
        GpuContext::from_device(
            device,
            queue,
            &adapter.get_info(),
            &adapter.get_downlevel_capabilities(),
        )
        .unwrap_or_else(|e| panic!("{e}")),
    )
}

#[test]
fn a_run_over_the_devices_buffer_limit_is_refused_by_the_gpu_and_runs_on_the_cpu() {
    if common::context().is_none() {
        return;
    }
    let Some(ctx) = small_device(16 * 1024) else {
        panic!("the adapter that common::context found is gone");
    };
    // 4000 particles: 32 000 bytes of f32 positions, over the 16 384 bytes a binding may hold.
    let loaded = mmd_flow(4000);
    let refused =
        Run::new(&loaded, BackendChoice::Gpu, Ok(&ctx)).expect_err("over the device's limit");
    let words = refused.to_string();
    eprintln!("--backend gpu: {words}");
    assert!(words.contains("max_storage_buffer_binding_size"), "{words}");
    let mut run =
        Run::new(&loaded, BackendChoice::Auto, Ok(&ctx)).unwrap_or_else(|e| panic!("{e}"));
    assert!(!run.placement().is_gpu(), "{:?}", run.placement());
    let reason = run.placement().reason.clone().unwrap_or_default();
    assert!(
        reason.contains("max_storage_buffer_binding_size"),
        "{reason}"
    );
    step_to(&mut run, 2);
    // A run that fits the small device runs on it.
    let small = mmd_flow(300);
    let fits = Run::new(&small, BackendChoice::Gpu, Ok(&ctx)).unwrap_or_else(|e| panic!("{e}"));
    assert!(fits.placement().is_gpu());
}

#[test]
fn the_app_keeps_drawing_when_a_shader_error_moves_its_run_to_the_cpu() {
    if common::context().is_none() {
        return;
    }
    // The app on lavapipe, on its default scenario (a fixed-step MMD flow, which runs on the GPU).
    let mut h = ui_support::harness(1200.0, 800.0);
    assert!(h.state().flow_on_gpu(), "the default flow runs on the GPU");
    let frames_until = |h: &mut egui_kittest::Harness<'_, divlab::app::DivlabApp>, steps: usize| {
        for _ in 0..2000 {
            if h.state().steps_taken() >= steps {
                return;
            }
            h.run_steps(1);
        }
        panic!("the app did not reach step {steps}");
    };
    h.key_press(egui::Key::Space);
    frames_until(&mut h, 3);
    let ctx = h
        .state()
        .gpu_context()
        .expect("the GPU backend is active")
        .clone();
    let _broken = ctx
        .device
        .create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("deliberately broken"),
            source: wgpu::ShaderSource::Wgsl("fn main() { let x: f32 = ; }".into()),
        });
    let before = h.state().steps_taken();
    frames_until(&mut h, before + 5);
    assert!(!h.state().flow_on_gpu(), "the run moved to the CPU core");
    let message = h.state().message().unwrap_or_default().to_owned();
    assert!(
        message.contains("the run continues on the CPU core from step")
            && message.contains("deliberately broken"),
        "{message}"
    );
    // Every step is recorded once, the GPU's first, then the CPU core's.
    let run = &h.state().runs()[0];
    let records = run.history().records();
    assert_eq!(records.len(), run.steps_taken());
    let switch = records
        .iter()
        .position(|r| r.backend == ActiveBackend::Cpu)
        .expect("CPU steps");
    assert!(
        switch >= 3
            && records[switch..]
                .iter()
                .all(|r| r.backend == ActiveBackend::Cpu)
    );
    // It keeps drawing: the frame renders, the message is on screen.
    h.key_press(egui::Key::Space);
    h.run_steps(2);
    let img = h.render().unwrap_or_else(|e| panic!("{e}"));
    img.save(ui_support::shots_dir().join("gpu_fault.png"))
        .unwrap_or_else(|e| panic!("{e}"));
}
