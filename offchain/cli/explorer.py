"""``attestia index run`` and ``attestia explorer``: the indexer and the web explorer
(offchain.indexer, offchain.explorer). Both are read-only: they never deploy, sign or ask for a
key, and find the contracts like every read-only command (the home's deployment file, or the
global --deployment FILE / --registry ADDRESS [--lens ADDRESS])."""

from __future__ import annotations

import contextlib
import logging
import socket
from pathlib import Path
from typing import Any

import typer

from offchain.cli.common import console, reader_of, settings_of

index_app = typer.Typer(help="Index the contracts' events into a database (for the explorer).",
                        no_args_is_help=True)

_DB_HELP = ("Database URL: sqlite:///PATH or postgresql://USER@HOST:PORT/DB (default: "
            "SQLite at .attestia/explorer.sqlite in the home).")
_PUBLISH_HELP = ("A directory whose file:// batch files may be read (repeatable; none: no local "
                 "file is read). Not the home nor a directory holding keys.")
_ALLOW_HELP = ("Internal addresses or networks batch files may be fetched from, comma-separated "
               "(local development, e.g. 127.0.0.1); default $ATTESTIA_FETCH_ALLOW, else none.")


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s",
                        datefmt="%H:%M:%S")


def _check_options(db: str | None, window: int, recheck: int) -> None:
    """Refuse bad options before importing or connecting to anything."""
    from offchain.errors import ConfigError

    if window < 1 or recheck < 1:
        raise ConfigError(f"--window and --recheck must be at least 1, got {window} and "
                          f"{recheck}")
    if db is not None and not db.startswith(("sqlite:", "postgresql:", "postgres:",
                                             "postgresql+psycopg:")):
        raise ConfigError(f"--db must be sqlite:///PATH or postgresql://..., got {db!r}")


def _fetch_policy(ctx: typer.Context, publish_dirs: list[Path] | None,
                  allow: str | None) -> Any:
    """What this public service may fetch: the publish directories named (never the home or
    its data directory) and the allow-list; no other local file, no internal address."""
    from offchain.storage.uri import FetchPolicy

    settings = settings_of(ctx)
    return FetchPolicy.for_service(publish_dirs or (), allow=allow,
                                   secret_dirs=(settings.home, settings.data_dir))


def _indexer(ctx: typer.Context, db: str | None, window: int, recheck: int,
             fetch: Any) -> Any:
    from offchain.errors import ConfigError
    from offchain.indexer import Indexer, IndexerConfig, default_url, open_engine

    _check_options(db, window, recheck)
    url = db or default_url(settings_of(ctx).data_dir)
    attestia = reader_of(ctx)
    try:
        engine = open_engine(url)
    except Exception as exc:  # a driver error: unreachable server, bad path, bad credentials
        raise ConfigError(f"--db: cannot open the database: {' '.join(str(exc).split())[:300]}"
                          ) from None
    return attestia, engine, Indexer(attestia, engine, IndexerConfig(
        window=window, recheck=recheck, fetch=fetch))


@index_app.command("run")
def index_run(
    ctx: typer.Context,
    db: str = typer.Option(None, "--db", metavar="URL", help=_DB_HELP),
    once: bool = typer.Option(False, "--once", help="Index up to the head once, then exit."),
    window: int = typer.Option(2_000, "--window", help="Blocks per eth_getLogs call."),
    recheck: int = typer.Option(64, "--recheck",
                                help="Newest block hashes re-checked every cycle (reorgs)."),
    publish_dir: list[Path] = typer.Option(None, "--publish-dir", metavar="DIR",
                                           help=_PUBLISH_HELP),
    allow: str = typer.Option(None, "--allow-fetch", metavar="ADDRESSES", help=_ALLOW_HELP),
) -> None:
    """Follow the registry, distributor and slasher events into the database.

    Example: attestia index run --db postgresql://postgres@127.0.0.1:5432/attestia
    """
    _check_options(db, window, recheck)
    fetch = _fetch_policy(ctx, publish_dir, allow)
    _logging()
    _, _, indexer = _indexer(ctx, db, window, recheck, fetch)
    if once:
        stats = indexer.step()
        console.print(f"indexed to block {stats.head}: {stats.events} new events",
                      highlight=False)
        return
    console.print("indexing (Ctrl-C to stop)", highlight=False)
    with contextlib.suppress(KeyboardInterrupt):
        indexer.run(on_cycle=_report)


def _report(stats: Any) -> None:
    if stats.events or stats.rolled_back:
        logging.getLogger("attestia.indexer").info(
            "indexer: at block %d: %d new events%s", stats.head, stats.events,
            f", {stats.rolled_back} block(s) rolled back" if stats.rolled_back else "")


