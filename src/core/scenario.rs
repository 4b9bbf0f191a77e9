//! Scenario files: everything needed to replay a fit bit-for-bit — target, model and its initialization,
//! method (divergence + optimizer, EM, or a particle flow), seed and number of steps. RON and JSON are both
//! accepted (the format is detected from the text); the format is documented in `docs/scenario.md`.
//!
//! A malformed file gets a [`ScenarioError`] naming the line and the field; a number out of range names
//! the valid range.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::{CoreError, CoreResult};
use super::fit::Objective;
use super::flows::FlowConfig;
use super::math::Vec2;
use super::measure::MeasureSpec;
use super::mixture::MixtureInit;
use super::optim::OptimizerConfig;
use super::params;
use super::target::TargetSpec;

mod locate;

/// The scenario format version this build reads and writes.
pub const SCENARIO_VERSION: u32 = 1;

/// Upper bound on particles, keeping a run within memory and time a teacher would wait for.
pub const MAX_PARTICLES: usize = 1_000_000;

/// Upper bound on the steps of one run.
pub const MAX_STEPS: usize = 1_000_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Must be [`SCENARIO_VERSION`].
    pub version: u32,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Seeds every random draw of the run (initialization, Monte Carlo samples, flow noise).
    #[serde(default)]
    pub seed: u64,
    pub target: TargetSpec,
    pub model: ModelSpec,
    pub method: Method,
    /// Steps a plain `divlab run` / the app's "run" performs by default.
    #[serde(default = "default_steps")]
    pub steps: usize,
    /// Settings of the measurement battery (`divlab measure`, the divergences of `divlab run --json`);
    /// absent fields keep their defaults ([`MeasureSpec`]).
    #[serde(default, skip_serializing_if = "MeasureSpec::is_empty")]
    pub measure: MeasureSpec,
}

fn default_steps() -> usize {
    200
}

/// What is fitted to the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum ModelSpec {
    /// A Gaussian mixture q (parametric fit).
    Mixture { init: MixtureInit },
    /// A cloud of particles (non-parametric fit by a flow).
    Particles {
        /// How many; with `init: (kind: "points", …)` it may be left out (it is the number of points) and
        /// must otherwise equal it.
        #[serde(default)]
        count: usize,
        #[serde(default)]
        init: ParticleInit,
    },
}

/// Where particles start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    tag = "kind",
    rename_all = "snake_case",
    from = "ParticleInitRepr"
)]
pub enum ParticleInit {
    /// Isotropic Gaussian blob.
    Gaussian { mean: Vec2, std: f64 },
    /// Uniform in the target's scene box.
    UniformInBox,
    /// Given points, inline (`points`) or from a CSV file named by `source` (read by the loader, which
    /// fills `points`; the format of a `samples` target's CSV). Each particle starts at one of them.
    Points {
        #[serde(default)]
        points: Vec<Vec2>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<String>,
    },
}

/// How a [`ParticleInit`] is read: serde ignores unknown fields next to the tag of a unit variant even
/// with `deny_unknown_fields`, so the unit variant is read as an empty struct variant (which refuses them).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
enum ParticleInitRepr {
    Gaussian {
        mean: Vec2,
        std: f64,
    },
    UniformInBox {},
    Points {
        #[serde(default)]
        points: Vec<Vec2>,
        #[serde(default)]
        source: Option<String>,
    },
}

impl From<ParticleInitRepr> for ParticleInit {
    fn from(r: ParticleInitRepr) -> Self {
        match r {
            ParticleInitRepr::Gaussian { mean, std } => Self::Gaussian { mean, std },
            ParticleInitRepr::UniformInBox {} => Self::UniformInBox,
            ParticleInitRepr::Points { points, source } => Self::Points { points, source },
        }
    }
}

impl Default for ParticleInit {
    fn default() -> Self {
        Self::Gaussian {
            mean: [0.0, 0.0],
            std: 0.5,
        }
    }
}

