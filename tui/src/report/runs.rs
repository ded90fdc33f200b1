//! A run folder as a report reads it: its record, its metrics rows, and
//! its parameters' percentile bands from its event file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dlwb_engine::run::record::{read_metrics, Row, RECORD};
use dlwb_engine::run::tfevents::{read_histograms, Bands};

pub struct ReportRun {
    pub dir: PathBuf,
    pub record: serde_yaml::Value,
    /// Each metric's points `(step, value)`, by row kind: `step` rows
    /// (training), `epoch` rows (validation and epoch averages).
    pub steps: BTreeMap<String, Vec<(f64, f64)>>,
    pub epochs: BTreeMap<String, Vec<(f64, f64)>>,
    pub bands: Vec<Bands>,
}

impl ReportRun {
    pub fn read(dir: &Path) -> Result<ReportRun, String> {
        let record_path = dir.join(RECORD);
        let text = std::fs::read_to_string(&record_path)
            .map_err(|e| format!("cannot read {}: {e}", record_path.display()))?;
        let record: serde_yaml::Value = serde_yaml::from_str(&text)
            .map_err(|e| format!("{} is not a run record: {e}", record_path.display()))?;
        let (mut steps, mut epochs) = (BTreeMap::new(), BTreeMap::new());
        for r in read_metrics(dir) {
            let rows = match r.row {
                Row::Step => &mut steps,
                Row::Epoch => &mut epochs,
                Row::Final => continue,
            };
            rows.entry(r.metric)
                .or_insert_with(Vec::new)
                .push((r.step as f64, r.value));
        }
        let has_final = record["metrics"]
            .as_mapping()
            .is_some_and(|m| !m.is_empty());
        if steps.is_empty() && epochs.is_empty() && !has_final {
            return Err(format!(
                "{} has no metrics to report: it trained no step",
                dir.display()
            ));
        }
        Ok(ReportRun {
            dir: dir.to_path_buf(),
            record,
            steps,
            epochs,
            bands: read_histograms(dir).unwrap_or_default(),
        })
    }

    /// The run's name in a report: its folder's last two components.
    pub fn label(&self) -> String {
        crate::table::label(&self.dir)
    }
}
