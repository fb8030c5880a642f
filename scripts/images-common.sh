# Shared by build-images.sh and build-valkey.sh (sourced): the build label, the redis user's ids,
# and the pieces both builds make the same way.
CACHE="${REDISFORGE_CACHE:-$HOME/.cache/redisforge}"
TRIXIE="$CACHE/trixie-root"
act() { echo "setup: $*"; }
# Bump when what goes into the images changes: an image with another build label is rebuilt.
BUILD=redis-user-1
have_image() { [ "$(docker image inspect --format '{{ index .Config.Labels "redisforge.build" }}' "$1" 2>/dev/null)" = "$BUILD" ]; }
REDIS_UID=100
REDIS_GID=101
# The directories the redis user owns, under a staging root.
redis_dirs() {
  mkdir -p "$1/data" "$1/etc/redisforge"
  chown "$REDIS_UID:$REDIS_GID" "$1/data" "$1/etc/redisforge"
  chmod 0700 "$1/data" "$1/etc/redisforge"
}
# trixie_wrapper BINARY WRAPPER: a script at WRAPPER that runs the trixie root's /usr/bin/BINARY
# through that root's own loader and libraries (for the process runtime); kept when present.
trixie_wrapper() {
  [ -x "$2" ] && return 0
  mkdir -p "$(dirname "$2")"
  cat >"$2" <<WRAP
#!/bin/sh
# $1 from the trixie root, through that root's own loader and libraries.
exec "$TRIXIE/lib64/ld-linux-x86-64.so.2" --library-path "$TRIXIE/lib/x86_64-linux-gnu:$TRIXIE/usr/lib/x86_64-linux-gnu" "$TRIXIE/usr/bin/$1" "\$@"
WRAP
  chmod +x "$2"
}
