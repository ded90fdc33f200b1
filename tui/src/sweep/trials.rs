//! A sweep's trials: the grid's configurations, each with its seeds, as
//! `--set` settings.

use std::collections::BTreeMap;

/// One trial's settings, KEY → VALUE (any `--set` key).
pub type Settings = BTreeMap<String, String>;

/// One `--grid` axis.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Axis {
    pub key: String,
    pub values: Vec<String>,
}

/// The axes as given: `--grid KEY=V1,V2` (in order) and `--seeds K`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Axes {
    pub grid: Vec<Axis>,
    pub seeds: Option<u64>,
}

impl Axes {
    /// Parses `--grid` arguments, or says which is malformed.
    pub fn parse(grid: &[String], seeds: Option<u64>) -> Result<Axes, String> {
        let mut axes = Vec::new();
        for g in grid {
            let (key, values) = g.split_once('=').ok_or_else(|| {
                format!("`--grid {g}`: expected KEY=V1,V2, e.g. train.batch=32,64")
            })?;
            let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
            if key.is_empty() || values.iter().any(String::is_empty) {
                return Err(format!(
                    "`--grid {g}`: expected KEY=V1,V2, e.g. train.batch=32,64"
                ));
            }
            if axes.iter().any(|a: &Axis| a.key == key) {
                return Err(format!("`--grid {g}`: {key} is already an axis"));
            }
            axes.push(Axis {
                key: key.to_string(),
                values,
            });
        }
        if seeds == Some(0) {
            return Err("`--seeds 0` would run no trial: give 1 or more".into());
        }
        Ok(Axes { grid: axes, seeds })
    }

    /// Every configuration of the grid (the last axis fastest), each with
    /// seeds `base_seed`, `base_seed + 1`, … when `--seeds` asks.
    pub fn trials(&self, base_seed: u64) -> Vec<Settings> {
        let mut out = vec![Settings::new()];
        for Axis { key, values } in &self.grid {
            out = out
                .into_iter()
                .flat_map(|s| {
                    values.iter().map(move |v| {
                        let mut s = s.clone();
                        s.insert(key.clone(), v.clone());
                        s
                    })
                })
                .collect();
        }
        if let Some(k) = self.seeds {
            out = out
                .into_iter()
                .flat_map(|s| {
                    (0..k).map(move |i| {
                        let mut s = s.clone();
                        s.insert("train.seed".into(), (base_seed + i).to_string());
                        s
                    })
                })
                .collect();
        }
        out
    }
}

/// A trial's settings as `--set` arguments.
pub fn sets(s: &Settings) -> Vec<String> {
    s.iter().map(|(k, v)| format!("{k}={v}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grid_with_seeds_is_every_combination() {
        let grid = [
            "train.batch=32,64".to_string(),
            "let.width=8,16,32".to_string(),
        ];
        let axes = Axes::parse(&grid, Some(2)).unwrap();
        let trials = axes.trials(7);
        assert_eq!(trials.len(), 2 * 3 * 2);
        assert_eq!(
            sets(&trials[1]),
            ["let.width=8", "train.batch=32", "train.seed=8"]
        );
        let distinct: std::collections::BTreeSet<_> = trials.iter().map(sets).collect();
        assert_eq!(distinct.len(), trials.len());
        assert!(Axes::parse(&["train.batch".into()], None).is_err());
        assert!(Axes::parse(&["a=1".into(), "a=2".into()], None).is_err());
    }
}
