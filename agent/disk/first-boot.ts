import { z } from 'zod'
import { JoinPolicy } from '../state/cluster-file.js'

// What a freshly written disk does the first time it boots, chosen when the image is
// made (`homecloud image disk`) and kept on its boot partition (homecloud/first-boot.json,
// readable and editable on any computer before the first boot): found a new cluster, or
// join the one whose join material (homecloud/join.json) was put beside it.

export const FIRST_BOOT_FILE = 'first-boot.json'
export const FIRST_BOOT_JOIN_FILE = 'join.json'

export const FirstBoot = z
  .object({
    v: z.literal(1),
    /** `found`: this machine creates a cluster; `join`: it joins the cluster of join.json. */
    mode: z.enum(['found', 'join']),
    clusterName: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a cluster name is lower-case letters, digits and dashes')
      .default('home'),
    /** Founding only: how further machines get in. */
    joinPolicy: JoinPolicy.default('auto'),
    /** This node's name; default hc-<last three MAC bytes>. */
    nodeName: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'a node name is lower-case letters, digits and dashes')
      .optional(),
    /** Answer network boot on the LAN (proxyDHCP: never hands out addresses). */
    netboot: z.boolean().default(true),
  })
  .strict()
export type FirstBoot = z.infer<typeof FirstBoot>
