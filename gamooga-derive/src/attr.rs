//! Parsing of `#[gamooga(...)]` attributes into plain values. Every problem is recorded in the
//! [`Ctxt`] and parsing goes on, so one build reports every bad attribute.

use proc_macro2::{Span, TokenTree};
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{LitStr, Token};

use crate::case::{RenameRule, RULE_NAMES};
use crate::ctxt::Ctxt;

/// Which derive is running: decides which attributes apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Derive {
    Event,
    Visitor,
    Value,
}

impl Derive {
    pub fn macro_name(self) -> &'static str {
        match self {
            Derive::Event => "GamoogaEvent",
            Derive::Visitor => "VisitorProps",
            Derive::Value => "GamoogaValue",
        }
    }
}

/// A string given in an attribute, with the span of its literal.
#[derive(Debug, Clone)]
pub struct Name {
    pub value: String,
    pub span: Span,
}

/// Container attributes: `name`, `rename_all`, `crate`.
#[derive(Default)]
pub struct Container {
    pub name: Option<Name>,
    pub rename_all: Option<RenameRule>,
    pub krate: Option<syn::Path>,
}

/// The datatype given with `tp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tp {
    String,
    Number,
    Boolean,
}

/// Field attributes: `rename`, `skip`, `timestamp`, `tp`, `with`, `flatten`. Each keeps the
/// span of its key for conflict messages.
#[derive(Default)]
pub struct Field {
    pub rename: Option<(Span, Name)>,
    pub skip: Option<Span>,
    pub timestamp: Option<Span>,
    pub tp: Option<(Span, Tp)>,
    pub with: Option<(Span, syn::Path)>,
    pub flatten: Option<Span>,
    /// An attribute that decides how the field is sent was wrong (unknown, unparsable,
    /// conflicting): what the user meant is unknown, so the field's type is not checked,
    /// which would only add a second error for the same mistake.
    pub uncertain: bool,
}

/// Variant attributes (`GamoogaValue`): `rename`.
#[derive(Default)]
pub struct Variant {
    pub rename: Option<(Span, Name)>,
}

/// Remembers which keys were seen on one item, to report duplicates at both places.
#[derive(Default)]
struct Seen(Vec<(String, Span)>);

impl Seen {
    /// Whether `key` is new; otherwise reports the duplicate (at `span`) and the first one.
    fn first(&mut self, cx: &Ctxt, key: &str, span: Span) -> bool {
        if let Some((_, first)) = self.0.iter().find(|(k, _)| k == key) {
            cx.error_at(span, format!("duplicate gamooga attribute `{key}`"));
            cx.error_at(*first, format!("first `{key}` here"));
            return false;
        }
        self.0.push((key.to_owned(), span));
        true
    }
}

/// Checks a property, variant or event name: not empty, no control characters, no leading or
/// trailing whitespace. Returns what is wrong.
pub fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("is empty")
    } else if name.chars().any(char::is_control) {
        Some("contains a control character")
    } else if name.starts_with(char::is_whitespace) || name.ends_with(char::is_whitespace) {
        Some("starts or ends with whitespace")
    } else {
        None
    }
}

fn key_of(meta: &ParseNestedMeta) -> String {
    match meta.path.get_ident() {
        Some(ident) => ident.to_string(),
        None => meta.path.to_token_stream().to_string().replace(' ', ""),
    }
}

/// Consumes whatever follows an unknown key (`= value` or `(...)`), so parsing can go on.
fn skip_value(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.input.parse::<Token![=]>()?;
        while !meta.input.is_empty() && !meta.input.peek(Token![,]) {
            meta.input.parse::<TokenTree>()?;
        }
    } else if meta.input.peek(syn::token::Paren) {
        meta.input.parse::<TokenTree>()?;
    }
    Ok(())
}

/// A flag takes no value: reports and skips one if given.
fn flag(cx: &Ctxt, meta: &ParseNestedMeta, key: &str) -> syn::Result<()> {
    if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
        cx.error_spanned_by(
            &meta.path,
            format!("`{key}` takes no value: write `#[gamooga({key})]`"),
        );
        skip_value(meta)?;
    }
    Ok(())
}

/// Parses `= "..."`, checking it is a valid name (`what` says which, for the message).
fn name_value(cx: &Ctxt, meta: &ParseNestedMeta, what: &str) -> syn::Result<Option<Name>> {
    let lit: LitStr = meta.value()?.parse()?;
    let value = lit.value();
    if let Some(problem) = name_problem(&value) {
        cx.error_spanned_by(&lit, format!("the {what} {problem}"));
        return Ok(None);
    }
    Ok(Some(Name {
        value,
        span: lit.span(),
    }))
}

