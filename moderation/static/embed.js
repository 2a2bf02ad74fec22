// The comments widget: <section id="comments" data-thread="KEY" data-title="Title"></section>
// <script src="https://comments.example.org/embed.js" defer></script>
// Plain JavaScript, no framework, no cookie of the service's site: the author's right to see their own comment
// awaiting moderation travels as a signed token kept in this page's own storage (localStorage).
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var BASE = new URL(script.src).origin;
  var API = BASE + "/api/v1";
  var STORE = "comments@" + BASE + ":";
  // The reader's language: data-lang on #comments, else the host page's lang, else English.
  var LANGUAGES = {
    en: {
      comments: "Comments", none: "No comments yet.", leave: "Leave a Reply", replyTo: "Replying to ",
      cancel: "Cancel reply", reply: "Reply", replyLabel: "Reply to ", more: "Show more comments",
      notPublished: "Your email address will not be published. Required fields are marked *",
      body: "Comment *", name: "Name *", email: "Email *", url: "Website",
      remember: "Save my name, email, and website in this browser for the next time I comment.",
      notifyReplies: "Notify me of replies by email.", notifyApproval: "Tell me by email when my comment is approved.",
      confirmFirst: "If you asked for email for the first time, check your inbox: the first email asks you to confirm your address.",
      trap: "Leave this field empty", post: "Post Comment", posting: "Posting\u2026",
      awaiting: "Your comment is awaiting moderation.", staff: "Staff",
      posted: "Your comment was posted and is awaiting moderation.",
      fix: "Your comment was not posted yet: please correct what is marked below.",
      network: "The comment service could not be reached, so nothing was posted. Your comment is still here: please try again.",
      failed: "Something went wrong, so nothing was posted. Your comment is still here: please try again.",
      loadFailed: "The comments could not be loaded. Reload the page to try again.",
      one: "1 comment", many: " comments", zero: "No comments", closed: "Comments are closed."
    },
    de: {
      comments: "Kommentare", none: "Noch keine Kommentare.", leave: "Schreibe einen Kommentar", replyTo: "Antwort an ",
      cancel: "Antwort abbrechen", reply: "Antworten", replyLabel: "Antworten an ", more: "Weitere Kommentare zeigen",
      notPublished: "Deine E-Mail-Adresse wird nicht ver\u00f6ffentlicht. Erforderliche Felder sind mit * markiert",
      body: "Kommentar *", name: "Name *", email: "E-Mail *", url: "Website",
      remember: "Meinen Namen, meine E-Mail-Adresse und meine Website in diesem Browser f\u00fcr die n\u00e4chste Kommentierung speichern.",
      notifyReplies: "Benachrichtige mich per E-Mail \u00fcber Antworten.", notifyApproval: "Sag mir per E-Mail Bescheid, wenn mein Kommentar freigegeben ist.",
      confirmFirst: "Wenn du zum ersten Mal E-Mails bestellt hast, sieh in dein Postfach: Die erste E-Mail bittet dich, deine Adresse zu best\u00e4tigen.",
      trap: "Dieses Feld leer lassen", post: "Kommentar abschicken", posting: "Wird gesendet\u2026",
      awaiting: "Dein Kommentar muss noch freigegeben werden.", staff: "Team",
      posted: "Dein Kommentar wurde gesendet und muss noch freigegeben werden.",
      fix: "Dein Kommentar wurde noch nicht gesendet: Bitte korrigiere die markierten Angaben.",
      network: "Der Kommentardienst war nicht erreichbar, es wurde nichts gesendet. Dein Kommentar ist noch da: bitte versuche es noch einmal.",
      failed: "Etwas ist schiefgegangen, es wurde nichts gesendet. Dein Kommentar ist noch da: bitte versuche es noch einmal.",
      loadFailed: "Die Kommentare konnten nicht geladen werden. Lade die Seite neu, um es noch einmal zu versuchen.",
      one: "1 Kommentar", many: " Kommentare", zero: "Keine Kommentare", closed: "Die Kommentare sind geschlossen."
    },
    fr: {
      comments: "Commentaires", none: "Pas encore de commentaire.", leave: "Laisser un commentaire", replyTo: "En r\u00e9ponse \u00e0 ",
      cancel: "Annuler la r\u00e9ponse", reply: "R\u00e9pondre", replyLabel: "R\u00e9pondre \u00e0 ", more: "Afficher plus de commentaires",
      notPublished: "Votre adresse e-mail ne sera pas publi\u00e9e. Les champs obligatoires sont indiqu\u00e9s avec *",
      body: "Commentaire *", name: "Nom *", email: "E-mail *", url: "Site web",
      remember: "Enregistrer mon nom, mon e-mail et mon site dans le navigateur pour mon prochain commentaire.",
      notifyReplies: "Me pr\u00e9venir des r\u00e9ponses par e-mail.", notifyApproval: "Me pr\u00e9venir par e-mail quand mon commentaire est approuv\u00e9.",
      confirmFirst: "Si vous demandez des e-mails pour la premi\u00e8re fois, regardez votre bo\u00eete : le premier e-mail vous demande de confirmer votre adresse.",
      trap: "Laissez ce champ vide", post: "Laisser un commentaire", posting: "Envoi\u2026",
      awaiting: "Votre commentaire est en attente de mod\u00e9ration.", staff: "\u00c9quipe",
      posted: "Votre commentaire a \u00e9t\u00e9 envoy\u00e9 et attend la mod\u00e9ration.",
      fix: "Votre commentaire n\u2019a pas encore \u00e9t\u00e9 envoy\u00e9 : corrigez ce qui est signal\u00e9 ci-dessous.",
      network: "Le service de commentaires n\u2019a pas pu \u00eatre joint, rien n\u2019a \u00e9t\u00e9 envoy\u00e9. Votre commentaire est toujours l\u00e0 : r\u00e9essayez.",
      failed: "Une erreur est survenue, rien n\u2019a \u00e9t\u00e9 envoy\u00e9. Votre commentaire est toujours l\u00e0 : r\u00e9essayez.",
      loadFailed: "Les commentaires n\u2019ont pas pu \u00eatre charg\u00e9s. Rechargez la page pour r\u00e9essayer.",
      one: "1 commentaire", many: " commentaires", zero: "Aucun commentaire", closed: "Les commentaires sont ferm\u00e9s."
    }
  };

  function language(node) {
    var asked = (node && node.getAttribute("data-lang")) || document.documentElement.lang || navigator.language || "en";
    var code = asked.toLowerCase().split(/[-_]/)[0];
    return LANGUAGES[code] ? code : "en";
  }

  function stored(name) { try { return window.localStorage.getItem(STORE + name); } catch (e) { return null; } }
  function store(name, value) {
    try { if (value === null) window.localStorage.removeItem(STORE + name); else window.localStorage.setItem(STORE + name, value); }
    catch (e) { /* storage refused (private mode, quota): the widget still works, it only forgets */ }
  }

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) {
      if (key === "text") node.textContent = attributes[key];
      else if (attributes[key] !== null && attributes[key] !== undefined) node.setAttribute(key, attributes[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function request(method, path, body, lang) {
    var headers = {Accept: "application/json", "Accept-Language": lang || "en"};
    var token = stored("author");
    if (token) headers["X-Author-Token"] = token;
    if (body) headers["Content-Type"] = "application/json";
    return fetch(path.indexOf("http") === 0 ? path : API + path, {
      method: method, headers: headers, body: body ? JSON.stringify(body) : undefined,
      credentials: "omit", mode: "cors",
      cache: "no-cache"  // ask again each time; an unchanged thread costs a 304 thanks to its ETag
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return {status: response.status, data: data, retryAfter: response.headers.get("Retry-After")};
      });
    });
  }

  function Widget(root) {
    this.root = root;
    this.lang = language(root);
    var WORDS = this.words = LANGUAGES[this.lang];
    this.key = root.getAttribute("data-thread");
    this.title = root.getAttribute("data-title") || document.title;
    // The article's address without its query: a newsletter link's query may carry the reader's address.
    this.url = root.getAttribute("data-url") || window.location.origin + window.location.pathname;
    this.title = this.title.slice(0, 300);
    this.slug = this.key.replace(/[^A-Za-z0-9_-]/g, "_");
    this.token = null;
    this.tokenAt = 0;
    this.maxAge = 0;
    root.classList.add("comments-widget");
    this.list = el("ol", {"class": "cw-comments"});
    this.more = el("button", {type: "button", "class": "cw-more", hidden: "hidden", text: WORDS.more});
    this.empty = el("p", {"class": "cw-hint", text: WORDS.none, hidden: "hidden"});
    this.status = el("p", {"class": "cw-status", role: "status", "aria-live": "polite"});
    this.heading = el("h2", {text: WORDS.comments});
    root.textContent = "";
    root.appendChild(this.heading);
    root.appendChild(this.status);
    root.appendChild(this.empty);
    root.appendChild(this.list);
    root.appendChild(this.more);
    root.appendChild(this.buildForm());
    var widget = this;
    this.more.addEventListener("click", function () { widget.load(widget.next, true); });
    this.load("/threads/" + encodeURIComponent(this.key) + "/comments", false);
  }

  Widget.prototype.load = function (path, append) {
    var WORDS = this.words;
    var widget = this;
    return request("GET", path, null, this.lang).then(function (answer) {
      if (answer.status !== 200) throw new Error(String(answer.status));
      if (answer.data.comments_open === false) widget.close();  // before drawing: no Reply on a closed thread
      widget.repliesOpen = answer.data.replies_open !== false;
      // Email is offered only when the service can send it: a reader is never promised email that will not come.
      widget.notifyBox.hidden = answer.data.email_notifications !== true;
      if (!append) widget.list.textContent = "";
      answer.data.comments.forEach(function (comment) { widget.list.appendChild(widget.comment(comment)); });
      widget.next = answer.data.next;
      widget.more.hidden = !answer.data.next;
      widget.empty.hidden = widget.list.children.length > 0;
    }).catch(function () { widget.say(WORDS.loadFailed, true); });
  };

  Widget.prototype.comment = function (comment) {
    var WORDS = this.words;
    var widget = this;
    var author = comment.author_url
      ? el("a", {"class": "cw-author", href: comment.author_url, rel: "nofollow ugc", text: comment.author_name})
      : el("span", {"class": "cw-author", text: comment.author_name});
    var when = new Date(comment.created_at);
    var time = el("time", {datetime: comment.created_at, text: isNaN(when) ? comment.created_at : when.toLocaleString(this.lang)});
    var item = el("li", {"class": "cw-comment" + (comment.awaiting_moderation ? " cw-awaiting" : ""),
                         id: "comment-" + comment.id, tabindex: "-1"}, [
      el("div", {"class": "cw-meta"}, [
        el("img", {"class": "cw-avatar", src: comment.avatar, alt: "", width: "40", height: "40", loading: "lazy"}),
        author, comment.staff ? el("span", {"class": "cw-staff", text: WORDS.staff}) : document.createTextNode(""),
        document.createTextNode(" \u00b7 "), el("a", {href: "#comment-" + comment.id}, [time])
      ])
    ]);
    if (comment.awaiting_moderation) item.appendChild(el("p", {"class": "cw-note", text: WORDS.awaiting}));
    var body = el("div", {"class": "cw-body"});
    body.innerHTML = comment.html;  // escaped and cleaned by the service (nh3): paragraphs, breaks, links only
    item.appendChild(body);
    if (!comment.awaiting_moderation && !this.closed && this.repliesOpen !== false) {
      var reply = el("button", {type: "button", "class": "cw-reply", text: WORDS.reply,
                                "aria-label": WORDS.replyLabel + comment.author_name});
      reply.addEventListener("click", function () { widget.replyTo(comment, item); });
      item.appendChild(reply);
    }
    if (comment.replies && comment.replies.length) {
      item.appendChild(el("ol", {"class": "cw-children"}, comment.replies.map(function (r) { return widget.comment(r); })));
    }
    return item;
  };

  Widget.prototype.field = function (name, label, type, attributes) {
    var id = "cw-" + name + "-" + this.slug;
    var input = type === "textarea" ? el("textarea", Object.assign({id: id, name: name, rows: "6"}, attributes))
                                      : el("input", Object.assign({id: id, name: name, type: type}, attributes));
    var error = el("p", {"class": "cw-error", id: id + "-error", hidden: "hidden"});
    this.inputs[name] = input;
    this.errors[name] = error;
    return el("p", {"class": "cw-field"}, [el("label", {"for": id, text: label}), input, error]);
  };

  Widget.prototype.buildForm = function () {
    var WORDS = this.words;
    var widget = this;
    this.inputs = {};
    this.errors = {};
    this.replying = el("p", {"class": "cw-hint", hidden: "hidden"});
    this.parentId = null;
    var saved = {};
    try { saved = JSON.parse(stored("details") || "{}") || {}; } catch (e) { saved = {}; }
    this.remember = el("input", {type: "checkbox", name: "remember", id: "cw-remember-" + this.slug});
    this.remember.checked = Boolean(stored("details"));
    this.notifyReplies = el("input", {type: "checkbox", name: "notify_replies", id: "cw-notify-replies-" + this.slug});
    this.notifyApproval = el("input", {type: "checkbox", name: "notify_approval", id: "cw-notify-approval-" + this.slug});
    this.notifyBox = el("div", {"class": "cw-notify", hidden: "hidden"}, [
      el("p", {"class": "cw-check"}, [this.notifyReplies, el("label", {"for": this.notifyReplies.id, text: WORDS.notifyReplies})]),
      el("p", {"class": "cw-check"}, [this.notifyApproval, el("label", {"for": this.notifyApproval.id, text: WORDS.notifyApproval})])
    ]);
    this.button = el("button", {type: "submit", text: WORDS.post});
    this.notice = el("p", {"class": "cw-notice", role: "alert", hidden: "hidden"});
    var trap = el("p", {"class": "cw-trap", "aria-hidden": "true"}, [
      el("label", {"for": "cw-check-" + this.slug, text: WORDS.trap}),
      el("input", {id: "cw-check-" + this.slug, name: "comment_check", type: "text", tabindex: "-1", autocomplete: "off"})
    ]);
    this.form = el("form", {"class": "cw-form", novalidate: "novalidate"}, [
      el("h3", {text: WORDS.leave}), this.replying, this.notice,
      el("p", {"class": "cw-hint", text: WORDS.notPublished}),
      this.field("body", WORDS.body, "textarea", {required: "required", maxlength: "10000"}),
      this.field("author_name", WORDS.name, "text", {required: "required", maxlength: "100", autocomplete: "name", value: saved.author_name || null}),
      this.field("author_email", WORDS.email, "email", {required: "required", maxlength: "320", autocomplete: "email", value: saved.author_email || null}),
      this.field("author_url", WORDS.url, "url", {maxlength: "2000", autocomplete: "url", value: saved.author_url || null}),
      trap,
      el("p", {"class": "cw-check"}, [this.remember, el("label", {"for": this.remember.id, text: WORDS.remember})]),
      this.notifyBox,
      el("p", {}, [this.button])
    ]);
    this.trap = trap.querySelector("input");
    this.form.addEventListener("focusin", function () { widget.freshToken(); });
    this.form.addEventListener("submit", function (event) { event.preventDefault(); widget.send(); });
    var section = el("section", {"class": "cw-respond", id: "respond-" + this.slug}, [this.form]);
    this.respond = section;
    return section;
  };

  // The form token notes when the reader started; asked for once, again when it is about to expire.
  Widget.prototype.freshToken = function () {
    var widget = this;
    if (this.token) return Promise.resolve(this.token);
    return request("GET", "/threads/" + encodeURIComponent(this.key) + "/form", null, this.lang).then(function (answer) {
      if (answer.status !== 200) throw new Error(String(answer.status));
      widget.token = answer.data.token;
      widget.maxAge = answer.data.max_age;
      widget.tokenAt = Date.now();
      // Renewed ahead of its expiry, not at the moment of sending: a token fetched and sent in the same
      // second would make the comment look typed faster than a person types.
      clearTimeout(widget.renewal);
      widget.renewal = setTimeout(function () { widget.token = null; widget.freshToken(); },
                                  Math.max(widget.maxAge - 120, 60) * 1000);
      return widget.token;
    });
  };

  Widget.prototype.replyTo = function (comment, item) {
    var WORDS = this.words;
    var widget = this;
    this.parentId = comment.id;
    this.replying.textContent = WORDS.replyTo + comment.author_name + ". ";
    var cancel = el("button", {type: "button", "class": "cw-cancel", text: WORDS.cancel});
    cancel.addEventListener("click", function () { widget.cancelReply(); });
    this.replying.appendChild(cancel);
    this.replying.hidden = false;
    item.appendChild(this.respond);
    this.inputs.body.focus();
  };

  Widget.prototype.cancelReply = function () {
    this.parentId = null;
    this.replying.hidden = true;
    this.root.appendChild(this.respond);
    this.inputs.body.focus();
  };

  Widget.prototype.close = function () {
    if (this.closed) return;
    this.closed = true;
    this.form.hidden = true;
    this.respond.appendChild(el("p", {"class": "cw-notice cw-closed", text: this.words.closed}));
  };

  Widget.prototype.say = function (message, bad) {
    if (bad) {
      this.notice.textContent = message;
      this.notice.hidden = false;
    } else {
      this.notice.hidden = true;
      this.status.textContent = message;
    }
  };

  Widget.prototype.clearErrors = function () {
    var widget = this;
    this.notice.hidden = true;
    Object.keys(this.errors).forEach(function (name) {
      widget.errors[name].hidden = true;
      widget.inputs[name].removeAttribute("aria-invalid");
      widget.inputs[name].removeAttribute("aria-describedby");
    });
  };

  Widget.prototype.showErrors = function (fields) {
    var widget = this;
    var first = null;
    Object.keys(fields).forEach(function (name) {
      var input = widget.inputs[name];
      if (!input) { widget.say(fields[name], true); return; }
      widget.errors[name].textContent = fields[name];
      widget.errors[name].hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", widget.errors[name].id);
      first = first || input;
    });
    if (first) first.focus();
  };

  Widget.prototype.values = function () {
    var values = {};
    ["author_name", "author_email", "author_url", "body"].forEach(function (name) { values[name] = this.inputs[name].value; }, this);
    values.notify_replies = !this.notifyBox.hidden && this.notifyReplies.checked;
    values.notify_approval = !this.notifyBox.hidden && this.notifyApproval.checked;
    return values;
  };

  Widget.prototype.keepDetails = function (values) {
    if (this.remember.checked) {
      store("details", JSON.stringify({author_name: values.author_name, author_email: values.author_email,
                                       author_url: values.author_url}));
    } else {
      store("details", null);
    }
  };

  Widget.prototype.send = function () {
    var WORDS = this.words;
    var widget = this;
    var values = this.values();
    this.clearErrors();
    this.button.disabled = true;
    this.button.textContent = WORDS.posting;
    this.freshToken().then(function (token) {
      return request("POST", "/threads/" + encodeURIComponent(widget.key) + "/comments", Object.assign({}, values, {
        form_token: token, parent_id: widget.parentId, comment_check: widget.trap.value,
        title: widget.title, url: widget.url
      }), widget.lang);
    }).then(function (answer) {
      if (answer.status === 201) return widget.posted(answer.data, values);
      if (answer.status === 422 && answer.data.fields) {
        if (answer.data.fields.form_token) {  // expired or unreadable: a new one now, for the reader's next try
          widget.token = null;
          widget.freshToken();
        }
        widget.say(answer.data.fields.form_token || WORDS.fix, true);
        widget.showErrors(answer.data.fields);
      } else if (answer.data && answer.data.error) {
        widget.say(answer.data.error, true);
      } else {
        widget.say(WORDS.failed, true);
      }
    }, function () {
      widget.say(WORDS.network, true);
    }).then(function () {
      widget.button.disabled = Boolean(widget.closed);
      widget.button.textContent = WORDS.post;
    });
  };

  Widget.prototype.posted = function (data, values) {
    var WORDS = this.words;
    var widget = this;
    store("author", data.author_token);
    this.keepDetails(values);
    this.inputs.body.value = "";
    this.token = null;
    if (this.parentId) this.cancelReply();
    this.say(values.notify_replies || values.notify_approval ? WORDS.posted + " " + WORDS.confirmFirst : WORDS.posted, false);
    return this.load("/threads/" + encodeURIComponent(this.key) + "/comments", false).then(function () {
      var mine = document.getElementById("comment-" + data.comment.id);
      if (!mine) {  // on a later page of a long thread: shown at the end of what is drawn
        mine = widget.comment(Object.assign({}, data.comment, {
          avatar: BASE + "/avatars/anonymous.svg", awaiting_moderation: true, permalink: null, replies: []
        }));
        widget.list.appendChild(mine);
        widget.empty.hidden = true;
      }
      mine.focus();
    });
  };

  function counts() {
    var lang = language(null);
    var WORDS = LANGUAGES[lang];
    var links = Array.prototype.slice.call(document.querySelectorAll("[data-comment-count]"));
    if (!links.length) return;
    var keys = links.map(function (link) { return link.getAttribute("data-comment-count"); });
    var query = keys.filter(function (key, i) { return keys.indexOf(key) === i; }).slice(0, 50)
      .map(function (key) { return "thread=" + encodeURIComponent(key); }).join("&");
    request("GET", "/counts?" + query, null, lang).then(function (answer) {
      if (answer.status !== 200) return;
      links.forEach(function (link) {
        var n = answer.data.counts[link.getAttribute("data-comment-count")];
        if (typeof n === "number") link.textContent = n === 0 ? WORDS.zero : n === 1 ? WORDS.one : n + WORDS.many;
      });
    });
  }

  function start() {
    var stylesheet = el("link", {rel: "stylesheet", href: BASE + "/embed.css"});
    document.head.appendChild(stylesheet);
    Array.prototype.forEach.call(document.querySelectorAll("#comments[data-thread], [data-comments-thread]"), function (root) {
      if (!root.getAttribute("data-thread")) root.setAttribute("data-thread", root.getAttribute("data-comments-thread"));
      new Widget(root);  // eslint-disable-line no-new
    });
    counts();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
}());
