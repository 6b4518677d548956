# One image for every member of the consortium: cunzheng-node and the cunzheng tool, linked
# against Debian bookworm's RocksDB 7.8 as the native build is (docs/decisions.md).
#
#   docker build -t cunzheng .
#   docker compose up -d          # the four members of node-config/ (docker-compose.yml)

FROM rust:1-bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      clang libclang-dev librocksdb-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# .cargo/config.toml sends builds to /var/tmp/cunzheng-target.
RUN cargo build --release --locked --bin cunzheng-node --bin cunzheng \
 && install -m 0755 /var/tmp/cunzheng-target/release/cunzheng-node \
      /var/tmp/cunzheng-target/release/cunzheng /usr/local/bin/

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      librocksdb7.8 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/cunzheng-node /usr/local/bin/cunzheng /usr/local/bin/
COPY node-config /etc/cunzheng
RUN chmod 600 /etc/cunzheng/keys/*
VOLUME /data
ENTRYPOINT ["cunzheng-node"]
CMD ["--dev", "--data", "/data", "--http", "0.0.0.0:8080"]
