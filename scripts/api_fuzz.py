#!/usr/bin/env python3
"""The HTTP API under a fuzzer we did not write: schemathesis against a live `vigil serve`.

Starts a server on a fresh data directory with one camera and one user per role, then
runs schemathesis (every check it has) against docs/openapi.json once per role, each
with that role's API token, and finally checks that the server is still answering.
Exit status 0 only when every run passed and the server lived through them.

  scripts/api_fuzz.py --vigil .build/debug/vigil [--examples 5] [--seed 1] [--roles ...]

CI runs it with a few examples per operation and a fixed seed (scripts/test.sh); longer
runs: --examples 200 --seed random (docs/design/security.md).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import http.cookiejar

# The administrator goes last: its run edits accounts, which would get in the others' way.
ROLES = ["operator", "guard-duty", "police-duty", "investigator", "prosecutor", "court", "media-officer", "supervisor", "admin"]


def password(role):
    return f"schemathesis {role} passphrase"


def token(base, role, count=1):
    """Signs in as the role's user and issues `count` API tokens (each shown once); returns the last."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    body = json.dumps({"username": f"u-{role}", "password": password(role)}).encode()
    reply = opener.open(urllib.request.Request(base + "/api/session", data=body, headers={"Content-Type": "application/json"}))
    csrf = json.load(reply)["csrfToken"]
    for _ in range(count):
        body = json.dumps({"name": "schemathesis"}).encode()
        reply = opener.open(urllib.request.Request(base + "/api/tokens", data=body,
                                                   headers={"Content-Type": "application/json", "X-CSRF-Token": csrf}))
        issued = json.load(reply)["token"]
    return issued


