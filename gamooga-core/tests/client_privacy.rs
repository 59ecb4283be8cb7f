//! Personal data stays out of `Debug` and `Display`: requests, errors, the queue's refusals
//! and dead letters show calls, event names and property names, never user ids, visitor ids,
//! property values or answer bodies. The full request stays reachable on purpose.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gamooga_core::queue::{Deliver, EnqueueError, Overflow, Queue, QueueConfig};
use gamooga_core::transport::{Phase, RecordedRequest};
use gamooga_core::{
    Calls, CustomEvent, DataType, Endpoint, Error, EvwidMode, InvalidInput, Properties, Request,
    Value,
};

const USER: &str = "secret-user-4242";
const VISITOR: &str = "0badc0ffee5ec7e7";
const EMAIL: &str = "alice@example.com";
const CITY: &str = "Secretville";

fn purchase() -> CustomEvent {
    CustomEvent::new(
        "purchase",
        Properties::new()
            .string("email", EMAIL)
            .number("amount", 987654.25)
            .unwrap(),
    )
}

fn profile() -> Properties {
    Properties::new().string("city", CITY)
}

/// Fails when `text` holds any personal datum of these tests.
#[track_caller]
fn assert_no_personal_data(text: &str) {
    for secret in [USER, VISITOR, EMAIL, "alice%40example.com", "987654", CITY] {
        assert!(!text.contains(secret), "{secret:?} leaked: {text}");
    }
}

/// One request of every call.
fn requests() -> Vec<Request> {
    let calls = Calls::new("acme").unwrap();
    let post = calls.clone().with_evwid_mode(EvwidMode::Post);
    vec![
        calls.track(USER, &purchase()).unwrap(),
        post.track(USER, &purchase()).unwrap(),
        calls.track_visitor(VISITOR, &purchase()).unwrap(),
        calls.track_with(USER, &purchase(), &profile()).unwrap(),
        calls.push_visitor(VISITOR, &profile()).unwrap(),
        calls.identify(USER).unwrap(),
        calls.link(USER, VISITOR).unwrap(),
        calls.company_info(),
    ]
}

