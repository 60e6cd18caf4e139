# The Cachet frontend image, for users with a registry:
#   docker buildx build -t <registry>/cachet/frontend:<version> --push .
# Then point a spec's first line at it: `# syntax=<registry>/cachet/frontend:<version>`.
# (The test environment builds the same image offline with scripts/frontend-image.)

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# Static binaries, so the final image needs nothing but them: the frontend, and the helper
# every cargo step mounts from this image's /helper/ (see llb-gen/src/compile/freshness.rs).
RUN triple="$(uname -m)-unknown-linux-gnu" \
 && RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked -p cachet-frontend -p cachet-helper --target "$triple" \
 && mkdir /helper \
 && cp "target/$triple/release/cachet-frontend" /cachet-frontend \
 && cp "target/$triple/release/cachet-helper" /helper/cachet-helper

FROM scratch
COPY --from=build /cachet-frontend /cachet-frontend
COPY --from=build /helper/ /helper/
# BuildKit reads these before starting a frontend: the frontend needs no
# network, it answers BuildKit subrequests (`--call`), and it reads
# `docker-image://` named contexts (`--build-context`).
LABEL moby.buildkit.frontend.network.none="true" \
      moby.buildkit.frontend.caps="moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts"
ENTRYPOINT ["/cachet-frontend"]
