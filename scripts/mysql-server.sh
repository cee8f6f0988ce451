#!/usr/bin/env bash
# mysql-server.sh - install a real MySQL 9.7 LTS server (Debian sid's
# mysql-server-core, the successor LTS of the estate's MySQL 8.4) for the tests,
# the benches and the sandbox, without touching the system's apt, dpkg or libc.
#
#   scripts/mysql-server.sh            fetch + unpack once (cached; idempotent)
#   scripts/mysql-server.sh --force    fetch again
#   scripts/mysql-server.sh root       print the unpacked root (exit 1 if absent)
#
# How: a private apt configuration (its own sources file, lists, cache; the
# system's status file is never read) downloads mysql-server-core,
# mysql-client-core and the closure of their dependencies (including sid's own
# libc6/libstdc++6: the binaries need glibc >= 2.38, Debian 12 has 2.36), and
# `dpkg-deb -x` unpacks each into ROOT. The binaries run through sid's loader
# (ROOT/usr/lib64/ld-linux-x86-64.so.2 --library-path ...), which is what
# crates/rotui-sandbox/src/mysql.rs does; the host's libc is never replaced.
#
# The cache is readable by every user (as root, servers may run as other users
# and /root is closed to them): ${ROTUI_SERVERS_DIR:-/var/tmp/rotui-servers-UID}/mysql/root.
# Works as root (CI, on a clean Debian 12 clone) and as an ordinary user.
# Needs: apt-get, apt-cache, dpkg-deb, debian-archive-keyring, network access
# to ${ROTUI_DEBIAN_MIRROR:-http://deb.debian.org/debian}.
set -euo pipefail

BASE=${ROTUI_SERVERS_DIR:-/var/tmp/rotui-servers-$(id -u)}
HOME_DIR=$BASE/mysql
ROOT=$HOME_DIR/root
APTDIR=$HOME_DIR/apt
MIRROR=${ROTUI_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=sid
TOP_PKGS="mysql-server-core mysql-client-core"
# Not needed by mysqld or the client: perl (helper scripts), debconf & co.
EXCLUDE_RE='^(perl|perl-base|perl-modules-.*|libperl.*|debconf|debconf-2.0|systemd|tzdata|locales|ssl-cert|adduser|passwd|init-system-helpers|mysql-common)$'

log() { echo "mysql-server: $*" >&2; }
die() { log "$*"; exit 1; }

case "${1:-}" in
    root)
        [ -x "$ROOT/usr/sbin/mysqld" ] || exit 1
        echo "$ROOT"; exit 0 ;;
    ""|--force) ;;
    *) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac

umask 022
mkdir -p "$BASE"
chmod 755 "$BASE"
# One fetch at a time (the tests may call this from several processes at once).
if command -v flock >/dev/null; then
    exec 9>"$BASE/mysql.lock"
    flock 9
fi
if [ -x "$ROOT/usr/sbin/mysqld" ] && [ -f "$ROOT/.manifest" ] && [ "${1:-}" != --force ]; then
    log "MySQL $(grep -E '^mysql-server-core ' "$ROOT/.manifest" | cut -d' ' -f2) already in $ROOT"
    exit 0
fi

for t in apt-get apt-cache dpkg-deb; do
    command -v "$t" >/dev/null || die "$t is missing (this script needs Debian's apt and dpkg)"
done
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] \
    || die "/usr/share/keyrings/debian-archive-keyring.gpg is missing: apt-get install debian-archive-keyring"

mkdir -p "$BASE" "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$HOME_DIR/debs"
chmod 755 "$BASE" "$HOME_DIR"
cat > "$APTDIR/sources.list" <<EOF
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $SUITE main
EOF
A=(-o "Dir::Etc::sourcelist=$APTDIR/sources.list" -o Dir::Etc::sourceparts=/dev/null
   -o Dir::Etc::preferencesparts=/dev/null -o Dir::Etc::preferences=/dev/null
   -o "Dir::State::Lists=$APTDIR/lists" -o "Dir::Cache=$APTDIR/cache"
   -o Dir::State::status=/dev/null -o Debug::NoLocking=1
   -o "APT::Sandbox::User=$(id -un)" -o Acquire::Retries=3)

t0=$(date +%s)
log "downloading $TOP_PKGS from Debian $SUITE ($MIRROR) into $HOME_DIR"
apt-get "${A[@]}" -q update >&2 || die "apt-get update of the private $SUITE configuration failed"
# Depends + Pre-Depends closure; virtual packages (<...>) dropped.
deps=$(apt-cache "${A[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts \
           --no-breaks --no-replaces --no-enhances $TOP_PKGS) \
    || die "apt-cache depends failed"
pkgs=$(printf '%s\n' "$deps" | grep -v '^ ' | grep -v '^<' | sed 's/:any$//' | sort -u \
       | { grep -Ev "$EXCLUDE_RE" || true; })
[ -n "$pkgs" ] || die "no packages resolved for $TOP_PKGS"
rm -f "$HOME_DIR"/debs/*.deb
# shellcheck disable=SC2086
(cd "$HOME_DIR/debs" && apt-get "${A[@]}" -q download $pkgs >&2) || die "apt-get download failed"

rm -rf "$ROOT.tmp" && mkdir -p "$ROOT.tmp"
: > "$ROOT.tmp/.manifest"
for d in "$HOME_DIR"/debs/*.deb; do
    dpkg-deb -x "$d" "$ROOT.tmp"
    echo "$(dpkg-deb -f "$d" Package) $(dpkg-deb -f "$d" Version)" >> "$ROOT.tmp/.manifest"
done
rm -rf "$ROOT" && mv "$ROOT.tmp" "$ROOT"
chmod -R a+rX "$ROOT"
rm -f "$HOME_DIR"/debs/*.deb

loader=$ROOT/usr/lib64/ld-linux-x86-64.so.2
[ -e "$loader" ] || die "sid's loader is missing from $ROOT (unexpected package layout)"
version=$(env -u LD_LIBRARY_PATH -u LD_PRELOAD "$loader" \
    --library-path "$ROOT/usr/lib/x86_64-linux-gnu:$ROOT/lib/x86_64-linux-gnu" \
    "$ROOT/usr/sbin/mysqld" --version) || die "the unpacked mysqld does not run"
log "ready in $(( $(date +%s) - t0 )) s: $version"
