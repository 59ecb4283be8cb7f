//! Scripted faults: failures, delays, dropped connections, seeded random failure and drop
//! rates, a rate limit, a steady latency, and odd `newnaconf` answers; their state as the
//! page shows it, and the commands the page sends.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::ratelimit::{RateLimit, TokenBucket};

/// How a backend call is to be answered, decided when it arrives.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct BackendFault {
    /// Wait this long before answering (a scripted delay).
    pub delay: Option<Duration>,
    /// And this long more (the steady latency; not described as a fault of the call).
    pub latency: Option<Duration>,
    /// What to answer instead of the normal answer.
    pub action: Option<FaultAction>,
}

/// An answer that replaces the normal one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FaultAction {
    /// Answer this status (with `Retry-After` when set). `random` tells it came from the rate.
    Fail {
        status: u16,
        retry_after: Option<u64>,
        random: bool,
    },
    /// Close the connection without answering.
    Drop,
    /// Over the rate limit: `429` with `Retry-After`.
    RateLimited {
        /// Whole seconds until a call would be served.
        retry_after: u64,
    },
}

impl BackendFault {
    /// How long to wait before answering: the scripted delay plus the steady latency.
    pub(crate) fn wait(&self) -> Option<Duration> {
        match (self.delay, self.latency) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or_default() + b.unwrap_or_default()),
        }
    }

    /// The fault as recorded, e.g. `"delay 250ms, fail 503 retry-after 2"`.
    pub(crate) fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(d) = self.delay {
            parts.push(format!("delay {}ms", d.as_millis()));
        }
        match &self.action {
            Some(FaultAction::Drop) => parts.push("drop".to_owned()),
            Some(FaultAction::RateLimited { retry_after }) => {
                parts.push(format!("rate limit 429 retry-after {retry_after}"));
            }
            Some(FaultAction::Fail {
                status,
                retry_after,
                random,
            }) => {
                let kind = if *random { "random" } else { "fail" };
                match retry_after {
                    Some(s) => parts.push(format!("{kind} {status} retry-after {s}")),
                    None => parts.push(format!("{kind} {status}")),
                }
            }
            None => {}
        }
        if parts.is_empty() {
            None
        } else {
            Some(parts.join(", "))
        }
    }
}

/// The scripted fault state.
#[derive(Debug)]
pub(crate) struct Faults {
    seed: u64,
    fail: Option<(usize, u16, Option<u64>)>,
    delay: Option<(usize, Duration)>,
    drop: usize,
    rate: Option<(f64, u16)>,
    drop_rate: Option<f64>,
    rate_limit: Option<TokenBucket>,
    latency: Option<Duration>,
    rng: fastrand::Rng,
    evbk: Option<String>,
    newnaconf_body: Option<String>,
    newnaconf_fail: Option<(usize, u16)>,
}

impl Faults {
    pub(crate) fn new(seed: u64) -> Self {
        Faults {
            seed,
            fail: None,
            delay: None,
            drop: 0,
            rate: None,
            drop_rate: None,
            rate_limit: None,
            latency: None,
            rng: fastrand::Rng::with_seed(seed),
            evbk: None,
            newnaconf_body: None,
            newnaconf_fail: None,
        }
    }

    /// Turns every fault off (the random generator starts again from the seed).
    pub(crate) fn clear(&mut self) {
        *self = Faults::new(self.seed);
    }

    pub(crate) fn fail_next(&mut self, n: usize, status: u16, retry_after: Option<u64>) {
        self.fail = (n > 0).then_some((n, status, retry_after));
    }

    pub(crate) fn delay_next(&mut self, n: usize, delay: Duration) {
        self.delay = (n > 0).then_some((n, delay));
    }

    pub(crate) fn drop_next(&mut self, n: usize) {
        self.drop = n;
    }

    pub(crate) fn set_failure_rate(&mut self, rate: f64, status: u16) {
        self.rate = (rate > 0.0 && rate.is_finite()).then_some((rate.min(1.0), status));
    }

    pub(crate) fn set_drop_rate(&mut self, rate: f64) {
        self.drop_rate = (rate > 0.0 && rate.is_finite()).then_some(rate.min(1.0));
    }

    /// A rate limit from `now` on (a full bucket); `None` (or an invalid limit) lifts it.
    pub(crate) fn set_rate_limit(&mut self, limit: Option<RateLimit>, now: Instant) {
        self.rate_limit = limit
            .filter(RateLimit::is_valid)
            .map(|l| TokenBucket::new(l, now));
    }

