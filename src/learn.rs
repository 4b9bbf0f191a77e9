//! "Learn more": a short explanation of every method, objective, divergence, estimator, optimizer, flow
//! and kernel a scenario can name, in divlab's own words, with its formula, what to watch on screen and the
//! papers it comes from (`assets/learn.ron`; the format is in that file's header and in `docs/presets.md`).
//! The app's Learn panel shows the entries of the selected panel's scenario ([`ids_of`]); this module is
//! data and parsing only (no UI), so tests can check that every id has an entry.
//!
//! An explanation may link a term to a claim preset or a bundled scenario: `[mode-seeking](forward_vs_reverse_kl)`
//! ([`spans`]).

use serde::Deserialize;
use serde_json::Value;

use crate::core::scenario::Scenario;
use crate::run::caps;

/// The titles of the papers divlab teaches from (`../shared/papers.md`, copied here so that every clone has
/// them); presets and Learn entries cite these exactly.
pub const PAPERS: &[&str] = &[
    "Aligning Language Models with Preferences through f-divergence Minimization",
    "Rethinking Kullback-Leibler Divergence in Knowledge Distillation for Large Language Models",
    "One-step Diffusion Models with $f$-Divergence Distribution Matching",
    "Improved sampling via learned diffusions",
    "Sinkhorn Distance Minimization for Knowledge Distillation",
    "AlphaNet: Improved Training of Supernets with Alpha-Divergence",
    "Forward χ^2 Divergence Based Variational Importance Sampling",
    "Direct Estimation of Information Divergence Using Nearest Neighbor Ratios",
    "Cauchy-Schwarz Divergence Information Bottleneck for Regression",
    "Mean-field underdamped Langevin dynamics and its spacetime discretization",
    "Uni-Instruct: One-step Diffusion Model through Unified Diffusion Divergence Instruction",
    "Deep MMD Gradient Flow without adversarial training",
    "Generative Sliced MMD Flows with Riesz Kernels",
    "The Monge Gap: A Regularizer to Learn All Transport Maps",
    "Accelerating Sinkhorn Algorithm with Sparse Newton Iterations",
    "Model Selection for Bayesian Autoencoders",
    "Forward-backward Gaussian variational inference via JKO in the Bures-Wasserstein Space",
    "On Excess Mass Behavior in Gaussian Mixture Models with Orlicz-Wasserstein Distances",
    "EM Distillation for One-step Diffusion Models",
    "Distributed Learning of Mixtures of Experts",
    "Bregman Proximal Langevin Monte Carlo via Bregman--Moreau Envelopes",
    "Sampling with Mirrored Stein Operators",
    "Variational Wasserstein gradient flow",
    "MINE: Mutual Information Neural Estimation",
    "Understanding the Limitations of Variational Mutual Information Estimators",
    "Diffusion Sampling with Momentum for Mitigating Divergence Artifacts",
    "On the Convergence of Adam and Beyond",
    "Lion Secretly Solves Constrained Optimization: As Lyapunov Predicts",
    "LaProp: Separating Momentum and Adaptivity in Adam",
    "Cautious Optimizers: Improving Training with One Line of Code",
    "The AdEMAMix Optimizer: Better, Faster, Older",
    "Grams: Gradient Descent with Adaptive Momentum Scaling",
    "Learning-Rate-Free Learning by D-Adaptation",
];

/// The bundled entries (RON).
pub const LEARN_RON: &str = include_str!("../assets/learn.ron");

/// One entry of the Learn panel.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearnEntry {
    /// `gradient`, `em`, `flow.<kind>`, `objective.<kind>`, `divergence.<kind>`, `estimator.<kind>`,
    /// `optimizer.<kind>`, `optimizer.cautious` or `kernel.<kind>` (the scenario's serde kind names).
    pub id: String,
    pub title: String,
    /// The explanation, with `[term](name)` links (see [`spans`]).
    pub text: String,
    /// Formula lines, for the monospace font.
    pub formula: Vec<String>,
    /// What to look at on screen.
    pub watch: String,
    /// Exact titles of `../shared/papers.md` (may be empty for divlab's own devices, like the grid).
    pub papers: Vec<String>,
}

