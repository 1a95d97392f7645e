/* Townhall reader support: the goal bar and the Support button.
 *
 * Served apart as embed-support.js (minified, its locale strings and stylesheet inlined where
 * the markers below stand, under a content hash); embed.js loads it only on pages with campaign
 * elements, or to offer the "Support" prompt after a reader posts:
 *
 *   <div data-townhall-campaign="SLUG"></div>
 *
 * Optional on the element: data-site (default: the script tag's), data-lang (default: the
 * closest lang attribute), data-show ("bar", "button", or both, the default), data-label (the
 * button's text; default: "Support" in the page's language), data-pattern (where the currency
 * symbol goes, as the CLDR pattern given to the server's campaign_html: "#,##0 ¤" puts it after
 * the number, as the seed page does; digits and separators stay the locale's).
 *
 * An element holding the server-rendered bar (GET /api/v1/campaigns/SITE/SLUG/html, or
 * townhall.support.html.campaign_html; its <section> carries data-townhall-campaign too) is
 * taken over where it stands: styled by the page, only its figures and words are refreshed, so
 * nothing moves. Its Support link (also alone in an element: class townhall-campaign__support)
 * becomes the Support button. An empty element gets the bar drawn in a shadow root, following
 * the page's theme like the comments widget (the same --townhall-* custom properties).
 *
 * The bar: ticks at 0, half the goal and the goal, a fill, "Raised: <amount>" (with the next
 * stretch goal once the goal is reached), formatted by Intl for the page's locale as the server
 * does with Babel, and a role="progressbar" with its values in whole major units. The Support
 * button opens a small form: the amount and, for readers who have commented on the site (their
 * edit token ties the contribution to their comments), a supporter-badge box, unticked; then the
 * server gives the checkout's URL (Stripe Checkout, or the test checkout of a demo campaign) and
 * the page goes there. A donation page, which asks for the amount itself, opens at once. Errors
 * show in an alert.
 *
 * window.TownhallSupport(kit) returns { mount(elements), prompt(widget, campaign) }; kit is what
 * embed.js shares: h, api, store, pickLocale, isDark and the script tag's dataset.
 */
