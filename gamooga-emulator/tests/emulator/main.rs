//! Tests of the emulator over real HTTP on loopback.

mod endpoints;
mod faults;
mod inspection;
mod support;
mod validation;
