"""What a record is made of: the computation a worker commits to (and a verifier
recomputes), and the published batch file that holds batched records."""
