"""The HTTP entry point: Falcon resources, middleware and the composition root."""
