"""Run a case's world, render its logs, write the files and truth.json."""
import gzip
import io
import json
import os
import time as _time

from .engine import Engine, T, LAT, C, M, P, ST, TOK, NB, TAG, KIND, CAUSE
from .formats import iso_utc_ms, Clock

MIN_RESENDS = 5     # a client loops when at least this many resends are in the log


class Case:
    def __init__(self, name, description):
        self.name = name
        self.description = description
        self.world = None
        self.server = None
        self.agents = []
        self.fmt = None
        self.layout = ("single", "access.log")
        self.gzip = False
        self.junk = {}
        self.visible_from = None
        self.config = None
        self.token_state_visible = True
        self.app_visible = True
        self.outages = []       # (start, end) windows that count as outage episodes
        self.rng = None
        self.notes = {}


def _route(path):
    p = path.split("?", 1)[0]
    out = []
    for seg in p.split("/"):
        if seg.isdigit() or (len(seg) >= 16 and any(ch.isdigit() for ch in seg)):
            out.append(":id")
        else:
            out.append(seg)
    return "/".join(out)


def run_case(case):
    eng = Engine(case.server, case.world.t_end)
    for a in case.agents:
        eng.start(a.run())
    return eng.run()


def truth_for(case, evs, shown):
    storms = {}
    for sp in case.world.storms:
        if not sp.decoy:
            storms[sp.sid] = sp
    per = {}
    for i, ev in enumerate(evs):
        tag = ev[TAG]
        if tag is None or tag[0] not in storms:
            continue
        per.setdefault(tag[0], []).append(i)
    episodes = []
    for sid, sp in storms.items():
        idx = per.get(sid, [])
        resends = {}
        for i in idx:
            if evs[i][TAG][2] == 1:
                cid = evs[i][C].cid
                resends[cid] = resends.get(cid, 0) + 1
        loopers = {cid for cid, n in resends.items() if n >= MIN_RESENDS}
        if not loopers:
            continue
        inst = {}
        for i in idx:
            ev = evs[i]
            if ev[C].cid in loopers:
                inst.setdefault(ev[TAG][1], []).append(i)
        starts = []
        for uid, lst in inst.items():
            lst.sort(key=lambda i: evs[i][T])
            for k in range(1, len(lst)):
                if evs[lst[k]][TAG][2] == 1:
                    starts.append(shown[lst[k]])
                    break
        loop_idx = [i for lst in inst.values() for i in lst]
        end = max(shown[i] for i in loop_idx if evs[i][TAG][2] == 1)
        r429 = [shown[i] for i in loop_idx if evs[i][ST] == 429]
        per_min = {}
        for i in loop_idx:
            m = int(shown[i] // 60)
            per_min[m] = per_min.get(m, 0) + 1
        peak = max(per_min.items(), key=lambda kv: (kv[1], -kv[0]))[0] * 60.0
        clients = {}
        for i in loop_idx:
            clients[evs[i][C].cid] = evs[i][C]
        apps = sorted({c.app for c in clients.values()})
        versions = sorted({c.ver for c in clients.values()})
        endpoints = sorted({"%s %s" % (evs[i][M], _route(evs[i][P])) for i in loop_idx})
        state = sp.token_state
        culprit = {"app": apps[0] if len(apps) == 1 else apps, "versions": versions,
                   "token_state": state if case.token_state_visible else None}
        ep = {"kind": "storm", "start": iso_utc_ms(min(starts)), "end": iso_utc_ms(end),
              "peak_minute": iso_utc_ms(peak),
              "mitigation": iso_utc_ms(min(r429)) if r429 else None,
              "culprit": culprit, "looping_clients": len(clients),
              "endpoints": endpoints, "loop_mode": sp.mode, "loop_requests": len(loop_idx)}
        if not case.token_state_visible:
            ep["token_state_visible"] = False
            ep["token_state_true"] = state
        if not case.app_visible:
            ep["app_visible"] = False
        episodes.append(ep)
    for (a, b) in case.outages:
        xs = [shown[i] for i, ev in enumerate(evs) if ev[CAUSE] == "outage" and a <= ev[T] < b]
        if xs:
            episodes.append({"kind": "outage", "start": iso_utc_ms(min(xs)), "end": iso_utc_ms(max(xs))})
    episodes.sort(key=lambda e: e["start"])
    return episodes


# -- junk ----------------------------------------------------------------------

def junk_lines(case, kind, clock, t):
    r = case.rng
    if kind == "blank":
        return [b""]
    if kind == "binary":
        n = r.randint(8, 120)
        return [bytes(r.randrange(256) for _ in range(n)).replace(b"\n", b"\x00")]
    if kind == "nul_run":
        return [b"\x00" * r.choice([512, 1024, 4096])]
    if kind == "tls":
        ip = "%d.%d.%d.%d" % (r.randrange(1, 224), r.randrange(256), r.randrange(256), r.randrange(1, 255))
        body = "".join("\\x%02X" % r.randrange(256) for _ in range(r.randint(12, 40)))
        return [('%s - - [%s] "\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xFC\\x03\\x03%s" 400 157 "-" "-"'
                 % (ip, clock.clf(t), body)).encode()]
    if kind == "empty_req":
        ip = "%d.%d.%d.%d" % (r.randrange(1, 224), r.randrange(256), r.randrange(256), r.randrange(1, 255))
        return [('%s - - [%s] "-" 400 0 "-" "-"' % (ip, clock.clf(t))).encode()]
    if kind == "errorlog":
        g = _time.gmtime(int(t + clock.off))
        return [("%04d/%02d/%02d %02d:%02d:%02d [error] 31#31: *%d upstream timed out (110: Connection timed out) "
                 "while reading response header from upstream, client: 10.0.%d.%d, server: auth.example.com, "
                 'request: "GET /v1/me HTTP/1.1", upstream: "http://10.0.3.7:8080/v1/me", host: "auth.example.com"'
                 % (g.tm_year, g.tm_mon, g.tm_mday, g.tm_hour, g.tm_min, g.tm_sec, r.randrange(10 ** 6),
                    r.randrange(256), r.randrange(256))).encode()]
    if kind == "stack":
        if r.random() < 0.5:
            return [b"Traceback (most recent call last):",
                    b'  File "/app/auth/handlers.py", line 214, in refresh',
                    b"    session = await store.get(token_hash)",
                    b'  File "/app/auth/store.py", line 88, in get',
                    b"    row = await self.pool.fetchrow(Q_SESSION, key)",
                    b"asyncpg.exceptions.ConnectionDoesNotExistError: connection was closed in the middle of operation"]
        return [b"java.net.SocketTimeoutException: Read timed out",
                b"\tat java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:288)",
                b"\tat java.base/java.net.Socket$SocketInputStream.read(Socket.java:1099)",
                b"\tat org.postgresql.core.VisibleBufferedInputStream.readMore(VisibleBufferedInputStream.java:161)",
                b"\t... 58 common frames omitted"]
    if kind == "appmsg":
        msgs = ['"msg":"jwks refreshed","keys":3', '"msg":"db pool stats","idle":4,"in_use":12,"waiting":0',
                '"msg":"config reloaded","source":"consul"', '"msg":"slow query","duration_ms":812,"query":"select_session"']
        return [('{"ts":"%s","level":"info",%s}' % (Clock(0).iso_ms_z(t), r.choice(msgs))).encode()]
    if kind == "docker":
        return [b"auth-api-1  | Listening on :8080"]
    raise ValueError(kind)


def write_file(path, lines, gz):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = b"\n".join(lines) + b"\n"
    if gz:
        bio = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=bio, mtime=0, compresslevel=6) as g:
            g.write(data)
        data = bio.getvalue()
    with open(path, "wb") as f:
        f.write(data)


