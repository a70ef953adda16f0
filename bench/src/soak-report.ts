/** The soak's printed report: outcomes, their causes, faults injected, one row per merchant, heap and time. */
import { type SoakFaultKind, type SoakFaultTarget, soakFaultWeights } from './soak-faults.js';
import type { SoakRotationReport } from './soak-rotation.js';
import type { SoakOutageReport, SoakReport } from './soak-run.js';

/**
 * Whether the run passed: every call settled, and every failure was one a retry can fix; with rotations, also no API
 * call made with a token of revoked credentials, and every rotation carried out.
 */
export function soakPassed(report: SoakReport): boolean {
  const rotation = report.rotation;
  return (
    report.lost === 0 &&
    report.failedOther === 0 &&
    (rotation === undefined || (rotation.revokedApiCalls === 0 && rotation.failures.length === 0))
  );
}

/** The report as text, one table after another. */
export function formatSoakReport(report: SoakReport): string {
  const share = (count: number): string => (report.calls === 0 ? '' : `${((100 * count) / report.calls).toFixed(1)} %`);
  const causes = (byCause: Record<string, number>): string[][] =>
    Object.entries(byCause)
      .sort(([, a], [, b]) => b - a)
      .map(([cause, count]) => [`    ${cause}`, String(count), share(count)]);
  const outcomes = table(
    ['outcome', 'calls', 'share'],
    [
      ['calls', String(report.calls), ''],
      ['  succeeded', String(report.succeeded), share(report.succeeded)],
      ['  failed, retryable', String(report.failedRetryable), share(report.failedRetryable)],
      ...causes(report.retryableCauses),
      ['  failed, other (expected 0)', String(report.failedOther), share(report.failedOther)],
      ...causes(report.otherCauses),
      ['  lost (expected 0)', String(report.lost), share(report.lost)],
    ],
  );

  const targets: SoakFaultTarget[] = ['token', 'api'];
  const kinds: SoakFaultKind[] = ['5xx', 'reset', 'stall', 'revoke'];
  const cell = (target: SoakFaultTarget, kind: SoakFaultKind): string =>
    soakFaultWeights[target][kind] !== undefined ? String(report.faults[target].faults[kind]) : '-';
  const injected = (target: SoakFaultTarget): number => Object.values(report.faults[target].faults).reduce((sum, count) => sum + count, 0);
  const faults = table(
    ['faults injected', ...targets.map((target) => `${target} requests`)],
    [
      ['requests received', ...targets.map((target) => String(report.faults[target].requests))],
      ...kinds.map((kind) => [`  ${kind}`, ...targets.map((target) => cell(target, kind))]),
      [
        '  all faults',
        ...targets.map((target) => {
          const requests = report.faults[target].requests;
          return `${injected(target)} (${requests === 0 ? 0 : ((100 * injected(target)) / requests).toFixed(1)} %)`;
        }),
      ],
    ],
  );

  const merchants = table(
    [
      'merchant',
      'gateway',
      'calls',
      'succeeded',
      'failed retryable',
      'failed other',
      'lost',
      'token requests',
      "(gateway's count)",
      'new tokens',
      'extended',
      'served stale',
    ],
    report.merchants.map((row) => [
      row.merchant,
      row.gateway,
      ...[
        row.calls,
        row.succeeded,
        row.failedRetryable,
        row.failedOther,
        row.lost,
        row.tokenRequests,
        row.gatewayTokenRequests,
        row.newTokens,
        row.extended,
        row.servedStale,
      ].map(String),
    ]),
    2,
  );

  const megabytes = (bytes: number): string => `${(bytes / 1_048_576).toFixed(1)} MB`;
  const heapDelta = report.heap.endBytes - report.heap.startBytes;
  const summary = [
    `heap used   start ${megabytes(report.heap.startBytes)}, end ${megabytes(report.heap.endBytes)} (${heapDelta >= 0 ? '+' : '-'}${megabytes(Math.abs(heapDelta))}); ` +
      `under load at 1/4, 1/2, 3/4 of the run: ${report.heap.quarterBytes.map(megabytes).join(', ')}` +
      `${report.heap.collected ? '; each after a full GC' : ' (no --expose-gc: not collected first)'}`,
    `duration    ${(report.elapsed.callsMs / 1000).toFixed(1)} s of calls, then ${(report.elapsed.settleMs / 1000).toFixed(2)} s until every call settled (grace ${report.graceMs / 1000} s)`,
    `result      ${soakPassed(report) ? `PASS: every call settled; every failure was retryable${report.rotation === undefined ? '' : '; no call carried a token of revoked credentials'}` : `FAIL: ${failure(report)}`}`,
  ];
  const outage = report.outage === undefined ? [] : [formatOutage(report.outage)];
  const rotation = report.rotation === undefined ? [] : [formatRotation(report.rotation)];
  const explained = Object.keys(report.otherCauses).map((cause) => `  ${cause}: ${report.examples[cause] ?? '(no message)'}`);
  const examples = explained.length === 0 ? [] : [`failed, other: the first error of each cause\n${explained.join('\n')}`];
  return [outcomes, faults, merchants, ...outage, ...rotation, ...examples, summary.join('\n')].join('\n\n');
}

