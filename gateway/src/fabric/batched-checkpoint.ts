import type { ChaincodeEvent, Checkpointer } from '@hyperledger/fabric-gateway';

/**
 * The event follower's checkpoint, persisted at most every `delayMs` rather than after
 * every event: one file write per event was a measurable share of the gateway's CPU
 * under load. Before it writes, `beforeWrite` runs (the custody outbox's flush), so
 * the checkpoint never gets ahead of the tasks its events recorded. A crash loses at
 * most the last `delayMs` of progress: those events are delivered again and their
 * handling is idempotent.
 */
export class BatchedCheckpoint {
    readonly #file: Checkpointer;
    readonly #beforeWrite: () => void;
    readonly #delayMs: number;
    #pending: ChaincodeEvent | undefined;
    #timer: NodeJS.Timeout | undefined;
    /** Writes one after the other: the file checkpointer does not write atomically. */
    #writing: Promise<void> = Promise.resolve();

    constructor(file: Checkpointer, beforeWrite: () => void, delayMs = 100) {
        this.#file = file;
        this.#beforeWrite = beforeWrite;
        this.#delayMs = delayMs;
    }

    /** The file checkpointer, for the event stream to start from. */
    get checkpointer(): Checkpointer {
        return this.#file;
    }

    /** This event is handled; it is persisted with the next write. */
    note(event: ChaincodeEvent): void {
        this.#pending = event;
        if (this.#timer) return;
        this.#timer = setTimeout(() => {
            this.#timer = undefined;
            this.flush().catch(() => {
                // Retried by the next write; the stream resumes from the older checkpoint meanwhile.
            });
        }, this.#delayMs);
        this.#timer.unref();
    }

    /** Persists the last event noted, now. */
    flush(): Promise<void> {
        clearTimeout(this.#timer);
        this.#timer = undefined;
        this.#writing = this.#writing.then(async () => {
            const event = this.#pending;
            if (!event) return;
            this.#beforeWrite();
            await this.#file.checkpointChaincodeEvent(event);
            if (this.#pending === event) this.#pending = undefined;
        });
        return this.#writing;
    }
}
