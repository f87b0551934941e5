#!/usr/bin/env python3
"""Creates or describes topics with confluent-kafka's AdminClient (librdkafka 2.16, so it also
talks to Tansu). The topic tests use it to set up a topic the way a data team might have
(`create NAME --partitions N --config cleanup.policy=delete`) and to read back what Tributary
created (`describe NAME` prints the topic's configuration as one JSON object).
"""
import argparse
import json
import sys

from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("action", choices=["create", "describe"])
    ap.add_argument("topic")
    ap.add_argument("--partitions", type=int, default=1)
    ap.add_argument("--config", action="append", default=[], help="KEY=VALUE (create)")
    a = ap.parse_args()
    admin = AdminClient({"bootstrap.servers": a.bootstrap})
    if a.action == "create":
        config = dict(kv.split("=", 1) for kv in a.config)
        for _, f in admin.create_topics([NewTopic(a.topic, a.partitions, 1, config=config)]).items():
            f.result(timeout=20)
    else:
        r = ConfigResource("topic", a.topic)
        entries = admin.describe_configs([r])[r].result(timeout=20)
        print(json.dumps({k: v.value for k, v in entries.items()}))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - any failure is the test's to report
        print(f"topic_admin: {e}", file=sys.stderr)
        sys.exit(1)
