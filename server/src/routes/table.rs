//! Every route of the API in one table: its method, path, handler and what the OpenAPI
//! document says of it. The router and `/v1/openapi.json` are both made from this table, so
//! a route cannot be served without being described, nor described without being served.

use axum::routing::{MethodRouter, delete, get, post, put};

use super::{
    console, health, jobs, logs, metrics, modules, openapi, operators, series, sinks, tenants,
};
use crate::AppState;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token.
    Public,
    /// A token of at least this role (`read`, `operate`, `deploy`, `admin`).
    Role(&'static str),
    /// Only the server's admin token (the system tenant's admin).
    SystemAdmin,
}

/// What a request carries besides its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Nothing.
    None,
    /// A body of this content type, described.
    Body(&'static str, &'static str),
}

/// One route.
pub struct Endpoint {
    /// `GET`, `POST`, `PUT` or `DELETE`.
    pub method: &'static str,
    /// The path, with `{name}` for path parameters.
    pub path: &'static str,
    /// A short summary.
    pub summary: &'static str,
    /// Who may call it.
    pub access: Access,
    /// Query parameters: name and description.
    pub query: &'static [(&'static str, &'static str)],
    /// The request body.
    pub input: Input,
    /// The content type of a successful answer.
    pub output: &'static str,
    /// Statuses it answers besides the common ones, with what each means.
    pub statuses: &'static [(u16, &'static str)],
    /// The handler, for the router.
    pub handler: MethodRouter<AppState>,
}

const JSON: &str = "application/json";
const NDJSON: &str = "application/x-ndjson";
const TEXT: &str = "text/plain";

/// A route with no query, no body and a JSON answer.
fn json(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    access: Access,
    handler: MethodRouter<AppState>,
) -> Endpoint {
    Endpoint {
        method,
        path,
        summary,
        access,
        query: &[],
        input: Input::None,
        output: JSON,
        statuses: &[],
        handler,
    }
}

