"""A small builder that case definitions use."""
import calendar
import random
import zlib

from .agents import (World, StormSpec, DesktopAgent, MobileAgent, WebAgent, ScriptAgent, PeriodicAgent,
                     ListAgent, BatchAgent, ShiftAgent, BurstAgent, Profile)
from .engine import Server, Limiter, INF
from .fleet import Fleet, electron_ua, browser_ua, pick, SCRIPT_UAS
from .build import Case
from . import apps


def epoch(date, hhmm, tz_off):
    y, m, d = map(int, date.split("-"))
    parts = list(map(int, hhmm.split(":")))
    while len(parts) < 3:
        parts.append(0)
    return calendar.timegm((y, m, d, parts[0], parts[1], parts[2])) - tz_off


class Ctx:
    def __init__(self, name, desc, seed, quick, date, tz_h, begin="00:00", days=1.0, hours=None,
                 token_path="/oauth/token"):
        self.rng = random.Random(zlib.crc32(("%s:%s" % (seed, name)).encode()))
        self.quick = quick
        self.tz = int(round(tz_h * 3600))
        self.date = date
        t_begin = epoch(date, begin, self.tz)
        t_end = t_begin + (hours * 3600 if hours is not None else days * 86400)
        self.case = Case(name, desc)
        self.case.rng = self.rng
        self.world = World(self.rng, t_begin, t_end, self.tz, token_path)
        self.server = Server(self.rng)
        self.fleet = Fleet(self.rng)
        self.agents = []
        self.fracs = {}
        self.only = {}
        self.sid = 0

    # -- helpers ---------------------------------------------------------
    def n(self, full, quick):
        return quick if self.quick else full

    def at(self, day, hhmm):
        """Local time on the day'th day after the case date."""
        return epoch(self.date, hhmm, self.tz) + day * 86400

    # -- clients ---------------------------------------------------------
    def desktop(self, token, versions, n, prof, ua_fn=None):
        r = self.rng
        out = []
        for _ in range(n):
            ver, line = pick(r, [((v, l), w) for (v, w, l) in versions])
            ua = ua_fn(r, token, ver) if ua_fn else electron_ua(r, token, ver, line)
            ip = self.fleet.addr.desktop()
            c = self.fleet.new(token, ver, ua, ip, "desktop", prof.timeout)
            self.agents.append(DesktopAgent(self.world, c, prof))
            out.append(c)
        return out

    def mobile(self, token, versions, n, prof, ua_fn, kind_timeout=None, only_at=None):
        r = self.rng
        out = []
        for _ in range(n):
            ver = pick(r, versions)
            ua = ua_fn(r, token, ver)
            c = self.fleet.new(token, ver, ua, self.fleet.addr.mobile(), "mobile", kind_timeout or prof.timeout)
            a = MobileAgent(self.world, c, prof, only_at=only_at(r) if only_at else None)
            self.agents.append(a)
            out.append(a)
        return out

    def web(self, n, api="notedeck", **kw):
        prof = apps.webapp(api, **kw)
        r = self.rng
        for _ in range(n):
            ua = browser_ua(r)
            c = self.fleet.new("web", "browser", ua, self.fleet.addr.desktop(), "web", 30.0)
            self.agents.append(WebAgent(self.world, c, prof))

    def scripts(self, n, api="notedeck", every=(60.0, 300.0)):
        prof = apps.script(api)
        r = self.rng
        for i in range(n):
            ua = SCRIPT_UAS[r.randrange(len(SCRIPT_UAS))]
            app, _, ver = ua.split(" ")[0].partition("/")
            c = self.fleet.new(app, ver, ua, "%d.%d.%d.%d" % (r.choice([3, 18, 34, 35, 52]), r.randrange(256),
                                                             r.randrange(256), r.randrange(1, 255)), "script", 30.0)
            self.agents.append(ScriptAgent(self.world, c, prof, every=every))

    def jwks(self, n, path="/.well-known/jwks.json"):
        r = self.rng
        for i in range(n):
            ua = r.choice(["Go-http-client/2.0", "okhttp/4.12.0", "Java/17.0.9", "python-requests/2.31.0"])
            app, _, ver = ua.partition("/")
            c = self.fleet.new(app, ver, ua, "10.0.%d.%d" % (r.randrange(8), r.randrange(2, 250)), "script", 10.0)
            reqs = [("GET", path, "public", None, 200), ("GET", path, "public", None, 200),
                    ("GET", "/.well-known/openid-configuration", "public", None, 200)]
            self.agents.append(PeriodicAgent(self.world, c, Profile(), r.uniform(280, 900), reqs, jitter=20.0))

    def health(self, ua="ELB-HealthChecker/2.0", path="/health", period=30.0, n=2, ip=None):
        r = self.rng
        for i in range(n):
            app, _, ver = ua.partition("/")
            c = self.fleet.new(app, ver.split(" ")[0], ua, ip or "10.0.%d.%d" % (r.randrange(4), r.randrange(2, 250)),
                               "monitor", 5.0)
            self.agents.append(PeriodicAgent(self.world, c, Profile(), period, [("GET", path, "health", None, 200)],
                                             jitter=0.05))

    def periodic(self, ua, ip, period, reqs, app=None, ver="", t0=None, t1=None, jitter=0.5):
        if app is None:
            app, _, ver = ua.split(" ")[0].partition("/")
        c = self.fleet.new(app, ver, ua, ip, "monitor", 10.0)
        self.agents.append(PeriodicAgent(self.world, c, Profile(), period, reqs, jitter=jitter, t0=t0, t1=t1))
        return c

    # -- incidents -------------------------------------------------------
    def storm(self, app, versions, mode, trigger, token_state="expired", gap=(0.25, 0.8), loop_len=None,
              t_stop=INF, frac=1.0, mitig=None, block=None, upgrade_to=None, revoke=False, decoy=False,
              relaunch=(60.0, 600.0), reinstall_p=0.15, only=None):
        self.sid += 1
        sp = StormSpec(self.sid, app, versions, mode, trigger, gap=gap, loop_len=loop_len, t_stop=t_stop,
                       decoy=decoy, token_state=token_state, relaunch=relaunch, reinstall_p=reinstall_p)
        self.world.storms.append(sp)
        self.fracs[sp.sid] = frac
        self.only[sp.sid] = only
        if revoke:
            self.world.revocations.append((trigger, app))
        if mitig:
            t_on, ramp, rate, burst = mitig
            self.server.limiters.append(Limiter(t_on, ramp, rate, burst))
            sp.t_mitig = t_on
        if block:
            t_fix, ramp = block
            self.server.blocks.append((t_fix, ramp, app, set(versions)))
            sp.t_fix = t_fix
        if upgrade_to:
            fleet = self.fleet

            def up(c, app=app, new=upgrade_to):
                ua = c.ua.replace("%s/%s" % (app, c.ver), "%s/%s" % (app, new))
                return fleet.new(app, new, ua, c.ip, c.kind, c.timeout, user=c.user, dev=c.dev)
            self.world.upgrades[app] = up
        return sp

    def outage(self, a, b, kind, herd=False):
        self.server.outages.append((a, b, kind))
        self.case.outages.append((a, b))
        if herd:
            self.world.herd.append((a, b))

    def clock_step(self, t):
        """The auth service's clock steps forward: every token issued before t is answered as expired."""
        self.world.expire_all.append(t)

    def lone_looper(self, client, trigger, loop_len, gap=(0.4, 1.2), mode="tight"):
        sp = self.storm(client.app, [client.ver], mode, trigger, gap=gap, loop_len=loop_len, decoy=True)
        client.bugs = client.bugs + (sp.sid,)
        return sp

    def burst(self, ua, ip, t0, n, gap, pathfn, api="ledgerly"):
        app, _, ver = ua.split(" ")[0].partition("/")
        c = self.fleet.new(app, ver, ua, ip, "script", 30.0)
        self.agents.append(BurstAgent(self.world, c, apps.script(api), t0, n, gap, pathfn))
        return c

    def add(self, agent_cls, client, prof, *a, **kw):
        self.agents.append(agent_cls(self.world, client, prof, *a, **kw))

    def finish(self, fmt, layout=("single", "access.log"), junk=None, config=None, cap=INF, slow_share=0.45,
               gzip=False, token_state_visible=True, app_visible=True, visible_from=None):
        r = self.rng
        for sp in self.world.storms:
            if sp.decoy:
                continue
            fr = self.fracs[sp.sid]
            only = self.only[sp.sid]
            for c in self.fleet.clients:
                if c.app == sp.app and c.ver in sp.versions and (only is None or only(c)) and r.random() < fr:
                    c.bugs = c.bugs + (sp.sid,)
        self.server.cap = cap
        self.server.slow_share = slow_share
        case = self.case
        case.world = self.world
        case.server = self.server
        case.agents = self.agents
        case.fmt = fmt
        case.layout = layout
        case.junk = junk or {}
        case.config = config
        case.gzip = gzip
        case.token_state_visible = token_state_visible
        case.app_visible = app_visible
        case.visible_from = visible_from
        return case
