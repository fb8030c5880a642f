#!/usr/bin/env bash
# Valkey 8.1 (issue #15 item 4), got like Redis 8.0.2: trixie's valkey-server installed into the
# debootstrap'd trixie root (scripts/build-images.sh makes it), then
#   ~/.cache/redisforge/valkey-8.1/valkey-server  a wrapper for the process runtime (the root's loader)
#   redisforge/valkey:8.1                          an offline image of that root, run as the same
#                                                  `redis` user (uid 100 gid 101) as the Redis images,
#                                                  so a replace from Redis to Valkey keeps the volumes readable
# Idempotent; quick when everything is present. Called by build-images.sh.
set -euo pipefail
CACHE="${REDISFORGE_CACHE:-$HOME/.cache/redisforge}"
act() { echo "setup: $*"; }
TRIXIE="$CACHE/trixie-root"
BUILD="${BUILD:-redis-user-1}"
REDIS_UID=100
REDIS_GID=101
[ -x "$TRIXIE/usr/bin/redis-server" ] || { echo "setup: $TRIXIE is missing; run scripts/build-images.sh" >&2; exit 1; }

if [ ! -x "$TRIXIE/usr/bin/valkey-server" ]; then
  act "installing trixie's valkey-server 8.1 into $TRIXIE (seconds, cached)"
  cp /etc/resolv.conf "$TRIXIE/etc/resolv.conf"
  chroot "$TRIXIE" sh -c 'DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valkey-server' \
    >"$CACHE/valkey-apt.log" 2>&1 || { echo "setup: installing valkey-server failed, see $CACHE/valkey-apt.log" >&2; exit 1; }
fi

WRAPPER="$CACHE/valkey-8.1/valkey-server"
if [ ! -x "$WRAPPER" ]; then
  mkdir -p "$(dirname "$WRAPPER")"
  cat >"$WRAPPER" <<WRAP
#!/bin/sh
# valkey-server 8.1 from the trixie root, through that root's own loader and libraries.
exec "$TRIXIE/lib64/ld-linux-x86-64.so.2" --library-path "$TRIXIE/lib/x86_64-linux-gnu:$TRIXIE/usr/lib/x86_64-linux-gnu" "$TRIXIE/usr/bin/valkey-server" "\$@"
WRAP
  chmod +x "$WRAPPER"
fi

if ! command -v docker >/dev/null || ! docker info >/dev/null 2>&1; then
  act "no Docker engine: skipping redisforge/valkey:8.1"
  exit 0
fi
if [ "$(docker image inspect --format '{{ index .Config.Labels "redisforge.build" }}' redisforge/valkey:8.1 2>/dev/null)" != "$BUILD" ]; then
  act "building redisforge/valkey:8.1 from the trixie root"
  extra=$(mktemp -d)
  mkdir -p "$extra/data" "$extra/etc/redisforge"
  chown "$REDIS_UID:$REDIS_GID" "$extra/data" "$extra/etc/redisforge"
  chmod 0700 "$extra/data" "$extra/etc/redisforge"
  tar -c -C "$TRIXIE" . -C "$extra" ./data ./etc/redisforge | docker import \
    --change 'ENTRYPOINT ["/usr/bin/valkey-server"]' --change 'WORKDIR /data' --change 'USER redis' \
    --change 'LABEL org.opencontainers.image.version=8.1' --change "LABEL redisforge.build=$BUILD" \
    - redisforge/valkey:8.1 >/dev/null
  rm -rf "$extra"
fi
