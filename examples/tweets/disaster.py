#!/usr/bin/env python3
"""Disaster tweets for examples/tweets (the pre-trained job): is a tweet about a real disaster
(y = 1) or not? Disaster words also appear as slang ("this track is fire", "my inbox is a
flood"), so single words mislead and word pairs tell. One JSON object per line:
{"id", "author", "ts" (ms), "text", "y"}.

Usage: disaster.py N [SEED]
"""
import json
import random
import sys

REAL = ["forest fire near {place}", "flood warning for {place}", "earthquake hits {place}", "evacuation ordered in {place}",
        "wildfire spreading toward {place}", "building collapsed in {place}", "storm damage across {place}",
        "rescue teams searching in {place}", "smoke from the fire over {place}", "injured after the quake in {place}"]
SLANG = ["this new track is fire", "my inbox is a flood of emails", "that concert was a total disaster lol",
         "i am on fire today", "storm of memes incoming", "this game is a wreck but fun", "traffic is a nightmare again",
         "my kitchen after baking looks like an earthquake hit", "that outfit is fire", "rescue me from this meeting"]
PLACES = ["la ronge", "sacramento", "manila", "izmir", "valencia", "queensland", "naples", "oaxaca", "athens", "cebu"]
FILLER = ["omg", "please share", "stay safe", "unreal", "today", "right now", "#news", "#breaking", "so", "wow", "again", "smh"]


def tweets(n, seed):
    rng = random.Random(seed)
    t = 1_796_000_000_000  # milliseconds
    for i in range(n):
        t += rng.randint(1, 40)
        y = rng.random() < 0.45
        core = rng.choice(REAL).format(place=rng.choice(PLACES)) if y else rng.choice(SLANG)
        words = core.split()
        for _ in range(rng.randint(0, 3)):
            words.insert(rng.randint(0, len(words)), rng.choice(FILLER))
        text = " ".join(words)
        if rng.random() < 0.3:
            text = text.capitalize()
        if rng.random() < 0.05:  # label noise, as hand-labelled sets have
            y = not y
        yield {"id": f"t{i}", "author": f"@user{rng.randint(0, 999)}", "ts": t, "text": text + rng.choice(["", "!", ".", " 😱"]),
               "y": int(y)}


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    for tw in tweets(n, int(sys.argv[2]) if len(sys.argv) > 2 else 12):
        print(json.dumps(tw, ensure_ascii=False))
