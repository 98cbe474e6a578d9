# Multi-stage build: compile in the Rust image, run in a slim Debian with only the binary.
FROM rust:1-bookworm AS build
WORKDIR /src
# Everything the workspace and the binary's compiled-in files need (see Cargo.toml's members and
# [patch], and the include_str! paths under assets/).
COPY Cargo.toml Cargo.lock schema.graphql ./
COPY migration ./migration
COPY bench ./bench
COPY vendor ./vendor
COPY assets ./assets
COPY src ./src
COPY tests ./tests
RUN cargo build --release --locked --bin gatehouse

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/gatehouse --create-home gatehouse
COPY --from=build /src/target/release/gatehouse /usr/local/bin/gatehouse
USER gatehouse
WORKDIR /var/lib/gatehouse
ENV GATEHOUSE_ADDR=0.0.0.0:3000
EXPOSE 3000
ENTRYPOINT ["/usr/local/bin/gatehouse"]
CMD ["serve"]
