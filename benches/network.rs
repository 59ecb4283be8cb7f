//! Delivery over a real round trip: the queue's adaptive concurrency against a rate-limited
//! server and against the round-trip bound, connections opened, and CPU per event against a
//! minimal hyper client.
//!
//! Run: `cargo bench --bench network` (a program that prints figures, not a criterion
//! bench), or name scenarios: `cargo bench --bench network -- cap open reset cpu`;
//! `candidates` runs `cap`, `open` and `reset` once per adaptive limiter. `--quick` shortens
//! every phase (for a smoke run; the figures are then noisier). `open-delayed` runs only the
//! delayed half of `open` (the default settings at RTT 50 ms, no cap, with each process's
//! CPU per event), to iterate on its cost; it prints no acceptance figure.
//!
//! # The setup
//!
//! - The emulator runs OUT of this process (this program started again as a child,
//!   `--child emulator`, serving the library's emulator; it takes commands on stdin), so its
//!   CPU is not in this process's `getrusage`.
//! - The round trip is a delay line: a TCP proxy (`--child proxy`, its own process too)
//!   that holds every chunk it reads for the one-way delay before writing it on, in each
//!   direction, in order, and delays the first bytes of a new connection by one more round
//!   trip (the TCP handshake a real network charges; the kernel's netem is not available
//!   here). The emulator's own per-call delay would be simpler, but it delays only answers:
//!   a new connection, its handshake and a request's way out would cost nothing, so a
//!   client opening connections freely would look as good as one that keeps them.
//!   The proxy runs a thread per core, each with its own line and its share of the
//!   connections (a connection stays on one thread, so its bytes keep their order); no
//!   byte is written before its due time, and each steady run prints how late past it the
//!   line wrote on average (its writer sleeps on the system's clock and wakes at most every
//!   200 µs: a few tenths of a millisecond; more when the cores are busy). Its CPU, and the
//!   emulator's, stand for the network's and Gamooga's: each run prints them apart from
//!   the SDK's, per event.
//! - The proxy can reset connections at random (`1 in N` requests, half before the request
//!   is passed on, half after the answer came back and before it is passed on: an answer
//!   lost, so a possible duplicate), with an RST.
//! - Connections are counted where the emulator accepts them (the proxy opens one upstream
//!   per client connection).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gamooga::queue::{AdaptiveAlgorithm, QueueConfig};
use gamooga::{Client, CustomEvent, Properties};

// ---------------------------------------------------------------------------------------
// Children: the emulator and the delay-line proxy, each in a process of its own.

/// `--child emulator`: serves an emulator; stdin: `rate R BURST`, `norate`, `stats`.
fn child_emulator() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let emu = gamooga_emulator::Emulator::builder()
            .max_recorded(100)
            .start()
            .await
            .expect("emulator");
        let mut out = std::io::stdout().lock();
        writeln!(out, "READY {}", emu.addr().port()).unwrap();
        out.flush().unwrap();
        // Blocking reads here are fine: the server runs on the runtime's workers.
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["rate", rate, burst] => {
                    let limit = gamooga_emulator::RateLimit::per_second(rate.parse().unwrap())
                        .burst(burst.parse().unwrap());
                    emu.set_rate_limit(Some(limit));
                }
                ["norate"] => emu.set_rate_limit(None),
                ["stats"] => {
                    let s = emu.summary();
                    writeln!(
                        out,
                        "STATS {} {} {} {}",
                        s.total_calls,
                        s.accepted,
                        s.faulted,
                        emu.connections_accepted()
                    )
                    .unwrap();
                    out.flush().unwrap();
                }
                _ => break,
            }
        }
    });
}

/// A small xorshift: the proxy's resets, reproducible from a seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `--child proxy UPSTREAM_PORT ONE_WAY_MS RESET_EVERY`: a delay line to the upstream;
/// stdin: `stats` (connections accepted, resets made, and how late the line wrote: chunks
/// written, their total lateness past due in µs, the most in µs).
///
/// Thread per core: one thread accepts and deals the connections out in turn to one shard
/// a core, each a single-threaded runtime with a line of its own; a connection lives on
/// its shard (both sockets, both readers, its chunks on that shard's line), and each line
/// has a writer thread. One line for all on a multi-threaded runtime fell behind at 1,024
/// connections (its writer, one task, wrote every chunk of both directions: 4.5 ms late on
/// average each way, measured once with a counter like today's on the shared machine) and
/// paid a cross-thread wakeup per chunk; a writer task on tokio's timer wheel (1 ms ticks)
/// wrote 1.1 ms late, the writer thread 0.3 ms (`open-delayed`, side by side, load 3).
fn child_proxy(args: &[String]) {
    let upstream: SocketAddr = ([127, 0, 0, 1], args[0].parse().unwrap()).into();
    let one_way = Duration::from_millis(args[1].parse().unwrap());
    let reset_every: u32 = args[2].parse().unwrap();
    let counters = Arc::new(ProxyCounters::default());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let shards: Vec<_> = (0..std::thread::available_parallelism().map_or(2, |n| n.get()))
        .map(|_| {
            let (to_shard, mut incoming) =
                tokio::sync::mpsc::unbounded_channel::<(std::net::TcpStream, Rng)>();
            let counters = counters.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let line = Arc::new(Line::new(counters.clone()));
                    let writer = line.clone();
                    std::thread::spawn(move || writer.write_loop());
                    while let Some((client, rng)) = incoming.recv().await {
                        let line = line.clone();
                        let counters = counters.clone();
                        tokio::spawn(async move {
                            let Ok(client) = tokio::net::TcpStream::from_std(client) else {
                                return;
                            };
                            let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                                return;
                            };
                            link(client, server, line, one_way, reset_every, rng, counters);
                        });
                    }
                });
            });
            to_shard
        })
        .collect();
    {
        let counters = counters.clone();
        std::thread::spawn(move || {
            let mut seed = 0x9e37_79b9_7f4a_7c15u64;
            for (n, client) in listener.incoming().enumerate() {
                let Ok(client) = client else { continue };
                if client.set_nonblocking(true).is_err() {
                    continue;
                }
                counters.accepted.fetch_add(1, Ordering::Relaxed);
                seed = seed.wrapping_add(0x2545_f491_4f6c_dd1d);
                let _ = shards[n % shards.len()].send((client, Rng(seed | 1)));
            }
        });
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "READY {port}").unwrap();
    out.flush().unwrap();
    for line in std::io::stdin().lock().lines() {
        match line.as_deref() {
            Ok("stats") => {
                let c = &counters;
                writeln!(
                    out,
                    "STATS {} {} {} {} {}",
                    c.accepted.load(Ordering::Relaxed),
                    c.resets.load(Ordering::Relaxed),
                    c.written.load(Ordering::Relaxed),
                    c.late_us.load(Ordering::Relaxed),
                    c.latest_us.load(Ordering::Relaxed),
                )
                .unwrap();
                out.flush().unwrap();
            }
            _ => break,
        }
    }
}

