"""The worker process: APScheduler jobs, never run inside a web worker."""
