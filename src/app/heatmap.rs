//! Turning a density on a grid into a colour image with a colour-blind-safe colormap ([`Colormap`], from the
//! `colorous` crate), and the colours drawn over each colormap (the model, the target's points).

use egui::{Color32, ColorImage};
use serde::{Deserialize, Serialize};

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

const MAGENTA: Color32 = Color32::from_rgb(255, 0, 255);
const CYAN: Color32 = Color32::from_rgb(80, 200, 255);

/// The colormaps a user can pick: all perceptually ordered and readable with the common colour-vision
/// deficiencies (rainbow maps such as turbo are left out on purpose). Low density is the start of the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Colormap {
    /// Dark blue to yellow.
    #[default]
    Viridis,
    /// Blue to yellow, designed for deuteranopes and protanopes.
    Cividis,
    /// Black through purple to pale yellow.
    Magma,
    /// Black through red to yellow.
    Inferno,
    /// Pale yellow through green to dark blue: zero density is near white, for light backgrounds and print.
    YellowGreenBlue,
}

impl Colormap {
    /// The same colormap for the render layer's figures (its colours are equal: `tests/render.rs`).
    pub fn to_render(self) -> crate::render::Colormap {
        match self {
            Self::Viridis => crate::render::Colormap::Viridis,
            Self::Cividis => crate::render::Colormap::Cividis,
            Self::Magma => crate::render::Colormap::Magma,
            Self::Inferno => crate::render::Colormap::Inferno,
            Self::YellowGreenBlue => crate::render::Colormap::YellowGreenBlue,
        }
    }

    pub const ALL: [Colormap; 5] = [
        Colormap::Viridis,
        Colormap::Cividis,
        Colormap::Magma,
        Colormap::Inferno,
        Colormap::YellowGreenBlue,
    ];

    pub fn gradient(self) -> colorous::Gradient {
        match self {
            Self::Viridis => colorous::VIRIDIS,
            Self::Cividis => colorous::CIVIDIS,
            Self::Magma => colorous::MAGMA,
            Self::Inferno => colorous::INFERNO,
            Self::YellowGreenBlue => colorous::YELLOW_GREEN_BLUE,
        }
    }

    /// Maps `t` in [0, 1] (clamped) to the colormap.
    pub fn eval(self, t: f64) -> Color32 {
        let c = self.gradient().eval_continuous(t.clamp(0.0, 1.0));
        Color32::from_rgb(c.r, c.g, c.b)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Viridis => "viridis",
            Self::Cividis => "cividis",
            Self::Magma => "magma",
            Self::Inferno => "inferno",
            Self::YellowGreenBlue => "yellow-green-blue (light)",
        }
    }

    /// The GPU path's table: 256 colours (RGBA in [0, 1]) sampled from the same gradient.
    pub fn table(self) -> Vec<[f32; 4]> {
        crate::gpu::heatmap::color_table(self.gradient())
    }

    /// The model's colour (particles, ellipses, the objective's curve): far from every colour of this map,
    /// also under simulated deuteranopia and protanopia (see the tests).
    pub fn model_color(self) -> Color32 {
        // Picked by the smallest CIELAB distance to the map under simulated colour-vision deficiencies
        // (coral, for instance, looks like viridis' yellow-green to a deuteranope).
        match self {
            Self::Viridis | Self::Cividis => MAGENTA,
            // Magma and inferno are black, purple, red and yellow: a light cyan stands apart.
            Self::Magma | Self::Inferno => CYAN,
            // Vermillion on pale yellow, green and dark blue.
            Self::YellowGreenBlue => Color32::from_rgb(230, 60, 20),
        }
    }

    /// The colour of the target's sample points.
    pub fn target_point_color(self) -> Color32 {
        match self {
            Self::Viridis | Self::Cividis | Self::YellowGreenBlue => Color32::BLACK,
            // Where the points are the map is pale yellow; blue also stays apart from the model's cyan.
            Self::Magma | Self::Inferno => Color32::from_rgb(60, 75, 255),
        }
    }
}

/// A density sampled on a grid, ready to be drawn.
pub struct DensityImage {
    pub image: ColorImage,
    /// The value at the bottom and at the top of the colour scale (density units).
    pub value_range: (f64, f64),
}

