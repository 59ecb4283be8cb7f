//! How many requests may be in flight now: a fixed number, or a limit that adapts to what
//! the round trips and the server's refusals say.
//!
//! Every settled attempt is a [`Sample`]: when it started, how long it took, how many were in
//! flight then, and its [`Signal`]: a `200` is a latency sample; a `429`, a `503` or a
//! timeout says "too much" (an overload); anything else (a rejection, a connection reset, a
//! backend that cannot be resolved, a panic) says nothing about load and is ignored. A pause
//! of every delivery (`Retry-After`) is not a sample at all: nothing is sent while it lasts,
//! and the limit does not move.
//!
//! Two adaptive limiters, both bounded by the configured minimum and maximum, both judging
//! latency once a round trip by the median of that round trip's answers against the
//! smallest round trip seen (a median, so one slow answer in twenty does not count), and
//! both counting one overload per episode (only a refusal of a request sent after the last
//! cut counts):
//!
//! - [`Gradient`], the default (after Envoy's adaptive concurrency filter and Netflix's
//!   Gradient2): doubles a round trip until latency first rises (slow start), then grows by
//!   √limit a round trip while the median stays within 2 × the minimum (or the minimum +
//!   5 ms); past it, shrinks in proportion, smoothed (at most 10% a round trip). An
//!   overload cuts it by 30%, and the climb back follows TCP CUBIC's curve (RFC 9438): fast
//!   towards the limit at which the overload came, flat around it, faster past it, so a
//!   server's rate limit is probed gently. The minimum round trip is measured again every
//!   minute with the limit down to 4 for a few answers.
//! - [`Aimd`] (TCP Reno with slow start): doubles a round trip until the first overload,
//!   then adds one a round trip; halves on an overload, and a round trip whose median is
//!   above 2 × the minimum is one.
//!
//! `benches/network.rs` (`candidates`) compares them; the README has the figures that chose
//! the gradient.
//!
//! Both are pure: the clock is passed in, so they are tested with made-up instants.

use std::fmt;
use std::time::{Duration, Instant};

/// What one attempt says about load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Answered `200`: its round trip is a latency sample.
    Ok,
    /// Refused for load (`429`, `503`) or timed out: too much in flight.
    Overload,
    /// Says nothing about load.
    Ignore,
}

/// One settled attempt.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// When it was sent.
    pub(crate) started: Instant,
    /// How long it took.
    pub(crate) rtt: Duration,
    /// Requests in flight when it started, itself included.
    pub(crate) in_flight: usize,
    pub(crate) signal: Signal,
}

/// A concurrency limit.
pub(crate) trait Limit: Send + fmt::Debug {
    /// How many requests may be in flight now (at least 1).
    fn limit(&self) -> usize;
    /// Takes one settled attempt into account; `now` is when it settled.
    fn sample(&mut self, sample: &Sample, now: Instant);
}

/// A fixed limit.
#[derive(Debug)]
pub(crate) struct Fixed(pub(crate) usize);

impl Limit for Fixed {
    fn limit(&self) -> usize {
        self.0
    }

    fn sample(&mut self, _sample: &Sample, _now: Instant) {}
}

/// Bounds shared by the adaptive limiters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bounds {
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) initial: f64,
}

impl Bounds {
    pub(crate) fn new(min: usize, max: usize, initial: usize) -> Self {
        let min = min.max(1) as f64;
        let max = (max as f64).max(min);
        Bounds {
            min,
            max,
            initial: (initial as f64).clamp(min, max),
        }
    }

    fn clamp(&self, limit: f64) -> f64 {
        limit.clamp(self.min, self.max)
    }
}

/// The smallest round trip seen over the last 10 to 20 seconds (two buckets of 10 s), so a
/// slower route is learned again and one lucky sample does not stay forever.
#[derive(Debug)]
struct MinRtt {
    current: Duration,
    previous: Duration,
    since: Option<Instant>,
}

