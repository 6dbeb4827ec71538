#!/usr/bin/env bash
# CI (as root, on a throwaway Debian machine without systemd as PID 1): installs the release
# artifacts into this machine for real, runs them, removes them, and checks nothing is left.
#
#   bash scripts/release/ci-install.sh deb     release/edgegate_<version>_amd64.deb
#   bash scripts/release/ci-install.sh tarball release/edgegate-<version>-linux-x64.tar.gz
#
# deb:     dpkg -i; control fields, conffile, user, permissions, enabled unit, hardening kept;
#          `edgegate --version` (version and commit), `edgegate config check`; the daemon started
#          as the edgegate user with the unit's environment (setpriv: no systemd here), a token
#          from `edgegate token mint`, an MQTT pub/sub round trip and a refused bad token; then
#          dpkg -r (configuration and data stay), dpkg --purge (nothing stays: the package's
#          files, the user and group, /var/lib/edgegate, /etc/edgegate, the enablement links).
# tarball: scripts/install.sh FILE.tar.gz with npm, node-gyp and compilers replaced by stubs that
#          fail (and without network when `unshare -n` works), the same run checks, then
#          scripts/uninstall.sh --purge and the same "nothing stays" check.
# Each step prints its duration. It refuses to run where edgegate is already installed.
set -euo pipefail

KIND="${1:-}" FILE="${2:-}"
case "$KIND" in deb | tarball) ;; *) echo "usage: $0 deb|tarball FILE" >&2; exit 64 ;; esac
[ -f "$FILE" ] || { echo "no such file: $FILE" >&2; exit 64; }
FILE="$(cd "$(dirname "$FILE")" && pwd)/$(basename "$FILE")"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
[ "$(id -u)" -eq 0 ] || { echo "$0: run as root (it installs into this machine)" >&2; exit 1; }

T0=$(date +%s%N)
STEP="" STEP_T=0
step() { # name
  [ -z "$STEP" ] || printf '[ci-install %s] ok   %5.1fs  %s\n' "$KIND" "$(awk "BEGIN{print ($(date +%s%N) - $STEP_T) / 1e9}")" "$STEP"
  STEP="$1" STEP_T=$(date +%s%N)
}
fail() { printf '[ci-install %s] FAIL %s: %s\n' "$KIND" "$STEP" "$*" >&2; exit 1; }

TMP="$(mktemp -d /tmp/edgegate-ci-install.XXXXXX)"
DAEMON_PID="" SUB_PID=""
cleanup() {
  local rc=$?
  [ -z "$SUB_PID" ] || kill "$SUB_PID" 2>/dev/null || true
  if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -KILL "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ]; then
    echo "---- daemon log (last 40 lines) ----" >&2
    tail -n 40 "$TMP/daemon.log" 2>/dev/null >&2 || true
    # Leave the machine as clean as we can for whatever runs next.
    if [ "$KIND" = deb ]; then dpkg --purge edgegate >/dev/null 2>&1 || true; fi
    if [ "$KIND" = tarball ] && [ -x /opt/edgegate/scripts/uninstall.sh ]; then bash /opt/edgegate/scripts/uninstall.sh --purge >/dev/null 2>&1 || true; fi
  fi
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT

# Everything a package or an installer may touch, to compare before and after. Left out: dpkg's
# and apt's own databases and logs, caches, and this run's temporary files.
snapshot() {
  find /etc /usr /opt /var/lib /lib /srv -xdev \
    \( -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/lib/ucf -o -path /usr/share/info/dir \
    -o -path /etc/ld.so.cache \) -prune -o -print 2>/dev/null | LC_ALL=C sort
  getent passwd | cut -d: -f1 | sed 's/^/user: /'
  getent group | cut -d: -f1,4 | sed 's/^/group: /'
}

free_ports() {
  node -e '
    const net = require("node:net"); const ports = []; const servers = [];
    for (let i = 0; i < 2; i++) { const s = net.createServer(); servers.push(s);
      s.listen(0, "127.0.0.1", () => { ports.push(s.address().port);
        if (ports.length === 2) { console.log(ports.join(" ")); servers.forEach((x) => x.close()); } }); }'
}

http_status() { # url
  node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(5000) }).then((r) => console.log(r.status), () => console.log(0))' "$1"
}

