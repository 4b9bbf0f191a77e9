//! Gradient-based optimizers for the mixture parameters θ (minimization).
//!
//! Every optimizer computes an update direction `u` from the gradient `g` and its state, then
//! `θ ← θ − lr·u` (plus decoupled weight decay `θ ← θ − lr·wd·θ` where stated). Formulas, with
//! `t` the 1-based step count and bias corrections `b₁ = 1 − β₁ᵗ`, `b₂ = 1 − β₂ᵗ`:
//! - `sgd`: heavy ball `v ← μv + g`, `u = v` (PyTorch convention; μ = 0 is plain SGD).
//! - `adam`: `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`, `u = (m/b₁)/(√(v̂) + ε)` with `v̂ = v/b₂`
//!   (AMSGrad: `v̂ = max over steps of v`/b₂, Reddi et al.); `weight_decay` is added to g
//!   (L2, Adam) or decoupled (`decoupled: true`, AdamW).
//! - `lion`: `u = sign(β₁m + (1−β₁)g)`, then `m ← β₂m + (1−β₂)g`; decoupled weight decay.
//! - `laprop`: `v ← β₂v + (1−β₂)g²`, `m ← β₁m + (1−β₁) g/(√(v/b₂) + ε)`, `u = m/b₁`.
//! - `ademamix`: fast `m₁` (β₁) and slow `m₂` (β₃) EMAs of g, `v` as Adam,
//!   `u = (m₁/b₁ + α m₂)/(√(v/b₂) + ε)` (no α/β₃ warm-up schedule); decoupled weight decay.
//! - `grams`: Adam's `û = (m/b₁)/(√(v/b₂)+ε)`, `u = sign(g)·|û|`; decoupled weight decay.
//! - `cautious` (for the momentum ones): `u ← u ⊙ φ / max(mean(φ), 10⁻³)` with
//!   `φᵢ = 1[uᵢ gᵢ > 0]` (Liang et al., reference implementation's normalization).
//!
//! A step with a non-finite gradient (or one that would make θ non-finite) is refused with an
//! error and leaves θ and the optimizer state untouched.

use serde::{Deserialize, Serialize};

use super::error::{CoreError, CoreResult};
use super::params;

fn d_lr() -> f64 {
    0.05
}
fn d_b1() -> f64 {
    0.9
}
fn d_b2() -> f64 {
    0.999
}
fn d_b2_lion() -> f64 {
    0.99
}
fn d_b3() -> f64 {
    0.9999
}
fn d_alpha() -> f64 {
    5.0
}
fn d_eps() -> f64 {
    1e-8
}

/// Which optimizer, with its hyper-parameters (defaults in parentheses via serde).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum OptimizerConfig {
    Sgd {
        #[serde(default = "d_lr")]
        lr: f64,
        #[serde(default)]
        momentum: f64,
        #[serde(default)]
        cautious: bool,
    },
    Adam {
        #[serde(default = "d_lr")]
        lr: f64,
        #[serde(default = "d_b1")]
        beta1: f64,
        #[serde(default = "d_b2")]
        beta2: f64,
        #[serde(default = "d_eps")]
        eps: f64,
        #[serde(default)]
        weight_decay: f64,
        /// AdamW (weight decay decoupled from the gradient).
        #[serde(default)]
        decoupled: bool,
        #[serde(default)]
        amsgrad: bool,
        #[serde(default)]
        cautious: bool,
    },
    Lion {
        #[serde(default = "d_lr")]
        lr: f64,
        #[serde(default = "d_b1")]
        beta1: f64,
        #[serde(default = "d_b2_lion")]
        beta2: f64,
        #[serde(default)]
        weight_decay: f64,
        #[serde(default)]
        cautious: bool,
    },
    Laprop {
        #[serde(default = "d_lr")]
        lr: f64,
        #[serde(default = "d_b1")]
        beta1: f64,
        #[serde(default = "d_b2")]
        beta2: f64,
        #[serde(default = "d_eps")]
        eps: f64,
        #[serde(default)]
        weight_decay: f64,
        #[serde(default)]
        cautious: bool,
    },
    Ademamix {
        #[serde(default = "d_lr")]
        lr: f64,
        #[serde(default = "d_b1")]
        beta1: f64,
        #[serde(default = "d_b2")]
        beta2: f64,
        #[serde(default = "d_b3")]
        beta3: f64,
        #[serde(default = "d_alpha")]
        alpha: f64,
        #[serde(default = "d_eps")]
        eps: f64,
        #[serde(default)]
        weight_decay: f64,
        #[serde(default)]
        cautious: bool,
    },
    Grams {
        #[serde(default = "d_lr")]
        lr: f64,
        #[serde(default = "d_b1")]
        beta1: f64,
        #[serde(default = "d_b2")]
        beta2: f64,
        #[serde(default = "d_eps")]
        eps: f64,
        #[serde(default)]
        weight_decay: f64,
    },
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self::adam(d_lr())
    }
}

