/* Townhall reader accounts: sign-in (magic link, the publisher's SSO) and the account menu.
 *
 * Served apart as embed-account.js (minified, its locale strings — the "account" section of
 * each locale file — and its stylesheet inlined where the markers below stand, under a content
 * hash). embed.js loads it when the reader opens "Sign in" or the account menu, or at start when
 * there is a session to check, a data-sso-token or a magic link's #townhall-signin=TOKEN (which
 * embed.js has already taken out of the address).
 *
 * A session is the server's session token, kept where the guest edit token was (token:SITE, so
 * everything that sends the widget's token sends it), and the commenter it names (session:SITE:
 * id, name, email, avatar, kind, moderator). A guest's edit token is put aside (guest:SITE) while
 * signed in: it is what "Claim my earlier comments" hands over after an email sign-in, and it is
 * the reader's again after signing out.
 *
 * Which ways to sign in the site offers come with the thread page (thread.signin: { guest,
 * email, sso, guest_requires }); a way the site does not allow is not shown. embed.js loads this
 * module too when the site asks guests for more than a name (guest_requires: "name", "email") or
 * allows no guests: the forms for new comments then mark those fields required and check them
 * before sending, or ask the reader to sign in. The publisher's login: with
 * data-sso-login-url (script or host element) the "Sign in with …" button goes there with
 * ?return_url=<this page>; the publisher's page, once the reader is logged in, gives the token
 * back by data-sso-token or Townhall.signIn(token).
 *
 * The sign-in form and the account menu are disclosures under the bar's button (aria-expanded,
 * aria-controls): the focus goes into them when they open, Escape closes them and gives the
 * focus back to the button.
 *
 * window.TownhallAccount(kit) returns { start(widget, options) }; kit is what embed.js shares:
 * h, api, store and the script tag's dataset. options: { open } (the bar's button), { sso:
 * jwt }, { magic: token }; none: check the stored session.
 */
