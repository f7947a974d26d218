"""Files Attestia writes and documents it reads: atomic writes, and the one reader of a
URI published on chain."""
