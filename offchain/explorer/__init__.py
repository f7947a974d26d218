"""The web explorer: a read-only REST API (``app``, OpenAPI at /docs) and server-rendered pages
over the indexer's database (``offchain.indexer``), with the live checks only the chain can
answer (``service``): the verify checklist, revocation status, batch files, claimable rewards.
"""
