"""The end-to-end demo (``make demo``)."""
