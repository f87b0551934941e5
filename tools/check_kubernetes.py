#!/usr/bin/env python3
"""Checks the manifests `kubectl kustomize deploy/kubernetes` renders (read on stdin): the
objects Tributary needs, probes on /readyz and /healthz, workers pointed at the coordinator's
Service through TRIBUTARY_COORDINATOR, the ConfigMap holding cluster.conf (written to OUT for
`tributary config check`). No cluster is needed (kubectl's own validation needs a server).

Usage: kubectl kustomize deploy/kubernetes | tools/check_kubernetes.py OUT
"""
import sys

import yaml


def fail(msg):
    print(f"check_kubernetes: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
    by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    for need in [("Namespace", "tributary"), ("ConfigMap", "tributary-config"), ("Service", "tributary-coordinator"),
                 ("StatefulSet", "tributary-coordinator"), ("Deployment", "tributary-worker")]:
        if need not in by:
            fail(f"missing {need[0]} {need[1]} (have {sorted(by)})")
    for d in docs:
        if d["kind"] != "Namespace" and d["metadata"].get("namespace") != "tributary":
            fail(f"{d['kind']} {d['metadata']['name']} is not in namespace tributary")
    ports = {p["name"]: p["port"] for p in by[("Service", "tributary-coordinator")]["spec"]["ports"]}
    if ports.get("zmq") != 7400:
        fail(f"the coordinator Service does not expose ZeroMQ on 7400: {ports}")
    for kind, name in [("StatefulSet", "tributary-coordinator"), ("Deployment", "tributary-worker")]:
        spec = by[(kind, name)]["spec"]
        labels = spec["template"]["metadata"]["labels"]
        if any(labels.get(k) != v for k, v in spec["selector"]["matchLabels"].items()):
            fail(f"{name}: selector does not match the pod labels")
        c = spec["template"]["spec"]["containers"][0]
        if c["readinessProbe"]["httpGet"]["path"] != "/readyz" or c["livenessProbe"]["httpGet"]["path"] != "/healthz":
            fail(f"{name}: probes must be /readyz (readiness) and /healthz (liveness)")
        if c["args"][0] not in ("coordinator", "worker"):
            fail(f"{name}: not a tributary command: {c['args']}")
    env = {e["name"]: e.get("value") for e in by[("Deployment", "tributary-worker")]["spec"]["template"]["spec"]["containers"][0]["env"]}
    if env.get("TRIBUTARY_COORDINATOR") != "tcp://tributary-coordinator:7400":
        fail(f"workers must find the coordinator Service through TRIBUTARY_COORDINATOR: {env}")
    conf = by[("ConfigMap", "tributary-config")]["data"].get("cluster.conf")
    if not conf:
        fail("the ConfigMap has no cluster.conf")
    # The optional CURVE Secret: the name the coordinator's (commented) volume refers to.
    secret = yaml.safe_load(open(__file__.rsplit("/tools/", 1)[0] + "/deploy/kubernetes/secret-curve.yaml"))
    if secret.get("kind") != "Secret" or secret["metadata"]["name"] != "tributary-curve" or "coordinator.key" not in secret["stringData"]:
        fail("secret-curve.yaml: expected Secret tributary-curve with coordinator.key")
    open(sys.argv[1], "w").write(conf)
    print(f"ok: {len(docs)} objects")


if __name__ == "__main__":
    main()
