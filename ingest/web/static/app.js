/* The mobile page: halls with live waiting and quoted range, taking a number, and
   "my tickets" kept on the device with the "called: go to window N" state. Booking is
   in booking.js; both start on DOMContentLoaded (after every deferred script). */
(function () {
  'use strict';
  const HK = window.HK;
  const $ = (id) => document.getElementById(id);
  const ACTIVE = { waiting: 1, called: 1, serving: 1 };
  const TICKET_POLL_S = 10;
  const HALLS_REFRESH_S = 60;
  const KEEP_FINAL_MS = 24 * 3600 * 1000; // finished tickets stay a day, then go

  HK.halls = new Map(); // id -> latest hall object
  const cards = new Map(); // hall id -> its card's parts
  const watchers = new Map(); // hall id -> {close()}
  const modes = new Map(); // hall id -> 'live' | 'poll'
  let tickets = HK.store.get('hallkpi.tickets', []);
  if (!Array.isArray(tickets)) tickets = [];

  /* ---- notices (errors shown to the user, the problem's `detail`) ---- */
  HK.notify = function (text) {
    $('notice-text').textContent = text;
    $('notice').hidden = false;
  };
  HK.clearNotice = function () {
    $('notice').hidden = true;
  };

  /* ---- halls ---- */
  function hallName(id) {
    const h = HK.halls.get(id);
    return (h && h.name) || id;
  }
  HK.hallName = hallName;

  function fact(label, valueNode) {
    return HK.el('div', { class: 'fact' }, [HK.el('dt', { text: label }), valueNode]);
  }

  function buildCard(id) {
    const p = {
      name: HK.el('h3'),
      badge: HK.el('span', { class: 'badge' }),
      waiting: HK.el('dd', { class: 'waiting' }),
      windows: HK.el('dd', { class: 'windows' }),
      quoted: HK.el('span', { class: 'quoted-main' }),
      range: HK.el('small', { class: 'range' }),
      byService: HK.el('p', { class: 'by-service' }),
      take: HK.el('button', { type: 'button', class: 'primary take' }),
      book: HK.el('button', { type: 'button', class: 'secondary book' }),
      labels: [],
    };
    p.take.addEventListener('click', () => openTake(id));
    p.book.addEventListener('click', () => HK.openBooking && HK.openBooking(id));
    const facts = HK.el('dl', { class: 'facts' }, [
      fact('', p.waiting), fact('', p.windows),
      fact('', HK.el('dd', { class: 'quoted' }, [p.quoted, p.range])),
    ]);
    p.labels = Array.prototype.slice.call(facts.querySelectorAll('dt'));
    p.root = HK.el('li', { class: 'card hall', 'data-hall': id }, [
      HK.el('div', { class: 'card-head' }, [p.name, p.badge]),
      facts, p.byService,
      HK.el('div', { class: 'row' }, [p.take, p.book]),
    ]);
    cards.set(id, p);
    return p;
  }

  function drawHall(id) {
    const h = HK.halls.get(id);
    const p = cards.get(id) || buildCard(id);
    if (!h) return;
    const name = h.name || id;
    p.name.textContent = name;
    const open = h.open !== false;
    p.badge.textContent = HK.t(open ? 'hall.open' : 'hall.closed');
    p.badge.className = 'badge ' + (open ? 'open' : 'closed');
    p.labels[0].textContent = HK.t('hall.waiting');
    p.labels[1].textContent = HK.t('hall.windows');
    p.labels[2].textContent = HK.t('hall.quoted');
    p.waiting.textContent = HK.t('hall.people', { n: h.waiting == null ? '—' : h.waiting });
    p.windows.textContent = h.open_windows == null ? '—' : String(h.open_windows);
    p.quoted.textContent = HK.waitText(h.quoted_wait_s);
    p.range.textContent = HK.rangeText(h.quoted_wait_p10_s, h.quoted_wait_p90_s);
    const by = h.waiting_by_service || {};
    const parts = Object.keys(by).map((s) => HK.serviceName(h, s) + ' ' + by[s]);
    p.byService.textContent = parts.length > 1 ? parts.join(' · ') : '';
    p.take.textContent = HK.t('hall.take');
    p.book.textContent = HK.t('hall.book');
    p.take.setAttribute('aria-label', HK.t('hall.take.label', { hall: name }));
    p.book.setAttribute('aria-label', HK.t('hall.book.label', { hall: name }));
    p.take.disabled = !open; // a closed hall issues no number (the server says so too)
  }

  function onHall(hall) {
    if (!hall || !hall.id) return;
    HK.halls.set(hall.id, hall);
    drawHall(hall.id);
    ticketsOfHall(hall.id).length && refreshSoon(hall.id);
    HK.onHallChange && HK.onHallChange(hall);
  }

  function drawMode() {
    const polled = Array.from(modes.values()).some((m) => m === 'poll');
    $('halls-mode').textContent = modes.size
      ? polled ? HK.t('halls.polling', { s: HK.POLL_S }) : HK.t('halls.live')
      : '';
  }

  function watch(ids) {
    // Halls with my tickets first: they get the live streams, the others may be polled.
    const mine = new Set(tickets.filter((t) => ACTIVE[t.status]).map((t) => t.hall));
    const order = ids.slice().sort((a, b) => (mine.has(b) ? 1 : 0) - (mine.has(a) ? 1 : 0));
    order.forEach((id) => {
      if (watchers.has(id)) return;
      watchers.set(id, HK.watchHall(id, onHall, (m) => { modes.set(id, m); drawMode(); }));
    });
  }

  async function loadHalls() {
    try {
      const doc = await HK.api('GET', 'halls');
      const list = (doc && doc.halls) || [];
      const ul = $('halls');
      list.forEach((h) => {
        HK.halls.set(h.id, h);
        const p = cards.get(h.id) || buildCard(h.id);
        drawHall(h.id);
        if (p.root.parentNode !== ul) ul.appendChild(p.root);
      });
      $('halls-status').hidden = list.length > 0;
      $('halls-status').textContent = HK.t('halls.none');
      watch(list.map((h) => h.id));
      HK.onHallChange && HK.onHallChange(null);
    } catch (e) {
      $('halls-status').hidden = false;
      $('halls-status').textContent = e.message;
    }
  }

  /* ---- taking a number ---- */
  let takeHall = null;

  function servicesOf(hall) {
    const list = (hall && hall.services) || [];
    return list.length ? list : Object.keys((hall && hall.waiting_by_service) || {});
  }
  HK.servicesOf = servicesOf;

  HK.fillServices = function (select, hall) {
    const keep = select.value;
    select.textContent = '';
    servicesOf(hall).forEach((s) => {
      select.appendChild(HK.el('option', { value: s, text: HK.serviceName(hall, s) }));
    });
    if (keep) select.value = keep;
  };

  function openTake(id) {
    takeHall = id;
    HK.clearNotice();
    $('book').hidden = true;
    $('take-h').textContent = HK.t('take.title', { hall: hallName(id) });
    HK.fillServices($('take-service'), HK.halls.get(id));
    $('take').hidden = false;
    $('take-h').focus();
  }

  async function submitTake(ev) {
    ev.preventDefault();
    const btn = $('take-submit');
    if (!takeHall || btn.disabled) return;
    btn.disabled = true;
    try {
      const t = await HK.api(
        'POST', 'halls/' + HK.enc(takeHall) + '/tickets',
        { service: $('take-service').value, taxpayer: HK.deviceId() },
        { 'Idempotency-Key': HK.randomId(16) });
      HK.addTicket(t);
      $('take').hidden = true;
    } catch (e) {
      HK.notify(e.message);
    } finally {
      btn.disabled = false;
    }
  }

  /* ---- my tickets ---- */
  function save() {
    const now = Date.now();
    tickets = tickets.filter((t) => ACTIVE[t.status] || now - (t.updated_at || now) < KEEP_FINAL_MS);
    HK.store.set('hallkpi.tickets', tickets);
  }

  function ticketsOfHall(id) {
    return tickets.filter((t) => t.hall === id && ACTIVE[t.status]);
  }

  HK.addTicket = function (doc) {
    if (!doc || !doc.ticket_id) return;
    const old = tickets.find((t) => t.ticket_id === doc.ticket_id);
    const rec = Object.assign(old || { added_at: Date.now() }, doc, { updated_at: Date.now() });
    if (!old) tickets.unshift(rec);
    save();
    drawTickets();
    if (rec.hall) watch([rec.hall]);
  };

  async function refreshTicket(t) {
    try {
      const doc = await HK.api('GET', 'tickets/' + HK.enc(t.ticket_id));
      Object.assign(t, doc, { updated_at: Date.now() });
    } catch (e) {
      if (e.status === 404) Object.assign(t, { status: 'unknown', updated_at: Date.now() });
      else return; // offline or a hiccup: keep the last known state, try again later
    }
    save();
    drawTickets();
  }

  const pending = new Map();
  function refreshSoon(hallId) {
    if (pending.has(hallId)) return;
    pending.set(hallId, window.setTimeout(() => {
      pending.delete(hallId);
      ticketsOfHall(hallId).forEach(refreshTicket);
    }, 200));
  }

  function pollTickets() {
    tickets.filter((t) => ACTIVE[t.status]).forEach(refreshTicket);
    window.setTimeout(pollTickets, TICKET_POLL_S * 1000);
  }

  function statusLine(t) {
    if (t.status === 'waiting') {
      const ahead = t.people_ahead;
      const who = ahead === 0 ? HK.t('ticket.next') : ahead == null ? '' : HK.t('ticket.ahead', { n: ahead });
      const range = HK.rangeText(t.quoted_wait_p10_s, t.quoted_wait_p90_s);
      return [who, HK.waitText(t.quoted_wait_s) + (range ? ' (' + range + ')' : '')]
        .filter(Boolean).join(' · ');
    }
    return '';
  }

  async function cancelTicket(t, btn) {
    if (btn.getAttribute('data-armed') !== '1') {
      btn.setAttribute('data-armed', '1');
      btn.textContent = HK.t('ticket.cancel.confirm', { n: t.number });
      window.setTimeout(() => { btn.removeAttribute('data-armed'); drawTickets(); }, 5000);
      return;
    }
    btn.disabled = true;
    try {
      const doc = await HK.api('DELETE', 'tickets/' + HK.enc(t.ticket_id));
      Object.assign(t, doc || { status: 'cancelled' }, { updated_at: Date.now() });
      save();
    } catch (e) {
      HK.notify(e.message);
    }
    drawTickets();
  }

  function ticketCard(t) {
    const status = t.status || 'waiting';
    const final = !ACTIVE[status];
    const hall = HK.halls.get(t.hall);
    const kids = [
      HK.el('div', { class: 'card-head' }, [
        HK.el('span', { class: 'ticket-num', text: t.number || '' }),
        HK.el('span', { class: 'ticket-status', text: HK.t('ticket.status.' + status) }),
      ]),
      HK.el('p', { text: hallName(t.hall) + ' · ' + HK.serviceName(hall, t.service) }),
    ];
    if ((status === 'called' || status === 'serving') && t.window != null) {
      kids.push(HK.el('p', { class: 'window', text: HK.t('ticket.window', { w: t.window }) }));
    }
    const line = statusLine(t);
    if (line) kids.push(HK.el('p', { class: 'ahead', text: line }));
    const row = HK.el('div', { class: 'row' });
    if (status === 'waiting') {
      const b = HK.el('button', { type: 'button', class: 'secondary cancel', text: HK.t('ticket.cancel') });
      b.addEventListener('click', () => cancelTicket(t, b));
      row.appendChild(b);
    } else if (final) {
      row.appendChild(HK.el('button', {
        type: 'button', class: 'secondary remove', text: HK.t('ticket.remove'),
        onclick: () => { tickets = tickets.filter((x) => x !== t); HK.store.set('hallkpi.tickets', tickets); drawTickets(); },
      }));
    }
    if (row.childNodes.length) kids.push(row);
    return HK.el('li', {
      class: 'card ticket ' + status + (final ? ' final' : ''),
      'data-ticket': t.ticket_id, 'data-status': status,
    }, kids);
  }

  function drawTickets() {
    const ul = $('tickets');
    if (document.activeElement && document.activeElement.getAttribute('data-armed') === '1') return;
    ul.textContent = '';
    tickets.forEach((t) => ul.appendChild(ticketCard(t)));
    drawCalled();
    HK.drawEmpty();
  }
  HK.drawTickets = drawTickets;

  HK.drawEmpty = function () {
    const appts = HK.appointments ? HK.appointments() : [];
    $('mine-empty').hidden = tickets.length + appts.length > 0;
  };

  let lastCalled = null;
  function drawCalled() {
    const called = tickets.filter((t) => t.status === 'called');
    const t = called[0];
    const box = $('called');
    if (!t) {
      box.hidden = true;
      document.title = HK.t('app.title');
      lastCalled = null;
      return;
    }
    $('called-title').textContent = HK.t('called.title', { w: t.window == null ? '?' : t.window });
    $('called-number').textContent = HK.t('called.number', { n: t.number });
    document.title = HK.t('called.doc', { w: t.window, n: t.number });
    box.hidden = false;
    const key = t.ticket_id + '@' + t.window;
    if (key !== lastCalled) {
      lastCalled = key;
      if (navigator.vibrate) navigator.vibrate([300, 150, 300]); // where phones allow it
      box.scrollIntoView({ block: 'start' });
    }
  }

  function redraw() {
    $('lang').textContent = HK.t('lang.switch');
    $('lang').setAttribute('lang', HK.lang === 'en' ? 'zh-CN' : 'en'); // the words it shows
    Array.from(cards.keys()).forEach(drawHall);
    drawTickets();
    drawMode();
    if (takeHall && !$('take').hidden) $('take-h').textContent = HK.t('take.title', { hall: hallName(takeHall) });
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('lang').addEventListener('click', () => HK.setLang(HK.lang === 'en' ? 'zh-CN' : 'en'));
    $('notice-close').addEventListener('click', HK.clearNotice);
    $('take-form').addEventListener('submit', submitTake);
    $('take-back').addEventListener('click', () => { $('take').hidden = true; });
    document.addEventListener('hk:lang', redraw);
    HK.applyLang();
    save();
    drawTickets();
    loadHalls();
    window.setInterval(loadHalls, HALLS_REFRESH_S * 1000);
    pollTickets();
  });
})();
