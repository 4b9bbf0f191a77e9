//! Targets: the distribution p that the model is fitted to.
//!
//! A [`TargetSpec`] (what a scenario file holds) is built into a [`Target`]. Density targets carry
//! a NORMALIZED log-density, its score ∇ log p and an exact sampler; sample targets carry points.
//!
//! Normalization: every density below has a closed-form normalizer except `image`, which is
//! normalized numerically at build time (midpoint rule on a grid of ≥ 4 cells per pixel over the
//! box grown by its tail; the bilinear interpolant is integrated with a relative residual below
//! 1e-4, checked in the tests against a finer grid). "Smooth curve" targets (two moons, spiral)
//! are Gaussian mixtures with one isotropic component every σ of arc length along the curve (the
//! ripple of such a chain is ~1e-8 relative), so they are exactly normalized, exactly sampled,
//! and usable by the mixture closed forms (Cauchy–Schwarz, MMD).
//!
//! Scene boxes ([`Target::bbox`]) are chosen so that the mass outside is small;
//! [`Target::mass_outside_bbox`] measures it (see the table in the tests / report).

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::error::{CoreError, CoreResult};
use super::gaussian::{LN_2PI, Mat2, ln_diff_ndtr, ln_npdf, ndtr};
use super::grid::{BBox, Grid};
use super::math::{Vec2, exact_number, logsumexp};
use super::mixture::Mixture;
use super::params;
use super::rng::{Rng, index, ln_gamma_variate, normal, normal2, seeded, uniform};

/// A grayscale image handed to [`Target::build`] by the caller (core does no I/O).
/// Row-major, top row first, values ≥ 0; brighter = more mass (unless the spec says `invert`).
#[derive(Debug, Clone, PartialEq)]
pub struct GrayImage {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<f32>,
}

/// Two equal-weight isotropic modes at `(±separation/2, 0)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "snake_case")]
pub struct TwoModesSpec {
    pub separation: f64,
    pub std: f64,
    /// Weight of the left mode (the right one gets 1 − weight_left).
    pub weight_left: f64,
}
impl Default for TwoModesSpec {
    fn default() -> Self {
        Self {
            separation: 4.0,
            std: 0.5,
            weight_left: 0.5,
        }
    }
}

/// `modes` equal-weight isotropic modes evenly spaced on a circle of `radius`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "snake_case")]
pub struct Ring8Spec {
    pub modes: usize,
    pub radius: f64,
    pub std: f64,
}
impl Default for Ring8Spec {
    fn default() -> Self {
        Self {
            modes: 8,
            radius: 3.0,
            std: 0.3,
        }
    }
}

/// `per_side × per_side` equal-weight isotropic modes on a square lattice centred at the origin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "snake_case")]
pub struct Grid25Spec {
    pub per_side: usize,
    pub spacing: f64,
    pub std: f64,
}
impl Default for Grid25Spec {
    fn default() -> Self {
        Self {
            per_side: 5,
            spacing: 1.5,
            std: 0.2,
        }
    }
}

/// Any Gaussian mixture: weights (normalized at build), means, SPD covariances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "snake_case")]
pub struct GaussianMixtureSpec {
    pub weights: Vec<f64>,
    pub means: Vec<Vec2>,
    pub covariances: Vec<Mat2>,
}
impl Default for GaussianMixtureSpec {
    fn default() -> Self {
        Self {
            weights: vec![0.5, 0.3, 0.2],
            means: vec![[-1.5, -1.0], [1.5, -0.5], [0.0, 1.8]],
            covariances: vec![
                [[0.6, 0.3], [0.3, 0.4]],
                [[0.3, -0.2], [-0.2, 0.5]],
                [[0.8, 0.0], [0.0, 0.15]],
            ],
        }
    }
}

/// Banana: `x ~ N(0, sigma_x²)`, `y = curvature·(x² − sigma_x²) + sigma_y·ε`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "snake_case")]
pub struct BananaSpec {
    pub curvature: f64,
    pub sigma_x: f64,
    pub sigma_y: f64,
}
impl Default for BananaSpec {
    fn default() -> Self {
        Self {
            curvature: 0.5,
            sigma_x: 1.0,
            sigma_y: 0.4,
        }
    }
}

/// Two interleaved half circles (scikit-learn's layout, centred, scaled by `radius`), blurred by
/// an isotropic Gaussian of std `noise`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "snake_case")]
pub struct TwoMoonsSpec {
    pub radius: f64,
    pub noise: f64,
}
impl Default for TwoMoonsSpec {
    fn default() -> Self {
        Self {
            radius: 2.0,
            noise: 0.15,
        }
    }
}

/// Ring: `p(x) ∝ exp(−(|x| − radius)² / (2 width²))`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "snake_case")]
pub struct RingSpec {
    pub radius: f64,
    pub width: f64,
}
impl Default for RingSpec {
    fn default() -> Self {
        Self {
            radius: 2.5,
            width: 0.25,
        }
    }
}

/// Checkerboard of `cells × cells` squares of side `cell_size` centred at the origin; the squares
/// with even (row + column) carry uniform mass, blurred by an isotropic Gaussian of std `smoothing`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "snake_case")]
pub struct CheckerboardSpec {
    pub cells: usize,
    pub cell_size: f64,
    pub smoothing: f64,
}
impl Default for CheckerboardSpec {
    fn default() -> Self {
        Self {
            cells: 4,
            cell_size: 1.5,
            smoothing: 0.1,
        }
    }
}

/// Archimedean spiral `r = r_min + (r_max − r_min)·θ/(2π·turns)`, θ ∈ [0, 2π·turns], as a tube
/// of Gaussian std `width`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "snake_case")]
pub struct SpiralSpec {
    pub turns: f64,
    pub r_min: f64,
    pub r_max: f64,
    pub width: f64,
}
impl Default for SpiralSpec {
    fn default() -> Self {
        Self {
            turns: 1.5,
            r_min: 0.3,
            r_max: 3.5,
            width: 0.15,
        }
    }
}

/// Neal's funnel in 2D: `v ~ N(0, sigma_v²)` on the vertical axis, `x | v ~ N(0, e^v)` on the
/// horizontal one. Neal used sigma_v = 3; the default 1 keeps neck and mouth in one box.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "snake_case")]
pub struct FunnelSpec {
    pub sigma_v: f64,
}
impl Default for FunnelSpec {
    fn default() -> Self {
        Self { sigma_v: 1.0 }
    }
}

/// Dirichlet(α₁, α₂, α₃) on the 2-simplex, in the coordinates x = θ₁, y = θ₂ (θ₃ = 1 − x − y):
/// `p(x, y) = x^{α₁−1} y^{α₂−1} (1 − x − y)^{α₃−1} Γ(α₁ + α₂ + α₃) / (Γ(α₁) Γ(α₂) Γ(α₃))` on the open
/// triangle x > 0, y > 0, x + y < 1, and 0 outside it. An αₖ below 1 piles mass against the edge θₖ = 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "snake_case")]
pub struct DirichletSpec {
    pub alpha: [f64; 3],
}
impl Default for DirichletSpec {
    fn default() -> Self {
        Self {
            alpha: [2.0, 3.0, 4.0],
        }
    }
}

/// Where a density target is positive: the whole plane, or the open simplex of [`DirichletSpec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Support {
    Plane,
    Simplex,
}

