#!/usr/bin/env python3
"""Reads a whole topic with confluent-kafka (librdkafka 2.16, so it also talks to Tansu) and
prints one JSON line per record: {"partition", "offset", "key", "value", "headers"}.

--isolation read_committed (the default) shows only committed transactions' records, the way
a downstream consumer of an exactly-once Tributary sees them; read_uncommitted shows every
record written, aborted ones included. --watermarks prints {"partition": high, ...} instead.
Used by the exactly-once tests, which run against Tansu (Debian's librdkafka cannot).
"""
import argparse
import json
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaError, TopicPartition


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--isolation", default="read_committed", choices=["read_committed", "read_uncommitted"])
    ap.add_argument("--watermarks", action="store_true")
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()
    c = Consumer({
        "bootstrap.servers": a.bootstrap,
        "group.id": "read-topic-" + uuid.uuid4().hex,
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "isolation.level": a.isolation,
        "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": 10,
    })
    md = c.list_topics(a.topic, timeout=10)
    parts = sorted(md.topics[a.topic].partitions)
    if a.watermarks:
        out = {}
        for p in parts:
            _, high = c.get_watermark_offsets(TopicPartition(a.topic, p), timeout=10)
            out[str(p)] = high
        print(json.dumps(out))
        c.close()
        return
    c.assign([TopicPartition(a.topic, p, 0) for p in parts])
    pending = set(parts)
    deadline = time.time() + a.timeout
    while pending and time.time() < deadline:
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                pending.discard(m.partition())
                continue
            print(f"read_topic: {m.error()}", file=sys.stderr)
            continue
        headers = {k: (v.decode("utf-8", "replace") if v is not None else None) for k, v in (m.headers() or [])}
        print(json.dumps({
            "partition": m.partition(), "offset": m.offset(),
            "key": (m.key() or b"").decode("utf-8", "replace"),
            "value": (m.value() or b"").decode("utf-8", "replace"),
            "headers": headers,
        }))
    c.close()
    if pending:
        print(f"read_topic: partitions {sorted(pending)} not read to their end within {a.timeout} s", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
