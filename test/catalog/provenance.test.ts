import {
  ageDays,
  describeCatalog,
  describePrices,
  staleCatalogWarnings,
  type CatalogProvenance,
} from '../../src/catalog/provenance';

const NOW = Date.parse('2026-12-02T10:00:00Z');
const DAY = 86_400_000;
const updated: CatalogProvenance = {
  provider: 'aws',
  kind: 'updated',
  file: '/c/aws.csv',
  asOf: '2026-11-30T08:00:00.000Z',
};
const bundled: CatalogProvenance = {
  provider: 'gcp',
  kind: 'bundled',
  file: '/d/gcp.csv',
  asOf: '2025-06-04',
};

test('ages count whole days, never below zero, undefined without a date', () => {
  expect(ageDays(updated, NOW)).toBe(2);
  expect(ageDays(bundled, NOW)).toBe(546);
  expect(ageDays({ asOf: '2026-12-05' }, NOW)).toBe(0);
  expect(ageDays({}, NOW)).toBeUndefined();
  expect(ageDays({ asOf: 'yesterday' }, NOW)).toBeUndefined();
});

test('the prices line names each catalog, where it came from, its date and age', () => {
  expect(describePrices([updated, bundled], NOW)).toBe(
    'prices: aws catalog updated 2026-11-30 (2 days old), gcp bundled 2025-06-04 (546 days old)',
  );
  expect(
    describeCatalog({ provider: 'aws', kind: 'dir', file: '/my/aws.csv', asOf: '2026-12-01T11:00:00Z' }, NOW),
  ).toBe('aws from /my/aws.csv, modified 2026-12-01 (0 days old)');
  expect(describeCatalog({ provider: 'gcp', kind: 'bundled', file: '/d/gcp.csv' }, NOW)).toBe(
    'gcp bundled (date unknown)',
  );
  expect(describePrices([], NOW)).toBeUndefined();
});

test('catalogs older than maxAge are warned about, with the command that refreshes them', () => {
  expect(staleCatalogWarnings([updated, bundled], 7 * DAY, NOW)).toEqual([
    'warning: the gcp catalog is 546 days old (bundled snapshot, older than catalog.maxAge 7d): its prices may be wrong; run `driftless catalog update --provider gcp`',
  ]);
  expect(staleCatalogWarnings([updated], DAY, NOW)).toEqual([
    'warning: the aws catalog is 2 days old (updated, older than catalog.maxAge 1d): its prices may be wrong; run `driftless catalog update --provider aws`',
  ]);
  // Exactly maxAge old is not stale yet; off never warns; an unknown date is not guessed.
  expect(staleCatalogWarnings([updated], NOW - Date.parse(updated.asOf!), NOW)).toEqual([]);
  expect(staleCatalogWarnings([updated, bundled], undefined, NOW)).toEqual([]);
  expect(staleCatalogWarnings([{ ...bundled, asOf: undefined }], DAY, NOW)).toEqual([]);
  expect(
    staleCatalogWarnings(
      [{ provider: 'aws', kind: 'dir', file: '/my/aws.csv', asOf: '2026-01-01' }],
      36 * 3_600_000,
      NOW,
    ),
  ).toEqual([
    'warning: the aws catalog is 335 days old (from the catalog directory, older than catalog.maxAge 36h): its prices may be wrong; replace /my/aws.csv',
  ]);
});