# The installed unit's ExecStart, Environment=, WorkingDirectory= and UMask=, run as its User=
# with setpriv (which execs, so that $DAEMON_PID is the daemon itself; --init-groups applies the
# user's supplementary groups, dialout, as SupplementaryGroups= does).
start_daemon() { # unit-file mqtt-port http-port
  local unit="$1" exec_start workdir umask_ user envs=()
  exec_start="$(sed -n 's/^ExecStart=//p' "$unit")"
  workdir="$(sed -n 's/^WorkingDirectory=//p' "$unit")"
  umask_="$(sed -n 's/^UMask=//p' "$unit")"
  user="$(sed -n 's/^User=//p' "$unit")"
  while IFS= read -r e; do envs+=("$e"); done < <(sed -n 's/^Environment=//p' "$unit")
  [ -n "$exec_start" ] && [ -n "$workdir" ] && [ -n "$user" ] || fail "cannot read ExecStart/WorkingDirectory/User from $unit"
  # shellcheck disable=SC2086 # ExecStart is a command line
  setpriv --reuid="$user" --regid="$user" --init-groups -- env -i PATH=/usr/bin:/bin "${envs[@]}" \
    EDGEGATE_HOST=127.0.0.1 EDGEGATE_PORT="$2" EDGEGATE_HTTP_PORT="$3" \
    sh -c 'cd "$1" && umask "$2" && shift 2 && exec "$@"' sh "$workdir" "${umask_:-0077}" $exec_start \
    >"$TMP/daemon.log" 2>&1 &
  DAEMON_PID=$!
  local deadline=$((SECONDS + 60))
  until [ "$(http_status "http://127.0.0.1:$3/healthz")" = 200 ]; do
    kill -0 "$DAEMON_PID" 2>/dev/null || fail "the daemon exited"
    [ "$SECONDS" -lt "$deadline" ] || fail "/healthz not 200 after 60 s"
    sleep 0.3
  done
}

stop_daemon() {
  kill -TERM "$DAEMON_PID"
  local rc=0
  wait "$DAEMON_PID" || rc=$?
  [ -z "$(user_procs edgegate)" ] || fail "processes of edgegate still run: $(user_procs edgegate)"
  DAEMON_PID=""
  [ "$rc" -eq 0 ] || fail "the daemon exited $rc after SIGTERM"
  ! grep -q '"level":[56]0' "$TMP/daemon.log" || { grep '"level":[56]0' "$TMP/daemon.log" | tail -n 5 >&2; fail "errors in the daemon log"; }
}

# `edgegate token mint` through the installed CLI (as root it runs as the edgegate user), then
# a subscriber and a publisher with that token, and a token signed with another secret refused.
mqtt_round_trip() { # cli mqtt-port
  local cli="$1" port="$2" token bad out rc=0
  token="$("$cli" token mint --sub ci-sensor --ttl 10m --acl-all 'ci/#')" || fail "token mint"
  [[ "$token" == *.*.* ]] || fail "token mint printed '$token'"
  timeout 30 stdbuf -oL mosquitto_sub -d -h 127.0.0.1 -p "$port" -i ci-sub -u ci-sensor -P "$token" -t 'ci/#' -q 1 -C 1 -v >"$TMP/sub.log" 2>&1 &
  SUB_PID=$!
  for _ in $(seq 1 100); do grep -q 'received SUBACK' "$TMP/sub.log" && break; sleep 0.1; done
  grep -q 'received SUBACK' "$TMP/sub.log" || fail "no SUBACK: $(cat "$TMP/sub.log")"
  timeout 30 mosquitto_pub -h 127.0.0.1 -p "$port" -i ci-pub -u ci-sensor -P "$token" -t ci/temp -m 21.5 -q 1 || fail "mosquitto_pub"
  wait "$SUB_PID" || fail "mosquitto_sub: $(cat "$TMP/sub.log")"
  SUB_PID=""
  grep -qx 'ci/temp 21.5' "$TMP/sub.log" || fail "the message did not arrive: $(cat "$TMP/sub.log")"
  bad="$(EDGEGATE_JWT_SECRET="not-the-secret-$RANDOM$RANDOM" "$cli" token mint --sub ci-sensor --ttl 10m --acl-all 'ci/#')" || fail "token mint (other secret)"
  out="$(timeout 30 mosquitto_pub -h 127.0.0.1 -p "$port" -i ci-bad -u ci-sensor -P "$bad" -t ci/temp -m x -q 1 2>&1)" || rc=$?
  [ "$rc" -ne 0 ] && grep -q 'Connection Refused: bad user name or password' <<<"$out" || fail "a foreign token was not refused: rc=$rc $out"
}

check_version() { # cli app-dir
  local out want
  want="$(node -p 'const r = require(process.argv[1]); r.version + "+" + r.commit' "$2/release.json")"
  out="$("$1" --version)" || fail "$1 --version"
  [ "$out" = "$want" ] || fail "--version says '$out', release.json '$want'"
  if git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
    [[ "$out" == *"+$(git -C "$REPO" rev-parse --short=12 HEAD)"* ]] || fail "--version '$out' is not this commit"
  fi
  echo "  edgegate --version: $out"
}

check_config() { # cli
  local out
  out="$("$1" config check)" || fail "config check"
  node -e 'const c = JSON.parse(process.argv[1]); if (c.listeners.tcp.port !== 1883 || c.http.port !== 9100) process.exit(1)' "$out" ||
    fail "config check: not the shipped local.json: $out"
}

mode_owner() { stat -c '%a %U:%G' "$1"; }
user_procs() { local d; for d in /proc/[0-9]*; do [ "$(stat -c %U "$d" 2>/dev/null)" != "$1" ] || echo "${d#/proc/}"; done; }

# ---------------------------------------------------------------------------------------------
step "preconditions"
for tool in dpkg mosquitto_pub mosquitto_sub node setpriv stdbuf; do command -v "$tool" >/dev/null || fail "missing $tool"; done
! dpkg -s edgegate >/dev/null 2>&1 || fail "the edgegate package is already installed here"
! getent passwd edgegate >/dev/null || fail "a user edgegate exists already"
[ ! -e /opt/edgegate ] && [ ! -e /etc/edgegate ] && [ ! -e /var/lib/edgegate ] || fail "an edgegate installation exists already"
snapshot >"$TMP/before"
read -r MQTT_PORT HTTP_PORT <<<"$(free_ports)"

if [ "$KIND" = deb ]; then
  # ---- the .deb ----------------------------------------------------------------------------
  step "package fields"
  dpkg-deb -f "$FILE" Package Version Architecture Depends | sed 's/^/  /'
  [ "$(dpkg-deb -f "$FILE" Architecture)" = "$(dpkg --print-architecture)" ] || fail "not for $(dpkg --print-architecture)"
  [[ "$(dpkg-deb -f "$FILE" Depends)" == "nodejs (>= 20.12)"* ]] || fail "Depends: $(dpkg-deb -f "$FILE" Depends)"

  # The package's paths, and which of them exist before (/usr, /lib/systemd/system, ...).
  dpkg-deb --fsys-tarfile "$FILE" | tar -t | sed -e 's#^\./#/#' -e 's#/$##' | grep -v '^\.\?$' >"$TMP/files"
  while IFS= read -r f; do [ ! -e "$f" ] || echo "$f"; done <"$TMP/files" >"$TMP/files-before"

  step "dpkg -i"
  # The dependency on nodejs (>= 20.12) is honest: Node.js must come from a Debian package that
  # says so. This machine's node is NodeSource's nodejs package (20.x), which satisfies it. Only
  # where dpkg knows no such package (an older Debian nodejs, or a node installed by other means)
  # but /usr/bin/node, which the unit and wrapper run, is new enough, does CI force it, and says
  # so: the package itself is not changed for that.
  echo "  node $(node --version) at $(command -v node); dpkg: nodejs $(dpkg-query -W -f='${Version} (${Maintainer})' nodejs 2>/dev/null || echo 'not installed')"
  if dpkg --compare-versions "$(dpkg-query -W -f='${Version}' nodejs 2>/dev/null || echo 0)" ge 20.12 &&
    dpkg --compare-versions "$(dpkg-query -W -f='${Version}' nodejs 2>/dev/null || echo 0)" lt "$(dpkg-deb -f "$FILE" Depends | sed -n 's/.*nodejs (<< \([0-9.]*\)).*/\1/p')"; then
    DPKG_I=(dpkg -i)
  elif [ -x /usr/bin/node ] && /usr/bin/node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a === 20 && b >= 12 ? 0 : 1)'; then
    echo "  CI ONLY: dpkg does not know a suitable nodejs, /usr/bin/node $(/usr/bin/node --version) is: dpkg -i --force-depends"
    DPKG_I=(dpkg -i --force-depends)
  else
    fail "no Node.js 20 (>= 20.12) here: neither a nodejs package nor /usr/bin/node"
  fi
  "${DPKG_I[@]}" "$FILE"
  dpkg-query -W -f='${Status}\n' edgegate | grep -qx 'install ok installed' || fail "not installed: $(dpkg-query -W -f='${Status}' edgegate)"

  step "installed layout"
  APP=/usr/lib/edgegate CLI=/usr/bin/edgegate UNIT=/lib/systemd/system/edgegate.service
  [ "$(command -v edgegate)" = "$CLI" ] || fail "edgegate on PATH is $(command -v edgegate), not $CLI"
  dpkg-query -W -f='${Conffiles}\n' edgegate | grep -q '^ /etc/edgegate/local.json ' || fail "local.json is not a conffile"
  id -nG edgegate | tr ' ' '\n' | grep -qx dialout || fail "edgegate is not in dialout"
  [ "$(getent passwd edgegate | cut -d: -f6,7)" = "/var/lib/edgegate:/usr/sbin/nologin" ] || fail "edgegate user: $(getent passwd edgegate)"
  [ "$(mode_owner /var/lib/edgegate)" = "700 edgegate:edgegate" ] || fail "/var/lib/edgegate: $(mode_owner /var/lib/edgegate)"
  [ "$(mode_owner /etc/edgegate)" = "750 root:edgegate" ] || fail "/etc/edgegate: $(mode_owner /etc/edgegate)"
  [ "$(mode_owner /etc/edgegate/local.json)" = "640 root:edgegate" ] || fail "local.json: $(mode_owner /etc/edgegate/local.json)"
  [ "$(readlink /etc/systemd/system/multi-user.target.wants/edgegate.service)" = "$UNIT" ] || fail "the unit is not enabled"
  # The unit keeps every directive of systemd/edgegate.service but the paths.
  diff <(grep -Ev '^(#|$|ExecStart=|Documentation=)' "$REPO/systemd/edgegate.service") <(grep -Ev '^(#|$|ExecStart=|Documentation=)' "$UNIT") ||
    fail "the installed unit differs from systemd/edgegate.service"
  grep -qx 'ExecStart=/usr/bin/node --max-semi-space-size=2 --max-old-space-size=128 /usr/lib/edgegate/dist/cli/main.js run' "$UNIT" || fail "ExecStart"
  if command -v systemd-analyze >/dev/null; then
    out="$(systemd-analyze verify "$UNIT" 2>&1)" || fail "systemd-analyze verify: $out"
    [ -z "$out" ] || fail "systemd-analyze verify: $out"
  fi
  [ ! -e "$APP/node_modules/typescript" ] && [ ! -e "$APP/src" ] || fail "dev files in $APP"
