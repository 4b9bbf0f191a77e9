//! The model q: a mixture of K full-covariance 2D Gaussians (K = 1..=64).
//!
//! # Parameter layout
//! The flat parameter vector θ has [`PARAMS_PER_COMPONENT`] = 6 entries per component, component
//! after component: `θ[6k..6k+6] = [logit_k, μ_k.x, μ_k.y, a_k, b_k, c_k]` where
//! - the weights are `w = softmax(logit)`;
//! - the covariance is `Σ_k = L_k L_kᵀ` with the lower-triangular Cholesky factor
//!   `L_k = [[exp(a_k), 0], [b_k, exp(c_k)]]` (log-diagonal, so any real θ is valid).
//!
//! Sampling uses the reparameterization `x = μ_k + L_k ε`, `ε ~ N(0, I)`.

use serde::{Deserialize, Serialize};

use super::error::{CoreError, CoreResult};
use super::gaussian::{LN_2PI, Mat2, cholesky2};
use super::grid::BBox;
use super::math::{Vec2, logsumexp};
use super::params;
use super::rng::{Rng, normal2, seeded, uniform};

/// Entries of θ per component.
pub const PARAMS_PER_COMPONENT: usize = 6;
/// Largest supported number of components.
pub const MAX_COMPONENTS: usize = 64;

/// One component, with quantities derived from θ cached.
#[derive(Debug, Clone, PartialEq)]
struct Component {
    log_w: f64,
    w: f64,
    mean: Vec2,
    l11: f64,
    l21: f64,
    l22: f64,
    /// −ln(2π) − a − c: the log normalizer of N(·; μ, LLᵀ).
    log_norm: f64,
}

impl Component {
    /// Whitened residual z = L⁻¹(x − μ).
    #[inline]
    fn whiten(&self, x: Vec2) -> Vec2 {
        let z1 = (x[0] - self.mean[0]) / self.l11;
        let z2 = (x[1] - self.mean[1] - self.l21 * z1) / self.l22;
        [z1, z2]
    }

    /// u = L⁻ᵀ z = Σ⁻¹(x − μ).
    #[inline]
    fn unwhiten_t(&self, z: Vec2) -> Vec2 {
        let u2 = z[1] / self.l22;
        let u1 = (z[0] - self.l21 * u2) / self.l11;
        [u1, u2]
    }

    #[inline]
    fn log_term(&self, x: Vec2) -> f64 {
        let z = self.whiten(x);
        self.log_w + self.log_norm - 0.5 * (z[0] * z[0] + z[1] * z[1])
    }

    fn covariance(&self) -> Mat2 {
        let c01 = self.l11 * self.l21;
        [
            [self.l11 * self.l11, c01],
            [c01, self.l21 * self.l21 + self.l22 * self.l22],
        ]
    }
}

/// A Gaussian mixture parameterized as described in the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct Mixture {
    params: Vec<f64>,
    comps: Vec<Component>,
}

/// How to build the initial model (scenario files hold this).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum MixtureInit {
    /// `components` equal-weight isotropic components with means uniform in the target box
    /// (drawn from `seed`) and standard deviation `std_fraction × min(box width, box height)`.
    Random {
        components: usize,
        #[serde(default)]
        seed: u64,
        #[serde(default = "default_std_fraction")]
        std_fraction: f64,
    },
    /// Explicit components.
    Given {
        weights: Vec<f64>,
        means: Vec<Vec2>,
        covariances: Vec<Mat2>,
    },
}

fn default_std_fraction() -> f64 {
    0.1
}

impl Default for MixtureInit {
    fn default() -> Self {
        Self::Random {
            components: 1,
            seed: 0,
            std_fraction: default_std_fraction(),
        }
    }
}

