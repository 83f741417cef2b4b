// Audit rows of a soak, per action and extrapolated to a day, split into the rows each incident makes and the
// background (retention receipts, the force told of deletions, the outage...), whose rate must not grow as the
// run goes on.

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/**
 * @param rows audit rows as `hindsight audit export` writes them (`action`, `ts_utc`, `object_ids`)
 * @param fromMs start of the measured period (rows before it, the setup, are left out)
 * @param toMs its end
 * @param incidentIds the incidents of the run: a row naming one is that incident's work
 * @param steadyFromMs the background's two halves are compared from here (retention deletes nothing before the
 *   buffer is full)
 */
export function auditRates(rows, fromMs, toMs, incidentIds, steadyFromMs = fromMs) {
  const periodMs = toMs - fromMs;
  const inRun = rows.filter((r) => r.ts_utc >= fromMs && r.ts_utc <= toMs);
  const perDay = (n) => Math.round((n * DAY_MS) / periodMs);
  const byAction = {};
  for (const r of inRun) byAction[r.action] = (byAction[r.action] ?? 0) + 1;
  const ids = new Set(incidentIds);
  const perIncident = new Map(incidentIds.map((id) => [id, 0]));
  const background = [];
  for (const r of inRun) {
    const mine = (r.object_ids ?? []).filter((o) => ids.has(o));
    for (const id of mine) perIncident.set(id, perIncident.get(id) + 1);
    if (!mine.length) background.push(r);
  }
  const mid = (steadyFromMs + toMs) / 2;
  const first = background.filter((r) => r.ts_utc >= steadyFromMs && r.ts_utc < mid).length;
  const second = background.filter((r) => r.ts_utc >= mid && r.ts_utc <= toMs).length;
  const perHour = (n) => Math.round(((n * HOUR_MS) / ((toMs - steadyFromMs) / 2)) * 10) / 10;
  const counts = [...perIncident.values()].sort((a, b) => a - b);
  return {
    period_s: periodMs / 1000,
    rows: inRun.length,
    rows_per_day: perDay(inRun.length),
    by_action: Object.fromEntries(
      Object.entries(byAction)
        .sort((a, b) => b[1] - a[1])
        .map(([action, n]) => [action, { rows: n, per_day: perDay(n) }]),
    ),
    incident_rows: inRun.length - background.length,
    rows_per_incident: { min: counts[0] ?? null, median: counts.length ? counts[Math.floor(counts.length / 2)] : null, max: counts[counts.length - 1] ?? null },
    background_rows: background.length,
    background_per_day: perDay(background.length),
    background_rows_first_half: first,
    background_rows_second_half: second,
    background_per_hour_first_half: perHour(first),
    background_per_hour_second_half: perHour(second),
  };
}
