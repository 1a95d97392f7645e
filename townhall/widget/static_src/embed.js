/* Townhall embed widget: comments for a publisher's article page.
 *
 * Plain modern JavaScript, no framework, no build step. The server minifies it (whitespace and
 * comments), inlines the locale files and the stylesheet where the markers below stand, and
 * serves the result under a content hash.
 *
 *   <script src="https://comments.example/embed.js" data-site="SLUG" async></script>
 *   <div id="townhall"></div>
 *
 * Optional on the script or the host element: data-url (the article's canonical URL; default:
 * <link rel="canonical">, else the page URL), data-title, data-lang (default: <html lang>),
 * data-page-size (top-level comments per page, 1 to 200; default 20), data-replies (replies
 * shown under each top-level comment before "Show N more replies", 0 to 1000; default 3),
 * data-article (a CSS selector for the article's element, whose text passage comments point
 * into; default: article).
 *
 * Inline feedbacks: readers comment on a selected passage ("Comment on this"), or on passages the
 * author marked with data-townhall-passage="ID" (optional data-question). That part of the widget
 * (inline.js, after the re-anchoring code of anchoring.js) is loaded on pages with an article,
 * beside the first page of comments.
 *
 * Reader support: elements <div data-townhall-campaign="SLUG"></div> on the page get the
 * campaign's goal bar and Support button, from support.js (embed-support.js), loaded only on such
 * pages. Comments of readers who contributed and asked for it carry a "Supporter" badge. After a
 * reader's first post on a page view, a campaign of the site that asks for it (GET
 * /api/v1/campaigns?prompt=true) is offered under the form, by support.js too.
 *
 * Identity: a "Sign in" button in the bar, and a session kept per site in localStorage (its
 * token replaces the guest edit token under token:SITE; the commenter under session:SITE). The
 * sign-in form and the account menu are account.js (embed-account.js), loaded when the reader
 * opens them, or at start when there is a session, a data-sso-token (on the script or the host:
 * the publisher's signed JWT, for their logged-in readers) or a #townhall-signin=TOKEN fragment
 * (a magic link; removed from the address at once). Townhall.signIn(jwt) signs in later.
 *
 * Other parts of Townhall plug in through window.Townhall.extend(fn): fn(widget) is called for
 * every widget, which offers widget.slot(name) ("notify", "inline-feedback", "live", "goal")
 * and widget.on(event, handler) ("loaded", "posted", "voted", "deleted", and "live" with
 * { type, data } for each live event). The widget fills the "notify" slot itself with the email
 * subscription control, and "live" with its button for new comments.
 *
 * Live updates: once the thread exists, one EventSource per widget follows its events (from the
 * live_event_id of the first page; the browser reconnects by itself, and the server resumes from
 * Last-Event-ID). Votes, edits and removals are applied in place; new comments from others are
 * only counted, in a button ("2 new comments — show"), and inserted when the reader asks, so that
 * the list does not move under the reader. Events may come twice: each carries the whole new
 * state, and applying one again changes nothing.
 *
 * A page opened at #comment-N (the links in notification emails) scrolls to that comment and
 * focuses it once the first page is shown: in the shadow root, the browser cannot find it.
 */
