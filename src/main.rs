//! The native `divlab` binary: no arguments opens the app; subcommands work headless.

#[cfg(not(target_arch = "wasm32"))]
mod bench;
#[cfg(not(target_arch = "wasm32"))]
mod cli;
#[cfg(not(target_arch = "wasm32"))]
mod soak;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    // Forces the inner loops' paths (`core::paths`: scalar/avx2, dense/sparse, std_exp/fast_exp).
    if let Ok(words) = std::env::var("DIVLAB_PATHS") {
        use divlab::core::paths;
        if let Err(e) = paths::Paths::parse(&words).and_then(paths::set) {
            eprintln!("divlab: {e}");
            return std::process::ExitCode::FAILURE;
        }
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => run_app(None),
        // `divlab open '#v=1&…'`: the app, opened on a link copied from it (or from the web app's address).
        [open, link] if open == "open" => {
            let link = link.split_once('#').map_or(link.as_str(), |(_, l)| l);
            run_app(Some(link.to_owned()))
        }
        _ => cli::main(&args),
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn run_app(link: Option<String>) -> std::process::ExitCode {
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
        Box::new(move |cc| {
            let mut app = divlab::app::DivlabApp::new(cc);
            if let Some(link) = link {
                app.command(divlab::app::Command::OpenLink(link));
            }
            Ok(Box::new(app))
        }),
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
