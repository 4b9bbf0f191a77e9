//! Packing of model parameters into the f32 layouts the WGSL kernels read, shared by the kernels
//! that take a mixture (`mixture_grid.wgsl`, `em.wgsl`).

use crate::core::mixture::Mixture;

/// f32 words per packed mixture component.
pub const COMP_STRIDE: usize = 8;

/// Packs a mixture for the kernel: per component
/// `[log w + log_norm, μx, μy, 1/l11, l21, 1/l22, 0, 0]`, log_norm = −ln 2π − ln l11 − ln l22.
pub fn pack_components(mix: &Mixture) -> Vec<f32> {
    let lw = mix.log_weights();
    let means = mix.means();
    let chol = mix.cholesky_factors();
    let mut out = Vec::with_capacity(lw.len() * COMP_STRIDE);
    for ((lw, m), l) in lw.iter().zip(&means).zip(&chol) {
        let log_norm = -crate::core::gaussian::LN_2PI - l[0].ln() - l[2].ln();
        out.extend_from_slice(&[
            (lw + log_norm) as f32,
            m[0] as f32,
            m[1] as f32,
            (1.0 / l[0]) as f32,
            l[1] as f32,
            (1.0 / l[2]) as f32,
            0.0,
            0.0,
        ]);
    }
    out
}
