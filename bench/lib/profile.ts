import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

// --cpu-profile: a V8 CPU profile of this process's main thread during S-E2E, summarised by package. Workflow code
// runs in the SDK's worker threads and is not in it. Profiling slows the process: such a run's ratios are not the
// numbers to quote.

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

export async function startProfile(): Promise<() => Promise<Profile>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  return async () => {
    const { profile } = (await session.post('Profiler.stop')) as { profile: Profile };
    session.disconnect();
    return profile;
  };
}

/**
 * Where a frame's code comes from: the npm package, the service's own folder, or V8 itself. Native and Node-internal
 * frames (JSON.parse, crypto, socket writes, the Temporal core bridge...) are charged to the nearest caller in a
 * package or in the service; what the event loop calls directly stays "node internals".
 */
function category(node: ProfileNode, parents: Map<number, ProfileNode>): string {
  const { url, functionName } = node.callFrame;
  if (!url && functionName.startsWith('(')) return functionName;
  if (!url || url.startsWith('node:')) {
    for (let up = parents.get(node.id); up; up = parents.get(up.id)) {
      if (up.callFrame.url && !up.callFrame.url.startsWith('node:')) return category(up, parents);
    }
    return url ? 'node internals (event loop, sockets)' : '(native)';
  }
  if (url.startsWith('wasm://')) return '(wasm: Prisma query compiler)';
  const packageMatch = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url.slice(url.lastIndexOf('node_modules/')));
  if (packageMatch) return packageMatch[1]!;
  const source = /\/(src\/generated\/prisma|src\/[^/]+|bench|scripts)\//.exec(url);
  return source ? source[1]! : url;
}

export function writeProfile(profile: Profile, file: string): void {
  writeFileSync(file, JSON.stringify(profile));
}

/** Share of the sampled (non-idle) time per category, largest first. */
export function summariseProfile(profile: Profile, top = 12): { category: string; percent: number; ms: number }[] {
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const hits = new Map<string, number>();
  const parents = new Map<number, ProfileNode>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parents.set(child, node);
  }
  let all = 0;
  for (const node of profile.nodes) {
    const count = node.hitCount ?? 0;
    if (count === 0 || node.callFrame.functionName === '(idle)') continue;
    const name = category(node, parents);
    hits.set(name, (hits.get(name) ?? 0) + count);
    all += count;
  }
  const sampled = (profile.samples ?? []).length || all;
  const msPerHit = sampled > 0 ? totalMs / sampled : 0;
  return [...hits.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, count]) => ({
      category: name,
      percent: Math.round((count / Math.max(1, all)) * 1000) / 10,
      ms: Math.round(count * msPerHit),
    }));
}
