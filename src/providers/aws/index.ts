/** The AWS provider: EC2 through @aws-sdk/client-ec2. */
export { AwsProvider } from './aws-provider';
export { AWS_TAGS, awsClientToken } from './tags';
export type { AwsProviderOptions } from './aws-provider';
export type { AwsCheckResult, AwsRegionCheck } from './check';
export type { AwsImage, AwsZone } from './region-info';
export { checkAws, type CheckAwsOptions } from './check';
export {
  AwsProviderConfig,
  AwsRegionNetwork,
  DEFAULT_AGENT_COMMAND,
  type AwsProviderConfigInput,
} from './config';
export { classifyAwsError } from './errors';
export { instanceStateOf } from './state';
export { buildUserData, userDataScript, type UserDataOptions } from './user-data';
