"""Entry point of the `dpmatch` command."""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dpm.ownership.v1 import ownership_pb2

SERVERS = ("catalog", "requirements", "neutrality", "matching")
DATABASES = ("catalog", "requirements")


def cmd_serve(args: argparse.Namespace) -> int:
    importlib.import_module(f"dpm.{args.service}.server").main()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from dpm.platform.logs import configure_logging
    from dpm.worker.app import app, settings
    from dpm.worker.queues import consumed

    # Before Celery starts: what it warns of on the way (running as root, say) is JSON too.
    configure_logging("worker", settings.log_level)

    argv = [
        # No start-up banner: every line a process writes is a JSON log record.
        "--quiet",
        "worker",
        "-Q",
        ",".join(consumed(settings.deployment)),
        "--concurrency",
        str(args.concurrency),
        "--loglevel",
        os.environ.get("DPM_LOG_LEVEL", "INFO"),
        "--without-mingle",
        "--without-gossip",
    ]
    if args.beat:
        data = Path(os.environ.get("DPM_DATA_DIR", ".dpmatch"))
        data.mkdir(parents=True, exist_ok=True)
        argv += ["--beat", "--schedule", str(data / "celerybeat-schedule")]
    app.worker_main(argv)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from dpm.platform.config import DatabaseSettings, load
    from dpm.platform.db import migrate

    spec = importlib.import_module(f"dpm.{args.service}.server").SPEC
    settings = load(spec.settings)
    assert isinstance(settings, DatabaseSettings) and spec.migrations is not None
    migrate(settings.resolved_database_url(spec.name), spec.migrations)
    print(f"{args.service}: database at the newest revision")
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    from dpm.platform.config import load
    from dpm.platform.grpc_client import serving
    from dpm.platform.tls import TlsSettings

    # Over TLS when DPM_TLS_CA is set.
    ok = serving(args.address, load(TlsSettings), service=args.service)
    print("SERVING" if ok else "NOT SERVING")
    return 0 if ok else 1


def cmd_up(args: argparse.Namespace) -> int:
    from dpm.cli.up import run_up

    return run_up(
        args.seed, args.demo, args.exit, args.auto_ports, args.concurrency, replay=args.replay
    )


def cmd_seed(_: argparse.Namespace) -> int:
    from dpm.cli.seed import seed
    from dpm.cli.stackfile import Stack, data_dir

    seed(Stack.load(data_dir()), data_dir())
    return 0


def cmd_demo(_: argparse.Namespace) -> int:
    from dpm.cli.demo import play
    from dpm.cli.stackfile import Stack, data_dir

    play(Stack.load(data_dir()))
    return 0


def cmd_recommendations(args: argparse.Namespace) -> int:
    from dpm.cli.inspect import show_recommendations
    from dpm.cli.stackfile import Stack, data_dir

    show_recommendations(Stack.load(data_dir()), args.lab, args.limit, args.json)
    return 0


def _what_if(args: argparse.Namespace, command: str) -> ownership_pb2.OwnershipEvent | None:
    """The event of ``--stake HOLDER HELD EQUITY`` or ``--event FILE``; None without either."""
    from dpm.cli import simulate

    if args.stake is not None:
        holder, held, equity = args.stake
        try:
            fraction = float(equity)
        except ValueError:
            raise SystemExit(
                f"dpmatch {command}: --stake EQUITY {equity!r} is not a number"
            ) from None
        return simulate.stake_event(holder, held, fraction, args.voting, args.date)
    if args.event is not None:
        return simulate.event_from_file(Path(args.event))
    return None


def _what_if_arguments(command: argparse.ArgumentParser) -> None:
    """The options ``_what_if`` reads: a stake, or any event from a file."""
    command.add_argument(
        "--stake", nargs=3, metavar=("HOLDER", "HELD", "EQUITY"), help="a stake acquisition"
    )
    command.add_argument("--voting", type=float, help="the stake's voting fraction")
    command.add_argument("--date", default="", help="its effective date (default: today)")
    command.add_argument("--event", help="any event, as the API's JSON, from this file")


