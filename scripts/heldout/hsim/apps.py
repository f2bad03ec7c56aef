"""App catalogue: endpoints, token lifetimes and how each client kind behaves."""
from .agents import Profile


def P(s):
    return lambda rng, t: s


def Pi(fmt, lo=1000, hi=999999):
    return lambda rng, t: fmt % rng.randint(lo, hi)


def Pu(fmt):
    return lambda rng, t: fmt % ("%08x-%04x-4%03x-%04x-%012x" % (rng.getrandbits(32), rng.getrandbits(16),
                                                                 rng.getrandbits(12), 0x8000 | rng.getrandbits(14),
                                                                 rng.getrandbits(48)))


def Ps(fmt):
    return lambda rng, t: fmt % int(t - rng.uniform(30, 900))


def Ph(fmt):
    return lambda rng, t: fmt % rng.getrandbits(64)


def notedeck(**kw):
    base = dict(
        ttl=3600.0, proactive=0.45, timeout=300.0, act_mean=480.0,
        poll=("GET", Ps("/api/v2/notifications?since=%d"), 600.0),
        open_calls=[("GET", P("/api/v2/me"), 200), ("GET", P("/api/v2/workspaces"), 200),
                    ("GET", P("/api/v2/settings"), 200)],
        actions=[(0.35, "GET", Pi("/api/v2/notes/%d"), 200), (0.15, "PUT", Pi("/api/v2/notes/%d"), 204),
                 (0.1, "GET", P("/api/v2/search?q=quarterly+plan"), 200), (0.2, "POST", P("/api/v2/events"), 202),
                 (0.1, "GET", Pi("/api/v2/workspaces/%d/members", 10, 900), 200),
                 (0.05, "GET", Pi("/api/v2/notes/%d/attachments", 1000, 9999), 404),
                 (0.05, "GET", P("/api/v2/me"), 304)],
    )
    base.update(kw)
    return Profile(**base)


def ledgerly(**kw):
    base = dict(
        ttl=1800.0, proactive=0.6, timeout=120.0, act_mean=360.0,
        poll=("GET", Ps("/v3/sync/changes?since=%d"), 300.0),
        open_calls=[("GET", P("/v3/company"), 200), ("GET", P("/v3/accounts?limit=100"), 200)],
        actions=[(0.3, "GET", Pi("/v3/invoices/%d"), 200), (0.1, "POST", P("/v3/invoices"), 201),
                 (0.15, "GET", P("/v3/reports/pnl?period=2024-Q1"), 200), (0.2, "GET", Pi("/v3/contacts/%d"), 200),
                 (0.15, "PATCH", Pi("/v3/invoices/%d"), 200), (0.05, "POST", P("/v3/bank/feeds/refresh"), 202),
                 (0.05, "GET", Pi("/v3/invoices/%d/pdf"), 200)],
    )
    base.update(kw)
    return Profile(**base)


def beacon(**kw):
    base = dict(
        ttl=3600.0, proactive=0.5, timeout=300.0, act_mean=300.0,
        poll=("GET", P("/api/presence"), 300.0),
        open_calls=[("GET", P("/api/users/me"), 200), ("GET", P("/api/channels?limit=200"), 200)],
        actions=[(0.4, "GET", Pi("/api/channels/%d/messages?limit=50", 100, 5000), 200),
                 (0.25, "POST", Pi("/api/channels/%d/messages", 100, 5000), 201),
                 (0.15, "POST", P("/api/typing"), 204), (0.1, "GET", Pi("/api/users/%d", 100, 90000), 200),
                 (0.1, "POST", P("/api/telemetry"), 202)],
    )
    base.update(kw)
    return Profile(**base)


def deskline(**kw):
    base = dict(
        ttl=3600.0, proactive=0.0, timeout=60.0, act_mean=30.0,
        open_calls=[("GET", P("/api/agent/me"), 200), ("GET", P("/api/queues"), 200)],
        actions=[(0.35, "GET", P("/api/queues/inbound/next"), 204), (0.25, "GET", Pi("/api/tickets/%d"), 200),
                 (0.15, "POST", Pi("/api/tickets/%d/notes"), 201), (0.15, "PUT", P("/api/agent/status"), 204),
                 (0.1, "GET", Pi("/api/customers/%d"), 200)],
    )
    base.update(kw)
    return Profile(**base)


def fitly(**kw):
    base = dict(
        ttl=3600.0, proactive=0.25, timeout=15.0, sessions_wd=2.5, sessions_we=3.0, fg_len=200.0, fg_gap=22.0,
        sync_iv=2700.0, bg_p=0.7,
        open_calls=[("GET", P("/v1/profile"), 200), ("GET", P("/v1/feed?limit=20"), 200),
                    ("GET", P("/v1/notifications/unread"), 200)],
        actions=[(0.3, "GET", Pi("/v1/workouts/%d"), 200), (0.1, "POST", P("/v1/workouts"), 201),
                 (0.25, "GET", Ph("/v1/feed?cursor=%x"), 200), (0.15, "POST", P("/v1/events"), 202),
                 (0.1, "GET", P("/v1/challenges"), 200), (0.05, "PUT", P("/v1/profile"), 200),
                 (0.05, "GET", Pi("/v1/users/%d/avatar"), 304)],
        sync_eps=[("GET", Ps("/v1/feed?since=%d")), ("GET", P("/v1/notifications/unread")),
                  ("GET", P("/v1/profile")), ("POST", P("/v1/sync"))],
    )
    base.update(kw)
    return Profile(**base)


