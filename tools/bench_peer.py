#!/usr/bin/env python3
"""The Python peer of `tributary bench --only workloads`: the loop a data team writes today
(confluent-kafka consumer, River, a producer of predictions, offsets committed every 1,000
records), doing the same per-event work as Tributary's config for that workload:

  text   tweets (examples/tweets): lower-cased words, unigrams and bigrams hashed into 2^18
         (River's BagOfWords | FeatureHasher), LogisticRegression with SGD(0.1), no scaling
         (examples/tweets/cluster.conf).
  fraud  payments with their label inline (examples/fraud/generate.py --inline-labels): per
         card, the last hour's count, sum and max of the amount (sliding), the day's distinct
         merchants (tumbling), the payments of the current session (30-min gap), and the
         merchant's fraud rate (target encoding, smoothing 20, read before the label joins);
         StandardScaler | LogisticRegression with SGD(0.05) (examples/fraud/cluster.conf,
         without [labels]). River's Agg over TimeRolling keeps the sliding sum; River has no
         time-windowed count or max (its Count and Max cannot revert), distinct count or session
         window, so those are plain Python.

Predict, then learn (progressive validation). Stops when every assigned partition reached
its end or after --max-messages. Prints a line `RESULT {json}` (events/s, process CPU,
accuracy), as the shared peer's baseline.py does.

Usage: bench_peer.py --workload text|fraud --topic T --group G --bootstrap HOST:PORT [--max-messages N]
"""
from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import re
import resource
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from river import compose, feature_extraction, linear_model, metrics, optim, preprocessing, stats, utils


EPOCH = dt.datetime(1970, 1, 1)


class TextLearner:
    key = "author"

    def __init__(self):
        words = re.compile(r"[^\W_]+")  # Tributary's tokens: runs of letters and digits
        self.model = compose.Pipeline(
            feature_extraction.BagOfWords(on="text", lowercase=True, strip_accents=False,
                                          tokenizer=words.findall, ngram_range=(1, 2)),
            preprocessing.FeatureHasher(n_features=1 << 18, seed=1),
            linear_model.LogisticRegression(optimizer=optim.SGD(0.1)),
        )

    def features(self, event):
        return {"text": event["text"]}

    def label(self, event):
        return bool(event["y"])


class FraudLearner:
    key = "card"

    def __init__(self):
        hour = dt.timedelta(hours=1)
        self.sum = feature_extraction.Agg(on="amount", by="card", how=utils.TimeRolling(stats.Sum, period=hour))
        self.recent: dict[str, collections.deque] = collections.defaultdict(collections.deque)  # (t, amount) of the last hour
        self.merchants: dict[str, tuple[int, set]] = {}  # card -> (day, merchants that day)
        self.sessions: dict[str, tuple[float, int]] = {}  # card -> (last payment, payments in the session)
        self.merchant_rate: dict[str, list[float]] = {}  # merchant -> [label sum, count]
        self.labels = [0.0, 0.0]
        self.model = preprocessing.StandardScaler() | linear_model.LogisticRegression(optimizer=optim.SGD(0.05))

    def features(self, event):
        card, amount, ts = event["card"], float(event["amount"]), event["ts"] / 1000
        when = EPOCH + dt.timedelta(seconds=ts)  # naive, as River's TimeRolling compares with a naive start
        x = {"card": card, "amount": amount}
        self.sum.learn_one(x, t=when)
        recent = self.recent[card]
        recent.append((ts, amount))
        while recent[0][0] <= ts - 3600:
            recent.popleft()
        day = int(ts // 86400)
        seen_day, seen = self.merchants.get(card, (day, set()))
        if seen_day != day:
            seen = set()
        seen.add(event["merchant"])
        self.merchants[card] = (day, seen)
        last, n = self.sessions.get(card, (ts, 0))
        n = n + 1 if ts - last <= 1800 else 1
        self.sessions[card] = (ts, n)
        prior = self.labels[0] / self.labels[1] if self.labels[1] else 0.5
        s, c = self.merchant_rate.get(event["merchant"], (0.0, 0.0))
        feats = {"amount": amount, "count_1h": len(recent), "max_1h": max(a for _, a in recent), "distinct_day": len(seen),
                 "session_count": n, "merchant_rate": (s + prior * 20) / (c + 20)}
        feats.update(self.sum.transform_one(x))
        return feats

    def label(self, event):
        y = float(event["fraud"])
        rate = self.merchant_rate.setdefault(event["merchant"], [0.0, 0.0])
        rate[0] += y
        rate[1] += 1
        self.labels[0] += y
        self.labels[1] += 1
        return bool(y)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", choices=["text", "fraud"], required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--output-topic", default="predictions")
    ap.add_argument("--group", required=True)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--max-messages", type=int, default=1 << 62)
    ap.add_argument("--idle-timeout", type=float, default=30.0)
    args = ap.parse_args()
    extra = dict(p.split("=", 1) for p in os.environ.get("KAFKA_CONSUMER_CONF", "").split(",") if "=" in p)
    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": args.group, "enable.auto.commit": False,
                         "auto.offset.reset": "earliest", "enable.partition.eof": True, **extra})
    producer = Producer({"bootstrap.servers": args.bootstrap, "linger.ms": 20})
    learner = TextLearner() if args.workload == "text" else FraudLearner()
    accuracy = metrics.Accuracy()
    failed = 0

    def delivered(err, _msg):
        nonlocal failed
        failed += err is not None

    assigned, at_eof = set(), set()

    def on_assign(_c, parts):
        assigned.clear()
        assigned.update(p.partition for p in parts)

    consumer.subscribe([args.topic], on_assign=on_assign)
    n, t_first, idle_since = 0, None, time.monotonic()
    cpu0 = time.process_time()
    while n < args.max_messages:
        msg = consumer.poll(1.0)
        if msg is None:
            if time.monotonic() - idle_since > args.idle_timeout:
                break
            continue
        idle_since = time.monotonic()
        if msg.error() is not None:
            if msg.error().code() == KafkaError._PARTITION_EOF:
                at_eof.add(msg.partition())
                if n and assigned and at_eof >= assigned:
                    break
                continue
            raise KafkaException(msg.error())
        if t_first is None:
            t_first = time.time()
        event = json.loads(msg.value())
        x = learner.features(event)
        p = learner.model.predict_proba_one(x).get(True, 0.0)
        y = learner.label(event)
        accuracy.update(y, p > 0.5)
        learner.model.learn_one(x, y)
        key = event[learner.key]
        out = json.dumps({learner.key: key, "p": p}).encode()
        while True:
            try:
                producer.produce(args.output_topic, key=key, value=out, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
        n += 1
        if n % 1000 == 0:
            consumer.commit(asynchronous=False)
    undelivered = producer.flush(60)
    if n % 1000:
        consumer.commit(asynchronous=False)
    t_end = time.time()
    cpu = time.process_time() - cpu0
    consumer.close()
    if t_first is None:
        sys.exit("no messages consumed")
    res = {"workload": args.workload, "n": n, "elapsed_s": t_end - t_first, "events_per_s": n / (t_end - t_first),
           "cpu_s": cpu, "accuracy": accuracy.get(), "undelivered": undelivered, "delivery_errors": failed,
           "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    print("RESULT " + json.dumps(res), flush=True)
    sys.exit(1 if undelivered or failed else 0)


if __name__ == "__main__":
    main()
