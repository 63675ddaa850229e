import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Rest, expectProblem, expectStatus, send, token } from '../support/rest.js';

// The mistakes a newcomer makes first, through a real network: a curl -F upload, an upload
// or a JSON body without the right Content-Type, a token taken to the wrong hospital's
// gateway, verify on an erased record, and a document a browser could run.

describe('newcomer mistakes through REST', () => {
  let rest: Rest;
  const run = randomUUID().slice(0, 8);
  const patientId = `Hospital1MSP:e2e-new-${run}`;

  const clinician = (n: number) => token(n, `dr-e2e-new-h${n}`, 'clinician');
  const auditor = (n = 1) => token(n, `auditor-e2e-new-h${n}`, 'auditor');
  const patient = (n = 1) => token(n, patientId, 'patient');
  const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
  const records = (query = 'category=lab') => `/api/v1/patients/${patientId}/records?${query}`;

  async function recordIds(): Promise<string[]> {
    const list = expectStatus(await rest.call(1, 'GET', `/api/v1/patients/${patientId}/records`, { token: await patient() }), 200) as { recordId: string }[];
    return list.map((r) => r.recordId).sort();
  }

  async function content(recordId: string) {
    return rest.call(1, 'GET', `/api/v1/records/${recordId}/content`, { token: await clinician(1) });
  }

  beforeAll(async () => {
    rest = await Rest.open();
    expectStatus(await rest.call(1, 'POST', '/api/v1/patients', { token: await clinician(1), json: { patientId } }), 201);
  });

  test('a multipart upload (curl -F file=@report.pdf) stores exactly the file bytes, its type and name', async () => {
    const document = randomBytes(62_300);
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(document)], { type: 'application/pdf' }), 'report.pdf');
    const stored = expectStatus(await send(rest, 1, 'POST', records('category=imaging&title=MRI'), { token: await clinician(1), body: form }), 201);
    expect(stored).toMatchObject({ plaintextSize: document.length, sha256: sha256(document), category: 'imaging' });
    expect(stored.ciphertextSize).toBeGreaterThan(document.length);

    const read = await content(stored.recordId);
    expect(read.status).toBe(200);
    expect(read.contentType).toBe('application/pdf');
    expect(read.headers.get('content-disposition')).toContain('filename="report.pdf"');
    expect(read.bytes.length).toBe(document.length);
    expect(Buffer.compare(read.bytes, document)).toBe(0);

    const meta = expectStatus(await rest.call(1, 'GET', `/api/v1/records/${stored.recordId}`, { token: await auditor() }), 200);
    expect(meta).toMatchObject({ ciphertextSize: stored.ciphertextSize });
    expect(meta).not.toHaveProperty('size');
  });

  test('an upload with no Content-Type is 415 with the --data-binary hint, and stores nothing', async () => {
    const before = await recordIds();
    const p = expectProblem(await send(rest, 1, 'POST', records(), { token: await clinician(1), body: new Uint8Array(randomBytes(1024)) }), 415);
    expect(p.detail).toMatch(/--data-binary/);
    expect(p.detail).toMatch(/Content-Type/);
    const form = expectProblem(
      await send(rest, 1, 'POST', records(), { token: await clinician(1), body: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      415,
    );
    expect(form.detail).toMatch(/--data-binary/);
    expect(await recordIds()).toEqual(before);
  });

  test('a JSON operation sent text/plain or XML is 415 naming application/json, and registers nothing', async () => {
    const id = `Hospital1MSP:e2e-new-x-${randomUUID()}`;
    const text = expectProblem(
      await send(rest, 1, 'POST', '/api/v1/patients', { token: await clinician(1), body: JSON.stringify({ patientId: id }), headers: { 'content-type': 'text/plain' } }),
      415,
    );
    expect(text.detail).toContain('application/json');
    const xml = expectProblem(
      await send(rest, 1, 'POST', '/api/v1/patients', { token: await clinician(1), body: `<patient id="${id}"/>`, headers: { 'content-type': 'application/xml' } }),
      415,
    );
    expect(xml.detail).toContain('application/json');
    const form = expectProblem(
      await send(rest, 1, 'POST', '/api/v1/patients', {
        token: await clinician(1),
        body: JSON.stringify({ patientId: id }),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
      415,
    );
    expect(form.detail).toMatch(/curl -d/);
    expectProblem(
      await send(rest, 2, 'POST', '/api/v1/access-requests', {
        token: await clinician(2),
        body: `<request patient="${patientId}"/>`,
        headers: { 'content-type': 'application/xml' },
      }),
      415,
    );

    // Nothing registered under that ID, nor any patient in its place, nor a request.
    expectProblem(await rest.call(1, 'GET', `/api/v1/audit/patients/${id}`, { token: await auditor() }), 404);
    const requests = expectStatus(await rest.call(1, 'GET', `/api/v1/patients/${patientId}/access-requests`, { token: await patient() }), 200);
    expect(requests).toEqual([]);
  });

  test("a token taken to another hospital's gateway: the 401 names the hospital it was issued for", async () => {
    const p = expectProblem(await rest.call(1, 'GET', '/api/v1/hospitals', { token: await clinician(2) }), 401);
    expect(p.detail).toContain(rest.mspId(2));
    expect(p.detail).toContain(rest.mspId(1));
    expect(p.detail).not.toMatch(/signature invalid/);
  });

  test('verify on an erased record says erased, not damaged', async () => {
    const stored = expectStatus(
      await rest.call(1, 'POST', records('category=note'), { token: await clinician(1), body: randomBytes(2048), headers: { 'content-type': 'text/plain' } }),
      201,
    );
    expectStatus(await rest.call(1, 'DELETE', `/api/v1/records/${stored.recordId}`, { token: await patient() }), 200);
    const v = expectStatus(await rest.call(1, 'GET', `/api/v1/records/${stored.recordId}/verify`, { token: await auditor() }), 200);
    expect(v).toMatchObject({ cid: stored.cid, status: 'erased', state: 'erased', intact: false });
    expect(v.detail).toMatch(/erased/);
  });

  test('download headers: the stored type, nosniff, a sandboxing CSP, HTML as an attachment', async () => {
    const html = Buffer.from('<!doctype html><script>alert(document.cookie)</script>');
    const stored = expectStatus(
      await rest.call(1, 'POST', records('category=note&fileName=summary.pdf'), { token: await clinician(1), body: html, headers: { 'content-type': 'text/html' } }),
      201,
    );
    const read = await content(stored.recordId);
    expect(read.status).toBe(200);
    expect(read.contentType).toBe('text/html');
    expect(read.headers.get('x-content-type-options')).toBe('nosniff');
    expect(read.headers.get('content-security-policy')).toBe("sandbox; default-src 'none'");
    expect(read.headers.get('content-disposition')).toMatch(/^attachment\b/);
    expect(Buffer.compare(read.bytes, html)).toBe(0);
  });

  test('every audit entry of the patient names an actor; registration names the clinician', async () => {
    const trail = expectStatus(await rest.call(1, 'GET', `/api/v1/audit/patients/${patientId}`, { token: await auditor() }), 200) as { type: string; actor: string }[];
    expect(trail[0]).toMatchObject({ type: 'PatientRegistered', actor: 'dr-e2e-new-h1' });
    for (const e of trail) expect(e.actor).toMatch(/\S/);
  });
});