    pub(crate) fn set_latency(&mut self, latency: Option<Duration>) {
        self.latency = latency.filter(|d| !d.is_zero());
    }

    pub(crate) fn set_evbk(&mut self, evbk: Option<String>) {
        self.evbk = evbk;
    }

    pub(crate) fn set_newnaconf_body(&mut self, body: Option<String>) {
        self.newnaconf_body = body;
    }

    pub(crate) fn fail_newnaconf_next(&mut self, n: usize, status: u16) {
        self.newnaconf_fail = (n > 0).then_some((n, status));
    }

    /// Decides the fault for the next backend call arriving at `now`, using up scripted
    /// counts. A delay combines with any other fault; a dropped connection comes before a
    /// scripted failure, then the rate limit, then the random drop rate, then the random
    /// failure rate.
    pub(crate) fn next_backend(&mut self, now: Instant) -> BackendFault {
        let mut fault = BackendFault {
            latency: self.latency,
            ..BackendFault::default()
        };
        if let Some((n, d)) = &mut self.delay {
            fault.delay = Some(*d);
            *n -= 1;
            if *n == 0 {
                self.delay = None;
            }
        }
        if self.drop > 0 {
            self.drop -= 1;
            fault.action = Some(FaultAction::Drop);
        } else if let Some((n, status, retry_after)) = &mut self.fail {
            fault.action = Some(FaultAction::Fail {
                status: *status,
                retry_after: *retry_after,
                random: false,
            });
            *n -= 1;
            if *n == 0 {
                self.fail = None;
            }
        } else if let Some(Err(retry_after)) = self.rate_limit.as_mut().map(|b| b.take(now)) {
            fault.action = Some(FaultAction::RateLimited { retry_after });
        } else if self.drop_rate.is_some_and(|rate| self.rng.f64() < rate) {
            fault.action = Some(FaultAction::Drop);
        } else if let Some((rate, status)) = self.rate {
            if self.rng.f64() < rate {
                fault.action = Some(FaultAction::Fail {
                    status,
                    retry_after: None,
                    random: true,
                });
            }
        }
        fault
    }

    /// A scripted `newnaconf` failure status, using up one.
    pub(crate) fn next_newnaconf_failure(&mut self) -> Option<u16> {
        let (n, status) = self.newnaconf_fail.as_mut()?;
        let status = *status;
        *n -= 1;
        if *n == 0 {
            self.newnaconf_fail = None;
        }
        Some(status)
    }

    /// What is set, for the page and [`Emulator::faults`](crate::Emulator::faults).
    pub(crate) fn state(&self) -> FaultState {
        FaultState {
            up: true,
            fail_next: self.fail.map(|(remaining, status, retry_after)| FailNext {
                remaining,
                status,
                retry_after,
            }),
            delay_next: self.delay.map(|(remaining, d)| DelayNext {
                remaining,
                delay_ms: millis(d),
            }),
            drop_next: self.drop,
            failure_rate: self.rate.map(|(rate, status)| FailureRate { rate, status }),
            drop_rate: self.drop_rate,
            rate_limit: self.rate_limit.as_ref().map(TokenBucket::limit),
            latency_ms: self.latency.map(millis),
            evbk: self.evbk.clone(),
            newnaconf_body: self.newnaconf_body.clone(),
            fail_newnaconf_next: self
                .newnaconf_fail
                .map(|(remaining, status)| FailNewnaconf { remaining, status }),
        }
    }

    /// Applies a command from the page (all but going down and up, which the server does).
    pub(crate) fn apply(&mut self, command: &FaultCommand, now: Instant) {
        match command {
            FaultCommand::FailNext {
                n,
                status,
                retry_after,
            } => self.fail_next(*n, *status, *retry_after),
            FaultCommand::DelayNext { n, ms } => {
                self.delay_next(*n, Duration::from_millis(*ms));
            }
            FaultCommand::DropNext { n } => self.drop_next(*n),
            FaultCommand::FailureRate { rate, status } => self.set_failure_rate(*rate, *status),
            FaultCommand::DropRate { rate } => self.set_drop_rate(*rate),
            FaultCommand::RateLimit { per_second, burst } => {
                let limit = per_second.map(|r| {
                    let limit = RateLimit::per_second(r);
                    burst.map_or(limit, |b| limit.burst(b))
                });
                self.set_rate_limit(limit, now);
            }
            FaultCommand::Latency { ms } => {
                self.set_latency(ms.map(Duration::from_millis));
            }
            FaultCommand::Evbk { evbk } => {
                self.set_evbk(evbk.clone().filter(|e| !e.is_empty()));
            }
            FaultCommand::FailNewnaconfNext { n, status } => self.fail_newnaconf_next(*n, *status),
            FaultCommand::Clear => self.clear(),
            FaultCommand::GoDown | FaultCommand::ComeUp => {}
        }
    }

