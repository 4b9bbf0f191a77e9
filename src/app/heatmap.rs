//! Turning a density on a grid into a colour image: viridis (perceptually uniform, colour-blind safe) from the
//! `colorous` crate.

use egui::{Color32, ColorImage};

/// How density values map to colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorScale {
    /// Colour ∝ p(x), from 0 to the maximum on the grid.
    Linear,
    /// Colour ∝ log p(x), over the top `LOG_DECADES` decades below the maximum.
    Log,
}

/// Decades of density shown by [`ColorScale::Log`].
pub const LOG_DECADES: f64 = 4.0;

/// A density sampled on a grid, ready to be drawn.
pub struct DensityImage {
    pub image: ColorImage,
    /// The value at the bottom and at the top of the colour scale (density units).
    pub value_range: (f64, f64),
}

/// Maps `t` in [0, 1] to viridis.
pub fn viridis(t: f64) -> Color32 {
    let c = colorous::VIRIDIS.eval_continuous(t.clamp(0.0, 1.0));
    Color32::from_rgb(c.r, c.g, c.b)
}

/// Colours a row-major grid of log-densities (`nx` × `ny`, row 0 at the bottom, y_min) into an image whose top
/// row is the top of the box (y_max). Non-finite log-densities are treated as zero density.
pub fn density_image(log_density: &[f64], nx: usize, ny: usize, scale: ColorScale) -> DensityImage {
    let max_log = log_density
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    let mut pixels = Vec::with_capacity(nx * ny);
    let value_range;
    if !max_log.is_finite() {
        pixels.resize(nx * ny, viridis(0.0));
        value_range = (0.0, 0.0);
    } else {
        let floor_log = max_log - LOG_DECADES * std::f64::consts::LN_10;
        value_range = match scale {
            ColorScale::Linear => (0.0, max_log.exp()),
            ColorScale::Log => (floor_log.exp(), max_log.exp()),
        };
        for row in (0..ny).rev() {
            for col in 0..nx {
                let lp = log_density[row * nx + col];
                let t = if !lp.is_finite() {
                    0.0
                } else {
                    match scale {
                        ColorScale::Linear => (lp - max_log).exp(),
                        ColorScale::Log => ((lp - floor_log) / (max_log - floor_log)).max(0.0),
                    }
                };
                pixels.push(viridis(t));
            }
        }
    }
    DensityImage {
        image: ColorImage::new([nx, ny], pixels),
        value_range,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flips_rows_and_scales_to_the_maximum() {
        // 2×2 grid: bottom row densities 1 and e^-1, top row e^-2 and e^-inf.
        let grid = [0.0, -1.0, -2.0, f64::NEG_INFINITY];
        let img = density_image(&grid, 2, 2, ColorScale::Linear);
        assert_eq!(img.image.size, [2, 2]);
        // Top-left pixel of the image is the grid's top row (row 1), column 0: e^-2.
        assert_eq!(img.image.pixels[0], viridis((-2.0f64).exp()));
        // Bottom-left pixel is the maximum: the top of the colour scale.
        assert_eq!(img.image.pixels[2], viridis(1.0));
        assert_eq!(img.image.pixels[1], viridis(0.0));
        assert!((img.value_range.1 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn log_scale_spans_the_stated_decades() {
        let grid = [0.0, -LOG_DECADES * std::f64::consts::LN_10 / 2.0];
        let img = density_image(&grid, 2, 1, ColorScale::Log);
        assert_eq!(img.image.pixels[0], viridis(1.0));
        assert_eq!(img.image.pixels[1], viridis(0.5));
        assert!((img.value_range.0 - 10f64.powf(-LOG_DECADES)).abs() < 1e-12);
    }

    #[test]
    fn empty_density_gives_a_uniform_image_not_nan() {
        let grid = [f64::NEG_INFINITY; 4];
        let img = density_image(&grid, 2, 2, ColorScale::Linear);
        assert!(img.image.pixels.iter().all(|&p| p == viridis(0.0)));
    }
}
