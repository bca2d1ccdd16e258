# The coldchain and coldchain-sim binaries in a small image. Build: docker build -t coldchain .
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p coldchain -p coldchain-sim

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/coldchain /usr/local/bin/coldchain
COPY --from=build /src/target/release/coldchain-sim /usr/local/bin/coldchain-sim
ENV COLDCHAIN_HTTP_ADDR=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["coldchain"]
CMD ["serve"]