impl MixtureInit {
    /// The snake_case kind name.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Random { .. } => "random",
            Self::Given { .. } => "given",
        }
    }

    /// Checks every number against its declaration in [`super::params`] (ids `init.<kind>.<field>`); the
    /// error names `init.<field>`.
    pub fn validate(&self) -> CoreResult<()> {
        let kind = Some(self.kind_name());
        match self {
            Self::Random {
                components,
                seed,
                std_fraction,
            } => {
                params::check_field("init", kind, "components", *components as f64)?;
                params::check_field("init", kind, "seed", *seed as f64)?;
                params::check_field("init", kind, "std_fraction", *std_fraction)?;
                Ok(())
            }
            Self::Given {
                weights,
                means,
                covariances,
            } => {
                let each = |field: &str, values: Vec<(String, &f64)>| -> CoreResult<()> {
                    let d = params::lookup("init", kind, field).ok_or_else(|| {
                        CoreError::invalid(format!("init.{field}: no parameter declaration"))
                    })?;
                    for (index, v) in values {
                        d.check_as(&format!("init.{field}{index}"), *v)?;
                    }
                    Ok(())
                };
                each("weights", super::target::indexed(weights).collect())?;
                each("means", super::target::indexed_points(means).collect())?;
                each(
                    "covariances",
                    super::target::indexed_matrices(covariances).collect(),
                )?;
                Mixture::from_components(weights, means, covariances)
                    .map(|_| ())
                    .map_err(|e| e.within("init"))
            }
        }
    }
}

/// The number of components against `init.random.components` (the model's cap, [`MAX_COMPONENTS`]).
fn check_components(k: usize) -> CoreResult<()> {
    match params::decl("init.random.components") {
        Some(d) => d.check_as("components", k as f64).map(|_| ()),
        None => Err(CoreError::invalid(
            "init.random.components: no parameter declaration",
        )),
    }
}

impl Mixture {
    /// From a flat parameter vector (layout in the module docs).
    pub fn from_params(params: &[f64]) -> CoreResult<Self> {
        if params.is_empty() || !params.len().is_multiple_of(PARAMS_PER_COMPONENT) {
            return Err(CoreError::invalid(format!(
                "mixture parameter vector has length {}, expected a positive multiple of {PARAMS_PER_COMPONENT}",
                params.len()
            )));
        }
        check_components(params.len() / PARAMS_PER_COMPONENT)?;
        let mut m = Self {
            params: vec![0.0; params.len()],
            comps: Vec::new(),
        };
        m.set_params(params)?;
        Ok(m)
    }

    /// From weights (positive, normalized here), means and SPD covariances.
    pub fn from_components(weights: &[f64], means: &[Vec2], covs: &[Mat2]) -> CoreResult<Self> {
        check_components(weights.len())?;
        Self::from_components_any(weights, means, covs)
    }

    /// Like [`Self::from_components`] but without the model's 64-component cap (for targets that
    /// are Gaussian mixtures with many components, e.g. the spiral and two moons).
    pub(crate) fn from_components_any(
        weights: &[f64],
        means: &[Vec2],
        covs: &[Mat2],
    ) -> CoreResult<Self> {
        let k = weights.len();
        if k == 0 {
            return Err(CoreError::invalid("a mixture needs at least one component"));
        }
        if means.len() != k || covs.len() != k {
            let (list, n) = if means.len() != k {
                ("means", means.len())
            } else {
                ("covariances", covs.len())
            };
            return Err(CoreError::field(
                list,
                format!(
                    "the lists have different lengths: weights has {k}, means {} and covariances {} (one of each per component; {list} has {n})",
                    means.len(),
                    covs.len()
                ),
            ));
        }
        let mut params = Vec::with_capacity(k * PARAMS_PER_COMPONENT);
        for i in 0..k {
            let w = weights[i];
            if !(w.is_finite() && w > 0.0) {
                return Err(CoreError::param(format!("weights[{i}]"), w, "(0, ∞)"));
            }
            if !(means[i][0].is_finite() && means[i][1].is_finite()) {
                return Err(CoreError::field(
                    format!("means[{i}]"),
                    format!("{:?} must be finite", means[i]),
                ));
            }
            let [l11, l21, l22] = cholesky2(&format!("covariances[{i}]"), &covs[i])?;
            params.extend_from_slice(&[w.ln(), means[i][0], means[i][1], l11.ln(), l21, l22.ln()]);
        }
        let mut m = Self {
            params: vec![0.0; params.len()],
            comps: Vec::new(),
        };
        m.set_params(&params)?;
        Ok(m)
    }

