//! Scripted faults: failures, delays, dropped connections, a seeded random failure rate, and
//! odd `newnaconf` answers.

use std::time::Duration;

/// How a backend call is to be answered, decided when it arrives.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct BackendFault {
    /// Wait this long before answering.
    pub delay: Option<Duration>,
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
}

impl BackendFault {
    /// The fault as recorded, e.g. `"delay 250ms, fail 503 retry-after 2"`.
    pub(crate) fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(d) = self.delay {
            parts.push(format!("delay {}ms", d.as_millis()));
        }
        match &self.action {
            Some(FaultAction::Drop) => parts.push("drop".to_owned()),
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

    pub(crate) fn set_evbk(&mut self, evbk: Option<String>) {
        self.evbk = evbk;
    }

    pub(crate) fn set_newnaconf_body(&mut self, body: Option<String>) {
        self.newnaconf_body = body;
    }

    pub(crate) fn fail_newnaconf_next(&mut self, n: usize, status: u16) {
        self.newnaconf_fail = (n > 0).then_some((n, status));
    }

    /// Decides the fault for the next backend call, using up scripted counts. A delay
    /// combines with any other fault; a dropped connection comes before a scripted failure,
    /// which comes before the random drop rate, which comes before the random failure rate.
    pub(crate) fn next_backend(&mut self) -> BackendFault {
        let mut fault = BackendFault::default();
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

    pub(crate) fn evbk(&self) -> Option<&str> {
        self.evbk.as_deref()
    }

    pub(crate) fn newnaconf_body(&self) -> Option<&str> {
        self.newnaconf_body.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripted_faults_are_used_up_in_order() {
        let mut f = Faults::new(1);
        f.drop_next(1);
        f.fail_next(2, 503, Some(3));
        assert_eq!(f.next_backend().action, Some(FaultAction::Drop));
        let second = f.next_backend();
        assert_eq!(second.describe().as_deref(), Some("fail 503 retry-after 3"));
        assert!(f.next_backend().action.is_some());
        assert_eq!(f.next_backend(), BackendFault::default());
    }

    #[test]
    fn drop_rate_drops_a_seeded_share_before_the_failure_rate() {
        let run = |seed| {
            let mut f = Faults::new(seed);
            f.set_drop_rate(0.25);
            f.set_failure_rate(0.25, 503);
            (0..400)
                .map(|_| f.next_backend().action)
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
    fn failure_rate_is_reproducible_from_the_seed() {
        let run = |seed| {
            let mut f = Faults::new(seed);
            f.set_failure_rate(0.5, 500);
            (0..64)
                .map(|_| f.next_backend().action.is_some())
                .collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(a, run(7));
        let failures = a.iter().filter(|x| **x).count();
        assert!(failures > 0 && failures < 64, "{failures}");
    }
}