/** What failed the run, in words. */
function failure(report: SoakReport): string {
  const reasons = [];
  if (report.lost > 0 || report.failedOther > 0) reasons.push('calls lost or failed in a way a retry cannot fix');
  if ((report.rotation?.revokedApiCalls ?? 0) > 0) reasons.push('API calls carried tokens of revoked credentials');
  if ((report.rotation?.failures.length ?? 0) > 0) reasons.push('rotations the harness could not carry out');
  return reasons.join('; ');
}

/** The rotations' table: per merchant, its rotations and what the gateway saw of them; then the run's figures. */
function formatRotation(rotation: SoakRotationReport): string {
  const heading =
    `secrets rotated every ${rotation.everyMs / 1000} s per merchant (new secret added at the gateway, source switched, ` +
    `old secret revoked ${rotation.graceMs / 1000} s later); the registry reads its merchants from their sources, ` +
    `merchantTtlMs ${rotation.merchantTtlMs}: ${rotation.sources.resolver} from a resolver (an in-memory database), ` +
    `${rotation.sources.file} from a configuration file with $file secrets (loadMerchantConfig, watchMerchantConfig)`;
  const rows = rotation.merchants.map((row) => [
    row.merchant,
    row.gateway,
    row.source,
    ...[row.rotations, row.resolves, row.reloads, row.tokenRequests, row.refusedTokenRequests, row.revokedApiCalls].map(String),
  ]);
  rows.push([
    'all merchants',
    '',
    '',
    String(rotation.rotations),
    String(rotation.merchants.reduce((sum, row) => sum + row.resolves, 0)),
    String(rotation.merchants.reduce((sum, row) => sum + row.reloads, 0)),
    String(rotation.tokenRequests),
    String(rotation.refusedTokenRequests),
    String(rotation.revokedApiCalls),
  ]);
  const merchantTable = table(
    [
      'rotations',
      'gateway',
      'source',
      'rotations',
      'resolves',
      'reloads',
      'token requests',
      'refused (revoked secret)',
      'API calls on revoked credentials (must be 0)',
    ],
    rows,
    3,
  );
  const figures = [
    `API calls on revoked credentials  ${rotation.revokedApiCalls} (must be 0): calls that reached a gateway after the grace period with a token last handed out for the revoked secret`,
    `token requests per rotation       ${rotation.tokenRequestsPerRotation.toFixed(2)} (target 1): ${rotation.tokenRequests - rotation.merchants.length} token requests beyond each merchant's first, for ${rotation.rotations} rotations; ${rotation.refusedTokenRequests} of them refused for a revoked secret`,
    ...rotation.failures.map((message) => `rotation not carried out: ${message}`),
  ];
  return `${heading}\n${merchantTable}\n${figures.join('\n')}`;
}

/** The outage's table: per merchant, what it called and what its cache asked the token endpoint while it was down. */
function formatOutage(outage: SoakOutageReport): string {
  const seconds = outage.durationMs / 1000;
  const from = outage.startMs / 1000;
  const perSecond = (count: number): string => (count / seconds).toFixed(1);
  const answer = outage.fault === 'reset' ? "every token request's connection reset" : 'every token request answered 503';
  const heading =
    `token endpoints down from ${from.toFixed(1)} s to ${(from + seconds).toFixed(1)} s (${answer}): ` +
    `${outage.refusedTokenRequests} token requests refused`;
  const rows = outage.merchants.map((row) => [
    row.merchant,
    row.gateway,
    String(row.calls),
    perSecond(row.calls),
    String(row.succeeded),
    String(row.tokenRequests),
    String(row.gatewayTokenRequests),
    perSecond(row.tokenRequests),
    row.firstTokenAfterMs === null ? 'none' : `${Math.round(row.firstTokenAfterMs)} ms`,
  ]);
  rows.push([
    'all merchants',
    '',
    String(outage.calls),
    perSecond(outage.calls),
    String(outage.succeeded),
    String(outage.tokenRequests),
    String(outage.gatewayTokenRequests),
    perSecond(outage.tokenRequests),
    '',
  ]);
  const merchantTable = table(
    [
      'during the outage',
      'gateway',
      'calls',
      'calls/s',
      'succeeded',
      'token requests',
      "(gateway's count)",
      'token requests/s',
      'first token after',
    ],
    rows,
    2,
  );
  const sorted = [...outage.merchants].sort((a, b) => a.tokenRequests - b.tokenRequests);
  const median = sorted[Math.floor((sorted.length - 1) / 2)]?.tokenRequests ?? 0;
  const most = sorted.at(-1);
  const perCall = outage.calls === 0 ? 0 : outage.tokenRequests / outage.calls;
  const summary =
    `token requests per merchant during the outage: median ${median}, max ${most?.tokenRequests ?? 0}` +
    `${most === undefined ? '' : ` (${most.merchant}: ${perSecond(most.tokenRequests)}/s while its callers made ${perSecond(most.calls)} calls/s)`}; ` +
    `${perCall.toFixed(3)} per call started`;
  return `${heading}\n${merchantTable}\n${summary}`;
}

/** Left-aligned first columns (`textColumns`), numbers right-aligned, two spaces apart. */
function table(header: readonly string[], rows: readonly (readonly string[])[], textColumns = 1): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (values: readonly string[]): string =>
    values
      .map((value, column) => (column < textColumns ? value.padEnd(widths[column]!) : value.padStart(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}
