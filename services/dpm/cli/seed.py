"""`dpmatch seed`: the demo catalog as it stood on 2025-06-01, before Meta's stake in Scale AI.

Organizations, holdings and the labs' competitor sets come from
demo_data/market-facts.json (compiled from public reporting); vendor
capacities, qualities and prices, and the lab's needs, from demo_data/demo.json
(illustrative). Re-running is safe: ids are stable and events idempotent.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format

from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.cli.stackfile import Stack, save_client_tokens
from dpm.cli.tables import progress
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.names import OrganizationName, VendorProfileName
from dpm.requirements.v1 import requirements_pb2, requirements_pb2_grpc

KINDS = {
    "vendor": catalog_pb2.ORGANIZATION_KIND_VENDOR,
    "lab": catalog_pb2.ORGANIZATION_KIND_LAB,
    "investor": catalog_pb2.ORGANIZATION_KIND_INVESTOR,
    "parent": catalog_pb2.ORGANIZATION_KIND_PARENT,
}


def load_demo_data() -> tuple[dict[str, Any], dict[str, Any]]:
    folder = resources.files("dpm.cli") / "demo_data"
    facts = json.loads((folder / "market-facts.json").read_text())
    demo = json.loads((folder / "demo.json").read_text())
    return facts, demo


def full_date(value: str) -> str:
    """'2024-05' -> '2024-05-01', '2020' -> '2020-01-01' (partial dates mean their first day)."""
    parts = value.split("-")
    while len(parts) < 3:
        parts.append("01")
    return "-".join(parts)


def event_id(holder: str, held: str, date: str) -> str:
    return f"seed-{holder}-{held}-{date}"


def holdings_as_of(facts: dict[str, Any], demo: dict[str, Any]) -> list[dict[str, Any]]:
    assumed = {(a["holder"], a["held"]): a for a in demo["assumed_holdings"]}
    rows = []
    for holding in facts["holdings"]:
        date = full_date(holding["as_of"])
        if date > demo["as_of"]:
            continue
        row = dict(holding, as_of=date)
        if (holding["holder"], holding["held"]) in assumed and row["equity_fraction"] is None:
            extra = assumed[(holding["holder"], holding["held"])]
            row["equity_fraction"] = extra["equity_fraction"]
            row["voting_fraction"] = extra["voting_fraction"]
        rows.append(row)
    return sorted(rows, key=lambda r: (r["as_of"], r["holder"], r["held"]))


def _create(call: Any, request: Any) -> Any | None:
    """Create, or None when it already exists (seeding twice is fine)."""
    try:
        return call(request)
    except grpc.RpcError as exc:
        if exc.code() is grpc.StatusCode.ALREADY_EXISTS:
            return None
        raise


def seed_catalog(
    catalog: catalog_pb2_grpc.CatalogServiceStub, facts: dict[str, Any], demo: dict[str, Any]
) -> int:
    for org in facts["organizations"]:
        country = org.get("country") or ""
        _create(
            catalog.CreateOrganization,
            catalog_pb2.CreateOrganizationRequest(
                organization_id=org["id"],
                organization=catalog_pb2.Organization(
                    display_name=org["name"],
                    kind=KINDS[org["kind"]],
                    country=country if re.fullmatch(r"[A-Z]{2}", country) else "",
                    source_urls=[u for u in org.get("sources", []) if u.startswith("http")][:20],
                ),
            ),
        )
    for vendor, profile in demo["vendor_profiles"].items():
        message = json_format.ParseDict(
            {
                **profile,
                "name": str(VendorProfileName(vendor)),
                "service_model": f"SERVICE_MODEL_{profile['service_model']}",
                "capabilities": [
                    {**c, "modality": f"MODALITY_{c['modality']}"} for c in profile["capabilities"]
                ],
                "certifications": [f"CERTIFICATION_{c}" for c in profile["certifications"]],
            },
            catalog_pb2.VendorProfile(),
        )
        catalog.UpdateVendorProfile(
            catalog_pb2.UpdateVendorProfileRequest(vendor_profile=message, allow_missing=True)
        )
    holdings = holdings_as_of(facts, demo)
    for row in progress(holdings, "recording holdings"):
        catalog.RecordOwnershipEvent(catalog_pb2.RecordOwnershipEventRequest(event=stake(row)))
    return len(holdings)


def stake(row: dict[str, Any]) -> ownership_pb2.OwnershipEvent:
    """A holding of market-facts.json (its date a full one) as a dated, sourced stake event;
    a size not given stays undisclosed."""
    change = ownership_pb2.StakeChange(
        holder=str(OrganizationName(row["holder"])),
        held=str(OrganizationName(row["held"])),
        board_seats=row.get("board_seats") or 0,
    )
    if row.get("equity_fraction") is not None:
        change.equity_fraction = row["equity_fraction"]
    if row.get("voting_fraction") is not None:
        change.voting_fraction = row["voting_fraction"]
    return ownership_pb2.OwnershipEvent(
        event_id=event_id(row["holder"], row["held"], row["as_of"]),
        effective_date=row["as_of"],
        source_url=row.get("source") or "",
        summary=(row.get("notes") or "")[:500],
        stake_acquired=change,
    )


def seed_clients(
    requirements: requirements_pb2_grpc.RequirementsServiceStub,
    facts: dict[str, Any],
    demo: dict[str, Any],
    known_tokens: dict[str, str],
) -> dict[str, str]:
    names = {o["id"]: o["name"] for o in facts["organizations"]}
    tokens = dict(known_tokens)
    for lab in demo["labs"]:
        client = json_format.ParseDict(
            {
                "display_name": names.get(lab, lab),
                "organization": str(OrganizationName(lab)),
                "requirements": {
                    **demo["lab_requirements"],
                    "needs": [
                        {**n, "modality": f"MODALITY_{n['modality']}"}
                        for n in demo["lab_requirements"]["needs"]
                    ],
                },
                "neutrality_policy": {
                    **demo["lab_policy"],
                    "competitors": [
                        str(OrganizationName(c))
                        for c in facts["competitor_sets"][lab]
                        if c in names
                    ],
                },
            },
            requirements_pb2.Client(),
        )
        created = _create(
            requirements.CreateClient,
            requirements_pb2.CreateClientRequest(client_id=lab, client=client),
        )
        if created is not None:
            tokens[lab] = created.access_token
    return tokens


def seed(stack: Stack, directory: Path) -> None:
    facts, demo = load_demo_data()
    with stack.channel("catalog") as catalog_channel, stack.channel("requirements") as req_channel:
        count = seed_catalog(catalog_pb2_grpc.CatalogServiceStub(catalog_channel), facts, demo)
        tokens = seed_clients(
            requirements_pb2_grpc.RequirementsServiceStub(req_channel),
            facts,
            demo,
            stack.client_tokens,
        )
    save_client_tokens(directory, tokens)
    print(
        f"seeded {len(facts['organizations'])} organizations, "
        f"{len(demo['vendor_profiles'])} vendor profiles, {count} holdings as of "
        f"{demo['as_of']}, clients {', '.join(demo['labs'])} "
        f"(tokens in {directory / 'client-tokens.json'})",
        flush=True,
    )
