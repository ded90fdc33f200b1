//! One file per layer kind, each holding the kind's shape rule: input
//! shape in; output shape, parameters (name, shape, initializer) and FLOPs
//! out, or an error at the layer's line. `check` calls them by kind.

mod conv;
mod dense;
mod embed;
mod norm;
mod pool;
mod recurrent;
mod reshape;
mod residual;