def cmd_simulate(args: argparse.Namespace) -> int:
    from dpm.cli import simulate
    from dpm.cli.stackfile import Stack, data_dir

    event = _what_if(args, "simulate")
    if event is None or (args.stake is not None and args.event is not None):
        raise SystemExit("dpmatch simulate: give one of --stake HOLDER HELD EQUITY or --event FILE")
    return simulate.simulate(Stack.load(data_dir()), event, args.lab, args.as_of, args.json)


def cmd_plan(args: argparse.Namespace) -> int:
    from dpm.cli.plan import plan
    from dpm.cli.stackfile import Stack, data_dir

    return plan(
        Stack.load(data_dir()),
        args.lab,
        args.max_vendors,
        args.as_of,
        args.exclude,
        args.json,
        args.neutral_only,
    )


def cmd_concentration(args: argparse.Namespace) -> int:
    from dpm.cli import concentration
    from dpm.cli.stackfile import Stack, data_dir

    return concentration.concentration(
        Stack.load(data_dir()),
        args.lab,
        concentration.parse_work(args.work),
        _what_if(args, "concentration"),
        args.as_of,
        args.json,
    )


def cmd_graph(args: argparse.Namespace) -> int:
    import grpc

    from dpm.cli.graph import draw
    from dpm.cli.stackfile import Stack, data_dir
    from dpm.cli.tables import refused

    output = Path(args.output) if args.output else None
    try:
        print(draw(Stack.load(data_dir()), args.vendor, args.lab, args.as_of, args.depth, output))
    except grpc.RpcError as exc:
        return refused("graph", exc)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    import grpc

    from dpm.cli.replay import replay
    from dpm.cli.stackfile import Stack, data_dir
    from dpm.cli.tables import refused
    from dpm.platform.dates import today

    until = args.until or today().isoformat()[:7]
    for flag, value in (("--since", args.since), ("--until", until)):
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
            raise SystemExit(f"dpmatch replay: {flag} {value!r} is not a month YYYY-MM")
    try:
        return replay(Stack.load(data_dir()), args.lab, args.since, until, args.json)
    except grpc.RpcError as exc:
        return refused("replay", exc)


def cmd_watch(args: argparse.Namespace) -> int:
    from dpm.cli.stackfile import Stack, data_dir
    from dpm.cli.watch import watch

    return watch(Stack.load(data_dir()), args.lab, args.count, args.json)


def cmd_vendors(args: argparse.Namespace) -> int:
    from dpm.cli import vendors
    from dpm.cli.stackfile import Stack, data_dir

    wanted = vendors.search_filter(
        args.modality,
        args.certification,
        args.region,
        args.residency,
        args.service_model,
        args.cleared,
    )
    return vendors.show(Stack.load(data_dir()), wanted, args.json, args.neutral_for)


def cmd_explain(args: argparse.Namespace) -> int:
    from dpm.cli.inspect import explain
    from dpm.cli.stackfile import Stack, data_dir

    explain(Stack.load(data_dir()), args.lab, args.vendor, args.as_of, args.json)
    return 0


def cmd_import_bods(args: argparse.Namespace) -> int:
    from dpm.cli.bods import import_paths
    from dpm.cli.stackfile import Stack, data_dir

    return import_paths(Stack.load(data_dir()), Path(args.path), args.validate_only)


def cmd_export_bods(args: argparse.Namespace) -> int:
    from dpm.cli.bods import export_to
    from dpm.cli.stackfile import Stack, data_dir

    return export_to(Stack.load(data_dir()), args.as_of, Path(args.file) if args.file else None)


def cmd_token(args: argparse.Namespace) -> int:
    from dpm.cli import tokens
    from dpm.cli.stackfile import Stack, data_dir

    stack = Stack.load(data_dir())
    if args.token_command == "issue":
        return tokens.issue(
            stack, args.role, args.subject, args.ttl_days, args.label, quiet=args.quiet
        )
    if args.token_command == "list":
        return tokens.list_tokens(stack, args.subject, as_json=args.json)
    return tokens.revoke(stack, args.jti)


def cmd_certs(args: argparse.Namespace) -> int:
    from dpm.cli.certs import make_certs

    return make_certs(Path(args.directory), args.hosts, args.days, args.force)


