// An in-memory stand-in for a Fabric channel, just faithful enough for unit tests:
// writes become visible only after the transaction "commits" (no read-your-writes,
// as in Fabric), a failed transaction writes nothing, the last setEvent wins,
// history is newest first, and a peer reads only its own org's implicit collection.
import type { Context } from 'fabric-contract-api';

interface Version {
  txId: string;
  seconds: number;
  value: Uint8Array;
  isDelete: boolean;
}

export interface Identity {
  mspId: string;
  role?: string | null;
}

export interface InvokeOptions {
  transient?: Record<string, string>;
  /** The org of the peer that runs the proposal; defaults to the caller's. */
  peer?: string;
}

export interface Committed {
  txId: string;
  event: { name: string; payload: Record<string, unknown> } | null;
  /** Orgs whose implicit collections were written or purged (their endorsement is required). */
  collectionOrgs: string[];
}

const SEP = '\u0000';
const toBuf = (u: Uint8Array) => Buffer.from(u);

/** open: the ledger's count of queries not yet closed, which the peer would keep open too. */
function iterator<T>(items: T[], open?: { openIterators: number }) {
  let i = 0;
  let closed = false;
  if (open) open.openIterators++;
  return {
    next: async () => (i < items.length ? { value: items[i++], done: false } : { value: undefined, done: true }),
    close: async () => {
      if (open && !closed) open.openIterators--;
      closed = true;
    },
  };
}

export class FakeLedger {
  readonly state = new Map<string, Uint8Array>();
  readonly versions = new Map<string, Version[]>();
  readonly privateData = new Map<string, Map<string, Uint8Array>>();
  readonly purged: { collection: string; key: string }[] = [];
  readonly log: Committed[] = [];
  /** Seconds since the epoch used as the next transaction's timestamp. */
  now = Date.parse('2030-01-01T00:00:00Z') / 1000;
  private counter = 0;
  /** Rows paginated scans have read (tests check that a page costs O(page)). */
  paginatedRowsRead = 0;
  /** State queries opened and not closed yet (tests check that a walk stopping early closes its query). */
  openIterators = 0;

  advance(seconds: number) {
    this.now += seconds;
  }

  get lastEvent() {
    return this.log.at(-1)?.event ?? null;
  }

  async invoke(identity: Identity, fn: (ctx: Context) => Promise<string>, options: InvokeOptions = {}): Promise<unknown> {
    const txId = `tx${String(++this.counter).padStart(6, '0')}`;
    const stub = new FakeStub(this, txId, this.now, options.transient ?? {}, options.peer ?? identity.mspId);
    const ctx = {
      stub,
      clientIdentity: {
        getMSPID: () => identity.mspId,
        getAttributeValue: (name: string) => (name === 'ehr.role' ? (identity.role ?? null) : null),
        getID: () => `x509::CN=${identity.role ?? 'user'}::${identity.mspId}`,
      },
    } as unknown as Context;
    const result = await fn(ctx);
    this.commit(stub);
    return JSON.parse(result);
  }

  private commit(stub: FakeStub) {
    for (const [k, value] of stub.writes) {
      const isDelete = value === null;
      if (isDelete) this.state.delete(k);
      else this.state.set(k, value);
      const list = this.versions.get(k) ?? [];
      list.push({ txId: stub.txId, seconds: stub.seconds, value: value ?? new Uint8Array(), isDelete });
      this.versions.set(k, list);
    }
    const orgs = new Set<string>();
    for (const [collection, k, value] of stub.privateWrites) {
      orgs.add(collection.replace(/^_implicit_org_/, ''));
      const c = this.privateData.get(collection) ?? new Map<string, Uint8Array>();
      if (value === null) {
        c.delete(k);
        this.purged.push({ collection, key: k });
      } else c.set(k, value);
      this.privateData.set(collection, c);
    }
    const event = stub.event ? { name: stub.event.name, payload: JSON.parse(toBuf(stub.event.payload).toString()) } : null;
    this.log.push({ txId: stub.txId, event, collectionOrgs: [...orgs].sort() });
  }
}

