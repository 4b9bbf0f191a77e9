//! Shared by the GPU integration tests.

use divlab::gpu::GpuContext;

/// A headless GPU context (Mesa's lavapipe in CI). With no adapter the test fails, unless
/// `DIVLAB_ALLOW_NO_GPU=1` is set, when it is skipped with a line saying so.
pub fn context() -> Option<GpuContext> {
    match GpuContext::new_headless_blocking() {
        Ok(ctx) => {
            eprintln!("GPU adapter: {}", ctx.adapter);
            Some(ctx)
        }
        Err(e) => {
            if std::env::var("DIVLAB_ALLOW_NO_GPU").as_deref() == Ok("1") {
                eprintln!("SKIP gpu test: {e} (DIVLAB_ALLOW_NO_GPU=1)");
                None
            } else {
                panic!("no GPU adapter with compute ({e}); set DIVLAB_ALLOW_NO_GPU=1 to skip");
            }
        }
    }
}
