# syntax=docker/dockerfile:1
#
# juno's container image: `docker build -t juno/phase3:v3.0 .` (deploy/README.md).
#
# Two stages. The build stage installs every dependency from the lock file (better-sqlite3 is a
# native addon: npm ci fetches a prebuilt binary when one matches, else compiles it, hence python3,
# make and g++), compiles to dist/ and prunes the dev dependencies. The runtime stage gets only
# dist/, the production node_modules, package.json and the examples, owned by root and read-only
# to the juno user (uid 10001), who owns nothing but /var/lib/juno.
#
# Node is PID 1 through the exec-form ENTRYPOINT (no shell, no npm in between), so SIGTERM from
# `docker stop` or the kubelet reaches juno itself: `juno start` handles SIGTERM and SIGINT
# (src/cli/juno.ts), leaves gracefully (a leader hands over leadership first) and exits 0, and it
# starts no child processes, so no init such as tini is needed to forward signals or reap zombies.
# test/deploy/container.test.ts checks this file, the build context, and that the compiled juno
# runs with production dependencies only and exits 0 on SIGTERM.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
RUN apt-get update \
    && apt-get install --yes --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Dependencies first, so that a change to the sources reuses the installed layer.
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    JUNO_DATA_DIR=/var/lib/juno
RUN groupadd --system --gid 10001 juno \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/juno --no-create-home \
       --shell /usr/sbin/nologin juno \
    && mkdir -p /var/lib/juno \
    && chown 10001:10001 /var/lib/juno \
    && chmod 0700 /var/lib/juno
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY examples ./examples
# Numeric, so that Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 10001:10001
VOLUME ["/var/lib/juno"]
# 8080: the HTTP API, /healthz, /readyz, /metrics and /ui. 9090: the Raft peer transport.
EXPOSE 8080 9090
# For plain Docker; Kubernetes uses its own probes (deploy/k8s). Asks the port JUNO_HTTP_ADDR names,
# over HTTPS when JUNO_TLS_CERT is set; like the kubelet's probes it does not verify the certificate
# (the node asks itself on loopback, a name its certificate need not carry).
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["node", "-e", "const p=(process.env.JUNO_HTTP_ADDR||':8080').split(':').pop()||'8080';const h=require(process.env.JUNO_TLS_CERT?'node:https':'node:http');h.get({host:'127.0.0.1',port:p,path:'/healthz',rejectUnauthorized:false},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/cli/juno.js"]
CMD ["start"]
