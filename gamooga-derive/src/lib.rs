//! Derive macros for the [`gamooga`](https://docs.rs/gamooga) SDK: `#[derive(GamoogaEvent)]`,
//! `#[derive(VisitorProps)]` and `#[derive(GamoogaValue)]`.
//!
//! Use them through the `gamooga` crate (`use gamooga::prelude::*;`), whose documentation
//! holds the attribute reference. The generated code refers to the runtime as `::gamooga`;
//! when the crate is renamed, say where it is with `#[gamooga(crate = "path")]`.

mod ast;
mod attr;
mod case;
mod check;
mod ctxt;
mod expand;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

use attr::Derive;

/// Implements `gamooga::Event` and `gamooga::schema::HasEventSchema` for a struct with named
/// fields: each field is a property, sent in declaration order.
///
/// See the attribute reference in the `gamooga` crate documentation.
#[proc_macro_derive(GamoogaEvent, attributes(gamooga))]
pub fn derive_event(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input, Derive::Event).into()
}

/// Implements `gamooga::VisitorProperties` and `gamooga::schema::HasVisitorSchema` for a
/// struct with named fields: each field is a visitor property.
///
/// See the attribute reference in the `gamooga` crate documentation.
#[proc_macro_derive(VisitorProps, attributes(gamooga))]
pub fn derive_visitor_props(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input, Derive::Visitor).into()
}

/// Implements `gamooga::PropertyValue` for an enum of unit variants: each variant is sent as
/// a string (datatype `s`), its name as written unless renamed.
///
/// See the attribute reference in the `gamooga` crate documentation.
#[proc_macro_derive(GamoogaValue, attributes(gamooga))]
pub fn derive_value(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input, Derive::Value).into()
}
