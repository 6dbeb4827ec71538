#!/usr/bin/env bash
# Smoke test of the build on a Raspberry Pi OS target, emulated on an x86-64 Debian host:
#   bash scripts/arm-smoke.sh arm64    # 64-bit Raspberry Pi OS (Pi 3/4/5/Zero 2 W)
#   bash scripts/arm-smoke.sh armv7    # 32-bit Raspberry Pi OS, armhf (Pi 2/3/4/Zero 2 W)
#   bash scripts/arm-smoke.sh arm64 --artifact release/edgegate-<version>-linux-arm64.tar.gz
#
# It runs only the ARM `node` under qemu-user, started explicitly (`qemu-aarch64 -L <sysroot>
# node ...`): no binfmt_misc handler is registered and nothing system-wide changes besides
# installing qemu-user and the cross compiler when they are missing. Consequence: an emulated
# process cannot exec another ARM binary, so everything that spawns `node` (npm, node-gyp, the
# CLI tests) runs on the host; x86-64 children (esbuild, mosquitto) run natively.
#
# Checkout mode (default). Steps: build dist/ if stale; fetch the target's Node.js; cross-compile
# better-sqlite3 for it; assemble an ARM runtime tree; then, under emulation: start the compiled
# daemon, MQTT connects with a good and a bad JWT (mosquitto_pub on the host), /healthz, and a set
# of mocha suites.
#
# Artifact mode (--artifact FILE.tar.gz, built by `npm run release`): nothing of the checkout is
# used but this script. The tarball is unpacked and, under emulation and from an empty working
# directory: its native addons load, `edgegate --version`, its daemon starts on its embedded
# defaults (plus NODE_CONFIG), a serial port (a socat PTY pair on the host) feeds a reading that
# arrives over MQTT, tokens minted by its own CLI are accepted and refused, /healthz and the
# status page's assets answer. No mocha suites (the artifact has no tests and no dev dependencies).
#
# Downloads and the cross-built module are cached in .cache/arm/ (git-ignored), keyed by version;
# the last run's logs are kept in .cache/arm/last-<arch>/ (last-<arch>-artifact/ in artifact mode).
# The target's Node.js and the cross-compilation are shared with scripts/release.sh
# (scripts/release/native.sh).
#
# Environment: ARM_SMOKE_CACHE (cache dir), ARM_SMOKE_SUITES (space-separated test files instead
# of the default set), ARM_SMOKE_DEBIAN_MIRROR (Debian mirror for armv7; default: the host's).
set -euo pipefail

ARCH="${1:-arm64}"
case "$ARCH" in
  arm64 | aarch64) ARCH=arm64 ;;
  armv7 | armhf | arm) ARCH=armv7 ;;
  *) echo "usage: $0 [arm64|armv7] [--artifact FILE.tar.gz]" >&2; exit 64 ;;
esac
ARTIFACT=""
shift || true
while [ "$#" -gt 0 ]; do
  case "$1" in
    --artifact) [ "$#" -ge 2 ] || { echo "--artifact needs a file" >&2; exit 64; }; ARTIFACT="$2"; shift 2 ;;
    --artifact=*) ARTIFACT="${1#--artifact=}"; shift ;;
    *) echo "usage: $0 [arm64|armv7] [--artifact FILE.tar.gz]" >&2; exit 64 ;;
  esac
done
if [ -n "$ARTIFACT" ]; then
  [ -f "$ARTIFACT" ] || { echo "no such artifact: $ARTIFACT" >&2; exit 64; }
  ARTIFACT="$(cd "$(dirname "$ARTIFACT")" && pwd)/$(basename "$ARTIFACT")"
fi

