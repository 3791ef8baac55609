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
        if key == ApiKey::Fetch {
            let _ = disable_fetch_session(v, &body);
        }
        if key == ApiKey::Metadata {
            let _ = disable_auto_create(v, &body);
        }
    }

    #[test]
    fn response_rewrites_never_panic(
        v in 0i16..16,
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let _ = filter_metadata_response(v, &body, &mut |_| true);
        let _ = metadata_topic_ids(v, &body);
        for key in [3i16, 9, 16, 66, 75] {
            let range = versions(ApiKey::try_from(key).unwrap());
            let lv = range.start() + v % (range.end() - range.start() + 1);
            let _ = filter_listing_response(key, lv, &body, &mut |_, _| false);
        }
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

/// kafka-protocol 0.18 allocates `count * size_of::<T>()` up front for every array; these bodies
/// would abort the process (kafka-protocol-rs#152) without the guard.
#[test]
fn huge_array_counts_are_errors_not_aborts() {
    // Metadata v0: topics array of 0x033c0c00 elements, then 3 bytes.
    let e = request_checks(3, 0, &[0x03, 0x3c, 0x0c, 0x00, 0xb6, 0x00, 0x01]).unwrap_err();
    assert!(e.to_string().contains("claims 54266880 elements"), "{e}");
    // Metadata v12: a compact array claiming 2^32 - 2 elements.
    let e = request_checks(
        3,
        12,
        &[0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x00, 0x00, 0x00],
    )
    .unwrap_err();
    assert!(e.to_string().contains("elements but only"), "{e}");
    // Produce v3: a partition array nested in a topic claims i32::MAX elements.
    let mut body = vec![
        0xff, 0xff, 0x00, 0x01, 0x00, 0x00, 0x75, 0x30, 0x00, 0x00, 0x00, 0x01,
    ];
    body.extend([0x00, 0x01, b'a', 0x7f, 0xff, 0xff, 0xff]);
    assert!(deny_response(0, 3, 1, &body).is_err());
    // Responses too.
    assert!(filter_metadata_response(
        12,
        &[0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0f],
        &mut |_| true
    )
    .is_err());
    assert!(clamp_api_versions(0, &[0x00, 0x00, 0x7f, 0xff, 0xff, 0xff]).is_err());
}

/// Valid requests of every covered shape, with a few bytes overwritten anywhere (array counts
/// included): an answer or an error, never a panic or an abort.
fn valid_bodies() -> Vec<(ApiKey, i16, Vec<u8>)> {
    let mut out = vec![];
    for v in versions(ApiKey::Produce) {
        let t = produce_request::TopicProduceData::default()
            .with_name(if v < 13 {
                tn("orders")
            } else {
                TopicName::default()
            })
            .with_partition_data(vec![produce_request::PartitionProduceData::default()
                .with_records(Some(Bytes::from_static(b"batch")))]);
        out.push((
            ApiKey::Produce,
            v,
            enc(&ProduceRequest::default().with_topic_data(vec![t]), v),
        ));
    }
    for v in versions(ApiKey::Fetch) {
        let t = fetch_request::FetchTopic::default()
            .with_topic(if v < 13 {
                tn("orders")
            } else {
                TopicName::default()
            })
            .with_partitions(vec![fetch_request::FetchPartition::default()]);
        out.push((
            ApiKey::Fetch,
            v,
            enc(&FetchRequest::default().with_topics(vec![t]), v),
        ));
    }
    for v in versions(ApiKey::Metadata) {
        let r = MetadataRequest::default()
            .with_topics(Some(vec![metadata_request::MetadataRequestTopic::default(
            )
            .with_name(Some(tn("orders")))]))
            .with_allow_auto_topic_creation(v < 4);
        out.push((ApiKey::Metadata, v, enc(&r, v)));
    }
    for v in versions(ApiKey::OffsetCommit) {
        let r = OffsetCommitRequest::default()
            .with_group_id(gid("g"))
            .with_topics(vec![
                offset_commit_request::OffsetCommitRequestTopic::default()
                    .with_name(tn("orders"))
                    .with_partitions(vec![
                        offset_commit_request::OffsetCommitRequestPartition::default(),
                    ]),
            ]);
        out.push((ApiKey::OffsetCommit, v, enc(&r, v)));
    }
    for v in versions(ApiKey::CreateTopics) {
        let r = CreateTopicsRequest::default().with_topics(vec![
            create_topics_request::CreatableTopic::default()
                .with_name(tn("orders"))
                .with_configs(vec![
                    create_topics_request::CreatableTopicConfig::default().with_name(sb("x"))
                ]),
        ]);
        out.push((ApiKey::CreateTopics, v, enc(&r, v)));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn overwritten_requests_never_panic(
        which in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        patch in proptest::collection::vec(prop_oneof![Just(0xffu8), Just(0x7f), Just(0x80), Just(0), any::<u8>()], 1..6),
    ) {
        let bodies = valid_bodies();
        let (key, v, mut body) = bodies[which.index(bodies.len())].clone();
        let start = at.index(body.len());
        for (i, b) in patch.into_iter().enumerate() {
            if let Some(slot) = body.get_mut(start + i) {
                *slot = b;
            }
        }
        let _ = request_checks(key as i16, v, &body);
        let _ = deny_response(key as i16, v, 1, &body);
        let _ = split_request(key as i16, v, &body, &mut |c| matches!(&c.name, Resource::Name(n) if n == "orders"));
    }

    #[test]
    fn merging_into_garbled_responses_never_panics(
        (key, v) in prop::sample::select(vec![
            (0i16, 3i16), (0, 9), (0, 13), (1, 4), (1, 12), (1, 16), (3, 1), (3, 9), (3, 12), (2, 7),
            (8, 8), (19, 5), (20, 6), (21, 2), (15, 5), (42, 2),
        ]),
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        // A real denied part for the api (no resources), merged into random bytes.
        let k = ApiKey::try_from(key).unwrap();
        let request = match k {
            ApiKey::Produce => enc(&ProduceRequest::default(), v),
            ApiKey::Fetch => enc(&FetchRequest::default(), v),
            ApiKey::Metadata => enc(&MetadataRequest::default().with_allow_auto_topic_creation(v < 4), v),
            ApiKey::ListOffsets => enc(&ListOffsetsRequest::default(), v),
            ApiKey::OffsetCommit => enc(&OffsetCommitRequest::default(), v),
            ApiKey::CreateTopics => enc(&CreateTopicsRequest::default(), v),
            ApiKey::DeleteTopics => enc(&DeleteTopicsRequest::default(), v),
            ApiKey::DeleteRecords => enc(&DeleteRecordsRequest::default(), v),
            ApiKey::DescribeGroups => enc(&DescribeGroupsRequest::default(), v),
            _ => enc(&DeleteGroupsRequest::default(), v),
        };
        let response = crate::kafka::deny::deny_body_for(k, v, &request, ResourceType::Topic).unwrap();
        let denied = Denied { key: k, version: v, response: Bytes::from(response) };
        let _ = merge_response(&denied, &body);
    }

    #[test]
    fn overwritten_responses_never_panic(
        v in 0i16..=13,
        at in any::<prop::sample::Index>(),
        patch in proptest::collection::vec(prop_oneof![Just(0xffu8), Just(0x7f), Just(0x80), any::<u8>()], 1..6),
    ) {
        let r = MetadataResponse::default().with_brokers(vec![metadata_response::MetadataResponseBroker::default().with_host(sb("b"))])
            .with_topics(vec![metadata_response::MetadataResponseTopic::default().with_name(Some(tn("orders")))
                .with_partitions(vec![metadata_response::MetadataResponsePartition::default().with_replica_nodes(vec![BrokerId(1)])])]);
        let mut body = enc(&r, v);
        let start = at.index(body.len());
        for (i, b) in patch.iter().enumerate() {
            if let Some(slot) = body.get_mut(start + i) {
                *slot = *b;
            }
        }
        let _ = filter_metadata_response(v, &body, &mut |_| true);
        let av = v.min(4);
        let mut body = enc(&ApiVersionsResponse::default().with_api_keys(vec![api_versions_response::ApiVersion::default()]), av);
        let start = at.index(body.len());
        for (i, b) in patch.iter().enumerate() {
            if let Some(slot) = body.get_mut(start + i) {
                *slot = *b;
            }
        }
        let _ = clamp_api_versions(av, &body);
    }
}

/// guard/schema.rs is what generate_guard.py makes of kafka-protocol's sources (when both python3 and
/// the crate's sources are on this machine; otherwise the test says so and passes).
#[test]
fn guard_schema_is_regenerated_unchanged() {
    let home = std::env::var("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|_| std::env::var("HOME").map(|h| std::path::Path::new(&h).join(".cargo")));
    let Ok(home) = home else {
        eprintln!("no CARGO_HOME or HOME: not regenerating guard/schema.rs");
        return;
    };
    let Ok(registries) = std::fs::read_dir(home.join("registry/src")) else {
        eprintln!("no cargo registry sources: not regenerating guard/schema.rs");
        return;
    };
    let Some(messages) = registries
        .flatten()
        .map(|r| r.path().join("kafka-protocol-0.18.0/src/messages"))
        .find(|p| p.is_dir())
    else {
        eprintln!("kafka-protocol 0.18.0 sources not found: not regenerating guard/schema.rs");
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/src/kafka/generate_guard.py");
    let Ok(out) = std::process::Command::new("python3")
        .arg(script)
        .arg(&messages)
        .output()
    else {
        eprintln!("no python3: not regenerating guard/schema.rs");
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let committed = include_str!("../guard/schema.rs");
    assert!(
        String::from_utf8_lossy(&out.stdout) == committed,
        "guard/schema.rs differs from generate_guard.py's output: regenerate it (see its header)"
    );
}

/// The guard walks exactly as kafka-protocol decodes: for mutated requests of every api and
/// version, whenever kafka-protocol would decode a body, the guard lets it through (no request
/// the broker accepts is refused by the guard). Bodies the guard refuses for an array count are
/// not handed to kafka-protocol (that is what would abort).
#[test]
fn the_guard_never_refuses_what_kafka_protocol_decodes() {
    struct Diff {
        rng: u64,
        compared: usize,
    }
    impl Diff {
        fn next(&mut self) -> u64 {
            // xorshift64*
            self.rng ^= self.rng >> 12;
            self.rng ^= self.rng << 25;
            self.rng ^= self.rng >> 27;
            self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }
    impl Visit for Diff {
        fn visit<R: Request + Default>(&mut self) {
            let key = ApiKey::try_from(R::KEY).unwrap();
            for v in versions(key) {
                let base = enc(&R::default(), v);
                for _ in 0..300 {
                    let mut body = base.clone();
                    // Overwrite up to 4 bytes, sometimes append some.
                    for _ in 0..(1 + self.next() % 4) {
                        if body.is_empty() {
                            break;
                        }
                        let at = (self.next() as usize) % body.len();
                        let edge = [0u8, 1, 2, 0x7f, 0x80, 0xff];
                        body[at] = if self.next() & 1 == 0 {
                            edge[(self.next() % 6) as usize]
                        } else {
                            self.next() as u8
                        };
                    }
                    for _ in 0..(self.next() % 3) {
                        body.push(self.next() as u8);
                    }
                    let bytes = Bytes::from(body);
                    let guard = crate::kafka::guard_request(key, v, &bytes);
                    let Err(e) = guard else { continue };
                    if e.to_string().contains("claims") {
                        continue;
                    }
                    self.compared += 1;
                    let decoded = R::decode(&mut bytes.clone(), v);
                    assert!(
                        decoded.is_err(),
                        "{key:?} v{v}: the guard refused ({e}) what kafka-protocol decodes: {:02x?}",
                        &bytes[..]
                    );
                }
            }
        }
    }
    let mut d = Diff {
        rng: 0x9e37_79b9_7f4a_7c15,
        compared: 0,
    };
    all_apis(&mut d);
    eprintln!("{} guard refusals compared with kafka-protocol", d.compared);
    assert!(d.compared > 1000);
}
