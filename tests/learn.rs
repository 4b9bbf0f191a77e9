//! The Learn panel's entries (`assets/learn.rs` via `divlab::learn`): one for every method of the run
//! layer's capability table and for every kind a scenario can name (objective, divergence, estimator,
//! optimizer, flow, kernel), none for a kind that does not exist, every paper cited by an exact title of the
//! project's list, and every linked term opening a claim preset or a bundled scenario.

use divlab::app::{FLOW_KINDS, KERNEL_KINDS, OBJECTIVE_KINDS, OPTIMIZER_KINDS};
use divlab::assets::{BUNDLED, BUNDLED_PRESETS, claim_presets};
use divlab::core::fdiv::FDivKind;
use divlab::core::scenario::Scenario;
use divlab::learn::{PAPERS, Span, entries, ids_of, spans};
use divlab::run::caps::TABLE;

/// Every id an entry must exist for.
fn required_ids() -> Vec<String> {
    let mut ids: Vec<String> = TABLE.iter().map(|c| c.method.to_owned()).collect();
    ids.extend(FLOW_KINDS.iter().map(|k| format!("flow.{k}")));
    ids.extend(OBJECTIVE_KINDS.iter().map(|k| format!("objective.{k}")));
    ids.extend(OPTIMIZER_KINDS.iter().map(|k| format!("optimizer.{k}")));
    ids.push("optimizer.cautious".to_owned());
    ids.extend(KERNEL_KINDS.iter().map(|k| format!("kernel.{k}")));
    ids.extend(
        FDivKind::all()
            .iter()
            .map(|d| format!("divergence.{}", d.kind_id())),
    );
    ids.extend(["estimator.grid", "estimator.monte_carlo"].map(str::to_owned));
    // Solver settings with an entry of their own (shown while set).
    ids.push("sinkhorn.newton".to_owned());
    // The mixing-measure rows (shown for an over-fitted mixture).
    ids.push("measure.mixing_measures".to_owned());
    // Overlays with an entry of their own (shown while on).
    ids.push("overlay.knn_ratio".to_owned());
    ids.sort();
    ids.dedup();
    ids
}

#[test]
fn every_method_and_kind_has_exactly_one_entry_and_no_entry_is_orphaned() {
    let list = entries().unwrap_or_else(|e| panic!("{e}"));
    let required = required_ids();
    let have: Vec<&str> = list.iter().map(|e| e.id.as_str()).collect();
    let missing: Vec<&String> = required
        .iter()
        .filter(|id| !have.contains(&id.as_str()))
        .collect();
    assert!(missing.is_empty(), "no Learn entry for {missing:?}");
    let orphans: Vec<&&str> = have
        .iter()
        .filter(|id| !required.iter().any(|r| r == *id))
        .collect();
    assert!(
        orphans.is_empty(),
        "Learn entries for unknown ids {orphans:?}"
    );
    assert_eq!(list.len(), required.len());
    eprintln!("{} Learn entries", list.len());
}

#[test]
fn papers_are_exact_titles_and_links_open_presets_or_scenarios() {
    let presets: Vec<&str> = BUNDLED_PRESETS.iter().map(|(id, _)| *id).collect();
    let scenarios: Vec<&str> = BUNDLED.iter().map(|(name, _)| *name).collect();
    let mut links = 0;
    for e in entries().unwrap_or_else(|e| panic!("{e}")) {
        for title in &e.papers {
            assert!(
                PAPERS.contains(&title.as_str()),
                "{}: `{title}` is not a title of papers.md",
                e.id
            );
        }
        // Every method, divergence, objective and optimizer cites a paper; only divlab's own devices (the
        // grid quadrature) may cite none.
        assert!(
            !e.papers.is_empty() || e.id == "estimator.grid",
            "{} cites no paper",
            e.id
        );
        for s in spans(&e.text) {
            if let Span::Link { term, target } = s {
                links += 1;
                assert!(
                    presets.contains(&target) || scenarios.contains(&target),
                    "{}: `[{term}]({target})` names no claim preset or bundled scenario",
                    e.id
                );
            }
        }
    }
    assert!(links >= 10, "only {links} linked terms");
}

#[test]
fn every_bundled_scenario_and_preset_panel_is_explained() {
    let list = entries().unwrap_or_else(|e| panic!("{e}"));
    let mut scenarios: Vec<(String, Scenario)> = BUNDLED
        .iter()
        .map(|(name, text)| {
            let s = Scenario::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            ((*name).to_owned(), s)
        })
        .collect();
    for p in claim_presets() {
        let p = p.unwrap_or_else(|e| panic!("{e}"));
        let linked =
            divlab::app::open_link_headless(&p.link).unwrap_or_else(|e| panic!("{}: {e}", p.id));
        for (i, s) in linked.panels.into_iter().enumerate() {
            scenarios.push((format!("{} panel {i}", p.id), s));
        }
    }
    for (name, s) in &scenarios {
        let ids = ids_of(s);
        assert!(!ids.is_empty(), "{name}: no ids");
        for id in &ids {
            assert!(
                list.iter().any(|e| &e.id == id),
                "{name}: no Learn entry for `{id}`"
            );
        }
    }
}

/// The mixing-measure entry is shown exactly for an over-fitted mixture: the Orlicz–Wasserstein preset
/// (four components on the three-component target) gets it, EM with three components on it does not.
#[test]
fn the_mixing_measure_entry_follows_over_fitting() {
    let preset = claim_presets()
        .into_iter()
        .map(|p| p.unwrap_or_else(|e| panic!("{e}")))
        .find(|p| p.id == "orlicz_excess_mass")
        .expect("the orlicz_excess_mass preset");
    let linked = divlab::app::open_link_headless(&preset.link).unwrap_or_else(|e| panic!("{e}"));
    assert!(ids_of(&linked.panels[0]).contains(&"measure.mixing_measures".to_owned()));
    let (_, em) = BUNDLED
        .iter()
        .find(|(name, _)| *name == "mixture_em")
        .expect("mixture_em");
    let em = Scenario::parse(em).unwrap_or_else(|e| panic!("{e}"));
    assert!(!ids_of(&em).contains(&"measure.mixing_measures".to_owned()));
}
