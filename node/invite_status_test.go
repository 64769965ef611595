package node_test

import (
	"net/http"
	"testing"

	"github.com/chatterbox/chatterbox/node/nodetest"
)

// Before joining, a node asks the party's nodes whether an invite still
// stands: a revoked one is known as revoked on a node that is not in the
// party, a used-up one too, and with the party's nodes away the answer
// says it could not check.
func TestInviteStatusIsAskedOfTheParty(t *testing.T) {
	nodes := nodetest.Start(t, 3)
	a, b, c := signUp(t, nodes[0], "Ann"), signUp(t, nodes[1], "Bob"), signUp(t, nodes[2], "Cat")
	id := createParty(t, a, "Club")
	valid := invite(t, a, id, nil)
	revoked := invite(t, a, id, nil)
	once := invite(t, a, id, map[string]any{"maxUses": 1})
	a.c.Must(http.StatusNoContent, "DELETE", "/api/parties/"+id+"/invites/"+revoked.String("id"), nil)
	accept(t, c, once.String("link"), http.StatusOK)

	status := func(u *user, token string) (bool, string) {
		r := u.c.Must(http.StatusOK, "POST", "/api/invites/status", map[string]string{"token": token})
		return r.JSON["checked"] == true, r.String("code")
	}
	for name, tc := range map[string]struct{ token, code string }{
		"valid":    {valid.String("token"), ""},
		"revoked":  {revoked.String("token"), "invite_revoked"},
		"used up":  {once.String("token"), "invite_used_up"},
		"as links": {valid.String("link"), ""},
	} {
		if checked, code := status(b, tc.token); !checked || code != tc.code {
			t.Errorf("%s invite, asked from a node outside the party: checked %v, code %q; want checked, %q", name, checked, code, tc.code)
		}
	}
	expectCode(t, b.c.Do("POST", "/api/invites/status", map[string]string{"token": "garbage"}), 422, "invite_invalid")
	if r := nodetest.NewClient(t, nodes[1].GatewayURL()).Do("POST", "/api/invites/status", map[string]string{"token": valid.String("token")}); r.Status != 401 {
		t.Fatalf("asked without signing in: %d", r.Status)
	}

	// The owner's node and Cat's are away: Bob's node cannot check.
	for _, n := range []int{0, 2} {
		if err := nodes[n].Close(); err != nil {
			t.Fatal(err)
		}
	}
	if checked, code := status(b, revoked.String("token")); checked || code != "" {
		t.Fatalf("with the party's nodes away: checked %v, code %q; want not checked", checked, code)
	}
}
