//! Derive macros for the `gamooga` SDK (placeholder until the derive crate lands).
