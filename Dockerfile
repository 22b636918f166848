# syntax=docker/dockerfile:1
# mscr on CPU: the model Service (`serve`, the default command) and the retraining job
# (`retrain ...`), with @tensorflow/tfjs-node (native libtensorflow) installed.
#
#   docker build -t mscr:0.1.0 .
#   docker run --rm -p 8080:8080 -v "$PWD/models:/var/lib/mscr/models" mscr:0.1.0
#
# The GPU variant (tfjs-node-gpu on CUDA) is docker/Dockerfile.gpu.

ARG NODE_VERSION=20.19.5
# The images the stages start from: BUILD_IMAGE needs node and npm, BASE_IMAGE (the runtime)
# node, groupadd/useradd and CA certificates. Without a registry, pass local ones instead
# (scripts/build-images.mjs builds both from Debian trixie packages with mmdebstrap).
ARG BUILD_IMAGE=node:${NODE_VERSION}-bookworm
ARG BASE_IMAGE=node:${NODE_VERSION}-bookworm-slim
# `required` fails the build when tfjs-node (and its libtensorflow, downloaded by its install
# script from storage.googleapis.com) does not load; `optional` builds an image that falls back
# to the pure-JS/WASM backends, for places where that download is blocked.
ARG TFJS_NODE=required

# Compile the TypeScript sources to dist/ (needs the dev dependencies: typescript).
FROM ${BUILD_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# No install scripts: the compiler needs neither libtensorflow nor the native image codecs.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY connectors ./connectors
COPY runtime ./runtime
COPY model ./model
COPY service ./service
COPY client ./client
COPY retraining ./retraining
COPY k8s ./k8s
COPY cli ./cli
RUN npm run build

# Production dependencies only, with the optional tfjs-node and its libtensorflow. This
# image has python3, make and g++ in case a native addon has to be built from source.
# .npmrc tells onnxruntime-node's install script not to download the CUDA provider (its CPU
# library ships in the package, for every platform: only this one's is kept, -250 MB).
FROM ${BUILD_IMAGE} AS deps
ARG TFJS_NODE
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund \
    && if [ "$TFJS_NODE" = required ]; then node -e "require('@tensorflow/tfjs-node')"; fi \
    && platform="$(node -p 'process.platform + "/" + process.arch')" \
    && for dir in node_modules/onnxruntime-node/bin/napi-v*/*/*; do \
         case "$dir" in */"$platform") ;; *) rm -rf "$dir" ;; esac; \
       done \
    && node -e "require('onnxruntime-node')" \
    && npm cache clean --force

FROM ${BASE_IMAGE}
ENV NODE_ENV=production \
    MSCR_HOST=0.0.0.0 \
    MSCR_PORT=8080 \
    MSCR_GRPC_PORT=8081 \
    MSCR_STORE=file:///var/lib/mscr/models \
    XDG_CACHE_HOME=/var/cache/mscr
# An unprivileged user with fixed ids, so Kubernetes' runAsNonRoot can check them.
RUN groupadd --system --gid 10001 mscr \
    && useradd --system --uid 10001 --gid mscr --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin mscr \
    && mkdir -p /var/lib/mscr/models /var/cache/mscr \
    && chown -R mscr:mscr /var/lib/mscr /var/cache/mscr
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The web page is static: served from beside the compiled CLI (cli/serve.ts webRootOption).
COPY client/web/public ./dist/client/web/public
COPY package.json ./
COPY bin ./bin
COPY docker/healthcheck.mjs ./docker/healthcheck.mjs
USER 10001:10001
EXPOSE 8080 8081
VOLUME ["/var/lib/mscr", "/var/cache/mscr"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["node", "docker/healthcheck.mjs"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/mscr.js"]
CMD ["serve"]
