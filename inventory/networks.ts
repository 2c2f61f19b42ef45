// IPv4 networks as a network engineer reads them: a CIDR is a network (four octets 0-255, a
// prefix 0-32, no host bits set), and the cluster's pod network, its service network and the
// Pis' own addresses must not overlap: a Pi inside the pod or service range is unreachable from
// the pods (their traffic to it is routed into the cluster), and overlapping pod and service
// ranges break kube-proxy. Pure, like schema.ts.
import { IPV4 } from "./patterns";

export interface Network {
    /** The network address as an unsigned 32-bit number. */
    readonly base: number;
    readonly prefix: number;
    readonly text: string;
}

/** "a.b.c.d" -> its unsigned 32-bit value; undefined for anything else. */
export function ipv4ToNumber(s: string): number | undefined {
    if (!IPV4.test(s)) return undefined;
    return s.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

export function numberToIpv4(n: number): string {
    return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

/** The number of addresses in a /prefix. */
export function networkSize(prefix: number): number {
    return 2 ** (32 - prefix);
}

export type ParsedCidr = { readonly ok: true; readonly network: Network } | { readonly ok: false; readonly problem: string };

/** Reads "a.b.c.d/p" as a network; a refusal says what is wrong and what was probably meant. */
export function parseCidr(text: string): ParsedCidr {
    const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
    if (!m) return { ok: false, problem: `${JSON.stringify(text)} is not written as address/prefix length` };
    const address = ipv4ToNumber(m[1]);
    if (address === undefined) return { ok: false, problem: `${m[1]} is not an IPv4 address: four numbers 0-255 separated by dots, e.g. 10.42.0.0/16` };
    const prefix = Number(m[2]);
    if (prefix > 32) return { ok: false, problem: `/${prefix} is not a prefix length: IPv4 prefixes are 0-32` };
    const size = networkSize(prefix);
    const base = address - (address % size);
    if (base !== address) {
        return { ok: false, problem: `${text} has host bits set: the network of ${m[1]}/${prefix} is ${numberToIpv4(base)}/${prefix}; write that` };
    }
    return { ok: true, network: { base, prefix, text } };
}

export function overlaps(a: Network, b: Network): boolean {
    return a.base < b.base + networkSize(b.prefix) && b.base < a.base + networkSize(a.prefix);
}

export function contains(net: Network, address: string): boolean {
    const n = ipv4ToNumber(address);
    return n !== undefined && n >= net.base && n < net.base + networkSize(net.prefix);
}
