"""Log line renderers as real servers write them, and auth-error vocabularies."""
import json
import time as _time

from .engine import T, LAT, C, M, P, ST, TOK, NB, TAG, KIND, CAUSE

MON = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def off_str(off, colon=False):
    sign = "+" if off >= 0 else "-"
    a = abs(off) // 60
    if colon:
        return "%s%02d:%02d" % (sign, a // 60, a % 60)
    return "%s%02d%02d" % (sign, a // 60, a % 60)


class Clock:
    def __init__(self, off):
        self.off = off
        self._clf = {}
        self._iso = {}
        self._isoz = {}

    def clf(self, t):
        s = int(t)
        v = self._clf.get(s)
        if v is None:
            g = _time.gmtime(s + self.off)
            v = "%02d/%s/%04d:%02d:%02d:%02d %s" % (g.tm_mday, MON[g.tm_mon - 1], g.tm_year, g.tm_hour,
                                                    g.tm_min, g.tm_sec, off_str(self.off))
            self._clf[s] = v
        return v

    def iso_off(self, t):
        """nginx $time_iso8601: seconds, local offset."""
        s = int(t)
        v = self._iso.get(s)
        if v is None:
            g = _time.gmtime(s + self.off)
            v = "%04d-%02d-%02dT%02d:%02d:%02d%s" % (g.tm_year, g.tm_mon, g.tm_mday, g.tm_hour, g.tm_min,
                                                     g.tm_sec, off_str(self.off, True))
            self._iso[s] = v
        return v

    def _z(self, s):
        v = self._isoz.get(s)
        if v is None:
            g = _time.gmtime(s)
            v = "%04d-%02d-%02dT%02d:%02d:%02d" % (g.tm_year, g.tm_mon, g.tm_mday, g.tm_hour, g.tm_min, g.tm_sec)
            self._isoz[s] = v
        return v

    def iso_ms_z(self, t):
        ms = int(t * 1000)
        return "%s.%03dZ" % (self._z(ms // 1000), ms % 1000)

    def iso_us_z(self, t):
        us = int(t * 1000000)
        return "%s.%06dZ" % (self._z(us // 1000000), us % 1000000)

    def iso_ms_off(self, t):
        ms = int(t * 1000)
        s = ms // 1000
        g = _time.gmtime(s + self.off)
        return "%04d-%02d-%02dT%02d:%02d:%02d.%03d%s" % (g.tm_year, g.tm_mon, g.tm_mday, g.tm_hour, g.tm_min,
                                                         g.tm_sec, ms % 1000, off_str(self.off, True))


def iso_utc_ms(t):
    ms = int(round(t * 1000))
    g = _time.gmtime(ms // 1000)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (g.tm_year, g.tm_mon, g.tm_mday, g.tm_hour, g.tm_min,
                                                    g.tm_sec, ms % 1000)


# ---------------------------------------------------------------------------
# vocabularies: what an auth service writes for each outcome.
# keys: expired invalid missing revoked badcreds blocked rl ok (authenticated
# success) and None (no auth involved).  A value is a tuple, one per field.


class Vocab:
    def __init__(self, fields, table):
        self.fields = fields
        self.table = table
        self.none = tuple(None for _ in fields)

    def values(self, ev):
        tok = ev[TOK]
        if tok is None:
            if ev[KIND] == "api" and ev[ST] < 400:
                return self.table.get("ok", self.none)
            return self.none
        v = self.table.get(tok, self.none)
        if callable(v):
            return v(ev)
        return v


def V1(field, **kw):
    return Vocab([field], {k: (v,) for k, v in kw.items()})


def vocab_token_expired(field="auth_error"):
    return V1(field, expired="token_expired", invalid="token_invalid", missing="token_missing",
              revoked="invalid_grant", badcreds="invalid_credentials", blocked="unsupported_client_version")


def vocab_rfc6750(f1="auth_error", f2="auth_error_description"):
    return Vocab([f1, f2], {
        "expired": ("invalid_token", "The access token expired"),
        "invalid": ("invalid_token", "The access token is malformed"),
        "missing": (None, None),
        "revoked": ("invalid_grant", "Unknown or invalid refresh token."),
        "badcreds": ("invalid_grant", "Wrong email or password."),
        "blocked": ("unsupported_client", "This version of the app is no longer supported"),
    })


def vocab_jsonwebtoken(field="auth_error"):
    return V1(field, expired="TokenExpiredError: jwt expired", invalid="JsonWebTokenError: invalid signature",
              missing="UnauthorizedError: No authorization token was found", revoked="invalid_grant",
              badcreds="invalid_credentials")


def vocab_www_authenticate(field="auth_error"):
    return V1(field, expired='Bearer realm="api", error="invalid_token", error_description="The access token expired"',
              invalid='Bearer realm="api", error="invalid_token", error_description="The access token is malformed"',
              missing='Bearer realm="api"')


def vocab_aspnet(field="www_auth"):
    def exp(ev):
        t = ev[T] - 60 - (ev[C].cid * 37) % 1800
        g = _time.gmtime(int(t))
        return ('Bearer error="invalid_token", error_description="The token expired at \'%02d/%02d/%04d %02d:%02d:%02d\'"'
                % (g.tm_mon, g.tm_mday, g.tm_year, g.tm_hour, g.tm_min, g.tm_sec),)
    return Vocab([field], {"expired": exp,
                           "invalid": ('Bearer error="invalid_token", error_description="The signature is invalid"',),
                           "missing": ("Bearer",)})


def vocab_spring(field="auth_error"):
    def exp(ev):
        t = ev[T] - 30 - (ev[C].cid * 53) % 2400
        g = _time.gmtime(int(t))
        return ("invalid_token: An error occurred while attempting to decode the Jwt: Jwt expired at "
                "%04d-%02d-%02dT%02d:%02d:%02dZ" % (g.tm_year, g.tm_mon, g.tm_mday, g.tm_hour, g.tm_min, g.tm_sec),)
    return Vocab([field], {"expired": exp, "invalid": ("invalid_token: Signed JWT rejected: Invalid signature",),
                           "missing": ("-",), "revoked": ("invalid_grant",), "badcreds": ("invalid_grant",)})


def vocab_plain(field="token_status"):
    return V1(field, expired="expired", invalid="invalid", missing="missing", revoked="revoked",
              badcreds="bad_credentials", ok="valid")


def vocab_upper(field="auth_result"):
    return V1(field, expired="EXPIRED_TOKEN", invalid="INVALID_TOKEN", missing="NO_TOKEN",
              revoked="REFRESH_TOKEN_REVOKED", badcreds="BAD_CREDENTIALS", ok="OK")


def vocab_firebase(field="error_code"):
    return V1(field, expired="auth/id-token-expired", invalid="auth/argument-error",
              missing="auth/missing-id-token", revoked="INVALID_REFRESH_TOKEN", badcreds="auth/wrong-password")


def vocab_cognito(field="error"):
    return V1(field, expired="NotAuthorizedException: Access Token has expired",
              invalid="NotAuthorizedException: Invalid Access Token",
              missing="NotAuthorizedException: Missing Authentication Token",
              revoked="NotAuthorizedException: Refresh Token has been revoked",
              badcreds="NotAuthorizedException: Incorrect username or password.")


def vocab_keycloak(f1="error_code", f2="error_description"):
    return Vocab([f1, f2], {
        "expired": ("token_expired", "Token is expired"),
        "invalid": ("invalid_token", "Token verification failed"),
        "missing": ("missing_token", None),
        "revoked": ("invalid_grant", "Session not active"),
        "badcreds": ("invalid_grant", "Invalid user credentials"),
    })


def vocab_aad(field="error_code"):
    return V1(field, expired="IDX10223", invalid="IDX10511", missing="IDX10000",
              revoked="AADSTS50173", badcreds="AADSTS50126")


def vocab_none():
    return Vocab([], {})


# ---------------------------------------------------------------------------
# helpers


def ngx_escape(s):
    """nginx's default log escaping: ", \\ and bytes outside 0x20..0x7e as \\xHH."""
    if s.isascii() and '"' not in s and "\\" not in s and s.isprintable():
        return s
    out = []
    for b in s.encode("utf-8"):
        if b == 0x22 or b == 0x5C or b < 0x20 or b > 0x7E:
            out.append("\\x%02X" % b)
        else:
            out.append(chr(b))
    return "".join(out)


def upstream_times(ev):
    """(connect, header, response) as nginx logs them."""
    st, lat, cause = ev[ST], ev[LAT], ev[CAUSE]
    if cause in ("rl", "block") or ev[KIND] == "scan":
        return "-", "-", "-"
    if cause == "outage" and st == 503:
        return "-", "-", "-"
    if st == 504:
        return "0.001", "-", "%.3f" % lat
    if st == 499:
        return "0.000", "-", "%.3f" % lat
    x = max(0.0, lat - 0.001)
    return "0.000", "%.3f" % x, "%.3f" % x


class Fmt:
    end_time = True     # the timestamp written is when the request finished
    res = 1.0
    ext = ".log"

    def __init__(self, tz_off=0):
        self.clock = Clock(tz_off)
        self.tz_off = tz_off

    def shown(self, ev):
        x = ev[T] + ev[LAT] if self.end_time else ev[T]
        if self.res >= 1.0:
            return float(int(x))
        if self.res >= 0.001:
            return int(x * 1000) / 1000.0
        return int(x * 1000000) / 1000000.0


class Combined(Fmt):
    """nginx combined (or Apache combined), optionally with trailing extras."""
    name = "combined"

    def __init__(self, tz_off=0, extras=(), proto="HTTP/1.1", apache=False):
        super().__init__(tz_off)
        self.extras = list(extras)
        self.proto = proto
        if apache:
            self.end_time = False

    def line(self, ev):
        c = ev[C]
        ua = c.ua
        nb = ev[NB]
        s = '%s - - [%s] "%s %s %s" %d %d "-" "%s"' % (
            c.ip, self.clock.clf(self.shown(ev)), ev[M], ngx_escape(ev[P]), self.proto, ev[ST], nb,
            ngx_escape(ua) if ua else "-")
        for x in self.extras:
            s += x(ev)
        return s


class Common(Fmt):
    """Apache common: %h %l %u %t \"%r\" %>s %b (time = when the request arrived)."""
    name = "common"
    end_time = False

    def line(self, ev):
        nb = ev[NB]
        return '%s - - [%s] "%s %s HTTP/1.1" %d %s' % (
            ev[C].ip, self.clock.clf(self.shown(ev)), ev[M], ev[P], ev[ST], nb if nb else "-")


# combined extras -------------------------------------------------------------

def x_rt(key="rt"):
    return lambda ev: " %s=%.3f" % (key, ev[LAT])


def x_amplify():
    def f(ev):
        uc, uh, ur = upstream_times(ev)
        return ' rt=%.3f uct="%s" uht="%s" urt="%s"' % (ev[LAT], uc, uh, ur)
    return f


def x_vocab(vocab, quoted=True, escape=True):
    def f(ev):
        vals = vocab.values(ev)
        out = []
        for k, v in zip(vocab.fields, vals):
            v = "-" if v is None else (ngx_escape(v) if escape else v)
            out.append(' %s="%s"' % (k, v) if quoted else " %s=%s" % (k, v))
        return "".join(out)
    return f


def x_xff():
    return lambda ev: ' "%s"' % (ev[C].xff or "-")


def x_upstream_status():
    def f(ev):
        if ev[CAUSE] in ("rl", "block") or (ev[CAUSE] == "outage" and ev[ST] == 503):
            return ' us="-"'
        if ev[ST] == 499:
            return ' us="-"'
        return ' us="%d"' % ev[ST]
    return f


def x_reqid(rng):
    return lambda ev: " req_id=%032x" % rng.getrandbits(128)


# JSON ------------------------------------------------------------------------

class NginxJson(Fmt):
    """log_format ... escape=json; which keys and whether numbers are quoted vary."""
    name = "json"

    def __init__(self, tz_off=0, time_key="time_iso8601", split_request=False, quote_numbers=True,
                 vocab=None, xff=True, extra=None):
        super().__init__(tz_off)
        self.time_key = time_key
        self.split = split_request
        self.q = quote_numbers
        self.vocab = vocab
        self.xff = xff
        self.extra = extra
        if time_key == "msec":
            self.res = 0.001

    def line(self, ev):
        c = ev[C]
        d = {}
        tk = self.time_key
        ts = self.shown(ev)
        if tk == "time_iso8601":
            d["time_iso8601"] = self.clock.iso_off(ts)
        elif tk == "time_local":
            d["time_local"] = self.clock.clf(ts)
        elif tk == "msec":
            d["msec"] = "%.3f" % ts
        else:
            d[tk] = self.clock.iso_off(ts)
        d["remote_addr"] = c.ip
        d["remote_user"] = ""
        if self.split:
            path = ev[P]
            d["request_method"] = ev[M]
            d["request_uri"] = path
            d["server_protocol"] = "HTTP/1.1"
        else:
            d["request"] = "%s %s HTTP/1.1" % (ev[M], ev[P])
        q = self.q
        d["status"] = str(ev[ST]) if q else ev[ST]
        d["body_bytes_sent"] = str(ev[NB]) if q else ev[NB]
        d["request_time"] = "%.3f" % ev[LAT] if q else round(ev[LAT], 3)
        d["http_referrer"] = ""
        d["http_user_agent"] = c.ua
        if self.xff:
            d["http_x_forwarded_for"] = c.xff or ""
        uc, uh, ur = upstream_times(ev)
        d["upstream_response_time"] = "" if ur == "-" else ur
        if self.vocab is not None:
            for k, v in zip(self.vocab.fields, self.vocab.values(ev)):
                d[k] = "" if v is None else v
        if self.extra:
            self.extra(ev, d)
        return json.dumps(d, separators=(",", ":"), ensure_ascii=False)


class EnvoyJson(Fmt):
    """Istio/Envoy JSON access log (keys sorted as Envoy writes them)."""
    name = "json"
    end_time = False
    res = 0.001

    def __init__(self, rng, authority="auth.example.com", cluster="outbound|8080||auth-api.auth.svc.cluster.local"):
        super().__init__(0)
        self.rng = rng
        self.authority = authority
        self.cluster = cluster
        self.gw = ["10.12.%d.%d" % (rng.randrange(256), rng.randrange(2, 250)) for _ in range(3)]
        self.up = ["10.12.%d.%d:8080" % (rng.randrange(256), rng.randrange(2, 250)) for _ in range(4)]

    def line(self, ev):
        c = ev[C]
        r = self.rng
        st = ev[ST]
        tok = ev[TOK]
        cause = ev[CAUSE]
        flags = "-"
        details = "via_upstream"
        upstream_host = r.choice(self.up)
        ust = str(max(0, int(ev[LAT] * 1000) - 1))
        code = st
        if tok in ("expired", "invalid", "missing") and st == 401:
            details = {"expired": "jwt_authn_access_denied{Jwt_is_expired}",
                       "invalid": "jwt_authn_access_denied{Jwt_verification_fails}",
                       "missing": "jwt_authn_access_denied{Jwt_is_missing}"}[tok]
            upstream_host = None
            ust = None
        elif cause == "rl":
            flags, details, upstream_host, ust = "RL", "local_rate_limited", None, None
        elif cause == "block":
            details, upstream_host, ust = "direct_response", None, None
        elif st == 503 and cause == "outage":
            flags, details, upstream_host, ust = "UH", "no_healthy_upstream", None, None
        elif st == 503:
            flags, details = "UO", "upstream_reset_before_response_started{overflow}"
            ust = None
        elif st == 504:
            flags, details, ust = "UT", "upstream_response_timeout", None
        elif st == 499:
            code, flags, details, ust = 0, "DC", "downstream_remote_disconnect", None
        elif st == 502:
            flags, details, ust = "UF,URX", "upstream_reset_before_response_started{connection_failure}", None
        d = {
            "authority": self.authority,
            "bytes_received": 0 if ev[M] == "GET" else r.randint(80, 700),
            "bytes_sent": ev[NB],
            "connection_termination_details": None,
            "downstream_local_address": "10.12.7.19:8080",
            "downstream_remote_address": "%s:%d" % (self.gw[c.cid % 3], 30000 + (c.cid * 7919) % 30000),
            "duration": int(ev[LAT] * 1000),
            "method": ev[M],
            "path": ev[P],
            "protocol": "HTTP/1.1",
            "request_id": "%08x-%04x-%04x-%04x-%012x" % (r.getrandbits(32), r.getrandbits(16), r.getrandbits(16),
                                                         r.getrandbits(16), r.getrandbits(48)),
            "requested_server_name": "outbound_.8080_._.auth-api.auth.svc.cluster.local",
            "response_code": code,
            "response_code_details": details,
            "response_flags": flags,
            "route_name": "default",
            "start_time": self.clock.iso_ms_z(self.shown(ev)),
            "upstream_cluster": self.cluster,
            "upstream_host": upstream_host,
            "upstream_local_address": None if upstream_host is None else "10.12.7.19:51234",
            "upstream_service_time": ust,
            "upstream_transport_failure_reason": None,
            "user_agent": c.ua,
            "x_forwarded_for": c.xff,
        }
        return json.dumps(d, separators=(",", ":"))


class AppJson(Fmt):
    """Structured request log of an application server (Go/Python style)."""
    name = "json"
    res = 0.000001

    def __init__(self, rng, vocab, service="auth-api", level_key="level", time_key="ts"):
        super().__init__(0)
        self.rng = rng
        self.vocab = vocab
        self.service = service
        self.level_key = level_key
        self.time_key = time_key

    def line(self, ev):
        c = ev[C]
        st = ev[ST]
        lvl = "info" if st < 400 else ("warn" if st < 500 else "error")
        d = {self.time_key: self.clock.iso_us_z(self.shown(ev)), self.level_key: lvl,
             "logger": "http", "msg": "request completed", "method": ev[M], "path": ev[P],
             "status": st, "latency_ms": round(ev[LAT] * 1000, 2), "client_ip": c.ip,
             "user_agent": c.ua, "user_id": c.user if ev[TOK] is None and ev[KIND] != "health" else None,
             "device_id": c.dev if c.kind in ("mobile", "desktop") else None,
             "request_id": "%016x" % self.rng.getrandbits(64)}
        for k, v in zip(self.vocab.fields, self.vocab.values(ev)):
            if v is not None:
                d[k] = v
        return json.dumps(d, separators=(",", ":"))


class PinoHttp(Fmt):
    """pino-http's default request log (Node.js)."""
    name = "json"
    res = 0.001

    def __init__(self, rng, host="auth-api-7d9f8c6b5-x2kqp"):
        super().__init__(0)
        self.rng = rng
        self.host = host
        self.n = 0

    def line(self, ev):
        c = ev[C]
        st = ev[ST]
        self.n += 1
        tok = ev[TOK]
        d = {"level": 30 if st < 400 else (40 if st < 500 else 50), "time": int(self.shown(ev) * 1000),
             "pid": 19, "hostname": self.host,
             "req": {"id": self.n, "method": ev[M], "url": ev[P], "query": {}, "params": {},
                     "headers": {"host": "api.example.com", "user-agent": c.ua, "accept": "application/json",
                                 "x-forwarded-for": c.xff},
                     "remoteAddress": "::ffff:10.0.%d.%d" % (c.cid % 4, 10 + c.cid % 200), "remotePort": 40000 + c.cid % 20000},
             "res": {"statusCode": st, "headers": {"content-type": "application/json; charset=utf-8",
                                                   "content-length": str(ev[NB])}},
             "responseTime": int(ev[LAT] * 1000)}
        if tok in ("expired", "invalid", "missing"):
            msg = {"expired": "jwt expired", "invalid": "invalid signature",
                   "missing": "No authorization token was found"}[tok]
            d["err"] = {"type": "UnauthorizedError", "message": msg,
                        "stack": "UnauthorizedError: %s\n    at /app/node_modules/express-jwt/dist/index.js:133:35" % msg,
                        "code": "credentials_required" if tok == "missing" else "invalid_token", "status": 401,
                        "inner": {"name": {"expired": "TokenExpiredError", "invalid": "JsonWebTokenError",
                                           "missing": "Error"}[tok], "message": msg}}
            d["msg"] = "request errored"
        elif tok == "revoked":
            d["err"] = {"type": "OAuthError", "message": "invalid_grant", "code": "invalid_grant", "status": 400}
            d["msg"] = "request errored"
        elif st >= 500:
            d["err"] = {"type": "Error", "message": "failed with status code %d" % st}
            d["msg"] = "request errored"
        else:
            d["msg"] = "request completed"
        return json.dumps(d, separators=(",", ":"))


class DatadogJson(Fmt):
    """JSON with Datadog's standard attributes (nested), as a Node/Java service writes it."""
    name = "json"
    res = 0.001

    def __init__(self, rng, vocab, service="identity-api"):
        super().__init__(0)
        self.rng = rng
        self.vocab = vocab
        self.service = service

    def line(self, ev):
        c = ev[C]
        st = ev[ST]
        d = {"timestamp": self.clock.iso_ms_z(self.shown(ev)),
             "status": "info" if st < 400 else ("warn" if st < 500 else "error"),
             "service": self.service, "message": "%s %s %d" % (ev[M], ev[P].split("?")[0], st),
             "http": {"method": ev[M], "url": ev[P], "status_code": st, "useragent": c.ua,
                      "request_id": "%016x" % self.rng.getrandbits(64)},
             "network": {"client": {"ip": c.ip}},
             "duration": int(ev[LAT] * 1e9)}
        if ev[TOK] is None and ev[KIND] == "api":
            d["usr"] = {"id": c.user}
        vals = self.vocab.values(ev)
        if vals and vals[0] is not None:
            kind, _, msg = vals[0].partition(": ")
            d["error"] = {"kind": kind, "message": msg or kind}
        return json.dumps(d, separators=(",", ":"))


class Logfmt(Fmt):
    name = "logfmt"
    res = 0.001

    def __init__(self, tz_off=0, style="gokit", vocab=None):
        super().__init__(tz_off)
        self.style = style
        self.vocab = vocab

    @staticmethod
    def q(v):
        v = str(v)
        if v == "" or any(ch in v for ch in ' ="'):
            return '"%s"' % v.replace("\\", "\\\\").replace('"', '\\"')
        return v

    def line(self, ev):
        c = ev[C]
        st = ev[ST]
        q = self.q
        lvl = "info" if st < 400 else ("warn" if st < 500 else "error")
        if self.style == "gokit":
            parts = ["ts=" + self.clock.iso_ms_z(self.shown(ev)), "caller=middleware.go:88", "level=" + lvl,
                     "method=" + ev[M], "path=" + q(ev[P]), "status=%d" % st, "took=%.1fms" % (ev[LAT] * 1000),
                     "ip=" + c.ip, "ua=" + q(c.ua)]
            if c.kind in ("mobile", "desktop"):
                parts.append("device_id=" + c.dev)
        else:
            parts = ["time=" + self.clock.iso_ms_off(self.shown(ev)), "level=" + lvl, 'msg="http request"',
                     "method=" + ev[M], "path=" + q(ev[P]), "status=%d" % st, "duration_ms=%.1f" % (ev[LAT] * 1000),
                     "client_ip=" + c.ip, "user_agent=" + q(c.ua)]
        if self.vocab is not None:
            for k, v in zip(self.vocab.fields, self.vocab.values(ev)):
                if v is not None:
                    parts.append("%s=%s" % (k, q(v)))
        return " ".join(parts)
