//! Who is asking: the [`Principal`] of a connection (the mTLS peer's SPIFFE ID, the namespace and
//! service account read from it, the SASL user) and a total SPIFFE ID parser.

/// The longest SPIFFE ID the SPIFFE spec allows, in bytes.
pub const MAX_SPIFFE_ID_LEN: usize = 2048;

/// The caller of a request. Anonymous when it has neither a SPIFFE ID nor a SASL user.
/// Serializes (camelCase, absent fields omitted) for JSON decision logs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Principal {
    /// The peer's SPIFFE ID (`spiffe://cluster.local/ns/orders/sa/writer`), only if valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spiffe_id: Option<String>,
    /// The namespace, when the SPIFFE ID has Istio's form `spiffe://<td>/ns/<ns>/sa/<sa>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The service account, when the SPIFFE ID has Istio's form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    /// The SASL user name without Kafka's `User:` prefix (`alice`), once the broker accepted it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sasl_user: Option<String>,
}

impl Principal {
    /// The anonymous principal (Kafka's `User:ANONYMOUS`).
    pub fn anonymous() -> Principal {
        Principal::default()
    }

    /// Builds a principal from what the filter knows: the peer certificate's URI SAN (Envoy's
    /// `connection.uri_san_peer_certificate`, `None` or empty without mTLS) and the SASL user.
    /// A URI that is not a valid SPIFFE ID is ignored (the caller should log it); an empty SASL
    /// user is ignored. Never panics.
    pub fn new(peer_uri: Option<&str>, sasl_user: Option<&str>) -> Principal {
        let mut principal = Principal::anonymous();
        if let Some(id) = peer_uri.and_then(|uri| parse_spiffe_id(uri).ok()) {
            if let Some((ns, sa)) = id.istio_workload() {
                principal.namespace = Some(ns.to_owned());
                principal.service_account = Some(sa.to_owned());
            }
            principal.spiffe_id = Some(id.as_str().to_owned());
        }
        principal.sasl_user = sasl_user.filter(|u| !u.is_empty()).map(str::to_owned);
        principal
    }

    /// A principal with only a SPIFFE ID (an mTLS peer without SASL).
    pub fn from_spiffe_id(uri: &str) -> Principal {
        Principal::new(Some(uri), None)
    }

    /// A principal with only a SASL user (bare name, e.g. `alice`).
    pub fn from_sasl_user(user: &str) -> Principal {
        Principal::new(None, Some(user))
    }

    /// The same principal with the SASL user set (after a successful SaslAuthenticate).
    #[must_use]
    pub fn with_sasl_user(mut self, user: &str) -> Principal {
        self.sasl_user = Some(user).filter(|u| !u.is_empty()).map(str::to_owned);
        self
    }

    /// True when the principal has neither a SPIFFE ID nor a SASL user.
    pub fn is_anonymous(&self) -> bool {
        self.spiffe_id.is_none() && self.sasl_user.is_none()
    }
}

impl std::fmt::Display for Principal {
    /// `spiffe://…`, `User:alice`, both joined by ` + `, or `User:ANONYMOUS`: for logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.spiffe_id, &self.sasl_user) {
            (Some(id), Some(user)) => write!(f, "{id} + User:{user}"),
            (Some(id), None) => f.write_str(id),
            (None, Some(user)) => write!(f, "User:{user}"),
            (None, None) => f.write_str("User:ANONYMOUS"),
        }
    }
}

/// Why a string is not a principal (see [`Principal`]'s `FromStr`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PrincipalParseError {
    /// A `spiffe://` part that is not a valid SPIFFE ID.
    #[error("{value:?} is not a SPIFFE ID: {reason}")]
    Spiffe {
        /// The part.
        value: String,
        /// What is wrong with it.
        #[source]
        reason: SpiffeError,
    },
    /// Anything else.
    #[error("{value:?} is not a principal — write spiffe://<trust-domain>/ns/<ns>/sa/<sa>, User:<name>, both joined by \" + \", or User:ANONYMOUS")]
    Unknown {
        /// The input.
        value: String,
    },
}

