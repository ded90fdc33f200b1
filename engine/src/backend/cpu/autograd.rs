//! The bridge between host kernels and dfdx's tape.
//!
//! Activations are flat dfdx tensors with the tape riding on them, plus the
//! logical shape (batch first). Every layer is one custom op: it reads its
//! input, computes on the host, and registers a backward closure that
//! accumulates into the gradients of its input and parameters. Accumulating
//! (never assigning) is what makes a tensor used twice — a residual's input —
//! receive both contributions.

use dfdx::tensor::{
    Cpu, Gradients, Merge, NoneTape, OwnedTape, PutTape, SplitTape, Tape, Tensor, TensorFromVec,
};

/// The tape of a pass that records nothing (evaluation, inference).
pub use dfdx::tensor::NoneTape as NoTape;

/// The device tensors live on.
pub type Dev = Cpu;
pub type DevError = dfdx::tensor::CpuError;
pub type Flat<T = NoneTape> = Tensor<(usize,), f32, Dev, T>;
pub type Grads = Gradients<f32, Dev>;
pub type TrainTape = OwnedTape<f32, Dev>;

/// The two tapes a forward pass runs with: recording (training) or not.
pub trait TapeKind: Tape<f32, Dev> + Merge<Self> + 'static {}
impl TapeKind for OwnedTape<f32, Dev> {}
impl TapeKind for NoneTape {}

/// A flat tensor holding `data`.
pub fn flat(dev: &Dev, data: Vec<f32>) -> Flat {
    let n = data.len();
    dev.tensor_from_vec(data, (n,))
}

/// The gradients of every tensor that `loss` was computed from.
pub fn backward(loss: Tensor<(), f32, Dev, TrainTape>) -> Result<Grads, DevError> {
    use dfdx::tensor_ops::Backward;
    loss.try_backward()
}

/// A flat tensor's data, copied to the host.
pub fn to_host<T>(t: &Flat<T>) -> Vec<f32> {
    use dfdx::shapes::HasShape;
    let mut v = vec![0.0; t.shape().0];
    t.copy_into(&mut v);
    v
}

/// An activation: its tensor and its shape, batch first.
pub struct Value<T> {
    pub t: Flat<T>,
    pub shape: Vec<usize>,
    /// False for the data fed in: nothing upstream wants its gradient.
    pub needs_grad: bool,
}

impl<T: TapeKind> Value<T> {
    /// A leaf value from host data, starting a fresh tape.
    pub fn leaf(dev: &Dev, data: Vec<f32>, shape: Vec<usize>) -> Self {
        let n = data.len();
        debug_assert_eq!(n, shape.iter().product::<usize>());
        Value {
            t: dev.tensor_from_vec(data, (n,)).put_tape(T::default()),
            shape,
            needs_grad: false,
        }
    }

    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The data, copied to the host.
    pub fn host(&self) -> Vec<f32> {
        to_host(&self.t)
    }

    /// The same data seen with another shape (no copy).
    pub fn reshaped(self, shape: Vec<usize>) -> Self {
        debug_assert_eq!(self.len(), shape.iter().product::<usize>());
        Value { shape, ..self }
    }
}

/// The gradient buffer of `t` (a tensor or its ghost), allocated as zeros
/// on first use.
macro_rules! grad_mut {
    ($grads:expr, $t:expr) => {
        $grads.get_or_alloc_mut($t).map(|v| v.as_mut_slice())
    };
}
pub(crate) use grad_mut;

