use gamooga::prelude::*;

#[derive(GamoogaEvent)]
struct Purchase {
    coupon: Option<String>,
    #[gamooga(rename = "coupon")]
    coupon_code: String,
}

#[derive(VisitorProps)]
#[gamooga(rename_all = "camelCase")]
struct Profile {
    first_name: String,
    #[gamooga(rename = "firstName")]
    given_name: String,
}

#[derive(GamoogaValue)]
#[gamooga(rename_all = "lowercase")]
enum Plan {
    Pro,
    #[gamooga(rename = "pro")]
    Professional,
}

fn main() {}
