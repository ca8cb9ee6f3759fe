/** A small grouped bar chart as standalone SVG (no dependencies, readable in any browser). */
export interface BarGroup {
  label: string;
  bars: { label: string; value: number; color: string }[];
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function barChart(
  title: string,
  unit: string,
  groups: readonly BarGroup[],
  width = 640,
  height = 320,
): string {
  const margin = { top: 40, right: 20, bottom: 60, left: 60 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const max = Math.max(1e-9, ...groups.flatMap((g) => g.bars.map((b) => b.value)));
  const groupW = plotW / Math.max(1, groups.length);
  const nBars = Math.max(1, ...groups.map((g) => g.bars.length));
  const barW = (groupW * 0.7) / nBars;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="100%" height="100%" fill="white"/>`);
  parts.push(
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
  );
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    const y = margin.top + plotH - (plotH * i) / 4;
    parts.push(
      `<line x1="${margin.left}" x2="${width - margin.right}" y1="${y}" y2="${y}" stroke="#ddd"/>`,
    );
    parts.push(
      `<text x="${margin.left - 6}" y="${y + 4}" text-anchor="end">${v.toFixed(v < 10 ? 2 : 0)}</text>`,
    );
  }
  parts.push(
    `<text x="14" y="${margin.top + plotH / 2}" transform="rotate(-90 14 ${margin.top + plotH / 2})" text-anchor="middle">${esc(unit)}</text>`,
  );
  groups.forEach((g, gi) => {
    const gx = margin.left + gi * groupW + groupW * 0.15;
    g.bars.forEach((b, bi) => {
      const h = (plotH * b.value) / max;
      const x = gx + bi * barW;
      const y = margin.top + plotH - h;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${b.color}"><title>${esc(`${g.label} ${b.label}: ${b.value}`)}</title></rect>`,
      );
      parts.push(
        `<text x="${(x + barW / 2).toFixed(1)}" y="${(y - 4).toFixed(1)}" text-anchor="middle" font-size="10">${b.value.toFixed(b.value < 10 ? 2 : 0)}</text>`,
      );
    });
    parts.push(
      `<text x="${(margin.left + gi * groupW + groupW / 2).toFixed(1)}" y="${margin.top + plotH + 18}" text-anchor="middle">${esc(g.label)}</text>`,
    );
  });
  const legend = groups[0]?.bars ?? [];
  legend.forEach((b, i) => {
    const x = margin.left + i * 150;
    const y = height - 18;
    parts.push(
      `<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${b.color}"/><text x="${x + 18}" y="${y}">${esc(b.label)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
