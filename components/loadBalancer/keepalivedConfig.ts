// keepalived.conf for the load-balancer Pis: they share the API's virtual IP.
//
// How fast the VIP moves (measured by test/lb: `test/lb/bench` prints the figures):
// - haproxy stops on the active LB: the track script (a TCP connect to haproxy's
//   loopback health listener, every second, fall 1) fails within a second; the instance
//   goes to FAULT, tells the peers with a priority-0 advert, and the backup takes over
//   after its skew time (priority 240: 0.06 s). A local connect cannot fail while
//   haproxy listens, so fall 1 does not flap; rise 2 waits for it to be steady again.
// - The active LB dies or loses its link: the backup takes over after missing
//   `down_timer_adverts` adverts plus its skew time: 2 x 1 s + 0.06 s. The RFC's 3 would
//   give about 3.1 s, over the 3 s goal; 2 missed adverts still tolerate one lost packet.
// - VRRP version 2, because only version 2 carries the PASS authentication (VRRPv3
//   has none and keepalived ignores it there); version 2 has whole-second adverts, which
//   is why the down timer is shortened instead of the advert interval.
// - `nopreempt`: a recovered LB does not take the VIP back, which would cost a second,
//   needless move. `check_unicast_src`: adverts are accepted only from the listed peers.
// - `max_auto_priority`: keepalived raises its VRRP process to realtime priority once it
//   sees itself scheduled late, so a busy Pi keeps sending its adverts on time (two
//   missed adverts would move the VIP).

import { HEALTH_PORT } from "../../inventory/wellKnown";

export interface KeepalivedInput {
    readonly vip: string;
    readonly interface: string;
    readonly routerId: number;
    /** Higher wins at startup; use vrrpPriority(index) so the backup's skew time stays short. */
    readonly priority: number;
    /** VRRP PASS authentication, at most 8 characters; a secret. */
    readonly authPass: string;
    readonly unicastSourceIp: string;
    readonly unicastPeers: readonly string[];
}

export const KEEPALIVED_CONFIG_PATH = "/etc/keepalived/keepalived.conf";
/** VRRP advert interval (seconds) and how many missed adverts make a backup take over. */
export const VRRP_ADVERT_INTERVAL = 1;
export const VRRP_DOWN_TIMER_ADVERTS = 2;

/**
 * Priority of the index-th load balancer: 250, 240, 230, ... A backup waits
 * (256 - priority) / 256 s of skew time on top of the missed adverts, so high
 * priorities keep the takeover fast (the old 150/140 cost 0.45 s more).
 */
export function vrrpPriority(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index > 24) throw new Error("vrrpPriority: index must be 0..24");
    return 250 - index * 10;
}

export function renderKeepalivedConfig(input: KeepalivedInput): string {
    if (input.authPass.length === 0 || input.authPass.length > 8 || /\s/.test(input.authPass)) {
        throw new Error("renderKeepalivedConfig: authPass must be 1-8 characters without spaces");
    }
    if (!Number.isInteger(input.priority) || input.priority < 1 || input.priority > 254) {
        throw new Error("renderKeepalivedConfig: priority must be 1..254");
    }
    return [
        "# Managed by picluster (Pulumi). Local edits are overwritten on the next `pulumi up`.",
        "global_defs {",
        "    enable_script_security",
        "    script_user root",
        "    max_auto_priority",
        "}",
        "",
        "# haproxy is serving: its loopback health listener accepts a connection.",
        "vrrp_script chk_haproxy {",
        `    script "/bin/bash -c '</dev/tcp/127.0.0.1/${HEALTH_PORT}'"`,
        "    interval 1",
        "    timeout 1",
        "    fall 1",
        "    rise 2",
        "}",
        "",
        "vrrp_instance k3s_api {",
        "    state BACKUP",
        "    version 2",
        `    interface ${input.interface}`,
        `    virtual_router_id ${input.routerId}`,
        `    priority ${input.priority}`,
        `    advert_int ${VRRP_ADVERT_INTERVAL}`,
        `    down_timer_adverts ${VRRP_DOWN_TIMER_ADVERTS}`,
        "    nopreempt",
        `    unicast_src_ip ${input.unicastSourceIp}`,
        "    check_unicast_src",
        "    unicast_peer {",
        ...input.unicastPeers.map((p) => `        ${p}`),
        "    }",
        "    authentication {",
        "        auth_type PASS",
        `        auth_pass ${input.authPass}`,
        "    }",
        "    virtual_ipaddress {",
        `        ${input.vip}/32 dev ${input.interface}`,
        "    }",
        "    track_script {",
        "        chk_haproxy",
        "    }",
        "}",
        "",
    ].join("\n");
}
