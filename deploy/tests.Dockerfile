# Runs the black-box cluster tests (tests/lb_cluster.rs; tests/lb_round_robin.rs for the
# cookie-free balancer) against the compose cluster.
FROM rust:1.95-bookworm
RUN apt-get update -qq \
    && apt-get install -y -qq nodejs npm python3-venv redis-tools docker.io chromium \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cd tests/interop && npm ci --no-audit --no-fund \
    && python3 -m venv .venv && .venv/bin/pip install -q -r requirements.txt
RUN cargo test --no-run --test lb_cluster --test lb_round_robin
ENV SIO_INTEROP_DIR=/src/tests/interop
CMD ["cargo", "test", "--test", "lb_cluster", "--", "--test-threads=1"]
