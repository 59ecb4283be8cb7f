//! The delivery loop: a scheduler task and a pool of delivery tasks, sized by the
//! concurrency's maximum (the most requests that may ever be in flight). Each delivery task
//! takes the next event that may start (nothing ready, a pause, or the state's in-flight
//! limit make it park), delivers it once, and settles the outcome by the [`DeliveryRules`]
//! (the state feeds the attempt to its limiter there, which moves the limit); the
//! scheduler moves due retries back to the ready line, ends pauses, and reads replay pages.
//!
//! A panic in an attempt (the transport, a [`Deliver`](crate::queue::Deliver), a `tracing`
//! layer) is caught with `futures-util`'s `catch_unwind` (already in the dependency tree
//! through reqwest, so it costs no build) and settles that attempt as
//! [`Panicked`](crate::queue::DeadLetterReason::Panicked); the task goes on.
//!
//! [`DeliveryRules`]: crate::queue::DeliveryRules

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use tokio::task::JoinSet;

use crate::call::Request;
use crate::queue::shared::{contained, Shared};
use crate::queue::state::{Attempted, Start};

/// Stops the queue if the scheduler's future is dropped while the queue runs: the runtime
/// is shutting down (a `static` queue at the end of `main`). A memory queue's events then
/// go to the dead-letter hook; a spool's stay spooled.
struct RuntimeEnd(Arc<Shared>);

impl Drop for RuntimeEnd {
    fn drop(&mut self) {
        self.0.abandon("stopped by its runtime's end");
    }
}

/// The scheduler: starts the pool, moves due retries back to the ready line (sleeping
/// until the next due time or the end of a pause), reads replay pages as room frees up,
/// and when stopped (or closed with nothing left) ends the pool, abandoning any attempt
/// still running.
pub(super) async fn run(shared: Arc<Shared>) {
    let end = RuntimeEnd(shared.clone());
    let mut tasks = JoinSet::new();
    for slot in 0..shared.config.get_concurrency() {
        tasks.spawn(supervise(shared.clone(), slot));
    }
    loop {
        let notified = shared.wake_scheduler.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let tick = shared.lock().tick(tokio::time::Instant::now().into_std());
        if tick.stop {
            break;
        }
        shared.apply(tick.effects);
        if let Some((after, through, limit)) = tick.load {
            let page = shared.store.read_page(after, through, limit).await;
            let effects = shared.lock().replayed(page);
            shared.apply(effects);
            continue;
        }
        match tick.next {
            Some(at) => {
                tokio::select! {
                    _ = notified => {}
                    _ = tokio::time::sleep_until(at.into()) => {}
                }
            }
            None => notified.await,
        }
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    // Stopped or closed with nothing left: `abandon` finds nothing to do.
    drop(end);
}

/// Runs a delivery task, restarting it should its loop ever panic outside an attempt (a
/// bug): the event in its slot, if any, is settled as panicked, so nothing stays in flight
/// for good and `flush` returns.
async fn supervise(shared: Arc<Shared>, slot: usize) {
    loop {
        let ended = AssertUnwindSafe(deliver_loop(shared.clone(), slot))
            .catch_unwind()
            .await;
        if ended.is_ok() {
            return;
        }
        contained(|| {
            tracing::error!(
                slot,
                "gamooga queue: a delivery task panicked outside an attempt; restarted"
            )
        });
        let effects = shared.lock().abandon_slot(slot, &shared.rules);
        shared.apply(effects);
    }
}

/// Takes the next event that may start into `slot`, waiting for one; `None` when stopped.
async fn take(shared: &Shared, slot: usize) -> Option<Arc<Request>> {
    loop {
        let notified = shared.work.notified();
        tokio::pin!(notified);
        {
            let mut st = shared.lock();
            match st.start(slot) {
                Start::Stop => return None,
                Start::Go(request) => return Some(request),
                Start::Wait => {
                    // Registered before the lock is released, so the transition that claims
                    // this task (`idle -= 1`, then `notify_one`) finds it waiting.
                    notified.as_mut().enable();
                    st.park();
                }
            }
        }
        notified.await;
    }
}

/// One attempt, with a panic anywhere in it (creating the future included) caught.
async fn attempt(shared: &Shared, request: &Request) -> Attempted {
    let delivered = AssertUnwindSafe(async { shared.deliverer.deliver(request).await })
        .catch_unwind()
        .await;
    match delivered {
        Ok(Ok(())) => Attempted::Delivered,
        Ok(Err(error)) => {
            contained(|| {
                tracing::debug!(
                    endpoint = request.endpoint().name(),
                    error = %error,
                    "gamooga queue: attempt failed"
                )
            });
            Attempted::Failed(error)
        }
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned());
            // The payload may hold anything the panicking code formatted: kept at debug.
            contained(|| {
                tracing::error!(
                    endpoint = request.endpoint().name(),
                    "gamooga queue: a delivery attempt panicked; the event is dead-lettered (panicked)"
                );
                tracing::debug!(panic = ?message, "gamooga queue: the panic's message");
            });
            contained(move || drop(panic));
            Attempted::Panicked
        }
    }
}

/// One delivery task: deliver, settle, take the next (settling and taking under one lock).
async fn deliver_loop(shared: Arc<Shared>, slot: usize) {
    let Some(mut request) = take(&shared, slot).await else {
        return;
    };
    loop {
        let attempted = attempt(&shared, &request).await;
        let now = std::time::Instant::now();
        let (effects, next) = {
            let mut st = shared.lock();
            let effects = st.finish(slot, attempted, &shared.rules, now);
            // A dead letter's hook runs first, without the lock; take later.
            let next = if effects.dead.is_some() {
                Start::Wait
            } else {
                st.start(slot)
            };
            (effects, next)
        };
        // The request's last reference goes here, outside the lock: settling a delivered
        // entry under the lock does not free the request's strings there.
        drop(request);
        shared.apply(effects);
        request = match next {
            Start::Stop => return,
            Start::Go(request) => request,
            Start::Wait => match take(&shared, slot).await {
                Some(request) => request,
                None => return,
            },
        };
    }
}
