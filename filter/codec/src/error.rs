//! Why the codec refused a stream. Every variant is fatal for the connection (fail closed).

/// A decoding failure on a connection; the filter logs it, counts it and closes the connection
/// (or stops inspecting it when configured to fail open).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(
        "frame length {0} is negative: the peer does not speak Kafka or the stream is corrupt"
    )]
    NegativeLength(i32),
    #[error("frame of {len} bytes exceeds maxFrameBytes ({max}); raise maxFrameBytes if the peer legitimately sends frames this large")]
    FrameTooLarge { len: usize, max: usize },
    #[error("frame of {len} bytes is too short to hold a {what}")]
    Truncated { what: &'static str, len: usize },
    #[error("the first {max} bytes of a frame do not hold a complete request header; raise maxHeaderBytes if clients use very long client ids")]
    HeaderTooLarge { max: usize },
    #[error("unknown api key {0}: not a Kafka request this filter can decode")]
    UnknownApiKey(i16),
    #[error("{api} version {version} is outside the versions this filter decodes ({min}..={max})")]
    UnsupportedVersion {
        api: &'static str,
        version: i16,
        min: i16,
        max: i16,
    },
    #[error("malformed {what}")]
    Malformed { what: &'static str },
    #[error("more than maxInFlight ({max}) requests are waiting for responses; raise maxInFlight for clients that pipeline this deeply")]
    TooManyInFlight { max: usize },
    #[error("denials waiting for their turn would hold more than maxHoldBytes ({max}) bytes on this connection; a client is pipelining many large denied requests")]
    DenialsTooLarge { max: usize },
    #[error("response with correlation id {got} does not answer the oldest request in flight ({expected:?}): responses must come back in request order")]
    UnexpectedResponse { got: i32, expected: Option<i32> },
    #[error("the stream ended inside a frame")]
    EndInsideFrame,
    #[error("the host could not read {len} bytes at offset {start} of its buffer")]
    HostRead { start: usize, len: usize },
    #[error("a frame of {len} bytes must be read whole to be decided but exceeds maxHoldBytes ({max}); raise maxHoldBytes")]
    FrameTooLargeToHold { len: usize, max: usize },
    #[error("a decision could not be applied: {0}")]
    Denied(String),
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl Error {
    /// A short, stable name for metrics labels and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NegativeLength(_) => "negative_length",
            Error::FrameTooLarge { .. } => "frame_too_large",
            Error::Truncated { .. } => "truncated",
            Error::HeaderTooLarge { .. } => "header_too_large",
            Error::UnknownApiKey(_) => "unknown_api_key",
            Error::UnsupportedVersion { .. } => "unsupported_version",
            Error::Malformed { .. } => "malformed",
            Error::TooManyInFlight { .. } => "too_many_in_flight",
            Error::DenialsTooLarge { .. } => "denials_too_large",
            Error::UnexpectedResponse { .. } => "unexpected_response",
            Error::EndInsideFrame => "end_inside_frame",
            Error::HostRead { .. } => "host_read",
            Error::FrameTooLargeToHold { .. } => "frame_too_large_to_hold",
            Error::Denied(_) => "undecidable",
            Error::Internal(_) => "internal",
        }
    }
}