fn unknown(cx: &Ctxt, meta: &ParseNestedMeta, key: &str, expected: &str) -> syn::Result<()> {
    cx.error_spanned_by(
        &meta.path,
        format!("unknown gamooga attribute `{key}`; expected {expected}"),
    );
    skip_value(meta)
}

fn gamooga_attrs(attrs: &[syn::Attribute]) -> impl Iterator<Item = &syn::Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("gamooga"))
}

/// Parses the container attributes of `derive`.
pub fn container(cx: &Ctxt, derive: Derive, attrs: &[syn::Attribute]) -> Container {
    let mut out = Container::default();
    let mut seen = Seen::default();
    let expected = match derive {
        Derive::Event => "`name`, `rename_all` or `crate`",
        Derive::Visitor | Derive::Value => "`rename_all` or `crate`",
    };
    for attr in gamooga_attrs(attrs) {
        let result = attr.parse_nested_meta(|meta| {
            let key = key_of(&meta);
            let span = meta.path.span();
            match key.as_str() {
                "name" if derive == Derive::Event => {
                    let name = name_value(cx, &meta, "event name")?;
                    if seen.first(cx, &key, span) {
                        out.name = name;
                    }
                }
                "name" => {
                    let what = match derive {
                        Derive::Visitor => "visitor properties have no event name",
                        _ => "use `rename` on a variant to change the string it is sent as",
                    };
                    cx.error_spanned_by(
                        &meta.path,
                        format!(
                            "`name` does not apply to #[derive({})]: {what}",
                            derive.macro_name()
                        ),
                    );
                    skip_value(&meta)?;
                }
                "rename_all" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    match RenameRule::from_str(&lit.value()) {
                        Some(rule) => {
                            if seen.first(cx, &key, span) {
                                out.rename_all = Some(rule);
                            }
                        }
                        None => cx.error_spanned_by(
                            &lit,
                            format!(
                                "unknown case style {:?} for `rename_all`; expected one of {RULE_NAMES}",
                                lit.value()
                            ),
                        ),
                    }
                }
                "crate" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    match lit.parse::<syn::Path>() {
                        Ok(path) => {
                            if seen.first(cx, &key, span) {
                                out.krate = Some(path);
                            }
                        }
                        Err(_) => cx.error_spanned_by(
                            &lit,
                            format!(
                                "`crate` must name a path to the gamooga crate, like \"::gamooga\"; {:?} is not a path",
                                lit.value()
                            ),
                        ),
                    }
                }
                _ => unknown(cx, &meta, &key, expected)?,
            }
            Ok(())
        });
        if let Err(e) = result {
            cx.syn_error(e);
        }
    }
    out
}

