# Warden API / worker image: slim, non-root, no build tools in the final stage.
# Build stage: turn the project and every dependency into wheels.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml setup.cfg README.md ./
COPY core core
COPY events events
COPY projections projections
COPY services services
COPY api api
COPY jobs jobs
COPY cli cli
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# Final stage: only the interpreter and the wheels, installed offline.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 APP_ENV=production PORT=8000
RUN groupadd --gid 10001 warden && useradd --uid 10001 --gid 10001 --create-home warden
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index /wheels/*.whl && rm -rf /wheels
USER 10001:10001
WORKDIR /home/warden
EXPOSE 8000
# /healthz answers without the database, so a slow MongoDB never restarts the container.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]
# gunicorn reads api/gunicorn_conf.py: workers from WEB_CONCURRENCY, timeouts,
# forwarded_allow_ips, JSON logs, and a configuration check before any worker starts.
# The worker service runs the same image with: warden worker
CMD ["gunicorn", "-c", "python:api.gunicorn_conf", "api.wsgi:app"]
