#!/usr/bin/env python3
"""Cold-start init time of the voxdial Lambda functions.

For each function binary: starts moto (the AWS API emulator, with the
providers secret in its Secrets Manager), starts a Lambda Runtime API stub
on 127.0.0.1, runs the binary as Lambda would (AWS_LAMBDA_RUNTIME_API and
the template's variables), and measures the time from spawning the process
to its first `GET /2018-06-01/runtime/invocation/next`: the function's init
(config, tracing, SDK config, the secret fetched over HTTP, the engine
wired). Five runs each; prints the median and the maximum.

Usage: lambda-init-time.py DIR FUNCTION...
  DIR holds DIR/<function>/bootstrap (cargo lambda's layout) or DIR/<function>.
Needs moto and boto3 (scripts/aws-test-env.sh installs them).
"""

import http.server
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

import boto3


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stub(http.server.BaseHTTPRequestHandler):
    """The Runtime API: records when `next` is first asked, never answers."""

    first_next = None
    ready = threading.Event()

    def do_GET(self):
        if self.path.startswith("/2018-06-01/runtime/invocation/next"):
            if Stub.first_next is None:
                Stub.first_next = time.perf_counter()
                Stub.ready.set()
            time.sleep(5)  # a long poll with no event; the test stops it
        self.send_response(204)
        self.end_headers()

    def do_POST(self):  # init errors
        length = int(self.headers.get("content-length", 0))
        sys.stderr.write(self.rfile.read(length).decode(errors="replace") + "\n")
        Stub.ready.set()
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    directory, functions = sys.argv[1], sys.argv[2:]
    moto_port = free_port()
    venv_bin = os.path.dirname(sys.executable)
    moto = subprocess.Popen(
        [os.path.join(venv_bin, "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{moto_port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", moto_port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="ap-south-1"
        )
        session.client("secretsmanager", endpoint_url=endpoint).create_secret(
            Name="voxdial/dev/providers",
            SecretString='{"twilio.account_sid": "AC00000000000000000000000000000001", "twilio.auth_token": "t"}',
        )
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stub)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        api = f"127.0.0.1:{server.server_address[1]}"
        env = {
            "PATH": "/usr/bin:/bin",
            "AWS_LAMBDA_RUNTIME_API": api,
            "AWS_LAMBDA_FUNCTION_NAME": "voxdial-dev-fn",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_STREAM_NAME": "stream",
            "AWS_LAMBDA_LOG_GROUP_NAME": "group",
            "AWS_REGION": "ap-south-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "VOXDIAL_AWS_ENDPOINT": endpoint,
            "VOXDIAL_TABLE": "voxdial-dev",
            "VOXDIAL_DISPATCH_QUEUE_URL": f"{endpoint}/123456789012/voxdial-dev-dispatch",
            "VOXDIAL_JOB_QUEUE_URL": f"{endpoint}/123456789012/voxdial-dev-jobs",
            "VOXDIAL_PUBLIC_BASE_URL": "https://abc123defg.execute-api.ap-south-1.amazonaws.com",
            "VOXDIAL_CALLER_ID": "+14155550100",
            "VOXDIAL_SECRET_IDS": "voxdial/dev/providers",
            "RUST_LOG": os.environ.get("INIT_RUST_LOG", "warn"),
            "AWS_EC2_METADATA_DISABLED": os.environ.get("INIT_IMDS_OFF", "false"),
        }
        print(f"{'function':<16} {'median ms':>10} {'max ms':>8}  (init: spawn to the first /next)")
        for name in functions:
            binary = os.path.join(directory, name, "bootstrap")
            if not os.path.exists(binary):
                binary = os.path.join(directory, name)
            samples = []
            for _ in range(5):
                Stub.first_next = None
                Stub.ready.clear()
                start = time.perf_counter()
                proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL)
                Stub.ready.wait(10)
                if Stub.first_next is None:
                    proc.kill()
                    proc.wait()
                    raise SystemExit(f"{name}: no /next within 10 s (init failed?)")
                samples.append((Stub.first_next - start) * 1000)
                proc.kill()
                proc.wait()
            print(f"{name:<16} {statistics.median(samples):>10.1f} {max(samples):>8.1f}")
    finally:
        moto.kill()
        moto.wait()


if __name__ == "__main__":
    main()
