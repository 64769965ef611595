package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/chatterbox/chatterbox/node/nodetest"
)

// The API document tells the truth: every answer of a live node to valid
// and to generated invalid requests is checked against the document the
// node serves — its status must be documented for the operation and its
// body must match the schema. Transport errors every route can answer
// (bad_host, bad_origin, internal_error, not_ready) are the `default`.

type apiCheck struct {
	t      *testing.T
	base   string
	doc    *openapi3.T
	router routers.Router
	http   *http.Client
	token  string
	seen   map[string]bool // "operationId status"
}

func newAPICheck(t *testing.T, base string) *apiCheck {
	t.Helper()
	res, err := http.Get(base + "/api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		t.Fatalf("the served document does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the served document is not valid OpenAPI: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &apiCheck{t: t, base: base, doc: doc, router: router, http: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}, seen: map[string]bool{}}
}

// call sends a request and checks the answer against the document. With
// contentType "" a JSON body gets application/json; auth sends the token.
func (c *apiCheck) call(method, path, contentType string, body []byte, auth bool) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	if body != nil {
		if contentType == "" {
			contentType = "application/json"
		}
		req.Header.Set("Content-Type", contentType)
	}
	if auth && c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var out map[string]any
	json.Unmarshal(raw, &out)
	c.check(req, res, raw)
	return res.StatusCode, out
}

func (c *apiCheck) check(req *http.Request, res *http.Response, raw []byte) {
	c.t.Helper()
	what := fmt.Sprintf("%s %s → %d %.200s", req.Method, req.URL.Path, res.StatusCode, raw)
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		c.t.Errorf("%s: no operation in the document: %v", what, err)
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: res.StatusCode, Header: res.Header, Body: io.NopCloser(bytes.NewReader(raw)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	})
	if err != nil {
		c.t.Errorf("%s: the answer does not match the document: %v", what, err)
	}
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	json.Unmarshal(raw, &body)
	transport := map[string]bool{"bad_host": true, "bad_origin": true, "internal_error": true, "not_ready": true}
	if route.Operation.Responses.Status(res.StatusCode) == nil && !transport[body.Error.Code] {
		c.t.Errorf("%s: status %d is not documented for %s", what, res.StatusCode, route.Operation.OperationID)
	}
	c.seen[fmt.Sprintf("%s %d", route.Operation.OperationID, res.StatusCode)] = true
}

func jsonBody(v any) []byte {
	raw, _ := json.Marshal(v)
	return raw
}

