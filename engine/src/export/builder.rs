//! An ONNX graph assembled node by node: fresh value names, initializers,
//! attributes.

use crate::proto::onnx::{attribute_proto::AttributeType, tensor_proto::DataType};
use crate::proto::onnx::{AttributeProto, NodeProto, TensorProto};

#[derive(Default)]
pub(crate) struct Builder {
    pub nodes: Vec<NodeProto>,
    pub initializers: Vec<TensorProto>,
    made: usize,
}

impl Builder {
    /// A float initializer named `name` (a parameter's dotted name).
    pub fn init(&mut self, name: &str, dims: &[usize], data: &[f32]) -> String {
        debug_assert_eq!(dims.iter().product::<usize>(), data.len(), "{name}");
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializer(name, dims, DataType::Float, raw)
    }

    /// A float scalar, shared by the nodes that name it.
    pub fn init_scalar(&mut self, name: &str, v: f32) -> String {
        if !self
            .initializers
            .iter()
            .any(|t| t.name.as_deref() == Some(name))
        {
            self.init(name, &[], &[v]);
        }
        name.into()
    }

    pub fn init_i64(&mut self, name: &str, dims: &[usize], data: &[i64]) -> String {
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializer(name, dims, DataType::Int64, raw)
    }

    /// An initializer of `raw` little-endian values.
    fn initializer(&mut self, name: &str, dims: &[usize], ty: DataType, raw: Vec<u8>) -> String {
        self.initializers.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: Some(ty as i32),
            name: Some(name.into()),
            raw_data: Some(raw),
            ..Default::default()
        });
        name.into()
    }

    /// Appends an `op` node; the name of its (first) output.
    pub fn node(&mut self, op: &str, inputs: &[&str], attribute: Vec<AttributeProto>) -> String {
        self.node_n(op, inputs, attribute, 1).remove(0)
    }

    /// An `op` node with `outputs` outputs; their names.
    pub fn node_n(
        &mut self,
        op: &str,
        inputs: &[&str],
        attribute: Vec<AttributeProto>,
        outputs: usize,
    ) -> Vec<String> {
        self.made += 1;
        let name = format!("{op}_{}", self.made);
        let output: Vec<String> = (0..outputs).map(|i| format!("{name}.out{i}")).collect();
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: output.clone(),
            name: Some(name),
            op_type: Some(op.into()),
            attribute,
            ..Default::default()
        });
        output
    }

    /// Gives the value `from` the name `to` (the graph's output), with an
    /// Identity node when `from` is not a node's output (a model that is
    /// its input).
    pub fn rename_output(&mut self, from: &str, to: &str) {
        match self
            .nodes
            .iter_mut()
            .flat_map(|n| n.output.iter_mut())
            .find(|o| *o == from)
        {
            Some(o) => *o = to.into(),
            None => {
                self.nodes.push(NodeProto {
                    input: vec![from.into()],
                    output: vec![to.into()],
                    name: Some("output".into()),
                    op_type: Some("Identity".into()),
                    ..Default::default()
                });
                return;
            }
        }
        for n in &mut self.nodes {
            for i in n.input.iter_mut().filter(|i| *i == from) {
                *i = to.into();
            }
        }
    }
}

pub(crate) fn attr_i(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(v),
        ..Default::default()
    }
}

pub(crate) fn attr_f(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Float as i32),
        f: Some(v),
        ..Default::default()
    }
}

pub(crate) fn attr_ints(name: &str, v: &[usize]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Ints as i32),
        ints: v.iter().map(|&x| x as i64).collect(),
        ..Default::default()
    }
}
