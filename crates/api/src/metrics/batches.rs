//! The sizes of the batches the store's writers commit at once (the SQLite writer's group
//! commit, PostgreSQL's rotation batches): one histogram for the whole process, since a
//! writer belongs to a database rather than to one server's state, shown by every
//! [`super::Metrics`] registry.

use std::sync::LazyLock;

use prometheus::{Histogram, HistogramOpts, Registry};

const NAME: &str = "jwtd_store_batch_size";

/// `None` only if the definition were invalid; then sizes go unrecorded rather than panic.
static BATCH_SIZES: LazyLock<Option<Histogram>> = LazyLock::new(|| {
    let opts = HistogramOpts::new(
        NAME,
        "Jobs committed together in one transaction by the store's writer (SQLite's group \
         commit, PostgreSQL's rotation batches).",
    )
    .buckets(vec![
        1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0,
    ]);
    Histogram::with_opts(opts).ok()
});

/// Records that the store's writer committed `size` writes in one transaction.
pub fn record_batch_size(size: usize) {
    if let Some(histogram) = BATCH_SIZES.as_ref() {
        histogram.observe(f64::from(u32::try_from(size).unwrap_or(u32::MAX)));
    }
}

/// Shows the process's batch sizes in `registry`.
pub(super) fn register(registry: &Registry) -> prometheus::Result<()> {
    match BATCH_SIZES.as_ref() {
        Some(histogram) => registry.register(Box::new(histogram.clone())),
        None => Err(prometheus::Error::Msg(format!("{NAME} is not defined"))),
    }
}
