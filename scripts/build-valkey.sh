#!/usr/bin/env bash
# Valkey 8.1 (issue #15 item 4), got like Redis 8.0.2: trixie's valkey-server installed into the
# debootstrap'd trixie root (scripts/build-images.sh makes it), then
#   ~/.cache/redisforge/valkey-8.1/valkey-server  a wrapper for the process runtime (the root's loader)
#   redisforge/valkey:8.1                          an offline image of that root, run as the same
#                                                  `redis` user (uid 100 gid 101) as the Redis images,
#                                                  so a replace from Redis to Valkey keeps the volumes readable
# Idempotent; quick when everything is present. Called by build-images.sh.
set -euo pipefail
# shellcheck source=scripts/images-common.sh
. "$(dirname "$0")/images-common.sh"
[ -x "$TRIXIE/usr/bin/redis-server" ] || { echo "setup: $TRIXIE is missing; run scripts/build-images.sh" >&2; exit 1; }

if [ ! -x "$TRIXIE/usr/bin/valkey-server" ]; then
  act "installing trixie's valkey-server 8.1 into $TRIXIE (seconds, cached)"
  cp /etc/resolv.conf "$TRIXIE/etc/resolv.conf"
  chroot "$TRIXIE" sh -c 'DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valkey-server' \
    >"$CACHE/valkey-apt.log" 2>&1 || { echo "setup: installing valkey-server failed, see $CACHE/valkey-apt.log" >&2; exit 1; }
fi

trixie_wrapper valkey-server "$CACHE/valkey-8.1/valkey-server"

if ! command -v docker >/dev/null || ! docker info >/dev/null 2>&1; then
  act "no Docker engine: skipping redisforge/valkey:8.1"
  exit 0
fi
if ! have_image redisforge/valkey:8.1; then
  act "building redisforge/valkey:8.1 from the trixie root"
  extra=$(mktemp -d)
  redis_dirs "$extra"
  tar -c -C "$TRIXIE" . -C "$extra" ./data ./etc/redisforge | docker import \
    --change 'ENTRYPOINT ["/usr/bin/valkey-server"]' --change 'WORKDIR /data' --change 'USER redis' \
    --change 'LABEL org.opencontainers.image.version=8.1' --change "LABEL redisforge.build=$BUILD" \
    - redisforge/valkey:8.1 >/dev/null
  rm -rf "$extra"
fi
