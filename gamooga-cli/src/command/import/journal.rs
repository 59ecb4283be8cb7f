//! The attempts journal, `SPOOL-attempts`: what a run that is killed could not report.
//!
//! A clean stop (the end of the file, Ctrl-C, SIGTERM) shuts the queue down: every delivered
//! row's delete is committed, and an attempt still in flight is counted `ambiguous` in the
//! summary. A run killed with SIGKILL (or crashing) reports nothing: the rows it had sent
//! without an answer yet, or whose 200 came just before the kill and whose delete was not
//! committed, are still in the spool, and the next run sends them again. Those are the
//! possible duplicates of a kill, and the next run must count them.
//!
//! So the import's [`Deliver`](gamooga::queue::Deliver) wrapper appends, before every
//! attempt, an 8-byte key of the request (see [`key`]) to this file: one `write` to a file
//! opened in append mode, which the kernel keeps whatever happens to the process (not after
//! a power loss: no fsync, which would cost a disk flush per attempt). A clean stop removes
//! the file. The next run finding it counts the rows of the spool's backlog whose key is in
//! it ([`unconfirmed`]): each may reach Gamooga twice, and the summary adds them to
//! `ambiguous`. Memory: one entry per backlog row (bounded by the queue's capacity, as the
//! backlog is); the journal itself is streamed.
//!
//! Keys are a hash of what goes on the wire (path, query with `tm`, body), written by hand
//! (FNV-1a) because it must be the same in every run and every build: std's `DefaultHasher`
//! makes no such promise. Two rows that build the very same request share a key; counting
//! either as attempted keeps the count an upper bound.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use gamooga::spool::Spool;
use gamooga::Request;

use crate::error::CliError;

/// FNV-1a, 64 bits.
fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// The key of a request: a hash of what goes on the wire (`tm` included).
pub fn key(request: &Request) -> u64 {
    let mut h = fnv1a(FNV_OFFSET, request.path().as_bytes());
    h = fnv1a(h, b"?");
    h = fnv1a(h, request.query().as_bytes());
    if let Some(body) = request.body() {
        h = fnv1a(h, b"\n");
        h = fnv1a(h, body.as_bytes());
    }
    h
}

/// How many bytes of a file its fingerprint reads.
const FINGERPRINT_BYTES: u64 = 64 * 1024;

/// A fingerprint of a file's start (its first 64 KiB, the CSV header included), so a
/// checkpoint is not applied to a different file of the same name. Appending rows keeps it.
pub fn fingerprint(path: &Path) -> Result<u64, CliError> {
    let mut start = Vec::new();
    File::open(path)
        .and_then(|f| f.take(FINGERPRINT_BYTES).read_to_end(&mut start))
        .map_err(|e| CliError::io(path.display(), e))?;
    Ok(fnv1a(FNV_OFFSET, &start))
}

/// `SPOOL-attempts`.
pub fn path_of(spool: &Path) -> PathBuf {
    let mut name = spool.as_os_str().to_owned();
    name.push("-attempts");
    PathBuf::from(name)
}

/// The journal a run appends to.
pub struct Journal {
    file: File,
    failed: AtomicBool,
}

impl Journal {
    /// Opens (creating, readable by its owner only) the journal beside `spool`, to append.
    pub fn open(spool: &Path) -> Result<Journal, CliError> {
        let path = path_of(spool);
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options
            .open(&path)
            .map_err(|e| CliError::io(path.display(), e))?;
        Ok(Journal {
            file,
            failed: AtomicBool::new(false),
        })
    }

    /// Notes an attempt of `request`, before it is sent: one `write` of 8 bytes (atomic in
    /// append mode, whichever delivery task writes).
    pub fn note(&self, request: &Request) {
        if let Err(e) = (&self.file).write_all(&key(request).to_le_bytes()) {
            if !self.failed.swap(true, Ordering::Relaxed) {
                eprintln!(
                    "gamooga: cannot write the attempts journal ({e}): after a kill, the next run \
                     cannot count the rows this one had sent without an answer"
                );
            }
        }
    }
}

/// Removes the journal beside `spool` (after a clean stop).
pub fn remove(spool: &Path) {
    let _ = std::fs::remove_file(path_of(spool));
}

/// The spool's pending rows whose request a run that did not stop cleanly had attempted
/// (its journal is there): each may arrive twice. 0 without a journal.
pub fn unconfirmed(spool: &Spool) -> Result<u64, CliError> {
    let path = path_of(spool.path());
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(CliError::io(path.display(), e)),
    };
    // The backlog's keys, with how many rows have each.
    let mut backlog: HashMap<u64, u32> = HashMap::new();
    let mut after = 0;
    loop {
        let page = spool.pending_page(after, 4096)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for event in &page {
            *backlog.entry(key(&event.request)).or_default() += 1;
        }
    }
    let mut count = 0u64;
    let mut input = BufReader::with_capacity(64 * 1024, file);
    let mut entry = [0u8; 8];
    loop {
        match input.read_exact(&mut entry) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(CliError::io(path.display(), e)),
        }
        // Each backlog row counts once, however many attempts it had.
        if let Some(left) = backlog.get_mut(&u64::from_le_bytes(entry)) {
            if *left > 0 {
                *left -= 1;
                count += 1;
            }
        }
    }
    Ok(count)
}
