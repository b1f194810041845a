//! Loading operator modules: check that the bytes are a component that targets our world,
//! compile them, and pre-link them for cheap repeated instantiation.
//!
//! Every refusal says what is wrong and what to do about it.

use std::path::Path;

use wasmtime::component::{Component, ComponentExportIndex, InstancePre};

use crate::bindings::{
    HANDLER_INTERFACE, HandlerIndices, JOINER_INTERFACE, JoinerIndices, OPERATOR_WORLD,
    WINDOWED_INTERFACE, WindowedIndices,
};
use crate::engine::cache::CompiledCache;
use crate::engine::{HostState, OperatorEngine};

use crate::limits::MAX_MODULE_BYTES;

/// The WebAssembly magic number every module and component starts with.
const WASM_MAGIC: &[u8; 4] = b"\0asm";

/// A compiled, validated operator module, ready to instantiate.
#[derive(Clone)]
pub struct OperatorModule {
    name: String,
    pre: InstancePre<HostState>,
    handler: HandlerIndices,
    windowed: Option<WindowedIndices>,
    /// Where `accumulate` is (`packed` or `windowed`), called with borrowed arguments (boxed:
    /// modules are moved by value, and only windowed ones have it).
    accumulate: Option<Box<crate::actor::AccumulateIndex>>,
    joiner: Option<JoinerIndices>,
    /// Where `upgrader.upgrade-state` is, if the component exports it.
    upgrader: Option<ComponentExportIndex>,
    /// Where `packed-process.process` is, if the component exports it.
    packed_process: Option<ComponentExportIndex>,
}

impl std::fmt::Debug for OperatorModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorModule")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl OperatorModule {
    /// The name the module was loaded under (usually its file name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The same module under the name `name` (e.g. a registry's `name@N`): the name errors,
    /// checkpoints and upgrades know it by, so two versions must not share one.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The pre-linked component.
    pub fn pre(&self) -> &InstancePre<HostState> {
        &self.pre
    }

    /// True when the module was loaded by `engine` (a module runs only on the engine that
    /// compiled it).
    pub fn is_for(&self, engine: &OperatorEngine) -> bool {
        wasmtime::Engine::same(self.pre.component().engine(), engine.engine())
    }

    /// Where the `handler` exports are.
    pub fn handler(&self) -> &HandlerIndices {
        &self.handler
    }

    /// Where the `windowed` exports are, if the component has them.
    pub fn windowed(&self) -> Option<&WindowedIndices> {
        self.windowed.as_ref()
    }

    /// Where `packed-process.process` is, if the component exports it.
    pub(crate) fn packed_process(&self) -> Option<&ComponentExportIndex> {
        self.packed_process.as_ref()
    }

    /// Where `accumulate` is (`packed` or `windowed`), if the component has it.
    pub(crate) fn accumulate(&self) -> Option<&crate::actor::AccumulateIndex> {
        self.accumulate.as_deref()
    }

    /// Where the `joiner` exports are, if the component has them.
    pub fn joiner(&self) -> Option<&JoinerIndices> {
        self.joiner.as_ref()
    }

    /// Where `upgrader.upgrade-state` is, if the component exports it.
    pub(crate) fn upgrader(&self) -> Option<&ComponentExportIndex> {
        self.upgrader.as_ref()
    }

    /// True when the component converts the state earlier versions wrote (it exports
    /// `cameo:operator/upgrader@0.2.0`).
    pub fn converts_state(&self) -> bool {
        self.upgrader.is_some()
    }

    /// Why the module cannot run an operator with a window (`window`) or a join (`join`):
    /// the export it lacks and what to do. `None` when it has what they need.
    pub(crate) fn missing_export(&self, window: bool, join: bool) -> Option<String> {
        if join && self.joiner.is_none() {
            return Some(format!(
                "the job declares a join for it, but {} does not export {JOINER_INTERFACE}; \
                 build it against the join-operator world (cameo_sdk::export_joiner!)",
                self.name
            ));
        }
        if window && self.windowed.is_none() {
            return Some(format!(
                "the job declares a window for it, but {} does not export \
                 {WINDOWED_INTERFACE}; build it against the windowed-operator world \
                 (cameo_sdk::export_windowed!)",
                self.name
            ));
        }
        None
    }
}

