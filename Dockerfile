# purchases: build with Debian's packages, run as an unprivileged user on
# bookworm-slim with only the runtime libraries.
#   docker build --build-arg PURCHASES_COMMIT=$(git rev-parse --short=12 HEAD) -t purchases .
# (.dockerignore leaves .git out, so the commit comes in as an argument;
# without it --version and purchases_build_info say "unknown".)
#   docker run -p 8080:8080 -e MONGODB_URI=mongodb://mongo:27017/purchases purchases

FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake make gcc pkg-config git ca-certificates \
      libulfius-dev liborcania-dev libyder-dev libjansson-dev libmicrohttpd-dev \
      libmongoc-dev libbson-dev libgnutls28-dev librhonabwy-dev libhiredis-dev zlib1g-dev libnats-dev \
      nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The /docs page's script is compiled into the binary.
RUN cd tools/docs && npm ci --no-audit --no-fund --loglevel=error
ARG PURCHASES_COMMIT=
# An ARG is in the environment of every RUN below: version.cmake reads it.
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPURCHASES_TESTS=OFF \
      -DCMAKE_INSTALL_PREFIX=/usr/local \
 && cmake --build /build -j"$(nproc)" \
 && DESTDIR=/install cmake --install /build

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libulfius2.7 liborcania2.3 libyder2.0 libjansson4 libmicrohttpd12 \
      libmongoc-1.0-0 libbson-1.0-0 libgnutls30 librhonabwy1.1 libhiredis0.14 zlib1g libnats3.4 \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin purchases
COPY --from=build /install/usr/local/ /usr/local/
USER 10001:10001
# A container is reached through its network interface: listen on all of them.
ENV PURCHASES_PORT=8080 PURCHASES_BIND_ADDRESS=0.0.0.0 PURCHASES_LOG_FORMAT=json
EXPOSE 8080
# The binary checks itself: no curl in the image.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/purchases", "--healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/purchases"]