    pub(crate) fn evbk(&self) -> Option<&str> {
        self.evbk.as_deref()
    }

    pub(crate) fn newnaconf_body(&self) -> Option<&str> {
        self.newnaconf_body.as_deref()
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The faults currently set: what the page shows at all times, and what
/// [`Emulator::faults`](crate::Emulator::faults) returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FaultState {
    /// Whether the server is listening (false after `go_down`).
    pub up: bool,
    /// Backend calls still to fail.
    pub fail_next: Option<FailNext>,
    /// Backend calls still to delay.
    pub delay_next: Option<DelayNext>,
    /// Backend calls still to drop without an answer.
    pub drop_next: usize,
    /// The random failure rate.
    pub failure_rate: Option<FailureRate>,
    /// The random drop rate (0..=1).
    pub drop_rate: Option<f64>,
    /// The rate limit.
    pub rate_limit: Option<RateLimit>,
    /// The latency added to every backend answer, in milliseconds.
    pub latency_ms: Option<u64>,
    /// The backend `newnaconf` answers instead of this one (a backend move).
    pub evbk: Option<String>,
    /// The raw body `newnaconf` answers instead of its JSON.
    pub newnaconf_body: Option<String>,
    /// `newnaconf` calls still to fail.
    pub fail_newnaconf_next: Option<FailNewnaconf>,
}

impl FaultState {
    /// Whether any fault is set (or the server is down).
    pub fn is_active(&self) -> bool {
        !self.up
            || self.fail_next.is_some()
            || self.delay_next.is_some()
            || self.drop_next > 0
            || self.failure_rate.is_some()
            || self.drop_rate.is_some()
            || self.rate_limit.is_some()
            || self.latency_ms.is_some()
            || self.evbk.is_some()
            || self.newnaconf_body.is_some()
            || self.fail_newnaconf_next.is_some()
    }
}

/// Scripted failures still to come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailNext {
    /// How many calls are still to fail.
    pub remaining: usize,
    /// The status they get.
    pub status: u16,
    /// The `Retry-After` seconds they carry.
    pub retry_after: Option<u64>,
}

/// Scripted delays still to come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelayNext {
    /// How many calls are still to delay.
    pub remaining: usize,
    /// By how long, in milliseconds.
    pub delay_ms: u64,
}

/// A random failure rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FailureRate {
    /// The share of calls failed (0..=1).
    pub rate: f64,
    /// The status they get.
    pub status: u16,
}

/// Scripted `newnaconf` failures still to come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailNewnaconf {
    /// How many are still to fail.
    pub remaining: usize,
    /// The status they get.
    pub status: u16,
}