/// A piece of an explanation: plain text, or a term that opens a preset or scenario by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span<'a> {
    Text(&'a str),
    Link { term: &'a str, target: &'a str },
}

/// Parses the bundled entries; an error names the line and what is wrong (the file is tested in CI, so the
/// app never meets one).
pub fn entries() -> Result<Vec<LearnEntry>, String> {
    parse(LEARN_RON)
}

/// Parses entries from RON text: unknown or missing fields, empty texts and duplicate ids are refused with
/// the line.
pub fn parse(text: &str) -> Result<Vec<LearnEntry>, String> {
    let list: Vec<LearnEntry> = ron::from_str(text)
        .map_err(|e| format!("learn.ron line {}: {}", e.span.start.line, e.code))?;
    // The lines where entry `id` is written (more than one for a duplicate).
    let lines_of = |id: &str| -> Vec<usize> {
        let needle = format!("id: \"{id}\"");
        text.lines()
            .enumerate()
            .filter(|(_, l)| l.contains(&needle))
            .map(|(i, _)| i + 1)
            .collect()
    };
    let line_of = |id: &str| lines_of(id).first().copied().unwrap_or(0);
    for (i, e) in list.iter().enumerate() {
        let empty = [
            ("id", e.id.is_empty()),
            ("title", e.title.trim().is_empty()),
            ("text", e.text.trim().is_empty()),
            ("formula", e.formula.iter().all(|l| l.trim().is_empty())),
            ("watch", e.watch.trim().is_empty()),
        ];
        if let Some((field, _)) = empty.iter().find(|(_, is)| *is) {
            return Err(format!(
                "learn.ron line {}: entry `{}`: `{field}` is empty",
                line_of(&e.id),
                e.id
            ));
        }
        if list[..i].iter().any(|o| o.id == e.id) {
            let lines: Vec<String> = lines_of(&e.id).iter().map(usize::to_string).collect();
            return Err(format!(
                "learn.ron lines {}: entry `{}` appears more than once",
                lines.join(" and "),
                e.id
            ));
        }
        if let Err(why) = check_links(&e.text) {
            return Err(format!(
                "learn.ron line {}: entry `{}`: {why}",
                line_of(&e.id),
                e.id
            ));
        }
    }
    Ok(list)
}

/// Splits an explanation into text and `[term](target)` links. A `[` without a matching `](…)` is text.
pub fn spans(text: &str) -> Vec<Span<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let link = after.find("](").and_then(|mid| {
            let target_start = mid + 2;
            after[target_start..]
                .find(')')
                .map(|end| (mid, target_start, target_start + end))
        });
        match link {
            Some((mid, t0, t1)) if !after[..mid].contains('[') => {
                if open > 0 {
                    out.push(Span::Text(&rest[..open]));
                }
                out.push(Span::Link {
                    term: &after[..mid],
                    target: &after[t0..t1],
                });
                rest = &after[t1 + 1..];
            }
            _ => {
                out.push(Span::Text(&rest[..=open]));
                rest = after;
            }
        }
    }
    if !rest.is_empty() {
        out.push(Span::Text(rest));
    }
    out
}

