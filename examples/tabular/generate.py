#!/usr/bin/env python3
"""Tabular events for examples/tabular: a subscription service's sessions. Each user has a
hidden propensity; a session's outcome (y: 1 = converted) depends on the session's numbers
and on the user's history, which per-user running features (mean, count) and target
encoding capture. One JSON object per line on stdout, in event-time order.

Usage: generate.py N [SEED]
"""
import json
import math
import random
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 7)
users = [f"user-{i}" for i in range(500)]
propensity = {u: rng.gauss(0, 1) for u in users}
plans = ["free", "basic", "pro"]
t = 1_796_000_000.0
for i in range(n):
    u = rng.choice(users)
    t += rng.expovariate(50)
    minutes = rng.expovariate(1 / 12)
    pages = max(1, int(rng.gauss(8, 4)))
    plan = rng.choice(plans)
    z = 0.9 * propensity[u] + 0.08 * (minutes - 12) + 0.1 * (pages - 8) + {"free": -0.5, "basic": 0, "pro": 0.7}[plan]
    y = 1 if rng.random() < 1 / (1 + math.exp(-z)) else 0
    print(json.dumps({"user": u, "ts": round(t, 3), "session": {"minutes": round(minutes, 2), "pages": pages},
                      "plan": plan, "converted": y}))
