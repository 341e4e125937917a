# followersync as a container: `docker compose up` (see docker-compose.yml) or any scheduler.
FROM python:3.12-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY followersync ./followersync
# Installed as followersync.migrations (pyproject.toml), for `followersync migrate`.
COPY migrations ./migrations
RUN pip install --no-cache-dir . && useradd --create-home followersync
USER followersync
WORKDIR /home/followersync
ENTRYPOINT ["followersync"]
CMD ["--help"]