/// The proxy's counters, over all shards.
#[derive(Default)]
struct ProxyCounters {
    accepted: AtomicU64,
    resets: AtomicU64,
    /// Chunks written on, how late past their due time in total, and the latest (µs).
    written: AtomicU64,
    late_us: AtomicU64,
    latest_us: AtomicU64,
}

/// One proxied connection: both sockets, shared by its two readers and the line's writer.
struct Link {
    client: tokio::net::TcpStream,
    server: tokio::net::TcpStream,
    dead: AtomicBool,
    killed: tokio::sync::Notify,
    /// No chunk from the client is passed on before then: the handshake's round trip.
    handshake_done: std::time::Instant,
}

impl Link {
    /// Closes the connection: the readers stop, chunks on the line are dropped, and once the
    /// last reference goes the client's socket closes with an RST (linger 0).
    fn kill(&self) {
        self.dead.store(true, Ordering::Relaxed);
        self.killed.notify_waiters();
    }
}

/// A chunk on its way: written to `link`'s other side at `due`.
struct Chunk {
    due: std::time::Instant,
    link: Arc<Link>,
    to_server: bool,
    bytes: Vec<u8>,
}

/// A shard's delay line: every chunk of its connections waits here for its due time. The
/// delay is the same for all, so a FIFO is in time order; a connection's first chunks, held
/// for the handshake, wait in a second FIFO (also in order: connections are accepted in
/// turn). One writer thread wakes for all chunks due by then, at most every
/// [`WRITE_EVERY`], so the line costs a few thousand wakeups a second, not one per chunk
/// (it shares two cores with the client and the emulator, and its CPU would otherwise cap
/// the round-trip scenarios).
struct Line {
    queues: std::sync::Mutex<(VecDeque<Chunk>, VecDeque<Chunk>)>,
    wake: std::sync::Condvar,
    counters: Arc<ProxyCounters>,
}

impl Line {
    fn new(counters: Arc<ProxyCounters>) -> Line {
        Line {
            queues: std::sync::Mutex::default(),
            wake: std::sync::Condvar::new(),
            counters,
        }
    }

    fn push(&self, chunk: Chunk, young: bool) {
        let mut queues = self.queues.lock().unwrap();
        let queue = if young { &mut queues.1 } else { &mut queues.0 };
        let was_empty = queue.is_empty();
        queue.push_back(chunk);
        drop(queues);
        if was_empty {
            // The writer waits under the lock, so it is waiting or will see the chunk.
            self.wake.notify_one();
        }
    }

    /// Moves every chunk due by `now` to `due`, in due order; else says when the next one
    /// is due, if any.
    fn take_due(
        queues: &mut (VecDeque<Chunk>, VecDeque<Chunk>),
        now: std::time::Instant,
        due: &mut Vec<Chunk>,
    ) -> Option<std::time::Instant> {
        let (old, young) = queues;
        loop {
            let queue = match (old.front(), young.front()) {
                (Some(a), Some(b)) => {
                    if a.due <= b.due {
                        &mut *old
                    } else {
                        &mut *young
                    }
                }
                (Some(_), None) => &mut *old,
                (None, Some(_)) => &mut *young,
                (None, None) => return None,
            };
            let next = queue.front().unwrap().due;
            if next > now {
                return Some(next);
            }
            due.push(queue.pop_front().unwrap());
        }
    }

    /// The writer, a thread of its own: it sleeps until the next due time (the system's
    /// clock, not tokio's timer wheel, which ticks by the millisecond and wrote about a
    /// millisecond late on average), then writes every chunk due, straight to the sockets.
    /// It wakes at most once per [`WRITE_EVERY`], so a busy line costs a few thousand
    /// wakeups a second, not one a chunk.
    fn write_loop(self: Arc<Self>) {
        let mut batch = Vec::new();
        let mut last = std::time::Instant::now();
        loop {
            {
                let mut queues = self.queues.lock().unwrap();
                loop {
                    let now = std::time::Instant::now();
                    let next = Line::take_due(&mut queues, now, &mut batch);
                    if !batch.is_empty() {
                        break;
                    }
                    queues = match next {
                        Some(due) => {
                            let until = due.max(last + WRITE_EVERY);
                            self.wake.wait_timeout(queues, until - now).unwrap().0
                        }
                        None => self.wake.wait(queues).unwrap(),
                    };
                }
            }
            last = std::time::Instant::now();
            let (mut late_us, mut latest_us) = (0u64, 0u64);
            let written = batch.len() as u64;
            for chunk in batch.drain(..) {
                let late = std::time::Instant::now()
                    .saturating_duration_since(chunk.due)
                    .as_micros() as u64;
                late_us += late;
                latest_us = latest_us.max(late);
                if chunk.link.dead.load(Ordering::Relaxed) {
                    continue;
                }
                let to = if chunk.to_server {
                    &chunk.link.server
                } else {
                    &chunk.link.client
                };
                if write_all(to, &chunk.bytes).is_err() {
                    chunk.link.kill();
                }
            }
            let c = &self.counters;
            c.written.fetch_add(written, Ordering::Relaxed);
            c.late_us.fetch_add(late_us, Ordering::Relaxed);
            c.latest_us.fetch_max(latest_us, Ordering::Relaxed);
        }
    }
}

