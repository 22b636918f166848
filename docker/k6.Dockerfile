# k6 (the load generator the cluster tests run as pods) from the binary
# scripts/setup-tools.mjs builds (`go install go.k6.io/k6` at the version in
# scripts/tools.json). The build context is a folder holding that one `k6` file;
# scripts/build-images.mjs makes it and passes the local Debian base image. By hand:
#
#   buildah build -f docker/k6.Dockerfile -t localhost/k6:dev <folder>
ARG BASE_IMAGE=debian:trixie-slim
FROM ${BASE_IMAGE}
# The user and workdir of grafana/k6's own image (uid 12345, /home/k6).
RUN groupadd --system --gid 12345 k6 \
    && useradd --system --uid 12345 --gid k6 --home-dir /home/k6 --create-home \
       --shell /usr/sbin/nologin k6
COPY --chmod=0755 k6 /usr/local/bin/k6
USER 12345:12345
WORKDIR /home/k6
ENTRYPOINT ["k6"]
CMD ["help"]
