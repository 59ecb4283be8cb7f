//! Tests of the emulator over real HTTP on loopback.

mod endpoints;
mod faults;
mod inspection;
mod inspector_api;
mod support;
mod validation;
