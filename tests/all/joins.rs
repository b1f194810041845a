//! Keyed interval joins: every pair of same-key events within the bound, exactly once.

use std::collections::BTreeSet;

use cameo_tests::guests;

use crate::support::{options, parse, run, toml_path, values};

#[test]
fn an_interval_join_pairs_same_key_events_within_the_bound_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    // Orders and payments over 6 keys; times interleave so pairs form in both directions.
    let mut orders = Vec::new();
    let mut payments = Vec::new();
    for i in 0..120i64 {
        orders.push((format!("k{}", i % 6), i * 7, format!("o{i}")));
        payments.push((
            format!("k{}", (i * 5) % 6),
            i * 7 + (i % 5) * 9 - 15,
            format!("p{i}"),
        ));
    }
    let ndjson = |rows: &[(String, i64, String)]| {
        rows.iter()
            .map(|(k, t, id)| format!("{{\"k\":\"{k}\",\"t\":{t},\"id\":\"{id}\"}}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    std::fs::write(dir.path().join("orders.ndjson"), ndjson(&orders)).unwrap();
    std::fs::write(dir.path().join("payments.ndjson"), ndjson(&payments)).unwrap();
    let within = 20;
    let source = |name: &str| {
        format!(
            "[[source]]\nname = \"{name}\"\nkind = \"file\"\npath = \"{name}.ndjson\"\nformat = \"ndjson\"\nkey_field = \"k\"\nevent_time_field = \"t\"\nwatermark_delay_ms = 100\n"
        )
    };
    let toml = format!(
        r#"
name = "join"
{}
{}
[[operator]]
name = "matched"
module = {}
inputs = ["orders", "payments"]
partition = "key-hash"
parallelism = 2
join = {{ within_ms = {within} }}

[[sink]]
name = "out"
kind = "memory"
inputs = ["matched"]
"#,
        source("orders"),
        source("payments"),
        toml_path(guests::INTERVAL_JOIN)
    );
    let spec = parse(&toml, dir.path());
    let mut options = options();
    options.limits.batch_size = 4;
    let outcome = run(&spec, &options);
    assert_eq!(outcome.summary.errors, 0, "{:?}", outcome.summary);

    let mut expected = BTreeSet::new();
    for (ok, ot, oid) in &orders {
        for (pk, pt, pid) in &payments {
            if ok == pk && (ot - pt).abs() <= within {
                expected.insert((oid.clone(), pid.clone()));
            }
        }
    }
    assert!(expected.len() > 20, "{} pairs", expected.len());
    let mut got = BTreeSet::new();
    for value in values(&outcome, "out") {
        let json: serde_json::Value = serde_json::from_str(&value).unwrap();
        let pair = (
            json["left"]["id"].as_str().unwrap().to_string(),
            json["right"]["id"].as_str().unwrap().to_string(),
        );
        assert!(got.insert(pair.clone()), "pair {pair:?} emitted twice");
    }
    assert_eq!(got, expected);
}

#[test]
fn a_join_needs_two_inputs_and_a_joiner_module() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "name = \"j\"\n[[source]]\nname = \"a\"\nkind = \"generator\"\ncount = 1\n[[operator]]\nname = \"m\"\nmodule = {}\ninputs = [\"a\"]\njoin = {{ within_ms = 5 }}\n[[sink]]\nname = \"out\"\nkind = \"memory\"\ninputs = [\"m\"]\n",
        toml_path(guests::INTERVAL_JOIN)
    );
    let err = cameo_host::JobSpec::parse(&toml, "job.toml", dir.path().into())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("job.toml:10:") && err.contains("needs exactly two `inputs`"),
        "{err}"
    );
    let toml = toml
        .replace("inputs = [\"a\"]\njoin", "inputs = [\"a\", \"b\"]\njoin")
        .replace(
            "[[operator]]",
            "[[source]]\nname = \"b\"\nkind = \"generator\"\ncount = 1\n[[operator]]",
        )
        .replace(
            &toml_path(guests::INTERVAL_JOIN),
            &toml_path(guests::FILTER),
        );
    let spec = parse(&toml, dir.path());
    let err = cameo_host::run_job(&spec, &options())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("does not export cameo:operator/joiner@0.1.0"),
        "{err}"
    );
}
