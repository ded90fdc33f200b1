//! Where a pruned tensor's non-zero weights are, in half a byte each:
//! each position is the previous one plus `g + 1` for a nibble `g` of 0 to
//! 14, and the nibble 15 moves 15 places on without a weight (so a long
//! run of zeros costs one nibble per 15). At 50% sparsity that is 4 bits a
//! weight beside its value; at 90%, under half a bit a weight of the layer.
//! Also the packing of `bits`-bit codes that clustered values use.

/// The nibbles (two a byte, low first) of the positions of `w`'s non-zero
/// values, and how many there are.
pub fn positions(w: &[f32]) -> (Vec<u8>, usize) {
    let mut nibbles = Vec::new();
    let mut last: isize = -1;
    let mut count = 0;
    for (i, v) in w.iter().enumerate() {
        if *v == 0.0 {
            continue;
        }
        let mut gap = i as isize - last - 1;
        while gap >= 15 {
            nibbles.push(15u8);
            gap -= 15;
        }
        nibbles.push(gap as u8);
        last = i as isize;
        count += 1;
    }
    let bytes = nibbles
        .chunks(2)
        .map(|p| p[0] | p.get(1).map_or(0, |h| h << 4))
        .collect();
    (bytes, count)
}

/// The positions `nibbles` hold, `count` of them, each below `len`; or
/// what is wrong.
pub fn read_positions(nibbles: &[u8], count: usize, len: usize) -> Result<Vec<usize>, String> {
    let mut out = Vec::with_capacity(count);
    let mut next = 0usize;
    for n in nibbles.iter().flat_map(|b| [b & 15, b >> 4]) {
        if out.len() == count {
            break;
        }
        if n == 15 {
            next += 15;
        } else {
            next += n as usize;
            if next >= len {
                return Err(format!("a position past the tensor's {len} values"));
            }
            out.push(next);
            next += 1;
        }
    }
    if out.len() < count {
        return Err(format!(
            "{} positions where {count} were promised",
            out.len()
        ));
    }
    Ok(out)
}

/// `codes` packed in `bits` bits each, least significant first.
pub fn pack(codes: impl Iterator<Item = u32>, bits: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, code) in codes.enumerate() {
        let at = n * bits as usize;
        out.resize((at + bits as usize).div_ceil(8), 0);
        for b in 0..bits as usize {
            if code >> b & 1 == 1 {
                out[(at + b) / 8] |= 1 << ((at + b) % 8);
            }
        }
    }
    out
}

/// Code `n` of `bytes` packed in `bits` bits.
pub fn unpack(bytes: &[u8], n: usize, bits: u32) -> u32 {
    let at = n * bits as usize;
    (0..bits as usize).fold(0, |code, b| {
        code | (u32::from(bytes[(at + b) / 8] >> ((at + b) % 8) & 1) << b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_and_long_gaps_cost_a_nibble_per_fifteen() {
        let mut w = vec![0.0f32; 200];
        for i in [0, 1, 15, 16, 31, 47, 150, 199] {
            w[i] = 1.0;
        }
        let (nibbles, count) = positions(&w);
        assert_eq!(count, 8);
        let back = read_positions(&nibbles, count, w.len()).unwrap();
        assert_eq!(back, vec![0, 1, 15, 16, 31, 47, 150, 199]);
        // A nibble per position, and a 15 for each 15 zeros skipped: one
        // before 47, six before 150 (102 zeros), three before 199 (48).
        assert_eq!(nibbles.len(), (8usize + 1 + 6 + 3).div_ceil(2));
        assert!(read_positions(&nibbles, count, 100).is_err());
        assert!(read_positions(&nibbles, count + 5, w.len()).is_err());
    }

    #[test]
    fn codes_pack_and_unpack_in_any_width() {
        for bits in 1..=9 {
            let codes: Vec<u32> = (0..50).map(|i| (i * 7) % (1 << bits)).collect();
            let packed = pack(codes.iter().copied(), bits);
            assert_eq!(packed.len(), (50 * bits as usize).div_ceil(8));
            for (n, c) in codes.iter().enumerate() {
                assert_eq!(unpack(&packed, n, bits), *c);
            }
        }
    }
}
