#!/usr/bin/env python3
"""Resident memory per idle keep-alive connection.

Opens N connections to the server, sends one request on each (HTTP/1.1
`GET`, or HTTP/2 over cleartext with prior knowledge: the preface, a
SETTINGS frame and one HEADERS frame), reads the whole response, and keeps
the connection open and silent. Then it reads the server's resident
memory (`VmRSS` of PID) before (after one warm-up request), while the N
connections are idle, and after they are closed, and prints the cost per
connection.

Usage: idle_conns.py URL PID [--conns N] [--http2] [--settle S] [--hold S]

  URL      e.g. http://127.0.0.1:8000/plaintext
  PID      the server's process id
  --settle seconds to wait before reading the memory (default 3: long
           enough for the server to let idle connections go quiet)
  --hold   seconds to keep the connections open before closing (default
           the settle time)

The client's own limit on open files must allow N sockets (ulimit -n), and
the server's connection cap must be at least N.
"""

import argparse
import asyncio
import resource
import struct
import sys
import time
import urllib.parse

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit(f"no VmRSS for pid {pid}")


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def hpack_literal(index, value):
    # Literal header field without indexing, name from the static table.
    value = value.encode()
    assert index < 15 and len(value) < 127
    return bytes([index, len(value)]) + value


def h2_request(host, path):
    block = (
        b"\x82"  # :method GET
        + b"\x86"  # :scheme http
        + (b"\x84" if path == "/" else hpack_literal(4, path))  # :path
        + hpack_literal(1, host)  # :authority
    )
    # SETTINGS (empty), then HEADERS with END_STREAM | END_HEADERS on stream 1.
    return PREFACE + frame(0x4, 0, 0) + frame(0x1, 0x5, 1, block)


async def h2_exchange(reader, writer, host, path):
    writer.write(h2_request(host, path))
    await writer.drain()
    while True:
        head = await reader.readexactly(9)
        length = int.from_bytes(head[:3], "big")
        kind, flags = head[3], head[4]
        stream = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
        payload = await reader.readexactly(length)
        if kind == 0x4 and not flags & 0x1:
            writer.write(frame(0x4, 0x1, 0))  # SETTINGS ACK
        elif kind == 0x6 and not flags & 0x1:
            writer.write(frame(0x6, 0x1, 0, payload))  # PING ACK
        elif kind == 0x7:
            raise ConnectionError("GOAWAY")
        elif stream == 1 and kind in (0x0, 0x1) and flags & 0x1:
            await writer.drain()
            return


async def h1_exchange(reader, writer, host, path):
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    if not head.startswith(b"HTTP/1.1 2"):
        raise ConnectionError(head.split(b"\r\n")[0].decode())
    await reader.readexactly(length)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("pid", type=int)
    parser.add_argument("--conns", type=int, default=10_000)
    parser.add_argument("--http2", action="store_true")
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--hold", type=float)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()
    url = urllib.parse.urlsplit(args.url)
    host, port, path = url.hostname, url.port or 80, url.path or "/"
    authority = f"{host}:{port}"
    exchange = h2_exchange if args.http2 else h1_exchange

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.conns + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.conns + 1000), hard))

    # One request first, so that "before" is a server that has served
    # (lazily built state, the first database connection), not a cold one.
    reader, writer = await asyncio.open_connection(host, port)
    await exchange(reader, writer, authority, path)
    writer.close()
    await asyncio.sleep(1)
    before = rss_kb(args.pid)
    open_ = []
    failed = 0

    async def one():
        nonlocal failed
        try:
            reader, writer = await asyncio.open_connection(host, port)
            await exchange(reader, writer, authority, path)
            open_.append((reader, writer))
        except (OSError, asyncio.IncompleteReadError, ConnectionError) as err:
            failed += 1
            if failed <= 3:
                print(f"connection failed: {err!r}", file=sys.stderr)

    start = time.monotonic()
    for i in range(0, args.conns, args.batch):
        await asyncio.gather(*(one() for _ in range(min(args.batch, args.conns - i))))
    opened = time.monotonic() - start
    await asyncio.sleep(args.settle)
    during = rss_kb(args.pid)
    # Every connection must still be open (the server may not have closed
    # them while they were quiet).
    closed_early = sum(1 for reader, _ in open_ if reader.at_eof())
    hold = args.hold if args.hold is not None else 0.0
    if hold:
        await asyncio.sleep(hold)
    for _, writer in open_:
        writer.close()
    await asyncio.sleep(args.settle)
    after = rss_kb(args.pid)

    n = len(open_)
    kind = "HTTP/2 (h2c)" if args.http2 else "HTTP/1.1"
    print(f"{kind}: {n} idle keep-alive connections opened in {opened:.1f} s ({failed} failed, {closed_early} closed by the server while idle)")
    print(f"resident memory: before {before / 1024:.1f} MB, with the connections {during / 1024:.1f} MB, after closing {after / 1024:.1f} MB")
    if n:
        print(f"per idle connection: {(during - before) * 1024 / n / 1024:.2f} KB")
    print(f"after closing: {100 * (after - before) / before:+.0f} % of the starting figure")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())
