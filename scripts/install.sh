#!/usr/bin/env bash
# Installs edgegate as a systemd service on Debian / Raspberry Pi OS (arm64,
# armhf, amd64), or upgrades an existing installation in place.
#
#   sudo scripts/install.sh [--no-start] FILE.tar.gz   from a release artifact
#        (edgegate-<version>-linux-<arch>.tar.gz, `npm run release`): prebuilt, no
#        compiler, no npm, no network; also run as the unpacked artifact's own
#        scripts/install.sh without FILE
#   sudo scripts/install.sh [--no-start]               from this checkout: npm ci
#        (compiles better-sqlite3: build tools and minutes on a Pi) and a build
#
# Layout:
#   /opt/edgegate                      the application (replaced on upgrade)
#   /etc/edgegate/default.json         reference copy of the defaults (replaced on upgrade)
#   /etc/edgegate/local.json           YOUR configuration (created once, never overwritten)
#   /var/lib/edgegate                  state: database, generated JWT secret (kept)
#   /etc/systemd/system/edgegate.service
#   /usr/local/bin/edgegate            the CLI, pointed at /etc/edgegate and /var/lib/edgegate
#
# Environment:
#   DESTDIR=/some/dir    stage the whole layout under that root without touching
#                        the system: no user, no chown, no systemctl (used by tests/CI).
#   EDGEGATE_SKIP_NPM=1  checkout only, offline: no `npm ci`/`npm prune`; reuse this
#                        checkout's node_modules (run `npm ci` there first) and build
#                        with it. For tests; a real installation should not set it.
#   NODE=/path/to/node   the Node.js binary to use (default: the one on PATH).

# `sh install.sh` (dash) would not understand the bash used below.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

# The oldest Node.js edgegate runs on (src/cli/nodeVersion.ts: 20.12 brought crypto.hash).
NODE_MIN_MAJOR=20
NODE_MIN_MINOR=12
# shellcheck source=layout.sh
source "$(dirname "${BASH_SOURCE[0]}")/layout.sh"

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DESTDIR=${DESTDIR:-}
DESTDIR=${DESTDIR%/}
START=1
ARTIFACT_FILE=""

say() { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

usage() {
  # The comment block at the top of this file.
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

for arg in "$@"; do
  case "$arg" in
    --no-start) START=0 ;;
    -h | --help) usage; exit 0 ;;
    -*) die "unknown option: $arg (see --help)" ;;
    *.tar.gz | *.tgz)
      [ -z "$ARTIFACT_FILE" ] || die "one artifact at a time"
      [ -f "$arg" ] || die "no such file: $arg"
      ARTIFACT_FILE=$(cd "$(dirname "$arg")" && pwd)/$(basename "$arg") ;;
    *) die "unknown argument: $arg (an artifact is a .tar.gz; see --help)" ;;
  esac
done

# Where the application comes from: a release tarball, an unpacked one (this script
# inside it: release.json, no src/), or this checkout.
if [ -n "$ARTIFACT_FILE" ]; then
  MODE=artifact
elif [ -f "$SRC_DIR/release.json" ] && [ ! -d "$SRC_DIR/src" ]; then
  MODE=artifact
else
  MODE=checkout
fi

staging() { [ -n "$DESTDIR" ]; }

# ---- preflight ---------------------------------------------------------------

if ! staging && [ "$(id -u)" -ne 0 ]; then
  die "run as root: sudo $0 $*   (or DESTDIR=/some/dir $0 to stage without installing)"
fi

if [ "$MODE" = checkout ]; then
  [ -f "$SRC_DIR/package.json" ] && [ -f "$SRC_DIR/systemd/edgegate.service" ] ||
    die "run this script from an edgegate checkout (scripts/install.sh), or give it a release FILE.tar.gz; $SRC_DIR is neither"
fi

if [ ! -f /etc/debian_version ]; then
  warn "this installer is written for Debian and Raspberry Pi OS; continuing anyway"
