//! The CPU backend: dfdx's CPU tensors and tape, host losses, and the
//! optimizers (dfdx's update kernels where it has them).

pub(crate) mod autograd;
pub(crate) mod loss;
pub(crate) mod optim;
