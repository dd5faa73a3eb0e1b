//! Requests by route, method and status, and their latency by route.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

use super::registered;

/// The `route` label of a request that matched no route (a 404): a fixed value, so that
/// scanners probing random URLs cannot grow the label set.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Seconds. Most answers take well under a millisecond; logins wait for argon2 (tens of
/// milliseconds); a database that stalls shows in the last buckets.
const LATENCY_BUCKETS: [f64; 14] = [
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

pub(super) struct HttpMetrics {
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl HttpMetrics {
    pub(super) fn register(registry: &Registry) -> prometheus::Result<Self> {
        Ok(Self {
            requests: registered(
                registry,
                IntCounterVec::new(
                    Opts::new(
                        "jwtd_http_requests_total",
                        "Answered requests by route (the matched path template), method and status.",
                    ),
                    &["route", "method", "status"],
                )?,
            )?,
            latency: registered(
                registry,
                HistogramVec::new(
                    HistogramOpts::new(
                        "jwtd_http_request_duration_seconds",
                        "Time from a request's arrival to its answer, by route.",
                    )
                    .buckets(LATENCY_BUCKETS.to_vec()),
                    &["route"],
                )?,
            )?,
        })
    }

    pub(super) fn observe(
        &self,
        route: &str,
        method: &Method,
        status: StatusCode,
        elapsed: Duration,
    ) {
        let labels = [route, method_label(method), status.as_str()];
        if let Ok(counter) = self.requests.get_metric_with_label_values(&labels) {
            counter.inc();
        }
        if let Ok(histogram) = self.latency.get_metric_with_label_values(&[route]) {
            histogram.observe(elapsed.as_secs_f64());
        }
    }
}

/// The method as a label: the standard ones by name, anything else as `other`, so that a
/// client inventing methods cannot grow the label set.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}