/// How the model moves toward the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum Method {
    /// Gradient descent on a divergence with an optimizer (mixture models).
    Gradient {
        objective: Objective,
        optimizer: OptimizerConfig,
    },
    /// Expectation–maximization (forward-KL maximum likelihood) on `samples` draws of the target (mixtures).
    Em {
        #[serde(default = "default_em_samples")]
        samples: usize,
    },
    /// A particle flow (particle models). Flows that need samples of a density target draw
    /// `flow.target_samples` of them once, from the seed; sample targets use their own points.
    Flow { flow: FlowConfig },
    /// Gaussian variational inference by forward–backward JKO in Bures–Wasserstein space
    /// ([`super::bw_vi`]): one Gaussian (a mixture of one component) minimizing KL(q‖p) for a density target.
    BwJko {
        /// The JKO time step h.
        step_size: f64,
        /// Gauss–Hermite nodes per axis of the expectations over q.
        #[serde(default = "default_bw_nodes")]
        nodes: usize,
    },
}

fn default_bw_nodes() -> usize {
    super::bw_vi::DEFAULT_NODES
}

fn default_em_samples() -> usize {
    5000
}

impl Scenario {
    /// Checks every number against its declaration in [`super::params`]; the error names the field by its
    /// full dotted path in the file (`method.optimizer.lr`, `method.flow.kernel.sigma`).
    pub fn validate(&self) -> CoreResult<()> {
        let top = |field: &str, v: f64| params::check_field("", None, field, v).map(|_| ());
        top("version", f64::from(self.version))?;
        top("seed", self.seed as f64)?;
        top("steps", self.steps as f64)?;
        self.target.validate()?;
        match &self.model {
            ModelSpec::Mixture { init } => init.validate().map_err(|e| e.within("model"))?,
            ModelSpec::Particles { count, init } => {
                if let ParticleInit::Points { points, source } = init
                    && points.is_empty()
                {
                    return Err(CoreError::invalid(format!(
                        "model.init.points is empty: particles from points need at least one ({})",
                        match source {
                            Some(s) => format!("the CSV file {s} gave none"),
                            None => "give `points: [[x, y], …]` or `source: \"file.csv\"`".into(),
                        }
                    )));
                }
                params::check_field("model", Some("particles"), "count", *count as f64)?;
                if let ParticleInit::Gaussian { mean, std } = init {
                    let mean_decl = params::lookup("init", Some("gaussian"), "mean")
                        .ok_or_else(|| CoreError::invalid("init.gaussian.mean: no declaration"))?;
                    for (j, v) in mean.iter().enumerate() {
                        mean_decl.check_as(&format!("model.init.mean[{j}]"), *v)?;
                    }
                    params::check_field("init", Some("gaussian"), "std", *std)
                        .map_err(|e| e.within("model"))?;
                    params::check_squared("model.init.std", *std)?;
                }
                if let ParticleInit::Points { points, .. } = init {
                    let decl = params::decl("init.points.points")
                        .ok_or_else(|| CoreError::invalid("init.points.points: no declaration"))?;
                    for (name, v) in super::target::indexed_points(points) {
                        decl.check_as(&format!("model.init.points{name}"), *v)?;
                    }
                    if *count != points.len() {
                        return Err(CoreError::field(
                            "model.count",
                            format!(
                                "{count} particles, but model.init has {} points; leave count out or make them agree",
                                points.len()
                            ),
                        ));
                    }
                }
            }
        }
        self.measure.validate()?;
        if matches!(self.target, TargetSpec::Dirichlet(_)) {
            if let ModelSpec::Mixture { .. } = self.model {
                return Err(CoreError::field(
                    "model.kind",
                    "the dirichlet target lives on the simplex, and a Gaussian mixture q has mass outside it, where \
                     p = 0 (so KL(q‖p) and the other f-divergences of q against p are infinite): fit it with \
                     particles (model: (kind: \"particles\", …) and a flow)",
                ));
            }
        } else if let Method::Flow {
            flow: FlowConfig::MirroredSvgd { .. },
        } = &self.method
        {
            return Err(CoreError::field(
                "method.flow.kind",
                format!(
                    "mirrored_svgd moves particles in the mirror coordinates of the simplex, and the {} target lives on \
                     the whole plane: use svgd with it, or target (kind: \"dirichlet\")",
                    self.target.kind_name()
                ),
            ));
        }
        match (&self.method, &self.model) {
            (
                Method::Gradient {
                    objective,
                    optimizer,
                },
                ModelSpec::Mixture { .. },
            ) => {
                objective.validate().map_err(|e| e.within("method"))?;
                optimizer.validate().map_err(|e| e.within("method"))?;
            }
            (Method::Em { samples }, ModelSpec::Mixture { .. }) => {
                params::check_field("method", Some("em"), "samples", *samples as f64)?;
            }
            (Method::BwJko { step_size, nodes }, ModelSpec::Mixture { init }) => {
                params::check_field("method", Some("bw_jko"), "step_size", *step_size)?;
                params::check_field("method", Some("bw_jko"), "nodes", *nodes as f64)?;
                let components = match init {
                    super::mixture::MixtureInit::Random { components, .. } => *components,
                    super::mixture::MixtureInit::Given { weights, .. } => weights.len(),
                };
                if components != 1 {
                    return Err(CoreError::field(
                        "model.init",
                        format!(
                            "{components} components, but the bw_jko method moves a single Gaussian: give one component"
                        ),
                    ));
                }
                if matches!(self.target, TargetSpec::Samples(_)) {
                    return Err(CoreError::field(
                        "method.kind",
                        "bw_jko follows the target's score ∇ln p, and a samples target has only points (no density): \
                         use a density target",
                    ));
                }
            }
            (Method::Flow { flow }, ModelSpec::Particles { .. }) => {
                flow.validate().map_err(|e| e.within("method"))?;
                if flow.needs_score() && matches!(self.target, TargetSpec::Samples(_)) {
                    return Err(CoreError::field(
                        "method.flow.kind",
                        format!(
                            "the {} flow follows the target's score ∇ln p, and a samples target has only points \
                             (no density): use an mmd, sliced_riesz or sinkhorn flow with it, or a density target",
                            flow.kind_name()
                        ),
                    ));
                }
            }
            (Method::Flow { .. }, ModelSpec::Mixture { .. }) => {
                return Err(CoreError::invalid(
                    "method: a flow moves particles; use model (kind: \"particles\", …) with it",
                ));
            }
            (_, ModelSpec::Particles { .. }) => {
                return Err(CoreError::invalid(
                    "method: particles are moved by a flow; use method (kind: \"flow\", …) with them",
                ));
            }
        }
        Ok(())
    }

