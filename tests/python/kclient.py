"""Real Kafka clients for meshka's test bed and demo.

Subcommands print one JSON summary line last; the Rust tests assert on it.
  create     create a topic (confluent-kafka AdminClient)
  roundtrip  produce records, consume them back with a consumer group, compare byte for byte
  load       produce at maximum rate (or at --rate) for a while with librdkafka's pipelining
  produce-keys  produce keyed records whose values can be recomputed from their keys; report the acked ones
  verify     read a topic whole without a group; count duplicates and altered values per key
"""
import argparse
import hashlib
import json
import random
import sys
import time

# tansu completes a group join only after about half the session timeout: a short one keeps
# consumer-group tests fast (librdkafka's default of 45 s makes every join take ~20 s).
SESSION_TIMEOUT_MS = 6000


def payload(seed, i, size):
    rnd = random.Random(f"{seed}-{i}")
    return rnd.randbytes(size)


def digest(b):
    return hashlib.sha256(b).hexdigest()


def create(args):
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    futures = admin.create_topics([NewTopic(args.topic, num_partitions=args.partitions, replication_factor=1)])
    result = {}
    for topic, f in futures.items():
        try:
            f.result(timeout=30)
            result[topic] = "created"
        except Exception as e:  # an existing topic is fine
            code = getattr(getattr(e, "args", [None])[0], "code", lambda: None)()
            result[topic] = f"error: {e}" if "TOPIC_ALREADY_EXISTS" not in str(e) else "exists"
    md = admin.list_topics(timeout=30)
    print(json.dumps({"topics": result, "listed": sorted(md.topics.keys())}))


def produce_confluent(args, records):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": args.bootstrap, "acks": "1", "client.id": args.client_id})
    errors = []
    delivered = [0]

    def cb(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            delivered[0] += 1
    for key, value in records:
        p.produce(args.topic, key=key, value=value, on_delivery=cb)
        p.poll(0)
    p.flush(60)
    return delivered[0], errors


def consume_confluent(args, want):
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": args.bootstrap, "group.id": args.group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "client.id": args.client_id,
                  "session.timeout.ms": SESSION_TIMEOUT_MS})
    c.subscribe([args.topic])
    got, errors = {}, []
    deadline = time.time() + args.timeout
    while len(got) < want and time.time() < deadline:
        msg = c.poll(1.0)
        if msg is None:
            continue
        if msg.error():
            errors.append(str(msg.error()))
            continue
        got[msg.key().decode()] = digest(msg.value())
    committed = 0
    if got:
        c.commit(asynchronous=False)
        committed = sum(max(tp.offset, 0) for tp in c.committed(c.assignment(), timeout=30))
    c.close()
    return got, errors, committed


def produce_kafka_python(args, records):
    from kafka import KafkaProducer
    p = KafkaProducer(bootstrap_servers=args.bootstrap, acks=1, client_id=args.client_id)
    errors, delivered = [], 0
    futures = [p.send(args.topic, key=k, value=v) for k, v in records]
    for f in futures:
        try:
            f.get(timeout=60)
            delivered += 1
        except Exception as e:
            errors.append(repr(e))
    p.close()
    return delivered, errors


def consume_kafka_python(args, want):
    from kafka import KafkaConsumer, TopicPartition
    c = KafkaConsumer(args.topic, bootstrap_servers=args.bootstrap, group_id=args.group, client_id=args.client_id,
                      auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=2000,
                      session_timeout_ms=SESSION_TIMEOUT_MS, heartbeat_interval_ms=2000)
    got, errors = {}, []
    deadline = time.time() + args.timeout
    while len(got) < want and time.time() < deadline:
        for msg in c:
            got[msg.key.decode()] = digest(msg.value)
            if len(got) >= want:
                break
    committed = 0
    if got:
        c.commit()
        committed = sum(c.committed(tp) or 0 for tp in c.assignment())
    c.close()
    return got, errors, committed


def roundtrip(args):
    seed = f"{args.topic}-{args.group}"
    records = [(f"k{i}".encode(), payload(seed, i, args.size)) for i in range(args.count)]
    expected = {k.decode(): digest(v) for k, v in records}
    produce = produce_confluent if args.lib == "confluent" else produce_kafka_python
    consume = consume_confluent if args.lib == "confluent" else consume_kafka_python
    delivered, perr = produce(args, records)
    got, cerr, committed = consume(args, len(records))
    mismatched = sorted(k for k in expected if k in got and got[k] != expected[k])
    missing = sorted(k for k in expected if k not in got)
    print(json.dumps({"lib": args.lib, "produced": delivered, "produce_errors": perr[:5], "consumed": len(got),
                      "consume_errors": cerr[:5], "mismatched": len(mismatched), "missing": len(missing),
                      "committed": committed}))


