# One image per Mailway agent, from this one file. Build from the repository root, naming the
# agent, the ports it serves and the port of its metrics and health endpoint:
#   docker build --build-arg AGENT=submission --build-arg PORTS="587 465" --build-arg HTTP_PORT=9091 -t mailway/submission .
#   docker build --build-arg AGENT=relay --build-arg PORTS=25 --build-arg HTTP_PORT=9092 -t mailway/relay .
#   docker build --build-arg AGENT=delivery --build-arg PORTS=24 --build-arg HTTP_PORT=9093 --build-arg DATA_DIR=/var/mail/mailway -t mailway/delivery .
# (docker-compose.yml passes the same arguments for each agent.)
# Multi-stage: turbo prune keeps only this agent and the packages it uses, so changes elsewhere
# in the monorepo do not invalidate the install layer; the final image holds the built agent and
# its production dependencies only, and runs as the unprivileged node user.
# Run it with a higher open-file limit than Docker's usual 1024 (the agent sizes its session cap
# from the limit, and logs both at start-up): docker run --ulimit nofile=65536:65536 …
# (docker-compose.yml sets `ulimits: nofile` for every agent).
FROM node:24-bookworm-slim AS base
RUN npm install -g pnpm@12.21.0
WORKDIR /repo

FROM base AS pruned
ARG AGENT
COPY . .
RUN test -n "$AGENT" || { echo 'set --build-arg AGENT=submission, relay or delivery' >&2; exit 1; } \
 && pnpm dlx turbo@2.11.11 prune "@mailway/$AGENT" --docker --out-dir /pruned

FROM base AS build
ARG AGENT
COPY --from=pruned /pruned/json/ ./
RUN pnpm install --frozen-lockfile
COPY --from=pruned /pruned/full/ ./
RUN pnpm exec turbo run build "--filter=@mailway/$AGENT..." \
 && pnpm --filter "@mailway/$AGENT" deploy --prod /app

FROM node:24-bookworm-slim
ARG AGENT
ARG PORTS
ARG HTTP_PORT
# A directory the agent writes and a volume is mounted on (the delivery agent's mailboxes); none by default.
ARG DATA_DIR=
# The health check reads the agent's own <AGENT>_HTTP_PORT when set, else the default it was built with.
# A fixed malloc mmap threshold returns large freed blocks (AUTH's scrypt) to the kernel, as
# `mailway start` does for its agents (apps/cli/src/supervisor/agents.ts).
ENV NODE_ENV=production \
    MALLOC_MMAP_THRESHOLD_=131072 \
    MAILWAY_IMAGE_AGENT=${AGENT} \
    MAILWAY_IMAGE_HTTP_PORT=${HTTP_PORT}
WORKDIR /app
COPY --from=build --chown=node:node /app ./
# A volume mounted on the data directory keeps this ownership.
RUN if [ -n "$DATA_DIR" ]; then mkdir -p "$DATA_DIR" && chown node:node "$DATA_DIR"; fi
USER node
EXPOSE ${PORTS} ${HTTP_PORT}
HEALTHCHECK --interval=30s --timeout=5s CMD ["node", "-e", "const env = process.env; fetch('http://127.0.0.1:' + (env[env.MAILWAY_IMAGE_AGENT.toUpperCase() + '_HTTP_PORT'] || env.MAILWAY_IMAGE_HTTP_PORT) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# V8's heap kept to an agent's size, as `mailway start` runs its agents (agentNodeFlags there).
CMD ["node", "--max-semi-space-size=4", "--heap-growing-percent=50", "dist/main.js"]