/// The line's writer wakes at most this often.
const WRITE_EVERY: Duration = Duration::from_micros(200);

/// Writes `bytes` whole to `to`'s socket with `send(2)`, waiting with `poll(2)` while its
/// buffer is full (rare on loopback; the line waits behind it, so order holds). Straight
/// to the descriptor: tokio's readiness is the shard's, and the writer is not on it.
fn write_all(to: &tokio::net::TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = to.as_raw_fd();
    let mut written = 0;
    while written < bytes.len() {
        let rest = &bytes[written..];
        // SAFETY: `rest` is valid for its length; `fd` is open while `to` lives.
        let n = unsafe {
            libc::send(
                fd,
                rest.as_ptr().cast(),
                rest.len(),
                libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
            )
        };
        if n >= 0 {
            written += n as usize;
            continue;
        }
        let error = std::io::Error::last_os_error();
        match error.kind() {
            std::io::ErrorKind::Interrupted => {}
            std::io::ErrorKind::WouldBlock => {
                let mut pollfd = libc::pollfd {
                    fd,
                    events: libc::POLLOUT,
                    revents: 0,
                };
                // SAFETY: one valid pollfd.
                if unsafe { libc::poll(&mut pollfd, 1, 1000) } < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if pollfd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
                    return Err(std::io::ErrorKind::BrokenPipe.into());
                }
            }
            _ => return Err(error),
        }
    }
    Ok(())
}

/// Reads what `from` holds into `buf`: `Ok(0)` at its end, `WouldBlock` when it holds
/// nothing. A read that leaves room in `buf` drained the socket, so its readiness is
/// cleared at once (as tokio's own `poll_read` does with epoll) rather than by one more
/// read answering `WouldBlock`: that saves a system call a chunk. Tokio clears readiness
/// only if no new event came in meanwhile, so data that arrives after the read still wakes
/// the reader.
fn read_chunk(from: &tokio::net::TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut drained = 0;
    let read = from.try_io(tokio::io::Interest::READABLE, || {
        let n = from.try_read(buf)?;
        if n > 0 && n < buf.len() {
            drained = n;
            return Err(std::io::ErrorKind::WouldBlock.into()); // clears the readiness
        }
        Ok(n)
    });
    match read {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && drained > 0 => Ok(drained),
        other => other,
    }
}

/// Starts a proxied connection: one reader a direction, feeding the line. With
/// `reset_every` > 0, one request in that many resets the connection, half the time
/// before it is passed on, half the time once its answer came back (the answer is lost).
fn link(
    client: tokio::net::TcpStream,
    server: tokio::net::TcpStream,
    line: Arc<Line>,
    one_way: Duration,
    reset_every: u32,
    rng: Rng,
    counters: Arc<ProxyCounters>,
) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    // Closing with linger 0 sends an RST: a reset, not an orderly close. (Deprecated because
    // a non-zero linger blocks the thread on drop; a zero one does not.)
    #[allow(deprecated)]
    let _ = client.set_linger(Some(Duration::ZERO));
    let link = Arc::new(Link {
        client,
        server,
        dead: AtomicBool::new(false),
        killed: tokio::sync::Notify::new(),
        handshake_done: std::time::Instant::now() + 2 * one_way,
    });
    let reset_on_answer = Arc::new(AtomicBool::new(false));
    for to_server in [true, false] {
        let (link, line, counters, reset_on_answer) = (
            link.clone(),
            line.clone(),
            counters.clone(),
            reset_on_answer.clone(),
        );
        let mut rng = Rng(rng.0.wrapping_add(u64::from(to_server)) | 1);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            // Registered once, before the first check: a kill from now on wakes it.
            let killed = link.killed.notified();
            tokio::pin!(killed);
            killed.as_mut().enable();
            if link.dead.load(Ordering::Relaxed) {
                return;
            }
            let from = if to_server {
                &link.client
            } else {
                &link.server
            };
            loop {
                let n = match read_chunk(from, &mut buf) {
                    Ok(0) => {
                        link.kill();
                        return;
                    }
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        tokio::select! {
                            _ = &mut killed => return,
                            ready = from.readable() => if ready.is_err() {
                                link.kill();
                                return;
                            },
                        }
                        continue;
                    }
                    Err(_) => {
                        link.kill();
                        return;
                    }
                };
                if link.dead.load(Ordering::Relaxed) {
                    return;
                }
                if to_server && reset_every > 0 && rng.next() * f64::from(reset_every) < 1.0 {
                    counters.resets.fetch_add(1, Ordering::Relaxed);
                    if rng.next() < 0.5 {
                        link.kill(); // before the request is passed on
                        return;
                    }
                    reset_on_answer.store(true, Ordering::Relaxed);
                }
                if !to_server && reset_on_answer.load(Ordering::Relaxed) {
                    link.kill(); // the answer is lost
                    return;
                }
                let now = std::time::Instant::now();
                let mut due = now + one_way;
                let young = to_server && link.handshake_done + one_way > due;
                if young {
                    due = link.handshake_done + one_way;
                }
                line.push(
                    Chunk {
                        due,
                        link: link.clone(),
                        to_server,
                        bytes: buf[..n].to_vec(),
                    },
                    young,
                );
            }
        });
    }
}

/// A child process speaking the line protocol above.
struct Proc {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    port: u16,
}

impl Proc {
    fn start(args: &[&str]) -> Proc {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .arg("--child")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start a child");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let port = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("child {args:?} said {line:?}"));
        Proc {
            child,
            stdin,
            stdout,
            port,
        }
    }

    fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
    }

    fn stats(&mut self) -> Vec<u64> {
        self.send("stats");
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line.split_whitespace()
            .skip(1)
            .map(|n| n.parse().unwrap())
            .collect()
    }

    fn addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The emulator's counters.
#[derive(Debug, Clone, Copy, Default)]
struct EmuStats {
    total: u64,
    accepted: u64,
    faulted: u64,
    connections: u64,
}

fn emu_stats(emu: &mut Proc) -> EmuStats {
    let s = emu.stats();
    EmuStats {
        total: s[0],
        accepted: s[1],
        faulted: s[2],
        connections: s[3],
    }
}