/// Every route of the API.
pub fn endpoints() -> Vec<Endpoint> {
    use Access::{Public, Role, SystemAdmin};
    vec![
        Endpoint {
            output: TEXT,
            ..json(
                "GET",
                "/healthz",
                "`ok` while the process serves",
                Public,
                get(health::healthz),
            )
        },
        Endpoint {
            output: TEXT,
            statuses: &[(503, "the jobs of the last run are still being resumed")],
            ..json(
                "GET",
                "/readyz",
                "200 once the jobs of the last run are resumed",
                Public,
                get(health::readyz),
            )
        },
        Endpoint {
            output: "text/plain; version=0.0.4",
            ..json(
                "GET",
                "/metrics",
                "Prometheus text format: the caller's tenant's series, or every tenant's for \
                 the server's admin",
                Role("read"),
                get(metrics::metrics),
            )
        },
        Endpoint {
            output: "text/html",
            ..json("GET", "/", "The web console", Public, get(console::index))
        },
        Endpoint {
            output: "text/javascript",
            statuses: &[(404, "the console has no such file")],
            ..json(
                "GET",
                "/console/{file}",
                "The web console's scripts (`app.js`, `job.js`, `chart.js`, `graph.js`) and \
                 style (`style.css`)",
                Public,
                get(console::file),
            )
        },
        json(
            "GET",
            "/v1/whoami",
            "The token's tenant and role",
            Role("read"),
            get(console::whoami),
        ),
        json(
            "GET",
            "/v1/openapi.json",
            "This document",
            Public,
            get(openapi::serve),
        ),
        Endpoint {
            input: Input::Body(JSON, "`{\"name\", \"quotas\"?}`"),
            statuses: &[(201, "the tenant"), (409, "the tenant exists")],
            ..json(
                "POST",
                "/v1/tenants",
                "Create a tenant",
                SystemAdmin,
                post(tenants::create),
            )
        },
        json(
            "GET",
            "/v1/tenants",
            "Every tenant",
            SystemAdmin,
            get(tenants::list),
        ),
        Endpoint {
            input: Input::Body(
                JSON,
                "any of `{\"modules\", \"bytes\", \"running_jobs\", \"instances\", \
                 \"events_per_s\", \"bytes_per_s\"}`",
            ),
            statuses: &[(404, "no such tenant")],
            ..json(
                "PUT",
                "/v1/tenants/{name}/quotas",
                "Change a tenant's quotas (the others stay); answers the tenant",
                SystemAdmin,
                put(tenants::set_quotas),
            )
        },
        Endpoint {
            input: Input::Body(JSON, "`{\"role\"}`"),
            statuses: &[(
                201,
                "`{\"tenant\", \"role\", \"token\"}`, the token shown once",
            )],
            ..json(
                "POST",
                "/v1/tenants/{name}/tokens",
                "Make a token for a tenant (its admin, or the server's)",
                Role("admin"),
                post(tenants::token),
            )
        },
        json(
            "GET",
            "/v1/modules",
            "The tenant's modules and their versions",
            Role("read"),
            get(modules::list),
        ),
        Endpoint {
            input: Input::Body("application/wasm", "the component's bytes"),
            statuses: &[
                (201, "the new version"),
                (413, "over the server's module size limit"),
                (422, "not a valid operator component, with the reason"),
            ],
            ..json(
                "POST",
                "/v1/modules/{name}",
                "Push a component as the module's next version (identical bytes: the \
                 existing version, 200)",
                Role("deploy"),
                post(modules::push),
            )
        },
        json(
            "GET",
            "/v1/modules/{name}",
            "One module and its versions",
            Role("read"),
            get(modules::show),
        ),
        Endpoint {
            query: &[("version", "remove only this version")],
            statuses: &[(409, "a running or paused job uses it")],
            ..json(
                "DELETE",
                "/v1/modules/{name}",
                "Remove a module, or one version of it",
                Role("deploy"),
                delete(modules::remove),
            )
        },
        Endpoint {
            query: &[
                (
                    "from_offset",
                    "its http sources start reading from this line (0: the first)",
                ),
                (
                    "from_time",
                    "its http sources leave out the events before this event time (ms; they \
                     need an event_time_field)",
                ),
            ],
            input: Input::Body("application/toml", "a job spec, TOML or the same as JSON"),
            statuses: &[
                (201, "the job"),
                (
                    422,
                    "the spec does not validate, or its sources cannot replay as asked, with \
                     the reason: no job is made",
                ),
            ],
            ..json(
                "POST",
                "/v1/jobs",
                "Submit a job",
                Role("operate"),
                post(jobs::submit),
            )
        },
        json(
            "GET",
            "/v1/jobs",
            "The tenant's jobs",
            Role("read"),
            get(jobs::list),
        ),
        json(
            "GET",
            "/v1/jobs/{id}",
            "A job: state, error, figures (live while it runs), http sources, the module \
             version each operator runs and its history",
            Role("read"),
            get(jobs::status),
        ),
        Endpoint {
            query: &[(
                "after",
                "only samples taken after this time, ms since the Unix epoch",
            )],
            ..json(
                "GET",
                "/v1/jobs/{id}/series",
                "A running job's figures over time, one sample a second (ten minutes kept): \
                 per interval, events in and out, deadline misses, latency p50/p99, and per \
                 operator calls, events, fuel per event, failures, restarts and call time \
                 p50/p99",
                Role("read"),
                get(series::series),
            )
        },
        Endpoint {
            statuses: &[(409, "the job is not running or paused")],
            ..json(
                "POST",
                "/v1/jobs/{id}/cancel",
                "Cancel a running or paused job",
                Role("operate"),
                post(jobs::cancel),
            )
        },
        Endpoint {
            statuses: &[(409, "the job is not running")],
            ..json(
                "POST",
                "/v1/jobs/{id}/pause",
                "Pause a job: its sources stop at a checkpoint barrier and it stops there",
                Role("operate"),
                post(jobs::pause),
            )
        },
        Endpoint {
            query: &[
                (
                    "from_offset",
                    "replay: http sources read on from this line instead of the checkpoint's",
                ),
                (
                    "from_time",
                    "replay: http sources leave out events before this event time (ms)",
                ),
            ],
            statuses: &[
                (409, "the job is not paused"),
                (422, "the job has no source that can replay as asked"),
            ],
            ..json(
                "POST",
                "/v1/jobs/{id}/resume",
                "Resume a paused job from its checkpoint",
                Role("operate"),
                post(jobs::resume),
            )
        },
        Endpoint {
            query: &[(
                "module",
                "the version to run: `name@N`, or `name` for the newest",
            )],
            statuses: &[
                (404, "the job has no such operator"),
                (
                    409,
                    "the job is not running, or the operator already runs that version",
                ),
                (
                    422,
                    "the version cannot run the operator (it does not load, lacks an export, \
                     or its init refuses the config): nothing changed",
                ),
                (
                    503,
                    "the switch is set but its checkpoint was not written in time; it takes \
                     effect when it is",
                ),
            ],
            ..json(
                "POST",
                "/v1/jobs/{id}/operators/{name}/upgrade",
                "Switch a running operator to another module version, keeping its state; \
                 answered once the checkpoint that carries the switch is written",
                Role("deploy"),
                post(operators::upgrade),
            )
        },
        Endpoint {
            statuses: &[
                (404, "the job has no such operator"),
                (
                    409,
                    "the job is not running, or the operator never changed version",
                ),
                (
                    422,
                    "the previous version cannot run the operator: nothing changed",
                ),
            ],
            ..json(
                "POST",
                "/v1/jobs/{id}/operators/{name}/rollback",
                "Switch a running operator back to the version it ran before, keeping its state",
                Role("deploy"),
                post(operators::rollback),
            )
        },
        Endpoint {
            query: &[(
                "module",
                "the version the shadow runs: `NAME@N`, or `NAME` for its newest",
            )],
            statuses: &[
                (404, "the job has no such operator"),
                (
                    409,
                    "the job is not running, or a shadow already runs beside the operator",
                ),
                (
                    422,
                    "the version cannot run the operator (does not load, lacks an export, \
                     or its init refuses the config): nothing started",
                ),
            ],
            ..json(
                "POST",
                "/v1/jobs/{id}/operators/{name}/shadow",
                "Run another version beside a running operator on a copy of its input and \
                 state (taken at the next checkpoint barrier), its output compared and never \
                 sent on",
                Role("deploy"),
                post(operators::shadow_start),
            )
        },
        Endpoint {
            statuses: &[
                (
                    404,
                    "the job has no such operator, or it never had a shadow",
                ),
                (409, "the job is not running here"),
            ],
            ..json(
                "GET",
                "/v1/jobs/{id}/operators/{name}/shadow",
                "The shadow run's report: outputs matched and differing per key, the first \
                 differing pairs, both versions' cost per event and call latency",
                Role("read"),
                get(operators::shadow_report),
            )
        },
        Endpoint {
            statuses: &[
                (
                    404,
                    "the job has no such operator, or no shadow runs beside it",
                ),
                (
                    409,
                    "the job is not running, or the operator already runs that version",
                ),
                (
                    422,
                    "the shadow's version cannot run the operator: nothing changed",
                ),
            ],
            ..json(
                "POST",
                "/v1/jobs/{id}/operators/{name}/shadow/promote",
                "Upgrade the operator to the version its shadow runs (as `upgrade` does); the \
                 shadow stops",
                Role("deploy"),
                post(operators::shadow_promote),
            )
        },
        Endpoint {
            statuses: &[
                (
                    404,
                    "the job has no such operator, or no shadow runs beside it",
                ),
                (409, "the job is not running"),
            ],
            ..json(
                "POST",
                "/v1/jobs/{id}/operators/{name}/shadow/stop",
                "Drop the shadow run beside the operator; answers its final report",
                Role("deploy"),
                post(operators::shadow_stop),
            )
        },
        Endpoint {
            query: &[("end", "`true`: end the source after these events")],
            input: Input::Body(NDJSON, "events, one JSON object (or plain line) per line"),
            statuses: &[
                (
                    409,
                    "the job is paused or not running, or the source was ended",
                ),
                (413, "over the server's batch size limit"),
                (
                    429,
                    "the job is behind, or the tenant is over its ingest rate (the message \
                     gives the numbers): nothing was taken; retry after `Retry-After`",
                ),
            ],
            ..json(
                "POST",
                "/v1/jobs/{id}/sources/{name}",
                "Send events to an http source; answered `{\"accepted\"}` once they are on disk",
                Role("operate"),
                post(jobs::send),
            )
        },
        Endpoint {
            query: &[
                ("after", "only events whose seq is above this"),
                (
                    "limit",
                    "at most this many lines (and 10 000), per step when following",
                ),
                (
                    "follow",
                    "1: keep the answer open and stream new output until the job stops here",
                ),
            ],
            output: NDJSON,
            ..json(
                "GET",
                "/v1/jobs/{id}/sinks/{name}",
                "An http sink's output, one event per line with its seq, from the tail it \
                 keeps; the header `x-cameo-first-seq` names the oldest seq kept; with \
                 `follow=1` the answer streams new output as it is written",
                Role("read"),
                get(sinks::tail),
            )
        },
        Endpoint {
            query: &[
                ("after", "only letters whose seq is above this"),
                ("limit", "at most this many lines (and 10 000)"),
            ],
            output: NDJSON,
            ..json(
                "GET",
                "/v1/jobs/{id}/dead-letters",
                "The job's dead letters: inputs whose call failed and input lines that made \
                 no event, one per line with its seq, operator and reason",
                Role("read"),
                get(jobs::dead_letters),
            )
        },
        Endpoint {
            query: &[
                ("since", "only lines whose seq is above this"),
                (
                    "follow",
                    "`1`: keep the answer open and stream new lines until the job ends",
                ),
                (
                    "limit",
                    "at most this many lines (and 10 000) when not following",
                ),
            ],
            output: NDJSON,
            ..json(
                "GET",
                "/v1/jobs/{id}/logs",
                "What the job's operators logged or printed, from its log ring; the header \
                 `x-cameo-dropped-lines` counts the lines the ring dropped",
                Role("read"),
                get(logs::logs),
            )
        },
    ]
}
