#!/usr/bin/env bash
# Builds edgegate's release artifacts (docs/release.md) into release/ (git-ignored):
#
#   edgegate-<version>-linux-{x64,arm64,armv7}.tar.gz   for scripts/install.sh FILE.tar.gz
#   edgegate_<version>_{amd64,arm64,armhf}.deb          for dpkg -i / apt install ./FILE.deb
#   SHA256SUMS
#
#   npm run release                           everything (npm ci must have run: it needs esbuild)
#   bash scripts/release.sh [options]
#     --arch LIST       comma-separated subset of x64,arm64,armv7 (default: all three)
#     --no-deb          tarballs only
#     --no-build        package the existing dist/ instead of running `npm run build`
#     --out DIR         write into DIR instead of release/
#     --allow-dirty     build from a tree with uncommitted changes (the version then says .dirty)
#
# Each artifact holds the bundled dist/ (esbuild: all JavaScript of the production dependencies
# is inside dist/cli/main.js) and only what the bundle cannot hold, found at run time in
# node_modules/: better-sqlite3's addon (built for x64 by `npm ci` on this host, cross-compiled for
# arm64/armv7 as scripts/arm-smoke.sh does, in scripts/release/native.sh), serialport's prebuilt
# addons for the architecture, and uPlot's files for the status page. The addons are built for
# this host's Node.js major (its NODE_MODULE_VERSION), which the artifacts then require.
#
# Runs offline apart from what the cross-compilation fetches once (cached in .cache/arm/): the
# arm64 Node.js headers from npm, Debian trixie's armhf nodejs for armv7; and apt-get installing
# qemu-user and the cross compilers when missing.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$REPO/release"
ARCHES="x64,arm64,armv7"
DEB=1 BUILD=1 ALLOW_DIRTY=0

T0=$(date +%s%N)
secs() { awk "BEGIN{printf \"%.1f\", ($(date +%s%N) - $1) / 1e9}"; }
log() { printf '[release %6.1fs] %s\n' "$(awk "BEGIN{print ($(date +%s%N) - $T0) / 1e9}")" "$*" >&2; }
die() { printf 'release: error: %s\n' "$*" >&2; exit 1; }

while [ "$#" -gt 0 ]; do
  case "$1" in
    --arch) [ "$#" -ge 2 ] || die "--arch needs a list"; ARCHES="$2"; shift 2 ;;
    --arch=*) ARCHES="${1#--arch=}"; shift ;;
    --out) [ "$#" -ge 2 ] || die "--out needs a directory"; OUT="$2"; shift 2 ;;
    --out=*) OUT="${1#--out=}"; shift ;;
    --no-deb) DEB=0; shift ;;
    --no-build) BUILD=0; shift ;;
    --allow-dirty) ALLOW_DIRTY=1; shift ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
done
IFS=, read -r -a ARCH_LIST <<<"$ARCHES"
for a in "${ARCH_LIST[@]}"; do
  case "$a" in x64 | arm64 | armv7) ;; *) die "unknown architecture '$a' (x64, arm64, armv7)" ;; esac
done
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

# ---- what is being released ---------------------------------------------------------------

command -v node >/dev/null || die "node not found"
[ -d "$REPO/node_modules/esbuild" ] && [ -f "$REPO/node_modules/better-sqlite3/build/Release/better_sqlite3.node" ] ||
  die "run npm ci first (the build needs the dev dependencies; the x64 addon comes from it)"
[ "$DEB" = 0 ] || command -v dpkg-deb >/dev/null || die "dpkg-deb not found (Debian package dpkg)"
VERSION="$(node -p "require('$REPO/package.json').version")"
[[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || die "package.json version '$VERSION' is not x.y.z[-pre]"
# Debian orders 1.0.0~rc.1 before 1.0.0, as semver orders 1.0.0-rc.1 before 1.0.0.
DEB_VERSION="${VERSION/-/\~}"

if git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
  COMMIT="$(git -C "$REPO" rev-parse --short=12 HEAD)"
  SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$REPO" log -1 --format=%ct HEAD)}"
  if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no)" ]; then
    if [ "$ALLOW_DIRTY" != 1 ]; then
      git -C "$REPO" status --short --untracked-files=no >&2
      die "uncommitted changes (above): release from a clean checkout, or pass --allow-dirty for a test build"
    fi
    COMMIT="$COMMIT.dirty"
  fi
  MAINTAINER="${DEB_MAINTAINER:-$(git -C "$REPO" log -1 --format='%an <%ae>' HEAD)}"
else
  COMMIT="${EDGEGATE_COMMIT:-unknown}"
  SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(date +%s)}"
  MAINTAINER="${DEB_MAINTAINER:-edgegate maintainers <root@localhost>}"
