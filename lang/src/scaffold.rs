//! The files of a new operator project, per language: a small working operator (it forwards
//! the events whose value contains the configured `needle`, all of them without one), a
//! README, a test input with the output it must give, and a job spec that runs it.

use crate::Language;

/// One file of a new project: its path inside the project and its content.
pub struct File {
    /// Path relative to the project directory.
    pub path: &'static str,
    /// Content.
    pub content: String,
}

/// The files of a new project `name` in `language`. `sdk_dependency` is the `cameo-sdk`
/// dependency line a Rust project's Cargo.toml gets (e.g. a path to a cameo checkout's
/// `sdk`).
pub fn files(language: Language, name: &str, sdk_dependency: &str) -> Vec<File> {
    let mut files = match language {
        Language::Rust => vec![
            File {
                path: "Cargo.toml",
                content: RUST_CARGO
                    .replace("{name}", name)
                    .replace("{sdk}", sdk_dependency),
            },
            File {
                path: "src/lib.rs",
                content: RUST_LIB.to_string(),
            },
            File {
                path: ".cargo/config.toml",
                content: RUST_CARGO_CONFIG.to_string(),
            },
        ],
        Language::Python => vec![File {
            path: "app.py",
            content: PYTHON_APP.to_string(),
        }],
        Language::JavaScript => vec![File {
            path: "app.js",
            content: JS_APP.to_string(),
        }],
        Language::C => vec![File {
            path: "app.c",
            content: C_APP.to_string(),
        }],
    };
    files.push(File {
        path: "input.txt",
        content: "a cameo event\nanother event\nnot this one\n".to_string(),
    });
    files.push(File {
        path: "expected.txt",
        content: "- a cameo event\n- another event\n".to_string(),
    });
    files.push(File {
        path: "job.toml",
        content: JOB.replace("{name}", name),
    });
    files.push(File {
        path: "README.md",
        content: readme(language, name),
    });
    files.push(File {
        path: ".gitignore",
        content: "/target\n".to_string(),
    });
    files
}

fn readme(language: Language, name: &str) -> String {
    let (source, sdk) = match language {
        Language::Rust => ("src/lib.rs", "the `cameo-sdk` crate"),
        Language::Python => (
            "app.py",
            "`cameo.py` and its `cameo_*.py` modules, put beside `app.py` when it builds",
        ),
        Language::JavaScript => (
            "app.js",
            "`cameo.js` and its `cameo_*.js` modules, put beside `app.js` when it builds",
        ),
        Language::C => (
            "app.c",
            "`cameo.h` and the generated `operator.h`, put beside the sources when it builds",
        ),
    };
    let toolchain = match language {
        Language::Rust => {
            "Rust with the `wasm32-wasip2` target (`rustup target add wasm32-wasip2`)"
        }
        Language::Python => "componentize-py (`scripts/setup-languages` in a cameo checkout)",
        Language::JavaScript => "jco (`scripts/setup-languages` in a cameo checkout)",
        Language::C => {
            "clang 19 with wasi-libc (`sudo apt-get install clang-19 lld-19 wasi-libc \
             libclang-rt-19-dev-wasm32`)"
        }
    };
    format!(
        "# {name}\n\nA cameo operator in {language}: it forwards the events whose value contains \
         the configured `needle` (every event without one).\n\n\
         ```sh\ncameo operator build     # builds the component, prints its path\n\
         cameo run job.toml       # builds it if needed, runs it on input.txt, printing what it forwards\n\
         cameo operator test --input input.txt --config '{{\"needle\": \"event\"}}' --expect expected.txt\n\
         \x20                        # runs it on input.txt, fails unless it forwards what expected.txt says\n\
         cameo operator build --watch   # builds again whenever a source changes\n```\n\n\
         The operator is `{source}`; it uses {sdk}. Building needs {toolchain}. \
         The contract is cameo's WIT package `cameo:operator`; `job.toml` is a job spec with \
         the operator's config.\n",
        language = match language {
            Language::Rust => "Rust",
            Language::Python => "Python",
            Language::JavaScript => "JavaScript",
            Language::C => "C",
        }
    )
}

