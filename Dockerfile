# syntax=docker/dockerfile:1
# Leadgraph container image: `docker compose up` (see docker-compose.yml) or
#   docker build -t leadgraph . && docker run -p 8080:8080 -e JWT_SECRET=... leadgraph

# ---------------------------------------------------------------------------------------------
# Build stage
# ---------------------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS builder

# nodejs + npm: the build script fetches the pinned GraphiQL assets from the npm registry.
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# Cache mounts keep the crate registry and target/ between builds (BuildKit); the binary is
# copied out of the cached target/ in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked \
    && install -D -m 0755 target/release/leadgraph /out/leadgraph

# ---------------------------------------------------------------------------------------------
# Runtime stage
# ---------------------------------------------------------------------------------------------
FROM debian:bookworm-slim

# ca-certificates: outbound TLS (SMTP, webhooks, AI providers); curl: the compose healthcheck.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*

# Unprivileged user owning the data directory (SQLite file, mail outbox, uploaded files).
RUN groupadd --system --gid 10001 leadgraph \
    && useradd --system --uid 10001 --gid leadgraph --home-dir /var/lib/leadgraph \
        --shell /usr/sbin/nologin leadgraph \
    && install -d -o leadgraph -g leadgraph -m 0750 /var/lib/leadgraph /var/lib/leadgraph/data

COPY --from=builder /out/leadgraph /usr/local/bin/leadgraph

# Relative paths (DATA_DIR=./data, sqlite://./data/...) resolve under the working directory.
WORKDIR /var/lib/leadgraph
ENV LEADGRAPH_ENV=production \
    LISTEN_ADDR=0.0.0.0:8080 \
    DATA_DIR=/var/lib/leadgraph/data \
    LOG_FORMAT=json

USER leadgraph:leadgraph
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/leadgraph"]
CMD ["serve"]