def wait_for(path, text, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if os.path.exists(path) and text in open(path, errors="replace").read():
            return True
        time.sleep(0.2)
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vigil", default=".build/debug/vigil")
    parser.add_argument("--schemathesis", default=shutil.which("schemathesis") or "schemathesis")
    parser.add_argument("--examples", type=int, default=5, help="examples per operation and phase")
    parser.add_argument("--seed", default="1", help="a number, or 'random'")
    parser.add_argument("--port", type=int, default=18900)
    parser.add_argument("--roles", nargs="*", default=ROLES)
    parser.add_argument("--keep", action="store_true", help="keep the data directory and logs")
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    vigil = os.path.abspath(args.vigil)
    # Absolute: schemathesis runs in the scratch directory.
    schemathesis = os.path.abspath(args.schemathesis) if os.sep in args.schemathesis else (shutil.which(args.schemathesis) or args.schemathesis)
    work = tempfile.mkdtemp(prefix="vigil-api-fuzz-")
    data, log = f"{work}/data", f"{work}/serve.log"

    def run(*argv, stdin=None):
        subprocess.run([vigil, *argv], input=stdin, text=True, check=True, stdout=subprocess.DEVNULL)

    run("camera", "add", "--data", data, "gate", "rtsp://127.0.0.1:9/none")
    for role in ROLES:
        run("user", "add", "--data", data, f"u-{role}", "--role", role, stdin=password(role) + "\n")
    run("user", "add", "--data", data, "u-spare", "--role", "operator", stdin=password("spare") + "\n")
    # Something for the evidence routes to find: an exhibit (over an hour with no footage),
    # shared with the roles that see evidence, and an investigator who may register more.
    hour = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(time.time() - 7200))
    later = time.strftime("%Y-%m-%dT%H:00:00Z", time.gmtime(time.time() - 3600))
    exhibit = subprocess.run([vigil, "evidence", "create", "--data", data, "--camera", "gate", "--from", hour, "--to", later,
                              "--case", "FUZZ-1", "--body", "police", "--purpose", "schemathesis"],
                             text=True, check=True, stdout=subprocess.PIPE).stdout.strip()
    for role in ["investigator", "prosecutor", "court"]:
        run("evidence", "share", "--data", data, exhibit, "--user", f"u-{role}")
    run("user", "grant", "--data", data, "u-investigator", "--permission", "register-evidence")
    # The run's settings: the repository's, and the exhibit for `{exhibit}` in paths.
    config = f"{work}/schemathesis.toml"
    with open(f"{root}/scripts/schemathesis.toml") as f, open(config, "w") as out:
        out.write(f.read() + f'\n[parameters]\n"path.exhibit" = "{exhibit}"\n')
    # The fuzzer authenticates with bearer tokens: its copy of the document offers that
    # scheme alone (with both, it sends made-up session cookies beside a valid token).
    with open(f"{root}/docs/openapi.json") as f:
        document = json.load(f)
    document["security"] = [{"token": []}]
    schema = f"{work}/openapi.json"
    with open(schema, "w") as f:
        json.dump(document, f)

    base = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen([vigil, "serve", "--data", data, "--listen", f"127.0.0.1:{args.port}"],
                              stdout=open(log, "w"), stderr=subprocess.STDOUT)
    failed = []
    try:
        if not wait_for(log, "Vigil console:", 60):
            print(f"api-fuzz: vigil serve did not start; see {log}", file=sys.stderr)
            return 1
        # Every token before any run: the runs' made-up sign-ins soon have this address
        # refused by the per-address limit on failed sign-ins, as they should.
        # The low token ids go to a spare account first: the runs try DELETE /api/tokens/{id}
        # with small ids, and a run that revoked its own token would test only 401s after.
        token(base, "spare", count=100)
        tokens = {role: token(base, role) for role in args.roles}
        for role in args.roles:
            bearer = tokens[role]
            command = [schemathesis, "--config-file", config, "run", schema, "--url", base, "-H", f"Authorization: Bearer {bearer}",
                       "--checks", "all", "--max-examples", str(args.examples), "--phases", "examples,coverage,fuzzing",
                       "--workers", "1", "--no-color"]
            if args.seed != "random":
                command += ["--seed", args.seed]
            print(f"api-fuzz: {role}", flush=True)
            # In the scratch directory: schemathesis keeps its cache and Hypothesis its
            # examples under the working directory.
            result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=work)
            out = result.stdout
            with open(f"{work}/schemathesis-{role}.log", "w") as f:
                f.write(out)
            summary = [line for line in out.splitlines() if line.startswith("=") and " in " in line]
            print(f"api-fuzz: {role}: {summary[-1].strip('= ') if summary else 'no summary'}", flush=True)
            if result.returncode != 0:
                failed.append(role)
                print(out[-6000:])
            # A run can revoke the very token it tests with (DELETE /api/tokens/{id} with
            # its own id); what it tested after that was only the 401 path.
            try:
                urllib.request.urlopen(urllib.request.Request(base + "/api/session", headers={"Authorization": f"Bearer {bearer}"}), timeout=10)
            except urllib.error.HTTPError as e:
                failed.append(f"{role} (its token answered {e.code} after the run: it tested little past that)")
            if server.poll() is not None:
                print(f"api-fuzz: vigil serve died during the {role} run (exit {server.returncode}); see {log}", file=sys.stderr)
                return 1
        # Still answering after all of it.
        try:
            urllib.request.urlopen(base + "/api/session", timeout=10)
        except urllib.error.HTTPError as e:
            if e.code != 401:
                failed.append(f"after the runs GET /api/session answered {e.code}")
        except Exception as e:  # noqa: BLE001 - any failure to answer is the finding
            failed.append(f"after the runs the server did not answer: {e}")
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        if not args.keep and not failed:
            shutil.rmtree(work, ignore_errors=True)
    if failed:
        print(f"api-fuzz: FAILED for {', '.join(failed)} (logs in {work})", file=sys.stderr)
        return 1
    print(f"api-fuzz: every role passed ({args.examples} examples per operation and phase, seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
