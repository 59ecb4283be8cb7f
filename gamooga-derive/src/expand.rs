//! Code generation. Works only from the checked [`Container`]; never parses attributes.

use proc_macro2::{TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;

use crate::ast::{Container, Data, Field, Role, Variant};
use crate::attr::{Derive, Tp};
use crate::check;
use crate::ctxt::Ctxt;

/// Runs the derive: parse, check, generate.
///
/// Every error is reported in one build, and the impls are generated even then (from what
/// could be read: a field whose attributes were wrong is left out, a wrong shape gives an
/// impl without properties), so that the field types are checked in the same build and
/// call sites (`order.track(..)`) do not fail with "the trait `Event` is not implemented".
pub fn derive(input: &syn::DeriveInput, derive: Derive) -> TokenStream {
    let cx = Ctxt::new();
    let cont = Container::from_ast(&cx, input, derive);
    check::check(&cx, &cont);
    let errors = cx.check().err().map(syn::Error::into_compile_error);
    let body = match &cont.data {
        Data::Struct(fields) => properties(&cont, fields, derive),
        Data::Enum(variants, complete) => value(&cont, variants, *complete),
    };
    quote! {
        #errors
        const _: () = {
            #body
        };
    }
}

/// Whether `tokens` mention any of `params` (type parameters of the container).
fn mentions(tokens: TokenStream, params: &[&syn::Ident]) -> bool {
    tokens.into_iter().any(|tt| match tt {
        TokenTree::Ident(i) => params.iter().any(|p| **p == i),
        TokenTree::Group(g) => mentions(g.stream(), params),
        _ => false,
    })
}

/// `Option<T>` → `Some(T)`, by the last path segment (for `tp` on an optional field).
fn option_inner(ty: &syn::Type) -> Option<&syn::Type> {
    let syn::Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>().as_slice() {
        [syn::GenericArgument::Type(inner)] => Some(inner),
        _ => None,
    }
}

/// The impl generics with bounds added for the type parameters used in sent fields: each
/// such field's type must implement what the generated code calls on it.
fn where_clause(cont: &Container, fields: &[Field], derive: Derive) -> TokenStream {
    let p = cont.private();
    let params: Vec<&syn::Ident> = cont.generics.type_params().map(|t| &t.ident).collect();
    let mut predicates: Vec<TokenStream> = cont
        .generics
        .where_clause
        .as_ref()
        .map(|w| w.predicates.iter().map(ToTokens::to_token_stream).collect())
        .unwrap_or_default();
    for f in fields {
        if !mentions(f.ty.to_token_stream(), &params) {
            continue;
        }
        let ty = f.ty;
        match f.role() {
            Role::Property => predicates.push(quote!(#ty: #p::PropertyValue)),
            Role::Display(_) => {
                let shown = option_inner(ty).unwrap_or(ty);
                predicates.push(quote!(#shown: #p::Display));
            }
            Role::Timestamp(None) => predicates.push(quote!(#ty: #p::IntoTimestamp)),
            Role::Flatten => predicates.push(match derive {
                Derive::Event => quote!(#ty: #p::HasEventSchema),
                _ => quote!(#ty: #p::HasVisitorSchema),
            }),
            Role::With(_) | Role::Timestamp(Some(_)) | Role::Skip | Role::Unchecked => {}
        }
    }
    if predicates.is_empty() {
        TokenStream::new()
    } else {
        quote!(where #(#predicates),*)
    }
}

fn datatype(p: &TokenStream, tp: Tp) -> TokenStream {
    match tp {
        Tp::String => quote!(#p::DataType::String),
        Tp::Number => quote!(#p::DataType::Number),
        Tp::Boolean => quote!(#p::DataType::Boolean),
    }
}

/// The derive's name for an event or visitor-properties trait, and its schema.
struct Traits {
    /// `Event` or `VisitorProperties`.
    properties: TokenStream,
    /// `HasEventSchema` or `HasVisitorSchema`.
    has_schema: TokenStream,
    /// `EventSchema` or `VisitorSchema`.
    schema: TokenStream,
    /// `FlattenEvent` or `FlattenVisitor`.
    flatten: TokenStream,
}

impl Traits {
    fn of(p: &TokenStream, derive: Derive) -> Traits {
        match derive {
            Derive::Event => Traits {
                properties: quote!(#p::Event),
                has_schema: quote!(#p::HasEventSchema),
                schema: quote!(#p::EventSchema),
                flatten: quote!(#p::FlattenEvent),
            },
            _ => Traits {
                properties: quote!(#p::VisitorProperties),
                has_schema: quote!(#p::HasVisitorSchema),
                schema: quote!(#p::VisitorSchema),
                flatten: quote!(#p::FlattenVisitor),
            },
        }
    }
}

/// The statements that write every property of `fields` into `__writer`.
fn writes(cont: &Container, fields: &[Field], derive: Derive) -> Vec<TokenStream> {
    let p = cont.private();
    fields
        .iter()
        .filter_map(|f| {
            let ident = f.ident;
            let ty = f.ty;
            let key = &f.key;
            Some(match f.role() {
                Role::Property => quote_spanned! {ty.span()=>
                    if let #p::Option::Some(__value) =
                        <#ty as #p::PropertyValue>::try_to_value(&self.#ident, #key)?
                    {
                        #p::PropertyWriter::property(__writer, #key, __value)?;
                    }
                },
                Role::Display(tp) => {
                    let dt = datatype(&p, tp);
                    if option_inner(ty).is_some() {
                        quote_spanned! {ty.span()=>
                            if let #p::Option::Some(__inner) = &self.#ident {
                                #p::PropertyWriter::property(
                                    __writer, #key, #p::display_value(__inner, #dt),
                                )?;
                            }
                        }
                    } else {
                        quote_spanned! {ty.span()=>
                            #p::PropertyWriter::property(
                                __writer, #key, #p::display_value(&self.#ident, #dt),
                            )?;
                        }
                    }
                }
                Role::With(path) => quote_spanned! {path.span()=>
                    #p::with_fn::<#ty, _, _>(#path).write(__writer, #key, &self.#ident)?;
                },
                Role::Flatten => {
                    let flatten = &Traits::of(&p, derive).flatten;
                    quote_spanned! {ty.span()=>
                        <#ty as #flatten>::write_flat(&self.#ident, __writer)?;
                    }
                }
                Role::Timestamp(_) | Role::Skip | Role::Unchecked => return None,
            })
        })
        .collect()
}

/// The schema items of `fields`, in the order they are written.
fn schema_items(cont: &Container, fields: &[Field], derive: Derive) -> Vec<TokenStream> {
    let p = cont.private();
    fields
        .iter()
        .filter_map(|f| {
            let ty = f.ty;
            let key = &f.key;
            let property = |datatype: TokenStream, optional: TokenStream| {
                quote! {
                    #p::SchemaItem::Property(#p::PropertySchema {
                        name: #key,
                        datatype: #datatype,
                        optional: #optional,
                    })
                }
            };
            Some(match f.role() {
                Role::Property => property(
                    quote_spanned!(ty.span()=> <#ty as #p::PropertyValue>::DATATYPE),
                    quote_spanned!(ty.span()=> <#ty as #p::PropertyValue>::OPTIONAL),
                ),
                Role::Display(tp) => {
                    let optional = option_inner(ty).is_some();
                    let dt = datatype(&p, tp);
                    property(quote!(#p::Option::Some(#dt)), quote!(#optional))
                }
                Role::With(path) => property(
                    quote_spanned!(path.span()=> #p::with_fn::<#ty, _, _>(#path).datatype),
                    quote_spanned!(path.span()=> #p::with_fn::<#ty, _, _>(#path).optional),
                ),
                Role::Flatten => {
                    let flatten = &Traits::of(&p, derive).flatten;
                    let items = quote_spanned!(ty.span()=> <#ty as #flatten>::ITEMS);
                    quote!(#p::SchemaItem::Flatten(#items))
                }
                Role::Timestamp(_) | Role::Skip | Role::Unchecked => return None,
            })
        })
        .collect()
}

/// A compile-time check that flattened structs bring no key twice. Their keys are not known to
/// the macro, so the check runs when the schema constant is evaluated: only for containers
/// without type or const parameters (a generic one has no single schema to check).
fn flatten_check(cont: &Container, fields: &[Field], derive: Derive) -> TokenStream {
    let Some(first_flatten) = fields.iter().find(|f| matches!(f.role(), Role::Flatten)) else {
        return TokenStream::new();
    };
    let generics = cont.generics;
    if generics.type_params().next().is_some() || generics.const_params().next().is_some() {
        return TokenStream::new();
    }
    let p = cont.private();
    let ident = cont.ident;
    let lifetimes: Vec<TokenStream> = generics.lifetimes().map(|_| quote!('static)).collect();
    let ty = if lifetimes.is_empty() {
        quote!(#ident)
    } else {
        quote!(#ident<#(#lifetimes),*>)
    };
    let has_schema = &Traits::of(&p, derive).has_schema;
    let schema = quote!(<#ty as #has_schema>::SCHEMA.items);
    let own_keys = fields.iter().filter(|f| f.has_key()).map(|f| {
        let key = &f.key;
        let message = format!(
            "`{ident}` sends the property key {key:?} twice: from its field `{}` and through a #[gamooga(flatten)] field; rename one of them",
            f.ident
        );
        quote_spanned! {f.key_span=>
            if #p::count_key(__items, #key) > 1 {
                ::core::panic!(#message);
            }
        }
    });
    let message = format!(
        "`{ident}` sends a property key twice through its #[gamooga(flatten)] fields; rename one of them"
    );
    let span = first_flatten.ty.span();
    quote_spanned! {span=>
        const _: () = {
            let __items: &'static [#p::SchemaItem] = #schema;
            #(#own_keys)*
            if #p::duplicate_key(__items).is_some() {
                ::core::panic!(#message);
            }
        };
    }
}

/// The impls of `GamoogaEvent` (`Event`, `HasEventSchema`) or `VisitorProps`
/// (`VisitorProperties`, `HasVisitorSchema`): the same code but for an event's name and time.
fn properties(cont: &Container, fields: &[Field], derive: Derive) -> TokenStream {
    let p = cont.private();
    let Traits {
        properties,
        has_schema,
        schema,
        ..
    } = Traits::of(&p, derive);
    let ident = cont.ident;
    let name = &cont.name;
    let (impl_generics, ty_generics, _) = cont.generics.split_for_impl();
    let where_clause = where_clause(cont, fields, derive);
    let writes = writes(cont, fields, derive);
    let items = schema_items(cont, fields, derive);
    let check = flatten_check(cont, fields, derive);
    let event_items = (derive == Derive::Event).then(|| {
        let timestamp = fields.iter().find_map(|f| match f.role() {
            Role::Timestamp(with) => Some(timestamp(&p, f, with)),
            _ => None,
        });
        quote! {
            fn name(&self) -> &str {
                #name
            }

            #timestamp
        }
    });
    quote! {
        #[automatically_derived]
        impl #impl_generics #properties for #ident #ty_generics #where_clause {
            #event_items

            fn write_properties<__W: #p::PropertyWriter + ?#p::Sized>(
                &self,
                __writer: &mut __W,
            ) -> #p::Result<(), #p::InvalidInput> {
                #(#writes)*
                #p::Result::Ok(())
            }
        }

        #[automatically_derived]
        impl #impl_generics #has_schema for #ident #ty_generics #where_clause {
            const SCHEMA: #schema = #schema {
                name: #name,
                items: &[#(#items),*],
            };
        }

        #check
    }
}

/// `Event::timestamp` from the `#[gamooga(timestamp)]` field, converted by `with` if given.
fn timestamp(p: &TokenStream, f: &Field, with: Option<&syn::Path>) -> TokenStream {
    let field = f.ident;
    let ty = f.ty;
    let call = match with {
        None => quote_spanned! {ty.span()=>
            <#ty as #p::IntoTimestamp>::to_timestamp(&self.#field)
        },
        Some(path) => quote_spanned! {path.span()=>
            #p::with_timestamp_fn::<#ty, _, _>(#path).timestamp(&self.#field)
        },
    };
    quote! {
        fn timestamp(
            &self,
        ) -> #p::Result<#p::Option<#p::Timestamp>, #p::InvalidInput> {
            #call
        }
    }
}

/// `PropertyValue` for a `GamoogaValue` enum. When not every variant could be read (an error
/// was reported), the others are unreachable: the impl only has to compile.
fn value(cont: &Container, variants: &[Variant], complete: bool) -> TokenStream {
    let p = cont.private();
    let ident = cont.ident;
    let (impl_generics, ty_generics, where_clause) = cont.generics.split_for_impl();
    let arms = variants.iter().map(|v| {
        let variant = v.ident;
        let key = &v.key;
        quote!(#ident::#variant => #key,)
    });
    let rest = (!complete).then(|| {
        quote! {
            #[allow(unreachable_patterns)]
            _ => ::core::unreachable!(),
        }
    });
    let allow = (!complete).then(|| quote!(#[allow(unreachable_code)]));
    quote! {
        #[automatically_derived]
        impl #impl_generics #p::PropertyValue for #ident #ty_generics #where_clause {
            const DATATYPE: #p::Option<#p::DataType> = #p::Option::Some(#p::DataType::String);

            #allow
            fn to_value(&self) -> #p::Option<#p::Value<'_>> {
                let __text: &'static str = match *self {
                    #(#arms)*
                    #rest
                };
                #p::Option::Some(#p::Value::String(#p::Cow::Borrowed(__text)))
            }
        }
    }
}
