import type { ComponentHealth } from '../domain.js';
import type { ServiceContext } from './context.js';

export interface HealthReport {
    ok: boolean;
    components: ComponentHealth[];
}

/** Asks the ledger and the blob store at once; each adapter reports its own components. */
export async function checkHealth(ctx: Pick<ServiceContext, 'ledger' | 'blobs'>): Promise<HealthReport> {
    const settle = (check: () => Promise<ComponentHealth[]>, fallback: string[]) =>
        check().catch((err: unknown) => fallback.map((name) => ({ name, up: false, detail: (err as Error).message })));
    const components = (await Promise.all([settle(() => ctx.ledger.health(), ['fabric']), settle(() => ctx.blobs.health(), ['kubo', 'cluster'])])).flat();
    return { ok: components.every((c) => c.up), components };
}
