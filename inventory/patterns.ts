// Address and name patterns shared by the inventory (schema.ts) and the streaming settings
// (streaming.ts), which schema.ts imports: kept here so both read one definition.

/** A pinned k3s release, e.g. v1.33.5+k3s1: major, minor, patch and k3s revision captured. */
export const K3S_RELEASE = /^v(\d+)\.(\d+)\.(\d+)\+k3s(\d+)$/;

/** A dotted-quad IPv4 address, each number 0-255 without leading zeros. */
export const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * One RFC 1123 label (lowercase): a hostname, which k3s also uses as the node name, or a
 * Kubernetes namespace name.
 */
export const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** A lowercase DNS name: dot-separated labels, at most 253 characters. */
export const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
