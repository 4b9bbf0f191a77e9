//! Guided tours: a list of steps, each opening a claim preset, a bundled scenario or a link, with a caption
//! for the audience and what to do next. The app plays a tour with Back and Next and keeps the page address
//! in step (`tour=<id>.<step>`, an embedding key of the link). A teacher writes a tour as a RON file without
//! touching code (`docs/presets.md`, "Tours"):
//!
//! ```text
//! (
//!     name: "Divergences in 20 minutes",
//!     about: "What forward KL, reverse KL, JS and the α family do to one fit.",
//!     steps: [
//!         (
//!             title: "Mass-covering against mode-seeking",
//!             open: "forward_vs_reverse_kl",
//!             caption: "Press Run. The same Gaussian is fitted to two modes by reverse KL (left) and forward KL (right).",
//!             next: "Ask the room which fit they would rather sample from.",
//!             minutes: 3,
//!         ),
//!     ],
//! )
//! ```
//!
//! `open` is a claim preset's file name (`assets/presets/`), a bundled scenario's name, or a link
//! (`v=1&preset=…&…`, the app's link format).

use serde::Deserialize;

use crate::assets::{BUNDLED, BUNDLED_PRESETS, claim_presets};

/// (id, RON text) of every bundled tour (`assets/tours/`), in the order the app lists them.
pub const BUNDLED_TOURS: &[(&str, &str)] = &[
    (
        "divergences",
        include_str!("../assets/tours/divergences.ron"),
    ),
    (
        "particle_flows",
        include_str!("../assets/tours/particle_flows.ron"),
    ),
];

/// A tour as written in its file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TourFile {
    pub name: String,
    /// One or two sentences for the Tours menu.
    pub about: String,
    pub steps: Vec<TourStep>,
}

/// One step of a tour.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TourStep {
    pub title: String,
    /// A claim preset's id, a bundled scenario's name, or a link (`v=1&…`).
    pub open: String,
    /// What the audience sees and why, shown above the panels.
    pub caption: String,
    /// What to do next (press Run, change a slider, ask a question).
    pub next: String,
    /// Planned minutes for this step (a lecture plan; not enforced).
    #[serde(default = "one_minute")]
    pub minutes: u32,
}

fn one_minute() -> u32 {
    1
}

/// A bundled tour, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Tour {
    /// The file name without `.ron` (the link's `tour=<id>.<step>`).
    pub id: &'static str,
    pub file: TourFile,
}

impl TourStep {
    /// The link this step opens, and the claim preset it shows (if it is one).
    pub fn link(&self) -> Result<(String, Option<&'static str>), String> {
        link_of(&self.open)
    }
}

/// The link `open` names (see [`TourStep::open`]), and the claim preset's id when it names one.
pub fn link_of(open: &str) -> Result<(String, Option<&'static str>), String> {
    if open.starts_with("v=") {
        return Ok((open.to_owned(), None));
    }
    if let Some(i) = BUNDLED_PRESETS.iter().position(|(id, _)| *id == open) {
        let id = BUNDLED_PRESETS[i].0;
        let preset = claim_presets()
            .swap_remove(i)
            .map_err(|e| format!("`{open}`: {e}"))?;
        return Ok((preset.link, Some(id)));
    }
    if BUNDLED.iter().any(|(name, _)| *name == open) {
        return Ok((format!("v=1&preset={open}"), None));
    }
    let presets: Vec<&str> = BUNDLED_PRESETS.iter().map(|(id, _)| *id).collect();
    let scenarios: Vec<&str> = BUNDLED.iter().map(|(n, _)| *n).collect();
    Err(format!(
        "open = `{open}` is not a link (v=1&…), a claim preset ({}) or a bundled scenario ({})",
        presets.join(", "),
        scenarios.join(", ")
    ))
}

/// Parses a tour: unknown or missing fields are refused with the line; a tour needs at least one step, and
/// every step a title, a caption and an `open` that names a preset, a scenario or a link.
pub fn parse(id: &'static str, text: &str) -> Result<Tour, String> {
    let file: TourFile = ron::from_str(text)
        .map_err(|e| format!("{id}.ron line {}: {}", e.span.start.line, e.code))?;
    if file.steps.is_empty() {
        return Err(format!("{id}.ron: a tour needs at least one step"));
    }
    for (k, s) in file.steps.iter().enumerate() {
        let what = format!("{id}.ron, step {} (`{}`)", k + 1, s.title);
        for (field, value) in [
            ("title", &s.title),
            ("caption", &s.caption),
            ("next", &s.next),
        ] {
            if value.trim().is_empty() {
                return Err(format!("{what}: `{field}` is empty"));
            }
        }
        s.link().map_err(|e| format!("{what}: {e}"))?;
    }
    Ok(Tour { id, file })
}

/// Every bundled tour, parsed; a broken one is reported by name (and tested in CI, so none ships broken).
pub fn bundled_tours() -> Vec<Result<Tour, String>> {
    BUNDLED_TOURS
        .iter()
        .map(|(id, text)| parse(id, text))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_name_presets_scenarios_or_links_and_bad_ones_are_refused() {
        let tour = |open: &str, caption: &str| {
            format!(
                "(name: \"T\", about: \"a\", steps: [(title: \"S\", open: \"{open}\", caption: \"{caption}\", next: \"n\")])"
            )
        };
        let t = parse("t", &tour("forward_vs_reverse_kl", "c")).expect("a claim preset");
        assert_eq!(t.file.steps[0].minutes, 1);
        let (link, claim) = t.file.steps[0].link().expect("a link");
        assert!(link.starts_with("v=1&"), "{link}");
        assert_eq!(claim, Some("forward_vs_reverse_kl"));
        let (link, claim) = link_of("banana_svgd").expect("a scenario");
        assert_eq!((link.as_str(), claim), ("v=1&preset=banana_svgd", None));
        let e = parse("t", &tour("no_such", "c")).expect_err("an unknown name");
        assert!(
            e.contains("step 1") && e.contains("no_such") && e.contains("banana_svgd"),
            "{e}"
        );
        let e = parse("t", &tour("banana_svgd", " ")).expect_err("an empty caption");
        assert!(e.contains("`caption` is empty"), "{e}");
        let e =
            parse("t", "(name: \"T\", about: \"a\", steps: [], extra: 1)").expect_err("unknown");
        assert!(e.contains("line 1") && e.contains("extra"), "{e}");
    }
}