REPO="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${ARM_SMOKE_CACHE:-$REPO/.cache/arm}"
# shellcheck source=release/native.sh
source "$REPO/scripts/release/native.sh"
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
TMP="" DAEMON_PID="" SOCAT_PID=""
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
  echo "==== arm-smoke summary: $ARCH${ARTIFACT:+ (artifact $(basename "$ARTIFACT"))} ===="
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
  [ -z "$SOCAT_PID" ] || { kill "$SOCAT_PID" 2>/dev/null || true; wait "$SOCAT_PID" 2>/dev/null || true; }
  if [ -n "$TMP" ]; then
    # Keep the last run's logs (daemon, mocha, node-gyp, apt) for a look after a failure.
    local last="$CACHE/last-$ARCH${ARTIFACT:+-artifact}"
    rm -rf "$last" && mkdir -p "$last"
    cp "$TMP"/*.log "$last/" 2>/dev/null || true
    rm -rf "$TMP"
  fi
  if summary; then exit "$rc"; else exit 1; fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Host tools (scripts/release/native.sh): qemu-user, plus the cross compiler in checkout mode or
# the target's C/C++ runtime in artifact mode.
PHASE="host tools"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ -n "$ARTIFACT" ]; then native_host_tools run || exit 1; else native_host_tools build || exit 1; fi
for tool in mosquitto_pub mosquitto_sub; do
  command -v "$tool" >/dev/null || { log "missing host tool: $tool (Debian package mosquitto-clients)"; exit 1; }
done

# ---------------------------------------------------------------------------------------------
# dist/: build when missing or older than a source (build-info.json is written last).
# Artifact mode uses the artifact's own dist/ instead.
PHASE="build dist"
if [ -z "$ARTIFACT" ]; then
  if [ ! -f "$REPO/dist/build-info.json" ] || [ ! -f "$REPO/dist/cli/main.js" ] \
    || [ -n "$(find "$REPO/src" "$REPO/package.json" "$REPO/tsconfig.json" -newer "$REPO/dist/build-info.json" -print -quit)" ]; then
    log "dist/ missing or stale: npm run build"
    t=$(now_ms)
    (cd "$REPO" && npm run build --silent)
    record "npm run build (host)" PASS "$(awk "BEGIN{printf \"%.1f\", ($(now_ms) - $t)/1000}")" "dist/ was missing or stale"
  fi
fi

mkdir -p "$CACHE"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/arm-smoke-$ARCH.XXXXXX")"

# ---------------------------------------------------------------------------------------------
# Target Node.js.
PHASE="fetch target node"
t=$(now_ms)
native_target_node || exit 1
record "target node" PASS "$(awk "BEGIN{printf \"%.1f\", ($(now_ms) - $t)/1000}")" "$TARGET_NODE_VERSION"

if [ -z "$ARTIFACT" ]; then
  # -------------------------------------------------------------------------------------------
  # better-sqlite3 cross-compiled in a copy of the package (the host's build stays untouched).
  PHASE="cross-compile better-sqlite3"
  t=$(now_ms)
  native_better_sqlite3 || exit 1
  record "cross-build better-sqlite3" PASS "$(awk "BEGIN{printf \"%.1f\", ($(now_ms) - $t)/1000}")" "$BS3_VERSION, $BS3_NOTE"

  # ---------------------------------------------------------------------------------------------
  # Runtime tree: a copy of node_modules whose better-sqlite3 has only the ARM binary (refreshed
  # when the host's install or the binary changes), and fresh copies of dist/, src/, test/, config/.
  PHASE="assemble runtime tree"
  TREE="$CACHE/tree-$ARCH"
  lock="$REPO/node_modules/.package-lock.json"
  [ -f "$lock" ] || lock="$REPO/package-lock.json"
  tree_key="$(cat "$lock" "$BS3_FILE" | sha256sum | cut -c1-16)"
  if [ "$(cat "$TREE/.key" 2>/dev/null || true)" != "$tree_key" ]; then
    log "copying node_modules into $TREE"
    rm -rf "$TREE" && mkdir -p "$TREE"
    cp -a "$REPO/node_modules" "$TREE/node_modules"
    rm -rf "$TREE/node_modules/better-sqlite3/build"
    mkdir -p "$TREE/node_modules/better-sqlite3/build/Release"
    cp "$BS3_FILE" "$TREE/node_modules/better-sqlite3/build/Release/"
    echo "$tree_key" >"$TREE/.key"
  fi
  for item in dist src test config package.json tsconfig.json tsconfig.test.json .mocharc.json; do
    rm -rf "${TREE:?}/$item"
    cp -a "$REPO/$item" "$TREE/$item"
  done
  # tsx (inside emulation) spawns esbuild; the host's x86-64 binary runs natively.
  export ESBUILD_BINARY_PATH="$TREE/node_modules/@esbuild/linux-x64/bin/esbuild"
  [ -x "$ESBUILD_BINARY_PATH" ] || { log "missing $ESBUILD_BINARY_PATH"; exit 1; }
else
  # -------------------------------------------------------------------------------------------
  # The artifact, unpacked as a user would (no node_modules of the checkout anywhere above it).
  PHASE="unpack artifact"
  t=$(now_ms)
  mkdir -p "$TMP/artifact" "$TMP/empty"
  tar -xzf "$ARTIFACT" -C "$TMP/artifact" --strip-components=1 --no-same-owner
  APP="$TMP/artifact"
  art_arch="$(node -p 'require(process.argv[1]).arch' "$APP/release.json" 2>/dev/null || true)"
  if [ "$art_arch" != "$ARCH" ]; then
    log "$ARTIFACT is for '${art_arch:-?}', not $ARCH"
    exit 1
  fi
  record "unpack artifact" PASS "$(awk "BEGIN{printf \"%.1f\", ($(now_ms) - $t)/1000}")" \
    "$(basename "$ARTIFACT"), $(du -sk "$APP" | cut -f1) KiB unpacked"
fi

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
# Artifact mode: the addons exactly as shipped, loaded by path (the artifact has no JavaScript of
# better-sqlite3 or serialport outside its bundle); the daemon below opens SQLite and a serial port.
check_probe_artifact() {
  local out
  out="$(cd "$TMP/empty" && timeout 120 "${EMU[@]}" "$TARGET_NODE" -e '
    const { join } = require("node:path"), { readdirSync } = require("node:fs");
    const app = process.argv[1];
    const sqlite = require(join(app, "node_modules/better-sqlite3/build/Release/better_sqlite3.node"));
    if (typeof sqlite.Database !== "function") throw new Error("better_sqlite3.node: no Database");
    const dir = join(app, "node_modules/@serialport/bindings-cpp/prebuilds", `linux-${process.arch}`);
    const loaded = readdirSync(dir).filter((f) => f.endsWith(".glibc.node"));
    for (const f of loaded) if (typeof require(join(dir, f)).open !== "function") throw new Error(f);
    console.log([process.version, process.arch, loaded.length].join(" "));
  ' "$APP" 2>&1)" || { echo "$out" >&2; return 1; }
  read -r EMU_NODE_VERSION EMU_ARCH nserial <<<"$(tail -n 1 <<<"$out")"
  EMU_SQLITE="loaded from the artifact (cross-built)"
  EMU_SERIAL="$nserial glibc prebuild(s) of the artifact loaded"
  STEP_NOTE="$EMU_NODE_VERSION $EMU_ARCH"
  [ "${nserial:-0}" -ge 1 ] || return 1
  case "$ARCH" in arm64) [ "$EMU_ARCH" = arm64 ] ;; armv7) [ "$EMU_ARCH" = arm ] ;; esac
}
# The artifact's CLI reports its version and the commit it was built from.
check_version() {
  local out want
  want="$(node -p 'const r = require(process.argv[1]); r.version + "+" + r.commit' "$APP/release.json")"
  out="$(cd "$TMP/empty" && timeout 120 "${EMU[@]}" "$TARGET_NODE" "$APP/dist/cli/main.js" --version 2>&1)" || { echo "$out" >&2; return 1; }
  STEP_NOTE="$out"
  [ "$out" = "$want" ] || { echo "edgegate --version: '$out', expected '$want'" >&2; return 1; }
}
if [ -n "$ARTIFACT" ]; then
  run_step "emulated node + modules" check_probe_artifact
  run_step "edgegate --version" check_version
else
  run_step "emulated node + modules" check_probe
fi

# ---------------------------------------------------------------------------------------------
# 1. The compiled daemon under emulation, on free loopback ports.
read -r MQTT_PORT HTTP_PORT <<<"$(node -e '
  const net = require("node:net"); const ports = []; const servers = [];
  for (let i = 0; i < 2; i++) { const s = net.createServer(); servers.push(s);
    s.listen(0, "127.0.0.1", () => { ports.push(s.address().port);
      if (ports.length === 2) { console.log(ports.join(" ")); servers.forEach((x) => x.close()); } }); }')"
SECRET="arm-smoke-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
mkdir -p "$TMP/data"
DAEMON_EXTRA=""
SOCAT_PID=""
if [ -n "$ARTIFACT" ]; then
  # A serial sensor: a PTY pair on the host; the daemon reads one end, the test writes the other.
  command -v socat >/dev/null || { log "missing host tool: socat (Debian package socat)"; exit 1; }
  socat pty,raw,echo=0,link="$TMP/tty-daemon" pty,raw,echo=0,link="$TMP/tty-sensor" 2>"$TMP/socat.log" &
  SOCAT_PID=$!
  for _ in $(seq 1 50); do [ -e "$TMP/tty-sensor" ] && break; sleep 0.1; done
  DAEMON_EXTRA=',"serial":{"ports":[{"name":"smoke","path":"'"$TMP/tty-daemon"'","format":"kv","topic":"smoke/serial/%n"}]}'
fi
daemon_config() { # secret
  printf '{"dataDir":"%s","log":{"level":"info"},"listeners":{"tcp":{"host":"127.0.0.1","port":%s}},"http":{"enabled":true,"host":"127.0.0.1","port":%s},"auth":{"jwt":{"secret":"%s"}}%s}' \
    "$TMP/data" "$MQTT_PORT" "$HTTP_PORT" "$1" "$DAEMON_EXTRA"
}
# Variables that would override the JSON config (config/custom-environment-variables.json).
unset EDGEGATE_DATA_DIR EDGEGATE_PORT EDGEGATE_HOST EDGEGATE_JWT_SECRET EDGEGATE_HTTP_PORT EDGEGATE_HTTP_HOST EDGEGATE_HTTP_ENABLED
if [ -n "$ARTIFACT" ]; then
  # From an empty directory, on the artifact's embedded defaults (no NODE_CONFIG_DIR) + NODE_CONFIG.
  unset NODE_CONFIG_DIR
  (cd "$TMP/empty" && NODE_CONFIG="$(daemon_config "$SECRET")" exec "${EMU[@]}" "$TARGET_NODE" "$APP/dist/cli/main.js" run) >"$TMP/daemon.log" 2>&1 &
else
  export NODE_CONFIG_DIR="$REPO/config"
  (cd "$TREE" && NODE_CONFIG="$(daemon_config "$SECRET")" exec "${EMU[@]}" "$TARGET_NODE" dist/cli/main.js run) >"$TMP/daemon.log" 2>&1 &
fi
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
mint() { # secret [more token mint options]
  local secret="$1"
  shift
  if [ -n "$ARTIFACT" ]; then
    # The artifact's own CLI, under emulation.
    (cd "$TMP/empty" && NODE_CONFIG="$(daemon_config "$secret")" timeout 120 "${EMU[@]}" "$TARGET_NODE" "$APP/dist/cli/main.js" \
      token mint --sub smoke --ttl 10m --acl-pub 'smoke/#' "$@")
  else
    (cd "$REPO" && NODE_CONFIG="$(daemon_config "$secret")" node dist/cli/main.js token mint --sub smoke --ttl 10m --acl-pub 'smoke/#' "$@")
  fi
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
# Artifact mode: a line on the serial port arrives over MQTT (serialport's prebuild at work, and
# a subscriber's token minted by the artifact's CLI).
check_serial() {
  local token i
  token="$(mint "$SECRET" --acl-sub 'smoke/#')" || return 1
  timeout 90 stdbuf -oL mosquitto_sub -d -h 127.0.0.1 -p "$MQTT_PORT" -i smoke-sub -u smoke -P "$token" -t 'smoke/serial/#' -q 1 -C 1 -v \
    >"$TMP/serial-sub.log" 2>&1 &
  local sub=$!
  for i in $(seq 1 100); do grep -q 'received SUBACK' "$TMP/serial-sub.log" 2>/dev/null && break; sleep 0.2; done
  printf 'temp=21.5 hum=40\n' >"$TMP/tty-sensor"
  wait "$sub" || { cat "$TMP/serial-sub.log" >&2; return 1; }
  grep -q '^smoke/serial/smoke .*21\.5' "$TMP/serial-sub.log" || { cat "$TMP/serial-sub.log" >&2; return 1; }
  STEP_NOTE="$(grep '^smoke/serial/smoke' "$TMP/serial-sub.log" | head -c 80)"
}
# Artifact mode: the status page and uPlot, which is read from the artifact's node_modules.
check_page() {
  local code
  for path in / /assets/uPlot.iife.min.js /assets/app.js; do
    code="$(node -e 'fetch(process.argv[1]).then((r) => console.log(r.status), (e) => console.log(e.message))' "http://127.0.0.1:$HTTP_PORT$path")"
    [ "$code" = 200 ] || { echo "GET $path: $code" >&2; STEP_NOTE="GET $path: $code"; return 1; }
  done
  STEP_NOTE="/, /assets/uPlot.iife.min.js, /assets/app.js: 200"
}
CHECKS=("mqtt valid token" "mqtt bad token" "healthz")
[ -z "$ARTIFACT" ] || CHECKS+=("serial line over mqtt" "status page assets")
if [ "$DAEMON_UP" -eq 1 ]; then
  run_step "mqtt valid token" check_mqtt_good
  run_step "mqtt bad token" check_mqtt_bad
  run_step "healthz" check_healthz
  if [ -n "$ARTIFACT" ]; then
    run_step "serial line over mqtt" check_serial
    run_step "status page assets" check_page
  fi
else
  for s in "${CHECKS[@]}"; do record "$s" FAIL 0 "skipped: daemon not up"; done
fi
stop_daemon_step() {
  stop_daemon
  STEP_NOTE="exit $DAEMON_EXIT after SIGTERM"
  [ "$DAEMON_EXIT" = 0 ] || return 1
  ! grep -q '"level":[56]0' "$TMP/daemon.log" || { grep '"level":[56]0' "$TMP/daemon.log" | tail -n 5 >&2; STEP_NOTE="error in log"; return 1; }
}
run_step "daemon stop" stop_daemon_step

if [ -n "$ARTIFACT" ]; then
  PHASE="done"
  exit 0
fi

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
