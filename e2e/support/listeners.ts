import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** A socket some process listens on (TCP) or is bound to (UDP). */
export interface Listener {
  proto: 'tcp' | 'tcp6' | 'udp' | 'udp6';
  address: string;
  port: number;
  pid: number;
}

// /proc/net/* print addresses as hex in host byte order, 32 bits at a time.
function decodeAddress(hex: string): string {
  if (hex.length === 8) {
    return [0, 1, 2, 3].map((i) => parseInt(hex.slice(6 - 2 * i, 8 - 2 * i), 16)).join('.');
  }
  const words = [0, 1, 2, 3].map((w) => hex.slice(8 * w, 8 * w + 8).match(/../g)!.reverse().join(''));
  const groups = words.join('').match(/.{4}/g)!.map((g) => parseInt(g, 16).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** Socket inode -> pid, for the given pids (readable as their owner). */
function socketOwners(pids: number[]): Map<string, number> {
  const owners = new Map<string, number>();
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) owners.set(m[1], pid);
      } catch {
        // the descriptor closed while we looked
      }
    }
  }
  return owners;
}

/**
 * Every TCP listener and every bound UDP socket of the given processes, read from /proc
 * (no tool needed): the address each one accepts connections on.
 */
export function listenersOf(pids: number[]): Listener[] {
  const owners = socketOwners(pids);
  const found: Listener[] = [];
  for (const proto of ['tcp', 'tcp6', 'udp', 'udp6'] as const) {
    let table = '';
    try {
      table = readFileSync(`/proc/net/${proto}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of table.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const [addrHex, portHex] = f[1].split(':');
      const state = f[3];
      // TCP: LISTEN (0A). UDP: bound sockets show as 07 (unconnected).
      if (proto.startsWith('tcp') ? state !== '0A' : state !== '07') continue;
      const pid = owners.get(f[9]);
      if (pid === undefined) continue;
      found.push({ proto, address: decodeAddress(addrHex), port: parseInt(portHex, 16), pid });
    }
  }
  return found;
}