    /// Parses and validates a scenario from RON or JSON text (JSON when the text starts with `{`). Unknown
    /// fields are refused at every depth; the error names the line, the dotted field path and, for a
    /// misspelt name or `kind`, the nearest valid one (see [`ScenarioError`]).
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let scenario = Self::parse_unvalidated(text)?;
        scenario.check(text)?;
        Ok(scenario)
    }

    /// Parses a scenario without checking its numbers, for callers that first fill in inputs the file
    /// refers to (a CSV of points) and then call [`Self::check`].
    pub fn parse_unvalidated(text: &str) -> Result<Scenario, ScenarioError> {
        // A byte-order mark (some editors write one) is not part of the text.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut scenario = if text.trim_start().starts_with('{') {
            locate::parse_json(text)?
        } else {
            locate::parse_ron(text)?
        };
        scenario.settle_count();
        Ok(scenario)
    }

    /// A particle model started from points with no `count` (0) gets the number of its points.
    pub fn settle_count(&mut self) {
        if let ModelSpec::Particles {
            count,
            init: ParticleInit::Points { points, .. },
        } = &mut self.model
            && *count == 0
        {
            *count = points.len();
        }
    }

    /// The text of a scenario file's bytes: UTF-8 (a byte-order mark is dropped by the parser), or an error
    /// naming the byte offset, line and column of the first byte that is not.
    pub fn text_of(bytes: &[u8]) -> Result<&str, ScenarioError> {
        std::str::from_utf8(bytes).map_err(|e| {
            let good = &bytes[..e.valid_up_to()];
            let line = good.iter().filter(|b| **b == b'\n').count() + 1;
            let line_start = good.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            // Columns count characters of the valid text before the bad byte.
            let column = std::str::from_utf8(&good[line_start..])
                .map_or(0, |s| s.chars().count())
                + 1;
            let bad: Vec<String> = bytes[e.valid_up_to()..]
                .iter()
                .take(e.error_len().unwrap_or(bytes.len() - e.valid_up_to()).min(4))
                .map(|b| format!("0x{b:02x}"))
                .collect();
            ScenarioError {
                line: Some(line),
                field: None,
                message: format!(
                    "not UTF-8 text: byte offset {} (line {line}, column {column}) holds {}, which is not UTF-8; save the file as UTF-8",
                    e.valid_up_to(),
                    bad.join(" ")
                ),
            }
        })
    }

    /// [`Self::parse`] from a file's bytes ([`Self::text_of`], then the text).
    pub fn parse_bytes(bytes: &[u8]) -> Result<Scenario, ScenarioError> {
        Self::parse(Self::text_of(bytes)?)
    }

    /// [`Self::validate`], with the error placed on its line of `text` (the file the scenario came from).
    pub fn check(&self, text: &str) -> Result<(), ScenarioError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        self.validate()
            .map_err(|e| ScenarioError::from_core(text, e))
    }

    /// The scenario as pretty RON (round-trips through [`Scenario::parse`]).
    pub fn to_ron(&self) -> CoreResult<String> {
        ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default())
            .map_err(|e| CoreError::invalid(format!("cannot write scenario as RON: {e}")))
    }

    /// The scenario as pretty JSON.
    pub fn to_json(&self) -> CoreResult<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| CoreError::invalid(format!("cannot write scenario as JSON: {e}")))
    }
}

