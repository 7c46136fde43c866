# syntax=docker/dockerfile:1
# Multi-platform: docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/portico:0.1.0 .
# Each platform builds in its own stage (re2 is a native addon, compiled for the platform it runs
# on), so nothing here is tied to one architecture.

# Build: compile TypeScript, and re2 when its prebuilt binary cannot be downloaded, against the
# image's own Node and headers. The repository's .npmrc (which points node-gyp at the Linux x64
# Node that npm ci installs for local development) is deliberately not copied, and
# --omit=optional leaves that 189 MB Node out: the image's Node builds and runs Portico.
FROM node:24-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=optional --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# Then only what runs: re2 keeps its addon, not the 17 MB of C++ sources it was built from nor,
# when compiled here, the ~55 MB of object files beside it.
RUN npm run build && npm prune --omit=dev --omit=optional \
 && mv node_modules/re2/build/Release/re2.node /tmp/re2.node \
 && rm -rf node_modules/re2/build node_modules/re2/vendor \
 && mkdir -p node_modules/re2/build/Release && mv /tmp/re2.node node_modules/re2/build/Release/ \
 && node -e "new (require('re2'))('a+').test('aa') || process.exit(1)"

# Runtime: production dependencies and compiled code only, as a non-root user.
FROM node:24-bookworm-slim
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="portico" \
      org.opencontainers.image.description="Kubernetes Ingress controller: ingress-nginx's Ingresses, annotations and ConfigMap keys, without rendering config text" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.url="https://portico.dev"
# Ports 80 and 443 as a non-root user: the file capability pairs with the pod's
# capabilities.add NET_BIND_SERVICE (as ingress-nginx does for its nginx binary). The kernel then
# runs node in secure-execution mode, in which Node ignores NODE_OPTIONS and NODE_EXTRA_CA_CERTS:
# trust a private CA with Portico's --extra-ca-certs flag instead (README, Container image).
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
