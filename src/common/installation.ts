/** An installation's marks on its instances; shared by the providers, activities and workflows. */

/**
 * Which installation an instance belongs to: the Temporal namespace its workflows run in and the
 * installation's id (src/reconcile/installation.ts). Reconcile and compensation only ever touch
 * instances carrying both of their own; the owner mark alone is shared by every installation
 * that kept the default.
 */
export interface Installation {
  namespace: string;
  id: string;
}

/** Whether marks read back from an instance name this installation (both namespace and id). */
export function isOfInstallation(
  labels: { namespace?: string; installation?: string } | undefined,
  inst: Installation,
): boolean {
  return labels?.namespace === inst.namespace && labels?.installation === inst.id;
}
