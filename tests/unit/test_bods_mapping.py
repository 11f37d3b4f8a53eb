"""From checked statements to events: interests over time, summaries, replacement. No database."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from test_bods_support import entity, interest, person, relationship, sid

from dpm.catalog.bods import ids
from dpm.catalog.bods.mapping import Outcome, Plan, RelationshipAction, plan
from dpm.catalog.bods.model import RecordType
from dpm.catalog.bods.reading import read
from dpm.catalog.bods.validation import check
from dpm.catalog.v1 import catalog_pb2
from dpm.ownership.v1 import ownership_pb2
from dpm.platform.names import OrganizationName, check_event_id


class FakeCatalog:
    """``mapping.Catalog`` from plain values."""

    def __init__(
        self,
        parties: dict[str, tuple[RecordType, str]] | None = None,
        edges: Sequence[tuple[str, str]] = (),
        events: Sequence[ownership_pb2.OwnershipEvent] = (),
    ) -> None:
        self.parties = parties or {}
        self.edges = list(edges)
        self.events = list(events)

    def party(self, slug: str) -> tuple[RecordType, str] | None:
        return self.parties.get(slug)

    def _walk(self, slug: str, downward: bool) -> set[str]:
        seen: set[str] = set()
        frontier = [slug]
        while frontier:
            node = frontier.pop()
            for holder, held in self.edges:
                a, b = (holder, held) if downward else (held, holder)
                if a == node and b not in seen:
                    seen.add(b)
                    frontier.append(b)
        return seen

    def descendants(self, slug: str, since: dt.date) -> set[str]:
        return self._walk(slug, True)

    def ancestors(self, slug: str, since: dt.date) -> set[str]:
        return self._walk(slug, False)

    def events_touching(self, slug: str) -> list[ownership_pb2.OwnershipEvent]:
        name = str(OrganizationName(slug))
        found = []
        for event in self.events:
            kind = event.WhichOneof("change")
            message = getattr(event, kind) if kind else None
            fields = [getattr(message, f, "") for f in ("holder", "held")] if message else []
            if name in fields or kind == "retraction":
                found.append(event)
        return found


PARTIES = [entity("a", "A Ltd"), entity("b", "B Ltd"), person("p", "Pat Smith")]


def nothing_known(slug: str) -> RecordType | None:
    """An empty catalog."""
    return None


def planned(*statements: dict[str, Any], catalog: FakeCatalog | None = None) -> Plan:
    statements = (*PARTIES, *statements)
    read_ = [read(json.dumps(s), i) for i, s in enumerate(statements)]
    catalog = catalog or FakeCatalog()
    return plan(check(read_, lambda slug: (catalog.party(slug) or (None,))[0]), catalog)


def action(result: Plan, record_id: str, label: str = "") -> RelationshipAction:
    found = [
        a
        for a in result.relationships
        if a.statement.record_id == record_id
        and (not label or a.statement.statement_id == sid(label))
    ]
    assert len(found) == 1, (
        result.rejections,
        [a.statement.record_id for a in result.relationships],
    )
    return found[0]


def changes(a: RelationshipAction) -> list[tuple[str, str, str]]:
    """(kind, effective date, part) of each event."""
    return [
        (e.WhichOneof("change") or "", e.effective_date, e.event_id.rsplit(":", 1)[1])
        for e in a.events
    ]


def test_parties_become_organizations_and_persons() -> None:
    result = planned()
    kinds = {p.slug: p.organization.kind for p in result.parties}
    assert kinds == {
        "bods-a": catalog_pb2.ORGANIZATION_KIND_PARENT,
        "bods-b": catalog_pb2.ORGANIZATION_KIND_PARENT,
        "bods-p": catalog_pb2.ORGANIZATION_KIND_PERSON,
    }
    assert [p.organization.display_name for p in result.parties] == ["A Ltd", "B Ltd", "Pat Smith"]


def test_slugs_are_stable_and_valid_for_any_record_id() -> None:
    assert ids.party_slug("c359f58d2977") == "bods-c359f58d2977"
    assert ids.party_slug(str(OrganizationName("scale-ai"))) == "scale-ai"
    odd = ids.party_slug("101AB1984F")
    assert odd.startswith("bods-101ab1984f-") and odd == ids.party_slug("101AB1984F")
    assert odd != ids.party_slug("101ab1984f")
    long = ids.party_slug("GB-COH/" + "X" * 300)
    assert len(long) <= 63


def test_shares_and_votes_held_together_make_one_stake() -> None:
    result = planned(
        relationship(
            "r",
            "a",
            "p",
            interest(share={"exact": 30}, startDate="2016-04-06"),
            interest(
                "votingRights",
                share={"minimum": 25, "exclusiveMaximum": 50},
                startDate="2016-04-06",
            ),
            source={"type": ["officialRegister", "verified"], "assertedBy": [{"name": "Reg"}]},
        )
    )
    (event,) = action(result, "r").events
    stake = event.stake_acquired
    assert (stake.holder, stake.held) == ("organizations/bods-p", "organizations/bods-a")
    assert stake.equity_fraction == 0.3
    assert stake.voting_range.minimum == 0.25 and stake.voting_range.maximum == 0.5
    assert stake.voting_range.exclusive_maximum
    assert event.effective_date == "2016-04-06"
    assert event.provenance.source_type == ownership_pb2.SOURCE_TYPE_OFFICIAL_REGISTER
    assert event.provenance.asserted_by == "Reg"
    assert event.provenance.statement_id == sid("relationship:r")
    assert event.provenance.statement_date == "2020-01-01"
    check_event_id(event.event_id, "event_id")
    assert event.event_id.startswith(f"bods:r:{sid('relationship:r')}.")


def test_interests_over_time_change_and_end_the_stake() -> None:
    result = planned(
        relationship(
            "r",
            "a",
            "b",
            interest(share={"exact": 30}, startDate="2016-01-01", endDate="2018-01-01"),
            interest(share={"exact": 50}, startDate="2018-01-01", endDate="2020-01-01"),
            interest(share={"exact": 10}, startDate="2017-01-01", endDate="2019-01-01"),
        )
    )
    a = action(result, "r")
    assert changes(a) == [
        ("stake_acquired", "2016-01-01", "stake.2016-01-01"),
        ("stake_changed", "2017-01-01", "stake.2017-01-01"),
        ("stake_changed", "2018-01-01", "stake.2018-01-01"),
        ("stake_changed", "2019-01-01", "stake.2019-01-01"),
        ("stake_divested", "2020-01-01", "stake-end.2020-01-01"),
    ]
    assert [round(e.stake_changed.equity_fraction, 9) for e in a.events[1:4]] == [0.4, 0.6, 0.5]


def test_shares_held_together_add_up_as_ranges() -> None:
    result = planned(
        relationship(
            "r",
            "a",
            "b",
            interest(share={"exact": 20}),
            interest(share={"exclusiveMinimum": 10, "maximum": 20}),
            interest(),  # a shareholding of undisclosed size
        )
    )
    stake = action(result, "r").events[0].stake_acquired
    assert not stake.HasField("equity_fraction")
    assert round(stake.equity_range.minimum, 9) == 0.3
    assert stake.equity_range.exclusive_minimum
    assert not stake.equity_range.HasField("maximum")


def test_other_interest_types_are_a_stake_of_undisclosed_size() -> None:
    result = planned(relationship("r", "a", "b", interest("otherInfluenceOrControl")))
    stake = action(result, "r").events[0].stake_acquired
    assert not stake.HasField("equity_fraction") and not stake.HasField("equity_range")


def test_board_interests_are_one_seat_while_any_lasts() -> None:
    result = planned(
        relationship(
            "r",
            "a",
            "p",
            interest(share={"exact": 10}, startDate="2016-01-01", endDate="2018-01-01"),
            interest("boardMember", startDate="2016-01-01", endDate="2020-01-01"),
            interest("boardChair", startDate="2017-01-01", endDate="2019-01-01"),
        )
    )
    assert changes(action(result, "r")) == [
        ("stake_acquired", "2016-01-01", "stake.2016-01-01"),
        ("board_seat_granted", "2016-01-01", "seats.2016-01-01"),
        # the stake ends, the seat stays: the holding keeps the seat with no equity
        ("stake_changed", "2018-01-01", "stake.2018-01-01"),
        ("board_seat_removed", "2020-01-01", "seats-end.2020-01-01"),
    ]


def test_a_senior_managing_official_is_a_leadership_role() -> None:
    result = planned(
        relationship(
            "r", "a", "p", interest("seniorManagingOfficial", startDate="2019-03-01", details="CEO")
        )
    )
    (event,) = action(result, "r").events
    move = event.leadership_move
    assert (move.person, move.role) == ("Pat Smith", "CEO")
    assert (move.from_organization, move.to_organization) == (
        "organizations/bods-p",
        "organizations/bods-a",
    )
    assert event.effective_date == "2019-03-01"


def test_a_closed_record_ends_its_interests_on_the_statement_date() -> None:
    closed = relationship(
        "r",
        "a",
        "b",
        interest(share={"exact": 40}, startDate="2016-01-01"),
        recordStatus="closed",
        statementDate="2021-06-30",
    )
    assert changes(action(planned(closed), "r")) == [
        ("stake_acquired", "2016-01-01", "stake.2016-01-01"),
        ("stake_divested", "2021-06-30", "stake-end.2021-06-30"),
    ]


def test_an_interest_without_any_date_is_refused() -> None:
    undated = relationship("r", "a", "b", interest())
    del undated["statementDate"]
    del undated["publicationDetails"]
    result = planned(undated)
    (rejection,) = result.rejections
    assert rejection.field == "recordDetails.interests[0].startDate"
    assert "needs a date" in rejection.reason


def test_an_indirect_interest_summarising_a_chain_of_this_import_is_skipped() -> None:
    chain = [
        relationship("r1", "a", "b", interest(share={"exact": 60})),
        relationship("r2", "b", "p", interest(directness="unknown")),
    ]
    summary = relationship(
        "r3", "a", "p", interest(directness="indirect", share={"exact": 30}), components=["r1"]
    )
    result = planned(*chain, summary)
    a = action(result, "r3")
    assert (a.outcome, a.summary, a.events) == (Outcome.SUMMARY, True, [])
    assert action(result, "r1").outcome is Outcome.RECORD


def test_an_indirect_interest_summarising_a_chain_in_the_catalog_is_skipped() -> None:
    catalog = FakeCatalog(edges=[("bods-p", "bods-b"), ("bods-b", "bods-a")])
    summary = relationship("r3", "a", "p", interest(directness="indirect", share={"exact": 30}))
    assert action(planned(summary, catalog=catalog), "r3").outcome is Outcome.SUMMARY


def test_an_indirect_interest_with_no_known_chain_is_recorded_as_a_stake() -> None:
    summary = relationship("r3", "a", "p", interest(directness="indirect", share={"exact": 30}))
    a = action(planned(summary), "r3")
    assert (a.outcome, a.summary) == (Outcome.RECORD, False)
    assert a.events[0].stake_acquired.equity_fraction == 0.3


def test_mixed_direct_and_indirect_keeps_the_direct_part() -> None:
    chain = [
        relationship("r1", "a", "b", interest(share={"exact": 50}, startDate="2017-11-01")),
        relationship("r2", "b", "p", interest(directness="unknown")),
    ]
    mixed = relationship(
        "r3",
        "a",
        "p",
        interest(directness="indirect", share={"exact": 50}, startDate="2017-11-01"),
        interest(share={"exact": 50}, startDate="2019-05-01"),
    )
    a = action(planned(*chain, mixed), "r3")
    assert a.summary
    assert changes(a) == [("stake_acquired", "2019-05-01", "stake.2019-05-01")]


def test_an_updated_statement_supersedes_what_it_repeats_and_withdraws_the_rest() -> None:
    first = relationship(
        "r",
        "a",
        "p",
        interest(share={"exact": 30}, startDate="2016-01-01"),
        interest("boardMember", startDate="2016-01-01"),
        label="first",
    )
    second = relationship(
        "r",
        "a",
        "p",
        interest(share={"exact": 40}, startDate="2016-01-01"),
        label="second",
        recordStatus="updated",
        statementDate="2021-01-01",
    )
    result = planned(second, first)  # in any order: the later statement replaces the earlier
    old, new = action(result, "r", "first"), action(result, "r", "second")
    assert [r.statement.statement_id for r in result.relationships] == [sid("first"), sid("second")]
    by_part = {e.event_id.rsplit(":", 1)[1]: e.event_id for e in old.events}
    stake, retraction = sorted(new.events, key=lambda e: e.HasField("retraction"))
    assert stake.supersedes == by_part["stake.2016-01-01"]
    assert stake.stake_acquired.equity_fraction == 0.4
    assert retraction.HasField("retraction")
    assert retraction.supersedes == by_part["seats.2016-01-01"]
    assert retraction.effective_date == ""  # the ledger takes the withdrawn event's


def recorded(
    result: Plan, record_id: str, label: str = "", seq: int = 1
) -> list[ownership_pb2.OwnershipEvent]:
    """The events of a planned statement as the ledger would list them."""
    events = []
    for i, event in enumerate(action(result, record_id, label).events):
        stored = ownership_pb2.OwnershipEvent()
        stored.CopyFrom(event)
        stored.graph_version = seq + i
        events.append(stored)
    return events


def test_a_statement_replaces_the_latest_one_imported_before() -> None:
    first = relationship("r", "a", "b", interest(share={"exact": 30}), label="first")
    earlier = recorded(planned(first), "r", "first")
    catalog = FakeCatalog(
        parties={s: (RecordType.ENTITY, s) for s in ("bods-a", "bods-b")}, events=earlier
    )
    update = relationship(
        "r",
        "a",
        "b",
        interest(share={"exact": 35}),
        label="second",
        recordStatus="updated",
        statementDate="2020-01-01",
    )
    (event,) = action(planned(update, catalog=catalog), "r").events
    assert event.supersedes == earlier[0].event_id

    # Imported again: nothing to do. The same id with other content: refused.
    again = FakeCatalog(catalog.parties, events=[*earlier, *recorded(planned(update), "r", seq=5)])
    assert action(planned(update, catalog=again), "r").outcome is Outcome.UNCHANGED
    changed = relationship("r", "a", "b", interest(share={"exact": 36}), label="second")
    result = planned(changed, catalog=again)
    assert "imported before with different content" in result.rejections[0].reason


def test_a_statement_older_than_the_imported_one_changes_nothing() -> None:
    newer = relationship(
        "r", "a", "b", interest(share={"exact": 30}), label="new", statementDate="2022-01-01"
    )
    catalog = FakeCatalog(events=recorded(planned(newer), "r", "new"))
    older = relationship(
        "r", "a", "b", interest(share={"exact": 20}), label="old", statementDate="2019-01-01"
    )
    assert action(planned(older, catalog=catalog), "r").outcome is Outcome.NO_EFFECT


def test_0_3_replacements_supersede_and_a_replacement_saying_nothing_withdraws() -> None:
    base = [
        {"statementID": "e", "statementType": "entityStatement", "name": "E"},
        {"statementID": "p", "statementType": "personStatement", "names": [{"fullName": "P"}]},
    ]
    old = {
        "statementID": "old",
        "statementType": "ownershipOrControlStatement",
        "statementDate": "2017-01-01",
        "subject": {"describedByEntityStatement": "e"},
        "interestedParty": {"describedByPersonStatement": "p"},
        "interests": [{"type": "shareholding", "share": {"exact": 100}}],
    }
    new = {
        **old,
        "statementID": "new",
        "interests": [{"type": "shareholding", "share": {"exact": 50}}],
        "replacesStatements": ["old"],
    }
    unknown = {
        **old,
        "statementID": "unknown",
        "interestedParty": {"unspecified": {"reason": "unknown"}},
        "replacesStatements": ["old"],
    }
    statements = [read(json.dumps(s), i) for i, s in enumerate([*base, old, new, unknown])]
    result = plan(check(statements, nothing_known), FakeCatalog())
    old_events = next(a for a in result.relationships if a.statement.statement_id == "old").events
    new_action = next(a for a in result.relationships if a.statement.statement_id == "new")
    assert new_action.events[0].supersedes == old_events[0].event_id
    assert [a.outcome for a in result.relationships if a.statement.statement_id == "unknown"] == [
        Outcome.NO_EFFECT
    ]

    # Alone, a replacement that names no party withdraws what it replaces.
    alone = plan(
        check([statements[0], statements[1], statements[2], statements[4]], nothing_known),
        FakeCatalog(),
    )
    (withdrawing,) = [a for a in alone.relationships if a.statement.statement_id == "unknown"]
    (retraction,) = withdrawing.events
    assert retraction.HasField("retraction") and retraction.supersedes == old_events[0].event_id


def test_an_unspecified_party_changes_nothing() -> None:
    result = planned(relationship("r", "a", {"reason": "noBeneficialOwners"}))
    assert action(result, "r").outcome is Outcome.NO_EFFECT


def test_event_ids_stay_valid_for_long_and_odd_ids() -> None:
    odd_statement = {
        **relationship("R/" + "x" * 200, "a", "b", interest(startDate="2016-01-01")),
        "statementId": "S " + "y" * 200,
    }
    a = action(planned(odd_statement), "R/" + "x" * 200)
    for event in a.events:
        check_event_id(event.event_id, "event_id")
        assert len(event.event_id) <= 128
