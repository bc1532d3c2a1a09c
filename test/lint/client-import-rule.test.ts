import { aFileIn, flaggedLines, upToSrc } from './lint-snippet';

// The CLI depends on the rest of src/, never the reverse: eslint.config.mjs rejects an import
// of src/client (values or types) anywhere in src/ outside src/client.

/** Imports of src/client as a file at `file` spells them, then one of the Temporal client. */
function snippet(file: string) {
  const up = upToSrc(file);
  const client = [
    `import { reconcileScheduleId } from '${up}client/services/reconcile';`,
    `import type { WorkloadView } from '${up}client/services/workloads';`,
    `import * as cli from '${up}client';`,
  ];
  const temporal = "import { Client } from '@temporalio/client';";
  const uses = 'export const used = [reconcileScheduleId, cli, Client];\nexport type T = WorkloadView;\n';
  return { client, code: [...client, temporal, uses].join('\n') };
}

test.each([['src/worker.ts'], [aFileIn('src/providers', true)], [aFileIn('src/workflows', true)]])(
  'in %s, importing src/client is rejected, types too; @temporalio/client is not src/client',
  (file) => {
    const { client, code } = snippet(file);
    const flagged = flaggedLines(code, file);
    client.forEach((line, i) => {
      expect([line, flagged.get(i + 1)]).toEqual([
        line,
        expect.stringMatching(/Only src\/client may import src\/client/),
      ]);
    });
    expect(flagged.get(client.length + 1) ?? '').not.toMatch(/Only src\/client/);
  },
);

test('inside src/client the same imports are allowed', () => {
  const file = aFileIn('src/client/commands');
  expect([...flaggedLines(snippet(file).code, file).keys()]).toEqual([]);
});
