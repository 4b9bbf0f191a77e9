//! Claim presets: a comparison of 1, 2 or 4 panels that states one claim of the papers divlab teaches
//! from, cites them, says what to watch, and opens as a link of the app (the link format of
//! `src/app/state.rs`: the difference from a bundled scenario). The link is the one description of the
//! panels, so a preset opens in the app exactly as a teacher's link does, and the claim tests
//! (`tests/claims.rs`) run the very same panels headless. The format is documented in `docs/presets.md`.
//!
//! ```text
//! (
//!     name: "Forward vs reverse KL on two modes",
//!     claim: "Forward KL matches the mixture's moments; reverse KL locks onto one mode.",
//!     papers: ["Aligning Language Models with Preferences through f-divergence Minimization"],
//!     look_at: "The right panel's ellipse spans both modes; the left one sits on a single mode.",
//!     link: ["v=1", "preset=two_modes_reverse_kl", "layout=2", "B.method.objective.divergence.kind=forward_kl"],
//! )
//! ```
//!
//! A preset may add `race: Some((threshold: 0.8))`: the app then shows, for every panel, after how many
//! steps its objective first fell to or below the threshold.
//!
//! A malformed file gets a [`ScenarioError`] (the same error as a scenario file) naming the line and the
//! field; unknown fields are refused.

use serde::{Deserialize, Serialize};

use super::scenario::ScenarioError;

/// One claim preset (`assets/presets/*.ron`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimPreset {
    /// A short title for the preset list.
    pub name: String,
    /// The claim, in one sentence.
    pub claim: String,
    /// The papers the claim comes from, by exact title (as in the project's paper list).
    pub papers: Vec<String>,
    /// What to watch on screen while it runs.
    pub look_at: String,
    /// The link's `key=value` pairs, one per entry, in the app's link format (joined by `&`).
    pub link: Vec<String>,
    /// A race (optional, `race: Some((threshold: 0.8))`): the app shows, per panel, after how many steps
    /// the objective first fell to or below the threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub race: Option<Race>,
}

/// The race of a claim preset: every panel's objective against one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Race {
    /// The objective's value a panel has reached once its objective is at or below it (a finite number,
    /// in the objective's units).
    pub threshold: f64,
}

impl ClaimPreset {
    /// Parses a preset from RON text. Unknown and missing fields are refused with their line and name;
    /// the texts must not be empty, the claim must be one sentence, and every link entry must be one
    /// `key=value` pair starting with the link version. The link's keys and values themselves are
    /// checked by the app's link reader when it opens them (and by the tests for every bundled preset).
    pub fn parse(text: &str) -> Result<Self, ScenarioError> {
        let preset: Self = ron::from_str(text).map_err(|e| {
            let (field, message) = match &e.code {
                ron::Error::NoSuchStructField {
                    expected, found, ..
                } => (
                    Some(found.clone()),
                    format!("unknown field (valid fields: {})", expected.join(", ")),
                ),
                ron::Error::MissingStructField { field, .. } => (
                    Some((*field).to_owned()),
                    "missing field (required here)".to_owned(),
                ),
                other => (None, other.to_string()),
            };
            ScenarioError {
                line: Some(e.span.start.line),
                field,
                message,
            }
        })?;
        preset.check(text)?;
        Ok(preset)
    }

    /// The link of the panels (without a leading `#`), as the app's `Copy link` writes one.
    pub fn link(&self) -> String {
        self.link.join("&")
    }

    fn check(&self, text: &str) -> Result<(), ScenarioError> {
        let fail = |field: &str, message: String| ScenarioError {
            line: line_of_field(text, field),
            field: Some(field.to_owned()),
            message,
        };
        for (field, value) in [
            ("name", &self.name),
            ("claim", &self.claim),
            ("look_at", &self.look_at),
        ] {
            if value.trim().is_empty() {
                return Err(fail(field, "must not be empty".into()));
            }
        }
        let sentence_ends = self
            .claim
            .trim_end_matches(['.', '!', '?'])
            .matches(". ")
            .count();
        if sentence_ends > 0 || !self.claim.trim_end().ends_with('.') {
            return Err(fail(
                "claim",
                "the claim is one sentence ending with a full stop".into(),
            ));
        }
        if let Some(race) = &self.race
            && !race.threshold.is_finite()
        {
            return Err(fail(
                "race",
                format!(
                    "threshold = {} is not a number: the race's threshold is a finite value of the objective",
                    race.threshold
                ),
            ));
        }
        if self.papers.is_empty() {
            return Err(fail("papers", "cite at least one paper by title".into()));
        }
        if let Some(i) = self.papers.iter().position(|p| p.trim().is_empty()) {
            return Err(fail(&format!("papers[{i}]"), "an empty title".into()));
        }
        if self.link.first().map(String::as_str) != Some("v=1") {
            return Err(fail(
                "link",
                "the link starts with its version, \"v=1\"".into(),
            ));
        }
        if let Some(i) = self.link.iter().position(|pair| {
            pair.split_once('=')
                .is_none_or(|(k, _)| k.is_empty() || k.contains('&'))
                || pair.contains('&')
        }) {
            return Err(fail(
                &format!("link[{i}]"),
                format!("`{}` is not one key=value pair", self.link[i]),
            ));
        }
        Ok(())
    }
}

