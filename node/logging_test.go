package node_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/chatterbox/chatterbox/node/nodetest"
)

// lockedBuffer is a log sink shared by nodes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The logging policy (ARCHITECTURE.md, "Logging"): whatever a node logs,
// at any level, it never logs a password, a session, refresh, mail or
// WebSocket token, an invite token or a message body. Two nodes run the
// account flows and chat with every log line kept at debug level; the
// logs are then searched for each secret the run used.
func TestLogsHoldNoSecrets(t *testing.T) {
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ms := nodetest.StartMailServer(t, false)
	cfgA := nodetest.Config(t, t.TempDir())
	cfgA.SMTPURL, cfgA.SMTPTLS, cfgA.MailFrom, cfgA.Logger = ms.URL(false), ms.ClientTLS, "ChatterBox <noreply@chatterbox.test>", logger
	cfgB := nodetest.Config(t, t.TempDir())
	cfgB.Logger = logger
	na, nb := nodetest.StartWith(t, cfgA), nodetest.StartWith(t, cfgB)

	const (
		pass1, pass2, passB = "first secret passphrase 7731", "second secret passphrase 7732", "bobs secret passphrase 7733"
		body1, body2, body3 = "BODY-post-qwertz", "BODY-reply-asdfgh", "BODY-direct-yxcvb"
	)
	var secrets []string
	ann := nodetest.NewClient(t, na.GatewayURL())
	ann.SignUp("ann@example.com", pass1, "Ann")
	verify := nodetest.Token(nodetest.ParseMail(t, ms.Next(t).Raw).Link(t))
	ann.Must(200, "POST", "/api/auth/verify-email", map[string]string{"token": verify})
	ann.Must(202, "POST", "/api/auth/forgot-password", map[string]string{"email": "ann@example.com"})
	reset := nodetest.Token(nodetest.ParseMail(t, ms.Next(t).Raw).Link(t))
	ann.Must(200, "POST", "/api/auth/reset-password", map[string]string{"token": reset, "password": pass2})
	login := ann.Must(200, "POST", "/api/auth/login", map[string]string{"email": "ann@example.com", "password": pass2})
	ann.Token = login.String("accessToken")
	refreshed := ann.Must(200, "POST", "/api/auth/refresh", map[string]string{"refreshToken": login.String("refreshToken")})
	ann.Token = refreshed.String("accessToken")
	ticket := ann.Must(201, "POST", "/api/ws/ticket", nil).String("ticket")
	secrets = append(secrets, pass1, pass2, verify, reset, login.String("accessToken"), login.String("refreshToken"),
		refreshed.String("accessToken"), refreshed.String("refreshToken"), ticket)

	bob := nodetest.NewClient(t, nb.GatewayURL())
	bob.SignUp("bob@example.com", passB, "Bob")
	a, b := &user{n: na, c: ann, name: "Ann"}, &user{n: nb, c: bob, name: "Bob"}
	a.memberID = ann.Must(200, "GET", "/api/me", nil).String("memberId")
	b.memberID = bob.Must(200, "GET", "/api/me", nil).String("memberId")
	id := createParty(t, a, "Secretive")
	inv := invite(t, a, id, nil)
	accept(t, b, inv.String("link"), http.StatusOK)
	st := waitConverged(t, id, na, nb)
	topic := st.SortedTopics()[0].ID
	base := "/api/parties/" + id + "/topics/" + topic + "/messages"
	post := ann.Must(201, "POST", base, map[string]string{"body": body1}).String("id")
	nodetest.Eventually(t, converge, "Bob to have Ann's post", func() bool { return messageOn(b, id, topic, post) != nil })
	bob.Must(201, "POST", base, map[string]string{"body": body2, "replyTo": post})
	dm := ann.Must(200, "POST", "/api/dms", map[string]string{"memberId": b.memberID})
	ann.Must(201, "POST", "/api/parties/"+dm.String("id")+"/topics/"+dm.String("topicId")+"/messages", map[string]string{"body": body3})
	nodetest.Eventually(t, converge, "Bob to have the direct message", func() bool {
		r := bob.Do("GET", "/api/parties/"+dm.String("id")+"/topics/"+dm.String("topicId")+"/messages", nil)
		return r.Status == 200 && strings.Contains(string(r.Raw), body3)
	})
	tok := inv.String("token")
	_, sig, _ := strings.Cut(tok, ".")
	secrets = append(secrets, passB, body1, body2, body3, tok, sig)

	out := logs.String()
	if len(out) < 1000 {
		t.Fatalf("only %d bytes of logs: the capture is broken", len(out))
	}
	for _, s := range secrets {
		if s == "" {
			t.Fatal("a secret of the run is empty: the test is broken")
		}
		if i := strings.Index(out, s); i >= 0 {
			line := out[strings.LastIndexByte(out[:i], '\n')+1:]
			if j := strings.IndexByte(line, '\n'); j >= 0 {
				line = line[:j]
			}
			t.Errorf("the logs hold a secret (%.12s…): %s", s, line)
		}
	}
}
