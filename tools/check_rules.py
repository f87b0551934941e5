#!/usr/bin/env python3
"""Checks deploy/monitoring: the alert rules file's structure (what `promtool check rules` would
refuse first: groups, unique alert names, an expr, a duration, a severity and a summary), and
that the Grafana dashboard is JSON with a PromQL expr per target. Prints the metric names
(tributary_*, process_*) both use, one JSON list, for the test that checks a live cluster serves them.

Usage: tools/check_rules.py RULES.yml DASHBOARD.json
"""
import json
import re
import sys

import yaml

DURATION = re.compile(r"^[0-9]+(ms|s|m|h|d|w|y)$")
METRIC = re.compile(r"\b(?:tributary|process)_[a-z0-9_]+")


def fail(msg):
    print(f"check_rules: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    rules_path, dash_path = sys.argv[1], sys.argv[2]
    names = set()
    doc = yaml.safe_load(open(rules_path))
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list) or not doc["groups"]:
        fail("rules: no groups")
    seen = set()
    for g in doc["groups"]:
        if not g.get("name") or not isinstance(g.get("rules"), list) or not g["rules"]:
            fail(f"rules: group without name or rules: {g}")
        for r in g["rules"]:
            a = r.get("alert")
            if not a or a in seen:
                fail(f"rules: missing or repeated alert name {a!r}")
            seen.add(a)
            if not isinstance(r.get("expr"), str) or not r["expr"].strip():
                fail(f"{a}: no expr")
            if "for" in r and not DURATION.match(str(r["for"])):
                fail(f"{a}: bad duration {r['for']!r}")
            if (r.get("labels") or {}).get("severity") not in ("critical", "warning", "info"):
                fail(f"{a}: severity must be critical, warning or info")
            if not (r.get("annotations") or {}).get("summary"):
                fail(f"{a}: no summary annotation")
            if r["expr"].count("(") != r["expr"].count(")"):
                fail(f"{a}: unbalanced parentheses")
            names.update(METRIC.findall(r["expr"]))
    dash = json.load(open(dash_path))
    panels = dash.get("panels") or fail("dashboard: no panels")
    for p in panels:
        targets = p.get("targets") or fail(f"dashboard: panel {p.get('title')!r} has no targets")
        for t in targets:
            e = t.get("expr") or fail(f"dashboard: panel {p.get('title')!r} has a target without expr")
            if e.count("(") != e.count(")"):
                fail(f"dashboard: unbalanced parentheses in {e!r}")
            names.update(METRIC.findall(e))
    print(json.dumps(sorted(names)))


if __name__ == "__main__":
    main()
