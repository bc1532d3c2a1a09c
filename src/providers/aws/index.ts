/** The AWS provider: EC2 through @aws-sdk/client-ec2. */
export { AwsProvider, AWS_TAGS, awsClientToken } from './aws-provider';
export type { AwsCheckResult, AwsImage, AwsProviderOptions, AwsRegionCheck, AwsZone } from './aws-provider';
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