impl MinRtt {
    const BUCKET: Duration = Duration::from_secs(10);

    fn new() -> Self {
        MinRtt {
            current: Duration::MAX,
            previous: Duration::MAX,
            since: None,
        }
    }

    fn observe(&mut self, rtt: Duration, now: Instant) {
        let since = *self.since.get_or_insert(now);
        if now.saturating_duration_since(since) >= Self::BUCKET {
            self.previous = self.current;
            self.current = Duration::MAX;
            self.since = Some(now);
        }
        self.current = self.current.min(rtt);
    }

    fn get(&self) -> Option<Duration> {
        let min = self.current.min(self.previous);
        (min != Duration::MAX).then_some(min)
    }
}

/// The latency samples that came back during one round trip, as a histogram of their ratio
/// to the minimum round trip, for the median: one slow answer in twenty (a busy machine's
/// scheduling delay, a new connection's handshake) moves a mean a lot and a median not at
/// all. Samples of requests sent before `fresh` (the last change the limiter made on its
/// own) do not count: they tell of the old limit.
#[derive(Debug)]
struct Window {
    opened: Instant,
    fresh: Instant,
    count: u32,
    /// Samples by `ln(rtt / min_rtt) / ln(STEP)`.
    ratios: [u32; Window::BUCKETS],
    max_in_flight: usize,
}

/// A closed window.
#[derive(Debug, Clone, Copy)]
struct Round {
    /// The median round trip over the minimum (±5%).
    ratio: f64,
    max_in_flight: usize,
}

impl Window {
    /// No window is shorter, whatever the round trip (a busy loopback answers in 100 µs).
    const SHORTEST: Duration = Duration::from_millis(5);
    const BUCKETS: usize = 64;
    /// The ratio from a bucket to the next: up to 1.1⁶³ ≈ 400.
    const STEP: f64 = 1.1;

    /// A window opened at `now`, for requests sent from `fresh` on.
    fn new(now: Instant, fresh: Instant) -> Self {
        Window {
            opened: now,
            fresh,
            count: 0,
            ratios: [0; Self::BUCKETS],
            max_in_flight: 0,
        }
    }

    /// Adds an `Ok` sample that came back `now`; returns the window's round once it has
    /// lasted a round trip (`min_rtt`, at least [`SHORTEST`](Self::SHORTEST)), and opens the
    /// next.
    fn add(&mut self, s: &Sample, min_rtt: Duration, now: Instant) -> Option<Round> {
        if s.started < self.fresh {
            return None;
        }
        let ratio = s.rtt.as_secs_f64() / min_rtt.as_secs_f64().max(1e-9);
        let bucket = (ratio.max(1.0).ln() / Self::STEP.ln()) as usize;
        self.ratios[bucket.min(Self::BUCKETS - 1)] += 1;
        self.count += 1;
        self.max_in_flight = self.max_in_flight.max(s.in_flight);
        if now.saturating_duration_since(self.opened) < min_rtt.max(Self::SHORTEST) {
            return None;
        }
        let half = self.count.div_ceil(2);
        let mut seen = 0;
        let median = self
            .ratios
            .iter()
            .position(|&n| {
                seen += n;
                seen >= half
            })
            .unwrap_or(Self::BUCKETS - 1);
        let round = Round {
            ratio: Self::STEP.powf(median as f64 + 0.5).max(1.0),
            max_in_flight: self.max_in_flight,
        };
        *self = Window::new(now, self.fresh);
        Some(round)
    }
}

/// The latency ratio (to the minimum round trip) within which a limiter counts latency as
/// low: `tolerance`, or the minimum plus [`SLACK`] when that is more (on loopback, where the
/// round trip is 100 µs, a millisecond of scheduling delay is not a queue to shrink for).
fn low_latency(tolerance: f64, min_rtt: Duration) -> f64 {
    tolerance.max(1.0 + SLACK.as_secs_f64() / min_rtt.as_secs_f64().max(1e-9))
}