class FakeStub {
  readonly writes = new Map<string, Uint8Array | null>();
  readonly privateWrites: [string, string, Uint8Array | null][] = [];
  event: { name: string; payload: Uint8Array } | null = null;

  constructor(
    private readonly ledger: FakeLedger,
    readonly txId: string,
    readonly seconds: number,
    private readonly transient: Record<string, string>,
    private readonly peerMsp: string,
  ) {}

  getTxID() {
    return this.txId;
  }

  getTxTimestamp() {
    return { seconds: { toNumber: () => this.seconds }, nanos: 0 };
  }

  getTransient() {
    return new Map(Object.entries(this.transient).map(([k, v]) => [k, Buffer.from(v)]));
  }

  createCompositeKey(type: string, attrs: string[]) {
    return SEP + type + SEP + attrs.map((a) => a + SEP).join('');
  }

  splitCompositeKey(k: string) {
    const parts = k.split(SEP);
    return { objectType: parts[1], attributes: parts.slice(2, -1) };
  }

  async getState(k: string) {
    return this.ledger.state.get(k) ?? new Uint8Array();
  }

  async putState(k: string, value: Uint8Array) {
    if (!value || value.length === 0) throw new Error('fake: empty value would be a delete in Fabric');
    this.writes.set(k, Uint8Array.from(value));
  }

  async deleteState(k: string) {
    this.writes.set(k, null);
  }

  async getStateByPartialCompositeKey(type: string, attrs: string[]) {
    const prefix = this.createCompositeKey(type, attrs);
    const rows = [...this.ledger.state.entries()]
      .filter(([k]) => k.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, value]) => ({ key, value }));
    return iterator(rows, this.ledger);
  }

  /** As the peer with LevelDB: a non-empty bookmark is the start key (inclusive); the answer's bookmark is the next key, '' at the end. */
  async getStateByPartialCompositeKeyWithPagination(type: string, attrs: string[], pageSize: number, bookmark = '') {
    const prefix = this.createCompositeKey(type, attrs);
    const start = bookmark === '' ? prefix : bookmark;
    const rows = [...this.ledger.state.entries()]
      // The peer scans [bookmark, prefix + U+10FFFF): a bookmark before the prefix reads other keys.
      .filter(([k]) => k >= start && k < `${prefix}\u{10FFFF}`)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, value]) => ({ key, value }));
    const page = rows.slice(0, pageSize);
    this.ledger.paginatedRowsRead += page.length;
    return { iterator: iterator(page, this.ledger), metadata: { fetchedRecordsCount: page.length, bookmark: rows[pageSize]?.key ?? '' } };
  }

  async getHistoryForKey(k: string) {
    const list = [...(this.ledger.versions.get(k) ?? [])].reverse();
    return iterator(
      list.map((v) => ({
        txId: v.txId,
        value: v.value,
        isDelete: v.isDelete,
        timestamp: { seconds: { toNumber: () => v.seconds }, nanos: 0 },
      })),
    );
  }

  private memberOf(collection: string) {
    if (collection !== `_implicit_org_${this.peerMsp}`) {
      throw new Error(`fake: peer of ${this.peerMsp} is not a member of ${collection}`);
    }
  }

  async getPrivateData(collection: string, k: string) {
    this.memberOf(collection);
    return this.ledger.privateData.get(collection)?.get(k) ?? new Uint8Array();
  }

  async putPrivateData(collection: string, k: string, value: Uint8Array) {
    if (!value || value.length === 0) throw new Error('fake: empty private value');
    this.privateWrites.push([collection, k, Uint8Array.from(value)]);
  }

  async purgePrivateData(collection: string, k: string) {
    this.privateWrites.push([collection, k, null]);
  }

  setEvent(name: string, payload: Uint8Array) {
    this.event = { name, payload };
  }
}