    /// A single Gaussian.
    pub fn single(mean: Vec2, cov: Mat2) -> CoreResult<Self> {
        Self::from_components(&[1.0], &[mean], &[cov])
    }

    /// Builds the initial model; `bbox` is the target's scene box (used by `Random`).
    pub fn from_init(init: &MixtureInit, bbox: &BBox) -> CoreResult<Self> {
        init.validate()?;
        bbox.validate()?;
        match init {
            MixtureInit::Random {
                components,
                seed,
                std_fraction,
            } => {
                let mut rng = seeded(*seed);
                let s = std_fraction * bbox.width().min(bbox.height());
                let means: Vec<Vec2> = (0..*components)
                    .map(|_| {
                        [
                            bbox.x_min + uniform(&mut rng) * bbox.width(),
                            bbox.y_min + uniform(&mut rng) * bbox.height(),
                        ]
                    })
                    .collect();
                let weights = vec![1.0; *components];
                let covs = vec![[[s * s, 0.0], [0.0, s * s]]; *components];
                Self::from_components(&weights, &means, &covs)
            }
            MixtureInit::Given {
                weights,
                means,
                covariances,
            } => Self::from_components(weights, means, covariances),
        }
    }

    pub fn n_components(&self) -> usize {
        self.comps.len()
    }

    pub fn n_params(&self) -> usize {
        self.params.len()
    }

    /// The flat parameter vector θ (layout in the module docs).
    pub fn params(&self) -> Vec<f64> {
        self.params.clone()
    }

    pub fn params_ref(&self) -> &[f64] {
        &self.params
    }

    /// Replaces θ; refuses a wrong length or non-finite entries (and then leaves `self` unchanged).
    pub fn set_params(&mut self, params: &[f64]) -> CoreResult<()> {
        if params.len() != self.params.len() {
            return Err(CoreError::invalid(format!(
                "parameter vector has length {}, this mixture needs {}",
                params.len(),
                self.params.len()
            )));
        }
        if let Some(i) = params.iter().position(|v| !v.is_finite()) {
            return Err(CoreError::non_finite(format!("mixture parameter θ[{i}]")));
        }
        let k = params.len() / PARAMS_PER_COMPONENT;
        let logits: Vec<f64> = (0..k).map(|i| params[i * PARAMS_PER_COMPONENT]).collect();
        let lse = logsumexp(&logits);
        let mut comps = Vec::with_capacity(k);
        for i in 0..k {
            let p = &params[i * PARAMS_PER_COMPONENT..(i + 1) * PARAMS_PER_COMPONENT];
            let log_w = p[0] - lse;
            let (l11, l22) = (p[3].exp(), p[5].exp());
            if !(l11 > 0.0 && l22 > 0.0 && l11.is_finite() && l22.is_finite()) {
                return Err(CoreError::non_finite(format!(
                    "Cholesky diagonal of component {i} (exp(a) = {l11}, exp(c) = {l22})"
                )));
            }
            comps.push(Component {
                log_w,
                w: log_w.exp(),
                mean: [p[1], p[2]],
                l11,
                l21: p[4],
                l22,
                log_norm: -LN_2PI - p[3] - p[5],
            });
        }
        self.params.copy_from_slice(params);
        self.comps = comps;
        Ok(())
    }

    pub fn weights(&self) -> Vec<f64> {
        self.comps.iter().map(|c| c.w).collect()
    }

    pub fn log_weights(&self) -> Vec<f64> {
        self.comps.iter().map(|c| c.log_w).collect()
    }

    pub fn means(&self) -> Vec<Vec2> {
        self.comps.iter().map(|c| c.mean).collect()
    }

    pub fn covariances(&self) -> Vec<Mat2> {
        self.comps.iter().map(Component::covariance).collect()
    }

