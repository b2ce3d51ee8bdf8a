# whenready as a container image: one static binary in an image FROM scratch.
#
#   docker build -t whenready .
#   docker run --rm --network mynet whenready --once db:5432
#
# In your own images, copy the binary in (it needs no libc, no shell, no CA bundle):
#   COPY --from=whenready /whenready /usr/local/bin/whenready
#
# The build stage's base is an argument: rust:1-bookworm unless you pass another Rust
# image on Debian bookworm (CI, which reaches no image registry, passes one it
# assembles itself: see .ci/docker):
#   docker build --build-arg RUST_IMAGE=my-registry/rust:1-bookworm -t whenready .
ARG RUST_IMAGE=rust:1-bookworm

FROM ${RUST_IMAGE} AS build
# ring compiles C code; for the musl target it needs musl-gcc.
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
RUN rustup target add x86_64-unknown-linux-musl
WORKDIR /src

# Dependencies first, built against placeholder sources, so that a change under src/
# does not rebuild them. Cargo.toml names two binaries (whenready and the
# whenready-docs generator): both paths must exist, or cargo refuses the manifest.
COPY Cargo.toml Cargo.lock ./
# Build flags for the static binary (relocation model; see the file).
COPY .cargo/ .cargo/
RUN mkdir -p src/bin \
 && echo 'fn main() {}' > src/main.rs \
 && echo 'fn main() {}' > src/bin/whenready-docs.rs \
 && cargo build --release --locked --target x86_64-unknown-linux-musl --bin whenready \
 && rm -rf src

# The real sources. COPY keeps their modification times, which may be older than the
# placeholder's build: touch main.rs so that cargo rebuilds the binary itself (the
# library, src/lib.rs, did not exist before and is built anyway). Only the binary the
# image ships is built; whenready-docs is a development tool.
COPY src/ src/
RUN touch src/main.rs \
 && cargo build --release --locked --target x86_64-unknown-linux-musl --bin whenready

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
