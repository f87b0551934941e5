#!/usr/bin/env python3
"""Read Tributary's cluster status over ZeroMQ (pyzmq), as docs/PROTOCOL.md describes.

Usage: tools/status.py tcp://127.0.0.1:7400
Prints one line per worker and a JSON summary line: RESULT {...}.
Exit 1 if the coordinator does not answer within 2 s (Lazy Pirate: 3 tries).
"""
import json
import sys

import zmq


def status(endpoint: str, tries: int = 3, timeout_ms: int = 2000) -> dict:
    ctx = zmq.Context.instance()
    for _ in range(tries):
        s = ctx.socket(zmq.REQ)
        s.setsockopt(zmq.RCVTIMEO, timeout_ms)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(endpoint)
        s.send_multipart([b"TRB1", json.dumps({"type": "status_request", "body": {}}).encode()])
        try:
            tag, body = s.recv_multipart()
        except zmq.Again:
            s.close()
            continue
        s.close()
        if tag != b"TRB1":
            raise SystemExit(f"unexpected protocol tag {tag!r}")
        msg = json.loads(body)
        if msg["type"] != "status":
            raise SystemExit(f"unexpected answer {msg['type']}")
        return msg["body"]
    raise SystemExit(f"no answer from {endpoint} after {tries} tries")


if __name__ == "__main__":
    st = status(sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:7400")
    for w in st["workers"]:
        parts = [p["partition"] for p in w["partitions"]]
        print(f'{w["workerId"]:20} {w["state"]:8} partitions {parts}')
    summary = {
        "workers": len(st["workers"]),
        "partitions": sorted(p["partition"] for w in st["workers"] for p in w["partitions"]),
        "unassigned": st["unassigned"],
        "bootstrap": st["bootstrap"],
        "model_version": st.get("modelVersion", 0),
    }
    print("RESULT " + json.dumps(summary))