/// Every link must have a term and a target of letters, digits and `_`.
fn check_links(text: &str) -> Result<(), String> {
    for s in spans(text) {
        if let Span::Link { term, target } = s
            && (term.trim().is_empty()
                || target.is_empty()
                || !target
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_'))
        {
            return Err(format!("the link `[{term}]({target})` is malformed"));
        }
    }
    Ok(())
}

/// The ids of the entries that explain `scenario`, most general first: the method (`gradient`, `em` or the
/// flow), then a gradient fit's objective, its divergence and estimator, its optimizer (and `cautious`
/// when on), the kernel of an MMD objective or flow, Newton-accelerated Sinkhorn when set, and the
/// mixing-measure rows when a mixture model has more components than its mixture target.
pub fn ids_of(scenario: &Scenario) -> Vec<String> {
    let mut ids = vec![caps::method_id(&scenario.method).to_owned()];
    let Ok(json) = serde_json::to_value(scenario) else {
        return ids;
    };
    let method = &json["method"];
    let kind = |v: &Value| v["kind"].as_str().map(str::to_owned);
    let objective = &method["objective"];
    if let Some(k) = kind(objective) {
        ids.push(format!("objective.{k}"));
    }
    if let Some(k) = kind(&objective["divergence"]) {
        ids.push(format!("divergence.{k}"));
    }
    if let Some(k) = kind(&objective["estimator"]) {
        ids.push(format!("estimator.{k}"));
    }
    let optimizer = &method["optimizer"];
    if let Some(k) = kind(optimizer) {
        ids.push(format!("optimizer.{k}"));
        if optimizer["cautious"].as_bool() == Some(true) {
            ids.push("optimizer.cautious".to_owned());
        }
    }
    for kernel in [&objective["kernel"], &method["flow"]["kernel"]] {
        if let Some(k) = kind(kernel) {
            ids.push(format!("kernel.{k}"));
        }
    }
    // A Sinkhorn solver with Newton acceleration (a flow's `sinkhorn` or an objective's `config`).
    if [&method["flow"]["sinkhorn"], &objective["config"]]
        .iter()
        .any(|c| c["newton"].is_object())
    {
        ids.push("sinkhorn.newton".to_owned());
    }
    // A mixture model with more components than the mixture target: the battery's mixing-measure rows
    // (`orlicz_wasserstein`, `mixing_w2`) tell how its excess components behave.
    let target = &json["target"];
    let init = &json["model"]["init"];
    let target_k = (target["kind"] == "gaussian_mixture")
        .then(|| target["weights"].as_array().map(Vec::len))
        .flatten();
    let model_k = match init["kind"].as_str() {
        Some("given") => init["weights"].as_array().map(Vec::len),
        Some("random") => init["components"].as_u64().map(|k| k as usize),
        _ => None,
    };
    if json["model"]["kind"] == "mixture"
        && let (Some(p), Some(q)) = (target_k, model_k)
        && q > p
    {
        ids.push("measure.mixing_measures".to_owned());
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_split_links_and_keep_stray_brackets_as_text() {
        assert_eq!(
            spans("q is [mode-seeking](forward_vs_reverse_kl), see [x]."),
            vec![
                Span::Text("q is "),
                Span::Link {
                    term: "mode-seeking",
                    target: "forward_vs_reverse_kl"
                },
                Span::Text(", see ["),
                Span::Text("x]."),
            ]
        );
        assert_eq!(spans("plain"), vec![Span::Text("plain")]);
        assert_eq!(
            spans("[a](b)"),
            vec![Span::Link {
                term: "a",
                target: "b"
            }]
        );
    }

    #[test]
    fn malformed_entries_are_refused_with_the_line() {
        let entry = |id: &str, text: &str| {
            format!(
                "(id: \"{id}\", title: \"T\", text: \"{text}\", formula: [\"f\"], watch: \"w\", papers: [])"
            )
        };
        let two = format!("[\n{},\n{}\n]", entry("em", "x"), entry("em", "y"));
        let e = parse(&two).expect_err("a duplicate id");
        assert!(
            e.contains("lines 2 and 3") && e.contains("more than once"),
            "{e}"
        );
        let e = parse(&format!("[{}]", entry("em", "see [it](no such)"))).expect_err("bad link");
        assert!(e.contains("malformed"), "{e}");
        let e = parse(&format!("[{}]", entry("em", " "))).expect_err("empty text");
        assert!(e.contains("`text` is empty"), "{e}");
        let e = parse("[(id: \"em\", titel: \"T\")]").expect_err("unknown field");
        assert!(e.contains("line 1") && e.contains("titel"), "{e}");
        assert_eq!(
            parse(&format!("[{}]", entry("em", "see [it](mixture_em)")))
                .map(|l| l.len())
                .ok(),
            Some(1)
        );
    }
}
