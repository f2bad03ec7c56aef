"""The held-out cases.  Each function builds one case (see ../README.md).

Sizes: the first number of each x.n(full, quick) pair is for the full set
(up to ~300k lines a case), the second for --quick (under ~30k lines).
"""
from .ctx import Ctx
from . import apps
from . import formats as F
from .agents import Profile, BatchAgent, ShiftAgent, ListAgent
from .fleet import dalvik_ua, cfnetwork_ua, afnetworking_ua, alamofire_ua, okhttp_app_ua, electron_ua
from .engine import INF

CASES = []


def case(fn):
    CASES.append((fn.__name__, fn))
    return fn


def tallyo_ua(rng, token, ver):
    build = rng.choice(["19045", "22621", "22631"])
    return "%s/%s (Windows NT 10.0.%s; x64) .NET/8.0.%d" % (token, ver, build, rng.choice([2, 3, 6]))


def android_only(c):
    return "Android" in c.ua


def ios_only(c):
    return "iOS" in c.ua or "Darwin" in c.ua


# app versions: (version, weight, Electron release line) for desktops, (version, weight) for phones
NOTEDECK = [("3.5.2", 0.30, 4), ("3.5.1", 0.16, 4), ("3.4.0", 0.14, 3), ("3.3.4", 0.10, 3),
            ("3.1.2", 0.17, 2), ("3.1.0", 0.13, 2)]
LEDGERLY = [("2025.1.0", 0.35, 4), ("2024.12.1", 0.25, 4), ("2024.11.3", 0.15, 3), ("2024.11.2", 0.15, 3),
            ("2024.9.0", 0.10, 2)]
BEACON = [("24.2.1", 0.55, 3), ("24.2.0", 0.30, 3), ("24.1.4", 0.15, 2)]
CREWBOARD = [("12.0.0", 0.30, 4), ("11.6.1", 0.30, 3), ("11.5.0", 0.25, 3), ("11.4.2", 0.15, 2)]
TALLYO = [("6.14.0", 0.35, 0), ("6.13.2", 0.25, 0), ("6.12.4", 0.15, 0), ("6.12.3", 0.10, 0), ("6.11.0", 0.15, 0)]
FITLY_A = [("5.4.0", 0.35), ("5.3.1", 0.22), ("5.3.0", 0.15), ("5.2.7", 0.13), ("5.1.9", 0.15)]
FITLY_I = [("5.4.0", 0.5), ("5.3.1", 0.3), ("5.2.4", 0.1), ("5.2.3", 0.1)]
FITLY_CF = [("5400", 0.45), ("5310", 0.25), ("5300", 0.15), ("5270", 0.15)]
PARCELO_CF = [("830", 0.40), ("824", 0.20), ("815", 0.15), ("812", 0.15), ("798", 0.10)]
PARCELO_I = [("4.1.0", 0.40), ("4.0.2", 0.25), ("3.9.1", 0.15), ("3.9.0", 0.20)]
PARCELO_A = [("8.3.0", 0.5), ("8.2.1", 0.3), ("8.1.0", 0.2)]
TRAILMIX = [("7.3.1", 0.30), ("7.2.0", 0.25), ("7.1.4", 0.20), ("7.0.3", 0.15), ("6.9.8", 0.10)]

JUNK_NGINX = {"trunc": 0.3, "tls": 0.8, "empty_req": 0.8}


def parcelo_android_ua(rng, token, ver):
    return okhttp_app_ua(rng, token, ver)


# ---------------------------------------------------------------------------
# storms
#
# Every storm case has a culprit group (the buggy versions, of which a share
# has the bug) beside the rest of the fleet on other versions.


def without(vers, drop):
    return [v for v in vers if v[0] not in drop]


def only(vers, keep):
    return [v for v in vers if v[0] in keep]


@case
def s01_desktop_tight_loop_overload(seed, quick):
    x = Ctx("s01_desktop_tight_loop_overload",
            "Electron desktop app notedeck 3.1.0/3.1.2 resends an expired-token 401 every 0.3-0.9 s after an "
            "auth-server deploy changes the 401 body (Tue 08:32 CET, the morning login peak); the service "
            "saturates (503/504 for everyone), a rate limit (429) rolls out from 09:20, the gateway forces an "
            "update (426) from 09:50.  nginx combined + rt/uct/uht/urt + auth_error, +0100, two days.",
            seed, quick, "2024-03-11", 1, days=x_days(quick, 2, 1.6))
    bug = ["3.1.0", "3.1.2"]
    x.desktop("notedeck", without(NOTEDECK, bug), x.n(400, 30), apps.notedeck())
    x.desktop("notedeck", only(NOTEDECK, bug), x.n(100, 34), apps.notedeck())
    x.web(x.n(70, 6))
    x.scripts(x.n(3, 1))
    x.jwks(2)
    x.health(n=x.n(2, 1), period=x.n(30.0, 300.0))
    x.storm("notedeck", bug, "tight", x.at(1, "08:32"), gap=(0.3, 0.9), frac=0.8,
            mitig=(x.at(1, x.n("09:20", "08:55")), 300, 0.2, 20), block=(x.at(1, x.n("09:50", "09:10")), 600),
            upgrade_to="3.5.2")
    fmt = F.Combined(x.tz, [F.x_amplify(), F.x_vocab(F.vocab_token_expired())])
    return x.finish(fmt, junk=JUNK_NGINX, cap=x.n(9.0, 2.0))


def x_days(quick, full, q):
    return q if quick else full


@case
def s02_mobile_multi_endpoint_json(seed, quick):
    x = Ctx("s02_mobile_multi_endpoint_json",
            "Android Fitly 5.3.0/5.3.1 (Dalvik UA): the background sync fires four endpoints at once; after a "
            "gateway change (07:10 IST) each call's expired-token 401 is resent by its own worker, interleaved, "
            "until Android stops the work (<=10 min); it comes back at the next sync.  iOS Fitly (same version "
            "numbers) is fine.  The change is reverted at 09:10.  nginx escape=json with time_iso8601 (+05:30), "
            "RFC 6750 error + error_description fields.",
            seed, quick, "2025-01-21", 5.5, begin=x_days(quick, "00:00", "04:00"), hours=24 if not quick else 10)
    bug = ["5.3.0", "5.3.1"]
    x.mobile("Fitly", without(FITLY_A, bug), x.n(500, 30), apps.fitly(), dalvik_ua)
    x.mobile("Fitly", only(FITLY_A, bug), x.n(130, 30), apps.fitly(bg_p=1.0), dalvik_ua)
    x.mobile("Fitly", FITLY_I, x.n(250, 15), apps.fitly(timeout=60.0), afnetworking_ua)
    x.web(x.n(40, 4), api="fitly")
    x.scripts(2, api="fitly")
    x.jwks(2)
    x.storm("Fitly", bug, "multi", x.at(0, "07:10"), gap=(0.6, 1.6), loop_len=(30.0, 600.0, 90.0),
            t_stop=x.at(0, x.n("09:10", "08:20")), only=android_only)
    fmt = F.NginxJson(x.tz, time_key="time_iso8601", vocab=F.vocab_rfc6750())
    return x.finish(fmt, junk={"trunc": 0.3, "blank": 0.5})