impl std::str::FromStr for Principal {
    type Err = PrincipalParseError;

    /// Parses what `Display` prints (for command lines and tests): `spiffe://…`, `User:alice`,
    /// `spiffe://… + User:alice`, or `User:ANONYMOUS` (also `anonymous`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s == "User:ANONYMOUS" || s.eq_ignore_ascii_case("anonymous") {
            return Ok(Principal::anonymous());
        }
        let unknown = || PrincipalParseError::Unknown {
            value: s.to_owned(),
        };
        let mut principal = Principal::anonymous();
        for part in s.split(" + ").map(str::trim) {
            if part.starts_with("spiffe://") {
                let id = parse_spiffe_id(part).map_err(|reason| PrincipalParseError::Spiffe {
                    value: part.to_owned(),
                    reason,
                })?;
                if principal.spiffe_id.is_some() {
                    return Err(unknown());
                }
                principal = Principal::new(Some(id.as_str()), principal.sasl_user.as_deref());
            } else if let Some(user) = part.strip_prefix("User:").filter(|u| !u.is_empty()) {
                if principal.sasl_user.is_some() {
                    return Err(unknown());
                }
                principal = principal.with_sasl_user(user);
            } else {
                return Err(unknown());
            }
        }
        Ok(principal)
    }
}

/// A syntactically valid SPIFFE ID, borrowed from the parsed string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpiffeId<'a> {
    raw: &'a str,
    trust_domain: &'a str,
    path: &'a str,
}

impl<'a> SpiffeId<'a> {
    /// The whole ID.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The trust domain (`cluster.local`).
    pub fn trust_domain(&self) -> &'a str {
        self.trust_domain
    }

    /// The path, empty or starting with `/` (`/ns/orders/sa/writer`).
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// `(namespace, service account)` when the path is exactly Istio's `/ns/<ns>/sa/<sa>`.
    pub fn istio_workload(&self) -> Option<(&'a str, &'a str)> {
        let rest = self.path.strip_prefix("/ns/")?;
        let (ns, rest) = rest.split_once('/')?;
        let sa = rest.strip_prefix("sa/")?;
        if ns.is_empty() || sa.is_empty() || sa.contains('/') {
            return None;
        }
        Some((ns, sa))
    }
}

/// Why a string is not a SPIFFE ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpiffeError {
    /// Wrong or missing scheme.
    #[error("it does not start with spiffe://")]
    Scheme,
    /// Longer than the spec allows.
    #[error("it is longer than 2048 bytes")]
    TooLong,
    /// Empty trust domain.
    #[error("the trust domain is empty")]
    EmptyTrustDomain,
    /// A character outside `[a-z0-9._-]` in the trust domain.
    #[error("the trust domain may only contain lowercase letters, digits, '.', '_' and '-'")]
    TrustDomainChar,
    /// An empty path segment (`//` or a trailing `/`).
    #[error("a path segment is empty (a double or trailing '/')")]
    EmptySegment,
    /// A `.` or `..` path segment.
    #[error("a path segment is '.' or '..'")]
    DotSegment,
    /// A character outside `[A-Za-z0-9._-]` in the path.
    #[error("the path may only contain letters, digits, '.', '_', '-' and '/'")]
    PathChar,
}