impl Support {
    /// Whether `x` lies in the support (the simplex is open: its edges are outside).
    pub fn contains(self, x: Vec2) -> bool {
        match self {
            Self::Plane => x[0].is_finite() && x[1].is_finite(),
            Self::Simplex => x[0] > 0.0 && x[1] > 0.0 && 1.0 - x[0] - x[1] > 0.0,
        }
    }

    /// For messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Plane => "the plane",
            Self::Simplex => "the open simplex x > 0, y > 0, x + y < 1",
        }
    }
}

/// A density drawn from a grayscale image (pixels supplied by the caller), stretched over `bbox`,
/// bilinearly interpolated between pixel centres; `floor` (relative to the brightest pixel) keeps
/// the log-density finite; outside the box the density decays as a Gaussian of std
/// `tail_fraction × min(box width, height)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "snake_case")]
pub struct ImageSpec {
    /// Asset name or path (resolved by the caller, e.g. `assets/divlab.png`).
    pub asset: String,
    pub bbox: BBox,
    pub floor: f64,
    pub tail_fraction: f64,
    /// Use 1 − value (dark pixels carry the mass).
    pub invert: bool,
}
impl Default for ImageSpec {
    fn default() -> Self {
        Self {
            asset: "assets/target.png".into(),
            bbox: BBox::centered_square(3.0),
            floor: 1e-3,
            tail_fraction: 0.02,
            invert: false,
        }
    }
}

/// Points given inline (a CSV file is read by the caller, which fills `points`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default, rename_all = "snake_case")]
pub struct SamplesSpec {
    pub points: Vec<Vec2>,
    /// Where the points came from (for display), e.g. a CSV path.
    pub source: Option<String>,
}

/// What a scenario says the target is. `kind` selects the variant, the other fields are the
/// variant's parameters (all optional, with the defaults documented on each spec struct).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum TargetSpec {
    TwoModes(TwoModesSpec),
    Ring8(Ring8Spec),
    Grid25(Grid25Spec),
    GaussianMixture(GaussianMixtureSpec),
    Banana(BananaSpec),
    TwoMoons(TwoMoonsSpec),
    Ring(RingSpec),
    Checkerboard(CheckerboardSpec),
    Spiral(SpiralSpec),
    Funnel(FunnelSpec),
    Dirichlet(DirichletSpec),
    Image(ImageSpec),
    Samples(SamplesSpec),
}

impl Default for TargetSpec {
    fn default() -> Self {
        Self::TwoModes(TwoModesSpec::default())
    }
}

/// Checks `target.<field>` of the kind `kind` against its declaration in [`super::params`].
fn chk(kind: &str, field: &str, v: f64) -> CoreResult<()> {
    params::check_field("target", Some(kind), field, v).map(|_| ())
}

/// [`chk`] for a length the target squares into a variance: also refused when its square underflows.
fn chk_sq(kind: &str, field: &str, v: f64) -> CoreResult<()> {
    chk(kind, field, v)?;
    params::check_squared(&format!("target.{field}"), v)
}

/// Checks every number of a list field (`target.<field>[i]…`) against its declaration.
fn chk_all<'a>(
    kind: &str,
    field: &str,
    values: impl IntoIterator<Item = (String, &'a f64)>,
) -> CoreResult<()> {
    let d = params::lookup("target", Some(kind), field)
        .ok_or_else(|| CoreError::invalid(format!("target.{field}: no parameter declaration")))?;
    for (index, v) in values {
        d.check_as(&format!("target.{field}{index}"), *v)?;
    }
    Ok(())
}

/// `[i][j]` of every number of a list of points.
pub(crate) fn indexed_points(points: &[Vec2]) -> impl Iterator<Item = (String, &f64)> {
    points.iter().enumerate().flat_map(|(i, p)| {
        p.iter()
            .enumerate()
            .map(move |(j, v)| (format!("[{i}][{j}]"), v))
    })
}

/// `[i][r][c]` of every entry of a list of matrices.
pub(crate) fn indexed_matrices(ms: &[Mat2]) -> impl Iterator<Item = (String, &f64)> {
    ms.iter().enumerate().flat_map(|(i, m)| {
        m.iter().enumerate().flat_map(move |(r, row)| {
            row.iter()
                .enumerate()
                .map(move |(c, v)| (format!("[{i}][{r}][{c}]"), v))
        })
    })
}

/// `[i]` of every number of a list.
pub(crate) fn indexed(values: &[f64]) -> impl Iterator<Item = (String, &f64)> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("[{i}]"), v))
}

impl TargetSpec {
    /// The snake_case kind name.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::TwoModes(_) => "two_modes",
            Self::Ring8(_) => "ring8",
            Self::Grid25(_) => "grid25",
            Self::GaussianMixture(_) => "gaussian_mixture",
            Self::Banana(_) => "banana",
            Self::TwoMoons(_) => "two_moons",
            Self::Ring(_) => "ring",
            Self::Checkerboard(_) => "checkerboard",
            Self::Spiral(_) => "spiral",
            Self::Funnel(_) => "funnel",
            Self::Dirichlet(_) => "dirichlet",
            Self::Image(_) => "image",
            Self::Samples(_) => "samples",
        }
    }

    /// Checks every parameter against its declaration in [`super::params`] (ids `target.<kind>.<field>`);
    /// the error names `target.<field>`.
    pub fn validate(&self) -> CoreResult<()> {
        let k = self.kind_name();
        match self {
            Self::TwoModes(s) => {
                chk(k, "separation", s.separation)?;
                chk_sq(k, "std", s.std)?;
                chk(k, "weight_left", s.weight_left)?;
            }
            Self::Ring8(s) => {
                chk(k, "modes", s.modes as f64)?;
                chk(k, "radius", s.radius)?;
                chk_sq(k, "std", s.std)?;
            }
            Self::Grid25(s) => {
                chk(k, "per_side", s.per_side as f64)?;
                chk(k, "spacing", s.spacing)?;
                chk_sq(k, "std", s.std)?;
            }
            Self::GaussianMixture(s) => {
                chk_all(k, "weights", indexed(&s.weights))?;
                chk_all(k, "means", indexed_points(&s.means))?;
                chk_all(k, "covariances", indexed_matrices(&s.covariances))?;
                Mixture::from_components_any(&s.weights, &s.means, &s.covariances)
                    .map_err(|e| e.within("target"))?;
            }
            Self::Banana(s) => {
                chk(k, "curvature", s.curvature)?;
                chk_sq(k, "sigma_x", s.sigma_x)?;
                chk_sq(k, "sigma_y", s.sigma_y)?;
            }
            Self::TwoMoons(s) => {
                chk(k, "radius", s.radius)?;
                chk_sq(k, "noise", s.noise)?;
                if s.noise < s.radius * 1e-3 || s.noise >= s.radius {
                    return Err(CoreError::param(
                        "target.noise",
                        s.noise,
                        format!(
                            "[{}, {}) (at least radius/1000, below the radius)",
                            exact_number(s.radius * 1e-3),
                            exact_number(s.radius)
                        ),
                    ));
                }
            }
            Self::Ring(s) => {
                chk(k, "radius", s.radius)?;
                chk_sq(k, "width", s.width)?;
            }
            Self::Checkerboard(s) => {
                chk(k, "cells", s.cells as f64)?;
                chk(k, "cell_size", s.cell_size)?;
                chk_sq(k, "smoothing", s.smoothing)?;
            }
            Self::Spiral(s) => {
                chk(k, "turns", s.turns)?;
                chk(k, "r_min", s.r_min)?;
                chk(k, "r_max", s.r_max)?;
                if s.r_min >= s.r_max {
                    return Err(CoreError::param(
                        "target.r_min",
                        s.r_min,
                        format!("[0, {}) (below r_max)", exact_number(s.r_max)),
                    ));
                }
                chk_sq(k, "width", s.width)?;
                let n = spiral_length(s) / s.width;
                if n > 4096.0 {
                    return Err(CoreError::param(
                        "target.width",
                        s.width,
                        format!(
                            "[{}, ∞) (at most 4096 components along the spiral)",
                            exact_number(spiral_length(s) / 4096.0)
                        ),
                    ));
                }
            }
            Self::Funnel(s) => {
                chk_sq(k, "sigma_v", s.sigma_v)?;
            }
            Self::Dirichlet(s) => {
                chk_all(k, "alpha", indexed(&s.alpha))?;
            }
            Self::Image(s) => {
                s.bbox.validate().map_err(|e| e.within("target"))?;
                chk(k, "floor", s.floor)?;
                chk(k, "tail_fraction", s.tail_fraction)?;
            }
            Self::Samples(s) => {
                if s.points.is_empty() {
                    return Err(CoreError::invalid(
                        "target.points is empty: a sample target needs at least one point (a CSV file is read by the caller into `points`)",
                    ));
                }
                chk_all(k, "points", indexed_points(&s.points))?;
            }
        }
        Ok(())
    }
}