fi

ARCH=$(dpkg --print-architecture 2>/dev/null || uname -m)
case "$ARCH" in
  arm64 | aarch64 | armhf | armv7l | amd64 | x86_64) ;;
  armel | armv6l)
    warn "$ARCH (ARMv6: Pi Zero/Zero W/1) has no official Node.js $NODE_MIN_MAJOR builds; a Pi Zero 2 W runs arm64 or armhf" ;;
  *) warn "untested architecture $ARCH" ;;
esac

node_help() {
  cat >&2 <<EOF

edgegate needs Node.js >= $NODE_MIN_MAJOR.$NODE_MIN_MINOR. On Raspberry Pi OS / Debian:

  # Debian 13 (trixie) and newer ship Node.js 20.19+ (check: apt-cache policy nodejs):
  sudo apt-get install -y nodejs npm

  # Debian 12 (bookworm) / Raspberry Pi OS bookworm ship Node.js 18: use NodeSource,
  sudo apt-get install -y ca-certificates curl gnupg
  curl -fsSL https://deb.nodesource.com/setup_20.x | sudo -E bash -
  sudo apt-get install -y nodejs

Then run this installer again. See docs/install.md.
EOF
}

NODE=${NODE:-$(command -v node || true)}
if [ -z "$NODE" ] || ! [ -x "$NODE" ]; then
  printf 'error: Node.js was not found on PATH.\n' >&2
  node_help
  exit 1
fi
NODE_VERSION=$("$NODE" -p 'process.versions.node' 2>/dev/null || echo 0)
NODE_MAJOR=${NODE_VERSION%%.*}
NODE_MINOR=${NODE_VERSION#*.}
NODE_MINOR=${NODE_MINOR%%.*}
case "$NODE_MAJOR" in '' | *[!0-9]*) NODE_MAJOR=0 ;; esac
case "$NODE_MINOR" in '' | *[!0-9]*) NODE_MINOR=0 ;; esac
if [ "$NODE_MAJOR" -lt "$NODE_MIN_MAJOR" ] || { [ "$NODE_MAJOR" -eq "$NODE_MIN_MAJOR" ] && [ "$NODE_MINOR" -lt "$NODE_MIN_MINOR" ]; }; then
  printf 'error: Node.js %s found at %s is too old.\n' "$NODE_VERSION" "$NODE" >&2
  node_help
  exit 1
fi
say "Node.js $NODE_VERSION ($NODE), architecture $ARCH"

SKIP_NPM=${EDGEGATE_SKIP_NPM:-0}
if [ "$MODE" = artifact ]; then
  : # prebuilt: neither npm nor build tools are used
elif ! NPM=$(command -v npm); then
  printf 'error: npm was not found (Debian: sudo apt-get install -y npm; NodeSource nodejs includes it).\n' >&2
  printf '       Or install a release artifact, which needs no npm: sudo %s edgegate-<version>-linux-<arch>.tar.gz (docs/install.md)\n' "$0" >&2
  exit 1
elif [ "$SKIP_NPM" = 1 ]; then
  [ -d "$SRC_DIR/node_modules/typescript" ] ||
    die "EDGEGATE_SKIP_NPM=1 needs the development node_modules in $SRC_DIR (run npm ci there first)"
else
  # better-sqlite3 compiles from source when no prebuilt binary can be downloaded.
  for tool in make g++ python3; do
    command -v "$tool" >/dev/null 2>&1 ||
      warn "$tool not found: if npm has to compile better-sqlite3, install build tools: sudo apt-get install -y build-essential python3"
  done
fi

# ---- application: build next to the old one, then swap -------------------------
# The running service keeps its files until the restart at the end, and a failed
# build leaves the installed version untouched.

APP=$DESTDIR$APP_DIR
NEW=$APP.new
OLD=$APP.old
rm -rf "$NEW" "$OLD"
mkdir -p "$NEW"

