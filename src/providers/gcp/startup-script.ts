/**
 * The startup-script a GCE instance runs: the shared boot script (../boot-script.ts). Unlike on
 * EC2 the instance id is known before the create call (it is the instance's deterministic name),
 * so it is written into the script; a harness playing the instance may still set its own.
 */
import { bootScript, type BootScriptOptions } from '../boot-script';
import { INSTANCE_NAME } from './names';

export interface StartupScriptOptions extends BootScriptOptions {
  /** The instance's name, which is its id and names the agent's task queue. */
  instanceName: string;
}

/** GCE takes metadata values up to 256 KB. */
export const MAX_METADATA_VALUE_BYTES = 256 * 1024;

export function startupScript(o: StartupScriptOptions): string {
  if (!INSTANCE_NAME.test(o.instanceName)) throw new Error(`not a GCE instance name: ${o.instanceName}`);
  return bootScript(o, [`DRIFTLESS_INSTANCE_ID="\${DRIFTLESS_INSTANCE_ID:-${o.instanceName}}"`], 'gcp');
}
