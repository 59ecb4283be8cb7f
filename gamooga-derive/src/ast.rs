//! The derive's own view of the input: a [`Container`] with [`Field`]s or [`Variant`]s, their
//! attributes parsed and their keys resolved, each keeping its syn node for spans.

use proc_macro2::Span;
use quote::quote;
use syn::ext::IdentExt;

use crate::attr::{self, Derive};
use crate::case;
use crate::ctxt::Ctxt;

pub struct Container<'a> {
    pub ident: &'a syn::Ident,
    pub generics: &'a syn::Generics,
    /// The path to the gamooga facade (`::gamooga` unless `crate = "..."`).
    pub krate: syn::Path,
    pub data: Data<'a>,
    /// The event name for `GamoogaEvent`; for `VisitorProps`, the type name (the schema's name).
    pub name: String,
}

pub enum Data<'a> {
    Struct(Vec<Field<'a>>),
    /// The variants to send, and whether they are all of the input's (false when a variant
    /// carries data, or the input is not an enum at all: an error was reported).
    Enum(Vec<Variant<'a>>, bool),
}

/// What a field does.
pub enum Role<'a> {
    /// Sent as a property through `PropertyValue`.
    Property,
    /// Sent through `Display` with this datatype.
    Display(attr::Tp),
    /// Converted by this function, whose result is sent through `PropertyValue`.
    With(&'a syn::Path),
    /// The nested struct's properties, in place.
    Flatten,
    /// The event's time (`tm`), converted by this function if one is given.
    Timestamp(Option<&'a syn::Path>),
    /// Not sent.
    Skip,
    /// Not sent, and its type not checked: an attribute saying how to send it was wrong
    /// (the error is reported).
    Unchecked,
}

pub struct Field<'a> {
    pub ident: &'a syn::Ident,
    pub ty: &'a syn::Type,
    pub attrs: attr::Field,
    /// The property key (after `rename` / `rename_all`).
    pub key: String,
    /// Where the key comes from: the `rename` literal or the field name.
    pub key_span: Span,
}

impl Field<'_> {
    pub fn role(&self) -> Role<'_> {
        let a = &self.attrs;
        if a.uncertain {
            Role::Unchecked
        } else if a.skip.is_some() {
            Role::Skip
        } else if a.timestamp.is_some() {
            Role::Timestamp(a.with.as_ref().map(|(_, path)| path))
        } else if a.flatten.is_some() {
            Role::Flatten
        } else if let Some((_, path)) = &a.with {
            Role::With(path)
        } else if let Some((_, tp)) = a.tp {
            Role::Display(tp)
        } else {
            Role::Property
        }
    }

    /// Whether the field is sent under its own key.
    pub fn has_key(&self) -> bool {
        matches!(
            self.role(),
            Role::Property | Role::Display(_) | Role::With(_)
        )
    }
}

pub struct Variant<'a> {
    pub ident: &'a syn::Ident,
    /// The string the variant is sent as.
    pub key: String,
    pub key_span: Span,
}

fn resolve_key(
    cx: &Ctxt,
    ident: &syn::Ident,
    rename: Option<&attr::Name>,
    rule: Option<case::RenameRule>,
) -> (String, Span) {
    if let Some(name) = rename {
        return (name.value.clone(), name.span);
    }
    let raw = ident.unraw().to_string();
    let key = rule.map_or_else(|| raw.clone(), |r| r.apply(&raw));
    if let Some(problem) = attr::name_problem(&key) {
        cx.error_spanned_by(
            ident,
            format!("the name `{raw}` becomes {key:?} after `rename_all`, which {problem}; give it a `rename`"),
        );
    }
    (key, ident.span())
}

