//! Requests waiting for their responses, in order.
//!
//! Responses carry only the correlation id, and a broker answers a connection's requests in the
//! order it received them, so a queue matches each response to its request.

use std::collections::VecDeque;

use crate::api::Api;
use crate::Error;

/// How the response to a request must change on its way to the client.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Rewrite {
    /// Pass it unchanged.
    #[default]
    None,
    /// Swallow it and send this frame (prefix included) instead: the answer to a denied request
    /// that was swapped for a harmless one.
    Replace(Vec<u8>),
    /// Hold it whole and let [`crate::session::Hooks::on_response`] rewrite its body; the tag says how.
    Transform(u32),
}

/// A request the broker has yet to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub api: Api,
    pub api_version: i16,
    pub correlation_id: i32,
    /// When the filter saw the request, in the host's clock (nanoseconds); `None` when it was
    /// not timed.
    pub sent_at: Option<u64>,
    pub rewrite: Rewrite,
}

/// The bounded queue of a connection's pending requests.
#[derive(Debug)]
pub struct InFlight {
    queue: VecDeque<Pending>,
    max: usize,
    /// Bytes of synthesized responses (denials) waiting in the queue, and their bound: a
    /// denial can be ten times its request (an error per partition named), and it waits for
    /// the substitute's answer.
    replaced: usize,
    max_replaced: usize,
}

impl InFlight {
    /// At most `max` requests, holding at most `max_replaced` bytes of synthesized responses.
    pub fn new(max: usize, max_replaced: usize) -> Self {
        InFlight {
            queue: VecDeque::new(),
            max,
            replaced: 0,
            max_replaced,
        }
    }

    /// Bytes of synthesized responses waiting for their turn.
    pub fn replaced_bytes(&self) -> usize {
        self.replaced
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn push(&mut self, pending: Pending) -> Result<(), Error> {
        if self.queue.len() >= self.max {
            return Err(Error::TooManyInFlight { max: self.max });
        }
        if let Rewrite::Replace(bytes) = &pending.rewrite {
            let replaced = self.replaced.saturating_add(bytes.len());
            if replaced > self.max_replaced {
                return Err(Error::DenialsTooLarge {
                    max: self.max_replaced,
                });
            }
            self.replaced = replaced;
        }
        self.queue.push_back(pending);
        Ok(())
    }

    /// The request the next response answers.
    pub fn front(&self) -> Option<&Pending> {
        self.queue.front()
    }

    /// Takes the request a response with `correlation_id` answers.
    pub fn answer(&mut self, correlation_id: i32) -> Result<Pending, Error> {
        match self.queue.front() {
            Some(front) if front.correlation_id == correlation_id => {
                let pending = self.queue.pop_front().ok_or(Error::UnexpectedResponse {
                    got: correlation_id,
                    expected: None,
                })?;
                if let Rewrite::Replace(bytes) = &pending.rewrite {
                    self.replaced = self.replaced.saturating_sub(bytes.len());
                }
                Ok(pending)
            }
            other => Err(Error::UnexpectedResponse {
                got: correlation_id,
                expected: other.map(|p| p.correlation_id),
            }),
        }
    }
}
