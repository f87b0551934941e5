#!/usr/bin/env python3
"""Produces records given as JSON lines on stdin, {"key": text, "value_b64": base64}, to one
partition of a topic with confluent-kafka (librdkafka 2.16, so it also talks to Tansu), and
waits until every one is acknowledged. The model-store tests write a torn checkpoint with it.
"""
import argparse
import base64
import json
import sys

from confluent_kafka import Producer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--partition", type=int, default=0)
    a = ap.parse_args()
    p = Producer({"bootstrap.servers": a.bootstrap, "linger.ms": 0})
    failed = []

    def report(err, _msg):
        if err is not None:
            failed.append(str(err))

    for line in sys.stdin:
        if not line.strip():
            continue
        r = json.loads(line)
        p.produce(a.topic, key=r["key"].encode(), value=base64.b64decode(r["value_b64"]), partition=a.partition, on_delivery=report)
        p.poll(0)
    left = p.flush(30)
    if failed or left:
        print(f"produce_records: {len(failed)} failed ({failed[:1]}), {left} not acknowledged", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