def parcelo(**kw):
    base = dict(
        ttl=900.0, proactive=0.6, timeout=60.0, sessions_wd=2.0, sessions_we=1.6, fg_len=90.0, fg_gap=15.0,
        sync_iv=3600.0, bg_p=0.5,
        open_calls=[("GET", P("/api/me"), 200), ("GET", P("/api/shipments?status=active"), 200)],
        actions=[(0.45, "GET", Pi("/api/shipments/%d"), 200), (0.3, "GET", Pi("/api/shipments/%d/events"), 200),
                 (0.1, "POST", P("/api/shipments/track"), 201), (0.1, "POST", Pu("/api/devices/%s/push-token"), 204),
                 (0.05, "GET", Pi("/api/shipments/%d"), 404)],
        sync_eps=[("GET", P("/api/shipments?status=active")), ("GET", P("/api/me"))],
    )
    base.update(kw)
    return Profile(**base)


def trailmix(**kw):
    base = dict(
        ttl=1800.0, proactive=0.3, timeout=10.0, sessions_wd=1.8, sessions_we=3.5, fg_len=300.0, fg_gap=30.0,
        sync_iv=1800.0, bg_p=0.75,
        open_calls=[("GET", P("/api/v1/me"), 200), ("GET", P("/api/v1/routes/nearby?lat=47.37&lon=8.54"), 200)],
        actions=[(0.35, "GET", Pi("/api/v1/routes/%d"), 200), (0.2, "GET", Pi("/api/v1/routes/%d/photos"), 200),
                 (0.15, "POST", P("/api/v1/activities"), 201), (0.2, "GET", P("/api/v1/weather?lat=47.37&lon=8.54"), 200),
                 (0.1, "POST", P("/api/v1/analytics/batch"), 204)],
        sync_eps=[("GET", Ps("/api/v1/activities?since=%d")), ("GET", P("/api/v1/offline/maps/manifest")),
                  ("GET", P("/api/v1/me")), ("POST", P("/api/v1/sync/push"))],
    )
    base.update(kw)
    return Profile(**base)


def webapp(api="notedeck", **kw):
    acts = {
        "notedeck": [(0.5, "GET", Pi("/api/v2/notes/%d"), 200), (0.2, "PUT", Pi("/api/v2/notes/%d"), 204),
                     (0.3, "GET", Ps("/api/v2/notifications?since=%d"), 200)],
        "ledgerly": [(0.5, "GET", Pi("/v3/invoices/%d"), 200), (0.5, "GET", P("/v3/accounts?limit=100"), 200)],
        "fitly": [(0.6, "GET", Ph("/v1/feed?cursor=%x"), 200), (0.4, "GET", Pi("/v1/workouts/%d"), 200)],
        "parcelo": [(0.7, "GET", Pi("/api/shipments/%d"), 200), (0.3, "GET", P("/api/shipments?status=active"), 200)],
        "trailmix": [(1.0, "GET", Pi("/api/v1/routes/%d"), 200)],
        "beacon": [(0.7, "GET", Pi("/api/channels/%d/messages?limit=50", 100, 5000), 200),
                   (0.3, "POST", Pi("/api/channels/%d/messages", 100, 5000), 201)],
        "deskline": [(1.0, "GET", Pi("/api/tickets/%d"), 200)],
    }[api]
    base = dict(ttl=900.0, proactive=1.0, timeout=30.0, act_mean=70.0, p_weekday=0.6, p_weekend=0.1,
                actions=acts, login_path="/login", login_want=302)
    base.update(kw)
    return Profile(**base)


def script(api="notedeck", **kw):
    acts = {
        "notedeck": [(0.7, "GET", P("/api/v2/workspaces"), 200), (0.3, "POST", P("/api/v2/notes"), 201)],
        "ledgerly": [(0.6, "GET", Ps("/v3/sync/changes?since=%d"), 200), (0.4, "POST", P("/v3/invoices"), 201)],
        "fitly": [(1.0, "GET", P("/v1/partners/leaderboard"), 200)],
        "parcelo": [(0.5, "POST", P("/api/shipments/bulk"), 202), (0.5, "GET", P("/api/shipments?status=active"), 200)],
        "trailmix": [(1.0, "GET", P("/api/v1/partners/routes/export"), 200)],
        "beacon": [(1.0, "POST", Pi("/api/channels/%d/messages", 100, 200), 201)],
        "deskline": [(1.0, "GET", P("/api/reports/queue-stats"), 200)],
    }[api]
    base = dict(ttl=3600.0, proactive=1.0, timeout=30.0, actions=acts, badcred_p=0.0)
    base.update(kw)
    return Profile(**base)