impl TargetSpec {
    /// How many terms one evaluation of the target's density sums, as [`Target::build`] makes them: the
    /// components of a mixture or of a curve's Gaussian chain (two moons, spiral: one every σ of arc length),
    /// the blurred squares of a checkerboard, 1 for the closed-form shapes and the image, and the points of a
    /// sample target. For the cost estimate ([`crate::run::cost`]); needs no build.
    pub fn terms_per_evaluation(&self) -> usize {
        let chain = |curves: &[Vec<Vec2>], sigma: f64| -> usize {
            curves
                .iter()
                .map(|c| (polyline_length(c) / sigma).ceil().clamp(1.0, 1e15) as usize)
                .sum()
        };
        match self {
            Self::TwoModes(_) => 2,
            Self::Ring8(s) => s.modes,
            Self::Grid25(s) => s.per_side.saturating_mul(s.per_side),
            Self::GaussianMixture(s) => s.weights.len(),
            Self::TwoMoons(s) => chain(&two_moons_curves(s), s.noise),
            Self::Spiral(s) => chain(&[spiral_curve(s)], s.width),
            Self::Checkerboard(s) => s.cells.saturating_mul(s.cells).div_ceil(2),
            Self::Banana(_)
            | Self::Ring(_)
            | Self::Funnel(_)
            | Self::Dirichlet(_)
            | Self::Image(_) => 1,
            Self::Samples(s) => s.points.len(),
        }
    }
}

/// A named default of every target kind (for the app's side panel and the docs).
pub fn presets() -> Vec<(&'static str, TargetSpec)> {
    let moons = TargetSpec::TwoMoons(TwoMoonsSpec::default());
    let points = Target::build(&moons, None)
        .map(|t| t.sample(300, &mut seeded(2024)))
        .unwrap_or_default();
    vec![
        ("two_modes", TargetSpec::TwoModes(TwoModesSpec::default())),
        ("ring8", TargetSpec::Ring8(Ring8Spec::default())),
        ("grid25", TargetSpec::Grid25(Grid25Spec::default())),
        (
            "gaussian_mixture",
            TargetSpec::GaussianMixture(GaussianMixtureSpec::default()),
        ),
        ("banana", TargetSpec::Banana(BananaSpec::default())),
        ("two_moons", moons),
        ("ring", TargetSpec::Ring(RingSpec::default())),
        (
            "checkerboard",
            TargetSpec::Checkerboard(CheckerboardSpec::default()),
        ),
        ("spiral", TargetSpec::Spiral(SpiralSpec::default())),
        ("funnel", TargetSpec::Funnel(FunnelSpec::default())),
        ("dirichlet", TargetSpec::Dirichlet(DirichletSpec::default())),
        ("image", TargetSpec::Image(ImageSpec::default())),
        (
            "samples",
            TargetSpec::Samples(SamplesSpec {
                points,
                source: Some("300 points drawn from two_moons, seed 2024".into()),
            }),
        ),
    ]
}

// ---------------------------------------------------------------------------------------------

/// The parametric shape behind a density target.
#[derive(Debug, Clone)]
enum Shape {
    Mixture(Mixture),
    Banana {
        b: f64,
        sx: f64,
        sy: f64,
    },
    Ring {
        r: f64,
        s: f64,
    },
    Checkerboard {
        /// Lower-left corners of the mass-carrying squares.
        corners: Vec<Vec2>,
        side: f64,
        sigma: f64,
    },
    Funnel {
        sv: f64,
    },
    Dirichlet {
        alpha: [f64; 3],
    },
    Image(ImageDensity),
}

#[derive(Debug, Clone)]
struct ImageDensity {
    width: usize,
    height: usize,
    /// Values in [0, 1] (divided by the maximum), row-major, top row first.
    values: Vec<f64>,
    bbox: BBox,
    floor: f64,
    tail_std: f64,
}

impl ImageDensity {
    /// (unnormalized log density, its gradient).
    fn log_unnorm_and_grad(&self, x: Vec2) -> (f64, Vec2) {
        let b = &self.bbox;
        let (w, h) = (self.width as f64, self.height as f64);
        let cx = x[0].clamp(b.x_min, b.x_max);
        let cy = x[1].clamp(b.y_min, b.y_max);
        // Continuous pixel coordinates (pixel centres at integers), clamped to the centre grid.
        let px_raw = (cx - b.x_min) / b.width() * w - 0.5;
        let py_raw = (b.y_max - cy) / b.height() * h - 0.5;
        let px = px_raw.clamp(0.0, w - 1.0);
        let py = py_raw.clamp(0.0, h - 1.0);
        let j0 = (px.floor() as usize).min(self.width - 2);
        let i0 = (py.floor() as usize).min(self.height - 2);
        let fx = px - j0 as f64;
        let fy = py - i0 as f64;
        let at = |i: usize, j: usize| self.values[i * self.width + j];
        let (v00, v01, v10, v11) = (
            at(i0, j0),
            at(i0, j0 + 1),
            at(i0 + 1, j0),
            at(i0 + 1, j0 + 1),
        );
        let v = (1.0 - fy) * ((1.0 - fx) * v00 + fx * v01) + fy * ((1.0 - fx) * v10 + fx * v11);
        let dv_dpx = (1.0 - fy) * (v01 - v00) + fy * (v11 - v10);
        let dv_dpy = (1.0 - fx) * (v10 - v00) + fx * (v11 - v01);
        let inside_x = x[0] > b.x_min && x[0] < b.x_max && px_raw > 0.0 && px_raw < w - 1.0;
        let inside_y = x[1] > b.y_min && x[1] < b.y_max && py_raw > 0.0 && py_raw < h - 1.0;
        let gx = if inside_x {
            dv_dpx * w / b.width()
        } else {
            0.0
        };
        let gy = if inside_y {
            -dv_dpy * h / b.height()
        } else {
            0.0
        };
        let vf = v + self.floor;
        let s2 = self.tail_std * self.tail_std;
        let d = [x[0] - cx, x[1] - cy];
        let tail = -(d[0] * d[0] + d[1] * d[1]) / (2.0 * s2);
        (vf.ln() + tail, [gx / vf - d[0] / s2, gy / vf - d[1] / s2])
    }
}

