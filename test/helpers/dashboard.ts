/** The metric names monitoring/redisforge-dashboard.json queries (histograms by their base name). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const DASHBOARD = join(__dirname, '..', '..', 'monitoring', 'redisforge-dashboard.json');

export function dashboardMetrics(): string[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
  const names = dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => t.expr.match(/\b(?:redisforge|temporal)_[a-z_]+/g) ?? []));
  return [...new Set(names.map((n) => n.replace(/_(bucket|sum|count)$/, '')))].sort();
}
