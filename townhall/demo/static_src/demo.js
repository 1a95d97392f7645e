// The demo's stand-in for a publisher's login (demo/article.html): a file, not an inline
// script, under the page's Content-Security-Policy (script-src 'self').
document.getElementById("publisher-login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const status = document.getElementById("publisher-status");
  const name = document.getElementById("publisher-name").value.trim();
  status.textContent = "";
  try {
    const response = await fetch("/demo/sso-token", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name }),
    });
    if (!response.ok) throw new Error(response.status);
    const { token } = await response.json();
    await window.Townhall.signIn(token);
    status.textContent = "Signed in as " + name + ".";
  } catch (error) {
    status.textContent = "The demo login did not work (" + error.message + ").";
  }
});
