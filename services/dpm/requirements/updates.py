"""Partial updates of a client by field mask (AIP-134).

Mutable fields are display_name, organization, requirements and
neutrality_policy, and any sub-field of the last two (``requirements.needs``,
``neutrality_policy.competitors``, ``requirements.weights.price``). A named
field is replaced as a whole, repeated fields included; an empty mask replaces
every mutable field.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import field_mask_pb2
from google.protobuf.descriptor import Descriptor

from dpm.platform.errors import Violations
from dpm.requirements.v1 import requirements_pb2 as pb

MUTABLE_FIELDS = ("display_name", "organization", "requirements", "neutrality_policy")


def _path_problem(path: str, descriptor: Any) -> str | None:
    parts = path.split(".")
    if parts[0] not in MUTABLE_FIELDS:
        return f"{path!r}: only {', '.join(MUTABLE_FIELDS)} (or their sub-fields) can be updated"
    current: Descriptor | None = descriptor
    for i, part in enumerate(parts):
        field = current.fields_by_name.get(part) if current else None
        if field is None:
            return f"{path!r}: {part!r} is not a field here"
        last = i == len(parts) - 1
        if not last:
            if field.message_type is None or field.is_repeated:
                return f"{path!r}: {part!r} has no sub-fields"
            current = field.message_type
    return None


def check_mask(mask: field_mask_pb2.FieldMask, field: str = "update_mask") -> list[str]:
    """Return the paths to apply (all mutable fields for an empty mask), or raise."""
    if not mask.paths:
        return list(MUTABLE_FIELDS)
    v = Violations()
    for path in mask.paths:
        problem = _path_problem(path, pb.Client.DESCRIPTOR)
        if problem:
            v.add(field, problem)
    v.raise_if_any()
    return list(mask.paths)


def apply_update(current: pb.Client, patch: pb.Client, paths: list[str]) -> pb.Client:
    """A copy of ``current`` with the fields named by ``paths`` taken from ``patch``."""
    updated = pb.Client()
    updated.CopyFrom(current)
    mask = field_mask_pb2.FieldMask(paths=paths)
    mask.MergeMessage(patch, updated, replace_message_field=True, replace_repeated_field=True)
    return updated
