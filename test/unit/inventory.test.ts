// Given a stack config, when it is validated, then good inventories resolve roles and
// bad ones are refused with a message that names the key and says what to change.
import { test } from "node:test";
import assert from "node:assert/strict";
import { InventoryError, parseInventory } from "../../inventory/schema";
import { goodRawConfig, RawConfig } from "./fixtures";

function refuse(mutate: (c: RawConfig) => void, ...expected: RegExp[]): void {
    const cfg = goodRawConfig();
    mutate(cfg);
    let error: unknown;
    try {
        parseInventory(cfg);
    } catch (e) {
        error = e;
    }
    assert.ok(error instanceof InventoryError, `expected an InventoryError, got ${String(error)}`);
    for (const re of expected) assert.match(error.message, re);
}

test("given the seed-shaped inventory, roles are resolved in order", () => {
    const inv = parseInventory(goodRawConfig());
    assert.deepEqual(inv.servers.map((h) => h.name), ["s1", "s2", "s3"]);
    assert.deepEqual(inv.loadBalancers.map((h) => h.name), ["lb1", "lb2"]);
    assert.deepEqual(inv.agents.map((h) => h.name), ["a1", "a2"]);
    assert.equal(inv.apiAddress, "198.18.0.100");
    assert.equal(inv.k3s.installScript, "https://get.k3s.io");
    assert.equal(inv.loadBalancer.agentCheckPort, 9707);
    assert.deepEqual(inv.loadBalancer.healthCheck, { intervalMs: 400, timeoutMs: 1000, fall: 1, rise: 2 });
    assert.deepEqual(inv.k3s.etcdSnapshots, { scheduleCron: "0 */12 * * *", retention: 5, copyTo: "etcd-snapshots" }, "k3s's own snapshot defaults");
    assert.equal(inv.ssh.port, 22);
});

test("a partial loadBalancer.healthCheck keeps the other defaults", () => {
    const cfg = goodRawConfig();
    cfg.loadBalancer = { healthCheck: { timeoutMs: 2500 } };
    assert.deepEqual(parseInventory(cfg).loadBalancer.healthCheck, { intervalMs: 400, timeoutMs: 2500, fall: 1, rise: 2 });
});

test("given no vip, the API address is the first load balancer", () => {
    const cfg = goodRawConfig();
    delete cfg.vip;
    assert.equal(parseInventory(cfg).apiAddress, "198.18.0.11");
});

test("given a single server and one LB, it is accepted (odd count)", () => {
    const cfg = goodRawConfig();
    cfg.hosts = cfg.hosts.filter((h) => h.name !== "s2" && h.name !== "s3" && h.name !== "lb2");
    delete cfg.vip;
    assert.equal(parseInventory(cfg).servers.length, 1);
});

