import { writeFile } from 'node:fs/promises';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOW_BUNDLE } from './worker';

/** Build step: bundle the workflow code once so workers do not bundle at every start. */
async function main() {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('./workflows'),
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} },
  });
  await writeFile(WORKFLOW_BUNDLE, code);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
