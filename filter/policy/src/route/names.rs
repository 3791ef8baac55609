//! The name maps rewriting works with: a client's names to the broker's and back.

use std::borrow::Cow;

/// The kinds of names routing rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameKind {
    Topic,
    Group,
    TransactionalId,
}

/// How a name the broker sent appears to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientName<'a> {
    /// The client knows it by this name (possibly the same as the broker's).
    Named(Cow<'a, str>),
    /// Not the client's to see (another tenant's topic): listings drop it.
    Hidden,
}

/// A connection's view of the cluster's names. Implementations guarantee that
/// `to_client(to_broker(n)) == Named(n)` for the names they rewrite, so responses to a
/// request come back under the names the client used.
pub trait NameMap {
    /// The broker's name for a name the client sent.
    fn to_broker<'a>(&self, kind: NameKind, name: &'a str) -> Cow<'a, str>;
    /// The client's name for a name the broker sent.
    fn to_client<'a>(&self, kind: NameKind, name: &'a str) -> ClientName<'a>;
}
