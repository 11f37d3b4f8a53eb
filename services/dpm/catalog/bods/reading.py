"""Reading one BODS statement: JSON text of version 0.4 or 0.3 -> ``model.Statement``.

Pure: no database, no gRPC. A statement that cannot be read raises
``Problem`` with the offending field, as a path in the statement
("recordDetails.interests[0].share.minimum"), and the reason in words.

What is checked here is what one statement shows on its own: JSON, types,
codes, dates, share ranges (minimum <= maximum, percentages in [0, 100]),
sizes. What needs the other statements (references, duplicates, cycles) is
``validation``'s business.

Leniency: fields dpmatch does not use are not checked beyond their size;
missing optional fields get BODS's meaning (an interest without
directOrIndirect is "unknown"). 0.3 share bounds may be flags
(``exclusiveMinimum: true``) or, as in 0.4, numbers; an absent flag means
inclusive. Interest codes are checked against the 0.4 codelist for 0.4
statements (the codelist is closed); a 0.3 statement may use older codes,
which count as an interest of unknown type.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
from collections.abc import Iterator
from typing import Any

from dpm.catalog.bods.ids import digest
from dpm.catalog.bods.model import (
    Directness,
    Interest,
    Party,
    RecordType,
    Ref,
    Relationship,
    Share,
    Source,
    Statement,
    Status,
)
from dpm.platform.dates import EARLIEST, LATEST

# A statement is at most this many bytes of UTF-8 JSON.
MAX_STATEMENT_BYTES = 1 << 20
# Any one string in a statement is at most this many characters.
MAX_STRING_CHARS = 10_000
# Statement and record ids are at most this long (BODS 0.4 says 32-64 for statement ids).
MAX_ID_CHARS = 256
# How deep a statement may nest (BODS needs 6 levels).
MAX_DEPTH = 32

INTEREST_TYPES = frozenset(
    {
        "shareholding",
        "votingRights",
        "appointmentOfBoard",
        "otherInfluenceOrControl",
        "seniorManagingOfficial",
        "settlor",
        "trustee",
        "protector",
        "beneficiaryOfLegalArrangement",
        "rightsToSurplusAssetsOnDissolution",
        "rightsToProfitOrIncome",
        "rightsGrantedByContract",
        "conditionalRightsGrantedByContract",
        "controlViaCompanyRulesOrArticles",
        "controlByLegalFramework",
        "boardMember",
        "boardChair",
        "unknownInterest",
        "unpublishedInterest",
        "enjoymentAndUseOfAssets",
        "rightToProfitOrIncomeFromAssets",
        "nominee",
        "nominator",
    }
)
STATEMENT_TYPES_03 = {
    "entityStatement": RecordType.ENTITY,
    "personStatement": RecordType.PERSON,
    "ownershipOrControlStatement": RecordType.RELATIONSHIP,
}
KIND_MARKER = "dpmatch kind: "
COUNTRY = re.compile(r"[A-Za-z]{2}(-[A-Za-z0-9]{1,3})?")
PARTIAL_DATE = re.compile(r"(\d{4})(?:-(\d{2}))?")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Problem(Exception):
    """Why a statement cannot be read: the field (a path in it) and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


def ids_of(text: str) -> tuple[str, str]:
    """(statement id, record id) of raw text when they can be found cheaply; "" otherwise.

    For reporting a statement that cannot be read (and the references to its record).
    """
    if len(text) > MAX_STATEMENT_BYTES:
        found = re.search(r'"statementI[dD]"\s*:\s*"([^"\\]{1,64})', text[:4096])
        return (found.group(1) if found else ""), ""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    statement_id = next(
        (
            str(data[k])[:MAX_ID_CHARS]
            for k in ("statementId", "statementID")
            if isinstance(data.get(k), str)
        ),
        "",
    )
    record_id = data.get("recordId") if "recordId" in data else data.get("statementID")
    return statement_id, record_id if isinstance(record_id, str) else ""


