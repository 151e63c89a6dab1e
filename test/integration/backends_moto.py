"""backends_moto.py - moto servers (SQS, CloudWatch, STS, IAM) and small credential endpoints on 127.0.0.1."""
import base64
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3

from lib import free_port, tmpdir, wait_for

REGION = "us-east-1"
ALLOW_ALL = json.dumps({"Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
TRUST_ALL = json.dumps({"Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]})


class Moto:
    """`python3 -m moto.server` on a free port.

    auth=True turns moto's SigV4 and IAM checks on: INITIAL_NO_AUTH_ACTION_COUNT
    free calls create an IAM user with an access key and an allow-all policy
    (self.akid / self.secret), and a role with the same policy (self.role_arn)
    whose assumed credentials moto also accepts. After that, a bad signature
    gets 403 SignatureDoesNotMatch and an unknown key InvalidClientTokenId.
    record=True keeps moto's request recording (self.requests())."""

    FREE_CALLS = 5  # create_user, create_access_key, put_user_policy, create_role, put_role_policy

    def __init__(self, auth=False, record=False):
        self.dir = tmpdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.recording = os.path.join(self.dir, "recording.jsonl")
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("AWS_"):
                del env[k]
        if auth:
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(self.FREE_CALLS)
        if record:
            env["MOTO_ENABLE_RECORDING"] = "True"
            env["MOTO_RECORDER_FILEPATH"] = self.recording
        self.log = open(os.path.join(self.dir, "moto.log"), "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        wait_for(self._ready, timeout=20, what="moto")
        self.akid, self.secret = "AKIAEXTMETRICSTEST00", "not-checked-without-auth"
        self.role_arn = "arn:aws:iam::123456789012:role/extmetrics"
        self.users = {}
        if auth:
            iam = self.client("iam", creds=("AKIAFREECALLS", "free"))
            iam.create_user(UserName="extmetrics")
            key = iam.create_access_key(UserName="extmetrics")["AccessKey"]
            iam.put_user_policy(UserName="extmetrics", PolicyName="all", PolicyDocument=ALLOW_ALL)
            self.role_arn = iam.create_role(RoleName="extmetrics", AssumeRolePolicyDocument=TRUST_ALL)["Role"]["Arn"]
            iam.put_role_policy(RoleName="extmetrics", PolicyName="all", PolicyDocument=ALLOW_ALL)
            self.akid, self.secret = key["AccessKeyId"], key["SecretAccessKey"]

    def user(self, name, policy):
        """An IAM user with one inline policy (a dict), created with the
        allow-all key; returns its (akid, secret). Calling it again with the
        same name replaces the policy: moto checks it on the next request."""
        iam = self.client("iam")
        if name not in self.users:
            iam.create_user(UserName=name)
            key = iam.create_access_key(UserName=name)["AccessKey"]
            self.users[name] = (key["AccessKeyId"], key["SecretAccessKey"])
        iam.put_user_policy(UserName=name, PolicyName="only", PolicyDocument=json.dumps(policy))
        return self.users[name]

    def _ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"moto exited rc={self.proc.returncode}")
        with urllib.request.urlopen(self.url + "/moto-api/", timeout=1) as r:
            return r.status == 200

    def client(self, service, region=REGION, creds=None):
        akid, secret, *token = creds or (self.akid, self.secret)
        return boto3.client(service, endpoint_url=self.url, region_name=region, aws_access_key_id=akid,
                            aws_secret_access_key=secret, aws_session_token=token[0] if token else None)

    def requests(self):
        """Recorded requests: dicts with method, url, headers, body (text)."""
        out = []
        if not os.path.exists(self.recording):
            return out
        with open(self.recording) as f:
            for line in f:
                e = json.loads(line)
                if e.get("body_encoded") and e.get("body"):
                    e["body"] = base64.b64decode(e["body"]).decode("utf-8", "replace")
                out.append(e)
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def expiration(seconds_from_now):
    t = time.gmtime(time.time() + seconds_from_now)
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", t)


class _StandIn:
    """An HTTP stand-in on a free port of 127.0.0.1 (serving handler class H)."""

    def _serve(self, H):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class CredsServer(_StandIn):
    """A small HTTP server following the documented credential endpoints.

    mode "pod": EKS Pod Identity agent (GET /v1/credentials with the
    Authorization token; JSON AccessKeyId/SecretAccessKey/Token/AccountId/
    Expiration). mode "imds": EC2 IMDSv2 (PUT /latest/api/token with
    X-aws-ec2-metadata-token-ttl-seconds, then GET .../iam/security-credentials/
    and .../security-credentials/ROLE with X-aws-ec2-metadata-token).
    `creds` is a list of (akid, secret, token) handed out in turn (the last
    one repeats); `ttl` the seconds until the Expiration it announces."""

    def __init__(self, mode, creds, ttl=3600, role="extmetrics-node"):
        self.mode, self.creds, self.ttl, self.role = mode, list(creds), ttl, role
        self.log = []  # (method, path, relevant header)
        self.served = 0
        self.imds_token = "imds-session-" + os.urandom(6).hex()
        owner = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, code, body, ctype="application/json"):
                b = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(b)))
                self.end_headers()
                self.wfile.write(b)

            def _creds_doc(self):
                i = min(owner.served, len(owner.creds) - 1)
                owner.served += 1
                akid, secret, token = owner.creds[i]
                doc = {"AccessKeyId": akid, "SecretAccessKey": secret, "Expiration": expiration(owner.ttl)}
                if token:
                    doc["Token"] = token
                if owner.mode == "imds":
                    doc.update({"Code": "Success", "LastUpdated": expiration(0), "Type": "AWS-HMAC"})
                else:
                    doc["AccountId"] = "123456789012"
                return json.dumps(doc)

            def do_GET(self):
                if owner.mode == "pod":
                    owner.log.append(("GET", self.path, self.headers.get("Authorization")))
                    if self.path != "/v1/credentials":
                        return self._send(404, '{"message":"not found"}')
                    if not self.headers.get("Authorization"):
                        return self._send(400, '{"message":"missing Authorization"}')
                    return self._send(200, self._creds_doc())
                owner.log.append(("GET", self.path, self.headers.get("X-aws-ec2-metadata-token")))
                if self.headers.get("X-aws-ec2-metadata-token") != owner.imds_token:
                    return self._send(401, "", "text/plain")
                base = "/latest/meta-data/iam/security-credentials/"
                if self.path == base:
                    return self._send(200, owner.role + "\n", "text/plain")
                if self.path == base + owner.role:
                    return self._send(200, self._creds_doc(), "text/plain")
                return self._send(404, "", "text/plain")

            def do_PUT(self):
                ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
                owner.log.append(("PUT", self.path, ttl))
                if owner.mode != "imds" or self.path != "/latest/api/token":
                    return self._send(404, "", "text/plain")
                if not ttl or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                    return self._send(400, "", "text/plain")
                return self._send(200, owner.imds_token, "text/plain")

        self._serve(H)


class ThrottlingAws(_StandIn):
    """A stand-in for an AWS JSON-protocol endpoint that throttles, for what
    moto cannot provoke. It checks the request looks like the operation
    (POST /, X-Amz-Target, Content-Type application/x-amz-json-1.0, a SigV4
    Authorization header, a JSON body) and answers as the AWS docs describe:
    HTTP 400 with {"__type": ..., "message": ...} when throttling (SQS:
    RequestThrottled, common error: ThrottlingException), else 200 with
    `ok_body`. `throttle` is a callable (n = 1-based request number) -> bool,
    so a test can throttle some requests only; `times` keeps when each
    request arrived (time.monotonic())."""

    def __init__(self, target, ok_body, throttle_type="ThrottlingException", message="Rate exceeded",
                 throttle=lambda n: True):
        self.target, self.ok_body, self.throttle = target, ok_body, throttle
        self.throttle_type, self.message = throttle_type, message
        self.times = []
        self.bad = []  # requests that did not look like the operation
        self.lock = threading.Lock()
        owner = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _send(self, code, doc):
                b = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("x-amzn-RequestId", os.urandom(8).hex())
                self.send_header("Content-Length", str(len(b)))
                self.end_headers()
                self.wfile.write(b)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with owner.lock:
                    owner.times.append(time.monotonic())
                    n = len(owner.times)
                why = None
                if self.path != "/":
                    why = f"path {self.path}"
                elif self.headers.get("X-Amz-Target") != owner.target:
                    why = f"X-Amz-Target {self.headers.get('X-Amz-Target')}"
                elif self.headers.get("Content-Type") != "application/x-amz-json-1.0":
                    why = f"Content-Type {self.headers.get('Content-Type')}"
                elif not (self.headers.get("Authorization") or "").startswith("AWS4-HMAC-SHA256 Credential="):
                    why = "no SigV4 Authorization"
                else:
                    try:
                        json.loads(body)
                    except ValueError:
                        why = "body is not JSON"
                if why:
                    owner.bad.append(why)
                    return self._send(400, {"__type": "com.amazon.coral.validate#ValidationException", "message": why})
                if owner.throttle(n):
                    return self._send(400, {"__type": owner.throttle_type, "message": owner.message})
                return self._send(200, owner.ok_body)

        self._serve(H)

    def count(self):
        with self.lock:
            return len(self.times)


class RedirectingAws(_StandIn):
    """A stand-in for an endpoint that redirects, which moto never does. Each
    request n (1-based) is answered by `plan(n)`: ("redirect", code, location)
    sends that status with Location; ("forward", url) passes the request on
    verbatim (method, path, headers including Host and the signature, body)
    to url and its answer back. `seen` keeps (method, path, headers, body) of
    every request that arrived."""

    def __init__(self, plan):
        self.plan, self.seen, self.lock = plan, [], threading.Lock()
        owner = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with owner.lock:
                    owner.seen.append((self.command, self.path, dict(self.headers), body))
                    n = len(owner.seen)
                step = owner.plan(n)
                if step[0] == "redirect":
                    self.send_response(step[1])
                    self.send_header("Location", step[2])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                req = urllib.request.Request(step[1] + self.path, data=body, method=self.command,
                                             headers={k: v for k, v in self.headers.items()
                                                      if k.lower() not in ("content-length", "connection")})
                try:
                    with urllib.request.urlopen(req, timeout=10) as r:
                        code, rb, ct = r.status, r.read(), r.headers.get("Content-Type", "")
                except urllib.error.HTTPError as e:
                    code, rb, ct = e.code, e.read(), e.headers.get("Content-Type", "")
                self.send_response(code)
                self.send_header("Content-Type", ct)
                self.send_header("Content-Length", str(len(rb)))
                self.end_headers()
                self.wfile.write(rb)

        self._serve(H)


def clean_aws_env(extra=None):
    """An environment for extmetrics with no AWS_* inherited from the caller
    and IMDS disabled (no 169.254.169.254 probing), plus extra."""
    env = {k: "" for k in os.environ if k.startswith("AWS_")}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env.update(extra or {})
    return env
