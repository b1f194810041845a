//! Job specs as a server takes them: TOML or JSON, with only the inputs and outputs a shared
//! server allows.

use std::path::PathBuf;

use cameo_host::JobSpec;

use crate::error::ApiError;

/// A job spec as TOML: `text` as is, or converted from JSON when it is a JSON object.
pub fn spec_text(body: &[u8]) -> Result<String, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("the job spec is not UTF-8 text; send TOML or JSON"))?;
    if !text.trim_start().starts_with('{') {
        return Ok(text.to_string());
    }
    let json: serde_json::Value = serde_json::from_str(text).map_err(|err| {
        ApiError::bad_request(format!(
            "the job spec is not valid JSON: {err}; send TOML or JSON"
        ))
    })?;
    let value = toml::Value::try_from(json).map_err(|err| {
        ApiError::bad_request(format!(
            "the JSON job spec cannot be read as a spec ({err}); null values are not allowed"
        ))
    })?;
    toml::to_string(&value).map_err(|err| {
        ApiError::bad_request(format!(
            "the JSON job spec cannot be read as a spec: {err}; its top level must be an object"
        ))
    })
}

/// Parses a spec for the server: what the user wrote, with only the inputs and outputs a
/// shared server allows (no files or terminals of the server's machine).
pub fn parse_spec(text: &str) -> Result<JobSpec, ApiError> {
    let spec = JobSpec::parse(text, "job.toml", PathBuf::new())
        .map_err(|err| ApiError::unprocessable(err.to_string()))?;
    for source in &spec.sources {
        let kind = *source.kind.get_ref();
        if !matches!(
            kind,
            cameo_host::SourceKind::Http | cameo_host::SourceKind::Generator
        ) {
            return Err(ApiError::unprocessable(format!(
                "source \"{}\" reads from the server's machine, which a server does not allow; \
                 use kind = \"http\" and send events with `cameo send`, or a generator",
                source.name.get_ref()
            )));
        }
    }
    for sink in &spec.sinks {
        let kind = *sink.kind.get_ref();
        if !matches!(
            kind,
            cameo_host::SinkKind::Http | cameo_host::SinkKind::Discard
        ) {
            return Err(ApiError::unprocessable(format!(
                "sink \"{}\" writes on the server's machine, which a server does not allow; use \
                 kind = \"http\" and read it with `cameo tail`, or kind = \"discard\"",
                sink.name.get_ref()
            )));
        }
    }
    if spec.dead_letter.is_some() {
        return Err(ApiError::unprocessable(
            "`dead_letter` writes a file on the server's machine, which a server does not \
             allow; remove it: the server keeps every job's dead letters, read them with `cameo job \
             dead-letters JOB` (GET /v1/jobs/{id}/dead-letters)",
        ));
    }
    Ok(spec)
}
