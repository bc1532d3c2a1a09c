// The baseline's workflow: one no-op activity. Bundled by the SDK for the bench's own worker.
'use strict';
const { proxyActivities } = require('@temporalio/workflow');

const { noop } = proxyActivities({ startToCloseTimeout: '30s' });

exports.baselineWorkflow = async function baselineWorkflow() {
  await noop();
};
