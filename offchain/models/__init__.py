"""Models: packages on disk, the canonical tensor encoding, and deterministic execution.

``package`` saves/loads validated model packages (content hash = keccak256 of the
``ModelSpec``: model.onnx's sha-256 and the integer network's weights root), ``network`` is
the integer network a record's output comes from,
``onchain`` registers a package and ``registrations`` finds its on-chain model id (one per
owner), ``encoding`` is the one byte encoding of inputs, outputs and training items (and the
commitments over them), ``runtime`` runs ONNX deterministically, ``demo`` builds the demo
package. Import submodules for the rest of the API.
"""

from offchain.models.errors import (
    EncodingError,
    InputFormatError,
    ModelError,
    ModelPackageError,
    ModelRuntimeError,
    PackageFileMissing,
    PackageIntegrityError,
    PackageSchemaError,
)
from offchain.models.package import ModelPackage, load_package, onnx_sha256, save_package

__all__ = [
    "EncodingError",
    "InputFormatError",
    "ModelError",
    "ModelPackage",
    "ModelPackageError",
    "ModelRuntimeError",
    "PackageFileMissing",
    "PackageIntegrityError",
    "PackageSchemaError",
    "load_package",
    "onnx_sha256",
    "save_package",
]
