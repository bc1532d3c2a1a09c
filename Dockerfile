# driftless worker image (used by docker-compose.yml). The image runs Node 22; driftless itself
# still supports Node 20.3+ on a user's machine (package.json engines).
FROM node:22.23.3-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:22.23.3-bookworm-slim
ENV NODE_ENV=production \
    DRIFTLESS_STATE_DIR=/var/lib/driftless \
    DRIFTLESS_HEALTH_FILE=/run/driftless/worker.health
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
# The bundled price catalogs: without them a worker has no AWS or GCP offers to place on.
COPY data ./data
# The image's own user (uid 1000 in the node images), never root; it owns only what it writes.
RUN mkdir -p /var/lib/driftless /run/driftless /etc/driftless \
 && chown node:node /var/lib/driftless /run/driftless
USER node
# The worker touches DRIFTLESS_HEALTH_FILE every 5s while its Temporal worker is RUNNING;
# another command run from this image (codec serve) sets a health check of its own.
HEALTHCHECK --interval=15s --timeout=10s --start-period=60s --retries=3 \
  CMD ["node", "bin/driftless.js", "health", "--max-age", "30s"]
ENTRYPOINT ["node", "bin/driftless.js"]
CMD ["worker"]
