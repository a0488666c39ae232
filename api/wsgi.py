"""gunicorn entry point: ``gunicorn api.wsgi:app``."""

from api.bootstrap import web_app

app = web_app()