def load(args):
    """Produce 1 KiB-ish records for --seconds: as fast as librdkafka takes them, or at --rate records/s.

    Reports throughput and per-record produce latency (librdkafka's produce() → acknowledgement,
    Message.latency()) percentiles in milliseconds.
    """
    from confluent_kafka import Producer
    conf = {"bootstrap.servers": args.bootstrap, "acks": "1", "client.id": args.client_id,
            "message.timeout.ms": args.message_timeout_ms}
    if args.batch_size:
        conf["batch.size"] = args.batch_size
    if args.linger_ms is not None:
        conf["linger.ms"] = args.linger_ms
    p = Producer(conf)
    value = payload("load", 0, args.size)
    sent, delivered, errors, latencies = 0, [0], {}, []

    def cb(err, msg):
        if err is not None:
            errors[str(err.name())] = errors.get(str(err.name()), 0) + 1
        else:
            delivered[0] += 1
            lat = msg.latency()
            if lat is not None and lat >= 0:
                latencies.append(lat)
    start = time.time()
    if args.rate:
        # Paced: record i is due at start + i / rate; sleep until the next one is due.
        interval = 1.0 / args.rate
        while True:
            now = time.time()
            if now - start >= args.seconds:
                break
            due = start + sent * interval
            if now < due:
                p.poll(min(due - now, 0.01))
                continue
            try:
                p.produce(args.topic, value=value, on_delivery=cb)
                sent += 1
            except BufferError:
                p.poll(0.01)
            p.poll(0)
    else:
        while time.time() - start < args.seconds:
            try:
                p.produce(args.topic, value=value, on_delivery=cb)
                sent += 1
            except BufferError:
                p.poll(0.01)
            p.poll(0)
    remaining = p.flush(args.message_timeout_ms / 1000 + 10)
    elapsed = time.time() - start
    latencies.sort()

    def pct(q):
        if not latencies:
            return None
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 3)
    print(json.dumps({"sent": sent, "delivered": delivered[0], "errors": errors, "undelivered": remaining,
                      "seconds": round(elapsed, 2), "mb_per_s": round(delivered[0] * args.size / elapsed / 1e6, 2),
                      "latency_ms": {"p50": pct(0.50), "p99": pct(0.99), "max": pct(1.0)}}))


def produce(args):
    """Produce --count records; report deliveries and errors by name."""
    delivered, errors = 0, {}
    if args.lib == "confluent":
        from confluent_kafka import Producer
        p = Producer({"bootstrap.servers": args.bootstrap, "acks": str(args.acks), "client.id": args.client_id,
                      "message.timeout.ms": 20000, "linger.ms": 5})

        def cb(err, msg):
            nonlocal delivered
            if err is not None:
                errors[err.name()] = errors.get(err.name(), 0) + 1
            else:
                delivered += 1
        for i in range(args.count):
            p.produce(args.topic, value=payload(args.topic, i, args.size), on_delivery=cb)
            p.poll(0)
        p.flush(30)
    else:
        from kafka import KafkaProducer
        p = KafkaProducer(bootstrap_servers=args.bootstrap, acks=args.acks, client_id=args.client_id,
                          max_block_ms=20000, request_timeout_ms=20000)
        futures = [p.send(args.topic, value=payload(args.topic, i, args.size)) for i in range(args.count)]
        for f in futures:
            try:
                f.get(timeout=30)
                delivered += 1
            except Exception as e:
                name = type(e).__name__
                errors[name] = errors.get(name, 0) + 1
        p.close(timeout=5)
    print(json.dumps({"lib": args.lib, "delivered": delivered, "errors": errors}))