(() => {
  "use strict";

  const LOCALES = "/*@LOCALES@*/";
  const CSS = "/*@CSS@*/";

  class Account {
    constructor(kit) {
      this.kit = kit;
    }

    async start(widget, { open, sso, magic } = {}) {
      const first = !widget.accountPanel;
      this.prepare(widget);
      this.redraw(widget);
      if (magic) await this.signIn(widget, "/api/v1/auth/magic-link/verify", magic);
      else if (sso) await this.signIn(widget, "/api/v1/auth/sso", sso);
      else if (first && !open && widget.session) await this.refresh(widget);
      if (open) this.toggle(widget);
    }

    /* Once per widget: the strings, and the panel under the bar's button. */
    prepare(widget) {
      if (widget.accountPanel) return;
      const { h } = this.kit;
      const strings = { ...LOCALES.en, ...LOCALES[widget.locale] };
      widget.at = (key, vars = {}) => {
        let text = strings[key];
        if (text && typeof text === "object") text = text[widget.plural.select(vars.n ?? 0)] || text.other;
        return String(text ?? key).replace(/\{(\w+)\}/g, (_, name) => vars[name] ?? "");
      };
      const id = "th-account-" + Math.random().toString(36).slice(2, 8);
      widget.accountPanel = h("div", { id, class: "account-panel", hidden: true,
        onkeydown: (event) => { if (event.key === "Escape") { event.stopPropagation(); this.close(widget); } } });
      // Shown; announced by the widget's own status region (errors: an alert).
      widget.accountNote = h("p", { class: "account-note", hidden: true });
      widget.accountButton.setAttribute("aria-controls", id);
      widget.accountButton.setAttribute("aria-expanded", "false");
      widget.accountButton.after(h("style", { text: CSS }), widget.accountPanel, widget.accountNote);
      // The forms for new comments: the main one, and those opened from now on (replies, passages).
      widget.guarded = new Set();
      this.guard(widget, widget.form.element, true);
      widget.on("composer", ({ form, fresh }) => { this.guard(widget, form, fresh); this.apply(widget); });
      // The site's rules come with the thread page, which may arrive after this module.
      widget.on("loaded", () => this.apply(widget));
    }

    options(widget) {
      return { ...this.kit.dataset, ...widget.host.dataset };
    }

    /* The ways to sign in this site allows; all of them when the server does not say. SSO needs
     * the publisher's login page too. requires: what a guest must give ("name", "email"). */
    ways(widget) {
      const allowed = widget.thread?.signin || {};
      return {
        email: allowed.email !== false,
        sso: allowed.sso !== false && Boolean(this.options(widget).ssoLoginUrl),
        guest: allowed.guest !== false,
        requires: allowed.guest_requires || [],
      };
    }

    note(widget, text, error) {
      widget.accountNote.textContent = text;
      widget.accountNote.className = error ? "account-note error" : "account-note";
      if (error) widget.accountNote.setAttribute("role", "alert");
      else widget.accountNote.removeAttribute("role");
      widget.accountNote.hidden = !text;
      if (!error && text) widget.announce(text);
    }

    reason(widget, error) {
      return error.code === "network" ? widget.at("networkError") : error.message || widget.errorText(error);
    }

    // ---- the session ---------------------------------------------------------------------------

    async signIn(widget, path, token) {
      const { api, store } = this.kit;
      try {
        const result = await api(path, { method: "POST", body: { site: widget.site, token } });
        this.keep(widget, result.session_token, result.commenter);
        this.note(widget, widget.at("signedIn", { name: result.commenter.name }));
        widget.emit("signedin", { commenter: result.commenter });
      } catch (error) {
        const expired = path.includes("magic") && (error.status === 400 || error.status === 401 || error.status === 410);
        this.note(widget, expired ? widget.at("linkExpired") : widget.at("signInFailed", { reason: this.reason(widget, error) }), true);
        // A stale session is no reason to keep a bad one around; a good one stays.
        if (!store.get("session:" + widget.site, null)) this.redraw(widget);
      }
    }

    keep(widget, token, commenter) {
      const { store } = this.kit;
      const site = widget.site;
      const current = store.get("token:" + site, null);
      // A guest's edit token waits aside (claim, or theirs again after signing out).
      if (current && !store.get("session:" + site, null)) store.set("guest:" + site, current);
      store.set("token:" + site, token);
      store.set("session:" + site, commenter);
      for (const other of window.Townhall.widgets) if (other.site === site) this.redraw(other);
    }

    /* The stored session, checked: the name may have changed, or the session ended elsewhere. */
    async refresh(widget) {
      const { api, store } = this.kit;
      try {
        const me = await api("/api/v1/me?" + new URLSearchParams({ site: widget.site }), { token: widget.token });
        store.set("session:" + widget.site, me.commenter || me);
        this.redraw(widget);
      } catch (error) {
        if (error.status === 401 || error.status === 403) this.forget(widget);
      }
    }

    /* Signed out on this device: the guest's own token back, the account's comments no longer
     * editable here. */
    forget(widget) {
      const { store } = this.kit;
      const site = widget.site;
      const guest = store.get("guest:" + site, null);
      store.remove("session:" + site);
      store.remove("guest:" + site);
      store.remove("own:" + site);
      if (guest) store.set("token:" + site, guest);
      else store.remove("token:" + site);
      for (const other of window.Townhall.widgets) if (other.site === site) this.redraw(other);
    }

    /* The bar's button says who is signed in; their comments go under that name, so the forms
     * say so instead of asking for a name and email. */
    redraw(widget) {
      this.prepare(widget);
      const me = widget.session;
      widget.accountButton.textContent = me ? me.name : widget.t("signIn");
      // The account's address (or the guest's again) is what "Notify me of replies" needs.
      const email = widget.form.element.querySelector(".identity [name=email]");
      email.value = me ? me.email || "" : this.kit.store.get("me:" + widget.site, {}).email || "";
      email.dispatchEvent(new Event("input"));
      this.apply(widget);
      if (widget.accountPanel && !widget.accountPanel.hidden) this.fill(widget);
    }

    /* Every form with name and email fields: hidden for a signed-in reader ("Commenting as …")
     * and where the site allows no guests ("Sign in to comment" and its button); otherwise the
     * fields the site requires marked so, in their labels too ("Email", not "Email (optional)"). */
    apply(widget) {
      const { h } = this.kit;
      const me = widget.session;
      const { guest, requires } = this.ways(widget);
      for (const form of widget.guarded) {
        const fields = form.querySelector(".identity");
        if (!fields) continue;
        const as = form.querySelector(".as") || h("p", { class: "as muted" });
        if (!as.isConnected) fields.before(as);
        fields.hidden = Boolean(me) || !guest;
        as.hidden = !me && guest;
        as.replaceChildren(...(me ? [widget.at("signedAs", { name: me.name })]
          : guest ? [] : [widget.at("signInToComment") + " ",
            h("button", { type: "button", class: "link", text: widget.t("signIn"), onclick: () => this.toggle(widget, true) })]));
        for (const input of fields.querySelectorAll("input")) {
          input.required = requires.includes(input.name);
          if (input.name === "email") input.previousElementSibling.textContent = input.required ? widget.at("guestEmail") : widget.t("email");
        }
      }
    }

    /* A form for a new comment checks the site's rules before embed.js sends it (a listener of
     * the capture phase runs first, and stops the sending): signed in, or a guest where guests may
     * comment, with the required fields given. A reply's name and email are the main form's. */
    guard(widget, form, fresh) {
      if (!fresh || widget.guarded.has(form)) return;
      widget.guarded.add(form);
      form.addEventListener("submit", (event) => {
        if (widget.session) return;
        const { guest, requires } = this.ways(widget);
        const error = form.querySelector(":scope > .error");
        const stop = (text, field) => {
          event.preventDefault();
          event.stopImmediatePropagation();
          error.textContent = text;
          error.hidden = false;
          field?.setAttribute("aria-invalid", "true");
          field?.focus();
        };
        if (!guest) { stop(widget.at("signInToComment")); this.toggle(widget, true); return; }
        const fields = (form.querySelector(".identity") ? form : widget.form.element).querySelector(".identity");
        for (const name of requires) {
          const input = fields.querySelector(`[name=${name}]`);
          input.removeAttribute("aria-invalid");
          if (!input.value.trim()) { stop(widget.at(name + "Required"), input); return; }
        }
        // A reply sends the name and email the main form keeps (embed.js, post).
        if (!form.querySelector(".identity") && requires.length) {
          const value = (name) => fields.querySelector(`[name=${name}]`).value.trim();
          this.kit.store.set("me:" + widget.site, { name: value("name"), email: value("email") });
        }
      }, true);
    }

    // ---- the panel -----------------------------------------------------------------------------

    toggle(widget, open = widget.accountPanel.hidden) {
      if (!open) { this.close(widget); return; }
      this.note(widget, "");
      this.fill(widget);
      widget.accountPanel.hidden = false;
      widget.accountButton.setAttribute("aria-expanded", "true");
      widget.accountPanel.querySelector("input, button")?.focus();
    }

    close(widget, focus = true) {
      widget.accountPanel.hidden = true;
      widget.accountButton.setAttribute("aria-expanded", "false");
      if (focus) widget.accountButton.focus();
    }

    fill(widget) {
      const me = widget.session;
      widget.accountPanel.replaceChildren(...(me ? this.menu(widget, me) : this.signInForm(widget)));
    }

    signInForm(widget) {
      const { h } = this.kit;
      const ways = this.ways(widget);
      const parts = [h("h3", { text: widget.at("signInTitle") })];
      if (ways.sso) {
        parts.push(h("button", { type: "button", class: "primary", text: widget.at("ssoButton", { site: this.options(widget).ssoName || location.hostname }),
          onclick: () => {
            const login = this.options(widget).ssoLoginUrl;
            // "#id": the publisher's login form is on this page.
            const here = login.startsWith("#") && document.querySelector(login);
            if (here) {
              this.close(widget, false);
              here.scrollIntoView({ block: "center" });
              (here.querySelector("input, button") || here).focus();
              return;
            }
            const url = new URL(login, location.href);
            url.searchParams.set("return_url", location.href.split("#")[0]);
            location.assign(url.href);
          } }));
      }
      if (ways.email) {
        const id = widget.accountPanel.id + "-email";
        const email = h("input", { id, type: "email", name: "email", autocomplete: "email", required: true,
          value: this.kit.store.get("me:" + widget.site, {}).email || "" });
        const send = h("button", { type: "submit", class: ways.sso ? "" : "primary", text: widget.at("sendLink") });
        const error = h("p", { class: "error", role: "alert", hidden: true });
        const form = h("form", { class: "magic", novalidate: true, onsubmit: async (event) => {
          event.preventDefault();
          error.hidden = true;
          email.removeAttribute("aria-invalid");
          const address = email.value.trim();
          const fail = (text) => { error.textContent = text; error.hidden = false; email.setAttribute("aria-invalid", "true"); email.focus(); };
          if (!/^[^\s@]+@[^\s@]+$/.test(address)) { fail(widget.at("invalidEmail")); return; }
          send.disabled = true;
          try {
            const back = location.href.split("#")[0];
            await this.kit.api("/api/v1/auth/magic-link", { method: "POST", body: { site: widget.site, email: address, name: this.kit.store.get("me:" + widget.site, {}).name || "", return_url: back } });
            this.close(widget);
            this.note(widget, widget.at("linkSent", { email: address }));
          } catch (failure) {
            fail(failure.code === "invalid_email" ? widget.at("invalidEmail") : widget.at("failed", { reason: this.reason(widget, failure) }));
          } finally {
            send.disabled = false;
          }
        } },
        h("label", { for: id, text: widget.at("emailLabel") }), email, send, error);
        parts.push(form);
      }
      if (!ways.email && !ways.sso) parts.push(h("p", { class: "muted", text: widget.at("ssoOnly") }));
      if (ways.guest) parts.push(h("p", { class: "muted", text: widget.at("guestNote") }));
      parts.push(h("button", { type: "button", class: "link", text: widget.at("cancel"), onclick: () => this.close(widget) }));
      return parts;
    }

    menu(widget, me) {
      const { h, store } = this.kit;
      const kind = me.kind === "sso" ? widget.at("kind_sso", { site: this.options(widget).ssoName || location.hostname })
        : widget.at("kind_" + me.kind);
      const item = (text, onclick, cls) => h("button", { type: "button", class: cls || "link", text, onclick });
      const buttons = [
        item(widget.at("download"), (event) => this.download(widget, event.target)),
        item(widget.at("deleteData"), () => this.confirmDelete(widget)),
      ];
      if (me.kind === "email" && store.get("guest:" + widget.site, null)) {
        buttons.push(item(widget.at("claim"), (event) => this.claim(widget, event.target)));
      }
      buttons.push(item(widget.at("signOut"), () => this.signOut(widget)));
      return [
        h("div", { class: "who" },
          me.avatar ? h("img", { src: me.avatar, alt: "", width: 32, height: 32, class: "avatar" }) : null,
          h("p", {}, h("strong", { text: widget.at("signedInAs", { name: me.name }) }), h("br"),
            h("span", { class: "muted", text: [me.email, kind].filter(Boolean).join(" · ") }))),
        h("ul", { class: "account-actions", "aria-label": widget.at("accountMenu") }, buttons.map((button) => h("li", {}, button))),
      ];
    }

    async download(widget, button) {
      button.disabled = true;
      try {
        const data = await this.kit.api("/api/v1/me/export?" + new URLSearchParams({ site: widget.site }), { token: widget.token });
        const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
        const link = this.kit.h("a", { href: url, download: `townhall-${widget.site}-data.json`, hidden: true });
        widget.root.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 6e4);
      } catch (error) {
        this.note(widget, widget.at("failed", { reason: this.reason(widget, error) }), true);
      } finally {
        button.disabled = false;
      }
    }

    async claim(widget, button) {
      const { api, store } = this.kit;
      button.disabled = true;
      try {
        const result = await api("/api/v1/me/claim", { method: "POST", token: widget.token,
          body: { site: widget.site, edit_token: store.get("guest:" + widget.site, null) } });
        // The guest's comments are the account's now: that token names no one of use.
        store.remove("guest:" + widget.site);
        this.fill(widget);
        widget.accountPanel.querySelector("button")?.focus();
        this.note(widget, widget.at("claimed", { n: result.claimed }));
        widget.load(true);
      } catch (error) {
        button.disabled = false;
        this.note(widget, widget.at("failed", { reason: this.reason(widget, error) }), true);
      }
    }

    async signOut(widget) {
      this.forget(widget);
      this.close(widget);
      this.note(widget, widget.at("signedOut"));
    }

    /* What deletion does on this site, and a button that does it. */
    confirmDelete(widget) {
      const { h, api } = this.kit;
      const policy = (widget.thread?.signin || {}).deletion === "anonymize" || widget.session?.deletion === "anonymize" ? "anonymize" : "delete";
      const id = widget.accountPanel.id + "-delete";
      const back = () => { this.fill(widget); widget.accountPanel.querySelector("button")?.focus(); };
      const error = h("p", { class: "error", role: "alert", hidden: true });
      const yes = h("button", { type: "button", class: "danger", text: widget.at("confirmDelete"), "aria-describedby": id, onclick: async () => {
        yes.disabled = true;
        try {
          await api("/api/v1/me?" + new URLSearchParams({ site: widget.site }), { method: "DELETE", token: widget.token, body: { confirm: true } });
        } catch (failure) {
          yes.disabled = false;
          error.textContent = widget.at("failed", { reason: this.reason(widget, failure) });
          error.hidden = false;
          return;
        }
        this.kit.store.remove("guest:" + widget.site);
        this.forget(widget);
        this.close(widget);
        this.note(widget, widget.at("deleted"));
        for (const other of window.Townhall.widgets) if (other.site === widget.site) other.load(true);
      } });
      widget.accountPanel.replaceChildren(
        h("div", { class: "delete", role: "group", "aria-labelledby": id + "-title" },
          h("h3", { id: id + "-title", text: widget.at("deleteTitle") }),
          h("p", { id, text: widget.at("deleteText", { policy: widget.at("policy_" + policy) }) }),
          error,
          h("div", { class: "buttons" }, yes, h("button", { type: "button", class: "link", text: widget.at("cancel"), onclick: back }))));
      yes.focus();
    }
  }

  window.TownhallAccount = (kit) => new Account(kit);
})();
