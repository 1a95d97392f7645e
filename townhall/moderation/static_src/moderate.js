// The moderators' pages: keyboard shortcuts, and actions sent in place.
//
// Every action is an ordinary form (POST, CSRF) that works without this script. Here, forms
// marked data-async are sent with fetch (Accept: application/json); the answer
// {ok, entries, message, comments} updates or removes the comments in place, and the status
// line offers Undo (a form POSTing /moderate/<site>/undo/<entry>/ with the other entries).
// No inline script anywhere: the pages' Content-Security-Policy is script-src 'self'.
"use strict";

(() => {
  const LABELS = {
    visible: "Visible",
    pending: "Pending moderation",
    rejected: "Rejected",
    spam: "Spam",
    deleted: "Deleted",
  };
  const list = document.querySelector("[data-items]");
  const statusLine = document.getElementById("status");
  const help = document.getElementById("shortcuts");
  let current = null;
  let busy = false;
  // The last action's entries, for u even after a hint has replaced the status line.
  let lastUndo = null;

  const visibleItems = () => (list ? [...list.querySelectorAll("[data-item]:not([hidden])")] : []);

  // Which queue a comment in this state belongs to (queries.queue's definitions).
  function queueOf(state) {
    if (state.status === "visible") return state.open_flags > 0 ? "flagged" : null;
    return ["pending", "spam", "rejected"].includes(state.status) ? state.status : null;
  }

  function stateOf(item) {
    return { status: item.dataset.status, open_flags: Number(item.dataset.flags) };
  }

  // ---- the current item -------------------------------------------------------------------

  function setCurrent(item, focus = true) {
    if (current && current !== item) {
      current.classList.remove("is-current");
      current.removeAttribute("aria-current");
    }
    current = item;
    if (!item) return;
    item.classList.add("is-current");
    item.setAttribute("aria-current", "true");
    if (focus) {
      item.focus({ preventScroll: true });
      item.scrollIntoView({ block: "nearest" });
    }
  }

  function move(step) {
    const items = visibleItems();
    if (!items.length) return say("Nothing here to move to.");
    const at = items.indexOf(current);
    let next;
    if (at < 0) next = step > 0 ? items[0] : items[items.length - 1];
    else next = items[Math.min(Math.max(at + step, 0), items.length - 1)];
    setCurrent(next);
  }

  // ---- the status line --------------------------------------------------------------------

  function element(tag, attributes = {}, text = "") {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    if (text) node.textContent = text;
    return node;
  }

  function hidden(name, value) {
    return element("input", { type: "hidden", name, value: String(value) });
  }

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function undoForm(undo) {
    const form = element("form", {
      method: "post",
      action: undo.url,
      class: "inline",
      "data-async": "",
      "data-undo": "",
    });
    form.append(hidden("csrfmiddlewaretoken", csrfToken()));
    form.append(hidden("next", location.pathname + location.search));
    for (const id of undo.entries.slice(1)) form.append(hidden("entry", id));
    form.append(element("button", { type: "submit" }, "Undo"));
    return form;
  }

  function say(text, undo = null, level = "info") {
    if (!statusLine) return;
    const notice = element("div", { class: `notice notice-${level}` });
    notice.append(element("span", {}, text));
    if (undo) notice.append(undoForm(undo));
    statusLine.replaceChildren(notice);
  }

  // ---- applying an answer -----------------------------------------------------------------

  function bumpCount(queue, delta) {
    const count = queue && document.querySelector(`[data-count="${queue}"]`);
    if (count) count.textContent = String(Math.max(0, Number(count.textContent) + delta));
  }

  function update(item, state) {
    item.dataset.status = state.status;
    item.dataset.flags = String(state.open_flags);
    item.dataset.featured = state.featured ? "1" : "0";
    const label = item.querySelector("[data-state]");
    if (label) {
      label.textContent = LABELS[state.status] || state.status;
      label.className = `state state-${state.status}`;
    }
    const badge = item.querySelector("[data-featured-badge]");
    if (badge) badge.hidden = !state.featured;
    const show = {
      a: state.status !== "visible" || state.open_flags > 0,
      r: state.status !== "rejected",
      s: state.status !== "spam",
    };
    for (const [key, shown] of Object.entries(show)) {
      const button = item.querySelector(`[data-key="${key}"]`);
      if (button) button.hidden = !shown;
    }
    const feature = item.querySelector("[data-feature]");
    if (feature) {
      feature.hidden = state.status !== "visible";
      feature.elements.featured.value = state.featured ? "0" : "1";
      feature.querySelector("button").textContent = state.featured ? "Unfeature" : "Feature";
    }
  }

  function leave(gone) {
    const items = visibleItems();
    let next = current;
    if (!current || gone.includes(current)) {
      const at = current ? items.indexOf(current) : -1;
      const stays = (item) => !gone.includes(item);
      next =
        items.slice(at + 1).find(stays) ||
        items
          .slice(0, Math.max(at, 0))
          .reverse()
          .find(stays) ||
        null;
    }
    for (const item of gone) {
      item.hidden = true;
      const box = item.querySelector(".select");
      if (box) box.checked = false;
      if (item === current) setCurrent(null);
    }
    if (next) setCurrent(next);
    else document.getElementById("main")?.focus();
  }

  function apply(comments) {
    const queue = list ? list.dataset.queue : undefined;
    const gone = [];
    const back = [];
    for (const state of comments) {
      const item = document.getElementById(`comment-${state.id}`);
      if (!item) continue;
      const before = queueOf(stateOf(item));
      const after = queueOf(state);
      if (before !== after) {
        bumpCount(before, -1);
        bumpCount(after, 1);
      }
      update(item, state);
      const belongs = !queue || after === queue;
      if (!belongs && !item.hidden) gone.push(item);
      else if (belongs && item.hidden) back.push(item);
    }
    for (const item of back) item.hidden = false;
    if (gone.length) leave(gone);
    if (back.length) setCurrent(back[0]);
    const empty = document.querySelector("[data-empty]");
    if (empty) empty.hidden = visibleItems().length > 0;
    countSelected();
  }

  // ---- sending forms ----------------------------------------------------------------------

  async function send(form, submitter) {
    if (busy) return;
    busy = true;
    const item = form.closest("[data-item]");
    if (item) setCurrent(item, false);
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form, submitter),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      let answer = null;
      try {
        answer = await response.json();
      } catch {
        answer = null;
      }
      if (!response.ok || !answer || answer.error) {
        const message = answer?.error?.message || `That did not work (${response.status}).`;
        say(message, null, "error");
        return;
      }
      apply(answer.comments || []);
      lastUndo = answer.entries?.length ? { url: answer.undo_url, entries: answer.entries } : null;
      say(answer.message, lastUndo);
    } catch {
      say("The server could not be reached; nothing changed.", null, "error");
    } finally {
      busy = false;
    }
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-async")) return;
    event.preventDefault();
    send(form, event.submitter);
  });

  // ---- selection --------------------------------------------------------------------------

  function countSelected() {
    const selected = document.querySelectorAll("[data-item]:not([hidden]) .select:checked").length;
    for (const count of document.querySelectorAll("[data-selected-count]")) {
      count.textContent = String(selected);
    }
    return selected;
  }

  document.addEventListener("change", (event) => {
    if (event.target.matches?.(".select")) countSelected();
  });

  if (list) {
    list.addEventListener("click", (event) => {
      const item = event.target.closest("[data-item]");
      if (item && item !== current) setCurrent(item, false);
    });
  }

  // ---- keys -------------------------------------------------------------------------------

  function press(key) {
    if (!current || current.hidden) return say("Press j to choose a comment first.");
    const button = current.querySelector(`[data-key="${key}"]`);
    if (!button || button.hidden || button.form.hidden) {
      return say("That does not apply to this comment.");
    }
    button.form.requestSubmit(button);
  }

  function toggleSelected() {
    if (!current || current.hidden) return say("Press j to choose a comment first.");
    const box = current.querySelector(".select");
    box.checked = !box.checked;
    countSelected();
  }

  function approveSelected() {
    const button = document.querySelector('[data-bulk="approve"]');
    if (!button) return;
    if (!countSelected()) return say("Select comments with x first.");
    button.form.requestSubmit(button);
  }

  function undoLast() {
    const form = statusLine?.querySelector("form[data-undo]");
    if (form) form.requestSubmit();
    else if (lastUndo) send(undoForm(lastUndo));
    else say("Nothing to undo.");
  }

  function openHelp() {
    if (help && !help.open) help.showModal();
  }

  const KEYS = {
    j: () => move(1),
    k: () => move(-1),
    a: () => press("a"),
    r: () => press("r"),
    s: () => press("s"),
    b: () => press("b"),
    f: () => press("f"),
    x: toggleSelected,
    A: approveSelected,
    u: undoLast,
    "?": openHelp,
  };
  const TYPING =
    "input:not([type=checkbox]):not([type=radio]):not([type=hidden]), textarea, select," +
    " [contenteditable]";

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target instanceof Element && event.target.closest(TYPING)) return;
    if (help?.open) return;
    const action = KEYS[event.key];
    if (!action || (!list && event.key !== "u")) return;
    event.preventDefault();
    action();
  });

  for (const button of document.querySelectorAll("[data-help]")) {
    if (!help) continue;
    button.hidden = false;
    button.addEventListener("click", openHelp);
  }
})();
