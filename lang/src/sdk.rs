//! The WIT package and the SDK files of each language, embedded so that a build needs nothing
//! from a cameo checkout.

use crate::Language;

/// The `cameo:operator` WIT package.
pub(crate) const WIT: &str = include_str!("../../wit/operator.wit");

/// Where the WIT package goes in a staging directory.
pub(crate) const WIT_PATH: &str = "wit/operator.wit";

const PYTHON: &[(&str, &str)] = &[
    ("cameo.py", include_str!("../../sdk/python/cameo.py")),
    (
        "cameo_unicode.py",
        include_str!("../../sdk/python/cameo_unicode.py"),
    ),
];

const JS: &[(&str, &str)] = &[
    ("cameo.js", include_str!("../../sdk/js/cameo.js")),
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
