//! Which language a project directory holds, its source files, and where its component goes.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::BuildError;
use crate::sdk;

/// The language of an operator project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    /// A Rust crate (`Cargo.toml`) using `cameo-sdk`.
    Rust,
    /// A Python module `app.py` using `cameo.py`.
    Python,
    /// An ES module `app.js` using `cameo.js`.
    JavaScript,
    /// C files using `cameo.h`.
    C,
}

impl Language {
    /// The name used on the command line: `rust`, `python`, `js`, `c`.
    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
            Language::JavaScript => "js",
            Language::C => "c",
        }
    }

    /// Every language, in the order the docs list them.
    pub const ALL: [Language; 4] = [
        Language::Rust,
        Language::Python,
        Language::JavaScript,
        Language::C,
    ];

    /// The language named `name` (`rust`, `python`/`py`, `js`/`javascript`, `c`).
    pub fn from_name(name: &str) -> Option<Language> {
        match name {
            "rust" | "rs" => Some(Language::Rust),
            "python" | "py" => Some(Language::Python),
            "js" | "javascript" => Some(Language::JavaScript),
            "c" => Some(Language::C),
            _ => None,
        }
    }

    /// The extension of the project's source files.
    fn extension(self) -> &'static str {
        match self {
            Language::Rust => "rs",
            Language::Python => "py",
            Language::JavaScript => "js",
            Language::C => "c",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The language of the project in `dir`: `Cargo.toml` is Rust, `app.py` Python, `app.js`
/// JavaScript, any `.c` file C.
pub fn detect(dir: &Path) -> Result<Language, BuildError> {
    let shown = || dir.display().to_string();
    let entries = std::fs::read_dir(dir).map_err(|source| BuildError::Unreadable {
        dir: shown(),
        source,
    })?;
    let mut has_c = false;
    for entry in entries.flatten() {
        let name = entry.file_name();
        match name.to_str() {
            Some("Cargo.toml") => return Ok(Language::Rust),
            Some("app.py") => return Ok(Language::Python),
            Some("app.js") => return Ok(Language::JavaScript),
            Some(name) if name.ends_with(".c") => has_c = true,
            _ => {}
        }
    }
    if has_c {
        Ok(Language::C)
    } else {
        Err(BuildError::NotAProject { dir: shown() })
    }
}

/// One file that goes into a build: its name in the staging directory and its content.
pub(crate) struct Input {
    pub name: String,
    pub content: Vec<u8>,
}

/// A project being built.
pub(crate) struct Project {
    pub dir: PathBuf,
    pub language: Language,
    /// Where sources, SDK and WIT are put together for the toolchain.
    pub stage: PathBuf,
    /// The component to write.
    pub component: PathBuf,
}

impl Project {
    pub fn new(dir: &Path, language: Language, out_dir: Option<&Path>) -> Result<Self, BuildError> {
        let dir = dir
            .canonicalize()
            .map_err(|source| BuildError::Unreadable {
                dir: dir.display().to_string(),
                source,
            })?;
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("operator")
            .to_string();
        // Absolute: the toolchains run in the staging directory and write the component there.
        let out_dir = match out_dir {
            None => dir.join("target"),
            Some(out) => std::path::absolute(out).map_err(|source| {
                BuildError::io("cannot resolve the output directory", out, source)
            })?,
        };
        Ok(Project {
            stage: out_dir.join(format!("{name}.build")),
            component: out_dir.join(format!("{name}.wasm")),
            dir,
            language,
        })
    }

    /// The project's sources (files of its language directly in its directory), then the
    /// SDK files and the WIT package.
    pub fn inputs(&self) -> Result<Vec<Input>, BuildError> {
        let mut inputs = Vec::new();
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|source| BuildError::io("cannot list", &self.dir, source))?;
        let mut paths: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && p.extension().and_then(|e| e.to_str()) == Some(self.language.extension())
                    || (self.language == Language::C
                        && p.extension().and_then(|e| e.to_str()) == Some("h"))
            })
            .collect();
        paths.sort();
        for path in paths {
            let content = std::fs::read(&path)
                .map_err(|source| BuildError::io("cannot read", &path, source))?;
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            inputs.push(Input { name, content });
        }
        for (name, content) in sdk::files(self.language) {
            if !inputs.iter().any(|i| i.name == *name) {
                inputs.push(Input {
                    name: (*name).to_string(),
                    content: content.as_bytes().to_vec(),
                });
            }
        }
        inputs.push(Input {
            name: sdk::WIT_PATH.to_string(),
            content: sdk::WIT.as_bytes().to_vec(),
        });
        Ok(inputs)
    }

    /// The WIT world the project targets: `windowed-operator` when its own sources export
    /// host-managed windows through the SDK (`cameo.export_windowed` in Python,
    /// `cameo.exportWindowed` in JavaScript, `CAMEO_EXPORT_WINDOWED` in C), else `operator`.
    pub fn world(&self, inputs: &[Input]) -> &'static str {
        let marker: &[u8] = match self.language {
            Language::Python => b"export_windowed(",
            Language::JavaScript => b"exportWindowed(",
            Language::C => b"CAMEO_EXPORT_WINDOWED(",
            Language::Rust => return "operator",
        };
        let own_sources = inputs.iter().filter(|input| {
            !sdk::files(self.language)
                .iter()
                .any(|(name, _)| *name == input.name)
        });
        for input in own_sources {
            if input.content.windows(marker.len()).any(|w| w == marker) {
                return "windowed-operator";
            }
        }
        "operator"
    }

    /// Writes `inputs` into a fresh staging directory.
    pub fn stage(&self, inputs: &[Input]) -> Result<(), BuildError> {
        if self.stage.exists() {
            std::fs::remove_dir_all(&self.stage)
                .map_err(|source| BuildError::io("cannot clear", &self.stage, source))?;
        }
        for input in inputs {
            let path = self.stage.join(&input.name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|source| BuildError::io("cannot create", parent, source))?;
            }
            std::fs::write(&path, &input.content)
                .map_err(|source| BuildError::io("cannot write", &path, source))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, content: &str) -> Input {
        Input {
            name: name.to_string(),
            content: content.as_bytes().to_vec(),
        }
    }

    fn project(language: Language) -> Project {
        Project {
            dir: PathBuf::from("op"),
            language,
            stage: PathBuf::from("op/target/op.build"),
            component: PathBuf::from("op/target/op.wasm"),
        }
    }

    #[test]
    fn a_relative_output_directory_is_made_absolute() {
        let dir = tempfile::tempdir().unwrap();
        let project = Project::new(dir.path(), Language::C, Some(Path::new("out"))).unwrap();
        let here = std::env::current_dir().unwrap();
        assert_eq!(project.component.parent(), Some(here.join("out").as_path()));
    }

    #[test]
    fn a_c_project_exporting_windows_targets_the_windowed_world() {
        let c = project(Language::C);
        let windowed = [input("agg.c", "CAMEO_EXPORT_WINDOWED(agg)\n")];
        assert_eq!(c.world(&windowed), "windowed-operator");
        // The SDK's own header names the macro: only the project's sources count.
        let plain = [
            input("filter.c", "CAMEO_EXPORT_OPERATOR(init, process)\n"),
            input("cameo_window.h", "#define CAMEO_EXPORT_WINDOWED(OPERATOR)"),
        ];
        assert_eq!(c.world(&plain), "operator");
    }

    #[test]
    fn python_and_js_projects_exporting_windows_target_the_windowed_world() {
        let py = [input(
            "app.py",
            "Handler, Windowed = cameo.export_windowed(Agg)\n",
        )];
        assert_eq!(project(Language::Python).world(&py), "windowed-operator");
        let js = [input(
            "app.js",
            "export const { handler, windowed } = cameo.exportWindowed(A);",
        )];
        assert_eq!(
            project(Language::JavaScript).world(&js),
            "windowed-operator"
        );
        assert_eq!(project(Language::Rust).world(&py), "operator");
    }
}
