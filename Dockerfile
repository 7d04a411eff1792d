# sio-node: build with the Rust toolchain, run on a small Debian image as a non-root user.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p sio-node \
    && cp target/release/sio-node /sio-node \
    && strip /sio-node

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --no-create-home sio
COPY --from=build /sio-node /usr/local/bin/sio-node
# The chat page at `/` uses the client built into the binary: no bundle to ship.
ENV SIO_BIND=0.0.0.0:3000 \
    RUST_LOG=info
USER sio
EXPOSE 3000
# Ready means: serving and the adapter answers (used by compose and the load balancer).
HEALTHCHECK --interval=5s --timeout=2s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/3000 && printf 'GET /readyz HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ' 200 ' <&3"]
ENTRYPOINT ["/usr/local/bin/sio-node"]
