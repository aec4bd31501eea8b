import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AgentConfig } from '../../../../agent/config/schema.js'
import { placementPolicyOf } from '../../../../agent/controlplane/parts.js'

test("the coordinator decides by the config's placement settings, the x86 fallback included", () => {
  const byDefault = placementPolicyOf(AgentConfig.parse({}).controlPlane)
  assert.deepEqual(byDefault.eligibleArchs, ['arm64', 'arm'])
  assert.deepEqual(byDefault.fallbackArchs, ['amd64'])
  const off = placementPolicyOf(
    AgentConfig.parse({ controlPlane: { fallbackArchs: [], failoverGraceMs: 5000, votersTarget: 5 } })
      .controlPlane,
  )
  assert.deepEqual(off.fallbackArchs, [])
  assert.equal(off.failoverGraceMs, 5000)
  assert.equal(off.votersTarget, 5)
})
