"""Baseline broadcast server: bare ``websockets`` on uvloop, no auth, no storage.

A client joins rooms with ``/ws/?rooms=1,2``. Every text frame carrying a ``conversation``
field is written unchanged to every open connection in that room, the sender included.
This is the floor Parley is compared against: one JSON parse per sent message and one
socket write per delivery, in a single process.

Run: ``.venv/bin/python bench/bare_broadcast.py --port 8700``
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from urllib.parse import parse_qs, urlsplit

import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve

rooms: defaultdict[str, set[ServerConnection]] = defaultdict(set)


async def handler(ws: ServerConnection) -> None:
    """Register the connection in its rooms and relay its frames to those rooms."""
    query = parse_qs(urlsplit(ws.request.path if ws.request else "/").query)
    joined = [r for r in query.get("rooms", [""])[0].split(",") if r]
    for room in joined:
        rooms[room].add(ws)
    try:
        async for message in ws:
            try:
                room = str(json.loads(message)["conversation"])
            except (ValueError, KeyError, TypeError):
                continue
            members = rooms.get(room)
            if members:
                broadcast(members, message)
    finally:
        for room in joined:
            rooms[room].discard(ws)


async def main(host: str, port: int) -> None:
    # Same frame-size cap as the Parley command line; no compression, as the bench clients
    # don't offer it to either server.
    async with serve(handler, host, port, max_size=1048576, compression=None) as server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700)
    args = parser.parse_args()
    uvloop.run(main(args.host, args.port))
