// CPU time per component of an instance, from /proc: each component is started
// under setsid (network/lib/process.sh), so its pid file names a session leader
// and every process of that session (children included) is the component's.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** The component kind a pid file names: hospital1-peer -> peer, hospital2-chaincode-s1 -> chaincode. */
function kindOf(name) {
    const m = /^hospital\d+-(.+)$/.exec(name);
    const rest = m ? m[1] : name;
    return rest.startsWith('chaincode') ? 'chaincode' : rest;
}

/** utime + stime (ticks) and session of every process now, keyed by pid. */
function processes() {
    const out = new Map();
    for (const entry of readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
            // Fields after the command (which may hold spaces) start after the last ')'.
            const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
            out.set(Number(entry), { session: Number(f[3]), ticks: Number(f[11]) + Number(f[12]) });
        } catch {
            // The process ended while we looked.
        }
    }
    return out;
}

/** CPU seconds used so far by each component kind of the instance (peer, orderer, gateway, kubo, cluster, ca, chaincode). */
export function cpuByComponent(stateDir) {
    const runDir = path.join(stateDir, 'run');
    const procs = processes();
    const out = {};
    for (const file of readdirSync(runDir).filter((f) => f.endsWith('.pid'))) {
        const leader = Number(readFileSync(path.join(runDir, file), 'utf8').trim());
        let ticks = 0;
        for (const p of procs.values()) if (p.session === leader) ticks += p.ticks;
        const kind = kindOf(file.replace(/\.pid$/, ''));
        out[kind] = (out[kind] ?? 0) + ticks / TICKS_PER_SECOND;
    }
    return out;
}

/** CPU seconds per component between two readings, and per operation (ms) when ops > 0. */
export function cpuDelta(before, after, ops) {
    const out = {};
    for (const kind of Object.keys(after).sort()) {
        const seconds = Math.max(0, after[kind] - (before[kind] ?? 0));
        out[kind] = { cpuSeconds: Number(seconds.toFixed(2)), ...(ops > 0 ? { cpuMsPerOp: Number(((seconds * 1000) / ops).toFixed(2)) } : {}) };
    }
    return out;
}