impl OptimizerConfig {
    /// Adam with default betas and the given learning rate.
    pub fn adam(lr: f64) -> Self {
        Self::Adam {
            lr,
            beta1: d_b1(),
            beta2: d_b2(),
            eps: d_eps(),
            weight_decay: 0.0,
            decoupled: false,
            amsgrad: false,
            cautious: false,
        }
    }

    pub fn lr(&self) -> f64 {
        match *self {
            Self::Sgd { lr, .. }
            | Self::Adam { lr, .. }
            | Self::Lion { lr, .. }
            | Self::Laprop { lr, .. }
            | Self::Ademamix { lr, .. }
            | Self::Grams { lr, .. } => lr,
        }
    }

    /// Sets the learning rate (e.g. for a schedule or the app's slider).
    pub fn set_lr(&mut self, new_lr: f64) {
        match self {
            Self::Sgd { lr, .. }
            | Self::Adam { lr, .. }
            | Self::Lion { lr, .. }
            | Self::Laprop { lr, .. }
            | Self::Ademamix { lr, .. }
            | Self::Grams { lr, .. } => *lr = new_lr,
        }
    }

    /// Whether the cautious mask is on (Grams has none).
    pub fn is_cautious(&self) -> bool {
        match *self {
            Self::Sgd { cautious, .. }
            | Self::Adam { cautious, .. }
            | Self::Lion { cautious, .. }
            | Self::Laprop { cautious, .. }
            | Self::Ademamix { cautious, .. } => cautious,
            Self::Grams { .. } => false,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Sgd { .. } => "sgd",
            Self::Adam { .. } => "adam",
            Self::Lion { .. } => "lion",
            Self::Laprop { .. } => "laprop",
            Self::Ademamix { .. } => "ademamix",
            Self::Grams { .. } => "grams",
        }
    }

    /// Checks every hyper-parameter against `optimizer.<field>` / `optimizer.<kind>.<field>` in
    /// [`super::params`] (lr ∈ (0, 10], momentum and betas ∈ [0, 1), eps ∈ (0, 1), weight_decay ∈ [0, 10],
    /// AdEMAMix α ∈ [0, 1000]); the error names `optimizer.<field>`.
    pub fn validate(&self) -> CoreResult<()> {
        let kind = Some(self.name());
        let c = |field: &str, v: f64| params::check_field("optimizer", kind, field, v).map(|_| ());
        match *self {
            Self::Sgd {
                lr: l, momentum, ..
            } => {
                c("lr", l)?;
                c("momentum", momentum)
            }
            Self::Adam {
                lr: l,
                beta1,
                beta2,
                eps: e,
                weight_decay,
                ..
            }
            | Self::Laprop {
                lr: l,
                beta1,
                beta2,
                eps: e,
                weight_decay,
                ..
            }
            | Self::Grams {
                lr: l,
                beta1,
                beta2,
                eps: e,
                weight_decay,
            } => {
                c("lr", l)?;
                c("beta1", beta1)?;
                c("beta2", beta2)?;
                c("eps", e)?;
                c("weight_decay", weight_decay)
            }
            Self::Lion {
                lr: l,
                beta1,
                beta2,
                weight_decay,
                ..
            } => {
                c("lr", l)?;
                c("beta1", beta1)?;
                c("beta2", beta2)?;
                c("weight_decay", weight_decay)
            }
            Self::Ademamix {
                lr: l,
                beta1,
                beta2,
                beta3,
                alpha,
                eps: e,
                weight_decay,
                ..
            } => {
                c("lr", l)?;
                c("beta1", beta1)?;
                c("beta2", beta2)?;
                c("beta3", beta3)?;
                c("alpha", alpha)?;
                c("eps", e)?;
                c("weight_decay", weight_decay)
            }
        }
    }
}

