# NGO outreach bot: `docker build -t ngo-bot .` then
#   docker run -v ngo-bot-data:/data -e TELEGRAM_BOT_TOKEN=... ngo-bot
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BOT_DB=/data/ngo-bot.sqlite3

WORKDIR /src
COPY pyproject.toml README.md babel.cfg ./
COPY bot ./bot
COPY locales ./locales
# A plain (non-editable) install: catalogs, content and migrations travel inside the package.
RUN pip install . \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin bot \
    && mkdir -p /data \
    && chown bot:bot /data

USER bot
WORKDIR /home/bot
VOLUME ["/data"]

HEALTHCHECK --interval=60s --timeout=10s --start-period=30s --retries=3 CMD ngo-bot health || exit 1

CMD ["ngo-bot", "run"]
