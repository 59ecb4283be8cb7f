use gamooga::prelude::*;

// Each derive below reports its own error, and only that: the impls are still generated, so
// the call sites in `handler` compile and add no "the trait `Event` is not implemented".
#[derive(GamoogaEvent)]
struct Order {
    #[gamooga(bogus)]
    id: u64,
}

#[derive(VisitorProps)]
struct Buyer(String);

#[derive(GamoogaValue)]
enum Plan {
    Free,
    Custom(u32),
}

#[derive(GamoogaEvent)]
enum Signup {
    Email,
}

#[derive(GamoogaEvent)]
struct Checkout {
    plan: Plan,
}

async fn handler(client: &gamooga::Client) -> gamooga::Result<()> {
    Order { id: 1 }.track(client, "u").await?;
    Buyer("x".into()).push(client, "v").await?;
    Signup::Email.track(client, "u").await?;
    Checkout { plan: Plan::Free }.track_with(client, "u", &Buyer("y".into())).await?;
    let _plan = TrackingPlan::new().event::<Order>().visitor::<Buyer>();
    Ok(())
}

fn main() {
    let _ = handler;
}
