// The expiry timeline as a bar chart (uPlot: one small dependency-free file that draws on a
// canvas and sets styles through the CSSOM only, so the strict Content-Security-Policy holds).
// The chart is a picture; the same numbers stay in a table for screen readers and keyboards.

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

const WEEK = 7 * 24 * 3600;

export function ExpiryChart({ overdue, weeks, now }: { overdue: number; weeks: number[]; now: Date }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const start = Math.floor(now.getTime() / 1000);
    // Overdue sits one week before now, in its own series and colour; week i starts i weeks on.
    const xs = [start - WEEK, ...weeks.map((_, i) => start + i * WEEK)];
    const overdueSeries = [overdue, ...weeks.map(() => null)];
    const weekSeries = [null, ...weeks];
    const bars = uPlot.paths.bars!({ size: [0.8, 48], align: 1 });
    const css = getComputedStyle(document.documentElement);
    const colour = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
    const plot = new uPlot(
      {
        width: Math.max(el.clientWidth, 200),
        height: 220,
        legend: { show: false },
        cursor: { show: false },
        // Each bar starts at its week (align 1) and spans it: the scale ends a week after the last.
        scales: { x: { time: true, range: () => [start - WEEK, start + weeks.length * WEEK] }, y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.1] } },
        axes: [
          { values: (_u, ticks) => ticks.map((t) => new Date(t * 1000).toISOString().slice(5, 10)) },
          { size: 56 },
        ],
        series: [
          {},
          { label: "overdue", fill: colour("--bad", "#b42318"), stroke: colour("--bad", "#b42318"), paths: bars, points: { show: false } },
          { label: "expiring", fill: colour("--accent", "#0a5bd3"), stroke: colour("--accent", "#0a5bd3"), paths: bars, points: { show: false } },
        ],
      },
      [xs, overdueSeries, weekSeries],
      el,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(el.clientWidth, 200), height: 220 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [overdue, weeks.join(","), now.getTime()]);
  const total = overdue + weeks.reduce((a, b) => a + b, 0);
  return (
    <div
      class="chart"
      ref={box}
      role="img"
      aria-label={`Expiry per week: ${overdue} overdue, ${total - overdue} expiring in the next ${weeks.length} weeks (numbers below)`}
      data-chart="expiry"
    />
  );
}