@case
def s03_refresh_storm_invalid_grant(seed, quick):
    x = Ctx("s03_refresh_storm_invalid_grant",
            "iOS Parcelo builds 812 and 815 (CFNetwork UA with build numbers): after every Parcelo refresh token "
            "is revoked (13:05 UTC, key compromise drill), these builds resend POST /oauth/token with the revoked "
            "refresh token (400 invalid_grant) every 0.4-1.2 s; users kill the app and it starts again on the next "
            "launch.  Other builds and Android show the login screen once.  429 from 13:40, forced update (426) "
            "from 14:20.  Application JSON log (ts, level, msg, method, path, status, error_code, "
            "error_description) with stack traces and app messages mixed in.",
            seed, quick, "2024-09-18", 0, begin=x_days(quick, "00:00", "08:00"), hours=24 if not quick else 10)
    bug = ["812", "815"]
    x.mobile("Parcelo", without(PARCELO_CF, bug), x.n(600, 40), apps.parcelo(), cfnetwork_ua)
    x.mobile("Parcelo", only(PARCELO_CF, bug), x.n(220, 45), apps.parcelo(), cfnetwork_ua)
    x.mobile("Parcelo", PARCELO_A, x.n(300, 20), apps.parcelo(timeout=15.0), parcelo_android_ua)
    x.web(x.n(40, 4), api="parcelo")
    x.scripts(x.n(3, 1), api="parcelo")
    x.storm("Parcelo", bug, "refresh", x.at(0, "13:05"), token_state="invalid", gap=(0.4, 1.2),
            frac=0.8, loop_len=(20.0, 900.0, 150.0), revoke=True, relaunch=(60.0, 900.0),
            mitig=(x.at(0, x.n("13:40", "13:30")), 300, 0.2, 20), block=(x.at(0, x.n("14:20", "13:50")), 300),
            upgrade_to="830")
    fmt = F.AppJson(x.rng, F.vocab_rfc6750("error_code", "error_description"))
    return x.finish(fmt, junk={"stack": 1.0, "appmsg": 4.0, "blank": 0.5})


@case
def s04_capped_backoff_logfmt(seed, quick):
    x = Ctx("s04_capped_backoff_logfmt",
            "Ledgerly desktop 2024.11.2/2024.11.3 (CalVer) retries an expired-token 401 after 1 s, then every "
            "2 s (capped backoff), forever, after a token-format change at 09:05 Pacific on Tuesday; reverted "
            "at 10:40.  No overload.  go-kit logfmt (ts in UTC, ua, device_id, auth_result=EXPIRED_TOKEN), two "
            "days.",
            seed, quick, "2025-02-03", -8, days=x_days(quick, 2, 1.6))
    bug = ["2024.11.2", "2024.11.3"]
    x.desktop("Ledgerly", without(LEDGERLY, bug), x.n(330, 25), apps.ledgerly())
    x.desktop("Ledgerly", only(LEDGERLY, bug), x.n(110, 22), apps.ledgerly())
    x.web(x.n(60, 5), api="ledgerly")
    x.scripts(x.n(4, 1), api="ledgerly")
    x.jwks(2)
    x.storm("Ledgerly", bug, "capped", x.at(1, "09:05"), frac=0.6, t_stop=x.at(1, x.n("10:40", "09:50")))
    fmt = F.Logfmt(0, "gokit", F.vocab_upper("auth_result"))
    return x.finish(fmt, junk={"blank": 0.3, "trunc": 0.2})


@case
def s05_self_stopping_churn(seed, quick):
    x = Ctx("s05_self_stopping_churn",
            "Android Trailmix 7.2.0 (app/version okhttp UA) loops on an expired-token 401 (0.4-1.2 s) on "
            "Saturday morning; each loop ends after 1.5-8 min when the app is restarted (a fresh token), and "
            "starts again at the next expiry (30 min tokens) while other clients start theirs.  Reverted at "
            "10:45.  nginx combined + request_time= + token_status=, +0200.",
            seed, quick, "2024-05-18" if quick else "2024-05-17", 2,
            days=x_days(quick, 2, 0.6))
    d = 0 if quick else 1
    bug = ["7.2.0"]
    x.mobile("Trailmix", without(TRAILMIX, bug), x.n(330, 25), apps.trailmix(), okhttp_app_ua)
    x.mobile("Trailmix", only(TRAILMIX, bug), x.n(170, 45), apps.trailmix(), okhttp_app_ua)
    x.web(x.n(30, 3), api="trailmix")
    x.scripts(2, api="trailmix")
    x.jwks(1)
    x.health("kube-probe/1.29", "/healthz", x.n(20.0, 300.0), 1)
    x.storm("Trailmix", bug, "tight", x.at(d, "07:30"), gap=(0.4, 1.2), frac=0.7,
            loop_len=(90.0, 480.0, 150.0), t_stop=x.at(d, x.n("10:45", "09:30")))
    fmt = F.Combined(x.tz, [F.x_rt("request_time"), F.x_vocab(F.vocab_plain("token_status"), quoted=False)])
    return x.finish(fmt, junk=JUNK_NGINX)


@case
def s06_small_cohort_no_overload(seed, quick):
    x = Ctx("s06_small_cohort_no_overload",
            "At 10:15 the auth service's clock steps ahead and every token in use is answered as expired: "
            "every client refreshes once, except the beta channel of the Beacon desktop app (24.3.0-beta, a few "
            "dozen clients), which resends the 401ing request every 0.8-1.6 s; the service has capacity to "
            "spare, nobody else is affected; the beta gets a forced update (426) at 11:10.  nginx combined + request_time + "
            "auth_error=\"TokenExpiredError: jwt expired\" (express-jwt).",
            seed, quick, "2024-11-07", 0, days=1)
    x.desktop("Beacon", BEACON, x.n(900, 60), apps.beacon())
    x.desktop("Beacon", [("24.3.0-beta", 1.0, 4)], x.n(45, 22), apps.beacon())
    x.web(x.n(60, 5), api="beacon")
    x.scripts(x.n(3, 1), api="beacon")
    x.jwks(2)
    x.clock_step(x.at(0, "10:15"))
    x.storm("Beacon", ["24.3.0-beta"], "tight", x.at(0, "10:15"), gap=(0.8, 1.6),
            block=(x.at(0, x.n("11:10", "10:30")), 300), upgrade_to="24.3.1-beta")
    fmt = F.Combined(0, [F.x_rt("request_time"), F.x_vocab(F.vocab_jsonwebtoken())])
    return x.finish(fmt, junk=JUNK_NGINX)


