//! What the chaos soak (`make soak`, `examples/soak/`) found in the server,
//! each as the smallest test that shows it, kept once fixed so it stays so.
//! Linux only: it reads the server's kernel queues in `/proc/net/tcp`.
#![cfg(target_os = "linux")]

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use chatroom::ServerConfig;

mod common;
use common::{small_buffer_client, Client, TestServer};

/// How the slow reader reads: 1 KiB every 250 ms, about 4 KB/s, like a
/// laptop on a poor link, through a small receive buffer.
const SIP: usize = 1024;
const SIP_EVERY: Duration = Duration::from_millis(250);
/// How long it must keep reading, untroubled, once its kernel buffers are
/// full: twenty times the write timeout.
const KEEPS_READING: Duration = Duration::from_secs(20);
/// More than the kernel holds for one peer (its send buffer grows to
/// `tcp_wmem`'s maximum, 4 MiB by default) and the room's log together.
const FLOOD_BYTES: usize = 8 * 1024 * 1024;

/// A slow but steady reader (1 KiB every 250 ms through an 8 KiB receive
/// buffer) in a room that said more than the kernel can hold for it is
/// never evicted while it keeps reading, as issue 24 promises (it may skip
/// ahead, and be told so). The soak's slow readers in flooded rooms were
/// each reset as `too slow` after a few minutes; here within seconds of
/// the server's kernel send queue for it filling up. Found by `make soak`.
#[test]
fn a_reader_at_a_few_kb_per_second_is_never_evicted_while_it_reads() {
    let server = TestServer::with(|c: &mut ServerConfig| c.rate_limit = 0);
    let mut observer = server.connect();
    let (slow, slow_name) = small_buffer_client(server.addr);
    slow.set_read_timeout(Some(Duration::from_millis(1)))
        .expect("timeout");
    observer.expect(&format!("* {slow_name} joined"));
    let flooder = Client::connect(server.addr);
    observer.expect(&format!("* {} joined", flooder.name));
    // The observer reads everything, and keeps what the room is told
    // when the slow reader goes.
    let left: Arc<Mutex<Option<String>>> = Arc::default();
    let watching = {
        let (left, prefix) = (left.clone(), format!("* {slow_name} left"));
        thread::spawn(move || {
            while let Some(line) = observer.try_line(Duration::from_secs(60)) {
                if line.starts_with(&prefix) {
                    *left.lock().expect("not poisoned") = Some(line);
                }
            }
        })
    };
    let sending = thread::spawn(move || {
        let mut flooder = flooder;
        let line = format!("{}\n", "x".repeat(1000));
        for _ in 0..FLOOD_BYTES / line.len() {
            flooder.send_raw(line.as_bytes());
        }
        flooder
    });
    let slow_addr = slow.local_addr().expect("local addr");
    let mut buffer = [0u8; SIP];
    let (mut read, mut most_queued) = (0usize, 0u64);
    let mut full_since: Option<Instant> = None;
    let outcome = loop {
        thread::sleep(SIP_EVERY);
        match (&slow).read(&mut buffer) {
            Ok(0) => break Err("closed by the server"),
            Ok(n) => read += n,
            Err(e) if common::is_timeout(&e) => {}
            Err(_) => break Err("reset by the server"),
        }
        // What the server's kernel holds to send to the slow reader.
        let queued = common::queue(server.addr, slow_addr).map_or(0, |q| q.send);
        most_queued = most_queued.max(queued);
        if queued > 1024 * 1024 && full_since.is_none() {
            full_since = Some(Instant::now());
        }
        if full_since.is_some_and(|at| at.elapsed() >= KEEPS_READING) {
            break Ok(());
        }
    };
    assert!(
        most_queued > 1024 * 1024,
        "the server's kernel queue for the slow reader never passed 1 MiB ({most_queued} bytes): \
         the test did not make the situation it is about"
    );
    let since_full = full_since.map_or(0.0, |at| at.elapsed().as_secs_f64());
    // The room hears of it a moment after the reset.
    thread::sleep(Duration::from_millis(200));
    let told = left.lock().expect("not poisoned").clone();
    assert!(
        outcome.is_ok() && told.is_none(),
        "the slow reader was {} after reading {read} bytes at about 4 KB/s, {since_full:.1} s \
         after the server's kernel queue for it passed 1 MiB (most: {most_queued} bytes); \
         the room was told {told:?}",
        outcome.err().unwrap_or("let go")
    );
    drop(sending.join().expect("the flooder"));
    drop(server);
    let _ = watching.join();
}
