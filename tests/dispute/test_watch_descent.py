"""`attestia watch` against a liar that withholds its trace (issue 17, attack 1), end to end
with the demo model (N = 489): the watch challenges the lying record; the liar responds with
a root and a URI nobody can read; the next pass cannot use the trace, plays the descent
instead (here its first move already ends it: the liar's steps are the honest ones and only
its totals lie, so the challenger proves END from its own copy) and reports the move."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from offchain.attribution.trace import AttributionModel
from offchain.protocol import DisputeState, FraudKind
from tests.rewards.helpers import cli, cli_home
from tests.worker.helpers import CLIENT, lying_engine, make_worker, send_demo_requests


@pytest.mark.slow  # a worker, a demo request and two watch processes: ~20-60 s
def test_watch_descends_when_the_trace_is_withheld(attestia, served_model, demo_package,
                                                   demo_package_dir, settings,
                                                   tmp_path) -> None:
    home = cli_home(settings, tmp_path / "home")
    node = make_worker(attestia, demo_package_dir, tmp_path / "w")
    lying_engine(node, served_model.model_id)
    (lie,) = send_demo_requests(attestia, demo_package, home / ".attestia", 1,
                                worker=node.signer.address)
    node.run(until_idle=True)
    (recorded,) = attestia.registry.recorded(request_id=lie.request_id)
    pkg, dev = str(demo_package_dir), ["--dev-account", str(CLIENT)]
    first = cli(settings, home, "watch", "--model", pkg, "--once", "--json", *dev)
    assert first.returncode == 0, first.stderr
    rid = "0x" + lie.request_id.hex()
    assert json.loads(first.stdout)["challenged"] == [rid]
    # The liar answers with the honest steps and totals that give its shares, and withholds
    # the file.
    opened = attestia.slasher.opened(request_id=lie.request_id)[-1]
    honest = AttributionModel.of_package(demo_package).trace(opened.query, opened.label)
    (share,) = recorded.shares
    totals = [1 if account == share.account else 0 for account in honest.roster]
    forged = replace(honest, totals=totals)
    attestia.send(attestia.slasher.respond(lie.request_id, forged.root, "file:///withheld",
                                           totals, list(forged.roster), recorded.shares),
                  account=node.operator)
    second = cli(settings, home, "watch", "--model", pkg, "--once", "--json", *dev)
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    assert report["descent"] == [{"requestId": rid, "move": "proved"}], report
    assert report["proved"] == [rid]
    dispute = attestia.slasher.dispute(lie.request_id)
    assert dispute.state == DisputeState.FRAUD and dispute.kind == FraudKind.END
