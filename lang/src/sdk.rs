//! The WIT package and the SDK files of each language, embedded so that a build needs nothing
//! from a cameo checkout. The Python and JavaScript SDKs are a module to import (`cameo.py`,
//! `cameo.js`) that re-exports modules of one job each (`cameo_*.py`, `cameo_*.js`), all put
//! beside the project's sources.

use crate::Language;

/// The `cameo:operator` WIT package.
pub(crate) const WIT: &str = include_str!("../../wit/operator.wit");

/// Where the WIT package goes in a staging directory.
pub(crate) const WIT_PATH: &str = "wit/operator.wit";

const PYTHON: &[(&str, &str)] = &[
    ("cameo.py", include_str!("../../sdk/python/cameo.py")),
    (
        "cameo_errors.py",
        include_str!("../../sdk/python/cameo_errors.py"),
    ),
    (
        "cameo_json.py",
        include_str!("../../sdk/python/cameo_json.py"),
    ),
    (
        "cameo_events.py",
        include_str!("../../sdk/python/cameo_events.py"),
    ),
    (
        "cameo_text.py",
        include_str!("../../sdk/python/cameo_text.py"),
    ),
    (
        "cameo_host.py",
        include_str!("../../sdk/python/cameo_host.py"),
    ),
    (
        "cameo_window.py",
        include_str!("../../sdk/python/cameo_window.py"),
    ),
    (
        "cameo_unicode.py",
        include_str!("../../sdk/python/cameo_unicode.py"),
    ),
];

const JS: &[(&str, &str)] = &[
    ("cameo.js", include_str!("../../sdk/js/cameo.js")),
    (
        "cameo_errors.js",
        include_str!("../../sdk/js/cameo_errors.js"),
    ),
    ("cameo_utf8.js", include_str!("../../sdk/js/cameo_utf8.js")),
    ("cameo_json.js", include_str!("../../sdk/js/cameo_json.js")),
    (
        "cameo_json_value.js",
        include_str!("../../sdk/js/cameo_json_value.js"),
    ),
    (
        "cameo_json_write.js",
        include_str!("../../sdk/js/cameo_json_write.js"),
    ),
    (
        "cameo_events.js",
        include_str!("../../sdk/js/cameo_events.js"),
    ),
    ("cameo_text.js", include_str!("../../sdk/js/cameo_text.js")),
    ("cameo_host.js", include_str!("../../sdk/js/cameo_host.js")),
    (
        "cameo_window.js",
        include_str!("../../sdk/js/cameo_window.js"),
    ),
    (
        "cameo_unicode.js",
        include_str!("../../sdk/js/cameo_unicode.js"),
    ),
];

const C: &[(&str, &str)] = &[
    ("cameo.h", include_str!("../../sdk/c/cameo.h")),
    ("cameo_json.h", include_str!("../../sdk/c/cameo_json.h")),
    ("cameo_number.h", include_str!("../../sdk/c/cameo_number.h")),
    (
        "cameo_unicode.h",
        include_str!("../../sdk/c/cameo_unicode.h"),
    ),
    ("cameo_window.h", include_str!("../../sdk/c/cameo_window.h")),
];

/// The SDK files of `language`, by name (none for Rust, whose SDK is a crate).
pub(crate) fn files(language: Language) -> &'static [(&'static str, &'static str)] {
    match language {
        Language::Rust => &[],
        Language::Python => PYTHON,
        Language::JavaScript => JS,
        Language::C => C,
    }
}