func TestAPIAnswersMatchTheDocument(t *testing.T) {
	n := nodetest.Start(t, 1)[0]
	c := newAPICheck(t, n.GatewayURL())
	post := func(path string, v any, auth bool) (int, map[string]any) {
		return c.call("POST", path, "", jsonBody(v), auth)
	}

	// Valid requests, in an order that makes each possible.
	c.call("GET", "/healthz", "", nil, false)
	c.call("GET", "/api/node", "", nil, false)
	c.call("GET", "/api/auth/providers", "", nil, false)
	post("/api/auth/register", map[string]string{"email": "ann@example.com", "password": password, "displayName": "Ann"}, false)
	post("/api/auth/register", map[string]string{"email": "bob@example.com", "password": password, "displayName": "Bob"}, false)
	_, bob := post("/api/auth/login", map[string]string{"email": "bob@example.com", "password": password}, false)
	_, ann := post("/api/auth/login", map[string]string{"email": "ann@example.com", "password": password}, false)
	c.token = ann["accessToken"].(string)
	_, refreshed := post("/api/auth/refresh", map[string]string{"refreshToken": ann["refreshToken"].(string)}, false)
	c.token = refreshed["accessToken"].(string)
	c.call("GET", "/api/me", "", nil, true)
	post("/api/auth/verify-email", map[string]string{"token": "nope"}, false)
	c.call("POST", "/api/auth/resend-verification", "", nil, true)
	post("/api/auth/forgot-password", map[string]string{"email": "ann@example.com"}, false)
	post("/api/auth/reset-password", map[string]string{"token": "nope", "password": password}, false)
	post("/api/auth/oauth/exchange", map[string]string{"code": "nope"}, false)
	c.call("GET", "/api/auth/oauth/google/start", "", nil, false)
	c.call("GET", "/api/auth/oauth/github/callback?state=x&code=y", "", nil, false)

	_, party := post("/api/parties", map[string]string{"name": "Checked"}, true)
	id := party["id"].(string)
	topic := party["topics"].([]any)[0].(map[string]any)["id"].(string)
	c.call("GET", "/api/parties", "", nil, true)
	c.call("GET", "/api/parties/"+id, "", nil, true)
	c.call("PATCH", "/api/parties/"+id, "", jsonBody(map[string]string{"name": "Checked too"}), true)
	_, t2 := post("/api/parties/"+id+"/topics", map[string]string{"name": "second"}, true)
	c.call("PATCH", "/api/parties/"+id+"/topics/"+t2["id"].(string), "", jsonBody(map[string]string{"name": "2nd"}), true)
	_, inv := post("/api/parties/"+id+"/invites", map[string]int{"expiresIn": 3600, "maxUses": 5}, true)
	post("/api/parties/"+id+"/invites", map[string]int{"expiresIn": 30}, true) // out of bounds: 422
	c.call("GET", "/api/parties/"+id+"/invites", "", nil, true)
	post("/api/invites/preview", map[string]string{"token": inv["token"].(string)}, false)
	post("/api/invites/preview", map[string]string{"token": "garbage"}, false)
	c.token = bob["accessToken"].(string)
	post("/api/invites/accept", map[string]string{"link": inv["link"].(string)}, true)
	post("/api/invites/accept", map[string]string{"token": inv["token"].(string)}, true) // already a member
	c.token = refreshed["accessToken"].(string)
	post("/api/invites/status", map[string]string{"token": inv["token"].(string)}, true)
	post("/api/invites/status", map[string]string{"token": "garbage"}, true)
	bobMember := bob["account"].(map[string]any)["memberId"].(string)
	_, dm := post("/api/dms", map[string]string{"memberId": bobMember}, true)
	post("/api/dms", map[string]string{"memberId": "nope"}, true)
	c.call("GET", "/api/dms", "", nil, true)
	c.call("GET", "/api/node/parties", "", nil, true)
	c.call("DELETE", "/api/dms/"+dm["id"].(string), "", nil, true)
	msgs := "/api/parties/" + id + "/topics/" + topic + "/messages"
	_, msg := post(msgs, map[string]string{"body": "hello", "clientId": "c1"}, true)
	post(msgs, map[string]string{"body": " "}, true)
	c.call("GET", msgs+"?limit=10", "", nil, true)
	c.call("GET", msgs+"?limit=1000", "", nil, true)
	c.call("GET", msgs+"?before=garbage", "", nil, true)
	c.call("PATCH", msgs+"/"+msg["id"].(string), "", jsonBody(map[string]string{"body": "hello again"}), true)
	c.call("DELETE", msgs+"/"+msg["id"].(string), "", nil, true)
	c.call("PATCH", msgs+"/"+msg["id"].(string), "", jsonBody(map[string]string{"body": "too late"}), true)
	bobID := bob["account"].(map[string]any)["memberId"].(string)
	c.call("DELETE", "/api/parties/"+id+"/members/"+bobID, "", nil, true)
	c.call("DELETE", "/api/parties/"+id+"/bans/"+bobID, "", nil, true)
	c.call("DELETE", "/api/parties/"+id+"/invites/"+inv["id"].(string), "", nil, true)
	c.call("DELETE", "/api/parties/"+id+"/topics/"+t2["id"].(string), "", nil, true)
	c.call("POST", "/api/ws/ticket", "", nil, true)
	c.call("GET", "/api/ws", "", nil, true)
	c.call("POST", "/api/me/encryption-key", "", nil, true)
	c.call("POST", "/api/parties/"+id+"/leave", "", nil, true)

	// Generated invalid requests for every operation: no token, bodies
	// that are not the JSON asked for, ids that name nothing.
	fill := strings.NewReplacer("{id}", id, "{topicId}", topic, "{messageId}", "nope", "{memberId}", "nope", "{inviteId}", "nope", "{provider}", "google")
	unknown := strings.NewReplacer("{id}", "nope", "{topicId}", "nope", "{messageId}", "nope", "{memberId}", "nope", "{inviteId}", "nope", "{provider}", "nope")
	for path, item := range c.doc.Paths.Map() {
		if path == "/api/ws" || strings.Contains(path, "/oauth/") {
			continue
		}
		for method, op := range item.Operations() {
			if method == "DELETE" && path == "/api/parties/{id}" {
				continue // checked last
			}
			secured := op.Security == nil || len(*op.Security) > 0
			if secured {
				c.call(method, fill.Replace(path), "", nil, false)
			}
			if op.RequestBody != nil {
				p := fill.Replace(path)
				c.call(method, p, "text/plain", []byte("{}"), true)
				c.call(method, p, "", []byte("null"), true)
				c.call(method, p, "", []byte("{"), true)
				c.call(method, p, "", []byte(`{"unexpected":1}`), true)
				c.call(method, p, "", bytes.Repeat([]byte(" "), 1<<20+1), true)
			}
			if strings.Contains(path, "{") {
				var body []byte
				if op.RequestBody != nil {
					body = []byte(`{"name":"x","body":"x"}`)
				}
				c.call(method, unknown.Replace(path), "", body, true)
			}
		}
	}
	c.call("DELETE", "/api/parties/"+id, "", nil, true)
	c.call("POST", "/api/auth/logout", "", nil, true)
	c.call("GET", "/api/me", "", nil, true)
	if len(c.seen) < 80 {
		t.Fatalf("only %d (operation, status) pairs were checked; the walk is broken", len(c.seen))
	}
}