else
  # ---- the tarball, through scripts/install.sh -------------------------------------------------
  step "scripts/install.sh FILE.tar.gz (no npm, no compiler, no network)"
  stubs="$TMP/stubs"
  mkdir -p "$stubs"
  for tool in npm npx node-gyp gcc g++ cc c++ make python3 curl wget; do
    printf '#!/bin/sh\necho "%s $*" >>%s\nexit 1\n' "$tool" "$TMP/stub-calls" >"$stubs/$tool"
    chmod +x "$stubs/$tool"
  done
  no_net=()
  if unshare -n true 2>/dev/null; then no_net=(unshare -n); echo "  without network (unshare -n)"; fi
  "${no_net[@]}" env PATH="$stubs:$PATH" bash "$REPO/scripts/install.sh" "$FILE" --no-start >"$TMP/install.log" 2>&1 ||
    { cat "$TMP/install.log" >&2; fail "install.sh failed"; }
  sed 's/^/  /' "$TMP/install.log"
  [ ! -s "$TMP/stub-calls" ] || fail "the installer ran: $(cat "$TMP/stub-calls")"
  APP=/opt/edgegate CLI=/usr/local/bin/edgegate UNIT=/etc/systemd/system/edgegate.service
  [ -x "$CLI" ] && [ -f "$UNIT" ] && [ -f "$APP/release.json" ] || fail "incomplete installation"
  [ "$(mode_owner /var/lib/edgegate)" = "700 edgegate:edgegate" ] || fail "/var/lib/edgegate: $(mode_owner /var/lib/edgegate)"
  [ ! -e "$APP/node_modules/typescript" ] && [ ! -e "$APP/src" ] || fail "dev files in $APP"
