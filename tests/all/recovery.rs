//! Checkpoints and recovery: a job killed with SIGKILL mid-run and started again produces the
//! same window results as an uninterrupted run, with nothing lost and nothing written twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tempfile::TempDir;

use cameo_tests::guests;

use crate::support::{cameo_binary, options, parse, run, toml_path, values, wait_for};

/// NDJSON readings: `n` events over 8 keys, event times rising with some disorder.
fn readings(n: u64) -> String {
    let mut lines = String::new();
    for i in 0..n {
        let jitter = (i * 7919) % 23;
        let time = 1_000_000 + i * 10 + jitter;
        lines.push_str(&format!(
            "{{\"sensor\":\"s{}\",\"ts\":{time},\"value\":{}}}\n",
            i % 8,
            (i * 31) % 17
        ));
    }
    lines
}

/// How the sensor-windows job reads its input and where it writes its windows.
struct SensorJob<'a> {
    /// Events per second the source reads; 0 reads as fast as the job takes them.
    rate: u64,
    /// The settings of the sink `sums` (its `kind` and what that kind needs).
    sink: &'a str,
}

/// The sensor-windows job: `readings.ndjson` → tumbling sums of 200 ms over 2 instances →
/// `sums`.
fn job(SensorJob { rate, sink }: SensorJob) -> String {
    format!(
        r#"
name = "sensor-windows"
[[source]]
name = "readings"
kind = "file"
path = "readings.ndjson"
format = "ndjson"
key_field = "sensor"
event_time_field = "ts"
watermark_delay_ms = 50
rate = {rate}

[[operator]]
name = "window"
module = {module}
inputs = ["readings"]
partition = "key-hash"
parallelism = 2
config = {{ size_ms = 200, field = "value" }}

[[sink]]
name = "sums"
inputs = ["window"]
{sink}
"#,
        module = toml_path(guests::TUMBLING_SUM)
    )
}

/// Window results: (sensor, window start) → (sum, count).
type Windows = BTreeMap<(String, i64), (f64, u64)>;

/// Window results keyed by (key, window start): (sum, count).
fn results<'a>(lines: impl IntoIterator<Item = &'a str>) -> Windows {
    let mut out = BTreeMap::new();
    for line in lines {
        let json: serde_json::Value = serde_json::from_str(line).unwrap();
        let json = json.get("value").cloned().unwrap_or(json);
        let key = json["key"].as_str().unwrap().to_string();
        let start = json["window_start"].as_i64().unwrap();
        let previous = out.insert(
            (key, start),
            (
                json["sum"].as_f64().unwrap(),
                json["count"].as_u64().unwrap(),
            ),
        );
        assert!(previous.is_none(), "window {start} emitted twice: {line}");
    }
    out
}

/// Compares window results, naming only the windows that differ.
fn assert_same_windows(got: &Windows, expected: &Windows) {
    let missing: Vec<_> = expected
        .keys()
        .filter(|k| !got.contains_key(*k))
        .take(10)
        .collect();
    let extra: Vec<_> = got
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .take(10)
        .collect();
    let wrong: Vec<_> = expected
        .iter()
        .filter_map(|(k, v)| got.get(k).filter(|g| *g != v).map(|g| (k, v, g)))
        .take(10)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && wrong.is_empty(),
        "{} windows expected, {} got; missing {missing:?}, extra {extra:?}, wrong (expected, got) {wrong:?}",
        expected.len(),
        got.len()
    );
}

/// The checkpoint files of the job under `data`, oldest first.
fn checkpoint_files(data: &Path) -> Vec<PathBuf> {
    job_checkpoints(data, "sensor-windows")
}

/// The checkpoints job `job` has written in `data`, oldest first.
fn job_checkpoints(data: &Path, job: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data.join("checkpoints").join(job))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "redb"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// A directory holding 2400 readings and `job.toml` (paced, with a file sink and checkpoints
/// in `data`), and the windows an uninterrupted in-memory run of the same job produces.
fn interruptible_job() -> (TempDir, Windows) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("readings.ndjson"), readings(2400)).unwrap();
    let in_memory = job(SensorJob {
        rate: 0,
        sink: "kind = \"memory\"",
    });
    let reference = run(&parse(&in_memory, dir.path()), &options());
    let expected = results(values(&reference, "sums").iter().map(String::as_str));
    let paced_to_file = job(SensorJob {
        rate: 1500,
        sink: "kind = \"file\"\npath = \"sums.ndjson\"\nformat = \"ndjson\"",
    });
    std::fs::write(dir.path().join("job.toml"), paced_to_file).unwrap();
    (dir, expected)
}

/// Flags of a `cameo run` with checkpoints.
#[derive(Clone, Copy)]
struct RunFlags {
    /// `--checkpoint-interval-ms`.
    checkpoint_interval_ms: u64,
    /// `--json`: the summary as JSON on the last line of stdout.
    json: bool,
}

/// `cameo run job.toml --data-dir data` in `dir`, with `flags`.
fn run_command(dir: &Path, flags: RunFlags) -> Command {
    let mut command = Command::new(cameo_binary());
    command
        .args(["run", "job.toml", "--data-dir", "data"])
        .args([
            "--checkpoint-interval-ms",
            &flags.checkpoint_interval_ms.to_string(),
        ])
        .current_dir(dir);
    if flags.json {
        command.arg("--json");
    }
    command
}

