// Package gateway is the node's local HTTP face: the REST API under /api,
// health and node info, and (as they arrive) the WebSocket hub and the
// embedded web UI. The browser talks only to this gateway.
//
// The gateway is a privileged server on loopback that any web page can try
// to reach, so every request passes a Host check (against DNS rebinding), an
// Origin / Sec-Fetch-Site check on state changes (against CSRF), and gets
// strict security headers. Errors are JSON: {"error":{"code","message"}}.
package gateway
