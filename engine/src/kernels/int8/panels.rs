//! Int8 weights laid out for the dot-product instructions: panels of 16
//! outputs, and within a panel, for every group of four inputs, the 16
//! outputs' four bytes side by side — one 64-byte vector (or two 32-byte
//! halves) per group, as `vpdpbusd` multiplies it against four broadcast
//! activation bytes.

/// Outputs per panel.
pub const LANES: usize = 16;

#[derive(Debug, Clone)]
pub struct Panels {
    pub data: Vec<i8>,
    /// Inputs padded to a multiple of 4.
    pub k4: usize,
    pub panels: usize,
}

impl Panels {
    /// `q` is `rows x cols`, row-major (an output's weights contiguous).
    pub fn new(q: &[i8], rows: usize, cols: usize) -> Panels {
        let k4 = super::rows::padded(cols);
        let panels = rows.div_ceil(LANES);
        let mut data = vec![0i8; panels * LANES * k4];
        for (r, row) in q.chunks(cols.max(1)).take(rows).enumerate() {
            let (p, lane) = (r / LANES, r % LANES);
            let panel = &mut data[p * LANES * k4..(p + 1) * LANES * k4];
            for (c, v) in row.iter().enumerate() {
                panel[(c / 4) * LANES * 4 + lane * 4 + c % 4] = *v;
            }
        }
        Panels { data, k4, panels }
    }

    /// Bytes of one panel.
    pub fn stride(&self) -> usize {
        LANES * self.k4
    }
}
