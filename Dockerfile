# ClimbIQ API: one Node process (the same `node dist/src/main.js` that `npm start` execs), as a non-root user,
# listening on 0.0.0.0 inside the container. docs/operations.md describes the settings, the database to use,
# signals, health checks and the reverse proxy in front.
FROM node:24-bookworm-slim

WORKDIR /app
COPY package.json package-lock.json ./
COPY prisma ./prisma
COPY prisma.config.ts tsconfig.json ./
# Installs the dependencies and generates the Prisma client (postinstall) from the lock file.
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build \
  && mkdir -p /app/data \
  && chown -R node:node /app/data

ENV NODE_ENV=production HOST=0.0.0.0 PORT=4000 PGLITE_DIR=/app/data/pglite MALLOC_ARENA_MAX=2
EXPOSE 4000
VOLUME ["/app/data"]
USER node

# Liveness: /health answers while the process serves (readiness, with the database checked, is /ready).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Exec form: node is PID 1 and receives docker stop's SIGTERM itself (SHUTDOWN_TIMEOUT_SECONDS, default 10,
# fits docker's default 10 s grace period... set `docker stop -t 15` or stop_grace_period to leave a margin).
STOPSIGNAL SIGTERM
CMD ["node", "--enable-source-maps", "--liftoff-only", "--max-semi-space-size=8", "--min-semi-space-size=4", "--no-allocation-site-pretenuring", "dist/src/main.js"]