// ---------------------------------------------------------------------------------------
// CPU time.

/// User + system CPU time of this process so far.
fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// User + system CPU time of another process so far (`/proc/PID/stat`, in clock ticks).
fn child_cpu(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // After the command's closing parenthesis: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    // SAFETY: sysconf reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

/// CPU time of this process, the emulator and the delay line.
fn cpu_of(emu: &Proc, proxy: Option<&Proc>) -> [Duration; 3] {
    [
        cpu_time(),
        child_cpu(emu.child.id()),
        proxy.map_or(Duration::ZERO, |p| child_cpu(p.child.id())),
    ]
}

/// The acceptance figures of issue 12 this run measured, one line each, printed together at
/// the end (each with the load average when it was measured).
static SUMMARY: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Adds an acceptance line: `what`, the figure, and whether it meets its target.
fn accept(what: &str, figure: String, target: Option<(&str, bool)>) {
    let line = match target {
        Some((target, true)) => format!("{what}: {figure} (target {target}: holds)"),
        Some((target, false)) => format!("{what}: {figure} (target {target}: MISSED)"),
        None => format!("{what}: {figure}"),
    };
    SUMMARY.lock().unwrap().push(line);
}

/// The 1-, 5- and 15-minute load averages (the machine is shared: other processes' load
/// moves every figure).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

// ---------------------------------------------------------------------------------------
// The queue under load.

fn event(seq: u64) -> CustomEvent {
    CustomEvent::new(
        "bench",
        Properties::new()
            .number("seq", seq)
            .expect("finite")
            .string("sku", "A-1234"),
    )
}

fn client_for(backend: SocketAddr) -> Client {
    Client::builder("acme")
        .config_url(format!("http://{backend}"))
        .backend(backend.to_string())
        .build()
        .expect("client")
}

/// What a timed run of the queue gave.
#[derive(Debug, Default)]
struct Steady {
    /// Events Gamooga answered 200 for, per second, over the steady window.
    rate: f64,
    /// Attempts answered 429 (or any injected fault) over all attempts, in the window.
    refused_share: f64,
    /// Over the warm-up.
    warmup_refused: u64,
    /// Connections the emulator accepted over the whole run, per 10,000 events delivered.
    connections_per_10k: f64,
    connections: u64,
    /// The most requests in flight at once over the run.
    peak: u64,
    /// The limit at the end, and its range over the window.
    limit: (u64, u64, u64),
    /// Cores used over the window by this process, the emulator and the delay line.
    cores: [f64; 3],
    /// The load average at the end of the window.
    load: String,
    /// How late past its due time the delay line wrote a chunk over the window, on average
    /// (ms), and the latest since it started (ms); `None` with no delay line.
    late: Option<(f64, f64)>,
}

/// Runs a queue with `config` to `backend`, fed as fast as it takes events, for `warm`
/// then `steady`; reads the emulator's counters at both ends of the steady window.
async fn steady_run(
    config: QueueConfig,
    backend: &mut Proc,
    emu: &mut Proc,
    warm: Duration,
    steady: Duration,
    trace: bool,
) -> Steady {
    let mut proxy = (backend.port != emu.port).then_some(backend);
    let backend = proxy.as_ref().map_or(emu.addr(), |p| p.addr());
    let mut late_start = None;
    let mut cpu_start = [Duration::ZERO; 3];
    let start_stats = emu_stats(emu);
    let client = client_for(backend);
    let queue = client.queue(config).expect("queue");
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (queue, stop) = (queue.clone(), stop.clone());
        tokio::spawn(async move {
            let mut seq = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let _ = queue
                    .track(&format!("user-{}", seq % 100), &event(seq))
                    .await;
                seq += 1;
            }
        })
    };
    let started = Instant::now();
    let mut warm_stats = start_stats;
    let mut window_start = None;
    let mut limits = (u64::MAX, 0u64);
    let mut tick = 0u64;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        tick += 1;
        let elapsed = started.elapsed();
        let s = queue.stats();
        if trace && tick.is_multiple_of(2) {
            let e = emu_stats(emu);
            println!(
                "      t={:>4.1}s limit {:>4} in flight {:>4} delivered {:>7} refused {:>5} paused {:?}",
                elapsed.as_secs_f64(),
                s.in_flight_limit,
                s.in_flight,
                s.delivered,
                e.faulted - start_stats.faulted,
                s.paused_for.map(|d| d.as_millis())
            );
        }
        if elapsed >= warm && window_start.is_none() {
            warm_stats = emu_stats(emu);
            cpu_start = cpu_of(emu, proxy.as_deref());
            late_start = proxy.as_mut().map(|p| p.stats());
            window_start = Some(Instant::now());
        }
        if window_start.is_some() {
            limits = (
                limits.0.min(s.in_flight_limit),
                limits.1.max(s.in_flight_limit),
            );
        }
        if elapsed >= warm + steady {
            break;
        }
    }
    let end_stats = emu_stats(emu);
    let load = load_average();
    let window = window_start.unwrap().elapsed();
    let cpu_end = cpu_of(emu, proxy.as_deref());
    let late = match (proxy.as_mut().map(|p| p.stats()), late_start) {
        (Some(end), Some(start)) => Some((
            (end[3] - start[3]) as f64 / (end[2] - start[2]).max(1) as f64 / 1000.0,
            end[4] as f64 / 1000.0,
        )),
        _ => None,
    };
    let cores = [0, 1, 2]
        .map(|i| (cpu_end[i].saturating_sub(cpu_start[i])).as_secs_f64() / window.as_secs_f64());
    let s = queue.stats();
    stop.store(true, Ordering::Relaxed);
    let _ = queue.shutdown(Duration::from_secs(3)).await;
    producer.abort();
    let accepted = end_stats.accepted - warm_stats.accepted;
    let attempts = end_stats.total - warm_stats.total;
    let delivered_all = end_stats.accepted - start_stats.accepted;
    let connections = end_stats.connections - start_stats.connections;
    Steady {
        rate: accepted as f64 / window.as_secs_f64(),
        refused_share: (end_stats.faulted - warm_stats.faulted) as f64 / attempts.max(1) as f64,
        warmup_refused: warm_stats.faulted - start_stats.faulted,
        connections_per_10k: connections as f64 * 10_000.0 / delivered_all.max(1) as f64,
        connections,
        peak: s.in_flight_peak,
        limit: (s.in_flight_limit, limits.0, limits.1),
        cores,
        load,
        late,
    }
}

