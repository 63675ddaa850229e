import { randomUUID } from 'node:crypto';
import { ipfsPins } from '../support/ipfs.js';
import { Rest, expectProblem, expectStatus, send, token, type Reply } from '../support/rest.js';
import { eventually } from '../support/tools.js';

// Vital signs (issue 14) through a real network: a stream of a few thousand samples stored as
// encrypted `vitals` chunks, readable at a consented hospital; live views (SSE) at the hospital
// the device posts to (sub-second) and at a consented one (after commit and envelope delivery),
// the latter ended by revocation; bad input refused with nothing written.

interface Sample {
  t: string;
  code: string;
  value?: number;
  values?: number[];
  periodMs?: number;
  unit: string;
}

interface SseEvent {
  event: string;
  data: { patientId?: string; purpose?: string; basis?: string; accessTxId?: string; samples?: Sample[]; reason?: string };
  at: number;
}

/** A Server-Sent Events client on fetch: collects events as they come. */
class LiveView {
  readonly events: SseEvent[] = [];
  closed = false;
  readonly #controller = new AbortController();
  readonly #waiters = new Set<() => void>();

  static async open(rest: Rest, n: number, path: string, tok: string, purpose = 'treatment'): Promise<{ view?: LiveView; reply?: Reply }> {
    const view = new LiveView();
    const res = await fetch(rest.url(n) + path, { headers: { authorization: `Bearer ${tok}`, 'x-purpose-of-use': purpose }, signal: view.#controller.signal });
    if (res.status !== 200) {
      const bytes = Buffer.from(await res.arrayBuffer());
      const contentType = res.headers.get('content-type') ?? '';
      return { reply: { status: res.status, headers: res.headers, contentType, bytes, body: contentType.includes('json') ? JSON.parse(bytes.toString()) : undefined } };
    }
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    void view.#read(res.body!);
    return { view };
  }

  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const part of body) {
        buffer += decoder.decode(part, { stream: true });
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) this.events.push({ event, data: JSON.parse(data) as SseEvent['data'], at: Date.now() });
          this.#notify();
        }
      }
    } catch {
      // aborted by close()
    }
    this.closed = true;
    this.#notify();
  }

  #notify(): void {
    for (const w of this.#waiters) w();
  }

  /** The first event from index `from` on that matches, within timeoutMs. */
  async next(match: (e: SseEvent) => boolean, timeoutMs: number, from = 0): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find(match);
      if (found) return found;
      if (this.closed) throw new Error(`stream closed without the event; got ${JSON.stringify(this.events.map((e) => e.event))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(this.events.map((e) => e.event))}`);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.#waiters.add(done);
      });
    }
  }

  close(): void {
    this.#controller.abort();
  }
}

