//! Which operators lie on the paths into each sink, so that an output that misses its
//! deadline at a sink is counted against every operator it may have come through.
//!
//! The attribution is by the job's graph, not by the event's own route: an output of a sink
//! fed by two branches counts against the operators of both. An operator that feeds no sink
//! that missed shows none.

use std::collections::{BTreeMap, BTreeSet};

use super::plan::JobPlan;
use crate::dataflow::spec::producer_of;

/// Per sink, by name: the labels (`job/operator`) of the operators upstream of it, directly
/// or through others, in label order.
pub(crate) fn operators_into_sinks(plan: &JobPlan) -> BTreeMap<String, Vec<String>> {
    let by_name: BTreeMap<&str, usize> = plan
        .operators
        .iter()
        .enumerate()
        .map(|(i, o)| (o.name.as_str(), i))
        .collect();
    plan.sinks
        .iter()
        .map(|sink| {
            let mut seen = BTreeSet::new();
            let mut stack: Vec<&str> = sink.inputs.iter().map(|i| i.producer.as_str()).collect();
            while let Some(producer) = stack.pop() {
                let Some(&index) = by_name.get(producer_of(producer)) else {
                    continue; // a source
                };
                if seen.insert(index) {
                    stack.extend(
                        plan.operators[index]
                            .inputs
                            .iter()
                            .map(|i| i.producer.as_str()),
                    );
                }
            }
            let mut labels: Vec<String> = seen
                .into_iter()
                .map(|i| plan.operators[i].label.clone())
                .collect();
            labels.sort();
            (sink.name.clone(), labels)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataflow::spec::JobSpec;

    #[test]
    fn each_sink_names_every_operator_upstream_of_it_and_no_other() {
        let spec = JobSpec::parse(
            r#"
            name = "j"
            [[source]]
            name = "a"
            kind = "file"
            path = "a.txt"
            [[source]]
            name = "b"
            kind = "file"
            path = "b.txt"
            [[operator]]
            name = "f"
            module = "m.wasm"
            inputs = ["a"]
            [[operator]]
            name = "g"
            module = "m.wasm"
            inputs = ["f"]
            [[operator]]
            name = "h"
            module = "m.wasm"
            inputs = ["b"]
            [[sink]]
            name = "one"
            kind = "discard"
            inputs = ["g"]
            [[sink]]
            name = "both"
            kind = "discard"
            inputs = ["g", "h"]
            [[sink]]
            name = "raw"
            kind = "discard"
            inputs = ["b"]
            "#,
            "j.toml",
            std::path::PathBuf::from("."),
        )
        .expect("a valid spec");
        let plan = JobPlan::from_spec(&spec).expect("a plan");
        let paths = operators_into_sinks(&plan);
        assert_eq!(paths["one"], ["j/f", "j/g"]);
        assert_eq!(paths["both"], ["j/f", "j/g", "j/h"]);
        assert!(paths["raw"].is_empty());
    }
}
