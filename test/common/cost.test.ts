import {
  budgetReachedAt,
  closeCharge,
  costSoFar,
  emptyLedger,
  formatUsd,
  openCharge,
  ratePerHour,
} from '../../src/common/cost';

const T0 = Date.parse('2026-12-01T00:00:00Z');
const HOUR = 3_600_000;

describe('the cost ledger', () => {
  test('an open instance costs its price per hour for the time it has run', () => {
    const l = emptyLedger();
    openCharge(l, 'a', 2.5, T0);
    expect(costSoFar(l, T0 + HOUR / 2)).toBeCloseTo(1.25, 10);
    expect(ratePerHour(l)).toBe(2.5);
  });

  test('closing adds what it cost to the accrued total; later time adds nothing', () => {
    const l = emptyLedger();
    openCharge(l, 'a', 4, T0);
    closeCharge(l, 'a', T0 + 90 * 60_000);
    expect(l.accruedUsd).toBeCloseTo(6, 10);
    expect(l.open).toEqual([]);
    expect(costSoFar(l, T0 + 10 * HOUR)).toBeCloseTo(6, 10);
    expect(ratePerHour(l)).toBe(0);
  });

  test('two instances at once (a make-before-break move) are both charged', () => {
    const l = emptyLedger();
    openCharge(l, 'old', 3, T0);
    openCharge(l, 'new', 1, T0 + HOUR);
    closeCharge(l, 'old', T0 + 2 * HOUR);
    expect(costSoFar(l, T0 + 3 * HOUR)).toBeCloseTo(3 * 2 + 1 * 2, 10);
    expect(l.instances).toBe(2);
  });

  test('opening the same instance twice charges it once; closing an unknown one changes nothing', () => {
    const l = emptyLedger();
    openCharge(l, 'a', 1, T0);
    openCharge(l, 'a', 1, T0 + HOUR);
    closeCharge(l, 'zzz', T0 + HOUR);
    expect(l.open).toHaveLength(1);
    expect(costSoFar(l, T0 + HOUR)).toBeCloseTo(1, 10);
  });

  test('a clock before the start never makes a negative cost', () => {
    const l = emptyLedger();
    openCharge(l, 'a', 1, T0);
    expect(costSoFar(l, T0 - HOUR)).toBe(0);
  });

  test('no ledger costs nothing', () => {
    expect(costSoFar(undefined, T0)).toBe(0);
    expect(ratePerHour(undefined)).toBe(0);
  });
});

describe('budgetReachedAt', () => {
  test('the time the current rate reaches the budget', () => {
    const l = emptyLedger();
    l.accruedUsd = 1;
    openCharge(l, 'a', 2, T0);
    // $1 spent, $2/h: $5 is reached after two more hours.
    expect(budgetReachedAt(l, 5, T0)).toBe(T0 + 2 * HOUR);
  });

  test('already reached: now; nothing charged and not reached: never', () => {
    const l = emptyLedger();
    l.accruedUsd = 5;
    expect(budgetReachedAt(l, 5, T0)).toBe(T0);
    expect(budgetReachedAt(emptyLedger(), 5, T0)).toBeUndefined();
  });
});

test('formatUsd shows cents, and four places below a cent', () => {
  expect(formatUsd(12.345)).toBe('$12.35');
  expect(formatUsd(0)).toBe('$0.00');
  expect(formatUsd(0.0042)).toBe('$0.0042');
});
