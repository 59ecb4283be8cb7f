//! An axum service that writes an order and its Gamooga event in one transaction, with a
//! relay delivering in the background.
//!
//! ```sh
//! DATABASE_URL=postgres://user:password@127.0.0.1/db cargo run -p gamooga-outbox --example axum_outbox
//! DATABASE_URL=... cargo run -p gamooga-outbox --example axum_outbox -- --serve   # until Ctrl-C
//! ```
//!
//! Without `GAMOOGA_COMPANY_ID` it starts the Gamooga emulator in-process. It then posts two
//! orders to itself: one is stored with its event; the other fails after its event was
//! written (an unknown product), so the transaction rolls back and the event is never
//! sent. It prints what the emulator received.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use gamooga::outbox::prelude::*;
use gamooga::outbox::sqlx::{self, PgPool};
use gamooga::outbox::{Outbox, Relay};
use gamooga::prelude::*;
use gamooga_emulator::Emulator;

#[derive(GamoogaEvent)]
#[gamooga(name = "purchase")]
struct Purchase<'a> {
    sku: &'a str,
    amount: f64,
}

#[derive(Clone)]
struct App {
    pool: PgPool,
    outbox: Outbox,
}

#[derive(serde::Deserialize)]
struct Order {
    user_id: String,
    sku: String,
    amount: f64,
}

/// The handler: the order row and its event commit together, or neither does.
async fn place_order(
    State(app): State<App>,
    Json(order): Json<Order>,
) -> Result<Json<serde_json::Value>, (StatusCode, String)> {
    let mut tx = app.pool.begin().await.map_err(internal)?;
    let (id,): (i64,) =
        sqlx::query_as("INSERT INTO shop_orders (user_id, sku) VALUES ($1, $2) RETURNING id")
            .bind(&order.user_id)
            .bind(&order.sku)
            .fetch_one(&mut *tx)
            .await
            .map_err(internal)?;
    // Checked here (a NaN amount is a 400, and nothing is written); the row exists only if
    // the transaction commits.
    Purchase {
        sku: &order.sku,
        amount: order.amount,
    }
    .enqueue_in(&app.outbox, &mut *tx, &order.user_id)
    .await
    .map_err(|e| match e {
        gamooga::outbox::Error::Invalid(e) => (StatusCode::BAD_REQUEST, e.to_string()),
        e => internal(e),
    })?;
    // Business rules after the event was written: a failure here rolls both back.
    let known: bool = sqlx::query_scalar("SELECT $1 LIKE 'SKU-%'")
        .bind(&order.sku)
        .fetch_one(&mut *tx)
        .await
        .map_err(internal)?;
    if !known {
        return Err((StatusCode::UNPROCESSABLE_ENTITY, "unknown product".into()));
        // tx dropped: rolled back
    }
    tx.commit().await.map_err(internal)?;
    Ok(Json(serde_json::json!({ "order": id })))
}

fn internal(e: impl std::fmt::Display) -> (StatusCode, String) {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let serve = std::env::args().any(|a| a == "--serve");
    let database_url = std::env::var("DATABASE_URL")
        .map_err(|_| "set DATABASE_URL (postgres://user:password@host/db)")?;
    let pool = gamooga::outbox::connect(&database_url).await?;
    gamooga::outbox::migrate(&pool).await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS shop_orders (id bigserial PRIMARY KEY, user_id text NOT NULL, sku text NOT NULL)")
        .execute(&pool)
        .await?;

    let (client, emulator) = match std::env::var("GAMOOGA_COMPANY_ID") {
        Ok(_) => (gamooga::Client::from_env()?, None),
        Err(_) => {
            let emu = Emulator::start().await?;
            let client = gamooga::Client::builder("axum-demo")
                .config_url(emu.config_url())
                .build()?;
            (client, Some(emu))
        }
    };
    let relay = Relay::new(pool.clone(), client.clone()).start().await?;
    let app = App {
        pool: pool.clone(),
        outbox: Outbox::for_client(&client),
    };
    let router = Router::new()
        .route("/orders", post(place_order))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    println!("serving on http://{addr}/orders");

    let http = reqwest::Client::new();
    for (user, sku) in [("user-42", "SKU-1"), ("user-43", "NOT-A-SKU")] {
        let answer = http
            .post(format!("http://{addr}/orders"))
            .json(&serde_json::json!({ "user_id": user, "sku": sku, "amount": 12.5 }))
            .send()
            .await?;
        println!("POST /orders {sku}: {}", answer.status());
    }
    if let Some(emu) = &emulator {
        emu.wait_for(
            |calls| calls.iter().any(|c| c.event.is_some()),
            Duration::from_secs(10),
        )
        .await;
        for call in emu.events() {
            println!(
                "the emulator received: {} {} sku={:?}",
                call.endpoint,
                call.event.as_deref().unwrap_or(""),
                call.event_property("sku").map(|p| p.value.as_str())
            );
        }
    }
    if serve {
        println!("serving until Ctrl-C");
        tokio::signal::ctrl_c().await?;
    }
    // Graceful shutdown: the server first, then the relay (bounded).
    let _ = stop.send(());
    server.await??;
    let report = relay.shutdown(Duration::from_secs(10)).await;
    println!(
        "relay: {} delivered, {} dead",
        report.stats.delivered, report.stats.dead_lettered
    );
    Ok(())
}