/// Colours a row-major grid of log-densities (`nx` × `ny`, row 0 at the bottom, y_min) into an image whose top
/// row is the top of the box (y_max). Non-finite log-densities are treated as zero density.
pub fn density_image(
    log_density: &[f64],
    nx: usize,
    ny: usize,
    scale: ColorScale,
    colormap: Colormap,
) -> DensityImage {
    let max_log = log_density
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    let mut pixels = Vec::with_capacity(nx * ny);
    let value_range;
    if !max_log.is_finite() {
        pixels.resize(nx * ny, colormap.eval(0.0));
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
                pixels.push(colormap.eval(t));
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
        let img = density_image(&grid, 2, 2, ColorScale::Linear, Colormap::Viridis);
        assert_eq!(img.image.size, [2, 2]);
        // Top-left pixel of the image is the grid's top row (row 1), column 0: e^-2.
        assert_eq!(img.image.pixels[0], Colormap::Viridis.eval((-2.0f64).exp()));
        // Bottom-left pixel is the maximum: the top of the colour scale.
        assert_eq!(img.image.pixels[2], Colormap::Viridis.eval(1.0));
        assert_eq!(img.image.pixels[1], Colormap::Viridis.eval(0.0));
        assert!((img.value_range.1 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn log_scale_spans_the_stated_decades() {
        let grid = [0.0, -LOG_DECADES * std::f64::consts::LN_10 / 2.0];
        let img = density_image(&grid, 2, 1, ColorScale::Log, Colormap::Viridis);
        assert_eq!(img.image.pixels[0], Colormap::Viridis.eval(1.0));
        assert_eq!(img.image.pixels[1], Colormap::Viridis.eval(0.5));
        assert!((img.value_range.0 - 10f64.powf(-LOG_DECADES)).abs() < 1e-12);
    }

    #[test]
    fn empty_density_gives_a_uniform_image_not_nan() {
        let grid = [f64::NEG_INFINITY; 4];
        let img = density_image(&grid, 2, 2, ColorScale::Linear, Colormap::Viridis);
        assert!(
            img.image
                .pixels
                .iter()
                .all(|&p| p == Colormap::Viridis.eval(0.0))
        );
    }
}

/// Colour distances for checking that the colours drawn over a colormap stand out on it (tests).
#[cfg(test)]
pub(crate) mod contrast {
    use egui::Color32;

    /// Colour-vision simulations (Machado, Oliveira & Fernandes 2009, severity 1), on linear RGB.
    pub const VISIONS: [(&str, [[f64; 3]; 3]); 4] = [
        (
            "normal",
            [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        ),
        (
            "protanopia",
            [
                [0.152286, 1.052583, -0.204868],
                [0.114503, 0.786281, 0.099216],
                [-0.003882, -0.048116, 1.051998],
            ],
        ),
        (
            "deuteranopia",
            [
                [0.367322, 0.860646, -0.227968],
                [0.280085, 0.672501, 0.047413],
                [-0.011820, 0.042940, 0.968881],
            ],
        ),
        (
            "tritanopia",
            [
                [1.255528, -0.076749, -0.178779],
                [-0.078411, 0.930809, 0.147602],
                [0.004733, 0.691367, 0.303900],
            ],
        ),
    ];

    fn linear(c: u8) -> f64 {
        let v = f64::from(c) / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    }

    /// CIELAB (D65) of `c` as seen with `vision`.
    pub fn lab(c: Color32, vision: &[[f64; 3]; 3]) -> [f64; 3] {
        let rgb = [linear(c.r()), linear(c.g()), linear(c.b())];
        let m =
            |row: &[f64; 3]| (row[0] * rgb[0] + row[1] * rgb[1] + row[2] * rgb[2]).clamp(0.0, 1.0);
        let [r, g, b] = [m(&vision[0]), m(&vision[1]), m(&vision[2])];
        let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
        let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
        let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
        let f = |t: f64| {
            if t > 0.008856 {
                t.cbrt()
            } else {
                7.787 * t + 16.0 / 116.0
            }
        };
        let (fx, fy, fz) = (f(x), f(y), f(z));
        [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
    }

    /// CIE76 ΔE between two colours as seen with `vision`.
    pub fn delta_e(a: Color32, b: Color32, vision: &[[f64; 3]; 3]) -> f64 {
        let (p, q) = (lab(a, vision), lab(b, vision));
        ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt()
    }

    /// The smallest ΔE between `accent` and any colour of `colormap`, over every simulated vision.
    pub fn min_delta_e(accent: Color32, colormap: super::Colormap) -> (f64, &'static str, f64) {
        let mut worst = (f64::INFINITY, "", 0.0);
        for (name, vision) in &VISIONS {
            for i in 0..=100 {
                let t = f64::from(i) / 100.0;
                let d = delta_e(accent, colormap.eval(t), vision);
                if d < worst.0 {
                    worst = (d, name, t);
                }
            }
        }
        worst
    }

    /// Every colour drawn over a heatmap differs from every colour of its colormap, and the model from the
    /// target's points, by at least a clearly visible CIELAB distance, for normal vision and simulated
    /// protanopia, deuteranopia and tritanopia.
    #[test]
    fn the_model_and_the_points_stand_out_on_every_colormap() {
        for cm in super::Colormap::ALL {
            for (what, accent) in [
                ("model", cm.model_color()),
                ("points", cm.target_point_color()),
            ] {
                let (d, vision, t) = min_delta_e(accent, cm);
                eprintln!("{cm:?} {what}: min delta E {d:.1} ({vision}, t = {t})");
                assert!(d >= 18.0, "{cm:?}: {what} {d:.1} ({vision}, t = {t})");
            }
            for (name, vision) in &VISIONS {
                let d = delta_e(cm.model_color(), cm.target_point_color(), vision);
                assert!(d >= 25.0, "{cm:?}: model vs points {d:.1} ({name})");
            }
        }
    }
}
