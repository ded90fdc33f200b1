//! The engine's tape, the same for every backend.
//!
//! Every layer is one recorded op: it computes its output with backend
//! kernels and, when the pass records, pushes a backward closure. Values
//! and parameters are named by an [`Id`]; gradients are backend buffers
//! keyed by it. Backward closures *accumulate* (never assign), which is
//! what makes a value used twice — a residual's input — receive both
//! contributions; and the tape runs in reverse, so a value's gradient is
//! complete by the time the op that made it runs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::backend::{Result, Storage};
use crate::kernels::matmul::Out;

/// Names one value or parameter for the whole process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Id(u64);

impl Id {
    pub fn fresh() -> Id {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Id(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// An activation: its buffer and its shape, batch first.
pub(crate) struct Value<B: Storage> {
    pub buf: B::Buf,
    pub id: Id,
    pub shape: Vec<usize>,
    /// False for the data fed in: nothing upstream wants its gradient.
    pub needs_grad: bool,
}

// A derived `Clone` would ask `B: Clone`; only the buffer is cloned.
impl<B: Storage> Clone for Value<B> {
    fn clone(&self) -> Self {
        Value {
            buf: self.buf.clone(),
            id: self.id,
            shape: self.shape.clone(),
            needs_grad: self.needs_grad,
        }
    }
}

impl<B: Storage> Value<B> {
    /// The data fed into a pass.
    pub fn leaf(buf: B::Buf, shape: Vec<usize>) -> Self {
        Value {
            buf,
            id: Id::fresh(),
            shape,
            needs_grad: false,
        }
    }

    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// The same data seen with another shape (no copy, same gradient).
    pub fn reshaped(self, shape: Vec<usize>) -> Self {
        debug_assert_eq!(self.len(), shape.iter().product::<usize>());
        Value { shape, ..self }
    }
}

/// Gradients by id, as backend buffers.
pub(crate) struct Grads<B: Storage> {
    by_id: HashMap<Id, B::Buf>,
}

impl<B: Storage> Grads<B> {
    fn new() -> Self {
        Grads {
            by_id: HashMap::new(),
        }
    }

    /// Removes and returns `id`'s gradient.
    pub fn take(&mut self, id: Id) -> Option<B::Buf> {
        self.by_id.remove(&id)
    }

    /// Adds `g` to `id`'s gradient.
    pub fn add(&mut self, be: &B, id: Id, g: B::Buf) -> Result<()> {
        match self.by_id.get_mut(&id) {
            Some(into) => be.add_assign(into, &g),
            None => {
                self.by_id.insert(id, g);
                Ok(())
            }
        }
    }

    /// `id`'s gradient to add into, zeros (of `len`) if none came yet.
    pub fn slot(&mut self, be: &B, id: Id, len: usize) -> Result<&mut B::Buf> {
        use std::collections::hash_map::Entry;
        Ok(match self.by_id.entry(id) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(be.zeros(len)?),
        })
    }

    /// Takes `id`'s gradient out to add into (zeros if none came yet);
    /// [`Grads::put`] puts it back. For kernels that write several
    /// parameters' gradients at once.
    pub fn take_slot(&mut self, be: &B, id: Id, len: usize) -> Result<B::Buf> {
        match self.by_id.remove(&id) {
            Some(g) => Ok(g),
            None => be.zeros(len),
        }
    }

    pub fn put(&mut self, id: Id, g: B::Buf) {
        self.by_id.insert(id, g);
    }

    /// Adds a gradient into `id`'s by `write(slot, Out::Accumulate)`, or,
    /// when `id` has none yet, makes it by `write(buffer, Out::Overwrite)`
    /// into a buffer nobody zeroed: a weight's gradient is most often
    /// written once per step, and zeroing it first was a pass over
    /// memory the other thread had just read.
    pub fn write_or_add(
        &mut self,
        be: &B,
        (id, len): (Id, usize),
        write: impl FnOnce(&mut B::Buf, Out) -> Result<()>,
    ) -> Result<()> {
        if let Some(slot) = self.by_id.get_mut(&id) {
            return write(slot, Out::Accumulate);
        }
        let mut fresh = be.overwritable(len)?;
        write(&mut fresh, Out::Overwrite)?;
        self.by_id.insert(id, fresh);
        Ok(())
    }

    /// Every gradient held, for the backend to reuse once they are applied.
    pub fn into_buffers(self) -> impl Iterator<Item = B::Buf> {
        self.by_id.into_values()
    }

    /// [`Grads::take_slot`] for several parameters at once.
    pub fn take_slots<const N: usize>(
        &mut self,
        be: &B,
        ids: [(Id, usize); N],
    ) -> Result<[B::Buf; N]> {
        let mut out = Vec::with_capacity(N);
        for (id, len) in ids {
            out.push(self.take_slot(be, id, len)?);
        }
        Ok(out.try_into().ok().expect("one slot per id"))
    }

    /// Puts back what [`Grads::take_slots`] took.
    pub fn put_slots<const N: usize>(&mut self, ids: [(Id, usize); N], gs: [B::Buf; N]) {
        for ((id, _), g) in ids.into_iter().zip(gs) {
            self.put(id, g);
        }
    }
}

type Backward<B> = Box<dyn FnOnce(&B, &mut Grads<B>) -> Result<()>>;

/// What a pass records: nothing (evaluation) or its backward closures.
pub(crate) struct Recorder<B: Storage> {
    tape: Option<Vec<Backward<B>>>,
}

impl<B: Storage> Recorder<B> {
    pub fn off() -> Self {
        Recorder { tape: None }
    }

    pub fn on() -> Self {
        Recorder {
            tape: Some(Vec::new()),
        }
    }

    pub fn recording(&self) -> bool {
        self.tape.is_some()
    }

    /// Runs the recorded closures in reverse: every value's and
    /// parameter's gradient. Empty when nothing was recorded.
    pub fn backward(self, be: &B) -> Result<Grads<B>> {
        let mut grads = Grads::new();
        for op in self.tape.into_iter().flatten().rev() {
            op(be, &mut grads)?;
        }
        Ok(grads)
    }

    /// Records a one-input op: `y` computed from `x`. On the backward
    /// pass `backward(be, gy, grads, want_dx)` gets (owns) `y`'s gradient,
    /// adds into parameter gradients, and returns `x`'s when `want_dx`
    /// (false when `x` is the data, which needs none).
    pub fn unary<F>(&mut self, x: Value<B>, y: B::Buf, shape: Vec<usize>, backward: F) -> Value<B>
    where
        F: FnOnce(&B, B::Buf, &mut Grads<B>, bool) -> Result<Option<B::Buf>> + 'static,
    {
        let out = Id::fresh();
        if let Some(tape) = &mut self.tape {
            let (input, want_dx) = (x.id, x.needs_grad);
            tape.push(Box::new(move |be, grads| {
                // No gradient reached `y`: nothing depends on it.
                let Some(gy) = grads.take(out) else {
                    return Ok(());
                };
                if let Some(dx) = backward(be, gy, grads, want_dx)? {
                    grads.add(be, input, dx)?;
                }
                Ok(())
            }));
        }
        Value {
            buf: y,
            id: out,
            shape,
            needs_grad: true,
        }
    }

    /// Records an op with no input value (an embedding reads token ids):
    /// its backward gets `y`'s gradient and adds into parameter gradients.
    pub fn source<F>(&mut self, y: B::Buf, shape: Vec<usize>, backward: F) -> Value<B>
    where
        F: FnOnce(&B, B::Buf, &mut Grads<B>) -> Result<()> + 'static,
    {
        let out = Id::fresh();
        if let Some(tape) = &mut self.tape {
            tape.push(Box::new(move |be, grads| match grads.take(out) {
                Some(gy) => backward(be, gy, grads),
                None => Ok(()),
            }));
        }
        Value {
            buf: y,
            id: out,
            shape,
            needs_grad: true,
        }
    }

    /// Records `a + b` (same shapes): a residual's join.
    pub fn add(&mut self, be: &B, a: Value<B>, b: Value<B>) -> Result<Value<B>> {
        let y = be.add(&a.buf, &b.buf)?;
        let out = Id::fresh();
        if let Some(tape) = &mut self.tape {
            let (ia, ib) = (a.id, b.id);
            tape.push(Box::new(move |be, grads| {
                let Some(gy) = grads.take(out) else {
                    return Ok(());
                };
                grads.add(be, ia, gy.clone())?;
                grads.add(be, ib, gy)
            }));
        }
        Ok(Value {
            buf: y,
            id: out,
            shape: a.shape,
            needs_grad: a.needs_grad || b.needs_grad,
        })
    }

    /// Records the end of a pass: the loss's gradient `grad` with respect
    /// to `y`, where backward starts.
    pub fn seed(&mut self, y: &Value<B>, grad: B::Buf) {
        if let Some(tape) = &mut self.tape {
            let id = y.id;
            tape.push(Box::new(move |be, grads| grads.add(be, id, grad)));
        }
    }
}
