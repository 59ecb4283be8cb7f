//! A local Gamooga emulator (placeholder until the emulator crate lands).