@case
def s07_overload_lb_two_nodes_json(seed, quick):
    x = Ctx("s07_overload_lb_two_nodes_json",
            "iOS Fitly 5.2.3/5.2.4 (Alamofire UA) resends an expired-token 401 every 0.2-0.6 s from 07:50; the "
            "service saturates at the morning peak (Android clients time out as 499, iOS get 504, fast 503s), "
            "429s from 08:25, forced update from 08:55.  Two nginx nodes behind a load balancer (each request to "
            "either), nginx JSON with time_local, request_method/request_uri, unquoted numbers, and the upstream's "
            "WWW-Authenticate value as auth_error.",
            seed, quick, "2025-04-10", 2, begin="05:00", hours=9)
    bug = ["5.2.3", "5.2.4"]
    ios = lambda r, tok, v: alamofire_ua(r, tok, v, "com.fitly.app", v.replace(".", "") + "0")
    x.mobile("Fitly", FITLY_A, x.n(900, 60), apps.fitly(), dalvik_ua)
    x.mobile("Fitly", without(FITLY_I, bug), x.n(450, 30), apps.fitly(timeout=60.0, proactive=0.5), ios)
    x.mobile("Fitly", only(FITLY_I, bug), x.n(260, 60), apps.fitly(timeout=60.0, proactive=0.5), ios)
    x.web(x.n(50, 4), api="fitly")
    x.jwks(2)
    x.health(n=2, period=x.n(15.0, 120.0))
    x.storm("Fitly", bug, "tight", x.at(0, "07:50"), gap=(0.2, 0.6), frac=0.8, only=ios_only,
            loop_len=(120.0, 1200.0, 400.0),
            mitig=(x.at(0, x.n("08:25", "08:15")), 180, 0.25, 20), block=(x.at(0, x.n("08:55", "08:30")), 300),
            upgrade_to="5.4.0")
    fmt = F.NginxJson(x.tz, time_key="time_local", split_request=True, quote_numbers=False,
                      vocab=F.vocab_www_authenticate("auth_error"))
    return x.finish(fmt, layout=("nodes", ["node-a/access.json.log", "node-b/access.json.log"]),
                    junk={"trunc": 0.2}, cap=x.n(12.0, 2.5))


@case
def s08_two_storms_overlapping(seed, quick):
    x = Ctx("s08_two_storms_overlapping",
            "Two storms at once (New York, Monday): notedeck desktop 3.1.2 loops on an expired-token 401 from "
            "08:50; iOS Parcelo build 815 loops on POST /oauth/token with a revoked refresh token (400 "
            "invalid_grant) after a revocation at 09:15.  One rate limit (429) from 09:35, forced updates at "
            "10:05 (notedeck) and 10:25 (Parcelo).  nginx combined + request_time= + auth_error + X-Forwarded-For.",
            seed, quick, "2025-06-02", -4, begin=x_days(quick, "00:00", "06:00"), hours=24 if not quick else 8)
    x.desktop("notedeck", without(NOTEDECK, ["3.1.2"]), x.n(300, 20), apps.notedeck())
    x.desktop("notedeck", only(NOTEDECK, ["3.1.2"]), x.n(70, 26), apps.notedeck())
    x.mobile("Parcelo", without(PARCELO_CF, ["815"]), x.n(450, 30), apps.parcelo(), cfnetwork_ua)
    x.mobile("Parcelo", only(PARCELO_CF, ["815"]), x.n(180, 45), apps.parcelo(), cfnetwork_ua)
    x.web(x.n(40, 4), api="notedeck")
    x.scripts(2, api="parcelo")
    x.jwks(2)
    x.storm("notedeck", ["3.1.2"], "tight", x.at(0, "08:50"), gap=(0.3, 0.9), frac=0.7,
            mitig=(x.at(0, "09:35"), 300, 0.2, 20), block=(x.at(0, x.n("10:05", "09:45")), 300), upgrade_to="3.5.2")
    x.storm("Parcelo", ["815"], "refresh", x.at(0, "09:15"), token_state="invalid", gap=(0.5, 1.5), frac=0.8,
            loop_len=(20.0, 900.0, 180.0), revoke=True, block=(x.at(0, x.n("10:25", "09:55")), 300),
            upgrade_to="830")
    fmt = F.Combined(x.tz, [F.x_rt("request_time"), F.x_vocab(F.vocab_token_expired()), F.x_xff()])
    return x.finish(fmt, junk=JUNK_NGINX)


@case
def s09_two_storms_separate_days(seed, quick):
    x = Ctx("s09_two_storms_separate_days",
            "Monday 14:20: an admin signs out every Ledgerly session in the Keycloak realm; Ledgerly desktop "
            "2024.12.1 resends its refresh (400 invalid_grant \"Session not active\") every 0.5-1 s, users quit "
            "and restart it, until the gateway forces an update at 15:10.  Tuesday 08:05: Android Fitly 5.2.7 "
            "loops on an expired-token 401 (token_expired / \"Token is expired\") until 09:15.  logfmt with time "
            "in +02:00, error_code and error_description, two days.",
            seed, quick, "2025-10-06", 2, days=2, token_path="/realms/ledgerly/protocol/openid-connect/token")
    x.desktop("Ledgerly", LEDGERLY, x.n(220, 8), apps.ledgerly())
    x.desktop("Ledgerly", [("2024.12.1", 1.0, 4)], x.n(50, 12), apps.ledgerly())
    x.mobile("Fitly", without(FITLY_A, ["5.2.7"]), x.n(300, 10), apps.fitly(sync_eps=[]), dalvik_ua)
    x.mobile("Fitly", only(FITLY_A, ["5.2.7"]), x.n(200, 40), apps.fitly(bg_p=0.9), dalvik_ua)
    x.web(x.n(30, 3), api="ledgerly")
    x.scripts(2, api="ledgerly")
    x.storm("Ledgerly", ["2024.12.1"], "refresh", x.at(0, "14:20"), token_state="invalid", gap=(0.5, 1.0),
            frac=0.7, revoke=True, loop_len=(60.0, 900.0, 240.0), relaunch=(120.0, 900.0), reinstall_p=0.3,
            block=(x.at(0, x.n("15:10", "14:50")), 300), upgrade_to="2025.1.0")
    x.storm("Fitly", ["5.2.7"], "tight", x.at(1, "08:05"), gap=(0.3, 0.8), frac=0.7,
            loop_len=(60.0, 900.0, 300.0), block=(x.at(1, x.n("09:15", "08:40")), 300), upgrade_to="5.4.0")
    fmt = F.Logfmt(x.tz, "std", F.vocab_keycloak())
    return x.finish(fmt, junk={"blank": 0.3})