def cmd_audit(args: argparse.Namespace) -> int:
    from dpm.cli.audit import show
    from dpm.cli.stackfile import Stack, data_dir

    return show(
        Stack.load(data_dir()),
        args.service,
        args.limit,
        args.subject,
        args.method,
        as_json=args.json,
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dpmatch", description="Neutral data-provider matching.")
    sub = p.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the whole system locally (embedded Redis and SQLite)")
    up.add_argument("--seed", action="store_true", help="load the demo catalog once up")
    up.add_argument("--demo", action="store_true", help="seed, then play the Scale AI scenario")
    up.add_argument(
        "--replay",
        action="store_true",
        help="seed, then replay the market's ownership history month by month (dpmatch replay)",
    )
    up.add_argument("--exit", action="store_true", help="stop once seeding/demo is done")
    up.add_argument("--auto-ports", action="store_true", help="pick free ports")
    up.add_argument("--concurrency", type=int, default=2, help="worker processes")
    up.set_defaults(func=cmd_up)

    sub.add_parser("seed", help="load the demo catalog into the running stack").set_defaults(
        func=cmd_seed
    )
    sub.add_parser(
        "demo", help="play the Scale AI scenario against the running stack"
    ).set_defaults(func=cmd_demo)

    recs = sub.add_parser("recommendations", help="a lab's recommendations (running stack)")
    recs.add_argument("lab", help="client id, e.g. google")
    recs.add_argument("--limit", type=int, default=30)
    recs.add_argument("--json", action="store_true", help="the set as JSON")
    recs.set_defaults(func=cmd_recommendations)

    follow = sub.add_parser(
        "watch",
        help="a lab's recommendations as they change, with what moved and why (running stack)",
        epilog="example: dpmatch watch google --count 2",
    )
    follow.add_argument("lab", help="client id, e.g. google")
    follow.add_argument("--count", type=int, default=0, help="stop after N sets (0: Ctrl-C)")
    follow.add_argument("--json", action="store_true", help="each set as one JSON line")
    follow.set_defaults(func=cmd_watch)

    what_if = sub.add_parser(
        "simulate",
        help="what an ownership event would change in labs' recommendations (nothing recorded)",
        epilog="example: dpmatch simulate --stake meta labelbox 0.3 --lab google",
    )
    _what_if_arguments(what_if)
    what_if.add_argument(
        "--lab", action="append", default=[], help="only this lab (its own token if one)"
    )
    what_if.add_argument("--as-of", default="", help="date of both sets (default: the event's)")
    what_if.add_argument("--json", action="store_true", help="the answer as JSON")
    what_if.set_defaults(func=cmd_simulate)

    portfolio = sub.add_parser(
        "plan",
        help="the fewest neutral vendors that together take a lab's volumes (nothing recorded)",
        epilog="example: dpmatch plan google --max-vendors 4 --exclude labelbox",
    )
    portfolio.add_argument("lab", help="client id, e.g. google")
    portfolio.add_argument("--max-vendors", type=int, default=0, help="at most this many (3)")
    portfolio.add_argument("--as-of", default="", help="graph date (default: the lab's)")
    portfolio.add_argument(
        "--exclude", action="append", default=[], help="plan without this vendor (repeatable)"
    )
    portfolio.add_argument(
        "--neutral-only", action="store_true", help="leave out CAUTION vendors too"
    )
    portfolio.add_argument("--json", action="store_true", help="the plan as JSON")
    portfolio.set_defaults(func=cmd_plan)

    shares = sub.add_parser(
        "concentration",
        help="where a lab's data work flows, by ultimate owner and competitor",
        epilog="example: dpmatch concentration google labelbox=10000 mercor=5000 "
        "--stake meta labelbox 0.3",
    )
    shares.add_argument("lab", help="client id, e.g. google")
    shares.add_argument("work", nargs="+", metavar="VENDOR=UNITS", help="units a month")
    _what_if_arguments(shares)
    shares.add_argument("--as-of", default="", help="graph date (default: the lab's)")
    shares.add_argument("--json", action="store_true", help="the report as JSON")
    shares.set_defaults(func=cmd_concentration)

    picture = sub.add_parser(
        "graph",
        help="draw who owns a vendor, and what makes it conflicted for a lab (.dot, .svg, .png)",
        epilog="example: dpmatch graph scale-ai --lab google -o scale-ai.svg",
    )
    picture.add_argument("vendor", help="organization id, e.g. scale-ai")
    picture.add_argument("--lab", default="", help="draw the chains and ties behind its verdict")
    picture.add_argument("--depth", type=int, default=3, help="levels of holders (3)")
    picture.add_argument("--as-of", default="", help="graph date (default: the lab's, or today)")
    picture.add_argument(
        "-o", "--output", help="FILE.dot, FILE.svg or FILE.png (default: DOT on stdout)"
    )
    picture.set_defaults(func=cmd_graph)

    history = sub.add_parser(
        "replay",
        help="record the market's ownership history, then show month by month what changed "
        "for each lab and why",
        epilog="example: dpmatch replay --lab google --since 2025-05 --until 2025-12",
    )
    history.add_argument("--lab", action="append", default=[], help="only this lab (repeatable)")
    history.add_argument("--since", default="2025-01", help="first month, YYYY-MM (2025-01)")
    history.add_argument("--until", default="", help="last month, YYYY-MM (this month)")
    history.add_argument("--json", action="store_true", help="the months as one JSON document")
    history.set_defaults(func=cmd_replay)

    from dpm.cli.vendors import CERTIFICATIONS, MODALITIES, SERVICE_MODELS

    vendors = sub.add_parser(
        "vendors",
        help="search the catalog's vendor profiles (running stack)",
        description="Vendor profiles that offer what the options ask; each option "
        "narrows the list, a repeated option widens that part (any of its values; "
        "certifications: all of them).",
        epilog="example: dpmatch vendors --modality RLHF --certification SOC2 --region EU",
    )
    vendors.add_argument("--modality", action="append", default=[], choices=MODALITIES)
    vendors.add_argument("--certification", action="append", default=[], choices=CERTIFICATIONS)
    vendors.add_argument(
        "--region", action="append", default=[], help='workforce region, ISO code or "EU"'
    )
    vendors.add_argument("--residency", action="append", default=[], help="data residency region")
    vendors.add_argument("--service-model", action="append", default=[], choices=SERVICE_MODELS)
    vendors.add_argument("--cleared", action="store_true", help="staff with security clearance")
    vendors.add_argument(
        "--neutral-for", default="", metavar="LAB", help="only vendors neutral for this lab"
    )
    vendors.add_argument("--json", action="store_true", help="one JSON object per line")
    vendors.set_defaults(func=cmd_vendors)

    explain = sub.add_parser("explain", help="why a vendor is (not) neutral for a lab")
    explain.add_argument("lab", help="client id, e.g. google")
    explain.add_argument("vendor", help="organization id, e.g. scale-ai")
    explain.add_argument(
        "--as-of", default="", help="effective date YYYY-MM-DD (default: the lab's policy date)"
    )
    explain.add_argument("--json", action="store_true", help="the figures as JSON")
    explain.set_defaults(func=cmd_explain)

    bods_in = sub.add_parser(
        "import-bods", help="import BODS 0.4 / 0.3 statements into the catalog (running stack)"
    )
    bods_in.add_argument("path", help="a .json / .jsonl file, or a directory of them")
    bods_in.add_argument(
        "--validate-only", action="store_true", help="report what would happen, write nothing"
    )
    bods_in.set_defaults(func=cmd_import_bods)

    bods_out = sub.add_parser(
        "export-bods", help="the ownership graph as BODS 0.4 statements (running stack)"
    )
    bods_out.add_argument("--as-of", default="", help="effective date YYYY-MM-DD (default: today)")
    bods_out.add_argument("file", nargs="?", help="write here (default: standard output)")
    bods_out.set_defaults(func=cmd_export_bods)

    token = sub.add_parser("token", help="issue, list and revoke bearer tokens (running stack)")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    token_issue = token_sub.add_parser("issue", help="issue a token; it is printed once")
    token_issue.add_argument("--role", choices=("lab", "auditor", "admin"), required=True)
    token_issue.add_argument(
        "--subject", required=True, help="clients/{id} for a lab; who holds it otherwise"
    )
    token_issue.add_argument(
        "--ttl-days", type=float, help="lifetime (default 90 days, admin 30; at most 365)"
    )
    token_issue.add_argument("--label", default="", help="a note, e.g. where it is used")
    token_issue.add_argument(
        "--quiet",
        action="store_true",
        help="print the token alone, for scripts: GOOGLE=$(dpmatch token issue ... --quiet)",
    )
    token_list = token_sub.add_parser("list", help="issued tokens (never the tokens themselves)")
    token_list.add_argument("--subject", default="", help="only this subject's tokens")
    token_list.add_argument("--json", action="store_true", help="one JSON object per token")
    token_revoke = token_sub.add_parser("revoke", help="revoke a token; every service refuses it")
    token_revoke.add_argument("jti", help="the token's id (from `dpmatch token list`)")
    token.set_defaults(func=cmd_token)

    audit = sub.add_parser(
        "audit", help="the newest write calls, accepted or refused (running stack)"
    )
    audit.add_argument("--service", choices=DATABASES, help="one server's log (default: both)")
    audit.add_argument("--limit", type=int, default=50)
    audit.add_argument("--subject", default="", help="only this caller, e.g. clients/google")
    audit.add_argument("--method", default="", help="only this method, e.g. CreateClient")
    audit.add_argument("--json", action="store_true", help="one JSON object per entry")
    audit.set_defaults(func=cmd_audit)

    certs = sub.add_parser("certs", help="write a development CA and TLS certificates to DIR")
    certs.add_argument("directory", metavar="DIR")
    certs.add_argument(
        "--hosts", nargs="*", default=[], help="more names or addresses for the server certificate"
    )
    certs.add_argument("--days", type=int, default=365, help="validity of the certificates")
    certs.add_argument("--force", action="store_true", help="replace certificates already there")
    certs.set_defaults(func=cmd_certs)

    serve = sub.add_parser("serve", help="run one gRPC server (configured by DPM_* variables)")
    serve.add_argument("service", choices=SERVERS)
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run a Celery worker for the re-matching queue")
    worker.add_argument("--concurrency", type=int, default=2)
    worker.add_argument("--beat", action="store_true", help="also run the periodic scheduler")
    worker.set_defaults(func=cmd_worker)

    migrate = sub.add_parser("migrate", help="upgrade a service's database and exit")
    migrate.add_argument("service", choices=DATABASES)
    migrate.set_defaults(func=cmd_migrate)

    probe = sub.add_parser(
        "probe", help="exit 0 when the server at ADDRESS is SERVING (TLS when DPM_TLS_CA is set)"
    )
    probe.add_argument("address", help="HOST:PORT")
    probe.add_argument(
        "--service", default="", help="a health entry, e.g. liveness (default: the whole server)"
    )
    probe.set_defaults(func=cmd_probe)
    _with_examples(sub)
    return p


# An example for each command's --help (those with an epilog of their own keep it).
EXAMPLES = {
    "up": "dpmatch up --seed   (or --demo: the Scale AI scenario; --replay: the market's history)",
    "seed": "dpmatch seed",
    "demo": "dpmatch demo",
    "recommendations": "dpmatch recommendations google --limit 10 [--json]",
    "explain": "dpmatch explain google scale-ai [--as-of 2025-06-30] [--json]",
    "import-bods": "dpmatch import-bods statements.json",
    "export-bods": "dpmatch export-bods --as-of 2025-06-30 > statements.json",
    "token": "dpmatch token issue --role lab --subject clients/google --ttl-days 30",
    "audit": "dpmatch audit --subject clients/google --limit 20 [--json]",
    "certs": "dpmatch certs .dpmatch/tls --hosts localhost,dpmatch.internal",
    "serve": "DPM_PORT=50051 dpmatch serve catalog",
    "worker": "dpmatch worker --concurrency 2",
    "migrate": "dpmatch migrate catalog",
    "probe": "dpmatch probe 127.0.0.1:50054 --service liveness",
}


def _with_examples(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, command in sub.choices.items():
        if command.epilog is None and name in EXAMPLES:
            command.epilog = f"example: {EXAMPLES[name]}"


def main(argv: list[str] | None = None) -> None:
    from dpm.platform.files import restrict_new_files

    restrict_new_files()  # databases, tokens, logs and Redis' files: owner only
    args = parser().parse_args(argv)
    sys.exit(args.func(args))


if __name__ == "__main__":
    main()
