//! Helpers: a plain HTTP client against an emulator.

use gamooga_emulator::Emulator;

/// Generous: the machine is shared and loaded.
pub const WAIT: std::time::Duration = std::time::Duration::from_secs(20);

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .expect("reqwest client")
}

/// `GET http://{backend}{path_and_query}` → (status, body).
pub async fn get(emu: &Emulator, path_and_query: &str) -> (u16, String) {
    send(client().get(format!("http://{}{path_and_query}", emu.backend()))).await
}

/// `POST` with a JSON content type.
pub async fn post_json(emu: &Emulator, path_and_query: &str, body: &str) -> (u16, String) {
    send(
        client()
            .post(format!("http://{}{path_and_query}", emu.backend()))
            .header("content-type", "application/json")
            .body(body.to_owned()),
    )
    .await
}

pub async fn send(request: reqwest::RequestBuilder) -> (u16, String) {
    let response = request.send().await.expect("request reaches the emulator");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// A `GET` that must be rejected with `status`; returns the recorded reason after checking
/// that the answer body names it too.
pub async fn rejected(emu: &Emulator, path_and_query: &str, status: u16) -> String {
    let (got, body) = get(emu, path_and_query).await;
    assert_eq!(got, status, "{path_and_query} answered {got}: {body}");
    last_rejection(emu, &body)
}

/// The reason of the last call, checked against the answer body.
pub fn last_rejection(emu: &Emulator, body: &str) -> String {
    let calls = emu.calls();
    let last = calls.last().expect("the call was recorded");
    let reason = last
        .rejection
        .clone()
        .expect("the call was recorded as rejected");
    let answer: serde_json::Value = serde_json::from_str(body).expect("JSON error body");
    assert_eq!(answer["result"], "failure");
    assert_eq!(answer["error"], reason.as_str());
    reason
}
