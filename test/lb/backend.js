#!/usr/bin/env node
// A k3s API-server stand-in for the load-balancer tests: HTTPS on one port, with the
// behaviour HAProxy and the agent-check see from a real k3s apiserver whose anonymous
// auth is off:
// - a request without credentials gets 401 (also /readyz: authentication comes first);
// - a request with a bearer token or a client certificate signed by the test CA is
//   authenticated: /readyz answers 200, or 500 while "not ready"; /watch streams one line
//   with the server's name and stays open (a kubelet's watch); other paths answer 200
//   with the server's name, so the load generator can count each server's share.
// Controls: SIGUSR1 makes it not ready (like an apiserver whose etcd is unhealthy),
// SIGUSR2 ready again. Test-only: the token and the CA are fixtures.
//
// Usage: backend.js --name s1 --port 6443 [--host 0.0.0.0] [--readyz-delay-ms 0] [--fixtures dir]
"use strict";
const https = require("node:https");
const fs = require("node:fs");
const path = require("node:path");

const args = new Map();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ""), process.argv[i + 1]);
const name = args.get("name") || "backend";
const port = Number(args.get("port") || 6443);
const host = args.get("host") || "0.0.0.0";
const readyzDelayMs = Number(args.get("readyz-delay-ms") || 0);
const fixtures = args.get("fixtures") || path.join(__dirname, "fixtures");
const TOKEN = "picluster-lb-test-token";

let ready = true;
process.on("SIGUSR1", () => { ready = false; });
process.on("SIGUSR2", () => { ready = true; });
process.on("SIGTERM", () => process.exit(0));

const unauthorized = JSON.stringify({
    kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "Unauthorized", reason: "Unauthorized", code: 401,
});

function authenticated(req) {
    if (req.headers.authorization === `Bearer ${TOKEN}`) return true;
    // Node reports `authorized` true on a resumed TLS session that never carried a client
    // certificate (HAProxy's checks resume theirs): require the certificate itself.
    const peer = req.socket.getPeerCertificate();
    return req.socket.authorized === true && peer !== null && typeof peer === "object" && Object.keys(peer).length > 0;
}

const server = https.createServer({
    key: fs.readFileSync(path.join(fixtures, "server.key")),
    cert: fs.readFileSync(path.join(fixtures, "server.crt")),
    ca: fs.readFileSync(path.join(fixtures, "ca.crt")),
    requestCert: true,
    rejectUnauthorized: false,
}, (req, res) => {
    const answer = () => {
        if (!authenticated(req)) {
            res.writeHead(401, { "content-type": "application/json" });
            res.end(unauthorized);
            return;
        }
        if (req.url.startsWith("/watch")) {
            // A watch, like a kubelet's: the answer streams and stays open.
            res.writeHead(200, { "content-type": "application/json" });
            res.write(JSON.stringify({ type: "ADDED", server: name }) + "\n");
            return;
        }
        if (req.url === "/readyz") {
            res.writeHead(ready ? 200 : 500, { "content-type": "text/plain" });
            res.end(ready ? "ok" : "[-]etcd failed: reason withheld\nreadyz check failed");
            return;
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ server: name, gitVersion: "v1.33.5+k3s1" }));
    };
    if (req.url === "/readyz" && readyzDelayMs > 0) setTimeout(answer, readyzDelayMs);
    else answer();
});
server.keepAliveTimeout = 1000;
server.listen(port, host, () => {
    process.stdout.write(`listening ${name} ${host}:${port}\n`);
});