(() => {
  "use strict";

  const LOCALES = "/*@LOCALES@*/";
  const CSS = "/*@CSS@*/";
  const INLINE = "/*@ANCHORING@*/";
  const SUPPORT = "/*@SUPPORT@*/";
  const ACCOUNT = "/*@ACCOUNT@*/";
  const STARTED = performance.now();
  const script = document.currentScript;
  const SERVER = new URL(script ? script.src : location.href).origin;
  const PAGE_SIZE = 20;
  const BUBBLE_DAYS = 7;
  const SORTS = [["newest", "newest"], ["oldest", "oldest"], ["most_voted", "mostVoted"]];
  const KINDS = ["thread", "replies"];
  const ALLOWED_TAGS = new Set(["P", "BR", "STRONG", "EM", "S", "DEL", "CODE", "PRE", "BLOCKQUOTE",
    "UL", "OL", "LI", "A"]);

  // ---- small helpers -------------------------------------------------------------------------

  const store = {
    get(key, fallback) {
      try {
        const raw = localStorage.getItem("townhall:" + key);
        return raw === null ? fallback : JSON.parse(raw);
      } catch { return fallback; }
    },
    set(key, value) {
      try { localStorage.setItem("townhall:" + key, JSON.stringify(value)); } catch { /* full or blocked */ }
    },
    remove(key) {
      try { localStorage.removeItem("townhall:" + key); } catch { /* blocked */ }
    },
  };

  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value == null || value === false) continue;
      if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else if (key === "text") el.textContent = value;
      else el.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child != null && child !== false) el.append(child);
    }
    return el;
  }

  /* The server sanitizes every comment with nh3 when it is written. This second, client-side
   * pass keeps the page safe even from a compromised or misconfigured server. */
  function safeFragment(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    const walk = (node) => {
      for (const child of [...node.children]) {
        if (!ALLOWED_TAGS.has(child.tagName)) { child.replaceWith(child.textContent); continue; }
        for (const attr of [...child.attributes]) {
          const keep = child.tagName === "A" && (attr.name === "href" || attr.name === "title" || attr.name === "rel")
            || (child.tagName === "OL" && attr.name === "start");
          if (!keep) child.removeAttribute(attr.name);
        }
        if (child.tagName === "A") {
          let ok = false;
          try { ok = ["http:", "https:", "mailto:"].includes(new URL(child.getAttribute("href")).protocol); } catch { /* relative */ }
          if (!ok) child.removeAttribute("href");
          child.setAttribute("rel", "nofollow ugc noopener");
          child.setAttribute("target", "_blank");
        }
        walk(child);
      }
    };
    walk(template.content);
    return template.content;
  }

  function pickLocale(requested) {
    const tags = [requested, document.documentElement.lang, navigator.language, "en"];
    for (const tag of tags) {
      if (!tag) continue;
      const lower = tag.toLowerCase();
      if (LOCALES[lower]) return lower;
      const base = lower.split("-")[0];
      if (LOCALES[base]) return base;
    }
    return "en";
  }

  function canonicalUrl(explicit) {
    if (explicit) return explicit;
    const link = document.querySelector('link[rel="canonical"]');
    const url = new URL(link ? link.href : location.href);
    url.hash = "";
    return url.href;
  }

  function isDark(el) {
    for (let node = el; node; node = node.parentElement) {
      const match = getComputedStyle(node).backgroundColor.match(/[\d.]+/g);
      if (match && (match.length < 4 || Number(match[3]) > 0)) {
        const [r, g, b] = match.map(Number);
        return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255 < 0.5;
      }
    }
    return matchMedia("(prefers-color-scheme: dark)").matches
      && getComputedStyle(document.body).backgroundColor === "rgba(0, 0, 0, 0)";
  }

  class ApiError extends Error {
    constructor(message, code, status, retryAfter) {
      super(message);
      this.code = code;
      this.status = status;
      this.retryAfter = retryAfter;
    }
  }

  async function api(path, { method = "GET", body, token, key } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers.Authorization = "Bearer " + token;
    if (key) headers["Idempotency-Key"] = key;
    let response;
    try {
      response = await fetch(SERVER + path, {
        method, headers, body: JSON.stringify(body),
        credentials: "omit",
      });
    } catch {
      throw new ApiError("", "network", 0);
    }
    if (response.status === 204) return null;
    let data = null;
    try { data = await response.json(); } catch { /* not JSON */ }
    if (!response.ok) {
      const error = data?.error || {};
      throw new ApiError(error.message || "", error.code || "server_error", response.status,
        response.headers.get("Retry-After"));
    }
    return data;
  }

  const loaded = {};
  const load = (src, name) => loaded[src] ||= new Promise((resolve, reject) => {
    document.head.append(h("script", { src: SERVER + src, onload: () => resolve(window[name]), onerror: reject }));
  });
  const kit = { h, api, store, pickLocale, isDark, dataset: script ? script.dataset : {} };
  let support, account;
  const loadSupport = () => support ||= load(SUPPORT, "TownhallSupport").then((make) => make(kit));
  const loadAccount = () => account ||= load(ACCOUNT, "TownhallAccount").then((make) => make(kit));

  // ---- the widget ----------------------------------------------------------------------------

  class Widget {
    constructor(host, options) {
      this.host = host;
      this.site = options.site;
      this.url = canonicalUrl(options.url);
      this.title = options.title || document.title;
      this.pageSize = Math.min(200, Math.max(1, Number.parseInt(options.pageSize, 10) || PAGE_SIZE));
      this.replies = options.replies;
      this.locale = pickLocale(options.lang);
      this.strings = { ...LOCALES.en, ...LOCALES[this.locale] };
      this.plural = new Intl.PluralRules(this.locale);
      this.relative = new Intl.RelativeTimeFormat(this.locale, { numeric: "auto" });
      this.sort = store.get("sort", "newest");
      if (!SORTS.some(([key]) => key === this.sort)) this.sort = "newest";
      this.handlers = {};
      this.slots = {};
      this.roots = [];
      this.byId = new Map();
      this.cursor = null;
      this.thread = null;
      const article = document.querySelector(options.article || "article");
      this.article = article && !host.contains(article) ? article : null;
      this.orphans = new Set();
      this.only = null;
      // New comments from others, in the order they came, until the reader shows them.
      this.fresh = new Map();
      // The first page is asked for before anything is built, so the network and the DOM work
      // overlap.
      this.prefetch = this.fetchPage(null);
      this.root = host.shadowRoot || host.attachShadow({ mode: "open" });
      host.dataset.theme = isDark(host) ? "dark" : "light";
      host.setAttribute("lang", this.locale);
      this.build();
      addEventListener("hashchange", () => this.reveal());
      if (this.article) {
        load(INLINE, "TownhallInline").then((install) => { this.inline = install(this, { h, api, safeFragment, CSS }); })
          .catch((error) => console.error("Townhall: inline feedbacks could not load", error));
      }
    }

    // Public surface for extensions.
    slot(name) { return this.slots[name]; }
    on(event, handler) { (this.handlers[event] ||= []).push(handler); }
    emit(event, detail) {
      for (const handler of this.handlers[event] || []) {
        try { handler(detail); } catch (error) { console.error(error); }
      }
      this.host.dispatchEvent(new CustomEvent("townhall:" + event, { detail }));
    }

    t(key, vars = {}, text = this.strings[key]) {
      if (text && typeof text === "object") text = text[this.plural.select(vars.n ?? 0)] || text.other;
      return String(text ?? key).replace(/\{(\w+)\}/g, (_, name) => vars[name] ?? "");
    }

    get token() { return store.get("token:" + this.site, null); }
    get session() { return store.get("session:" + this.site, null); }
    get own() { return store.get("own:" + this.site, {}); }
    get votes() { return store.get("votes:" + this.site, {}); }

    build() {
      const style = h("style", { text: CSS });
      this.countHeading = h("h2", { class: "count", id: "th-count" });
      this.sortGroup = h("div", { class: "sort", role: "group", "aria-label": this.t("sortLabel") },
        SORTS.map(([key, label]) => h("button", {
          type: "button", "data-sort": key, "aria-pressed": String(key === this.sort),
          onclick: () => this.changeSort(key), text: this.t(label),
        })));
      for (const name of ["goal", "notify", "live", "inline-feedback"]) {
        this.slots[name] = h("div", { class: "slot", "data-slot": name });
      }
      this.buildNotify();
      this.accountButton = h("button", { type: "button", class: "link", text: this.session?.name || this.t("signIn"),
        onclick: () => this.account({ open: true }) });
      this.newButton = h("button", { type: "button", class: "new primary", hidden: true, onclick: () => this.showNew() });
      this.slots.live.append(h("div", { "aria-live": "polite" }, this.newButton));
      this.form = this.composer({
        label: this.t("formLabel"), field: this.t("comment"), submit: this.t("post"), withIdentity: true, withNotify: true,
        onSubmit: (body, fields) => this.post(body, null, fields),
      });
      this.alert = h("div", { class: "alert", role: "alert", hidden: true });
      this.list = h("ol", { class: "comments", "aria-labelledby": "th-count" });
      this.more = h("button", { type: "button", class: "more", hidden: true, text: this.t("loadMore"),
        onclick: () => this.load(false) });
      this.status = h("div", { class: "visually-hidden", role: "status", "aria-live": "polite" });
      this.loading = h("p", { class: "muted", text: this.t("loading") });
      this.root.replaceChildren(style, this.slots.goal,
        h("header", { class: "bar" }, this.countHeading, this.slots.notify, this.slots["inline-feedback"], this.sortGroup, this.accountButton),
        this.slots.live, this.form.element, this.alert, this.loading,
        this.list, this.more, this.status);
    }

    /* The account module (sign-in, the account menu; with a session, the name instead of the
     * form's name and email fields), loaded at start when there is a session to show. */
    account(options) {
      return loadAccount().then((a) => a.start(this, options)).catch(console.error);
    }

    announce(text) {
      this.status.textContent = "";
      setTimeout(() => { this.status.textContent = text; }, 30);
    }

    errorText(error) {
      if (error.code === "network") return this.t("networkError");
      const known = this.strings["error_" + error.code];
      if (known) return this.t("error_" + error.code, { seconds: error.retryAfter || "60" });
      return error.message || this.t("loadError");
    }

    showAlert(text, retry) {
      this.alert.replaceChildren(h("span", { text }),
        retry ? h("button", { type: "button", text: this.t("retry"), onclick: retry }) : null);
      this.alert.hidden = false;
    }

    // ---- reading -------------------------------------------------------------------------------

    fetchPage(cursor) {
      const params = new URLSearchParams({ site: this.site, url: this.url, sort: this.sort, limit: this.pageSize });
      if (cursor) params.set("cursor", cursor);
      if (this.only) params.set("only", this.only);
      if (this.replies) params.set("replies", this.replies);
      return api("/api/v1/threads?" + params);
    }

    async load(reset = true) {
      const pending = reset && this.prefetch ? this.prefetch : this.fetchPage(reset ? null : this.cursor);
      this.prefetch = null;
      this.more.disabled = true;
      try {
        const page = await pending;
        this.alert.hidden = true;
        this.thread = page.thread;
        if (reset) { this.roots = []; this.byId.clear(); this.list.replaceChildren(); this.fresh.clear(); }
        // A comment shown live may come again on a later page.
        const comments = page.comments.filter((comment) => !this.byId.has(comment.id));
        this.roots.push(...comments);
        this.cursor = page.next_cursor;
        const fragment = document.createDocumentFragment();
        for (const comment of comments) fragment.append(this.renderComment(comment));
        this.list.append(fragment);
        this.updateCount();
        if (reset) this.listen(this.thread.live_event_id);
        this.more.hidden = !this.cursor;
        this.form.element.hidden = this.thread.is_open === false;
        // A site that asks guests for more than the defaults, or allows none: account.js has the rules.
        const rules = this.thread.signin;
        if (reset && rules && (!rules.guest || rules.guest_requires.length)) this.account();
        this.emit("loaded", { thread: this.thread, comments, ms: performance.now() - STARTED });
      } catch (error) {
        this.showAlert(reset ? this.t("loadError") + " " + this.errorText(error) : this.errorText(error),
          () => this.load(reset));
      } finally {
        this.loading.hidden = true;
        this.more.disabled = false;
      }
    }

    /* The heading, and the button for new comments. */
    updateCount() {
      const n = this.thread ? this.thread.comment_count : 0;
      this.countHeading.textContent = this.t("comments", { n });
      this.newButton.hidden = !this.fresh.size || this.posting;
      this.newButton.textContent = this.t("newComments", { n: this.fresh.size });
      if (!this.roots.length) this.list.replaceChildren(h("li", { class: "muted empty", text: this.t(this.only ? "inlineEmpty" : "empty") }));
      else this.list.querySelector(":scope > .empty")?.remove();
    }

    changeSort(key) {
      if (key === this.sort) return;
      this.sort = key;
      store.set("sort", key);
      for (const button of this.sortGroup.children) button.setAttribute("aria-pressed", String(button.dataset.sort === key));
      this.load(true);
    }

    /* A link to #comment-N: scroll to that comment, highlight it and give it the focus. */
    async reveal() {
      const match = /^#comment-(\d+)$/.exec(location.hash);
      if (!match) return;
      let target = this.root.getElementById("comment-" + match[1]);
      if (!target) {
        // A reply the page left out (a link from an email): the replies of its top-level comment.
        const page = await api(`/api/v1/comments/${match[1]}/replies?limit=200`).catch(() => null);
        const root = page && this.byId.get(page.root_id);
        if (!root) return;
        this.addReplies(root, page);
        this.patch(root);
        target = this.root.getElementById("comment-" + match[1]);
        if (!target) return;
      }
      this.root.querySelector(".target")?.classList.remove("target");
      target.classList.add("target");
      target.tabIndex = -1;
      target.scrollIntoView({ block: "center" });
      target.focus({ preventScroll: true });
    }

    // ---- live updates --------------------------------------------------------------------------

    listen(since) {
      this.live?.close();
      if (!this.thread?.id) return;
      const stream = this.live = new EventSource(`${SERVER}/api/v1/threads/${this.thread.id}/events?last_event_id=${since}`);
      for (const kind of ["comment", "edit", "remove", "vote", "reset"]) {
        stream.addEventListener(kind, (event) => this.onLive(kind, JSON.parse(event.data)));
      }
      // The browser gives up on an answer that is not a stream (503 when the server has too many
      // readers, a proxy's 502): try again a minute later, from the same point (what comes again
      // changes nothing).
      stream.onerror = () => {
        if (stream.readyState === 2) setTimeout(() => this.live === stream && this.listen(since), 6e4);
      };
    }

    onLive(kind, data) {
      if (kind === "reset") {
        this.live.close();
        this.load(true);
      } else {
        this.steady(() => this.apply(kind, data));
      }
      this.emit("live", { type: kind, data });
    }

    apply(kind, data) {
      const comment = data.comment;
      // Events are about visible comments, but for one case (a held comment unfeatured): not
      // shown, as on a page.
      if (comment && comment.status !== "visible") return;
      const id = comment ? comment.id : data.id;
      const known = this.byId.get(id);
      const target = known || this.fresh.get(id);
      if ("comment_count" in data) this.thread.comment_count = data.comment_count;
      if (kind === "remove") {
        this.fresh.delete(id);
        if (known) this.drop(known, data.status);
      } else if (target) {
        // Also a "comment" already shown: one's own, or a held comment a moderator approved.
        Object.assign(target, comment || data, { replies: target.replies });
        if (known && comment) this.patch(known);
        else this.root.getElementById("comment-" + id)?.querySelector(":scope > .actions .score")?.replaceWith(this.score(target));
      } else if (kind === "comment" && (comment.parent_id ? this.byId.has(comment.parent_id) || this.fresh.has(comment.parent_id)
        : !this.only || comment.passage)) {
        // A reply to a comment not loaded is only counted (the heading); it comes with its page.
        this.fresh.set(id, comment);
      }
      this.updateCount();
    }

    /* Runs change() without moving what the reader sees: the first block of the widget still on
     * screen is measured before and after, and the page scrolled by the difference. */
    steady(change) {
      const anchor = [...this.root.querySelectorAll(".bar, .composer, article > :not(ol)")]
        .find((el) => el.getBoundingClientRect().bottom > 0);
      const top = anchor?.getBoundingClientRect().top;
      change();
      if (anchor?.isConnected) scrollBy(0, anchor.getBoundingClientRect().top - top);
    }

    /* New top-level comments go first (Newest, and Most Voted, where they would sort by their
     * votes only on a reload), or last (Oldest); replies under their parents. The focus moves to
     * the first of them. */
    showNew() {
      let first;
      this.steady(() => {
        for (const comment of this.fresh.values()) {
          if (comment.parent_id && !this.byId.has(comment.parent_id)) continue;
          const article = this.place(comment, this.sort === "oldest").firstChild;
          // 4: `first` follows it.
          if (!first || article.compareDocumentPosition(first) & 4) first = article;
        }
        this.fresh.clear();
        this.updateCount();
      });
      if (first) {
        first.tabIndex = -1;
        first.focus();
      }
    }

    /* After the first comment on an article: the thread now exists, to be followed. Comments of
     * others that came meanwhile are counted as new. */
    async follow() {
      try {
        const page = await this.fetchPage(null);
        this.thread.id = page.thread.id;
        for (const comment of page.comments) if (!this.byId.has(comment.id)) this.fresh.set(comment.id, comment);
        this.updateCount();
        this.listen(page.thread.live_event_id);
      } catch {
        // No live updates, then.
      }
    }

    // ---- notifications -------------------------------------------------------------------------

    /* "Notify of ▾" opens a small form: what to follow, the address, Subscribe. A subscription
     * made here is remembered with its receipt (per site, article and kind), which cancels it. */
    buildNotify() {
      const id = "th-notify";
      this.notifyToggle = h("button", { type: "button", class: "notify-toggle", "aria-expanded": "false",
        "aria-controls": id, onclick: () => this.toggleNotify() },
      this.t("notifyOf"), h("span", { "aria-hidden": "true", text: " ▾" }));
      this.notifyKind = h("select", {}, KINDS.map((kind) => h("option", { value: kind, text: this.t("notify_" + kind) })));
      this.notifyEmail = h("input", { type: "email", name: "email", autocomplete: "email", required: true });
      this.notifySend = h("button", { type: "submit", class: "primary", text: this.t("subscribe") });
      this.notifyForm = h("form", { id, class: "notify", hidden: true, novalidate: true,
        onsubmit: (event) => { event.preventDefault(); this.subscribe(); } },
      h("label", {}, h("span", { text: this.t("notifyOf") }), this.notifyKind),
      h("label", {}, h("span", { text: this.t("notifyEmail") }), this.notifyEmail),
      this.notifySend);
      this.notifyState = h("div", { class: "subscribed" });
      this.notifyError = h("p", { class: "error notify-error", role: "alert", hidden: true });
      const slot = this.slots.notify;
      slot.replaceChildren(this.notifyToggle, this.notifyForm, this.notifyState, this.notifyError);
      slot.addEventListener("keydown", (event) => {
        if (event.key === "Escape" && !this.notifyForm.hidden) { this.toggleNotify(false); this.notifyToggle.focus(); }
      });
      this.renderNotify();
    }

    receiptKey(kind) { return `sub:${this.site}:${kind}:${this.url}`; }

    toggleNotify(open = this.notifyForm.hidden) {
      this.notifyForm.hidden = !open;
      this.notifyToggle.setAttribute("aria-expanded", String(open));
      this.notifyError.hidden = true;
      if (open) {
        this.notifyEmail.value ||= store.get("me:" + this.site, {}).email || "";
        this.notifyKind.focus();
      }
    }

    renderNotify() {
      const subscribed = KINDS.filter((kind) => store.get(this.receiptKey(kind)));
      for (const option of this.notifyKind.options) option.hidden = option.disabled = subscribed.includes(option.value);
      const free = KINDS.filter((kind) => !subscribed.includes(kind));
      if (!free.includes(this.notifyKind.value) && free.length) this.notifyKind.value = free[0];
      this.notifyToggle.hidden = !free.length;
      if (!free.length) this.toggleNotify(false);
      this.notifyState.replaceChildren(...subscribed.map((kind) => h("p", {},
        h("span", { id: "th-sub-" + kind, text: this.t("subscribed_" + kind) }), " ",
        h("button", { type: "button", class: "link", "data-kind": kind, text: this.t("unsubscribe"),
          "aria-describedby": `th-sub-${kind} th-sub-hint`, onclick: () => this.unsubscribe(kind) }))),
      subscribed.length ? h("p", { class: "muted", id: "th-sub-hint", text: this.t("notifyConfirm") }) : "");
      this.notifyState.hidden = !subscribed.length;
    }

    async subscribe() {
      const email = this.notifyEmail.value.trim();
      const kind = this.notifyKind.value;
      this.notifyError.hidden = true;
      this.notifyEmail.removeAttribute("aria-invalid");
      if (!email) { this.fail(this.notifyError, this.notifyEmail, this.t("notifyNoEmail")); return; }
      this.notifySend.disabled = true;
      try {
        const result = await api("/api/v1/subscriptions", { method: "POST",
          body: { site: this.site, url: this.url, title: this.title, email, kind } });
        store.set(this.receiptKey(kind), result.receipt);
        this.toggleNotify(false);
        this.renderNotify();
        this.notifyState.querySelector(`[data-kind="${kind}"]`).focus();
      } catch (failure) {
        this.fail(this.notifyError, failure.code === "invalid_email" ? this.notifyEmail : null,
          failure.code === "rate_limited" ? this.t("notifyRateLimited", { seconds: failure.retryAfter || "60" }) : this.errorText(failure));
      } finally {
        this.notifySend.disabled = false;
      }
    }

    async unsubscribe(kind) {
      this.notifyError.hidden = true;
      try {
        await api("/api/v1/subscriptions/cancel", { method: "POST", body: { receipt: store.get(this.receiptKey(kind)) } });
      } catch (failure) {
        // A receipt the server no longer reads cancels nothing: forget it all the same.
        if (failure.code !== "invalid_receipt") { this.fail(this.notifyError, null, this.errorText(failure)); return; }
      }
      store.remove(this.receiptKey(kind));
      this.renderNotify();
      this.notifyToggle.focus();
      this.announce(this.t("unsubscribed"));
    }

    // ---- rendering -----------------------------------------------------------------------------

    when(iso) {
      const seconds = (new Date(iso).getTime() - Date.now()) / 1000;
      const steps = [[60, "second"], [60, "minute"], [24, "hour"], [30, "day"], [12, "month"], [Infinity, "year"]];
      let value = seconds;
      for (const [size, unit] of steps) {
        if (Math.abs(value) < size) return this.relative.format(Math.round(value), unit);
        value /= size;
      }
      return "";
    }

    renderComment(comment) {
      this.byId.set(comment.id, comment);
      const visible = comment.status === "visible" || comment.status === "pending";
      const mine = this.isEditable(comment);
      const article = h("article", {
        class: comment.featured ? "comment featured" : "comment", id: "comment-" + comment.id, "data-id": comment.id,
        "aria-label": visible ? this.t("commentBy", { name: comment.author_name }) : this.t("deleted"),
      });
      const item = h("li", { class: comment.passage ? "item passage" : "item" }, article);
      if (!visible) {
        article.append(h("p", { class: "muted deleted", text: this.t("deleted") }));
      } else {
        const body = h("div", { class: "body" });
        body.append(safeFragment(comment.html));
        article.append(
          h("header", { class: "meta" },
            h("span", { class: "author", text: comment.author_name }),
            comment.supporter ? h("span", { class: "badge supporter", text: this.t("supporter") }) : null,
            h("time", { datetime: comment.created, title: new Date(comment.created).toLocaleString(this.locale),
              text: this.when(comment.created) }),
            comment.edited ? h("span", { class: "muted", text: this.t("edited") }) : null,
            comment.status === "pending" ? h("span", { class: "badge", text: this.t("pending") }) : null,
            comment.featured ? h("span", { class: "badge pick", text: this.t("pick") }) : null),
          comment.passage ? h("blockquote", { class: this.orphans.has(comment.id) ? "quote muted orphan" : "quote muted", text: comment.passage.quote.exact }) : "",
          comment.passage && this.orphans.has(comment.id) ? h("p", { class: "muted orphan-note", text: this.t("orphan") }) : "",
          comment.passage && !this.orphans.has(comment.id)
            ? h("button", { type: "button", class: "link show", text: this.t("showInArticle"), onclick: () => this.inline?.show(comment) }) : "",
          body,
          h("footer", { class: "actions" },
            comment.status === "visible" ? this.voteBar(comment) : null,
            comment.status === "visible" && this.thread?.is_open !== false
              ? h("button", { type: "button", class: "link", text: this.t("reply"), onclick: () => this.openReply(comment, article) })
              : null,
            mine ? h("button", { type: "button", class: "link", text: this.t("edit"), onclick: () => this.openEdit(comment, article) }) : null,
            mine ? h("button", { type: "button", class: "link", text: this.t("delete"), onclick: (event) => this.confirmDelete(comment, event.target) }) : null,
            comment.status !== "visible" || this.own[comment.id] ? null
              : this.reported.includes(comment.id) ? h("span", { class: "muted", text: this.t("reported") })
                : h("button", { type: "button", class: "link", text: this.t("report"), onclick: (event) => this.openReport(comment, event.target) })),
          h("div", { class: "reply-slot" }));
      }
      const replies = h("ol", { class: "replies" });
      for (const reply of comment.replies || []) replies.append(this.renderComment(reply));
      article.append(replies, comment.more_replies ? h("button", { type: "button", class: "link more-replies",
        text: this.t("moreReplies", { n: comment.more_replies }), onclick: (event) => this.moreReplies(comment, event.target) }) : "");
      return item;
    }

    /* The replies a page left out under a top-level comment, after those shown; the focus moves
     * to the first of them. */
    async moreReplies(comment, button) {
      button.disabled = true;
      try {
        const first = this.addReplies(comment, await api(`/api/v1/comments/${comment.id}/replies?cursor=${comment.replies_cursor || ""}`));
        if (comment.more_replies) button.textContent = this.t("moreReplies", { n: comment.more_replies });
        else button.remove();
        if (first) { first.tabIndex = -1; first.focus(); }
      } catch (error) {
        this.showAlert(this.errorText(error));
      } finally {
        button.disabled = false;
      }
    }

    /* Puts the replies of `page` that are not shown yet under their top-level comment, and keeps
     * what is left to load; the first one put, if any. */
    addReplies(comment, page) {
      let first;
      for (const reply of page.comments) {
        if (this.byId.has(reply.id)) continue;
        const article = this.place(reply, true).firstChild;
        first ??= article;
      }
      Object.assign(comment, { more_replies: page.more_replies, replies_cursor: page.next_cursor });
      return first;
    }

    voteBar(comment) {
      const mine = this.votes[comment.id] || 0;
      const button = (value, label, glyph) => h("button", {
        type: "button", class: "vote", "aria-label": this.t(label), "aria-pressed": String(mine === value),
        onclick: () => this.vote(comment, mine === value ? 0 : value), text: glyph,
      });
      return h("span", { class: "votes", role: "group", "aria-label": this.t("votes") },
        button(1, "upvote", "▲"), this.score(comment), button(-1, "downvote", "▼"));
    }

    score(comment) {
      return h("span", { class: "score", "aria-label": this.t("scoreLabel", { up: comment.upvotes, down: comment.downvotes }),
        text: (comment.score > 0 ? "+" : "") + comment.score });
    }

    rerender(comment) {
      const old = this.root.getElementById("comment-" + comment.id)?.parentElement;
      if (old) old.replaceWith(this.renderComment(comment));
    }

    /* A comment drawn again after a change by someone else. Its reply form (a draft) and its
     * replies stay as they are; the focus stays where it was, or on the comment if it was on a
     * part of it that is gone. */
    patch(comment) {
      const old = this.root.getElementById("comment-" + comment.id);
      if (!old) return;
      const active = this.root.activeElement;
      const had = old.contains(active);
      const item = this.renderComment(comment);
      const fresh = item.firstChild;
      const slot = old.querySelector(":scope > .reply-slot");
      if (slot) fresh.querySelector(":scope > .reply-slot")?.replaceWith(slot);
      fresh.querySelector(":scope > .replies").replaceWith(old.querySelector(":scope > .replies"));
      old.parentElement.replaceWith(item);
      if (had) {
        fresh.tabIndex = -1;
        (active.isConnected ? active : fresh).focus({ preventScroll: true });
      }
    }

    /* A comment that readers no longer see: a placeholder while it has replies, else gone. */
    drop(comment, status) {
      Object.assign(comment, { status, html: "", author_name: null, featured: false });
      const item = this.root.getElementById("comment-" + comment.id)?.parentElement;
      if (comment.replies?.length) this.patch(comment);
      else if (item) {
        const holder = this.byId.get(Number(item.parentElement.closest("article")?.dataset.id));
        if (holder) holder.replies = holder.replies.filter((reply) => reply !== comment);
        else this.roots = this.roots.filter((root) => root !== comment);
        item.remove();
        this.byId.delete(comment.id);
      }
      this.emit("deleted", { comment });
    }

    /* Puts a new comment where a page would: a reply under its parent, or beside it past the
     * site's depth (then it has its parent's depth); a top-level comment first, or `last`. */
    place(comment, last) {
      const item = this.renderComment(comment);
      const parent = this.root.getElementById("comment-" + comment.parent_id);
      if (parent) {
        const list = comment.depth > this.byId.get(comment.parent_id).depth
          ? parent.querySelector(":scope > .replies") : parent.parentElement.parentElement;
        const holder = this.byId.get(Number(list.closest("article")?.dataset.id));
        (holder ? holder.replies ||= [] : this.roots).push(comment);
        list.append(item);
      } else {
        this.roots[last ? "push" : "unshift"](comment);
        this.list.querySelector(":scope > .empty")?.remove();
        this.list[last ? "append" : "prepend"](item);
      }
      return item;
    }

    isEditable(comment) {
      const entry = this.own[comment.id];
      return Boolean(entry && Date.parse(entry.until) > Date.now() && comment.status !== "deleted");
    }

    // ---- writing -------------------------------------------------------------------------------

    composer({ label, field, submit, withIdentity, withNotify, initial = "", onSubmit, onCancel }) {
      const me = store.get("me:" + this.site, {});
      const id = "th-" + Math.random().toString(36).slice(2, 8);
      const textarea = h("textarea", { id: id + "-body", rows: withIdentity ? 4 : 3, required: true,
        placeholder: withIdentity ? this.t("placeholder") : null });
      textarea.value = initial;
      const preview = h("div", { class: "preview body", hidden: true, "aria-live": "polite" });
      const error = h("p", { class: "error", role: "alert", hidden: true });
      const name = withIdentity ? h("input", { id: id + "-name", name: "name", autocomplete: "name", maxlength: 80, value: me.name || "" }) : null;
      const email = withIdentity ? h("input", { id: id + "-email", name: "email", type: "email", autocomplete: "email", value: me.email || "" }) : null;
      // Replies to one's comment by email: needs an address, typed here or remembered from the form.
      const notify = withNotify && (email || me.email) ? h("input", { type: "checkbox", name: "notify" }) : null;
      const syncNotify = () => {
        if (!email) return;
        notify.disabled = !email.value.trim();
        if (notify.disabled) notify.checked = false;
      };
      const previewButton = h("button", { type: "button", class: "link", text: this.t("preview") });
      const send = h("button", { type: "submit", class: "primary", text: submit });
      const form = h("form", { class: "composer", "aria-label": label, novalidate: true },
        h("label", { for: id + "-body", class: "visually-hidden", text: field }),
        textarea, preview,
        withIdentity ? h("div", { class: "identity", hidden: !!this.session },
          h("label", {}, h("span", { text: this.t("name") }), name),
          h("label", {}, h("span", { text: this.t("email") }), email)) : null,
        notify ? h("label", { class: "check" }, notify, h("span", { text: this.t("notifyReplies") })) : null,
        error,
        h("div", { class: "buttons" }, previewButton,
          onCancel ? h("button", { type: "button", class: "link", text: this.t("cancel"), onclick: onCancel }) : null,
          send));
      if (notify) { syncNotify(); email?.addEventListener("input", syncNotify); }
      previewButton.addEventListener("click", async () => {
        if (preview.hidden) {
          preview.replaceChildren(h("span", { class: "muted", text: "…" }));
          preview.hidden = false;
          textarea.hidden = true;
          previewButton.textContent = this.t("write");
          try {
            const result = await api("/api/v1/preview", { method: "POST", body: { site: this.site, body: textarea.value } });
            preview.replaceChildren(result.html ? safeFragment(result.html) : h("span", { class: "muted", text: this.t("previewEmpty") }));
          } catch (failure) {
            preview.replaceChildren(h("span", { class: "error", text: this.errorText(failure) }));
          }
        } else {
          preview.hidden = true;
          textarea.hidden = false;
          previewButton.textContent = this.t("preview");
          textarea.focus();
        }
      });
      // One key per comment, kept while the text is: sending it again after a failure (a lost
      // answer, a 503) answers the comment if the server had stored it after all.
      let key = null;
      textarea.addEventListener("input", () => { key = null; });
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        error.hidden = true;
        textarea.removeAttribute("aria-invalid");
        if (!textarea.value.trim()) {
          this.fail(error, textarea, this.t("error_empty_body"));
          return;
        }
        send.disabled = true;
        try {
          const fields = withIdentity ? { author_name: name.value.trim() || null, author_email: email.value.trim() || null } : {};
          if (notify?.checked) fields.notify_replies = true;
          fields.key = key ||= Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
          if (withIdentity) store.set("me:" + this.site, { name: name.value.trim(), email: email.value.trim() });
          await onSubmit(textarea.value, fields);
          textarea.value = "";
          key = null;
          if (!preview.hidden) previewButton.click();
        } catch (failure) {
          this.fail(error, failure.code === "invalid_email" ? email : textarea, this.errorText(failure));
        } finally {
          send.disabled = false;
        }
      });
      // For account.js: a form for a new comment (not an edit) follows the site's rules for guests.
      this.emit("composer", { form, fresh: withIdentity || withNotify });
      return { element: form, textarea };
    }

    fail(errorElement, field, text) {
      errorElement.textContent = text;
      errorElement.hidden = false;
      if (field) { field.setAttribute("aria-invalid", "true"); field.focus(); }
    }

    /* Own comments are kept with their Markdown source for the edit window only. */
    remember(posted, body) {
      if (!this.session) store.set("token:" + this.site, posted.edit_token);
      const own = this.own;
      own[posted.comment.id] = { until: posted.editable_until, body };
      for (const [id, entry] of Object.entries(own)) if (Date.parse(entry.until) < Date.now()) delete own[id];
      store.set("own:" + this.site, own);
    }

    async post(body, parent, fields = {}, passage = null) {
      const me = store.get("me:" + this.site, {});
      // Its live event may come before the answer: the button for new comments waits for it.
      this.posting = true;
      const posted = await api("/api/v1/comments", {
        method: "POST", token: this.token, key: fields.key,
        body: { site: this.site, url: this.url, title: this.title, body, parent_id: parent ? parent.id : null,
          author_name: fields.author_name ?? (me.name || null), author_email: fields.author_email ?? (me.email || null),
          notify_replies: Boolean(fields.notify_replies), passage },
      }).finally(() => { this.posting = false; this.updateCount(); });
      this.remember(posted, body);
      const comment = { ...posted.comment, replies: [] };
      this.place(comment);
      // If its live event came first, the count has it already.
      if (comment.status === "visible" && !this.fresh.delete(comment.id)) this.thread.comment_count += 1;
      this.updateCount();
      if (!this.thread.id) this.follow();
      this.announce((comment.status === "visible" ? this.t("posted") : this.t("held"))
        + (fields.notify_replies ? " " + this.t("notifyConfirm") : ""));
      this.emit("posted", { comment });
      this.root.getElementById("comment-" + comment.id)?.scrollIntoView({ block: "nearest" });
      return comment;
    }

    openReply(comment, article) {
      const slot = article.querySelector(":scope > .reply-slot");
      if (slot.firstChild) { slot.querySelector("textarea").focus(); return; }
      const close = () => { slot.replaceChildren(); article.querySelector(".actions button.link")?.focus(); };
      const reply = this.composer({
        label: this.t("replyTo", { name: comment.author_name }), field: this.t("replyField"), submit: this.t("postReply"), withNotify: true,
        onSubmit: async (body, fields) => { await this.post(body, comment, fields); slot.replaceChildren(); },
        onCancel: close,
      });
      reply.element.addEventListener("keydown", (event) => { if (event.key === "Escape") close(); });
      slot.replaceChildren(reply.element);
      reply.textarea.focus();
    }

    openEdit(comment, article) {
      const body = article.querySelector(":scope > .body");
      const slot = article.querySelector(":scope > .reply-slot");
      const close = () => { slot.replaceChildren(); body.hidden = false; };
      const editor = this.composer({
        label: this.t("editField"), field: this.t("editField"), submit: this.t("save"), initial: this.own[comment.id]?.body ?? body.textContent,
        onSubmit: async (text) => {
          const updated = await api("/api/v1/comments/" + comment.id, { method: "PATCH", token: this.token, body: { body: text } });
          Object.assign(comment, updated, { replies: comment.replies });
          const own = this.own;
          if (own[comment.id]) { own[comment.id].body = text; store.set("own:" + this.site, own); }
          this.rerender(comment);
          this.announce(this.t("saved"));
          this.root.getElementById("comment-" + comment.id)?.querySelector("button.link")?.focus();
        },
        onCancel: close,
      });
      body.hidden = true;
      slot.replaceChildren(editor.element);
      editor.textarea.focus();
    }

    confirmDelete(comment, trigger) {
      const actions = trigger.parentElement;
      const question = h("span", { class: "confirm", role: "group", "aria-label": this.t("deleteQuestion") },
        h("span", { text: this.t("deleteQuestion") }),
        h("button", { type: "button", class: "danger", text: this.t("confirmDelete"), onclick: async () => {
          try {
            await api("/api/v1/comments/" + comment.id, { method: "DELETE", token: this.token });
          } catch (failure) {
            question.replaceWith(h("span", { class: "error", role: "alert", text: this.errorText(failure) }));
            return;
          }
          // Its live event, if it came first, has marked it deleted and counted it out already.
          if (comment.status === "visible") this.thread.comment_count -= 1;
          this.drop(comment, "deleted");
          this.updateCount();
          this.announce(this.t("deletedNotice"));
        } }),
        h("button", { type: "button", class: "link", text: this.t("cancel"), onclick: () => { question.remove(); trigger.hidden = false; trigger.focus(); } }));
      trigger.hidden = true;
      actions.append(question);
      question.querySelector("button").focus();
    }

    /* A reader reports a comment once: afterwards a note stands in for the button, also after a
     * reload (the reported ids are kept per site). */
    get reported() { return store.get("reported:" + this.site, []); }

    openReport(comment, trigger) {
      const reason = h("select", {}, ["spam", "abuse", "off_topic", "other"].map((value) => h("option", { value, text: this.t("reason_" + value) })));
      const note = h("input", { name: "note", maxlength: 500 });
      const error = h("span", { class: "error", role: "alert", hidden: true });
      const close = () => { form.remove(); trigger.hidden = false; trigger.focus(); };
      const form = h("form", { class: "confirm report", role: "group", "aria-label": this.t("reportLabel"), novalidate: true,
        onkeydown: (event) => { if (event.key === "Escape") close(); },
        onsubmit: async (event) => {
          event.preventDefault();
          const send = form.querySelector("[type=submit]");
          send.disabled = true;
          error.hidden = true;
          try {
            await api(`/api/v1/comments/${comment.id}/flag`, { method: "POST", token: this.token, body: { reason: reason.value, note: note.value.trim() } });
          } catch (failure) {
            send.disabled = false;
            this.fail(error, null, failure.code === "rate_limited" ? this.t("notifyRateLimited", { seconds: failure.retryAfter || "60" }) : this.errorText(failure));
            return;
          }
          store.set("reported:" + this.site, [...this.reported, comment.id].slice(-300));
          const done = h("span", { class: "muted", tabindex: -1, text: this.t("reported") });
          trigger.remove();
          form.replaceWith(done);
          done.focus();
          this.announce(this.t("reported"));
        } },
      h("label", {}, h("span", { text: this.t("reason") }), reason),
      h("label", {}, h("span", { text: this.t("reportNote") }), note),
      h("button", { type: "submit", class: "danger", text: this.t("sendReport") }),
      h("button", { type: "button", class: "link", text: this.t("cancel"), onclick: close }),
      error);
      trigger.hidden = true;
      trigger.after(form);
      reason.focus();
    }

    async vote(comment, value) {
      try {
        const result = await api(`/api/v1/comments/${comment.id}/vote`, { method: "POST", token: this.token, body: { value } });
        Object.assign(comment, { upvotes: result.upvotes, downvotes: result.downvotes, score: result.score });
        const votes = this.votes;
        if (value) votes[comment.id] = value; else delete votes[comment.id];
        store.set("votes:" + this.site, votes);
        const bar = this.root.getElementById("comment-" + comment.id)?.querySelector(":scope > .actions > .votes");
        const fresh = this.voteBar(comment);
        bar?.replaceWith(fresh);
        fresh.querySelector(value === -1 ? "button:last-child" : "button")?.focus();
        this.emit("voted", { comment, value });
      } catch (failure) {
        this.announce(this.errorText(failure));
      }
    }

    // ---- the invitation bubble -----------------------------------------------------------------

    bubble() {
      const shown = store.get("bubble", 0);
      if (Date.now() - shown < BUBBLE_DAYS * 864e5) return;
      store.set("bubble", Date.now());
      const box = h("div", { class: "bubble", role: "complementary", "aria-label": this.t("bubble") });
      const hide = () => box.remove();
      box.append(
        h("button", { type: "button", class: "bubble-text", text: this.t("bubble"), onclick: () => {
          hide();
          this.form.element.scrollIntoView({ behavior: "smooth", block: "center" });
          this.form.textarea.focus({ preventScroll: true });
        } }),
        h("button", { type: "button", class: "bubble-close", "aria-label": this.t("close"), text: "×", onclick: hide }));
      this.root.append(box);
    }
  }

  // ---- start ---------------------------------------------------------------------------------

  const extensions = [];
  const widgets = [];
  const Townhall = window.Townhall || {};
  Townhall.server = SERVER;
  Townhall.widgets = widgets;
  Townhall.extend = (fn) => { extensions.push(fn); for (const widget of widgets) fn(widget); };
  // One sign-in per token (a token signs in once): the first widget's; before any has started,
  // the token waits for the first.
  let pending;
  Townhall.signIn = (sso) => widgets[0]?.account({ sso }) ?? Promise.resolve(pending = sso);
  window.Townhall = Townhall;

  let prompted;
  // A magic link's token: out of the address (history, sharing) before anything else, whether
  // the link opened the page or came to a page already open.
  const takeMagic = () => {
    const token = location.hash.split("#townhall-signin=")[1];
    if (token) history.replaceState(history.state, "", location.href.split("#")[0]);
    return token;
  };
  let magic = takeMagic();
  addEventListener("hashchange", () => {
    const token = takeMagic();
    if (token && widgets[0]) widgets[0].account({ magic: token });
    else magic ||= token;
  });
  function start() {
    const campaigns = document.querySelectorAll("[data-townhall-campaign]");
    if (campaigns.length) {
      loadSupport().then((support) => support.mount(campaigns))
        .catch((error) => console.error("Townhall: the goal bar could not load", error));
    }
    const hosts = document.querySelectorAll("#townhall, [data-townhall]");
    for (const host of hosts) {
      if (host.shadowRoot && widgets.some((w) => w.host === host)) continue;
      const options = { ...script?.dataset, ...host.dataset };
      if (!options.site) { console.error("Townhall: data-site is missing on the script tag"); continue; }
      const widget = new Widget(host, options);
      widgets.push(widget);
      for (const fn of extensions) fn(widget);
      widget.on("posted", () => {
        if (prompted) return;
        prompted = true;
        api("/api/v1/campaigns?" + new URLSearchParams({ site: widget.site, prompt: true }))
          .then(({ campaigns: [first] }) => first && loadSupport().then((support) => support.prompt(widget, first)))
          .catch(() => { /* no prompt, then */ });
      });
      widget.load(true).then(() => { widget.reveal(); widget.bubble(); });
      const sso = options.ssoToken || pending;
      if (magic || sso || widget.session) widget.account({ magic, sso });
      magic = pending = null;
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start, { once: true });
  else start();
})();
