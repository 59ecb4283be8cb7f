use gamooga::prelude::*;

#[derive(GamoogaEvent)]
struct Login {
    method: String,
}

fn login() -> Login {
    Login { method: "sso".into() }
}

// Something that is not a gamooga client.
fn not_a_client(calls: &gamooga::Calls) {
    let _ = login().track(calls, "u");
}

// The async client's one-liners return a future: `?` without `.await` is an error.
async fn forgot_await(client: &gamooga::Client) -> gamooga::Result<()> {
    login().track(client, "u")?;
    Ok(())
}

// The blocking client's return the result: there is nothing to await.
async fn awaited_blocking(client: &gamooga::blocking::Client) -> gamooga::Result<()> {
    login().track(client, "u").await?;
    Ok(())
}

fn main() {}
