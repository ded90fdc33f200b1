//! Clustered weights on disk, inside a safetensors file: for a weight
//! `NAME` with K shared values, `NAME.values` (F32, K) and `NAME.codes`
//! (U8), each weight's code packed in `bits` bits, least significant first
//! — code 0 a pruned (zero) weight when the layer has any, else value 0.
//! The file's metadata says, for `NAME`, `shared bits=B zero=Z shape=A,B`.

use std::collections::HashMap;

use super::cluster::Codebook;

/// One clustered weight as the file holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    pub values: Vec<f32>,
    pub codes: Vec<u8>,
    /// The metadata line.
    pub meta: String,
}

/// Bits per code: enough for every value, and zero where the layer has
/// pruned weights.
pub fn bits(book: &Codebook) -> u32 {
    let codes = book.values.len() + usize::from(has_zero(book));
    usize::BITS - (codes.max(2) - 1).leading_zeros()
}

fn has_zero(book: &Codebook) -> bool {
    book.index.iter().any(Option::is_none)
}

pub fn encode(book: &Codebook, shape: &[usize]) -> Encoded {
    let (bits, zero) = (bits(book), has_zero(book));
    let mut codes = vec![0u8; (book.index.len() * bits as usize).div_ceil(8)];
    for (n, i) in book.index.iter().enumerate() {
        let code = match i {
            Some(i) => *i as u32 + u32::from(zero),
            None => 0,
        };
        put(&mut codes, n * bits as usize, bits, code);
    }
    let shape: Vec<String> = shape.iter().map(usize::to_string).collect();
    Encoded {
        values: book.values.clone(),
        codes,
        meta: format!("shared bits={bits} zero={zero} shape={}", shape.join(",")),
    }
}

/// The weights back from a file's `values`, `codes` and metadata line, or
/// what is wrong with them.
pub fn decode(values: &[f32], codes: &[u8], meta: &str) -> Result<(Vec<usize>, Vec<f32>), String> {
    let fields: HashMap<&str, &str> = meta
        .strip_prefix("shared ")
        .ok_or_else(|| format!("`{meta}` is not a shared-weights description"))?
        .split(' ')
        .filter_map(|f| f.split_once('='))
        .collect();
    let field = |k: &str| fields.get(k).copied().ok_or(format!("`{meta}` lacks {k}="));
    let bits: u32 = field("bits")?
        .parse()
        .map_err(|_| format!("bad bits in `{meta}`"))?;
    let zero = field("zero")? == "true";
    let shape: Vec<usize> = field("shape")?
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| format!("bad shape in `{meta}`"))?;
    let n: usize = shape.iter().product();
    if !(1..=9).contains(&bits) || codes.len() < (n * bits as usize).div_ceil(8) {
        return Err(format!(
            "{} code bytes cannot hold {n} codes of {bits} bits",
            codes.len()
        ));
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let code = get(codes, i * bits as usize, bits) as usize;
        out.push(match (zero, code) {
            (true, 0) => 0.0,
            (true, c) => *values
                .get(c - 1)
                .ok_or(format!("code {c} past the values"))?,
            (false, c) => *values.get(c).ok_or(format!("code {c} past the values"))?,
        });
    }
    Ok((shape, out))
}

fn put(bytes: &mut [u8], at: usize, bits: u32, code: u32) {
    for b in 0..bits as usize {
        if code >> b & 1 == 1 {
            bytes[(at + b) / 8] |= 1 << ((at + b) % 8);
        }
    }
}

fn get(bytes: &[u8], at: usize, bits: u32) -> u32 {
    (0..bits as usize).fold(0, |code, b| {
        code | (u32::from(bytes[(at + b) / 8] >> ((at + b) % 8) & 1) << b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_weights_round_trip_exactly_in_log2_k_bits() {
        let w: Vec<f32> = (0..999)
            .map(|i| {
                if i % 3 == 0 {
                    0.0
                } else {
                    ((i * 37 % 101) as f32 - 50.0) / 9.0
                }
            })
            .collect();
        for k in [2, 7, 31, 256] {
            let book = Codebook::fit(0, &w, k);
            let e = encode(&book, &[27, 37]);
            // k values (fewer where the layer has fewer distinct weights:
            // 100 here) and zero: ceil(log2(k + 1)) bits a weight.
            assert_eq!(book.values.len(), k.min(100));
            let bits = (book.values.len() as f64 + 1.0).log2().ceil() as usize;
            assert_eq!(e.codes.len(), (999 * bits).div_ceil(8), "k = {k}");
            let (shape, back) = decode(&e.values, &e.codes, &e.meta).unwrap();
            assert_eq!(shape, vec![27, 37]);
            assert_eq!(back, book.weights());
        }
        assert!(decode(&[1.0], &[0], "shared bits=4 zero=false shape=3,3").is_err());
    }
}
