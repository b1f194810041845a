//! The `--window` flag: host-managed windows written on the command line.

use std::fmt;
use std::str::FromStr;

/// A window as `--window` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowFlag {
    /// `tumbling:SIZE_MS`.
    Tumbling {
        /// Window length.
        size_ms: u64,
    },
    /// `sliding:SIZE_MS:SLIDE_MS`.
    Sliding {
        /// Window length.
        size_ms: u64,
        /// Distance between window starts.
        slide_ms: u64,
    },
    /// `session:GAP_MS`.
    Session {
        /// Inactivity that closes a session.
        gap_ms: u64,
    },
}

/// The flag's forms, for errors.
const FORMS: &str = "tumbling:SIZE_MS, sliding:SIZE_MS:SLIDE_MS or session:GAP_MS \
                     (e.g. tumbling:60000)";

impl FromStr for WindowFlag {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split(':').collect();
        let number = |part: &str| -> Result<u64, String> {
            match part.trim().parse::<u64>() {
                Ok(ms) if ms > 0 => Ok(ms),
                _ => Err(format!(
                    "`{part}` in --window {text} is not a number of milliseconds above 0; \
                     write {FORMS}"
                )),
            }
        };
        match parts.as_slice() {
            ["tumbling", size] => Ok(WindowFlag::Tumbling {
                size_ms: number(size)?,
            }),
            ["sliding", size, slide] => Ok(WindowFlag::Sliding {
                size_ms: number(size)?,
                slide_ms: number(slide)?,
            }),
            ["session", gap] => Ok(WindowFlag::Session {
                gap_ms: number(gap)?,
            }),
            _ => Err(format!("`{text}` is not a window: write {FORMS}")),
        }
    }
}

impl WindowFlag {
    /// The `window` inline table of a job spec, with `allowed_lateness_ms`.
    pub fn spec_table(&self, allowed_lateness_ms: u64) -> String {
        format!("{{ {self}, allowed_lateness_ms = {allowed_lateness_ms} }}")
    }
}

impl fmt::Display for WindowFlag {
    /// The fields of the spec's window table.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WindowFlag::Tumbling { size_ms } => {
                write!(f, "kind = \"tumbling\", size_ms = {size_ms}")
            }
            WindowFlag::Sliding { size_ms, slide_ms } => write!(
                f,
                "kind = \"sliding\", size_ms = {size_ms}, slide_ms = {slide_ms}"
            ),
            WindowFlag::Session { gap_ms } => write!(f, "kind = \"session\", gap_ms = {gap_ms}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_read_in_each_form() {
        assert_eq!(
            "tumbling:1000".parse(),
            Ok(WindowFlag::Tumbling { size_ms: 1000 })
        );
        assert_eq!(
            "sliding:1000:250".parse(),
            Ok(WindowFlag::Sliding {
                size_ms: 1000,
                slide_ms: 250
            })
        );
        assert_eq!(
            "session:50".parse::<WindowFlag>().map(|w| w.spec_table(5)),
            Ok("{ kind = \"session\", gap_ms = 50, allowed_lateness_ms = 5 }".to_string())
        );
    }

    #[test]
    fn a_bad_window_names_the_forms() {
        assert_eq!(
            "hopping:5".parse::<WindowFlag>(),
            Err(format!("`hopping:5` is not a window: write {FORMS}"))
        );
        assert_eq!(
            "tumbling:0".parse::<WindowFlag>(),
            Err(format!(
                "`0` in --window tumbling:0 is not a number of milliseconds above 0; write {FORMS}"
            ))
        );
    }
}
