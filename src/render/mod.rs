//! Headless figures: a scene drawn from [`crate::run::Run`]s as data (a [`Figure`] of primitives), and two
//! writers of that data: PNG through a CPU rasterizer (`tiny-skia`, [`png`]) and SVG ([`svg`]).
//!
//! - [`scene`] lays out one panel per run (1, 2 side by side, or 2×2): the target's heatmap, the model as
//!   particles or as each component's 1σ and 2σ ellipses, axes with ticks and labels, a colour bar and a
//!   title (the method, the step and the objective's value).
//! - [`color`] holds the colormaps and the colours drawn over them (the same choices as the app's).
//! - [`text`] lays out and outlines glyphs of egui's bundled Ubuntu-Light font (read with `skrifa`), so a
//!   PNG needs no system font and looks the same on every machine.
//!
//! Everything here is pure: no file I/O, no window, no GPU. The same runs, size and options give the same
//! [`Figure`] and the same bytes (the rasterizer is deterministic on a given machine and build).

pub mod anim;
pub mod color;
pub mod overlays;
pub mod png;
pub mod scene;
pub mod svg;
pub mod text;

pub use color::{Colormap, Theme};
pub use scene::{Options, figure, figure_with};

/// A value with about five significant digits (an exponent outside 1e-3 to 1e5), as captions print it.
pub fn readable_value(v: f64) -> String {
    if v == 0.0 {
        "0".to_owned()
    } else if (1e-3..1e5).contains(&v.abs()) {
        let decimals = (4 - v.abs().log10().floor() as i32).clamp(0, 8) as usize;
        format!("{v:.decimals$}")
    } else {
        format!("{v:.4e}")
    }
}

/// The largest width or height of a written picture, in pixels (after `scale`).
pub const MAX_SIDE_PX: u32 = 16384;

/// A colour, straight (not premultiplied) sRGB with alpha.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgba(pub [u8; 4]);

impl Rgba {
    pub const fn rgb(r: u8, g: u8, b: u8) -> Self {
        Self([r, g, b, 255])
    }

    /// The same colour with its alpha multiplied by `f` (0 to 1).
    pub fn faded(self, f: f32) -> Self {
        let [r, g, b, a] = self.0;
        Self([r, g, b, (f32::from(a) * f.clamp(0.0, 1.0)).round() as u8])
    }

    /// `#rrggbb` (the alpha is written separately in SVG).
    pub fn hex(self) -> String {
        let [r, g, b, _] = self.0;
        format!("#{r:02x}{g:02x}{b:02x}")
    }

    pub fn alpha(self) -> f32 {
        f32::from(self.0[3]) / 255.0
    }
}

/// A rectangle in figure units (pixels at scale 1, y down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl Rect {
    pub fn new(x: f32, y: f32, w: f32, h: f32) -> Self {
        Self { x, y, w, h }
    }

    pub fn right(&self) -> f32 {
        self.x + self.w
    }

    pub fn bottom(&self) -> f32 {
        self.y + self.h
    }
}

/// Where a text's anchor point is along the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

/// What a group of marks is (the SVG writes it as the elements' `class`, so a document can style them and
/// tests can count them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Particle,
    TargetPoint,
    Ellipse1Sigma,
    Ellipse2Sigma,
    Axis,
    Tick,
    Frame,
    Colorbar,
    /// An overlay's line or arrow (plan, potential, witness, displacement, spread, q's contours).
    Overlay,
    /// A legend's swatch.
    Legend,
}

impl Role {
    pub fn class(self) -> &'static str {
        match self {
            Self::Particle => "particle",
            Self::TargetPoint => "target-point",
            Self::Ellipse1Sigma => "ellipse-1sigma",
            Self::Ellipse2Sigma => "ellipse-2sigma",
            Self::Axis => "axis",
            Self::Tick => "tick",
            Self::Frame => "frame",
            Self::Colorbar => "colorbar",
            Self::Overlay => "overlay",
            Self::Legend => "legend",
        }
    }
}

