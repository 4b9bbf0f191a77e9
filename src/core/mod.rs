//! Pure numerics: targets, mixtures, divergences, flows, optimizers, scenarios.
//!
//! Rules for this room: no egui, no eframe, no wgpu, no I/O. Everything is deterministic from a
//! seed (see [`rng`]). f64 is the reference precision; f32 only in inner loops whose accuracy is
//! tested against an f64 path.

pub mod bw_vi;
pub mod claim;
pub mod closed_form;
pub mod dv;
pub mod em;
pub mod error;
pub mod exact_ot;
pub mod fdiv;
pub mod fit;
pub mod flows;
pub mod gaussian;
pub mod grid;
pub mod knn;
pub mod math;
pub mod measure;
pub mod mirror;
pub mod mixture;
pub mod mmd;
pub mod newton_ot;
pub mod optim;
pub mod orlicz;
pub mod params;
pub mod paths;
pub mod plan;
pub mod rng;
pub mod scenario;
pub mod sim;
pub mod sinkhorn;
pub mod sliced;
pub mod tails;
pub mod target;
