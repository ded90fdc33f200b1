//! The protobuf types generated (by `build.rs`) from `engine/proto/`:
//! ONNX's official schema and TensorBoard's event messages.

/// ONNX (`onnx.proto`, as published with the `onnx` package).
#[allow(clippy::all, clippy::pedantic, dead_code)]
pub(crate) mod onnx {
    include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
}

/// TensorBoard's event files.
#[allow(clippy::all, clippy::pedantic, dead_code)]
pub(crate) mod tensorboard {
    include!(concat!(env!("OUT_DIR"), "/tensorboard.rs"));
}