/// Why a module was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("could not read operator module {path}: {source}")]
    Read {
        /// The path given.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Over the size limit for a module (see [`crate::FIXED_LIMITS`]).
    #[error(
        "{name} is over the {MAX_MODULE_BYTES}-byte limit for an operator module (it has \
         {size} bytes or more); build it in release mode and strip debug info"
    )]
    TooLarge {
        /// Module name.
        name: String,
        /// Its size, or as much of it as was read.
        size: u64,
    },
    /// Not WebAssembly at all.
    #[error(
        "{name} is not WebAssembly (it does not start with the `\\0asm` magic bytes); pass the \
         .wasm component that `cameo operator build` prints"
    )]
    NotWasm {
        /// Module name.
        name: String,
    },
    /// A core module where a component is needed.
    #[error(
        "{name} is a core WebAssembly module, not a component; cameo runs components of the world \
         {OPERATOR_WORLD}. Build the operator with `cameo operator build` (or `cargo build \
         --target wasm32-wasip2`, which outputs a component), or wrap a core module with \
         `wasm-tools component new`"
    )]
    CoreModule {
        /// Module name.
        name: String,
    },
    /// WebAssembly, but not a valid component.
    #[error("{name} is not a valid WebAssembly component: {reason}")]
    Invalid {
        /// Module name.
        name: String,
        /// What wasmtime found wrong.
        reason: String,
    },
    /// A component that does not export the operator interface.
    #[error(
        "{name} does not export {HANDLER_INTERFACE}, so it is not a cameo operator; it must \
         target the world {OPERATOR_WORLD}. It exports: {exports}"
    )]
    WrongWorld {
        /// Module name.
        name: String,
        /// What it exports instead, comma-separated.
        exports: String,
    },
    /// Exports the interface with the wrong shape, or imports what the host does not provide.
    #[error(
        "{name} cannot be linked as a cameo operator: {reason}. Operators may import only \
         cameo:operator/{{state,timers,log}}@0.1.0 and the WASI interfaces a language runtime needs \
         to start; rebuild it against this host's wit/ package"
    )]
    Link {
        /// Module name.
        name: String,
        /// What did not match.
        reason: String,
    },
}

/// What the first bytes of a file say it is.
fn check_header(name: &str, bytes: &[u8]) -> Result<(), LoadError> {
    if bytes.len() < 8 || &bytes[..4] != WASM_MAGIC {
        return Err(LoadError::NotWasm { name: name.into() });
    }
    // Bytes 4..8: a core module has version 1 and layer 0; a component has layer 1.
    if bytes[6..8] == [0, 0] {
        return Err(LoadError::CoreModule { name: name.into() });
    }
    Ok(())
}

impl OperatorModule {
    /// Reads and loads the component at `path`: see [`OperatorModule::load_bytes`].
    pub fn load_file(engine: &OperatorEngine, path: &Path) -> Result<OperatorModule, LoadError> {
        let (name, bytes) = read_file(path)?;
        load_bytes(engine, &name, &bytes)
    }

    /// Reads and loads the component at `path`, through the compiled-code cache in
    /// `cache_dir` when there is one: see [`OperatorModule::load_cached`].
    pub fn load_file_cached(
        engine: &OperatorEngine,
        path: &Path,
        cache_dir: Option<&Path>,
    ) -> Result<OperatorModule, LoadError> {
        let (name, bytes) = read_file(path)?;
        match cache_dir {
            Some(dir) => OperatorModule::load_cached(engine, &name, &bytes, dir),
            None => load_bytes(engine, &name, &bytes),
        }
    }

    /// Validates, compiles and pre-links the component in `bytes`, called `name` in errors:
    /// it must be a component (not a core module) exporting `cameo:operator/handler`, whose
    /// imports the host provides. Every refusal says what is wrong and what to do.
    pub fn load_bytes(
        engine: &OperatorEngine,
        name: &str,
        bytes: &[u8],
    ) -> Result<OperatorModule, LoadError> {
        load_bytes(engine, name, bytes)
    }

