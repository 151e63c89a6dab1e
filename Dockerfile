# Dockerfile - builds build/extmetrics on Debian 12 and ships it on bookworm-slim as a non-root user.
#   docker build -t extmetrics:latest --build-arg VERSION=$(git describe --always --dirty) \
#     --build-arg REVISION=$(git rev-parse HEAD) --build-arg SOURCE=https://REPOSITORY-URL .
# Without Docker, `make image` builds a smaller image of the same binary with the same settings
# (USER, EXPOSE, ENTRYPOINT, CMD, WORKDIR, LABEL below are read from this file's final stage).

FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential pkg-config \
      libmicrohttpd-dev libgnutls28-dev libssl-dev libcurl4-openssl-dev libjansson-dev libyaml-dev libpq-dev \
      libhiredis-dev libmariadb-dev librabbitmq-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY adapter/ adapter/
COPY apiservice/ apiservice/
COPY scalers/ scalers/
ARG VERSION=dev
RUN make -j"$(nproc)" all VERSION="$VERSION" \
 && strip --strip-unneeded build/extmetrics \
 && build/extmetrics version

FROM debian:bookworm-slim
ARG VERSION=dev
ARG REVISION=
ARG SOURCE=
LABEL org.opencontainers.image.title="extmetrics" \
      org.opencontainers.image.description="Kubernetes external metrics API server with KEDA-compatible scalers" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.revision="$REVISION" \
      org.opencontainers.image.source="$SOURCE"
# Only the shared libraries build/extmetrics links against (test/integration/test_manifests.py
# checks this list against the binary's NEEDED entries), CA roots for AWS/HTTPS backends, and
# time zones for cron schedules.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libmicrohttpd12 libgnutls30 libssl3 libcurl4 libjansson4 libyaml-0-2 libpq5 libhiredis0.14 libmariadb3 librabbitmq4 \
      ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 65532 extmetrics \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin extmetrics
COPY --from=build /src/build/extmetrics /usr/local/bin/extmetrics
# Numeric, so runAsNonRoot can verify it without reading /etc/passwd.
USER 65532:65532
WORKDIR /
# 6443: HTTPS external metrics API; 9022: /metrics, /healthz, /livez, /readyz.
EXPOSE 6443 9022
ENTRYPOINT ["/usr/local/bin/extmetrics"]
CMD ["serve", "--config", "/etc/extmetrics/config/config.yaml"]