fi
export SOURCE_DATE_EPOCH
# What `edgegate --version` prints: the version, and the commit as semver build metadata.
FULL_VERSION="$VERSION+$COMMIT"

HOST_NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
NODE_ABI="$(node -p 'process.versions.modules')"
NODE_MIN=20.12   # src/cli/nodeVersion.ts: crypto.hash
NEXT_MAJOR=$((HOST_NODE_MAJOR + 1))
log "edgegate $FULL_VERSION, for Node.js >= $NODE_MIN < $NEXT_MAJOR (NODE_MODULE_VERSION $NODE_ABI): ${ARCH_LIST[*]}"

# ---- build ------------------------------------------------------------------------------------

if [ "$BUILD" = 1 ]; then
  t=$(date +%s%N)
  log "npm run build"
  (cd "$REPO" && npm run build --silent)
  log "built dist/ in $(secs "$t") s"
fi
[ -f "$REPO/dist/cli/main.js" ] && [ -f "$REPO/dist/build-info.json" ] && [ -f "$REPO/dist/page/index.html" ] ||
  die "dist/ is incomplete: npm run build"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/edgegate-release.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
TMP="$WORK/tmp" && mkdir -p "$TMP"
node "$REPO/scripts/release/notices.mjs" "$REPO" >"$WORK/THIRD_PARTY_NOTICES.md"
node "$REPO/scripts/release/unit.mjs" "$REPO/systemd/edgegate.service" >"$WORK/edgegate.service"

# Tracked files of a folder (a developer's config/local.json or notes are never shipped).
tracked() { # dir pattern...
  if git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$REPO" && git ls-files -- "$@")
  else
    (cd "$REPO" && for p in "$@"; do ls -d $p 2>/dev/null || true; done)
  fi
}

# ---- one architecture ----------------------------------------------------------------------------

# Fills $1 with the application: what /opt/edgegate (tarball) or /usr/lib/edgegate (.deb) holds.
stage_app() { # dir arch node_arch addon
  local app="$1" arch="$2" node_arch="$3" addon="$4" f
  mkdir -p "$app"
  cp -a "$REPO/dist" "$app/dist"
  mkdir -p "$app/config"
  for f in $(tracked 'config/*.json'); do cp "$REPO/$f" "$app/config/"; done
  [ -f "$app/config/default.json" ] || die "config/default.json missing"
  node -e '
    const [src, dst, version, nodeRange] = process.argv.slice(1);
    const p = require(src);
    const out = { name: p.name, version, description: p.description, license: p.license, private: true,
      engines: { node: nodeRange }, bin: p.bin };
    require("node:fs").writeFileSync(dst, JSON.stringify(out, null, 2) + "\n");
  ' "$REPO/package.json" "$app/package.json" "$FULL_VERSION" ">=$NODE_MIN.0 <$NEXT_MAJOR"
  node -e '
    const [dst, name, version, commit, arch, nodeArch, deb, abi, major, min, bs3, bindings] = process.argv.slice(1);
    const info = { name, version, commit, arch, nodeArch, debArch: deb, nodeModuleVersion: abi, nodeMajor: Number(major),
      nodeMin: min, builtAt: new Date(Number(process.env.SOURCE_DATE_EPOCH) * 1000).toISOString(),
      betterSqlite3: bs3, serialportBindings: bindings };
    require("node:fs").writeFileSync(dst, JSON.stringify(info, null, 2) + "\n");
  ' "$app/release.json" edgegate "$VERSION" "$COMMIT" "$arch" "$node_arch" "$(deb_arch "$arch")" "$NODE_ABI" "$HOST_NODE_MAJOR" "$NODE_MIN" \
    "$(node -p "require('$REPO/node_modules/better-sqlite3/package.json').version")" \
    "$(node -p "require('$REPO/node_modules/@serialport/bindings-cpp/package.json').version")"

  # node_modules: only what the bundle loads from disk at run time.
  local nm="$app/node_modules" bs3="$REPO/node_modules/better-sqlite3" sp="$REPO/node_modules/@serialport/bindings-cpp" up="$REPO/node_modules/uplot"
  mkdir -p "$nm/better-sqlite3/build/Release" "$nm/@serialport/bindings-cpp/prebuilds/linux-$node_arch" "$nm/uplot/dist"
  cp "$bs3/package.json" "$bs3/LICENSE" "$nm/better-sqlite3/"
  cp "$addon" "$nm/better-sqlite3/build/Release/better_sqlite3.node"
  cp "$sp/package.json" "$sp/LICENSE" "$nm/@serialport/bindings-cpp/"
  # glibc builds only: the better-sqlite3 addon is built against glibc as well.
  cp "$sp/prebuilds/linux-$node_arch/"*.glibc.node "$nm/@serialport/bindings-cpp/prebuilds/linux-$node_arch/"
  cp "$up/package.json" "$up/LICENSE" "$nm/uplot/"
  cp "$up/dist/uPlot.iife.min.js" "$up/dist/uPlot.min.css" "$nm/uplot/dist/"

  # Every native file is for this architecture.
  local want
  case "$arch" in x64) want=62 ;; arm64) want=183 ;; armv7) want=40 ;; esac
  while IFS= read -r -d '' f; do
    [ "$(elf_machine "$f")" = "$want" ] || die "$f is not an ELF file for $arch (machine $(elf_machine "$f"))"
  done < <(find "$app" -name '*.node' -print0)

  find "$app" -type d -exec chmod 0755 {} + && find "$app" -type f -exec chmod 0644 {} +
}

