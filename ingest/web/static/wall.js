/* /wall: every hall's live waiting, open windows, quoted wait and its p10-p90 range,
   and the quote accuracy where the service reports it; for offices without Grafana. */
(function () {
  'use strict';
  const HK = window.HK;
  const $ = (id) => document.getElementById(id);
  const halls = new Map();
  const rows = new Map();
  const watchers = new Map();
  const modes = new Map();
  const HOT_WAITING_PER_WINDOW = 8; // the congestion alert's window pressure (KPIS.md)

  function row(id) {
    if (rows.has(id)) return rows.get(id);
    const r = {
      name: HK.el('th', { scope: 'row' }), state: HK.el('td'),
      waiting: HK.el('td', { class: 'num big waiting' }), windows: HK.el('td', { class: 'num big windows' }),
      quoted: HK.el('td', { class: 'quoted' }), accuracy: HK.el('td', { class: 'accuracy' }),
    };
    r.root = HK.el('tr', { 'data-hall': id }, [r.name, r.state, r.waiting, r.windows, r.quoted, r.accuracy]);
    $('rows').appendChild(r.root);
    rows.set(id, r);
    return r;
  }

  function accuracy(h) {
    const parts = [];
    if (h.quote_mae_s != null) parts.push(HK.t('wall.mae', { m: (h.quote_mae_s / 60).toFixed(1) }));
    if (h.quote_coverage != null) parts.push(HK.t('wall.coverage', { p: Math.round(h.quote_coverage * 100) }));
    return parts.join(' · ') || '—';
  }

  function draw(id) {
    const h = halls.get(id);
    const r = row(id);
    const open = h.open !== false;
    r.name.textContent = h.name || id;
    r.state.textContent = HK.t(open ? 'hall.open' : 'hall.closed');
    r.state.className = open ? 'open' : 'closed';
    r.waiting.textContent = h.waiting == null ? '—' : String(h.waiting);
    const hot = h.waiting != null && h.waiting / Math.max(h.open_windows || 0, 1) >= HOT_WAITING_PER_WINDOW;
    r.waiting.className = 'num big waiting' + (hot ? ' hot' : '');
    const by = h.waiting_by_service || {};
    const keys = Object.keys(by);
    if (keys.length > 1) {
      r.waiting.appendChild(HK.el('span', { class: 'by', text: keys.map((s) => HK.serviceName(h, s) + ' ' + by[s]).join(' · ') }));
    }
    r.windows.textContent = h.open_windows == null ? '—' : String(h.open_windows);
    const range = HK.rangeText(h.quoted_wait_p10_s, h.quoted_wait_p90_s);
    r.quoted.textContent = HK.waitText(h.quoted_wait_s) + (range ? ' (' + range + ')' : '');
    r.accuracy.textContent = accuracy(h);
  }

  function drawTotal() {
    let waiting = 0;
    let windows = 0;
    halls.forEach((h) => { waiting += h.waiting || 0; windows += h.open_windows || 0; });
    $('total-waiting').textContent = String(waiting);
    $('total-windows').textContent = String(windows);
    $('updated').textContent = HK.t('wall.updated', { t: new Date().toLocaleTimeString(HK.lang) });
  }

  function onHall(h) {
    if (!h || !h.id) return;
    halls.set(h.id, h);
    draw(h.id);
    drawTotal();
  }

  function drawMode() {
    const polled = Array.from(modes.values()).some((m) => m === 'poll');
    $('mode').textContent = modes.size ? (polled ? HK.t('halls.polling', { s: HK.POLL_S }) : HK.t('halls.live')) : '';
  }

  async function load() {
    try {
      const doc = await HK.api('GET', 'halls');
      const list = (doc && doc.halls) || [];
      list.forEach(onHall);
      $('status').hidden = list.length > 0;
      $('status').textContent = HK.t('halls.none');
      $('wall').hidden = list.length === 0;
      list.forEach((h) => {
        if (!watchers.has(h.id)) {
          watchers.set(h.id, HK.watchHall(h.id, onHall, (m) => { modes.set(h.id, m); drawMode(); }));
        }
      });
    } catch (e) {
      $('status').hidden = false;
      $('status').textContent = e.message;
    }
  }

  function tick() {
    $('clock').textContent = new Date().toLocaleTimeString(HK.lang, { hour12: false });
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('lang').addEventListener('click', () => HK.setLang(HK.lang === 'en' ? 'zh-CN' : 'en'));
    document.addEventListener('hk:lang', () => {
      $('lang').textContent = HK.t('lang.switch');
      $('lang').setAttribute('lang', HK.lang === 'en' ? 'zh-CN' : 'en');
      document.title = HK.t('wall.title');
      Array.from(halls.keys()).forEach(draw);
      drawMode();
      tick();
    });
    HK.applyLang();
    tick();
    window.setInterval(tick, 1000);
    load();
    window.setInterval(load, 60 * 1000);
  });
})();
