//! How a dense or conv weight is written in a compressed model file
//! (safetensors), whichever of its layouts is smallest:
//!
//! | layout | tensors | metadata for `NAME` |
//! |---|---|---|
//! | dense | `NAME` (F32) | none |
//! | sparse | `NAME.positions` (U8 nibbles, `sparse.rs`), `NAME.values` (F32, one per non-zero) | `sparse count=N shape=A,B` |
//! | shared | `NAME.values` (F32, K), `NAME.codes` (U8, a `bits`-bit code per weight, 0 for a zero when `zero=true`) | `shared bits=B zero=Z shape=A,B` |
//! | shared sparse | `NAME.positions`, `NAME.values` (F32, K), `NAME.codes` (a code per non-zero) | `shared-sparse bits=B count=N shape=A,B` |
//! | int8 | `NAME` (I8), `NAME.scale` (F32, a scale per output) | none |
//! | int8 sparse | `NAME.positions`, `NAME.q` (I8, one per non-zero), `NAME.scale` | `int8-sparse count=N shape=A,B` |

use std::collections::HashMap;

use safetensors::Dtype;

use super::cluster::Codebook;
use super::sparse::{pack, positions, read_positions, unpack};
use crate::kernels::int8::QuantWeight;

/// The layouts a metadata line may name (other metadata, such as a
/// checkpoint's `dlwb_version`, is not a stored weight).
pub const LAYOUTS: [&str; 4] = ["sparse", "shared", "shared-sparse", "int8-sparse"];

/// Whether a metadata line describes a stored weight.
pub fn describes_weight(line: &str) -> bool {
    LAYOUTS.contains(&line.split(' ').next().unwrap_or(""))
}

/// One tensor of a stored weight: its name's suffix (`""` for `NAME`).
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub suffix: &'static str,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub parts: Vec<Part>,
    /// The metadata line; none for a dense weight.
    pub meta: Option<String>,
}

impl Stored {
    pub fn bytes(&self) -> usize {
        self.parts.iter().map(|p| p.bytes.len()).sum::<usize>()
            + self.meta.as_ref().map_or(0, |m| m.len() + 16)
    }
}

fn floats(v: impl IntoIterator<Item = f32>) -> Vec<u8> {
    v.into_iter().flat_map(f32::to_le_bytes).collect()
}

