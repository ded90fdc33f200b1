//! A sweep's trials: the grid's configurations, each with its seeds, as
//! `--set` settings.

use std::collections::BTreeMap;

/// One trial's settings, KEY → VALUE (any `--set` key).
pub type Settings = BTreeMap<String, String>;

/// One `--grid` axis.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Axis {
    pub key: String,
    pub values: Vec<String>,
}

/// One `--range` axis, sampled by `--random`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Range {
    pub key: String,
    pub low: f64,
    pub high: f64,
    /// Sampled uniformly in the logarithm (learning rates).
    pub log: bool,
    /// Both bounds whole numbers (and not `:log`): whole samples (sizes).
    pub integer: bool,
}

/// The axes as given: `--grid KEY=V1,V2` (in order), `--random N` draws
/// over the `--range` axes, and `--seeds K`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Axes {
    pub grid: Vec<Axis>,
    pub random: Option<usize>,
    pub ranges: Vec<Range>,
    pub seeds: Option<u64>,
}

impl Range {
    /// `KEY=LO..HI` or `KEY=LO..HI:log`.
    fn parse(r: &str) -> Result<Range, String> {
        let bad = || {
            format!("`--range {r}`: expected KEY=LO..HI or KEY=LO..HI:log, e.g. train.lr=1e-4..1e-1:log")
        };
        let (key, spec) = r.split_once('=').ok_or_else(bad)?;
        let (spec, log) = match spec.strip_suffix(":log") {
            Some(s) => (s, true),
            None => (spec, false),
        };
        let (lo, hi) = spec.split_once("..").ok_or_else(bad)?;
        let (low, high): (f64, f64) = (
            lo.trim().parse().map_err(|_| bad())?,
            hi.trim().parse().map_err(|_| bad())?,
        );
        // NaN bounds fail `low < high` too.
        let ordered = low < high;
        if key.is_empty() || !ordered || (log && low <= 0.0) {
            return Err(format!(
                "`--range {r}`: needs LO < HI (and LO > 0 with :log)"
            ));
        }
        let whole = |s: &str| !s.contains(['.', 'e', 'E']);
        Ok(Range {
            key: key.to_string(),
            low,
            high,
            log,
            integer: !log && whole(lo.trim()) && whole(hi.trim()),
        })
    }

    fn sample(&self, rng: &mut impl rand::Rng) -> String {
        if self.integer {
            return rng
                .gen_range(self.low as i64..=self.high as i64)
                .to_string();
        }
        let u: f64 = rng.gen();
        let v = if self.log {
            (self.low.ln() + u * (self.high.ln() - self.low.ln())).exp()
        } else {
            self.low + u * (self.high - self.low)
        };
        format!("{v:.4e}")
    }
}

impl Axes {
    /// Parses the axes, or says which is malformed.
    pub fn parse(
        grid: &[String],
        random: Option<usize>,
        ranges: &[String],
        seeds: Option<u64>,
    ) -> Result<Axes, String> {
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
        let ranges = ranges
            .iter()
            .map(|r| Range::parse(r))
            .collect::<Result<Vec<_>, _>>()?;
        match (random, ranges.is_empty()) {
            (Some(0), _) => return Err("`--random 0` would run no trial: give 1 or more".into()),
            (Some(_), true) => {
                return Err("`--random N` draws over `--range KEY=LO..HI` axes: give one".into())
            }
            (None, false) => {
                return Err("`--range` axes are drawn by `--random N`: say how many trials".into())
            }
            _ => {}
        }
        Ok(Axes {
            grid: axes,
            random,
            ranges,
            seeds,
        })
    }

    /// Every configuration of the grid (the last axis fastest), each with
    /// the `--random` draws (seeded by `base_seed`), each with seeds
    /// `base_seed`, `base_seed + 1`, … when `--seeds` asks.
    pub fn trials(&self, base_seed: u64) -> Vec<Settings> {
        use rand::SeedableRng;
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
        if let Some(n) = self.random {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(base_seed ^ 0x5EEB);
            let draws: Vec<Settings> = (0..n)
                .map(|_| {
                    self.ranges
                        .iter()
                        .map(|r| (r.key.clone(), r.sample(&mut rng)))
                        .collect()
                })
                .collect();
            out = out
                .into_iter()
                .flat_map(|s| {
                    draws.iter().map(move |d| {
                        let mut s = s.clone();
                        s.extend(d.clone());
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
        let axes = Axes::parse(&grid, None, &[], Some(2)).unwrap();
        let trials = axes.trials(7);
        assert_eq!(trials.len(), 2 * 3 * 2);
        assert_eq!(
            sets(&trials[1]),
            ["let.width=8", "train.batch=32", "train.seed=8"]
        );
        let distinct: std::collections::BTreeSet<_> = trials.iter().map(sets).collect();
        assert_eq!(distinct.len(), trials.len());
        assert!(Axes::parse(&["train.batch".into()], None, &[], None).is_err());
        assert!(Axes::parse(&["a=1".into(), "a=2".into()], None, &[], None).is_err());
    }

    #[test]
    fn random_draws_are_seeded_and_within_their_ranges() {
        let ranges = [
            "let.width=8..64".to_string(),
            "let.lr=1e-4..1e-1:log".to_string(),
        ];
        let axes = Axes::parse(&[], Some(20), &ranges, None).unwrap();
        let trials = axes.trials(3);
        assert_eq!(trials.len(), 20);
        assert_eq!(trials, axes.trials(3));
        for t in &trials {
            let w: i64 = t["let.width"].parse().unwrap();
            let lr: f64 = t["let.lr"].parse().unwrap();
            assert!(
                (8..=64).contains(&w) && (1e-4..=1e-1).contains(&lr),
                "{t:?}"
            );
        }
        assert!(Axes::parse(&[], Some(2), &[], None).is_err());
        assert!(Axes::parse(&[], None, &ranges, None).is_err());
        assert!(Axes::parse(&[], Some(2), &["a=0..1:log".into()], None).is_err());
    }
}
