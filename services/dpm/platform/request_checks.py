"""Checks every request passes before a servicer sees it.

Bytes that are not the method's request message (a client built from another
schema) are refused as INVALID_ARGUMENT naming ``request``: the guards'
deserializers hand over an ``Undecodable`` instead of raising.

A NUL byte is never meaningful in dpmatch's text, and PostgreSQL cannot store
one (it raises, which would surface as INTERNAL): refuse it here once, for
every field of every message, naming the field, instead of in each validator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from dpm.platform.errors import InvalidArgument, Violations

_STRING = FieldDescriptor.TYPE_STRING
_MESSAGE = FieldDescriptor.TYPE_MESSAGE


class Undecodable:
    """What a guarded deserializer hands over for bytes that are not the method's
    request message: refused as INVALID_ARGUMENT once the caller is authenticated
    (raised in the deserializer, gRPC would answer INTERNAL or UNKNOWN)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def decoding(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """``deserialize``, handing back an ``Undecodable`` instead of raising."""
    if deserialize is None:
        return None

    def decode(data: bytes) -> Any:
        try:
            return deserialize(data)
        except DecodeError as exc:
            return Undecodable(str(exc))

    return decode


def refuse_undecodable(request: object) -> None:
    if isinstance(request, Undecodable):
        raise InvalidArgument.one(
            "request", f"the bytes are not this method's request message ({request.reason})"
        )


def refusing_undecodable(requests: Iterator[Any]) -> Iterator[Any]:
    """A client stream's requests, INVALID_ARGUMENT at the first that did not decode."""
    for request in requests:
        refuse_undecodable(request)
        yield request


def may_hold_nul(data: bytes) -> bool:
    """Whether a serialized request may hold a NUL byte in a string: a string field
    with one always shows a 0x00 byte on the wire, so most requests need no walk."""
    return b"\x00" in data


def refuse_nul_bytes(request: object) -> None:
    """INVALID_ARGUMENT naming each string field of ``request`` that holds a NUL byte."""
    if not isinstance(request, Message):
        return
    v = Violations()
    _walk(request, "", v)
    v.raise_if_any()


def _walk(message: Message, prefix: str, v: Violations) -> None:
    for field, value in message.ListFields():
        path = f"{prefix}{field.name}"
        repeated = field.is_repeated
        if field.type == _STRING:
            items = value if repeated else [value]
            for i, text in enumerate(items):
                if "\x00" in text:
                    v.add(f"{path}[{i}]" if repeated else path, "must not contain a NUL byte")
        elif field.type == _MESSAGE:
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                for key, item in value.items():
                    if isinstance(key, str) and "\x00" in key:
                        v.add(f"{path}", "must not contain a NUL byte in a key")
                    if isinstance(item, Message):
                        _walk(item, f"{path}[{key!r}].", v)
                    elif isinstance(item, str) and "\x00" in item:
                        v.add(f"{path}[{key!r}]", "must not contain a NUL byte")
            elif repeated:
                for i, item in enumerate(value):
                    _walk(item, f"{path}[{i}].", v)
            else:
                _walk(value, f"{path}.", v)
