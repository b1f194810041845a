//! The quotas checked while jobs run: jobs and operator instances running at once, and the
//! rate at which a tenant sends events (events and bytes per second, a token bucket per
//! tenant kept in memory). The quotas on what a tenant stores are checked by the module
//! registry.
//!
//! The bucket of each rate holds at most one second of it. A batch is taken when the bucket
//! holds enough for it; a batch larger than one second of the rate is taken when the bucket
//! is full, and then leaves it owing the rest, so over any stretch of time the tenant sends
//! no more than its rates allow, whatever the size of its batches.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use cameo_host::JobSpec;

use crate::error::ApiError;
use crate::store::Quotas;

/// Operator instances a job spec runs.
pub fn instances_of(spec: &JobSpec) -> u64 {
    spec.operators
        .iter()
        .map(|o| *o.parallelism.get_ref() as u64)
        .sum()
}

/// Refuses (403, with the numbers) a job of `adding` operator instances that would take
/// `tenant` over its quota of running jobs or instances, when it runs `jobs` jobs of
/// `instances` instances now; `what` is what it was about to do (`submit`, `resume`).
pub fn check_running(
    tenant: &str,
    quotas: &Quotas,
    jobs: u64,
    instances: u64,
    adding: u64,
) -> Result<(), ApiError> {
    if jobs >= quotas.running_jobs {
        return Err(ApiError::forbidden(format!(
            "tenant \"{tenant}\" runs {jobs} jobs, its quota is {}; pause or cancel one with \
             `cameo job pause|cancel`, or ask the server's admin for a larger quota",
            quotas.running_jobs
        )));
    }
    if instances + adding > quotas.instances {
        return Err(ApiError::forbidden(format!(
            "tenant \"{tenant}\" runs {instances} operator instances and this job has \
             {adding}, over its quota of {}; lower the job's parallelism, pause or cancel a \
             job, or ask the server's admin for a larger quota",
            quotas.instances
        )));
    }
    Ok(())
}

/// What a tenant may still send now, by rate.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Events it may send now (negative: owed).
    events: f64,
    /// Bytes it may send now (negative: owed).
    bytes: f64,
    /// When the bucket was last filled.
    at: Instant,
}

/// The ingest-rate buckets of every tenant that sent something.
#[derive(Default)]
pub struct IngestLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// The seconds until `have` (refilled at `rate` per second) reaches `need`, at least 1.
fn wait_s(have: f64, need: f64, rate: f64) -> u64 {
    if rate <= 0.0 {
        return 1;
    }
    (((need - have) / rate).ceil() as u64).max(1)
}

