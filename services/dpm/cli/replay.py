"""`dpmatch replay`: the market's ownership history, month by month, as each lab saw it.

    dpmatch replay                       # 2025-01 to this month, every lab
    dpmatch replay --lab google --since 2025-05 --until 2025-12 --json

First every holding of demo_data/market-facts.json dated after the seed's date is
recorded with its date and source (a size the reporting did not disclose stays
undisclosed: nothing is invented; event ids are stable, so running it twice records
nothing new). Then, for each month, the market's events of that month are printed
with their sources, and each lab's vendors are scored on the ownership graph as it
stood at the month's end (the ledger is bitemporal: each holding counts from its
effective date); a verdict that changed since the month before, or a score that
moved by ``MIN_SCORE_MOVE`` or more, is printed with the reason.
Nothing else is written.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import sys
from dataclasses import dataclass
from typing import Any, TextIO

from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.cli.seed import full_date, load_demo_data, stake
from dpm.cli.stackfile import Stack
from dpm.cli.tables import progress
from dpm.neutrality.v1 import neutrality_pb2, neutrality_pb2_grpc
from dpm.platform.dates import today
from dpm.platform.names import ClientName, OrganizationName

VERDICTS = {
    neutrality_pb2.VERDICT_NEUTRAL: "NEUTRAL",
    neutrality_pb2.VERDICT_CAUTION: "CAUTION",
    neutrality_pb2.VERDICT_CONFLICTED: "CONFLICTED",
}


# A score that moves less than this with the verdict unchanged is not a change worth a
# line: a leadership move's weight decays month by month.
MIN_SCORE_MOVE = 5


@dataclass(frozen=True)
class Standing:
    verdict: str
    score: int
    reason: str


def record_history(
    catalog: catalog_pb2_grpc.CatalogServiceStub, facts: dict[str, Any], since: str
) -> int:
    """Record every holding dated after ``since`` (the seed's date), oldest first; the
    count of holdings sent (an event recorded before answers as it did then)."""
    rows = sorted(
        (dict(h, as_of=full_date(h["as_of"])) for h in facts["holdings"]),
        key=lambda h: (h["as_of"], h["holder"], h["held"]),
    )
    later = [row for row in rows if row["as_of"] > since]
    for row in progress(later, "recording holdings"):
        catalog.RecordOwnershipEvent(catalog_pb2.RecordOwnershipEventRequest(event=stake(row)))
    return len(later)


def _moved(old: Standing, new: Standing) -> bool:
    return old.verdict != new.verdict or abs(old.score - new.score) >= MIN_SCORE_MOVE


def months(since: str, until: str) -> list[tuple[str, str]]:
    """("YYYY-MM", the month's last day, or today in the current month) from ``since`` to
    ``until`` inclusive."""
    year, month = (int(x) for x in since.split("-"))
    last_year, last_month = (int(x) for x in until.split("-"))
    found = []
    while (year, month) <= (last_year, last_month):
        end = dt.date(year, month, calendar.monthrange(year, month)[1])
        found.append((f"{year:04d}-{month:02d}", min(end, today()).isoformat()))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def _standings(
    stub: neutrality_pb2_grpc.NeutralityServiceStub, lab: str, vendors: list[str], as_of: str
) -> dict[str, Standing]:
    reply = stub.ScoreVendors(
        neutrality_pb2.ScoreVendorsRequest(
            client=str(ClientName(lab)), vendors=vendors, as_of=as_of
        )
    )
    return {
        OrganizationName.trusted(v.vendor).id: Standing(
            VERDICTS.get(v.verdict, "?"), v.score, v.reasons[0] if v.reasons else ""
        )
        for v in reply.vendors
    }


def replay(
    stack: Stack,
    labs: list[str],
    since: str,
    until: str,
    as_json: bool,
    out: TextIO = sys.stdout,
) -> int:
    facts, demo = load_demo_data()
    labs = labs or list(demo["labs"])
    vendors = [str(OrganizationName(v)) for v in demo["vendor_profiles"]]
    with stack.channel("catalog") as channel:
        sent = record_history(catalog_pb2_grpc.CatalogServiceStub(channel), facts, demo["as_of"])
    if not as_json:
        print(
            f"recorded {sent} holdings dated after {demo['as_of']} (sizes not reported stay "
            "undisclosed); replaying month by month:",
            file=out,
            flush=True,
        )
    history: list[dict[str, Any]] = []
    before: dict[str, dict[str, Standing]] = {}
    with stack.channel("neutrality", timeout=60) as channel:
        stub = neutrality_pb2_grpc.NeutralityServiceStub(channel)
        for month, as_of in months(since, until):
            events = [e for e in facts["events"] if full_date(e["date"]).startswith(month)]
            entry: dict[str, Any] = {
                "month": month,
                "as_of": as_of,
                "events": events,
                "changes": [],
            }
            for lab in labs:
                now = _standings(stub, lab, vendors, as_of)
                was = before.get(lab)
                before[lab] = now
                if was is None:
                    continue
                for vendor, standing in sorted(now.items()):
                    old = was.get(vendor)
                    if old is None or not _moved(old, standing):
                        continue
                    entry["changes"].append(
                        {
                            "lab": lab,
                            "vendor": vendor,
                            "before": f"{old.verdict} {old.score}",
                            "after": f"{standing.verdict} {standing.score}",
                            "why": standing.reason if standing.score < old.score else old.reason,
                        }
                    )
            history.append(entry)
            if not as_json:
                _print_month(entry, out)
    if as_json:
        print(json.dumps({"recorded": sent, "months": history}), file=out)
    return 0


def _print_month(entry: dict[str, Any], out: TextIO) -> None:
    if not entry["events"] and not entry["changes"]:
        return
    print(f"{entry['month']} (as of {entry['as_of']})", file=out)
    for event in entry["events"]:
        print(f"  {event['date']:<10} {event['summary']} [{event['source_quality']}]", file=out)
    for change in entry["changes"]:
        why = f": {change['why']}" if change["why"] else ""
        print(
            f"    {change['lab']}: {change['vendor']} {change['before']} -> {change['after']}{why}",
            file=out,
        )
    out.flush()
