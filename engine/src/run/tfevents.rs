//! TensorBoard's event file in the run folder
//! (`events.out.tfevents.<seconds>.<host>`): every metric as a scalar
//! under a tag with slashes (`train.loss` becomes `train/loss`), every
//! parameter's histogram each epoch (`dense1.weight` becomes
//! `dense1/weight`), the `.net` source as text. Records are framed as
//! TFRecord: length, masked CRC32C of the length, the Event protobuf,
//! masked CRC32C of it.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::events::Histogram;
use prost::Message;

use crate::proto::tensorboard::{
    event, summary, summary_metadata, DataType, Event, HistogramProto, Summary, SummaryMetadata,
    TensorProto, TensorShapeProto,
};

/// The file's name for a run starting now on this host.
fn file_name() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("events.out.tfevents.{secs}.{host}")
}

fn wall_time() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// TFRecord's checksum: CRC32C, rotated and offset so that a CRC of data
/// holding CRCs stays strong.
fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// A metric's tag: its name with slashes for dots (`val/accuracy`).
pub fn tag(metric: &str) -> String {
    metric.replace('.', "/")
}

/// How often a row's metrics come: at every training step, or at an
/// epoch's end and the run's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    EveryStep,
    Sparse,
}

pub struct EventFile {
    out: BufWriter<File>,
    /// Tags written at every step (`train/loss`): an epoch's average of
    /// them would break their series, so epoch and final rows leave them.
    per_step: HashSet<String>,
    /// Tags already written at a step: the final row repeats the last
    /// epoch's validation figures.
    written: HashSet<(String, u64)>,
}

impl EventFile {
    /// A new event file in `dir`, starting with the file-version event.
    pub fn create(dir: &Path) -> std::io::Result<EventFile> {
        let mut f = EventFile {
            out: BufWriter::new(File::create(dir.join(file_name()))?),
            per_step: HashSet::new(),
            written: HashSet::new(),
        };
        f.event(0, event::What::FileVersion("brain.Event:2".into()))?;
        Ok(f)
    }

    fn event(&mut self, step: u64, what: event::What) -> std::io::Result<()> {
        let e = Event {
            wall_time: wall_time(),
            step: step as i64,
            what: Some(what),
        };
        let data = e.encode_to_vec();
        let len = (data.len() as u64).to_le_bytes();
        self.out.write_all(&len)?;
        self.out.write_all(&masked_crc(&len).to_le_bytes())?;
        self.out.write_all(&data)?;
        self.out.write_all(&masked_crc(&data).to_le_bytes())
    }

    fn summary(&mut self, step: u64, values: Vec<summary::Value>) -> std::io::Result<()> {
        if values.is_empty() {
            return Ok(());
        }
        self.event(step, event::What::Summary(Summary { value: values }))
    }

