//! Scenario files: everything needed to replay a fit bit-for-bit — target, model and its initialization,
//! method (divergence + optimizer, EM, or a particle flow), seed and number of steps. RON and JSON are both
//! accepted (the format is detected from the text); the format is documented in `docs/scenario.md`.
//!
//! A malformed file gets a [`ScenarioError`] naming the line and the field; a number out of range names
//! the valid range.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::{CoreError, CoreResult, check_open};
use super::fit::Objective;
use super::flows::FlowConfig;
use super::math::Vec2;
use super::mixture::MixtureInit;
use super::optim::OptimizerConfig;
use super::target::TargetSpec;

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
}

fn default_steps() -> usize {
    200
}

/// What is fitted to the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelSpec {
    /// A Gaussian mixture q (parametric fit).
    Mixture { init: MixtureInit },
    /// A cloud of particles (non-parametric fit by a flow).
    Particles {
        count: usize,
        #[serde(default)]
        init: ParticleInit,
    },
}

/// Where particles start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ParticleInit {
    /// Isotropic Gaussian blob.
    Gaussian { mean: Vec2, std: f64 },
    /// Uniform in the target's scene box.
    UniformInBox,
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
#[serde(tag = "kind", rename_all = "snake_case")]
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
}

fn default_em_samples() -> usize {
    5000
}

impl Scenario {
    /// Checks every number against its valid range; the error names the field.
    pub fn validate(&self) -> CoreResult<()> {
        if self.version != SCENARIO_VERSION {
            return Err(CoreError::param(
                "version",
                f64::from(self.version),
                format!("{SCENARIO_VERSION} (the only version this build reads)"),
            ));
        }
        if self.steps > MAX_STEPS {
            return Err(CoreError::param(
                "steps",
                self.steps as f64,
                format!("[0, {MAX_STEPS}]"),
            ));
        }
        self.target.validate()?;
        match &self.model {
            ModelSpec::Mixture { init } => init.validate()?,
            ModelSpec::Particles { count, init } => {
                if !(1..=MAX_PARTICLES).contains(count) {
                    return Err(CoreError::param(
                        "count",
                        *count as f64,
                        format!("[1, {MAX_PARTICLES}]"),
                    ));
                }
                if let ParticleInit::Gaussian { mean, std } = init {
                    check_open("std", *std, 0.0, f64::INFINITY)?;
                    if !(mean[0].is_finite() && mean[1].is_finite()) {
                        return Err(CoreError::param("mean", f64::NAN, "finite numbers"));
                    }
                }
            }
        }
        match (&self.method, &self.model) {
            (
                Method::Gradient {
                    objective,
                    optimizer,
                },
                ModelSpec::Mixture { .. },
            ) => {
                objective.validate()?;
                optimizer.validate()?;
            }
            (Method::Em { samples }, ModelSpec::Mixture { .. }) => {
                if !(10..=MAX_PARTICLES).contains(samples) {
                    return Err(CoreError::param(
                        "samples",
                        *samples as f64,
                        format!("[10, {MAX_PARTICLES}]"),
                    ));
                }
            }
            (Method::Flow { flow }, ModelSpec::Particles { .. }) => flow.validate()?,
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

    /// Parses and validates a scenario from RON or JSON text (JSON when the text starts with `{`).
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let scenario = Self::parse_unvalidated(text)?;
        scenario.check(text)?;
        Ok(scenario)
    }

    /// Parses a scenario without checking its numbers, for callers that first fill in inputs the file
    /// refers to (a CSV of points) and then call [`Self::check`].
    pub fn parse_unvalidated(text: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| {
                let line = (e.line() > 0).then_some(e.line());
                ScenarioError::from_serde(text, line, e.to_string())
            })?
        } else {
            ron::from_str(text).map_err(|e| {
                let line = Some(e.span.start.line);
                ScenarioError::from_serde(text, line, e.code.to_string())
            })?
        };
        Ok(scenario)
    }

    /// [`Self::validate`], with the error placed on its line of `text` (the file the scenario came from).
    pub fn check(&self, text: &str) -> Result<(), ScenarioError> {
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
    /// The field at fault, where known.
    pub field: Option<String>,
    pub message: String,
}

impl ScenarioError {
    fn from_serde(text: &str, line: Option<usize>, message: String) -> Self {
        // Inside tagged enums serde reports the end of the enclosing object; the offending literal, when the
        // message quotes one that occurs once in the file, pins the line down exactly.
        let line = quoted_value_line(text, &message).or(line);
        // serde names the field in backticks for missing/unknown fields; otherwise the key on the line is it.
        let field = backticked(&message).or_else(|| line.and_then(|l| key_on_line(text, l)));
        Self {
            line,
            field,
            message,
        }
    }

    fn from_core(text: &str, err: CoreError) -> Self {
        let field = match &err {
            CoreError::InvalidParameter { name, .. } => Some(name.clone()),
            _ => None,
        };
        let line = field.as_deref().and_then(|f| line_of_key(text, f));
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

/// The line of the string literal quoted by an `invalid type: string "…"` message, if it occurs exactly once.
fn quoted_value_line(text: &str, message: &str) -> Option<usize> {
    let start = message.find("string \"")? + "string \"".len();
    let len = message[start..].find('"')?;
    let needle = format!("\"{}\"", &message[start..start + len]);
    let mut hits = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(&needle));
    let (i, _) = hits.next()?;
    hits.next().is_none().then_some(i + 1)
}

/// The first `name` in backticks in a serde message.
fn backticked(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    let name = &message[start..start + len];
    (!name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_'))
        .then(|| name.to_owned())
}

/// The key (`name:` in RON, `"name":` in JSON) on a 1-based line, if any.
fn key_on_line(text: &str, line: usize) -> Option<String> {
    let l = text.lines().nth(line.checked_sub(1)?)?;
    let before_colon = l.split(':').next()?;
    let key = before_colon
        .trim()
        .trim_start_matches(['(', '{', ','])
        .trim()
        .trim_matches('"');
    (!key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || c == '_'))
        .then(|| key.to_owned())
}

/// The 1-based line of a field given by a dotted name (`optimizer.lr`): the first line, at or after the line
/// of each enclosing key in turn, where the key appears followed by `:`.
fn line_of_key(text: &str, field: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut from = 0;
    let mut found = None;
    for key in field.split('.') {
        let key = key.split('[').next().unwrap_or(key);
        if let Some(i) = (from..lines.len()).find(|&i| has_key(lines[i], key)) {
            from = i;
            found = Some(i + 1);
        }
    }
    found
}

/// Whether `line` holds `key:` (RON) or `"key":` (JSON) as a whole word.
fn has_key(line: &str, key: &str) -> bool {
    let bytes = line.as_bytes();
    line.match_indices(key).any(|(i, _)| {
        let before_ok = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let rest = line[i + key.len()..].trim_start_matches('"').trim_start();
        before_ok && rest.starts_with(':')
    })
}
