//! What an edit changed in the model, said in a line.

use std::collections::BTreeMap;

use dlwb_dsl::Graph;

fn layers(g: &Graph) -> BTreeMap<String, (String, Vec<Vec<usize>>)> {
    fn walk(nodes: &[dlwb_dsl::Node], out: &mut BTreeMap<String, (String, Vec<Vec<usize>>)>) {
        for n in nodes {
            out.insert(
                n.name.clone(),
                (
                    n.op.kind().to_string(),
                    n.params.iter().map(|p| p.shape.clone()).collect(),
                ),
            );
            walk(n.body(), out);
        }
    }
    let mut out = BTreeMap::new();
    walk(&g.nodes, &mut out);
    out
}

/// "added dense3; removed dropout1; resized dense2" or "settings changed".
pub fn describe(old: &Graph, new: &Graph) -> String {
    let (a, b) = (layers(old), layers(new));
    let added: Vec<&str> = b
        .keys()
        .filter(|k| !a.contains_key(*k))
        .map(String::as_str)
        .collect();
    let removed: Vec<&str> = a
        .keys()
        .filter(|k| !b.contains_key(*k))
        .map(String::as_str)
        .collect();
    let resized: Vec<&str> = a
        .iter()
        .filter(|(k, v)| b.get(*k).is_some_and(|w| w != *v))
        .map(|(k, _)| k.as_str())
        .collect();
    let mut parts = Vec::new();
    for (what, list) in [("added", added), ("removed", removed), ("changed", resized)] {
        if !list.is_empty() {
            parts.push(format!("{what} {}", list.join(", ")));
        }
    }
    if parts.is_empty() {
        "the model is unchanged; settings changed".into()
    } else {
        format!("layers {}", parts.join("; "))
    }
}
