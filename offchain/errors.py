"""The exception hierarchy every Attestia component raises.

Messages say what was wrong and what to do; the CLI prints them as one line and exits
non-zero, so no user ever sees a traceback for a problem they can fix.
"""


class AttestiaError(Exception):
    """Base of every error Attestia raises on purpose."""

    exit_code = 1


class ConfigError(AttestiaError):
    """Configuration is missing or inconsistent (RPC URL, keys, deployment files)."""


class ToolchainError(AttestiaError):
    """A required tool (node, npm packages, the compiler, the Anvil binary) is unavailable."""


class CompileError(AttestiaError):
    """Solidity compilation failed; the message lists ``file:line: message`` per error."""


class ChainError(AttestiaError):
    """The chain could not be reached or did not behave as expected."""


class TransactionReverted(ChainError):
    """A transaction or call reverted; ``error`` names the decoded custom error if known."""

    def __init__(self, message: str, *, error: str | None = None, args: tuple = ()) -> None:
        super().__init__(message)
        self.error = error
        self.error_args = args


class AttributionError(AttestiaError):
    """Base of every attribution error (``offchain.attribution.errors`` names these too)."""


class InvalidInputError(AttributionError):
    """Training data, a query, labels or ``k`` are malformed (shape, finiteness, range)."""


class InvalidSharesError(AttributionError):
    """A share list breaks the on-chain rules: sorted unique addresses, positive bps, sum 10,000."""
