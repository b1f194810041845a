//! The Unicode tables that make every SDK split and lower-case words exactly as Rust does.
//!
//! Rust's `char::is_alphanumeric` (Unicode `Alphabetic` or `Numeric`) and
//! `str::to_lowercase` follow the Unicode version of the Rust toolchain; Python's `str.isalnum`
//! misses the combining marks that `Alphabetic` counts, JavaScript engines and wasi-libc carry
//! other Unicode versions, and wasi-libc's `towlower` knows no multi-character mappings. So
//! each SDK carries tables generated here from Rust itself: `sdk/python/cameo_unicode.py`,
//! `sdk/js/cameo_unicode.js` and `sdk/c/cameo_unicode.h`. A test regenerates them and fails
//! when they differ from the files (run it with `CAMEO_BLESS=1` to rewrite them).
//!
//! The tables hold, for word characters only (what a word is made of):
//! - `ALNUM`: the ranges of characters that are alphanumeric, as inclusive pairs;
//! - `LOWER`: every word character whose lower case is not itself, with its lower case (one
//!   or two characters);
//! - `CASED`: the ranges of word characters that have case, which decide whether a capital
//!   sigma ends a word (`ς`) or not (`σ`), as Rust's `to_lowercase` does.

use std::fmt::Write as _;

/// One entry of the lower-case table: a character and its lower case.
pub struct Lower {
    /// The character.
    pub from: u32,
    /// Its lower case, one or two characters.
    pub to: Vec<u32>,
}

/// The tables, computed from the running Rust's Unicode data.
pub struct Tables {
    /// Inclusive ranges of alphanumeric characters.
    pub alnum: Vec<(u32, u32)>,
    /// Word characters whose lower case differs from them, in code point order.
    pub lower: Vec<Lower>,
    /// Inclusive ranges of word characters that have case.
    pub cased: Vec<(u32, u32)>,
}

/// Computes the tables.
pub fn tables() -> Tables {
    let chars = || (0..=0x10FFFFu32).filter_map(char::from_u32);
    let alnum = ranges(chars().filter(|c| c.is_alphanumeric()));
    let lower = chars()
        .filter(|c| c.is_alphanumeric())
        .filter_map(|c| {
            let to: Vec<u32> = c.to_lowercase().map(u32::from).collect();
            (to != [u32::from(c)]).then_some(Lower {
                from: u32::from(c),
                to,
            })
        })
        .collect();
    let cased = ranges(chars().filter(|c| {
        c.is_alphanumeric()
            && (c.is_lowercase()
                || c.is_uppercase()
                || c.to_lowercase().ne(std::iter::once(*c))
                || c.to_uppercase().ne(std::iter::once(*c)))
    }));
    Tables {
        alnum,
        lower,
        cased,
    }
}

fn ranges(chars: impl Iterator<Item = char>) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for c in chars.map(u32::from) {
        match out.last_mut() {
            Some((_, end)) if *end + 1 == c => *end = c,
            // Surrogates are no chars: ranges may span them.
            Some((_, end)) if *end == 0xD7FF && c == 0xE000 => *end = c,
            _ => out.push((c, c)),
        }
    }
    out
}

const HEADER: &str = "Generated from Rust's char::is_alphanumeric and str::to_lowercase by \
                      cameo-lang's unicode module; do not edit (see lang/src/unicode.rs).";

fn flat(ranges: &[(u32, u32)]) -> String {
    let mut text = String::new();
    for (i, (start, end)) in ranges.iter().enumerate() {
        if i % 6 == 0 {
            text.push_str("\n    ");
        } else {
            text.push(' ');
        }
        let _ = write!(text, "0x{start:x}, 0x{end:x},");
    }
    text
}

