//! `GET /v1/jobs/{id}/logs`: the lines a job's operators logged or printed, from its log
//! ring, as NDJSON; with `follow=1` the answer stays open and streams new lines until the
//! job ends or the client goes.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use http_body::Frame;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::jobs;
use crate::logs::Read;

/// Most lines one answer (or one step of a followed answer) carries.
const MAX_LINES: usize = 10_000;

/// How often a followed answer looks for new lines.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);

/// The header that carries how many lines the ring dropped.
pub const DROPPED_HEADER: &str = "x-cameo-dropped-lines";

/// The query of `GET /v1/jobs/{id}/logs`.
#[derive(Debug, Deserialize)]
pub struct LogsQuery {
    /// Only lines whose `seq` is above this.
    #[serde(default)]
    pub since: u64,
    /// Keep the answer open and stream new lines until the job ends.
    #[serde(default)]
    pub follow: FollowFlag,
    /// At most this many lines (and at most 10 000) when not following.
    pub limit: Option<usize>,
}

/// `follow=1`, `follow=true` or absent.
#[derive(Debug, Default, Clone, Copy)]
pub struct FollowFlag(pub bool);

impl<'de> Deserialize<'de> for FollowFlag {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.as_str() {
            "1" | "true" => Ok(FollowFlag(true)),
            "0" | "false" | "" => Ok(FollowFlag(false)),
            other => Err(serde::de::Error::custom(format!(
                "follow must be 1 or 0 (or true or false), not `{other}`"
            ))),
        }
    }
}

/// A body fed line batches from a channel.
pub struct Streamed(pub tokio::sync::mpsc::Receiver<Bytes>);

impl http_body::Body for Streamed {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.get_mut()
            .0
            .poll_recv(cx)
            .map(|batch| batch.map(|bytes| Ok(Frame::data(bytes))))
    }
}

async fn read(state: &AppState, id: &str, since: u64, limit: usize) -> Result<Read, ApiError> {
    let logs = Arc::clone(&state.logs);
    let id = id.to_string();
    tokio::task::spawn_blocking(move || logs.read(&id, since, limit))
        .await
        .map_err(|err| ApiError::internal(format!("reading the log failed: {err}")))?
        .map_err(|err| ApiError::internal(format!("the job's log could not be read: {err}")))
}

/// `GET /v1/jobs/{id}/logs[?since=SEQ][&follow=1][&limit=N]`.
pub async fn logs(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Query(query): Query<LogsQuery>,
) -> Result<Response, ApiError> {
    who.require(Role::Read, "read logs")?;
    jobs::tenant_job(&state, &who, &id)?;
    let limit = query.limit.unwrap_or(MAX_LINES).min(MAX_LINES);
    let first = read(&state, &id, query.since, limit).await?;
    let dropped = HeaderValue::from(first.dropped);
    let body = if query.follow.0 {
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
        tokio::spawn(follow(state, id, query.since, first, tx));
        Body::new(Streamed(rx))
    } else {
        Body::from(first.text)
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    headers.insert(DROPPED_HEADER, dropped);
    Ok(response)
}

/// Sends `first`, then new lines as they come, until the job is over and its log read, or
/// the client is gone.
async fn follow(
    state: AppState,
    id: String,
    mut since: u64,
    first: Read,
    tx: tokio::sync::mpsc::Sender<Bytes>,
) {
    let mut batch = first;
    loop {
        if let Some(last) = batch.last_seq {
            since = last;
            if tx.send(Bytes::from(batch.text)).await.is_err() {
                return;
            }
        } else {
            // Lines are written before a job is recorded as over: read once more after.
            let over = !state.jobs.is_running(&id);
            if over || tx.is_closed() {
                if over && let Ok(last) = read(&state, &id, since, MAX_LINES).await {
                    let _ = tx.send(Bytes::from(last.text)).await;
                }
                return;
            }
            tokio::time::sleep(FOLLOW_EVERY).await;
        }
        batch = match read(&state, &id, since, MAX_LINES).await {
            Ok(batch) => batch,
            Err(err) => {
                tracing::warn!("following the log of job {id} stopped: {err}");
                return;
            }
        };
    }
}
