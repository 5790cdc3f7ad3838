#!/usr/bin/env python3
"""Holds N idle websockets open against a chat room and reports the server's
resident memory before and with them (read from /proc/PID/status), then
checks that every socket still works by sending one message through the room.

Usage: ws_idle.py URL PID [--clients N] [--rooms R] [--hold SECONDS]
   e.g. ws_idle.py ws://127.0.0.1:8010/ws/chat/ 12345 --clients 10000 --rooms 100
URL is the rooms' prefix: clients join URL + "room<k>/" in turn, spread over R
rooms, as idle chat users would be. Needs `websockets` (the peers' venv has it)
and a file-descriptor limit above N (ulimit -n)."""
import argparse, asyncio, json, time

import websockets


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("pid", type=int)
    ap.add_argument("--clients", type=int, default=10000)
    ap.add_argument("--rooms", type=int, default=100)
    ap.add_argument("--hold", type=float, default=10)
    a = ap.parse_args()
    before = rss_kib(a.pid)
    conns = []
    t0 = time.perf_counter()
    batch = 200
    for start in range(0, a.clients, batch):
        urls = [f"{a.url}room{k % a.rooms}/" for k in range(start, min(a.clients, start + batch))]
        conns += await asyncio.gather(
            *(websockets.connect(u, max_size=2**20, open_timeout=60, ping_interval=None) for u in urls)
        )
    opened = time.perf_counter() - t0
    await asyncio.sleep(a.hold)
    held = rss_kib(a.pid)
    # Every socket is alive: one message in room0 reaches each of its members.
    members = conns[0 :: a.rooms]
    await members[0].send(json.dumps({"message": "still there?"}))
    replies = await asyncio.gather(*(asyncio.wait_for(ws.recv(), 30) for ws in members))
    alive = sum(1 for r in replies if json.loads(r)["message"] == "still there?")
    print(
        f"clients={len(conns)} opened_in_s={opened:.1f} rss_before_mb={before / 1024:.1f} "
        f"rss_held_mb={held / 1024:.1f} per_socket_kb={(held - before) / len(conns):.1f} "
        f"room0_alive={alive}/{len(members)}"
    )
    await asyncio.gather(*(ws.close() for ws in conns))


asyncio.run(main())
