//! Smoke runs of the `cameo bench` suite at tiny sizes: each checks the report's shape and
//! that its charts and raw data were written (never how fast anything was).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn operators() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../example-operators/rust")
        .display()
        .to_string()
}

/// Runs `cameo bench ARGS --json --out DIR --operators ...`; returns the report and DIR.
fn bench(args: &[&str]) -> (Value, tempfile::TempDir) {
    let out = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_cameo"));
    command
        .arg("bench")
        .args(args)
        .args(["--json", "--out", &out.path().display().to_string()])
        .args(["--operators", &operators()]);
    let output = command.output().expect("the cameo binary runs");
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)));
    (report, out)
}

/// Asserts that `STEM.svg` and a real `STEM.png` were written under `dir`.
fn assert_chart(dir: &Path, stem: &str) {
    let svg = std::fs::read_to_string(dir.join(format!("{stem}.svg")))
        .unwrap_or_else(|e| panic!("{stem}.svg: {e}"));
    assert!(svg.contains("<svg"), "{stem}.svg");
    let png = std::fs::read(dir.join(format!("{stem}.png"))).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{stem}.png");
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn paper_prints_each_ratio_beside_the_papers() {
    let (report, out) = bench(&["paper", "--duration-s", "0.3", "--policies", "edf"]);
    let ratios = report["ratios"].as_array().unwrap();
    let groups: Vec<&str> = ratios
        .iter()
        .map(|r| r["group"].as_str().unwrap())
        .collect();
    assert_eq!(
        groups,
        ["alerts", "rollup", "latency_sensitive"],
        "{report}"
    );
    for ratio in ratios {
        assert_eq!(ratio["best_policy"], "edf", "{ratio}");
        assert!(ratio["fifo_p99_ms"].as_f64().unwrap() > 0.0, "{ratio}");
        assert!(ratio["ratio"].as_f64().unwrap() > 0.0, "{ratio}");
    }
    assert_eq!(ratios[0]["paper_ratio"], 2.7);
    assert_eq!(ratios[2]["paper_ratio"], 4.6);
    assert!(report["bulk_throughput_ratio"].as_f64().unwrap() > 0.0);
    let dir = out.path();
    for stem in [
        "single-tenant-p99",
        "single-tenant-cdf-alerts",
        "single-tenant-cdf-rollup",
        "multi-tenant-p99",
        "multi-tenant-cdf-latency_sensitive",
    ] {
        assert_chart(dir, stem);
    }
    let raw: Value =
        serde_json::from_slice(&std::fs::read(dir.join("paper.json")).unwrap()).unwrap();
    assert_eq!(raw["ratios"], report["ratios"]);
}

#[test]
fn paper_without_a_deadline_policy_is_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_cameo"))
        .args(["bench", "paper", "--policies", "fifo"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(text.contains("names no deadline policy"), "{text}");
}

#[test]
fn spike_follows_the_p99_of_every_policy_through_the_burst() {
    let (report, out) = bench(&["spike", "--duration-s", "0.6", "--policies", "fifo,edf"]);
    let near = |value: &Value, expected: f64| (value.as_f64().unwrap() - expected).abs() < 1e-9;
    assert!(near(&report["burst_s"][0], 0.2), "{report}");
    assert!(near(&report["burst_s"][1], 0.3), "{report}");
    let burst = report["burst_rate_eps"].as_f64().unwrap();
    let base = report["base_rate_eps"].as_f64().unwrap();
    assert!((burst / base - 5.0).abs() < 1e-9, "{report}");
    for policy in ["fifo", "edf"] {
        let stats = &report["policies"][policy];
        assert!(stats["before_p99_ms"].as_f64().unwrap() > 0.0, "{report}");
        assert!(stats["bulk_throughput_eps"].as_f64().unwrap() > 0.0);
        let timeline = report["timelines"][policy].as_array().unwrap();
        assert!(!timeline.is_empty(), "{policy}: no p99 over time");
    }
    assert_chart(out.path(), "spike-p99");
    assert!(out.path().join("spike.json").exists());
}

#[test]
fn scale_measures_both_pipelines_at_every_worker_count() {
    let (report, out) = bench(&[
        "scale",
        "--events",
        "3000",
        "--max-workers",
        "2",
        "--rounds",
        "1",
    ]);
    for pipeline in ["filter", "window-agg"] {
        let points = report["pipelines"][pipeline].as_array().unwrap();
        let workers: Vec<u64> = points
            .iter()
            .map(|p| p["workers"].as_u64().unwrap())
            .collect();
        assert_eq!(workers, [1, 2], "{report}");
        assert!(
            points
                .iter()
                .all(|p| p["events_per_s"].as_f64().unwrap() > 0.0)
        );
    }
    assert_chart(out.path(), "scale-throughput");
    assert_chart(out.path(), "scale-p99");
}

#[test]
fn overhead_measures_every_batch_size_and_slicing_mode() {
    let (report, out) = bench(&[
        "overhead",
        "--events",
        "3000",
        "--batch-sizes",
        "1,16",
        "--spin-events",
        "20",
        "--iterations",
        "2000",
        "--kernel-events",
        "20",
        "--checksum-rounds",
        "3",
        "--matrix-rounds",
        "2",
        "--rounds",
        "1",
    ]);
    let batches: Vec<u64> = report["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["batch_size"].as_u64().unwrap())
        .collect();
    assert_eq!(batches, [1, 16]);
    for mode in ["fuel-sliced", "epoch-sliced", "uninterrupted", "native"] {
        assert!(report["compute_ns"][mode].as_f64().unwrap() > 0.0, "{mode}");
    }
    for ratio in [
        "fuel_slicing_ratio",
        "epoch_slicing_ratio",
        "spin_wasm_vs_native",
    ] {
        assert!(report[ratio].as_f64().unwrap() > 0.0, "{ratio}");
    }
    let kernels = report["kernels"].as_array().unwrap();
    let names: Vec<&str> = kernels
        .iter()
        .map(|k| k["kernel"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["checksum", "matrix"]);
    assert_eq!(kernels[0]["rounds"], 3);
    assert_eq!(kernels[1]["rounds"], 2);
    for kernel in kernels {
        for field in [
            "native_ns",
            "wasm_ns",
            "wasm_epoch_ns",
            "wasm_vs_native",
            "wasm_epoch_vs_native",
        ] {
            assert!(kernel[field].as_f64().unwrap() > 0.0, "{kernel}: {field}");
        }
    }
    assert_chart(out.path(), "overhead-batch");
    assert_chart(out.path(), "overhead-compute");
    assert_chart(out.path(), "overhead-kernels");
}

#[test]
fn a_batch_size_of_zero_is_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_cameo"))
        .args(["bench", "overhead", "--batch-sizes", "4,0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(text.contains("--batch-sizes holds 0"), "{text}");
}

#[test]
fn density_makes_idle_instances_of_every_guest_and_allocation() {
    let (report, out) = bench(&["density", "--instances", "30", "--rounds", "1"]);
    for guest in ["filter", "window-agg"] {
        for allocation in ["on-demand", "pooling"] {
            let probe = &report["probes"][guest][allocation];
            assert_eq!(probe["instances"], 30, "{guest} {allocation}: {report}");
            let p50 = probe["p50_us"].as_f64().unwrap();
            assert!(p50 > 0.0 && probe["p99_us"].as_f64().unwrap() >= p50);
            assert!(!probe["curve"].as_array().unwrap().is_empty());
        }
    }
    assert_chart(out.path(), "density");
    assert!(
        files(out.path())
            .iter()
            .any(|f| f.ends_with("density.json"))
    );
}

#[test]
fn languages_measures_every_language_against_rust() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_cameo"))
        .args(["bench", "languages", "--events", "300", "--instances", "2"])
        .args(["--rounds", "1", "--json"])
        .arg("--examples")
        .arg(root.join("example-operators"))
        .arg("--build-dir")
        .arg(root.join("target").join("bench-languages"))
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("the cameo binary runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let rows = report["rows"].as_array().unwrap();
    let languages: Vec<&str> = rows
        .iter()
        .map(|r| r["language"].as_str().unwrap())
        .collect();
    assert_eq!(languages, ["rust", "python", "js", "c"]);
    for row in rows {
        let language = row["language"].as_str().unwrap();
        for figure in [
            "component_bytes",
            "compile_ms",
            "instantiate_us",
            "filter_eps",
            "wordcount_eps",
            "filter_raw_eps",
            "wordcount_raw_eps",
            "filter_fuel_per_event",
            "wordcount_fuel_per_event",
            "first_output_s",
        ] {
            assert!(row[figure].as_f64().unwrap() > 0.0, "{language} {figure}");
        }
        for ratio in [
            "filter_eps",
            "wordcount_eps",
            "compile_ms",
            "sdk_vs_raw",
            "sdk_vs_raw_wordcount",
            "sdk_vs_raw_fuel",
            "sdk_vs_raw_wordcount_fuel",
        ] {
            assert!(
                row["vs_rust"][ratio].as_f64().unwrap() > 0.0,
                "{language} {ratio}"
            );
        }
    }
    assert_eq!(rows[0]["vs_rust"]["filter_eps"].as_f64(), Some(1.0));
    assert!(out.path().join("languages.json").is_file());
}

#[test]
fn shadow_measures_latency_without_and_with_a_shadow_and_both_costs() {
    let output = Command::new(env!("CARGO_BIN_EXE_cameo"))
        .args(["bench", "shadow", "--seconds", "1", "--keys", "100"])
        .args(["--rate", "2000", "--json", "--operators", &operators()])
        .output()
        .expect("the cameo binary runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(report["compared"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["differing"], 0, "the same version: {report}");
    for phase in ["without_ms", "with_ms"] {
        assert!(report[phase]["p99"].as_f64().unwrap() > 0.0, "{report}");
    }
    assert!(report["p99_ratio"].as_f64().unwrap() > 0.0, "{report}");
    for version in ["primary", "shadow"] {
        assert!(report[version]["events"].as_u64().unwrap() > 0, "{report}");
        assert!(
            report[version]["fuel_per_event"].as_f64().unwrap() > 0.0,
            "{report}"
        );
    }
}

#[test]
fn upgrade_measures_the_pause_and_the_other_operators_latency_during_and_between() {
    let output = Command::new(env!("CARGO_BIN_EXE_cameo"))
        .args(["bench", "upgrade", "--keys", "500", "--rounds", "2"])
        .args(["--json", "--operators", &operators()])
        .output()
        .expect("the cameo binary runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["rounds"], 2, "{report}");
    assert!(report["events_before"].as_u64().unwrap() >= 500, "{report}");
    assert!(
        report["pause_ms"]["max"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    assert!(
        report["converting_pause_ms"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    for sink in ["others_ms", "upgraded_ms"] {
        let outputs = &report[sink]["outputs"];
        assert!(outputs[0].as_u64().unwrap() > 0, "between: {report}");
        assert!(outputs[1].as_u64().unwrap() > 0, "during: {report}");
        assert!(
            report[sink]["outside_p99"].as_f64().unwrap() > 0.0,
            "{report}"
        );
        assert!(
            report[sink]["during_p99"].as_f64().unwrap() > 0.0,
            "{report}"
        );
    }
    for goal in ["pause_under_50ms", "others_within_2x"] {
        assert!(report["goal"][goal].is_boolean(), "{report}");
    }
}

#[test]
fn serve_measures_ingest_latency_at_the_rate_asked_for_and_a_push() {
    let output = Command::new(env!("CARGO_BIN_EXE_cameo"))
        .args([
            "bench",
            "serve",
            "--events",
            "10000",
            "--latency-rate",
            "5000",
        ])
        .args(["--json", "--operators", &operators()])
        .output()
        .expect("the cameo binary runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    assert_eq!(report["half_rate_events_per_s"], 5000.0, "{report}");
    assert!(
        report["ingest_events_per_s"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    for figure in [
        "ack_p99_ms",
        "sent_to_sink_p99_ms",
        "push_to_running_warm_ms",
    ] {
        assert!(report[figure].as_f64().unwrap() > 0.0, "{figure}: {report}");
    }
    assert_eq!(report["component_bytes"], 2_097_149, "{report}");
}