#[test]
fn debug_of_a_request_shows_names_not_ids_or_values() {
    let requests = requests();
    let endpoints: Vec<_> = requests.iter().map(Request::endpoint).collect();
    assert_eq!(
        endpoints,
        [
            Endpoint::Evwid,
            Endpoint::Evwidj,
            Endpoint::Ev,
            Endpoint::Evvprwid,
            Endpoint::Vpr,
            Endpoint::Id,
            Endpoint::Id,
            Endpoint::CompanyInfo
        ]
    );
    for request in &requests {
        let debug = format!("{request:?}");
        assert_no_personal_data(&debug);
        assert!(
            debug.contains(&format!("{:?}", request.endpoint())),
            "{debug}"
        );
        assert!(debug.contains(request.path()), "{debug}");
        // The full request is still there for whoever asks for it.
        let full = format!("{}{}", request.query(), request.body().unwrap_or(""));
        let has_id = full.contains(USER) || full.contains(VISITOR);
        assert!(
            has_id || request.endpoint() == Endpoint::CompanyInfo,
            "{full}"
        );
    }
    for request in &requests[..4] {
        let debug = format!("{request:?}");
        assert!(debug.contains(r#"event: "purchase""#), "{debug}");
        assert!(debug.contains(r#""email""#), "{debug}");
        assert!(debug.contains(r#""amount""#), "{debug}");
    }
    let evvprwid = format!("{:?}", requests[3]);
    assert!(
        evvprwid.contains(r#"visitor_properties: ["city"]"#),
        "{evvprwid}"
    );
    let vpr = format!("{:?}", requests[4]);
    assert!(vpr.contains(r#"visitor_properties: ["city"]"#), "{vpr}");
    assert!(requests[1].body().unwrap().contains(EMAIL));
}

#[tokio::test]
async fn debug_of_a_recorded_request_hides_the_query() {
    use gamooga_core::transport::{DryRunTransport, HttpRequest, Transport};
    let request = requests().remove(1);
    let url = format!("https://evbk.example.com{}", request.path_and_query());
    let dry = DryRunTransport::new();
    let http = HttpRequest::new(
        request.method(),
        url.clone(),
        request.body().map(str::to_owned),
    );
    assert_no_personal_data(&format!("{http:?}"));
    dry.send(http).await.unwrap();
    let recorded: Vec<RecordedRequest> = dry.requests();
    let debug = format!("{:?}", recorded[0]);
    assert_no_personal_data(&debug);
    assert!(
        debug.contains("https://evbk.example.com/evwidj/?<"),
        "{debug}"
    );
    assert_eq!(recorded[0].url, url);
}

/// A deliverer that never finishes: the queue stays full.
struct Stuck;

impl Deliver for Stuck {
    fn deliver<'a>(
        &'a self,
        _: &'a Request,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn debug_of_a_full_queue_error_has_no_ids_or_values() {
    let queue = Queue::new(
        Stuck,
        Calls::new("acme").unwrap(),
        QueueConfig::default()
            .capacity(1)
            .concurrency(1)
            .overflow(Overflow::Refuse),
    )
    .unwrap();
    queue.try_track(USER, &purchase()).unwrap();
    let err = queue.try_track(USER, &purchase()).unwrap_err();
    assert!(matches!(err, EnqueueError::Full { .. }), "{err}");
    assert_no_personal_data(&format!("{err:?}"));
    assert_no_personal_data(&err.to_string());
    assert!(
        format!("{err:?}").contains(r#"event: "purchase""#),
        "{err:?}"
    );
    // The request comes back whole.
    assert!(err.into_request().unwrap().query().contains(USER));
    queue.shutdown(Duration::from_millis(10)).await;
}

/// A deliverer that refuses everything with a 400 whose body echoes the request.
struct Refusing;

impl Deliver for Refusing {
    fn deliver<'a>(
        &'a self,
        request: &'a Request,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
        Box::pin(async move {
            Err(Error::Http {
                call: request.endpoint(),
                host: "evbk.example.com".into(),
                status: 400,
                body: format!("bad request: {}", request.query()),
                attempts: 1,
                retry_after: None,
            })
        })
    }
}

#[tokio::test]
async fn debug_of_a_dead_letter_has_no_ids_values_or_body() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let queue = Queue::new(
        Refusing,
        Calls::new("acme").unwrap(),
        QueueConfig::default().dead_letter({
            let seen = seen.clone();
            move |dead| {
                let error = dead.error().unwrap();
                assert!(error.body().unwrap().contains(USER), "the body is kept");
                seen.lock()
                    .unwrap()
                    .push((format!("{dead:?}"), error.to_string()));
            }
        }),
    )
    .unwrap();
    queue.try_track(USER, &purchase()).unwrap();
    queue.try_track_with(USER, &purchase(), &profile()).unwrap();
    let report = queue.shutdown(Duration::from_secs(10)).await;
    assert_eq!(report.dead_lettered, 2);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    for (debug, display) in seen.iter() {
        assert_no_personal_data(debug);
        assert_no_personal_data(display);
        assert!(
            debug.contains("purchase") && debug.contains("Http"),
            "{debug}"
        );
        assert!(display.contains("HTTP 400"), "{display}");
    }
}

/// Every variant of [`Error`] and [`InvalidInput`], with personal data in every field that
/// can hold some.
fn every_error() -> Vec<Error> {
    let body = format!(r#"{{"result":"success","vid":"{VISITOR}","echo":"{EMAIL}"}}"#);
    let invalid = [
        InvalidInput::EmptyCompanyId,
        InvalidInput::EmptyEventName,
        InvalidInput::EmptyUserId,
        InvalidInput::EmptyVisitorId,
        InvalidInput::EmptyPropertyName,
        InvalidInput::DuplicateProperty {
            name: "email".into(),
        },
        InvalidInput::NonFiniteNumber {
            name: "amount".into(),
            value: "NaN".into(),
        },
        InvalidInput::ValueDoesNotMatchType {
            name: "amount".into(),
            datatype: 'n',
            value: EMAIL.into(),
        },
        InvalidInput::NoProperties,
        InvalidInput::InvalidCompanyId {
            company_id: "ac me".into(),
            what: "whitespace",
        },
        InvalidInput::InvalidUserId { position: 3 },
        InvalidInput::InvalidVisitorId { position: 3 },
        InvalidInput::TimestampOutOfRange {
            value: 12,
            hint: "",
        },
    ];
    let http = Error::Http {
        call: Endpoint::Evwid,
        host: "evbk.example.com".into(),
        status: 400,
        body: body.clone(),
        attempts: 2,
        retry_after: Some(Duration::from_secs(1)),
    };
    let mut errors: Vec<Error> = invalid.into_iter().map(Error::from).collect();
    errors.extend([
        http.clone(),
        Error::Connection {
            call: Endpoint::Id,
            host: "evbk.example.com".into(),
            phase: Phase::Unknown,
            message: "connection reset".into(),
            attempts: 1,
        },
        Error::Timeout {
            call: Endpoint::Vpr,
            host: "evbk.example.com".into(),
            phase: Phase::NotSent,
            timeout: Duration::from_secs(1),
            attempts: 1,
        },
        Error::InvalidBackend {
            value: "http://evil.example".into(),
            reason: "it has a scheme".into(),
        },
        Error::Decode {
            call: Endpoint::Id,
            reason: "no vid".into(),
            body: body.clone(),
        },
        Error::Resolve {
            cause: Box::new(Error::Decode {
                call: Endpoint::CompanyInfo,
                reason: "not JSON".into(),
                body,
            }),
            host: "cdn.example.com".into(),
            retry_in: Duration::from_millis(250),
            attempts: 1,
        },
        Error::Resolve {
            cause: Box::new(http),
            host: "cdn.example.com".into(),
            retry_in: Duration::from_millis(250),
            attempts: 1,
        },
        Error::Config("bad".into()),
    ]);
    errors
}

#[test]
fn no_error_says_a_value_an_id_or_a_body() {
    let errors = every_error();
    assert_eq!(errors.len(), 21);
    for err in &errors {
        assert_no_personal_data(&err.to_string());
        assert_no_personal_data(&format!("{err:?}"));
        assert_no_personal_data(&format!("{err:#?}"));
    }
    // The type mismatch names the property and the datatype instead of the value.
    let mismatch = errors
        .iter()
        .find(|e| {
            matches!(
                e,
                Error::InvalidInput(InvalidInput::ValueDoesNotMatchType { .. })
            )
        })
        .unwrap()
        .to_string();
    assert!(
        mismatch.contains("`amount`") && mismatch.contains("`n`"),
        "{mismatch}"
    );
}

#[test]
fn a_mismatched_value_from_a_real_call_is_not_quoted() {
    let mut props = Properties::new();
    let err = props
        .push("vip", Value::Text(EMAIL.into(), DataType::Boolean))
        .unwrap_err();
    assert_no_personal_data(&err.to_string());
    assert_no_personal_data(&format!("{err:?}"));
    assert!(err.to_string().contains("`vip`"), "{err}");
}
