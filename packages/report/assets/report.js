// The report page's script: draws the charts (uPlot), the alpha heat map with its epoch slider and
// sorts tables by a click on a column header. Data comes from the page itself (#tsnas-data).
(() => {
  const page = JSON.parse(document.getElementById('tsnas-data').textContent);
  const palette = [
    '#2557c9',
    '#d9480f',
    '#2b8a3e',
    '#862e9c',
    '#c92a2a',
    '#087f8c',
    '#e67700',
    '#5c7cfa',
    '#495057',
  ];
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const fmt = (percent) => (_u, v) =>
    v === null || v === undefined ? '' : percent ? `${(v * 100).toFixed(2)}%` : +v.toPrecision(4);

  function drawChart(el, spec) {
    const width = spec.small ? 300 : 440;
    const opts = {
      title: spec.title,
      width,
      height: spec.small ? 170 : 260,
      // Small multiples share one legend above their grid.
      legend: { show: !spec.small },
      scales: { x: { time: false } },
      axes: [
        { label: spec.xLabel, size: 36 },
        { label: spec.yLabel, size: 56, values: (u, vals) => vals.map((v) => fmt(spec.percent)(u, v)) },
      ],
      series: [
        { label: spec.xLabel },
        ...spec.series.map((s, i) => ({
          label: s.label,
          stroke: palette[i % palette.length],
          width: 1.5,
          spanGaps: true,
          points: { show: spec.x.length < 40 },
          value: fmt(spec.percent),
        })),
      ],
    };
    new uPlot(opts, [spec.x, ...spec.series.map((s) => s.values)], el);
    el.dataset.drawn = String(spec.series.reduce((n, s) => n + s.values.filter((v) => v !== null).length, 0));
  }

  function drawHeatmap(el, hm) {
    const label = document.createElement('label');
    const slider = document.createElement('input');
    slider.type = 'range';
    slider.min = '0';
    slider.max = String(hm.epochs.length - 1);
    slider.value = slider.max;
    const caption = document.createElement('span');
    label.append('epoch ', slider, ' ', caption);
    const table = document.createElement('table');
    el.append(label, table);
    const render = () => {
      const i = Number(slider.value);
      caption.textContent = `${hm.epochs[i]} (${i + 1} of ${hm.epochs.length})`;
      const rows = hm.weights[i];
      const head = `<tr><th>edge</th>${hm.primitives.map((p) => `<th>${esc(p)}</th>`).join('')}</tr>`;
      const body = rows
        .map((w, r) => {
          const cells = w
            .map((v) => {
              // Absolute scale (sqrt, so that a uniform 1/8 is visible but pale): rows compare.
              const a = Math.sqrt(Math.min(1, Math.max(0, v)));
              const bg = `rgba(37, 87, 201, ${(0.08 + 0.8 * a).toFixed(3)})`;
              const fg = a > 0.6 ? '#fff' : '#1d2330';
              return `<td style="background:${bg};color:${fg}" title="${v}">${v.toFixed(3)}</td>`;
            })
            .join('');
          return `<tr><th>${esc(hm.edges[r])}</th>${cells}</tr>`;
        })
        .join('');
      table.innerHTML = head + body;
    };
    slider.addEventListener('input', render);
    render();
  }

  function makeSortable(table) {
    const heads = table.querySelectorAll('thead th');
    heads.forEach((th, col) => {
      th.addEventListener('click', () => {
        const dir = th.classList.contains('asc') ? -1 : 1;
        heads.forEach((h) => h.classList.remove('asc', 'desc'));
        th.classList.add(dir === 1 ? 'asc' : 'desc');
        const body = table.tBodies[0];
        const key = (tr) => {
          const td = tr.cells[col];
          const v = td.dataset.v;
          return v !== undefined && v !== '' ? Number(v) : td.textContent;
        };
        const rows = [...body.rows].sort((a, b) => {
          const x = key(a);
          const y = key(b);
          return (
            (typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y))) *
            dir
          );
        });
        body.append(...rows);
      });
    });
  }

  function sharedLegend(grid) {
    const first = grid.querySelector('[data-chart]');
    if (!first) return;
    const legend = document.createElement('div');
    legend.className = 'legend';
    page.charts[first.dataset.chart].series.forEach((s, i) => {
      const item = document.createElement('span');
      item.innerHTML = `<i style="background:${palette[i % palette.length]}"></i>${esc(s.label)}`;
      legend.append(item);
    });
    grid.before(legend);
  }

  for (const el of document.querySelectorAll('[data-chart]')) drawChart(el, page.charts[el.dataset.chart]);
  for (const grid of document.querySelectorAll('.charts.small')) sharedLegend(grid);
  for (const el of document.querySelectorAll('[data-heatmap]'))
    drawHeatmap(el, page.heatmaps[el.dataset.heatmap]);
  for (const t of document.querySelectorAll('table.sortable')) makeSortable(t);
})();