/// log p on one grid, shared by clones of a density target.
type GridCache = Arc<Mutex<Option<(Grid, Arc<Vec<f64>>)>>>;

/// A target with a known normalized density.
#[derive(Debug, Clone)]
pub struct DensityTarget {
    shape: Shape,
    /// ln of the normalizer subtracted from the shape's unnormalized log-density.
    log_z: f64,
    bbox: BBox,
    /// Cache of log p on the last grid asked for (shared by clones).
    grid_cache: GridCache,
}

impl DensityTarget {
    fn new(shape: Shape, log_z: f64, bbox: BBox) -> Self {
        Self {
            shape,
            log_z,
            bbox,
            grid_cache: Arc::new(Mutex::new(None)),
        }
    }

    fn log_unnorm(&self, x: Vec2) -> f64 {
        match &self.shape {
            Shape::Mixture(m) => m.log_density(x),
            Shape::Banana { b, sx, sy } => {
                let r = x[1] - b * (x[0] * x[0] - sx * sx);
                -LN_2PI - sx.ln() - sy.ln() - 0.5 * (x[0] * x[0] / (sx * sx) + r * r / (sy * sy))
            }
            Shape::Ring { r, s } => {
                let d = (x[0] * x[0] + x[1] * x[1]).sqrt() - r;
                -d * d / (2.0 * s * s)
            }
            Shape::Checkerboard {
                corners,
                side,
                sigma,
            } => {
                let terms: Vec<f64> = corners
                    .iter()
                    .map(|c| checker_square_log(x, *c, *side, *sigma).0)
                    .collect();
                logsumexp(&terms)
            }
            Shape::Funnel { sv } => {
                let v = x[1];
                -LN_2PI
                    - sv.ln()
                    - v * v / (2.0 * sv * sv)
                    - 0.5 * v
                    - 0.5 * x[0] * x[0] * (-v).exp()
            }
            Shape::Dirichlet { alpha } => {
                if !Support::Simplex.contains(x) {
                    return f64::NEG_INFINITY;
                }
                let t = [x[0], x[1], 1.0 - x[0] - x[1]];
                (0..3).map(|k| (alpha[k] - 1.0) * t[k].ln()).sum()
            }
            Shape::Image(im) => im.log_unnorm_and_grad(x).0,
        }
    }

    /// Where p is positive; outside it ln p = −∞ and the score is NaN (flows that follow the score check
    /// their particles against it, [`crate::core::flows::FlowTarget::support`]).
    pub fn support(&self) -> Support {
        match self.shape {
            Shape::Dirichlet { .. } => Support::Simplex,
            _ => Support::Plane,
        }
    }

    /// Normalized log p(x).
    pub fn log_density(&self, x: Vec2) -> f64 {
        self.log_unnorm(x) - self.log_z
    }

    /// ∇ₓ log p(x), analytic for every shape (the image's is the gradient of its bilinear
    /// interpolant, piecewise; the ring's is set to 0 at the origin where it is undefined).
    pub fn score(&self, x: Vec2) -> Vec2 {
        match &self.shape {
            Shape::Mixture(m) => m.score(x),
            Shape::Banana { b, sx, sy } => {
                let r = x[1] - b * (x[0] * x[0] - sx * sx);
                [
                    -x[0] / (sx * sx) + r / (sy * sy) * 2.0 * b * x[0],
                    -r / (sy * sy),
                ]
            }
            Shape::Ring { r, s } => {
                let n = (x[0] * x[0] + x[1] * x[1]).sqrt();
                if n == 0.0 {
                    return [0.0, 0.0];
                }
                let k = -(n - r) / (s * s * n);
                [k * x[0], k * x[1]]
            }
            Shape::Checkerboard {
                corners,
                side,
                sigma,
            } => {
                let parts: Vec<(f64, Vec2)> = corners
                    .iter()
                    .map(|c| checker_square_log(x, *c, *side, *sigma))
                    .collect();
                let logs: Vec<f64> = parts.iter().map(|p| p.0).collect();
                let l = logsumexp(&logs);
                parts.iter().fold([0.0, 0.0], |acc, (lv, g)| {
                    let r = (lv - l).exp();
                    [acc[0] + r * g[0], acc[1] + r * g[1]]
                })
            }
            Shape::Funnel { sv } => {
                let v = x[1];
                let e = (-v).exp();
                [-x[0] * e, -v / (sv * sv) - 0.5 + 0.5 * x[0] * x[0] * e]
            }
            Shape::Dirichlet { alpha } => {
                if !Support::Simplex.contains(x) {
                    return [f64::NAN, f64::NAN];
                }
                let t3 = 1.0 - x[0] - x[1];
                let last = (alpha[2] - 1.0) / t3;
                [
                    (alpha[0] - 1.0) / x[0] - last,
                    (alpha[1] - 1.0) / x[1] - last,
                ]
            }
            Shape::Image(im) => im.log_unnorm_and_grad(x).1,
        }
    }

    /// `n` exact samples (the image by rejection from the box grown by 6 tail std, which leaves
    /// out a mass below e⁻¹⁸ of the tail).
    pub fn sample(&self, n: usize, rng: &mut Rng) -> Vec<Vec2> {
        match &self.shape {
            Shape::Mixture(m) => m.sample(n, rng),
            Shape::Banana { b, sx, sy } => (0..n)
                .map(|_| {
                    let e = normal2(rng);
                    let x = sx * e[0];
                    [x, b * (x * x - sx * sx) + sy * e[1]]
                })
                .collect(),
            Shape::Ring { r, s } => (0..n)
                .map(|_| {
                    // Radius density ∝ ρ N(ρ; r, s²) on ρ > 0: propose N(r, s²) truncated to
                    // (0, r + 12 s], accept with ρ / (r + 12 s).
                    let rho_max = r + 12.0 * s;
                    let rho = loop {
                        let rho = r + s * normal(rng);
                        if rho > 0.0 && rho <= rho_max && uniform(rng) * rho_max < rho {
                            break rho;
                        }
                    };
                    let t = std::f64::consts::TAU * uniform(rng);
                    [rho * t.cos(), rho * t.sin()]
                })
                .collect(),
            Shape::Checkerboard {
                corners,
                side,
                sigma,
            } => (0..n)
                .map(|_| {
                    let c = corners[index(rng, corners.len())];
                    let e = normal2(rng);
                    [
                        c[0] + side * uniform(rng) + sigma * e[0],
                        c[1] + side * uniform(rng) + sigma * e[1],
                    ]
                })
                .collect(),
            Shape::Funnel { sv } => (0..n)
                .map(|_| {
                    let e = normal2(rng);
                    let v = sv * e[1];
                    [(0.5 * v).exp() * e[0], v]
                })
                .collect(),
            Shape::Dirichlet { alpha } => (0..n)
                .map(|_| {
                    // θₖ = Gₖ / ΣG with Gₖ ~ Gamma(αₖ), normalized in logs.
                    let g: Vec<f64> = alpha.iter().map(|a| ln_gamma_variate(rng, *a)).collect();
                    let l = logsumexp(&g);
                    [(g[0] - l).exp(), (g[1] - l).exp()]
                })
                .collect(),
            Shape::Image(im) => {
                let b = im.bbox.expanded(6.0 * im.tail_std);
                // Bound of the unnormalized density: max value 1 plus the floor.
                let ln_m = (1.0 + im.floor).ln();
                let mut out = Vec::with_capacity(n);
                while out.len() < n {
                    let x = [
                        b.x_min + uniform(rng) * b.width(),
                        b.y_min + uniform(rng) * b.height(),
                    ];
                    let l = im.log_unnorm_and_grad(x).0;
                    if uniform(rng).ln() < l - ln_m {
                        out.push(x);
                    }
                }
                out
            }
        }
    }

