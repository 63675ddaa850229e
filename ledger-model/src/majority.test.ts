import { majority } from './majority';

describe('majority (Fabric MAJORITY: more than half)', () => {
  test.each([
    [1, 1],
    [2, 2],
    [3, 2],
    [4, 3],
    [5, 3],
    [6, 4],
    [7, 4],
  ])('of %i voters needs %i', (n, needed) => {
    expect(majority(n)).toBe(needed);
  });

  test('is always more than half and one fewer vote never is', () => {
    for (let n = 1; n <= 100; n++) {
      expect(majority(n) * 2).toBeGreaterThan(n);
      expect((majority(n) - 1) * 2).toBeLessThanOrEqual(n);
    }
  });

  test('an empty consortium still needs one vote, so nothing passes unapproved', () => {
    expect(majority(0)).toBe(1);
  });
});
