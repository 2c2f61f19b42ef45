#!/bin/sh
# k3s install.sh STAND-IN (picluster lab, test/lab/k3s-standin). Follows get.k3s.io's
# install.sh where the picluster program can observe it:
#   - the command from INSTALL_K3S_EXEC / arguments (server, agent; default agent when
#     K3S_URL is set, which then requires K3S_TOKEN or K3S_TOKEN_FILE), https-only K3S_URL;
#   - INSTALL_K3S_SKIP_DOWNLOAD=true: no download, the binary must be in place (air-gapped);
#   - kubectl symlink, k3s-killall.sh, k3s[-agent]-uninstall.sh, the systemd unit and its
#     .env file with the K3S_* variables, the unit enabled;
#   - the service is (re)started only when the binary, unit or env file changed (or with
#     INSTALL_K3S_FORCE_RESTART=true): a changed config.yaml alone does not restart k3s.
# Differences, because the lab has no internet and no systemd:
#   - without INSTALL_K3S_SKIP_DOWNLOAD it fails instead of downloading;
#   - when /usr/local/bin/k3s is missing it places the air-gap bundle's binary that sits
#     next to this script (the "place the binary beforehand" step of an air-gapped install);
#   - `systemctl restart` is `k3s stand-in-service restart` (waits for readiness the way
#     systemctl waits for a Type=notify unit, bounded by K3S_STANDIN_START_TIMEOUT, 600 s).
set -e
set -o noglob

info() { echo '[INFO] ' "$@"; }
warn() { echo '[WARN] ' "$@" >&2; }
fatal() { echo '[ERROR] ' "$@" >&2; exit 1; }

BUNDLE_DIR=$(cd "$(dirname "$0")" && pwd)
BIN_DIR=/usr/local/bin
SYSTEMD_DIR=/etc/systemd/system

# shellcheck disable=SC2086
set -- ${INSTALL_K3S_EXEC} "$@"
case "$1" in
  -* | "")
    if [ -z "${K3S_URL}" ]; then
      CMD_K3S=server
    else
      if [ -z "${K3S_TOKEN}" ] && [ -z "${K3S_TOKEN_FILE}" ]; then
        fatal "Defaulted k3s exec command to 'agent' because K3S_URL is defined, but K3S_TOKEN or K3S_TOKEN_FILE is not defined."
      fi
      CMD_K3S=agent
    fi
    ;;
  *)
    CMD_K3S=$1
    shift
    ;;
esac
case "${K3S_URL}" in
  "" | https://*) ;;
  *) fatal "Only https:// URLs are supported for K3S_URL (have ${K3S_URL})" ;;
esac
[ "$(id -u)" -eq 0 ] || fatal "the stand-in install.sh must run as root"

if [ "${CMD_K3S}" = server ]; then SYSTEM_NAME=k3s; else SYSTEM_NAME=k3s-${CMD_K3S}; fi
FILE_K3S_SERVICE=${SYSTEMD_DIR}/${SYSTEM_NAME}.service
FILE_K3S_ENV=${SYSTEMD_DIR}/${SYSTEM_NAME}.service.env
UNINSTALL_K3S_SH=${BIN_DIR}/${SYSTEM_NAME}-uninstall.sh
KILLALL_K3S_SH=${BIN_DIR}/k3s-killall.sh

get_installed_hashes() {
  sha256sum ${BIN_DIR}/k3s ${FILE_K3S_SERVICE} ${FILE_K3S_ENV} 2>&1 || true
}
PRE_INSTALL_HASHES=$(get_installed_hashes)

# --- download_and_verify
if [ "${INSTALL_K3S_SKIP_DOWNLOAD}" = true ] || [ "${INSTALL_K3S_SKIP_DOWNLOAD}" = binary ]; then
  info 'Skipping k3s download and verify'
  if [ ! -x ${BIN_DIR}/k3s ]; then
    [ -x "${BUNDLE_DIR}/k3s" ] || fatal "Executable k3s binary not found at ${BIN_DIR}/k3s"
    info "(stand-in) Placing the air-gap bundle's binary ${BUNDLE_DIR}/k3s at ${BIN_DIR}/k3s"
    cp "${BUNDLE_DIR}/k3s" ${BIN_DIR}/k3s.tmp
    chmod 755 ${BIN_DIR}/k3s.tmp
    chown root:root ${BIN_DIR}/k3s.tmp
    mv -f ${BIN_DIR}/k3s.tmp ${BIN_DIR}/k3s
  fi
  have=$(${BIN_DIR}/k3s --version | head -n 1 | cut -d' ' -f3)
  if [ -n "${INSTALL_K3S_VERSION}" ] && [ "${have}" != "${INSTALL_K3S_VERSION}" ]; then
    warn "INSTALL_K3S_VERSION=${INSTALL_K3S_VERSION} but the placed binary is ${have} (an air-gapped install uses the binary as placed)"
  fi
else
  fatal "the k3s stand-in cannot download k3s (the lab has no internet): set INSTALL_K3S_SKIP_DOWNLOAD=true"
fi

# --- create_symlinks (the stand-in implements kubectl only)
if [ ! -e ${BIN_DIR}/kubectl ]; then
  if [ -z "$(command -v kubectl 2>/dev/null || true)" ]; then
    info "Creating ${BIN_DIR}/kubectl symlink to k3s"
    ln -sf k3s ${BIN_DIR}/kubectl
  else
    info "Skipping ${BIN_DIR}/kubectl symlink to k3s, command exists in PATH at $(command -v kubectl)"
  fi
