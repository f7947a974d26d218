"""The explorer's indexer: chain events into a database (SQLite by default, PostgreSQL by URL),
reorg-safe and resumable. ``schema`` is the one schema, ``project`` maps events to rows,
``follower`` runs the loop, ``batches`` fetches and checks published batch files."""

from offchain.indexer.follower import CycleStats, Indexer, IndexerConfig
from offchain.indexer.schema import default_url, open_engine

__all__ = ["CycleStats", "Indexer", "IndexerConfig", "default_url", "open_engine"]
