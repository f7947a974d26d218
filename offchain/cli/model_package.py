"""``attestia model package``: bring your own model (see ``offchain.models.byom``)."""

from __future__ import annotations

from pathlib import Path

import typer

from offchain.cli.common import console, print_json


def package_cmd(
    onnx_file: Path = typer.Argument(..., metavar="ONNX",
                                     help="The model: an ONNX graph with one float32 input "
                                          "[1, features] and one float32 output [1, labels]."),
    data: Path = typer.Option(..., "--data", help="Training data, CSV (feature columns, "
                              "'label', 'contributor') or JSON; see the README."),
    roster: Path = typer.Option(..., "--roster", help="Contributor roster, JSON "
                                "[{name, address}] or CSV with header name,address."),
    out: Path = typer.Option(..., "--out", help="Package directory to create (must not exist "
                             "or be empty); a relative path is relative to the current "
                             "directory."),
    name: str = typer.Option(None, "--name", help="Package name (default: the ONNX file's "
                             "name without .onnx)."),
    version: str = typer.Option("1.0.0", "--version", help="Package version."),
    labels: str = typer.Option(None, "--labels", help="Class names in logit order, comma "
                               "separated (default: 0,1,...)."),
    as_json: bool = typer.Option(False, "--json", help="Print the package summary as JSON."),
) -> None:
    """Build a model package from your own ONNX model, its training data and its contributor
    roster, with the checks the demo package gets: the graph's input/output shapes match the
    features and labels, the graph runs on every training row, values are finite float32,
    every row's contributor is in the roster, addresses are checksummed. Nothing is written
    unless every check passes; the result loads like any package (register it with
    `attestia model register DIR`).

    Example: attestia model package model.onnx --data train.csv --roster roster.json --out pkg
    """
    from offchain.models.byom import package_from_files
    from offchain.models.package import graph_op_types

    label_names = None
    if labels is not None:
        label_names = [part.strip() for part in labels.split(",")]
    package = package_from_files(onnx_file, data, roster, out, name=name, version=version,
                                 labels=label_names)
    manifest = package.manifest
    summary = {
        "path": str(package.path.resolve()),
        "name": manifest.name,
        "version": manifest.version,
        "contentHash": "0x" + package.content_hash.hex(),
        "dataRoot": "0x" + package.data_root().hex(),
        "features": len(manifest.input.features),
        "labels": list(manifest.output.labels),
        "trainRows": manifest.train_rows,
        "contributors": [{"name": c.name, "address": c.address}
                         for c in manifest.contributors],
        "ops": sorted(set(graph_op_types(package.onnx_path))),
    }
    if as_json:
        print_json(summary)
        return
    console.print(
        f"package {summary['path']} written: {manifest.name}@{manifest.version}, content hash "
        f"{summary['contentHash']}, data root {summary['dataRoot']}, "
        f"{manifest.train_rows} rows from {len(manifest.contributors)} contributors, "
        f"{summary['features']} features, labels {','.join(manifest.output.labels)}",
        highlight=False, soft_wrap=True)
    console.print(f"next: attestia model register {summary['path']}", highlight=False,
                  soft_wrap=True)