def consume(args):
    """Consume from the beginning with a group until --count records or --timeout; report errors."""
    got, errors = 0, {}
    if args.lib == "confluent":
        from confluent_kafka import Consumer
        c = Consumer({"bootstrap.servers": args.bootstrap, "group.id": args.group, "auto.offset.reset": "earliest",
                      "client.id": args.client_id, "enable.auto.commit": False,
                      "session.timeout.ms": SESSION_TIMEOUT_MS})
        c.subscribe([args.topic])
        deadline = time.time() + args.timeout
        while got < args.count and time.time() < deadline:
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                name = msg.error().name()
                errors[name] = errors.get(name, 0) + 1
                if msg.error().fatal() or name.endswith("AUTHORIZATION_FAILED"):
                    break
                continue
            got += 1
        if got:
            try:
                c.commit(asynchronous=False)
            except Exception as e:
                errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
        c.close()
    else:
        from kafka import KafkaConsumer
        try:
            c = KafkaConsumer(args.topic, bootstrap_servers=args.bootstrap, group_id=args.group, client_id=args.client_id,
                              auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=int(args.timeout * 1000),
                              session_timeout_ms=SESSION_TIMEOUT_MS, heartbeat_interval_ms=2000)
            for _ in c:
                got += 1
                if got >= args.count:
                    break
            c.close()
        except Exception as e:
            errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
    print(json.dumps({"lib": args.lib, "consumed": got, "errors": errors}))


def topics(args):
    """List the topics the cluster shows this client."""
    if args.lib == "confluent":
        from confluent_kafka.admin import AdminClient
        md = AdminClient({"bootstrap.servers": args.bootstrap, "client.id": args.client_id}).list_topics(timeout=20)
        listed = sorted(md.topics.keys())
        brokers = sorted([b.id, f"{b.host}:{b.port}"] for b in md.brokers.values())
    else:
        from kafka import KafkaConsumer
        c = KafkaConsumer(bootstrap_servers=args.bootstrap, client_id=args.client_id)
        listed = sorted(c.topics())
        brokers = sorted([getattr(b, "node_id", getattr(b, "nodeId", None)), f"{b.host}:{b.port}"] for b in c._client.cluster.brokers())
        c.close()
    print(json.dumps({"lib": args.lib, "topics": listed, "brokers": brokers}))


