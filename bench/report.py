#!/usr/bin/python3
"""Turns liaison-bench RESULT lines into the comparison table (Markdown).

    report.py RESULTS MODE RATE DURATION   -> table on stdout
    report.py --check RESULTS              -> exit 1 unless every measured
                                              exchange delivered everything

A server that did not run is shown as "missing", never as zero.  Liaison's
figures are also given as a fraction of the relay's (the machine's ceiling
for the same bytes over the same connections).
"""
import sys

SERVERS = ["liaison", "prosody", "ejabberd", "relay"]


def parse(path):
    res = {}
    status = {}
    for line in open(path):
        if not line.startswith("RESULT "):
            continue
        kv = dict(p.split("=", 1) for p in line.split()[1:] if "=" in p)
        s, sc = kv.get("server"), kv.get("scenario")
        if sc == "all":
            status[s] = kv.get("status", "missing")
            continue
        res.setdefault(s, {})[sc] = kv
    return res, status


def check(path):
    res, _ = parse(path)
    ok = bool(res)
    for s, scs in res.items():
        for sc, kv in scs.items():
            if sc in ("throughput", "latency"):
                good = (int(kv.get("received", 0)) > 0
                        and int(kv.get("lost", 1)) == 0)
                print(f"smoke {s} {sc}: {'ok' if good else 'FAILED'}")
                ok = ok and good
            if kv.get("status") == "failed":
                print(f"smoke {s} {sc}: FAILED")
                ok = False
    return ok


def fmt(v, unit=""):
    if v is None:
        return "-"
    try:
        f = float(v)
    except ValueError:
        return v
    if f >= 100 or f == int(f):
        return f"{f:,.0f}{unit}"
    return f"{f:.1f}{unit}"


def main():
    if sys.argv[1] == "--check":
        sys.exit(0 if check(sys.argv[2]) else 1)
    path, mode, rate, dur = sys.argv[1:5]
    res, status = parse(path)
    cols = [s for s in SERVERS if s in res or s in status]

    def cell(s, sc, key, unit="", extra=None):
        if s in status and s not in res:
            return status[s]
        kv = res.get(s, {}).get(sc)
        if kv is None:
            return "n/a"
        if kv.get("status"):
            return kv["status"]
        if key == "kb_per_session" and float(kv.get(key, 0)) < 0:
            return "n/m (RSS fell)"
        txt = fmt(kv.get(key), unit)
        if extra:
            e = extra(kv)
            if e:
                txt += f" ({e})"
        return txt

    lost = lambda kv: f"lost {kv['lost']}" if kv.get("lost", "0") != "0" else ""
    fails = lambda kv: (f"{kv['failures']} failed"
                        if kv.get("failures", "0") != "0" else "")
    rows = [
        ("login storm, logins/s (best level)", "login", "logins_per_s", "", fails),
        ("idle TLS sessions, server KB per session", "idle", "kb_per_session",
         "", None),
        ("1:1 throughput, messages/s", "throughput", "msgs_per_s", "", lost),
        (f"time to delivery at {rate} msg/s, p50 us", "latency", "p50_us", "",
         None),
        (f"time to delivery at {rate} msg/s, p99 us", "latency", "p99_us", "",
         lost),
        (f"time to delivery at {rate} msg/s, p99.9 us", "latency", "p999_us",
         "", None),
        ("presence fan-out (roster 20), deliveries/s", "fanout",
         "deliveries_per_s", "", lost),
        ("presence fan-out, p99 us", "fanout", "p99_us", "", None),
        ("labelled 1:1 throughput, messages/s", "throughput_labelled",
         "msgs_per_s", "", lost),
        ("labelled time to delivery, p99 us", "latency_labelled", "p99_us",
         "", lost),
    ]
    print(f"Mode `{mode}`, {dur} s per scenario.  Servers ran one after "
          "another on the same cores as the generator.\n")
    print("| scenario | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    print("| server | " + " | ".join(
        status.get(s, "ran") if s not in res else "ran" for s in cols) + " |")
    for title, sc, key, unit, extra in rows:
        cells = [cell(s, sc, key, unit, extra) for s in cols]
        if all(c in ("n/a", "missing") for c in cells):
            continue
        print(f"| {title} | " + " | ".join(cells) + " |")
    relay = res.get("relay", {})
    li = res.get("liaison", {})
    if relay and li:
        print()
        for sc, key in (("throughput", "msgs_per_s"),):
            if sc in relay and sc in li and relay[sc].get(key):
                fr = float(li[sc][key]) / float(relay[sc][key])
                print(f"Liaison 1:1 throughput is {fr:.0%} of the relay's.")
        if "latency" in relay and "latency" in li:
            print("Liaison p99 time to delivery is "
                  f"{float(li['latency']['p99_us']) / max(1.0, float(relay['latency']['p99_us'])):.1f}x "
                  "the relay's.")
    for s in cols:
        scs = res.get(s, {})
        mech = scs.get("login", {}).get("mech")
        fan = scs.get("fanout", {})
        notes = []
        if fan.get("roster_min"):
            notes.append(f"rosters min {fan['roster_min']}")
        if scs.get("idle", {}).get("sessions"):
            notes.append(f"{scs['idle']['sessions']} idle sessions")
        if scs.get("throughput", {}).get("pairs"):
            t = scs["throughput"]
            notes.append(f"{t['pairs']} pairs, window {t['window']}, "
                         f"{t['size']} B stanzas")
        if notes:
            print(f"\n- {s}: " + "; ".join(notes), end="")
    print()


if __name__ == "__main__":
    main()
