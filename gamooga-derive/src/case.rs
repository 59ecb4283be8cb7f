//! `rename_all`: the usual case styles, applied to field and variant names.

use heck::{
    ToKebabCase, ToLowerCamelCase, ToShoutyKebabCase, ToShoutySnakeCase, ToSnakeCase,
    ToUpperCamelCase,
};

/// A case style of `rename_all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenameRule {
    Lower,
    Upper,
    Pascal,
    Camel,
    Snake,
    ScreamingSnake,
    Kebab,
    ScreamingKebab,
}

/// The accepted spellings, for error messages.
pub const RULE_NAMES: &str = "\"lowercase\", \"UPPERCASE\", \"PascalCase\", \"camelCase\", \
     \"snake_case\", \"SCREAMING_SNAKE_CASE\", \"kebab-case\", \"SCREAMING-KEBAB-CASE\"";

impl RenameRule {
    pub fn from_str(s: &str) -> Option<Self> {
        Some(match s {
            "lowercase" => RenameRule::Lower,
            "UPPERCASE" => RenameRule::Upper,
            "PascalCase" => RenameRule::Pascal,
            "camelCase" => RenameRule::Camel,
            "snake_case" => RenameRule::Snake,
            "SCREAMING_SNAKE_CASE" => RenameRule::ScreamingSnake,
            "kebab-case" => RenameRule::Kebab,
            "SCREAMING-KEBAB-CASE" => RenameRule::ScreamingKebab,
            _ => return None,
        })
    }

    /// `name` (a field or variant name as written) in this style.
    pub fn apply(self, name: &str) -> String {
        match self {
            RenameRule::Lower => name.to_lowercase(),
            RenameRule::Upper => name.to_uppercase(),
            RenameRule::Pascal => name.to_upper_camel_case(),
            RenameRule::Camel => name.to_lower_camel_case(),
            RenameRule::Snake => name.to_snake_case(),
            RenameRule::ScreamingSnake => name.to_shouty_snake_case(),
            RenameRule::Kebab => name.to_kebab_case(),
            RenameRule::ScreamingKebab => name.to_shouty_kebab_case(),
        }
    }
}

/// The default event name: the struct name in snake_case (`PurchaseMade` → `purchase_made`).
pub fn event_name(struct_name: &str) -> String {
    struct_name.to_snake_case()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles() {
        assert_eq!(RenameRule::Camel.apply("first_order"), "firstOrder");
        assert_eq!(RenameRule::Pascal.apply("first_order"), "FirstOrder");
        assert_eq!(
            RenameRule::ScreamingKebab.apply("first_order"),
            "FIRST-ORDER"
        );
        assert_eq!(RenameRule::Snake.apply("FreeTrial"), "free_trial");
        assert_eq!(RenameRule::Kebab.apply("FreeTrial"), "free-trial");
        assert_eq!(RenameRule::Lower.apply("FreeTrial"), "freetrial");
        assert_eq!(event_name("HTTPRequestSent"), "http_request_sent");
        assert_eq!(RenameRule::from_str("Camel"), None);
    }
}
