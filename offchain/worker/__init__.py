"""The inference worker: follow requests, run the model, prove, attribute, record."""
