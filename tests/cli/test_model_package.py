"""``attestia model package``: bring your own model (ONNX + training data + roster files).

Packaging the demo's own ONNX with its training data and roster exported to files gives the
demo package byte for byte (same content hash, same roster root); bad input is one error line
and leaves nothing behind.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from offchain.models import load_package
from offchain.models.byom import package_from_files
from offchain.models.demo import CONTRIBUTORS, LABELS, NAME, VERSION, demo_data
from offchain.models.package import MODEL_FILE, PACKAGE_FILES
from tests.cli.test_cli_errors import assert_one_line_error, run


def write_inputs(tmp: Path, demo_package_dir: Path, *, label_names: bool = True) -> dict:
    """The demo's model, training data (CSV) and roster (JSON) as a user would have them."""
    data = demo_data()
    onnx_file = tmp / "model.onnx"
    onnx_file.write_bytes((demo_package_dir / MODEL_FILE).read_bytes())
    roster = tmp / "roster.json"
    roster.write_text(json.dumps([{"name": c.name, "address": c.address}
                                  for c in CONTRIBUTORS], indent=1))
    train = tmp / "train.csv"
    with train.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*data.feature_names, "label", "contributor"])
        for row, label, owner in zip(data.X_raw, data.y, data.owner, strict=True):
            writer.writerow([*(repr(float(v)) for v in row),
                             LABELS[int(label)] if label_names else int(label),
                             CONTRIBUTORS[int(owner)].name])
    return {"onnx": onnx_file, "roster": roster, "train": train}


def test_demo_files_package_to_the_demo_package(tmp_path: Path, demo_package_dir: Path,
                                                demo_package) -> None:
    files = write_inputs(tmp_path, demo_package_dir)
    out = tmp_path / "pkg"
    result = run(["model", "package", str(files["onnx"]), "--data", str(files["train"]),
                  "--roster", str(files["roster"]), "--out", str(out), "--name", NAME,
                  "--version", VERSION, "--labels", ",".join(LABELS), "--json"], tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    package = load_package(out)
    assert package.content_hash == demo_package.content_hash
    assert package.roster_root() == demo_package.roster_root()
    assert summary["contentHash"] == "0x" + demo_package.content_hash.hex()
    assert summary["dataRoot"] == "0x" + demo_package.data_root().hex()
    assert summary["trainRows"] == demo_package.manifest.train_rows
    for member in PACKAGE_FILES:  # byte for byte the demo package
        assert (out / member).read_bytes() == (demo_package_dir / member).read_bytes(), member
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_json_data_and_csv_roster_give_the_same_package(tmp_path: Path,
                                                        demo_package_dir: Path,
                                                        demo_package) -> None:
    files = write_inputs(tmp_path, demo_package_dir, label_names=False)
    data = demo_data()
    train_json = tmp_path / "train.json"
    train_json.write_text(json.dumps({
        "features": list(data.feature_names),
        "rows": [{"values": [float(v) for v in row], "label": int(label),
                  "contributor": CONTRIBUTORS[int(owner)].address}
                 for row, label, owner in zip(data.X_raw, data.y, data.owner, strict=True)],
    }))
    roster_csv = tmp_path / "roster.csv"
    roster_csv.write_text("name,address\n" + "".join(f"{c.name},{c.address}\n"
                                                       for c in CONTRIBUTORS))
    package = package_from_files(files["onnx"], train_json, roster_csv, tmp_path / "pkg",
                                 name=NAME, version=VERSION, labels=LABELS)
    assert package.content_hash == demo_package.content_hash
    assert package.roster_root() == demo_package.roster_root()
    assert package.manifest == demo_package.manifest


def _unknown_contributor(files: dict) -> None:
    lines = files["train"].read_text().splitlines()
    lines[5] = lines[5].rsplit(",", 1)[0] + ",mallory"
    files["train"].write_text("\n".join(lines) + "\n")


def _bad_label(files: dict) -> None:
    lines = files["train"].read_text().splitlines()
    parts = lines[3].split(",")
    parts[-2] = "maybe"
    lines[3] = ",".join(parts)
    files["train"].write_text("\n".join(lines) + "\n")


def _missing_feature(files: dict) -> None:
    rows = list(csv.reader(files["train"].open()))
    files["train"].write_text("".join(",".join(r[1:]) + "\n" for r in rows))


def _unchecksummed_roster(files: dict) -> None:
    roster = json.loads(files["roster"].read_text())
    roster[0]["address"] = roster[0]["address"].lower()
    files["roster"].write_text(json.dumps(roster))


def _not_float32(files: dict) -> None:
    lines = files["train"].read_text().splitlines()
    parts = lines[2].split(",")
    parts[0] = "0.1"
    lines[2] = ",".join(parts)
    files["train"].write_text("\n".join(lines) + "\n")


def _tiny_feature(files: dict) -> None:
    """A feature whose spread (2**-71) is too small for the integer attribution's scale."""
    lines = files["train"].read_text().splitlines()
    for i in range(1, len(lines)):
        parts = lines[i].split(",")
        parts[0] = "8.470329472543003e-22" if i % 2 else "0"
        lines[i] = ",".join(parts)
    files["train"].write_text("\n".join(lines) + "\n")


def _not_onnx(files: dict) -> None:
    files["onnx"].write_bytes(b"not a model")


@pytest.mark.parametrize("breaker, needles", [
    (_unknown_contributor, ("contributor 'mallory' is not in the roster",)),
    (_bad_label, ("label 'maybe' is neither a class index",)),
    (_missing_feature, ("has shape [1, 30]", "with 29 features it must be [1, 29]")),
    (_unchecksummed_roster, ("not EIP-55 checksummed",)),
    (_not_float32, ("'0.1' is not exactly a float32",)),
    (_not_onnx, ("not a valid ONNX model",)),
    (_tiny_feature, ("cannot be attributed in integers",)),
], ids=["unknown-contributor", "bad-label", "missing-feature", "unchecksummed-roster",
        "not-float32", "not-onnx", "unquantisable-feature"])
def test_bad_input_is_one_line_and_leaves_nothing(tmp_path: Path, demo_package_dir: Path,
                                                  breaker, needles) -> None:
    files = write_inputs(tmp_path, demo_package_dir)
    breaker(files)
    before = sorted(p.name for p in tmp_path.iterdir())
    out = tmp_path / "pkg"
    result = run(["model", "package", str(files["onnx"]), "--data", str(files["train"]),
                  "--roster", str(files["roster"]), "--out", str(out),
                  "--labels", ",".join(LABELS)], tmp_path)
    assert_one_line_error(result, *needles)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no pkg/, no temp dir


def test_refuses_a_non_empty_out_directory(tmp_path: Path, demo_package_dir: Path) -> None:
    files = write_inputs(tmp_path, demo_package_dir)
    out = tmp_path / "pkg"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = run(["model", "package", str(files["onnx"]), "--data", str(files["train"]),
                  "--roster", str(files["roster"]), "--out", str(out)], tmp_path)
    assert_one_line_error(result, "already exists and is not empty")
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
