"""``attestia gateway``: sealed off-chain requests over HTTP into the fleet's queue
(offchain.gateway). The workers (``attestia worker run --queue URL``) batch and commit them."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
from collections.abc import Iterator

import typer

from offchain.cli.common import attestia_of, console, dev_account_option, settings_of

_QUEUE_HELP = ("The queue's database URL: postgresql://USER@HOST:PORT/DB (a fleet on several "
               "machines) or sqlite:///PATH (one machine); the workers' --queue.")


def gateway_cmd(
    ctx: typer.Context,
    queue: str = typer.Option(..., "--queue", metavar="URL", help=_QUEUE_HELP),
    model: list[str] = typer.Option(..., "--model", help="Model id (0x...) or package "
                                    "directory to accept requests for (repeatable)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8700, "--port", help="Port to listen on."),
    rate: float = typer.Option(20.0, "--rate-limit", help="Requests per second per client "
                               "address (bursts up to 5 s of it; then 429)."),
    commit_within: int = typer.Option(300, "--commit-within", help="Seconds a receipt "
                                      "promises the request's batch is committed within."),
    dev_account: int = dev_account_option(1, "worker operator (it signs receipts)"),
) -> None:
    """Take sealed off-chain requests over HTTP into the fleet's queue (PostgreSQL or SQLite).

    POST /v1/requests takes a sealed off-chain request (the input
    sealed to the worker key's on-chain encryption key: the gateway never sees it in clear)
    and answers its id and a receipt signed by the worker key; GET /v1/requests/{id} tells
    its requester where it stands (queued, batched, committed with leaf and inclusion proof)
    and hands over the sealed result. OpenAPI at /docs. Plain HTTP: put TLS in a reverse
    proxy in front.

    Example: attestia gateway --queue postgresql://postgres@127.0.0.1:5432/attestia
    --model .attestia/models/demo --port 8700
    """
    from offchain.cli.common import check_model_ref, model_ref
    from offchain.errors import ConfigError

    if not 0 < port < 65536:
        raise ConfigError(f"--port must be 1..65535, got {port}")
    if rate <= 0:
        raise ConfigError(f"--rate-limit must be above 0, got {rate}")
    if commit_within < 1:
        raise ConfigError(f"--commit-within must be at least 1 second, got {commit_within}")
    if not queue.startswith(("sqlite:", "postgresql:", "postgres:")):
        raise ConfigError(f"--queue must be sqlite:///PATH or postgresql://..., got {queue!r}")
    for ref in model:
        check_model_ref(ref)
    with socket.socket() as probe:
        # as uvicorn binds: a restart right after a crash finds its port in TIME_WAIT
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}): pass another "
                              "--port") from None
    import uvicorn

    from offchain.explorer.app import RateLimit
    from offchain.gateway.app import create_app
    from offchain.gateway.service import Gateway, GatewayConfig
    from offchain.queue.store import Queue

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = settings_of(ctx)
    attestia = attestia_of(ctx)
    signer = attestia.chain.account(dev_account)
    ids = tuple(model_ref(attestia, ref, data_dir=settings.data_dir,
                          account=signer.address)[0] for ref in model)
    gateway = Gateway(attestia, Queue(queue), signer,
                      GatewayConfig(models=ids, commit_within=commit_within))
    gateway.check_ready()
    app = create_app(gateway, rate_limit=RateLimit(rate, burst=max(1.0, rate * 5)))
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    console.print(f"gateway: http://{shown}:{port}  (API docs at /docs; worker "
                  f"{signer.address}, chain {attestia.chain.chain_id}, registry "
                  f"{attestia.registry.address}; {len(ids)} model(s); plain HTTP: TLS belongs "
                  "to a reverse proxy)", highlight=False, soft_wrap=True)
    class Server(uvicorn.Server):
        """uvicorn's server, stopped by our handlers below: its own re-raise the signal after
        the shutdown, so a SIGTERM would end the process with -15 instead of 0."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    server = Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))

    def stop(*_: object) -> None:
        server.should_exit = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.run()
    console.print("gateway stopped (every accepted request is in the queue)", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("gateway")(gateway_cmd)



