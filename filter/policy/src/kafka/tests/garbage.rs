//! Garbled input gives an error, never a panic.

use super::*;

fn any_api() -> impl Strategy<Value = (ApiKey, i16)> {
    let apis: Vec<(ApiKey, i16)> = ApiKey::iter()
        .flat_map(|k| versions(k).map(move |v| (k, v)))
        .collect();
    proptest::sample::select(apis)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn request_checks_and_deny_response_never_panic(
        (key, v) in any_api(),
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let _ = request_checks(key as i16, v, &body);
        let _ = deny_response(key as i16, v, 1, &body);
    }

    #[test]
    fn response_rewrites_never_panic(
        v in 0i16..16,
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let _ = filter_metadata_response(v, &body, &mut |_| true);
        let _ = clamp_api_versions(v, &body);
    }

    #[test]
    fn any_api_key_and_version_is_an_error_or_checks(
        key in any::<i16>(),
        v in any::<i16>(),
        body in proptest::collection::vec(any::<u8>(), 0..16),
    ) {
        let _ = request_checks(key, v, &body);
        let _ = deny_response(key, v, 1, &body);
    }
}

/// Truncating a valid request anywhere is an error, never a panic or a partial answer.
#[test]
fn every_prefix_of_a_valid_request_is_an_error() {
    let v = 12;
    let r = FetchRequest::default().with_topics(vec![fetch_request::FetchTopic::default()
        .with_topic(tn("orders.created"))
        .with_partitions(vec![fetch_request::FetchPartition::default()])]);
    let body = enc(&r, v);
    for n in 0..body.len() {
        assert!(request_checks(1, v, &body[..n]).is_err(), "prefix {n}");
        assert!(deny_response(1, v, 1, &body[..n]).is_err(), "prefix {n}");
    }
    assert!(request_checks(1, v, &body).is_ok());
}
