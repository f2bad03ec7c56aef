"""Discrete-event core: client processes (generators) send requests to a
service model with finite capacity, outages, rate limits and version blocks.

A process yields ``Req`` objects with absolute start times and receives
``(status, latency)``.  The engine pops requests in time order, so the
service sees load causally and clients react to what they were answered.
"""
import heapq
from collections import deque

INF = float("inf")

# recorded event tuple indices
T, LAT, C, M, P, ST, TOK, NB, TAG, KIND, CAUSE = range(11)


def frac(n):
    """Deterministic pseudo-random fraction in [0, 1) of an integer."""
    return ((n * 2654435761 + 97) % 4294967296) / 4294967296.0


class Client:
    __slots__ = ("cid", "app", "ver", "ua", "ip", "dev", "user", "kind",
                 "timeout", "bugs", "xff")

    def __init__(self, cid, app, ver, ua, ip, dev, user, kind, timeout=60.0):
        self.cid = cid
        self.app = app          # app name as the user agent shows it
        self.ver = ver          # version as the user agent shows it
        self.ua = ua
        self.ip = ip
        self.dev = dev
        self.user = user
        self.kind = kind        # desktop / mobile / web / script / monitor / scanner
        self.timeout = timeout
        self.bugs = ()
        self.xff = ip


class Req:
    __slots__ = ("t", "c", "method", "path", "kind", "auth", "want", "tag")

    def __init__(self, t, c, method, path, kind, auth=None, want=200, tag=None):
        self.t = t
        self.c = c
        self.method = method
        self.path = path
        self.kind = kind    # api / refresh / login / public / health / scan
        self.auth = auth    # api: valid expired invalid none; refresh: ok revoked; login: ok bad
        self.want = want
        self.tag = tag      # (storm id, loop instance, phase) for truth


class Limiter:
    __slots__ = ("t_on", "ramp", "rate", "burst", "match")

    def __init__(self, t_on, ramp, rate, burst, match=None):
        self.t_on, self.ramp, self.rate, self.burst, self.match = t_on, ramp, rate, burst, match


