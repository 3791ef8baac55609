//! String patterns for subjects: exact, trailing `*` (prefix), or `*` alone (any value).

/// A parsed subject pattern.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Pattern {
    /// `*`: any value.
    Any,
    /// No `*`: equal to this value.
    Exact(Box<str>),
    /// A trailing `*`: starts with this prefix (never empty).
    Prefix(Box<str>),
}

/// Why a string is not a pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternError {
    /// The empty string.
    Empty,
    /// A `*` anywhere but at the end.
    WildcardNotAtEnd,
}

impl Pattern {
    /// Parses `*`, `prefix*` or `exact`. Total.
    pub fn parse(s: &str) -> Result<Pattern, PatternError> {
        if s.is_empty() {
            return Err(PatternError::Empty);
        }
        if s == "*" {
            return Ok(Pattern::Any);
        }
        match s.strip_suffix('*') {
            Some(prefix) if prefix.contains('*') => Err(PatternError::WildcardNotAtEnd),
            Some(prefix) => Ok(Pattern::Prefix(prefix.into())),
            None if s.contains('*') => Err(PatternError::WildcardNotAtEnd),
            None => Ok(Pattern::Exact(s.into())),
        }
    }

    /// Whether `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Exact(e) => **e == *value,
            Pattern::Prefix(p) => value.starts_with(&**p),
        }
    }

    /// The fixed part: the exact value or the prefix (`""` for `Any`).
    pub fn fixed(&self) -> &str {
        match self {
            Pattern::Any => "",
            Pattern::Exact(s) | Pattern::Prefix(s) => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches() {
        assert_eq!(Pattern::parse("*"), Ok(Pattern::Any));
        assert_eq!(Pattern::parse("a*"), Ok(Pattern::Prefix("a".into())));
        assert_eq!(Pattern::parse("a"), Ok(Pattern::Exact("a".into())));
        assert_eq!(Pattern::parse(""), Err(PatternError::Empty));
        assert_eq!(Pattern::parse("a*b"), Err(PatternError::WildcardNotAtEnd));
        assert_eq!(Pattern::parse("**"), Err(PatternError::WildcardNotAtEnd));
        assert_eq!(Pattern::parse("*a"), Err(PatternError::WildcardNotAtEnd));
        assert!(Pattern::Any.matches(""));
        assert!(Pattern::parse("ab*").unwrap().matches("ab"));
        assert!(Pattern::parse("ab*").unwrap().matches("abc"));
        assert!(!Pattern::parse("ab*").unwrap().matches("a"));
        assert!(Pattern::parse("ab").unwrap().matches("ab"));
        assert!(!Pattern::parse("ab").unwrap().matches("abc"));
    }
}