/// Optimizer state for `n_params` parameters (serializable, for [`super::sim::Checkpoint`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Optimizer {
    cfg: OptimizerConfig,
    n: usize,
    t: u64,
    m: Vec<f64>,
    v: Vec<f64>,
    /// AMSGrad's running max of v, or AdEMAMix's slow EMA.
    aux: Vec<f64>,
}

fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

impl Optimizer {
    pub fn new(cfg: &OptimizerConfig, n_params: usize) -> CoreResult<Self> {
        cfg.validate()?;
        Ok(Self {
            cfg: cfg.clone(),
            n: n_params,
            t: 0,
            m: vec![0.0; n_params],
            v: vec![0.0; n_params],
            aux: vec![0.0; n_params],
        })
    }

    pub fn config(&self) -> &OptimizerConfig {
        &self.cfg
    }

    /// Changes the learning rate without resetting the state.
    pub fn set_lr(&mut self, lr: f64) -> CoreResult<()> {
        let mut c = self.cfg.clone();
        c.set_lr(lr);
        c.validate()?;
        self.cfg = c;
        Ok(())
    }

    /// Checks a deserialized state against the configuration and size it must have: the same config,
    /// `n_params` entries in each moment, all finite.
    pub fn check_restored(&self, cfg: &OptimizerConfig, n_params: usize) -> CoreResult<()> {
        if &self.cfg != cfg {
            return Err(CoreError::invalid(
                "checkpoint: the optimizer's configuration differs from the scenario's",
            ));
        }
        if self.n != n_params
            || [&self.m, &self.v, &self.aux]
                .iter()
                .any(|v| v.len() != n_params)
        {
            return Err(CoreError::invalid(format!(
                "checkpoint: the optimizer's state is not for {n_params} parameters"
            )));
        }
        if self
            .m
            .iter()
            .chain(&self.v)
            .chain(&self.aux)
            .any(|x| !x.is_finite())
        {
            return Err(CoreError::non_finite("checkpoint: optimizer moments"));
        }
        Ok(())
    }

    /// Number of steps taken.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// Clears the moments (e.g. after the user drags a component).
    pub fn reset(&mut self) {
        self.t = 0;
        self.m.iter_mut().for_each(|x| *x = 0.0);
        self.v.iter_mut().for_each(|x| *x = 0.0);
        self.aux.iter_mut().for_each(|x| *x = 0.0);
    }

