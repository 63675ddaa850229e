/** The live views open at this gateway, by patient: where ingest and the ledger's events push samples. */
import type { EndReason, LiveSession } from './live-session.js';
import type { VitalSample } from './samples.js';

export class LiveHub {
    readonly #byPatient = new Map<string, Set<LiveSession>>();

    add(session: LiveSession): void {
        const set = this.#byPatient.get(session.patientId) ?? new Set();
        set.add(session);
        this.#byPatient.set(session.patientId, set);
    }

    remove(session: LiveSession): void {
        const set = this.#byPatient.get(session.patientId);
        if (!set) return;
        set.delete(session);
        if (set.size === 0) this.#byPatient.delete(session.patientId);
    }

    sessionsOf(patientId: string): LiveSession[] {
        return [...(this.#byPatient.get(patientId) ?? [])];
    }

    watched(patientId: string): boolean {
        return this.#byPatient.has(patientId);
    }

    get size(): number {
        let n = 0;
        for (const set of this.#byPatient.values()) n += set.size;
        return n;
    }

    all(): LiveSession[] {
        return [...this.#byPatient.values()].flatMap((set) => [...set]);
    }

    publish(patientId: string, samples: readonly VitalSample[]): void {
        for (const session of this.sessionsOf(patientId)) session.push(samples);
    }

    /** Ends every session `which` selects, with the reason. */
    endWhere(which: (session: LiveSession) => boolean, reason: EndReason): number {
        const ending = this.all().filter(which);
        for (const session of ending) session.end(reason);
        return ending.length;
    }
}
