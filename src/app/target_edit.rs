//! Direct manipulation of the target: drag a Gaussian-mixture component's centre or its covariance handles,
//! add a component (click on empty ground) and delete one (right-click on its centre, or the side panel's
//! button for the selected one); on a sample target, click to
//! add a point, drag to paint points with a brush, right-click to remove the nearest. The scene reports the
//! pointer in data coordinates ([`PointerInput`]); [`TargetEditor::edit`] turns it into a new target spec,
//! which the app applies to every panel without restarting the fits ([`crate::run::Run::retarget`]).

use crate::core::gaussian::Mat2;
use crate::core::math::Vec2;
use crate::core::rng::{self, Rng};
use crate::core::target::{GaussianMixtureSpec, SamplesSpec, TargetSpec};

/// How close (in points on screen) the pointer must be to grab a handle.
pub const GRAB_RADIUS_PT: f32 = 12.0;
/// Covariance handles sit this many standard deviations from the centre, on the ellipse's axes.
pub const AXIS_HANDLE_SIGMAS: f64 = 2.0;
/// Largest mixture the handles edit (a chain target like two moons has hundreds of components).
pub const MAX_EDITABLE_COMPONENTS: usize = 16;
/// Points the brush adds per frame while dragging on a sample target, and its radius as a fraction of the
/// box's smaller side.
pub const BRUSH_POINTS_PER_FRAME: usize = 4;
pub const BRUSH_RADIUS_FRACTION: f64 = 0.03;
/// Most points a painted sample target holds (the brush stops adding beyond it).
pub const MAX_PAINTED_POINTS: usize = 20_000;

/// A handle of a mixture component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handle {
    Centre(usize),
    /// Axis 0 (major) or 1 (minor) of the component's covariance ellipse.
    Axis(usize, usize),
}

/// What the pointer did over a panel's scene this frame, in data coordinates.
#[derive(Debug, Clone, Copy, Default)]
pub struct PointerInput {
    pub drag_started: Option<Vec2>,
    pub dragging: Option<Vec2>,
    pub drag_stopped: bool,
    pub clicked: Option<Vec2>,
    pub secondary_clicked: Option<Vec2>,
    /// Data units per screen point (to turn [`GRAB_RADIUS_PT`] into data units).
    pub units_per_point: f64,
}

/// The editing state the app keeps between frames.
#[derive(Debug)]
pub struct TargetEditor {
    /// Whether dragging on a panel edits the target (instead of panning the view).
    pub on: bool,
    /// Whether editing was on when the panels were last drawn (its end refits the views).
    pub was_on: bool,
    grabbed: Option<Handle>,
    /// The component last grabbed, clicked or added (the side panel's Delete removes it).
    pub selected: Option<usize>,
    painting: bool,
    rng: Rng,
}

impl Default for TargetEditor {
    fn default() -> Self {
        Self {
            on: false,
            was_on: false,
            grabbed: None,
            selected: None,
            painting: false,
            rng: rng::seeded(0x7a9e7),
        }
    }
}

/// The eigen-decomposition of a 2×2 SPD covariance: standard deviations along the axes (major first) and
/// the major axis' unit direction.
pub fn axes(cov: &Mat2) -> ([f64; 2], Vec2) {
    let (a, b, d) = (cov[0][0], cov[0][1], cov[1][1]);
    let mean = 0.5 * (a + d);
    let r = (0.25 * (a - d) * (a - d) + b * b).sqrt();
    let (l1, l2) = ((mean + r).max(0.0), (mean - r).max(0.0));
    let angle = 0.5 * (2.0 * b).atan2(a - d);
    ([l1.sqrt(), l2.sqrt()], [angle.cos(), angle.sin()])
}

/// The covariance with standard deviations `s` along the unit direction `u` and its perpendicular.
pub fn covariance(s: [f64; 2], u: Vec2) -> Mat2 {
    let v = [-u[1], u[0]];
    let (l1, l2) = (s[0] * s[0], s[1] * s[1]);
    let e = |i: usize, j: usize| l1 * u[i] * u[j] + l2 * v[i] * v[j];
    [[e(0, 0), e(0, 1)], [e(1, 0), e(1, 1)]]
}

/// Every handle of `spec` with its position.
pub fn handles(spec: &GaussianMixtureSpec) -> Vec<(Handle, Vec2)> {
    let mut out = Vec::new();
    for (k, (m, c)) in spec.means.iter().zip(&spec.covariances).enumerate() {
        out.push((Handle::Centre(k), *m));
        let (s, u) = axes(c);
        let v = [-u[1], u[0]];
        for (axis, dir) in [(0, u), (1, v)] {
            let r = AXIS_HANDLE_SIGMAS * s[axis];
            out.push((
                Handle::Axis(k, axis),
                [m[0] + r * dir[0], m[1] + r * dir[1]],
            ));
        }
    }
    out
}

