// A small valid inventory (3 servers, 2 LBs with a VIP, 2 agents) on the lab range.
export interface RawHost { name: string; address: string; role: string; hostKey?: string; [extra: string]: unknown }
export interface RawConfig {
    hosts: RawHost[];
    vip?: string;
    ssh?: unknown;
    k3s?: unknown;
    loadBalancer?: unknown;
    sshPrivateKey?: string;
    [extra: string]: unknown;
}

export function goodRawConfig(): RawConfig {
    return {
        hosts: [
            { name: "a1", address: "198.18.0.21", role: "agent" },
            { name: "a2", address: "198.18.0.22", role: "agent" },
            { name: "lb1", address: "198.18.0.11", role: "loadbalancer" },
            { name: "lb2", address: "198.18.0.12", role: "loadbalancer" },
            { name: "s1", address: "198.18.0.31", role: "server" },
            { name: "s2", address: "198.18.0.32", role: "server" },
            { name: "s3", address: "198.18.0.33", role: "server" },
        ],
        vip: "198.18.0.100",
        ssh: { user: "pirate" },
        k3s: { version: "v1.33.5+k3s1" },
        sshPrivateKey: "<secret>",
    };
}
