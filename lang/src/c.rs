//! C: bindings generated with wit-bindgen-c, compiled with clang for `wasm32-wasi` as a
//! reactor, and turned into a component with wit-component and the preview1 reactor adapter
//! of the wasmtime release the host uses.
//!
//! The bindings of either world are generated under the name `operator` (`operator.h`,
//! `operator_string_t`, ...), so `cameo.h` reads the same against both; a windowed build is
//! compiled with `CAMEO_WINDOWED_WORLD` defined, which brings in `cameo_window.h`.

use std::process::Command;

use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
};
use wit_bindgen_core::Files;

use crate::BuildError;
use crate::project::Project;
use crate::sdk;
use crate::tools::{self, Tool};

/// The name the generated bindings carry, whichever world they are of.
const BINDINGS_NAME: &str = "operator";

/// Builds the C project staged in `project.stage` against `world`.
pub(crate) fn build(project: &Project, clang: &Tool, world: &str) -> Result<(), BuildError> {
    let stage = &project.stage;
    let mut sources = Vec::new();
    for (name, content) in bindings(world)? {
        let path = stage.join(&name);
        std::fs::write(&path, content)
            .map_err(|source| BuildError::io("cannot write", &path, source))?;
        if name.ends_with(".c") || name.ends_with(".o") {
            sources.push(name);
        }
    }
    let entries = std::fs::read_dir(&project.dir)
        .map_err(|source| BuildError::io("cannot list", &project.dir, source))?;
    let mut own: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.ends_with(".c"))
        .collect();
    own.sort();
    if let Some(file) = own.iter().find(|name| *name == "operator.c") {
        return Err(BuildError::ReservedName {
            file: file.clone(),
            dir: project.dir.display().to_string(),
        });
    }
    sources.extend(own);
    let core = stage.join("core.wasm");
    let mut command = Command::new(&clang.path);
    command
        .current_dir(stage)
        .args([
            "--target=wasm32-wasi",
            "-mexec-model=reactor",
            "-O2",
            "-std=c11",
        ])
        .args(["-Wall", "-Wno-unused-function", "-I."])
        .args((world != BINDINGS_NAME).then_some("-DCAMEO_WINDOWED_WORLD=1"))
        // The JSON parser recurses once per level (up to 127): 1 MiB of stack, not 64 KiB.
        .arg("-Wl,-z,stack-size=1048576")
        .args(&sources)
        .arg("-o")
        .arg(&core);
    tools::run(clang.toolchain, &mut command)?;
    let module =
        std::fs::read(&core).map_err(|source| BuildError::io("cannot read", &core, source))?;
    let component = componentize(&module)?;
    std::fs::write(&project.component, component)
        .map_err(|source| BuildError::io("cannot write", &project.component, source))
}

/// The C bindings of `world`: `operator.h`, `operator.c` and `operator_component_type.o`.
fn bindings(world: &str) -> Result<Vec<(String, Vec<u8>)>, BuildError> {
    let failed = |err: anyhow::Error| BuildError::Component {
        step: "generating C bindings",
        message: format!("{err:#}"),
    };
    let mut resolve = wit_parser::Resolve::default();
    let package = resolve.push_str(sdk::WIT_PATH, sdk::WIT).map_err(failed)?;
    let world = resolve
        .select_world(&[package], Some(world))
        .map_err(failed)?;
    let mut files = Files::default();
    let opts = wit_bindgen_c::Opts {
        rename_world: Some(BINDINGS_NAME.to_string()),
        ..Default::default()
    };
    opts.build()
        .generate(&mut resolve, world, &mut files)
        .map_err(failed)?;
    Ok(files
        .iter()
        .map(|(name, content)| (name.to_string(), content.to_vec()))
        .collect())
}

/// The component of a core module built against the generated bindings.
pub(crate) fn componentize(module: &[u8]) -> Result<Vec<u8>, BuildError> {
    let failed = |err: anyhow::Error| BuildError::Component {
        step: "making the component",
        message: format!("{err:#}"),
    };
    wit_component::ComponentEncoder::default()
        .validate(true)
        .module(module)
        .map_err(failed)?
        .adapter(
            WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
            WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )
        .map_err(failed)?
        .encode()
        .map_err(failed)
}