# A release artifact: unpacked (or copied) as it is, then checked against this
# machine's Node.js: its addons are built for one architecture and one Node.js major.
artifact_check() {
  local info
  info=$("$NODE" -e '
    const r = require(process.argv[1]);
    console.log([r.version, r.commit, r.arch, r.nodeArch, r.nodeModuleVersion, r.nodeMajor].join(" "));
  ' "$NEW/release.json" 2>/dev/null) || { rm -rf "$NEW"; die "not an edgegate release artifact (no readable release.json)"; }
  read -r A_VERSION A_COMMIT A_ARCH A_NODE_ARCH A_ABI A_MAJOR <<<"$info"
  local node_arch node_abi
  node_arch=$("$NODE" -p process.arch)
  node_abi=$("$NODE" -p process.versions.modules)
  if [ "$A_NODE_ARCH" != "$node_arch" ]; then
    rm -rf "$NEW"
    die "this artifact is for linux-$A_ARCH, but $NODE is $node_arch: use edgegate-$A_VERSION-linux-$(case "$node_arch" in x64) echo x64 ;; arm64) echo arm64 ;; arm) echo armv7 ;; *) echo "$node_arch" ;; esac).tar.gz"
  fi
  if [ "$A_ABI" != "$node_abi" ]; then
    rm -rf "$NEW"
    die "this artifact's native addon is built for Node.js $A_MAJOR (NODE_MODULE_VERSION $A_ABI); $NODE is $NODE_VERSION ($node_abi). Install Node.js $A_MAJOR (>= $NODE_MIN_MAJOR.$NODE_MIN_MINOR), or install from a checkout, which compiles it"
  fi
  "$NODE" -e 'require(process.argv[1])' "$NEW/node_modules/better-sqlite3/build/Release/better_sqlite3.node" ||
    { rm -rf "$NEW"; die "the artifact's better-sqlite3 addon does not load with $NODE (see above)"; }
}

if [ "$MODE" = artifact ]; then
  if [ -n "$ARTIFACT_FILE" ]; then
    say "unpacking $(basename "$ARTIFACT_FILE") to $NEW"
    tar -xzf "$ARTIFACT_FILE" -C "$NEW" --strip-components=1 --no-same-owner ||
      { rm -rf "$NEW"; die "cannot unpack $ARTIFACT_FILE"; }
  else
    say "copying the application (release artifact $SRC_DIR) to $NEW"
    cp -R "$SRC_DIR/." "$NEW/"
  fi
  artifact_check
  say "release $A_VERSION (commit $A_COMMIT) for linux-$A_ARCH: prebuilt, no npm"
else
  say "copying the application to $NEW"
  # patches/: patch-package applies them to node_modules in `npm ci` (postinstall).
  for item in package.json package-lock.json tsconfig.json README.md LICENSE src config scripts systemd docs patches; do
    if [ -e "$SRC_DIR/$item" ]; then cp -R "$SRC_DIR/$item" "$NEW/"; fi
  done
fi

if [ "$MODE" = artifact ]; then
  :
elif [ "$SKIP_NPM" = 1 ]; then
  say "EDGEGATE_SKIP_NPM=1: reusing $SRC_DIR/node_modules, building"
  # Hard links when on the same file system (quick, and nothing writes into them).
  cp -al "$SRC_DIR/node_modules" "$NEW/" 2>/dev/null || { rm -rf "$NEW/node_modules"; cp -R "$SRC_DIR/node_modules" "$NEW/"; }
  (cd "$NEW" && "$NPM" run build --silent) || { rm -rf "$NEW"; die "the build failed; the installed version, if any, is unchanged"; }
else
  say "installing dependencies and building (npm ci; compiling better-sqlite3 can take minutes on a Pi)"
  # `npm ci` runs the `prepare` script (tsc), which needs the devDependencies;
  # they are pruned once the build is done.
  (cd "$NEW" && "$NPM" ci --no-audit --no-fund --loglevel=error) || {
    rm -rf "$NEW"
    die "npm ci failed (network? build tools? see above). The installed version, if any, is unchanged."
  }
  [ -f "$NEW/dist/cli/main.js" ] || (cd "$NEW" && "$NPM" run build --silent)
  (cd "$NEW" && "$NPM" prune --omit=dev --no-audit --no-fund --loglevel=error)
  rm -rf "$NEW/.npm" 2>/dev/null || true
fi
[ -f "$NEW/dist/cli/main.js" ] || die "build produced no dist/cli/main.js"
"$NODE" "$NEW/dist/cli/main.js" --version >/dev/null || die "the built application does not start: $NODE $NEW/dist/cli/main.js --version"

chmod -R u=rwX,go=rX "$NEW"
if [ -d "$APP" ]; then
  say "upgrading $APP_DIR in place"
  mv "$APP" "$OLD"
fi
mv "$NEW" "$APP"
rm -rf "$OLD"
# From here on, the configuration defaults and the unit come from the installed artifact.
[ "$MODE" = checkout ] || SRC_DIR=$APP

# ---- user ------------------------------------------------------------------------

if ! staging; then
  getent group dialout >/dev/null || groupadd --system dialout
  if ! getent passwd "$SERVICE_USER" >/dev/null; then
    say "creating system user $SERVICE_USER (group dialout for serial ports)"
    useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home \
      --shell /usr/sbin/nologin --comment "edgegate MQTT gateway" "$SERVICE_USER"
  fi
  usermod -a -G dialout "$SERVICE_USER"
fi

# ---- configuration: defaults refreshed, local.json never overwritten ---------------

CONF=$DESTDIR$CONF_DIR
mkdir -p "$CONF"
install -m 0640 "$SRC_DIR/config/default.json" "$CONF/default.json"
if [ -e "$CONF/local.json" ]; then
  say "keeping $CONF_DIR/local.json"
else
  say "creating $CONF_DIR/local.json (your settings go here)"
  umask 027
  cat >"$CONF/local.json" <<'EOF'
{
  "listeners": {
    "tcp": { "enabled": true, "host": "0.0.0.0", "port": 1883 }
  },
  "http": { "enabled": true, "host": "127.0.0.1", "port": 9100 },
  "serial": { "ports": [] }
}
EOF
  umask 022
  chmod 0640 "$CONF/local.json"
fi
chmod 0750 "$CONF"

DATA=$DESTDIR$DATA_DIR
mkdir -p "$DATA"
chmod 0700 "$DATA"

if ! staging; then
  chown root:"$SERVICE_USER" "$CONF" "$CONF/default.json" "$CONF/local.json"
  chmod g+r "$CONF/local.json" # the service reads it through its group
  chown -R "$SERVICE_USER:$SERVICE_USER" "$DATA"
fi

# ---- systemd unit and CLI ---------------------------------------------------------

UNIT=$DESTDIR$UNIT_FILE
mkdir -p "$(dirname "$UNIT")"
if [ "$NODE" = /usr/bin/node ]; then
  install -m 0644 "$SRC_DIR/systemd/edgegate.service" "$UNIT"
else
  # Node.js from elsewhere (/usr/local/bin/node from a tarball, ...).
  sed "s#^ExecStart=/usr/bin/node #ExecStart=$NODE #" "$SRC_DIR/systemd/edgegate.service" >"$UNIT"
  chmod 0644 "$UNIT"
fi

# Ports below 1024 need CAP_NET_BIND_SERVICE, which the unit does not grant: the
# configuration is checked now, and a drop-in grants it only when such a port is
# configured (and is removed again when none is).
DROPIN=$UNIT.d/10-low-ports.conf
CONFIG_JSON=$(NODE_CONFIG_DIR="$CONF" EDGEGATE_DATA_DIR="$DATA" "$NODE" "$APP/dist/cli/main.js" config check 2>/dev/null) || CONFIG_JSON=
if [ -z "$CONFIG_JSON" ]; then
  warn "the configuration in $CONF_DIR is invalid; the service will not start until it is fixed: sudo -u $SERVICE_USER edgegate config check"
fi
LOW_PORTS=$(printf '%s' "$CONFIG_JSON" | "$NODE" -e '
  let s = "";
  process.stdin.on("data", (d) => (s += d)).on("end", () => {
    try {
      const c = JSON.parse(s), low = [];
      for (const [name, l] of Object.entries(c.listeners)) if (l.enabled && l.port > 0 && l.port < 1024) low.push(`${name}:${l.port}`);
      if (c.http.enabled && c.http.port > 0 && c.http.port < 1024) low.push(`http:${c.http.port}`);
      console.log(low.join(" "));
    } catch {}
  });')
if [ -n "$LOW_PORTS" ]; then
  say "ports below 1024 configured ($LOW_PORTS): granting CAP_NET_BIND_SERVICE in ${DROPIN#"$DESTDIR"}"
  mkdir -p "$(dirname "$DROPIN")"
  printf '%s\n' "# Written by scripts/install.sh: the configuration listens on $LOW_PORTS." \
    '[Service]' 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE' 'AmbientCapabilities=CAP_NET_BIND_SERVICE' >"$DROPIN"
  chmod 0644 "$DROPIN"
elif [ -e "$DROPIN" ]; then
  say "no port below 1024 configured any more: removing ${DROPIN#"$DESTDIR"}"
  rm -f "$DROPIN"
  rmdir "$(dirname "$DROPIN")" 2>/dev/null || true
fi

CLI=$DESTDIR$CLI_LINK
mkdir -p "$(dirname "$CLI")"
cat >"$CLI" <<EOF
#!/bin/sh
# edgegate CLI with the service's configuration and data (installed by scripts/install.sh).
: "\${NODE_CONFIG_DIR:=$CONF_DIR}"
: "\${EDGEGATE_DATA_DIR:=$DATA_DIR}"
export NODE_CONFIG_DIR EDGEGATE_DATA_DIR
# As root, run as the service user: files the CLI creates in $DATA_DIR (database,
# generated secret) must stay readable by the daemon. EDGEGATE_CLI_AS_ROOT=1 opts out.
if [ "\$(id -u)" = 0 ] && [ -z "\${EDGEGATE_CLI_AS_ROOT:-}" ] && id $SERVICE_USER >/dev/null 2>&1 && command -v runuser >/dev/null 2>&1; then
  exec runuser -u $SERVICE_USER -- "$NODE" "$APP_DIR/dist/cli/main.js" "\$@"
fi
exec "$NODE" "$APP_DIR/dist/cli/main.js" "\$@"
EOF
chmod 0755 "$CLI"

if staging; then
  say "staged under $DESTDIR (no user, no systemctl)"
  exit 0
fi

# ---- enable and (re)start ------------------------------------------------------------

if [ ! -d /run/systemd/system ]; then
  warn "systemd is not running here: installed, but not enabled or started"
  exit 0
fi
systemctl daemon-reload
systemctl enable "$SERVICE" >/dev/null
if [ "$START" = 1 ]; then
  say "starting $SERVICE"
  if ! systemctl restart "$SERVICE"; then
    systemctl --no-pager status "$SERVICE" || true
    die "$SERVICE did not start; see: journalctl -u $SERVICE -e"
  fi
  systemctl --no-pager --lines=0 status "$SERVICE" || true
fi

cat <<EOF

edgegate is installed.
  configuration:  $CONF_DIR/local.json   (then: sudo systemctl restart $SERVICE)
  first token:    sudo -u $SERVICE_USER edgegate token mint --sub sensor-1 --acl-pub 'sensors/#'
  health:         edgegate status;  curl -s localhost:9100/metrics
  logs:           journalctl -u $SERVICE -f
EOF