(() => {
  "use strict";

  const LOCALES = "/*@LOCALES@*/";
  const CSS = "/*@CSS@*/";
  // The amounts offered, in major units (10 is also the server's default).
  const PRESETS = [5, 10, 25, 50];
  const FRAGMENT = ".townhall-campaign";
  const LINK = ".townhall-campaign__support";

  let ids = 0;
  const nextId = () => "th-give-" + ++ids;

  /* A typed amount in major units ("12.50", "12,50", "1,000", "1.000,50") in minor units; NaN
   * when it is none. A separator before three digits groups them; the one before fewer digits
   * (at most the currency's) marks the decimals. */
  function minorUnits(text, exponent) {
    const match = /^(\d{1,3}(?:[.,'\s]\d{3})+|\d+)(?:[.,](\d+))?$/.exec(text.trim());
    if (!match || (match[2] || "").length > exponent) return NaN;
    return Number(match[1].replace(/\D/g, "") + (match[2] || "").padEnd(exponent, "0"));
  }

  class Support {
    constructor(kit) {
      this.kit = kit;
      this.campaigns = new Map();
    }

    /* One request per campaign, however many elements show it. */
    campaign(site, slug) {
      const key = site + "/" + slug;
      if (!this.campaigns.has(key)) {
        this.campaigns.set(key, this.kit.api(`/api/v1/campaigns/${encodeURIComponent(site)}/${encodeURIComponent(slug)}`));
      }
      return this.campaigns.get(key);
    }

    mount(elements) {
      for (const host of elements) {
        // The server-rendered section inside an element is that element's.
        if (host.townhallSupport || host.parentElement?.closest("[data-townhall-campaign]")) continue;
        host.townhallSupport = true;
        const site = host.dataset.site || host.dataset.townhallSite || this.kit.dataset.site;
        const slug = host.dataset.townhallCampaign;
        if (!site || !slug) { console.error("Townhall: a campaign element needs a slug and data-site"); continue; }
        this.campaign(site, slug).then((campaign) => this.show(host, { ...campaign, site }), (error) => {
          // The server-rendered bar, if any, stays as it is.
          console.error("Townhall: campaign " + slug + " could not be loaded", error);
        });
      }
    }

    show(host, campaign) {
      const lang = this.language(host);
      const fragment = host.matches(FRAGMENT) ? host : host.querySelector(FRAGMENT);
      const link = host.querySelector(LINK);
      if (fragment || link) this.takeOver(fragment, link, campaign, lang);
      else this.draw(host, campaign, lang);
    }

    /* The language of the element's text: its strings, and the locale its amounts are
     * formatted for (the page's own tag when Intl knows it, e.g. de-CH). */
    language(element) {
      const tag = element.dataset.lang || this.kit.dataset.lang || element.closest("[lang]")?.lang || navigator.language || "en";
      const locale = this.kit.pickLocale(tag);
      let numbers = locale;
      try { if (Intl.NumberFormat.supportedLocalesOf(tag).length) numbers = tag; } catch { /* not a tag */ }
      const strings = { ...LOCALES.en, ...LOCALES[locale] };
      const t = (key, vars = {}) => String(strings[key] ?? key).replace(/\{(\w+)\}/g, (_, name) => vars[name] ?? "");
      // The prompt in the comments follows the campaign elements of the page.
      const pattern = (element.closest("[data-pattern]") || document.querySelector("[data-townhall-campaign][data-pattern]"))?.dataset.pattern;
      return { locale, numbers, t, pattern };
    }

    /* Minor units as the locale writes money, without decimals when whole ("$3,048"); with a
     * pattern, the symbol before or after the number as the pattern puts it. */
    money(campaign, lang) {
      const scale = 10 ** campaign.exponent;
      const formats = {};
      const after = lang.pattern && /[#0]\s*¤/.test(lang.pattern);
      const before = lang.pattern && /¤\s*[#0]/.test(lang.pattern);
      const spaced = lang.pattern && /[#0]\s+¤|¤\s+[#0]/.test(lang.pattern) ? " " : "";
      return (minor) => {
        const digits = minor % scale ? campaign.exponent : 0;
        const format = formats[digits] ||= new Intl.NumberFormat(lang.numbers, {
          style: "currency", currency: campaign.currency, minimumFractionDigits: digits, maximumFractionDigits: digits,
        });
        if (!after && !before) return format.format(minor / scale);
        const parts = format.formatToParts(minor / scale);
        const symbol = parts.find((part) => part.type === "currency")?.value ?? campaign.currency;
        const number = parts.filter((part) => part.type !== "currency" && part.type !== "literal").map((part) => part.value).join("");
        return after ? number + spaced + symbol : symbol + spaced + number;
      };
    }

    /* What the bar shows, as the server's goal_bar.html does. */
    figures(campaign, lang) {
      const money = this.money(campaign, lang);
      const { goal, raised } = campaign;
      const major = (minor) => Math.floor(minor / 10 ** campaign.exponent);
      const next = (campaign.stretch_goals || []).find((value) => value > raised);
      return {
        money,
        ticks: [0, Math.floor(goal / 2), goal].map(money),
        raised: money(raised),
        width: (Math.floor(Math.min(100, Math.max(raised, 0) * 100 / goal) * 100) / 100) + "%",
        stretch: next !== undefined && raised >= goal ? money(next) : null,
        aria: {
          "aria-label": lang.t("progressLabel", { goal: money(goal) }),
          "aria-valuemin": 0,
          "aria-valuemax": major(goal),
          // Past the goal the bar is full; aria-valuetext still says what was raised.
          "aria-valuenow": major(Math.min(Math.max(raised, 0), goal)),
          "aria-valuetext": lang.t("valueText", { raised: money(raised), goal: money(goal) }),
        },
      };
    }

    raisedLine(figures, lang, amountClass) {
      const { h } = this.kit;
      return [lang.t("raised") + " ", h("strong", { class: amountClass, text: figures.raised }),
        figures.stretch ? " · " + lang.t("nextGoal") + " " + figures.stretch : ""];
    }

    /* The server-rendered bar: fresh figures in the page's words, and its link a button. */
    takeOver(fragment, link, campaign, lang) {
      if (fragment) {
        const figures = this.figures(campaign, lang);
        fragment.setAttribute("lang", lang.locale);
        fragment.querySelectorAll(".townhall-campaign__tick").forEach((tick, i) => { tick.textContent = figures.ticks[i] ?? ""; });
        const bar = fragment.querySelector('[role="progressbar"]');
        if (bar) {
          for (const [name, value] of Object.entries(figures.aria)) bar.setAttribute(name, value);
          if (bar.firstElementChild) bar.firstElementChild.style.width = figures.width;
        }
        fragment.querySelector(".townhall-campaign__raised")?.replaceChildren(...this.raisedLine(figures, lang, "townhall-campaign__amount"));
      }
      // A donation page's link goes there by itself.
      if (!link || campaign.checkout === "donation_url") return;
      if (!campaign.checkout) { link.remove(); return; }
      const panel = this.kit.h("div", { "data-townhall-support": "", id: nextId() });
      panel.attachShadow({ mode: "open" }).append(this.kit.h("style", { text: CSS }), ...this.give(campaign, lang, link, panel.id));
      panel.dataset.theme = this.kit.isDark(link.parentElement) ? "dark" : "light";
      link.setAttribute("role", "button");
      link.addEventListener("keydown", (event) => { if (event.key === " ") { event.preventDefault(); link.click(); } });
      link.after(panel);
    }

    /* No server-rendered bar: the bar and the button in a shadow root. */
    draw(host, campaign, lang) {
      const { h, isDark } = this.kit;
      const show = (host.dataset.show || "bar button").split(/\s+/);
      const root = host.shadowRoot || host.attachShadow({ mode: "open" });
      host.dataset.theme = isDark(host) ? "dark" : "light";
      host.setAttribute("lang", lang.locale);
      const parts = [h("style", { text: CSS })];
      if (show.includes("bar")) {
        const figures = this.figures(campaign, lang);
        const fill = h("span", { class: "fill" });
        fill.style.width = figures.width;
        parts.push(h("section", { class: "campaign", "aria-label": campaign.title },
          h("div", { class: "ticks", "aria-hidden": "true" }, figures.ticks.map((tick) => h("span", { text: tick }))),
          h("div", { class: "track", role: "progressbar", ...figures.aria }, fill),
          h("p", { class: "raised" }, this.raisedLine(figures, lang, "amount")),
          campaign.active ? "" : h("p", { class: "ended", text: lang.t("ended") }),
          show.includes("button") ? this.button(campaign, lang, host.dataset.label) : ""));
      } else if (show.includes("button")) {
        parts.push(this.button(campaign, lang, host.dataset.label));
      }
      root.replaceChildren(...parts);
    }

    /* The Support button and what it opens; nothing when the campaign takes no contributions.
     * extra: more buttons beside it. */
    button(campaign, lang, label, extra = "") {
      const { h } = this.kit;
      if (!campaign.checkout) return extra ? h("div", { class: "checkout" }, extra) : "";
      const id = nextId();
      const open = h("button", { type: "button", class: "support", text: label || lang.t("support") });
      return h("div", { class: "checkout" }, open, extra, ...this.give(campaign, lang, open, id));
    }

    /* The form a Support button (or link) opens, and the error alert; `controls`: the id for
     * the opener's aria-controls when the form is in another tree. A donation page opens at once
     * instead. */
    give(campaign, lang, opener, controls) {
      const { h, store } = this.kit;
      const failed = h("p", { class: "failed", role: "alert", hidden: true });
      if (campaign.checkout === "donation_url") {
        opener.addEventListener("click", (event) => { event.preventDefault(); this.checkout(campaign, lang, { busy: opener, failed }); });
        return [failed];
      }
      const id = nextId();
      const scale = 10 ** campaign.exponent;
      const money = this.money(campaign, lang);
      const other = h("input", { type: "text", inputmode: "decimal", autocomplete: "off", name: "amount", id: id + "-other" });
      const badge = h("input", { type: "checkbox", name: "show_badge" });
      const badgeBox = h("label", { class: "badge-check" }, badge, h("span", { text: lang.t("showBadge") }));
      const go = h("button", { type: "submit", class: "support", text: lang.t("continue") });
      const radios = PRESETS.map((major, i) => h("input", { type: "radio", name: id, value: major * scale, checked: i === 1 }));
      const toggle = (show = form.hidden) => {
        form.hidden = !show;
        failed.hidden = true;
        // Only a reader who has commented here has comments to show it on (their edit token).
        badgeBox.hidden = !store.get("token:" + campaign.site, null);
        opener.setAttribute("aria-expanded", String(show));
        if (show) (radios.find((radio) => radio.checked) || other).focus();
      };
      const close = () => { toggle(false); opener.focus(); };
      const form = h("form", { class: "give", id, hidden: true, novalidate: true, "aria-label": campaign.title,
        onkeydown: (event) => { if (event.key === "Escape") { event.stopPropagation(); close(); } },
        onsubmit: (event) => {
          event.preventDefault();
          const typed = other.value.trim();
          const amount = typed ? minorUnits(typed, campaign.exponent) : Number(radios.find((radio) => radio.checked)?.value);
          if (!(amount >= scale)) {
            failed.textContent = lang.t("invalidAmount", { least: money(scale) });
            failed.hidden = false;
            other.setAttribute("aria-invalid", "true");
            other.focus();
            return;
          }
          other.removeAttribute("aria-invalid");
          this.checkout(campaign, lang, { busy: go, failed, amount, badge: !badgeBox.hidden && badge.checked });
        } },
      h("fieldset", {}, h("legend", { text: lang.t("amount") }),
        radios.map((radio) => h("label", { class: "preset" }, radio, h("span", { text: money(Number(radio.value)) }))),
        h("span", { class: "other" }, h("label", { for: id + "-other", text: lang.t("otherAmount") }), other)),
      badgeBox,
      h("div", { class: "give-buttons" }, go, h("button", { type: "button", class: "cancel", text: lang.t("cancel"), onclick: close })));
      other.addEventListener("input", () => { if (other.value) for (const radio of radios) radio.checked = false; });
      for (const radio of radios) radio.addEventListener("change", () => { other.value = ""; other.removeAttribute("aria-invalid"); });
      opener.setAttribute("aria-expanded", "false");
      opener.setAttribute("aria-controls", controls || id);
      opener.addEventListener("click", (event) => { event.preventDefault(); toggle(); });
      return [form, failed];
    }

    /* Asks the server for the checkout and goes there; an error shows in the alert. */
    async checkout(campaign, lang, { busy, failed, amount, badge }) {
      const { api, store } = this.kit;
      busy.disabled = true;
      failed.hidden = true;
      try {
        const back = new URL(location.href);
        back.hash = "";
        const body = { return_url: back.href, show_badge: Boolean(badge) };
        if (amount) body.amount = amount;
        const result = await api(`/api/v1/campaigns/${encodeURIComponent(campaign.site)}/${encodeURIComponent(campaign.slug)}/checkout`, {
          method: "POST", token: store.get("token:" + campaign.site, null), body,
        });
        location.assign(result.url);
      } catch (error) {
        failed.textContent = error.code === "network" ? lang.t("networkError") : error.message || lang.t("checkoutError");
        failed.hidden = false;
        busy.disabled = false;
      }
    }

    /* After a reader's post: thanks, the campaign and its Support button under the form, until
     * dismissed. It leaves the focus where it is. */
    prompt(widget, campaign) {
      const { h } = this.kit;
      const lang = this.language(widget.host);
      const figures = this.figures(campaign, lang);
      const close = () => { box.remove(); widget.form.textarea.focus(); };
      const box = h("section", { class: "support-prompt", "aria-label": campaign.title,
        onkeydown: (event) => { if (event.key === "Escape") close(); } },
      h("style", { text: CSS }),
      h("p", {}, h("strong", { text: lang.t("promptThanks") }), " ", lang.t("promptAsk")),
      h("p", {}, h("strong", { text: campaign.title }), " ",
        h("span", { class: "raised-of", text: lang.t("raisedOf", { raised: figures.raised, goal: figures.ticks[2] }) })),
      this.button(campaign, lang, "", h("button", { type: "button", class: "dismiss", text: lang.t("dismiss"), onclick: close })));
      widget.root.querySelector(".support-prompt")?.remove();
      widget.form.element.after(box);
    }
  }

  window.TownhallSupport = (kit) => new Support(kit);
})();
