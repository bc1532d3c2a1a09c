/** The GCP provider: Compute Engine through @google-cloud/compute (REST transport). */
export { GcpProvider } from './gcp-provider';
export type { GcpProviderOptions } from './gcp-provider';
export type { GcpCheckResult, GcpZoneCheck } from './check';
export { checkGcp, type CheckGcpOptions } from './check';
export { DEFAULT_GCP_IMAGE, GcpProviderConfig, regionOfZone, type GcpProviderConfigInput } from './config';
export { classifyGcpError, classifyOperationError } from './errors';
export { GCP_LABELS, gceInstanceName, gceRequestId, labelValue } from './names';
export { instanceStateOf, goneStateOf } from './state';
export { startupScript, type StartupScriptOptions } from './startup-script';
