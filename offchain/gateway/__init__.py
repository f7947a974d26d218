"""``attestia gateway``: off-chain requests over HTTP into the fleet's queue (``service``: the
checks, receipts and answers; ``app``: the FastAPI app around them)."""
