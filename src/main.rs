//! The native `divlab` binary: no arguments opens the app; subcommands work headless.

#[cfg(not(target_arch = "wasm32"))]
mod bench;
#[cfg(not(target_arch = "wasm32"))]
mod cli;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        return run_app();
    }
    cli::main(&args)
}

#[cfg(not(target_arch = "wasm32"))]
fn run_app() -> std::process::ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("divlab")
            .with_inner_size([1200.0, 800.0])
            .with_min_inner_size([640.0, 480.0]),
        renderer: eframe::Renderer::Wgpu,
        ..Default::default()
    };
    match eframe::run_native(
        "divlab",
        options,
        Box::new(|cc| Ok(Box::new(divlab::app::DivlabApp::new(cc)))),
    ) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("divlab: could not open the window: {err}");
            eprintln!("(headless use: `divlab --help` lists the subcommands)");
            std::process::ExitCode::FAILURE
        }
    }
}

/// On the web the entry point is `divlab::web::start`, called from `web/main.js`.
#[cfg(target_arch = "wasm32")]
fn main() {}
