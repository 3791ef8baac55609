//! Connections held back for their throttle time, as a Kafka broker mutes a throttled client's
//! channel: librdkafka ignores `throttle_time_ms` (KIP-219 is not implemented there), so the
//! signal alone would not slow it down.
//!
//! A held connection answers Envoy with `Pause`: the bytes stay in Envoy's read buffer (Envoy
//! stops reading the socket when its buffer limit is reached, so TCP pushes back on the client),
//! and every later callback sees them again in front of the new ones. The root context's tick
//! resumes connections whose time is up; Envoy then hands the held bytes to `tcp_proxy` right
//! after the tick returns.

use std::cell::RefCell;

use log::warn;
use proxy_wasm::hostcalls;

thread_local! {
    /// (context id, resume at ms) of the connections being held.
    static HELD: RefCell<Vec<(u32, u64)>> = const { RefCell::new(Vec::new()) };
    /// Connections the tick resumed: their held bytes went on to the broker.
    static RESUMED: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

/// Holds connection `id` until `until_ms`.
pub fn hold(id: u32, until_ms: u64) {
    HELD.with(|h| {
        let mut h = h.borrow_mut();
        match h.iter_mut().find(|(c, _)| *c == id) {
            Some(entry) => entry.1 = until_ms,
            None => h.push((id, until_ms)),
        }
    });
}

/// Forgets connection `id` (it continued by itself, or closed). Call before its context goes:
/// resuming a context Envoy no longer has would abort the VM.
pub fn release(id: u32) {
    HELD.with(|h| h.borrow_mut().retain(|(c, _)| *c != id));
    RESUMED.with(|r| r.borrow_mut().retain(|c| *c != id));
}

/// Whether the tick resumed connection `id` since its last callback (and forgets it).
pub fn take_resumed(id: u32) -> bool {
    RESUMED.with(|r| {
        let mut r = r.borrow_mut();
        let before = r.len();
        r.retain(|c| *c != id);
        r.len() != before
    })
}

/// Whether any connection is held.
pub fn any_held() -> bool {
    HELD.with(|h| !h.borrow().is_empty())
}

/// Resumes every held connection whose time is up.
pub fn resume_due(now_ms: u64) {
    let due: Vec<u32> = HELD.with(|h| {
        let mut h = h.borrow_mut();
        let due = h
            .iter()
            .filter(|(_, until)| *until <= now_ms)
            .map(|(c, _)| *c)
            .collect();
        h.retain(|(_, until)| *until > now_ms);
        due
    });
    for id in due {
        // Both calls answer Ok for a live network context (entries of closed connections were
        // released in their on_log); the SDK would abort on anything else.
        if hostcalls::set_effective_context(id).is_err() || hostcalls::resume_downstream().is_err()
        {
            warn!("meshka: connection={id} could not be resumed after its throttle time");
            continue;
        }
        RESUMED.with(|r| r.borrow_mut().push(id));
    }
}