describe('vital signs through REST', () => {
  let rest: Rest;
  const run = randomUUID().slice(0, 8);
  const patientId = `Hospital1MSP:e2e-vit-${run}`;
  const clinician = (n: number) => token(n, `dr-e2e-vit-h${n}`, 'clinician');
  const patient = () => token(1, patientId, 'patient');
  const vitalsPath = `/api/v1/patients/${patientId}/vitals`;
  const views: LiveView[] = [];
  const ndjson = (samples: unknown[]) => samples.map((s) => JSON.stringify(s)).join('\n') + '\n';
  const post = async (n: number, body: string | Buffer, contentType = 'application/x-ndjson') =>
    rest.call(n, 'POST', vitalsPath, { token: await clinician(n), body, headers: { 'content-type': contentType } });

  // 3000 samples over 150 s from a minute boundary: heart rate and SpO2 each second, ECG lead II bursts.
  const base = Date.parse('2026-11-23T10:00:00.000Z');
  const stream: Sample[] = [];
  for (let i = 0; stream.length < 3000; i++) {
    const t = new Date(base + i * 50).toISOString();
    if (i % 20 === 0) stream.push({ t, code: 'heart-rate', value: 60 + (i % 30), unit: '/min' });
    else if (i % 20 === 10) stream.push({ t, code: 'spo2', value: 95 + (i % 5), unit: '%' });
    else stream.push({ t, code: 'ecg-ii', values: [0.1, 0.4, -0.2, (i % 7) / 10], periodMs: 4, unit: 'mV' });
  }
  const spanMs = Date.parse(stream.at(-1)!.t) - base;
  let chunks: { recordId: string; start: string; end: string; samples: number }[] = [];
  let consentId = '';

  async function patientState() {
    const tok = await patient();
    const records = expectStatus(await rest.call(1, 'GET', `/api/v1/patients/${patientId}/records`, { token: tok }), 200);
    const audit = expectStatus(await rest.call(1, 'GET', `/api/v1/audit/patients/${patientId}`, { token: tok }), 200) as { type: string }[];
    return { records, audit: audit.filter((e) => !e.type.startsWith('Envelope')) };
  }

  async function pins(): Promise<string[]> {
    const all: string[] = [];
    for (const h of rest.instance.hospitals) all.push(...(await ipfsPins(h.kubo.rpc)).map((cid) => `${h.name}:${cid}`));
    return all.sort();
  }

  async function accessEntries(actor: string): Promise<{ txId: string; recordId: string; details?: unknown }[]> {
    const audit = expectStatus(await rest.call(1, 'GET', `/api/v1/audit/patients/${patientId}`, { token: await patient() }), 200) as {
      type: string;
      actor: string;
      txId: string;
      recordId: string;
    }[];
    return audit.filter((e) => e.type === 'RecordAccessed' && e.actor === actor);
  }

  beforeAll(async () => {
    rest = await Rest.open();
    expectStatus(await rest.call(1, 'POST', '/api/v1/patients', { token: await clinician(1), json: { patientId } }), 201);
  });

  afterAll(() => {
    for (const v of views) v.close();
  });

  test('bad input is a problem (400, 413, 415) naming what is wrong, and nothing is written to the ledger or IPFS', async () => {
    const before = await patientState();
    const pinsBefore = await pins();
    const good = stream.slice(0, 5);

    const notJson = expectProblem(await post(1, ndjson(good.slice(0, 2)) + '{"t": oops\n' + ndjson(good.slice(2))), 400);
    expect(notJson.detail).toMatch(/line 3/);
    const outOfOrder = expectProblem(await post(1, ndjson([good[0], good[2], good[1], good[3]])), 400);
    expect(outOfOrder.detail).toMatch(/line 3.*earlier/);
    const extraField = expectProblem(await post(1, ndjson([good[0], { ...good[1], note: 'free text' }])), 400);
    expect(JSON.stringify(extraField.errors)).toMatch(/line 2/);
    const wrongUnit = expectProblem(await post(1, ndjson([{ ...good[0], unit: 'bpm' }])), 400);
    expect(JSON.stringify(wrongUnit.errors)).toMatch(/line 1\]\.unit/);
    expectProblem(await post(1, ndjson([{ t: 'yesterday', code: 'heart-rate', value: 70, unit: '/min' }])), 400);
    expectProblem(await post(1, ndjson([{ t: good[0].t, code: 'heart-rate', value: 70, values: [1], unit: '/min' }])), 400);
    expectProblem(await post(1, '\n\n'), 400);

    // More samples than allowed (100 000 by default) in fewer bytes than the byte limit.
    const tooMany = Array.from({ length: 100_001 }, (_, i) => `{"t":"${new Date(base + i).toISOString()}","code":"spo2","value":97,"unit":"%"}`).join('\n');
    const many = expectProblem(await post(1, tooMany), 413);
    expect(many.detail).toMatch(/more than 100000 samples/);
    // More bytes than allowed (8 MiB by default).
    const huge = Buffer.alloc(9 * 1024 * 1024, 0x20);
    expectProblem(await send(rest, 1, 'POST', vitalsPath, { token: await clinician(1), body: new Uint8Array(huge), headers: { 'content-type': 'application/x-ndjson' } }), 413);
    expectProblem(await post(1, ndjson(good), 'application/json'), 415);
    // Unknown patient: 404, nothing written either.
    expectProblem(await rest.call(1, 'POST', `/api/v1/patients/Hospital1MSP:e2e-vit-none-${run}/vitals`, { token: await clinician(1), body: ndjson(good), headers: { 'content-type': 'application/x-ndjson' } }), 404);

    expect(await patientState()).toEqual(before);
    expect(await pins()).toEqual(pinsBefore);
  });

  test('a stream of 3000 samples is stored as one encrypted vitals record per minute, listed with the records and readable as NDJSON', async () => {
    const stored = expectStatus(await post(1, ndjson(stream)), 201);
    chunks = stored.chunks;
    expect(stored.samples).toBe(3000);
    expect(chunks.length).toBe(Math.floor(spanMs / 60_000) + 1);
    expect(chunks.map((c) => c.samples).reduce((a, b) => a + b, 0)).toBe(3000);
    expect(chunks[0].start).toBe(new Date(base).toISOString());

    const records = expectStatus(await rest.call(1, 'GET', `/api/v1/patients/${patientId}/records`, { token: await clinician(1) }), 200) as { recordId: string; category: string }[];
    for (const c of chunks) expect(records.find((r) => r.recordId === c.recordId)).toMatchObject({ category: 'vitals' });

    const read: Sample[] = [];
    for (const c of chunks) {
      const content = await rest.call(1, 'GET', `/api/v1/records/${c.recordId}/content`, { token: await clinician(1) });
      expect(content.status).toBe(200);
      expect(content.contentType).toBe('application/x-ndjson');
      read.push(...content.bytes.toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as Sample));
    }
    expect(read).toEqual(stream);
  });

  test('with a consent covering vitals, another hospital reads the chunks (after envelope delivery); one without consent cannot see them', async () => {
    const granted = expectStatus(
      await rest.call(1, 'POST', `/api/v1/patients/${patientId}/consents`, {
        token: await patient(),
        json: { grantee: rest.mspId(2), purposes: ['treatment'], scope: { categories: ['vitals'] } },
      }),
      201,
    );
    consentId = granted.consentId;
    const read: Sample[] = [];
    for (const c of chunks) {
      const content = await eventually(
        `chunk ${c.recordId} readable at Hospital2`,
        async () => {
          const r = await rest.call(2, 'GET', `/api/v1/records/${c.recordId}/content`, { token: await clinician(2) });
          return r.status === 200 ? r : undefined;
        },
        90_000,
        500,
      );
      read.push(...content.bytes.toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as Sample));
    }
    expect(read).toEqual(stream);
    expectProblem(await rest.call(3, 'GET', `/api/v1/records/${chunks[0].recordId}/content`, { token: await clinician(3) }), 404);

    // The same samples as FHIR vital-signs Observations at Hospital2 (each chunk read audited first).
    const patientParam = encodeURIComponent(`urn:ehr:patient-id|${patientId}`);
    const fhir = expectStatus(
      await rest.call(2, 'GET', `/fhir/R4/Observation?patient=${patientParam}&code=${encodeURIComponent('http://loinc.org|8867-4')}&_count=100`, { token: await clinician(2) }),
      200,
    );
    const heartRates = stream.filter((s) => s.code === 'heart-rate');
    expect(fhir).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: heartRates.length });
    expect(fhir.entry[0].resource).toMatchObject({
      resourceType: 'Observation',
      status: 'final',
      category: [{ coding: [{ code: 'vital-signs' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
      effectiveDateTime: heartRates.at(-1)!.t,
      valueQuantity: { value: heartRates.at(-1)!.value, code: '/min' },
    });
    // No basis at Hospital3: 404 (an OperationOutcome), as for an unknown patient.
    const none = await rest.call(3, 'GET', `/fhir/R4/Observation?patient=${patientParam}`, { token: await clinician(3) });
    expect(none.status).toBe(404);
    expect(none.body.resourceType).toBe('OperationOutcome');
  });

  test('live views: sub-second at the posting hospital, after commit and delivery at the consented one, audited once per session, ended by revocation', async () => {
    // No basis at Hospital3: 404, as for an unknown patient.
    const denied = await LiveView.open(rest, 3, `${vitalsPath}/live`, await clinician(3));
    expectProblem(denied.reply!, 404);
    // Hospital2's consent allows treatment only.
    const wrongPurpose = await LiveView.open(rest, 2, `${vitalsPath}/live`, await clinician(2), 'research');
    expect(wrongPurpose.reply?.status).toBe(403);

    const h2Before = await accessEntries('dr-e2e-vit-h2');
    const local = (await LiveView.open(rest, 1, `${vitalsPath}/live`, await clinician(1))).view!;
    const remote = (await LiveView.open(rest, 2, `${vitalsPath}/live`, await clinician(2))).view!;
    views.push(local, remote);
    const openLocal = await local.next((e) => e.event === 'open', 10_000);
    const openRemote = await remote.next((e) => e.event === 'open', 10_000);
    expect(openLocal.data).toMatchObject({ patientId, purpose: 'treatment', basis: 'custodian' });
    expect(openRemote.data).toMatchObject({ patientId, purpose: 'treatment', basis: consentId });
    // Audit before disclosure: the session's entry is on the ledger when the stream opens.
    const h2Open = await accessEntries('dr-e2e-vit-h2');
    expect(h2Open.length).toBe(h2Before.length + 1);
    expect(h2Open.map((e) => e.txId)).toContain(openRemote.data.accessTxId);
    expect((await accessEntries('dr-e2e-vit-h1')).map((e) => e.txId)).toContain(openLocal.data.accessTxId);

    // New samples, a minute later than the stream.
    const fresh: Sample[] = Array.from({ length: 50 }, (_, i) => ({ t: new Date(base + 600_000 + i * 100).toISOString(), code: 'heart-rate', value: 80 + (i % 5), unit: '/min' }));
    const sentAt = Date.now();
    const posting = post(1, ndjson(fresh));
    const atLocal = await local.next((e) => e.event === 'samples', 5_000);
    const localMs = atLocal.at - sentAt;
    expect(atLocal.data.samples).toEqual(fresh);
    expectStatus(await posting, 201);
    const acknowledgedMs = Date.now() - sentAt;
    expect(localMs).toBeLessThan(1_000);

    const atRemote = await remote.next((e) => e.event === 'samples', 90_000);
    const remoteMs = atRemote.at - sentAt;
    expect(atRemote.data.samples).toEqual(fresh);
    process.stdout.write(`vitals live latency: local ${localMs} ms, post acknowledged ${acknowledgedMs} ms, remote ${remoteMs} ms\n`);
    // Still one entry for the whole session: pushing the new chunk wrote none.
    expect((await accessEntries('dr-e2e-vit-h2')).length).toBe(h2Before.length + 1);

    // Revocation ends the consented view; the home hospital's view goes on.
    const revokedAt = Date.now();
    expectStatus(await rest.call(1, 'DELETE', `/api/v1/consents/${consentId}`, { token: await patient() }), 200);
    const ended = await remote.next((e) => e.event === 'end', 30_000);
    expect(ended.data.reason).toBe('consent-revoked');
    await eventually('the revoked view closed', async () => (remote.closed ? true : undefined), 5_000, 50);
    process.stdout.write(`vitals live view ended ${ended.at - revokedAt} ms after the revocation was sent\n`);
    expect(local.closed).toBe(false);
    // A new view at Hospital2 is refused now.
    const again = await LiveView.open(rest, 2, `${vitalsPath}/live`, await clinician(2));
    expect(again.reply?.status).toBe(404);
  });
});
