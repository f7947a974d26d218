"""Models: packages on disk, the canonical tensor encoding, and deterministic execution.

``package`` saves/loads validated model packages (content hash = sha-256 of model.onnx),
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
from offchain.models.package import ModelPackage, content_hash, load_package, save_package

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
    "content_hash",
    "load_package",
    "save_package",
]