    /// Cholesky factors `(l11, l21, l22)` per component.
    pub fn cholesky_factors(&self) -> Vec<[f64; 3]> {
        self.comps.iter().map(|c| [c.l11, c.l21, c.l22]).collect()
    }

    /// Overall mean Σ w_k μ_k.
    pub fn mean(&self) -> Vec2 {
        self.comps.iter().fold([0.0, 0.0], |acc, c| {
            [acc[0] + c.w * c.mean[0], acc[1] + c.w * c.mean[1]]
        })
    }

    /// Overall covariance Σ w_k (Σ_k + μ_k μ_kᵀ) − μ μᵀ.
    pub fn covariance(&self) -> Mat2 {
        let m = self.mean();
        let mut s = [[0.0; 2]; 2];
        for c in &self.comps {
            let cv = c.covariance();
            for i in 0..2 {
                for j in 0..2 {
                    s[i][j] += c.w * (cv[i][j] + c.mean[i] * c.mean[j]);
                }
            }
        }
        for i in 0..2 {
            for j in 0..2 {
                s[i][j] -= m[i] * m[j];
            }
        }
        s
    }

    /// Runs `f` with a scratch buffer of at least K entries (on the stack for K ≤ 64).
    #[inline]
    fn with_scratch<R>(&self, f: impl FnOnce(&mut [f64]) -> R) -> R {
        if self.comps.len() <= MAX_COMPONENTS {
            let mut t = [0.0; MAX_COMPONENTS];
            f(&mut t)
        } else {
            let mut t = vec![0.0; self.comps.len()];
            f(&mut t)
        }
    }

    /// Writes `log w_k + log N_k(x)` into `terms[..K]` and returns `log q(x)` (log-sum-exp).
    /// `terms` must have at least K entries.
    #[inline]
    pub fn log_density_terms(&self, x: Vec2, terms: &mut [f64]) -> f64 {
        for (t, c) in terms.iter_mut().zip(&self.comps) {
            *t = c.log_term(x);
        }
        logsumexp(&terms[..self.comps.len()])
    }

    /// log q(x), normalized.
    pub fn log_density(&self, x: Vec2) -> f64 {
        self.with_scratch(|terms| self.log_density_terms(x, terms))
    }

    /// ∇ₓ log q(x) = −Σ_k r_k Σ_k⁻¹(x − μ_k), r_k the responsibilities.
    pub fn score(&self, x: Vec2) -> Vec2 {
        self.with_scratch(|terms| {
            let lq = self.log_density_terms(x, terms);
            let mut s = [0.0, 0.0];
            for (c, t) in self.comps.iter().zip(terms.iter()) {
                let r = (t - lq).exp();
                let u = c.unwhiten_t(c.whiten(x));
                s[0] -= r * u[0];
                s[1] -= r * u[1];
            }
            s
        })
    }

    /// `out += scale · ∂ log q(x)/∂θ`, given `terms` and `lq` from [`Self::log_density_terms`].
    #[inline]
    pub fn add_grad_log_density(
        &self,
        x: Vec2,
        terms: &[f64],
        lq: f64,
        scale: f64,
        out: &mut [f64],
    ) {
        for (k, (c, t)) in self.comps.iter().zip(terms).enumerate() {
            let r = (t - lq).exp();
            let o = &mut out[k * PARAMS_PER_COMPONENT..(k + 1) * PARAMS_PER_COMPONENT];
            // ∂/∂logit_j log q = r_j − w_j.
            o[0] += scale * (r - c.w);
            let rs = scale * r;
            if rs == 0.0 {
                continue;
            }
            let z = c.whiten(x);
            let u = c.unwhiten_t(z);
            o[1] += rs * u[0];
            o[2] += rs * u[1];
            // ∂ log N/∂L = u zᵀ − diag(1/l); chain to a = ln l11, b = l21, c = ln l22.
            o[3] += rs * (c.l11 * u[0] * z[0] - 1.0);
            o[4] += rs * (u[1] * z[0]);
            o[5] += rs * (c.l22 * u[1] * z[1] - 1.0);
        }
    }

