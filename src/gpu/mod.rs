//! wgpu compute backend: one WGSL file per kernel in `shaders/`, thin Rust wrappers, results checked against `core`.
