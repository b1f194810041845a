//! Where `cameo run` and `cameo operator test` keep compiled operator code between runs.
//!
//! Compiling a component is the slow part of starting a job (seconds for a Python or
//! JavaScript operator, whose component holds a whole interpreter), so compiled code is kept
//! by the component's sha256 and the engine's compatibility hash, and loaded next time in
//! milliseconds. An entry whose content no longer matches the hash written beside it is
//! compiled again, never trusted.

use std::path::PathBuf;

/// The environment variable that moves the cache, as `--cache-dir` does.
pub const CACHE_DIR_ENV: &str = "CAMEO_CACHE_DIR";

/// The flags that choose the compiled-code cache.
#[derive(Debug, clap::Args)]
pub struct CacheArgs {
    /// Keep compiled operator code in this directory and load it from there next time
    /// [default: $CAMEO_CACHE_DIR, else $XDG_CACHE_HOME/cameo/compiled, else
    /// ~/.cache/cameo/compiled]. `CAMEO_LOG=compiled_cache=info` shows, per module, whether
    /// its code was loaded or compiled.
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile every operator, reading and writing no cache.
    #[arg(long, conflicts_with = "cache_dir")]
    no_cache: bool,
}

impl CacheArgs {
    /// The directory to use, if any: the flag, else the environment, else the user's cache
    /// directory; none with --no-cache, or when no home directory is known.
    pub fn dir(&self) -> Option<PathBuf> {
        if self.no_cache {
            return None;
        }
        let env = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
        self.cache_dir.clone().or_else(|| {
            default_dir(
                env(CACHE_DIR_ENV),
                env("XDG_CACHE_HOME"),
                env("HOME").map(PathBuf::from),
            )
        })
    }
}

/// The cache directory from the environment: `CAMEO_CACHE_DIR` as given, else
/// `cameo/compiled` in the XDG cache directory, else in `~/.cache`.
fn default_dir(
    explicit: Option<std::ffi::OsString>,
    xdg_cache: Option<std::ffi::OsString>,
    home: Option<PathBuf>,
) -> Option<PathBuf> {
    if let Some(dir) = explicit {
        return Some(PathBuf::from(dir));
    }
    let base = xdg_cache
        .map(PathBuf::from)
        // The XDG specification ignores a relative path.
        .filter(|dir| dir.is_absolute())
        .or_else(|| home.map(|home| home.join(".cache")))?;
    Some(base.join("cameo").join("compiled"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_is_the_explicit_one_then_xdg_then_home() {
        let home = Some(PathBuf::from("/home/ada"));
        assert_eq!(
            default_dir(Some("/tmp/c".into()), Some("/x".into()), home.clone()),
            Some(PathBuf::from("/tmp/c"))
        );
        assert_eq!(
            default_dir(None, Some("/x".into()), home.clone()),
            Some(PathBuf::from("/x/cameo/compiled"))
        );
        assert_eq!(
            default_dir(None, Some("relative".into()), home.clone()),
            Some(PathBuf::from("/home/ada/.cache/cameo/compiled"))
        );
        assert_eq!(default_dir(None, None, None), None);
    }
}
