//! Dropout, seeded per forward pass so that a resumed run draws the same
//! masks.

use rand::Rng;

use super::Ctx;
use crate::autograd::{unary, TapeKind, Value};

#[derive(Debug, Clone, Copy)]
pub struct Dropout {
    pub p: f32,
}

impl Dropout {
    /// Inverted dropout: training scales survivors by `1 / (1 - p)`, so that
    /// evaluation is the identity.
    pub fn forward<T: TapeKind>(&self, x: Value<T>, cx: &mut Ctx<'_>) -> Value<T> {
        let Dropout { p } = *self;
        if !cx.train || p == 0.0 {
            return x;
        }
        let scale = 1.0 / (1.0 - p);
        let mask: Vec<f32> = (0..x.len())
            .map(|_| if cx.rng.gen::<f32>() < p { 0.0 } else { scale })
            .collect();
        let mut y = x.host();
        y.iter_mut().zip(&mask).for_each(|(y, m)| *y *= m);
        let shape = x.shape.clone();
        unary(cx.dev, x, y, shape, move |gy, _, want_dx| {
            Ok(want_dx.then(|| gy.iter().zip(&mask).map(|(g, m)| g * m).collect()))
        })
    }
}
