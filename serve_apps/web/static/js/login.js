// The login page (#/login?next=...): a name and a password; the server sets an HttpOnly cookie.
import { logIn } from "./api.js";
import { h } from "./dom.js";

export async function render(main, params, onLogin) {
  const name = h("input", { id: "login-name", name: "username", autocomplete: "username", required: true, maxlength: 64 });
  const password = h("input", { id: "login-password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const error = h("p", { class: "error", role: "alert" });
  const button = h("button", { type: "submit" }, "Log in");
  const form = h("form", { class: "login", onsubmit: async (e) => {
    e.preventDefault();
    button.disabled = true;
    error.textContent = "";
    try {
      await logIn(name.value.trim(), password.value);
      password.value = "";
      await onLogin();
      location.hash = params.get("next") || "#/gallery";
    } catch (err) {
      error.textContent = err.status === 401 ? "Wrong name or password." : err.message;
      password.select();
    } finally {
      button.disabled = false;
    }
  } },
  h("h1", {}, "Log in"),
  h("p", { class: "muted" }, "This server's photos are private. Ask its owner for an account (thumper users add)."),
  h("label", { for: "login-name" }, "Name"), name,
  h("label", { for: "login-password" }, "Password"), password,
  h("div", { class: "row" }, button), error);
  main.replaceChildren(form);
  name.focus();
  return null;
}