def explorer_cmd(
    ctx: typer.Context,
    db: str = typer.Option(None, "--db", metavar="URL", help=_DB_HELP),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8600, "--port", help="Port to listen on."),
    no_index: bool = typer.Option(False, "--no-index", help="Serve the database as it is "
                                  "(another process runs `attestia index run`)."),
    publish_dir: list[Path] = typer.Option(None, "--publish-dir", metavar="DIR",
                                           help=_PUBLISH_HELP),
    allow: str = typer.Option(None, "--allow-fetch", metavar="ADDRESSES", help=_ALLOW_HELP),
    rate: float = typer.Option(20.0, "--rate-limit", help="Requests per second per client "
                               "(bursts up to 5 s of it; then 429)."),
    workers: int = typer.Option(1, "--workers", help="Server processes (uvicorn workers; "
                                "each has its own rate limits and caches). The indexer runs "
                                "once, in this process."),
    chain_explorer: str = typer.Option(
        None, "--chain-explorer", metavar="URL", envvar="ATTESTIA_CHAIN_EXPLORER",
        help="Link addresses and transactions to a public chain explorer at URL/address/0x… "
             "and URL/tx/0x… (https://, or http://localhost for a local one), e.g. "
             "https://etherscan.io. Default: no such links (a local chain has none)."),
) -> None:
    """Serve the web explorer and its REST API (and index the chain in the same process).

    Example: attestia explorer --port 8600   (then open http://127.0.0.1:8600)
    """
    import threading

    from offchain.errors import ConfigError
    from offchain.explorer.render import chain_explorer_base

    if not 0 < port < 65536:
        raise ConfigError(f"--port must be 1..65535, got {port}")
    _check_options(db, 1, 1)
    if rate <= 0:
        raise ConfigError(f"--rate-limit must be above 0, got {rate}")
    if not 1 <= workers <= 64:
        raise ConfigError(f"--workers must be 1..64, got {workers}")
    links = None if chain_explorer is None else chain_explorer_base(chain_explorer)
    fetch = _fetch_policy(ctx, publish_dir, allow)
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}): pass another "
                              "--port") from None
    import uvicorn

    from offchain.explorer.app import RateLimit, create_app
    from offchain.explorer.checks import VERIFY_PROCESSES
    from offchain.explorer.service import Explorer

    _logging()
    attestia, engine, indexer = _indexer(ctx, db, 2_000, 64, fetch)
    stop = threading.Event()
    if not no_index:
        threading.Thread(target=indexer.run, args=(stop,), kwargs={"on_cycle": _report},
                         name="indexer", daemon=True).start()
    settings = settings_of(ctx)
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    console.print(f"explorer: http://{shown}:{port}  (API docs at /docs; chain "
                  f"{attestia.chain.chain_id}, registry {attestia.registry.address}; "
                  f"{'not indexing' if no_index else 'indexing in this process'}"
                  f"{f'; {workers} worker processes' if workers > 1 else ''})",
                  highlight=False, soft_wrap=True)
    try:
        if workers == 1:
            # the pages only read: through offchain.chain.light (the indexer keeps web3)
            app = create_app(Explorer(engine, attestia.light(), settings.data_dir, fetch=fetch,
                                      verify_processes=VERIFY_PROCESSES),
                             rate_limit=RateLimit(rate, burst=max(1.0, rate * 5)),
                             chain_explorer=links)
            uvicorn.run(app, host=host, port=port, log_level="warning")
        else:
            _serve_workers(ctx, attestia, db, fetch, allow, rate, links, host, port, workers)
    finally:
        stop.set()


def _serve_workers(ctx: typer.Context, attestia: Any, db: str | None, fetch: Any,
                   allow: str | None, rate: float, links: str | None, host: str, port: int,
                   workers: int) -> None:
    """``workers`` uvicorn processes, each building its app from a spec file this process
    writes (``offchain.explorer.serve``) and removes on exit."""
    import os
    import tempfile

    import uvicorn

    from offchain.explorer.serve import SPEC_ENV, ServeSpec
    from offchain.indexer import default_url
    from offchain.storage.uri import ALLOW_ENV

    settings = settings_of(ctx)
    spec = ServeSpec(home=str(settings.home), data_dir=str(settings.data_dir),
                     rpc_url=str(attestia.chain.url), deployment=attestia.deployment.to_json(),
                     db=db or default_url(settings.data_dir),
                     publish_dirs=[str(d) for d in fetch.publish_dirs],
                     allow=allow if allow is not None else os.environ.get(ALLOW_ENV, ""),
                     rate=rate, chain_explorer=links)
    handle, name = tempfile.mkstemp(prefix="explorer-spec-", suffix=".json")
    os.close(handle)
    path = Path(name)
    try:
        spec.write(path)
        os.environ[SPEC_ENV] = str(path)
        uvicorn.run("offchain.explorer.serve:app_from_spec", factory=True, host=host,
                    port=port, workers=workers, log_level="warning")
    finally:
        path.unlink(missing_ok=True)


def register(app: typer.Typer) -> None:
    app.add_typer(index_app, name="index")
    app.command("explorer")(explorer_cmd)