@case
def s10_slow_start_envoy_config(seed, quick):
    x = Ctx("s10_slow_start_envoy_config",
            "crewboard desktop 11.5.0 (Electron) loops on an expired JWT rejected by Envoy's jwt_authn filter "
            "(response_code_details jwt_authn_access_denied{Jwt_is_expired}); each loop ends when the app is "
            "restarted and comes back at the next expiry.  It starts slowly: a handful of early-shift clients "
            "loop from 05:55, most of the cohort joins at the 08:30-09:30 login peak.  Local rate limit (RL, "
            "429) from 09:30, forced update from 10:00.  Istio/Envoy JSON access log (UTC); authstorm.toml maps "
            "token_state and client_ip (x_forwarded_for).",
            seed, quick, "2026-01-13", 1, begin="00:00", hours=24 if not quick else 12)
    bug = ["11.5.0"]
    late = apps.notedeck(proactive=0.5, start_mu=8.9 * 3600, start_sd=0.45 * 3600)
    early = apps.notedeck(proactive=0.5, start_mu=5.7 * 3600, start_sd=0.25 * 3600, p_weekday=1.0)
    x.desktop("crewboard", without(CREWBOARD, bug), x.n(450, 30), late)
    x.desktop("crewboard", without(CREWBOARD, bug), x.n(20, 4), early)
    x.desktop("crewboard", only(CREWBOARD, bug), x.n(70, 16), late)
    x.desktop("crewboard", only(CREWBOARD, bug), x.n(5, 3), early)
    x.web(x.n(50, 4))
    x.scripts(2)
    x.health("Envoy/HC", "/healthz", x.n(10.0, 120.0), 1)
    x.storm("crewboard", bug, "tight", x.at(0, "05:55"), gap=(0.4, 1.2), loop_len=(120.0, 1500.0, 420.0),
            mitig=(x.at(0, x.n("09:30", "09:15")), 300, 0.2, 20), block=(x.at(0, x.n("10:00", "09:30")), 300),
            upgrade_to="12.0.0")
    fmt = F.EnvoyJson(x.rng)
    cfg = ('# Envoy/Istio JSON access log: the JWT filter\'s verdict and the real client address\n'
           '[fields]\ntoken_state = "response_code_details"\nclient_ip = "x_forwarded_for"\n')
    return x.finish(fmt, layout=("single", "istio-proxy.json.log"), config=cfg)


@case
def s11_mid_incident_start(seed, quick):
    x = Ctx("s11_mid_incident_start",
            "The log begins mid-incident: Android Fitly 5.2.7 has been looping on expired-token 401s since 07:40 "
            "but the file starts at 08:15 (rotated).  429 from 08:40, forced update from 09:05.  nginx combined "
            "+ request_time + auth_error with Spring Security's \"Jwt expired at ...\" message, +0100.  The "
            "truth's start is the first resend visible in the file.",
            seed, quick, "2025-02-18", 1, begin="04:00", hours=10)
    bug = ["5.2.7"]
    x.mobile("Fitly", without(FITLY_A, bug), x.n(800, 50), apps.fitly(sync_eps=[]), dalvik_ua)
    x.mobile("Fitly", only(FITLY_A, bug), x.n(220, 45), apps.fitly(bg_p=0.9), dalvik_ua)
    x.web(x.n(30, 3), api="fitly")
    x.jwks(1)
    x.storm("Fitly", bug, "tight", x.at(0, "07:40"), gap=(0.3, 0.9), frac=0.7, loop_len=(60.0, 900.0, 300.0),
            mitig=(x.at(0, x.n("08:40", "08:30")), 300, 0.2, 20), block=(x.at(0, x.n("09:05", "08:45")), 300),
            upgrade_to="5.4.0")
    fmt = F.Combined(x.tz, [F.x_rt("request_time"), F.x_vocab(F.vocab_spring())])
    case = x.finish(fmt, junk=JUNK_NGINX, visible_from=x.at(0, "08:15"))
    case.notes = {"begins_mid_incident": True, "loops_began": "07:40 local, before the file starts"}
    return case


@case
def s12_hourly_rotated_gzip(seed, quick):
    x = Ctx("s12_hourly_rotated_gzip",
            "iOS Fitly builds 5300/5310 (CFNetwork UA: the version is the build number) loop on an expired ID "
            "token (Firebase auth/id-token-expired) every 0.5-1 s from 16:40 EST; 429 from 17:25, forced update "
            "from 17:45.  nginx combined + rt + error_code, -0500, rotated every hour into gzip files "
            "(access.log-YYYYMMDDHH.gz).",
            seed, quick, "2024-11-07", -5, begin="12:00", hours=10)
    bug = ["5300", "5310"]
    x.mobile("Fitly", without(FITLY_CF, bug), x.n(900, 50), apps.fitly(timeout=60.0), cfnetwork_ua)
    x.mobile("Fitly", only(FITLY_CF, bug), x.n(300, 60), apps.fitly(timeout=60.0, bg_p=0.9), cfnetwork_ua)
    x.mobile("Fitly", FITLY_A, x.n(500, 30), apps.fitly(), dalvik_ua)
    x.web(x.n(40, 4), api="fitly")
    x.jwks(2)
    x.storm("Fitly", bug, "tight", x.at(0, "16:40"), gap=(0.5, 1.0), frac=0.7, loop_len=(60.0, 900.0, 300.0),
            mitig=(x.at(0, x.n("17:25", "17:10")), 300, 0.2, 20), block=(x.at(0, x.n("17:45", "17:20")), 300),
            upgrade_to="5400")
    fmt = F.Combined(x.tz, [F.x_rt(), F.x_vocab(F.vocab_firebase())])
    return x.finish(fmt, layout=("hourly", "access.log-%04d%02d%02d%02d.gz"), junk=JUNK_NGINX)


@case
def s13_lb_three_nodes_aspnet_config(seed, quick):
    x = Ctx("s13_lb_three_nodes_aspnet_config",
            "At 09:10 JST the token validator's clock steps ahead and every token in use is answered as expired; "
            "everybody refreshes once except Windows desktop app Tallyo 6.12.3/6.12.4 (.NET HttpClient UA), "
            "which resends the 401ing request every 0.2-0.5 s; ASP.NET Core's WWW-Authenticate header (error_description=\"The token "
            "expired at '...'\") is logged as www_auth=\"...\" with nginx's \\x22 escaping.  Three nginx nodes; "
            "each request goes to any node.  429 from 09:40, forced update from 10:05.  authstorm.toml maps "
            "token_state to www_auth.",
            seed, quick, "2025-09-09", 9, days=1)
    bug = ["6.12.3", "6.12.4"]
    x.desktop("Tallyo", without(TALLYO, bug), x.n(500, 30), apps.ledgerly(ttl=3600.0), ua_fn=tallyo_ua)
    x.desktop("Tallyo", only(TALLYO, bug), x.n(48, 16), apps.ledgerly(ttl=3600.0), ua_fn=tallyo_ua)
    x.web(x.n(50, 4), api="ledgerly")
    x.scripts(3, api="ledgerly")
    x.jwks(2)
    x.health(n=3, period=x.n(30.0, 600.0))
    x.clock_step(x.at(0, "09:10"))
    x.storm("Tallyo", bug, "tight", x.at(0, "09:10"), gap=(0.2, 0.5), frac=0.8,
            mitig=(x.at(0, x.n("09:40", "09:22")), 300, 0.2, 20), block=(x.at(0, x.n("09:55", "09:30")), 300),
            upgrade_to="6.14.0")
    fmt = F.Combined(x.tz, [F.x_rt("rt"), F.x_vocab(F.vocab_aspnet("www_auth")), F.x_xff()])
    cfg = '[fields]\ntoken_state = "www_auth"    # $upstream_http_www_authenticate\n'
    return x.finish(fmt, layout=("nodes", ["web1/access.log", "web2/access.log", "web3/access.log"]),
                    junk=JUNK_NGINX, config=cfg)


