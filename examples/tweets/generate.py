#!/usr/bin/env python3
"""Tweets for examples/tweets: short texts whose sentiment (y: 1 = positive) is carried by
their words and word pairs ("not good" is negative), with authors and noise words. The worker
hashes their unigrams and bigrams (features.text) and learns online. One JSON object per line.

Usage: generate.py N [SEED]
"""
import json
import random
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 11)
positive = ["love", "great", "awesome", "happy", "excellent", "fun", "best", "wonderful"]
negative = ["hate", "awful", "terrible", "sad", "worst", "boring", "broken", "angry"]
neutral = ["today", "the", "game", "phone", "coffee", "train", "weekend", "movie", "update", "team", "really", "so"]
t = 1_796_000_000_000  # milliseconds
for i in range(n):
    t += rng.randint(1, 40)
    y = rng.random() < 0.5
    words = rng.sample(neutral, 4)
    cue = rng.choice(positive if y else negative)
    if rng.random() < 0.2:  # negation flips the cue: "not great" is negative
        cue = "not " + rng.choice(negative if y else positive)
    words.insert(rng.randint(0, len(words)), cue)
    print(json.dumps({"id": f"t{i}", "author": f"@user{rng.randint(0, 999)}", "ts": t,
                      "text": " ".join(words).capitalize() + rng.choice(["!", ".", " :)", " #x"]), "y": int(y)}))
