/* What the page and the wall share: the device's storage, its random taxpayer id,
   calls to /api/v1 (problem details shown by their `detail`), and live hall status
   (server-sent events, with polling when EventSource is missing or gives up). */
(function () {
  'use strict';
  const HK = (window.HK = window.HK || {});

  // localStorage can be refused (private mode, some in-app browsers): keep values in
  // memory then, so the page still works for the visit.
  const memory = {};
  HK.store = {
    get(key, dflt) {
      let raw = null;
      try {
        raw = window.localStorage.getItem(key);
      } catch (e) {
        raw = key in memory ? memory[key] : null;
      }
      if (raw === null) return dflt;
      try {
        return JSON.parse(raw);
      } catch (e) {
        return dflt; // a value from an older page: start again
      }
    },
    set(key, value) {
      const raw = JSON.stringify(value);
      try {
        window.localStorage.setItem(key, raw);
      } catch (e) {
        memory[key] = raw;
      }
    },
  };

  HK.randomId = function (bytes) {
    const a = new Uint8Array(bytes || 16);
    window.crypto.getRandomValues(a);
    return Array.prototype.map.call(a, (b) => b.toString(16).padStart(2, '0')).join('');
  };

  /** The taxpayer value this device sends: random, made once, kept on the device (the
      server keeps only a keyed hash of it). */
  HK.deviceId = function () {
    let id = HK.store.get('hallkpi.device', null);
    if (typeof id !== 'string' || id.length < 16) {
      id = 'device-' + HK.randomId(16);
      HK.store.set('hallkpi.device', id);
    }
    return id;
  };

  /** An Error whose message is for the user: the problem's `detail`, else its title,
      else a generic line. `status` is 0 when the request never got an answer. */
  function failure(status, problem) {
    const text =
      (problem && (problem.detail || problem.title)) ||
      (status ? HK.t('error.http', { status: status }) : HK.t('error.network'));
    const err = new Error(text);
    err.status = status;
    err.problem = problem || null;
    return err;
  }

  /** JSON from `api/v1/<path>` (relative: works behind a proxy prefix). */
  HK.api = async function (method, path, body, headers) {
    const init = { method: method, headers: Object.assign({ Accept: 'application/json' }, headers) };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await window.fetch('api/v1/' + path, init);
    } catch (e) {
      throw failure(0, null);
    }
    let doc = null;
    const type = res.headers.get('Content-Type') || '';
    if (type.indexOf('json') >= 0) {
      try {
        doc = await res.json();
      } catch (e) {
        doc = null;
      }
    }
    if (!res.ok) throw failure(res.status, doc);
    return doc;
  };

  HK.enc = encodeURIComponent;

  const POLL_S = 5;
  const MAX_STREAMS = 4; // browsers open ~6 connections per host on HTTP/1.1
  let streams = 0;

  /** Follows one hall: `onHall(hall)` on every status; `onMode('live'|'poll')` when the
      way changes. Returns {close()}. */
  HK.watchHall = function (id, onHall, onMode) {
    let es = null;
    let timer = null;
    let closed = false;
    const path = 'halls/' + HK.enc(id);

    function poll() {
      if (closed) return;
      HK.api('GET', path)
        .then((hall) => !closed && hall && onHall(hall))
        .catch(() => {}) // the next poll tries again; the page shows the last known state
        .then(() => {
          if (!closed) timer = window.setTimeout(poll, POLL_S * 1000);
        });
    }

    function fallBack() {
      if (es) {
        es.close();
        es = null;
        streams -= 1;
      }
      onMode && onMode('poll');
      if (!timer) poll();
    }

    if (typeof window.EventSource === 'function' && streams < MAX_STREAMS) {
      streams += 1;
      es = new window.EventSource('api/v1/' + path + '/live');
      es.onopen = () => onMode && onMode('live');
      es.onmessage = (ev) => {
        try {
          onHall(JSON.parse(ev.data));
        } catch (e) {
          /* not a hall object (a comment or keep-alive): nothing to draw */
        }
      };
      // EventSource retries by itself; CLOSED means it gave up (e.g. a 404 or a proxy
      // that does not stream): poll from then on.
      es.onerror = () => {
        if (es && es.readyState === window.EventSource.CLOSED) fallBack();
      };
    } else {
      fallBack();
    }

    return {
      close() {
        closed = true;
        if (timer) window.clearTimeout(timer);
        if (es) {
          es.close();
          streams -= 1;
        }
      },
    };
  };
  HK.POLL_S = POLL_S;

  /** "…T09:30:00+08:00" -> "09:30": the hall's own clock time, whatever the phone's zone. */
  HK.clock = function (iso) {
    const m = /T(\d\d:\d\d)/.exec(String(iso || ''));
    return m ? m[1] : String(iso || '');
  };
  HK.day = function (iso) {
    const m = /^(\d{4}-\d\d-\d\d)/.exec(String(iso || ''));
    return m ? m[1] : '';
  };

  /** An element with attributes, text and children (no innerHTML: names are data). */
  HK.el = function (tag, attrs, children) {
    const node = document.createElement(tag);
    Object.keys(attrs || {}).forEach((k) => {
      const v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === 'text') node.textContent = v;
      else if (k === 'onclick') node.addEventListener('click', v);
      else node.setAttribute(k, v === true ? '' : v);
    });
    (children || []).forEach((c) => c && node.appendChild(c));
    return node;
  };
})();