@case
def s14_apache_common_invisible(seed, quick):
    x = Ctx("s14_apache_common_invisible",
            "Apache common log (no user agent, no token field).  At 10:05 the auth service's clock steps ahead "
            "and every token in use is answered as expired; notedeck desktop 3.1.0 loops on the 401 every "
            "0.3-0.9 s until a forced update (426) at 10:50.  Neither the app nor the token state is "
            "visible; the truth marks both, and expects unknown (or no) token state rather than a guess.",
            seed, quick, "2025-03-04", -6, days=1)
    x.desktop("notedeck", without(NOTEDECK, ["3.1.0"]), x.n(550, 35), apps.notedeck())
    x.desktop("notedeck", only(NOTEDECK, ["3.1.0"]), x.n(55, 18), apps.notedeck())
    x.web(x.n(60, 5))
    x.scripts(2)
    x.clock_step(x.at(0, "10:05"))
    x.storm("notedeck", ["3.1.0"], "tight", x.at(0, "10:05"), gap=(0.3, 0.9), frac=0.8,
            block=(x.at(0, x.n("10:50", "10:25")), 300), upgrade_to="3.5.2")
    return x.finish(F.Common(x.tz), junk={"trunc": 0.3}, token_state_visible=False, app_visible=False)


@case
def s15_pino_http_config(seed, quick):
    x = Ctx("s15_pino_http_config",
            "iOS Parcelo 3.9.0/3.9.1 (AFNetworking UA) loops on express-jwt's 401 \"jwt expired\" every 0.3-0.8 s "
            "from 12:10 UTC; 429 from 12:45, forced update 13:10.  pino-http's default JSON (epoch-ms time, "
            "req/res objects, err.message); authstorm.toml maps the fields.",
            seed, quick, "2025-06-02", 0, begin="06:00", hours=12)
    bug = ["3.9.0", "3.9.1"]
    x.mobile("Parcelo", without(PARCELO_I, bug), x.n(800, 50), apps.parcelo(ttl=3600.0), afnetworking_ua)
    x.mobile("Parcelo", only(PARCELO_I, bug), x.n(280, 60), apps.parcelo(ttl=3600.0, bg_p=0.9), afnetworking_ua)
    x.web(x.n(40, 4), api="parcelo")
    x.scripts(2, api="parcelo")
    x.storm("Parcelo", bug, "tight", x.at(0, "12:10"), gap=(0.3, 0.8), frac=0.7, loop_len=(60.0, 900.0, 300.0),
            mitig=(x.at(0, x.n("12:45", "12:35")), 300, 0.2, 20), block=(x.at(0, x.n("13:10", "12:45")), 300),
            upgrade_to="4.1.0")
    fmt = F.PinoHttp(x.rng)
    cfg = ('# pino-http defaults\n[fields]\ntimestamp = "time"\nmethod = "req.method"\npath = "req.url"\n'
           'status = "res.statusCode"\nuser_agent = "req.headers.user-agent"\n'
           'client_ip = "req.headers.x-forwarded-for"\ntoken_state = "err.message"\n'
           'latency = "responseTime"\nlatency_unit = "ms"\n')
    return x.finish(fmt, layout=("single", "auth-api.log"), config=cfg, junk={"stack": 0.5})


@case
def s16_datadog_json_config(seed, quick):
    x = Ctx("s16_datadog_json_config",
            "Android Trailmix 7.0.3 (okhttp app UA) loops on Cognito's \"Access Token has expired\" every "
            "0.5-1.5 s from 18:20; 429 from 18:55, forced update from 19:20.  JSON with Datadog's standard "
            "attributes (http.*, network.client.ip, usr.id, error.kind/message; top-level status is the log "
            "level); authstorm.toml maps the fields.",
            seed, quick, "2024-05-14", 2, begin="12:00", hours=12)
    bug = ["7.0.3"]
    prof = apps.trailmix(sync_eps=[], sessions_wd=3.0)
    x.mobile("Trailmix", without(TRAILMIX, bug), x.n(1000, 60), prof, okhttp_app_ua)
    x.mobile("Trailmix", only(TRAILMIX, bug), x.n(260, 60), apps.trailmix(sessions_wd=3.0, bg_p=0.9), okhttp_app_ua)
    x.web(x.n(30, 3), api="trailmix")
    x.scripts(2, api="trailmix")
    x.storm("Trailmix", bug, "tight", x.at(0, "18:20"), gap=(0.5, 1.5), frac=0.7, loop_len=(60.0, 900.0, 300.0),
            mitig=(x.at(0, x.n("18:55", "18:45")), 300, 0.2, 20), block=(x.at(0, x.n("19:20", "18:55")), 300),
            upgrade_to="7.3.1")
    fmt = F.DatadogJson(x.rng, F.vocab_cognito())
    cfg = ('# Datadog standard attributes\n[fields]\ntimestamp = "timestamp"\nstatus = "http.status_code"\n'
           'method = "http.method"\npath = "http.url"\nuser_agent = "http.useragent"\n'
           'client_ip = "network.client.ip"\nuser = "usr.id"\ntoken_state = "error.message"\n')
    return x.finish(fmt, layout=("single", "identity-api.json"), config=cfg)


@case
def s17_combined_plain_invisible_token(seed, quick):
    x = Ctx("s17_combined_plain_invisible_token",
            "nginx's default combined format and nothing else: Android Fitly 5.1.9 (Dalvik UA) loops on 401 "
            "every 0.3-0.8 s from 08:40; the 401s say nothing about why (the token had expired), so the truth "
            "expects unknown (or no) token state.  429 from 09:15, forced update 09:40.",
            seed, quick, "2026-02-23", 1, days=1)
    bug = ["5.1.9"]
    x.mobile("Fitly", without(FITLY_A, bug), x.n(900, 50), apps.fitly(sync_eps=[]), dalvik_ua)
    x.mobile("Fitly", only(FITLY_A, bug), x.n(240, 55), apps.fitly(bg_p=0.9), dalvik_ua)
    x.mobile("Fitly", FITLY_I, x.n(300, 15), apps.fitly(sync_eps=[], timeout=60.0), afnetworking_ua)
    x.web(x.n(40, 4), api="fitly")
    x.storm("Fitly", bug, "tight", x.at(0, "08:40"), gap=(0.3, 0.8), frac=0.7, loop_len=(60.0, 900.0, 300.0),
            mitig=(x.at(0, x.n("09:15", "09:05")), 300, 0.2, 20), block=(x.at(0, x.n("09:40", "09:15")), 300),
            upgrade_to="5.4.0")
    return x.finish(F.Combined(x.tz), junk=JUNK_NGINX, token_state_visible=False)