class Server:
    def __init__(self, rng, cap=INF, slow_share=0.45, window=5.0):
        self.rng = rng
        self.cap = cap              # sustainable requests per second
        self.slow_share = slow_share  # of shed requests, the share that hang (504/499)
        self.window = window
        self.q = deque()
        self.load = 0.0
        self.outages = []           # (start, end, kind) kind: 503 | 504 | 502
        self.limiters = []
        self.blocks = []            # (t_fix, ramp, app, versions)
        self.buckets = {}
        self.events = []

    # -- latency / size models -------------------------------------------
    def base_latency(self, kind, status):
        r = self.rng
        if kind == "health":
            return r.uniform(0.0004, 0.003)
        if kind == "scan":
            return r.uniform(0.0, 0.002)
        if kind == "public":
            return r.uniform(0.001, 0.006)
        if status == 401:
            return r.uniform(0.001, 0.007)
        if kind == "login":
            return min(3.0, r.lognormvariate(-1.4, 0.35))
        if kind == "refresh":
            if status >= 400:
                return r.uniform(0.008, 0.03)
            return min(2.0, r.lognormvariate(-2.8, 0.5))
        return min(4.0, r.lognormvariate(-3.7, 0.8))

    def size(self, kind, status):
        r = self.rng
        if status == 200:
            if kind in ("login", "refresh"):
                return r.randint(1180, 1420)
            if kind == "public":
                return 1872
            if kind == "health":
                return 2 if r.random() < 0.5 else 15
            return int(min(250000, r.lognormvariate(6.6, 1.1)))
        return {201: 96, 204: 0, 302: 0, 304: 0, 400: 84, 401: 61, 403: 79,
                404: 153, 409: 71, 422: 112, 426: 68, 429: 169, 499: 0,
                500: 177, 502: 157, 503: 197, 504: 167}.get(status, 100)

    # -- the request path -------------------------------------------------
    def _push(self, t, w):
        self.q.append((t, w))
        self.load += w

    def handle(self, r):
        t = r.t
        c = r.c
        rng = self.rng
        q = self.q
        lim = t - self.window
        while q and q[0][0] < lim:
            self.load -= q.popleft()[1]
        kind = r.kind
        # minimum-version enforcement at the gateway
        for (tf, ramp, app, vers) in self.blocks:
            if t >= tf and c.app == app and c.ver in vers and t >= tf + ramp * frac(c.cid):
                self._push(t, 0.05)
                return 426, rng.uniform(0.0005, 0.002), "blocked", 68, "block"
        # rate limiting at the edge (limit_req / local rate limit)
        for L in self.limiters:
            if t >= L.t_on and kind not in ("health",):
                if L.match is not None and not L.match(c):
                    continue
                if t < L.t_on + L.ramp * frac(c.cid + 7):
                    continue
                key = c.ip + c.ua
                b = self.buckets.get(key)
                if b is None:
                    b = [L.burst, t]
                    self.buckets[key] = b
                tokens = min(L.burst, b[0] + (t - b[1]) * L.rate)
                b[1] = t
                if tokens < 1.0:
                    b[0] = tokens
                    self._push(t, 0.05)
                    return 429, rng.uniform(0.0, 0.0008), "rl", 169, "rl"
                b[0] = tokens - 1.0
        # upstream outage
        for (a, b, okind) in self.outages:
            if a <= t < b and kind != "scan":
                self._push(t, 0.3)
                if okind == 503:
                    return 503, rng.uniform(0.0, 0.002), None, 197, "outage"
                if okind == 502:
                    return 502, rng.uniform(0.0005, 0.03), None, 157, "outage"
                # upstream hangs: gateway times out, impatient clients hang up first
                if okind == "504e":     # Envoy's default route timeout
                    if c.timeout < 15.0:
                        return 499, c.timeout * rng.uniform(0.99, 1.0), None, 0, "outage"
                    return 504, 15.0 + rng.uniform(0.0, 0.004), None, 24, "outage"
                if c.timeout < 60.0:
                    return 499, c.timeout * rng.uniform(0.99, 1.0), None, 0, "outage"
                return 504, 60.0 + rng.uniform(0.0, 0.004), None, 167, "outage"
        # finite capacity
        w = 0.2 if kind == "health" else (0.1 if kind == "scan" else 1.0)
        self._push(t, w)
        u = self.load / self.window / self.cap
        # normal answer
        if kind == "api":
            a = r.auth
            if a == "valid":
                status, tok = r.want, None
                if status == 200 and rng.random() < 0.0004:
                    status = 500
            elif a == "expired":
                status, tok = 401, "expired"
            elif a == "invalid":
                status, tok = 401, "invalid"
            else:
                status, tok = 401, "missing"
        elif kind == "refresh":
            if r.auth == "revoked":
                status, tok = 400, "revoked"
            else:
                status, tok = 200, None
        elif kind == "login":
            if r.auth == "bad":
                status, tok = 401, "badcreds"
            else:
                status, tok = 200, None
        elif kind == "scan":
            status, tok = r.want, None
        else:
            status, tok = r.want, None
        lat = self.base_latency(kind, status)
        if u > 0.75 and kind not in ("health", "scan"):
            if u > 1.0 and rng.random() < min(0.92, 1.0 - 1.0 / u):
                if rng.random() < self.slow_share:
                    if c.timeout < 60.0:
                        return 499, c.timeout * rng.uniform(0.99, 1.0), None, 0, "overload"
                    return 504, 60.0 + rng.uniform(0.0, 0.004), None, 167, "overload"
                return 503, rng.uniform(0.001, 0.02), None, 197, "overload"
            slow = (u - 0.75) * 4.0
            lat = min(45.0, lat * (1.0 + slow) + rng.uniform(0.0, 0.6) * slow)
            if lat > c.timeout:
                return 499, c.timeout, None, 0, "overload"
        return status, lat, tok, self.size(kind, status), "auth" if tok else "ok"


def hash_key(s):
    h = 2166136261
    for ch in s.encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return h


class Engine:
    def __init__(self, server, t_end):
        self.server = server
        self.t_end = t_end
        self.heap = []
        self.seq = 0

    def start(self, gen):
        try:
            r = next(gen)
        except StopIteration:
            return
        if r.t <= self.t_end:
            self.seq += 1
            heapq.heappush(self.heap, (r.t, self.seq, gen, r))

    def run(self):
        heap = self.heap
        server = self.server
        ev = server.events
        append = ev.append
        t_end = self.t_end
        pop = heapq.heappop
        push = heapq.heappush
        handle = server.handle
        while heap:
            t, _, gen, r = pop(heap)
            status, lat, tok, nb, cause = handle(r)
            append((t, lat, r.c, r.method, r.path, status, tok, nb, r.tag, r.kind, cause))
            try:
                nr = gen.send((status, lat))
            except StopIteration:
                continue
            if nr.t < t:
                nr.t = t
            if nr.t <= t_end:
                self.seq += 1
                push(heap, (nr.t, self.seq, gen, nr))
        return ev
