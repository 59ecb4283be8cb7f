//! The before-send hook: a function the client runs on every event and visitor property push
//! as the call is built, which can add, change or remove properties, or drop the call.
//!
//! Set it with [`ClientBuilder::before_send`](crate::ClientBuilder::before_send) (or
//! [`Calls::with_before_send`](crate::Calls::with_before_send)). It runs where the request is
//! built: in the caller's task for a direct call, and at enqueue time for a queued one (a
//! queue started with [`Client::queue`](crate::Client::queue) builds with its client's
//! [`Calls`](crate::Calls)), never at delivery. So what it returns is what is stored in a
//! spool and sent, and a dropped event is never queued.
//!
//! With a hook, the event's properties are first copied into a [`Properties`] list the hook
//! can edit; without one, the properties are encoded straight into the request (the derive's
//! fast path: one allocation per request). The facade's crate docs hold recipes: default
//! properties, redaction, sampling.
//!
//! A dropped call is counted ([`ClientStats::before_send_dropped`](crate::ClientStats),
//! [`QueueStats::before_send_dropped`](crate::queue::QueueStats)); the client's and the
//! queue's methods then return `Ok` without sending, while the pure builders of
//! [`Calls`](crate::Calls) return [`InvalidInput::DroppedByHook`].
//! A panic in the hook is not caught: it happens in the caller's own code, at the call site.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::call::Endpoint;
use crate::error::InvalidInput;
use crate::event::Event;
use crate::property::{Properties, PropertyWriter};
use crate::time::Timestamp;

/// What the hook decides for a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Build and send the call with the (possibly changed) properties.
    Keep,
    /// Send nothing; the call is counted as dropped and the method returns `Ok`.
    Drop,
}

/// Writes a visitor's properties into a list (for the hook to see).
pub(crate) type WriteVisitor<'a> = &'a dyn Fn(&mut Properties) -> Result<(), InvalidInput>;

/// The hook: called once per event or visitor property push as it is built.
pub(crate) type BeforeSendHook = Arc<dyn Fn(&mut Outgoing<'_>) -> Action + Send + Sync>;

/// A call about to be built, as the before-send hook sees it: which call, the event's name
/// and its properties (editable), and for `evvprwid` the visitor properties too.
///
/// The ids (user and visitor) are not shown: they are checked before the hook runs and go
/// out unchanged.
pub struct Outgoing<'a> {
    endpoint: Endpoint,
    name: Option<Cow<'a, str>>,
    properties: Properties,
    visitor_properties: Option<Properties>,
}

impl fmt::Debug for Outgoing<'_> {
    /// The call, the event name and the property names (never values).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |p: &Properties| p.iter().map(|p| p.name.clone()).collect::<Vec<_>>();
        f.debug_struct("Outgoing")
            .field("endpoint", &self.endpoint)
            .field("name", &self.name)
            .field("properties", &names(&self.properties))
            .field(
                "visitor_properties",
                &self.visitor_properties.as_ref().map(names),
            )
            .finish()
    }
}

impl<'a> Outgoing<'a> {
    /// Which call: [`Endpoint::Evwid`] for an event by user id (it may still go as
    /// `evwidj`, decided after the hook), [`Endpoint::Ev`], [`Endpoint::Evvprwid`], or
    /// [`Endpoint::Vpr`] for visitor properties (by visitor id, or by user id through a
    /// queue).
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    /// The event's name; `None` for a visitor property push (`vpr`).
    pub fn event_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Renames the event (ignored for a visitor property push, which has no name).
    pub fn set_event_name(&mut self, name: impl Into<String>) {
        if self.name.is_some() {
            self.name = Some(Cow::Owned(name.into()));
        }
    }

    /// The properties: the event's, or for `vpr` the visitor's.
    pub fn properties(&self) -> &Properties {
        &self.properties
    }

    /// The properties, to change: add with [`Properties::set`] or [`Properties::push`],
    /// remove with [`Properties::remove`] or [`Properties::retain`].
    pub fn properties_mut(&mut self) -> &mut Properties {
        &mut self.properties
    }

    /// The visitor properties of an `evvprwid` call (an event with visitor properties);
    /// `None` for every other call.
    pub fn visitor_properties_mut(&mut self) -> Option<&mut Properties> {
        self.visitor_properties.as_mut()
    }
}

/// An event rebuilt from what the hook left: the name, the properties and the original
/// event's time.
pub(crate) struct HookedEvent<'a> {
    name: Cow<'a, str>,
    properties: Properties,
    timestamp: Option<Timestamp>,
}

impl Event for HookedEvent<'_> {
    fn name(&self) -> &str {
        &self.name
    }
    fn timestamp(&self) -> Result<Option<Timestamp>, InvalidInput> {
        Ok(self.timestamp)
    }
    fn write_properties<W: PropertyWriter + ?Sized>(&self, w: &mut W) -> Result<(), InvalidInput> {
        self.properties.write_to(w)
    }
}

/// What running the hook came to: the rebuilt event (if there is one) and visitor
/// properties, or a drop.
pub(crate) enum Hooked<'a> {
    Keep {
        event: Option<HookedEvent<'a>>,
        visitor: Option<Properties>,
    },
    Drop,
}

/// Collects what a writer writes into a [`Properties`] list, validating each value.
fn collect(
    write: impl FnOnce(&mut Properties) -> Result<(), InvalidInput>,
) -> Result<Properties, InvalidInput> {
    let mut properties = Properties::new();
    write(&mut properties)?;
    Ok(properties)
}

/// Runs `hook` on an event (and, for `evvprwid`, its visitor properties), or on a visitor
/// property push (`event` `None`, `visitor` the properties).
pub(crate) fn run<'a, E: Event + ?Sized>(
    hook: &BeforeSendHook,
    endpoint: Endpoint,
    event: Option<&'a E>,
    visitor: Option<WriteVisitor<'_>>,
) -> Result<Hooked<'a>, InvalidInput> {
    let (name, timestamp, event_properties) = match event {
        Some(event) => (
            Some(Cow::Borrowed(event.name())),
            event.timestamp()?,
            Some(collect(|p| event.write_properties(p))?),
        ),
        None => (None, None, None),
    };
    let visitor_properties = match visitor {
        Some(write) => Some(collect(write)?),
        None => None,
    };
    // The hook edits one list as "the properties": the event's, or the visitor's for vpr.
    let (properties, visitor_properties) = match event_properties {
        Some(p) => (p, visitor_properties),
        None => (visitor_properties.unwrap_or_default(), None),
    };
    let mut outgoing = Outgoing {
        endpoint,
        name,
        properties,
        visitor_properties,
    };
    if hook(&mut outgoing) == Action::Drop {
        return Ok(Hooked::Drop);
    }
    let Outgoing {
        name,
        properties,
        visitor_properties,
        ..
    } = outgoing;
    Ok(match name {
        Some(name) => Hooked::Keep {
            event: Some(HookedEvent {
                name,
                properties,
                timestamp,
            }),
            visitor: visitor_properties,
        },
        None => Hooked::Keep {
            event: None,
            visitor: Some(properties),
        },
    })
}
