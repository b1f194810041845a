//! The client's config file: the server and token `cameo login` saved.

use std::path::PathBuf;

use anyhow::Context as _;

/// What the config file holds.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// The server's URL.
    pub server: Option<String>,
    /// The token.
    pub token: Option<String>,
}

/// Where the config file is: `$CAMEO_CONFIG`, else `$XDG_CONFIG_HOME/cameo/config.toml`,
/// else `~/.config/cameo/config.toml`.
pub fn path() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("CAMEO_CONFIG").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("cameo/config.toml"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("HOME is not set, so there is no config file; pass --server and --token")?;
    Ok(PathBuf::from(home).join(".config/cameo/config.toml"))
}

/// The config file's content, or the default when there is none.
pub fn load() -> anyhow::Result<ClientConfig> {
    let path = path()?;
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).with_context(|| {
            format!(
                "the config file {} is not valid; fix it or run `cameo login` again",
                path.display()
            )
        }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(ClientConfig::default()),
        Err(err) => Err(err).with_context(|| format!("could not read {}", path.display())),
    }
}

/// Writes the config file, readable only by its owner (it holds a token).
pub fn save(config: &ClientConfig) -> anyhow::Result<PathBuf> {
    use std::io::Write as _;
    let path = path()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .with_context(|| format!("could not write {}", path.display()))?;
    file.write_all(toml::to_string(config)?.as_bytes())
        .with_context(|| format!("could not write {}", path.display()))?;
    Ok(path)
}