/// See [`low_latency`].
const SLACK: Duration = Duration::from_millis(5);

/// Loss handling: one multiplicative decrease per overload episode (only an overload of a
/// request sent after the last decrease counts), then a climb back along TCP CUBIC's curve
/// (RFC 9438): fast towards the limit at which the overload came, flat around it, faster
/// again past it. A server's rate limit (a token bucket whose `429`s come only once its
/// burst is spent) is so probed gently: the refusals an episode brings grow with how fast
/// the limit climbs when they come.
#[derive(Debug)]
struct Loss {
    last_decrease: Option<Instant>,
    /// The limit the last overload came at (reduced when overloads come lower each time,
    /// CUBIC's fast convergence).
    w_max: f64,
    /// When the climb started, and how long it takes to reach `w_max` (CUBIC's K, seconds).
    epoch: Option<(Instant, f64)>,
}

impl Loss {
    /// CUBIC's C: how fast the curve leaves `w_max` (requests per second³).
    const C: f64 = 0.4;

    fn new() -> Self {
        Loss {
            last_decrease: None,
            w_max: 0.0,
            epoch: None,
        }
    }

    /// The new limit after an overload of a request sent at `started`, or `None` when an
    /// earlier decrease already answered this episode.
    fn decrease(&mut self, limit: f64, beta: f64, started: Instant, now: Instant) -> Option<f64> {
        if self.last_decrease.is_some_and(|t| started < t) {
            return None;
        }
        self.last_decrease = Some(now);
        self.w_max = if limit < self.w_max {
            limit * (1.0 + beta) / 2.0
        } else {
            limit
        };
        let k = (self.w_max * (1.0 - beta) / Self::C).cbrt();
        self.epoch = Some((now, k));
        Some(limit * beta)
    }

    /// The most the limit may be at `now` in a climb after an overload (`None`: no overload
    /// yet, no bound).
    fn target(&self, now: Instant) -> Option<f64> {
        let (since, k) = self.epoch?;
        let t = now.saturating_duration_since(since).as_secs_f64() - k;
        Some(Self::C * t * t * t + self.w_max)
    }
}

/// A gradient limiter: see the [module docs](self).
///
/// Its minimum round trip only goes down between probes: a limit that holds latency at
/// up to 2 × the minimum keeps a standing queue, so a minimum taken over recent samples would
/// creep up with it. Every [`PROBE_EVERY`](Self::PROBE_EVERY) the limit drops to
/// [`PROBE_LIMIT`](Self::PROBE_LIMIT) for a few samples, which measure the round trip
/// without a queue (a route that got slower is learned then), as Envoy's filter does.
#[derive(Debug)]
pub(crate) struct Gradient {
    bounds: Bounds,
    limit: f64,
    min_rtt: Option<Duration>,
    window: Option<Window>,
    loss: Loss,
    last_probe: Option<Instant>,
    probe: Option<Probe>,
    /// Doubling a round trip until latency first rises or the server first refuses.
    slow_start: bool,
}

/// A minimum round trip being measured.
#[derive(Debug)]
struct Probe {
    since: Instant,
    /// The limit to go back to.
    restore: f64,
    min: Duration,
    samples: u32,
}

impl Gradient {
    /// The latency within which the limit grows: this × the minimum round trip. On the
    /// project's shared 2-core machine, round trips through the bench's delay line swing
    /// between 1 and 2.5 × their minimum from other processes' load alone; 1.5 shrank the
    /// limit on that noise (`benches/network.rs`, the `open` scenario). A server that
    /// queues our requests passes 2 × soon enough.
    const TOLERANCE: f64 = 2.0;
    /// The largest cut one round trip of high latency asks for...
    const MIN_GRADIENT: f64 = 0.5;
    /// ... of which this share is made (Netflix's Gradient2 smooths by 0.2 as well): at most
    /// 10% a round trip, so a burst of noise costs little, and a lasting rise halves the
    /// limit in seven round trips.
    const SMOOTHING: f64 = 0.2;
    /// The cut on an overload (CUBIC's β).
    const BACKOFF: f64 = 0.7;
    /// How often the minimum round trip is measured again.
    const PROBE_EVERY: Duration = Duration::from_secs(60);
    /// The limit while it is.
    const PROBE_LIMIT: f64 = 4.0;
    /// Samples sent during a probe that make its minimum.
    const PROBE_SAMPLES: u32 = 4;

