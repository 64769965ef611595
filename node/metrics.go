package node

import (
	"errors"
	"net/http"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chatterbox/chatterbox/gateway"
	"github.com/chatterbox/chatterbox/party"
	"github.com/chatterbox/chatterbox/party/rules"
)

// The node's Prometheus metrics, served at GET /metrics on the gateway to
// clients on this machine (docs/grafana-dashboard.json shows them). Each
// node has its own registry: tests run many nodes in one process.
//
// Counters are told by the party service as things happen (party.Observer);
// levels are read when scraped. libp2p adds its own (libp2p_*: identify,
// relay, hole punching, the resource manager).
type nodeMetrics struct {
	reg      *prometheus.Registry
	posted   prometheus.Counter
	received prometheus.Counter
	rejected *prometheus.CounterVec
	syncs    *prometheus.HistogramVec
}

func newMetrics() *nodeMetrics {
	m := &nodeMetrics{
		reg: prometheus.NewRegistry(),
		posted: prometheus.NewCounter(prometheus.CounterOpts{Name: "chatterbox_messages_posted_total",
			Help: "Messages (posts, edits, deletes, reactions) by this node's accounts, stored durably."}),
		received: prometheus.NewCounter(prometheus.CounterOpts{Name: "chatterbox_messages_received_total",
			Help: "Messages from other nodes judged valid and stored (gossip and catch-up)."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chatterbox_messages_rejected_total",
			Help: "Messages from other nodes the judge refused, by reason."}, []string{"reason"}),
		syncs: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "chatterbox_sync_duration_seconds",
			Help:    "Sync rounds with a member node (ops, then messages), by result.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"result"}),
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.posted, m.received, m.rejected, m.syncs)
	return m
}

// Posted implements party.Observer.
func (m *nodeMetrics) Posted() { m.posted.Inc() }

// Received implements party.Observer.
func (m *nodeMetrics) Received(n int) { m.received.Add(float64(n)) }

// Rejected implements party.Observer.
func (m *nodeMetrics) Rejected(reason string) {
	if reason == "" {
		reason = "other"
	}
	m.rejected.WithLabelValues(reason).Inc()
}

// Synced implements party.Observer.
func (m *nodeMetrics) Synced(d time.Duration, err error) {
	result := "ok"
	switch {
	case errors.Is(err, rules.ErrUnreachable):
		result = "unreachable"
	case err != nil:
		result = "failed"
	}
	m.syncs.WithLabelValues(result).Observe(d.Seconds())
}

var _ party.Observer = (*nodeMetrics)(nil)

// watch adds the levels read from the running node's parts (taken as
// they are now: the node clears its fields when it stops).
func (m *nodeMetrics) watch(gw *gateway.Server, h host.Host, db *badger.DB, ps *party.Service) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "chatterbox_websocket_clients", Help: "Connected WebSocket clients."},
			func() float64 { return float64(gw.WSClients()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "chatterbox_events_delivered_total", Help: "Events queued to WebSocket clients."},
			func() float64 { return float64(gw.EventsDelivered()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "chatterbox_libp2p_peers", Help: "Peers with a live libp2p connection."},
			func() float64 { return float64(len(h.Network().Peers())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "chatterbox_badger_lsm_bytes", Help: "Size of the database's LSM tree."},
			func() float64 { lsm, _ := db.Size(); return float64(lsm) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "chatterbox_badger_vlog_bytes", Help: "Size of the database's value log."},
			func() float64 { _, vlog := db.Size(); return float64(vlog) }),
		partyCollector{ps},
	)
}

// handler serves the registry.
func (m *nodeMetrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// partyCollector reads the party service's levels once per scrape.
type partyCollector struct{ ps *party.Service }

var (
	descHeld    = prometheus.NewDesc("chatterbox_parties_held", "Parties and direct conversations this node holds for its accounts.", nil, nil)
	descPending = prometheus.NewDesc("chatterbox_pending_joins", "Joins waiting for the node that issued the invite.", nil, nil)
	descOffers  = prometheus.NewDesc("chatterbox_direct_offers_waiting", "Direct conversations the other member's node does not have yet.", nil, nil)
	descPeers   = prometheus.NewDesc("chatterbox_party_connected_peers", "Member nodes of a party this node is connected to.", []string{"party"}, nil)
)

func (partyCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descHeld
	ch <- descPending
	ch <- descOffers
	ch <- descPeers
}

func (c partyCollector) Collect(ch chan<- prometheus.Metric) {
	g := c.ps.Gauges()
	ch <- prometheus.MustNewConstMetric(descHeld, prometheus.GaugeValue, float64(g.Held))
	ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(g.PendingJoins))
	ch <- prometheus.MustNewConstMetric(descOffers, prometheus.GaugeValue, float64(g.WaitingOffers))
	for id, n := range g.ConnectedPeers {
		ch <- prometheus.MustNewConstMetric(descPeers, prometheus.GaugeValue, float64(n), id)
	}
}