impl IngestLimiter {
    /// Takes a batch of `events` events and `bytes` bytes from `tenant`'s rates, or refuses
    /// it (429 with `Retry-After` and the numbers) taking nothing.
    pub fn take(
        &self,
        tenant: &str,
        quotas: &Quotas,
        events: u64,
        bytes: u64,
    ) -> Result<(), ApiError> {
        let now = Instant::now();
        let (event_rate, byte_rate) = (quotas.events_per_s as f64, quotas.bytes_per_s as f64);
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let bucket = buckets.entry(tenant.to_string()).or_insert(Bucket {
            events: event_rate,
            bytes: byte_rate,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.events = (bucket.events + elapsed * event_rate).min(event_rate);
        bucket.bytes = (bucket.bytes + elapsed * byte_rate).min(byte_rate);
        bucket.at = now;
        // A batch over one second of a rate needs the full bucket.
        let need_events = (events as f64).min(event_rate);
        let need_bytes = (bytes as f64).min(byte_rate);
        if bucket.events >= need_events && bucket.bytes >= need_bytes {
            bucket.events -= events as f64;
            bucket.bytes -= bytes as f64;
            return Ok(());
        }
        let short = |have: f64, need: f64, rate: f64| {
            if have >= need {
                0
            } else {
                wait_s(have, need, rate)
            }
        };
        let wait = short(bucket.events, need_events, event_rate)
            .max(short(bucket.bytes, need_bytes, byte_rate))
            .max(1);
        Err(ApiError::too_many(
            format!(
                "tenant \"{tenant}\" may send {} events and {} bytes per second to its jobs; \
                 this batch of {events} events and {bytes} bytes is over what it may send now \
                 (nothing was taken); retry in {wait} s, send less at a time, or ask the \
                 server's admin for a larger quota",
                quotas.events_per_s, quotas.bytes_per_s
            ),
            Some(wait),
        ))
    }

    /// Gives back a batch taken by [`IngestLimiter::take`] that the job did not take after
    /// all.
    pub fn give_back(&self, tenant: &str, events: u64, bytes: u64) {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(bucket) = buckets.get_mut(tenant) {
            bucket.events += events as f64;
            bucket.bytes += bytes as f64;
        }
    }

    /// Forgets `tenant`'s bucket (its quotas changed): it starts full at the new rates.
    pub fn reset(&self, tenant: &str) {
        self.buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(tenant);
    }
}

/// Events in a batch: its lines, a last one without a line break included.
pub fn lines_in(text: &[u8]) -> u64 {
    let breaks = text.iter().filter(|b| **b == b'\n').count() as u64;
    breaks + u64::from(!text.is_empty() && text.last() != Some(&b'\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quotas(events_per_s: u64, bytes_per_s: u64) -> Quotas {
        Quotas {
            events_per_s,
            bytes_per_s,
            ..Quotas::default()
        }
    }

    #[test]
    fn a_full_bucket_takes_one_second_of_events_then_refuses_with_the_numbers() {
        let limiter = IngestLimiter::default();
        let q = quotas(100, 1 << 20);
        limiter.take("acme", &q, 60, 600).unwrap();
        limiter.take("acme", &q, 40, 400).unwrap();
        let err = limiter.take("acme", &q, 50, 500).unwrap_err();
        assert_eq!(err.status.as_u16(), 429);
        assert_eq!(err.retry_after, Some(1));
        assert!(
            err.message.contains(
                "tenant \"acme\" may send 100 events and 1048576 bytes per second to its jobs; \
                 this batch of 50 events and 500 bytes is over what it may send now"
            ),
            "{}",
            err.message
        );
        // Another tenant has its own bucket.
        limiter.take("other", &q, 100, 100).unwrap();
    }

    #[test]
    fn a_batch_over_a_second_of_bytes_waits_for_a_full_bucket_and_then_owes() {
        let limiter = IngestLimiter::default();
        let q = quotas(1_000_000, 1000);
        limiter.take("acme", &q, 1, 5000).unwrap();
        let err = limiter.take("acme", &q, 1, 10).unwrap_err();
        // Owes 4000 bytes: about 4 s (a little less has passed) before 10 more.
        assert!(matches!(err.retry_after, Some(4 | 5)), "{err:?}");
        limiter.give_back("acme", 1, 5000);
        limiter.take("acme", &q, 1, 10).unwrap();
        limiter.reset("acme");
        limiter.take("acme", &q, 1, 1000).unwrap();
    }

    #[test]
    fn running_quotas_name_their_numbers() {
        let q = Quotas {
            running_jobs: 2,
            instances: 8,
            ..Quotas::default()
        };
        check_running("acme", &q, 1, 6, 2).unwrap();
        let jobs = check_running("acme", &q, 2, 2, 1).unwrap_err();
        assert!(
            jobs.message.contains("runs 2 jobs, its quota is 2"),
            "{jobs}"
        );
        let instances = check_running("acme", &q, 1, 6, 3).unwrap_err();
        assert!(
            instances
                .message
                .contains("runs 6 operator instances and this job has 3, over its quota of 8"),
            "{instances}"
        );
        assert_eq!(lines_in(b"a\nb"), 2);
        assert_eq!(lines_in(b"a\nb\n"), 2);
        assert_eq!(lines_in(b""), 0);
    }
}
