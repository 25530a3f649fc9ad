# Cutover proxy and CLI. The image runs `cutover proxy`; any other command works
# with `docker run … cutover <command>`.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
# better-sqlite3 builds from source when no prebuilt binary can be fetched
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
# pg_dump for backups of a PostgreSQL source
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client tini && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY common ./common
COPY proxy ./proxy
COPY backfill ./backfill
COPY control ./control
RUN ln -s /app/control/cutover.mjs /usr/local/bin/cutover && mkdir -p /data && chown node /data
USER node
WORKDIR /data
# The control API on a non-loopback address needs a token: run with -e CUTOVER_TOKEN=…
ENV CUTOVER_LISTEN=0.0.0.0:6432 CUTOVER_CONTROL=0.0.0.0:6480 CUTOVER_LOG_JSON=1
EXPOSE 6432 6480
ENTRYPOINT ["/usr/bin/tini", "--", "cutover"]
CMD ["proxy"]