/// The line where `field` (a top-level name, or `name[i]` for an element) is written in `text`.
fn line_of_field(text: &str, field: &str) -> Option<usize> {
    let (key, index) = match field.split_once('[') {
        Some((k, rest)) => (k, rest.trim_end_matches(']').parse::<usize>().ok()),
        None => (field, None),
    };
    let start = text.lines().position(|l| {
        let l = l.trim_start();
        l.strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with(':'))
    })?;
    let Some(index) = index else {
        return Some(start + 1);
    };
    // The element's line: count quoted strings from the key on (entries are strings).
    let mut seen = 0;
    for (n, line) in text.lines().enumerate().skip(start) {
        let from = if n == start {
            line.find('[').map_or(line.len(), |i| i + 1)
        } else {
            0
        };
        let quotes = line[from..].matches('"').count() / 2;
        if seen + quotes > index {
            return Some(n + 1);
        }
        seen += quotes;
    }
    Some(start + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "(\n    name: \"N\",\n    claim: \"A claim.\",\n    papers: [\"P\"],\n    look_at: \"L\",\n    link: [\"v=1\", \"preset=two_modes_reverse_kl\"],\n)\n";

    #[test]
    fn a_good_preset_parses_and_joins_its_link() {
        let p = ClaimPreset::parse(GOOD).unwrap();
        assert_eq!(p.link(), "v=1&preset=two_modes_reverse_kl");
    }

    #[test]
    fn unknown_and_missing_fields_name_their_line() {
        let unknown = GOOD.replace("    look_at:", "    look: \"x\",\n    look_at:");
        let e = ClaimPreset::parse(&unknown).unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(5), Some("look")), "{e}");
        assert!(e.message.contains("look_at"), "{e}");
        let missing = GOOD.replace("    papers: [\"P\"],\n", "");
        let e = ClaimPreset::parse(&missing).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("papers"), "{e}");
        assert!(e.line.is_some(), "{e}");
    }

    #[test]
    fn empty_texts_two_sentences_and_bad_links_are_refused() {
        let e = ClaimPreset::parse(&GOOD.replace("\"N\"", "\" \"")).unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(2), Some("name")), "{e}");
        let e = ClaimPreset::parse(&GOOD.replace("A claim.", "One. Two.")).unwrap_err();
        assert_eq!(
            (e.line, e.field.as_deref()),
            (Some(3), Some("claim")),
            "{e}"
        );
        let e = ClaimPreset::parse(&GOOD.replace("[\"P\"]", "[]")).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("papers"), "{e}");
        let e = ClaimPreset::parse(&GOOD.replace("\"v=1\", ", "")).unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(6), Some("link")), "{e}");
        let e = ClaimPreset::parse(&GOOD.replace("preset=two", "preset")).unwrap_err();
        assert_eq!(
            (e.line, e.field.as_deref()),
            (Some(6), Some("link[1]")),
            "{e}"
        );
        let e = ClaimPreset::parse(&GOOD.replace("preset=two_modes_reverse_kl", "a=1&b=2"))
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("link[1]"), "{e}");
    }

    #[test]
    fn a_race_is_optional_and_parsed_strictly() {
        assert_eq!(ClaimPreset::parse(GOOD).unwrap().race, None);
        let with = |race: &str| GOOD.replace("    link:", &format!("    race: {race},\n    link:"));
        let p = ClaimPreset::parse(&with("Some((threshold: 0.8))")).unwrap();
        assert_eq!(p.race, Some(Race { threshold: 0.8 }));
        let e = ClaimPreset::parse(&with("Some((threshold: 0.8, steps: 3))")).unwrap_err();
        assert_eq!(
            (e.line, e.field.as_deref()),
            (Some(6), Some("steps")),
            "{e}"
        );
        assert!(e.message.contains("threshold"), "{e}");
        let e = ClaimPreset::parse(&with("Some(())")).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("threshold"), "{e}");
        let e = ClaimPreset::parse(&with("Some((threshold: inf))")).unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(6), Some("race")), "{e}");
        assert!(e.message.contains("finite"), "{e}");
    }
}
