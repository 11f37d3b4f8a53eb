"""`dpmatch vendors`: search the catalog's vendor profiles (running stack).

    dpmatch vendors --modality RLHF --certification SOC2 --region EU --json
    dpmatch vendors --modality RLHF --neutral-for google

Every option narrows the list (see ``VendorProfileFilter``); ``--neutral-for LAB`` keeps
the vendors neutral under that lab's policy (its verdicts from neutrality); ``--json``
prints one JSON object per profile, one per line, for scripts.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import TextIO

import grpc
from google.protobuf import json_format

from dpm.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from dpm.cli.inspect import evaluation_date
from dpm.cli.stackfile import Stack
from dpm.cli.tables import print_table, refused
from dpm.common.v1 import common_pb2
from dpm.neutrality.v1 import neutrality_pb2, neutrality_pb2_grpc
from dpm.platform.names import ClientName, OrganizationName, VendorProfileName

MODALITIES = [n.removeprefix("MODALITY_") for n in common_pb2.Modality.keys()[1:]]
CERTIFICATIONS = [n.removeprefix("CERTIFICATION_") for n in common_pb2.Certification.keys()[1:]]
SERVICE_MODELS = [n.removeprefix("SERVICE_MODEL_") for n in catalog_pb2.ServiceModel.keys()[1:]]


def search_filter(
    modalities: list[str],
    certifications: list[str],
    regions: list[str],
    residency: list[str],
    service_models: list[str],
    cleared: bool,
) -> catalog_pb2.VendorProfileFilter:
    return catalog_pb2.VendorProfileFilter(
        modalities=[f"MODALITY_{m}" for m in modalities],
        certifications=[f"CERTIFICATION_{c}" for c in certifications],
        workforce_regions=[r.upper() for r in regions],
        data_residency_regions=[r.upper() for r in residency],
        service_models=[f"SERVICE_MODEL_{s}" for s in service_models],
        security_clearance=cleared,
    )


def profiles(
    stack: Stack, wanted: catalog_pb2.VendorProfileFilter
) -> Iterator[catalog_pb2.VendorProfile]:
    with stack.channel("catalog") as channel:
        stub = catalog_pb2_grpc.CatalogServiceStub(channel)
        token = ""
        while True:
            page = stub.ListVendorProfiles(
                catalog_pb2.ListVendorProfilesRequest(
                    page_size=500, page_token=token, filter=wanted
                )
            )
            yield from page.vendor_profiles
            token = page.next_page_token
            if not token:
                return


def neutral_for(
    stack: Stack, lab: str, found: list[catalog_pb2.VendorProfile]
) -> list[catalog_pb2.VendorProfile]:
    """Those of ``found`` whose verdict under ``lab``'s policy is NEUTRAL, on the date the
    lab's recommendations use (ScoreVendors, with the lab's own token when there is one)."""
    if not found:
        return []
    as_of = evaluation_date(stack, lab)
    organizations = [str(OrganizationName(VendorProfileName.trusted(p.name).id)) for p in found]
    with stack.channel("neutrality", stack.client_tokens.get(lab)) as channel:
        reply = neutrality_pb2_grpc.NeutralityServiceStub(channel).ScoreVendors(
            neutrality_pb2.ScoreVendorsRequest(
                client=str(ClientName(lab)), vendors=organizations, as_of=as_of
            )
        )
    neutral = {v.vendor for v in reply.vendors if v.verdict == neutrality_pb2.VERDICT_NEUTRAL}
    return [p for p, o in zip(found, organizations, strict=True) if o in neutral]


def show(
    stack: Stack,
    wanted: catalog_pb2.VendorProfileFilter,
    as_json: bool,
    neutral_for_lab: str = "",
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    try:
        found = list(profiles(stack, wanted))
        if neutral_for_lab:
            found = neutral_for(stack, neutral_for_lab, found)
    except grpc.RpcError as exc:
        return refused("vendors", exc, err)
    if as_json:
        for profile in found:
            print(json.dumps(json_format.MessageToDict(profile)), file=out)
        return 0
    print_table(
        ("vendor", "model", "modalities", "regions", "certifications"),
        (
            (
                p.display_name or VendorProfileName.trusted(p.name).id,
                catalog_pb2.ServiceModel.Name(p.service_model)
                .removeprefix("SERVICE_MODEL_")
                .lower(),
                ",".join(
                    common_pb2.Modality.Name(c.modality).removeprefix("MODALITY_").lower()
                    for c in p.capabilities
                    if c.monthly_capacity > 0
                ),
                ",".join(sorted({*p.workforce_regions, *p.data_residency_regions})),
                ",".join(
                    common_pb2.Certification.Name(c).removeprefix("CERTIFICATION_")
                    for c in p.certifications
                ),
            )
            for p in found
        ),
        out,
    )
    print(f"{len(found)} vendor profiles", file=out)
    return 0
