//! Hostile request and response streams through the enforcer with a real policy: never a panic,
//! never unbounded memory, whatever the bytes.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use meshka_codec::head::RequestHead;
use meshka_codec::inflight::Pending;
use meshka_codec::{Error, Hooks, Limits, Output, Session, Verdict};
use meshka_policy::authz::{AuthorizationPolicy, Principal};
use meshka_policy::enforce::Enforcer;
use meshka_policy::sasl::Exchange;

const LIMITS: Limits = Limits {
    max_frame_bytes: 1 << 20,
    max_header_bytes: 4096,
    max_in_flight: 64,
    max_hold_bytes: 1 << 16,
};

struct Adapter<'a>(Enforcer<'a>);

impl Hooks for Adapter<'_> {
    fn inspect_requests(&self) -> bool {
        true
    }
    fn on_request(&mut self, head: &RequestHead<'_>, body: &[u8]) -> Result<Verdict, Error> {
        self.0.on_request(head, body)
    }
    fn on_response(&mut self, request: &Pending, tag: u32, body: &[u8]) -> Result<Vec<u8>, Error> {
        self.0.on_response(request, tag, body)
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(policy) = serde_json::from_str::<AuthorizationPolicy>(
        r#"{"rules": [{"action": "allow", "serviceAccounts": ["shop/orders"], "operations": ["Write", "Read"],
            "resources": [{"type": "topic", "name": "orders.", "patternType": "prefixed"}, {"type": "group", "name": "g"}]}]}"#,
    ) else {
        return;
    };
    let Ok(policy) = policy.compile() else { return };
    let mut principal = Principal::new(Some("spiffe://cluster.local/ns/shop/sa/orders"), None);
    let (mut sasl, mut ids, mut merges, mut records) =
        (Exchange::default(), HashMap::new(), Vec::new(), Vec::new());
    let mut hooks = Adapter(Enforcer {
        policy: &policy,
        principal: &mut principal,
        sasl: &mut sasl,
        topic_ids: &mut ids,
        merges: &mut merges,
        close_on_denied_acks_zero: false,
        records: &mut records,
    });
    let half = data.len() / 2;
    let (requests, responses) = data.split_at(half);
    let mut session = Session::new(LIMITS);
    let mut out = Output::default();
    let mut src = requests;
    if session
        .on_request_data(&mut src, 0, &mut hooks, &mut out)
        .is_ok()
    {
        let mut out = Output::default();
        let mut src = responses;
        let _ = session.on_response_data(&mut src, 0, &mut hooks, &mut out);
    }
    assert!(session.held_bytes() <= LIMITS.max_hold_bytes + 8);
});