/// Parses the attributes of one field for `derive` (`GamoogaEvent` or `VisitorProps`).
pub fn field(cx: &Ctxt, derive: Derive, attrs: &[syn::Attribute]) -> Field {
    let mut out = Field::default();
    let mut seen = Seen::default();
    let expected = match derive {
        Derive::Event => "`rename`, `skip`, `timestamp`, `tp`, `with` or `flatten`",
        _ => "`rename`, `skip`, `tp`, `with` or `flatten`",
    };
    for attr in gamooga_attrs(attrs) {
        let result = attr.parse_nested_meta(|meta| {
            let key = key_of(&meta);
            let span = meta.path.span();
            match key.as_str() {
                "rename" => {
                    let name = name_value(cx, &meta, "property name")?;
                    if let (true, Some(name)) = (seen.first(cx, &key, span), name) {
                        out.rename = Some((span, name));
                    }
                }
                "skip" => {
                    flag(cx, &meta, &key)?;
                    if seen.first(cx, &key, span) {
                        out.skip = Some(span);
                    }
                }
                "flatten" => {
                    flag(cx, &meta, &key)?;
                    if seen.first(cx, &key, span) {
                        out.flatten = Some(span);
                    }
                }
                "timestamp" if derive == Derive::Event => {
                    flag(cx, &meta, &key)?;
                    if seen.first(cx, &key, span) {
                        out.timestamp = Some(span);
                    }
                }
                "timestamp" => {
                    cx.error_spanned_by(
                        &meta.path,
                        "`timestamp` does not apply to #[derive(VisitorProps)]: visitor properties have no time; use #[derive(GamoogaEvent)] for an event with its own time",
                    );
                    out.uncertain = true;
                    skip_value(&meta)?;
                }
                "tp" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    let tp = match lit.value().as_str() {
                        "s" => Some(Tp::String),
                        "n" => Some(Tp::Number),
                        "b" => Some(Tp::Boolean),
                        other => {
                            cx.error_spanned_by(
                                &lit,
                                format!(
                                    "unknown datatype {other:?} for `tp`; expected \"s\" (string), \"n\" (number) or \"b\" (boolean)"
                                ),
                            );
                            out.uncertain = true;
                            None
                        }
                    };
                    if let (true, Some(tp)) = (seen.first(cx, &key, span), tp) {
                        out.tp = Some((span, tp));
                    }
                }
                "with" => {
                    let value = meta.value()?;
                    let path = if value.peek(LitStr) {
                        let lit: LitStr = value.parse()?;
                        match lit.parse::<syn::Path>() {
                            Ok(p) => Some(p),
                            Err(_) => {
                                cx.error_spanned_by(
                                    &lit,
                                    format!("`with` must name a function; {:?} is not a path", lit.value()),
                                );
                                out.uncertain = true;
                                None
                            }
                        }
                    } else {
                        Some(value.parse::<syn::Path>()?)
                    };
                    if let (true, Some(path)) = (seen.first(cx, &key, span), path) {
                        out.with = Some((span, path));
                    }
                }
                _ => {
                    out.uncertain = true;
                    unknown(cx, &meta, &key, expected)?
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            out.uncertain = true;
            cx.syn_error(e);
        }
    }
    if check_conflicts(cx, &out) {
        out.uncertain = true;
    }
    out
}

/// Reports attributes of one field that cannot go together, at both of them; whether there
/// were any.
fn check_conflicts(cx: &Ctxt, f: &Field) -> bool {
    let present: Vec<(&str, Span)> = [
        ("skip", f.skip),
        ("timestamp", f.timestamp),
        ("flatten", f.flatten),
        ("rename", f.rename.as_ref().map(|r| r.0)),
        ("tp", f.tp.map(|t| t.0)),
        ("with", f.with.as_ref().map(|w| w.0)),
    ]
    .into_iter()
    .filter_map(|(k, s)| s.map(|s| (k, s)))
    .collect();
    // Each pair that conflicts, with the reason; `skip` goes with nothing else.
    let conflicts = |a: &str, b: &str| -> Option<&'static str> {
        match (a, b) {
            ("skip", _) => Some("a skipped field is not sent"),
            // `with` converts the field into a time.
            ("timestamp", "with") => None,
            ("timestamp", _) => Some("the timestamp is sent as `tm`, not as a property"),
            ("flatten", _) => Some("a flattened field sends the nested struct's own properties"),
            ("tp", "with") => Some("`tp` and `with` both say how to convert the field; use one"),
            _ => None,
        }
    };
    let mut any = false;
    for (i, (a, sa)) in present.iter().enumerate() {
        for (b, sb) in &present[i + 1..] {
            if let Some(why) = conflicts(a, b) {
                cx.error_at(*sb, format!("`{b}` conflicts with `{a}`: {why}"));
                cx.error_at(*sa, format!("`{a}` conflicts with `{b}`"));
                any = true;
            }
        }
    }
    any
}

/// Parses the attributes of one enum variant (`GamoogaValue`).
pub fn variant(cx: &Ctxt, attrs: &[syn::Attribute]) -> Variant {
    let mut out = Variant::default();
    let mut seen = Seen::default();
    for attr in gamooga_attrs(attrs) {
        let result = attr.parse_nested_meta(|meta| {
            let key = key_of(&meta);
            let span = meta.path.span();
            match key.as_str() {
                "rename" => {
                    let name = name_value(cx, &meta, "variant name")?;
                    if let (true, Some(name)) = (seen.first(cx, &key, span), name) {
                        out.rename = Some((span, name));
                    }
                }
                _ => unknown(cx, &meta, &key, "`rename`")?,
            }
            Ok(())
        });
        if let Err(e) = result {
            cx.syn_error(e);
        }
    }
    out
}

/// Reports `#[gamooga(...)]` where no attribute applies (fields of `GamoogaValue` variants).
pub fn reject(cx: &Ctxt, attrs: &[syn::Attribute], why: &str) {
    for attr in gamooga_attrs(attrs) {
        cx.error_spanned_by(attr, why);
    }
}
