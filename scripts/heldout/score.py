#!/usr/bin/env python3
"""Score authstorm against the held-out cases written by generate.py.

usage: score.py OUTDIR [--bin PATH] [--only NAME,...] [--verbose]

For each case: authstorm analyze <files> --json - [--config authstorm.toml],
then the criteria:
  * every truth storm is matched by exactly one reported storm (kind
    "storm", overlapping it in time);
  * its start is not before the truth start and at most 2 minutes after it
    (1 s of rounding allowed either way);
  * the lead culprit's app, versions (as a set) and token state are exact;
    where the log cannot show the token state (token_state_visible false)
    unknown/null is expected; where it cannot show the app, app and
    versions are not checked;
  * no reported storm on a case without a truth storm, and none that
    matches no truth storm (outages and surges may be reported).
The error of the end and whether a mitigation was reported are shown, not
scored.  Exit status 0 only if every case passes.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone

DEFAULT_BIN = "/work/main/target/release/authstorm"
START_LATE_S = 120.0
ROUND_S = 1.0


def ts(s):
    if s is None:
        return None
    if isinstance(s, (int, float)):
        return float(s)
    s = s.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    d = datetime.fromisoformat(s)
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return d.timestamp()


def hm(t):
    if t is None:
        return "?"
    return datetime.fromtimestamp(t, timezone.utc).strftime("%m-%d %H:%M:%S")


def dur(s):
    a = abs(s)
    sign = "-" if s < 0 else "+"
    if a < 90:
        return "%s%ds" % (sign, round(a))
    if a < 5400:
        return "%s%.0fm" % (sign, a / 60)
    return "%s%.1fh" % (sign, a / 3600)


def run_tool(binary, case_dir, truth, timeout=900):
    files = [os.path.join(case_dir, f) for f in truth["files"]]
    cmd = [binary, "analyze"] + files + ["--json", "-", "--no-progress"]
    if truth.get("config"):
        cmd += ["--config", os.path.join(case_dir, truth["config"])]
    waited = 0
    while not os.path.exists(binary):
        if waited >= 600:
            raise RuntimeError("binary %s missing" % binary)
        time.sleep(5)
        waited += 5
    for attempt in range(3):
        t0 = time.time()
        try:
            p = subprocess.run(cmd, capture_output=True, timeout=timeout)
        except OSError:
            # the binary may be being replaced by a rebuild
            time.sleep(5)
            continue
        el = time.time() - t0
        if p.returncode == 0:
            return json.loads(p.stdout), el, None
        err = p.stderr.decode(errors="replace").strip().splitlines()
        msg = "exit %d: %s" % (p.returncode, err[-1] if err else "")
        if p.returncode < 0 or "Text file busy" in msg:
            time.sleep(5)
            continue
        return None, el, msg
    return None, 0.0, "could not run %s" % binary


def culprit_str(c):
    if not c:
        return "no culprit"
    return "%s %s %s" % (c.get("app"), "{%s}" % ",".join(c.get("versions") or []), c.get("token_state"))


def lead(storm):
    cs = storm.get("culprits") or []
    return cs[0] if cs else None


def overlaps(rep, a, b):
    s = ts(rep.get("start"))
    e = ts(rep.get("end"))
    if s is None:
        return False
    if e is None:
        e = float("inf")
    return s <= b and e >= a


def score_case(truth, report):
    """Returns (ok, problems, notes)."""
    problems = []
    notes = []
    reported = [s for s in (report.get("storms") or []) if s.get("kind") == "storm"]
    others = [s for s in (report.get("storms") or []) if s.get("kind") != "storm"]
    truths = [e for e in truth["episodes"] if e["kind"] == "storm"]
    used = set()
    chosen = {}
    for i, e in enumerate(truths):
        a, b = ts(e["start"]), ts(e["end"])
        c = e["culprit"]
        app_visible = e.get("app_visible", True)
        cands = [j for j, r in enumerate(reported) if overlaps(r, a, b)]
        # when truth storms overlap each other, a reported storm belongs to the one whose app it names
        overlapping_truths = [f for k, f in enumerate(truths) if k != i and ts(f["start"]) <= b and ts(f["end"]) >= a]
        if overlapping_truths and app_visible:
            mine = [j for j in cands if (lead(reported[j]) or {}).get("app") == c["app"]]
            theirs = {j for j in cands for f in overlapping_truths
                      if (lead(reported[j]) or {}).get("app") == f["culprit"]["app"]}
            cands = mine if mine else [j for j in cands if j not in theirs]
        label = "storm %s %s" % (c["app"] if app_visible else "(app not visible)", hm(a)[6:])
        if not cands:
            problems.append("%s: missed (no reported storm overlaps %s..%s)" % (label, hm(a), hm(b)[6:]))
            continue
        if len(cands) > 1:
            problems.append("%s: split into %d reported storms (%s)" % (
                label, len(cands), ", ".join("%s-%s" % (hm(ts(reported[j].get("start")))[6:11],
                                                    hm(ts(reported[j].get("end")))[6:11]) for j in cands)))
        j = min(cands, key=lambda j: abs(ts(reported[j]["start"]) - a))
        if j in chosen:
            problems.append("%s: reported as one episode with %s" % (label, chosen[j]))
        chosen[j] = label
        used.update(cands)
        r = reported[j]
        rs = ts(r["start"])
        d = rs - a
        if d < -ROUND_S:
            problems.append("%s: start %s early (%s vs %s)" % (label, dur(d)[1:], hm(rs)[6:], hm(a)[6:]))
        elif d > START_LATE_S + ROUND_S:
            problems.append("%s: start %s late (%s vs %s)" % (label, dur(d)[1:], hm(rs)[6:], hm(a)[6:]))
        L = lead(r)
        if L is None:
            problems.append("%s: no culprit" % label)
        else:
            if app_visible:
                if L.get("app") != c["app"]:
                    problems.append("%s: app %s vs %s" % (label, L.get("app"), c["app"]))
                got = set(L.get("versions") or [])
                want = set(c["versions"])
                if got != want:
                    problems.append("%s: versions {%s} vs {%s}" % (label, ",".join(sorted(got)), ",".join(sorted(want))))
            got_ts = L.get("token_state")
            if e.get("token_state_visible", True):
                if got_ts != c["token_state"]:
                    problems.append("%s: token state %s vs %s" % (label, got_ts, c["token_state"]))
            elif got_ts not in (None, "unknown"):
                problems.append("%s: token state %s where the log cannot show it (want unknown)" % (label, got_ts))
        re_ = ts(r.get("end"))
        notes.append("%s: start %s, end %s, mitigation %s%s" % (
            label, dur(d), dur(re_ - b) if re_ is not None else "open",
            "reported" if r.get("mitigation") else "none",
            "" if (r.get("mitigation") is not None) == (e.get("mitigation") is not None)
            else " (truth: %s)" % ("at " + e["mitigation"][11:19] if e.get("mitigation") else "none")))
    for j, r in enumerate(reported):
        if j in used:
            continue
        problems.append("extra storm %s-%s culprit %s" % (hm(ts(r.get("start"))), hm(ts(r.get("end")))[6:],
                                                          culprit_str(lead(r))))
    if others:
        notes.append("also reported: " + ", ".join("%s %s-%s" % (o.get("kind"), hm(ts(o.get("start")))[6:11],
                                                                   hm(ts(o.get("end")))[6:11]) for o in others))
    return not problems, problems, notes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--bin", default=DEFAULT_BIN)
    ap.add_argument("--only", default="")
    ap.add_argument("--verbose", "-v", action="store_true", help="also print the notes of passing cases")
    a = ap.parse_args()
    names = sorted(n for n in os.listdir(a.outdir) if os.path.exists(os.path.join(a.outdir, n, "truth.json")))
    if a.only:
        names = [n for n in names if any(n.startswith(w) for w in a.only.split(","))]
    if not names:
        print("no cases in %s" % a.outdir)
        return 2
    t0 = time.time()
    n_pass = 0
    storm_cases = storm_pass = quiet_cases = quiet_pass = 0
    tool_s = 0.0
    fails = {}
    for name in names:
        d = os.path.join(a.outdir, name)
        truth = json.load(open(os.path.join(d, "truth.json")))
        has_storm = any(e["kind"] == "storm" for e in truth["episodes"])
        report, el, err = run_tool(a.bin, d, truth)
        tool_s += el
        if report is None:
            ok, problems, notes = False, ["authstorm failed: %s" % err], []
        else:
            ok, problems, notes = score_case(truth, report)
        if has_storm:
            storm_cases += 1
            storm_pass += ok
        else:
            quiet_cases += 1
            quiet_pass += ok
        n_pass += ok
        print("%s %-40s %s" % ("PASS" if ok else "FAIL", name, "; ".join(problems)))
        if notes and (a.verbose or not ok):
            for n in notes:
                print("     %-40s   %s" % ("", n))
        for p in problems:
            key = p.split(": ", 1)[-1].split(" (")[0]
            for k in ("missed", "split", "reported as one", "start", "app", "versions", "token state", "no culprit", "extra storm",
                      "authstorm failed"):
                if key.startswith(k) or p.startswith(k):
                    fails[k] = fails.get(k, 0) + 1
                    break
    print()
    print("summary: %d/%d cases pass (storm cases %d/%d, no-storm cases %d/%d); authstorm %.1fs, total %.1fs" % (
        n_pass, len(names), storm_pass, storm_cases, quiet_pass, quiet_cases, tool_s, time.time() - t0))
    if fails:
        print("problems by kind: " + ", ".join("%s %d" % kv for kv in sorted(fails.items(), key=lambda kv: -kv[1])))
    return 0 if n_pass == len(names) else 1


if __name__ == "__main__":
    sys.exit(main())