    /// `out_a += scale_a · ∂ log q(x)/∂θ` and `out_b += scale_b · ∂ log q(x)/∂θ` in one pass
    /// (the per-component derivatives are computed once).
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn add_grad_log_density_pair(
        &self,
        x: Vec2,
        terms: &[f64],
        lq: f64,
        scale_a: f64,
        out_a: &mut [f64],
        scale_b: f64,
        out_b: &mut [f64],
    ) {
        for (k, (c, t)) in self.comps.iter().zip(terms).enumerate() {
            let r = (t - lq).exp();
            let range = k * PARAMS_PER_COMPONENT..(k + 1) * PARAMS_PER_COMPONENT;
            let mut d = [r - c.w, 0.0, 0.0, 0.0, 0.0, 0.0];
            if r != 0.0 {
                let z = c.whiten(x);
                let u = c.unwhiten_t(z);
                d[1] = r * u[0];
                d[2] = r * u[1];
                d[3] = r * (c.l11 * u[0] * z[0] - 1.0);
                d[4] = r * (u[1] * z[0]);
                d[5] = r * (c.l22 * u[1] * z[1] - 1.0);
            }
            for ((a, b), di) in out_a[range.clone()]
                .iter_mut()
                .zip(&mut out_b[range])
                .zip(d)
            {
                *a += scale_a * di;
                *b += scale_b * di;
            }
        }
    }

    /// `(log q(x), ∂ log q(x)/∂θ)`.
    pub fn grad_log_density_params(&self, x: Vec2) -> (f64, Vec<f64>) {
        let mut g = vec![0.0; self.params.len()];
        let lq = self.with_scratch(|terms| {
            let lq = self.log_density_terms(x, terms);
            self.add_grad_log_density(x, terms, lq, 1.0, &mut g);
            lq
        });
        (lq, g)
    }

    /// Component index drawn from the weights by inversion.
    fn draw_component(&self, rng: &mut Rng) -> usize {
        let u = uniform(rng);
        let mut acc = 0.0;
        for (k, c) in self.comps.iter().enumerate() {
            acc += c.w;
            if u < acc {
                return k;
            }
        }
        self.comps.len() - 1
    }

    #[inline]
    fn push_forward(&self, k: usize, e: Vec2) -> Vec2 {
        let c = &self.comps[k];
        [
            c.mean[0] + c.l11 * e[0],
            c.mean[1] + c.l21 * e[0] + c.l22 * e[1],
        ]
    }

    /// `n` exact samples.
    pub fn sample(&self, n: usize, rng: &mut Rng) -> Vec<Vec2> {
        (0..n)
            .map(|_| {
                let k = self.draw_component(rng);
                let e = normal2(rng);
                self.push_forward(k, e)
            })
            .collect()
    }

    /// Stratified reparameterized batch: `n_per_component` points per component,
    /// `x = μ_k + L_k ε`, each with weight `w_k / n_per_component` (the weights sum to 1).
    pub fn reparam_batch(&self, n_per_component: usize, rng: &mut Rng) -> CoreResult<ReparamBatch> {
        if n_per_component == 0 {
            return Err(CoreError::param("samples per component", 0.0, "[1, ∞)"));
        }
        let k = self.comps.len();
        let n = k * n_per_component;
        let mut eps = Vec::with_capacity(n);
        for _ in 0..n {
            eps.push(normal2(rng));
        }
        Ok(self.reparam_batch_from_eps(n_per_component, eps))
    }