/// The handle nearest to `at` within `radius` (data units); centres win ties, so a tiny component can still
/// be moved.
pub fn grab(spec: &GaussianMixtureSpec, at: Vec2, radius: f64) -> Option<Handle> {
    let d2 = |p: Vec2| (p[0] - at[0]).powi(2) + (p[1] - at[1]).powi(2);
    let near: Vec<(Handle, f64)> = handles(spec)
        .into_iter()
        .map(|(h, p)| (h, d2(p)))
        .filter(|(_, d)| *d <= radius * radius)
        .collect();
    near.iter()
        .filter(|(h, _)| matches!(h, Handle::Centre(_)))
        .chain(near.iter())
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(h, _)| *h)
}

/// `spec` with `handle` moved to `to`. An axis handle sets that axis' length and turns the ellipse to point
/// at `to`; the other axis keeps its length. Lengths are kept above `min_std` so the covariance stays SPD.
pub fn drag(
    spec: &GaussianMixtureSpec,
    handle: Handle,
    to: Vec2,
    min_std: f64,
) -> GaussianMixtureSpec {
    let mut out = spec.clone();
    match handle {
        Handle::Centre(k) => {
            if let Some(m) = out.means.get_mut(k) {
                *m = to;
            }
        }
        Handle::Axis(k, axis) => {
            let (Some(m), Some(c)) = (spec.means.get(k), out.covariances.get_mut(k)) else {
                return out;
            };
            let d = [to[0] - m[0], to[1] - m[1]];
            let len = (d[0] * d[0] + d[1] * d[1]).sqrt();
            if len <= 0.0 {
                return out;
            }
            let dir = [d[0] / len, d[1] / len];
            // The other axis keeps its length: the one of the eigen-axes more nearly perpendicular to the new
            // direction (so it does not matter which axis is the major one as the handle turns).
            let (eig, u0) = axes(c);
            let along_major = (u0[0] * dir[0] + u0[1] * dir[1]).abs();
            let other = if along_major >= std::f64::consts::FRAC_1_SQRT_2 {
                eig[1]
            } else {
                eig[0]
            };
            let mut s = [0.0; 2];
            s[1 - axis] = other.max(min_std);
            s[axis] = (len / AXIS_HANDLE_SIGMAS).max(min_std);
            // `covariance` takes the direction of axis 0.
            let u = if axis == 0 { dir } else { [dir[1], -dir[0]] };
            *c = covariance(s, u);
        }
    }
    out
}

/// `spec` with a round component added at `at` (weight: the mean of the others'; std `std`).
pub fn add_component(spec: &GaussianMixtureSpec, at: Vec2, std: f64) -> GaussianMixtureSpec {
    let mut out = spec.clone();
    let w = if spec.weights.is_empty() {
        1.0
    } else {
        spec.weights.iter().sum::<f64>() / spec.weights.len() as f64
    };
    out.weights.push(w);
    out.means.push(at);
    out.covariances.push([[std * std, 0.0], [0.0, std * std]]);
    out
}

/// `spec` without component `k` (none is removed from a one-component mixture).
pub fn delete_component(spec: &GaussianMixtureSpec, k: usize) -> Option<GaussianMixtureSpec> {
    if spec.means.len() <= 1 || k >= spec.means.len() {
        return None;
    }
    let mut out = spec.clone();
    out.weights.remove(k);
    out.means.remove(k);
    out.covariances.remove(k);
    Some(out)
}

/// The target in a few words for the page's `data-divlab-target` attribute (browser tests read it): a
/// mixture's component means as "x,y;x,y;…" (4 decimals), else the target's kind.
pub fn published_target(spec: &TargetSpec) -> String {
    match spec {
        TargetSpec::GaussianMixture(m) => m
            .means
            .iter()
            .map(|p| format!("{:.4},{:.4}", p[0], p[1]))
            .collect::<Vec<_>>()
            .join(";"),
        other => serde_json::to_value(other)
            .ok()
            .and_then(|v| v["kind"].as_str().map(str::to_owned))
            .unwrap_or_default(),
    }
}

/// The mixture a Gaussian-mixture target is (presets like two modes, ring of 8 or the 5×5 grid are), as an
/// editable spec; `None` when it is not a mixture or has more than [`MAX_EDITABLE_COMPONENTS`] components.
pub fn as_editable_mixture(target: &crate::core::target::Target) -> Option<GaussianMixtureSpec> {
    let q = target.density()?.as_mixture()?;
    (q.n_components() <= MAX_EDITABLE_COMPONENTS).then(|| GaussianMixtureSpec {
        weights: q.weights(),
        means: q.means(),
        covariances: q.covariances(),
    })
}

