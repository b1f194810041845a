//! Builds every guest component of the `example-operators/rust` workspace for
//! `wasm32-wasip2`, once, into `target/guests`, and writes `$OUT_DIR/guests.rs` with one
//! constant per component holding its absolute path (see `lib.rs`).

use std::collections::BTreeMap;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use serde_json::Value;

/// The first 8 bytes of every WebAssembly component (magic, then the component layer).
const COMPONENT_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = env_path("CARGO_MANIFEST_DIR")?;
    let out_dir = env_path("OUT_DIR")?;
    let repo = manifest_dir
        .parent()
        .ok_or("the tests crate has no parent directory")?
        .to_path_buf();
    let guests = repo.join("example-operators").join("rust");
    let target_dir = repo.join("target").join("guests");

    watch(&repo, &guests)?;

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
    command
        .arg("build")
        .arg("--release")
        .arg("--target")
        .arg("wasm32-wasip2")
        .arg("--manifest-path")
        .arg(guests.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .arg("--message-format=json-render-diagnostics")
        .current_dir(&guests);
    for (name, _) in env::vars_os() {
        if let Some(name) = name.to_str()
            && leaks_into_nested_build(name)
        {
            command.env_remove(name);
        }
    }
    let output = command
        .output()
        .map_err(|err| format!("could not run {}: {err}", Path::new(&cargo).display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "building the guest components failed ({}):\n{:?}\n{}",
            output.status,
            command,
            String::from_utf8_lossy(&output.stderr)
        ));
    }

    let components = components(&stdout)?;
    if components.is_empty() {
        return Err(format!(
            "building {} produced no component (no cdylib artifact ending in .wasm)",
            guests.display()
        ));
    }
    // Rewriting identical content would only make cargo recompile the tests crate.
    let generated = guests_rs(&components)?;
    let path = out_dir.join("guests.rs");
    if fs::read_to_string(&path).ok().as_deref() == Some(generated.as_str()) {
        return Ok(());
    }
    fs::write(&path, generated).map_err(|err| format!("could not write {}: {err}", path.display()))
}

fn env_path(name: &str) -> Result<PathBuf, String> {
    env::var_os(name)
        .map(PathBuf::from)
        .ok_or_else(|| format!("{name} is not set; run this through cargo"))
}