else
  info "Skipping ${BIN_DIR}/kubectl symlink to k3s, already exists"
fi

# --- create_killall
info "Creating killall script ${KILLALL_K3S_SH}"
cat >${KILLALL_K3S_SH} <<'EOF'
#!/bin/sh
# k3s-killall.sh (k3s stand-in): stop every k3s unit and what it started.
[ $(id -u) -eq 0 ] || exec sudo $0 $@
set -x
/usr/local/bin/k3s stand-in-service stop --all
rm -rf /var/lib/cni/
EOF
chmod 755 ${KILLALL_K3S_SH}

# --- create_uninstall
info "Creating uninstall script ${UNINSTALL_K3S_SH}"
cat >${UNINSTALL_K3S_SH} <<EOF
#!/bin/sh
# ${SYSTEM_NAME}-uninstall.sh (k3s stand-in): removes what install.sh created, as k3s's does.
set -x
[ \$(id -u) -eq 0 ] || exec sudo \$0 \$@

K3S_DATA_DIR=\${K3S_DATA_DIR:-/var/lib/rancher/k3s}

${KILLALL_K3S_SH}

rm -f ${SYSTEMD_DIR}/multi-user.target.wants/${SYSTEM_NAME}.service
rm -f ${FILE_K3S_SERVICE}
rm -f ${FILE_K3S_ENV}

remove_uninstall() {
    rm -f ${UNINSTALL_K3S_SH}
}
trap remove_uninstall EXIT

if (ls ${SYSTEMD_DIR}/k3s*.service || ls /etc/init.d/k3s*) >/dev/null 2>&1; then
    set +x; echo 'Additional k3s services installed, skipping uninstall of k3s'; set -x
    exit
fi

for cmd in kubectl crictl ctr; do
    if [ -L ${BIN_DIR}/\$cmd ]; then
        rm -f ${BIN_DIR}/\$cmd
    fi
done

rm -rf /etc/rancher/k3s
rm -rf /run/k3s
rm -rf /run/flannel
rm -rf \${K3S_DATA_DIR}
rm -rf /var/lib/kubelet
rm -f ${BIN_DIR}/k3s
rm -f ${KILLALL_K3S_SH}
EOF
chmod 755 ${UNINSTALL_K3S_SH}

# --- systemd_disable, create_env_file, create_service_file
rm -f ${SYSTEMD_DIR}/multi-user.target.wants/${SYSTEM_NAME}.service ${FILE_K3S_SERVICE} ${FILE_K3S_ENV}
info "env: Creating environment file ${FILE_K3S_ENV}"
mkdir -p ${SYSTEMD_DIR}
touch ${FILE_K3S_ENV}
chmod 0600 ${FILE_K3S_ENV}
sh -c export | while read -r _ v; do echo "$v"; done | grep -E '^(K3S|CONTAINERD)_' >${FILE_K3S_ENV} || true
sh -c export | while read -r _ v; do echo "$v"; done | grep -Ei '^(NO|HTTP|HTTPS)_PROXY' >>${FILE_K3S_ENV} || true

CMD_K3S_EXEC="${CMD_K3S}"
for arg in "$@"; do CMD_K3S_EXEC="${CMD_K3S_EXEC} \\
	'${arg}'"; done
info "systemd: Creating service file ${FILE_K3S_SERVICE}"
cat >${FILE_K3S_SERVICE} <<EOF
[Unit]
Description=Lightweight Kubernetes
Documentation=https://k3s.io
Wants=network-online.target
After=network-online.target

[Install]
WantedBy=multi-user.target

[Service]
Type=notify
EnvironmentFile=-/etc/default/%N
EnvironmentFile=-/etc/sysconfig/%N
EnvironmentFile=-${FILE_K3S_ENV}
KillMode=process
Delegate=yes
User=root
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStartPre=-/sbin/modprobe overlay
ExecStart=${BIN_DIR}/k3s \\
    ${CMD_K3S_EXEC}

EOF

# --- service_enable_and_start
[ "${INSTALL_K3S_SKIP_ENABLE}" = true ] && exit 0
info "systemd: Enabling ${SYSTEM_NAME} unit"
mkdir -p ${SYSTEMD_DIR}/multi-user.target.wants
ln -sf ${FILE_K3S_SERVICE} ${SYSTEMD_DIR}/multi-user.target.wants/${SYSTEM_NAME}.service
[ "${INSTALL_K3S_SKIP_START}" = true ] && exit 0
POST_INSTALL_HASHES=$(get_installed_hashes)
if [ "${PRE_INSTALL_HASHES}" = "${POST_INSTALL_HASHES}" ] && [ "${INSTALL_K3S_FORCE_RESTART}" != true ]; then
  info 'No change detected so skipping service start'
  exit 0
fi
# Lab fault injection (stand-in only): while ${BUNDLE_DIR}/hold.<hostname> exists, stop here,
# with everything installed and enabled but not started (bounded: 120 s), and say so in
# ${BUNDLE_DIR}/held.<hostname>. The end-to-end test kills `pulumi up` at this point.
if [ -e "${BUNDLE_DIR}/hold.$(hostname)" ]; then
  touch "${BUNDLE_DIR}/held.$(hostname)"
  i=0
  while [ -e "${BUNDLE_DIR}/hold.$(hostname)" ] && [ $i -lt 600 ]; do sleep 0.2; i=$((i + 1)); done
fi
info "systemd: Starting ${SYSTEM_NAME} (k3s stand-in supervisor)"
${BIN_DIR}/k3s stand-in-service restart ${SYSTEM_NAME}
