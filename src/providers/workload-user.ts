/**
 * The boot script's lines that keep a cloud workload away from what the agent holds: the workload
 * runs as an unprivileged user (DRIFTLESS_WORKLOAD_USER, `driftless-workload` unless the
 * environment says otherwise; empty runs it as root beside the agent, which only a harness that
 * plays the VM on its own machine should do), that user cannot reach the instance metadata
 * service (the instance role's credentials), and the agent's directory is root's alone.
 */

/** The user a cloud workload runs as unless DRIFTLESS_WORKLOAD_USER says otherwise. */
export const CLOUD_WORKLOAD_USER = 'driftless-workload';

/** The instance metadata service: EC2's IMDS, and GCE's (metadata.google.internal is this address). */
export const METADATA_ADDRESS = '169.254.169.254';
/** EC2's IMDS over IPv6, where the instance has it. */
export const METADATA_ADDRESS_V6 = 'fd00:ec2::254';

/**
 * Bash lines (for a script under `set -euo pipefail`, run as root, after `cd` into
 * $DRIFTLESS_INSTANCE_DIR) that export DRIFTLESS_WORKLOAD_USER and, when it is not empty, create
 * the user if missing and reject its packets to the metadata service with iptables (nft where
 * iptables is missing). With neither tool the script fails: a workload that could read the
 * instance role's credentials is not started. The instance directory becomes root's only (0700):
 * the agent gives the workload a working directory of its own inside it (<dir>/work).
 */
export function workloadUserLines(): string[] {
  const v4 = METADATA_ADDRESS;
  const v6 = METADATA_ADDRESS_V6;
  const rule = (addr: string) => `-d ${addr} -m owner --uid-owner "$wl_uid" -j REJECT`;
  return [
    `export DRIFTLESS_WORKLOAD_USER="\${DRIFTLESS_WORKLOAD_USER-${CLOUD_WORKLOAD_USER}}"`,
    'chmod 700 "$DRIFTLESS_INSTANCE_DIR"',
    'if [ -n "$DRIFTLESS_WORKLOAD_USER" ]; then',
    '  if ! id -u "$DRIFTLESS_WORKLOAD_USER" >/dev/null 2>&1; then',
    '    useradd --system --create-home --shell /usr/sbin/nologin "$DRIFTLESS_WORKLOAD_USER"',
    '  fi',
    '  wl_uid="$(id -u "$DRIFTLESS_WORKLOAD_USER")"',
    "  # The workload must not reach the metadata service: it hands out the instance role's credentials.",
    '  if command -v iptables >/dev/null 2>&1; then',
    `    iptables -C OUTPUT ${rule(v4)} 2>/dev/null || iptables -I OUTPUT 1 ${rule(v4)}`,
    '    if command -v ip6tables >/dev/null 2>&1; then',
    `      ip6tables -C OUTPUT ${rule(v6)} 2>/dev/null || ip6tables -I OUTPUT 1 ${rule(v6)} || true`,
    '    fi',
    '  elif command -v nft >/dev/null 2>&1; then',
    '    nft add table inet driftless',
    "    nft add chain inet driftless output '{ type filter hook output priority 0; policy accept; }'",
    '    nft flush chain inet driftless output',
    `    nft add rule inet driftless output meta skuid "$wl_uid" ip daddr ${v4} reject`,
    `    nft add rule inet driftless output meta skuid "$wl_uid" ip6 daddr ${v6} reject`,
    '  else',
    '    echo "driftless: neither iptables nor nft is installed, so the workload user $DRIFTLESS_WORKLOAD_USER' +
      " cannot be kept from the instance metadata service (the instance role's credentials); not starting" +
      ' the agent. Install iptables or nftables in the image." >&2',
    '    exit 1',
    '  fi',
    'fi',
  ];
}