/// Tells cargo to run this script again when a guest's inputs change: the SDK, the compute
/// kernels, the WIT contract, and the guest workspace except its own `target` directory.
fn watch(repo: &Path, guests: &Path) -> Result<(), String> {
    let mut paths = vec![
        repo.join("sdk").join("Cargo.toml"),
        repo.join("sdk").join("src"),
        // Compiled into the `compute` guest as well as natively.
        repo.join("bench").join("compute-kernel"),
        repo.join("wit"),
        repo.join("rust-toolchain.toml"),
    ];
    let entries = fs::read_dir(guests)
        .map_err(|err| format!("could not list {}: {err}", guests.display()))?;
    for entry in entries {
        let entry = entry.map_err(|err| format!("could not list {}: {err}", guests.display()))?;
        if entry.file_name() != "target" {
            paths.push(entry.path());
        }
    }
    // Not the workspace directory itself: cargo would scan all of it, `target` included. A new
    // guest is listed in the workspace's Cargo.toml, which is watched.
    for path in paths {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    Ok(())
}

/// Whether an environment variable set by (or for) the outer build would change or break the
/// nested one. The toolchain selection (`RUSTUP_TOOLCHAIN`), `CARGO_HOME`, registry, network
/// and terminal settings pass through.
fn leaks_into_nested_build(name: &str) -> bool {
    const EXACT: &[&str] = &[
        // Compiler and flags of the outer build (and of tools wrapping it, like clippy).
        "RUSTC",
        "RUSTDOC",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_LINKER",
        "RUSTDOC_WRAPPER",
        "RUSTFLAGS",
        "RUSTDOCFLAGS",
        "CLIPPY_ARGS",
        "CLIPPY_CONF_DIR",
        // Set by cargo for build scripts.
        "OUT_DIR",
        "TARGET",
        "HOST",
        "PROFILE",
        "OPT_LEVEL",
        "DEBUG",
        "NUM_JOBS",
        "CARGO_CRATE_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_RUSTC_CURRENT_DIR",
        "CARGO_SBOM_PATH",
        // The outer build's jobserver.
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
        "MAKELEVEL",
    ];
    const PREFIXES: &[&str] = &[
        "CARGO_PKG_",
        "CARGO_MANIFEST_",
        "CARGO_CFG_",
        "CARGO_FEATURE_",
        "CARGO_ENCODED_",
        "CARGO_BIN_",
        // Build configuration of the outer build: target, target dir, rustc, rustflags,
        // linkers and runners, profile overrides.
        "CARGO_BUILD_",
        "CARGO_TARGET_",
        "CARGO_PROFILE_",
        "CARGO_LLVM_COV",
        "DEP_",
        "__CARGO",
    ];
    EXACT.contains(&name) || PREFIXES.iter().any(|prefix| name.starts_with(prefix))
}

/// The components built: constant name (the crate name upper-cased, hyphens as underscores)
/// to absolute path, read from cargo's `compiler-artifact` messages.
fn components(stdout: &str) -> Result<BTreeMap<String, PathBuf>, String> {
    let mut components = BTreeMap::new();
    for line in stdout.lines().filter(|line| line.starts_with('{')) {
        let message: Value = serde_json::from_str(line).map_err(|err| {
            format!("cargo printed a line that is not valid JSON ({err}); the line: {line}")
        })?;
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        // Indexing a JSON value by a name it lacks gives `null`, which matches nothing below.
        let target = &message["target"];
        let is_cdylib = target["kind"]
            .as_array()
            .is_some_and(|kinds| kinds.iter().any(|kind| kind == "cdylib"));
        let name = target["name"].as_str();
        let wasm = message["filenames"].as_array().and_then(|files| {
            files
                .iter()
                .filter_map(Value::as_str)
                .find(|file| file.ends_with(".wasm"))
        });
        let (true, Some(name), Some(wasm)) = (is_cdylib, name, wasm) else {
            continue;
        };
        let path = PathBuf::from(wasm);
        check_component(&path)?;
        let constant = name.replace('-', "_").to_uppercase();
        if let Some(previous) = components.insert(constant.clone(), path) {
            return Err(format!(
                "two guests map to the constant {constant} (one is {}); rename one of the crates",
                previous.display()
            ));
        }
    }
    Ok(components)
}

fn check_component(path: &Path) -> Result<(), String> {
    let bytes =
        fs::read(path).map_err(|err| format!("could not read {}: {err}", path.display()))?;
    if !bytes.starts_with(&COMPONENT_HEADER) {
        return Err(format!(
            "{} is not a WebAssembly component (it does not start with the component header)",
            path.display()
        ));
    }
    Ok(())
}

fn guests_rs(components: &BTreeMap<String, PathBuf>) -> Result<String, String> {
    let mut src = String::from("// Generated by tests/build.rs. Do not edit.\n\n");
    let mut all = String::new();
    let mut each = String::new();
    for (constant, path) in components {
        let path = path
            .to_str()
            .ok_or_else(|| format!("{} is not valid UTF-8", path.display()))?;
        let file = Path::new(path)
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or(path);
        // `{:?}` of a `str` is a valid Rust string literal.
        let _ = writeln!(
            src,
            "/// Absolute path of the `{file}` guest component.\npub const {constant}: &str = {path:?};\n"
        );
        let _ = writeln!(all, "    ({constant:?}, {constant}),");
        let _ = writeln!(each, "        $m!({constant});");
    }
    let _ = writeln!(
        src,
        "/// Every guest component as (constant name, absolute path), by name.\n\
         pub const ALL: &[(&str, &str)] = &[\n{all}];\n"
    );
    let _ = writeln!(
        src,
        "/// Invokes the macro `$m` once per guest component with the name of its constant in\n\
         /// [`guests`](crate::guests), e.g. `$m!(FILTER);`.\n\
         #[macro_export]\n\
         macro_rules! for_each_guest {{\n    ($m:ident) => {{\n{each}    }};\n}}"
    );
    Ok(src)
}
