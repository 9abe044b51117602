# syntax=docker/dockerfile:1
# Production image: `docker build -t nest-chatbot .` (docker-compose.yml builds it too).
# Stage 1 compiles the app and its native modules; stage 2 carries only production files and
# runs as the unprivileged `node` user.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Compilers for better-sqlite3 (and bcrypt, should its prebuilt binary not fit) when no
# prebuilt binary can be downloaded.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
# The npm this project is pinned to: it honours package.json "allowScripts", so only bcrypt and
# better-sqlite3 run install scripts. SCARF_ANALYTICS guards older npms against the phone-home.
RUN npm install -g npm@11.19.1 --no-audit --no-fund
ENV SCARF_ANALYTICS=false
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY config ./config
COPY libs ./libs
COPY src ./src
COPY examples/web ./examples/web
RUN npm run build \
  && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
# DATABASE_URL here is only the SQLite fallback when none is given (mount a volume on /app/data
# to keep it); production sets a postgres:// URL.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATABASE_URL=sqlite:////app/data/chatbot.db
WORKDIR /app
# Application files stay owned by root (read-only for the app); only /app/data is writable.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/examples/web/public ./examples/web/public
COPY deploy/healthcheck.js ./deploy/healthcheck.js
RUN mkdir -p /app/data/files && chown -R node:node /app/data
USER node
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "deploy/healthcheck.js"]
# node is PID 1 here: the app handles SIGTERM itself (graceful shutdown of streams); run with
# `--init` (compose: `init: true`) so that zombie processes are reaped as well.
CMD ["node", "dist/src/main.js"]