fn describe(s: &Steady) -> String {
    format!(
        "{:>7.0} events/s, {:.2}% of attempts refused (429) in the window ({} during warm-up), limit {} (range {}-{} in the window), {} connections for at most {} in flight ({:.1} per 10,000 events); cores used: client {:.2}, emulator {:.2}, delay line {:.2} (CPU per event {:.1}, {:.1}, {:.1} µs){}; load average {}",
        s.rate,
        100.0 * s.refused_share,
        s.warmup_refused,
        s.limit.0,
        s.limit.1,
        s.limit.2,
        s.connections,
        s.peak,
        s.connections_per_10k,
        s.cores[0],
        s.cores[1],
        s.cores[2],
        s.cores[0] * 1e6 / s.rate.max(1.0),
        s.cores[1] * 1e6 / s.rate.max(1.0),
        s.cores[2] * 1e6 / s.rate.max(1.0),
        s.late.map_or(String::new(), |(mean, most)| format!(
            "; the delay line wrote {mean:.2} ms past due on average (at most {most:.1} ms)"
        )),
        s.load
    )
}

struct Opts {
    quick: bool,
    trace: bool,
}

impl Opts {
    fn phase(&self, secs: u64) -> Duration {
        Duration::from_secs(if self.quick { secs.div_ceil(4) } else { secs })
    }
}

fn adaptive(algorithm: AdaptiveAlgorithm) -> QueueConfig {
    QueueConfig::default().adaptive_algorithm(algorithm)
}