    /// One minimization step `θ ← θ − lr·u` (see the module docs). Refuses wrong lengths and
    /// non-finite gradients, leaving `params` and the state untouched.
    pub fn step(&mut self, params: &mut [f64], grad: &[f64]) -> CoreResult<()> {
        if params.len() != self.n || grad.len() != self.n {
            return Err(CoreError::invalid(format!(
                "optimizer built for {} parameters got {} parameters and {} gradient entries",
                self.n,
                params.len(),
                grad.len()
            )));
        }
        if let Some(i) = grad.iter().position(|g| !g.is_finite()) {
            return Err(CoreError::non_finite(format!(
                "gradient entry {i} (step refused)"
            )));
        }
        let t = self.t + 1;
        let mut m = self.m.clone();
        let mut v = self.v.clone();
        let mut aux = self.aux.clone();
        let mut u = vec![0.0; self.n];
        let (lr, decoupled_wd, cautious) = match self.cfg {
            OptimizerConfig::Sgd {
                lr,
                momentum,
                cautious,
            } => {
                for i in 0..self.n {
                    m[i] = momentum * m[i] + grad[i];
                    u[i] = m[i];
                }
                (lr, 0.0, cautious)
            }
            OptimizerConfig::Adam {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
                decoupled,
                amsgrad,
                cautious,
            } => {
                let (b1, b2) = bias(beta1, beta2, t);
                for i in 0..self.n {
                    let g = if decoupled {
                        grad[i]
                    } else {
                        grad[i] + weight_decay * params[i]
                    };
                    m[i] = beta1 * m[i] + (1.0 - beta1) * g;
                    v[i] = beta2 * v[i] + (1.0 - beta2) * g * g;
                    let vv = if amsgrad {
                        aux[i] = aux[i].max(v[i]);
                        aux[i]
                    } else {
                        v[i]
                    };
                    u[i] = (m[i] / b1) / ((vv / b2).sqrt() + eps);
                }
                (lr, if decoupled { weight_decay } else { 0.0 }, cautious)
            }
            OptimizerConfig::Lion {
                lr,
                beta1,
                beta2,
                weight_decay,
                cautious,
            } => {
                for i in 0..self.n {
                    u[i] = sign(beta1 * m[i] + (1.0 - beta1) * grad[i]);
                    m[i] = beta2 * m[i] + (1.0 - beta2) * grad[i];
                }
                (lr, weight_decay, cautious)
            }
            OptimizerConfig::Laprop {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
                cautious,
            } => {
                let (b1, b2) = bias(beta1, beta2, t);
                for i in 0..self.n {
                    v[i] = beta2 * v[i] + (1.0 - beta2) * grad[i] * grad[i];
                    m[i] = beta1 * m[i] + (1.0 - beta1) * grad[i] / ((v[i] / b2).sqrt() + eps);
                    u[i] = m[i] / b1;
                }
                (lr, weight_decay, cautious)
            }
            OptimizerConfig::Ademamix {
                lr,
                beta1,
                beta2,
                beta3,
                alpha,
                eps,
                weight_decay,
                cautious,
            } => {
                let (b1, b2) = bias(beta1, beta2, t);
                for i in 0..self.n {
                    m[i] = beta1 * m[i] + (1.0 - beta1) * grad[i];
                    aux[i] = beta3 * aux[i] + (1.0 - beta3) * grad[i];
                    v[i] = beta2 * v[i] + (1.0 - beta2) * grad[i] * grad[i];
                    u[i] = (m[i] / b1 + alpha * aux[i]) / ((v[i] / b2).sqrt() + eps);
                }
                (lr, weight_decay, cautious)
            }
            OptimizerConfig::Grams {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
            } => {
                let (b1, b2) = bias(beta1, beta2, t);
                for i in 0..self.n {
                    m[i] = beta1 * m[i] + (1.0 - beta1) * grad[i];
                    v[i] = beta2 * v[i] + (1.0 - beta2) * grad[i] * grad[i];
                    let uu = (m[i] / b1) / ((v[i] / b2).sqrt() + eps);
                    u[i] = sign(grad[i]) * uu.abs();
                }
                (lr, weight_decay, false)
            }
        };
        if cautious && self.n > 0 {
            let agree: Vec<bool> = u.iter().zip(grad).map(|(a, g)| a * g > 0.0).collect();
            let frac = agree.iter().filter(|a| **a).count() as f64 / self.n as f64;
            let s = 1.0 / frac.max(1e-3);
            for (ui, a) in u.iter_mut().zip(&agree) {
                *ui = if *a { *ui * s } else { 0.0 };
            }
        }
        let new: Vec<f64> = params
            .iter()
            .zip(&u)
            .map(|(p, ui)| p - lr * ui - lr * decoupled_wd * p)
            .collect();
        if let Some(i) = new.iter().position(|x| !x.is_finite()) {
            return Err(CoreError::non_finite(format!(
                "parameter {i} after the {} step (step refused)",
                self.cfg.name()
            )));
        }
        params.copy_from_slice(&new);
        self.m = m;
        self.v = v;
        self.aux = aux;
        self.t = t;
        Ok(())
    }
}

