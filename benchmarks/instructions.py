"""What the Flask extension costs per request, in instructions counted by callgrind: a figure that
does not move with the machine's load, unlike the CPU time of the served benchmarks.

Three apps, each called in process as a WSGI server calls it, GET / answering a small JSON body:

- ``bare``: the Flask app alone;
- ``queued``: with the ``Driftlock`` extension, every request's event queued (Driftlock accepts
  the connection and never answers, so one batch stays in flight and the rest waits);
- ``full``: the same with a queue of ten events, full from the tenth request on.

Each app runs under callgrind twice, for N and for N + 2,000 requests after the same warm-up,
and the difference is divided by 2,000, so that start-up cancels out. Garbage collection is off
while counting (its timing would blur the count), address randomisation too.

Run ``python -m benchmarks.instructions`` from the repository root; needs valgrind. Not part of
``make bench``.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import socket
import subprocess
import sys
from typing import Any

VARIANTS = ("bare", "queued", "full")
WARMUP = 2_000
FIRST = 600
EXTRA = 2_000


def make_app(variant: str, driftlock_url: str) -> Any:
    """The Flask hello world of ``variant``."""
    from flask import Flask

    app = Flask("instructions")

    @app.get("/")
    def root() -> dict[str, str]:
        return {"message": "Hello World"}

    if variant != "bare":
        from driftlock.flask import Driftlock

        size = 10 if variant == "full" else 1_000_000
        Driftlock(
            app,
            api_key="dlk_00000000-0000-4000-8000-000000000000.instructions",
            base_url=driftlock_url,
            stream_id="instructions",
            batch_size=min(size, 100),
            max_queue_size=size,
        )
    return app


def serve(variant: str, requests: int, driftlock_url: str) -> None:
    """The counted process: warm up, then serve ``requests`` requests."""
    import gc
    import logging

    logging.getLogger("driftlock").setLevel(logging.CRITICAL)  # the full queue's warning
    app = make_app(variant, driftlock_url)
    base = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_USER_AGENT": "wrk",
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        return None

    def one() -> None:
        result = app(base | {"wsgi.input": io.BytesIO(b"")}, start_response)
        for _ in result:
            pass
        result.close()

    for _ in range(WARMUP):
        one()
    gc.collect()
    gc.disable()
    for _ in range(requests):
        one()


def count(variant: str, requests: int, driftlock_url: str) -> int:
    """Instructions callgrind counts for a whole run of ``serve``."""
    command = [
        "setarch", os.uname().machine, "-R",
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, "-m", "benchmarks.instructions",
        "--serve", variant, str(requests), driftlock_url,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0", "DRIFTLOCK_TIMEOUT": "3600"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no count from callgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    """Command line: count every variant and print instructions per request."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", nargs=3, metavar=("VARIANT", "REQUESTS", "URL"))
    args = parser.parse_args()
    if args.serve:
        variant, requests, driftlock_url = args.serve
        serve(variant, int(requests), driftlock_url)
        return
    if shutil.which("valgrind") is None or shutil.which("setarch") is None:
        raise SystemExit("benchmarks.instructions needs valgrind (apt-get install valgrind)")
    # A Driftlock that accepts connections (the kernel does, from the backlog) and never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        driftlock_url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        per_request = {
            variant: (
                count(variant, FIRST + EXTRA, driftlock_url) - count(variant, FIRST, driftlock_url)
            )
            / EXTRA
            for variant in VARIANTS
        }
    bare = per_request["bare"]
    for variant, instructions in per_request.items():
        over = instructions - bare
        print(f"{variant:<7} {instructions:>10,.0f} instructions/request  {over:+,.0f} over bare")


if __name__ == "__main__":
    main()
