//! Topic id → name, shared by every worker's VM through proxy-wasm shared data: the Metadata
//! response that taught an id may have crossed another worker than the Fetch that uses it.

use meshka_policy::enforce::TopicIds;
use proxy_wasm::hostcalls;

/// The plugin's shared topic-id table.
pub struct SharedTopicIds;

fn key(id: &[u8; 16]) -> String {
    let mut k = String::with_capacity(16 + 32);
    k.push_str("meshka.topic_id.");
    for b in id {
        k.push_str(&format!("{b:02x}"));
    }
    k
}

impl TopicIds for SharedTopicIds {
    fn name(&self, id: &[u8; 16]) -> Option<String> {
        let (bytes, _cas) = hostcalls::get_shared_data(&key(id)).ok()?;
        String::from_utf8(bytes?).ok()
    }

    fn learn(&mut self, id: [u8; 16], name: &str) {
        if self.name(&id).as_deref() != Some(name) {
            // Without a CAS token the write cannot conflict; a failure only costs a later
            // lookup, which then denies.
            let _ = hostcalls::set_shared_data(&key(&id), Some(name.as_bytes()), None);
        }
    }
}
