//! `Client::from_env`. Environment variables are process-global, so this binary has a single
//! test that sets and reads them in sequence.

use gamooga_core::{Client, CustomEvent, Error, Properties};
use gamooga_emulator::Emulator;

#[tokio::test]
async fn from_env_reads_company_config_url_and_backend() {
    // No other test runs in this binary, so changing the environment is race-free.
    std::env::remove_var("GAMOOGA_COMPANY_ID");
    std::env::remove_var("GAMOOGA_CONFIG_URL");
    std::env::remove_var("GAMOOGA_BACKEND");
    match Client::from_env() {
        Err(Error::Config(message)) => assert!(message.contains("GAMOOGA_COMPANY_ID"), "{message}"),
        other => panic!("{other:?}"),
    }
    std::env::set_var("GAMOOGA_COMPANY_ID", "  ");
    assert!(matches!(Client::from_env(), Err(Error::Config(_))));

    let emu = Emulator::start().await.unwrap();
    let event = CustomEvent::new("login", Properties::new());

    // Company and config URL: the backend is resolved through newnaconf.
    std::env::set_var("GAMOOGA_COMPANY_ID", "acme-env");
    std::env::set_var("GAMOOGA_CONFIG_URL", emu.config_url());
    let client = Client::from_env().unwrap();
    assert_eq!(client.company_id(), "acme-env");
    client.track("u1", &event).await.unwrap();
    assert_eq!(emu.count("newnaconf"), 1);
    assert_eq!(emu.events()[0].company.as_deref(), Some("acme-env"));

    // A fixed backend skips resolution.
    std::env::set_var("GAMOOGA_BACKEND", emu.backend());
    let client = Client::from_env().unwrap();
    client.track("u2", &event).await.unwrap();
    assert_eq!(emu.count("newnaconf"), 1);
    assert_eq!(emu.events().len(), 2);

    // Bad values are configuration errors.
    std::env::set_var("GAMOOGA_BACKEND", "http://evil.example");
    assert!(matches!(Client::from_env(), Err(Error::Config(_))));
    std::env::remove_var("GAMOOGA_BACKEND");
    std::env::set_var("GAMOOGA_CONFIG_URL", "http://conf.example");
    match Client::from_env() {
        Err(Error::Config(message)) => assert!(message.contains("plain http"), "{message}"),
        other => panic!("{other:?}"),
    }
    std::env::remove_var("GAMOOGA_CONFIG_URL");
    let client = Client::from_env().unwrap();
    assert_eq!(client.company_id(), "acme-env");
}
