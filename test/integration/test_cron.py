"""test_cron.py - the cron scaler through the real binary, with windows computed from python's zoneinfo."""
import json
import os
import re
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from lib import Cases, Server, em, em_get, tmpdir, write

T = Cases("cron")
GV = "/apis/external.metrics.k8s.io/v1beta1"

# Zones with whole-hour, half-hour and 45-minute offsets, DST north and south.
ZONES = ["Asia/Kolkata", "Asia/Kathmandu", "America/New_York", "Europe/Berlin",
         "Australia/Sydney", "Pacific/Chatham", "America/St_Johns"]


def local_now(zone):
    return datetime.now(timezone.utc).astimezone(ZoneInfo(zone))


def cron_at(dt):
    """A daily schedule firing at dt's local wall-clock minute."""
    return f"{dt.minute} {dt.hour} * * *"


def windows(zone):
    """(active, inactive) (start, end) pairs around now, 10 minutes of margin
    each side: an offset error of 15 minutes or more flips the result."""
    now = local_now(zone).replace(second=0, microsecond=0)
    active = (cron_at(now - timedelta(minutes=10)), cron_at(now + timedelta(minutes=10)))
    inactive = (cron_at(now + timedelta(minutes=10)), cron_at(now + timedelta(minutes=30)))
    return active, inactive


def metric(name, zone, start, end, replicas):
    return (f"  - name: {name}\n    namespaces: [\"*\"]\n    type: cron\n"
            f"    metadata: {{timezone: \"{zone}\", start: \"{start}\", end: \"{end}\", desiredReplicas: \"{replicas}\"}}\n")


def config(entries):
    return "server: {auth: {mode: none}}\ndefaults: {pollingInterval: 2s, timeout: 2s}\nmetrics:\n" + "".join(entries)


def value_of(out):
    assert out["kind"] == "ExternalMetricValueList", out
    assert len(out["items"]) == 1, out
    return out["items"][0]["value"]


def avoid_minute_edge():
    """Windows are built from the current minute; keep clear of its last seconds."""
    if datetime.now().second >= 55:
        time.sleep(61 - datetime.now().second)


@T.case
def get_active_and_inactive_windows_in_many_zones():
    avoid_minute_edge()
    entries = []
    for i, zone in enumerate(ZONES):
        (a0, a1), (i0, i1) = windows(zone)
        entries.append(metric(f"on-{i}", zone, a0, a1, 7))
        entries.append(metric(f"off-{i}", zone, i0, i1, 7))
    path = write(os.path.join(tmpdir(), "cron.yaml"), config(entries))
    for i, zone in enumerate(ZONES):
        rc, out, err = em_get(path, "default", f"on-{i}")
        assert rc == 0, err
        assert value_of(out) == "7", (zone, out)
        assert out["items"][0]["metricName"] == f"on-{i}"
        rc, out, err = em_get(path, "default", f"off-{i}")
        assert rc == 0, err
        assert value_of(out) == "0", (zone, out)


@T.case
def process_tz_variable_is_irrelevant():
    # The scaler never consults TZ or localtime(): a different process zone
    # must not change the answer.
    avoid_minute_edge()
    (a0, a1), (i0, i1) = windows("Asia/Kolkata")
    path = write(os.path.join(tmpdir(), "cron.yaml"),
                 config([metric("on", "Asia/Kolkata", a0, a1, 4), metric("off", "Asia/Kolkata", i0, i1, 4)]))
    for tz in ("Pacific/Kiritimati", "America/Los_Angeles", "UTC", ""):
        rc, out, err = em_get(path, "ns", "on", env={"TZ": tz})
        assert rc == 0 and value_of(out) == "4", (tz, out, err)
        rc, out, err = em_get(path, "ns", "off", env={"TZ": tz})
        assert rc == 0 and value_of(out) == "0", (tz, out, err)


@T.case
def issue_example_berlin_night_window():
    # timezone Europe/Berlin, start "0 22 * * *", end "0 6 * * *", desiredReplicas 8:
    # active from 22:00 to 05:59:59 Berlin time, whatever the offset today.
    now = local_now("Europe/Berlin")
    if (now.hour in (21, 5) and now.minute == 59 and now.second >= 55) or \
       (now.hour in (22, 6) and now.minute == 0 and now.second < 3):
        time.sleep(10)
        now = local_now("Europe/Berlin")
    want = "8" if (now.hour >= 22 or now.hour < 6) else "0"
    path = write(os.path.join(tmpdir(), "cron.yaml"),
                 config([metric("nightly-batch", "Europe/Berlin", "0 22 * * *", "0 6 * * *", 8)]))
    rc, out, err = em_get(path, "batch", "nightly-batch")
    assert rc == 0, err
    assert value_of(out) == want, (now.isoformat(), out)
    # The inverse window is the complement.
    path = write(os.path.join(tmpdir(), "cron.yaml"),
                 config([metric("daytime", "Europe/Berlin", "0 6 * * *", "0 22 * * *", 8)]))
    rc, out, err = em_get(path, "batch", "daytime")
    assert rc == 0, err
    assert value_of(out) == ("0" if want == "8" else "8"), (now.isoformat(), out)