impl TargetEditor {
    /// The new target after this frame's pointer input over a panel, if it changed. `side` is the box's
    /// smaller side (it sets the new component's size, the smallest std and the brush radius).
    pub fn edit(
        &mut self,
        spec: &TargetSpec,
        input: &PointerInput,
        side: f64,
    ) -> Option<TargetSpec> {
        if !self.on {
            return None;
        }
        let radius = f64::from(GRAB_RADIUS_PT) * input.units_per_point;
        match spec {
            TargetSpec::GaussianMixture(m) => self.edit_mixture(m, input, radius, side),
            TargetSpec::Samples(s) => self.edit_samples(s, input, radius, side),
            _ => None,
        }
        .map(|edited| match edited {
            Edited::Mixture(m) => TargetSpec::GaussianMixture(m),
            Edited::Samples(s) => TargetSpec::Samples(s),
        })
    }

    fn edit_mixture(
        &mut self,
        m: &GaussianMixtureSpec,
        input: &PointerInput,
        radius: f64,
        side: f64,
    ) -> Option<Edited> {
        let min_std = 0.005 * side;
        if let Some(at) = input.drag_started {
            self.grabbed = grab(m, at, radius);
            if let Some(Handle::Centre(k) | Handle::Axis(k, _)) = self.grabbed {
                self.selected = Some(k);
            }
        }
        let mut out = None;
        if let (Some(h), Some(to)) = (self.grabbed, input.dragging) {
            out = Some(Edited::Mixture(drag(m, h, to, min_std)));
        }
        if input.drag_stopped {
            self.grabbed = None;
        }
        if let Some(at) = input.clicked {
            match grab(m, at, radius) {
                Some(Handle::Centre(k) | Handle::Axis(k, _)) => self.selected = Some(k),
                None if m.means.len() < MAX_EDITABLE_COMPONENTS => {
                    self.selected = Some(m.means.len());
                    out = Some(Edited::Mixture(add_component(m, at, 0.08 * side)));
                }
                None => {}
            }
        }
        if let Some(at) = input.secondary_clicked
            && let Some(Handle::Centre(k)) = grab(m, at, radius)
        {
            self.selected = None;
            out = delete_component(m, k).map(Edited::Mixture);
        }
        out
    }

    fn edit_samples(
        &mut self,
        s: &SamplesSpec,
        input: &PointerInput,
        radius: f64,
        side: f64,
    ) -> Option<Edited> {
        let mut points = s.points.clone();
        let mut changed = false;
        if input.drag_started.is_some() {
            self.painting = true;
        }
        if self.painting
            && let Some(at) = input.dragging
        {
            let r = BRUSH_RADIUS_FRACTION * side;
            for _ in 0..BRUSH_POINTS_PER_FRAME {
                if points.len() >= MAX_PAINTED_POINTS {
                    break;
                }
                let z = rng::normal2(&mut self.rng);
                points.push([at[0] + r * z[0], at[1] + r * z[1]]);
                changed = true;
            }
        }
        if input.drag_stopped {
            self.painting = false;
        }
        if let Some(at) = input.clicked
            && points.len() < MAX_PAINTED_POINTS
        {
            points.push(at);
            changed = true;
        }
        if let Some(at) = input.secondary_clicked
            && points.len() > 1
        {
            let d2 = |p: &Vec2| (p[0] - at[0]).powi(2) + (p[1] - at[1]).powi(2);
            if let Some((i, _)) = points
                .iter()
                .enumerate()
                .filter(|(_, p)| d2(p) <= radius * radius)
                .min_by(|a, b| d2(a.1).total_cmp(&d2(b.1)))
            {
                points.remove(i);
                changed = true;
            }
        }
        changed.then(|| {
            Edited::Samples(SamplesSpec {
                points,
                source: Some("drawn in divlab".into()),
            })
        })
    }
}

