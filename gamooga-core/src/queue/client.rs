//! The queue's link to [`Client`]: [`Client::queue`] and [`Deliver`] for the client.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::call::Request;
use crate::client::Client;
use crate::counters::Counters;
use crate::error::Error;
use crate::queue::{Deliver, Queue, QueueConfig};

impl Deliver for Client {
    /// One attempt through [`Client::send_once`]: the backend is resolved (cached), the
    /// request sent once over the client's keep-alive connection pool, no retry.
    fn deliver<'a>(
        &'a self,
        request: &'a Request,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
        Box::pin(async move { self.send_once(request).await.map(drop) })
    }

    /// `Gamooga (company <id>)`; the errors in the queue's warnings name the host.
    fn destination(&self) -> String {
        format!("Gamooga (company {})", self.company_id())
    }
}

/// The client as a queue's [`Deliver`], counting its visitor-id lookups in the queue's
/// counters (those of the queue's [`Calls`](crate::Calls)).
struct QueueDeliver {
    client: Client,
    counters: Arc<Counters>,
}

impl Deliver for QueueDeliver {
    fn deliver<'a>(
        &'a self,
        request: &'a Request,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
        Box::pin(async move {
            self.client
                .send_once_counted(request, &self.counters)
                .await
                .map(drop)
        })
    }

    fn destination(&self) -> String {
        self.client.destination()
    }
}

impl Client {
    /// Starts a delivery queue on this client (spawned on the current tokio runtime): events
    /// go in without waiting on Gamooga and are delivered in the background, with the
    /// queue's own retry policy ([`RetryPolicy::background`](crate::retry::RetryPolicy::background)
    /// by default) rather than the client's.
    ///
    /// Errors: outside a tokio runtime, or when the spool cannot be used.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use gamooga::{Client, CustomEvent, Properties, transport::DryRunTransport};
    /// use gamooga::queue::QueueConfig;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = Client::builder("acme").transport(Arc::new(DryRunTransport::new())).build()?;
    /// let queue = client.queue(QueueConfig::default())?;
    /// queue.try_track("user-42", &CustomEvent::new("login", Properties::new()))?;
    /// let report = queue.shutdown(Duration::from_secs(5)).await;
    /// assert_eq!(report.delivered, 1);
    /// # Ok(()) }
    /// ```
    pub fn queue(&self, config: QueueConfig) -> Result<Queue, Error> {
        // The queue builds with the client's settings and hook, and counts on its own.
        let calls = self.calls().with_fresh_counters();
        let deliver = QueueDeliver {
            client: self.clone(),
            counters: calls.counters().clone(),
        };
        Queue::start(deliver, calls, config, self.is_disabled())
    }
}