deb_arch() { case "$1" in x64) echo amd64 ;; arm64) echo arm64 ;; armv7) echo armhf ;; esac; }

# A tar.gz whose listing is sorted, owned by root, dated SOURCE_DATE_EPOCH.
make_tarball() { # parent-dir name out
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
    -C "$1" -cf - "$2" | gzip -9n >"$3"
}

build_arch() { # arch
  local arch="$1" node_arch addon strip_tool t
  t=$(date +%s%N)
  case "$arch" in
    x64)
      node_arch=x64
      [ "$(node -p process.arch)" = x64 ] || die "the x64 artifact is built on an x86-64 host"
      addon="$REPO/node_modules/better-sqlite3/build/Release/better_sqlite3.node"
      strip_tool="strip"
      ;;
    arm64 | armv7)
      [ "$arch" = arm64 ] && node_arch=arm64 || node_arch=arm
      ARCH="$arch" CACHE="${ARM_SMOKE_CACHE:-$REPO/.cache/arm}"
      native_host_tools build || die "host tools for $arch"
      native_target_node || die "target Node.js for $arch"
      local abi
      abi="$("${EMU[@]}" "$TARGET_NODE" -p process.versions.modules)"
      [ "$abi" = "$NODE_ABI" ] || die "$arch: the target Node.js $TARGET_NODE_VERSION has NODE_MODULE_VERSION $abi, the host $NODE_ABI"
      native_better_sqlite3 || die "cross-compiling better-sqlite3 for $arch"
      log "$arch: better-sqlite3 $BS3_VERSION $BS3_NOTE (headers of node $TARGET_NODE_VERSION)"
      addon="$BS3_FILE"
      strip_tool="$TRIPLE-strip"
      ;;
  esac
  # Symbols are not needed to load an addon (about 10% of its size).
  cp "$addon" "$WORK/better_sqlite3.$arch.node"
  if command -v "$strip_tool" >/dev/null; then "$strip_tool" --strip-unneeded "$WORK/better_sqlite3.$arch.node"; fi
  addon="$WORK/better_sqlite3.$arch.node"

  # ---- tarball: the application plus what scripts/install.sh needs ----
  local name="edgegate-$VERSION-linux-$arch" dir="$WORK/tar-$arch"
  stage_app "$dir/$name" "$arch" "$node_arch" "$addon"
  local top="$dir/$name"
  mkdir -p "$top/systemd" "$top/scripts" "$top/docs"
  cp "$REPO/systemd/edgegate.service" "$top/systemd/"
  cp "$REPO/scripts/install.sh" "$REPO/scripts/uninstall.sh" "$REPO/scripts/layout.sh" "$top/scripts/"
  chmod 0755 "$top/scripts/install.sh" "$top/scripts/uninstall.sh"
  cp "$REPO/LICENSE" "$REPO/README.md" "$WORK/THIRD_PARTY_NOTICES.md" "$top/"
  for f in $(tracked 'docs/*.md'); do cp "$REPO/$f" "$top/docs/"; done
  if [ "$arch" = x64 ]; then
    # The artifact alone, from an empty directory: the CLI and both addons load.
    mkdir -p "$WORK/empty"
    local v
    v="$(cd "$WORK/empty" && env -u NODE_CONFIG_DIR node "$top/dist/cli/main.js" --version)" || die "x64: the staged CLI does not start"
    [ "$v" = "$FULL_VERSION" ] || die "x64: edgegate --version says '$v', expected '$FULL_VERSION'"
    (cd "$WORK/empty" && node -e 'require(process.argv[1])' "$top/node_modules/better-sqlite3/build/Release/better_sqlite3.node") ||
      die "x64: better_sqlite3.node does not load"
  fi
  make_tarball "$dir" "$name" "$OUT/$name.tar.gz"
  log "$arch: $name.tar.gz $(du -k "$OUT/$name.tar.gz" | cut -f1) KiB"

  [ "$DEB" = 1 ] || { log "$arch: done in $(secs "$t") s"; return 0; }

  # ---- .deb ----
  local darch root deb
  darch="$(deb_arch "$arch")"
  root="$WORK/deb-$arch"
  stage_app "$root/usr/lib/edgegate" "$arch" "$node_arch" "$addon"
  install -D -m 0644 "$WORK/edgegate.service" "$root/lib/systemd/system/edgegate.service"
  install -D -m 0755 "$REPO/scripts/deb/edgegate" "$root/usr/bin/edgegate"
  install -d -m 0750 "$root/etc/edgegate"
  install -m 0640 "$REPO/scripts/deb/local.json" "$root/etc/edgegate/local.json"
  install -d -m 0755 "$root/usr/share/doc/edgegate"
  for f in $(tracked 'docs/*.md'); do install -m 0644 "$REPO/$f" "$root/usr/share/doc/edgegate/"; done
  install -m 0644 "$REPO/README.md" "$WORK/THIRD_PARTY_NOTICES.md" "$root/usr/share/doc/edgegate/"
  {
    echo "edgegate $VERSION (commit $COMMIT): Apache License 2.0, the text below."
    echo "Third-party components in /usr/lib/edgegate: /usr/share/doc/edgegate/THIRD_PARTY_NOTICES.md."
    echo
    cat "$REPO/LICENSE"
  } >"$root/usr/share/doc/edgegate/copyright"
  chmod 0644 "$root/usr/share/doc/edgegate/copyright"
  install -d -m 0755 "$root/DEBIAN"
  local installed_kb
  installed_kb="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
  cat >"$root/DEBIAN/control" <<EOF