    /// The target as a Gaussian mixture, when it is one (mixture presets, two moons, spiral).
    pub fn as_mixture(&self) -> Option<&Mixture> {
        match &self.shape {
            Shape::Mixture(m) => Some(m),
            _ => None,
        }
    }

    /// The scene box.
    pub fn bbox(&self) -> BBox {
        self.bbox
    }

    /// log p at every cell centre of `grid` (row-major), cached for the last grid asked for.
    pub fn log_density_on_grid(&self, grid: &Grid) -> Arc<Vec<f64>> {
        if let Ok(guard) = self.grid_cache.lock()
            && let Some((g, v)) = guard.as_ref()
            && g == grid
        {
            return Arc::clone(v);
        }
        let v = Arc::new(grid.eval(|x| self.log_density(x)));
        if let Ok(mut guard) = self.grid_cache.lock() {
            *guard = Some((*grid, Arc::clone(&v)));
        }
        v
    }
}

/// ln of the blurred square's density (uniform on the square ⊛ N(0, σ²I)), and its x-gradient.
fn checker_square_log(x: Vec2, corner: Vec2, side: f64, sigma: f64) -> (f64, Vec2) {
    let mut l = -2.0 * side.ln();
    let mut g = [0.0; 2];
    for d in 0..2 {
        let u = (x[d] - corner[d]) / sigma;
        let v = u - side / sigma;
        let ld = ln_diff_ndtr(u, v);
        l += ld;
        g[d] = ((ln_npdf(u) - ld).exp() - (ln_npdf(v) - ld).exp()) / sigma;
    }
    (l, g)
}

/// Equal-arc-length Gaussian chain along polylines: one isotropic component of std `sigma`
/// every `sigma` of arc length; weights ∝ arc length.
fn curve_mixture(curves: &[Vec<Vec2>], sigma: f64) -> CoreResult<Mixture> {
    let mut weights = Vec::new();
    let mut means = Vec::new();
    let total: f64 = curves.iter().map(|c| polyline_length(c)).sum();
    for c in curves {
        let len = polyline_length(c);
        let m = (len / sigma).ceil().max(1.0) as usize;
        let mut cum = vec![0.0];
        for w in c.windows(2) {
            let seg = ((w[1][0] - w[0][0]).powi(2) + (w[1][1] - w[0][1]).powi(2)).sqrt();
            cum.push(cum[cum.len() - 1] + seg);
        }
        let mut seg = 0;
        for i in 0..m {
            let s = (i as f64 + 0.5) * len / m as f64;
            while seg + 2 < cum.len() && cum[seg + 1] < s {
                seg += 1;
            }
            let span = (cum[seg + 1] - cum[seg]).max(1e-300);
            let t = ((s - cum[seg]) / span).clamp(0.0, 1.0);
            let a = c[seg];
            let b = c[seg + 1];
            means.push([a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]);
            weights.push(len / m as f64 / total);
        }
    }
    let covs = vec![[[sigma * sigma, 0.0], [0.0, sigma * sigma]]; means.len()];
    Mixture::from_components_any(&weights, &means, &covs)
}

fn polyline_length(c: &[Vec2]) -> f64 {
    c.windows(2)
        .map(|w| ((w[1][0] - w[0][0]).powi(2) + (w[1][1] - w[0][1]).powi(2)).sqrt())
        .sum()
}

fn spiral_curve(s: &SpiralSpec) -> Vec<Vec2> {
    let n = 4000;
    let theta_max = std::f64::consts::TAU * s.turns;
    (0..=n)
        .map(|i| {
            let t = theta_max * i as f64 / n as f64;
            let r = s.r_min + (s.r_max - s.r_min) * t / theta_max;
            [r * t.cos(), r * t.sin()]
        })
        .collect()
}

fn spiral_length(s: &SpiralSpec) -> f64 {
    polyline_length(&spiral_curve(s))
}

fn two_moons_curves(s: &TwoMoonsSpec) -> Vec<Vec<Vec2>> {
    let n = 2000;
    let r = s.radius;
    let outer = (0..=n)
        .map(|i| {
            let t = std::f64::consts::PI * i as f64 / n as f64;
            [r * (t.cos() - 0.5), r * (t.sin() - 0.25)]
        })
        .collect();
    let inner = (0..=n)
        .map(|i| {
            let t = std::f64::consts::PI * i as f64 / n as f64;
            [r * (1.0 - t.cos() - 0.5), r * (0.5 - t.sin() - 0.25)]
        })
        .collect();
    vec![outer, inner]
}

/// The fields of a target kind its scene box is derived from (the first is the one an error points at),
/// with their values.
fn box_fields(spec: &TargetSpec) -> Vec<(&'static str, String)> {
    let n = |v: f64| exact_number(v);
    match spec {
        TargetSpec::TwoModes(s) => vec![("separation", n(s.separation)), ("std", n(s.std))],
        TargetSpec::Ring8(s) => vec![("radius", n(s.radius)), ("std", n(s.std))],
        TargetSpec::Grid25(s) => vec![
            ("spacing", n(s.spacing)),
            ("per_side", s.per_side.to_string()),
            ("std", n(s.std)),
        ],
        TargetSpec::GaussianMixture(_) => {
            vec![("means", String::new()), ("covariances", String::new())]
        }
        TargetSpec::Banana(s) => vec![
            ("sigma_x", n(s.sigma_x)),
            ("curvature", n(s.curvature)),
            ("sigma_y", n(s.sigma_y)),
        ],
        TargetSpec::TwoMoons(s) => vec![("radius", n(s.radius)), ("noise", n(s.noise))],
        TargetSpec::Ring(s) => vec![("radius", n(s.radius)), ("width", n(s.width))],
        TargetSpec::Checkerboard(s) => vec![
            ("cell_size", n(s.cell_size)),
            ("cells", s.cells.to_string()),
            ("smoothing", n(s.smoothing)),
        ],
        TargetSpec::Spiral(s) => vec![("r_max", n(s.r_max)), ("width", n(s.width))],
        TargetSpec::Funnel(s) => vec![("sigma_v", n(s.sigma_v))],
        TargetSpec::Dirichlet(_) => vec![("alpha", String::new())],
        TargetSpec::Image(_) => vec![("bbox", String::new()), ("tail_fraction", String::new())],
        TargetSpec::Samples(_) => vec![("points", String::new())],
    }
}

/// The error for a derived scene box outside the coordinates' range, naming the user's fields.
fn derived_box_error(spec: &TargetSpec, b: &BBox) -> CoreError {
    let fields = box_fields(spec);
    let first = fields.first().map_or("kind", |f| f.0);
    let listed: Vec<String> = fields
        .iter()
        .map(|(f, v)| {
            if v.is_empty() {
                format!("target.{f}")
            } else {
                format!("target.{f} = {v}")
            }
        })
        .collect();
    CoreError::field(
        format!("target.{first}"),
        format!(
            "the scene box derived from {} is [{}, {}] × [{}, {}], not a valid box (each edge within [-1000000, 1000000], below the opposite one): make the target smaller",
            listed.join(", "),
            b.x_min,
            b.x_max,
            b.y_min,
            b.y_max
        ),
    )
}