#[test]
fn a_job_killed_mid_run_resumes_from_its_checkpoint_with_the_same_results() {
    // Reference: the same job, uninterrupted, in memory.
    let (dir, expected) = interruptible_job();
    assert!(expected.len() > 50, "{} windows", expected.len());
    let data = dir.path().join("data");
    let flags = RunFlags {
        checkpoint_interval_ms: 100,
        json: true,
    };
    let mut first = run_command(dir.path(), flags)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let output = dir.path().join("sums.ndjson");
    wait_for("a checkpoint and some output", || {
        !checkpoint_files(&data).is_empty() && std::fs::metadata(&output).is_ok_and(|m| m.len() > 0)
    });
    first.kill().unwrap(); // SIGKILL
    let status = first.wait().unwrap();
    assert!(
        !status.success(),
        "the job must not have finished before the kill"
    );

    let second = run_command(dir.path(), flags).output().unwrap();
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let summary: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&second.stdout)
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert!(
        summary["checkpoints"]["restored_from"].as_u64().unwrap() >= 1,
        "{summary}"
    );
    assert!(
        summary["events_in"].as_u64().unwrap() < 2400,
        "the second run must resume, not start over: {summary}"
    );

    let text = std::fs::read_to_string(&output).unwrap();
    let got = results(text.lines());
    assert_same_windows(&got, &expected);
    // Sequence numbers run without gaps or repeats across the restart.
    let seqs: Vec<u64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
    assert!(
        checkpoint_files(&data).is_empty(),
        "a completed job leaves no checkpoints behind"
    );
}

#[test]
fn a_damaged_newest_checkpoint_falls_back_to_the_previous_one() {
    let (dir, expected) = interruptible_job();
    let data = dir.path().join("data");
    let flags = RunFlags {
        checkpoint_interval_ms: 50,
        json: true,
    };
    let mut first = run_command(dir.path(), flags)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("two checkpoints", || checkpoint_files(&data).len() >= 2);
    first.kill().unwrap();
    first.wait().unwrap();

    let files = checkpoint_files(&data);
    let newest = files.last().unwrap().clone();
    // Cut the file short, as a crash of the disk under it would.
    let bytes = std::fs::read(&newest).unwrap();
    std::fs::write(&newest, &bytes[..bytes.len() / 3]).unwrap();

    let second = run_command(dir.path(), flags).output().unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{stderr}");
    let name = newest.file_name().unwrap().to_string_lossy().into_owned();
    assert!(stderr.contains(&format!("{name} is damaged")), "{stderr}");
    assert!(
        stderr.contains("falling back to the checkpoint before it"),
        "{stderr}"
    );
    let text = std::fs::read_to_string(dir.path().join("sums.ndjson")).unwrap();
    assert_same_windows(&results(text.lines()), &expected);
}

/// A directory holding `job.toml`: 400 lines, every fifth not a JSON object, read at 2000
/// lines a second into two branches: 2 instances of `filter` (which fails on those) into one
/// file, and an operator that takes milliseconds an event into another; dead letters go to
/// `dead.ndjson`, checkpoints to `data`. The slow branch keeps each checkpoint open long after
/// the filters passed its barrier, while they go on failing on the lines after it.
fn failing_lines_job() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let lines: String = (0..400)
        .map(|i| {
            if i % 5 == 0 {
                format!("bad {i}\n")
            } else {
                format!("{{\"n\":{i}}}\n")
            }
        })
        .collect();
    std::fs::write(dir.path().join("lines.txt"), lines).unwrap();
    let toml = format!(
        r#"
name = "failing"
dead_letter = {{ path = "dead.ndjson" }}
[[source]]
name = "in"
kind = "file"
path = "lines.txt"
rate = 2000

[[operator]]
name = "pick"
module = {module}
inputs = ["in"]
parallelism = 2
config = {{ field = "n", min = 0 }}

[[operator]]
name = "slow"
module = {spin}
inputs = ["in"]
config = {{ iterations = 3000000 }}

[[sink]]
name = "out"
inputs = ["pick"]
kind = "file"
path = "out.ndjson"
format = "ndjson"

[[sink]]
name = "slow-out"
inputs = ["slow"]
kind = "discard"
"#,
        module = toml_path(guests::FILTER),
        spin = toml_path(guests::SPIN_SLICE)
    );
    std::fs::write(dir.path().join("job.toml"), toml).unwrap();
    dir
}

#[test]
fn dead_letters_are_written_exactly_once_across_a_kill_and_resume() {
    let dir = failing_lines_job();
    let flags = RunFlags {
        checkpoint_interval_ms: 50,
        json: true,
    };
    let mut first = run_command(dir.path(), flags)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let dead = dir.path().join("dead.ndjson");
    let data = dir.path().join("data");
    wait_for("a checkpoint", || {
        !job_checkpoints(&data, "failing").is_empty()
    });
    first.kill().unwrap(); // SIGKILL
    assert!(!first.wait().unwrap().success(), "killed before the end");
    let second = run_command(dir.path(), flags).output().unwrap();
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let summary: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&second.stdout)
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert!(
        summary["checkpoints"]["restored_from"].as_u64().unwrap() >= 1,
        "{summary}"
    );
    let letters: Vec<serde_json::Value> = std::fs::read_to_string(&dead)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let mut values: Vec<&str> = letters
        .iter()
        .map(|letter| letter["value"].as_str().unwrap())
        .collect();
    values.sort_unstable();
    let mut expected: Vec<String> = (0..400).step_by(5).map(|i| format!("bad {i}")).collect();
    expected.sort_unstable();
    assert_eq!(values, expected, "each bad line once, none lost");
    let seqs: Vec<u64> = letters.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
}
