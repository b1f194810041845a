//! Finding the toolchains, and the install command to give when one is missing.
//!
//! `componentize-py` and `jco` are looked for in the directory named by `CAMEO_TOOLS`, then in
//! a `languages` directory beside (or up to three levels above) the running program, which is
//! where `scripts/setup-languages` puts them in a cameo checkout (`target/languages`), then
//! on `PATH`. clang is `CAMEO_CLANG`, else `clang-19` on `PATH`, else Debian's
//! `/usr/lib/llvm-19/bin/clang`.

use std::path::PathBuf;

use crate::BuildError;

/// A toolchain a build needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toolchain {
    /// clang 19 with the wasm32-wasi target (C).
    Clang,
    /// componentize-py (Python).
    ComponentizePy,
    /// jco with its QuickJS backend (JavaScript).
    Jco,
}

impl Toolchain {
    /// The tool's name.
    pub fn name(self) -> &'static str {
        match self {
            Toolchain::Clang => "clang-19",
            Toolchain::ComponentizePy => "componentize-py",
            Toolchain::Jco => "jco",
        }
    }

    /// What to run to install it.
    pub fn install(self) -> &'static str {
        match self {
            Toolchain::Clang => {
                "install Debian's C toolchain for WebAssembly: `sudo apt-get install clang-19 \
                 lld-19 wasi-libc libclang-rt-19-dev-wasm32` (or run scripts/setup-languages in a \
                 cameo checkout); set CAMEO_CLANG to use another clang"
            }
            Toolchain::ComponentizePy => {
                "run scripts/setup-languages in a cameo checkout (it installs componentize-py \
                 0.25.1 into target/languages/python), or `pip install componentize-py==0.25.1` \
                 and put it on PATH, or set CAMEO_TOOLS to a directory holding \
                 python/bin/componentize-py"
            }
            Toolchain::Jco => {
                "run scripts/setup-languages in a cameo checkout (it installs \
                 @bytecodealliance/jco 1.35.0 into target/languages/js; it needs node and npm: \
                 `sudo apt-get install nodejs npm`), or `npm install -g @bytecodealliance/jco@1.35.0`, \
                 or set CAMEO_TOOLS to a directory holding js/node_modules/.bin/jco"
            }
        }
    }

    /// Where the tool sits inside a tools directory.
    fn in_tools_dir(self) -> Option<&'static str> {
        match self {
            Toolchain::Clang => None,
            Toolchain::ComponentizePy => Some("python/bin/componentize-py"),
            Toolchain::Jco => Some("js/node_modules/.bin/jco"),
        }
    }
}

/// A toolchain found on this machine.
#[derive(Debug, Clone)]
pub struct Tool {
    /// Which one.
    pub toolchain: Toolchain,
    /// The program to run.
    pub path: PathBuf,
    /// What identifies its version for the build cache (size and modification time of the
    /// program; no process is started to find out).
    pub version: String,
}

/// Finds `toolchain`, or says how to install it.
pub fn find_tool(toolchain: Toolchain) -> Result<Tool, BuildError> {
    let candidates = candidates(toolchain);
    for path in &candidates {
        if let Ok(meta) = std::fs::metadata(path)
            && meta.is_file()
        {
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            return Ok(Tool {
                toolchain,
                path: path.clone(),
                version: format!("{}:{}", meta.len(), modified),
            });
        }
    }
    let looked: Vec<String> = candidates
        .iter()
        .filter(|p| p.is_absolute())
        .map(|p| p.display().to_string())
        .chain(std::iter::once("PATH".to_string()))
        .collect();
    Err(BuildError::MissingTool {
        tool: toolchain.name(),
        looked: looked.join(", "),
        install: toolchain.install(),
    })
}

/// Where `toolchain` may be, in order.
fn candidates(toolchain: Toolchain) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if toolchain == Toolchain::Clang {
        if let Some(clang) = std::env::var_os("CAMEO_CLANG") {
            found.push(PathBuf::from(clang));
        }
        found.extend(on_path("clang-19"));
        found.push(PathBuf::from("/usr/lib/llvm-19/bin/clang"));
        return found;
    }
    if let Some(relative) = toolchain.in_tools_dir() {
        for dir in tools_dirs() {
            found.push(dir.join(relative));
        }
    }
    found.extend(on_path(toolchain.name()));
    found
}

/// The directories that may hold tools installed by `scripts/setup-languages`.
pub(crate) fn tools_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("CAMEO_TOOLS") {
        dirs.push(PathBuf::from(dir));
    }
    if let Ok(exe) = std::env::current_exe() {
        for ancestor in exe.ancestors().skip(1).take(4) {
            dirs.push(ancestor.join("languages"));
        }
    }
    dirs
}

/// `name` in each directory of `PATH`.
fn on_path(name: &str) -> Vec<PathBuf> {
    std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(name))
                .collect()
        })
        .unwrap_or_default()
}

/// Runs `command`, failing with its output when it fails.
pub(crate) fn run(
    toolchain: Toolchain,
    command: &mut std::process::Command,
) -> Result<(), BuildError> {
    let output = command.output().map_err(|source| BuildError::Io {
        what: "cannot run",
        path: format!("{:?}", command.get_program()),
        source,
    })?;
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stdout));
    Err(BuildError::ToolFailed {
        tool: toolchain.name(),
        status: output.status.to_string(),
        output: text.trim().to_string(),
    })
}
