//! Compiles the protobuf schemas dlwb writes — ONNX's own `onnx.proto`
//! and the TensorBoard event messages — with protox (no `protoc` needed)
//! into prost types.

fn main() {
    let protos = ["proto/onnx.proto", "proto/tensorboard.proto"];
    for p in protos {
        println!("cargo:rerun-if-changed={p}");
    }
    let files = protox::compile(protos, ["proto"]).expect("the bundled .proto files compile");
    prost_build::Config::new()
        .compile_fds(files)
        .expect("prost generates the protobuf types");
}
