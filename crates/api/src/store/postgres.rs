//! The PostgreSQL engine: the one-transaction path of `sql/`, fronted by a task that
//! group-commits plain rotations (`batch.rs`).

mod batch;

pub use batch::PostgresBatcher;
