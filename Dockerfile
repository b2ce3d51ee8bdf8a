# whenready as a container image: one static binary in an image FROM scratch.
#
#   docker build -t whenready .
#   docker run --rm --network mynet whenready --once db:5432
#
# In your own images, copy the binary in (it needs no libc, no shell, no CA bundle):
#   COPY --from=whenready /whenready /usr/local/bin/whenready
#
# Two ways to get the binary, chosen by the build argument BINARY:
#   source (default)  compile it here, for the architecture the build stage runs on
#                     (x86_64 or aarch64);
#   prebuilt          take dist/linux-$TARGETARCH/ as .ci/build-static lays it out (the
#                     release workflow: docker buildx --platform linux/amd64,linux/arm64
#                     puts both reproducible release binaries in one multi-arch image,
#                     with nothing compiled or run in an emulated stage):
#   .ci/build-static x86_64-unknown-linux-musl aarch64-unknown-linux-musl
#   docker buildx build --platform linux/amd64,linux/arm64 --build-arg BINARY=prebuilt -t whenready .
# Only the stages the chosen path needs are built, which takes BuildKit (docker's
# default builder since 23.0; `docker buildx build`): the legacy builder would build
# every stage and fail on the prebuilt one's missing dist/.
#
# The build stage's base is an argument: rust:1-bookworm unless you pass another Rust
# image on Debian bookworm (CI, which reaches no image registry, passes one it
# assembles itself: see .ci/docker):
#   docker build --build-arg RUST_IMAGE=my-registry/rust:1-bookworm -t whenready .
ARG RUST_IMAGE=rust:1-bookworm
ARG BINARY=source

FROM ${RUST_IMAGE} AS source
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
# Build flags for the static binary (relocation model, aarch64's C compiler; see the file).
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

# The release binaries, built beforehand: dist/linux-amd64/ or dist/linux-arm64/ holds
# whenready and its drop-in names as hard links (a directory COPY keeps them).
FROM scratch AS prebuilt
ARG TARGETARCH
COPY dist/linux-${TARGETARCH}/ /out/

FROM ${BINARY} AS binary

FROM scratch
LABEL org.opencontainers.image.title="whenready" \
      org.opencontainers.image.description="Wait until TCP, PostgreSQL, MySQL/MariaDB, Redis, HTTP(S), AMQP, NATS and MQTT dependencies are ready, then exec a command" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0"
# /whenready, /wait-for-it.sh, /wait-for-it, /wait-for and /wait: one file, five names.
COPY --from=binary /out/ /
# No root needed to probe; a numeric user works without /etc/passwd and satisfies
# Kubernetes runAsNonRoot.
USER 65534:65534
ENTRYPOINT ["/whenready"]
