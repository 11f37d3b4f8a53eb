"""Closed-loop load on one unary method: C concurrent callers for S seconds.

    python -m tests.bench.load --address HOST:PORT --method /pkg.Service/Method \
        --calls FILE --callers 32 --seconds 10

``--calls`` is a JSON list of [bearer token, request bytes (hex)] pairs; caller i
sends pair i mod len. Requests and replies stay bytes (no encoding or decoding
on this side), so the figures are the server's and the transport's. Prints one
JSON line: calls, errors by status, calls/s, p50 and p99 in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path

import grpc


async def _caller(
    call: grpc.aio.UnaryUnaryMultiCallable,
    request: bytes,
    token: str,
    until: float,
    warm_until: float,
    latencies: list[float],
    errors: Counter[str],
    warm: list[int],
) -> None:
    metadata = (("authorization", f"Bearer {token}"),)
    while True:
        started = time.perf_counter()
        if started >= until:
            return
        try:
            await call(request, metadata=metadata, timeout=10)
            if started >= warm_until:
                latencies.append(time.perf_counter() - started)
            else:
                warm[0] += 1
        except grpc.aio.AioRpcError as exc:
            if started >= warm_until:
                errors[exc.code().name] += 1


async def run(
    address: str, method: str, calls: list[tuple[str, bytes]], callers: int, seconds: float
) -> dict[str, object]:
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    warm = [0]
    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.unary_unary(method)
        await channel.channel_ready()
        warm_until = time.perf_counter() + 1.0
        until = warm_until + seconds
        await asyncio.gather(
            *(
                _caller(
                    call,
                    calls[i % len(calls)][1],
                    calls[i % len(calls)][0],
                    until,
                    warm_until,
                    latencies,
                    errors,
                    warm,
                )
                for i in range(callers)
            )
        )
    latencies.sort()
    n = len(latencies)
    return {
        "calls": n,
        "warm_up_calls": warm[0],
        "errors": dict(errors),
        "calls_per_s": n / seconds,
        "p50_ms": latencies[n // 2] * 1000 if n else 0.0,
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000 if n else 0.0,
        "samples_ms": [round(s * 1000, 3) for s in latencies],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--method", required=True)
    parser.add_argument("--calls", type=Path, required=True)
    parser.add_argument("--callers", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--samples", type=Path, help="write every latency (ms) here, as JSON")
    args = parser.parse_args(argv)
    pairs = [(token, bytes.fromhex(hexed)) for token, hexed in json.loads(args.calls.read_text())]
    result = asyncio.run(run(args.address, args.method, pairs, args.callers, args.seconds))
    samples = result.pop("samples_ms")
    if args.samples:
        args.samples.write_text(json.dumps(samples))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
