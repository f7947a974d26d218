"""The chain shell: embedded Anvil, connections, transactions, EIP-712 and deployments."""
