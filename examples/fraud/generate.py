#!/usr/bin/env python3
"""Card payments and their chargebacks for examples/fraud. A stolen card shows up as a burst:
5-15 payments within an hour, larger amounts, many distinct merchants, often risky ones.
Each fraudulent payment is charged back later, on its own topic; legitimate payments get no
chargeback, and the worker learns them as legitimate once the horizon has passed
(labels.on_expired = "learn_negative"). Time runs fast here so that a few thousand payments
show all of it: payments 1-10 s apart, chargebacks 10 min to 2 h after their payment, a
3-hour horizon (cluster.conf); real chargebacks take days, with horizon_s = 2592000.
Timestamps in milliseconds, each file in event-time order.

Writes PAYMENTS and CHARGEBACKS (JSON lines). Usage: generate.py N PAYMENTS CHARGEBACKS [SEED]
[--inline-labels]; with --inline-labels each payment carries its label ("fraud": 0 or 1) and
CHARGEBACKS stays empty (`tributary bench --only workloads` learns on the spot).
"""
import json
import random
import sys

inline = "--inline-labels" in sys.argv
argv = [a for a in sys.argv if a != "--inline-labels"]
n = int(argv[1])
rng = random.Random(int(argv[4]) if len(argv) > 4 else 5)
cards = [f"card-{i}" for i in range(400)]
merchants = [f"m{i}" for i in range(200)]
risky = merchants[:10]
start = 1_796_000_000_000
rows = []  # (ts, card, merchant, amount, fraud)
t = start
while len(rows) < n:
    t += rng.randint(1_000, 10_000)
    rows.append((t, rng.choice(cards), rng.choice(merchants[10:]), round(rng.lognormvariate(3.2, 0.8), 2), False))
    if rng.random() < 0.004:  # a card is stolen: a burst within the next hour
        card = rng.choice(cards)
        for _ in range(rng.randint(5, 15)):
            merchant = rng.choice(risky) if rng.random() < 0.5 else rng.choice(merchants)
            rows.append((t + rng.randint(0, 3_600_000), card, merchant, round(rng.uniform(200, 1500), 2), True))
rows = sorted(rows)[:n]
chargebacks = []
with open(argv[2], "w") as f:
    for i, (ts, card, merchant, amount, fraud) in enumerate(rows):
        pid = f"p{i}"
        payment = {"payment_id": pid, "card": card, "merchant": merchant, "amount": amount, "ts": ts}
        if inline:
            payment["fraud"] = int(fraud)
        f.write(json.dumps(payment) + "\n")
        if fraud and not inline:
            chargebacks.append({"payment_id": pid, "card": card, "fraud": 1, "ts": ts + rng.randint(600_000, 7_200_000)})
with open(argv[3], "w") as f:
    for c in sorted(chargebacks, key=lambda c: c["ts"]):
        f.write(json.dumps(c) + "\n")
print(f"generated: {len(rows)} payments, {len(chargebacks)} chargebacks", file=sys.stderr)
