/* The page's words in zh-CN (first) and English, and the language switch.
   Plain script (no modules, no build step): it defines window.HK.t and HK.setLang. */
(function () {
  'use strict';
  const HK = (window.HK = window.HK || {});

  const zh = {
    'app.title': '办税服务厅 排队取号',
    'app.subtitle': '实时等候人数 · 远程取号 · 预约',
    'lang.switch': 'English',
    'lang.switch.label': 'Switch to English',
    'notice.close': '关闭',
    'mine.title': '我的号票',
    'mine.empty': '还没有号票。在下方选择大厅取号或预约。',
    'mine.kept': '号票和预约只保存在本设备上。',
    'halls.title': '大厅',
    'halls.loading': '正在加载大厅…',
    'halls.none': '暂无大厅信息。',
    'halls.live': '实时更新',
    'halls.polling': '定时刷新（每 {s} 秒）',
    'hall.open': '办公中',
    'hall.closed': '已休息',
    'hall.waiting': '等候',
    'hall.people': '{n} 人',
    'hall.windows': '开放窗口',
    'hall.quoted': '预计等候',
    'hall.take': '取号',
    'hall.book': '预约',
    'hall.take.label': '在{hall}取号',
    'hall.book.label': '预约{hall}',
    'wait.none': '无需等候',
    'wait.under1': '不到 1 分钟',
    'wait.min': '约 {m} 分钟',
    'wait.range': '{a}–{b} 分钟',
    'wait.unknown': '—',
    'take.title': '取号：{hall}',
    'take.service': '办理业务',
    'take.submit': '确认取号',
    'take.cancel': '返回',
    'take.busy': '正在取号…',
    'ticket.status.waiting': '等候中',
    'ticket.status.called': '已叫号',
    'ticket.status.serving': '办理中',
    'ticket.status.done': '已办结',
    'ticket.status.no_show': '已过号',
    'ticket.status.cancelled': '已取消',
    'ticket.status.unknown': '号票已失效',
    'ticket.ahead': '前面还有 {n} 人',
    'ticket.next': '下一位就是您',
    'ticket.window': '请到 {w} 号窗口',
    'ticket.cancel': '取消号票',
    'ticket.cancel.confirm': '确定取消号票 {n}？',
    'ticket.remove': '移除',
    'called.title': '已叫号：请到 {w} 号窗口',
    'called.number': '您的号码 {n}',
    'called.doc': '请到 {w} 号窗口 · {n}',
    'book.title': '预约：{hall}',
    'book.service': '办理业务',
    'book.date': '日期',
    'book.slots': '可预约时段',
    'book.slot': '{a}–{b}（余 {n}）',
    'book.full': '{a}–{b}（已满）',
    'book.loading': '正在查询时段…',
    'book.none': '当天没有可预约的时段。',
    'book.submit': '确认预约',
    'book.cancel': '返回',
    'book.pick': '请先选择一个时段。',
    'book.done': '预约成功，预约码 {code}',
    'appt.title': '预约 {code}',
    'appt.when': '{date} {a}–{b}',
    'appt.checkin': '到厅签到取号',
    'appt.cancel': '取消预约',
    'appt.cancel.confirm': '确定取消预约 {code}？',
    'appt.cancelled': '预约已取消',
    'appt.checked_in': '已签到',
    'error.network': '网络连接失败，请稍后重试。',
    'error.http': '服务暂时不可用（{status}）。',
    'wall.title': '办税服务厅 实时大屏',
    'wall.hall': '大厅',
    'wall.state': '状态',
    'wall.waiting': '等候人数',
    'wall.windows': '开放窗口',
    'wall.quoted': '预计等候（p10–p90）',
    'wall.accuracy': '报价准确度',
    'wall.mae': '误差 {m} 分钟',
    'wall.coverage': '区间命中 {p}%',
    'wall.updated': '更新于 {t}',
    'wall.total': '合计',
  };

  const en = {
    'app.title': 'Tax hall queue',
    'app.subtitle': 'Live waiting · remote ticket · appointments',
    'lang.switch': '中文',
    'lang.switch.label': '切换到中文',
    'notice.close': 'Close',
    'mine.title': 'My tickets',
    'mine.empty': 'No tickets yet. Take a number or book a slot in a hall below.',
    'mine.kept': 'Tickets and appointments are kept on this device only.',
    'halls.title': 'Halls',
    'halls.loading': 'Loading halls…',
    'halls.none': 'No halls to show.',
    'halls.live': 'Live',
    'halls.polling': 'Refreshed every {s} s',
    'hall.open': 'Open',
    'hall.closed': 'Closed',
    'hall.waiting': 'Waiting',
    'hall.people': '{n}',
    'hall.windows': 'Open windows',
    'hall.quoted': 'Quoted wait',
    'hall.take': 'Take a number',
    'hall.book': 'Book',
    'hall.take.label': 'Take a number at {hall}',
    'hall.book.label': 'Book a slot at {hall}',
    'wait.none': 'no wait',
    'wait.under1': 'under 1 min',
    'wait.min': 'about {m} min',
    'wait.range': '{a}–{b} min',
    'wait.unknown': '—',
    'take.title': 'Take a number: {hall}',
    'take.service': 'Service',
    'take.submit': 'Take the number',
    'take.cancel': 'Back',
    'take.busy': 'Taking a number…',
    'ticket.status.waiting': 'Waiting',
    'ticket.status.called': 'Called',
    'ticket.status.serving': 'Being served',
    'ticket.status.done': 'Done',
    'ticket.status.no_show': 'Missed',
    'ticket.status.cancelled': 'Cancelled',
    'ticket.status.unknown': 'No longer valid',
    'ticket.ahead': '{n} ahead of you',
    'ticket.next': 'You are next',
    'ticket.window': 'Go to window {w}',
    'ticket.cancel': 'Cancel ticket',
    'ticket.cancel.confirm': 'Cancel ticket {n}?',
    'ticket.remove': 'Remove',
    'called.title': 'Called: go to window {w}',
    'called.number': 'Your number {n}',
    'called.doc': 'Window {w} · {n}',
    'book.title': 'Book: {hall}',
    'book.service': 'Service',
    'book.date': 'Date',
    'book.slots': 'Free slots',
    'book.slot': '{a}–{b} ({n} left)',
    'book.full': '{a}–{b} (full)',
    'book.loading': 'Looking up slots…',
    'book.none': 'No slots on that day.',
    'book.submit': 'Book this slot',
    'book.cancel': 'Back',
    'book.pick': 'Pick a slot first.',
    'book.done': 'Booked, code {code}',
    'appt.title': 'Appointment {code}',
    'appt.when': '{date} {a}–{b}',
    'appt.checkin': 'Check in at the hall',
    'appt.cancel': 'Cancel appointment',
    'appt.cancel.confirm': 'Cancel appointment {code}?',
    'appt.cancelled': 'Appointment cancelled',
    'appt.checked_in': 'Checked in',
    'error.network': 'No connection. Please try again.',
    'error.http': 'The service is unavailable ({status}).',
    'wall.title': 'Tax halls: live wall',
    'wall.hall': 'Hall',
    'wall.state': 'State',
    'wall.waiting': 'Waiting',
    'wall.windows': 'Open windows',
    'wall.quoted': 'Quoted wait (p10–p90)',
    'wall.accuracy': 'Quote accuracy',
    'wall.mae': 'error {m} min',
    'wall.coverage': '{p}% in range',
    'wall.updated': 'Updated {t}',
    'wall.total': 'Total',
  };

  // Service ids of the simulator and common hall set-ups; any other id shows as it is
  // (or as the hall's own `service_names` entry when the API sends one).
  const services = {
    'zh-CN': {
      invoice: '发票业务', tax_return: '申报纳税', registration: '税务登记',
      social_insurance: '社保缴费', consult: '咨询辅导',
    },
    en: {
      invoice: 'Invoices', tax_return: 'Tax returns', registration: 'Registration',
      social_insurance: 'Social insurance', consult: 'Advice',
    },
  };

  const tables = { 'zh-CN': zh, en: en };
  const KEY = 'hallkpi.lang';

  function stored() {
    try {
      return window.localStorage.getItem(KEY);
    } catch (e) {
      return null; // storage refused (private mode): the default language
    }
  }

  const fromQuery = new URLSearchParams(window.location.search).get('lang');
  HK.lang = tables[fromQuery] ? fromQuery : tables[stored()] ? stored() : 'zh-CN';

  /** The text of `key` in the current language, `{name}` replaced from `vars`. */
  HK.t = function (key, vars) {
    const text = tables[HK.lang][key] || zh[key] || key;
    return text.replace(/\{(\w+)\}/g, (m, name) =>
      vars && vars[name] !== undefined && vars[name] !== null ? String(vars[name]) : m);
  };

  HK.serviceName = function (hall, id) {
    const own = hall && hall.service_names && hall.service_names[id];
    return own || services[HK.lang][id] || id;
  };

  /** Writes the static words ([data-i18n], [data-i18n-label]) and tells the page. */
  HK.applyLang = function () {
    document.documentElement.lang = HK.lang;
    document.querySelectorAll('[data-i18n]').forEach((el) => {
      el.textContent = HK.t(el.getAttribute('data-i18n'));
    });
    document.querySelectorAll('[data-i18n-label]').forEach((el) => {
      el.setAttribute('aria-label', HK.t(el.getAttribute('data-i18n-label')));
    });
    document.dispatchEvent(new CustomEvent('hk:lang'));
  };

  HK.setLang = function (lang) {
    HK.lang = tables[lang] ? lang : 'zh-CN';
    try {
      window.localStorage.setItem(KEY, HK.lang);
    } catch (e) {
      /* not kept: the switch still works for this visit */
    }
    HK.applyLang();
  };

  /** Seconds to words: "about 12 min"; a p10-p90 range as "8–18 min". */
  HK.waitText = function (s) {
    if (s === null || s === undefined || !isFinite(s)) return HK.t('wait.unknown');
    if (s <= 0) return HK.t('wait.none');
    if (s < 60) return HK.t('wait.under1');
    return HK.t('wait.min', { m: Math.round(s / 60) });
  };

  HK.rangeText = function (lo, hi) {
    if (lo === null || lo === undefined || hi === null || hi === undefined) return '';
    return HK.t('wait.range', { a: Math.floor(lo / 60), b: Math.ceil(hi / 60) });
  };
})();