    /// Same as [`Self::reparam_batch`] with given noise `eps` (length K × n_per_component,
    /// component-major), e.g. to keep ε fixed across parameter changes.
    pub fn reparam_batch_from_eps(&self, n_per_component: usize, eps: Vec<Vec2>) -> ReparamBatch {
        let mut points = Vec::with_capacity(eps.len());
        let mut weights = Vec::with_capacity(eps.len());
        let mut component = Vec::with_capacity(eps.len());
        let inv_n = 1.0 / n_per_component.max(1) as f64;
        for (i, e) in eps.iter().enumerate() {
            let k = (i / n_per_component.max(1)).min(self.comps.len() - 1);
            points.push(self.push_forward(k, *e));
            weights.push(self.comps[k].w * inv_n);
            component.push(k);
        }
        ReparamBatch {
            points,
            weights,
            eps,
            component,
            n_per_component,
        }
    }
}

/// Weighted reparameterized points of a mixture (see [`Mixture::reparam_batch`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ReparamBatch {
    pub points: Vec<Vec2>,
    /// `w_k / n_per_component` for a point of component k.
    pub weights: Vec<f64>,
    /// The standard-normal noise behind each point.
    pub eps: Vec<Vec2>,
    /// The component each point belongs to.
    pub component: Vec<usize>,
    pub n_per_component: usize,
}

impl ReparamBatch {
    /// Chain rule from a scalar's gradient w.r.t. the points (`grad_points`) and the point weights
    /// (`grad_weights`) to θ of the mixture that produced the batch: means and Cholesky factors
    /// through `x = μ + Lε`, weights through `w_k/n` and the softmax.
    pub fn pullback(
        &self,
        mix: &Mixture,
        grad_points: &[Vec2],
        grad_weights: &[f64],
    ) -> CoreResult<Vec<f64>> {
        let n = self.points.len();
        if grad_points.len() != n || grad_weights.len() != n {
            return Err(CoreError::invalid(format!(
                "pullback needs one gradient per point ({n}), got {} point gradients and {} weight gradients",
                grad_points.len(),
                grad_weights.len()
            )));
        }
        let k = mix.n_components();
        let mut out = vec![0.0; mix.n_params()];
        let mut g_w = vec![0.0; k];
        let inv_n = 1.0 / self.n_per_component.max(1) as f64;
        for i in 0..n {
            let c = self.component[i];
            if c >= k {
                return Err(CoreError::invalid(
                    "pullback: batch was made by a mixture with more components",
                ));
            }
            let comp = &mix.comps[c];
            let g = grad_points[i];
            let e = self.eps[i];
            let o = &mut out[c * PARAMS_PER_COMPONENT..(c + 1) * PARAMS_PER_COMPONENT];
            o[1] += g[0];
            o[2] += g[1];
            o[3] += g[0] * e[0] * comp.l11;
            o[4] += g[1] * e[0];
            o[5] += g[1] * e[1] * comp.l22;
            g_w[c] += grad_weights[i] * inv_n;
        }
        let ws = mix.weights();
        let avg: f64 = ws.iter().zip(&g_w).map(|(w, g)| w * g).sum();
        for j in 0..k {
            out[j * PARAMS_PER_COMPONENT] += ws[j] * (g_w[j] - avg);
        }
        Ok(out)
    }
}

/// Chain rule from ∂/∂w (plain weights) to the logits: `∂/∂logit_j = w_j (g_j − Σ_k w_k g_k)`.
pub fn softmax_pullback(weights: &[f64], g_w: &[f64]) -> Vec<f64> {
    let avg: f64 = weights.iter().zip(g_w).map(|(w, g)| w * g).sum();
    weights
        .iter()
        .zip(g_w)
        .map(|(w, g)| w * (g - avg))
        .collect()
}