@case
def s18_aad_refresh_storm_config(seed, quick):
    x = Ctx("s18_aad_refresh_storm_config",
            "After an admin revokes every refresh token (Entra ID, 10:30 CET), Ledgerly desktop 2025.2.1 resends "
            "POST /oauth2/v2.0/token (400, AADSTS50173: grant revoked) every 1-2 s, users quit and restart it, "
            "until the forced update at 11:30.  nginx escape=json with msec timestamps and the upstream's "
            "error_code (AADSTS/IDX codes); authstorm.toml maps the msec time and teaches those codes under [token_states].",
            seed, quick, "2025-03-12", 1, days=1, token_path="/oauth2/v2.0/token")
    vers = [("2025.3.0", 0.4, 4), ("2025.2.2", 0.3, 4), ("2025.1.0", 0.1, 3)]
    x.desktop("Ledgerly", vers, x.n(520, 40), apps.ledgerly())
    x.desktop("Ledgerly", [("2025.2.1", 1.0, 4)], x.n(80, 30), apps.ledgerly())
    x.web(x.n(50, 5), api="ledgerly")
    x.scripts(3, api="ledgerly")
    x.storm("Ledgerly", ["2025.2.1"], "refresh", x.at(0, "10:30"), token_state="invalid", gap=(1.0, 2.0),
            frac=0.8, revoke=True, loop_len=(60.0, 900.0, 300.0), relaunch=(60.0, 600.0), reinstall_p=0.25,
            block=(x.at(0, x.n("11:30", "11:05")), 300), upgrade_to="2025.3.0")
    fmt = F.NginxJson(x.tz, time_key="msec", vocab=F.vocab_aad("error_code"))
    cfg = ('# nginx $msec as the time; Microsoft identity platform codes written by the upstream\n'
           '[fields]\ntimestamp = "msec"\n\n[token_states]\n'
           'expired = ["IDX10223"]\ninvalid = ["AADSTS50173", "IDX10511", "AADSTS50126"]\n')
    return x.finish(fmt, layout=("single", "access.json"), config=cfg)


# ---------------------------------------------------------------------------
# no storm


def everyday(x, scale=1.0, health=True):
    """A mixed fleet on the notedeck/Fitly APIs."""
    x.desktop("notedeck", NOTEDECK, int(x.n(180, 12) * scale), apps.notedeck())
    x.mobile("Fitly", FITLY_A, int(x.n(200, 14) * scale), apps.fitly(), dalvik_ua)
    x.mobile("Fitly", FITLY_I, int(x.n(90, 6) * scale), apps.fitly(timeout=60.0), afnetworking_ua)
    x.web(int(x.n(60, 5) * scale))
    x.scripts(x.n(3, 1))
    x.jwks(2)
    if health:
        x.health(n=1, period=x.n(60.0, 600.0))


@case
def n01_normal_week(seed, quick):
    x = Ctx("n01_normal_week",
            "A normal week (Mon-Sun): morning login peaks on weekdays, quiet weekend, hourly token expiries "
            "answered by one refresh, occasional bad passwords, 404s and 500s.  nginx combined + "
            "rt/uct/uht/urt + auth_error, +0200.",
            seed, quick, "2024-09-16", 2, days=7)
    everyday(x, 0.8)
    return x.finish(F.Combined(x.tz, [F.x_amplify(), F.x_vocab(F.vocab_token_expired())]), junk=JUNK_NGINX)


@case
def n02_normal_json_ist(seed, quick):
    x = Ctx("n02_normal_json_ist",
            "Three normal days (Fri-Sun) of Parcelo (iOS CFNetwork, Android) and web traffic in India: nginx "
            "escape=json with time_iso8601 +05:30, RFC 6750 error fields.",
            seed, quick, "2025-01-17", 5.5, days=3)
    x.mobile("Parcelo", PARCELO_CF, x.n(700, 40), apps.parcelo(), cfnetwork_ua)
    x.mobile("Parcelo", PARCELO_A, x.n(600, 40), apps.parcelo(timeout=15.0), parcelo_android_ua)
    x.web(x.n(80, 6), api="parcelo")
    x.scripts(x.n(3, 1), api="parcelo")
    x.jwks(2)
    return x.finish(F.NginxJson(x.tz, vocab=F.vocab_rfc6750()), junk={"trunc": 0.2})


@case
def n03_outage_backoff_jitter(seed, quick):
    x = Ctx("n03_outage_backoff_jitter",
            "Upstream outage 10:12-10:22 UTC: every request gets 503 from the upstream; clients retry with "
            "exponential backoff and full jitter (1, 2, 4, 8 s ...), give up, and carry on once it is back.  "
            "No herd.  nginx combined + request_time + upstream status + auth_error.",
            seed, quick, "2025-04-10", 0, begin="06:00", hours=12)
    everyday(x, 1.3)
    x.outage(x.at(0, "10:12"), x.at(0, "10:22"), 503)
    fmt = F.Combined(0, [F.x_rt("request_time"), F.x_upstream_status(), F.x_vocab(F.vocab_token_expired())])
    return x.finish(fmt, junk=JUNK_NGINX)


@case
def n04_outage_thundering_herd_envoy(seed, quick):
    x = Ctx("n04_outage_thundering_herd_envoy",
            "Upstream hangs 09:03-09:09 CET: Envoy answers 504 after its 15 s route timeout (UT), Android clients "
            "hang up first (DC); after retries with backoff the apps drop their sessions and, when the service "
            "is back, everyone signs in again at once (a login wave that briefly overloads it).  Istio/Envoy "
            "JSON, no config needed for this case's questions.",
            seed, quick, "2025-11-18", 1, begin="05:00", hours=9)
    everyday(x, 1.2, health=False)
    x.health("Envoy/HC", "/healthz", x.n(10.0, 120.0), 1)
    x.outage(x.at(0, "09:03"), x.at(0, "09:09"), "504e", herd=True)
    return x.finish(F.EnvoyJson(x.rng), layout=("single", "istio-proxy.json.log"), cap=x.n(12.0, 1.5))


@case
def n05_outage_herd_lb_logfmt(seed, quick):
    x = Ctx("n05_outage_herd_lb_logfmt",
            "A database failover 14:40-14:44: the API answers 502 (connection refused) on two nodes; clients "
            "back off with jitter; afterwards a wave of sign-ins.  go-kit logfmt on two nodes.",
            seed, quick, "2024-09-18", 0, begin="08:00", hours=10)
    x.desktop("Ledgerly", LEDGERLY, x.n(420, 40), apps.ledgerly())
    x.web(x.n(60, 6), api="ledgerly")
    x.scripts(3, api="ledgerly")
    x.outage(x.at(0, "14:40"), x.at(0, "14:44"), 502, herd=True)
    return x.finish(F.Logfmt(0, "gokit", F.vocab_upper()), layout=("nodes", ["api-0.log", "api-1.log"]))


