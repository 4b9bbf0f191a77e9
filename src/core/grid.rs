//! Axis-aligned scene boxes and regular midpoint grids over them.
//!
//! Convention: a [`Grid`] of `nx × ny` cells covers its [`BBox`]; values are stored row-major with
//! row 0 at `y_min` (bottom) and column 0 at `x_min`. Cell `(i, j)` (row `i`, column `j`) has its
//! center at `(x_min + (j + ½)·dx, y_min + (i + ½)·dy)`. Sums of `f(center)·cell_area` are the
//! midpoint rule for `∫_box f`.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::{CoreError, CoreResult};
use super::math::Vec2;

/// An axis-aligned box `[x_min, x_max] × [y_min, y_max]` in scene units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct BBox {
    pub x_min: f64,
    pub x_max: f64,
    pub y_min: f64,
    pub y_max: f64,
}

impl BBox {
    pub fn new(x_min: f64, x_max: f64, y_min: f64, y_max: f64) -> Self {
        Self {
            x_min,
            x_max,
            y_min,
            y_max,
        }
    }

    /// The square box `[-half, half]²`.
    pub fn centered_square(half: f64) -> Self {
        Self::new(-half, half, -half, half)
    }

    /// Bounds inside their declarations (`bbox.*` in [`super::params`]) with `x_min < x_max` and `y_min < y_max`.
    pub fn validate(&self) -> CoreResult<()> {
        for (field, v) in [
            ("x_min", self.x_min),
            ("x_max", self.x_max),
            ("y_min", self.y_min),
            ("y_max", self.y_max),
        ] {
            super::params::check_field("bbox", None, field, v)?;
        }
        if self.x_max <= self.x_min {
            return Err(CoreError::param(
                "bbox.x_max",
                self.x_max,
                format!("({}, ∞) (greater than x_min)", self.x_min),
            ));
        }
        if self.y_max <= self.y_min {
            return Err(CoreError::param(
                "bbox.y_max",
                self.y_max,
                format!("({}, ∞) (greater than y_min)", self.y_min),
            ));
        }
        Ok(())
    }

    pub fn width(&self) -> f64 {
        self.x_max - self.x_min
    }

    pub fn height(&self) -> f64 {
        self.y_max - self.y_min
    }

    pub fn area(&self) -> f64 {
        self.width() * self.height()
    }

    pub fn center(&self) -> Vec2 {
        [
            0.5 * (self.x_min + self.x_max),
            0.5 * (self.y_min + self.y_max),
        ]
    }

    pub fn contains(&self, x: Vec2) -> bool {
        x[0] >= self.x_min && x[0] <= self.x_max && x[1] >= self.y_min && x[1] <= self.y_max
    }

    /// The box grown by `margin` on every side.
    pub fn expanded(&self, margin: f64) -> Self {
        Self::new(
            self.x_min - margin,
            self.x_max + margin,
            self.y_min - margin,
            self.y_max + margin,
        )
    }

    /// Euclidean distance from `x` to the box (0 inside).
    pub fn distance(&self, x: Vec2) -> f64 {
        let dx = (self.x_min - x[0]).max(0.0).max(x[0] - self.x_max);
        let dy = (self.y_min - x[1]).max(0.0).max(x[1] - self.y_max);
        (dx * dx + dy * dy).sqrt()
    }
}

/// A regular grid of `nx × ny` cells over `bbox` (see the module docs for the layout).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    pub bbox: BBox,
    pub nx: usize,
    pub ny: usize,
}

impl Grid {
    /// A grid with at least one cell per axis over a valid box.
    pub fn new(bbox: BBox, nx: usize, ny: usize) -> CoreResult<Self> {
        bbox.validate()?;
        if nx == 0 {
            return Err(CoreError::param("grid.nx", nx as f64, "[1, ∞)"));
        }
        if ny == 0 {
            return Err(CoreError::param("grid.ny", ny as f64, "[1, ∞)"));
        }
        Ok(Self { bbox, nx, ny })
    }

    /// A square `n × n` grid.
    pub fn square(bbox: BBox, n: usize) -> CoreResult<Self> {
        Self::new(bbox, n, n)
    }

    pub fn dx(&self) -> f64 {
        self.bbox.width() / self.nx as f64
    }

    pub fn dy(&self) -> f64 {
        self.bbox.height() / self.ny as f64
    }

    pub fn cell_area(&self) -> f64 {
        self.dx() * self.dy()
    }

    pub fn len(&self) -> usize {
        self.nx * self.ny
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Center of the cell in row `i` (from `y_min`), column `j` (from `x_min`).
    #[inline]
    pub fn center(&self, i: usize, j: usize) -> Vec2 {
        [
            self.bbox.x_min + (j as f64 + 0.5) * self.dx(),
            self.bbox.y_min + (i as f64 + 0.5) * self.dy(),
        ]
    }

    /// Center of the cell with row-major flat index `idx`.
    #[inline]
    pub fn center_of(&self, idx: usize) -> Vec2 {
        self.center(idx / self.nx, idx % self.nx)
    }

    /// All cell centers, row-major.
    pub fn centers(&self) -> Vec<Vec2> {
        (0..self.len()).map(|k| self.center_of(k)).collect()
    }

    /// `f` at every cell center, row-major (row 0 = `y_min`), evaluated in parallel.
    pub fn eval(&self, f: impl Fn(Vec2) -> f64 + Sync) -> Vec<f64> {
        let nx = self.nx;
        let mut out = vec![0.0; self.len()];
        out.par_chunks_mut(nx).enumerate().for_each(|(i, row)| {
            for (j, v) in row.iter_mut().enumerate() {
                *v = f(self.center(i, j));
            }
        });
        out
    }

    /// Midpoint-rule integral `Σ f(center)·cell_area` (rows in parallel, then summed in row order so the
    /// result does not depend on the number of threads).
    pub fn integrate(&self, f: impl Fn(Vec2) -> f64 + Sync) -> f64 {
        let area = self.cell_area();
        let nx = self.nx;
        let rows: Vec<f64> = (0..self.ny)
            .into_par_iter()
            .map(|i| (0..nx).map(|j| f(self.center(i, j))).sum::<f64>())
            .collect();
        rows.iter().sum::<f64>() * area
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_integral() {
        let g = Grid::new(BBox::new(0.0, 2.0, -1.0, 1.0), 4, 2).unwrap();
        assert_eq!(g.center(0, 0), [0.25, -0.5]);
        assert_eq!(g.center(1, 3), [1.75, 0.5]);
        assert_eq!(g.center_of(5), g.center(1, 1));
        let v = g.eval(|x| x[0] + 10.0 * x[1]);
        assert_eq!(v[0], 0.25 - 5.0);
        assert_eq!(v[7], 1.75 + 5.0);
        // Midpoint rule is exact for linear functions: ∫ x over [0,2]×[-1,1] = 4.
        assert!((g.integrate(|x| x[0]) - 4.0).abs() < 1e-12);
        assert!((g.cell_area() - 0.5).abs() < 1e-15);
    }

    #[test]
    fn invalid_boxes_are_named() {
        let e = BBox::new(1.0, 0.0, 0.0, 1.0).validate().unwrap_err();
        assert!(format!("{e}").contains("bbox.x_max"));
        assert!(Grid::new(BBox::centered_square(1.0), 0, 3).is_err());
        assert!((BBox::centered_square(1.0).distance([2.0, 0.0]) - 1.0).abs() < 1e-15);
    }
}