    /// As [`OperatorModule::load_bytes`], with the compiled code kept in `cache_dir` and
    /// loaded from there next time (by another job, or after a restart) instead of compiled
    /// again. A damaged cache entry is compiled again, never trusted.
    pub fn load_cached(
        engine: &OperatorEngine,
        name: &str,
        bytes: &[u8],
        cache_dir: &Path,
    ) -> Result<OperatorModule, LoadError> {
        check_bytes(name, bytes)?;
        let cache = CompiledCache::new(cache_dir);
        let component = match cache.get(engine, bytes) {
            Some(component) => {
                tracing::info!(
                    target: CACHE_LOG_TARGET,
                    module = name,
                    "compiled code loaded from the cache in {}",
                    cache_dir.display()
                );
                component
            }
            None => {
                let component = compile(engine, name, bytes)?;
                match cache.put(engine, bytes, &component) {
                    Ok(()) => tracing::info!(
                        target: CACHE_LOG_TARGET,
                        module = name,
                        "compiled and kept in the cache in {}",
                        cache_dir.display()
                    ),
                    Err(err) => tracing::warn!(
                        target: CACHE_LOG_TARGET,
                        module = name,
                        "compiled code not kept in {}: {err}",
                        cache_dir.display()
                    ),
                }
                component
            }
        };
        from_component(engine, name, &component)
    }
}

/// The tracing target of the compiled-code cache's lines (a hit, a compile, an entry
/// refused), so that `CAMEO_LOG=compiled_cache=info` shows where each module's code came from.
pub(crate) const CACHE_LOG_TARGET: &str = "compiled_cache";

/// Reads the component at `path`, no more than [`MAX_MODULE_BYTES`]: its name for errors
/// (the file name) and its bytes.
fn read_file(path: &Path) -> Result<(String, Vec<u8>), LoadError> {
    use std::io::Read as _;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let read_error = |source| LoadError::Read {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    // The size is checked before reading, and a file that grows or never ends (a pipe, a
    // device) is read no further than the limit.
    let size = file.metadata().map_err(read_error)?.len();
    if size > MAX_MODULE_BYTES {
        return Err(LoadError::TooLarge { name, size });
    }
    let mut bytes = Vec::new();
    file.take(MAX_MODULE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    Ok((name, bytes))
}

/// Validates, compiles and pre-links the component in `bytes`, called `name` in errors.
fn load_bytes(
    engine: &OperatorEngine,
    name: &str,
    bytes: &[u8],
) -> Result<OperatorModule, LoadError> {
    check_bytes(name, bytes)?;
    let component = compile(engine, name, bytes)?;
    from_component(engine, name, &component)
}

/// Checks the size and the header of `bytes`.
fn check_bytes(name: &str, bytes: &[u8]) -> Result<(), LoadError> {
    if bytes.len() as u64 > MAX_MODULE_BYTES {
        return Err(LoadError::TooLarge {
            name: name.into(),
            size: bytes.len() as u64,
        });
    }
    check_header(name, bytes)
}

/// Validates and compiles `bytes` as a component.
fn compile(engine: &OperatorEngine, name: &str, bytes: &[u8]) -> Result<Component, LoadError> {
    Component::new(engine.engine(), bytes).map_err(|err| LoadError::Invalid {
        name: name.into(),
        reason: format!("{err:#}"),
    })
}

/// Checks that `component` is an operator the host can link, and pre-links it.
fn from_component(
    engine: &OperatorEngine,
    name: &str,
    component: &Component,
) -> Result<OperatorModule, LoadError> {
    let exports: Vec<String> = component
        .component_type()
        .exports(engine.engine())
        .map(|(export, _)| export.to_string())
        .collect();
    if !exports.iter().any(|export| export == HANDLER_INTERFACE) {
        let exports = if exports.is_empty() {
            "nothing".to_string()
        } else {
            exports.join(", ")
        };
        return Err(LoadError::WrongWorld {
            name: name.into(),
            exports,
        });
    }
    let link_error = |err: wasmtime::Error| LoadError::Link {
        name: name.into(),
        reason: format!("{err:#}"),
    };
    let instance_pre = engine
        .linker()
        .instantiate_pre(component)
        .map_err(link_error)?;
    let handler = HandlerIndices::new(&instance_pre).map_err(link_error)?;
    let has = |interface: &str| exports.iter().any(|export| export == interface);
    let windowed = if has(WINDOWED_INTERFACE) {
        Some(WindowedIndices::new(&instance_pre).map_err(link_error)?)
    } else {
        None
    };
    let accumulate = windowed
        .as_ref()
        .and_then(|_| crate::actor::accumulate_export(component))
        .map(Box::new);
    let joiner = if has(JOINER_INTERFACE) {
        Some(JoinerIndices::new(&instance_pre).map_err(link_error)?)
    } else {
        None
    };
    Ok(OperatorModule {
        name: name.into(),
        pre: instance_pre,
        handler,
        windowed,
        accumulate,
        joiner,
        upgrader: crate::actor::upgrade_state_export(component),
        packed_process: crate::actor::packed_process_export(component),
    })
}