fn shape_text(shape: &[usize]) -> String {
    shape
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Bits for `n` distinct codes.
fn bits_for(n: usize) -> u32 {
    usize::BITS - (n.max(2) - 1).leading_zeros()
}

/// `w` (the weights `book` gives, when clustered) in its smallest layout.
pub fn store(w: &[f32], shape: &[usize], book: Option<&Codebook>) -> Stored {
    let (nibbles, count) = positions(w);
    let shape_s = shape_text(shape);
    let mut candidates = Vec::new();
    match book {
        None => {
            candidates.push(Stored {
                parts: vec![part(
                    "",
                    Dtype::F32,
                    shape.to_vec(),
                    floats(w.iter().copied()),
                )],
                meta: None,
            });
            let values = floats(w.iter().copied().filter(|v| *v != 0.0));
            candidates.push(Stored {
                parts: vec![
                    part(".positions", Dtype::U8, vec![nibbles.len()], nibbles),
                    part(".values", Dtype::F32, vec![count], values),
                ],
                meta: Some(format!("sparse count={count} shape={shape_s}")),
            });
        }
        Some(book) => {
            let k = book.values.len();
            let values = || part(".values", Dtype::F32, vec![k], floats(book.values.clone()));
            let zero = book.index.iter().any(Option::is_none);
            let bits = bits_for(k + usize::from(zero));
            let codes = pack(
                book.index
                    .iter()
                    .map(|i| i.map_or(0, |i| i as u32 + u32::from(zero))),
                bits,
            );
            candidates.push(Stored {
                parts: vec![
                    values(),
                    part(".codes", Dtype::U8, vec![codes.len()], codes),
                ],
                meta: Some(format!("shared bits={bits} zero={zero} shape={shape_s}")),
            });
            let bits = bits_for(k);
            let codes = pack(book.index.iter().flatten().map(|i| *i as u32), bits);
            candidates.push(Stored {
                parts: vec![
                    part(".positions", Dtype::U8, vec![nibbles.len()], nibbles),
                    values(),
                    part(".codes", Dtype::U8, vec![codes.len()], codes),
                ],
                meta: Some(format!(
                    "shared-sparse bits={bits} count={count} shape={shape_s}"
                )),
            });
        }
    }
    candidates
        .into_iter()
        .min_by_key(Stored::bytes)
        .expect("two candidates")
}

/// Int8 weights in the smaller of their layouts.
pub fn store_int8(q: &QuantWeight, shape: &[usize]) -> Stored {
    let scale = || part(".scale", Dtype::F32, vec![q.rows], floats(q.scales.clone()));
    let dense = Stored {
        parts: vec![
            part(
                "",
                Dtype::I8,
                shape.to_vec(),
                q.q.iter().map(|v| *v as u8).collect(),
            ),
            scale(),
        ],
        meta: None,
    };
    let as_float: Vec<f32> = q.q.iter().map(|v| *v as f32).collect();
    let (nibbles, count) = positions(&as_float);
    let values = q.q.iter().filter(|v| **v != 0).map(|v| *v as u8).collect();
    let sparse = Stored {
        parts: vec![
            part(".positions", Dtype::U8, vec![nibbles.len()], nibbles),
            part(".q", Dtype::I8, vec![count], values),
            scale(),
        ],
        meta: Some(format!(
            "int8-sparse count={count} shape={}",
            shape_text(shape)
        )),
    };
    if sparse.bytes() < dense.bytes() {
        sparse
    } else {
        dense
    }
}

/// Sparse int8 weights back from their metadata line and parts.
pub fn load_int8<'a>(
    meta: &str,
    part: impl Fn(&str) -> Option<&'a [u8]>,
) -> Result<(Vec<usize>, QuantWeight), String> {
    let fields: HashMap<&str, &str> = meta.split(' ').filter_map(|f| f.split_once('=')).collect();
    let field = |k: &str| fields.get(k).copied().ok_or(format!("`{meta}` lacks {k}="));
    let shape: Vec<usize> = field("shape")?
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| format!("bad shape in `{meta}`"))?;
    let count: usize = field("count")?
        .parse()
        .map_err(|_| format!("bad count in `{meta}`"))?;
    let need = |s: &str| part(s).ok_or(format!("no {s} tensor for `{meta}`"));
    let len: usize = shape.iter().product();
    let at = read_positions(need(".positions")?, count, len)?;
    let values = need(".q")?;
    if values.len() != count {
        return Err(format!(
            "{} int8 values where {count} were promised",
            values.len()
        ));
    }
    let mut q = vec![0i8; len];
    for (i, v) in at.into_iter().zip(values) {
        q[i] = *v as i8;
    }
    let scales: Vec<f32> = need(".scale")?
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("four bytes")))
        .collect();
    let rows = shape.first().copied().unwrap_or(1);
    if scales.len() != rows {
        return Err(format!("{} scales for {rows} rows", scales.len()));
    }
    Ok((shape, QuantWeight::new(q, scales, rows, len / rows.max(1))))
}

fn part(suffix: &'static str, dtype: Dtype, shape: Vec<usize>, bytes: Vec<u8>) -> Part {
    Part {
        suffix,
        dtype,
        shape,
        bytes,
    }
}

