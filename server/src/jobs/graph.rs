//! A job's operator graph as its spec wires it: sources, operators and sinks, and which
//! feeds which; the console draws it.

use super::spec::parse_spec;

/// Job spec `spec`'s graph: `{"nodes": [{"name", "kind", "parallelism"?, "module"?}],
/// "edges": [{"from", "to"}]}`, nodes in the spec's order (sources, operators, sinks).
/// Null for a spec that no longer parses.
pub fn graph(spec: &str) -> serde_json::Value {
    let Ok(spec) = parse_spec(spec) else {
        return serde_json::Value::Null;
    };
    let kind = |debug: String| debug.to_lowercase();
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for source in &spec.sources {
        nodes.push(serde_json::json!({
            "name": source.name.get_ref(),
            "kind": "source",
            "type": kind(format!("{:?}", source.kind.get_ref())),
        }));
    }
    for operator in &spec.operators {
        let name = operator.name.get_ref();
        nodes.push(serde_json::json!({
            "name": name,
            "kind": "operator",
            "module": operator.module.get_ref(),
            "parallelism": operator.parallelism.get_ref(),
        }));
        for input in &operator.inputs {
            edges.push(serde_json::json!({"from": input.get_ref(), "to": name}));
        }
    }
    for sink in &spec.sinks {
        let name = sink.name.get_ref();
        nodes.push(serde_json::json!({
            "name": name,
            "kind": "sink",
            "type": kind(format!("{:?}", sink.kind.get_ref())),
        }));
        for input in &sink.inputs {
            edges.push(serde_json::json!({"from": input.get_ref(), "to": name}));
        }
    }
    serde_json::json!({"nodes": nodes, "edges": edges})
}
