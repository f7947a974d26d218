"""Errors raised by ``offchain.models``.

Every model problem is a :class:`ModelError`, itself an ``AttestiaError``, so the CLI can
print one line and exit. The subclasses tell a caller which of three things went wrong: the
package on disk (files, hashes, schema), the bytes or JSON of a tensor, or the runtime.
"""

from __future__ import annotations

from offchain.errors import AttestiaError


class ModelError(AttestiaError):
    """Base of every error raised by ``offchain.models``."""


class ModelPackageError(ModelError):
    """A model package could not be saved or loaded."""


class PackageFileMissing(ModelPackageError):
    """A file the package needs (model.onnx, network.json, manifest.json, train.npz) is
    not there."""


class PackageIntegrityError(ModelPackageError):
    """A file's bytes do not match the sha-256 or item hashes the manifest declares."""


class PackageSchemaError(ModelPackageError):
    """The manifest, the ONNX graph or the training arrays disagree on names, dtypes or shapes."""


class EncodingError(ModelError):
    """A tensor or its canonical bytes are not acceptable (NaN/inf, shape, size, format)."""


class InputFormatError(EncodingError):
    """A user's input JSON is malformed or does not match the model's input schema."""


class ModelRuntimeError(ModelError):
    """ONNX Runtime could not load or run a model."""
