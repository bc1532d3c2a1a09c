/** The RunInstances request of a provision, and the instance the provider reports from its answer. */
import type { Instance as Ec2Instance, RunInstancesCommandInput, Tag } from '@aws-sdk/client-ec2';
import type { Instance, Offer } from '../types';
import type { AwsProviderConfig } from './config';
import type { AwsImage, AwsZone } from './region-info';
import { instanceStateOf } from './state';

/** Where and how one offer is launched. */
export interface LaunchPlan {
  offer: Offer;
  zone: AwsZone;
  image: AwsImage;
  subnetId?: string;
  clientToken: string;
  tags: Tag[];
  /** Base64 boot script. */
  userData: string;
}

/** The RunInstances input of a launch: tagged in the create call, spot one-time, IMDSv2 only. */
export function runInstancesInput(p: LaunchPlan, config: AwsProviderConfig): RunInstancesCommandInput {
  const { offer } = p;
  return {
    ClientToken: p.clientToken,
    ImageId: p.image.id,
    InstanceType: offer.instanceType as RunInstancesCommandInput['InstanceType'],
    MinCount: 1,
    MaxCount: 1,
    Placement: { AvailabilityZone: p.zone.name },
    SubnetId: p.subnetId,
    SecurityGroupIds: config.network[offer.region]?.securityGroupIds,
    KeyName: config.keyName,
    BlockDeviceMappings: [
      {
        DeviceName: p.image.rootDeviceName,
        Ebs: {
          VolumeSize: config.rootDiskGb,
          VolumeType: config.rootVolumeType,
          DeleteOnTermination: true,
        },
      },
    ],
    InstanceMarketOptions: offer.spot
      ? {
          MarketType: 'spot',
          SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate' },
        }
      : undefined,
    // A job that powers the machine off stops the bill too.
    InstanceInitiatedShutdownBehavior: 'terminate',
    MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' },
    UserData: p.userData,
    // Tagged in the create call itself: no window in which an instance exists unowned.
    TagSpecifications: [
      { ResourceType: 'instance', Tags: p.tags },
      { ResourceType: 'volume', Tags: p.tags },
    ],
  };
}

/** The provider's view of a launched EC2 instance. */
export function toInstance(provider: string, i: Ec2Instance, offer: Offer, zone: AwsZone): Instance {
  return {
    provider,
    id: i.InstanceId!,
    region: offer.region,
    zone: zone.id,
    offer,
    address: i.PublicIpAddress ?? i.PrivateIpAddress,
    state: instanceStateOf(i),
    details: {
      zoneName: i.Placement?.AvailabilityZone ?? zone.name,
      instanceType: i.InstanceType,
      imageId: i.ImageId,
      privateIp: i.PrivateIpAddress,
      publicIp: i.PublicIpAddress,
      lifecycle: i.InstanceLifecycle ?? 'on-demand',
      launchTime: i.LaunchTime?.toISOString(),
    },
  };
}