fi

# ---- run what was installed --------------------------------------------------------------------
step "edgegate --version"
check_version "$CLI" "$APP"
step "edgegate config check"
check_config "$CLI"
step "daemon as edgegate (unit's environment), mqtt 127.0.0.1:$MQTT_PORT"
start_daemon "$UNIT" "$MQTT_PORT" "$HTTP_PORT"
step "token mint + pub/sub round trip + foreign token refused"
mqtt_round_trip "$CLI" "$MQTT_PORT"
step "daemon stop"
stop_daemon
[ -z "$(find /var/lib/edgegate ! -user edgegate -print -quit)" ] || fail "files in /var/lib/edgegate not owned by edgegate"
[ -n "$(ls -A /var/lib/edgegate)" ] || fail "the daemon wrote nothing to /var/lib/edgegate"

# ---- remove ------------------------------------------------------------------------------------
if [ "$KIND" = deb ]; then
  step "dpkg -i again (an upgrade keeps an edited local.json and the data)"
  node -e 'const f = process.argv[1], c = JSON.parse(require("node:fs").readFileSync(f, "utf8"));
    c.log = { level: "debug" }; require("node:fs").writeFileSync(f, JSON.stringify(c, null, 2) + "\n");' /etc/edgegate/local.json
  ls -A /var/lib/edgegate >"$TMP/data-before"
  "${DPKG_I[@]}" "$FILE" >"$TMP/reinstall.log" 2>&1 || { cat "$TMP/reinstall.log" >&2; fail "dpkg -i over the installed package"; }
  grep -q '"debug"' /etc/edgegate/local.json || fail "the edited local.json was replaced"
  [ "$(mode_owner /etc/edgegate/local.json)" = "640 root:edgegate" ] || fail "local.json: $(mode_owner /etc/edgegate/local.json)"
  ls -A /var/lib/edgegate | diff "$TMP/data-before" - >/dev/null || fail "/var/lib/edgegate changed"
  check_config "$CLI"

  step "dpkg -r (keeps configuration and data)"
  dpkg -r edgegate
  dpkg-query -W -f='${Status}\n' edgegate | grep -qx 'deinstall ok config-files' || fail "status after remove: $(dpkg-query -W -f='${Status}' edgegate)"
  [ ! -e "$APP" ] && [ ! -e "$CLI" ] && [ ! -e "$UNIT" ] || fail "application files left after remove"
  [ -f /etc/edgegate/local.json ] && [ -n "$(ls -A /var/lib/edgegate)" ] && getent passwd edgegate >/dev/null ||
    fail "remove must keep /etc/edgegate/local.json, /var/lib/edgegate and the user"
  step "dpkg --purge"
  dpkg --purge edgegate
  ! dpkg -s edgegate >/dev/null 2>&1 || fail "dpkg still knows edgegate"
  # Every path of the package that did not exist before is gone.
  while IFS= read -r f; do
    grep -qxF -- "$f" "$TMP/files-before" && continue
    [ ! -e "$f" ] && [ ! -L "$f" ] || fail "left behind: $f"
  done <"$TMP/files"
else
  step "scripts/uninstall.sh --purge"
  bash "$APP/scripts/uninstall.sh" --purge >"$TMP/uninstall.log" 2>&1 || { cat "$TMP/uninstall.log" >&2; fail "uninstall.sh --purge"; }
  sed 's/^/  /' "$TMP/uninstall.log"
fi
step "nothing left behind"
! getent passwd edgegate >/dev/null && ! getent group edgegate >/dev/null || fail "the user or group edgegate is left"
[ ! -e /var/lib/edgegate ] && [ ! -e /etc/edgegate ] || fail "/var/lib/edgegate or /etc/edgegate is left"
snapshot >"$TMP/after"
if ! diff "$TMP/before" "$TMP/after" >"$TMP/diff"; then
  cat "$TMP/diff" >&2
  fail "the machine differs from before the installation"
fi
step ""
printf '[ci-install %s] PASS in %.1fs: %s\n' "$KIND" "$(awk "BEGIN{print ($(date +%s%N) - $T0) / 1e9}")" "$(basename "$FILE")"
