#!/usr/bin/env bash
# Removes the edgegate service and application installed by scripts/install.sh.
#
#   sudo scripts/uninstall.sh            keeps /etc/edgegate and /var/lib/edgegate
#   sudo scripts/uninstall.sh --purge    also deletes them and the edgegate user
#
# DESTDIR=/some/dir removes a layout staged there, without touching the system.

# `sh install.sh` (dash) would not understand the bash used below.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

# shellcheck source=layout.sh
source "$(dirname "${BASH_SOURCE[0]}")/layout.sh"

DESTDIR=${DESTDIR:-}
DESTDIR=${DESTDIR%/}
PURGE=0

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

for arg in "$@"; do
  case "$arg" in
    --purge) PURGE=1 ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown option: $arg (see --help)" ;;
  esac
done

staging() { [ -n "$DESTDIR" ]; }

if ! staging && [ "$(id -u)" -ne 0 ]; then
  die "run as root: sudo $0 $*"
fi

if ! staging && [ -d /run/systemd/system ]; then
  if systemctl list-unit-files "$SERVICE.service" >/dev/null 2>&1; then
    say "stopping and disabling $SERVICE"
    systemctl disable --now "$SERVICE" 2>/dev/null || true
  fi
fi

say "removing the unit, the CLI and $APP_DIR"
rm -f "$DESTDIR$UNIT_FILE" "$DESTDIR$UNIT_FILE.d/10-low-ports.conf"
rmdir "$DESTDIR$UNIT_FILE.d" 2>/dev/null || true # your own drop-ins stay unless --purge
rm -f "$DESTDIR$CLI_LINK"
rm -rf "$DESTDIR$APP_DIR" "$DESTDIR$APP_DIR.new" "$DESTDIR$APP_DIR.old"

if ! staging && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl reset-failed "$SERVICE" 2>/dev/null || true
fi

if [ "$PURGE" = 1 ]; then
  say "--purge: deleting $CONF_DIR and $DATA_DIR (configuration, database, generated JWT secret)"
  rm -rf "$DESTDIR$CONF_DIR" "$DESTDIR$DATA_DIR" "$DESTDIR$UNIT_FILE.d"
  if ! staging && getent passwd "$SERVICE_USER" >/dev/null; then
    say "deleting user $SERVICE_USER"
    userdel "$SERVICE_USER" 2>/dev/null || true
    getent group "$SERVICE_USER" >/dev/null && groupdel "$SERVICE_USER" 2>/dev/null || true
  fi
else
  say "kept $CONF_DIR (configuration) and $DATA_DIR (data); remove them with --purge"
fi
