#!/usr/bin/env bash
# Builds the Redis node images offline (no registry can be reached here), once per Docker engine:
#   redisforge/redis:7.0.15  Debian's redis-server and the libraries it links, plus a static busybox as /bin/sh
#   redisforge/redis:8.0.2   a debootstrap'd trixie root file system with its redis-server (cached)
# and a redis-server 8.0.2 wrapper for the process runtime, which runs trixie's binary through
# that root's own loader.
# Both images run redis-server as the `redis` user, uid 100 gid 101 in both (trixie's ids; the
# docker runtime writes a node's files with them, src/runtime/archive.ts), so a replace from one
# version to the other keeps the volumes readable. /data and /etc/redisforge belong to it (a new
# volume starts with the image's ownership; CONFIG REWRITE writes next to redis.conf).
set -euo pipefail
# shellcheck source=scripts/images-common.sh
. "$(dirname "$0")/images-common.sh"

if [ ! -x "$TRIXIE/usr/bin/redis-server" ]; then
  command -v debootstrap >/dev/null || { act "installing debootstrap"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  act "debootstrap trixie with redis-server 8.0 into $TRIXIE (about a minute, cached)"
  rm -rf "$TRIXIE.tmp"
  debootstrap --variant=minbase --include=redis-server trixie "$TRIXIE.tmp" http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1 \
    || { echo "setup: debootstrap failed, see $CACHE/debootstrap.log" >&2; exit 1; }
  mv "$TRIXIE.tmp" "$TRIXIE"
fi

trixie_wrapper redis-server "$CACHE/redis-8.0.2/redis-server"

if ! have_image redisforge/redis:7.0.15; then
  act "building redisforge/redis:7.0.15 from Debian's redis-server"
  root=$(mktemp -d)
  mkdir -p "$root"/{usr/bin,bin,etc,tmp,data,lib64,lib/x86_64-linux-gnu}
  cp -L /usr/bin/redis-server "$root/usr/bin/redis-server"
  cp -L /usr/bin/redis-cli "$root/usr/bin/redis-cli"
  for lib in $( (ldd /usr/bin/redis-server; ldd /usr/bin/redis-cli) | awk '/=>/ {print $3} /ld-linux/ {print $1}' | sort -u); do
    cp -L "$lib" "$root$lib"
  done
  cp /bin/busybox "$root/bin/busybox"
  for applet in sh cat ls rm mkdir; do ln -s busybox "$root/bin/$applet"; done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo "redis:x:$REDIS_UID:$REDIS_GID::/data:/bin/false" >>"$root/etc/passwd"
  printf 'root:x:0:\nredis:x:%s:\n' "$REDIS_GID" >"$root/etc/group"
  redis_dirs "$root"
  chmod 1777 "$root/tmp"
  tar -C "$root" -c . | docker import \
    --change 'ENTRYPOINT ["/usr/bin/redis-server"]' --change 'WORKDIR /data' --change 'USER redis' \
    --change 'LABEL org.opencontainers.image.version=7.0.15' --change "LABEL redisforge.build=$BUILD" \
    - redisforge/redis:7.0.15 >/dev/null
  rm -rf "$root"
fi

if ! have_image redisforge/redis:8.0.2; then
  act "building redisforge/redis:8.0.2 from the trixie root"
  [ "$(awk -F: '$1 == "redis" { print $3 ":" $4 }' "$TRIXIE/etc/passwd")" = "$REDIS_UID:$REDIS_GID" ] \
    || { echo "setup: trixie's redis user is not $REDIS_UID:$REDIS_GID; update REDIS_UID/REDIS_GID here and in src/runtime/archive.ts" >&2; exit 1; }
  extra=$(mktemp -d)
  redis_dirs "$extra"
  tar -c -C "$TRIXIE" . -C "$extra" ./data ./etc/redisforge | docker import \
    --change 'ENTRYPOINT ["/usr/bin/redis-server"]' --change 'WORKDIR /data' --change 'USER redis' \
    --change 'LABEL org.opencontainers.image.version=8.0.2' --change "LABEL redisforge.build=$BUILD" \
    - redisforge/redis:8.0.2 >/dev/null
  rm -rf "$extra"
fi

bash "$(dirname "$0")/build-valkey.sh"
