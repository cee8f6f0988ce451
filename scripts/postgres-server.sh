#!/usr/bin/env bash
# postgres-server.sh - install a real PostgreSQL 17 server (Debian trixie's
# postgresql-17, the estate's newest major) for the tests, the benches and the
# sandbox, without touching the system's apt, dpkg or libc.
#
#   scripts/postgres-server.sh            fetch + unpack + patch once (cached; idempotent)
#   scripts/postgres-server.sh --force    fetch again
#   scripts/postgres-server.sh bindir     print the bin directory (exit 1 if absent)
#
# How: a private apt configuration (its own sources file, lists, cache; the
# system's status file is never read) downloads postgresql-17,
# postgresql-client-17, patchelf and the closure of their dependencies
# (including trixie's own libc6: the binaries need glibc >= 2.38, Debian 12 has
# 2.36), and `dpkg-deb -x` unpacks each into ROOT. Then every ELF program in
# ROOT/usr/lib/postgresql/17/bin is patched (trixie's patchelf, run through
# trixie's loader) to use trixie's loader and libraries: initdb and pg_ctl
# start `postgres` as a child, so running them through the loader is not
# enough. --force-rpath: a RUNPATH would not reach the libraries' own
# dependencies (liblber via libldap). The host's libc is never replaced.
#
# The cache is readable by every user (as root the servers run as the
# `postgres` user, which cannot enter /root):
# ${ROTUI_SERVERS_DIR:-/var/tmp/rotui-servers-UID}/postgres-17/root.
# Works as root (CI, on a clean Debian 12 clone) and as an ordinary user.
# Needs: apt-get, apt-cache, dpkg-deb, debian-archive-keyring, network access
# to ${ROTUI_DEBIAN_MIRROR:-http://deb.debian.org/debian}.
set -euo pipefail

BASE=${ROTUI_SERVERS_DIR:-/var/tmp/rotui-servers-$(id -u)}
HOME_DIR=$BASE/postgres-17
ROOT=$HOME_DIR/root
APTDIR=$HOME_DIR/apt
MIRROR=${ROTUI_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=trixie
MAJOR=17
BIN=$ROOT/usr/lib/postgresql/$MAJOR/bin
TOP_PKGS="postgresql-$MAJOR postgresql-client-$MAJOR patchelf"
# Not needed by the server or its programs: perl (pg_wrapper & co.), debconf,
# the cluster-management scripts, time zone and locale data (the host's are used).
EXCLUDE_RE='^(perl|perl-base|perl-modules-.*|libperl.*|debconf|debconf-2.0|systemd|systemd-.*|tzdata|locales|ssl-cert|adduser|passwd|init-system-helpers|postgresql-common|postgresql-common-dev|postgresql-client-common|sensible-utils|ucf|cron|cron-daemon-common|logrotate|lsb-base|sysvinit-utils)$'

log() { echo "postgres-server: $*" >&2; }
die() { log "$*"; exit 1; }

case "${1:-}" in
    bindir)
        [ -x "$BIN/postgres" ] && [ -f "$ROOT/.patched" ] || exit 1
        echo "$BIN"; exit 0 ;;
    ""|--force) ;;
    *) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac

umask 022
mkdir -p "$BASE"
chmod 755 "$BASE"
# One fetch at a time (the tests may call this from several processes at once).
if command -v flock >/dev/null; then
    exec 9>"$BASE/postgres-$MAJOR.lock"
    flock 9
fi
if [ -x "$BIN/postgres" ] && [ -f "$ROOT/.patched" ] && [ "${1:-}" != --force ]; then
    log "PostgreSQL $(grep -E "^postgresql-$MAJOR " "$ROOT/.manifest" | cut -d' ' -f2) already in $ROOT"
    exit 0
fi

for t in apt-get apt-cache dpkg-deb; do
    command -v "$t" >/dev/null || die "$t is missing (this script needs Debian's apt and dpkg)"
done
[ -r /usr/share/keyrings/debian-archive-keyring.gpg ] \
    || die "/usr/share/keyrings/debian-archive-keyring.gpg is missing: apt-get install debian-archive-keyring"

mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$HOME_DIR/debs"
cat > "$APTDIR/$SUITE.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
A=(-o "Dir::Etc::sourcelist=$APTDIR/$SUITE.sources" -o Dir::Etc::sourceparts=/dev/null
   -o Dir::Etc::preferencesparts=/dev/null -o Dir::Etc::preferences=/dev/null
   -o "Dir::State::Lists=$APTDIR/lists" -o "Dir::Cache=$APTDIR/cache"
   -o Dir::State::status=/dev/null -o Debug::NoLocking=1 -o "APT::Sandbox::User=$(id -un)")

t0=$(date +%s)
apt-get "${A[@]}" -q update >&2 || die "apt-get update from $MIRROR ($SUITE) failed: no network, or the mirror is unreachable"
# The dependency closure (Depends + Pre-Depends); virtual packages dropped.
deps=$(apt-cache "${A[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts \
           --no-breaks --no-replaces --no-enhances $TOP_PKGS) \
    || die "apt-cache depends failed"
pkgs=$(printf '%s\n' "$deps" | grep -v '^ ' | grep -v '^<' | sed 's/:any$//' | sort -u | grep -Ev "$EXCLUDE_RE" || true)
[ -n "$pkgs" ] || die "no packages resolved for $TOP_PKGS"
log "downloading $(echo $pkgs | wc -w) packages from $SUITE"
rm -f "$HOME_DIR"/debs/*.deb
# shellcheck disable=SC2086
(cd "$HOME_DIR/debs" && apt-get "${A[@]}" -q download $pkgs >&2) || die "apt-get download failed"
t1=$(date +%s)

rm -rf "$ROOT.tmp" && mkdir -p "$ROOT.tmp"
: > "$ROOT.tmp/.manifest"
for d in "$HOME_DIR"/debs/*.deb; do
    dpkg-deb -x "$d" "$ROOT.tmp"
    dpkg-deb -f "$d" Package Version | paste -sd' ' | sed 's/^Package: //; s/ Version: / /' >> "$ROOT.tmp/.manifest"
done

# Patch the programs to trixie's loader and libraries, using trixie's patchelf
# through that same loader.
R=$ROOT.tmp
loader=""
for l in "$R/usr/lib64/ld-linux-x86-64.so.2" "$R/lib64/ld-linux-x86-64.so.2" \
         "$R/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"; do
    if [ -e "$l" ]; then loader=$l; break; fi
done
[ -n "$loader" ] || die "no dynamic loader in the unpacked packages"
libs="$R/usr/lib/x86_64-linux-gnu:$R/lib/x86_64-linux-gnu"
final_loader=${loader/#$R/$ROOT}
final_libs="$ROOT/usr/lib/x86_64-linux-gnu:$ROOT/lib/x86_64-linux-gnu"
patchelf() { "$loader" --library-path "$libs" "$R/usr/bin/patchelf" "$@"; }
n=0
for f in "$R/usr/lib/postgresql/$MAJOR/bin"/*; do
    [ -f "$f" ] && [ ! -L "$f" ] || continue
    # Only ELF programs (some are scripts); read the magic without a pipe.
    magic=$(head -c 4 "$f" | od -An -c | tr -d ' \n')
    [ "$magic" = '177ELF' ] || continue
    patchelf --set-interpreter "$final_loader" --force-rpath --set-rpath "$final_libs" "$f"
    n=$((n + 1))
done
[ "$n" -gt 5 ] || die "patched only $n programs in $R/usr/lib/postgresql/$MAJOR/bin"
rm -rf "$ROOT" && mv "$ROOT.tmp" "$ROOT"
chmod -R a+rX "$HOME_DIR"
version=$("$BIN/postgres" --version) || die "the patched postgres does not run"
touch "$ROOT/.patched"
log "$version: $(du -sh "$HOME_DIR/debs" | cut -f1) downloaded in $((t1 - t0))s, $n programs patched, in $ROOT"
