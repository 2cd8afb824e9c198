# syntax=docker/dockerfile:1
#
# FlowMart order saga: one image, four roles chosen by the command (see docker-compose.yml):
#   node dist/api/main.js            HTTP API on $PORT (default 3000)
#   node dist/worker/main.js         Temporal worker
#   node dist/events/relay-main.js   transactional-outbox relay to NATS JetStream
#   npx dbmate --migrations-dir prisma/migrations --no-dump-schema up   one-shot migrations
#
#   docker build -t flowmart-order-saga .

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------
# build: full dependency tree, Prisma client generation, TypeScript compile
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app

# `prisma generate` needs no schema engine, but the CLI downloads one unless told where it is.
ENV PRISMA_SCHEMA_ENGINE_BINARY=/bin/true \
    PRISMA_HIDE_UPDATE_MESSAGE=1 \
    CHECKPOINT_DISABLE=1 \
    NPM_CONFIG_UPDATE_NOTIFIER=false

# Exactly the lockfile (it lists every platform's optional binaries: `npm run lock:platforms`).
# Install scripts stay off, as package.json's allowScripts says: nothing here needs one.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts

COPY . .
RUN npx prisma generate \
 && npx tsc -p tsconfig.build.json \
 && test -f dist/api/main.js && test -f dist/worker/main.js && test -f dist/events/relay-main.js

# Production dependencies only, plus dbmate (a devDependency) for the migrate role: keep its JS wrapper and
# this platform's binary package aside, prune, then put them back with their .bin link so `npx dbmate` resolves
# locally and never reaches for the registry at run time.
RUN mkdir -p /tmp/dbmate \
 && cp -a node_modules/dbmate node_modules/@dbmate /tmp/dbmate/ \
 && npm prune --omit=dev --no-audit --no-fund --ignore-scripts \
 && mkdir -p node_modules/@dbmate node_modules/.bin \
 && cp -a /tmp/dbmate/dbmate node_modules/dbmate \
 && cp -a /tmp/dbmate/@dbmate/. node_modules/@dbmate/ \
 && ln -sf ../dbmate/dist/cli.js node_modules/.bin/dbmate \
 && node node_modules/dbmate/dist/cli.js --version \
 && rm -rf /tmp/dbmate

# ---------------------------------------------------------------------------
# runtime
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime

RUN apt-get update \
 && apt-get install -y --no-install-recommends tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*

ENV NODE_ENV=production \
    PORT=3000 \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

WORKDIR /app

COPY --from=build --chown=node:node /app/package.json /app/package-lock.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --from=build --chown=node:node /app/prisma ./prisma
COPY --from=build --chown=node:node /app/contracts ./contracts

# The node image's unprivileged user (uid 1000).
USER node

EXPOSE 3000

# Meaningful for the API role; docker-compose.yml disables it for the worker, relay and migrate roles.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# tini reaps zombies and forwards SIGTERM so the API and worker shut down gracefully.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/api/main.js"]
