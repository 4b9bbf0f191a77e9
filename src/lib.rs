//! divlab — Divergence Lab: 2D probability distributions fitted live under different divergences.
//!
//! - [`core`]: pure numerics (the reference every other path is tested against).
//! - [`gpu`]: the wgpu compute backend.
//! - [`run`]: a scenario running on a backend, shared by the app and the CLI.
//! - [`render`]: headless figures (PNG and SVG) of runs.
//! - [`app`]: the egui user interface.
//! - [`learn`]: the Learn panel's explanations (data, no UI).
//! - [`tour`]: guided tours (a list of steps the app plays with Back and Next).
//! - [`assets`]: scenarios and images bundled into the binary and the wasm.

pub mod app;
pub mod assets;
pub mod core;
pub mod gpu;
pub mod learn;
pub mod render;
pub mod run;
pub mod tour;

#[cfg(target_arch = "wasm32")]
pub mod web;
