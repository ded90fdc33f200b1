//! The metrics a run reports and `expect` and `early_stop` may name: one
//! table, from which names, parsing and the direction of improvement are
//! all read.

/// Where a figure was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    Train,
    Val,
    Test,
}

/// What was measured over a stage's samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quantity {
    Loss,
    Accuracy,
    /// Bits per character: the loss in base 2, for text.
    Bpc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    Of(Stage, Quantity),
    /// Share of the covered weights that are zero after compression.
    Sparsity,
    /// Compressed bytes over float32 bytes.
    SizeRatio,
    /// Accuracy before compression minus accuracy after.
    AccuracyDrop,
    /// Inference samples/s of the compressed model over the float model's.
    Speedup,
}

use Quantity::{Accuracy, Bpc, Loss};
use Stage::{Test, Train, Val};

/// Every metric with its name, in the order messages list them.
const TABLE: [(Metric, &str); 13] = [
    (Metric::Of(Train, Loss), "train.loss"),
    (Metric::Of(Train, Accuracy), "train.accuracy"),
    (Metric::Of(Train, Bpc), "train.bpc"),
    (Metric::Of(Val, Loss), "val.loss"),
    (Metric::Of(Val, Accuracy), "val.accuracy"),
    (Metric::Of(Val, Bpc), "val.bpc"),
    (Metric::Of(Test, Loss), "test.loss"),
    (Metric::Of(Test, Accuracy), "test.accuracy"),
    (Metric::Of(Test, Bpc), "test.bpc"),
    (Metric::Sparsity, "compress.sparsity"),
    (Metric::SizeRatio, "compress.size_ratio"),
    (Metric::AccuracyDrop, "compress.accuracy_drop"),
    (Metric::Speedup, "compress.speedup"),
];

/// Every metric's name, for "did you mean" and the language reference.
pub const NAMES: [&str; 13] = {
    let mut out = [""; 13];
    let mut i = 0;
    while i < TABLE.len() {
        out[i] = TABLE[i].1;
        i += 1;
    }
    out
};

/// What early stopping may watch: the figures of every epoch (training's
/// and validation's), not the test split's or compression's, which come
/// once at the end.
pub const MONITORED: [&str; 6] = {
    let mut out = [""; 6];
    let mut i = 0;
    while i < 6 {
        out[i] = TABLE[i].1;
        i += 1;
    }
    out
};

impl Metric {
    pub fn name(self) -> &'static str {
        TABLE
            .iter()
            .find(|(m, _)| *m == self)
            .map(|(_, n)| *n)
            .expect("every metric is in the table")
    }

    pub fn parse(name: &str) -> Option<Metric> {
        TABLE.iter().find(|(_, n)| *n == name).map(|(m, _)| *m)
    }

    /// Whether smaller is better (losses, sizes, drops); else larger is.
    pub fn minimize(self) -> bool {
        match self {
            Metric::Of(_, q) => q != Accuracy,
            Metric::Sparsity | Metric::Speedup => false,
            Metric::SizeRatio | Metric::AccuracyDrop => true,
        }
    }

    /// The stage a metric was measured on, if it is a stage's.
    pub fn stage(self) -> Option<Stage> {
        match self {
            Metric::Of(s, _) => Some(s),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_its_metric() {
        for (m, n) in TABLE {
            assert_eq!(Metric::parse(n), Some(m));
            assert_eq!(m.name(), n);
        }
        assert_eq!(NAMES.len(), TABLE.len());
        for n in MONITORED {
            let stage = Metric::parse(n).and_then(Metric::stage);
            assert!(matches!(stage, Some(Stage::Train | Stage::Val)), "{n}");
        }
        assert!(Metric::parse("val.losss").is_none());
        assert!(Metric::parse("val.loss").unwrap().minimize());
        assert!(!Metric::parse("test.accuracy").unwrap().minimize());
    }
}
