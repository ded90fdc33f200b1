//! Tests of the engine's internals — layers, losses and optimizers against
//! finite differences and PyTorch, compression's building blocks — which
//! the crate keeps to itself. Tests of what the crate offers (data, runs)
//! are in `engine/tests/`.

mod compression;
mod gradients;
mod torch_fixtures;