@case
def n06_uptime_monitors(seed, quick):
    x = Ctx("n06_uptime_monitors",
            "Normal traffic plus monitors: UptimeRobot and Pingdom from several regions, kube-probe every 10 s, "
            "Datadog synthetics that sign in, and an auth canary that sends an expired token every 30 s from "
            "three regions and expects the 401.  nginx combined + rt + auth_error, two days.",
            seed, quick, "2025-06-02", -4, days=2)
    everyday(x, 0.7, health=False)
    r = x.rng
    for i in range(3):
        x.periodic("Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", "69.162.124.%d" % (224 + i),
                   x.n(60.0, 300.0), [("GET", "/health", "health", None, 200)], app="UptimeRobot", ver="2.0")
    for i in range(2):
        x.periodic("Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)", "178.255.15%d.2" % i, x.n(60.0, 300.0),
                   [("GET", "/.well-known/openid-configuration", "public", None, 200)], app="Pingdom", ver="1.4")
    x.periodic("kube-probe/1.29", "10.0.0.1", x.n(10.0, 120.0), [("GET", "/healthz", "health", None, 200)], jitter=0.01)
    for i in range(3):
        x.periodic("auth-canary/1.4.2", "34.%d.17.%d" % (90 + i, r.randrange(2, 250)), x.n(30.0, 180.0),
                   [("GET", "/api/v2/me", "api", "expired", 401)])
    for i in range(4):
        x.periodic("Datadog/Synthetics", "3.%d.4.%d" % (18 + i, r.randrange(2, 250)), x.n(300.0, 900.0),
                   [("POST", "/oauth/token", "login", "ok", 200), ("GET", "/api/v2/me", "api", "valid", 200)])
    return x.finish(F.Combined(x.tz, [F.x_rt(), F.x_vocab(F.vocab_token_expired())]), junk=JUNK_NGINX)


SCAN_DIRS = ["", "admin", "wp-admin", "api", "backup", "old", "test", "dev", ".git", "cgi-bin", "phpmyadmin",
             "vendor", "static", "uploads", "config", "actuator", "console", "server", "debug", "internal"]
SCAN_FILES = [".env", "config.php", "wp-login.php", "index.php", "xmlrpc.php", "HEAD", "config", "web.config",
              "db.sql", "backup.zip", "dump.sql", "server-status", ".DS_Store", "phpinfo.php", "info.php",
              "settings.py", "credentials.json", "id_rsa", "docker-compose.yml", ".aws/credentials", "env.js",
              "swagger.json", "graphql", "login.action", "shell.php", "eval-stdin.php", "jolokia", "heapdump"]


def scan_items(rng, n):
    items = []
    seen = set()
    while len(items) < n:
        d = rng.choice(SCAN_DIRS)
        f = rng.choice(SCAN_FILES)
        p = "/" + "/".join(s for s in (d, f) if s)
        if rng.random() < 0.5:
            p += rng.choice(["", "?id=1", "?q=%27%20OR%201%3D1--", ".bak", "~", ".old", "?XDEBUG_SESSION_START=phpstorm"])
        if rng.random() < 0.3:
            p = "/" + "%x" % rng.getrandbits(20) + p
        if p in seen:
            continue
        seen.add(p)
        if d == "api":
            items.append(("GET", p, "api", "none", 401))
        elif f in (".git", "HEAD", "server-status") or d == ".git":
            items.append(("GET", p, "scan", None, 403))
        else:
            items.append((rng.choice(["GET", "GET", "GET", "POST", "HEAD"]), p, "scan", None, 404))
    return items


@case
def n07_scanners(seed, quick):
    x = Ctx("n07_scanners",
            "Normal traffic plus vulnerability scanners: one sweeps thousands of distinct paths in 20 minutes "
            "(404/403, 401 on /api/...), others probe now and then (Censys, zgrab, Nuclei).  Plain nginx "
            "combined as shipped.",
            seed, quick, "2024-11-07", 0, days=1)
    everyday(x, 0.8)
    r = x.rng
    c = x.fleet.new("Nuclei", "", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                    "Chrome/87.0.4280.88 Safari/537.36", "45.%d.%d.%d" % (r.randrange(256), r.randrange(256), 7),
                    "scanner", 10.0)
    x.add(ListAgent, c, Profile(), x.at(0, "03:12"), scan_items(r, x.n(6000, 1500)), (0.05, 0.3))
    c2 = x.fleet.new("zgrab", "0.x", "Mozilla/5.0 zgrab/0.x", "167.94.138.%d" % r.randrange(2, 250), "scanner", 10.0)
    x.add(ListAgent, c2, Profile(), x.at(0, "13:40"), scan_items(r, x.n(800, 200)), (0.2, 1.5))
    x.periodic("Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)", "162.142.125.%d" % r.randrange(2, 250),
               3600.0, [("GET", "/", "scan", None, 404), ("GET", "/favicon.ico", "scan", None, 404)], app="web", ver="")
    return x.finish(F.Combined(0), junk=JUNK_NGINX)


@case
def n08_scripted_burst(seed, quick):
    x = Ctx("n08_scripted_burst",
            "Normal Ledgerly traffic plus two scripted bursts from one python-requests client (an export walking "
            "thousands of pages back to back); its token expires once mid-burst: one 401, one refresh.  "
            "Application JSON log.",
            seed, quick, "2025-02-03", -5, begin="06:00", hours=12)
    x.desktop("Ledgerly", LEDGERLY, x.n(350, 30), apps.ledgerly())
    x.web(x.n(40, 4), api="ledgerly")
    x.scripts(2, api="ledgerly")
    ip = "52.14.201.77"
    x.burst("python-requests/2.31.0", ip, x.at(0, "10:02"), x.n(6000, 2500), (0.02, 0.06),
            lambda r, k: "/v3/invoices?page=%d&per_page=100" % (k + 1))
    x.burst("python-requests/2.31.0", ip, x.at(0, "14:30"), x.n(4000, 1500), (0.02, 0.08),
            lambda r, k: "/v3/contacts?page=%d&per_page=100" % (k + 1))
    return x.finish(F.AppJson(x.rng, F.vocab_token_expired("error_code")), junk={"appmsg": 3.0})


@case
def n09_nightly_batch(seed, quick):
    x = Ctx("n09_nightly_batch",
            "Three nights of a batch export at 02:00 (three workers walking account ids for ~40 min with "
            "15-minute tokens: one 401 expired and one refresh per worker every 15 min) on top of normal "
            "Ledgerly traffic.  go-kit logfmt.",
            seed, quick, "2025-10-07", 1, days=3)
    x.desktop("Ledgerly", LEDGERLY, x.n(200, 15), apps.ledgerly())
    x.web(x.n(30, 3), api="ledgerly")
    bp = apps.script("ledgerly", ttl=900.0, proactive=0.0)
    for i in range(3):
        c = x.fleet.new("ledger-export", "2.3.1", "ledger-export/2.3.1 (+batch; worker-%d)" % i, "10.20.0.%d" % (11 + i),
                        "script", 30.0)
        x.add(BatchAgent, c, bp, 2.0, x.n(2400, 500), (0.6, 1.2), lambda r, k: "/v3/export/accounts/%d" % (100000 + k * 7))
    return x.finish(F.Logfmt(0, "gokit", F.vocab_upper()))