/// RTT 50 ms, the emulator capped at 2,000 calls/s (burst 2,000): the default settings,
/// then a fixed 32.
async fn scenario_cap(opts: &Opts, algorithms: &[AdaptiveAlgorithm], with_fixed: bool) {
    let mut emu = Proc::start(&["emulator"]);
    let mut proxy = Proc::start(&["proxy", &emu.port.to_string(), "25", "0"]);
    println!("cap: RTT 50 ms (delay line, 25 ms each way), emulator capped at 2,000 calls/s (token bucket, burst 2,000), 429 with Retry-After beyond");
    let (warm, steady) = (opts.phase(20), opts.phase(40));
    for &algorithm in algorithms {
        emu.send("rate 2000 2000");
        let s = steady_run(
            adaptive(algorithm),
            &mut proxy,
            &mut emu,
            warm,
            steady,
            opts.trace,
        )
        .await;
        println!(
            "  default settings ({algorithm:?}): {} -> {:.1}% of 2,000/s (target >= 90%, < 1% refused)",
            describe(&s),
            100.0 * s.rate / 2000.0
        );
        accept(
            &format!("RTT 50 ms, cap 2,000/s, default settings ({algorithm:?})"),
            format!(
                "{:.0} events/s = {:.1}% of 2,000/s, {:.2}% of attempts answered 429 (load {})",
                s.rate,
                100.0 * s.rate / 2000.0,
                100.0 * s.refused_share,
                s.load
            ),
            Some((
                ">= 90% with < 1% refused",
                s.rate >= 0.9 * 2000.0 && s.refused_share < 0.01,
            )),
        );
        accept(
            &format!("connections, cap scenario ({algorithm:?})"),
            format!(
                "{} opened for at most {} in flight, {:.1} per 10,000 events",
                s.connections, s.peak, s.connections_per_10k
            ),
            Some(("<= the most in flight", s.connections <= s.peak)),
        );
        emu.send("norate");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    if with_fixed {
        emu.send("rate 2000 2000");
        let s = steady_run(
            QueueConfig::default().concurrency(32),
            &mut proxy,
            &mut emu,
            warm,
            steady,
            opts.trace,
        )
        .await;
        println!(
            "  fixed concurrency 32: {} -> {:.1}% of 2,000/s",
            describe(&s),
            100.0 * s.rate / 2000.0
        );
        accept(
            "RTT 50 ms, cap 2,000/s, fixed concurrency 32 (beside it)",
            format!(
                "{:.0} events/s = {:.1}% of 2,000/s, {:.2}% answered 429 (load {})",
                s.rate,
                100.0 * s.rate / 2000.0,
                100.0 * s.refused_share,
                s.load
            ),
            None,
        );
        emu.send("norate");
    }
}

/// RTT 50 ms, no cap: against min(max concurrency / RTT, the rate of the same path with no
/// delay).
async fn scenario_open(opts: &Opts, algorithms: &[AdaptiveAlgorithm]) {
    let mut emu = Proc::start(&["emulator"]);
    let mut direct = Proc::start(&["proxy", &emu.port.to_string(), "0", "0"]);
    let mut proxy = Proc::start(&["proxy", &emu.port.to_string(), "25", "0"]);
    let (warm, steady) = (opts.phase(20), opts.phase(30));
    println!("open: RTT 50 ms, no cap; the bound is min(max concurrency / RTT, the same path with no delay)");
    // The path's own limit: the best of the default settings and a fixed 256, no delay.
    let mut loopback: f64 = 0.0;
    for (label, config) in [
        ("default settings", QueueConfig::default()),
        (
            "fixed concurrency 256",
            QueueConfig::default().concurrency(256),
        ),
    ] {
        let s = steady_run(
            config,
            &mut direct,
            &mut emu,
            opts.phase(8),
            opts.phase(12),
            false,
        )
        .await;
        println!(
            "  the same path with no delay (loopback through the proxy), {label}: {}",
            describe(&s)
        );
        loopback = loopback.max(s.rate);
    }
    let max = QueueConfig::MAX_CONCURRENCY as f64;
    let bound = (max / 0.050).min(loopback);
    println!(
        "  bound: min({max:.0} / 50 ms = {:.0}, {loopback:.0}) = {bound:.0} events/s",
        max / 0.050,
    );
    let fixed = steady_run(
        QueueConfig::default().concurrency(QueueConfig::MAX_CONCURRENCY),
        &mut proxy,
        &mut emu,
        warm,
        steady,
        opts.trace,
    )
    .await;
    println!(
        "  fixed concurrency {} (the maximum, not adapting): {} -> {:.0}% of the bound",
        QueueConfig::MAX_CONCURRENCY,
        describe(&fixed),
        100.0 * fixed.rate / bound
    );
    for &algorithm in algorithms {
        let s = steady_run(
            adaptive(algorithm),
            &mut proxy,
            &mut emu,
            warm,
            steady,
            opts.trace,
        )
        .await;
        println!(
            "  default settings ({algorithm:?}): {} -> {:.0}% of the bound (target >= 80%)",
            describe(&s),
            100.0 * s.rate / bound
        );
        accept(
            &format!("RTT 50 ms, no cap, default settings ({algorithm:?})"),
            format!(
                "{:.0} events/s = {:.0}% of the bound min({max:.0} / 50 ms, loopback {loopback:.0}) = {bound:.0} (load {}; the fixed {} gave {:.0}%)",
                s.rate,
                100.0 * s.rate / bound,
                s.load,
                QueueConfig::MAX_CONCURRENCY,
                100.0 * fixed.rate / bound,
            ),
            Some((">= 80%", s.rate >= 0.8 * bound)),
        );
        accept(
            &format!("connections, open scenario ({algorithm:?})"),
            format!(
                "{} opened for at most {} in flight, {:.1} per 10,000 events",
                s.connections, s.peak, s.connections_per_10k
            ),
            Some(("<= the most in flight", s.connections <= s.peak)),
        );
    }
}

/// `open-delayed`: only the delayed half of `open` (the default settings at RTT 50 ms, no
/// cap), for iterating on its CPU: no loopback rate is measured, so no ratio is printed,
/// only the rate and each process's CPU per event (not an acceptance figure).
async fn scenario_open_delayed(opts: &Opts) {
    let mut emu = Proc::start(&["emulator"]);
    let mut proxy = Proc::start(&["proxy", &emu.port.to_string(), "25", "0"]);
    let s = steady_run(
        QueueConfig::default(),
        &mut proxy,
        &mut emu,
        opts.phase(20),
        opts.phase(30),
        opts.trace,
    )
    .await;
    println!(
        "open-delayed: RTT 50 ms, no cap, default settings: {} ({:.0}% of {} / 50 ms)",
        describe(&s),
        100.0 * s.rate * 0.050 / QueueConfig::MAX_CONCURRENCY as f64,
        QueueConfig::MAX_CONCURRENCY
    );
}

/// RTT 150 ms, one request in 100 reset: every event delivered, none lost.
async fn scenario_reset(opts: &Opts, algorithms: &[AdaptiveAlgorithm]) {
    let mut emu = Proc::start(&["emulator"]);
    let mut proxy = Proc::start(&["proxy", &emu.port.to_string(), "75", "100"]);
    let events: u64 = if opts.quick { 20_000 } else { 60_000 };
    println!("reset: RTT 150 ms, 1 request in 100 reset (half before reaching the emulator, half with the answer lost), {events} events");
    for &algorithm in algorithms {
        let before = emu_stats(&mut emu);
        let resets_before = proxy.stats()[1];
        let client = client_for(proxy.addr());
        let queue = client.queue(adaptive(algorithm)).expect("queue");
        let started = Instant::now();
        for seq in 0..events {
            queue
                .track(&format!("user-{}", seq % 100), &event(seq))
                .await
                .expect("accepted");
        }
        let limit = queue.stats().in_flight_limit;
        let peak_before = queue.stats().in_flight_peak;
        let report = queue.shutdown(Duration::from_secs(600)).await;
        let elapsed = started.elapsed();
        let after = emu_stats(&mut emu);
        let resets = proxy.stats()[1] - resets_before;
        let accepted = after.accepted - before.accepted;
        let lost = events - report.delivered;
        println!(
            "  default settings ({algorithm:?}): {:.0} events/s; delivered {} of {events}, dead-lettered {}, lost {lost}; {resets} resets, {} retries, {} ambiguous; the emulator accepted {accepted} (duplicates {} <= ambiguous {}); limit at the end of intake {limit}; {} connections for at most {} in flight, and {resets} resets",
            events as f64 / elapsed.as_secs_f64(),
            report.delivered,
            report.dead_lettered,
            report.retried,
            report.ambiguous,
            accepted.saturating_sub(events),
            report.ambiguous,
            after.connections - before.connections,
            report.stats.in_flight_peak.max(peak_before),
        );
        accept(
            &format!("RTT 150 ms, 1 in 100 reset, default settings ({algorithm:?})"),
            format!(
                "{events} events: {lost} lost, {} dead-lettered, {:.0} events/s, {resets} resets, {} duplicates <= {} ambiguous (load {})",
                report.dead_lettered,
                events as f64 / elapsed.as_secs_f64(),
                accepted.saturating_sub(events),
                report.ambiguous,
                load_average()
            ),
            Some(("nothing lost", lost == 0 && report.dead_lettered == 0)),
        );
        assert_eq!(report.delivered, events, "an event was lost: {report:?}");
        assert!(accepted >= events && accepted - events <= report.ambiguous);
    }
}

// ---------------------------------------------------------------------------------------
// CPU per event.

/// `events` requests as the SDK builds them, as absolute URIs (for the pooled clients) and
/// as origin-form targets (for the floor).
#[allow(clippy::type_complexity)]
fn prebuilt(
    calls: &gamooga::Calls,
    events: u64,
    backend: SocketAddr,
) -> (Arc<Vec<hyper::Uri>>, Arc<Vec<hyper::Uri>>) {
    let (absolute, origin) = (0..events)
        .map(|seq| {
            let r = calls
                .track(&format!("user-{}", seq % 100), &event(seq))
                .unwrap();
            let absolute: hyper::Uri = format!("http://{backend}{}", r.path_and_query())
                .parse()
                .unwrap();
            let origin: hyper::Uri = r.path_and_query().parse().unwrap();
            (absolute, origin)
        })
        .unzip();
    (Arc::new(absolute), Arc::new(origin))
}

/// The floor: `concurrency` connections, each a hyper HTTP/1.1 connection sending its share
/// of the pre-built requests (origin-form targets, `/evwid/?...`, with a `Host` header) one
/// after the other and reading each answer whole.
async fn hyper_floor(backend: SocketAddr, uris: Arc<Vec<hyper::Uri>>, concurrency: usize) -> u64 {
    use http_body_util::{BodyExt, Empty};
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (uris, next) = (uris.clone(), next.clone());
        tasks.spawn(async move {
            let stream = tokio::net::TcpStream::connect(backend).await.unwrap();
            stream.set_nodelay(true).unwrap();
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                    .await
                    .unwrap();
            tokio::spawn(conn);
            let host = hyper::header::HeaderValue::from_str(&backend.to_string()).unwrap();
            let mut sent = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(uri) = uris.get(i) else { break };
                let request = hyper::Request::get(uri.clone())
                    .header(hyper::header::HOST, host.clone())
                    .body(Empty::<bytes::Bytes>::new())
                    .unwrap();
                let response = sender.send_request(request).await.unwrap();
                assert_eq!(response.status(), 200);
                response.into_body().collect().await.unwrap();
                sent += 1;
            }
            sent
        });
    }
    let mut sent = 0;
    while let Some(n) = tasks.join_next().await {
        sent += n.unwrap();
    }
    sent
}