// Each bad inventory: what is wrong, and what the message must say.
const bad: [string, (c: RawConfig) => void, ...RegExp[]][] = [
    ["duplicate name", (c) => { c.hosts[1].name = "a1"; }, /picluster:hosts\[1\]\.name/, /duplicate name a1/],
    ["duplicate address", (c) => { c.hosts[1].address = c.hosts[0].address; }, /picluster:hosts\[1\]\.address/, /duplicate address 198\.18\.0\.21/],
    ["address with a number over 255", (c) => { c.hosts[0].address = "198.18.0.300"; }, /hosts\[0\]\.address: is not an IPv4 address/],
    ["address with three parts", (c) => { c.hosts[0].address = "198.18.0"; }, /hosts\[0\]\.address: is not an IPv4 address/],
    ["address as a host name", (c) => { c.hosts[0].address = "rasp00.local"; }, /hosts\[0\]\.address/],
    ["address as a number", (c) => { (c.hosts[0] as Record<string, unknown>).address = 19818; }, /hosts\[0\]\.address: .*IPv4 address/],
    ["host in two roles", (c) => { c.hosts.push({ name: "s1", address: "198.18.0.99", role: "loadbalancer" }); },
        /s1 is listed as server .* and as loadbalancer/, /exactly one role/],
    ["even number of servers", (c) => { c.hosts[0].role = "server"; }, /4 servers is an even number/, /odd count/],
    ["zero servers", (c) => { c.hosts.forEach((h) => { if (h.role === "server") h.role = "agent"; }); }, /no host has role server/],
    ["no load balancer", (c) => { c.hosts.forEach((h) => { if (h.role === "loadbalancer") h.role = "agent"; }); delete c.vip; },
        /no host has role loadbalancer/],
    ["vip equal to a host address", (c) => { c.vip = "198.18.0.31"; }, /picluster:vip: 198\.18\.0\.31 is also the address of hosts\[.\] s1/],
    ["vip with only one load balancer", (c) => { c.hosts = c.hosts.filter((h) => h.name !== "lb2"); }, /picluster:vip: a virtual IP needs at least two loadbalancer/],
    ["malformed vip", (c) => { c.vip = "10.10.50"; }, /picluster:vip: is not an IPv4 address/],
    ["missing ssh key", (c) => { delete c.sshPrivateKey; }, /picluster:sshPrivateKey: is required as a secret/, /config set --secret/],
    ["missing ssh section", (c) => { delete c.ssh; }, /picluster:ssh/],
    ["missing ssh user", (c) => { delete (c.ssh as Record<string, unknown>).user; }, /picluster:ssh\.user: is required/],
    ["bad ssh user", (c) => { (c.ssh as Record<string, unknown>).user = "Pi User"; }, /picluster:ssh\.user: must be a Unix user name/],
    ["ssh port out of range", (c) => { (c.ssh as Record<string, unknown>).port = 70000; }, /picluster:ssh\.port/],
    ["missing k3s version", (c) => { delete (c.k3s as Record<string, unknown>).version; }, /picluster:k3s\.version: is required/],
    ["unpinned k3s version (channel)", (c) => { (c.k3s as Record<string, unknown>).version = "stable"; }, /picluster:k3s\.version: must be a pinned k3s release/],
    ["k3s version without +k3s suffix", (c) => { (c.k3s as Record<string, unknown>).version = "v1.33.5"; }, /picluster:k3s\.version/],
    ["k3s version latest", (c) => { (c.k3s as Record<string, unknown>).version = "latest"; }, /not a channel like 'stable' or 'latest'/],
    ["http install script", (c) => { (c.k3s as Record<string, unknown>).installScript = "http://get.k3s.io"; }, /picluster:k3s\.installScript: must be an https:\/\/ URL/],
    ["relative air-gap path", (c) => { (c.k3s as Record<string, unknown>).installScript = "opt/k3s/install.sh"; }, /picluster:k3s\.installScript/],
    ["air-gapped install script without the binary", (c) => { (c.k3s as Record<string, unknown>).installScript = "/opt/k3s/install.sh"; },
        /picluster:k3s\.installScript: \/opt\/k3s\/install\.sh is an air-gapped install, which also needs picluster:k3s\.airgap\.binary/, /uninstall deletes \/usr\/local\/bin\/k3s/],
    ["air-gap binary without sha256", (c) => { (c.k3s as Record<string, unknown>).airgap = { binary: { path: "./k3s" } }; },
        /picluster:k3s\.airgap\.binary\.sha256: is required/],
    ["air-gap sha256 of only digits, read by YAML as a number", (c) => { (c.k3s as Record<string, unknown>).airgap = { binary: { path: "./k3s", sha256: 1e64 } }; },
        /picluster:k3s\.airgap\.binary\.sha256: must be written as text: put the sha256 in quotes/],
    ["air-gap sha256 in upper case", (c) => { (c.k3s as Record<string, unknown>).airgap = { binary: { path: "./k3s", sha256: "AB".repeat(32) } }; },
        /picluster:k3s\.airgap\.binary\.sha256: must be 64 lowercase hex digits/],
    ["air-gap images path with a space", (c) => {
        (c.k3s as Record<string, unknown>).airgap = { binary: { path: "./k3s", sha256: "a".repeat(64) }, images: { path: "my images.tar", sha256: "b".repeat(64) } };
    }, /picluster:k3s\.airgap\.images\.path: must be a path on this machine/],
    ["unknown top-level key", (c) => { c.servers = ["s1"]; }, /picluster:servers: unknown key/],
    ["unknown host key (typo)", (c) => { (c.hosts[0] as Record<string, unknown>).adress = "1.2.3.4"; }, /picluster:hosts\[0\]\.adress: unknown key/],
    ["unknown role", (c) => { (c.hosts[0] as Record<string, unknown>).role = "master"; }, /picluster:hosts\[0\]\.role: must be one of server, agent, loadbalancer/],
    ["upper-case hostname", (c) => { c.hosts[0].name = "Rasp00"; }, /picluster:hosts\[0\]\.name: must be a lowercase hostname/],
    ["hostname with underscore", (c) => { c.hosts[0].name = "rasp_00"; }, /picluster:hosts\[0\]\.name/],
    ["missing host name", (c) => { delete (c.hosts[0] as Record<string, unknown>).name; }, /picluster:hosts\[0\]\.name: is required/],
    ["empty host list", (c) => { c.hosts = []; }, /picluster:hosts: must list at least one Pi/],
    ["hosts not a list", (c) => { (c as Record<string, unknown>).hosts = "rasp00"; }, /picluster:hosts: is required: a list of Pis/],
    ["malformed host key", (c) => { (c.hosts[0] as Record<string, unknown>).hostKey = "AAAAC3Nza"; }, /picluster:hosts\[0\]\.hostKey: must be the host's public key/],
    ["ssh-rsa host key pin", (c) => { (c.hosts[0] as Record<string, unknown>).hostKey = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7"; }, /picluster:hosts\[0\]\.hostKey: is an ssh-rsa key, which cannot be pinned: .*OpenSSH 8\.8 .*ssh-keyscan -t ed25519/],
    ["overload not above busy", (c) => { c.loadBalancer = { busyPercent: 90, overloadPercent: 90 }; }, /picluster:loadBalancer\.overloadPercent: 90 must be greater than busyPercent \(90\)/],
    ["agent-check on the API port", (c) => { c.loadBalancer = { agentCheckPort: 6443 }; }, /picluster:loadBalancer\.agentCheckPort: 6443 is the Kubernetes API port/],
    ["unknown disabled component", (c) => { (c.k3s as Record<string, unknown>).disable = ["trafik"]; }, /picluster:k3s\.disable\[0\]: lists an unknown component/],
    ["bad cluster CIDR", (c) => { (c.k3s as Record<string, unknown>).clusterCidr = "10.42.0.0"; }, /picluster:k3s\.clusterCidr: must be an IPv4 network such as 10\.42\.0\.0\/16: "10\.42\.0\.0" is not written as address\/prefix length/],
    ["cluster CIDR with an octet over 255", (c) => { c.k3s = { version: "v1.33.5+k3s1", clusterCidr: "10.420.0.0/16" }; }, /picluster:k3s\.clusterCidr: must be an IPv4 network such as 10\.42\.0\.0\/16: 10\.420\.0\.0 is not an IPv4 address/],
    ["cluster CIDR with a prefix over 32", (c) => { c.k3s = { version: "v1.33.5+k3s1", clusterCidr: "10.42.0.0/33" }; }, /picluster:k3s\.clusterCidr: .*\/33 is not a prefix length/],
    ["cluster CIDR with host bits set", (c) => { c.k3s = { version: "v1.33.5+k3s1", clusterCidr: "10.42.7.0/16" }; }, /picluster:k3s\.clusterCidr: .*host bits set: the network of 10\.42\.7\.0\/16 is 10\.42\.0\.0\/16/],
    ["cluster CIDR smaller than a node's /24", (c) => { c.k3s = { version: "v1.33.5+k3s1", clusterCidr: "10.42.0.0/25" }; }, /picluster:k3s\.clusterCidr: is a \/25, smaller than the \/24 each node takes/],
    ["cluster CIDR with fewer /24s than nodes", (c) => { c.k3s = { version: "v1.33.5+k3s1", clusterCidr: "10.42.0.0/23" }; }, /picluster:k3s\.clusterCidr: 10\.42\.0\.0\/23 holds 2 node network\(s\) of \/24, but the cluster has 5 servers and agents/],
    ["service CIDR larger than kube-apiserver accepts", (c) => { c.k3s = { version: "v1.33.5+k3s1", serviceCidr: "10.0.0.0/8" }; }, /picluster:k3s\.serviceCidr: is a \/8: kube-apiserver refuses a service network larger than a \/12/],
    ["service CIDR too small for the cluster DNS", (c) => { c.k3s = { version: "v1.33.5+k3s1", serviceCidr: "10.43.0.0/29" }; }, /picluster:k3s\.serviceCidr: is a \/29: k3s puts the cluster DNS at the network's 10th address/],
    ["pod and service networks overlapping", (c) => { c.k3s = { version: "v1.33.5+k3s1", clusterCidr: "10.42.0.0/15", serviceCidr: "10.43.0.0/16" }; }, /picluster:k3s\.serviceCidr: 10\.43\.0\.0\/16 overlaps the pod network 10\.42\.0\.0\/15/],
    ["a Pi inside the pod network", (c) => { c.k3s = { version: "v1.33.5+k3s1", clusterCidr: "198.18.0.0/16" }; }, /picluster:hosts\[0\]\.address: 198\.18\.0\.21 \(a1\) lies inside the pod network 198\.18\.0\.0\/16 \(picluster:k3s\.clusterCidr\)/],
    ["the VIP inside the service network", (c) => { c.vip = "10.43.0.100"; }, /picluster:vip: 10\.43\.0\.100 lies inside the service network 10\.43\.0\.0\/16/],
    ["streaming on with traefik turned off", (c) => { c.k3s = { version: "v1.33.5+k3s1", disable: ["traefik"] }; }, /picluster:k3s\.disable: turns off traefik, which the streaming platform needs: .*Ingress.*set picluster:streaming\.enabled: false/],
    ["streaming on with servicelb turned off", (c) => { c.k3s = { version: "v1.33.5+k3s1", disable: ["servicelb"] }; }, /picluster:k3s\.disable: turns off servicelb, .*LoadBalancer Service/],
    ["recordings on local-path with local-storage turned off", (c) => { c.k3s = { version: "v1.33.5+k3s1", disable: ["local-storage"] }; }, /picluster:k3s\.disable: turns off local-storage, .*local-path volume/],
    ["bad interface name", (c) => { c.loadBalancer = { interface: "eth 0" }; }, /picluster:loadBalancer\.interface/],
    ["a health-check timeout below 100 ms", (c) => { c.loadBalancer = { healthCheck: { timeoutMs: 50 } }; }, /picluster:loadBalancer\.healthCheck\.timeoutMs: .*100/],
    ["a health check with fall 0", (c) => { c.loadBalancer = { healthCheck: { fall: 0 } }; }, /picluster:loadBalancer\.healthCheck\.fall: .*1/],
    ["a snapshot schedule that is not a cron line", (c) => { c.k3s = { version: "v1.33.5+k3s1", etcdSnapshots: { scheduleCron: "every 12h" } }; }, /picluster:k3s\.etcdSnapshots\.scheduleCron: must be a 5-field cron schedule such as "0 \*\/12 \* \* \*"/],
    ["no snapshots kept", (c) => { c.k3s = { version: "v1.33.5+k3s1", etcdSnapshots: { retention: 0 } }; }, /picluster:k3s\.etcdSnapshots\.retention: must be a whole number from 1 to 1000/],
    ["a misspelt health-check key", (c) => { c.loadBalancer = { healthCheck: { timeout: 2000 } }; }, /picluster:loadBalancer\.healthCheck.*timeout/],
    ["S3 snapshots without a bucket", (c) => { c.k3s = { version: "v1.33.5+k3s1", etcdSnapshots: { s3: {} } }; withS3Keys(c); }, /picluster:k3s\.etcdSnapshots\.s3\.bucket: is required: the bucket k3s uploads its snapshots to/],
    ["an S3 bucket name with capitals", (c) => { c.k3s = { version: "v1.33.5+k3s1", etcdSnapshots: { s3: { bucket: "Pi_Snapshots" } } }; withS3Keys(c); }, /picluster:k3s\.etcdSnapshots\.s3\.bucket: must be an S3 bucket name: 3-63 lowercase/],
    ["an S3 endpoint written as a URL", (c) => { c.k3s = { version: "v1.33.5+k3s1", etcdSnapshots: { s3: { bucket: "snaps", endpoint: "https://nas.lan:9000" } } }; withS3Keys(c); }, /picluster:k3s\.etcdSnapshots\.s3\.endpoint: must be the S3 endpoint as host or host:port without a scheme, .*insecure: true for plain http/],
    ["S3 snapshots without the secret key", (c) => { c.k3s = { version: "v1.33.5+k3s1", etcdSnapshots: { s3: { bucket: "snaps" } } }; c.etcdS3AccessKey = "<secret>"; }, /picluster:etcdS3SecretKey: is required with picluster:k3s\.etcdSnapshots\.s3: .*pulumi config set --secret picluster:etcdS3SecretKey/],
    ["S3 snapshots without either key", (c) => { c.k3s = { version: "v1.33.5+k3s1", etcdSnapshots: { s3: { bucket: "snaps" } } }; }, /picluster:etcdS3AccessKey: is required/, /picluster:etcdS3SecretKey: is required/],
    ["an S3 key without S3 snapshots", (c) => { c.etcdS3AccessKey = "<secret>"; }, /picluster:etcdS3AccessKey: is set but picluster:k3s\.etcdSnapshots\.s3 is not: .*pulumi config rm picluster:etcdS3AccessKey/],
];

function withS3Keys(c: RawConfig): void {
    c.etcdS3AccessKey = "<secret>";
    c.etcdS3SecretKey = "<secret>";
}

for (const [what, mutate, ...expected] of bad) {
    test(`given an inventory with ${what}, it is refused naming the field`, () => refuse(mutate, ...expected));
}

test("there are at least 25 distinct bad inventories", () => {
    assert.ok(bad.length >= 25, `only ${bad.length}`);
});

test("given S3 snapshots with a bucket and both keys, k3s's own defaults fill the rest", () => {
    const cfg = goodRawConfig();
    cfg.k3s = { version: "v1.33.5+k3s1", etcdSnapshots: { s3: { bucket: "pi-etcd-snapshots", folder: "home/k3s" } } };
    withS3Keys(cfg);
    assert.deepEqual(parseInventory(cfg).k3s.etcdSnapshots.s3, {
        endpoint: "s3.amazonaws.com", bucket: "pi-etcd-snapshots", folder: "home/k3s", region: "us-east-1", insecure: false, skipSslVerify: false,
    });
});

test("given the streaming platform off, k3s's bundled components may be turned off", () => {
    const cfg = goodRawConfig();
    cfg.k3s = { version: "v1.33.5+k3s1", disable: ["traefik", "servicelb", "local-storage"] };
    cfg.streaming = { enabled: false };
    assert.deepEqual(parseInventory(cfg).k3s.disable, ["traefik", "servicelb", "local-storage"]);
});

test("given recordings on another storage class, local-storage may be turned off", () => {
    const cfg = goodRawConfig();
    cfg.k3s = { version: "v1.33.5+k3s1", disable: ["local-storage"] };
    cfg.streaming = { recording: { storageClass: "longhorn" } };
    assert.equal(parseInventory(cfg).streaming.recording.storageClass, "longhorn");
});

test("given other pod and service networks apart from the LAN, they are accepted", () => {
    const cfg = goodRawConfig();
    cfg.k3s = { version: "v1.33.5+k3s1", clusterCidr: "172.16.0.0/20", serviceCidr: "172.16.16.0/28" };
    const inv = parseInventory(cfg);
    assert.equal(inv.k3s.clusterCidr, "172.16.0.0/20");
});

test("several problems are reported together, one line each", () => {
    const cfg = goodRawConfig();
    cfg.hosts[0].address = cfg.hosts[1].address;
    cfg.vip = "198.18.0.31";
    try {
        parseInventory(cfg);
        assert.fail("accepted");
    } catch (e) {
        assert.ok(e instanceof InventoryError);
        assert.equal(e.problems.length, 2, e.message);
    }
});
