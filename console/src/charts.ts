// Analytics charts with uPlot (loaded only by the analytics page).

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h } from './dom';
import { type Analytics, chartData, words } from './logic';

/** Colours with at least 3:1 contrast on white, one per line. */
const COLOURS = ['#1d4ed8', '#15803d', '#b45309', '#7e22ce', '#be123c', '#0f766e', '#4d7c0f', '#9f1239'];

/**
 * Draws the series into `into`: one chart for the counts (calls,
 * answered and every other integer field) and one per other figure.
 */
export function drawCharts(into: HTMLElement, data: Analytics): void {
  const chart = chartData(data);
  if (chart.x.length === 0) {
    into.append(h('p', {}, 'No call in this period.'));
    return;
  }
  const counts = chart.fields.filter((f) => f.values.every((v) => v === null || Number.isInteger(v)));
  const others = chart.fields.filter((f) => !counts.includes(f));
  const width = Math.min(960, Math.max(280, into.clientWidth || 960));
  const groups: Array<{ title: string; fields: typeof chart.fields }> = [];
  if (counts.length > 0) groups.push({ title: 'Calls and outcomes', fields: counts });
  for (const f of others) groups.push({ title: words(f.name), fields: [f] });
  for (const group of groups) {
    const figure = h('figure', { class: 'chart' }, h('figcaption', {}, group.title));
    into.append(figure);
    const opts: uPlot.Options = {
      width,
      height: 220,
      series: [{}, ...group.fields.map((f, i) => ({ label: words(f.name), stroke: COLOURS[i % COLOURS.length], width: 2 }))],
      axes: [{}, {}],
    };
    new uPlot(opts, [chart.x, ...group.fields.map((f) => f.values)] as uPlot.AlignedData, figure);
  }
}