/// A scenario that cannot be read: where (line) and what (field) is wrong, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioError {
    /// 1-based line in the file, where known.
    pub line: Option<usize>,
    /// The field at fault as a dotted path (`method.optimizer.lr`, `model.init.means[1][0]`), where known.
    pub field: Option<String>,
    pub message: String,
}

/// The 1-based line of a dotted field path in a scenario's text (of its nearest enclosing key that is
/// written there), for messages about the file's inputs.
pub fn line_of_field(text: &str, path: &str) -> Option<usize> {
    locate::line_of_path(text, path)
}

impl ScenarioError {
    fn from_core(text: &str, err: CoreError) -> Self {
        let field = match &err {
            CoreError::InvalidParameter { name, .. } | CoreError::Field { name, .. } => {
                Some(name.clone())
            }
            // "method: a flow moves particles…", "target.points is empty…": the leading path, if it is one.
            CoreError::Invalid { reason } => reason
                .split([' ', ':'])
                .next()
                .filter(|p| locate::exact_line(text, p).is_some())
                .map(str::to_owned),
            _ => None,
        };
        let line = field.as_deref().and_then(|f| locate::line_of_path(text, f));
        Self {
            line,
            field,
            message: err.to_string(),
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.line, &self.field) {
            (Some(line), Some(field)) => {
                write!(f, "line {line}, field `{field}`: {}", self.message)
            }
            (Some(line), None) => write!(f, "line {line}: {}", self.message),
            (None, Some(field)) => write!(f, "field `{field}`: {}", self.message),
            (None, None) => write!(f, "{}", self.message),
        }
    }
}

impl std::error::Error for ScenarioError {}