const JOB: &str = r#"# Runs the operator on input.txt: `cameo run job.toml` (it builds the operator first).
name = "{name}"
latency_target_ms = 100

[[source]]
name = "lines"
kind = "file"
path = "input.txt"

[[operator]]
name = "{name}"
module = "."
inputs = ["lines"]
config = { needle = "event" }

[[sink]]
name = "out"
kind = "stdout"
inputs = ["{name}"]
"#;

const RUST_CARGO: &str = r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

[lib]
crate-type = ["cdylib"]

[dependencies]
{sdk}

# A project of its own, even inside another workspace.
[workspace]
"#;

/// The build settings of a new Rust project: WebAssembly SIMD, which the host runs, so loops
/// over numbers vectorise as they do natively.
const RUST_CARGO_CONFIG: &str = r#"# Built with WebAssembly SIMD (128-bit vectors), which cameo runs: loops over numbers
# vectorise as they do natively. cargo reads this file when it runs in this directory, as
# `cargo build --release --target wasm32-wasip2` and `cameo operator build` do.
[target.wasm32-wasip2]
rustflags = ["-C", "target-feature=+simd128"]
"#;

const RUST_LIB: &str = r#"//! Forwards the events whose value contains the configured `needle` (every event without one).

use cameo_sdk::{Config, Event, Operator, Output, Result};

struct Needle {
    needle: Vec<u8>,
}

impl Operator for Needle {
    fn init(config: &Config) -> Result<Self> {
        let needle = config.get_str("needle")?.unwrap_or_default();
        Ok(Needle { needle: needle.as_bytes().to_vec() })
    }

    fn process(&mut self, event: Event, out: &mut Output) -> Result<()> {
        if self.needle.is_empty() || event.value.windows(self.needle.len()).any(|w| w == self.needle) {
            out.emit(event);
        }
        Ok(())
    }
}

cameo_sdk::export_operator!(Needle);
"#;

const PYTHON_APP: &str = r#""""Forwards the events whose value contains the configured `needle` (every event without one)."""

import cameo


class Needle(cameo.Operator):
    def init(self, config):
        self.needle = (config.get_str("needle") or "").encode("utf-8")

    def process(self, event, out):
        if self.needle in bytes(event.value):
            out.emit(event)


Handler = cameo.export(Needle)
"#;

const JS_APP: &str = r#"// Forwards the events whose value contains the configured `needle` (every event without one).
import * as cameo from "./cameo.js";

class Needle extends cameo.Operator {
    init(config) {
        this.needle = config.getStr("needle") ?? "";
    }

    process(event, out) {
        const text = cameo.utf8Decode(event.value);
        if (text !== null && text.includes(this.needle)) out.emit(event);
    }
}

export const handler = cameo.exportOperator(Needle);
"#;

const C_APP: &str = r#"/* Forwards the events whose value contains the configured `needle` (every event without one). */
#include "cameo.h"

static cameo_json *config;
static const cameo_json *needle;

static bool init(cameo_str text, cameo_error *err) {
    cameo_json_free(config);
    config = NULL;
    needle = NULL;
    if (!cameo_config_parse(text, &config, err)) return false;
    needle = cameo_config_value(config, "needle");
    if (needle && needle->kind != CAMEO_JSON_STRING)
        return cameo_invalid_input(err, "config field `needle` must be a string, got %s", cameo_json_kind_name(needle));
    return true;
}

static bool contains(const cameo_event *event) {
    if (!needle || needle->len == 0) return true;
    for (size_t i = 0; i + needle->len <= event->value.len; i++)
        if (memcmp(event->value.ptr + i, needle->str, needle->len) == 0) return true;
    return false;
}

static bool process(cameo_batch *batch, cameo_output *out, cameo_error *err) {
    (void)err;
    for (size_t i = 0; i < batch->len; i++)
        if (contains(&batch->ptr[i])) cameo_emit_event(out, &batch->ptr[i]);
    return true;
}

CAMEO_EXPORT_OPERATOR(init, process)
"#;
