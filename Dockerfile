# NGO outreach bot: `docker build -t ngo-bot .` then
#   docker run -v ngo-bot-data:/data -e TELEGRAM_BOT_TOKEN=... ngo-bot
# Webhook mode (TELEGRAM_WEBHOOK_URL set) listens on 8443: add `-p 8443:8443`.
# The web console and feeds: `-e BOT_WEB_LISTEN=0.0.0.0:8080 -p 8080:8080` (behind an https proxy).
# An exact version tag, so a rebuild gets the same Python and Debian release.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BOT_DB=/data/ngo-bot.sqlite3

WORKDIR /src
# Dependencies first, in their own layer, from pyproject.toml only: a code change does not
# reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin bot \
    && mkdir -p /data \
    && chown bot:bot /data

COPY README.md babel.cfg ./
COPY bot ./bot
COPY locales ./locales
# A plain (non-editable) install: catalogs, content and migrations travel inside the package.
RUN pip install --no-deps .

USER bot
WORKDIR /home/bot
VOLUME ["/data"]
EXPOSE 8443
EXPOSE 8080

HEALTHCHECK --interval=60s --timeout=10s --start-period=30s --retries=3 CMD ngo-bot health || exit 1

CMD ["ngo-bot", "run"]
