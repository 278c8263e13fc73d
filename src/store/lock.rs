//! Job locks.
