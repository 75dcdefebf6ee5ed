# SPDX-License-Identifier: GPL-2.0-or-later
# vpnwalld and the vpnwall CLI in a Debian 12 image.
#
#   docker build -t vpnwall:latest .
#   docker run -d --name vpnwalld --restart always --network host --cap-add NET_ADMIN \
#       -v /var/run/docker.sock:/var/run/docker.sock:ro -v /run/vpnwall:/run/vpnwall \
#       vpnwall:latest
#   docker exec vpnwalld vpnwall status
#
# Settings are environment variables (-e DEFAULT_OUTBOUND=..., see deploy/vpnwalld.default)
# or flags after the image name. See deploy/docker-compose.example.yml.

# --- build --------------------------------------------------------------------------------
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc libc6-dev make cmake pkg-config \
      libcurl4-openssl-dev libcjson-dev libnftnl-dev libmnl-dev libipset-dev \
      libmicrohttpd-dev libc-ares-dev \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the build needs: the image does not change when tests or docs do.
COPY CMakeLists.txt ./
COPY include include
COPY lib lib
COPY cmd cmd
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DVW_TESTS=OFF \
 && cmake --build /build -j"$(nproc)" \
 && strip /build/cmd/vpnwalld/vpnwalld /build/cmd/vpnwall/vpnwall

# --- runtime ------------------------------------------------------------------------------
FROM debian:bookworm-slim
# The shared libraries of the two binaries, nothing else: no ca-certificates (the Docker
# API is a unix socket, DNS is plain), no nft/iptables tools (vpnwalld speaks netlink).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libcurl4 libcjson1 libnftnl11 libmnl0 libipset13 libmicrohttpd12 libc-ares2 \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/cmd/vpnwalld/vpnwalld /build/cmd/vpnwall/vpnwall /usr/local/sbin/
# Runs as root inside the container: it needs CAP_NET_ADMIN (give it with
# --cap-add NET_ADMIN) and the Docker socket (root:docker 0660).
# Nothing is EXPOSEd: metrics listen on 127.0.0.1:50000 of the host (--network host).
# No HEALTHCHECK: the image has no HTTP client to ask /readyz. Monitor it from outside
# (`curl -fs http://127.0.0.1:50000/readyz` on the host, or the vpnwall_ready metric).
ENTRYPOINT ["/usr/local/sbin/vpnwalld"]
