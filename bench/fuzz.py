"""Fuzz bench: hostile WebSocket frames and REST requests against a Parley server on loopback.

Throws malformed and hostile input (deep nesting, NUL and lone surrogates in every place,
NaN, huge numbers, wrong types, truncated and mutated JSON, binary frames, odd URLs) at a
server and counts what should never happen: a 5xx answer, a `server_error` frame, a socket the
server dropped. After every frame the client sends a `ping` and waits for its `pong`, so a
frame that kills or wedges the socket is caught at that frame.

By default it starts its own server (uvicorn on the embedded SQLite database in a temporary
folder, `seed_demo` people, frame rate limit raised so the fuzzing is not throttled) and stops
it after. With --url it uses a running server instead (loopback only), signing in with
--username/--password.

    .venv/bin/python -m bench.fuzz                    # ~1,500 frames, ~600 REST cases, < 2 min
    .venv/bin/python -m bench.fuzz --frames 300 --rest 100 --seed 7
    .venv/bin/python -m bench.fuzz --url http://127.0.0.1:8000 --username alice --password ...

Ends with one JSON line: frames_sent, rest_cases, server_5xx, server_error_frames,
dropped_sockets, and what the server answered.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DEMO_PASSWORD = "parley-demo-2026"  # seed_demo's documented demo password
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
TIMEOUT = 10.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--frames", type=int, default=1500, help="WebSocket frames to send")
    p.add_argument("--rest", type=int, default=600, help="REST requests to send")
    p.add_argument("--seed", type=int, default=20261202, help="random seed (same seed, same run)")
    p.add_argument("--url", help="a running server (http://127.0.0.1:PORT); default: start one")
    p.add_argument("--username", default="alice")
    p.add_argument("--password", default=DEMO_PASSWORD)
    return p.parse_args(argv)


# -- hostile values ---------------------------------------------------------------------------

NUL = "a\x00b"
SURROGATE = "a\ud800b"
HOSTILE_VALUES = [
    NUL,
    SURROGATE,
    "\udfff",
    "\x00",
    "",
    " ",
    "x" * 20_000,
    "é" * 9_000,
    "\u202e\u200b\ufeff",
    "💬" * 100,
    None,
    True,
    False,
    0,
    -1,
    2**63,
    2**64 + 1,
    -(2**63) - 1,
    10**400,
    1.5,
    1e308,
    [],
    {},
    [NUL],
    {NUL: 1},
    {"x": SURROGATE},
    [[[[[[[[[[["deep"]]]]]]]]]]],
]
FRAME_FIELDS = {
    "message.send": ["conversation", "body", "client_id", "reply_to"],
    "message.edit": ["id", "body"],
    "message.delete": ["id"],
    "sync": ["conversation", "after_seq", "limit"],
    "typing": ["conversation"],
    "read": ["conversation", "seq"],
    "presence.set": ["availability", "note", "location", "activity", "expires_in_minutes"],
    "presence.subscribe": ["users"],
    "presence.unsubscribe": ["users"],
    "idle": ["idle"],
    "ping": [],
}


def _nested(depth: int, *, kind: str = "[]") -> str:
    return kind[0] * depth + kind[1] * depth


def _dumps(value) -> str:
    """JSON text with \\u escapes for NUL and lone surrogates, as a hostile client sends them."""
    return json.dumps(value, ensure_ascii=True)


def frame_texts(rng: random.Random, count: int, conversation: int) -> list[str]:
    """Return count hostile text frames: fixed nasties first, then random ones."""
    fixed = [
        _nested(1000),
        _nested(20_000),
        _nested(5000, kind="{}"),
        '{"type": "ping", "x": ' + _nested(3000) + "}",
        '{"a":' * 3000 + "1" + "}" * 3000,
        "[" * 30_000,
        "{",
        "",
        " ",
        "null",
        "[]",
        '"ping"',
        "1" * 5000,
        '{"type": "ping", "ref": NaN}',
        '{"type": "ping", "ref": Infinity}',
        '{"type": "ping", "ref": 1e400}',
        '{"type": "ping", "type": "message.send"}',
        '{"type": "ping"}garbage',
        _dumps({"type": NUL}),
        _dumps({"type": "ping", "ref": NUL}),
        _dumps({"type": "ping", NUL: 1}),
        _dumps({"type": "message.send", "conversation": conversation, "body": NUL}),
        _dumps({"type": "message.send", "conversation": conversation, "body": SURROGATE}),
        _dumps({"type": "presence.set", "note": NUL}),
        _dumps({"type": "presence.set", "location": SURROGATE}),
        _dumps({"type": "presence.subscribe", "users": [NUL] * 500}),
        _dumps({"type": "sync", "conversation": 2**64, "after_seq": -(2**63)}),
    ]
    texts = fixed[:count]
    while len(texts) < count:
        frame_type = rng.choice([*FRAME_FIELDS, "unknown.type", NUL, 42])
        frame: dict = {"type": frame_type, "ref": rng.choice(["r", 7, NUL, None, [1], 2**70])}
        for name in FRAME_FIELDS.get(frame_type, []) if isinstance(frame_type, str) else []:
            if rng.random() < 0.7:
                frame[name] = rng.choice(HOSTILE_VALUES)
        if rng.random() < 0.2:
            frame[rng.choice(["extra", NUL, SURROGATE, ""])] = rng.choice(HOSTILE_VALUES)
        text = _dumps(frame)
        mutation = rng.random()
        if mutation < 0.15:  # truncated
            text = text[: rng.randrange(len(text) + 1)]
        elif mutation < 0.3:  # a character replaced by JSON punctuation
            position = rng.randrange(len(text))
            text = text[:position] + rng.choice('{}[]",:\\0') + text[position + 1 :]
        elif mutation < 0.35:  # wrapped deep
            text = "[" * 600 + text + "]" * 600
        texts.append(text[:60_000])  # under the frame limit: a bigger frame closes by design
    return texts


# -- the server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_start(workdir: Path) -> tuple[subprocess.Popen, str]:
    """Start uvicorn on a fresh embedded database with the demo people; return it and its URL."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_PRODUCTION"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        PARLEY_DATA_DIR=str(workdir / "data"),
        DJANGO_DEBUG="false",
        PARLEY_WS_RATE_PER_SECOND="100000",
        PARLEY_WS_RATE_BURST="100000",
    )
    python = str(VENV_BIN / "python")
    for command in (["migrate", "-v0"], ["seed_demo"]):
        subprocess.run(
            [python, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True
        )
    port = free_port()
    log = (workdir / "server.log").open("wb")
    server = subprocess.Popen(
        [
            str(VENV_BIN / "uvicorn"),
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--ws",
            "websockets-sansio",
            "--lifespan",
            "off",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited; see {workdir / 'server.log'}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return server, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not start within 60 s")


# -- REST -------------------------------------------------------------------------------------

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(base: str, method: str, path: str, *, token: str | None, body: bytes | None = None):
    """Return (status, parsed JSON or None) of one request."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(  # noqa: S310 - loopback only, checked in main()
        base + path, data=body, headers=headers, method=method
    )
    try:
        with _opener.open(request, timeout=TIMEOUT) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def rest_cases(rng: random.Random, count: int, conversation: int) -> list[tuple[str, str, bytes]]:
    """Return count (method, path, body) requests with hostile URLs or bodies."""
    bad_path_parts = ["a%00b", "%ED%A0%80", "%FF%FE", "x" * 3000, "..%2F..", "%2e%2e", "0", "-1"]
    bad_query = ["%00", "%ED%A0%80", "%FF", "x" * 5000, "", "%", "&&&", "1e400"]
    get_paths = [
        "/api/v1/users/?q={}",
        "/api/v1/rooms/?q={}&category={}",
        "/api/v1/search/?q={}",
        "/api/v1/presence/{}/",
        "/api/v1/contacts/{}/",
        f"/api/v1/conversations/{conversation}/messages/?after_seq={{}}&limit={{}}",
        "/api/v1/archive/audit/?actor={}",
        "/api/v1/rooms/{}/members/?offset={}",
    ]
    bodies = [
        ("PUT", "/api/v1/presence/", ["availability", "note", "location", "expires_in_minutes"]),
        ("POST", "/api/v1/conversations/", ["participants", "title"]),
        ("POST", f"/api/v1/conversations/{conversation}/messages/", ["body", "client_id"]),
        ("POST", "/api/v1/contacts/", ["username", "group", "relationship"]),
        ("POST", "/api/v1/rooms/", ["name", "topic", "description", "privacy", "kind"]),
        ("POST", "/api/v1/feeds/", ["name", "words", "hashtags", "rooms", "authors"]),
        ("POST", "/api/v1/archive/cases/", ["name", "description"]),
        ("POST", "/api/v1/archive/search/", ["query", "participants", "start", "facets"]),
        ("POST", "/api/v1/archive/exports/", ["search", "format", "case"]),
        ("POST", "/api/v1/auth/token/", ["username", "password"]),
    ]
    raw_bodies = [
        b"{",
        b"\xff\xfe\x00",
        b"null",
        b"[]",
        b'{"a": NaN}',
        _nested(5000).encode(),
        ('{"note": ' + _nested(2000) + "}").encode(),
        b'{"note": "\\u0000"}',
        b'{"note": "\\ud800"}',
        b"1" * 5000,
    ]
    cases: list[tuple[str, str, bytes]] = []
    while len(cases) < count:
        roll = rng.random()
        if roll < 0.35:
            template = rng.choice(get_paths)
            parts = [
                rng.choice(bad_query if "?" in template else bad_path_parts)
                for _ in range(template.count("{}"))
            ]
            cases.append(("GET", template.format(*parts), b""))
        elif roll < 0.5:
            method, path, _ = rng.choice(bodies)
            cases.append((method, path, rng.choice(raw_bodies)))
        else:
            method, path, fields = rng.choice(bodies)
            payload = {name: rng.choice(HOSTILE_VALUES) for name in fields if rng.random() < 0.8}
            cases.append((method, path, _dumps(payload).encode()))
    return cases


# -- the run ----------------------------------------------------------------------------------


class Socket:
    """One fuzzing WebSocket, reopened when the server drops it."""

    def __init__(self, ws_url: str, token: str) -> None:
        self.ws_url, self.token = ws_url, token
        self.stack = ExitStack()
        self.open()

    def open(self) -> None:
        self.stack = ExitStack()
        self.ws = self.stack.enter_context(
            connect(
                self.ws_url,
                additional_headers={"Authorization": f"Bearer {self.token}"},
                proxy=None,
                open_timeout=TIMEOUT,
                max_size=None,
            )
        )
        hello = json.loads(self.ws.recv(timeout=TIMEOUT))
        if hello.get("type") != "hello":
            raise SystemExit(f"the server did not say hello: {hello}")

    def exchange(self, text: str | bytes, marker: str) -> list[dict]:
        """Send a frame, then a ping; return the frames read up to its pong."""
        self.ws.send(text)
        self.ws.send(json.dumps({"type": "ping", "ref": marker}))
        frames = []
        deadline = time.monotonic() + TIMEOUT
        while True:
            frame = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if frame.get("type") == "pong" and frame.get("ref") == marker:
                return frames
            frames.append(frame)

    def close(self) -> None:
        self.stack.close()


def run(args: argparse.Namespace, base: str) -> dict:
    rng = random.Random(args.seed)
    status, answer = http(
        base,
        "POST",
        "/api/v1/auth/token/",
        token=None,
        body=json.dumps({"username": args.username, "password": args.password}).encode(),
    )
    if status != 201:
        raise SystemExit(f"signing in as {args.username} failed: {status} {answer}")
    token = answer["token"]
    status, answer = http(
        base, "POST", "/api/v1/conversations/", token=token, body=b'{"participants": ["bob"]}'
    )
    conversation = answer["id"] if status in (200, 201) else 1

    ws_url = base.replace("http://", "ws://", 1) + "/ws/"
    sock = Socket(ws_url, token)
    error_codes: Counter = Counter()
    frames_sent = dropped = server_error_frames = 0
    started = time.monotonic()
    texts: list[str | bytes] = list(frame_texts(rng, args.frames, conversation))
    if args.frames >= 10:
        texts[rng.randrange(len(texts))] = b"\x00\xff binary"
    for index, text in enumerate(texts):
        frames_sent += 1
        try:
            replies = sock.exchange(text, f"fuzz-{index}")
        except (ConnectionClosed, TimeoutError, OSError):
            dropped += 1
            print(f"socket dropped after frame {index}: {str(text)[:120]!r}", flush=True)
            sock.close()
            sock.open()
            continue
        for reply in replies:
            if reply.get("type") == "error":
                error_codes[reply.get("code")] += 1
                if reply.get("code") == "server_error":
                    server_error_frames += 1
                    print(f"server_error for frame {index}: {str(text)[:120]!r}", flush=True)
    sock.close()
    ws_seconds = time.monotonic() - started

    statuses: Counter = Counter()
    server_5xx = 0
    started = time.monotonic()
    cases = rest_cases(rng, args.rest, conversation)
    for method, path, body in cases:
        status, answer = http(base, method, path, token=token, body=body or None)
        statuses[status] += 1
        if status >= 500:
            server_5xx += 1
            print(f"{status} for {method} {path[:100]} {body[:100]!r}", flush=True)
    rest_seconds = time.monotonic() - started
    return {
        "bench": "fuzz",
        "seed": args.seed,
        "frames_sent": frames_sent,
        "rest_cases": len(cases),
        "server_5xx": server_5xx,
        "server_error_frames": server_error_frames,
        "dropped_sockets": dropped,
        "error_frame_codes": dict(error_codes.most_common()),
        "rest_statuses": {str(k): v for k, v in sorted(statuses.items())},
        "ws_seconds": round(ws_seconds, 1),
        "rest_seconds": round(rest_seconds, 1),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="parley-fuzz-"))
    server = None
    try:
        if args.url:
            host = urlsplit(args.url).hostname or ""
            if host not in LOOPBACK:
                raise SystemExit("bench.fuzz only talks to a server on loopback (127.0.0.1).")
            base = args.url.rstrip("/")
        else:
            server, base = server_start(workdir)
        print(f"fuzzing {base}: {args.frames} frames, {args.rest} REST cases", flush=True)
        result = run(args, base)
        print(
            f"frames sent {result['frames_sent']}, REST cases {result['rest_cases']}, "
            f"5xx {result['server_5xx']}, server_error frames {result['server_error_frames']}, "
            f"dropped sockets {result['dropped_sockets']}",
            flush=True,
        )
        print(json.dumps(result), flush=True)
        is_clean = not (
            result["server_5xx"] or result["dropped_sockets"] or result["server_error_frames"]
        )
        return 0 if is_clean else 1
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
