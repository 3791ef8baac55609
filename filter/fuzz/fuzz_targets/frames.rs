//! Any byte stream, cut anywhere, both directions: a result, never a panic, memory bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshka_codec::session::Observe;
use meshka_codec::{Limits, Output, Session};

const LIMITS: Limits = Limits {
    max_frame_bytes: 1 << 20,
    max_header_bytes: 4096,
    max_in_flight: 64,
    max_hold_bytes: 1 << 16,
};

fuzz_target!(|data: &[u8]| {
    let cut = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let (a, b) = data.split_at(cut);
    let mut session = Session::new(LIMITS);
    let mut hooks = Observe(|_, _| {});
    for piece in [a, b] {
        let mut out = Output::default();
        let mut src = piece;
        if session
            .on_request_data(&mut src, 0, &mut hooks, &mut out)
            .is_err()
        {
            break;
        }
        assert!(out.is_unchanged(piece.len()));
        assert!(session.held_bytes() <= 4 + LIMITS.max_header_bytes);
    }
    let mut out = Output::default();
    let mut src = data;
    let _ = session.on_response_data(&mut src, 0, &mut hooks, &mut out);
});
