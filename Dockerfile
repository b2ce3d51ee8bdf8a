# whenready as a container image: one static binary in an image FROM scratch.
#
#   docker build -t whenready .
#   docker run --rm --network mynet whenready --once db:5432
#
# In your own images, copy the binary in (it needs no libc, no shell, no CA bundle):
#   COPY --from=whenready /whenready /usr/local/bin/whenready

FROM rust:1-bookworm AS build
# ring compiles C code; for the musl target it needs musl-gcc.
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
RUN rustup target add x86_64-unknown-linux-musl
WORKDIR /src

# Dependencies first, built against a placeholder main.rs, so that a change under
# src/ does not rebuild them.
COPY Cargo.toml Cargo.lock ./
# Build flags for the static binary (relocation model; see the file).
COPY .cargo/ .cargo/
RUN mkdir src \
 && echo 'fn main() {}' > src/main.rs \
 && cargo build --release --locked --target x86_64-unknown-linux-musl \
 && rm -rf src

# The real sources. COPY keeps their modification times, which may be older than the
# placeholder's build: touch main.rs so that cargo rebuilds the crate itself.
COPY src/ src/
RUN touch src/main.rs \
 && cargo build --release --locked --target x86_64-unknown-linux-musl

# The binary under its own name and under the drop-in names it answers to (it looks at
# argv[0]). Hard links, so that the final layer holds a single copy.
RUN mkdir /out \
 && cp target/x86_64-unknown-linux-musl/release/whenready /out/whenready \
 && for name in wait-for-it.sh wait-for-it wait-for wait; do ln /out/whenready "/out/$name"; done \
 && /out/whenready --version

FROM scratch
LABEL org.opencontainers.image.title="whenready" \
      org.opencontainers.image.description="Wait until TCP, PostgreSQL, Redis and HTTP(S) dependencies are ready, then exec a command" \
      org.opencontainers.image.source="https://github.com/OWNER/whenready" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0"
# /whenready, /wait-for-it.sh, /wait-for-it, /wait-for and /wait: one file, five names.
COPY --from=build /out/ /
# No root needed to probe; a numeric user works without /etc/passwd and satisfies
# Kubernetes runAsNonRoot.
USER 65534:65534
ENTRYPOINT ["/whenready"]