/// A stored weight's shape and values from its metadata line and its
/// parts (`part(".values")` gives a tensor's bytes), or what is wrong.
pub fn load<'a>(
    meta: &str,
    part: impl Fn(&str) -> Option<&'a [u8]>,
) -> Result<(Vec<usize>, Vec<f32>), String> {
    let (layout, rest) = meta.split_once(' ').unwrap_or((meta, ""));
    let fields: HashMap<&str, &str> = rest.split(' ').filter_map(|f| f.split_once('=')).collect();
    let field = |k: &str| fields.get(k).copied().ok_or(format!("`{meta}` lacks {k}="));
    let number = |k: &str| -> Result<usize, String> {
        field(k)?
            .parse()
            .map_err(|_| format!("bad {k} in `{meta}`"))
    };
    let shape: Vec<usize> = field("shape")?
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| format!("bad shape in `{meta}`"))?;
    let len: usize = shape.iter().product();
    let need = |s: &str| part(s).ok_or(format!("no {s} tensor for `{meta}`"));
    let values: Vec<f32> = need(".values")?
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("four bytes")))
        .collect();
    let value = |i: usize| {
        values
            .get(i)
            .copied()
            .ok_or(format!("a value past the {} stored", values.len()))
    };
    let codes = |n: usize, bits: u32| -> Result<&[u8], String> {
        let c = need(".codes")?;
        if !(1..=9).contains(&bits) || c.len() < (n * bits as usize).div_ceil(8) {
            return Err(format!(
                "{} code bytes cannot hold {n} codes of {bits} bits",
                c.len()
            ));
        }
        Ok(c)
    };
    let mut w = vec![0f32; len];
    match layout {
        "sparse" => {
            let at = read_positions(need(".positions")?, number("count")?, len)?;
            for (n, i) in at.into_iter().enumerate() {
                w[i] = value(n)?;
            }
        }
        "shared" => {
            let bits = number("bits")? as u32;
            let zero = field("zero")? == "true";
            let c = codes(len, bits)?;
            for (n, v) in w.iter_mut().enumerate() {
                *v = match (zero, unpack(c, n, bits) as usize) {
                    (true, 0) => 0.0,
                    (true, code) => value(code - 1)?,
                    (false, code) => value(code)?,
                };
            }
        }
        "shared-sparse" => {
            let (bits, count) = (number("bits")? as u32, number("count")?);
            let at = read_positions(need(".positions")?, count, len)?;
            let c = codes(count, bits)?;
            for (n, i) in at.into_iter().enumerate() {
                w[i] = value(unpack(c, n, bits) as usize)?;
            }
        }
        other => return Err(format!("unknown layout `{other}` in `{meta}`")),
    }
    Ok((shape, w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(s: &Stored) -> Vec<f32> {
        let get = |suffix: &str| {
            s.parts
                .iter()
                .find(|p| p.suffix == suffix)
                .map(|p| p.bytes.as_slice())
        };
        match &s.meta {
            None => get("")
                .unwrap()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect(),
            Some(m) => load(m, get).unwrap().1,
        }
    }

    fn pruned(sparsity: usize) -> Vec<f32> {
        (0..3000)
            .map(|i| {
                if i * 7 % 100 < sparsity {
                    0.0
                } else {
                    ((i * 37 % 101) as f32 - 50.5) / 9.0
                }
            })
            .collect()
    }

    #[test]
    fn every_layout_round_trips_exactly_and_the_smallest_is_chosen() {
        for sparsity in [0, 50, 90] {
            let w = pruned(sparsity);
            let plain = store(&w, &[30, 100], None);
            assert_eq!(round_trip(&plain), w, "{sparsity}%");
            let book = Codebook::fit(0, &w, 16);
            let shared = store(&book.weights(), &[30, 100], Some(&book));
            assert_eq!(round_trip(&shared), book.weights(), "{sparsity}%");
            let layout = |s: &Stored| {
                s.meta
                    .as_deref()
                    .map_or("dense", |m| m.split(' ').next().unwrap())
                    .to_string()
            };
            match sparsity {
                0 => assert_eq!(
                    (layout(&plain), layout(&shared)),
                    ("dense".into(), "shared".into())
                ),
                _ => assert_eq!(
                    (layout(&plain), layout(&shared)),
                    ("sparse".into(), "shared-sparse".into())
                ),
            }
        }
        // Bytes fall with sparsity: at 90% the positions and values take
        // under a seventh of the dense floats.
        let dense = 3000 * 4;
        assert!(store(&pruned(90), &[3000], None).bytes() * 7 < dense);
        assert!(load("sparse count=9 shape=3", |_| Some(&[0u8][..])).is_err());
    }

    #[test]
    fn sparse_int8_round_trips_exactly() {
        let w = pruned(80);
        let q = QuantWeight::quantize(&w, 30);
        let s = store_int8(&q, &[30, 100]);
        let meta = s.meta.clone().expect("sparse at 80%");
        let get = |suffix: &str| {
            s.parts
                .iter()
                .find(|p| p.suffix == suffix)
                .map(|p| p.bytes.as_slice())
        };
        let (shape, back) = load_int8(&meta, get).unwrap();
        assert_eq!(shape, vec![30, 100]);
        assert_eq!(back, q);
        assert!(
            store_int8(&QuantWeight::quantize(&pruned(0), 30), &[30, 100])
                .meta
                .is_none()
        );
    }
}