    /// A row's scalars at its step (`metrics.csv`'s step column), each
    /// tag once per step.
    pub fn scalars<'a>(
        &mut self,
        cadence: Cadence,
        step: u64,
        metrics: impl IntoIterator<Item = (&'a String, &'a f64)>,
    ) -> std::io::Result<()> {
        let mut values = Vec::new();
        for (name, v) in metrics {
            let tag = tag(name);
            if cadence == Cadence::EveryStep {
                self.per_step.insert(tag.clone());
            } else if self.per_step.contains(&tag) {
                continue;
            }
            if self.written.insert((tag.clone(), step)) {
                values.push(summary::Value {
                    tag,
                    metadata: None,
                    value: Some(summary::value::Value::SimpleValue(*v as f32)),
                });
            }
        }
        self.summary(step, values)
    }

    /// Each parameter's distribution at `step`.
    pub fn histograms<'a>(
        &mut self,
        step: u64,
        params: impl IntoIterator<Item = (&'a str, &'a [f32])>,
    ) -> std::io::Result<()> {
        let values = params
            .into_iter()
            .map(|(name, w)| summary::Value {
                tag: tag(name),
                metadata: None,
                value: Some(summary::value::Value::Histo(histogram(w))),
            })
            .collect();
        self.summary(step, values)
    }

    /// `text` under `tag`, for TensorBoard's text dashboard.
    pub fn text(&mut self, tag: &str, step: u64, text: &str) -> std::io::Result<()> {
        let value = summary::Value {
            tag: tag.into(),
            metadata: Some(SummaryMetadata {
                plugin_data: Some(summary_metadata::PluginData {
                    plugin_name: "text".into(),
                    content: Vec::new(),
                }),
                display_name: String::new(),
                summary_description: String::new(),
            }),
            value: Some(summary::value::Value::Tensor(TensorProto {
                dtype: DataType::DtString as i32,
                tensor_shape: Some(TensorShapeProto {
                    dim: Vec::new(),
                    unknown_rank: false,
                }),
                version_number: 0,
                tensor_content: Vec::new(),
                string_val: vec![text.as_bytes().to_vec()],
            })),
        };
        self.summary(step, vec![value])
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Bins of equal width between the finite values' extremes, as
/// TensorBoard's histogram message holds them.
fn histogram(values: &[f32]) -> HistogramProto {
    const BINS: usize = 30;
    let finite: Vec<f64> = values
        .iter()
        .filter(|v| v.is_finite())
        .map(|v| *v as f64)
        .collect();
    let (min, max) = finite
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    if finite.is_empty() {
        return HistogramProto::default();
    }
    let width = ((max - min) / BINS as f64).max(f64::MIN_POSITIVE);
    let mut bucket = vec![0.0; BINS];
    for v in &finite {
        let b = (((v - min) / width) as usize).min(BINS - 1);
        bucket[b] += 1.0;
    }
    HistogramProto {
        min,
        max,
        num: finite.len() as f64,
        sum: finite.iter().sum(),
        sum_squares: finite.iter().map(|v| v * v).sum(),
        bucket_limit: (1..=BINS).map(|i| min + width * i as f64).collect(),
        bucket,
    }
}

/// A parameter's distribution at a step, read back from an event file.
#[derive(Debug, Clone, PartialEq)]
pub struct Bands {
    /// The parameter's name (`dense1.weight`).
    pub name: String,
    pub step: u64,
    /// The 10th, 25th, 50th, 75th and 90th percentiles.
    pub percentiles: [f64; 5],
    /// The histogram itself, as the dashboard draws it.
    pub min: f64,
    pub max: f64,
    pub counts: Vec<u32>,
}

impl Bands {
    /// The distribution as a live run's histogram event carries it.
    pub fn histogram(&self) -> Histogram {
        let p = self.percentiles.map(|v| v as f32);
        Histogram {
            name: self.name.clone(),
            min: self.min as f32,
            max: self.max as f32,
            counts: self.counts.clone(),
            percentiles: [
                self.min as f32,
                p[0],
                p[1],
                p[2],
                p[3],
                p[4],
                self.max as f32,
            ],
        }
    }
}

/// Every histogram in the run folder's event files, oldest file first.
pub fn read_histograms(dir: &Path) -> Result<Vec<Bands>, String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("events.out.tfevents."))
        })
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let bytes = std::fs::read(&f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        for event in records(&bytes).map_err(|e| format!("{}: {e}", f.display()))? {
            let Some(event::What::Summary(s)) = event.what else {
                continue;
            };
            for v in s.value {
                if let Some(summary::value::Value::Histo(h)) = v.value {
                    out.push(Bands {
                        name: v.tag.replace('/', "."),
                        step: event.step as u64,
                        percentiles: [0.1, 0.25, 0.5, 0.75, 0.9].map(|q| percentile(&h, q)),
                        min: h.min,
                        max: h.max,
                        counts: h.bucket.iter().map(|c| *c as u32).collect(),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// The events of a TFRecord file, each record's checksums verified.
fn records(mut bytes: &[u8]) -> Result<Vec<Event>, String> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        if bytes.len() < 12 {
            return Err("a truncated record".into());
        }
        let (len_bytes, rest) = bytes.split_at(8);
        let len = u64::from_le_bytes(len_bytes.try_into().expect("eight bytes")) as usize;
        let crc = u32::from_le_bytes(rest[..4].try_into().expect("four bytes"));
        if crc != masked_crc(len_bytes) || rest.len() < 4 + len + 4 {
            return Err("a corrupt record header".into());
        }
        let data = &rest[4..4 + len];
        let crc = u32::from_le_bytes(rest[4 + len..8 + len].try_into().expect("four bytes"));
        if crc != masked_crc(data) {
            return Err("a record whose checksum does not match".into());
        }
        out.push(Event::decode(data).map_err(|e| format!("not an Event: {e}"))?);
        bytes = &rest[8 + len..];
    }
    Ok(out)
}

/// The `q` quantile of a histogram, linear within its bucket.
fn percentile(h: &HistogramProto, q: f64) -> f64 {
    let target = q * h.num;
    let mut seen = 0.0;
    let mut lower = h.min;
    for (&count, &limit) in h.bucket.iter().zip(&h.bucket_limit) {
        if count > 0.0 && seen + count >= target {
            let within = ((target - seen) / count).clamp(0.0, 1.0);
            return lower + within * (limit.min(h.max) - lower);
        }
        seen += count;
        lower = limit;
    }
    h.max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_is_tfrecords_masked_crc32c() {
        // CRC32C("123456789") is 0xE3069283, the standard check value;
        // rotated right by 15 and offset by 0xa282ead8 (as TensorFlow's
        // crc32c::Mask), 0xC78AB0E5.
        assert_eq!(masked_crc(b"123456789"), 0xC78A_B0E5);
        assert_eq!(masked_crc(b""), 0xa282_ead8);
    }

    #[test]
    fn percentiles_come_back_from_a_written_file() {
        let dir = std::env::temp_dir().join(format!("dlwb-tfevents-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let values: Vec<f32> = (0..1000).map(|i| i as f32 / 999.0).collect();
        let mut f = EventFile::create(&dir).unwrap();
        f.histograms(7, [("dense1.weight", values.as_slice())])
            .unwrap();
        f.flush().unwrap();
        let got = read_histograms(&dir).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].name.as_str(), got[0].step), ("dense1.weight", 7));
        for (p, q) in got[0].percentiles.iter().zip([0.1, 0.25, 0.5, 0.75, 0.9]) {
            assert!((p - q).abs() < 0.01, "{p} vs {q}");
        }
        let h = got[0].histogram();
        assert_eq!((h.min, h.max), (0.0, 1.0));
        assert_eq!(h.counts.iter().sum::<u32>(), 1000);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn histograms_count_every_finite_value_once() {
        let h = histogram(&[0.0, 1.0, 2.0, 3.0, f32::NAN]);
        assert_eq!(h.num, 4.0);
        assert_eq!(h.bucket.iter().sum::<f64>(), 4.0);
        assert_eq!((h.min, h.max, h.sum, h.sum_squares), (0.0, 3.0, 6.0, 14.0));
        assert_eq!(*h.bucket_limit.last().unwrap(), 3.0);
    }
}