@T.case
def serve_reports_value_and_active():
    avoid_minute_edge()
    (a0, a1), (i0, i1) = windows("Asia/Kathmandu")
    srv = Server(config([metric("win-on", "Asia/Kathmandu", a0, a1, 5),
                         metric("win-off", "Asia/Kathmandu", i0, i1, 5)]))
    T.at_exit(srv.stop)
    try:
        st, _, body = srv.api(f"{GV}/namespaces/default/win-on")
        assert st == 200, body
        assert value_of(json.loads(body)) == "5", body
        st, _, body = srv.api(f"{GV}/namespaces/default/win-off")
        assert st == 200, body
        assert value_of(json.loads(body)) == "0", body
        text = srv.metrics()
        assert re.search(r'^extmetrics_metric_active\{metric="win-on",metric_namespace="\*",scaler="cron"\} 1$', text, re.M), text
        assert re.search(r'^extmetrics_metric_active\{metric="win-off",metric_namespace="\*",scaler="cron"\} 0$', text, re.M), text
        assert re.search(r'^extmetrics_metric_value\{metric="win-on",metric_namespace="\*",scaler="cron"\} 5$', text, re.M), text
        assert re.search(r'^extmetrics_metric_value\{metric="win-off",metric_namespace="\*",scaler="cron"\} 0$', text, re.M), text
    finally:
        srv.stop()


@T.case
def check_config_reports_keda_messages():
    cases = [
        (metric("m", "Mars/Base", "0 22 * * *", "0 6 * * *", 8),
         "timezone: unable to load timezone: unknown time zone Mars/Base"),
        (metric("m", "../../etc/passwd", "0 22 * * *", "0 6 * * *", 8),
         "timezone: unable to load timezone: time: invalid location name"),
        (metric("m", "UTC", "0 22 * *", "0 6 * * *", 8),
         "start: error parsing start schedule: expected exactly 5 fields, found 4: [0 22 * *]"),
        (metric("m", "UTC", "0 22 * * *", "61 6 * * *", 8),
         "end: error parsing end schedule: end of range (61) above maximum (59): 61"),
        (metric("m", "UTC", "0 6 * * *", "0 6 * * *", 8),
         "end: start and end can not have exactly same time input"),
        (metric("m", "UTC", "0 22 * * *", "0 6 * * *", 0),
         "desiredReplicas: no desiredReplicas specified"),
        (metric("m", "UTC", "0 22 * * *", "0 6 * * *", "5.5"), "desiredReplicas"),
        ("  - name: m\n    namespaces: [\"*\"]\n    type: cron\n"
         "    metadata: {timezone: UTC, start: \"0 22 * * *\", desiredReplicas: \"3\"}\n",
         'missing required parameter "end"'),
    ]
    d = tmpdir()
    for i, (entry, msg) in enumerate(cases):
        path = write(os.path.join(d, f"bad{i}.yaml"), config([entry]))
        p = em("check-config", path)
        assert p.returncode == 1, (entry, p.stdout, p.stderr)
        assert msg in p.stdout + p.stderr, (msg, p.stdout, p.stderr)
    good = write(os.path.join(d, "good.yaml"), config([
        metric("a", "UTC", "@daily", "@hourly", 2),
        metric("b", "America/Argentina/Buenos_Aires", "*/15 9-17 * JAN-jun mon-fri", "5 18 1,15 * ?", 3),
        metric("c", "Local", "CRON_TZ=Asia/Tokyo 0 9 * * *", "0 17 * * *", 2147483647),
    ]))
    p = em("check-config", good)
    assert p.returncode == 0, p.stdout + p.stderr
    # An empty timezone is a missing one (KEDA: empty = missing).
    path = write(os.path.join(d, "empty.yaml"), config([metric("e", "", "0 22 * * *", "0 6 * * *", 1)]))
    p = em("check-config", path)
    assert p.returncode == 1 and 'missing required parameter "timezone"' in p.stdout + p.stderr, p.stdout + p.stderr

if __name__ == "__main__":
    T.main()
