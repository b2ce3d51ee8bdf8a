# whenready as a container image: one static binary in an image FROM scratch.
#
#   docker build -t whenready .
#   docker run --rm --network host whenready --once db:5432
#
# In your own images, copy the binary in (it needs no libc, no shell, no CA bundle):
#   COPY --from=whenready /whenready /usr/local/bin/whenready
#
# This file compiles whenready from source, for the architecture the build stage runs
# on (x86_64 or aarch64). Every stage is needed for the final image, so it builds the
# same with BuildKit and with the legacy builder (Debian 12's docker.io 20.10, and
# Dockers without the buildx plugin, which build every stage of a file). The release
# images are assembled from the prebuilt release binaries by Dockerfile.release.
#
# The build stage's base is an argument: rust:1-bookworm unless you pass another Rust
# image on Debian bookworm (CI, which reaches no image registry, passes one it
# assembles itself: see .ci/docker):
#   docker build --build-arg RUST_IMAGE=my-registry/rust:1-bookworm -t whenready .
ARG RUST_IMAGE=rust:1-bookworm

FROM ${RUST_IMAGE} AS build
# ring compiles C code: for x86_64 musl with musl-gcc; for aarch64 with gcc under its
# target-prefixed name, as .cargo/config.toml says (Debian's native gcc on arm64, its
# cross gcc on x86_64).
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
# The target for the machine this stage runs on.
RUN case "$(uname -m)" in \
      x86_64) echo x86_64-unknown-linux-musl ;; \
      aarch64) echo aarch64-unknown-linux-musl ;; \
      *) echo "whenready: no static target for $(uname -m)" >&2; exit 1 ;; \
    esac >/target \
 && rustup target add "$(cat /target)"
WORKDIR /src

# Dependencies first, built against placeholder sources, so that a change under src/
# does not rebuild them. Cargo.toml names two binaries (whenready and the
# whenready-docs generator): both paths must exist, or cargo refuses the manifest.
COPY Cargo.toml Cargo.lock build.rs ./
# Build settings for the static binaries (aarch64's C compiler; see the file).
COPY .cargo/ .cargo/
RUN mkdir -p src/bin \
 && echo 'fn main() {}' > src/main.rs \
 && echo 'fn main() {}' > src/bin/whenready-docs.rs \
 && cargo build --release --locked --target "$(cat /target)" --bin whenready \
 && rm -rf src

# The real sources. COPY keeps their modification times, which may be older than the
# placeholder's build: touch main.rs so that cargo rebuilds the binary itself (the
# library, src/lib.rs, did not exist before and is built anyway). Only the binary the
# image ships is built; whenready-docs is a development tool.
COPY src/ src/
RUN touch src/main.rs \
 && cargo build --release --locked --target "$(cat /target)" --bin whenready

# The binary under its own name and under the drop-in names it answers to (it looks at
# argv[0]). Hard links, so that the final layer holds a single copy.
RUN mkdir /out \
 && cp "target/$(cat /target)/release/whenready" /out/whenready \
 && for name in wait-for-it.sh wait-for-it wait-for wait; do ln /out/whenready "/out/$name"; done \
 && /out/whenready --version

FROM scratch
LABEL org.opencontainers.image.title="whenready" \
      org.opencontainers.image.description="Wait until TCP, PostgreSQL, MySQL/MariaDB, Redis, HTTP(S), AMQP, NATS, MQTT, memcached, DNS, gRPC health and Kubernetes dependencies are ready, then exec a command" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0"
# /whenready, /wait-for-it.sh, /wait-for-it, /wait-for and /wait: one file, five names.
COPY --from=build /out/ /
# No root needed to probe; a numeric user works without /etc/passwd and satisfies
# Kubernetes runAsNonRoot.
USER 65534:65534
ENTRYPOINT ["/whenready"]
