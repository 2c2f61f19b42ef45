// Given the LB component built under strict mocks, it renders exactly the configuration
// the lab measured: haproxy.cfg is the lab's config with the component's own servers and
// addresses (the lab only adds its socket path and skips chroot/user switching), and each
// keepalived.conf is the lab's, priorities included.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { parseInventory } from "../../inventory/schema";
import { buildCluster } from "../../components/cluster";
import { goodRawConfig } from "../unit/fixtures";
import { installStrictMocks, resolve, settle, unwrapInput } from "../unit/mocks";
import { labHaproxyConfig, labKeepalivedConfig } from "./stand";

const STATS_PASSWORD = "statspw123";
const VRRP_PASSWORD = "vrrp1234";
const LAB_SOCKET = "/tmp/picluster-lb-lab/lb.sock";

async function build() {
    const registered = installStrictMocks();
    const inventory = parseInventory(goodRawConfig());
    const cluster = buildCluster({
        inventory, sshPrivateKey: pulumi.secret("k"), statsPassword: pulumi.secret(STATS_PASSWORD), vrrpPassword: pulumi.secret(VRRP_PASSWORD),
    });
    await resolve(cluster.nodes);
    await settle();
    return { cluster, registered, inventory };
}

/** What the Pi runs differs from the lab only in the process setup: the admin socket's path and chroot/user. */
function asLabRunsIt(deployed: string): string {
    return deployed
        .replace(/^    stats socket \/run\/haproxy\/admin\.sock /m, `    stats socket ${LAB_SOCKET} `)
        .replace(/^    chroot \/var\/lib\/haproxy\n    user haproxy\n    group haproxy\n/m, "");
}

test("each LB's haproxy.cfg is the measured config with the inventory's servers", async () => {
    const { cluster, inventory } = await build();
    assert.equal(cluster.loadBalancer.haproxyConfigs.size, inventory.loadBalancers.length);
    for (const lb of inventory.loadBalancers) {
        const cfg = cluster.loadBalancer.haproxyConfigs.get(lb.name);
        assert.ok(cfg, `no haproxy.cfg for ${lb.name}`);
        const deployed = (await resolve(cfg)).value;
        const servers = inventory.servers.map((s) => ({ name: s.name, address: s.address }));
        const measured = labHaproxyConfig("ours", servers, lb.address, LAB_SOCKET, STATS_PASSWORD);
        assert.match(deployed, /^    chroot \/var\/lib\/haproxy$/m, "on a Pi haproxy runs chrooted");
        assert.equal(asLabRunsIt(deployed), measured);
    }
});

test("each LB's keepalived.conf is the measured config, priorities included", async () => {
    const { registered, inventory } = await build();
    assert.ok(inventory.vip, "the fixture inventory has a VIP");
    inventory.loadBalancers.forEach((lb, index) => {
        const res = registered.find((r) => r.type === "command:remote:Command" && r.name === `api-lb-${lb.name}-keepalived`);
        assert.ok(res, `no keepalived command for ${lb.name}: ${registered.map((r) => r.name).join(", ")}`);
        const deployed = unwrapInput(res.inputs.stdin);
        assert.ok(deployed.secret, "keepalived.conf holds the VRRP password: secret");
        const measured = labKeepalivedConfig({
            balancers: inventory.loadBalancers.map((x) => x.address), index, vip: inventory.vip as string,
            interface: inventory.loadBalancer.interface, routerId: inventory.loadBalancer.vrrpRouterId, authPass: VRRP_PASSWORD,
        });
        assert.equal(deployed.value, measured);
    });
});
