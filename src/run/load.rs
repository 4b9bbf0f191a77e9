//! One loader for a scenario and the inputs it refers to (an image for an `image` target, a CSV of points
//! for a `samples` target, the bundled assets), used by the app and the CLI alike.
//!
//! Inputs are read through a [`Resolver`]: files next to the scenario (native), or the bundled assets only
//! (the web, and the app's bundled scenarios). The bundled image answers to its asset name everywhere.

use std::fmt;

use crate::core::math::Vec2;
use crate::core::scenario::{ModelSpec, ParticleInit, Scenario, ScenarioError};
use crate::core::target::{GrayImage, TargetSpec};

/// A scenario with its inputs, ready to build a [`super::Run`].
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub scenario: Scenario,
    /// The image of an `image` target.
    pub image: Option<GrayImage>,
    /// Where the scenario came from (a path, or `bundled:<name>`), for messages.
    pub origin: String,
}

/// Why a scenario could not be loaded. Each variant names where.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadError {
    /// The scenario file itself cannot be read.
    Read { origin: String, reason: String },
    /// The scenario text is malformed or a number is out of range (line and field inside).
    Scenario {
        origin: String,
        error: ScenarioError,
    },
    /// An input the scenario refers to is missing or malformed.
    Input {
        origin: String,
        input: String,
        reason: String,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { origin, reason } => write!(f, "cannot read {origin}: {reason}"),
            Self::Scenario { origin, error } => write!(f, "{origin}: {error}"),
            Self::Input {
                origin,
                input,
                reason,
            } => write!(f, "{origin}: {input}: {reason}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// Where a scenario's inputs come from.
pub trait Resolver {
    /// The bytes of the input named `name` in the scenario (a path relative to the scenario, or an asset name).
    fn read(&self, name: &str) -> Result<Vec<u8>, String>;
}

/// Only the bundled assets (the app's bundled scenarios, the web).
pub struct BundledOnly;

impl Resolver for BundledOnly {
    fn read(&self, name: &str) -> Result<Vec<u8>, String> {
        crate::assets::bundled_bytes(name)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| {
                format!(
                    "not a bundled asset (bundled: {})",
                    crate::assets::BUNDLED_IMAGE_ASSET
                )
            })
    }
}

/// Files as given or relative to a folder (the scenario's), then the bundled assets.
#[cfg(not(target_arch = "wasm32"))]
pub struct FilesNear(pub std::path::PathBuf);

#[cfg(not(target_arch = "wasm32"))]
impl Resolver for FilesNear {
    fn read(&self, name: &str) -> Result<Vec<u8>, String> {
        let mut candidates = vec![std::path::PathBuf::from(name), self.0.join(name)];
        candidates.dedup();
        match candidates.iter().find(|p| p.is_file()) {
            Some(path) => std::fs::read(path).map_err(|e| format!("{}: {e}", path.display())),
            None => BundledOnly.read(name).map_err(|_| {
                let looked: Vec<String> =
                    candidates.iter().map(|p| p.display().to_string()).collect();
                format!("no such file (looked for {})", looked.join(" and "))
            }),
        }
    }
}

/// A bundled scenario by name (see [`crate::assets::BUNDLED`]).
pub fn bundled(name: &str) -> Result<Loaded, LoadError> {
    let origin = format!("bundled:{name}");
    let text = crate::assets::BUNDLED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
        .ok_or_else(|| LoadError::Read {
            origin: origin.clone(),
            reason: format!(
                "no bundled scenario of that name (bundled: {})",
                crate::assets::BUNDLED
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
    from_text(text, &origin, &BundledOnly)
}

/// A scenario file and the inputs next to it.
#[cfg(not(target_arch = "wasm32"))]
pub fn from_file(path: &str) -> Result<Loaded, LoadError> {
    let bytes = std::fs::read(path).map_err(|e| LoadError::Read {
        origin: path.to_owned(),
        reason: e.to_string(),
    })?;
    let text = Scenario::text_of(&bytes).map_err(|error| LoadError::Scenario {
        origin: path.to_owned(),
        error,
    })?;
    let dir = std::path::Path::new(path)
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    from_text(text, path, &FilesNear(dir))
}

/// A scenario from its text: parsed, its inputs read through `resolver`, then validated (so a `samples`
/// target whose points come from a CSV `source` is checked with its points).
pub fn from_text(text: &str, origin: &str, resolver: &dyn Resolver) -> Result<Loaded, LoadError> {
    let scenario_error = |error| LoadError::Scenario {
        origin: origin.to_owned(),
        error,
    };
    let mut scenario = Scenario::parse_unvalidated(text).map_err(scenario_error)?;
    if let TargetSpec::Samples(spec) = &mut scenario.target
        && spec.points.is_empty()
        && let Some(source) = spec.source.clone()
    {
        let input_error = |reason: String| LoadError::Input {
            origin: origin.to_owned(),
            input: input_words(Some(text), "target.source", &source),
            reason,
        };
        let bytes = resolver.read(&source).map_err(input_error)?;
        spec.points = read_points_csv(&bytes).map_err(input_error)?;
    }
    if let ModelSpec::Particles {
        init: ParticleInit::Points { points, source },
        ..
    } = &mut scenario.model
        && points.is_empty()
        && let Some(source) = source.clone()
    {
        let input_error = |reason: String| LoadError::Input {
            origin: origin.to_owned(),
            input: input_words(Some(text), "model.init.source", &source),
            reason,
        };
        let bytes = resolver.read(&source).map_err(input_error)?;
        *points = read_points_csv(&bytes).map_err(input_error)?;
        scenario.settle_count();
    }
    scenario.check(text).map_err(scenario_error)?;
    let image = read_image(&scenario.target, resolver, origin, Some(text))?;
    Ok(Loaded {
        scenario,
        image,
        origin: origin.to_owned(),
    })
}

/// A scenario already in memory (the app's edited scenario) with its inputs from the bundled assets.
pub fn from_scenario(scenario: Scenario, origin: &str) -> Result<Loaded, LoadError> {
    scenario.validate().map_err(|e| LoadError::Input {
        origin: origin.to_owned(),
        input: "scenario".into(),
        reason: e.to_string(),
    })?;
    let image = read_image(&scenario.target, &BundledOnly, origin, None)?;
    Ok(Loaded {
        scenario,
        image,
        origin: origin.to_owned(),
    })
}

/// How an input is named in a message: its line in the scenario's text (when there is one), its field and
/// the name written there, e.g. ``line 3, field `target.asset` (nosuch.png)``.
fn input_words(text: Option<&str>, field: &str, name: &str) -> String {
    match text.and_then(|t| crate::core::scenario::line_of_field(t, field)) {
        Some(line) => format!("line {line}, field `{field}` ({name})"),
        None => format!("field `{field}` ({name})"),
    }
}

/// The image of an `image` target, read through `resolver` and decoded; none for other targets. `text`
/// (the scenario's, when it came from one) places a refusal on the line of `target.asset`.
fn read_image(
    target: &TargetSpec,
    resolver: &dyn Resolver,
    origin: &str,
    text: Option<&str>,
) -> Result<Option<GrayImage>, LoadError> {
    let TargetSpec::Image(spec) = target else {
        return Ok(None);
    };
    resolver
        .read(&spec.asset)
        .and_then(|bytes| crate::assets::decode_gray(&bytes))
        .map(Some)
        .map_err(|reason| LoadError::Input {
            origin: origin.to_owned(),
            input: input_words(text, "target.asset", &spec.asset),
            reason,
        })
}

/// Points from CSV text: two numbers per line (x, y, separated by commas, semicolons, tabs or spaces); a
/// header on the first line, blank lines and `#` comments are skipped. The error names the line.
pub fn read_points_csv(bytes: &[u8]) -> Result<Vec<Vec2>, String> {
    let text = Scenario::text_of(bytes).map_err(|e| e.message)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let coordinate = crate::core::params::decl("target.samples.points")
        .ok_or_else(|| "target.samples.points: no parameter declaration".to_owned())?;
    let mut points = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line
            .split([',', ';', '\t', ' '])
            .filter(|f| !f.is_empty())
            .collect();
        let parsed: Option<Vec<f64>> = fields.iter().map(|f| f.parse::<f64>().ok()).collect();
        match parsed {
            Some(v) if v.len() == 2 && v.iter().all(|x| x.is_finite()) => {
                for (axis, x) in ["x", "y"].iter().zip(&v) {
                    coordinate
                        .check_as(&format!("point {} {axis}", points.len()), *x)
                        .map_err(|e| format!("line {}: {e}", i + 1))?;
                }
                points.push([v[0], v[1]]);
            }
            None if i == 0 => continue, // a header
            _ => {
                return Err(format!(
                    "line {}: expected two finite numbers x,y, got {line:?}",
                    i + 1
                ));
            }
        }
    }
    if points.is_empty() {
        return Err("no points".into());
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_scenario_loads_with_its_inputs() {
        for (name, _) in crate::assets::BUNDLED {
            let loaded = bundled(name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                loaded.image.is_some(),
                matches!(loaded.scenario.target, TargetSpec::Image(_)),
                "{name}"
            );
        }
        let err = bundled("no_such").expect_err("unknown name");
        assert!(err.to_string().contains("mixture_mmd_flow"), "{err}");
    }

    struct OneCsv(&'static str);
    impl Resolver for OneCsv {
        fn read(&self, name: &str) -> Result<Vec<u8>, String> {
            if name == "pts.csv" {
                Ok(self.0.as_bytes().to_vec())
            } else {
                Err("missing".into())
            }
        }
    }

    const SAMPLES_FROM_CSV: &str = r#"(version: 1, seed: 1,
        target: (kind: "samples", source: "pts.csv"),
        model: (kind: "particles", count: 20),
        method: (kind: "flow", flow: (kind: "mmd", kernel: (kind: "gaussian", sigma: 0.5), step_size: 0.1)))"#;

    #[test]
    fn a_samples_target_reads_its_csv_before_it_is_validated() {
        let loaded = from_text(SAMPLES_FROM_CSV, "t.ron", &OneCsv("x,y\n0,1\n2,3\n\n4 5\n"))
            .unwrap_or_else(|e| panic!("{e}"));
        let TargetSpec::Samples(spec) = &loaded.scenario.target else {
            panic!("samples target");
        };
        assert_eq!(spec.points, vec![[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]);
        let err = from_text(SAMPLES_FROM_CSV, "t.ron", &OneCsv("0,1\n2,x\n"))
            .expect_err("bad line")
            .to_string();
        assert!(
            err.contains("t.ron") && err.contains("pts.csv") && err.contains("line 2"),
            "{err}"
        );
        let err = from_text(SAMPLES_FROM_CSV, "t.ron", &OneCsv("0,1\n2,3e9\n"))
            .expect_err("out of the box")
            .to_string();
        assert!(
            err.contains("line 2: point 1 y = 3000000000 is out of range"),
            "{err}"
        );
        let err = read_points_csv(b"0,1\n2,\xff3\n").expect_err("not UTF-8");
        assert!(err.contains("byte offset 6 (line 2, column 3)"), "{err}");
        let bom = read_points_csv(b"\xef\xbb\xbfx,y\n0,1\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bom, vec![[0.0, 1.0]]);
        let err = from_text(SAMPLES_FROM_CSV, "t.ron", &BundledOnly)
            .expect_err("no file")
            .to_string();
        assert!(
            err.contains("line 2, field `target.source` (pts.csv)"),
            "{err}"
        );
    }

    const PARTICLES_FROM_CSV: &str = r#"(version: 1, seed: 1,
        target: (kind: "two_modes"),
        model: (kind: "particles",
            init: (kind: "points", source: "pts.csv")),
        method: (kind: "flow", flow: (kind: "mmd", kernel: (kind: "gaussian", sigma: 0.5), step_size: 0.1)))"#;

    /// Issue 15: a particle model starts from given points, from a CSV (count left out: the number of
    /// points) or inline; bad points are refused with the CSV's line or the scenario's line and field.
    #[test]
    fn particles_start_from_points_inline_or_from_a_csv() {
        let loaded = from_text(PARTICLES_FROM_CSV, "t.ron", &OneCsv("x,y\n0,1\n2,3\n4 5\n"))
            .unwrap_or_else(|e| panic!("{e}"));
        let ModelSpec::Particles { count, init } = &loaded.scenario.model else {
            panic!("particles");
        };
        assert_eq!(*count, 3);
        assert!(
            matches!(init, ParticleInit::Points { points, .. } if points == &vec![[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
        );
        let run = crate::run::Run::new(
            &loaded,
            crate::gpu::backend::BackendChoice::Cpu,
            Err("no GPU in this test"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(run.model(), crate::core::sim::ModelView::Particles(p) if p == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
        );
        let err = from_text(PARTICLES_FROM_CSV, "t.ron", &OneCsv("0,1\n2,x\n"))
            .expect_err("bad line")
            .to_string();
        assert!(
            err.contains("line 4, field `model.init.source` (pts.csv)") && err.contains("line 2"),
            "{err}"
        );
        let err = from_text(PARTICLES_FROM_CSV, "t.ron", &BundledOnly)
            .expect_err("no file")
            .to_string();
        assert!(err.contains("field `model.init.source` (pts.csv)"), "{err}");
        // Inline: a count that disagrees, a coordinate out of range, no points at all.
        let inline = |model: &str| {
            format!(
                "(version: 1,\n target: (kind: \"two_modes\"),\n model: {model},\n method: (kind: \"flow\", flow: (kind: \"sliced_riesz\", slices: 4, step_size: 1.0)))"
            )
        };
        let ok = inline(
            r#"(kind: "particles", init: (kind: "points", points: [[0.5, 1.0], [1.5, -2.0]]))"#,
        );
        let loaded = from_text(&ok, "i.ron", &BundledOnly).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            loaded.scenario.model,
            ModelSpec::Particles { count: 2, .. }
        ));
        let reread = Scenario::parse(&loaded.scenario.to_ron().unwrap()).unwrap();
        assert_eq!(reread, loaded.scenario);
        for (model, want) in [
            (
                r#"(kind: "particles", count: 3, init: (kind: "points", points: [[0.5, 1.0], [1.5, -2.0]]))"#,
                "line 3, field `model.count`: model.count: 3 particles, but model.init has 2 points",
            ),
            (
                r#"(kind: "particles", init: (kind: "points", points: [[0.5, 1.0], [1.5, 2e9]]))"#,
                "field `model.init.points[1][1]`",
            ),
            (
                r#"(kind: "particles", init: (kind: "points", points: []))"#,
                "model.init.points is empty",
            ),
            (
                r#"(kind: "particles", init: (kind: "points", point: [[0.5, 1.0]]))"#,
                "line 3",
            ),
        ] {
            let err = from_text(&inline(model), "i.ron", &BundledOnly)
                .expect_err(model)
                .to_string();
            assert!(err.contains(want), "{model}: {err}");
        }
    }
}