    pub(crate) fn new(bounds: Bounds) -> Self {
        Gradient {
            limit: bounds.initial,
            bounds,
            min_rtt: None,
            window: None,
            loss: Loss::new(),
            last_probe: None,
            probe: None,
            slow_start: true,
        }
    }

    fn round(&mut self, round: Round, min_rtt: Duration, now: Instant) {
        let gradient =
            (low_latency(Self::TOLERANCE, min_rtt) / round.ratio).clamp(Self::MIN_GRADIENT, 1.0);
        // Only a limit that was used grows (the queue may have had less to send).
        let used = round.max_in_flight as f64 * 2.0 >= self.limit;
        let next = if gradient < 1.0 {
            // Latency rose: shrink in proportion, smoothed (one round trip of scheduling
            // noise on a busy machine should not halve the limit).
            self.slow_start = false;
            self.limit * (1.0 - Self::SMOOTHING * (1.0 - gradient))
        } else if used {
            let headroom = if self.slow_start {
                self.limit
            } else {
                self.limit.sqrt()
            };
            // After an overload, no faster than CUBIC's curve.
            let grown = self.limit + headroom;
            match self.loss.target(now) {
                Some(target) => grown.min(target.max(self.limit)),
                None => grown,
            }
        } else {
            self.limit
        };
        self.limit = self.bounds.clamp(next);
    }

    /// A sample during a probe; ends it once enough samples sent during it came back.
    fn probe_sample(&mut self, s: &Sample, now: Instant) {
        let Some(probe) = &mut self.probe else {
            return;
        };
        if s.started < probe.since {
            return;
        }
        probe.min = probe.min.min(s.rtt);
        probe.samples += 1;
        if probe.samples >= Self::PROBE_SAMPLES {
            self.min_rtt = Some(probe.min);
            self.limit = probe.restore;
            self.probe = None;
            self.last_probe = Some(now);
            self.window = Some(Window::new(now, now));
        }
    }
}

impl Limit for Gradient {
    fn limit(&self) -> usize {
        self.limit as usize
    }

    fn sample(&mut self, s: &Sample, now: Instant) {
        match s.signal {
            Signal::Ignore => {}
            Signal::Overload => {
                let limit = self.probe.as_ref().map_or(self.limit, |p| p.restore);
                if let Some(cut) = self.loss.decrease(limit, Self::BACKOFF, s.started, now) {
                    self.slow_start = false;
                    let cut = self.bounds.clamp(cut);
                    match &mut self.probe {
                        Some(probe) => probe.restore = cut,
                        None => self.limit = cut,
                    }
                    self.window = Some(Window::new(now, now));
                }
            }
            Signal::Ok if self.probe.is_some() => self.probe_sample(s, now),
            Signal::Ok => {
                let min_rtt = *self.min_rtt.get_or_insert(s.rtt);
                let min_rtt = min_rtt.min(s.rtt);
                self.min_rtt = Some(min_rtt);
                let last_probe = *self.last_probe.get_or_insert(now);
                let window = self
                    .window
                    .get_or_insert_with(|| Window::new(now, s.started));
                if let Some(round) = window.add(s, min_rtt, now) {
                    self.round(round, min_rtt, now);
                }
                if now.saturating_duration_since(last_probe) >= Self::PROBE_EVERY {
                    self.probe = Some(Probe {
                        since: now,
                        restore: self.limit,
                        min: Duration::MAX,
                        samples: 0,
                    });
                    self.limit = Self::PROBE_LIMIT.clamp(self.bounds.min, self.limit);
                }
            }
        }
    }
}