fn bias(beta1: f64, beta2: f64, t: u64) -> (f64, f64) {
    let ti = t.min(i32::MAX as u64) as i32;
    (1.0 - beta1.powi(ti), 1.0 - beta2.powi(ti))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_configs() -> Vec<OptimizerConfig> {
        let mut v: Vec<OptimizerConfig> = [
            r#"{"kind":"sgd","lr":0.05,"momentum":0.9}"#,
            r#"{"kind":"adam","lr":0.05}"#,
            r#"{"kind":"adam","lr":0.05,"amsgrad":true}"#,
            r#"{"kind":"adam","lr":0.05,"weight_decay":0.001,"decoupled":true}"#,
            r#"{"kind":"lion","lr":0.01}"#,
            r#"{"kind":"laprop","lr":0.05}"#,
            r#"{"kind":"ademamix","lr":0.02,"beta3":0.99}"#,
            r#"{"kind":"grams","lr":0.05}"#,
        ]
        .iter()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect();
        let cautious: Vec<OptimizerConfig> = [
            r#"{"kind":"sgd","lr":0.05,"momentum":0.9,"cautious":true}"#,
            r#"{"kind":"adam","lr":0.05,"cautious":true}"#,
            r#"{"kind":"lion","lr":0.01,"cautious":true}"#,
            r#"{"kind":"laprop","lr":0.05,"cautious":true}"#,
            r#"{"kind":"ademamix","lr":0.02,"beta3":0.99,"cautious":true}"#,
        ]
        .iter()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect();
        v.extend(cautious);
        v
    }

    /// f(θ) = ½ Σ aᵢ (θᵢ − cᵢ)², ill-conditioned (a from 0.5 to 4).
    const A: [f64; 4] = [0.5, 1.0, 2.0, 4.0];
    const C: [f64; 4] = [1.0, -2.0, 0.5, 3.0];

    fn f(th: &[f64]) -> f64 {
        th.iter()
            .zip(A.iter().zip(&C))
            .map(|(x, (a, c))| 0.5 * a * (x - c).powi(2))
            .sum()
    }

    fn g(th: &[f64]) -> Vec<f64> {
        th.iter()
            .zip(A.iter().zip(&C))
            .map(|(x, (a, c))| a * (x - c))
            .collect()
    }

    #[test]
    fn every_optimizer_converges_on_a_convex_quadratic() {
        for cfg in all_configs() {
            let mut opt = Optimizer::new(&cfg, 4).unwrap();
            let mut th = vec![0.0; 4];
            let f0 = f(&th);
            for k in 0..3000 {
                // Halve the step every 500 steps so that sign-type methods settle too (AdEMAMix is
                // run with β3 = 0.99: its default 0.9999 EMA needs ~10⁴ steps to forget).
                if k % 500 == 499 {
                    opt.set_lr(opt.config().lr() * 0.5).unwrap();
                }
                let gr = g(&th);
                opt.step(&mut th, &gr).unwrap();
            }
            let ff = f(&th);
            let wd =
                matches!(cfg, OptimizerConfig::Adam { weight_decay, .. } if weight_decay > 0.0);
            let tol = if wd { 1e-4 } else { 1e-6 };
            assert!(ff < tol * f0, "{cfg:?}: f = {ff} (from {f0})");
        }
    }

    #[test]
    fn first_steps_match_hand_computation() {
        let th0 = [0.5, -1.0];
        let gr = [2.0, -0.5];
        let step = |json: &str| {
            let cfg: OptimizerConfig = serde_json::from_str(json).unwrap();
            let mut o = Optimizer::new(&cfg, 2).unwrap();
            let mut th = th0.to_vec();
            o.step(&mut th, &gr).unwrap();
            th
        };
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12);
        // SGD: θ − lr g.
        assert!(close(
            &step(r#"{"kind":"sgd","lr":0.1,"momentum":0.9}"#),
            &[0.3, -0.95]
        ));
        // Adam step 1: m̂ = g, v̂ = g² → u = g/(|g| + ε).
        let e = 1e-8;
        let want = [0.5 - 0.1 * 2.0 / (2.0 + e), -1.0 + 0.1 * 0.5 / (0.5 + e)];
        assert!(close(&step(r#"{"kind":"adam","lr":0.1}"#), &want));
        assert!(close(&step(r#"{"kind":"laprop","lr":0.1}"#), &want));
        assert!(close(&step(r#"{"kind":"grams","lr":0.1}"#), &want));
        // Adam with L2 weight decay 0.5: g' = g + 0.5θ = [2.25, −1.0].
        let want_l2 = [0.5 - 0.1 * 2.25 / (2.25 + e), -1.0 + 0.1 * 1.0 / (1.0 + e)];
        assert!(close(
            &step(r#"{"kind":"adam","lr":0.1,"weight_decay":0.5}"#),
            &want_l2
        ));
        // AdamW: u as Adam, then θ − lr·wd·θ.
        let want_w = [want[0] - 0.1 * 0.5 * 0.5, want[1] + 0.1 * 0.5];
        assert!(close(
            &step(r#"{"kind":"adam","lr":0.1,"weight_decay":0.5,"decoupled":true}"#),
            &want_w
        ));
        // Lion: sign((1 − β1) g) = sign(g).
        assert!(close(&step(r#"{"kind":"lion","lr":0.1}"#), &[0.4, -0.9]));
        // AdEMAMix: (g + α(1 − β3)g)/(|g| + ε).
        let k = 1.0 + 5.0 * (1.0 - 0.9999);
        let want_a = [
            0.5 - 0.1 * k * 2.0 / (2.0 + e),
            -1.0 + 0.1 * k * 0.5 / (0.5 + e),
        ];
        assert!(close(&step(r#"{"kind":"ademamix","lr":0.1}"#), &want_a));
        // Cautious SGD with momentum, second step where the momentum disagrees with g in
        // coordinate 0: v = 0.9·[2, −0.5] + [−1, −1] = [0.8, −1.45]; u·g: [−0.8, 1.45] → mask
        // [0, 1], scale 1/0.5 = 2 → θ1 − 0.1·[0, −2.9].
        let cfg: OptimizerConfig =
            serde_json::from_str(r#"{"kind":"sgd","lr":0.1,"momentum":0.9,"cautious":true}"#)
                .unwrap();
        let mut o = Optimizer::new(&cfg, 2).unwrap();
        let mut th = th0.to_vec();
        o.step(&mut th, &gr).unwrap();
        let th1 = th.clone();
        o.step(&mut th, &[-1.0, -1.0]).unwrap();
        assert!(close(&th, &[th1[0], th1[1] + 0.29]), "{th:?}");
    }

    #[test]
    fn refuses_non_finite_gradients_and_bad_ranges() {
        let mut o = Optimizer::new(&OptimizerConfig::default(), 2).unwrap();
        let mut th = vec![1.0, 2.0];
        assert!(o.step(&mut th, &[f64::NAN, 0.0]).is_err());
        assert_eq!(th, vec![1.0, 2.0]);
        assert_eq!(o.steps(), 0);
        assert!(o.step(&mut th, &[1.0]).is_err());
        let e = Optimizer::new(&OptimizerConfig::adam(-1.0), 2).unwrap_err();
        assert!(format!("{e}").contains("optimizer.lr"));
        let bad: OptimizerConfig = serde_json::from_str(r#"{"kind":"adam","beta2":1.0}"#).unwrap();
        assert!(format!("{}", bad.validate().unwrap_err()).contains("optimizer.beta2"));
        let bad: OptimizerConfig =
            serde_json::from_str(r#"{"kind":"sgd","momentum":-0.1}"#).unwrap();
        assert!(bad.validate().is_err());
    }
}
