#!/usr/bin/env python3
"""Reads a whole topic with confluent-kafka (librdkafka 2.16, so it also talks to Tansu) and
prints one JSON line per record: {"partition", "offset", "key", "value", "headers"}.

--isolation read_committed (the default) shows only committed transactions' records, the way
a downstream consumer of an exactly-once Tributary sees them; read_uncommitted shows every
record written, aborted ones included. --watermarks prints {"partition": high, ...} instead.

--sizes prints each value's length ("value_len") and an empty value: for binary records
(model checkpoints), whose size and key are what a test checks.

--isolation markers gives read_committed computed here, from the log itself: it fetches the raw
record batches (Kafka Fetch v4, one broker) and keeps a transactional producer's records only
when the COMMIT control batch that ends their transaction follows; an ABORT marker, or no marker
at all (a transaction still open), drops them. A broker reports aborted transactions in each
fetch response and clients filter with that list; Tansu 0.6 writes the markers but returns an
empty list, so its read_committed readers also see aborted records (checked here: a producer
killed after flushing, then fenced by init_transactions, leaves an ABORT marker that
read_committed ignores). The exactly-once tests read Tansu this way.
Used by the exactly-once tests, which run against Tansu (Debian's librdkafka cannot).
"""
import argparse
import gzip
import json
import socket
import struct
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaError, TopicPartition


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--isolation", default="read_committed", choices=["read_committed", "read_uncommitted", "markers"])
    ap.add_argument("--watermarks", action="store_true")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--sizes", action="store_true", help="each value's length (value_len) instead of its text")
    ap.add_argument("--trace", action="store_true", help="with markers: print each batch (offsets, producer, kind) to stderr")
    a = ap.parse_args()
    c = Consumer({
        "bootstrap.servers": a.bootstrap,
        "group.id": "read-topic-" + uuid.uuid4().hex,
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "isolation.level": "read_uncommitted" if a.isolation == "markers" else a.isolation,
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
    if a.isolation == "markers":
        c.close()
        host, port = a.bootstrap.split(",")[0].rsplit(":", 1)
        for p in parts:
            for r in read_by_markers(host, int(port), a.topic, p, a.timeout, a.trace):
                print(json.dumps(r))
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
        r = {
            "partition": m.partition(), "offset": m.offset(),
            "key": (m.key() or b"").decode("utf-8", "replace"),
            "headers": headers,
        }
        if a.sizes:
            r["value"], r["value_len"] = "", len(m.value() or b"")
        else:
            r["value"] = (m.value() or b"").decode("utf-8", "replace")
        print(json.dumps(r))
    c.close()
    if pending:
        print(f"read_topic: partitions {sorted(pending)} not read to their end within {a.timeout} s", file=sys.stderr)
        sys.exit(1)


def varint(buf, i):
    """A zigzag varint (record fields) at i: (value, next index)."""
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return (result >> 1) ^ -(result & 1), i
        shift += 7


def fetch(sock, topic, partition, offset, corr):
    """One Fetch v4 request (read_uncommitted: the raw log, markers included)."""
    t = topic.encode()
    body = struct.pack(">iiiib", -1, 100, 1, 8 << 20, 0)
    body += struct.pack(">ih", 1, len(t)) + t + struct.pack(">iiqi", 1, partition, offset, 8 << 20)
    client = b"read_topic"
    head = struct.pack(">hhih", 1, 4, corr, len(client)) + client
    msg = head + body
    sock.sendall(struct.pack(">i", len(msg)) + msg)
    size = struct.unpack(">i", recv_exact(sock, 4))[0]
    data = recv_exact(sock, size)
    i = 4 + 4  # correlation id, throttle time
    (_ntopics,) = struct.unpack_from(">i", data, i); i += 4
    (tlen,) = struct.unpack_from(">h", data, i); i += 2 + tlen
    (_nparts,) = struct.unpack_from(">i", data, i); i += 4
    _part, err, _hw, _lso = struct.unpack_from(">ihqq", data, i); i += 4 + 2 + 8 + 8
    (naborted,) = struct.unpack_from(">i", data, i); i += 4
    if naborted > 0:
        i += naborted * 16
    (rlen,) = struct.unpack_from(">i", data, i); i += 4
    if err != 0:
        raise SystemExit(f"read_topic: fetch {topic}[{partition}]@{offset}: error code {err}")
    return data[i:i + max(rlen, 0)]


def recv_exact(sock, n):
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise SystemExit("read_topic: broker closed the connection")
        out += chunk
    return bytes(out)


def read_by_markers(host, port, topic, partition, timeout, trace=False):
    """Every record of a committed (or non-transactional) batch, in offset order."""
    sock = socket.create_connection((host, port), timeout=timeout)
    offset, corr, empty = 0, 0, 0
    pending = {}  # producer id -> records of its open transaction
    out = []
    deadline = time.time() + timeout
    while empty < 3 and time.time() < deadline:
        corr += 1
        raw = fetch(sock, topic, partition, offset, corr)
        i, advanced = 0, False
        while i + 12 <= len(raw):
            base, blen = struct.unpack_from(">qi", raw, i)
            if i + 12 + blen > len(raw):
                break  # a batch cut off at the fetch size: fetched again next round
            b = raw[i:i + 12 + blen]
            i += 12 + blen
            attrs, last_delta = struct.unpack_from(">hi", b, 21)
            pid, pepoch = struct.unpack_from(">qh", b, 43)
            (count,) = struct.unpack_from(">i", b, 57)
            if base + last_delta < offset:
                continue
            payload = b[61:]
            codec = attrs & 7
            if codec == 1:
                payload = gzip.decompress(payload)
            elif codec != 0:
                raise SystemExit(f"read_topic: --isolation markers reads uncompressed or gzip batches, not codec {codec}")
            records, j = [], 0
            for _ in range(count):
                length, j = varint(payload, j)
                end = j + length
                j += 1  # attributes
                _ts, j = varint(payload, j)
                odelta, j = varint(payload, j)
                klen, j = varint(payload, j)
                key = payload[j:j + klen] if klen >= 0 else b""; j += max(klen, 0)
                vlen, j = varint(payload, j)
                value = payload[j:j + vlen] if vlen >= 0 else b""; j += max(vlen, 0)
                nh, j = varint(payload, j)
                headers = {}
                for _ in range(nh):
                    hk, j = varint(payload, j)
                    name = payload[j:j + hk].decode("utf-8", "replace"); j += hk
                    hv, j = varint(payload, j)
                    headers[name] = payload[j:j + hv].decode("utf-8", "replace") if hv >= 0 else None
                    j += max(hv, 0)
                j = end
                records.append((base + odelta, key, value, headers))
            if trace:
                what = "control" if attrs & 0x20 else "txn" if attrs & 0x10 else "plain"
                if attrs & 0x20 and records:
                    what += " " + ("COMMIT" if struct.unpack(">hh", records[0][1][:4])[1] == 1 else "ABORT")
                print(f"p{partition} {base}..{base + last_delta} producer {pid}/{pepoch} {what}", file=sys.stderr)
            if attrs & 0x20:  # control batch: the key's type is 0 = ABORT, 1 = COMMIT
                _ver, kind = struct.unpack(">hh", records[0][1][:4]) if records else (0, 0)
                done = pending.pop(pid, [])
                if kind == 1:
                    out.extend(done)
            elif attrs & 0x10:  # transactional data: held until its marker
                pending.setdefault(pid, []).extend(records)
            else:
                out.extend(records)
            offset = base + last_delta + 1
            advanced = True
        empty = 0 if advanced else empty + 1
    sock.close()
    return [{"partition": partition, "offset": o, "key": k.decode("utf-8", "replace"),
             "value": v.decode("utf-8", "replace"), "headers": h} for o, k, v, h in sorted(out, key=lambda r: r[0])]


if __name__ == "__main__":
    main()
