//! Code generation. Works only from the checked [`Container`]; never parses attributes.

use proc_macro2::{TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;

use crate::ast::{Container, Data, Field, Role, Variant};
use crate::attr::{Derive, Tp};
use crate::check;
use crate::ctxt::Ctxt;

/// Runs the derive: parse, check, generate. All errors are returned together.
pub fn derive(input: &syn::DeriveInput, derive: Derive) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let cont = Container::from_ast(&cx, input, derive);
    if let Some(cont) = &cont {
        check::check(&cx, cont);
    }
    cx.check()?;
    let Some(cont) = cont else {
        // from_ast records an error whenever it returns None; this is unreachable in practice.
        return Err(syn::Error::new_spanned(&input.ident, "invalid input"));
    };
    let body = match (&cont.data, derive) {
        (Data::Struct(fields), Derive::Event) => event(&cont, fields),
        (Data::Struct(fields), _) => visitor(&cont, fields),
        (Data::Enum(variants), _) => value(&cont, variants),
    };
    Ok(quote! {
        const _: () = {
            #body
        };
    })
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
            Role::Timestamp => predicates.push(quote!(#ty: #p::IntoTimestamp)),
            Role::Flatten => predicates.push(match derive {
                Derive::Event => quote!(#ty: #p::HasEventSchema),
                _ => quote!(#ty: #p::HasVisitorSchema),
            }),
            Role::With(_) | Role::Skip => {}
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
                        <#ty as #p::PropertyValue>::to_value(&self.#ident)
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
                Role::Flatten => match derive {
                    Derive::Event => quote_spanned! {ty.span()=>
                        <#ty as #p::FlattenEvent>::write_flat(&self.#ident, __writer)?;
                    },
                    _ => quote_spanned! {ty.span()=>
                        <#ty as #p::FlattenVisitor>::write_flat(&self.#ident, __writer)?;
                    },
                },
                Role::Timestamp | Role::Skip => return None,
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
                    property(datatype(&p, tp), quote!(#optional))
                }
                Role::With(path) => property(
                    quote_spanned!(path.span()=> #p::with_fn::<#ty, _, _>(#path).datatype),
                    quote_spanned!(path.span()=> #p::with_fn::<#ty, _, _>(#path).optional),
                ),
                Role::Flatten => {
                    let items = match derive {
                        Derive::Event => {
                            quote_spanned!(ty.span()=> <#ty as #p::FlattenEvent>::ITEMS)
                        }
                        _ => quote_spanned!(ty.span()=> <#ty as #p::FlattenVisitor>::ITEMS),
                    };
                    quote!(#p::SchemaItem::Flatten(#items))
                }
                Role::Timestamp | Role::Skip => return None,
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
    let schema = match derive {
        Derive::Event => quote!(<#ty as #p::HasEventSchema>::SCHEMA.items),
        _ => quote!(<#ty as #p::HasVisitorSchema>::SCHEMA.items),
    };
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

fn event(cont: &Container, fields: &[Field]) -> TokenStream {
    let p = cont.private();
    let ident = cont.ident;
    let name = &cont.name;
    let (impl_generics, ty_generics, _) = cont.generics.split_for_impl();
    let where_clause = where_clause(cont, fields, Derive::Event);
    let writes = writes(cont, fields, Derive::Event);
    let items = schema_items(cont, fields, Derive::Event);
    let check = flatten_check(cont, fields, Derive::Event);
    let timestamp = fields
        .iter()
        .find(|f| matches!(f.role(), Role::Timestamp))
        .map(|f| {
            let field = f.ident;
            let ty = f.ty;
            let call = quote_spanned! {ty.span()=>
                <#ty as #p::IntoTimestamp>::to_timestamp(&self.#field)
            };
            quote! {
                fn timestamp(
                    &self,
                ) -> #p::Result<#p::Option<#p::Timestamp>, #p::InvalidInput> {
                    #call
                }
            }
        });
    quote! {
        #[automatically_derived]
        impl #impl_generics #p::Event for #ident #ty_generics #where_clause {
            fn name(&self) -> &str {
                #name
            }

            #timestamp

            fn write_properties<__W: #p::PropertyWriter + ?#p::Sized>(
                &self,
                __writer: &mut __W,
            ) -> #p::Result<(), #p::InvalidInput> {
                #(#writes)*
                #p::Result::Ok(())
            }
        }

        #[automatically_derived]
        impl #impl_generics #p::HasEventSchema for #ident #ty_generics #where_clause {
            const SCHEMA: #p::EventSchema = #p::EventSchema {
                name: #name,
                items: &[#(#items),*],
            };
        }

        #check
    }
}

fn visitor(cont: &Container, fields: &[Field]) -> TokenStream {
    let p = cont.private();
    let ident = cont.ident;
    let name = &cont.name;
    let (impl_generics, ty_generics, _) = cont.generics.split_for_impl();
    let where_clause = where_clause(cont, fields, Derive::Visitor);
    let writes = writes(cont, fields, Derive::Visitor);
    let items = schema_items(cont, fields, Derive::Visitor);
    let check = flatten_check(cont, fields, Derive::Visitor);
    quote! {
        #[automatically_derived]
        impl #impl_generics #p::VisitorProperties for #ident #ty_generics #where_clause {
            fn write_properties<__W: #p::PropertyWriter + ?#p::Sized>(
                &self,
                __writer: &mut __W,
            ) -> #p::Result<(), #p::InvalidInput> {
                #(#writes)*
                #p::Result::Ok(())
            }
        }

        #[automatically_derived]
        impl #impl_generics #p::HasVisitorSchema for #ident #ty_generics #where_clause {
            const SCHEMA: #p::VisitorSchema = #p::VisitorSchema {
                name: #name,
                items: &[#(#items),*],
            };
        }

        #check
    }
}

fn value(cont: &Container, variants: &[Variant]) -> TokenStream {
    let p = cont.private();
    let ident = cont.ident;
    let (impl_generics, ty_generics, where_clause) = cont.generics.split_for_impl();
    let arms = variants.iter().map(|v| {
        let variant = v.ident;
        let key = &v.key;
        quote!(#ident::#variant => #key,)
    });
    quote! {
        #[automatically_derived]
        impl #impl_generics #p::PropertyValue for #ident #ty_generics #where_clause {
            const DATATYPE: #p::DataType = #p::DataType::String;

            fn to_value(&self) -> #p::Option<#p::Value<'_>> {
                let __text: &'static str = match *self {
                    #(#arms)*
                };
                #p::Option::Some(#p::Value::String(#p::Cow::Borrowed(__text)))
            }
        }
    }
}
