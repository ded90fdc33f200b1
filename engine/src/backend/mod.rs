//! The boundary between the engine and the device it computes on. Today
//! one backend, the CPU's, over dfdx 0.13: its tensors, its tape, its
//! gradients and its SGD/Adam update kernels, with the losses and the
//! other optimizers written beside them. dfdx is named nowhere else.
//!
//! What the rest of the engine uses goes through these modules' items
//! (`Value`, `unary`, `source`, `Grads`, `NoTape`, `Optimizer`, ...). A
//! second backend (CUDA, on cudarc) turns this into a trait with device
//! buffers; the layers' host kernels (`kernels/`) then move behind it too.

pub(crate) mod cpu;
