//! Rewriting the names in every topic-, group- and transactional-id-bearing request and response.
