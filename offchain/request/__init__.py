"""The requester's side of a request's journey: finding a live worker (its heartbeat), paying on
chain or dropping the request in a batching worker's inbox, and following where it stands."""
