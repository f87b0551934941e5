#!/usr/bin/env python3
"""Card payments and their chargebacks for examples/fraud. A stolen card shows up as bursts:
many payments close together, larger amounts, many distinct merchants, some risky merchants;
its fraudulent payments are charged back 2-20 days later (event time) on their own topic.
Legitimate payments get no chargeback: after 30 days the worker learns them as legitimate
(labels.on_expired = "learn_negative"). Timestamps in milliseconds, in event-time order per file.

Writes PAYMENTS and CHARGEBACKS (JSON lines). Usage: generate.py N PAYMENTS CHARGEBACKS [SEED]
"""
import json
import random
import sys

n = int(sys.argv[1])
rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 5)
cards = [f"card-{i}" for i in range(400)]
merchants = [f"m{i}" for i in range(200)]
risky = set(merchants[:10])
stolen = {}  # card -> until (ms)
t = 1_796_000_000_000
payments, chargebacks = [], []
for i in range(n):
    t += rng.randint(1_000, 60_000)
    card = rng.choice(cards)
    if card not in stolen and rng.random() < 0.01:
        stolen[card] = t + 3_600_000  # an hour of fraud
    fraud = card in stolen and t < stolen[card]
    if fraud:
        amount = round(rng.uniform(200, 1500), 2)
        merchant = rng.choice(sorted(risky)) if rng.random() < 0.5 else rng.choice(merchants)
    else:
        amount = round(rng.lognormvariate(3.2, 0.8), 2)
        merchant = rng.choice(merchants[10:])
    pid = f"p{i}"
    payments.append({"payment_id": pid, "card": card, "merchant": merchant, "amount": amount, "ts": t})
    if fraud:
        chargebacks.append({"payment_id": pid, "card": card, "fraud": 1,
                            "ts": t + rng.randint(2, 20) * 86_400_000 + rng.randint(0, 86_399_999)})
    if card in stolen and t >= stolen[card]:
        del stolen[card]
with open(sys.argv[2], "w") as f:
    for p in payments:
        f.write(json.dumps(p) + "\n")
with open(sys.argv[3], "w") as f:
    for c in sorted(chargebacks, key=lambda c: c["ts"]):
        f.write(json.dumps(c) + "\n")
print(f"{len(payments)} payments, {len(chargebacks)} chargebacks", file=sys.stderr)
