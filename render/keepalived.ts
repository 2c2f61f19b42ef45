// keepalived.conf for the load-balancer Pis: they share the API's virtual IP.
// The Pi whose haproxy is running and has the highest priority holds the VIP; when
// its haproxy stops (tracked every second) or the Pi goes silent (3 missed adverts),
// the next one takes the address over.

export interface KeepalivedInput {
    readonly vip: string;
    readonly interface: string;
    readonly routerId: number;
    /** Higher wins; the first load balancer gets the highest. */
    readonly priority: number;
    /** VRRP PASS authentication, at most 8 characters; a secret. */
    readonly authPass: string;
    readonly unicastSourceIp: string;
    readonly unicastPeers: readonly string[];
}

export const KEEPALIVED_CONFIG_PATH = "/etc/keepalived/keepalived.conf";

export function renderKeepalivedConfig(input: KeepalivedInput): string {
    if (input.authPass.length === 0 || input.authPass.length > 8 || /\s/.test(input.authPass)) {
        throw new Error("renderKeepalivedConfig: authPass must be 1-8 characters without spaces");
    }
    return [
        "# Managed by picluster (Pulumi). Local edits are overwritten on the next `pulumi up`.",
        "global_defs {",
        "    enable_script_security",
        "    script_user root",
        "}",
        "",
        "vrrp_script chk_haproxy {",
        "    script \"/usr/bin/killall -0 haproxy\"",
        "    interval 1",
        "    fall 2",
        "    rise 2",
        "}",
        "",
        "vrrp_instance k3s_api {",
        "    state BACKUP",
        `    interface ${input.interface}`,
        `    virtual_router_id ${input.routerId}`,
        `    priority ${input.priority}`,
        "    advert_int 1",
        `    unicast_src_ip ${input.unicastSourceIp}`,
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
