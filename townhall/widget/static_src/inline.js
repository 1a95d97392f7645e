/* Townhall Inline Feedbacks: comments on a passage of the article, in the publisher's page.
 *
 * Served after anchoring.js in one file, which embed.js loads on pages with an article element
 * (so the first paint of the discussion never waits for it). It defines
 * window.TownhallInline(widget, kit) and works through the widget's public surface and events:
 *
 * - every visible passage comment of the thread (GET /api/v1/threads/passages, not only the
 *   pages the widget loaded) is re-anchored in the article's current text and highlighted;
 *   a passage that can no longer be found is an orphan, marked as such in the discussion;
 * - a highlight, clicked, opens its comments and a form for one more on the same passage;
 * - author-marked passages (data-townhall-passage, data-question) get a count button that opens
 *   the same panel, asking their question;
 * - a reader's selection in the article offers "Comment on this";
 * - the "Inline Feedbacks" filter shows only passage comments (the thread's ?only=passages),
 *   "View all comments" the whole thread again.
 */
(() => {
  "use strict";

  // This module's strings: the "inline" section of each locale file (assets.py).
  const LOCALES = "/*@LOCALES@*/";
  const PAGE_CSS = "mark.townhall-passage{background:#fff1a8;color:inherit;cursor:pointer}"
    + "mark.townhall-passage.townhall-active{background:#ffd84d}"
    + "[data-townhall-ui]{font:13px system-ui,sans-serif}"
    + "button[data-townhall-ui]{margin-left:.4em;border:1px solid #ccc;border-radius:99px;background:#fff;color:#444;padding:0 .5em;cursor:pointer}"
    + ".townhall-ask{position:absolute;z-index:2147483000}";
  const BLOCKS = "p, li, blockquote, h1, h2, h3, h4, h5, h6, pre, figure, dd, td";

  class Inline {
    constructor(widget, kit) {
      this.w = widget;
      this.kit = kit;
      this.article = widget.article;
      this.passages = new Map(); // comment id -> { comment, range: {start, end} | null }
      this.marked = [...this.article.querySelectorAll("[data-townhall-passage]")];
      document.head.append(kit.h("style", { text: PAGE_CSS }));
      this.buildFilter();
      this.buildMarked();
      this.buildAsk();
      this.article.addEventListener("click", (event) => this.clickMark(event));
      widget.on("loaded", ({ comments }) => this.add(comments));
      widget.on("posted", ({ comment }) => this.add([comment]));
      widget.on("deleted", ({ comment }) => this.forget(comment.id));
      // Other readers' passage comments, as they come: highlighted and counted at once.
      widget.on("live", ({ type, data }) => {
        if (type === "comment" && data.comment.depth === 0) this.add([data.comment]);
        else if (type === "remove") this.forget(data.id);
      });
      this.ready = this.refresh();
    }

    /* This module's strings first, then the widget's. */
    t(key, vars) {
      const own = { ...LOCALES.en, ...LOCALES[this.w.locale] }[key];
      return own ? this.w.t(key, vars, own) : this.w.t(key, vars);
    }

    // ---- the filter ----------------------------------------------------------------------------

    buildFilter() {
      const { h } = this.kit;
      this.filterButton = h("button", { type: "button", class: "notify-toggle", "aria-pressed": "false",
        text: this.t("inlineFeedbacks"), onclick: () => this.filter(true) });
      this.viewAll = h("button", { type: "button", class: "link", hidden: true, text: this.t("viewAll"),
        onclick: () => this.filter(false) });
      this.w.slot("inline-feedback").replaceChildren(this.filterButton, this.viewAll);
    }

    async filter(on) {
      if ((this.w.only === "passages") === on) return;
      this.w.only = on ? "passages" : null;
      this.filterButton.setAttribute("aria-pressed", String(on));
      this.viewAll.hidden = !on;
      await this.w.load(true);
      (on ? this.viewAll : this.filterButton).focus();
    }

    // ---- anchoring -----------------------------------------------------------------------------

    /* Every visible passage comment of the thread, whichever pages are loaded. */
    async refresh() {
      const params = new URLSearchParams({ site: this.w.site, url: this.w.url });
      let listed = [];
      try {
        listed = (await this.kit.api("/api/v1/threads/passages?" + params)).passages;
      } catch { /* the loaded pages' passage comments are still anchored below */ }
      this.add(listed.reverse());
      this.add(this.w.roots);
    }

    add(comments) {
      const fresh = comments.filter((c) => c.passage && !this.passages.has(c.id) && c.status !== "deleted");
      if (fresh.length) {
        const text = this.text();
        for (const comment of fresh) {
          const found = TownhallAnchoring.locate(text, comment.passage);
          this.passages.set(comment.id, { comment, range: found ? { start: found.start, end: found.end } : null });
          if (found) this.highlight(comment.id, found);
          else this.orphan(comment.id);
        }
      }
      for (const comment of comments) if (this.w.orphans.has(comment.id)) this.orphan(comment.id);
      this.counts();
    }

    forget(id) {
      this.passages.delete(id);
      for (const mark of document.querySelectorAll(`mark.townhall-passage[data-comment="${id}"]`)) {
        const parent = mark.parentNode;
        mark.replaceWith(...mark.childNodes);
        parent.normalize();
      }
      this.counts();
    }

    /* The comment stays in the thread, with its quote, marked as no longer in the article. */
    orphan(id) {
      this.w.orphans.add(id);
      const article = this.w.root.getElementById("comment-" + id);
      article?.querySelector(":scope > .show")?.remove();
      const quote = article?.querySelector(":scope > .quote");
      if (quote && !quote.classList.contains("orphan")) {
        quote.classList.add("orphan");
        quote.after(this.kit.h("p", { class: "muted orphan-note", text: this.t("orphan") }));
      }
    }

    /* The article's text: its text nodes but the widget's own (buttons, panels). */
    nodes() {
      const walker = document.createTreeWalker(this.article, NodeFilter.SHOW_TEXT,
        (node) => node.parentElement.closest("[data-townhall-ui]") ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT);
      const nodes = [];
      for (let node, at = 0; (node = walker.nextNode()); at += node.data.length) nodes.push([node, at]);
      return nodes;
    }

    text() { return this.nodes().map(([node]) => node.data).join(""); }

    /* A DOM boundary point as an offset into the article's text. */
    offset(container, offset) {
      const point = document.createRange();
      point.setStart(container, offset);
      let end = 0;
      for (const [node, at] of this.nodes()) {
        if (node === container) return at + offset;
        if (point.comparePoint(node, 0) >= 0) return at;
        end = at + node.data.length;
      }
      return end;
    }

    highlight(id, { start, end }) {
      for (const [node, at] of this.nodes()) {
        const length = node.data.length, a = Math.max(start, at), b = Math.min(end, at + length);
        if (a >= b) continue;
        const piece = a > at ? node.splitText(a - at) : node;
        if (b < at + length) piece.splitText(b - a);
        if (!piece.data.trim()) continue;
        const mark = this.kit.h("mark", { class: "townhall-passage", "data-comment": id });
        piece.replaceWith(mark);
        mark.append(piece);
      }
    }

    counts() {
      for (const el of this.marked) {
        const n = [...this.passages.values()].filter(({ comment }) => comment.passage.id === el.dataset.townhallPassage).length;
        el.countButton.textContent = n;
        el.countButton.setAttribute("aria-label", this.t("passageCount", { n }));
      }
    }

    /* "Show in article": the passage's highlight, scrolled into view and lit for a moment. */
    show(comment) {
      const marks = document.querySelectorAll(`mark.townhall-passage[data-comment="${comment.id}"]`);
      if (!marks.length) return;
      marks[0].scrollIntoView({ behavior: "smooth", block: "center" });
      for (const mark of marks) mark.classList.add("townhall-active");
      setTimeout(() => { for (const mark of marks) mark.classList.remove("townhall-active"); }, 2000);
    }

    // ---- author-marked passages and reader selections ----------------------------------------

    buildMarked() {
      const { h } = this.kit;
      for (const el of this.marked) {
        el.append(el.countButton = h("button", { type: "button", "data-townhall-ui": "", onclick: () => {
          const id = el.dataset.townhallPassage;
          const comments = [...this.passages.values()].filter(({ comment }) => comment.passage.id === id).map(({ comment }) => comment);
          this.open(el, { question: el.dataset.question, start: this.offset(el, 0), end: this.offset(el, el.childNodes.length),
            id, comments, trigger: el.countButton });
        } }));
      }
    }

    buildAsk() {
      const { h } = this.kit;
      const ask = this.askButton = h("button", { type: "button", class: "townhall-ask", "data-townhall-ui": "", hidden: true,
        text: this.t("commentOnThis"),
        onmousedown: (event) => event.preventDefault(),
        onclick: () => {
          const { range } = ask;
          ask.hidden = true;
          this.open(this.blockOf(range.endContainer), { start: this.offset(range.startContainer, range.startOffset),
            end: this.offset(range.endContainer, range.endOffset), comments: [] });
        } });
      document.body.append(ask);
      const check = (event) => {
        if (event.target === ask) return;
        const selection = getSelection();
        const range = selection.rangeCount && selection.getRangeAt(0);
        const ok = range && !range.collapsed && this.article.contains(range.commonAncestorContainer) && range.toString().trim()
          && !range.commonAncestorContainer.parentElement?.closest("[data-townhall-ui]");
        ask.hidden = !ok;
        if (ok) { ask.range = range; this.place(); }
      };
      document.addEventListener("mouseup", check);
      document.addEventListener("keyup", check);
      // The button stays under the selection when the article scrolls inside its own container.
      addEventListener("scroll", () => this.place(), { capture: true, passive: true });
      addEventListener("resize", () => this.place(), { passive: true });
    }

    place() {
      const ask = this.askButton;
      if (ask.hidden || !ask.range) return;
      const rect = ask.range.getBoundingClientRect();
      ask.style.top = rect.bottom + scrollY + 6 + "px";
      ask.style.left = rect.left + scrollX + "px";
    }

    blockOf(node) {
      const block = (node.nodeType === 1 ? node : node.parentElement).closest(BLOCKS);
      return block && this.article.contains(block) && block !== this.article ? block : this.article.lastElementChild || this.article;
    }

    /* A highlight, clicked: the comments on that passage and a form to add one. */
    clickMark(event) {
      const mark = event.target.closest?.("mark.townhall-passage");
      if (!mark || getSelection().toString()) return;
      const ids = [];
      for (let el = mark; el && el !== this.article; el = el.parentElement) {
        if (el.matches("mark.townhall-passage")) ids.push(Number(el.dataset.comment));
      }
      const entries = ids.map((id) => this.passages.get(id)).filter(Boolean);
      if (!entries.length) return;
      const { comment, range } = entries[0];
      this.open(this.blockOf(mark), { start: range.start, end: range.end, id: comment.passage.id,
        comments: entries.map((entry) => entry.comment), trigger: mark });
    }

    // ---- the panel -----------------------------------------------------------------------------

    open(after, { question, start, end, id = null, comments, trigger }) {
      const { h, CSS, safeFragment } = this.kit;
      const { exact, prefix, suffix } = TownhallAnchoring.describe(this.text(), start, end);
      const passage = { id, quote: { type: "TextQuoteSelector", exact, prefix, suffix }, position: { type: "TextPositionSelector", start, end } };
      this.panel?.remove();
      const host = this.panel = h("div", { class: "townhall-inline", "data-townhall-ui": "", lang: this.w.locale,
        "data-theme": this.w.host.dataset.theme });
      const close = () => {
        host.remove();
        if (trigger?.isConnected && trigger.tagName === "BUTTON") trigger.focus();
      };
      question ||= this.t("passageQuestion");
      const form = this.w.composer({ label: question, field: question, submit: this.t("post"), withIdentity: true,
        onSubmit: async (body, fields) => { await this.w.post(body, null, fields, passage); close(); }, onCancel: close });
      const list = comments.length ? h("ol", { class: "comments" }, comments.map((comment) => h("li", { class: "item" },
        h("article", { class: "comment", "aria-label": this.t("commentBy", { name: comment.author_name }) },
          h("header", { class: "meta" }, h("span", { class: "author", text: comment.author_name }),
            h("time", { datetime: comment.created, text: this.w.when(comment.created) })),
          h("div", { class: "body" }, safeFragment(comment.html)),
          h("button", { type: "button", class: "link", text: this.t("showInDiscussion"), onclick: () => this.reveal(comment.id) }))))) : "";
      host.attachShadow({ mode: "open" }).append(h("style", { text: CSS }),
        h("p", { class: "question", text: question }), h("blockquote", { class: "quote muted", text: exact }), list, form.element);
      host.addEventListener("keydown", (event) => { if (event.key === "Escape") { event.stopPropagation(); close(); } });
      after.after(host);
      form.textarea.focus();
    }

    /* The comment in the discussion: from the loaded pages, else from the Inline Feedbacks view,
     * loading its pages until the comment is there. */
    async reveal(id) {
      const shown = () => this.w.root.getElementById("comment-" + id);
      if (!shown()) await this.filter(true);
      for (let pages = 0; !shown() && this.w.cursor && pages < 25; pages++) await this.w.load(false);
      this.panel?.remove();
      history.replaceState(null, "", "#comment-" + id);
      this.w.reveal();
    }
  }

  window.TownhallInline = (widget, kit) => new Inline(widget, kit);
})();