/// An AIMD limiter: see the [module docs](self).
#[derive(Debug)]
pub(crate) struct Aimd {
    bounds: Bounds,
    limit: f64,
    /// Below it, +1 a sample (doubling a round trip); above, +1 a round trip.
    threshold: f64,
    last_decrease: Option<Instant>,
    min_rtt: MinRtt,
    window: Option<Window>,
}

impl Aimd {
    /// A round trip whose mean latency passes this × the minimum is an overload.
    const TOLERANCE: f64 = 2.0;
    /// The cut on an overload.
    const BACKOFF: f64 = 0.5;

    pub(crate) fn new(bounds: Bounds) -> Self {
        Aimd {
            limit: bounds.initial,
            bounds,
            threshold: f64::INFINITY,
            last_decrease: None,
            min_rtt: MinRtt::new(),
            window: None,
        }
    }

    fn overload(&mut self, started: Instant, now: Instant) {
        if self.last_decrease.is_some_and(|t| started < t) {
            return;
        }
        self.last_decrease = Some(now);
        self.limit = self.bounds.clamp(self.limit * Self::BACKOFF);
        self.threshold = self.limit;
        self.window = Some(Window::new(now, now));
    }
}

impl Limit for Aimd {
    fn limit(&self) -> usize {
        self.limit as usize
    }

