//! The steps a run has taken: per step the core's [`StepInfo`] (objective, diagnostics) and the backend
//! that took it. The app plots it and exports it ([`History::to_csv`], [`History::to_json`]), the CLI prints it.

use serde::Serialize;

use crate::core::sim::StepInfo;
use crate::gpu::backend::ActiveBackend;

/// One step of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRecord {
    #[serde(flatten)]
    pub info: StepInfo,
    /// The backend that took the step.
    pub backend: ActiveBackend,
}

/// Every step since the run was built, in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct History {
    records: Vec<StepRecord>,
    /// `[step, objective]` of every record, kept beside them so a frame can plot without copying.
    #[serde(skip)]
    points: Vec<[f64; 2]>,
}

impl History {
    pub(crate) fn push(&mut self, info: StepInfo, backend: ActiveBackend) {
        self.points.push([info.step as f64, info.objective]);
        self.records.push(StepRecord { info, backend });
    }

    pub fn records(&self) -> &[StepRecord] {
        &self.records
    }

    pub fn last(&self) -> Option<&StepRecord> {
        self.records.last()
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The objective's name (of the last step), if a step was taken.
    pub fn objective_name(&self) -> Option<&str> {
        self.last().map(|r| r.info.objective_name.as_str())
    }

    /// After how many steps the objective first was at or below `threshold`: a record's objective is the
    /// one before its step (the state after `step − 1` steps), so the first such record of step s gives
    /// s − 1 (0: the start was already there). `None` while no record is (the latest state's objective is
    /// only known once the next step is taken).
    pub fn steps_to_reach(&self, threshold: f64) -> Option<usize> {
        self.records
            .iter()
            .find(|r| r.info.objective <= threshold)
            .map(|r| r.info.step.saturating_sub(1))
    }

    /// `[step, objective]` per step, for plots.
    pub fn objective_points(&self) -> &[[f64; 2]] {
        &self.points
    }

    /// The header of [`Self::to_csv`]'s rows, with a leading `panel` column.
    pub const CSV_HEADER: &'static str = "panel,step,objective_id,objective_name,objective,standard_error,\
        step_size_used,sinkhorn_iterations_xy,sinkhorn_iterations_xx,sinkhorn_iterations_yy,\
        sinkhorn_marginal_error,sinkhorn_converged,backend";

    /// Every record as a CSV row (no header: see [`Self::CSV_HEADER`]), each starting with `panel`; a value
    /// the step did not compute is an empty field. Floats are written so that they read back exactly.
    pub fn to_csv(&self, panel: &str) -> String {
        let mut out = String::new();
        for r in &self.records {
            let i = &r.info;
            let opt = |v: Option<f64>| v.map_or_else(String::new, |x| x.to_string());
            let sk = i.sinkhorn.as_ref();
            let fields = [
                csv_field(panel),
                i.step.to_string(),
                csv_field(&i.objective_id),
                csv_field(&i.objective_name),
                i.objective.to_string(),
                opt(i.standard_error),
                opt(i.step_size_used),
                sk.map_or_else(String::new, |s| s.iterations_xy.to_string()),
                sk.map_or_else(String::new, |s| s.iterations_xx.to_string()),
                sk.map_or_else(String::new, |s| s.iterations_yy.to_string()),
                opt(sk.map(|s| s.marginal_error)),
                sk.map_or_else(String::new, |s| s.converged.to_string()),
                match r.backend {
                    ActiveBackend::Cpu => "cpu".to_owned(),
                    ActiveBackend::Gpu => "gpu".to_owned(),
                },
            ];
            out.push_str(&fields.join(","));
            out.push('\n');
        }
        out
    }

    /// The records as a JSON value: `{"panel", "scenario", "steps", "records": [...]}`, each record the
    /// step's [`StepInfo`] fields and its `backend` (the same record as `divlab run --json` prints per step).
    pub fn to_json(&self, panel: &str, scenario: &str) -> serde_json::Value {
        serde_json::json!({
            "panel": panel,
            "scenario": scenario,
            "steps": self.records.len(),
            "records": self.records,
        })
    }
}

/// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(step: usize, objective: f64) -> StepInfo {
        StepInfo {
            step,
            objective_id: "reverse_kl".into(),
            objective_name: "KL(q‖p), \"grid\"".into(),
            objective,
            standard_error: (step == 2).then_some(0.25),
            sinkhorn: None,
            step_size_used: None,
        }
    }

    #[test]
    fn csv_rows_have_every_column_and_read_back_exactly() {
        let mut h = History::default();
        h.push(info(1, 0.1 + 0.2), ActiveBackend::Cpu);
        h.push(info(2, 1e-300), ActiveBackend::Gpu);
        let csv = h.to_csv("A");
        let columns = History::CSV_HEADER.split(',').count();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 2);
        for line in &lines {
            // The quoted name holds one comma.
            assert_eq!(line.split(',').count(), columns + 1, "{line}");
            assert!(line.contains(r#""KL(q‖p), ""grid""""#), "{line}");
        }
        let objective = |line: &str| -> f64 {
            line.rsplit(',')
                .nth(8)
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN)
        };
        assert_eq!(objective(lines[0]), 0.1 + 0.2);
        assert_eq!(objective(lines[1]), 1e-300);
        assert!(
            lines[1].ends_with(",gpu") && lines[1].contains(",0.25,"),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn json_has_one_record_per_step() {
        let mut h = History::default();
        for k in 1..=3 {
            h.push(info(k, k as f64), ActiveBackend::Cpu);
        }
        let v = h.to_json("B", "two modes");
        assert_eq!(v["steps"], 3);
        assert_eq!(v["records"].as_array().map(Vec::len), Some(3));
        assert_eq!(v["records"][2]["objective"], 3.0);
        assert_eq!(v["records"][0]["backend"], "cpu");
        assert_eq!(v["panel"], "B");
    }

    #[test]
    fn steps_to_reach_counts_the_steps_before_the_first_record_at_or_below() {
        let mut h = History::default();
        assert_eq!(h.steps_to_reach(1.0), None);
        for (k, v) in [(1, 3.0), (2, 2.0), (3, 1.0), (4, 0.5), (5, 1.5)] {
            h.push(info(k, v), ActiveBackend::Cpu);
        }
        // Record 3's objective (1.0) is the state after 2 steps.
        assert_eq!(h.steps_to_reach(1.0), Some(2));
        assert_eq!(h.steps_to_reach(0.7), Some(3));
        assert_eq!(h.steps_to_reach(5.0), Some(0));
        assert_eq!(h.steps_to_reach(0.1), None);
    }
}