/// `tasks` tasks sending their share of the pre-built requests through a shared client:
/// hyper-util's pooled client, reqwest, or the SDK's `Client::send_once` (no queue). They
/// split the gap between the floor and the queue.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Layer {
    HyperPool,
    Reqwest,
    SendOnce,
}

async fn layered(
    layer: Layer,
    backend: SocketAddr,
    uris: Arc<Vec<hyper::Uri>>,
    tasks: usize,
) -> u64 {
    use http_body_util::{BodyExt, Empty};
    let pool: hyper_util::client::legacy::Client<_, Empty<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_max_idle_per_host(1024)
            .build_http();
    let reqwest = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()
        .unwrap();
    let sdk = client_for(backend);
    let calls = sdk.calls().clone();
    let next = Arc::new(AtomicUsize::new(0));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        let (uris, next) = (uris.clone(), next.clone());
        let (pool, reqwest, sdk, calls) =
            (pool.clone(), reqwest.clone(), sdk.clone(), calls.clone());
        set.spawn(async move {
            let mut sent = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(uri) = uris.get(i) else { break };
                match layer {
                    Layer::HyperPool => {
                        let response = pool.get(uri.clone()).await.unwrap();
                        assert_eq!(response.status(), 200);
                        response.into_body().collect().await.unwrap();
                    }
                    Layer::Reqwest => {
                        let response = reqwest.get(uri.to_string()).send().await.unwrap();
                        assert_eq!(response.status(), 200);
                        response.bytes().await.unwrap();
                    }
                    Layer::SendOnce => {
                        // Built here, as the queue builds it at enqueue.
                        let request = calls
                            .track(&format!("user-{}", i % 100), &event(i as u64))
                            .unwrap();
                        sdk.send_once(&request).await.unwrap();
                    }
                }
                sent += 1;
            }
            sent
        });
    }
    let mut sent = 0;
    while let Some(n) = set.join_next().await {
        sent += n.unwrap();
    }
    sent
}

/// The SDK's whole path: the typed `track` (validate, encode, enqueue), delivery and
/// settling, for `events` pre-built events.
async fn sdk_path(backend: SocketAddr, config: QueueConfig, events: Vec<CustomEvent>) -> u64 {
    let client = client_for(backend);
    let queue = client.queue(config).expect("queue");
    for (seq, event) in events.iter().enumerate() {
        queue
            .track(&format!("user-{}", seq % 100), event)
            .await
            .expect("accepted");
    }
    let report = queue.shutdown(Duration::from_secs(600)).await;
    assert_eq!(report.delivered, events.len() as u64, "{report:?}");
    report.delivered
}