def read(text: str, index: int) -> Statement:
    """The statement in ``text`` (one JSON object); ``Problem`` when it cannot be read."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_STATEMENT_BYTES:
        raise Problem("", f"is {_bytes(size)}, more than the {_bytes(MAX_STATEMENT_BYTES)} allowed")
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise Problem("", "is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise Problem(
            "", f"is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except ValueError as exc:
        raise Problem("", f"is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise Problem("", f"must be a JSON object, not {_kind(data)}")
    _check_sizes(data, "", 0)
    if "recordType" in data or "recordDetails" in data or "statementId" in data:
        statement = _read_04(_Obj(data, ""), index)
    elif "statementType" in data or "statementID" in data:
        statement = _read_03(_Obj(data, ""), index)
    else:
        raise Problem(
            "",
            "is neither a BODS 0.4 statement (statementId, recordType, recordDetails) "
            "nor a BODS 0.3 one (statementID, statementType)",
        )
    return dataclasses.replace(statement, content=digest(repr(statement.meaning()), 8))


# ------------------------------------------------------------------------------ 0.4


def _read_04(top: _Obj, index: int) -> Statement:
    statement_id = top.ident("statementId")
    record_id = top.ident("recordId")
    record_type = RecordType(top.code("recordType", [t.value for t in RecordType], required=True))
    status = Status(top.code("recordStatus", [s.value for s in Status]) or Status.NEW)
    details = top.obj("recordDetails", required=True)
    assert details is not None
    is_component = details.boolean("isComponent")
    source = _source(top)
    party = relationship = None
    if record_type is RecordType.ENTITY:
        party = _entity(details, details.obj("entityType"))
    elif record_type is RecordType.PERSON:
        party = _person(details, details.string("personType"))
    else:
        relationship = Relationship(
            subject=_ref_04(details, "subject"),
            interested=_ref_04(details, "interestedParty"),
            interests=_interests(details, strict=True),
            components=tuple(details.strings("componentRecords")),
        )
    return Statement(
        index=index,
        statement_id=statement_id,
        version="0.4",
        record_type=record_type,
        record_id=record_id,
        status=status,
        is_component=is_component,
        source=source,
        party=party,
        relationship=relationship,
    )


def _ref_04(details: _Obj, key: str) -> Ref:
    value = details.get(key)
    path = details.path(key)
    if value is None:
        raise Problem(path, "is required")
    if isinstance(value, str):
        if not value:
            raise Problem(path, "must not be empty")
        if len(value) > MAX_ID_CHARS:
            raise Problem(path, f"is {len(value)} characters, more than {MAX_ID_CHARS}")
        return Ref(record_id=value)
    if isinstance(value, dict):
        reason = _Obj(value, path).string("reason")
        return Ref(unspecified=reason or "unknown")
    raise Problem(
        path, f"must be a record id (string) or an unspecified record, not {_kind(value)}"
    )


# ------------------------------------------------------------------------------ 0.3


def _read_03(top: _Obj, index: int) -> Statement:
    statement_id = top.ident("statementID")
    kind = top.code("statementType", list(STATEMENT_TYPES_03), required=True)
    record_type = STATEMENT_TYPES_03[kind]
    replaces = tuple(top.strings("replacesStatements"))
    for i, replaced in enumerate(replaces):
        _check_id(replaced, top.path(f"replacesStatements[{i}]"))
    source = _source(top)
    party = relationship = None
    if record_type is RecordType.ENTITY:
        entity_type = top.get("entityType")
        if isinstance(entity_type, str) or entity_type is None:
            party = _entity(top, None, entity_type or "")
        else:
            party = _entity(top, top.obj("entityType"))
    elif record_type is RecordType.PERSON:
        party = _person(top, top.string("personType"))
    else:
        relationship = Relationship(
            subject=_ref_03(top, "subject"),
            interested=_ref_03(top, "interestedParty"),
            interests=_interests(top, strict=False),
            components=tuple(top.strings("componentStatementIDs")),
        )
    return Statement(
        index=index,
        statement_id=statement_id,
        version="0.3",
        record_type=record_type,
        record_id=statement_id,
        status=Status.UPDATED if replaces else Status.NEW,
        is_component=top.boolean("isComponent"),
        replaces=replaces,
        source=source,
        party=party,
        relationship=relationship,
    )


def _ref_03(top: _Obj, key: str) -> Ref:
    ref = top.obj(key, required=True)
    assert ref is not None
    entity = ref.string("describedByEntityStatement")
    person = ref.string("describedByPersonStatement")
    unspecified = ref.obj("unspecified")
    given = [x for x in (entity, person, unspecified) if x]
    if len(given) != 1:
        raise Problem(
            top.path(key),
            "must have exactly one of describedByEntityStatement, describedByPersonStatement "
            "and unspecified",
        )
    if key == "subject" and not entity:
        raise Problem(top.path(key), "must be described by an entity statement")
    if unspecified is not None:
        return Ref(unspecified=unspecified.string("reason") or "unknown")
    record_id = entity or person
    _check_id(
        record_id,
        ref.path("describedByEntityStatement" if entity else "describedByPersonStatement"),
    )
    return Ref(record_id=record_id, expected=RecordType.ENTITY if entity else RecordType.PERSON)


# ------------------------------------------------------------------------------ shared


def _entity(details: _Obj, entity_type: _Obj | None, subtype: str = "") -> Party:
    kind_hint = ""
    if entity_type is not None:
        subtype = entity_type.string("type")
        marker = entity_type.string("details")
        if marker.startswith(KIND_MARKER):
            kind_hint = marker[len(KIND_MARKER) :].strip()
    jurisdiction = details.obj("jurisdiction")
    country = _country(jurisdiction.string("code")) if jurisdiction else ""
    return Party(
        name=details.string("name").strip(),
        country=country,
        subtype=subtype,
        uri=_url(details.string("uri")),
        kind_hint=kind_hint,
    )


def _person(details: _Obj, person_type: str) -> Party:
    names = details.objs("names")
    chosen = next((n for n in names if n.string("type") in ("legal", "individual")), None)
    chosen = chosen or (names[0] if names else None)
    name = ""
    if chosen is not None:
        name = chosen.string("fullName").strip() or " ".join(
            part for part in (chosen.string("givenName"), chosen.string("familyName")) if part
        )
    country = ""
    for nationality in details.objs("nationalities"):
        country = _country(nationality.string("code"))
        if country:
            break
    return Party(name=name, country=country, subtype=person_type, uri=_url(details.string("uri")))


def _interests(holder: _Obj, *, strict: bool) -> tuple[Interest, ...]:
    found = []
    for item in holder.objs("interests"):
        code = item.string("type")
        if code and code not in INTEREST_TYPES:
            if strict:
                raise Problem(item.path("type"), f"{code!r} is not an interestType of BODS 0.4")
            code = "unknownInterest"
        directness = item.code("directOrIndirect", [d.value for d in Directness])
        start = item.date("startDate", partial=True)
        end = item.date("endDate", partial=True)
        if start and end and end < start:
            raise Problem(item.path("endDate"), f"{end} is before startDate {start}")
        share_obj = item.obj("share")
        found.append(
            Interest(
                type=code,
                directness=Directness(directness or Directness.UNKNOWN),
                share=_share(share_obj) if share_obj else None,
                start=start,
                end=end,
                details=item.string("details"),
            )
        )
    return tuple(found)


def _share(share: _Obj) -> Share | None:
    """A share in percent -> fractions; refuses what no number can satisfy."""
    exact = share.percentage("exact")
    low = share.percentage("minimum")
    high = share.percentage("maximum")
    low_open = high_open = False
    # 0.4: exclusiveMinimum/Maximum are bounds; 0.3: flags on minimum/maximum.
    for key in ("exclusiveMinimum", "exclusiveMaximum"):
        value = share.get(key)
        lower = key == "exclusiveMinimum"
        if isinstance(value, bool):
            if lower:
                low_open = value and low is not None
            else:
                high_open = value and high is not None
            continue
        bound = share.percentage(key)
        if bound is None:
            continue
        if lower and (low is None or bound >= low):
            low, low_open = bound, True
        elif not lower and (high is None or bound <= high):
            high, high_open = bound, True
    field = share.path("")
    if low is not None and high is not None:
        if low > high:
            raise Problem(field, f"minimum {_pct(low)} is more than maximum {_pct(high)}")
        if low == high and (low_open or high_open):
            raise Problem(field, f"the range around {_pct(low)} is empty (an exclusive bound)")
    if exact is not None:
        if (low is not None and (exact < low or (low_open and exact == low))) or (
            high is not None and (exact > high or (high_open and exact == high))
        ):
            raise Problem(field, f"exact {_pct(exact)} is outside its own range")
        return Share(exact=exact / 100)
    if low is None and high is None:
        return None
    if low is not None and low == high:
        return Share(exact=low / 100)
    return Share(
        minimum=None if low is None else low / 100,
        maximum=None if high is None else high / 100,
        exclusive_minimum=low_open,
        exclusive_maximum=high_open,
    )


def _source(top: _Obj) -> Source:
    src = top.obj("source")
    publication = top.obj("publicationDetails")
    publisher = publication.obj("publisher") if publication else None
    return Source(
        types=tuple(src.strings("type")) if src else (),
        asserted_by=tuple(
            name for a in (src.objs("assertedBy") if src else []) if (name := a.string("name"))
        ),
        url=_url(src.string("url")) if src else "",
        publisher=publisher.string("name") if publisher else "",
        statement_date=top.date("statementDate"),
        publication_date=publication.date("publicationDate") if publication else None,
    )


def _country(code: str) -> str:
    return code[:2].upper() if COUNTRY.fullmatch(code) else ""


def _url(value: str) -> str:
    return value if value.startswith(("http://", "https://")) and len(value) <= 2048 else ""


def _check_id(value: str, path: str) -> str:
    if not value:
        raise Problem(path, "is required")
    if len(value) > MAX_ID_CHARS:
        raise Problem(path, f"is {len(value)} characters, more than {MAX_ID_CHARS}")
    if CONTROL.search(value):
        raise Problem(path, "must not contain control characters")
    return value


def _check_sizes(value: Any, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise Problem(path, f"nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        if len(value) > MAX_STRING_CHARS:
            raise Problem(
                path, f"is a string of {len(value)} characters, more than {MAX_STRING_CHARS}"
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            if len(key) > MAX_STRING_CHARS:
                raise Problem(path, f"has a key of {len(key)} characters")
            _check_sizes(item, _join(path, key), depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_sizes(item, f"{path}[{i}]", depth + 1)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path and key else path or key


def _bytes(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n} bytes"


def _pct(value: float) -> str:
    return f"{value:g}%"


class _Obj:
    """A JSON object and its path in the statement, with typed getters that name the field."""

    def __init__(self, data: dict[str, Any], path: str) -> None:
        self._data = data
        self._path = path

    def path(self, key: str) -> str:
        return _join(self._path, key)

    def get(self, key: str) -> Any:
        return self._data.get(key)

    def _typed(self, key: str, types: type | tuple[type, ...], what: str) -> Any:
        value = self._data.get(key)
        if value is None:
            return None
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in _tuple(types)):
            raise Problem(self.path(key), f"must be {what}, not {_kind(value)}")
        return value

    def string(self, key: str) -> str:
        return str(self._typed(key, str, "a string") or "")

    def ident(self, key: str) -> str:
        value = self.string(key)
        return _check_id(value, self.path(key))

    def code(self, key: str, allowed: list[str], *, required: bool = False) -> str:
        value = self.string(key)
        if not value:
            if required:
                raise Problem(self.path(key), f"is required ({', '.join(allowed)})")
            return ""
        if value not in allowed:
            raise Problem(self.path(key), f"{value[:64]!r} is not one of {', '.join(allowed)}")
        return value

    def boolean(self, key: str) -> bool:
        return bool(self._typed(key, bool, "a boolean"))

    def obj(self, key: str, *, required: bool = False) -> _Obj | None:
        value = self._typed(key, dict, "an object")
        if value is None:
            if required:
                raise Problem(self.path(key), "is required")
            return None
        return _Obj(value, self.path(key))

    def _array(self, key: str) -> list[Any]:
        return list(self._typed(key, list, "an array") or [])

    def strings(self, key: str) -> Iterator[str]:
        for i, item in enumerate(self._array(key)):
            if not isinstance(item, str):
                raise Problem(self.path(f"{key}[{i}]"), f"must be a string, not {_kind(item)}")
            yield item

    def objs(self, key: str) -> list[_Obj]:
        found = []
        for i, item in enumerate(self._array(key)):
            path = self.path(f"{key}[{i}]")
            if not isinstance(item, dict):
                raise Problem(path, f"must be an object, not {_kind(item)}")
            found.append(_Obj(item, path))
        return found

    def percentage(self, key: str) -> float | None:
        value = self._typed(key, (int, float), "a number")
        if value is None:
            return None
        number = float(value)
        if not (math.isfinite(number) and 0.0 <= number <= 100.0):
            raise Problem(self.path(key), f"{value!r} must be a percentage in [0, 100]")
        return number

    def date(self, key: str, *, partial: bool = False) -> dt.date | None:
        """A date "YYYY-MM-DD" or a date-time; with ``partial`` also "YYYY-MM" and "YYYY"."""
        value = self.string(key)
        if not value:
            return None
        day = _parse_date(value, partial)
        if day is None:
            raise Problem(self.path(key), f"{value[:64]!r} is not a date (YYYY-MM-DD)")
        if not EARLIEST <= day <= LATEST:
            raise Problem(
                self.path(key),
                f"{day.isoformat()} is outside {EARLIEST.isoformat()} .. {LATEST.isoformat()}",
            )
        return day


def _parse_date(value: str, partial: bool) -> dt.date | None:
    try:
        if len(value) > 10:
            return dt.datetime.fromisoformat(value).date()
        if len(value) == 10:
            return dt.date.fromisoformat(value)
    except ValueError:
        return None
    match = PARTIAL_DATE.fullmatch(value) if partial else None
    if match:
        month = int(match.group(2) or 1)
        if 1 <= month <= 12:
            # BODS: an unknown day or month is rounded to the first.
            return dt.date(int(match.group(1)), month, 1)
    return None


def _tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)
