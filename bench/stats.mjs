// Latency figures shared by the bench modes.

/** Runs fn n times one after another; answers each run's milliseconds. */
export async function timeN(n, fn) {
    const samples = [];
    for (let i = 0; i < n; i++) {
        const t = performance.now();
        await fn(i);
        samples.push(performance.now() - t);
    }
    return samples;
}

/** Nearest-rank percentiles (ms, one decimal) of samples; null values when there are none. */
export function percentiles(samplesMs, ps) {
    const s = [...samplesMs].sort((a, b) => a - b);
    return Object.fromEntries(ps.map((p) => [`p${p}Ms`, s.length ? Number(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))].toFixed(1)) : null]));
}
