"""Serving the explorer from several processes (``attestia explorer --workers N``).

uvicorn starts each worker process afresh and builds its app by calling ``app_from_spec``, so
whatever the command resolved (the chain's URL, the deployment, the database, the fetch
policy, the rate limit, the chain-explorer links) is written once to a spec file the workers
read (named by ``SPEC_ENV``; the command removes it on exit). Each worker opens its own
database pool and chain connection; the indexer runs once, in the command's own process.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SPEC_ENV = "ATTESTIA_EXPLORER_SPEC"


@dataclass(frozen=True)
class ServeSpec:
    home: str
    data_dir: str
    rpc_url: str
    deployment: dict[str, Any]
    db: str
    publish_dirs: list[str]
    allow: str
    rate: float
    chain_explorer: str | None

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))
        path.chmod(0o600)

    @classmethod
    def read(cls, path: Path) -> ServeSpec:
        return cls(**json.loads(path.read_text()))


def app_from_spec() -> Any:
    """The app a worker process serves (uvicorn's ``factory=True`` target)."""
    from offchain.chain.connection import connect
    from offchain.chain.plan import Deployment
    from offchain.config import load_settings
    from offchain.explorer.app import RateLimit, create_app
    from offchain.explorer.checks import VERIFY_PROCESSES
    from offchain.explorer.service import Explorer
    from offchain.indexer import open_engine
    from offchain.registry import Attestia
    from offchain.storage.uri import FetchPolicy

    spec = ServeSpec.read(Path(os.environ[SPEC_ENV]))
    settings = load_settings(home=spec.home, rpc_url=spec.rpc_url)
    chain = connect(settings, start=False, light=True)  # a worker only reads
    data = dict(spec.deployment)
    attestia = Attestia(chain, Deployment(chain_id=int(data.pop("chainId")), **data))
    fetch = FetchPolicy.for_service([Path(d) for d in spec.publish_dirs], allow=spec.allow,
                                    secret_dirs=(settings.home, settings.data_dir))
    explorer = Explorer(open_engine(spec.db), attestia, Path(spec.data_dir), fetch=fetch,
                        verify_processes=VERIFY_PROCESSES)
    return create_app(explorer, rate_limit=RateLimit(spec.rate, burst=max(1.0, spec.rate * 5)),
                      chain_explorer=spec.chain_explorer)