/// Parses a SPIFFE ID per the SPIFFE spec (`spiffe://<trust-domain>[/<path>]`, no query,
/// fragment, port or user info). Total: returns an error for any input, never panics.
pub fn parse_spiffe_id(s: &str) -> Result<SpiffeId<'_>, SpiffeError> {
    if s.len() > MAX_SPIFFE_ID_LEN {
        return Err(SpiffeError::TooLong);
    }
    let rest = s.strip_prefix("spiffe://").ok_or(SpiffeError::Scheme)?;
    let (trust_domain, path) = match rest.find('/') {
        Some(i) => (rest.get(..i).unwrap_or(""), rest.get(i..).unwrap_or("")),
        None => (rest, ""),
    };
    if trust_domain.is_empty() {
        return Err(SpiffeError::EmptyTrustDomain);
    }
    if !trust_domain
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_'))
    {
        return Err(SpiffeError::TrustDomainChar);
    }
    if let Some(segments) = path.strip_prefix('/') {
        for segment in segments.split('/') {
            if segment.is_empty() {
                return Err(SpiffeError::EmptySegment);
            }
            if segment == "." || segment == ".." {
                return Err(SpiffeError::DotSegment);
            }
            if !segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
            {
                return Err(SpiffeError::PathChar);
            }
        }
    }
    Ok(SpiffeId {
        raw: s,
        trust_domain,
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_istio_ids() {
        let id = parse_spiffe_id("spiffe://cluster.local/ns/orders/sa/writer").unwrap();
        assert_eq!(id.trust_domain(), "cluster.local");
        assert_eq!(id.path(), "/ns/orders/sa/writer");
        assert_eq!(id.istio_workload(), Some(("orders", "writer")));
    }

    #[test]
    fn non_istio_paths_have_no_workload() {
        for s in [
            "spiffe://td",
            "spiffe://td/ns/orders",
            "spiffe://td/ns/orders/sa",
            "spiffe://td/ns/orders/sa/writer/extra",
            "spiffe://td/ns/orders/xx/writer",
            "spiffe://td/workload/x",
            "spiffe://td/x/ns/a/sa/b",
        ] {
            let id = parse_spiffe_id(s).unwrap();
            assert_eq!(id.istio_workload(), None, "{s}");
        }
    }

    #[test]
    fn rejects_invalid_ids() {
        let cases = [
            ("", SpiffeError::Scheme),
            ("https://td/ns/a/sa/b", SpiffeError::Scheme),
            ("SPIFFE://td/x", SpiffeError::Scheme),
            ("spiffe://", SpiffeError::EmptyTrustDomain),
            ("spiffe:///ns/a", SpiffeError::EmptyTrustDomain),
            ("spiffe://Cluster.local/a", SpiffeError::TrustDomainChar),
            ("spiffe://td:443/a", SpiffeError::TrustDomainChar),
            ("spiffe://user@td/a", SpiffeError::TrustDomainChar),
            ("spiffe://td/", SpiffeError::EmptySegment),
            ("spiffe://td//a", SpiffeError::EmptySegment),
            ("spiffe://td/a/", SpiffeError::EmptySegment),
            ("spiffe://td/a/../b", SpiffeError::DotSegment),
            ("spiffe://td/./b", SpiffeError::DotSegment),
            ("spiffe://td/a?b=c", SpiffeError::PathChar),
            ("spiffe://td/a#f", SpiffeError::PathChar),
            ("spiffe://td/ns/ä/sa/b", SpiffeError::PathChar),
        ];
        for (s, want) in cases {
            assert_eq!(parse_spiffe_id(s), Err(want), "{s}");
        }
        let long = format!("spiffe://td/{}", "a".repeat(MAX_SPIFFE_ID_LEN));
        assert_eq!(parse_spiffe_id(&long), Err(SpiffeError::TooLong));
    }

    #[test]
    fn principal_from_parts() {
        let p = Principal::new(Some("spiffe://cluster.local/ns/orders/sa/writer"), None);
        assert_eq!(
            p.spiffe_id.as_deref(),
            Some("spiffe://cluster.local/ns/orders/sa/writer")
        );
        assert_eq!(p.namespace.as_deref(), Some("orders"));
        assert_eq!(p.service_account.as_deref(), Some("writer"));
        assert_eq!(p.sasl_user, None);
        assert!(!p.is_anonymous());
        assert_eq!(p.to_string(), "spiffe://cluster.local/ns/orders/sa/writer");

        let p = p.with_sasl_user("alice");
        assert_eq!(p.sasl_user.as_deref(), Some("alice"));
        assert_eq!(
            p.to_string(),
            "spiffe://cluster.local/ns/orders/sa/writer + User:alice"
        );

        let p = Principal::new(Some("spiffe://td/custom"), Some("bob"));
        assert_eq!(p.namespace, None);
        assert_eq!(p.service_account, None);
        assert_eq!(p.to_string(), "spiffe://td/custom + User:bob");

        let p = Principal::new(Some("not a uri"), Some(""));
        assert!(p.is_anonymous());
        assert_eq!(p, Principal::anonymous());
        assert_eq!(p.to_string(), "User:ANONYMOUS");
        assert!(Principal::new(Some(""), None).is_anonymous());
        assert_eq!(Principal::from_sasl_user("carol").to_string(), "User:carol");
    }

    #[test]
    fn principals_serialize_for_logs() {
        let p = Principal::from_spiffe_id("spiffe://td/ns/a/sa/b").with_sasl_user("u");
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"spiffeId":"spiffe://td/ns/a/sa/b","namespace":"a","serviceAccount":"b","saslUser":"u"}"#
        );
        assert_eq!(
            serde_json::to_string(&Principal::anonymous()).unwrap(),
            "{}"
        );
    }

    #[test]
    fn principals_parse_from_their_display() {
        for s in [
            "spiffe://cluster.local/ns/orders/sa/writer",
            "User:alice",
            "spiffe://td/custom + User:bob",
            "User:ANONYMOUS",
        ] {
            let p: Principal = s.parse().unwrap();
            assert_eq!(p.to_string(), s);
        }
        let p: Principal = "spiffe://td/ns/a/sa/b + User:x".parse().unwrap();
        assert_eq!(p.namespace.as_deref(), Some("a"));
        assert_eq!(p.sasl_user.as_deref(), Some("x"));
        assert!("anonymous".parse::<Principal>().unwrap().is_anonymous());
        assert_eq!(
            "spiffe://td//x".parse::<Principal>(),
            Err(PrincipalParseError::Spiffe {
                value: "spiffe://td//x".into(),
                reason: SpiffeError::EmptySegment
            })
        );
        for bad in [
            "alice",
            "User:",
            "",
            "User:a + User:b",
            "spiffe://a/b + spiffe://a/c",
        ] {
            assert!(bad.parse::<Principal>().is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn parser_is_total(s in ".{0,300}") {
            let _ = parse_spiffe_id(&s);
            let _ = Principal::new(Some(&s), Some(&s));
            let _ = s.parse::<Principal>();
        }

        #[test]
        fn parser_is_total_on_spiffe_like_input(s in "spiffe://[a-z./_:@-]{0,20}(/[a-zA-Z0-9./_-]{0,12}){0,6}") {
            if let Ok(id) = parse_spiffe_id(&s) {
                prop_assert_eq!(id.as_str(), s.as_str());
                prop_assert!(!id.trust_domain().is_empty());
                let _ = id.istio_workload();
            }
        }

        #[test]
        fn istio_ids_round_trip(td in "[a-z0-9.-]{1,20}", ns in "[a-z0-9-]{1,20}", sa in "[a-z0-9.-]{1,20}") {
            prop_assume!(sa != "." && sa != ".." && ns != "." && ns != ".." );
            let s = format!("spiffe://{td}/ns/{ns}/sa/{sa}");
            let p = Principal::from_spiffe_id(&s);
            prop_assert_eq!(p.spiffe_id.as_deref(), Some(s.as_str()));
            prop_assert_eq!(p.namespace.as_deref(), Some(ns.as_str()));
            prop_assert_eq!(p.service_account.as_deref(), Some(sa.as_str()));
        }
    }
}
