#!/usr/bin/env bash
# cloudwatch.sh - 1,000 aws-cloudwatch metrics on moto: GetMetricData calls and adapter CPU seconds per poll round.
set -euo pipefail
cd "$(dirname "$0")/../.."
export EXTMETRICS=${EXTMETRICS:-build/extmetrics}
export BENCH_METRICS=${BENCH_METRICS:-1000} BENCH_ROUNDS=${BENCH_ROUNDS:-4} BENCH_INTERVAL=${BENCH_INTERVAL:-5}
exec "${PYTHON:-python3}" - <<'EOF'
import datetime, http.client, json, os, re, ssl, sys, time
sys.path.insert(0, "test/integration")
from backends_moto import Moto, clean_aws_env
from lib import Server, wait_for

n, rounds, interval = (int(os.environ[k]) for k in ("BENCH_METRICS", "BENCH_ROUNDS", "BENCH_INTERVAL"))
moto = Moto()  # signatures unchecked: moto's own CPU is not what is measured
try:
    cw = moto.client("cloudwatch")
    ts = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=120)
    for base in range(0, n, 20):  # moto takes 20 data points per call
        cw.put_metric_data(Namespace="Bench", MetricData=[
            {"MetricName": "Depth", "Value": i + 1, "Timestamp": ts, "Dimensions": [{"Name": "Shard", "Value": f"s{i}"}]}
            for i in range(base, min(n, base + 20))])
    metrics = [{"name": f"shard-{i}", "namespaces": ["*"], "type": "aws-cloudwatch",
                "metadata": {"namespace": "Bench", "metricName": "Depth", "dimensionName": "Shard",
                             "dimensionValue": f"s{i}", "targetMetricValue": "10", "minMetricValue": "0",
                             "metricStatPeriod": "60", "metricCollectionTime": "300", "awsRegion": "us-east-1"},
                "auth": {"params": {"awsAccessKeyID": {"fromEnv": "BENCH_AKID"},
                                    "awsSecretAccessKey": {"fromEnv": "BENCH_SECRET"}}},
                "pollingInterval": f"{interval}s", "timeout": "20s"} for i in range(n)]
    cfg = json.dumps({"server": {"auth": {"mode": "none"}}, "metrics": metrics})
    env = clean_aws_env({"AWS_ENDPOINT_URL_CLOUDWATCH": moto.url, "BENCH_AKID": moto.akid, "BENCH_SECRET": moto.secret})
    s = Server(cfg, env=env)
    try:
        def calls():
            m = re.search(r'extmetrics_aws_api_calls_total\{aws_service="cloudwatch",operation="GetMetricData",code="200"\} (\S+)',
                          s.metrics())
            return float(m.group(1)) if m else 0.0

        def cpu():
            with open(f"/proc/{s.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        conn = {}

        def stamp():  # when shard-0 was last fetched: changes once per round
            # one kept-alive connection: a TLS handshake per poll would be most of the CPU measured
            for _ in range(2):
                try:
                    if "c" not in conn:
                        conn["c"] = http.client.HTTPSConnection("127.0.0.1", s.port, timeout=10,
                                                                context=ssl._create_unverified_context())
                    conn["c"].request("GET", "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/shard-0")
                    r = conn["c"].getresponse()
                    body = r.read()
                    return json.loads(body)["items"][0]["timestamp"] if r.status == 200 else None
                except (OSError, http.client.HTTPException):
                    conn.pop("c", None)
            return None

        def quantity(q):
            mult = {"m": 1e-3, "k": 1e3, "M": 1e6}
            return float(q[:-1]) * mult[q[-1]] if q[-1] in mult else float(q)

        wait_for(lambda: calls() > 0 and stamp(), timeout=60, what="the first poll round")
        first = stamp()
        wait_for(lambda: stamp() != first, timeout=60, what="the second poll round")
        # Sample between rounds: half an interval after shard-0's round ended,
        # then again half an interval after the end of the rounds-th next one.
        def next_round(prev):
            wait_for(lambda: stamp() != prev, timeout=interval * 4, interval=0.2, what="the next round")
            return stamp()

        cur = stamp()
        time.sleep(interval / 2)
        c0, u0 = calls(), cpu()
        for _ in range(rounds):
            cur = next_round(cur)
        time.sleep(interval / 2)
        c1, u1 = calls(), cpu()
        r = rounds
        st, _, body = s.api(f"/apis/external.metrics.k8s.io/v1beta1/namespaces/default/shard-{n - 1}")
        ok = st == 200 and quantity(json.loads(body)["items"][0]["value"]) == n
        print(f"cloudwatch bench: {n} metrics, polling {interval}s, {r} rounds measured")
        print(f"  GetMetricData calls per round: {(c1 - c0) / r:.2f} (goal: {-(-n // 500)})")
        print(f"  adapter CPU seconds per round: {(u1 - u0) / r:.3f}")
        print(f"  values matched back: {'yes' if ok else 'NO: ' + body}")
    finally:
        s.stop()
finally:
    moto.stop()
EOF