/// Chain rule from a symmetric ∂/∂Σ_k (`g_sigma`) to `(a, b, c)` of the Cholesky factor:
/// `∂/∂L = 2 G L`, then `∂/∂a = l11 (2GL)₁₁`, `∂/∂b = (2GL)₂₁`, `∂/∂c = l22 (2GL)₂₂`.
pub fn cov_grad_to_cholesky_params(l: [f64; 3], g_sigma: &Mat2) -> [f64; 3] {
    let [l11, l21, l22] = l;
    let g = g_sigma;
    // (G L) with L = [[l11, 0], [l21, l22]].
    let gl11 = g[0][0] * l11 + g[0][1] * l21;
    let gl21 = g[1][0] * l11 + g[1][1] * l21;
    let gl22 = g[1][1] * l22;
    [2.0 * gl11 * l11, 2.0 * gl21, 2.0 * gl22 * l22]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::rng::seeded;

    fn test_mix() -> Mixture {
        Mixture::from_components(
            &[0.3, 0.5, 0.2],
            &[[0.0, 0.0], [1.5, -0.5], [-1.0, 1.0]],
            &[
                [[1.0, 0.2], [0.2, 0.5]],
                [[0.3, -0.1], [-0.1, 0.8]],
                [[0.6, 0.0], [0.0, 0.6]],
            ],
        )
        .unwrap()
    }

    fn rel_err(a: f64, b: f64) -> f64 {
        (a - b).abs() / (a.abs().max(b.abs()).max(1e-3))
    }

    #[test]
    fn round_trip_and_normalization() {
        let m = test_mix();
        let w = m.weights();
        assert!((w[1] - 0.5).abs() < 1e-14);
        let c = m.covariances();
        assert!((c[0][0][1] - 0.2).abs() < 1e-14 && (c[1][1][1] - 0.8).abs() < 1e-14);
        let g = crate::core::grid::Grid::square(BBox::centered_square(8.0), 400).unwrap();
        let mass = g.integrate(|x| m.log_density(x).exp());
        assert!((mass - 1.0).abs() < 1e-6, "mass {mass}");
        assert!(
            Mixture::from_components(&[1.0], &[[0.0, 0.0]], &[[[1.0, 0.0], [0.0, -1.0]]]).is_err()
        );
        assert!(Mixture::from_params(&[0.0; 5]).is_err());
    }

    #[test]
    fn param_gradient_matches_finite_differences() {
        let m = test_mix();
        let theta = m.params();
        let h = 1e-6;
        let mut worst: f64 = 0.0;
        for x in [[0.3, -0.2], [2.0, 1.0], [-1.5, 0.7]] {
            let (_, g) = m.grad_log_density_params(x);
            for i in 0..theta.len() {
                let mut tp = theta.clone();
                let mut tm = theta.clone();
                tp[i] += h;
                tm[i] -= h;
                let fp = Mixture::from_params(&tp).unwrap().log_density(x);
                let fm = Mixture::from_params(&tm).unwrap().log_density(x);
                let fd = (fp - fm) / (2.0 * h);
                worst = worst.max(rel_err(fd, g[i]));
            }
            let s = m.score(x);
            for d in 0..2 {
                let mut xp = x;
                let mut xm = x;
                xp[d] += h;
                xm[d] -= h;
                let fd = (m.log_density(xp) - m.log_density(xm)) / (2.0 * h);
                worst = worst.max(rel_err(fd, s[d]));
            }
        }
        assert!(worst < 1e-6, "worst relative error {worst}");
    }

    #[test]
    fn paired_gradient_accumulation_equals_two_single_ones() {
        let m = test_mix();
        let x = [0.4, -0.7];
        let mut t = [0.0; MAX_COMPONENTS];
        let lq = m.log_density_terms(x, &mut t);
        let n = m.n_params();
        let (mut a1, mut b1, mut a2, mut b2) =
            (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        m.add_grad_log_density(x, &t, lq, 0.3, &mut a1);
        m.add_grad_log_density(x, &t, lq, -1.7, &mut b1);
        m.add_grad_log_density_pair(x, &t, lq, 0.3, &mut a2, -1.7, &mut b2);
        for i in 0..n {
            assert!((a1[i] - a2[i]).abs() < 1e-15 && (b1[i] - b2[i]).abs() < 1e-14);
        }
    }

    #[test]
    fn reparam_pullback_matches_finite_differences() {
        // Scalar F(θ) = Σ_i weight_i φ(x_i) with a smooth test function φ; ε fixed.
        let m = test_mix();
        let n = 5;
        let mut rng = seeded(11);
        let batch = m.reparam_batch(n, &mut rng).unwrap();
        let eps = batch.eps.clone();
        let phi = |x: Vec2| (0.7 * x[0]).sin() + x[0] * x[1] + 0.1 * x[1] * x[1];
        let dphi = |x: Vec2| [0.7 * (0.7 * x[0]).cos() + x[1], x[0] + 0.2 * x[1]];
        let f = |theta: &[f64]| {
            let mm = Mixture::from_params(theta).unwrap();
            let b = mm.reparam_batch_from_eps(n, eps.clone());
            b.points
                .iter()
                .zip(&b.weights)
                .map(|(x, w)| w * phi(*x))
                .sum::<f64>()
        };
        let gp: Vec<Vec2> = batch
            .points
            .iter()
            .zip(&batch.weights)
            .map(|(x, w)| {
                let d = dphi(*x);
                [w * d[0], w * d[1]]
            })
            .collect();
        let gw: Vec<f64> = batch.points.iter().map(|x| phi(*x)).collect();
        let g = batch.pullback(&m, &gp, &gw).unwrap();
        let theta = m.params();
        let h = 1e-6;
        let mut worst: f64 = 0.0;
        for i in 0..theta.len() {
            let mut tp = theta.clone();
            let mut tm = theta.clone();
            tp[i] += h;
            tm[i] -= h;
            let fd = (f(&tp) - f(&tm)) / (2.0 * h);
            worst = worst.max(rel_err(fd, g[i]));
        }
        assert!(worst < 1e-6, "worst relative error {worst}");
        let wsum: f64 = batch.weights.iter().sum();
        assert!((wsum - 1.0).abs() < 1e-12);
    }

    #[test]
    fn sampling_matches_moments_and_init_is_in_box() {
        let m = test_mix();
        let mut rng = seeded(5);
        let xs = m.sample(100_000, &mut rng);
        let mean = xs
            .iter()
            .fold([0.0, 0.0], |a, x| [a[0] + x[0], a[1] + x[1]]);
        let mean = [mean[0] / 1e5, mean[1] / 1e5];
        let want = m.mean();
        assert!((mean[0] - want[0]).abs() < 0.02 && (mean[1] - want[1]).abs() < 0.02);
        let b = BBox::new(-1.0, 3.0, 0.0, 2.0);
        let init = MixtureInit::Random {
            components: 7,
            seed: 2,
            std_fraction: 0.1,
        };
        let q = Mixture::from_init(&init, &b).unwrap();
        assert_eq!(q.n_components(), 7);
        assert!(q.means().iter().all(|x| b.contains(*x)));
        assert!((q.covariances()[0][0][0] - 0.04).abs() < 1e-12);
        let bad = MixtureInit::Random {
            components: 65,
            seed: 0,
            std_fraction: 0.1,
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn cov_chain_rule_matches_fd() {
        // d/dθ of tr(G Σ(θ)) for fixed symmetric G equals cov_grad_to_cholesky_params.
        let l: [f64; 3] = [0.8, 0.3, 1.2];
        let gs = [[0.5, -0.2], [-0.2, 0.7]];
        let f = |a: f64, b: f64, c: f64| {
            let (l11, l21, l22) = (a.exp(), b, c.exp());
            let s = [[l11 * l11, l11 * l21], [l11 * l21, l21 * l21 + l22 * l22]];
            gs[0][0] * s[0][0] + 2.0 * gs[0][1] * s[0][1] + gs[1][1] * s[1][1]
        };
        let (a, b, c) = (l[0].ln(), l[1], l[2].ln());
        let g = cov_grad_to_cholesky_params(l, &gs);
        let h = 1e-6;
        let fd = [
            (f(a + h, b, c) - f(a - h, b, c)) / (2.0 * h),
            (f(a, b + h, c) - f(a, b - h, c)) / (2.0 * h),
            (f(a, b, c + h) - f(a, b, c - h)) / (2.0 * h),
        ];
        for i in 0..3 {
            assert!(rel_err(fd[i], g[i]) < 1e-7, "{i}: {} vs {}", fd[i], g[i]);
        }
    }
}
