#!/usr/bin/env python3
"""Connections that never authenticate, against one running node (docs/RELIABILITY.md, scenario 7).

Opens --addresses x --per-address connections at once, spread over four kinds (a TCP connection
to the HTTP port that sends nothing, a WebSocket upgraded without a token that never sends `auth`,
a TCP bridge socket that sends nothing, a SockJS raw WebSocket that never registers), each
address of 127.0.0.0/8 staying under limits.unauthenticatedPerIp; then --capped more from one
address, past the cap. Polls /api/health from another address meanwhile. Waits (bounded by
--deadline) until the node has closed every one, and prints how and when.

    python3 bench/unauthenticated.py --port 8080 --bridge-port 7000

Loopback only; every connection is closed when the run ends.
"""
import argparse
import asyncio
import base64
import json
import os
import statistics
import struct
import time

KINDS = ("tcp", "ws", "bridge", "sockjs")


def upgrade(path):
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


def ws_close_code(data):
    """The close code of the first WebSocket close frame after a 101 head, or None."""
    if not data.startswith(b"HTTP/1.1 101"):
        return None
    i = data.find(b"\r\n\r\n")
    if i < 0:
        return None
    i += 4
    while i + 2 <= len(data):
        op, n = data[i] & 0x0F, data[i + 1] & 0x7F
        h = 2
        if n == 126:
            if i + 4 > len(data):
                return None
            n, h = struct.unpack(">H", data[i + 2:i + 4])[0], 4
        if i + h + n > len(data):
            return None
        if op == 8:
            return struct.unpack(">H", data[i + h:i + h + 2])[0] if n >= 2 else 1005
        i += h + n
    return None


async def one(kind, source, args, deadline, delay):
    # Connects ramp up (--ramp connections per 100 ms), so that the listen backlog is not the test.
    await asyncio.sleep(delay)
    port = args.bridge_port if kind == "bridge" else args.port
    try:
        reader, writer = await asyncio.open_connection(args.host, port, local_addr=(source, 0))
    except OSError as e:
        return kind, source, "connect-failed:" + type(e).__name__, 0.0
    # Timed from the connection being established (the node's handshake timer starts at accept).
    began = time.monotonic()
    try:
        if kind == "ws":
            writer.write(upgrade("/api/ws"))
        elif kind == "sockjs":
            writer.write(upgrade("/eventbus/websocket"))
        data = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return kind, source, "still-open", time.monotonic() - began
            try:
                chunk = await asyncio.wait_for(reader.read(4096), left)
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            except asyncio.TimeoutError:
                continue
            data += chunk
            code = ws_close_code(data) if kind in ("ws", "sockjs") else None
            if not chunk or code is not None:
                break
        took = time.monotonic() - began
        if data.startswith(b"HTTP/1.1 429"):
            outcome = "429"
        elif code is not None:
            outcome = f"close-{code}"
        elif kind == "bridge" and len(data) > 4:
            outcome = "err-" + json.loads(data[4:4 + struct.unpack(">I", data[:4])[0]]).get("failureType", "?")
        elif data.startswith(b"HTTP/1.1 "):
            outcome = data[9:12].decode()
        else:
            outcome = "closed" if not data else "closed-after-bytes"
        return kind, source, outcome, took
    finally:
        writer.close()


async def health(args, stop, source):
    latencies, failures = [], 0
    while not stop.is_set():
        t = time.monotonic()
        try:
            r, w = await asyncio.open_connection(args.host, args.port, local_addr=(source, 0))
            w.write(b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = await asyncio.wait_for(r.read(), 10)
            w.close()
            if data.startswith(b"HTTP/1.1 200"):
                latencies.append((time.monotonic() - t) * 1000)
            else:
                failures += 1
        except (OSError, asyncio.TimeoutError):
            failures += 1
        await asyncio.sleep(0.2)
    return latencies, failures


def summary(label, results):
    by = {}
    for kind, _, outcome, took in results:
        by.setdefault((kind, outcome), []).append(took)
    print(f"{label}: {len(results)} connections")
    for (kind, outcome), times in sorted(by.items()):
        print(f"  {kind:7s} {outcome:22s} {len(times):5d}   closed after min {min(times):6.2f} s,"
              f" median {statistics.median(times):6.2f} s, max {max(times):6.2f} s")


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--bridge-port", type=int, required=True)
    p.add_argument("--addresses", type=int, default=20)
    p.add_argument("--per-address", type=int, default=250)
    p.add_argument("--capped", type=int, default=500, help="connections from one more address, past the cap")
    p.add_argument("--ramp", type=int, default=500, help="connections opened per 100 ms")
    p.add_argument("--deadline", type=float, default=120.0, help="give up waiting after this many seconds")
    args = p.parse_args()

    deadline = time.monotonic() + args.deadline
    stop = asyncio.Event()
    probe = asyncio.create_task(health(args, stop, "127.0.0.2"))
    began = time.monotonic()
    n = 0

    def delay():
        nonlocal n
        n += 1
        return (n // args.ramp) * 0.1
    held = [one(KINDS[i % 4], f"127.0.1.{a + 1}", args, deadline, delay())
            for i in range(args.per_address) for a in range(args.addresses)]
    capped = [one(KINDS[i % 4], "127.0.2.1", args, deadline, delay()) for i in range(args.capped)]
    results = await asyncio.gather(*held, *capped)
    stop.set()
    latencies, failures = await probe
    print(f"run took {time.monotonic() - began:.1f} s")
    summary(f"{args.addresses} addresses x {args.per_address} (under the cap)", results[:len(held)])
    summary(f"one address x {args.capped} (past the cap)", results[len(held):])
    if latencies:
        lat = sorted(latencies)
        print(f"/api/health: {len(lat)} answers 200, median {statistics.median(lat):.0f} ms,"
              f" p99 {lat[int(len(lat) * 0.99) - 1 if len(lat) > 1 else 0]:.0f} ms, max {lat[-1]:.0f} ms; {failures} failed")
    else:
        print(f"/api/health: no answer, {failures} failed")


if __name__ == "__main__":
    asyncio.run(main())
