"""A durable queue of off-chain requests shared by a fleet of batching workers (and fed by the
gateway), in PostgreSQL (or SQLite on one machine). See :mod:`offchain.queue.store`."""