@case
def n10_lone_looper(seed, quick):
    x = Ctx("n10_lone_looper",
            "Normal notedeck traffic where single clients misbehave alone: one desktop on an old 3.0.9 build "
            "loops on an expired-token 401 for ~45 minutes (0.4-1.2 s) at each of its hourly token expiries, one "
            "Android phone loops for 20 minutes at a time in the afternoon.  Nobody else does.  nginx combined + rt + auth_error.",
            seed, quick, "2024-03-11", 1, days=1)
    x.desktop("notedeck", NOTEDECK, x.n(420, 40), apps.notedeck())
    x.mobile("Fitly", FITLY_A, x.n(250, 20), apps.fitly(sync_eps=[]), dalvik_ua)
    x.web(x.n(40, 4))
    x.jwks(2)
    old = x.desktop("notedeck", [("3.0.9", 1.0, 1)], 1, apps.notedeck(p_weekday=1.0, start_mu=8.2 * 3600,
                                                                      start_sd=600.0))[0]
    x.lone_looper(old, x.at(0, "08:00"), (2600.0, 2800.0, 10.0), gap=(0.4, 1.2))
    phone = x.mobile("Fitly", [("5.2.7", 1.0)], 1, apps.fitly(sync_eps=[], sessions_wd=12.0, ttl=1200.0), dalvik_ua)[0].c
    x.lone_looper(phone, x.at(0, "14:00"), (1150.0, 1250.0, 10.0), gap=(0.3, 0.9))
    return x.finish(F.Combined(x.tz, [F.x_rt(), F.x_vocab(F.vocab_token_expired())]), junk=JUNK_NGINX)


@case
def n11_token_expiry_wave(seed, quick):
    x = Ctx("n11_token_expiry_wave",
            "A call centre: every deskline agent signs in at the 08:00 shift start, so every access token expires "
            "within minutes of 09:00, 10:00, 11:00 ...; each client gets one 401 (expired), refreshes once and "
            "resends once.  nginx escape=json, time_iso8601 +02:00.",
            seed, quick, "2024-05-14", 2, begin="06:00", hours=10)
    r = x.rng
    prof = apps.deskline()
    for i in range(x.n(260, 40)):
        ver = r.choice(["8.14.2", "8.14.2", "8.13.0"])
        c = x.fleet.new("deskline", ver, electron_ua(r, "deskline", ver, 3), "81.2.69.%d" % r.randrange(2, 250),
                        "desktop", 60.0)
        x.add(ShiftAgent, c, prof, 8 * 3600.0, 8 * 3600.0)
    x.web(x.n(40, 4), api="deskline")
    return x.finish(F.NginxJson(x.tz, vocab=F.vocab_token_expired("auth_error")))


@case
def n12_marketing_surge(seed, quick):
    x = Ctx("n12_marketing_surge",
            "A push campaign at 18:00: five times the usual Fitly users open the app within half an hour, each "
            "at the normal per-client rate (stale tokens: one 401 and a refresh each).  nginx combined + "
            "request_time + auth_error, +0100.",
            seed, quick, "2025-11-20", 1, begin="12:00", hours=12)
    x.mobile("Fitly", FITLY_A, x.n(600, 50), apps.fitly(sync_eps=[]), dalvik_ua)
    x.mobile("Fitly", FITLY_I, x.n(250, 20), apps.fitly(sync_eps=[], timeout=60.0), afnetworking_ua)
    push = x.at(0, "18:00")
    x.mobile("Fitly", FITLY_A, x.n(3000, 250), apps.fitly(sync_eps=[]), dalvik_ua,
             only_at=lambda r: push + min(5400.0, r.expovariate(1 / 420.0)))
    x.mobile("Fitly", FITLY_I, x.n(1200, 100), apps.fitly(sync_eps=[], timeout=60.0), afnetworking_ua,
             only_at=lambda r: push + min(5400.0, r.expovariate(1 / 420.0)))
    x.web(x.n(30, 3), api="fitly")
    fmt = F.Combined(x.tz, [F.x_rt("request_time"), F.x_vocab(F.vocab_token_expired())])
    return x.finish(fmt, junk=JUNK_NGINX)


@case
def n13_junk_rotated_pacific(seed, quick):
    x = Ctx("n13_junk_rotated_pacific",
            "A normal day in hourly gzip files (-0800) with everything that goes wrong with files: truncated "
            "lines, a crash's run of NUL bytes, binary garbage, blank lines, TLS handshakes on the plain port, "
            "error-log lines mixed in, the last line cut.  nginx combined + request_time + auth_error.",
            seed, quick, "2026-01-13", -8, days=1)
    everyday(x, 1.0)
    fmt = F.Combined(x.tz, [F.x_rt("request_time"), F.x_vocab(F.vocab_token_expired())])
    junk = {"trunc": 3.0, "nul_run": 0.3, "binary": 2.0, "blank": 3.0, "tls": 2.0, "empty_req": 1.0,
            "errorlog": 3.0, "trunc_tail": 1}
    return x.finish(fmt, layout=("hourly", "access.log-%04d%02d%02d%02d.gz"), junk=junk)


@case
def n14_apache_common_normal(seed, quick):
    x = Ctx("n14_apache_common_normal",
            "Two normal days in Apache common format (no user agent, no token field).",
            seed, quick, "2024-05-16", -6, days=2)
    everyday(x, 1.0)
    return x.finish(F.Common(x.tz), junk={"trunc": 0.3})


@case
def n15_refresh_revocation_wave(seed, quick):
    x = Ctx("n15_refresh_revocation_wave",
            "Every Parcelo refresh token is revoked at 11:00 UTC; every client's next refresh fails once (400 "
            "invalid_grant), the app shows the login screen and the user signs in: a wave of invalid_grant and "
            "logins over the following hours, no loop.  Application JSON log.",
            seed, quick, "2024-09-18", 0, days=1)
    x.mobile("Parcelo", PARCELO_CF, x.n(900, 60), apps.parcelo(), cfnetwork_ua)
    x.mobile("Parcelo", PARCELO_A, x.n(400, 30), apps.parcelo(timeout=15.0), parcelo_android_ua)
    x.web(x.n(40, 4), api="parcelo")
    x.world.revocations.append((x.at(0, "11:00"), "Parcelo"))
    return x.finish(F.AppJson(x.rng, F.vocab_rfc6750("error_code", "error_description")), junk={"appmsg": 2.0})