    fn sample(&mut self, s: &Sample, now: Instant) {
        match s.signal {
            Signal::Ignore => {}
            Signal::Overload => self.overload(s.started, now),
            Signal::Ok => {
                self.min_rtt.observe(s.rtt, now);
                let min_rtt = self.min_rtt.get().unwrap_or(s.rtt);
                let window = self
                    .window
                    .get_or_insert_with(|| Window::new(now, s.started));
                if let Some(round) = window.add(s, min_rtt, now) {
                    if round.ratio > low_latency(Self::TOLERANCE, min_rtt) {
                        self.overload(s.started, now);
                        return;
                    }
                }
                // Only a limit that was used grows, and only by answers to requests sent
                // since the last cut.
                let fresh = self.last_decrease.is_none_or(|t| s.started >= t);
                if fresh && s.in_flight as f64 * 2.0 >= self.limit {
                    let step = if self.limit < self.threshold {
                        1.0
                    } else {
                        1.0 / self.limit
                    };
                    self.limit = self.bounds.clamp(self.limit + step);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// A simulated clock and a backlog that always fills the limit: every round trip, as
    /// many requests as the limit allows start together and come back `rtt` later.
    struct Sim<L: Limit> {
        limiter: L,
        now: Instant,
    }

    impl<L: Limit> Sim<L> {
        fn new(limiter: L) -> Self {
            Sim {
                limiter,
                now: Instant::now(),
            }
        }

        /// One round trip of `rtt` with every slot used and every answer `signal`: the
        /// answers come back a microsecond apart.
        fn round(&mut self, rtt: Duration, signal: Signal) {
            let rtts = vec![rtt; self.limiter.limit()];
            self.round_of(&rtts, signal);
        }

        /// One round trip with these answers' round trips.
        fn round_of(&mut self, rtts: &[Duration], signal: Signal) {
            let started = self.now;
            let n = rtts.len();
            for (i, &rtt) in rtts.iter().enumerate() {
                let now = started + rtt + i as u32 * Duration::from_micros(1);
                let sample = Sample {
                    started,
                    rtt: now - started,
                    in_flight: n,
                    signal,
                };
                self.limiter.sample(&sample, now);
                self.now = self.now.max(now);
            }
        }

        fn rounds(&mut self, count: usize, rtt: Duration) {
            for _ in 0..count {
                self.round(rtt, Signal::Ok);
            }
        }

        /// One overload answer to a request sent `ago` before now.
        fn overload(&mut self, ago: Duration) {
            let sample = Sample {
                started: self.now - ago,
                rtt: ago,
                in_flight: self.limiter.limit(),
                signal: Signal::Overload,
            };
            self.limiter.sample(&sample, self.now);
        }

        fn limit(&self) -> usize {
            self.limiter.limit()
        }
    }

    fn gradient() -> Sim<Gradient> {
        Sim::new(Gradient::new(Bounds::new(1, 1024, 32)))
    }

    #[test]
    fn the_gradient_limit_grows_while_latency_stays_at_its_minimum() {
        let mut sim = gradient();
        assert_eq!(sim.limit(), 32);
        // A round trip's answers are judged when the next round trip's come: the limit
        // doubles a round trip (slow start) ...
        sim.rounds(2, 50 * MS);
        assert_eq!(sim.limit(), 64);
        sim.rounds(1, 50 * MS);
        assert_eq!(sim.limit(), 128);
        // ... until latency first rises; then it grows by √limit a round trip.
        sim.round(150 * MS, Signal::Ok); // judges the last 50 ms round trip: doubles
        assert_eq!(sim.limit(), 256);
        sim.round(150 * MS, Signal::Ok); // judges this one: shrinks
        let after_rise = sim.limiter.limit;
        assert!(
            !sim.limiter.slow_start && after_rise < 256.0,
            "{after_rise}"
        );
        sim.round(50 * MS, Signal::Ok); // judges the second 150 ms round trip
        let low = sim.limiter.limit;
        sim.rounds(3, 50 * MS);
        let grown = sim.limiter.limit - low;
        assert!(
            grown > 2.5 * low.sqrt() && grown < 3.5 * (low + grown).sqrt(),
            "{low} + {grown}: about √limit a round trip, not doubling"
        );
        sim.rounds(80, 50 * MS);
        assert_eq!(sim.limit(), 1024);
    }

    #[test]
    fn a_limit_that_is_not_used_does_not_grow() {
        let mut sim = gradient();
        for _ in 0..50 {
            let started = sim.now;
            sim.now += 50 * MS;
            for _ in 0..4 {
                let s = Sample {
                    started,
                    rtt: 50 * MS,
                    in_flight: 4,
                    signal: Signal::Ok,
                };
                sim.limiter.sample(&s, sim.now);
            }
        }
        assert_eq!(sim.limit(), 32, "four in flight never use a limit of 32");
    }

    #[test]
    fn rising_latency_shrinks_the_limit_and_its_fall_lets_it_grow_again() {
        let mut sim = gradient();
        sim.rounds(20, 50 * MS);
        let high = sim.limit();
        // The server queues: round trips of 200 ms, four times the minimum. At most 10% a
        // round trip: not halved by one or two, halved within eight.
        sim.rounds(3, 200 * MS);
        assert!(sim.limit() * 10 >= high * 8, "{high} -> {}", sim.limit());
        sim.rounds(6, 200 * MS);
        let shrunk = sim.limit();
        assert!(shrunk * 2 < high, "{high} -> {shrunk}");
        sim.rounds(30, 50 * MS);
        assert!(sim.limit() > high.min(1000), "{} after {high}", sim.limit());
    }

    #[test]
    fn latency_within_the_tolerance_or_the_slack_is_not_a_queue() {
        let mut sim = gradient();
        sim.rounds(1, 50 * MS); // the minimum: 50 ms
        let before = sim.limit();
        sim.rounds(5, 95 * MS); // 1.9 × the minimum
        assert!(sim.limit() > before);
        // On loopback, 1 ms of scheduling delay over a 100 µs minimum is within the slack.
        let mut sim = gradient();
        sim.rounds(1, Duration::from_micros(100));
        let before = sim.limit();
        sim.rounds(5, MS);
        assert!(sim.limit() > before);
    }

    #[test]
    fn one_slow_answer_in_twenty_does_not_shrink_the_limit() {
        let mut sim = gradient();
        sim.rounds(3, 50 * MS);
        for _ in 0..3 {
            let before = sim.limit();
            let rtts: Vec<Duration> = (0..before)
                .map(|i| if i % 20 == 0 { 400 * MS } else { 50 * MS })
                .collect();
            sim.round_of(&rtts, Signal::Ok);
            assert!(sim.limit() >= before, "{before} -> {}", sim.limit());
        }
    }

    #[test]
    fn an_overload_cuts_the_limit_once_per_episode() {
        let mut sim = gradient();
        sim.rounds(10, 50 * MS);
        let before = sim.limiter.limit;
        sim.overload(50 * MS);
        let cut = sim.limit();
        assert_eq!(cut, (before * Gradient::BACKOFF) as usize);
        // More 429s for requests sent before the cut: the same episode.
        for _ in 0..20 {
            sim.overload(40 * MS);
        }
        assert_eq!(sim.limit(), cut);
        // A 429 for a request sent after it: a new episode.
        let cut = sim.limiter.limit;
        sim.now += 60 * MS;
        sim.overload(50 * MS);
        assert_eq!(sim.limit(), (cut * Gradient::BACKOFF) as usize);
        // Never below the minimum.
        for _ in 0..50 {
            sim.now += 60 * MS;
            sim.overload(50 * MS);
        }
        assert_eq!(sim.limit(), 1);
    }

    #[test]
    fn after_an_overload_the_limit_climbs_back_along_the_cubic_curve() {
        let mut sim = Sim::new(Gradient::new(Bounds::new(1, 4096, 32)));
        sim.rounds(4, 50 * MS);
        let w_max = sim.limit() as f64;
        sim.overload(50 * MS);
        let cut = sim.limit() as f64;
        let k = (w_max * (1.0 - Gradient::BACKOFF) / Loss::C).cbrt();
        // Half-way through K: between the cut and the limit the overload came at.
        let rounds = |secs: f64| (secs / 0.05) as usize;
        sim.rounds(rounds(k / 2.0), 50 * MS);
        let half = sim.limit() as f64;
        assert!(half > cut && half < w_max, "{cut} < {half} < {w_max}");
        // Around K: flat near it (slow where the server refused before).
        sim.rounds(rounds(k / 2.0), 50 * MS);
        let at_k = sim.limit() as f64;
        assert!(
            (at_k - w_max).abs() <= 0.05 * w_max + 2.0,
            "{at_k} vs {w_max}"
        );
        sim.rounds(rounds(1.0), 50 * MS);
        assert!(sim.limit() as f64 <= w_max + Loss::C * 1.0 + 2.0);
        // Then faster again: past it, probing for more.
        sim.rounds(rounds(8.0), 50 * MS);
        assert!(sim.limit() as f64 > w_max + 100.0, "{}", sim.limit());
    }

    #[test]
    fn overloads_that_come_lower_each_time_lower_the_curve_faster() {
        let mut loss = Loss::new();
        let now = Instant::now();
        assert_eq!(loss.decrease(100.0, 0.7, now, now), Some(70.0));
        assert_eq!(loss.w_max, 100.0);
        // An overload at 80, below the 100 of the last: the curve aims lower than 80.
        let later = now + Duration::from_secs(1);
        assert_eq!(loss.decrease(80.0, 0.7, later, later), Some(56.0));
        assert!((loss.w_max - 68.0).abs() < 1e-9, "{}", loss.w_max);
        assert!(loss.target(later).unwrap() < 56.0 + 1e-9);
    }

    #[test]
    fn signals_that_say_nothing_about_load_change_nothing() {
        let mut sim = gradient();
        sim.rounds(5, 50 * MS);
        let before = sim.limit();
        sim.round(3000 * MS, Signal::Ignore);
        assert_eq!(sim.limit(), before);
    }

    #[test]
    fn a_probe_measures_the_minimum_again_so_a_slower_route_is_learned() {
        let mut sim = gradient();
        sim.rounds(80, 50 * MS);
        assert_eq!(sim.limit(), 1024);
        // The route gets slower: 100 ms from now on. The limit shrinks (the minimum says
        // 50 ms) until a probe measures 100 ms; then it grows back.
        let mut lowest = usize::MAX;
        let mut probed = false;
        for _ in 0..1400 {
            sim.round(100 * MS, Signal::Ok);
            lowest = lowest.min(sim.limit());
            probed |= sim.limit() == Gradient::PROBE_LIMIT as usize;
        }
        assert!(probed, "a probe within {:?}", Gradient::PROBE_EVERY);
        assert!(lowest <= Gradient::PROBE_LIMIT as usize);
        assert_eq!(sim.limiter.min_rtt, Some(100 * MS));
        assert_eq!(sim.limit(), 1024, "back to the maximum at 100 ms");
    }

    #[test]
    fn an_overload_during_a_probe_cuts_the_limit_it_restores() {
        let mut sim = gradient();
        sim.rounds(10, 50 * MS);
        sim.now += Gradient::PROBE_EVERY;
        sim.round(50 * MS, Signal::Ok);
        assert_eq!(sim.limit(), Gradient::PROBE_LIMIT as usize);
        let restore = sim.limiter.probe.as_ref().unwrap().restore;
        sim.overload(10 * MS);
        assert_eq!(sim.limit(), Gradient::PROBE_LIMIT as usize);
        // The probe's four samples end it.
        sim.rounds(1, 50 * MS);
        assert!(sim.limiter.probe.is_none());
        assert_eq!(sim.limit(), (restore * Gradient::BACKOFF) as usize);
    }

    #[test]
    fn aimd_doubles_then_halves_then_adds_one_a_round_trip() {
        let mut sim = Sim::new(Aimd::new(Bounds::new(1, 1024, 32)));
        sim.rounds(1, 50 * MS);
        assert_eq!(sim.limit(), 64);
        sim.rounds(1, 50 * MS);
        assert_eq!(sim.limit(), 128);
        sim.overload(50 * MS);
        assert_eq!(sim.limit(), 64);
        sim.rounds(4, 50 * MS);
        assert!(
            (sim.limiter.limit - 68.0).abs() < 0.5,
            "{}",
            sim.limiter.limit
        );
        // A round trip of twice the minimum and more is an overload too.
        let before = sim.limiter.limit;
        sim.rounds(2, 200 * MS);
        let cut = sim.limiter.limit;
        assert!(
            cut > before * 0.45 && cut < before * 0.55,
            "{before} -> {cut}"
        );
    }

    #[test]
    fn the_minimum_round_trip_is_forgotten_after_twenty_seconds() {
        let mut m = MinRtt::new();
        let t = Instant::now();
        m.observe(10 * MS, t);
        m.observe(30 * MS, t + Duration::from_secs(11));
        assert_eq!(m.get(), Some(10 * MS));
        m.observe(30 * MS, t + Duration::from_secs(22));
        assert_eq!(m.get(), Some(30 * MS));
    }

    #[test]
    fn bounds_hold() {
        let b = Bounds::new(0, 0, 32);
        assert_eq!((b.min, b.max, b.initial), (1.0, 1.0, 1.0));
        let b = Bounds::new(8, 4, 32);
        assert_eq!((b.min, b.max, b.initial), (8.0, 8.0, 8.0));
        let mut sim = Sim::new(Gradient::new(Bounds::new(10, 40, 32)));
        sim.rounds(20, 50 * MS);
        assert_eq!(sim.limit(), 40);
        for _ in 0..20 {
            sim.now += 60 * MS;
            sim.overload(50 * MS);
        }
        assert_eq!(sim.limit(), 10);
    }
}