def produce_loop(args):
    """One producer connection for --seconds, a record every --interval; per-record outcome with time."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": args.bootstrap, "acks": "1", "client.id": args.client_id,
                  "message.timeout.ms": 10000, "linger.ms": 0})
    outcomes = []

    def cb(err, msg):
        outcomes.append([round(time.time() - start, 2), err.name() if err else "ok"])
    start = time.time()
    from confluent_kafka import KafkaException
    while time.time() - start < args.seconds:
        try:
            p.produce(args.topic, value=b"tick", on_delivery=cb)
        except KafkaException as e:
            # librdkafka refuses at once a topic its metadata already marks as unauthorized.
            outcomes.append([round(time.time() - start, 2), e.args[0].name()])
        p.poll(0)
        time.sleep(args.interval)
        p.poll(0)
        sys.stdout.write(f"tick {round(time.time() - start, 2)}\n")
        sys.stdout.flush()
    p.flush(15)
    print(json.dumps({"outcomes": outcomes}))


def produce_keys(args):
    """Produce --count keyed records (key "<seed>-<i>", value payload(seed, i, size)) spread over
    --seconds; report which indices the broker acknowledged, and errors by name."""
    acked, errors = [], {}
    gap = args.seconds / args.count if args.count else 0
    start = time.time()
    if args.lib == "confluent":
        from confluent_kafka import Producer
        conf = {"bootstrap.servers": args.bootstrap, "acks": "all", "client.id": args.client_id,
                "message.timeout.ms": int(args.message_timeout * 1000), "linger.ms": 5,
                "enable.idempotence": args.idempotent}
        p = Producer(conf)

        def cb(err, msg):
            if err is not None:
                errors[err.name()] = errors.get(err.name(), 0) + 1
            else:
                acked.append(int(msg.key().decode().rsplit("-", 1)[1]))
        for i in range(args.count):
            while True:
                try:
                    p.produce(args.topic, key=f"{args.seed}-{i}".encode(), value=payload(args.seed, i, args.size),
                              on_delivery=cb)
                    break
                except BufferError:
                    p.poll(0.05)
            p.poll(0)
            delay = start + (i + 1) * gap - time.time()
            if delay > 0:
                p.poll(delay)
        left = p.flush(args.message_timeout + 10)
        if left:
            errors["undelivered"] = left
    else:
        from kafka import KafkaProducer
        p = KafkaProducer(bootstrap_servers=args.bootstrap, acks="all", client_id=args.client_id,
                          enable_idempotence=args.idempotent, linger_ms=5, retries=2**31 - 1,
                          request_timeout_ms=10000, delivery_timeout_ms=int(args.message_timeout * 1000),
                          reconnect_backoff_max_ms=1000)
        futures = []
        for i in range(args.count):
            futures.append((i, p.send(args.topic, key=f"{args.seed}-{i}".encode(), value=payload(args.seed, i, args.size))))
            delay = start + (i + 1) * gap - time.time()
            if delay > 0:
                time.sleep(delay)
        for i, f in futures:
            try:
                f.get(timeout=args.message_timeout + 10)
                acked.append(i)
            except Exception as e:
                name = type(e).__name__
                errors[name] = errors.get(name, 0) + 1
        p.close(timeout=10)
    print(json.dumps({"lib": args.lib, "acked": len(acked), "acked_keys": sorted(acked), "errors": errors,
                      "seconds": round(time.time() - start, 2)}))


def verify(args):
    """Read every partition of --topic from the beginning to its end, without a group, and compare
    each record with what produce-keys sent for its key: records, distinct keys, duplicates,
    altered values (sha-256 of the value differs), foreign keys; and the indices found."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": args.bootstrap, "group.id": f"verify-{random.random()}",
                  "enable.auto.commit": False, "client.id": args.client_id, "fetch.wait.max.ms": 100})
    md = c.list_topics(args.topic, timeout=30)
    parts = sorted(md.topics[args.topic].partitions.keys())
    ends = {}
    for pid in parts:
        low, high = c.get_watermark_offsets(TopicPartition(args.topic, pid), timeout=30)
        ends[pid] = high
    first_ends = sum(ends.values())
    c.assign([TopicPartition(args.topic, pid, 0) for pid in parts])
    seen, records, altered, foreign = {}, 0, 0, 0
    position = {pid: 0 for pid in parts}
    deadline = time.time() + args.timeout
    last = time.time()
    # tansu's high watermark can stop short of the records of the last batch it acknowledged
    # (it serves them all): read on past it until nothing more comes for 3 s.
    while time.time() < deadline:
        msg = c.poll(0.5)
        if msg is None or msg.error():
            if all(position[p] >= ends[p] for p in parts) and time.time() - last > 3:
                break
            continue
        last = time.time()
        records += 1
        key = (msg.key() or b"").decode(errors="replace")
        seed, _, index = key.rpartition("-")
        if seed != args.seed or not index.isdigit():
            foreign += 1
        else:
            i = int(index)
            seen[i] = seen.get(i, 0) + 1
            if digest(msg.value() or b"") != digest(payload(args.seed, i, args.size)):
                altered += 1
        position[msg.partition()] = msg.offset() + 1
    beyond = sum(max(0, position[p] - ends[p]) for p in parts)
    c.close()
    print(json.dumps({"records": records, "distinct": len(seen), "duplicates": sum(n - 1 for n in seen.values()),
                      "altered": altered, "foreign": foreign,
                      "complete": all(position[p] >= ends[p] for p in parts),
                      "end_offsets": first_ends, "beyond_watermark": beyond,
                      "keys": sorted(seen)}))


