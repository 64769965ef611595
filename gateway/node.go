package gateway

import "net/http"

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		writeAPIError(w, apiErr("not_ready"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

type nodeView struct {
	PeerID       string   `json:"peerId"`
	Addrs        []string `json:"addrs"`
	Reachability string   `json:"reachability"`
	Relays       []string `json:"relays"`
	Version      string   `json:"version"`
	Traffic      Traffic  `json:"traffic"`
	StorageBytes int64    `json:"storageBytes"`
}

func (s *Server) handleNode(w http.ResponseWriter, r *http.Request) {
	v := nodeView{Addrs: []string{}, Relays: []string{}, Reachability: "Unknown", Version: s.cfg.Version}
	if s.cfg.Node != nil {
		v.PeerID = s.cfg.Node.PeerID()
		v.Addrs = append(v.Addrs, s.cfg.Node.Addrs()...)
		v.Reachability = s.cfg.Node.Reachability()
		v.Relays = append(v.Relays, s.cfg.Node.Relays()...)
		v.Traffic = s.cfg.Node.Traffic()
		v.StorageBytes = s.cfg.Node.StorageBytes()
	}
	writeJSON(w, http.StatusOK, v)
}