def build(case, outdir):
    t0 = _time.time()
    evs = run_case(case)
    t_sim = _time.time() - t0
    fmt = case.fmt
    shown = [fmt.shown(ev) for ev in evs]
    vis = case.visible_from
    if vis is not None:
        keep = [i for i in range(len(evs)) if evs[i][T] + evs[i][LAT] >= vis]
        evs = [evs[i] for i in keep]
        shown = [shown[i] for i in keep]
    episodes = truth_for(case, evs, shown)
    # files
    r = case.rng
    kind = case.layout[0]
    files = {}
    order = sorted(range(len(evs)), key=lambda i: (evs[i][T] + evs[i][LAT], i))
    clock = Clock(fmt.tz_off)
    if kind == "single":
        files[case.layout[1]] = order
    elif kind == "nodes":
        names = case.layout[1]
        for n in names:
            files[n] = []
        for i in order:
            files[names[r.randrange(len(names))]].append(i)
    elif kind == "hourly":
        tpl = case.layout[1]
        for i in order:
            g = _time.gmtime(int(evs[i][T] + evs[i][LAT] + fmt.tz_off))
            name = tpl % (g.tm_year, g.tm_mon, g.tm_mday, g.tm_hour)
            files.setdefault(name, []).append(i)
    written = []
    nlines = 0
    for name, idx in files.items():
        lines = []
        for i in idx:
            lines.append(fmt.line(evs[i]).encode("utf-8"))
        # junk: first cut some lines short (never the lines the truth is computed from), then insert
        per10k = case.junk.get("trunc", 0.0)
        for _ in range(int(len(lines) * per10k / 10000.0 + r.random())):
            pos = r.randrange(len(lines)) if lines else 0
            if lines and len(lines[pos]) > 20 and evs[idx[pos]][TAG] is None:
                lines[pos] = lines[pos][:r.randrange(8, len(lines[pos]) - 4)]
        for jk, per10k in case.junk.items():
            if jk in ("trunc", "trunc_tail"):
                continue
            n = int(len(lines) * per10k / 10000.0 + r.random())
            for _ in range(n):
                pos = r.randrange(len(lines) + 1)
                tt = evs[idx[min(pos, len(idx) - 1)]][T] if idx else case.world.t_begin
                lines[pos:pos] = junk_lines(case, jk, clock, tt)
        if case.junk.get("trunc_tail") and lines:
            lines[-1] = lines[-1][:max(5, len(lines[-1]) // 2)]
        nlines += len(lines)
        path = os.path.join(outdir, case.name, name)
        write_file(path, lines, case.gzip or name.endswith(".gz"))
        written.append(name)
    written.sort()
    cfg = None
    if case.config:
        cfg = "authstorm.toml"
        with open(os.path.join(outdir, case.name, cfg), "w") as f:
            f.write(case.config)
    storms = [e for e in episodes if e["kind"] == "storm"]
    truth = {"name": case.name, "description": case.description, "files": written, "config": cfg,
             "episodes": episodes, "expect_no_storm": not storms,
             "format": fmt.name, "lines": nlines, "requests": len(evs),
             "time_range": [iso_utc_ms(min(shown)) if shown else None, iso_utc_ms(max(shown)) if shown else None]}
    if case.notes:
        truth["notes"] = case.notes
    with open(os.path.join(outdir, case.name, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1)
        f.write("\n")
    return {"name": case.name, "lines": nlines, "storms": len(storms), "sim_s": round(t_sim, 2),
            "total_s": round(_time.time() - t0, 2)}
