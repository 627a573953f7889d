# syntax=docker/dockerfile:1
# Build: the release binary, with the registry and target dir cached.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p payouts \
    && cp target/release/payouts /payouts \
    && mkdir /data

# Run: glibc and nothing else (TLS roots are compiled in), as a non-root user.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /payouts /usr/local/bin/payouts
# The SQLite default lives here; mount a volume to keep it.
COPY --from=build --chown=65532:65532 /data /data
WORKDIR /data
USER 65532:65532
ENV PAYOUTS_BIND=0.0.0.0:8080 \
    DATABASE_URL=sqlite:///data/payouts.db?mode=rwc
EXPOSE 8080
# SIGTERM drains in-flight requests and the current job, then exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["payouts"]
CMD ["serve"]
