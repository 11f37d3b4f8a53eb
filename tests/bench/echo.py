"""The baseline of the serving benchmark: a bare gRPC server answering every call of
one method with the same bytes, and nothing else (no auth, no tracing, no limits).

    python -m tests.bench.echo --flavour aio --reply FILE --method /pkg.Service/Method

Prints the port it listens on (127.0.0.1), then serves until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import threading
from concurrent import futures
from pathlib import Path

import grpc


def _handler(method: str, reply: bytes, flavour: str) -> grpc.GenericRpcHandler:
    service, name = method.strip("/").split("/")
    if flavour == "aio":

        async def answer_async(_request: bytes, _context: object) -> bytes:
            return reply

        behaviour = grpc.unary_unary_rpc_method_handler(answer_async)
    else:

        def answer(_request: bytes, _context: object) -> bytes:
            return reply

        behaviour = grpc.unary_unary_rpc_method_handler(answer)
    return grpc.method_handlers_generic_handler(service, {name: behaviour})


async def serve_aio(handler: grpc.GenericRpcHandler) -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(port, flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(0)


def serve_sync(handler: grpc.GenericRpcHandler, threads: int) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    server.stop(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flavour", choices=("aio", "sync"), default="aio")
    parser.add_argument("--reply", type=Path, required=True)
    parser.add_argument("--method", required=True)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args(argv)
    handler = _handler(args.method, args.reply.read_bytes(), args.flavour)
    if args.flavour == "aio":
        asyncio.run(serve_aio(handler))
    else:
        serve_sync(handler, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
