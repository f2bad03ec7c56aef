"""Client behaviours: desktop, mobile, web, scripts, monitors, scanners,
batch jobs.  Each agent is a generator of requests (see engine.py)."""
import math

from .engine import INF, Req


class StormSpec:
    """A client bug that makes some clients resend failing requests in a loop.

    mode: tight (fixed-ish gap), capped (1 s then 2 s cap), multi (several
    background endpoints loop at once), refresh (POST token with a revoked
    refresh token).  The bug is live from t_trigger (a server change) until
    t_stop (the change is reverted).
    """

    def __init__(self, sid, app, versions, mode, t_trigger, gap=(0.25, 0.8),
                 loop_len=None, t_stop=INF, decoy=False, token_state="expired",
                 relaunch=(60.0, 600.0), reinstall_p=0.15):
        self.sid = sid
        self.app = app
        self.versions = set(versions)
        self.mode = mode
        self.t_trigger = t_trigger
        self.gap_lo, self.gap_hi = gap
        self.loop_len_spec = loop_len   # None: until fixed; (lo, hi, mean): exp clipped
        self.t_stop = t_stop
        self.decoy = decoy
        self.token_state = token_state
        self.relaunch = relaunch
        self.reinstall_p = reinstall_p
        self.t_mitig = None
        self.t_fix = None

    def gap(self, rng, n):
        if self.mode == "capped":
            base = 1.0 if n == 0 else 2.0
            return base * rng.uniform(0.9, 1.1)
        return rng.uniform(self.gap_lo, self.gap_hi)

    def loop_len(self, rng):
        s = self.loop_len_spec
        if s is None:
            return INF
        lo, hi, mean = s
        return min(hi, lo + rng.expovariate(1.0 / mean))


class Profile:
    """Knobs of one app's client behaviour."""

    def __init__(self, **kw):
        self.ttl = 3600.0
        self.proactive = 0.5
        self.timeout = 60.0
        self.p_weekday = 0.85
        self.p_weekend = 0.12
        self.start_mu = 8.7 * 3600
        self.start_sd = 0.6 * 3600
        self.len_mu = 8.0 * 3600
        self.len_sd = 1.2 * 3600
        self.act_mean = 420.0
        self.poll = None            # (method, pathfn, interval)
        self.actions = []           # [(weight, method, pathfn, want)]
        self.open_calls = []        # [(method, pathfn, want)]
        self.sync_eps = []          # [(method, pathfn)]
        self.sync_iv = 1800.0
        self.bg_p = 0.8
        self.sessions_wd = 3.0
        self.sessions_we = 3.5
        self.fg_len = 240.0
        self.fg_gap = 25.0
        self.badcred_p = 0.03
        self.login_path = None
        self.login_want = 200
        self.retries = 3
        self.retry_base = 1.0
        self.retry_cap = 30.0
        for k, v in kw.items():
            if not hasattr(self, k) and k not in ("poll",):
                raise AttributeError(k)
            setattr(self, k, v)
        self._aw = None

    def action(self, rng):
        if self._aw is None:
            tot = 0.0
            cum = []
            for a in self.actions:
                tot += a[0]
                cum.append(tot)
            self._aw = (cum, tot)
        cum, tot = self._aw
        x = rng.random() * tot
        for i, cv in enumerate(cum):
            if x < cv:
                return self.actions[i]
        return self.actions[-1]