/// Records a one-input op: `y` computed from `x`. On the backward pass
/// `backward(gy, grads, want_dx)` gets (owns) the gradient of `y`, accumulates
/// into parameter gradients, and returns the gradient of `x` when
/// `want_dx` (false when `x` is the data, which needs none). Inference (no
/// tape) records nothing.
pub fn unary<T: TapeKind, F>(
    dev: &Dev,
    x: Value<T>,
    y: Vec<f32>,
    shape: Vec<usize>,
    backward: F,
) -> Value<T>
where
    F: FnOnce(Vec<f32>, &mut Grads, bool) -> Result<Option<Vec<f32>>, DevError> + 'static,
{
    let want_dx = x.needs_grad;
    let (xt, mut tape) = x.t.split_tape();
    let n = y.len();
    let yt = dev.tensor_from_vec(y, (n,));
    if T::OWNS_TAPE {
        let x_ghost = xt.ghost();
        let y_ghost = yt.ghost();
        tape.add_backward_op(move |grads| {
            // `y`'s gradient is complete (its consumers ran first) and read
            // by no one after this op: taken, not copied.
            let gy = std::mem::take(&mut **grads.get_or_alloc_mut(&y_ghost)?);
            if let Some(dx) = backward(gy, grads, want_dx)? {
                let g = grads.get_or_alloc_mut(&x_ghost)?;
                g.iter_mut().zip(&dx).for_each(|(g, d)| *g += d);
            }
            Ok(())
        });
    }
    Value {
        t: yt.put_tape(tape),
        shape,
        needs_grad: true,
    }
}

/// Records an op with no input on the tape (an embedding reads token ids,
/// not a value): `y` as a new value with `shape`, and a backward that gets
/// `y`'s gradient and accumulates into parameter gradients.
pub fn source<T: TapeKind, F>(dev: &Dev, y: Vec<f32>, shape: Vec<usize>, backward: F) -> Value<T>
where
    F: FnOnce(&[f32], &mut Grads) -> Result<(), DevError> + 'static,
{
    let yt = flat(dev, y);
    let mut tape = T::default();
    if T::OWNS_TAPE {
        let yg = yt.ghost();
        tape.add_backward_op(move |grads| {
            let gy: Vec<f32> = grads.get_or_alloc_mut(&yg)?.to_vec();
            backward(&gy, grads)
        });
    }
    Value {
        t: yt.put_tape(tape),
        shape,
        needs_grad: true,
    }
}

/// Records `a + b` (same shapes), merging the two tapes.
pub fn add<T: TapeKind>(dev: &Dev, a: Value<T>, b: Value<T>) -> Value<T> {
    let (at, ta) = a.t.split_tape();
    let (bt, tb) = b.t.split_tape();
    let mut tape = ta.merge(tb);
    let n = a.shape.iter().product::<usize>();
    let mut y = vec![0.0; n];
    at.copy_into(&mut y);
    let mut yb = vec![0.0; n];
    bt.copy_into(&mut yb);
    y.iter_mut().zip(&yb).for_each(|(y, b)| *y += b);
    let yt = dev.tensor_from_vec(y, (n,));
    if T::OWNS_TAPE {
        let (ag, bg, yg) = (at.ghost(), bt.ghost(), yt.ghost());
        tape.add_backward_op(move |grads| {
            let gy: Vec<f32> = grads.get_or_alloc_mut(&yg)?.to_vec();
            let da = grads.get_or_alloc_mut(&ag)?.as_mut_slice();
            da.iter_mut().zip(&gy).for_each(|(d, g)| *d += g);
            let db = grads.get_or_alloc_mut(&bg)?.as_mut_slice();
            db.iter_mut().zip(&gy).for_each(|(d, g)| *d += g);
            Ok(())
        });
    }
    Value {
        t: yt.put_tape(tape),
        shape: a.shape,
        needs_grad: true,
    }
}

/// Two handles on one value: the second shares the first's id (so both
/// paths' gradients accumulate into one buffer) and carries an empty tape,
/// to be merged back by [`add`].
pub fn fork<T: TapeKind>(x: Value<T>) -> (Value<T>, Value<T>) {
    let other = Value {
        t: x.t.retaped::<T>(),
        shape: x.shape.clone(),
        needs_grad: x.needs_grad,
    };
    (x, other)
}