impl<'a> Container<'a> {
    /// Reads `input` for `derive`; every problem goes to `cx`. When the input's shape is
    /// wrong for the derive (the error is recorded), the container has no fields or
    /// variants, so an impl can still be generated and call sites do not fail too.
    pub fn from_ast(cx: &Ctxt, input: &'a syn::DeriveInput, derive: Derive) -> Self {
        let attrs = attr::container(cx, derive, &input.attrs);
        let rule = attrs.rename_all;
        let data = match (&input.data, derive) {
            (syn::Data::Struct(s), Derive::Event | Derive::Visitor) => {
                Data::Struct(struct_fields(cx, derive, rule, &s.fields))
            }
            (syn::Data::Enum(e), Derive::Value) => {
                let mut variants = Vec::new();
                let mut complete = true;
                for v in &e.variants {
                    let vattrs = attr::variant(cx, &v.attrs);
                    if !matches!(v.fields, syn::Fields::Unit) {
                        cx.error_spanned_by(
                            &v.fields,
                            format!(
                                "#[derive(GamoogaValue)] needs unit variants: `{}` carries data, which has no single Gamooga datatype; send it with #[gamooga(tp = \"s\")] through Display or #[gamooga(with = path)] on the field instead",
                                v.ident
                            ),
                        );
                        for f in &v.fields {
                            attr::reject(
                                cx,
                                &f.attrs,
                                "gamooga attributes do not apply to variant fields",
                            );
                        }
                        complete = false;
                        continue;
                    }
                    let (key, key_span) =
                        resolve_key(cx, &v.ident, vattrs.rename.as_ref().map(|r| &r.1), rule);
                    variants.push(Variant {
                        ident: &v.ident,
                        key,
                        key_span,
                    });
                }
                Data::Enum(variants, complete)
            }
            (syn::Data::Enum(e), _) => {
                let hint = if e
                    .variants
                    .iter()
                    .all(|v| matches!(v.fields, syn::Fields::Unit))
                {
                    "; to send this enum as a string property of another struct, use #[derive(GamoogaValue)]"
                } else {
                    ""
                };
                cx.error_spanned_by(
                    e.enum_token,
                    format!(
                        "#[derive({})] works on structs with named fields, not enums{hint}",
                        derive.macro_name()
                    ),
                );
                Data::Struct(Vec::new())
            }
            (syn::Data::Union(u), _) => {
                cx.error_spanned_by(
                    u.union_token,
                    format!(
                        "#[derive({})] does not support unions: {}",
                        derive.macro_name(),
                        match derive {
                            Derive::Value => "use an enum of unit variants",
                            _ => "use a struct with named fields",
                        }
                    ),
                );
                match derive {
                    Derive::Value => Data::Enum(Vec::new(), false),
                    _ => Data::Struct(Vec::new()),
                }
            }
            (syn::Data::Struct(s), Derive::Value) => {
                cx.error_spanned_by(
                    s.struct_token,
                    "#[derive(GamoogaValue)] works on enums of unit variants (sent as strings), not structs; derive GamoogaEvent or VisitorProps for a struct, or use #[gamooga(flatten)] to nest it",
                );
                Data::Enum(Vec::new(), false)
            }
        };
        let name = match (derive, attrs.name) {
            (Derive::Event, Some(name)) => name.value,
            (Derive::Event, None) => case::event_name(&input.ident.unraw().to_string()),
            _ => input.ident.unraw().to_string(),
        };
        let krate = attrs.krate.unwrap_or_else(|| syn::parse_quote!(::gamooga));
        Container {
            ident: &input.ident,
            generics: &input.generics,
            krate,
            data,
            name,
        }
    }

    /// The path to the hidden runtime module: `<crate>::__private`.
    pub fn private(&self) -> proc_macro2::TokenStream {
        let krate = &self.krate;
        quote!(#krate::__private)
    }
}

fn struct_fields<'a>(
    cx: &Ctxt,
    derive: Derive,
    rule: Option<case::RenameRule>,
    fields: &'a syn::Fields,
) -> Vec<Field<'a>> {
    match fields {
        syn::Fields::Named(named) => named
            .named
            .iter()
            .filter_map(|f| {
                let ident = f.ident.as_ref()?;
                let attrs = attr::field(cx, derive, &f.attrs);
                let (key, key_span) =
                    resolve_key(cx, ident, attrs.rename.as_ref().map(|r| &r.1), rule);
                Some(Field {
                    ident,
                    ty: &f.ty,
                    attrs,
                    key,
                    key_span,
                })
            })
            .collect(),
        syn::Fields::Unit => Vec::new(),
        syn::Fields::Unnamed(unnamed) => {
            cx.error_at(
                unnamed.paren_token.span.join(),
                format!(
                    "#[derive({})] needs named fields: a tuple struct's fields have no names to send as property keys",
                    derive.macro_name()
                ),
            );
            Vec::new()
        }
    }
}