def throttled(args):
    """Produce --size records as fast as the client goes for --seconds; report the record bytes
    acknowledged per second after --warmup seconds (past a quota's burst) and the largest
    throttle time the broker (or the filter) signalled."""
    acked, throttle = [], [0]
    value = payload("throttled", 0, args.size)
    start = time.time()
    if args.lib == "confluent":
        from confluent_kafka import Producer

        def on_throttle(event):
            throttle[0] = max(throttle[0], int(event.throttle_time * 1000))
        p = Producer({"bootstrap.servers": args.bootstrap, "acks": "1", "client.id": args.client_id,
                      "throttle_cb": on_throttle, "linger.ms": 5, "batch.size": 16384,
                      # A small queue: the producer waits on its acknowledgements instead of
                      # buffering more than a flush could send at the limited rate, and its
                      # acknowledgements come in small bursts, so the rate measured over the
                      # window does not depend on where a burst falls.
                      "queue.buffering.max.kbytes": 64})

        def cb(err, msg):
            if err is None:
                acked.append(time.time())
        while time.time() - start < args.seconds:
            try:
                p.produce(args.topic, value=value, on_delivery=cb)
            except BufferError:
                p.poll(0.01)
            p.poll(0)
        p.flush(30)
    else:
        from kafka import KafkaProducer
        p = KafkaProducer(bootstrap_servers=args.bootstrap, acks=1, client_id=args.client_id,
                          linger_ms=5, batch_size=16384, max_block_ms=60000)

        def ok(_):
            acked.append(time.time())
        sent, sampled = 0, start

        def sample():
            for group in (p.metrics() or {}).values():
                for name, v in group.items():
                    if name == "throttle-time-max" and isinstance(v, (int, float)) and v == v:
                        throttle[0] = max(throttle[0], int(v))
        while time.time() - start < args.seconds:
            if time.time() - sampled >= 1:
                sample()
                sampled = time.time()
            # At most 64 KiB unacknowledged, as the confluent producer's queue above.
            if (sent - len(acked)) * args.size >= 64 * 1024:
                time.sleep(0.002)
                continue
            p.send(args.topic, value=value).add_callback(ok)
            sent += 1
        p.flush(30)
        sample()
        p.close()
    end = start + args.seconds
    window = [t for t in acked if start + args.warmup <= t <= end]
    rate = len(window) * args.size / (args.seconds - args.warmup)
    print(json.dumps({"lib": args.lib, "acked": len(acked), "bytes_per_second": round(rate),
                      "throttle_ms_max": throttle[0]}))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("create", "roundtrip", "load", "produce", "consume", "topics", "produce-loop", "produce-keys",
                 "verify", "throttled"):
        s = sub.add_parser(name)
        s.add_argument("--bootstrap", required=True)
        s.add_argument("--topic", required=name != "topics")
        s.add_argument("--client-id", default=f"meshka-{name}")
        if name == "create":
            s.add_argument("--partitions", type=int, default=3)
        if name == "roundtrip":
            s.add_argument("--lib", choices=["confluent", "kafka-python"], default="confluent")
            s.add_argument("--count", type=int, default=100)
            s.add_argument("--size", type=int, default=1000)
            s.add_argument("--group", default="meshka-group")
            s.add_argument("--timeout", type=float, default=60)
        if name in ("produce", "consume", "topics"):
            s.add_argument("--lib", choices=["confluent", "kafka-python"], default="confluent")
        if name == "produce":
            s.add_argument("--count", type=int, default=10)
            s.add_argument("--size", type=int, default=100)
            s.add_argument("--acks", type=int, default=1)
        if name == "consume":
            s.add_argument("--count", type=int, default=10)
            s.add_argument("--group", required=True)
            s.add_argument("--timeout", type=float, default=20)
        if name == "produce-loop":
            s.add_argument("--seconds", type=float, default=10)
            s.add_argument("--interval", type=float, default=0.2)
        if name in ("produce-keys", "verify"):
            s.add_argument("--seed", required=True, help="keys are <seed>-<i>, values payload(seed, i, size)")
            s.add_argument("--size", type=int, default=1000)
        if name == "produce-keys":
            s.add_argument("--lib", choices=["confluent", "kafka-python"], default="confluent")
            s.add_argument("--count", type=int, default=1000)
            s.add_argument("--seconds", type=float, default=0, help="spread the records over this long")
            s.add_argument("--idempotent", action="store_true")
            s.add_argument("--message-timeout", type=float, default=60)
        if name == "verify":
            s.add_argument("--timeout", type=float, default=60)
        if name == "throttled":
            s.add_argument("--lib", choices=["confluent", "kafka-python"], default="confluent")
            s.add_argument("--seconds", type=float, default=20)
            s.add_argument("--warmup", type=float, default=4)
            s.add_argument("--size", type=int, default=1024)
        if name == "load":
            s.add_argument("--seconds", type=float, default=30)
            s.add_argument("--size", type=int, default=1024)
            s.add_argument("--batch-size", type=int, default=0, help="librdkafka batch.size; 0 keeps its default (1 MB)")
            s.add_argument("--message-timeout-ms", type=int, default=60000)
            s.add_argument("--rate", type=float, default=0, help="records per second; 0: as fast as possible")
            s.add_argument("--linger-ms", type=float, default=None, help="librdkafka linger.ms; default keeps its own")
    args = ap.parse_args()
    {"create": create, "roundtrip": roundtrip, "load": load, "produce": produce, "consume": consume,
     "topics": topics, "produce-loop": produce_loop, "produce-keys": produce_keys, "verify": verify, "throttled": throttled}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
