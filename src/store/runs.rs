//! Settlement runs.
