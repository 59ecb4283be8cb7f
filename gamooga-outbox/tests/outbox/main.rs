//! The outbox's tests, against a real PostgreSQL (`DATABASE_URL`; a fresh schema per test)
//! and the emulator. One test binary, so the suite links once instead of once per file.
//!
//! Under `CI=true` a missing or unreachable database fails every test; elsewhere each test
//! says loudly that it is skipped.

mod common;

mod backpressure;
mod crash;
mod dead_letters;
mod privacy;
mod relay_processes;
mod shutdown;
mod transactions;