/// A raster: `width` × `height` straight RGBA pixels, top row first.
#[derive(Debug, Clone, PartialEq)]
pub struct Raster {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

/// One drawing primitive, in figure units.
#[derive(Debug, Clone, PartialEq)]
pub enum Prim {
    /// A filled and/or stroked rectangle.
    Rect {
        rect: Rect,
        fill: Option<Rgba>,
        stroke: Option<(Rgba, f32)>,
        role: Role,
    },
    /// A raster stretched over `rect`; `smooth` interpolates between its pixels (bilinear).
    Image {
        rect: Rect,
        raster: Raster,
        smooth: bool,
        /// What it is, for the SVG's `<title>` (e.g. "p (target density)").
        label: String,
    },
    /// Filled discs of one radius and colour (one SVG `<circle>` each).
    Circles {
        centers: Vec<[f32; 2]>,
        radius: f32,
        fill: Rgba,
        role: Role,
    },
    /// A stroked polyline.
    Polyline {
        points: Vec<[f32; 2]>,
        color: Rgba,
        width: f32,
        role: Role,
    },
    /// A stroked ellipse: centre, semi-axes and the rotation of the first axis (radians, clockwise on the
    /// page since y points down).
    Ellipse {
        center: [f32; 2],
        radii: [f32; 2],
        angle: f32,
        color: Rgba,
        width: f32,
        role: Role,
    },
    /// One line of text; `pos` is the anchor on the baseline. `vertical` turns it 90° anticlockwise about
    /// `pos` (a y-axis label).
    Text {
        pos: [f32; 2],
        text: String,
        size: f32,
        color: Rgba,
        anchor: Anchor,
        vertical: bool,
    },
    /// The primitives inside, clipped to `rect` (a panel's plot area).
    Clip { rect: Rect, items: Vec<Prim> },
}

/// A picture as data: its size in figure units, its background, and its primitives in drawing order.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub width: u32,
    pub height: u32,
    pub background: Rgba,
    pub items: Vec<Prim>,
}

impl Figure {
    /// Every primitive, depth first (the contents of clips included).
    pub fn walk(&self) -> Vec<&Prim> {
        fn go<'a>(items: &'a [Prim], out: &mut Vec<&'a Prim>) {
            for p in items {
                out.push(p);
                if let Prim::Clip { items, .. } = p {
                    go(items, out);
                }
            }
        }
        let mut out = Vec::new();
        go(&self.items, &mut out);
        out
    }
}

/// A file name's extension in lower case (none without one): what names a picture's or an animation's
/// format.
pub fn extension_of(path: &str) -> Option<String> {
    std::path::Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

/// The file formats a figure is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Svg,
}

impl Format {
    /// The format named by a file's extension (case-insensitive), or why none is.
    pub fn from_path(path: &str) -> Result<Self, String> {
        match extension_of(path).as_deref() {
            Some("png") => Ok(Self::Png),
            Some("svg") => Ok(Self::Svg),
            Some(other) => Err(format!(
                "{path}: unknown picture format .{other} (expected .png or .svg)"
            )),
            None => Err(format!(
                "{path}: no file extension to name the picture format (expected .png or .svg)"
            )),
        }
    }
}

/// Checks a figure size and scale before anything is computed: each side at least 1 and, after `scale`,
/// at most [`MAX_SIDE_PX`] pixels.
pub fn check_size(width: u32, height: u32, scale: f32) -> Result<(u32, u32), String> {
    if !(scale.is_finite() && scale > 0.0) {
        return Err(format!("scale {scale}: expected a number > 0"));
    }
    if width == 0 || height == 0 {
        return Err(format!(
            "size {width}×{height}: width and height must be at least 1 pixel"
        ));
    }
    let px = |v: u32| (v as f32 * scale).round();
    let (w, h) = (px(width), px(height));
    if w > MAX_SIDE_PX as f32 || h > MAX_SIDE_PX as f32 {
        return Err(format!(
            "size {width}×{height} at scale {scale} is {w}×{h} pixels: at most {MAX_SIDE_PX} a side"
        ));
    }
    if w < 1.0 || h < 1.0 {
        return Err(format!(
            "size {width}×{height} at scale {scale} is under one pixel"
        ));
    }
    Ok((w as u32, h as u32))
}

/// The figure written in `format` (`scale` multiplies the pixels of a PNG; an SVG keeps figure units and
/// the scale goes into its `width` and `height`).
pub fn encode(fig: &Figure, format: Format, scale: f32) -> Result<Vec<u8>, String> {
    check_size(fig.width, fig.height, scale)?;
    match format {
        Format::Png => png::encode(fig, scale),
        Format::Svg => Ok(svg::write(fig, scale).into_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_sizes_are_checked() {
        assert_eq!(Format::from_path("a/b.PNG"), Ok(Format::Png));
        assert_eq!(Format::from_path("b.svg"), Ok(Format::Svg));
        assert!(Format::from_path("b.jpg").is_err());
        assert!(Format::from_path("b").is_err());
        assert_eq!(check_size(640, 480, 2.0), Ok((1280, 960)));
        assert!(check_size(0, 480, 1.0).is_err());
        assert!(check_size(16385, 10, 1.0).is_err());
        assert!(check_size(10000, 10, 2.0).is_err());
        assert!(check_size(10, 10, 0.0).is_err());
        assert!(check_size(10, 10, f32::NAN).is_err());
        assert_eq!(check_size(16384, 1, 1.0), Ok((16384, 1)));
    }
}