/// Union of the components' ±5σ boxes, grown to a square about its centre.
fn mixture_bbox(m: &Mixture) -> BBox {
    let mut b = BBox::new(
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for (mu, c) in m.means().iter().zip(m.covariances()) {
        let (sx, sy) = (c[0][0].sqrt(), c[1][1].sqrt());
        b.x_min = b.x_min.min(mu[0] - 5.0 * sx);
        b.x_max = b.x_max.max(mu[0] + 5.0 * sx);
        b.y_min = b.y_min.min(mu[1] - 5.0 * sy);
        b.y_max = b.y_max.max(mu[1] + 5.0 * sy);
    }
    square_about_center(b)
}

fn square_about_center(b: BBox) -> BBox {
    let c = b.center();
    let h = 0.5 * b.width().max(b.height());
    BBox::new(c[0] - h, c[0] + h, c[1] - h, c[1] + h)
}

#[derive(Debug, Clone)]
enum TargetKind {
    Density(DensityTarget),
    Samples(Vec<Vec2>),
}

/// A built target.
#[derive(Debug, Clone)]
pub struct Target {
    name: String,
    bbox: BBox,
    kind: TargetKind,
}

impl Target {
    /// Builds a target; `image` must be given for `TargetSpec::Image` (the caller decodes the PNG).
    pub fn build(spec: &TargetSpec, image: Option<&GrayImage>) -> CoreResult<Target> {
        let t = Self::build_unchecked_box(spec, image)?;
        // The scene box is derived from the user's fields: a box out of range names them, not `bbox.*`.
        if t.bbox.validate().is_err() {
            return Err(derived_box_error(spec, &t.bbox));
        }
        Ok(t)
    }

    fn build_unchecked_box(spec: &TargetSpec, image: Option<&GrayImage>) -> CoreResult<Target> {
        spec.validate()?;
        let name = spec.kind_name().to_string();
        let mixture_target = |m: Mixture, name: String| {
            let bbox = mixture_bbox(&m);
            Target {
                name,
                bbox,
                kind: TargetKind::Density(DensityTarget::new(Shape::Mixture(m), 0.0, bbox)),
            }
        };
        let iso = |s: f64| [[s * s, 0.0], [0.0, s * s]];
        Ok(match spec {
            TargetSpec::TwoModes(s) => {
                let h = 0.5 * s.separation;
                let m = Mixture::from_components_any(
                    &[s.weight_left, 1.0 - s.weight_left],
                    &[[-h, 0.0], [h, 0.0]],
                    &[iso(s.std), iso(s.std)],
                )?;
                mixture_target(m, name)
            }
            TargetSpec::Ring8(s) => {
                let means: Vec<Vec2> = (0..s.modes)
                    .map(|i| {
                        let t = std::f64::consts::TAU * i as f64 / s.modes as f64;
                        [s.radius * t.cos(), s.radius * t.sin()]
                    })
                    .collect();
                let m = Mixture::from_components_any(
                    &vec![1.0; s.modes],
                    &means,
                    &vec![iso(s.std); s.modes],
                )?;
                mixture_target(m, name)
            }
            TargetSpec::Grid25(s) => {
                let k = s.per_side;
                let off = 0.5 * (k as f64 - 1.0) * s.spacing;
                let means: Vec<Vec2> = (0..k * k)
                    .map(|i| {
                        [
                            (i % k) as f64 * s.spacing - off,
                            (i / k) as f64 * s.spacing - off,
                        ]
                    })
                    .collect();
                let m = Mixture::from_components_any(
                    &vec![1.0; k * k],
                    &means,
                    &vec![iso(s.std); k * k],
                )?;
                mixture_target(m, name)
            }
            TargetSpec::GaussianMixture(s) => {
                let m = Mixture::from_components_any(&s.weights, &s.means, &s.covariances)?;
                mixture_target(m, name)
            }
            TargetSpec::TwoMoons(s) => {
                let m = curve_mixture(&two_moons_curves(s), s.noise)?;
                let (r, n) = (s.radius, s.noise);
                let bbox = square_about_center(BBox::new(
                    -1.5 * r - 5.0 * n,
                    1.5 * r + 5.0 * n,
                    -0.75 * r - 5.0 * n,
                    0.75 * r + 5.0 * n,
                ));
                Target {
                    name,
                    bbox,
                    kind: TargetKind::Density(DensityTarget::new(Shape::Mixture(m), 0.0, bbox)),
                }
            }
            TargetSpec::Spiral(s) => {
                let m = curve_mixture(&[spiral_curve(s)], s.width)?;
                let bbox = BBox::centered_square(s.r_max + 5.0 * s.width);
                Target {
                    name,
                    bbox,
                    kind: TargetKind::Density(DensityTarget::new(Shape::Mixture(m), 0.0, bbox)),
                }
            }
            TargetSpec::Banana(s) => {
                let (b, sx, sy) = (s.curvature, s.sigma_x, s.sigma_y);
                let top = b * 15.0 * sx * sx;
                let bottom = -b * sx * sx;
                let bbox = BBox::new(
                    -4.0 * sx,
                    4.0 * sx,
                    top.min(bottom) - 5.0 * sy,
                    top.max(bottom) + 5.0 * sy,
                );
                Target {
                    name,
                    bbox,
                    kind: TargetKind::Density(DensityTarget::new(
                        Shape::Banana { b, sx, sy },
                        0.0,
                        bbox,
                    )),
                }
            }
            TargetSpec::Ring(s) => {
                let (r, w) = (s.radius, s.width);
                // Z = 2π w [r √(2π) Φ(r/w) + w e^{−r²/(2w²)}].
                let z = std::f64::consts::TAU
                    * w
                    * (r * (std::f64::consts::TAU).sqrt() * ndtr(r / w)
                        + w * (-r * r / (2.0 * w * w)).exp());
                let bbox = BBox::centered_square(r + 5.0 * w);
                Target {
                    name,
                    bbox,
                    kind: TargetKind::Density(DensityTarget::new(
                        Shape::Ring { r, s: w },
                        z.ln(),
                        bbox,
                    )),
                }
            }
            TargetSpec::Checkerboard(s) => {
                let half = 0.5 * s.cells as f64 * s.cell_size;
                let mut corners = Vec::new();
                for i in 0..s.cells {
                    for j in 0..s.cells {
                        if (i + j) % 2 == 0 {
                            corners.push([
                                -half + j as f64 * s.cell_size,
                                -half + i as f64 * s.cell_size,
                            ]);
                        }
                    }
                }
                let log_z = (corners.len() as f64).ln();
                let bbox = BBox::centered_square(half + 5.0 * s.smoothing);
                Target {
                    name,
                    bbox,
                    kind: TargetKind::Density(DensityTarget::new(
                        Shape::Checkerboard {
                            corners,
                            side: s.cell_size,
                            sigma: s.smoothing,
                        },
                        log_z,
                        bbox,
                    )),
                }
            }
            TargetSpec::Funnel(s) => {
                let sv = s.sigma_v;
                let bbox = BBox::new(-3.0 * sv.exp(), 3.0 * sv.exp(), -3.5 * sv, 3.5 * sv);
                Target {
                    name,
                    bbox,
                    kind: TargetKind::Density(DensityTarget::new(Shape::Funnel { sv }, 0.0, bbox)),
                }
            }
            TargetSpec::Dirichlet(s) => {
                let alpha = s.alpha;
                let log_z = alpha.iter().map(|a| libm::lgamma(*a)).sum::<f64>()
                    - libm::lgamma(alpha.iter().sum());
                let bbox = BBox::new(-0.1, 1.1, -0.1, 1.1);
                Target {
                    name,
                    bbox,
                    kind: TargetKind::Density(DensityTarget::new(
                        Shape::Dirichlet { alpha },
                        log_z,
                        bbox,
                    )),
                }
            }
            TargetSpec::Image(s) => {
                let img = image.ok_or_else(|| {
                    CoreError::invalid(format!(
                        "target image '{}' was not supplied: the caller must decode it and pass its pixels",
                        s.asset
                    ))
                })?;
                let im = build_image_density(img, s)?;
                let outer = s.bbox.expanded(6.0 * im.tail_std);
                let n = (4 * img.width.max(img.height)).clamp(512, 2048);
                let grid = Grid::square(outer, n)?;
                let z = grid.integrate(|x| im.log_unnorm_and_grad(x).0.exp());
                if !(z.is_finite() && z > 0.0) {
                    return Err(CoreError::non_finite("image normalizer"));
                }
                // The scene box is the image's box grown by 4 tail std (the tail holds the rest).
                let bbox = s.bbox.expanded(4.0 * im.tail_std);
                Target {
                    name: format!("image ({})", s.asset),
                    bbox,
                    kind: TargetKind::Density(DensityTarget::new(Shape::Image(im), z.ln(), bbox)),
                }
            }
            TargetSpec::Samples(s) => Self::from_samples(s.points.clone())?,
        })
    }

    /// A sample target from points (e.g. read from a CSV by the caller). The box is the points'
    /// bounding box grown by 10% of its size on each side (at least 0.5).
    pub fn from_samples(points: Vec<Vec2>) -> CoreResult<Target> {
        TargetSpec::Samples(SamplesSpec {
            points: points.clone(),
            source: None,
        })
        .validate()?;
        let mut b = BBox::new(
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        );
        for p in &points {
            b.x_min = b.x_min.min(p[0]);
            b.x_max = b.x_max.max(p[0]);
            b.y_min = b.y_min.min(p[1]);
            b.y_max = b.y_max.max(p[1]);
        }
        let m = (0.1 * b.width().max(b.height())).max(0.5);
        Ok(Target {
            name: format!("samples ({} points)", points.len()),
            bbox: square_about_center(b.expanded(m)),
            kind: TargetKind::Samples(points),
        })
    }

    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// The density, or `None` for a sample target.
    pub fn density(&self) -> Option<&DensityTarget> {
        match &self.kind {
            TargetKind::Density(d) => Some(d),
            TargetKind::Samples(_) => None,
        }
    }

    /// The points of a sample target, or `None` for a density target.
    pub fn points(&self) -> Option<&[Vec2]> {
        match &self.kind {
            TargetKind::Density(_) => None,
            TargetKind::Samples(p) => Some(p),
        }
    }

    /// Exact samples; a sample target resamples its points with replacement.
    pub fn sample(&self, n: usize, rng: &mut Rng) -> Vec<Vec2> {
        match &self.kind {
            TargetKind::Density(d) => d.sample(n, rng),
            TargetKind::Samples(p) => (0..n).map(|_| p[index(rng, p.len())]).collect(),
        }
    }

    /// The scene box (mass outside is small, see [`Self::mass_outside_bbox`]).
    pub fn bbox(&self) -> BBox {
        self.bbox
    }

    /// 1 − ∫_box p by the midpoint rule on a `resolution²` grid (density targets), or the
    /// fraction of points outside (sample targets, always 0 by construction).
    pub fn mass_outside_bbox(&self, resolution: usize) -> CoreResult<f64> {
        match &self.kind {
            // The simplex lies inside its box [-0.1, 1.1]²: no mass outside, exactly (the midpoint rule
            // would only measure its own error at the edges, where an αₖ < 1 density is unbounded).
            TargetKind::Density(d) if d.support() == Support::Simplex => Ok(0.0),
            TargetKind::Density(d) => {
                let g = Grid::square(self.bbox, resolution)?;
                Ok(1.0 - g.integrate(|x| d.log_density(x).exp()))
            }
            TargetKind::Samples(p) => {
                Ok(p.iter().filter(|x| !self.bbox.contains(**x)).count() as f64 / p.len() as f64)
            }
        }
    }
}

fn build_image_density(img: &GrayImage, s: &ImageSpec) -> CoreResult<ImageDensity> {
    if img.width < 2 || img.height < 2 {
        return Err(CoreError::invalid(format!(
            "target image is {}×{} pixels, needs at least 2×2",
            img.width, img.height
        )));
    }
    if img.pixels.len() != img.width * img.height {
        return Err(CoreError::invalid(format!(
            "target image has {} pixels, width × height = {}",
            img.pixels.len(),
            img.width * img.height
        )));
    }
    if let Some(i) = img
        .pixels
        .iter()
        .position(|v| !(v.is_finite() && *v >= 0.0))
    {
        return Err(CoreError::param(
            format!("image pixel {i}"),
            img.pixels[i] as f64,
            "[0, ∞)",
        ));
    }
    let max = img.pixels.iter().copied().fold(0.0f32, f32::max) as f64;
    if max <= 0.0 {
        return Err(CoreError::invalid("target image is all black (no mass)"));
    }
    let values = img
        .pixels
        .iter()
        .map(|&v| {
            let v = v as f64 / max;
            if s.invert { 1.0 - v } else { v }
        })
        .collect();
    Ok(ImageDensity {
        width: img.width,
        height: img.height,
        values,
        bbox: s.bbox,
        floor: s.floor,
        tail_std: s.tail_fraction * s.bbox.width().min(s.bbox.height()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_image() -> GrayImage {
        let (w, h) = (24, 16);
        let pixels = (0..w * h)
            .map(|k| {
                let (i, j) = (k / w, k % w);
                let x = j as f32 / w as f32 - 0.5;
                let y = i as f32 / h as f32 - 0.5;
                (1.0 - 8.0 * (x * x + 2.0 * y * y)).max(0.0)
                    + if (i + j) % 5 == 0 { 0.3 } else { 0.0 }
            })
            .collect();
        GrayImage {
            width: w,
            height: h,
            pixels,
        }
    }

    fn all_targets() -> Vec<Target> {
        let img = test_image();
        presets()
            .into_iter()
            .map(|(_, spec)| Target::build(&spec, Some(&img)).unwrap())
            .collect()
    }

    #[test]
    fn every_preset_builds_validates_and_round_trips_json() {
        for (name, spec) in presets() {
            spec.validate().unwrap();
            let s = serde_json::to_string(&spec).unwrap();
            let back: TargetSpec = serde_json::from_str(&s).unwrap();
            match (&back, &spec) {
                // serde_json's default float parsing may differ from the written value by 1 ulp.
                (TargetSpec::Samples(a), TargetSpec::Samples(b)) => {
                    assert_eq!(a.points.len(), b.points.len());
                    for (p, q) in a.points.iter().zip(&b.points) {
                        assert!((p[0] - q[0]).abs() < 1e-12 && (p[1] - q[1]).abs() < 1e-12);
                    }
                }
                _ => assert_eq!(back, spec, "{name}"),
            }
            assert_eq!(spec.kind_name(), name);
        }
        let defaults: TargetSpec = serde_json::from_str(r#"{"kind":"banana"}"#).unwrap();
        assert_eq!(defaults, TargetSpec::Banana(BananaSpec::default()));
        let bad = TargetSpec::Ring(RingSpec {
            radius: 1.0,
            width: -1.0,
        });
        assert!(format!("{}", bad.validate().unwrap_err()).contains("target.width"));
        assert!(Target::build(&TargetSpec::Image(ImageSpec::default()), None).is_err());
    }

    #[test]
    fn densities_are_normalized_and_boxes_hold_the_mass() {
        for t in all_targets() {
            let Some(d) = t.density() else { continue };
            // Integrate over a box 3× larger at high resolution: total mass must be 1.
            let b = t.bbox();
            let big = BBox::new(
                b.x_min - b.width(),
                b.x_max + b.width(),
                b.y_min - b.height(),
                b.y_max + b.height(),
            );
            let g = Grid::square(big, 500).unwrap();
            let total = g.integrate(|x| d.log_density(x).exp());
            let out = t.mass_outside_bbox(300).unwrap();
            eprintln!(
                "{:>22}: total mass {total:.6}, mass outside box {out:.2e}",
                t.name()
            );
            assert!((total - 1.0).abs() < 2e-3, "{} total {total}", t.name());
            assert!(out < 2e-3, "{} outside {out}", t.name());
        }
    }

    #[test]
    fn scores_match_finite_differences() {
        let mut rng = seeded(9);
        let h = 1e-6;
        for t in all_targets() {
            let Some(d) = t.density() else { continue };
            let pts = d.sample(40, &mut rng);
            let mut worst: f64 = 0.0;
            for x in pts {
                let s = d.score(x);
                for k in 0..2 {
                    let mut xp = x;
                    let mut xm = x;
                    xp[k] += h;
                    xm[k] -= h;
                    let fd = (d.log_density(xp) - d.log_density(xm)) / (2.0 * h);
                    let err = (fd - s[k]).abs() / fd.abs().max(s[k].abs()).max(1.0);
                    worst = worst.max(err);
                }
            }
            eprintln!("{:>22}: worst score error {worst:.2e}", t.name());
            assert!(worst < 1e-4, "{}: {worst}", t.name());
        }
    }

    #[test]
    fn samples_match_the_density() {
        // Compare sample histogram mass in the four quadrants around the box centre with the
        // density's quadrature: catches samplers that disagree with their densities.
        let mut rng = seeded(4);
        for t in all_targets() {
            let Some(d) = t.density() else { continue };
            let n = 20_000;
            let xs = d.sample(n, &mut rng);
            let b = t.bbox();
            let c = b.center();
            let g = Grid::square(b, 300).unwrap();
            for (qx, qy) in [(false, false), (true, false), (false, true), (true, true)] {
                let inq = |x: Vec2| (x[0] > c[0]) == qx && (x[1] > c[1]) == qy;
                let emp =
                    xs.iter().filter(|x| b.contains(**x) && inq(**x)).count() as f64 / n as f64;
                let th = g.integrate(|x| if inq(x) { d.log_density(x).exp() } else { 0.0 });
                let se = (th * (1.0 - th) / n as f64).sqrt();
                assert!(
                    (emp - th).abs() < 5.0 * se + 2e-3,
                    "{}: {emp} vs {th}",
                    t.name()
                );
            }
        }
    }

    /// A Dirichlet with an α below 1 (unbounded at an edge): samples against the closed-form mean
    /// αₖ/α₀ and covariance (αᵢδᵢⱼα₀ − αᵢαⱼ)/(α₀²(α₀ + 1)); the score against central differences; ln p = −∞
    /// and the score NaN outside the open simplex.
    #[test]
    fn dirichlet_samples_match_its_moments_and_its_score_its_density() {
        let alpha = [0.6, 2.5, 4.0];
        let t = Target::build(&TargetSpec::Dirichlet(DirichletSpec { alpha }), None).unwrap();
        let d = t.density().unwrap();
        assert_eq!(d.support(), Support::Simplex);
        let n = 200_000;
        let xs = d.sample(n, &mut seeded(12));
        assert!(xs.iter().all(|x| Support::Simplex.contains(*x)));
        let a0: f64 = alpha.iter().sum();
        let mean = [
            xs.iter().map(|x| x[0]).sum::<f64>() / n as f64,
            xs.iter().map(|x| x[1]).sum::<f64>() / n as f64,
        ];
        for i in 0..2 {
            let var = alpha[i] * (a0 - alpha[i]) / (a0 * a0 * (a0 + 1.0));
            let se = (var / n as f64).sqrt();
            assert!(
                (mean[i] - alpha[i] / a0).abs() < 5.0 * se,
                "mean[{i}] {}",
                mean[i]
            );
            for j in 0..2 {
                let want = if i == j {
                    var
                } else {
                    -alpha[i] * alpha[j] / (a0 * a0 * (a0 + 1.0))
                };
                let got = xs
                    .iter()
                    .map(|x| (x[i] - mean[i]) * (x[j] - mean[j]))
                    .sum::<f64>()
                    / (n - 1) as f64;
                assert!(
                    (got - want).abs() < 0.02 * var,
                    "cov[{i}][{j}] {got} vs {want}"
                );
            }
        }
        let h: f64 = 1e-7;
        for x in xs.iter().take(200) {
            let s = d.score(*x);
            for k in 0..2 {
                let (mut xp, mut xm) = (*x, *x);
                // A step relative to the nearest edge, where ln p curves as 1/θ².
                let hk = h.min(1e-4 * x[0].min(x[1]).min(1.0 - x[0] - x[1]));
                xp[k] += hk;
                xm[k] -= hk;
                if !(Support::Simplex.contains(xp) && Support::Simplex.contains(xm)) {
                    continue;
                }
                let fd = (d.log_density(xp) - d.log_density(xm)) / (xp[k] - xm[k]);
                assert!(
                    (fd - s[k]).abs() < 1e-4 * fd.abs().max(1.0),
                    "{x:?}: {fd} vs {}",
                    s[k]
                );
            }
        }
        for outside in [[-0.1, 0.5], [0.5, 0.6], [0.0, 0.5], [2.0, -1.0]] {
            assert_eq!(d.log_density(outside), f64::NEG_INFINITY, "{outside:?}");
            assert!(d.score(outside)[0].is_nan());
        }
        assert_eq!(t.mass_outside_bbox(64).unwrap(), 0.0);
    }

    #[test]
    fn sample_target_resamples_its_points() {
        let t = Target::from_samples(vec![[0.0, 0.0], [1.0, 2.0]]).unwrap();
        assert!(t.density().is_none());
        let xs = t.sample(100, &mut seeded(1));
        assert!(xs.iter().all(|x| *x == [0.0, 0.0] || *x == [1.0, 2.0]));
        assert!(xs.contains(&[1.0, 2.0]) && xs.contains(&[0.0, 0.0]));
        assert!(t.bbox().contains([1.0, 2.0]));
        assert!(Target::from_samples(vec![]).is_err());
    }
}
