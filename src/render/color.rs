//! The colormaps of a figure's heatmap (from the `colorous` crate) and the colours drawn over them: the
//! same choices as the app's `app::heatmap::Colormap` (a test in `tests/render.rs` keeps them equal), and
//! the light and dark themes of the page around the plot.

use super::Rgba;

/// How density values map to colour: perceptually ordered, colour-blind-safe maps (low density first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Colormap {
    #[default]
    Viridis,
    Cividis,
    Magma,
    Inferno,
    /// Pale yellow through green to dark blue: zero density is near white (print).
    YellowGreenBlue,
}

const MAGENTA: Rgba = Rgba::rgb(255, 0, 255);
const CYAN: Rgba = Rgba::rgb(80, 200, 255);

impl Colormap {
    pub const ALL: [Colormap; 5] = [
        Colormap::Viridis,
        Colormap::Cividis,
        Colormap::Magma,
        Colormap::Inferno,
        Colormap::YellowGreenBlue,
    ];

    /// The name on the command line (`--colormap`).
    pub fn id(self) -> &'static str {
        match self {
            Self::Viridis => "viridis",
            Self::Cividis => "cividis",
            Self::Magma => "magma",
            Self::Inferno => "inferno",
            Self::YellowGreenBlue => "ygb",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.id() == s)
    }

    fn gradient(self) -> colorous::Gradient {
        match self {
            Self::Viridis => colorous::VIRIDIS,
            Self::Cividis => colorous::CIVIDIS,
            Self::Magma => colorous::MAGMA,
            Self::Inferno => colorous::INFERNO,
            Self::YellowGreenBlue => colorous::YELLOW_GREEN_BLUE,
        }
    }

    /// `t` in [0, 1] (clamped; NaN is 0) on the map.
    pub fn eval(self, t: f64) -> Rgba {
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        let c = self.gradient().eval_continuous(t);
        Rgba::rgb(c.r, c.g, c.b)
    }

    /// The model's colour (particles, ellipses): far from every colour of this map.
    pub fn model_color(self) -> Rgba {
        match self {
            Self::Viridis | Self::Cividis => MAGENTA,
            Self::Magma | Self::Inferno => CYAN,
            Self::YellowGreenBlue => Rgba::rgb(230, 60, 20),
        }
    }

    /// The colour of the target's sample points.
    pub fn target_point_color(self) -> Rgba {
        match self {
            Self::Viridis | Self::Cividis | Self::YellowGreenBlue => Rgba::rgb(0, 0, 0),
            Self::Magma | Self::Inferno => Rgba::rgb(60, 75, 255),
        }
    }
}

/// The page around the plots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Theme {
    #[default]
    Light,
    Dark,
}

impl Theme {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "light" => Some(Self::Light),
            "dark" => Some(Self::Dark),
            _ => None,
        }
    }

    pub fn background(self) -> Rgba {
        match self {
            Self::Light => Rgba::rgb(255, 255, 255),
            // egui's dark panel fill.
            Self::Dark => Rgba::rgb(27, 27, 27),
        }
    }

    pub fn text(self) -> Rgba {
        match self {
            Self::Light => Rgba::rgb(20, 20, 20),
            Self::Dark => Rgba::rgb(225, 225, 225),
        }
    }

    /// Axes, ticks and frames.
    pub fn ink(self) -> Rgba {
        match self {
            Self::Light => Rgba::rgb(60, 60, 60),
            Self::Dark => Rgba::rgb(170, 170, 170),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_ends_differ() {
        for c in Colormap::ALL {
            assert_eq!(Colormap::parse(c.id()), Some(c));
            assert_ne!(c.eval(0.0), c.eval(1.0));
            assert_eq!(c.eval(f64::NAN), c.eval(0.0));
        }
        assert_eq!(Theme::parse("dark"), Some(Theme::Dark));
        assert_eq!(Theme::parse("sepia"), None);
    }
}
