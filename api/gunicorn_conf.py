"""gunicorn settings (``gunicorn -c python:api.gunicorn_conf api.wsgi:app``).

Workers from WEB_CONCURRENCY; request timeouts bound slow clients; the app is
not preloaded, so each worker builds its own MongoClient after the fork.
"""

import os

bind = os.environ.get("WARDEN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WARDEN_THREADS", "4"))
timeout = 30
graceful_timeout = 20
keepalive = 5
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
preload_app = False
accesslog = None  # the app writes one structured line per request
errorlog = "-"
# Only the proxy in front of us (TRUSTED_PROXY_COUNT decides what the app believes).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# gunicorn's own lines (boot, worker exits, timeouts) as JSON too, on stdout with the app's.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "core.logs.JsonFormatter"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
    "root": {"level": "INFO", "handlers": ["stdout"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
    },
}


def on_starting(server: object) -> None:
    """Check the configuration in the master, before any worker forks.

    A bad setting (a weak secret, ``*`` in ALLOWED_ORIGINS, ...) stops start-up with
    one line naming the variable and exit status 1, instead of every worker failing
    to boot with a traceback.
    """
    import sys

    from core.settings import ConfigError, Settings

    try:
        Settings.from_env()
    except ConfigError as ex:
        print(f"warden: configuration refused: {ex}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
