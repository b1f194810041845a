//! Loading operator modules: every refusal says what is wrong and what to do.

use cameo_host::Limits;
use cameo_host::OperatorEngine;
use cameo_host::{LoadError, OperatorModule};
use cameo_tests::guests;

use crate::support::{cameo, one_operator_job, options, toml_path};

fn engine() -> OperatorEngine {
    OperatorEngine::new(Limits::default()).unwrap()
}

fn refusal(bytes: &[u8]) -> String {
    match OperatorModule::load_bytes(&engine(), "op.wasm", bytes) {
        Ok(_) => panic!("loading should have failed"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn every_example_operator_loads() {
    let engine = engine();
    macro_rules! load {
        ($name:ident) => {
            OperatorModule::load_file(&engine, std::path::Path::new(guests::$name))
                .unwrap_or_else(|err| panic!("{}: {err}", stringify!($name)));
        };
    }
    cameo_tests::for_each_guest!(load);
}

#[test]
fn bytes_that_are_not_wasm_are_refused() {
    let text = refusal(b"name = \"not a module\"\n");
    assert!(text.contains("op.wasm is not WebAssembly"), "{text}");
    assert!(text.contains("cameo operator build"), "{text}");
}

#[test]
fn a_core_module_is_refused_with_how_to_build_a_component() {
    let core = wat::parse_str("(module (func (export \"process\")))").unwrap();
    let text = refusal(&core);
    assert!(
        text.contains("is a core WebAssembly module, not a component"),
        "{text}"
    );
    assert!(text.contains("wasm32-wasip2"), "{text}");
    assert!(text.contains("cameo:operator/operator@0.1.0"), "{text}");
}

#[test]
fn a_component_of_another_world_is_refused_naming_what_it_exports() {
    let other = wat::parse_str(
        r#"(component
            (core module $m (func (export "run")))
            (core instance $i (instantiate $m))
            (func $run (canon lift (core func $i "run")))
            (export "acme:tools/runner" (func $run)))"#,
    )
    .unwrap();
    let text = refusal(&other);
    assert!(
        text.contains("does not export cameo:operator/handler@0.1.0"),
        "{text}"
    );
    assert!(text.contains("It exports: acme:tools/runner"), "{text}");
    let empty = refusal(&wat::parse_str("(component)").unwrap());
    assert!(empty.contains("It exports: nothing"), "{empty}");
}

#[test]
fn truncated_component_bytes_are_refused_as_invalid() {
    let bytes = std::fs::read(guests::FILTER).unwrap();
    let text = refusal(&bytes[..bytes.len() / 2]);
    assert!(
        text.contains("op.wasm is not a valid WebAssembly component"),
        "{text}"
    );
}

#[test]
fn a_job_with_a_bad_module_names_the_operator() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fake.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let spec = one_operator_job(dir.path(), "fake.wasm", "{}", &["x"]);
    let err = cameo_host::run_job(&spec, &options())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("operator \"op\": fake.wasm is a core WebAssembly module"),
        "{err}"
    );
    let missing = one_operator_job(dir.path(), "missing.wasm", "{}", &["x"]);
    let err = cameo_host::run_job(&missing, &options())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("could not read operator module") && err.contains("missing.wasm"),
        "{err}"
    );
}

#[test]
fn an_invalid_config_fails_the_job_in_init_with_the_operators_words() {
    let dir = tempfile::tempdir().unwrap();
    // tumbling-sum requires size_ms.
    let spec = one_operator_job(dir.path(), guests::TUMBLING_SUM, "{}", &["{\"value\": 1}"]);
    let err = cameo_host::run_job(&spec, &options())
        .unwrap_err()
        .to_string();
    assert!(err.contains("refused its config in init"), "{err}");
    assert!(err.contains("size_ms"), "{err}");
}

#[test]
fn a_bad_job_spec_names_the_field_and_line_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let job = format!(
        "name = \"j\"\n[[source]]\nname = \"in\"\nkind = \"generator\"\ncount = 1\n[[operator]]\nname = \"op\"\nmodule = {}\ninputs = [\"in\"]\nparalelism = 2\n[[sink]]\nname = \"out\"\nkind = \"stdout\"\ninputs = [\"op\"]\n",
        toml_path(guests::FILTER)
    );
    std::fs::write(dir.path().join("job.toml"), job).unwrap();
    let out = cameo(dir.path(), &["run", "job.toml"]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("job.toml:10:"), "{text}");
    assert!(text.contains("unknown field `paralelism`"), "{text}");
}

#[test]
fn a_module_error_is_typed() {
    let err = OperatorModule::load_bytes(&engine(), "x", b"nope").unwrap_err();
    assert!(matches!(err, LoadError::NotWasm { .. }));
}
