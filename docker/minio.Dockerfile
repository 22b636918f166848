# MinIO (in-cluster S3 for the end-to-end tests) from the binary scripts/setup-tools.mjs
# builds (`go install` of the commit pinned in scripts/tools.json). The build context is a
# folder holding that one `minio` file; scripts/build-images.mjs makes it and passes the
# local Debian base image. By hand, from a folder with the binary:
#
#   buildah build -f docker/minio.Dockerfile -t localhost/minio:dev <folder>
ARG BASE_IMAGE=debian:trixie-slim
FROM ${BASE_IMAGE}
# Fixed ids, so runAsNonRoot can check them; /data is where `server` keeps its buckets.
RUN groupadd --system --gid 10002 minio \
    && useradd --system --uid 10002 --gid minio --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin minio \
    && mkdir -p /data \
    && chown minio:minio /data
COPY --chmod=0755 minio /usr/local/bin/minio
USER 10002:10002
WORKDIR /data
EXPOSE 9000 9001
VOLUME ["/data"]
ENTRYPOINT ["minio"]
CMD ["server", "/data", "--address", ":9000", "--console-address", ":9001"]