class World:
    def __init__(self, rng, t_begin, t_end, tz_off, token_path="/oauth/token"):
        self.rng = rng
        self.t_begin = t_begin
        self.t_end = t_end
        self.tz_off = tz_off
        self.token_path = token_path
        self.storms = []
        self.revocations = []       # (t, app)
        self.upgrades = {}          # app -> function(client) -> new client
        self.herd = []              # outages after which idle clients log in again
        self.expire_all = []        # times at which every token issued before is answered as expired
        self._uid = 0
        self.days = []
        d0 = math.floor((t_begin + tz_off) / 86400.0) * 86400 - tz_off
        d = d0
        while d < t_end:
            wd = int(((d + tz_off) // 86400 + 3) % 7)  # 1970-01-01 was a Thursday (3)
            self.days.append((d, wd))
            d += 86400

    def uid(self):
        self._uid += 1
        return self._uid

    def bug(self, c, t, modes):
        if not c.bugs:
            return None
        for sp in self.storms:
            if sp.sid in c.bugs and sp.mode in modes and sp.t_trigger <= t < sp.t_stop:
                return sp
        return None

    def expired_by_event(self, agent, t):
        for te in self.expire_all:
            if agent.tok_iat < te <= t:
                return True
        return False

    def revoked(self, agent, t):
        for (tr, app) in self.revocations:
            if agent.rt_issued < tr <= t and (app is None or agent.c.app == app):
                return True
        return False


def backoff(rng, n, base=1.0, cap=30.0):
    """Exponential backoff with full jitter."""
    return rng.uniform(0.5, 1.5) * min(cap, base * (2 ** n))


class Agent:
    def __init__(self, w, c, p):
        self.w = w
        self.c = c
        self.p = p
        rng = w.rng
        self.has_rt = rng.random() > 0.04
        self.rt_issued = w.t_begin - rng.uniform(3600, 20 * 86400)
        self.tok_exp = w.t_begin + rng.uniform(-8 * 3600, p.ttl * 0.8)
        self.tok_iat = self.tok_exp - p.ttl
        self.stopped = False    # blocked by the gateway: the app shows "update required"

    def req(self, t, method, path, kind, auth=None, want=200, tag=None):
        return Req(t, self.c, method, path, kind, auth, want, tag)

    # -- auth flows --------------------------------------------------------
    def login(self, t):
        w, p, rng = self.w, self.p, self.w.rng
        path = p.login_path or w.token_path
        n = 0
        while True:
            bad = n == 0 and rng.random() < p.badcred_p
            st, lat = yield self.req(t, "POST", path, "login", "bad" if bad else "ok", p.login_want)
            t += lat
            if st < 400:
                self.tok_exp = t + p.ttl
                self.tok_iat = t
                self.rt_issued = t
                self.has_rt = True
                return t, True
            if st == 426:
                return (yield from self.blocked(t))
            n += 1
            if n >= 4:
                return t, False
            if st in (400, 401):
                t += rng.uniform(5.0, 25.0)     # the user types the password again
            else:
                t += backoff(rng, n, 2.0)

    def blocked(self, t):
        """426 from the gateway: the app asks for an update; the user installs it later."""
        w, rng = self.w, self.w.rng
        up = w.upgrades.get(self.c.app)
        t += rng.uniform(240.0, 3600.0)
        if up is None:
            self.stopped = True
            return t, False
        self.c = up(self.c)
        self.has_rt = False
        return (yield from self.login(t))

    def refresh(self, t):
        """Returns (t, ok).  ok False: no token (gave up)."""
        w, p, rng = self.w, self.p, self.w.rng
        if not self.has_rt:
            return (yield from self.login(t))
        n = 0
        while True:
            revoked = w.revoked(self, t)
            sp = w.bug(self.c, t, ("refresh",)) if revoked else None
            uid = w.uid() if sp else 0
            st, lat = yield self.req(t, "POST", w.token_path, "refresh",
                                     "revoked" if revoked else "ok", 200,
                                     (sp.sid, uid, 0) if sp else None)
            t += lat
            if st == 200:
                self.tok_exp = t + p.ttl
                self.tok_iat = t
                return t, True
            if st == 426:
                return (yield from self.blocked(t))
            if sp is not None:
                t, how = yield from self.loop(sp, t, "POST", w.token_path, "refresh", "revoked", uid)
                if how == "blocked":
                    return (yield from self.blocked(t))
                if how == "ok":
                    self.tok_exp = t + p.ttl
                    self.tok_iat = t
                    return t, True
                if how == "fixed" or rng.random() < sp.reinstall_p:
                    self.has_rt = False
                    return (yield from self.login(t + rng.uniform(5.0, 60.0)))
                # the user kills the app and opens it again later: same stored token
                t += rng.uniform(*sp.relaunch)
                continue
            if st == 400:
                # refresh token revoked: the app shows the login screen
                self.has_rt = False
                return (yield from self.login(t + rng.uniform(8.0, 90.0)))
            n += 1
            if n > 3:
                return t, False
            t += backoff(rng, n, 1.0)

    def loop(self, sp, t, method, path, kind, auth, uid, want=200):
        """The bug: resend the failing request until something stops it."""
        rng = self.w.rng
        stop_at = t + sp.loop_len(rng)
        n = 0
        while True:
            t += sp.gap(rng, n)
            if t >= sp.t_stop:
                return t, "fixed"
            if t >= stop_at:
                return t, "stopped"
            st, lat = yield self.req(t, method, path, kind, auth, want, (sp.sid, uid, 1))
            n += 1
            t += lat
            if st == 426:
                return t, "blocked"
            if st < 400:
                return t, "ok"
            if st == 429:
                t += rng.uniform(0.5, 2.0)    # the HTTP stack honours Retry-After a little

    def call(self, t, method, path, want=200):
        """One API call with token handling and polite retries.  Returns t after it."""
        w, p, rng = self.w, self.p, self.w.rng
        if t >= self.tok_exp or (w.expire_all and w.expired_by_event(self, t)):
            if not self.has_rt:
                t, ok = yield from self.login(t)
                if not ok:
                    return t
            elif rng.random() < p.proactive and not w.bug(self.c, t, ("tight", "capped")):
                t, ok = yield from self.refresh(t + rng.uniform(0.0, 0.05))
                if not ok:
                    return t
                t += rng.uniform(0.005, 0.05)
            else:
                sp = w.bug(self.c, t, ("tight", "capped"))
                uid = w.uid() if sp else 0
                st, lat = yield self.req(t, method, path, "api", "expired", want,
                                         (sp.sid, uid, 0) if sp else None)
                t += lat
                if st == 426:
                    t, ok = yield from self.blocked(t)
                    return t
                if sp is not None:
                    t, how = yield from self.loop(sp, t, method, path, "api", "expired", uid, want)
                    if how == "blocked":
                        t, ok = yield from self.blocked(t)
                        return t
                    if how == "stopped":
                        t += rng.uniform(4.0, 40.0)   # the app restarts: fresh start-up refresh
                    t, ok = yield from self.refresh(t)
                    return t
                if st == 401:
                    t, ok = yield from self.refresh(t + rng.uniform(0.005, 0.15))
                    if not ok:
                        return t
                    t += rng.uniform(0.005, 0.08)
                elif st >= 400:
                    return t
        n = 0
        while True:
            st, lat = yield self.req(t, method, path, "api", "valid", want)
            t += lat
            if st == 426:
                t, ok = yield from self.blocked(t)
                return t
            if st < 429 or st == 501:
                return t
            if n >= p.retries:
                if st >= 500 and w.herd:
                    for (a, b) in w.herd:
                        if a <= t <= b + 60.0:
                            # the app gives up on its session; the user signs in again once it works
                            self.has_rt = False
                            t2 = b + rng.expovariate(1.0 / 45.0)
                            t, ok = yield from self.login(max(t, t2))
                            return t
                return t
            n += 1
            t += backoff(rng, n, p.retry_base, p.retry_cap)

    def warm(self, t):
        pass


def poisson(rng, lam):
    L = math.exp(-lam)
    k = 0
    p = 1.0
    while True:
        p *= rng.random()
        if p <= L:
            return k
        k += 1


class DesktopAgent(Agent):
    """Open all working day: polls, user actions, hourly tokens."""

    def run(self):
        w, p, rng = self.w, self.p, self.w.rng
        t = w.t_begin
        for day0, wd in w.days:
            if self.stopped:
                return
            pa = p.p_weekday if wd < 5 else p.p_weekend
            if rng.random() >= pa:
                continue
            if rng.random() < 0.85:
                start = day0 + rng.gauss(p.start_mu, p.start_sd)
            else:
                start = day0 + rng.uniform(p.start_mu + 3600, p.start_mu + 6 * 3600)
            end = start + max(1800.0, rng.gauss(p.len_mu, p.len_sd))
            if end <= w.t_begin or start >= w.t_end or end <= t:
                continue
            if start < t:
                start = t + rng.uniform(1, 60)
            if start < w.t_begin:
                start = w.t_begin + rng.uniform(0, 300)
            t = start
            for (m, pf, want) in p.open_calls:
                t = yield from self.call(t + rng.uniform(0.01, 0.4), m, pf(rng, t), want)
            poll_iv = p.poll[2] if p.poll else INF
            next_poll = t + rng.uniform(0, poll_iv) if p.poll else INF
            next_act = t + rng.expovariate(1.0 / p.act_mean)
            while not self.stopped:
                tn = min(next_poll, next_act)
                if tn >= end:
                    break
                if tn == next_poll:
                    m, pf = p.poll[0], p.poll[1]
                    t = yield from self.call(tn, m, pf(rng, tn), 200)
                    next_poll = max(t, tn + poll_iv * rng.uniform(0.97, 1.03))
                else:
                    a = p.action(rng)
                    t = yield from self.call(tn, a[1], a[2](rng, tn), a[3])
                    next_act = max(t, tn) + rng.expovariate(1.0 / p.act_mean)


class MobileAgent(Agent):
    """Foreground sessions a few times a day, periodic background sync."""

    def __init__(self, w, c, p, only_at=None):
        super().__init__(w, c, p)
        self.only_at = only_at
        self.bg = w.rng.random() < p.bg_p

    def fg(self, t):
        w, p, rng = self.w, self.p, self.w.rng
        end = t + min(1800.0, 20.0 + rng.expovariate(1.0 / p.fg_len))
        for (m, pf, want) in p.open_calls:
            t = yield from self.call(t + rng.uniform(0.005, 0.25), m, pf(rng, t), want)
        while not self.stopped:
            t += rng.expovariate(1.0 / p.fg_gap)
            if t >= end:
                break
            a = p.action(rng)
            t = yield from self.call(t, a[1], a[2](rng, t), a[3])
        return t

    def sync(self, t):
        """Background sync: the endpoints are called at once."""
        w, p, rng = self.w, self.p, self.w.rng
        eps = [(m, pf(rng, t)) for (m, pf) in p.sync_eps]
        if w.bug(self.c, t, ("tight", "capped")):
            # the shared HTTP interceptor is buggy: the first call loops, the others queue behind it
            for i, (m, path) in enumerate(eps):
                t = yield from self.call(t + i * rng.uniform(0.002, 0.04), m, path, 200)
            return t
        if (t >= self.tok_exp or (w.expire_all and w.expired_by_event(self, t))) and self.has_rt:
            sp = w.bug(self.c, t, ("multi",))
            if sp is not None:
                stop_at = t + sp.loop_len(rng)
                chans = []
                for i, (m, path) in enumerate(eps):
                    chans.append([t + i * rng.uniform(0.002, 0.04), i, w.uid(), 0])
                last = t
                while chans:
                    chans.sort()
                    ch = chans[0]
                    ti, i, uid, n = ch
                    if n > 0 and (ti >= stop_at or ti >= sp.t_stop):
                        chans.pop(0)
                        continue
                    m, path = eps[i]
                    st, lat = yield self.req(ti, m, path, "api", "expired", 200, (sp.sid, uid, 0 if n == 0 else 1))
                    last = max(last, ti + lat)
                    if st == 426:
                        t, ok = yield from self.blocked(last)
                        return t
                    if st < 400:
                        chans.pop(0)
                        continue
                    ch[0] = ti + lat + sp.gap(rng, n) + (rng.uniform(0.5, 2.0) if st == 429 else 0.0)
                    ch[3] = n + 1
                if last >= sp.t_stop:
                    t, ok = yield from self.refresh(last + rng.uniform(0.1, 2.0))
                    return t
                return last
            # well-behaved: every call gets its 401, one refresh, every call resent
            last = t
            sts = []
            for i, (m, path) in enumerate(eps):
                ti = t + i * rng.uniform(0.002, 0.04)
                st, lat = yield self.req(ti, m, path, "api", "expired", 200)
                last = max(last, ti + lat)
                sts.append(st)
            if 426 in sts:
                t, ok = yield from self.blocked(last)
                return t
            if 401 not in sts:
                return last
            t, ok = yield from self.refresh(last + rng.uniform(0.005, 0.1))
            if not ok:
                return t
        for i, (m, path) in enumerate(eps):
            t = yield from self.call(t + i * rng.uniform(0.002, 0.04), m, path, 200)
        return t

    def run(self):
        w, p, rng = self.w, self.p, self.w.rng
        t = w.t_begin
        if self.only_at is not None:
            yield from self.fg(self.only_at)
            return
        for day0, wd in w.days:
            if self.stopped:
                return
            lam = p.sessions_wd if wd < 5 else p.sessions_we
            wake = []
            for _ in range(poisson(rng, lam)):
                x = rng.random()
                if x < 0.3:
                    h = rng.gauss(7.8, 0.6)
                elif x < 0.5:
                    h = rng.gauss(12.5, 0.7)
                elif x < 0.85:
                    h = rng.gauss(19.5, 1.5)
                else:
                    h = rng.uniform(7.0, 23.0)
                wake.append((day0 + h * 3600, 0))
            if self.bg and p.sync_eps:
                x = day0 + rng.uniform(6.5, 8.0) * 3600
                stop = day0 + rng.uniform(21.5, 23.5) * 3600
                while x < stop:
                    wake.append((x, 1))
                    x += p.sync_iv * rng.uniform(0.9, 1.5)
            wake.sort()
            for (x, what) in wake:
                if self.stopped:
                    return
                if x < t or x < w.t_begin or x > w.t_end:
                    continue
                if what == 0:
                    t = yield from self.fg(x)
                else:
                    t = yield from self.sync(x)


class WebAgent(Agent):
    """Browser single-page app: short access tokens refreshed silently."""

    def run(self):
        w, p, rng = self.w, self.p, self.w.rng
        t = w.t_begin
        for day0, wd in w.days:
            pa = p.p_weekday if wd < 5 else p.p_weekend
            if rng.random() >= pa:
                continue
            for _ in range(1 + (rng.random() < 0.5)):
                start = day0 + rng.uniform(8.0, 17.5) * 3600
                if start < t or start < w.t_begin or start > w.t_end:
                    continue
                end = start + rng.uniform(300, 5400)
                t = start
                if not self.has_rt or rng.random() < 0.25:
                    st, lat = yield self.req(t, "GET", "/login?next=%2F", "public", None, 200)
                    t += lat + rng.uniform(6, 40)
                    self.has_rt = False
                    t, ok = yield from self.login(t)
                    if not ok:
                        continue
                while t < end:
                    if t >= self.tok_exp - 30:
                        t, ok = yield from self.refresh(t)
                        if not ok:
                            break
                    a = p.action(rng)
                    t = yield from self.call(t, a[1], a[2](rng, t), a[3])
                    t += rng.expovariate(1.0 / p.act_mean)


class ScriptAgent(Agent):
    """An integration or service account: client credentials, around the clock."""

    def __init__(self, w, c, p, every=(60.0, 300.0), t0=None, t1=None):
        super().__init__(w, c, p)
        self.every = every
        self.t0 = w.t_begin if t0 is None else t0
        self.t1 = w.t_end if t1 is None else t1

    def run(self):
        w, p, rng = self.w, self.p, self.w.rng
        t = self.t0 + rng.uniform(0, self.every[1])
        self.has_rt = False
        while t < self.t1:
            if t >= self.tok_exp - 60:
                t, ok = yield from self.login(t)
            a = p.action(rng)
            t = yield from self.call(t, a[1], a[2](rng, t), a[3])
            t += rng.uniform(*self.every)


class PeriodicAgent(Agent):
    """Monitors, health checks, JWKS fetchers: one request every period."""

    def __init__(self, w, c, p, period, reqs, jitter=0.5, t0=None, t1=None):
        super().__init__(w, c, p)
        self.period = period
        self.reqs = reqs    # [(method, path, kind, auth, want)]
        self.jitter = jitter
        self.t0 = w.t_begin if t0 is None else t0
        self.t1 = w.t_end if t1 is None else t1

    def run(self):
        rng = self.w.rng
        t = self.t0 + rng.uniform(0, self.period)
        k = 0
        while t < self.t1:
            m, path, kind, auth, want = self.reqs[k % len(self.reqs)]
            k += 1
            st, lat = yield self.req(t, m, path, kind, auth, want)
            t += self.period + rng.uniform(-self.jitter, self.jitter)


class ListAgent(Agent):
    """Sends a fixed list of requests at a rate (scanners, scripted bursts)."""

    def __init__(self, w, c, p, t0, items, gap):
        super().__init__(w, c, p)
        self.t0 = t0
        self.items = items  # [(method, path, kind, auth, want)]
        self.gap = gap

    def run(self):
        rng = self.w.rng
        t = self.t0
        for (m, path, kind, auth, want) in self.items:
            st, lat = yield self.req(t, m, path, kind, auth, want)
            t += lat + rng.uniform(*self.gap)


class BatchAgent(Agent):
    """A nightly export: walks ids one after another with a short-lived token."""

    def __init__(self, w, c, p, hour, n_items, gap, pathfn):
        super().__init__(w, c, p)
        self.hour = hour
        self.n_items = n_items
        self.gap = gap
        self.pathfn = pathfn

    def run(self):
        w, p, rng = self.w, self.p, self.w.rng
        for day0, wd in w.days:
            t = day0 + self.hour * 3600 + rng.uniform(0, 90)
            if t < w.t_begin or t > w.t_end:
                continue
            self.has_rt = False
            self.tok_exp = -INF
            for k in range(self.n_items):
                t = yield from self.call(t, "GET", self.pathfn(rng, k), 200)
                t += rng.uniform(*self.gap)


class ShiftAgent(Agent):
    """A call-centre agent: everyone logs in at shift start, tokens last an hour."""

    def __init__(self, w, c, p, shift_start, shift_len):
        super().__init__(w, c, p)
        self.shift_start = shift_start
        self.shift_len = shift_len

    def run(self):
        w, p, rng = self.w, self.p, self.w.rng
        for day0, wd in w.days:
            if wd >= 5:
                continue
            t = day0 + self.shift_start + rng.gauss(-60, 150)
            end = day0 + self.shift_start + self.shift_len + rng.uniform(-300, 600)
            if t < w.t_begin or t > w.t_end:
                continue
            self.has_rt = False
            t, ok = yield from self.login(t)
            for (m, pf, want) in p.open_calls:
                t = yield from self.call(t + rng.uniform(0.01, 0.3), m, pf(rng, t), want)
            while t < end:
                t += rng.expovariate(1.0 / p.act_mean)
                a = p.action(rng)
                t = yield from self.call(t, a[1], a[2](rng, t), a[3])


class BurstAgent(Agent):
    """A script that walks pages as fast as it can (with token handling)."""

    def __init__(self, w, c, p, t0, n, gap, pathfn):
        super().__init__(w, c, p)
        self.t0, self.n, self.gap, self.pathfn = t0, n, gap, pathfn

    def run(self):
        rng = self.w.rng
        t = self.t0
        self.has_rt = False
        for k in range(self.n):
            t = yield from self.call(t, "GET", self.pathfn(rng, k), 200)
            t += rng.uniform(*self.gap)
