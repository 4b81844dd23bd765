/* Booking a half-hour slot, and the device's appointments: cancel, check in (which
   turns the appointment into a ticket in "my tickets"). Needs app.js (HK.notify,
   HK.addTicket, HK.fillServices). */
(function () {
  'use strict';
  const HK = window.HK;
  const $ = (id) => document.getElementById(id);
  const KEEP_MS = 24 * 3600 * 1000; // an appointment stays a day past its slot

  let appts = HK.store.get('hallkpi.appointments', []);
  if (!Array.isArray(appts)) appts = [];
  let bookHall = null;
  let slotsSeq = 0; // only the answer to the latest slot query is drawn

  HK.appointments = () => appts;

  function save() {
    const now = Date.now();
    appts = appts.filter((a) => {
      const end = Date.parse(a.slot_end || a.slot_start || '');
      return isNaN(end) || now - end < KEEP_MS;
    });
    HK.store.set('hallkpi.appointments', appts);
  }

  function today() {
    const d = new Date();
    const pad = (n) => String(n).padStart(2, '0');
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate());
  }

  HK.openBooking = function (id) {
    bookHall = id;
    HK.clearNotice();
    $('take').hidden = true;
    $('book-h').textContent = HK.t('book.title', { hall: HK.hallName(id) });
    HK.fillServices($('book-service'), HK.halls.get(id));
    const date = $('book-date');
    date.min = today();
    if (!date.value || date.value < date.min) date.value = today();
    $('book').hidden = false;
    $('book-h').focus();
    loadSlots();
  };

  async function loadSlots() {
    if (!bookHall) return;
    const seq = ++slotsSeq;
    const box = $('book-slots');
    const status = $('book-status');
    box.textContent = '';
    status.textContent = HK.t('book.loading');
    const q = 'date=' + HK.enc($('book-date').value) + '&service=' + HK.enc($('book-service').value);
    try {
      const doc = await HK.api('GET', 'halls/' + HK.enc(bookHall) + '/slots?' + q);
      if (seq !== slotsSeq) return;
      const slots = (doc && doc.slots) || [];
      status.textContent = slots.length ? '' : HK.t('book.none');
      slots.forEach((s, i) => {
        const free = s.available > 0;
        const a = HK.clock(s.start);
        const b = HK.clock(s.end);
        const input = HK.el('input', {
          type: 'radio', name: 'slot', id: 'slot-' + i, value: s.start,
          'data-end': s.end, disabled: !free,
        });
        box.appendChild(HK.el('label', { class: 'slot' + (free ? '' : ' full'), for: 'slot-' + i }, [
          input,
          HK.el('span', { text: HK.t(free ? 'book.slot' : 'book.full', { a: a, b: b, n: s.available }) }),
        ]));
      });
    } catch (e) {
      if (seq === slotsSeq) status.textContent = e.message;
    }
  }

  async function submitBook(ev) {
    ev.preventDefault();
    const btn = $('book-submit');
    const picked = document.querySelector('#book-slots input[name="slot"]:checked');
    if (!picked) {
      $('book-status').textContent = HK.t('book.pick');
      return;
    }
    if (btn.disabled) return;
    btn.disabled = true;
    const service = $('book-service').value;
    try {
      const doc = await HK.api('POST', 'appointments', {
        hall: bookHall, service: service, slot_start: picked.value, taxpayer: HK.deviceId(),
      }, { 'Idempotency-Key': HK.randomId(16) });
      appts.unshift(Object.assign({
        hall: bookHall, service: service, slot_start: picked.value,
        slot_end: picked.getAttribute('data-end'), status: 'booked',
      }, doc || {}));
      save();
      draw();
      $('book').hidden = true;
      const card = document.querySelector('[data-appointment="' + CSS.escape(String(doc.appointment_id)) + '"]');
      if (card) card.scrollIntoView({ block: 'center' });
    } catch (e) {
      HK.notify(e.message);
      if (e.status === 409) loadSlots(); // someone took the last place: show what is left
    } finally {
      btn.disabled = false;
    }
  }

  async function cancel(a, btn) {
    if (btn.getAttribute('data-armed') !== '1') {
      btn.setAttribute('data-armed', '1');
      btn.textContent = HK.t('appt.cancel.confirm', { code: a.code });
      window.setTimeout(draw, 5000);
      return;
    }
    btn.disabled = true;
    try {
      await HK.api('DELETE', 'appointments/' + HK.enc(a.appointment_id));
      a.status = 'cancelled';
      save();
      if (bookHall && !$('book').hidden) loadSlots(); // the place is free again
    } catch (e) {
      HK.notify(e.message);
    }
    draw();
  }

  async function checkIn(a, btn) {
    btn.disabled = true;
    try {
      const ticket = await HK.api('POST', 'appointments/' + HK.enc(a.appointment_id) + '/check-in', {});
      a.status = 'checked_in';
      a.ticket_id = ticket && ticket.ticket_id;
      save();
      HK.addTicket(Object.assign({ hall: a.hall, service: a.service }, ticket));
    } catch (e) {
      HK.notify(e.message);
    }
    draw();
  }

  function card(a) {
    const hall = HK.halls.get(a.hall);
    const kids = [
      HK.el('div', { class: 'card-head' }, [
        HK.el('span', { class: 'appt-code', text: HK.t('appt.title', { code: a.code || '' }) }),
        a.status === 'cancelled' ? HK.el('span', { class: 'ticket-status', text: HK.t('appt.cancelled') })
          : a.status === 'checked_in' ? HK.el('span', { class: 'ticket-status', text: HK.t('appt.checked_in') })
            : null,
      ]),
      HK.el('p', { text: HK.hallName(a.hall) + ' · ' + HK.serviceName(hall, a.service) }),
      HK.el('p', { class: 'when', text: HK.t('appt.when', {
        date: HK.day(a.slot_start), a: HK.clock(a.slot_start), b: HK.clock(a.slot_end),
      }) }),
    ];
    if (a.status === 'booked') {
      const inBtn = HK.el('button', { type: 'button', class: 'primary checkin', text: HK.t('appt.checkin') });
      const outBtn = HK.el('button', { type: 'button', class: 'secondary cancel', text: HK.t('appt.cancel') });
      inBtn.addEventListener('click', () => checkIn(a, inBtn));
      outBtn.addEventListener('click', () => cancel(a, outBtn));
      kids.push(HK.el('div', { class: 'row' }, [inBtn, outBtn]));
    }
    return HK.el('li', {
      class: 'card appointment ' + a.status, 'data-appointment': a.appointment_id, 'data-status': a.status,
    }, kids);
  }

  function draw() {
    const ul = $('appointments');
    ul.textContent = '';
    appts.forEach((a) => ul.appendChild(card(a)));
    HK.drawEmpty();
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('book-form').addEventListener('submit', submitBook);
    $('book-back').addEventListener('click', () => { $('book').hidden = true; });
    $('book-date').addEventListener('change', loadSlots);
    $('book-service').addEventListener('change', loadSlots);
    document.addEventListener('hk:lang', () => {
      draw();
      if (bookHall && !$('book').hidden) {
        $('book-h').textContent = HK.t('book.title', { hall: HK.hallName(bookHall) });
        loadSlots();
      }
    });
    save();
    draw();
    HK.onHallChange = (hall) => { if (!hall) draw(); }; // names known once halls load
  });
})();
