"""User agents, addresses and fleets of clients as real ones look."""
from .engine import Client

ELECTRON = {  # app release line -> (Chrome, Electron) it ships
    0: ("108.0.5359.215", "22.3.27"),
    1: ("114.0.5735.289", "25.9.8"),
    2: ("118.0.5993.159", "27.1.3"),
    3: ("120.0.6099.291", "28.2.10"),
    4: ("124.0.6367.243", "30.1.2"),
}

WIN = "Windows NT 10.0; Win64; x64"
MACS = ["Macintosh; Intel Mac OS X 10_15_7"]
LINUX = "X11; Linux x86_64"


def electron_ua(rng, token, ver, line):
    chrome, electron = ELECTRON[line % len(ELECTRON)]
    x = rng.random()
    plat = WIN if x < 0.68 else (MACS[0] if x < 0.95 else LINUX)
    return ("Mozilla/5.0 (%s) AppleWebKit/537.36 (KHTML, like Gecko) %s/%s Chrome/%s Electron/%s Safari/537.36"
            % (plat, token, ver, chrome, electron))


ANDROID_DEVICES = [
    ("13", "SM-S911B", "TP1A.220624.014"), ("14", "Pixel 7", "UQ1A.240205.004"),
    ("12", "SM-A525F", "SP1A.210812.016"), ("13", "M2101K6G", "TKQ1.221013.002"),
    ("14", "SM-S918B", "UP1A.231005.007"), ("11", "moto g(30)", "RRRS31.Q3-47-24-3"),
    ("13", "CPH2451", "TP1A.220905.001"), ("14", "Pixel 8 Pro", "AP1A.240305.019.A1"),
    ("10", "SM-A205F", "QP1A.190711.020"), ("13", "2201117TY", "TKQ1.221114.001"),
]

IOS = ["17.3.1", "17.4", "16.7.5", "17.2.1", "17.1.2", "16.6.1", "17.4.1"]
CFNETWORK = {"17.3.1": ("1490.0.4", "23.3.0"), "17.4": ("1494.0.7", "23.4.0"),
             "16.7.5": ("1410.0.3", "22.6.0"), "17.2.1": ("1485", "23.2.0"),
             "17.1.2": ("1474", "23.1.0"), "16.6.1": ("1408.0.4", "22.6.0"),
             "17.4.1": ("1494.0.7", "23.4.0")}


def dalvik_ua(rng, token, ver):
    a, model, build = ANDROID_DEVICES[rng.randrange(len(ANDROID_DEVICES))]
    return "Dalvik/2.1.0 (Linux; U; Android %s; %s Build/%s) %s/%s" % (a, model, build, token, ver)


def okhttp_app_ua(rng, token, ver):
    a, model, build = ANDROID_DEVICES[rng.randrange(len(ANDROID_DEVICES))]
    return "%s/%s (Android %s; %s) okhttp/4.11.0" % (token, ver, a, model)


def cfnetwork_ua(rng, token, build):
    ios = IOS[rng.randrange(len(IOS))]
    cf, darwin = CFNETWORK[ios]
    return "%s/%s CFNetwork/%s Darwin/%s" % (token, build, cf, darwin)


def afnetworking_ua(rng, token, ver):
    ios = IOS[rng.randrange(len(IOS))]
    dev = "iPhone" if rng.random() < 0.9 else "iPad"
    scale = "3.00" if rng.random() < 0.7 else "2.00"
    return "%s/%s (%s; iOS %s; Scale/%s)" % (token, ver, dev, ios, scale)


def alamofire_ua(rng, token, ver, bundle, build):
    ios = IOS[rng.randrange(len(IOS))]
    return "%s/%s (%s; build:%s; iOS %s) Alamofire/5.8.1" % (token, ver, bundle, build, ios)


BROWSERS = [
    (0.34, "web", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{c}.0.0.0 Safari/537.36"),
    (0.16, "web", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{c}.0.0.0 Safari/537.36"),
    (0.14, "web", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{s} Safari/605.1.15"),
    (0.12, "web", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{f}.0) Gecko/20100101 Firefox/{f}.0"),
    (0.12, "web", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{c}.0.0.0 Safari/537.36 Edg/{c}.0.2365.{e}"),
    (0.12, "web", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3.1 Mobile/15E148 Safari/604.1"),
]


def browser_ua(rng):
    x = rng.random()
    for (w, app, tpl) in BROWSERS:
        x -= w
        if x < 0:
            break
    return tpl.format(c=rng.choice([120, 121, 122, 123]), s=rng.choice(["2.1", "3", "3.1", "4"]),
                      f=rng.choice([121, 122, 123]), e=rng.choice([57, 80, 96]))


SCRIPT_UAS = ["python-requests/2.31.0", "curl/8.4.0", "Go-http-client/1.1", "axios/1.6.7",
              "Apache-HttpClient/4.5.14 (Java/17.0.9)", "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
              "PostmanRuntime/7.36.3", "okhttp/4.12.0", "Java/11.0.21"]


class Addr:
    """Public addresses: homes, offices behind NAT, carrier NAT pools, IPv6."""

    def __init__(self, rng):
        self.rng = rng
        self.offices = []
        self.cgnat = ["100.%d.%d.%d" % (64 + rng.randrange(60), rng.randrange(256), rng.randrange(1, 255)) for _ in range(0)]
        self.carrier = []
        for _ in range(40):
            self.carrier.append("%d.%d.%d.%d" % (rng.choice([37, 46, 77, 85, 92, 109, 176, 188, 212]),
                                                rng.randrange(256), rng.randrange(256), rng.randrange(1, 255)))
        for _ in range(25):
            self.offices.append("%d.%d.%d.%d" % (rng.choice([62, 80, 81, 193, 194, 195, 203, 217]),
                                                rng.randrange(256), rng.randrange(256), rng.randrange(1, 255)))

    def home(self):
        r = self.rng
        return "%d.%d.%d.%d" % (r.choice([24, 31, 49, 67, 71, 73, 82, 86, 90, 98, 151, 174, 178, 185]),
                                r.randrange(256), r.randrange(256), r.randrange(1, 255))

    def v6(self):
        r = self.rng
        return "2a02:%x:%x:%x:%x:%x:%x:%x" % tuple(r.randrange(65536) for _ in range(7))

    def desktop(self):
        r = self.rng
        if r.random() < 0.35:
            return r.choice(self.offices)
        return self.home()

    def mobile(self):
        r = self.rng
        x = r.random()
        if x < 0.45:
            return r.choice(self.carrier)
        if x < 0.6:
            return self.v6()
        return self.home()


class Fleet:
    def __init__(self, rng):
        self.rng = rng
        self.addr = Addr(rng)
        self.n = 0
        self.clients = []

    def new(self, app, ver, ua, ip, kind, timeout=60.0, user=None, dev=None):
        self.n += 1
        r = self.rng
        if dev is None:
            dev = "%08x-%04x-4%03x-%04x-%012x" % (r.getrandbits(32), r.getrandbits(16), r.getrandbits(12),
                                                  0x8000 | r.getrandbits(14), r.getrandbits(48))
        if user is None:
            user = "u_%07d" % r.randrange(10 ** 7)
        c = Client(self.n, app, ver, ua, ip, dev, user, kind, timeout)
        self.clients.append(c)
        return c


def pick(rng, weights):
    """weights: [(value, weight)]"""
    tot = sum(w for _, w in weights)
    x = rng.random() * tot
    for v, w in weights:
        x -= w
        if x < 0:
            return v
    return weights[-1][0]
