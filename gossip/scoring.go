package gossip

import (
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
)

// MaxGossipMessage bounds one GossipSub message. The largest thing a
// party gossips is a signed op or message (a 4000-character body and its
// signature); catch-up travels over the request protocol.
const MaxGossipMessage = 256 << 10

// PeerScoreThresholds are GossipSub's score thresholds for a party
// network. Scores come almost only from invalid messages (P4: weight -10
// per invalid message, squared), so:
//   - one invalid message (-10) already stops gossip to and from the peer;
//   - three (-90) graylist it: everything it sends is ignored, and this
//     node also cuts the connection and bans the peer for BanDuration
//     (see inspectScores);
//   - nothing else lowers a score: quiet parties are normal, so mesh
//     delivery deficits are not penalised, and many personal nodes share
//     one public IP behind a NAT, so IP colocation is not either.
var PeerScoreThresholds = pubsub.PeerScoreThresholds{
	GossipThreshold:             -10,
	PublishThreshold:            -50,
	GraylistThreshold:           -80,
	AcceptPXThreshold:           10,
	OpportunisticGraftThreshold: 5,
}

// BanDuration is how long a peer that was cut off for its score may not
// reconnect.
const BanDuration = 10 * time.Minute

// scoreDecayInterval is how often scores decay. Every decay walks every
// peer's score in every topic; at GossipSub's usual 1 s it was a fifth of
// an idle node's CPU in ten parties of ten. Scores here change only on
// misbehaviour and are forgotten over minutes to an hour, so ten seconds
// loses nothing.
const scoreDecayInterval = 10 * time.Second

// decay is the per-interval factor that forgets a score over d.
func decay(d time.Duration) float64 {
	return pubsub.ScoreParameterDecayWithBase(d, scoreDecayInterval, 0.01)
}

func peerScoreParams() *pubsub.PeerScoreParams {
	return &pubsub.PeerScoreParams{
		Topics:                      map[string]*pubsub.TopicScoreParams{},
		AppSpecificScore:            func(peer.ID) float64 { return 0 },
		AppSpecificWeight:           1,
		IPColocationFactorWeight:    0,
		IPColocationFactorThreshold: 1,
		// Protocol misbehaviour (broken promises, GRAFT spam).
		BehaviourPenaltyWeight:    -10,
		BehaviourPenaltyThreshold: 6,
		BehaviourPenaltyDecay:     decay(10 * time.Minute),
		DecayInterval:             scoreDecayInterval,
		DecayToZero:               0.01,
		RetainScore:               30 * time.Minute,
	}
}

func topicScoreParams() *pubsub.TopicScoreParams {
	return &pubsub.TopicScoreParams{
		TopicWeight: 1,
		// Small reward for being first with valid messages.
		FirstMessageDeliveriesWeight: 1,
		FirstMessageDeliveriesDecay:  decay(10 * time.Minute),
		FirstMessageDeliveriesCap:    20,
		TimeInMeshQuantum:            time.Second,
		// Invalid messages: -10 × count², forgotten over about an hour.
		InvalidMessageDeliveriesWeight: -10,
		InvalidMessageDeliveriesDecay:  decay(time.Hour),
	}
}

// inspectScores cuts off peers whose score fell below the graylist
// threshold: GossipSub already ignores them; closing the connection and
// banning the peer for a while also stops the streams and the bandwidth.
func (n *Network) inspectScores(scores map[peer.ID]float64) {
	for p, score := range scores {
		if score >= PeerScoreThresholds.GraylistThreshold || n.cfg.Gater == nil || n.cfg.Gater.Banned(p) {
			continue
		}
		n.log.Warn("cutting off a peer that sent invalid messages", "peer", p, "score", score, "ban", BanDuration)
		n.cfg.Gater.Ban(p, BanDuration)
		n.host.Network().ClosePeer(p)
	}
}

// Rate limits. An honest node relays every member's messages, so the
// per-peer gossip rate allows a busy party's bursts; requests are a node's
// join, leave and sync traffic, a few per party per sync interval.
const (
	gossipRatePerPeer  = 100 // messages per second per (peer, party)
	gossipBurstPerPeer = 500
	gossipRatePerParty = 300 // messages per second per party, all peers
	gossipBurstParty   = 1500
	requestRatePerPeer = 50 // requests per second per peer
	requestBurstPeer   = 200
	limiterIdle        = 10 * time.Minute // forget idle limiters
)

type peerLimits struct {
	mu       sync.Mutex
	warned   map[peer.ID]time.Time  // guarded by mu: last drop logged per peer
	gossip   map[[2]string]*limiter // guarded by mu: (peer, party)
	parties  map[string]*limiter    // guarded by mu
	requests map[peer.ID]*limiter   // guarded by mu
	swept    time.Time              // guarded by mu
}

type limiter struct {
	*rate.Limiter
	used time.Time
}

func newPeerLimits() *peerLimits {
	return &peerLimits{warned: map[peer.ID]time.Time{}, gossip: map[[2]string]*limiter{}, parties: map[string]*limiter{}, requests: map[peer.ID]*limiter{}, swept: time.Now()}
}

func take[K comparable](m map[K]*limiter, k K, r rate.Limit, burst int, now time.Time) bool {
	l := m[k]
	if l == nil {
		l = &limiter{Limiter: rate.NewLimiter(r, burst)}
		m[k] = l
	}
	l.used = now
	return l.AllowN(now, 1)
}

func sweep[K comparable](m map[K]*limiter, now time.Time) {
	for k, l := range m {
		if now.Sub(l.used) > limiterIdle {
			delete(m, k)
		}
	}
}

func (pl *peerLimits) maybeSweep(now time.Time) {
	if now.Sub(pl.swept) < limiterIdle {
		return
	}
	pl.swept = now
	sweep(pl.gossip, now)
	sweep(pl.parties, now)
	sweep(pl.requests, now)
	for p, at := range pl.warned {
		if now.Sub(at) > limiterIdle {
			delete(pl.warned, p)
		}
	}
}

// shouldLog reports whether a drop from p should be logged: at most once
// a minute per peer, so a flood cannot flood the log too.
func (pl *peerLimits) shouldLog(p peer.ID) bool {
	now := time.Now()
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if now.Sub(pl.warned[p]) < time.Minute {
		return false
	}
	pl.warned[p] = now
	return true
}

func (pl *peerLimits) allowGossip(p peer.ID, party string) bool {
	return pl.allowGossipAt(p, party, time.Now())
}

func (pl *peerLimits) allowGossipAt(p peer.ID, party string, now time.Time) bool {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	pl.maybeSweep(now)
	return take(pl.gossip, [2]string{string(p), party}, gossipRatePerPeer, gossipBurstPerPeer, now) &&
		take(pl.parties, party, gossipRatePerParty, gossipBurstParty, now)
}

func (pl *peerLimits) allowRequest(p peer.ID) bool { return pl.allowRequestAt(p, time.Now()) }

func (pl *peerLimits) allowRequestAt(p peer.ID, now time.Time) bool {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	pl.maybeSweep(now)
	return take(pl.requests, p, requestRatePerPeer, requestBurstPeer, now)
}
