#!/usr/bin/env python3
"""Print the truth of every case in a generated directory, one line per episode.

usage: summary.py OUTDIR
"""
import json
import os
import sys


def main():
    out = sys.argv[1]
    for name in sorted(os.listdir(out)):
        p = os.path.join(out, name, "truth.json")
        if not os.path.exists(p):
            continue
        t = json.load(open(p))
        head = "%-38s %7d lines %2d file(s)%s" % (name, t["lines"], len(t["files"]), " cfg" if t["config"] else "    ")
        if not t["episodes"]:
            print(head, " no episode")
        for e in t["episodes"]:
            if e["kind"] == "storm":
                c = e["culprit"]
                print(head, " storm  %s..%s %s %s %s loopers=%d loop_req=%d mitig=%s" % (
                    e["start"][5:19], e["end"][11:19], c["app"], ",".join(c["versions"]), c["token_state"],
                    e["looping_clients"], e["loop_requests"], (e["mitigation"] or "-")[11:19]))
            else:
                print(head, " %-6s %s..%s" % (e["kind"], e["start"][5:19], e["end"][11:19]))
            head = " " * len(head)


if __name__ == "__main__":
    main()
