"""The exception hierarchy every Attestia component raises.

Messages say what was wrong and what to do; the CLI prints them as one line and exits
non-zero, so no user ever sees a traceback for a problem they can fix.
"""


class AttestiaError(Exception):
    """Base of every error Attestia raises on purpose."""

    exit_code = 1

    def for_people(self) -> str:
        """The message the CLI prints (a subclass may add what it knows beyond ``str``)."""
        return str(self)


class ConfigError(AttestiaError):
    """Configuration is missing or inconsistent (RPC URL, keys, deployment files)."""


class ToolchainError(AttestiaError):
    """A required tool (node, npm packages, the compiler, the Anvil binary) is unavailable."""


class CompileError(AttestiaError):
    """Solidity compilation failed; the message lists ``file:line: message`` per error."""


class ChainError(AttestiaError):
    """The chain could not be reached or did not behave as expected."""


class TransactionReverted(ChainError):
    """A transaction or call reverted; ``error`` names the decoded custom error if known,
    ``explanation`` says in words what it means and what to do (the CLI prints it after the
    message; the message itself stays the machine-readable ``reverted with Name(args)``)."""

    def __init__(self, message: str, *, error: str | None = None, args: tuple = (),
                 explanation: str | None = None) -> None:
        super().__init__(message)
        self.error = error
        self.error_args = args
        self.explanation = explanation

    def for_people(self) -> str:
        return f"{self}: {self.explanation}" if self.explanation else str(self)


class AttributionError(AttestiaError):
    """Base of every attribution error (``offchain.attribution.errors`` names these too)."""


class InvalidInputError(AttributionError):
    """Training data, a query, labels or ``k`` are malformed (shape, finiteness, range)."""


class InvalidSharesError(AttributionError):
    """A share list breaks the on-chain rules: sorted unique addresses, positive bps, sum 10,000."""