/// A change of faults, as the page posts it to `POST /_emulator/faults`, e.g.
/// `{"fail_next": {"n": 1, "status": 503, "retry_after": 2}}`, `{"rate_limit":
/// {"per_second": 100}}`, `"go_down"`, `"clear"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FaultCommand {
    /// [`Emulator::fail_next`](crate::Emulator::fail_next) (with `Retry-After` when set).
    FailNext {
        /// How many.
        n: usize,
        /// The status.
        status: u16,
        /// `Retry-After` seconds.
        #[serde(default)]
        retry_after: Option<u64>,
    },
    /// [`Emulator::delay_next`](crate::Emulator::delay_next).
    DelayNext {
        /// How many.
        n: usize,
        /// Milliseconds.
        ms: u64,
    },
    /// [`Emulator::drop_next`](crate::Emulator::drop_next).
    DropNext {
        /// How many.
        n: usize,
    },
    /// [`Emulator::set_failure_rate`](crate::Emulator::set_failure_rate).
    FailureRate {
        /// 0..=1 (0 turns it off).
        rate: f64,
        /// The status.
        status: u16,
    },
    /// [`Emulator::set_drop_rate`](crate::Emulator::set_drop_rate).
    DropRate {
        /// 0..=1 (0 turns it off).
        rate: f64,
    },
    /// [`Emulator::set_rate_limit`](crate::Emulator::set_rate_limit); no rate lifts it.
    RateLimit {
        /// Calls per second.
        #[serde(default)]
        per_second: Option<f64>,
        /// The burst (default: the rate).
        #[serde(default)]
        burst: Option<u32>,
    },
    /// [`Emulator::set_latency`](crate::Emulator::set_latency); no value lifts it.
    Latency {
        /// Milliseconds.
        #[serde(default)]
        ms: Option<u64>,
    },
    /// [`Emulator::set_evbk`](crate::Emulator::set_evbk): a backend move; none or empty
    /// moves back.
    Evbk {
        /// `host:port`.
        #[serde(default)]
        evbk: Option<String>,
    },
    /// [`Emulator::fail_newnaconf_next`](crate::Emulator::fail_newnaconf_next).
    FailNewnaconfNext {
        /// How many.
        n: usize,
        /// The status.
        status: u16,
    },
    /// Turns every fault off.
    Clear,
    /// [`Emulator::go_down`](crate::Emulator::go_down).
    GoDown,
    /// [`Emulator::come_up`](crate::Emulator::come_up).
    ComeUp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripted_faults_are_used_up_in_order() {
        let mut f = Faults::new(1);
        f.drop_next(1);
        f.fail_next(2, 503, Some(3));
        assert_eq!(
            f.next_backend(Instant::now()).action,
            Some(FaultAction::Drop)
        );
        let second = f.next_backend(Instant::now());
        assert_eq!(second.describe().as_deref(), Some("fail 503 retry-after 3"));
        assert!(f.next_backend(Instant::now()).action.is_some());
        assert_eq!(f.next_backend(Instant::now()), BackendFault::default());
    }

    #[test]
    fn drop_rate_drops_a_seeded_share_before_the_failure_rate() {
        let run = |seed| {
            let mut f = Faults::new(seed);
            f.set_drop_rate(0.25);
            f.set_failure_rate(0.25, 503);
            (0..400)
                .map(|_| f.next_backend(Instant::now()).action)
                .collect::<Vec<_>>()
        };
        let a = run(3);
        assert_eq!(a, run(3));
        let drops = a.iter().filter(|x| **x == Some(FaultAction::Drop)).count();
        let fails = a
            .iter()
            .filter(|x| matches!(x, Some(FaultAction::Fail { random: true, .. })))
            .count();
        assert!((60..140).contains(&drops), "{drops} drops of 400");
        assert!((40..120).contains(&fails), "{fails} failures of 400");
    }

    #[test]
    fn rate_limit_answers_429_beyond_the_burst() {
        let t0 = Instant::now();
        let mut f = Faults::new(1);
        f.set_rate_limit(Some(RateLimit::per_second(2.0).burst(2)), t0);
        let actions: Vec<_> = (0..3).map(|_| f.next_backend(t0).action).collect();
        assert_eq!(
            actions,
            [
                None,
                None,
                Some(FaultAction::RateLimited { retry_after: 1 })
            ]
        );
        assert_eq!(f.next_backend(t0 + Duration::from_millis(500)).action, None);
        assert_eq!(
            f.state().rate_limit,
            Some(RateLimit {
                per_second: 2.0,
                burst: 2.0
            })
        );
        f.set_rate_limit(None, t0);
        assert_eq!(f.next_backend(t0).action, None);
    }

    #[test]
    fn page_commands_set_the_same_faults_as_the_api() {
        let now = Instant::now();
        let mut f = Faults::new(1);
        let command: FaultCommand =
            serde_json::from_str(r#"{"fail_next": {"n": 2, "status": 503, "retry_after": 4}}"#)
                .unwrap();
        f.apply(&command, now);
        f.apply(
            &serde_json::from_str(r#"{"latency": {"ms": 5}}"#).unwrap(),
            now,
        );
        let state = f.state();
        assert_eq!(
            state.fail_next,
            Some(FailNext {
                remaining: 2,
                status: 503,
                retry_after: Some(4)
            })
        );
        assert_eq!(state.latency_ms, Some(5));
        assert!(state.is_active());
        f.apply(&serde_json::from_str(r#""clear""#).unwrap(), now);
        assert!(!f.state().is_active());
    }

    #[test]
    fn failure_rate_is_reproducible_from_the_seed() {
        let run = |seed| {
            let mut f = Faults::new(seed);
            f.set_failure_rate(0.5, 500);
            (0..64)
                .map(|_| f.next_backend(Instant::now()).action.is_some())
                .collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(a, run(7));
        let failures = a.iter().filter(|x| **x).count();
        assert!(failures > 0 && failures < 64, "{failures}");
    }
}