impl Tables {
    /// `sdk/python/cameo_unicode.py`.
    pub fn python(&self) -> String {
        let mut text = format!(
            "# {HEADER}\n\nALNUM = ({}\n)\n\nLOWER = {{",
            flat(&self.alnum)
        );
        for (i, entry) in self.lower.iter().enumerate() {
            text.push_str(if i % 4 == 0 { "\n    " } else { " " });
            let to: String = entry.to.iter().map(|c| format!("\\U{c:08x}")).collect();
            let _ = write!(text, "0x{:x}: \"{to}\",", entry.from);
        }
        let _ = write!(text, "\n}}\n\nCASED = ({}\n)\n", flat(&self.cased));
        text
    }

    /// `sdk/js/cameo_unicode.js`.
    pub fn js(&self) -> String {
        let mut text = format!(
            "// {HEADER}\n\nexport const ALNUM = [{}\n];\n\n// Pairs of a code point and its lower case.\nexport const LOWER = [",
            flat(&self.alnum)
        );
        for (i, entry) in self.lower.iter().enumerate() {
            text.push_str(if i % 4 == 0 { "\n    " } else { " " });
            let to: String = entry.to.iter().map(|c| format!("\\u{{{c:x}}}")).collect();
            let _ = write!(text, "0x{:x}, \"{to}\",", entry.from);
        }
        let _ = write!(
            text,
            "\n];\n\nexport const CASED = [{}\n];\n",
            flat(&self.cased)
        );
        text
    }

    /// `sdk/c/cameo_unicode.h`.
    pub fn c(&self) -> String {
        let mut text = format!(
            "/* {HEADER} */\n#ifndef CAMEO_UNICODE_H\n#define CAMEO_UNICODE_H\n\n#include <stdint.h>\n\n\
             /* Inclusive ranges of alphanumeric characters, flattened. */\n\
             static const uint32_t cameo_alnum[] = {{{}\n}};\n\n\
             /* A character, its lower case, and a second character of it or 0. */\n\
             static const uint32_t cameo_lower[][3] = {{",
            flat(&self.alnum)
        );
        for (i, entry) in self.lower.iter().enumerate() {
            text.push_str(if i % 4 == 0 { "\n    " } else { " " });
            let second = entry.to.get(1).copied().unwrap_or(0);
            let first = entry.to.first().copied().unwrap_or(0);
            let _ = write!(text, "{{0x{:x}, 0x{first:x}, 0x{second:x}}},", entry.from);
        }
        let _ = write!(
            text,
            "\n}};\n\n/* Inclusive ranges of word characters that have case, flattened. */\n\
             static const uint32_t cameo_cased[] = {{{}\n}};\n\n#endif\n",
            flat(&self.cased)
        );
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SDKs' tables are the ones this Rust generates; `CAMEO_BLESS=1` rewrites them.
    #[test]
    fn sdk_tables_match_rust() {
        let tables = tables();
        let sdk = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
        let files = [
            ("python/cameo_unicode.py", tables.python()),
            ("js/cameo_unicode.js", tables.js()),
            ("c/cameo_unicode.h", tables.c()),
        ];
        let bless = std::env::var_os("CAMEO_BLESS").is_some();
        for (name, generated) in files {
            let path = sdk.join(name);
            if bless {
                std::fs::write(&path, &generated).unwrap();
            }
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                committed == generated,
                "sdk/{name} is not what Rust's Unicode tables give: run \
                 `CAMEO_BLESS=1 cargo test -p cameo-lang sdk_tables_match_rust`"
            );
        }
    }

    #[test]
    fn tables_hold_what_rust_says() {
        let tables = tables();
        let alnum = |c: u32| tables.alnum.iter().any(|(s, e)| (*s..=*e).contains(&c));
        assert!(alnum('a' as u32) && alnum('é' as u32) && alnum('٣' as u32));
        // A Devanagari vowel sign: Alphabetic for Rust, not a letter for Python's isalnum.
        assert!(alnum(0x093F));
        assert!(!alnum(' ' as u32) && !alnum('-' as u32));
        let dotted_i = tables.lower.iter().find(|l| l.from == 0x130).unwrap();
        assert_eq!(dotted_i.to, [0x69, 0x307]);
    }
}
