# Where an installed edgegate lives; sourced by install.sh and uninstall.sh.
# shellcheck shell=bash
SERVICE=edgegate
SERVICE_USER=edgegate
APP_DIR=/opt/edgegate
CONF_DIR=/etc/edgegate
DATA_DIR=/var/lib/edgegate
UNIT_FILE=/etc/systemd/system/edgegate.service
CLI_LINK=/usr/local/bin/edgegate