enum Edited {
    Mixture(GaussianMixtureSpec),
    Samples(SamplesSpec),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_target_lists_a_mixtures_means() {
        let spec = TargetSpec::GaussianMixture(GaussianMixtureSpec {
            weights: vec![0.5, 0.5],
            means: vec![[1.0, -2.5], [0.125, 3.0]],
            covariances: vec![[[1.0, 0.0], [0.0, 1.0]]; 2],
        });
        assert_eq!(published_target(&spec), "1.0000,-2.5000;0.1250,3.0000");
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn axes_and_covariance_are_inverse() {
        let c = [[0.6, 0.3], [0.3, 0.4]];
        let (s, u) = axes(&c);
        assert!(s[0] >= s[1]);
        let back = covariance(s, u);
        for i in 0..2 {
            for j in 0..2 {
                assert!(close(back[i][j], c[i][j]), "{back:?} vs {c:?}");
            }
        }
        // The major axis is an eigenvector: Σu = s₀² u.
        let su = [
            c[0][0] * u[0] + c[0][1] * u[1],
            c[1][0] * u[0] + c[1][1] * u[1],
        ];
        assert!(close(su[0], s[0] * s[0] * u[0]) && close(su[1], s[0] * s[0] * u[1]));
    }

    #[test]
    fn dragging_an_axis_handle_sets_that_axis_and_keeps_the_other() {
        let spec = GaussianMixtureSpec {
            weights: vec![1.0],
            means: vec![[1.0, 1.0]],
            covariances: vec![[[0.25, 0.0], [0.0, 0.04]]],
        };
        // Major-axis handle turned by 30° and pulled to 3 units from the centre: std 1.5 along 30°, the minor
        // std 0.2 across.
        let (c30, s30) = (30f64.to_radians().cos(), 30f64.to_radians().sin());
        let drop = [1.0 + 3.0 * c30, 1.0 + 3.0 * s30];
        let out = drag(&spec, Handle::Axis(0, 0), drop, 1e-3);
        let expected = covariance([1.5, 0.2], [c30, s30]);
        let c = out.covariances[0];
        for i in 0..2 {
            for j in 0..2 {
                assert!(close(c[i][j], expected[i][j]), "{c:?} vs {expected:?}");
            }
        }
        // The handle lands where it was dropped.
        let h = handles(&out)
            .into_iter()
            .find(|(h, _)| *h == Handle::Axis(0, 0))
            .map(|(_, p)| p)
            .unwrap();
        assert!(
            (h[0] - drop[0]).abs() < 1e-9 && (h[1] - drop[1]).abs() < 1e-9,
            "{h:?}"
        );
        // The centre handle moves the mean only.
        let moved = drag(&spec, Handle::Centre(0), [-2.0, 0.5], 1e-3);
        assert_eq!(moved.means[0], [-2.0, 0.5]);
        assert_eq!(moved.covariances, spec.covariances);
    }

    #[test]
    fn grab_prefers_centres_and_respects_the_radius() {
        let spec = GaussianMixtureSpec {
            weights: vec![1.0],
            means: vec![[0.0, 0.0]],
            covariances: vec![[[1e-4, 0.0], [0.0, 1e-4]]],
        };
        assert_eq!(grab(&spec, [0.01, 0.0], 0.1), Some(Handle::Centre(0)));
        assert_eq!(grab(&spec, [1.0, 0.0], 0.1), None);
    }

    #[test]
    fn the_editor_adds_and_deletes_components_and_paints_points() {
        let mut editor = TargetEditor {
            on: true,
            ..Default::default()
        };
        let spec = TargetSpec::GaussianMixture(GaussianMixtureSpec::default());
        let add = PointerInput {
            clicked: Some([3.0, 3.0]),
            units_per_point: 0.01,
            ..Default::default()
        };
        let Some(TargetSpec::GaussianMixture(m)) = editor.edit(&spec, &add, 8.0) else {
            panic!("no component added");
        };
        assert_eq!(m.means.len(), 4);
        assert_eq!(m.means[3], [3.0, 3.0]);
        let delete = PointerInput {
            secondary_clicked: Some([3.0, 3.0]),
            units_per_point: 0.01,
            ..Default::default()
        };
        let Some(TargetSpec::GaussianMixture(back)) =
            editor.edit(&TargetSpec::GaussianMixture(m), &delete, 8.0)
        else {
            panic!("no component deleted");
        };
        assert_eq!(back, GaussianMixtureSpec::default());
        // The brush adds points near the pointer while dragging; a click adds one exactly.
        let samples = TargetSpec::Samples(SamplesSpec {
            points: vec![[0.0, 0.0]],
            source: None,
        });
        let start = PointerInput {
            drag_started: Some([1.0, 1.0]),
            dragging: Some([1.0, 1.0]),
            units_per_point: 0.01,
            ..Default::default()
        };
        let Some(TargetSpec::Samples(painted)) = editor.edit(&samples, &start, 10.0) else {
            panic!("nothing painted");
        };
        assert_eq!(painted.points.len(), 1 + BRUSH_POINTS_PER_FRAME);
        assert!(
            painted.points[1..]
                .iter()
                .all(|p| (p[0] - 1.0).hypot(p[1] - 1.0) < 2.0)
        );
        // Off, the editor changes nothing.
        editor.on = false;
        assert!(editor.edit(&spec, &add, 8.0).is_none());
    }
}
