"""JSON logs on stderr, each record carrying the current trace and span ids."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter


class TraceContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        ctx = trace.get_current_span().get_span_context()
        record.trace_id = format(ctx.trace_id, "032x") if ctx.is_valid else ""
        record.span_id = format(ctx.span_id, "016x") if ctx.is_valid else ""
        return True


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(TraceContextFilter())
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(trace_id)s %(span_id)s",
            rename_fields={"levelname": "level", "asctime": "time"},
            static_fields={"service": service},
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Python warnings (a library's DeprecationWarning, Celery's SecurityWarning) become
    # records of the "py.warnings" logger: JSON like every other line.
    logging.captureWarnings(True)


def json_line(service: str, level: str, name: str, message: str) -> bytes:
    """One record in the handler's format, built without the logging module's locks: for
    what must be written from a signal handler."""
    record = {
        "time": dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S,%f")[:-3],
        "level": level,
        "name": name,
        "message": message,
        "trace_id": "",
        "span_id": "",
        "service": service,
    }
    return (json.dumps(record) + "\n").encode()
