//! Who a SASL exchange authenticates: the user name in the client's first message, for the
//! mechanisms whose first message carries it. The filter adopts it only once the broker's
//! `SaslAuthenticate` response says the exchange succeeded.

/// A SASL mechanism as the client names it in `SaslHandshake`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    ScramSha256,
    ScramSha512,
    OAuthBearer,
    /// GSSAPI and others: no user name the filter can read.
    Other,
}

impl Mechanism {
    pub fn from_name(name: &str) -> Mechanism {
        match name {
            "PLAIN" => Mechanism::Plain,
            "SCRAM-SHA-256" => Mechanism::ScramSha256,
            "SCRAM-SHA-512" => Mechanism::ScramSha512,
            "OAUTHBEARER" => Mechanism::OAuthBearer,
            _ => Mechanism::Other,
        }
    }

    /// Client messages in a successful exchange: the broker's answer to the last one says
    /// whether the user is authenticated.
    pub fn rounds(self) -> u32 {
        match self {
            Mechanism::ScramSha256 | Mechanism::ScramSha512 => 2,
            _ => 1,
        }
    }
}

/// The user the client's first message names, if the mechanism carries one and it parses.
pub fn user(mechanism: Mechanism, first_message: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(first_message).ok()?;
    let user = match mechanism {
        // RFC 4616: [authzid] NUL authcid NUL passwd. Kafka authorizes the authcid (and refuses
        // an authzid that differs from it).
        Mechanism::Plain => {
            let mut parts = text.split('\0');
            let authzid = parts.next()?;
            let authcid = parts.next()?;
            parts.next()?;
            if !authzid.is_empty() && authzid != authcid {
                return None;
            }
            authcid.to_string()
        }
        // RFC 5802 client-first-message: gs2-header "n=" saslname "," "r=" nonce.
        Mechanism::ScramSha256 | Mechanism::ScramSha512 => {
            let bare = text
                .strip_prefix("n,,")
                .or_else(|| text.strip_prefix("y,,"))?;
            let name = bare.split(',').find_map(|f| f.strip_prefix("n="))?;
            name.replace("=2C", ",").replace("=3D", "=")
        }
        // RFC 7628: gs2-header, then kvpairs separated by 0x01; auth=Bearer <JWT>; the JWT's
        // `sub` claim names the principal (Kafka's default principal claim).
        Mechanism::OAuthBearer => {
            let token = text
                .split('\x01')
                .find_map(|kv| kv.strip_prefix("auth=Bearer "))?;
            let payload = token.split('.').nth(1)?;
            let claims: serde_json::Value = serde_json::from_slice(&base64url(payload)?).ok()?;
            claims.get("sub")?.as_str()?.to_string()
        }
        Mechanism::Other => return None,
    };
    Some(user).filter(|u| !u.is_empty())
}

/// Decodes unpadded (or padded) base64url.
fn base64url(input: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in input.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// A connection's SASL exchange as the filter follows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exchange {
    pub mechanism: Option<Mechanism>,
    /// The user the exchange in progress names.
    pub user: Option<String>,
    /// Client messages sent in the exchange in progress.
    pub round: u32,
}

impl Exchange {
    /// A `SaslHandshake` starts an exchange (also a re-authentication, KIP-368).
    pub fn handshake(&mut self, mechanism: &str) {
        *self = Exchange {
            mechanism: Some(Mechanism::from_name(mechanism)),
            user: None,
            round: 0,
        };
    }

    /// A `SaslAuthenticate` request with the client's message.
    pub fn message(&mut self, bytes: &[u8]) {
        let mechanism = self.mechanism.unwrap_or(Mechanism::Other);
        if self.round == 0 {
            self.user = user(mechanism, bytes);
        }
        self.round += 1;
    }

    /// The broker's answer to the last message: the user, when this completes a successful
    /// exchange.
    pub fn answer(&mut self, error_code: i16) -> Option<String> {
        let mechanism = self.mechanism?;
        if error_code != 0 {
            *self = Exchange {
                mechanism: Some(mechanism),
                ..Exchange::default()
            };
            return None;
        }
        (self.round >= mechanism.rounds())
            .then(|| self.user.take())
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_the_authcid() {
        assert_eq!(
            user(Mechanism::Plain, b"\0alice\0secret").as_deref(),
            Some("alice")
        );
        assert_eq!(
            user(Mechanism::Plain, b"alice\0alice\0secret").as_deref(),
            Some("alice")
        );
        assert_eq!(
            user(Mechanism::Plain, b"mallory\0alice\0secret"),
            None,
            "authzid must match"
        );
        assert_eq!(user(Mechanism::Plain, b"\0alice"), None);
        assert_eq!(user(Mechanism::Plain, b"\0\0pw"), None);
    }

    #[test]
    fn scram_client_first_names_the_user() {
        assert_eq!(
            user(Mechanism::ScramSha256, b"n,,n=bob,r=abc").as_deref(),
            Some("bob")
        );
        assert_eq!(
            user(Mechanism::ScramSha512, b"n,,n=a=2Cb=3Dc,r=x").as_deref(),
            Some("a,b=c")
        );
        assert_eq!(
            user(Mechanism::ScramSha256, b"p=tls,,n=bob,r=x"),
            None,
            "channel binding is not Kafka's"
        );
        assert_eq!(
            user(Mechanism::ScramSha256, b"c=biws,r=x,p=proof"),
            None,
            "a final message names nobody"
        );
    }

    #[test]
    fn oauthbearer_names_the_sub_claim() {
        // {"alg":"none"} . {"sub":"carol","exp":1}
        let msg =
            b"n,,\x01auth=Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJjYXJvbCIsImV4cCI6MX0.\x01\x01";
        assert_eq!(user(Mechanism::OAuthBearer, msg).as_deref(), Some("carol"));
        assert_eq!(
            user(
                Mechanism::OAuthBearer,
                b"n,,\x01auth=Bearer not-a-jwt\x01\x01"
            ),
            None
        );
        assert_eq!(user(Mechanism::Other, b"anything"), None);
    }

    #[test]
    fn the_user_counts_only_after_the_broker_says_yes() {
        let mut x = Exchange::default();
        x.handshake("SCRAM-SHA-512");
        x.message(b"n,,n=bob,r=1");
        assert_eq!(
            x.answer(0),
            None,
            "the server-first message is not success yet"
        );
        x.message(b"c=biws,r=1,p=x");
        assert_eq!(x.answer(0).as_deref(), Some("bob"));

        x.handshake("PLAIN");
        x.message(b"\0eve\0wrong");
        assert_eq!(x.answer(58), None, "SASL_AUTHENTICATION_FAILED");
        // Re-authentication (KIP-368) as someone else.
        x.handshake("PLAIN");
        x.message(b"\0alice\0pw");
        assert_eq!(x.answer(0).as_deref(), Some("alice"));
    }

    #[test]
    fn parsing_is_total() {
        for m in [
            Mechanism::Plain,
            Mechanism::ScramSha256,
            Mechanism::OAuthBearer,
        ] {
            for input in [
                &b""[..],
                b"\xff\xfe",
                b"n,,",
                b"\x01\x01",
                b"n,,\x01auth=Bearer a.\xff.c\x01",
            ] {
                let _ = user(m, input);
            }
        }
    }
}