async fn scenario_cpu(opts: &Opts) {
    let mut emu = Proc::start(&["emulator"]);
    let proxy = Proc::start(&["proxy", &emu.port.to_string(), "25", "0"]);
    let calls = gamooga::Calls::new("acme").unwrap();
    println!("cpu: user + system CPU time of this process per delivered event (emulator and proxy in their own processes); load average {}", load_average());
    for (label, backend, events, concurrency) in [
        (
            "loopback",
            emu.addr(),
            if opts.quick { 20_000 } else { 100_000 },
            32usize,
        ),
        (
            "RTT 50 ms",
            proxy.addr(),
            if opts.quick { 5_000 } else { 10_000 },
            32usize,
        ),
    ] {
        let (uris, origin) = prebuilt(&calls, events as u64, backend);
        let mut ratios = Vec::new();
        let mut conns = Vec::new();
        for round in 0..3 {
            let before = emu_stats(&mut emu);
            let cpu = cpu_time();
            let started = Instant::now();
            let sent = hyper_floor(backend, origin.clone(), concurrency).await;
            let floor_wall = started.elapsed();
            let floor = (cpu_time() - cpu).as_secs_f64() / sent as f64;
            let floor_conns = emu_stats(&mut emu).connections - before.connections;

            let prepared: Vec<CustomEvent> = (0..events as u64).map(event).collect();
            let before = emu_stats(&mut emu);
            let cpu = cpu_time();
            let started = Instant::now();
            let sent = sdk_path(
                backend,
                QueueConfig::default().concurrency(concurrency),
                prepared,
            )
            .await;
            let sdk_wall = started.elapsed();
            let sdk = (cpu_time() - cpu).as_secs_f64() / sent as f64;
            let sdk_conns = emu_stats(&mut emu).connections - before.connections;

            let prepared: Vec<CustomEvent> = (0..events as u64).map(event).collect();
            let cpu = cpu_time();
            let sent = sdk_path(backend, QueueConfig::default(), prepared).await;
            let adaptive = (cpu_time() - cpu).as_secs_f64() / sent as f64;
            // Between the floor and the queue (loopback only: each costs a run).
            let mut layers = String::new();
            let between: &[Layer] = if label == "loopback" {
                &[Layer::HyperPool, Layer::Reqwest, Layer::SendOnce]
            } else {
                &[]
            };
            for &layer in between {
                let cpu = cpu_time();
                let sent = layered(layer, backend, uris.clone(), concurrency).await;
                let per = (cpu_time() - cpu).as_secs_f64() / sent as f64;
                layers.push_str(&format!("{layer:?} {:.1}, ", per * 1e6));
            }
            ratios.push(sdk / floor);
            conns.push((sdk_conns, floor_conns));
            println!(
                "  {label}, concurrency {concurrency}, {events} events, run {}: hyper floor {:.1} µs/event ({:.0}/s, {floor_conns} connections); SDK {:.1} µs/event ({:.0}/s, {sdk_conns} connections): ratio {:.2} (target <= 1.5); SDK with the default (adaptive) settings {:.1} µs/event; between them (µs/event): {layers}",
                round + 1,
                floor * 1e6,
                events as f64 / floor_wall.as_secs_f64(),
                sdk * 1e6,
                events as f64 / sdk_wall.as_secs_f64(),
                sdk / floor,
                adaptive * 1e6,
            );
        }
        ratios.sort_by(f64::total_cmp);
        println!(
            "  {label}: SDK / hyper floor, median of 3: {:.2} (range {:.2}-{:.2}); load average {}",
            ratios[1],
            ratios[0],
            ratios[2],
            load_average()
        );
        accept(
            &format!("CPU per event, SDK (fixed {concurrency}) / minimal hyper client, {label}"),
            format!(
                "median of 3 {:.2} (range {:.2}-{:.2}; load {})",
                ratios[1],
                ratios[0],
                ratios[2],
                load_average()
            ),
            Some(("<= 1.5", ratios[1] <= 1.5)),
        );
        let most = conns.iter().map(|c| c.0).max().unwrap_or(0);
        accept(
            &format!("connections, cpu scenario, {label}"),
            format!(
                "SDK at most {most} per run of {events} events ({:.1} per 10,000), the floor {}",
                most as f64 * 10_000.0 / events as f64,
                conns[0].1
            ),
            Some((
                format!("<= concurrency {concurrency}").as_str(),
                most <= concurrency as u64,
            )),
        );
    }
}

/// `profile-sdk` / `profile-floor` (`rtt`, `events=N`, `nowait`): only one side of `cpu` on
/// loopback (200,000 events) or at RTT 50 ms (10,000), for `perf record -p <pid>` (the pid
/// is printed first), or for instruction counts that do not depend on the machine's load:
/// `valgrind --tool=callgrind --trace-children=no <bench binary> profile-sdk events=2000
/// nowait`, then the same with 6,000: the difference over 4,000 is the count per event
/// (`prepare-only` counts what both sides prepare, to take away).
async fn profile(sdk: bool, rtt: bool) {
    let emu = Proc::start(&["emulator"]);
    let proxy = Proc::start(&["proxy", &emu.port.to_string(), "25", "0"]);
    let backend = if rtt { proxy.addr() } else { emu.addr() };
    println!("pid {}", std::process::id());
    if !std::env::args().any(|a| a == "nowait") {
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let events = std::env::args()
        .find_map(|a| a.strip_prefix("events=").and_then(|n| n.parse().ok()))
        .unwrap_or(if rtt { 10_000u64 } else { 200_000u64 });
    // Both sides prepare the same (the floor's requests, the SDK's events), so that a
    // difference of instruction counts is the paths' alone.
    let (_, origin) = prebuilt(&gamooga::Calls::new("acme").unwrap(), events, backend);
    let prepared: Vec<CustomEvent> = (0..events).map(event).collect();
    let cpu = cpu_time();
    if std::env::args().any(|a| a == "prepare-only") {
        drop((origin, prepared));
    } else if sdk {
        sdk_path(backend, QueueConfig::default().concurrency(32), prepared).await;
    } else {
        drop(prepared);
        hyper_floor(backend, origin, 32).await;
    }
    println!(
        "{:.1} µs/event",
        (cpu_time() - cpu).as_secs_f64() * 1e6 / events as f64
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; nothing to list here
    }
    if args.first().map(String::as_str) == Some("--child") {
        match args.get(1).map(String::as_str) {
            Some("emulator") => child_emulator(),
            Some("proxy") => child_proxy(&args[2..]),
            other => panic!("unknown child {other:?}"),
        }
        return;
    }
    let opts = Opts {
        quick: args.iter().any(|a| a == "--quick"),
        trace: args.iter().any(|a| a == "--trace"),
    };
    let named: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let all = named.is_empty();
    let wants = |name: &str| all || named.contains(&name);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("load average at start: {}", load_average());
    let default = [AdaptiveAlgorithm::default()];
    let both = [AdaptiveAlgorithm::Gradient, AdaptiveAlgorithm::Aimd];
    rt.block_on(async {
        if named.contains(&"profile-sdk") || named.contains(&"profile-floor") {
            profile(named.contains(&"profile-sdk"), named.contains(&"rtt")).await;
            return;
        }
        if named.contains(&"candidates") {
            scenario_cap(&opts, &both, false).await;
            scenario_open(&opts, &both).await;
            scenario_reset(&opts, &both).await;
        }
        if wants("cap") {
            scenario_cap(&opts, &default, true).await;
        }
        if wants("open") {
            scenario_open(&opts, &default).await;
        }
        if named.contains(&"open-delayed") {
            scenario_open_delayed(&opts).await;
        }
        if wants("reset") {
            scenario_reset(&opts, &default).await;
        }
        if wants("cpu") {
            scenario_cpu(&opts).await;
        }
    });
    println!("load average at the end: {}", load_average());
    let summary = SUMMARY.lock().unwrap();
    if !summary.is_empty() {
        println!("\nacceptance figures of issue 12 in this run (the loopback queue / wrk ratio: `cargo bench --bench queue`):");
        for line in summary.iter() {
            println!("- {line}");
        }
    }
}
