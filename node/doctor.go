package node

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/chatterbox/chatterbox/identity"
	"github.com/chatterbox/chatterbox/party"
)

// DoctorReport is what a running node says of itself to chatterbox
// doctor, over the admin socket.
type DoctorReport struct {
	PeerID       string   `json:"peerId"`
	Version      string   `json:"version"`
	OpenURL      string   `json:"openUrl"`
	Addrs        []string `json:"addrs"`
	Reachability string   `json:"reachability"`
	// RelaysWanted are the --relay-peer addresses; Relays the relays
	// holding a reservation now.
	RelaysWanted []string `json:"relaysWanted"`
	Relays       []string `json:"relays"`
	Peers        int      `json:"peers"`
	// Clocks compares this node's clock with each connected member node's.
	Clocks []party.ClockCheck `json:"clocks"`
	// Mail is "smtp" or "outbox" (no SMTP server configured).
	Mail string `json:"mail"`
}

// Doctor reports on the running node.
func (n *Node) Doctor() DoctorReport {
	r := DoctorReport{PeerID: n.PeerID(), Version: n.cfg.Version, OpenURL: n.OpenURL(), Addrs: n.Addrs(),
		Reachability: n.Reachability(), RelaysWanted: n.cfg.Network.Relays, Relays: n.Relays(),
		Peers: len(n.host.Network().Peers()), Clocks: n.ps.CheckClocks(), Mail: "smtp"}
	if n.cfg.SMTPURL == "" {
		r.Mail = "outbox"
	}
	if r.Addrs == nil {
		r.Addrs = []string{}
	}
	return r
}

// doctorRoutes adds the operator's checks to the admin socket: GET
// /doctor, and POST /test-mail?to=ADDRESS, which sends a mail through the
// node's mailer and answers what happened.
func (n *Node) doctorRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /doctor", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(n.Doctor())
	})
	mux.HandleFunc("POST /test-mail", func(w http.ResponseWriter, r *http.Request) {
		to, err := identity.NormalizeEmail(r.URL.Query().Get("to"))
		if err != nil {
			http.Error(w, "not an email address", http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		err = n.mail.Send(ctx, identity.Mail{To: to, Subject: "ChatterBox test mail",
			Text: "This is a test mail from your ChatterBox node (chatterbox doctor). Mail works.\n"})
		if err != nil {
			// The SMTP server's answer, without the credentials in its URL.
			http.Error(w, strings.TrimSpace(err.Error()), http.StatusBadGateway)
			return
		}
		said := "sent to " + to
		if n.cfg.SMTPURL == "" {
			said = "written to the outbox (" + n.cfg.DataDir + "/outbox) for " + to
		}
		w.Write([]byte(said))
	})
}
