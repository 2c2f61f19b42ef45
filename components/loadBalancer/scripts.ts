// The load balancer's scripts: haproxy.cfg and keepalived.conf applied from stdin after the
// program that reads them accepts them (and put back on delete), the agent-check served by
// xinetd on each server.
import { backupOnce, restore, script, SERVICE_FN, shq, STATE_DIR, writeFile } from "../shared/bash";
import { HAPROXY_CONFIG_PATH } from "./haproxyConfig";
import { KEEPALIVED_CONFIG_PATH } from "./keepalivedConfig";
import { AGENT_CHECK_PATH, AGENT_CLIENT_DIR, XINETD_SERVICE_NAME, XINETD_SERVICE_PATH } from "./agentCheck";

/** Installs haproxy.cfg read from stdin, after `haproxy -c` accepts it; then reloads. */
export function renderHaproxyApplyScript(): string {
    const cfg = HAPROXY_CONFIG_PATH;
    return script(
        ...SERVICE_FN,
        ...backupOnce(cfg, "haproxy.cfg"),
        `new=${shq(cfg + ".picluster-new")}`,
        "( umask 077; cat > \"$new\" )",
        "if ! out=$(haproxy -c -f \"$new\" 2>&1); then",
        "  echo \"picluster: haproxy rejected the rendered config on $(hostname); the live config is unchanged:\" >&2",
        "  printf '%s\\n' \"$out\" | grep -v 'stats auth' >&2",
        "  rm -f \"$new\"",
        "  exit 1",
        "fi",
        "install -d -m 0755 /run/haproxy",
        `if cmp -s "$new" ${shq(cfg)}; then rm -f "$new"; echo 'picluster: haproxy config unchanged'; exit 0; fi`,
        `chmod 0640 "$new"; chgrp haproxy "$new" 2>/dev/null || true`,
        `mv -f "$new" ${shq(cfg)}`,
        "if pidof haproxy >/dev/null 2>&1; then svc reload haproxy; else svc start haproxy; fi",
        "echo \"picluster: haproxy config applied on $(hostname)\"",
    );
}

export function renderHaproxyRestoreScript(): string {
    return script(
        ...SERVICE_FN,
        `had_original=no; [ -e ${shq(STATE_DIR + "/haproxy.cfg.orig")} ] && had_original=yes`,
        ...restore(HAPROXY_CONFIG_PATH, "haproxy.cfg"),
        "if [ \"$had_original\" = yes ] && pidof haproxy >/dev/null 2>&1; then svc reload haproxy || true; fi",
        "echo \"picluster: previous haproxy config restored on $(hostname)\"",
    );
}

/** keepalived.conf from stdin, checked with `keepalived -t`; non-local bind for the VIP. */
export function renderKeepalivedApplyScript(): string {
    const cfg = KEEPALIVED_CONFIG_PATH;
    const sysctl = "/etc/sysctl.d/90-picluster-nonlocal-bind.conf";
    return script(
        ...SERVICE_FN,
        ...backupOnce(cfg, "keepalived.conf"),
        "# haproxy on the backup LB must be able to bind the VIP it does not hold yet.",
        ...writeFile(sysctl, "net.ipv4.ip_nonlocal_bind = 1\n", "0644"),
        "sysctl -q -w net.ipv4.ip_nonlocal_bind=1",
        `new=${shq(cfg + ".picluster-new")}`,
        "install -d -m 0755 /etc/keepalived",
        "( umask 077; cat > \"$new\" )",
        "if ! out=$(keepalived -t -f \"$new\" 2>&1); then",
        "  echo \"picluster: keepalived rejected the rendered config on $(hostname); the live config is unchanged:\" >&2",
        "  printf '%s\\n' \"$out\" | grep -v auth_pass >&2",
        "  rm -f \"$new\"",
        "  exit 1",
        "fi",
        `if cmp -s "$new" ${shq(cfg)} && pidof keepalived >/dev/null 2>&1; then rm -f "$new"; echo 'picluster: keepalived config unchanged'; exit 0; fi`,
        `mv -f "$new" ${shq(cfg)}`,
        "svc restart keepalived",
        "echo \"picluster: keepalived config applied on $(hostname)\"",
    );
}

export function renderKeepalivedRestoreScript(): string {
    return script(
        ...SERVICE_FN,
        "svc stop keepalived || true",
        ...restore(KEEPALIVED_CONFIG_PATH, "keepalived.conf"),
        "rm -f /etc/sysctl.d/90-picluster-nonlocal-bind.conf",
        "sysctl -q -w net.ipv4.ip_nonlocal_bind=0 || true",
        "echo \"picluster: keepalived config removed from $(hostname)\"",
    );
}

/** Installs the agent-check script and its xinetd service, then reloads xinetd. */
export function renderAgentCheckInstallScript(input: { agentCheck: string; xinetdService: string; servicesLine: string }): string {
    return script(
        ...SERVICE_FN,
        ...writeFile(AGENT_CHECK_PATH, input.agentCheck, "0755"),
        ...writeFile(XINETD_SERVICE_PATH, input.xinetdService, "0644"),
        `if ! grep -q '^${XINETD_SERVICE_NAME}[[:space:]]' /etc/services; then`,
        `  printf '%s\\n' ${shq(input.servicesLine)} >> /etc/services`,
        "fi",
        "svc restart xinetd",
        "echo \"picluster: agent-check served by xinetd on $(hostname)\"",
    );
}

export function renderAgentCheckRemoveScript(): string {
    return script(
        ...SERVICE_FN,
        `rm -f ${shq(AGENT_CHECK_PATH)} ${shq(XINETD_SERVICE_PATH)}`,
        `sed -i '/^${XINETD_SERVICE_NAME}[[:space:]].*# picluster$/d' /etc/services`,
        "if pidof xinetd >/dev/null 2>&1; then svc restart xinetd || true; fi",
        "echo \"picluster: agent-check removed from $(hostname)\"",
    );
}

/** Removes the agent-check's client certificate (renderAgentClientCertScript wrote it). */
export function renderAgentClientCertRemoveScript(): string {
    return `rm -rf ${shq(AGENT_CLIENT_DIR)}; rmdir /etc/picluster 2>/dev/null || true`;
}