Package: edgegate
Version: $DEB_VERSION
Architecture: $darch
Maintainer: $MAINTAINER
Installed-Size: $installed_kb
Depends: nodejs (>= $NODE_MIN), nodejs (<< $NEXT_MAJOR)
Section: net
Priority: optional
Description: MQTT edge gateway with JWT authentication and store-and-forward
 edgegate runs a local MQTT broker (aedes) that authenticates clients with
 JWTs, verifies them offline, bridges to a cloud broker with a durable SQLite
 outbox, and publishes readings of serial sensors.
 .
 Built from commit $COMMIT for Node.js $HOST_NODE_MAJOR (its native addon is
 built for NODE_MODULE_VERSION $NODE_ABI, hence the upper bound on nodejs).
 The service runs as the user edgegate; configuration in /etc/edgegate,
 data in /var/lib/edgegate.
EOF
  echo /etc/edgegate/local.json >"$root/DEBIAN/conffiles"
  install -m 0755 "$REPO/scripts/deb/postinst" "$REPO/scripts/deb/prerm" "$REPO/scripts/deb/postrm" "$root/DEBIAN/"
  (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
  chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"
  find "$root" -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  deb="$OUT/edgegate_${DEB_VERSION}_$darch.deb"
  dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
  log "$arch: $(basename "$deb") $(du -k "$deb" | cut -f1) KiB (installed $installed_kb KiB); done in $(secs "$t") s"
}

# shellcheck source=release/native.sh
source "$REPO/scripts/release/native.sh"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

for arch in "${ARCH_LIST[@]}"; do
  rm -f "$OUT/edgegate-$VERSION-linux-$arch.tar.gz" "$OUT/edgegate_${DEB_VERSION}_$(deb_arch "$arch").deb"
  build_arch "$arch"
done

# Checksums of this version's artifacts (whatever of them is in $OUT).
(
  cd "$OUT"
  shopt -s nullglob
  files=(edgegate-"$VERSION"-linux-*.tar.gz edgegate_"$DEB_VERSION"_*.deb)
  rm -f SHA256SUMS
  [ "${#files[@]}" -eq 0 ] || sha256sum -- "${files[@]}" >SHA256SUMS
  log "done in $(secs "$T0") s: $OUT"
  ls -l -- "${files[@]}" SHA256SUMS | awk '{ printf "  %10s  %s\n", $5, $NF }' >&2
)
