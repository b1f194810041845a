//! `GET /v1/jobs/{id}/sinks/{name}`: an http sink's output as NDJSON with its `seq`, read
//! once, or with `follow=1` streamed as it is written until the job stops here.
//!
//! A followed answer reads the output again only when the job's count of delivered events
//! has moved (an atomic read a few milliseconds apart, no file access meanwhile). A reader
//! cut off by a restart asks again with `after=` the last `seq` it got: the output resumes
//! from the checkpoint with the same `seq`s, so it sees no gap and no duplicate.

use std::path::PathBuf;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::logs::{FollowFlag, Streamed};
use super::tail;
use crate::AppState;
use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::jobs;

/// Most lines one read of a sink returns (one step of a followed answer).
pub const MAX_TAIL_LINES: usize = 10_000;

/// How often a followed answer looks whether the job delivered more events.
const WATCH_EVERY: Duration = Duration::from_millis(5);

/// The header of a sink's answer naming the oldest `seq` still kept (empty while there is
/// none): a reader that asked for output before it lost what was in between.
pub const FIRST_SEQ_HEADER: &str = "x-cameo-first-seq";

/// The query of `GET /v1/jobs/{id}/sinks/{name}` (and of the dead letters, without
/// `follow`).
#[derive(Debug, Deserialize)]
pub struct TailQuery {
    /// Only events whose `seq` is above this.
    pub after: Option<u64>,
    /// At most this many lines (and at most 10 000) per answer, or per step when following.
    pub limit: Option<usize>,
    /// Keep the answer open and stream new output until the job stops here.
    #[serde(default)]
    pub follow: FollowFlag,
}

/// The output of one sink, read in steps.
#[derive(Clone)]
struct Output {
    path: PathBuf,
    limit: usize,
}

impl Output {
    /// The lines after `after` (at most `limit`) and the oldest `seq` kept.
    async fn read(&self, after: Option<u64>) -> Result<(String, Option<u64>), ApiError> {
        let path = self.path.clone();
        let limit = self.limit;
        tokio::task::spawn_blocking(move || {
            let segments: Vec<PathBuf> = cameo_host::outlet_segments(&path)
                .map_err(|err| {
                    ApiError::internal(format!("the sink's output could not be listed: {err}"))
                })?
                .into_iter()
                .map(|(_, file)| file)
                .collect();
            let first = segments.first().and_then(|file| tail::first_seq(file));
            Ok((tail::read_after(&segments, after, limit)?, first))
        })
        .await
        .map_err(|err| ApiError::internal(format!("reading the sink failed: {err}")))?
    }
}

/// The `seq` of the last line of `text`, if any.
fn last_seq(text: &str) -> Option<u64> {
    let line = text.trim_end_matches('\n').rsplit('\n').next()?;
    serde_json::from_str::<serde_json::Value>(line).ok()?["seq"].as_u64()
}

/// `GET /v1/jobs/{id}/sinks/{name}[?after=SEQ][&limit=N][&follow=1]`.
pub async fn tail(
    State(state): State<AppState>,
    who: Principal,
    Path((id, sink)): Path<(String, String)>,
    Query(query): Query<TailQuery>,
) -> Result<Response, ApiError> {
    who.require(Role::Read, "read sinks")?;
    let job = jobs::tenant_job(&state, &who, &id)?;
    let path = jobs::outlet_path(&state, &id, &sink);
    // Only an http sink has an output file; without one, the spec says whether the sink is
    // one that has written nothing yet (read often while a job runs: the file is checked
    // first).
    if !path.exists() {
        let spec = jobs::parse_spec(&job.spec)?;
        let is_http = spec
            .sinks
            .iter()
            .any(|s| s.name.get_ref() == &sink && *s.kind.get_ref() == cameo_host::SinkKind::Http);
        if !is_http {
            return Err(ApiError::not_found(format!(
                "job {id} has no http sink \"{sink}\"; only sinks of kind \"http\" can be read"
            )));
        }
    }
    let output = Output {
        path,
        limit: query.limit.unwrap_or(MAX_TAIL_LINES).min(MAX_TAIL_LINES),
    };
    // Taken before the first read: output delivered after it moves the count.
    let seen = state.jobs.events_out(&id);
    let (text, first) = output.read(query.after).await?;
    let body = if query.follow.0 {
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
        tokio::spawn(follow(state, id, output, query.after, seen, text, tx));
        Body::new(Streamed(rx))
    } else {
        Body::from(text)
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    let first = first.map_or(HeaderValue::from_static(""), HeaderValue::from);
    headers.insert(HeaderName::from_static(FIRST_SEQ_HEADER), first);
    Ok(response)
}

/// Sends `text`, then the output written after it, until a read made once the job no
/// longer ran here finds nothing new, or the client is gone.
async fn follow(
    state: AppState,
    id: String,
    output: Output,
    mut after: Option<u64>,
    mut seen: Option<u64>,
    mut text: String,
    tx: tokio::sync::mpsc::Sender<Bytes>,
) {
    loop {
        if !text.is_empty() {
            after = last_seq(&text).or(after);
            if tx.send(Bytes::from(text)).await.is_err() {
                return;
            }
        } else {
            let Some(before) = seen else {
                // Read after the job stopped here: there is no more.
                return;
            };
            loop {
                tokio::time::sleep(WATCH_EVERY).await;
                if tx.is_closed() {
                    return;
                }
                if state.jobs.events_out(&id) != Some(before) {
                    break;
                }
            }
        }
        seen = state.jobs.events_out(&id);
        text = match output.read(after).await {
            Ok((text, _)) => text,
            Err(err) => {
                tracing::warn!("following a sink of job {id} stopped: {err}");
                return;
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_seq_is_that_of_the_last_line() {
        assert_eq!(last_seq("{\"seq\":4}\n{\"seq\":5,\"v\":1}\n"), Some(5));
        assert_eq!(last_seq(""), None);
    }
}
